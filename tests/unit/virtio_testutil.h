/* SPDX-License-Identifier: MIT */
/*
 * A minimal virtio driver for the device tests (check_virtio,
 * check_virtio_iommu): it speaks to a virtio-pci function through BAR 0
 * and config space the way Linux's virtio_pci_modern does, and lays out
 * one split queue in guest memory. Bus addresses are what the device sees
 * (guest-physical, or IOVAs behind the vIOMMU); the test says where they
 * land in guest RAM (gpa_of) so the driver can write its rings there.
 */
#ifndef TAGVMM_TESTS_VIRTIO_TESTUTIL_H
#define TAGVMM_TESTS_VIRTIO_TESTUTIL_H

#include <check.h>
#include <string.h>

#include "vmm/kvm.h"
#include "vmm/pci.h"
#include "vmm/virtio-priv.h"

struct vdrv {
	struct vm *vm;
	struct virtio_pci *vp;
	struct pci_device *pci;
	uint64_t (*gpa_of)(uint64_t bus);	/* where a ring's bus address is in RAM */
	uint64_t desc, avail, used;		/* bus addresses of queue 0 */
	uint16_t qsize;
	uint16_t avail_idx;
};

static inline uint64_t vd_rd(struct vdrv *d, unsigned int off, unsigned int len)
{
	uint8_t data[8];
	uint64_t val = 0;

	memset(data, 0xee, sizeof(data));
	d->pci->bars[0].fn(d->pci->bars[0].opaque, off, data, len, false);
	for (unsigned int i = 0; i < len; i++)
		val |= (uint64_t)data[i] << (8 * i);
	return val;
}

static inline void vd_wr(struct vdrv *d, unsigned int off, unsigned int len, uint64_t val)
{
	uint8_t data[8];

	for (unsigned int i = 0; i < len; i++)
		data[i] = (uint8_t)(val >> (8 * i));
	d->pci->bars[0].fn(d->pci->bars[0].opaque, off, data, len, true);
}

static inline uint8_t vd_status(struct vdrv *d)
{
	return (uint8_t)vd_rd(d, VIRTIO_COMMON_STATUS, 1);
}

static inline uint64_t vd_device_features(struct vdrv *d)
{
	vd_wr(d, VIRTIO_COMMON_DFSELECT, 4, 0);
	uint64_t lo = vd_rd(d, VIRTIO_COMMON_DF, 4);

	vd_wr(d, VIRTIO_COMMON_DFSELECT, 4, 1);
	return lo | vd_rd(d, VIRTIO_COMMON_DF, 4) << 32;
}

