// SPDX-License-Identifier: MIT
/*
 * virtio-blk (virtio spec 5.2) on a raw image file: IN, OUT, FLUSH
 * (fdatasync) and GET_ID; read-only with VIRTIO_BLK_F_RO. One queue.
 *
 * Bounds: a request carries at most VIRTIO_BLK_SEG_MAX data segments and
 * VIRTIO_BLK_MAX_DATA bytes (what SEG_MAX and SIZE_MAX tell the driver),
 * is moved through a bounce buffer of VIRTIO_BLK_CHUNK bytes, and stops
 * between chunks when a reset waits (the request is then dropped). A
 * request that breaks these rules, or whose buffers fault, completes with
 * VIRTIO_BLK_S_IOERR when its status byte can still be written.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/virtio-priv.h"

#define VIRTIO_BLK_F_SIZE_MAX	1
#define VIRTIO_BLK_F_SEG_MAX	2
#define VIRTIO_BLK_F_RO		5
#define VIRTIO_BLK_F_BLK_SIZE	6
#define VIRTIO_BLK_F_FLUSH	9

#define VIRTIO_BLK_T_IN		0
#define VIRTIO_BLK_T_OUT	1
#define VIRTIO_BLK_T_FLUSH	4
#define VIRTIO_BLK_T_GET_ID	8
#define VIRTIO_BLK_S_OK		0
#define VIRTIO_BLK_S_IOERR	1
#define VIRTIO_BLK_S_UNSUPP	2

#define VIRTIO_BLK_ID_BYTES	20
#define VIRTIO_BLK_HDR		16
#define SECTOR			512ULL
#define VIRTIO_BLK_SIZE_MAX	(64U << 10)	/* bytes per data segment */
#define VIRTIO_BLK_SEG_MAX	64U		/* data segments per request */
#define VIRTIO_BLK_MAX_DATA	((uint64_t)VIRTIO_BLK_SIZE_MAX * VIRTIO_BLK_SEG_MAX)
#define VIRTIO_BLK_CHUNK	(64U << 10)
#define VIRTIO_BLK_CONFIG_SIZE	36		/* up to num_queues */

struct virtio_blk {
	int fd;
	bool ro;
	uint64_t sectors;
	char id[VIRTIO_BLK_ID_BYTES];
	uint8_t config[VIRTIO_BLK_CONFIG_SIZE];
	uint8_t *bounce;			/* VIRTIO_BLK_CHUNK, the worker's */
};

