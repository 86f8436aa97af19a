// SPDX-License-Identifier: MIT
/*
 * The split virtqueue, device side (virtio 1.x, 2.7). Everything the
 * driver wrote is hostile: each descriptor is read once into a local copy
 * and checked there (index in range, no INDIRECT since it is not offered,
 * address + length without wrap-around, readable before writable, at most
 * queue-size descriptors per chain so a loop ends), and the avail index
 * may run at most queue-size ahead. A broken ring is the driver's error:
 * the caller sets DEVICE_NEEDS_RESET and stops the queue.
 *
 * All ring and buffer accesses are DMA through vmm/dma.h with the
 * function's requester ID: guest-physical without an IOMMU, IOVAs
 * translated (and faults recorded) behind the vIOMMU. A copy never spans
 * more than one page per dma_lock() hold and keeps no translation past
 * it, so once a guest's invalidation wait completed no access uses what
 * its batch invalidated (vmm/dma.h).
 */
#include <string.h>

#include "vmm/virtio-priv.h"

#define PAGE_SIZE	4096ULL

static void count(struct virtio_pci *vp, const struct dma_translation *t, bool ok)
{
	pthread_mutex_lock(&vp->lock);
	if (!ok)
		vp->stats.dma_faults++;
	if (t->source == DMA_SOURCE_ATC)
		vp->stats.atc_hits++;
	else if (t->source == DMA_SOURCE_IOTLB)
		vp->stats.iotlb_hits++;
	else if (t->source == DMA_SOURCE_WALK)
		vp->stats.walks++;
	pthread_mutex_unlock(&vp->lock);
}

/* Move @len bytes between @buf and bus address @iova. Returns 0 or -1 (fault, wrap). */
static int dma_copy(struct virtio_pci *vp, uint64_t iova, void *buf, uint64_t len, bool write)
{
	uint8_t *p = buf;

	if (iova + len < iova)
		return -1;
	while (len) {
		uint64_t n = PAGE_SIZE - (iova & (PAGE_SIZE - 1));
		struct dma_translation t = { .source = DMA_SOURCE_IDENTITY };
		void *host;

		if (n > len)
			n = len;
		dma_lock(&vp->dma);
		host = dma_map(vp->vm, &vp->dma, &vp->rq, iova, n, write, &t);
		if (host) {
			if (write)
				memcpy(host, p, n);
			else
				memcpy(p, host, n);
		}
		dma_unlock(&vp->dma);
		if (vp->dma.ops)
			count(vp, &t, host != NULL);
		else if (!host)
			count(vp, &t, false);
		if (!host)
			return -1;
		iova += n;
		p += n;
		len -= n;
	}
	return 0;
}

static int read16(struct virtio_pci *vp, uint64_t iova, uint16_t *out)
{
	uint8_t b[2];

	if (dma_copy(vp, iova, b, 2, false))
		return -1;
	*out = (uint16_t)(b[0] | b[1] << 8);
	return 0;
}

static int write_le(struct virtio_pci *vp, uint64_t iova, uint64_t val, unsigned int len)
{
	uint8_t b[8];

	for (unsigned int i = 0; i < len; i++)
		b[i] = (uint8_t)(val >> (8 * i));
	return dma_copy(vp, iova, b, len, true);
}

static uint64_t get_le(const uint8_t *b, unsigned int len)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < len; i++)
		v |= (uint64_t)b[i] << (8 * i);
	return v;
}

int virtq_pop(struct virtio_pci *vp, struct virtq *q, struct virtio_chain *c)
{
	uint16_t avail_idx, idx;
	bool seen_write = false;

	if (read16(vp, q->avail + 2, &avail_idx))
		return -1;
	if (avail_idx == q->last_avail)
		return 0;
	if ((uint16_t)(avail_idx - q->last_avail) > q->size)
		return -1;		/* more new entries than the ring holds */
	/* The ring entry and the descriptors are read after the index (2.7.13). */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	if (read16(vp, q->avail + 4 + 2ULL * (q->last_avail % q->size), &c->head) ||
	    c->head >= q->size)
		return -1;
	c->n = 0;
	c->readable = c->writable = 0;
	idx = c->head;
	for (;;) {
		uint8_t d[16];
		struct virtio_buf *b;
		uint16_t flags;

		if (c->n == q->size)
			return -1;	/* a loop, or longer than the ring */
		if (dma_copy(vp, q->desc + 16ULL * idx, d, sizeof(d), false))
			return -1;
		b = &c->buf[c->n++];
		b->addr = get_le(d, 8);
		b->len = (uint32_t)get_le(d + 8, 4);
		flags = (uint16_t)get_le(d + 12, 2);
		b->write = flags & VIRTQ_DESC_F_WRITE;
		if ((flags & VIRTQ_DESC_F_INDIRECT) || b->addr + b->len < b->addr ||
		    (seen_write && !b->write))
			return -1;
		seen_write = b->write;
		if (b->write)
			c->writable += b->len;
		else
			c->readable += b->len;
		if (!(flags & VIRTQ_DESC_F_NEXT))
			break;
		idx = (uint16_t)get_le(d + 14, 2);
		if (idx >= q->size)
			return -1;
	}
	q->last_avail++;
	return 1;
}

int virtq_push(struct virtio_pci *vp, struct virtq *q, uint16_t head, uint32_t len)
{
	uint64_t elem = q->used + 4 + 8ULL * (q->used_idx % q->size);

	if (write_le(vp, elem, head, 4) || write_le(vp, elem + 4, len, 4))
		return -1;
	/* The element before the index that publishes it (2.7.14). */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	q->used_idx++;
	return write_le(vp, q->used + 2, q->used_idx, 2);
}

bool virtq_wants_interrupt(struct virtio_pci *vp, struct virtq *q)
{
	uint16_t flags;

	/* The index we published before the flags we read (2.7.10). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return read16(vp, q->avail, &flags) || !(flags & VIRTQ_AVAIL_F_NO_INTERRUPT);
}

/* Copy to or from the chain's readable or writable bytes starting at @off. */
static int chain_copy(struct virtio_pci *vp, const struct virtio_chain *c, bool writable,
		      uint64_t off, uint8_t *buf, uint64_t len)
{
	if (off + len < off || off + len > (writable ? c->writable : c->readable))
		return -1;
	for (unsigned int i = 0; i < c->n && len; i++) {
		const struct virtio_buf *b = &c->buf[i];
		uint64_t n;

		if (b->write != writable)
			continue;
		if (off >= b->len) {
			off -= b->len;
			continue;
		}
		n = b->len - off;
		if (n > len)
			n = len;
		if (dma_copy(vp, b->addr + off, buf, n, writable))
			return -1;
		buf += n;
		len -= n;
		off = 0;
	}
	return 0;
}

int virtio_chain_read(struct virtio_pci *vp, const struct virtio_chain *c, uint64_t off,
		      void *buf, uint64_t len)
{
	return chain_copy(vp, c, false, off, buf, len);
}

int virtio_chain_write(struct virtio_pci *vp, const struct virtio_chain *c, uint64_t off,
		       const void *buf, uint64_t len)
{
	return chain_copy(vp, c, true, off, (uint8_t *)buf, len);
}