/* Reset, ACK, DRIVER, offer @features; returns whether FEATURES_OK stuck. */
static inline bool vd_negotiate(struct vdrv *d, uint64_t features)
{
	vd_wr(d, VIRTIO_COMMON_STATUS, 1, 0);
	ck_assert_uint_eq(vd_status(d), 0);
	vd_wr(d, VIRTIO_COMMON_STATUS, 1, VIRTIO_STATUS_ACK);
	vd_wr(d, VIRTIO_COMMON_STATUS, 1, VIRTIO_STATUS_ACK | VIRTIO_STATUS_DRIVER);
	for (unsigned int sel = 0; sel < 2; sel++) {
		vd_wr(d, VIRTIO_COMMON_GFSELECT, 4, sel);
		vd_wr(d, VIRTIO_COMMON_GF, 4, (uint32_t)(features >> (32 * sel)));
	}
	vd_wr(d, VIRTIO_COMMON_STATUS, 1,
	      VIRTIO_STATUS_ACK | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
	return vd_status(d) & VIRTIO_STATUS_FEATURES_OK;
}

/* Queue 0 at the driver's ring addresses with @size entries; vector @vector. */
/*
 * Queue 0 of @size on fresh rings: their flags and indexes zeroed, as a
 * driver's newly allocated queue is (Linux allocates zeroed rings), so a
 * queue set up again after a reset never sees the used index the device
 * wrote before it. Rings a hostile test puts outside RAM are left alone.
 */
static inline void vd_setup_queue(struct vdrv *d, uint16_t size, uint16_t vector)
{
	void *avail = vm_gpa(d->vm, d->gpa_of(d->avail), 4);
	void *used = vm_gpa(d->vm, d->gpa_of(d->used), 4);

	if (avail)
		memset(avail, 0, 4);
	if (used)
		memset(used, 0, 4);
	vd_wr(d, VIRTIO_COMMON_Q_SELECT, 2, 0);
	vd_wr(d, VIRTIO_COMMON_Q_SIZE, 2, size);
	vd_wr(d, VIRTIO_COMMON_Q_DESC, 4, (uint32_t)d->desc);
	vd_wr(d, VIRTIO_COMMON_Q_DESC + 4, 4, (uint32_t)(d->desc >> 32));
	vd_wr(d, VIRTIO_COMMON_Q_AVAIL, 8, d->avail);
	vd_wr(d, VIRTIO_COMMON_Q_USED, 8, d->used);
	vd_wr(d, VIRTIO_COMMON_Q_MSIX, 2, vector);
	vd_wr(d, VIRTIO_COMMON_Q_ENABLE, 2, 1);
	d->qsize = size;
	d->avail_idx = 0;
}

static inline void vd_driver_ok(struct vdrv *d)
{
	vd_wr(d, VIRTIO_COMMON_STATUS, 1, VIRTIO_STATUS_ACK | VIRTIO_STATUS_DRIVER |
	      VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
}

/* Everything Linux does: features offered minus none, queue 0 of @size, DRIVER_OK. */
static inline void vd_bring_up(struct vdrv *d, uint16_t size)
{
	ck_assert(vd_negotiate(d, vd_device_features(d)));
	vd_setup_queue(d, size, 1);
	vd_driver_ok(d);
	ck_assert_uint_eq(vd_status(d) & VIRTIO_STATUS_NEEDS_RESET, 0);
}

static inline void *vd_ring(struct vdrv *d, uint64_t bus, size_t len)
{
	void *p = vm_gpa(d->vm, d->gpa_of(bus), len);

	ck_assert_ptr_nonnull(p);
	return p;
}

static inline void vd_put16(struct vdrv *d, uint64_t bus, uint16_t v)
{
	memcpy(vd_ring(d, bus, 2), &v, 2);
}

static inline uint16_t vd_get16(struct vdrv *d, uint64_t bus)
{
	uint16_t v;

	memcpy(&v, vd_ring(d, bus, 2), 2);
	return v;
}

/* Descriptor @i: raw fields, for hostile chains too. */
static inline void vd_desc(struct vdrv *d, uint16_t i, uint64_t addr, uint32_t len,
			   uint16_t flags, uint16_t next)
{
	uint8_t *p = vd_ring(d, d->desc + 16ULL * i, 16);

	memcpy(p, &addr, 8);
	memcpy(p + 8, &len, 4);
	memcpy(p + 12, &flags, 2);
	memcpy(p + 14, &next, 2);
}

/* Offer head @head in the avail ring and notify (without waiting). */
static inline void vd_kick(struct vdrv *d, uint16_t head)
{
	vd_put16(d, d->avail + 4 + 2ULL * (d->avail_idx % d->qsize), head);
	d->avail_idx++;
	vd_put16(d, d->avail + 2, d->avail_idx);
	vd_wr(d, VIRTIO_NOTIFY_OFF, 2, 0);
}

static inline uint16_t vd_used_idx(struct vdrv *d)
{
	return vd_get16(d, d->used + 2);
}

/* Used element @n: id and len. */
static inline void vd_used_elem(struct vdrv *d, uint16_t n, uint32_t *id, uint32_t *len)
{
	uint8_t *p = vd_ring(d, d->used + 4 + 8ULL * (n % d->qsize), 8);

	memcpy(id, p, 4);
	memcpy(len, p + 4, 4);
}

/* One buffer of a chain built by vd_chain. */
struct vd_buf {
	uint64_t addr;
	uint32_t len;
	bool write;
};

/* Descriptors 0..n-1 chained, offered, processed; returns the used length (-1: none used). */
static inline int64_t vd_request(struct vdrv *d, const struct vd_buf *b, unsigned int n)
{
	uint16_t before = vd_used_idx(d);
	uint32_t id, len;

	for (unsigned int i = 0; i < n; i++)
		vd_desc(d, (uint16_t)i, b[i].addr, b[i].len,
			(uint16_t)((b[i].write ? VIRTQ_DESC_F_WRITE : 0) |
				   (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0)), (uint16_t)(i + 1));
	vd_kick(d, 0);
	virtio_quiesce(d->vp);
	if (vd_used_idx(d) == before)
		return -1;
	ck_assert_uint_eq((uint16_t)(vd_used_idx(d) - before), 1);
	vd_used_elem(d, before, &id, &len);
	ck_assert_uint_eq(id, 0);
	return len;
}

#endif