static void put_le(uint8_t *p, uint64_t v, unsigned int len)
{
	for (unsigned int i = 0; i < len; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void blk_config_read(void *model, unsigned int off, uint8_t *data, unsigned int len)
{
	struct virtio_blk *b = model;

	memcpy(data, b->config + off, len);
}

/* Move @len bytes between the image at @pos and the chain from @off. */
static int transfer(struct virtio_blk *b, struct virtio_pci *vp, const struct virtio_chain *c,
		    uint64_t off, uint64_t pos, uint64_t len, bool to_guest)
{
	while (len) {
		size_t n = len < VIRTIO_BLK_CHUNK ? (size_t)len : VIRTIO_BLK_CHUNK;
		ssize_t got;

		if (virtio_reset_pending(vp))
			return -1;
		if (to_guest) {
			got = pread(b->fd, b->bounce, n, (off_t)pos);
			if (got != (ssize_t)n || virtio_chain_write(vp, c, off, b->bounce, n))
				return -1;
		} else {
			if (virtio_chain_read(vp, c, off, b->bounce, n))
				return -1;
			got = pwrite(b->fd, b->bounce, n, (off_t)pos);
			if (got != (ssize_t)n)
				return -1;
		}
		off += n;
		pos += n;
		len -= n;
	}
	return 0;
}

/* Whether a request of @len data bytes at @sector fits the disk and the limits. */
static bool in_range(const struct virtio_blk *b, const struct virtio_chain *c, uint64_t sector,
		     uint64_t len)
{
	return len % SECTOR == 0 && len <= VIRTIO_BLK_MAX_DATA && c->n <= VIRTIO_BLK_SEG_MAX + 2 &&
	       sector <= b->sectors && len / SECTOR <= b->sectors - sector;
}

static uint32_t blk_handle(void *model, struct virtio_pci *vp, unsigned int q,
			   const struct virtio_chain *c)
{
	struct virtio_blk *b = model;
	uint8_t hdr[VIRTIO_BLK_HDR], status = VIRTIO_BLK_S_OK;
	uint64_t sector, data_in, data_out;
	uint32_t type, written = 0;

	(void)q;
	/* No room for a status byte: nothing can be reported, the request is dropped. */
	if (!c->writable || c->readable < VIRTIO_BLK_HDR ||
	    virtio_chain_read(vp, c, 0, hdr, sizeof(hdr)))
		return 0;
	type = (uint32_t)(hdr[0] | hdr[1] << 8 | hdr[2] << 16 | (uint32_t)hdr[3] << 24);
	sector = 0;
	for (int i = 7; i >= 0; i--)
		sector = sector << 8 | hdr[8 + i];
	data_out = c->readable - VIRTIO_BLK_HDR;
	data_in = c->writable - 1;

	switch (type) {
	case VIRTIO_BLK_T_IN:
		if (data_out || !in_range(b, c, sector, data_in) ||
		    transfer(b, vp, c, 0, sector * SECTOR, data_in, true))
			status = VIRTIO_BLK_S_IOERR;
		else
			written = (uint32_t)data_in;
		break;
	case VIRTIO_BLK_T_OUT:
		if (b->ro || data_in || !in_range(b, c, sector, data_out) ||
		    transfer(b, vp, c, VIRTIO_BLK_HDR, sector * SECTOR, data_out, false))
			status = VIRTIO_BLK_S_IOERR;
		break;
	case VIRTIO_BLK_T_FLUSH:
		if (!b->ro && fdatasync(b->fd))
			status = VIRTIO_BLK_S_IOERR;
		break;
	case VIRTIO_BLK_T_GET_ID: {
		uint64_t n = data_in < VIRTIO_BLK_ID_BYTES ? data_in : VIRTIO_BLK_ID_BYTES;

		if (virtio_chain_write(vp, c, 0, b->id, n))
			status = VIRTIO_BLK_S_IOERR;
		else
			written = (uint32_t)n;
		break;
	}
	default:
		status = VIRTIO_BLK_S_UNSUPP;
		break;
	}
	if (virtio_chain_write(vp, c, c->writable - 1, &status, 1))
		return written;	/* the status byte faulted: the driver sees what was used */
	return written + 1;
}

static void blk_free(void *model)
{
	struct virtio_blk *b = model;

	close(b->fd);
	free(b->bounce);
	free(b);
}

static const struct virtio_model blk_model = {
	.name = "blk",
	.id = VIRTIO_ID_BLOCK,
	.pci_class = 0x018000,		/* mass storage, other */
	.nqueues = 1,
	.config_size = VIRTIO_BLK_CONFIG_SIZE,
	.config_read = blk_config_read,
	.handle = blk_handle,
	.free = blk_free,
};

struct virtio_pci *virtio_blk_create(struct vm *vm, const struct virtio_spec *s, uint16_t bdf,
				     bool iommu, char *err, size_t errlen)
{
	const uint64_t features = 1ULL << VIRTIO_BLK_F_SIZE_MAX | 1ULL << VIRTIO_BLK_F_SEG_MAX |
				  1ULL << VIRTIO_BLK_F_BLK_SIZE | 1ULL << VIRTIO_BLK_F_FLUSH;
	struct virtio_blk *b = calloc(1, sizeof(*b));
	struct virtio_pci *vp;
	const char *base;
	struct stat st;

	if (!b || !(b->bounce = malloc(VIRTIO_BLK_CHUNK))) {
		free(b);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	b->ro = s->ro;
	b->fd = open(s->path, (s->ro ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (b->fd < 0 || fstat(b->fd, &st)) {
		snprintf(err, errlen, "--disk %s: %s", s->path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		snprintf(err, errlen, "--disk %s: not a file or block device", s->path);
		goto fail;
	}
	if (S_ISBLK(st.st_mode)) {
		off_t end = lseek(b->fd, 0, SEEK_END);

		st.st_size = end > 0 ? end : 0;
	}
	/* A partial last sector is not part of the disk. */
	b->sectors = (uint64_t)st.st_size / SECTOR;
	if (!b->sectors) {
		snprintf(err, errlen, "--disk %s: smaller than one 512-byte sector", s->path);
		goto fail;
	}
	base = strrchr(s->path, '/');
	base = base ? base + 1 : s->path;
	/* The serial: the file's name, NUL-padded; a full 20 bytes has no NUL (5.2.6). */
	memcpy(b->id, base, strnlen(base, sizeof(b->id)));
	put_le(b->config + 0, b->sectors, 8);			/* capacity */
	put_le(b->config + 8, VIRTIO_BLK_SIZE_MAX, 4);		/* size_max */
	put_le(b->config + 12, VIRTIO_BLK_SEG_MAX, 4);		/* seg_max */
	put_le(b->config + 20, SECTOR, 4);			/* blk_size */
	put_le(b->config + 34, 1, 2);				/* num_queues */
	vp = virtio_pci_create(vm, &blk_model, b, features | (s->ro ? 1ULL << VIRTIO_BLK_F_RO : 0),
			       s, bdf, iommu, err, errlen);
	if (vp)
		return vp;
fail:
	if (b->fd >= 0)
		close(b->fd);
	free(b->bounce);
	free(b);
	return NULL;
}
