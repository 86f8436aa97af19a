// SPDX-License-Identifier: MIT
/*
 * libFuzzer target on what a hostile driver reaches of the virtio devices
 * (docs/virtio.md): a virtio-blk (on a small in-memory image) or a
 * virtio-rng function on the PCI transport, identity DMA over a small
 * guest RAM, and an input that is a program of driver steps:
 *
 *   BAR 0 accesses of any size at any offset (common configuration,
 *   ISR, device configuration, notify), config-space writes (command,
 *   MSI-X enable, the MSI-X table), stores to guest RAM (rings,
 *   descriptors, headers), a seeded bring-up (features, queue 0 in RAM,
 *   DRIVER_OK), descriptors and avail entries, notifies, resets.
 *
 * With the input's second byte's bit 1, the device sits behind an emulated
 * VT-d unit (legacy mode, second stage in guest RAM mapping IOVA page i to
 * GPA page i, ATS with bit 2) on a simulated host, as `--viommu` puts it:
 * every ring and buffer address is then an IOVA, and the input can also
 * remap or unmap IOVA pages (read-only, or to any GPA page), invalidate the
 * IOTLB and the device TLB, and turn ATS on and off; the tables themselves
 * sit in guest RAM, where the input's stores reach them too.
 *
 * Every notify is followed by virtio_quiesce(), so the device's worker has
 * finished before the next step and a run is deterministic. Oracles beyond
 * the sanitizers (each aborts): a reset reads back 0 with every queue
 * disabled, and once the device has set DEVICE_NEEDS_RESET it keeps it
 * until a reset. Guest RAM is 1 MiB at GPA 0 so that addresses made of
 * input bytes land in it often; ASan reports any access outside it.
 */
#define _GNU_SOURCE	/* memfd_create() */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hostvtd/flush.h"
#include "hostvtd/simvtd.h"
#include "hostvtd/tagstore.h"
#include "viommu/viommu-priv.h"
#include "vmm/bus.h"
#include "vmm/dma.h"
#include "vmm/kvm.h"
#include "vmm/pci.h"
#include "vmm/virtio-priv.h"
#include "vmm/virtio.h"
#include "vtd/desc.h"
#include "vtd/regs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RAM_SIZE	(1ULL << 20)
#define IMAGE_SIZE	(64 << 10)
#define BDF		0x0018
#define RING		0x10000ULL	/* desc; avail at +0x1000, used at +0x2000 */
#define MAX_STEPS	256
/* Behind the vIOMMU: its tables at the top of RAM, IOVA page i -> GPA page i below them. */
#define ROOT		0xf0000ULL
#define CTX		0xf1000ULL
#define SL_L4		0xf2000ULL
#define SL_L3		0xf3000ULL
#define SL_L2		0xf4000ULL
#define SL_L1		0xf5000ULL	/* IOVA 0 .. 2 MiB */
#define MAPPED_PAGES	0xf0		/* IOVA pages identity-mapped at the start */
#define DID		1
#define HOST_DID	7
#define HOST_SID	0x1000

struct iommu_world {
	struct simvtd *sim;
	struct tag_store *ts;
	struct flush_engine *fe;
	struct viommu unit;
	struct viommu_dev vdev;
};

struct input {
	const uint8_t *p;
	size_t left;
};

static uint64_t take(struct input *in, unsigned int n)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < n && in->left; i++, in->left--)
		v |= (uint64_t)*in->p++ << (8 * i);
	return v;
}

static int no_msi(struct vm *vm, uint64_t address, uint32_t data)
{
	(void)vm;
	(void)address;
	(void)data;
	return 0;
}

static int no_intx(struct vm *vm, unsigned int gsi, bool level)
{
	(void)vm;
	(void)gsi;
	(void)level;
	return 0;
}

static void bar(struct pci_device *pci, uint64_t off, unsigned int len, uint64_t val, bool write)
{
	uint8_t buf[8];

	for (unsigned int i = 0; i < 8; i++)
		buf[i] = (uint8_t)(val >> (8 * i));
	pci->bars[0].fn(pci->bars[0].opaque, off, buf, len, write);
}

static uint8_t status(struct pci_device *pci)
{
	uint8_t b = 0;

	pci->bars[0].fn(pci->bars[0].opaque, VIRTIO_COMMON_STATUS, &b, 1, false);
	return b;
}

static void put64(struct vm *vm, uint64_t gpa, uint64_t v)
{
	memcpy((uint8_t *)vm->mem[0].host + gpa, &v, 8);
}

static int space_of(void *opaque, uint16_t rid, struct dma_space *out)
{
	struct iommu_world *w = opaque;

	if (rid != w->vdev.guest_sid)
		return -1;
	viommu_dma_space(&w->vdev, out);
	return 0;
}

/* A VT-d unit in front of the device, as viommu_setup() would build it. */
static void iommu_up(struct vm *vm, struct iommu_world *w, bool ats)
{
	struct simvtd_config cfg = { .units = 1 };
	struct plan_options opt = { 0 };
	struct guest_domain_key key = { .viommu = 0, .did = DID, .pasid = 0 };
	struct tag_attach a;
	char err[128];

	memset(w, 0, sizeof(*w));
	w->sim = simvtd_new(&cfg);
	w->ts = tag_store_new();
	w->fe = w->sim && w->ts ? flush_engine_new(w->ts, NULL, &opt) : NULL;
	if (!w->fe || viommu_unit_init(&w->unit, vm, 0, false, err, sizeof(err)))
		abort();
	w->unit.signal_msi = no_msi;
	w->unit.ts = w->ts;
	w->unit.fe = w->fe;
	w->unit.rtaddr = w->unit.rtaddr_active = ROOT;
	w->unit.gcmd = w->unit.gsts = VTD_GCMD_TE | VTD_GCMD_SRTP;
	w->vdev.unit = &w->unit;
	w->vdev.guest_sid = BDF;
	w->vdev.sim = w->sim;
	w->vdev.host.sid = HOST_SID;
	w->vdev.host.ats = ats;
	host_device_name(HOST_SID, w->vdev.host.name);
	w->vdev.host.unit = simvtd_unit(w->sim, 0);
	w->unit.devs[w->unit.ndevs++] = &w->vdev;
	w->vdev.attach[0] = (struct viommu_attach){ .did = DID, .host_did = HOST_DID };
	w->vdev.nattach = 1;
	a = (struct tag_attach){ .dev = &w->vdev.host, .guest_sid = BDF, .host_did = HOST_DID };
	if (tag_store_attach(w->ts, key, &a))
		abort();
	put64(vm, ROOT + (BDF >> 8) * 16, CTX | 1);
	put64(vm, CTX + (BDF & 0xff) * 16, SL_L4 | (ats ? 1ULL << 2 : 0) | 1);
	put64(vm, CTX + (BDF & 0xff) * 16 + 8, 2 | (uint64_t)DID << 8);
	put64(vm, SL_L4, SL_L3 | 3);
	put64(vm, SL_L3, SL_L2 | 3);
	put64(vm, SL_L2, SL_L1 | 3);
	for (uint64_t i = 0; i < MAPPED_PAGES; i++)
		put64(vm, SL_L1 + i * 8, i << 12 | 3);
	vm->dma_iommu = (struct dma_iommu){ .space = space_of, .opaque = w };
}

static void iommu_down(struct vm *vm, struct iommu_world *w)
{
	vm->dma_iommu = (struct dma_iommu){ 0 };
	viommu_unit_exit(&w->unit);
	flush_engine_free(w->fe);
	tag_store_free(w->ts);
	simvtd_free(w->sim);
}

/* The guest's invalidation: IOTLB page or domain, and the device TLB, as its queue would hand it. */
static void invalidate(struct iommu_world *w, uint64_t iova, uint8_t how)
{
	struct vtd_desc d[2];
	struct flush_result res;
	size_t n = 0;

	if (how & 1) {
		d[n] = (struct vtd_desc){ .type = VTD_DESC_IOTLB };
		d[n].iotlb.did = DID;
		d[n].iotlb.gran = how & 4 ? VTD_IOTLB_DOMAIN : VTD_IOTLB_PAGE;
		d[n++].iotlb.addr = how & 4 ? 0 : iova & ~0xfffULL;
	}
	if (how & 2) {
		d[n] = (struct vtd_desc){ .type = VTD_DESC_DEVTLB };
		d[n].devtlb.sid = BDF;
		d[n].devtlb.addr = vtd_devtlb_encode_addr(iova & ~0xfffULL, how & 4 ? VTD_MAX_AM : 0,
							  &d[n].devtlb.size);
		n++;
	}
	pthread_mutex_lock(&w->unit.lock);
	flush_engine_batch(w->fe, 0, d, n, 1, &res);
	pthread_mutex_unlock(&w->unit.lock);
}

/* An address from the input: mostly inside RAM, sometimes anything. */
static uint64_t addr_of(struct input *in)
{
	uint8_t kind = (uint8_t)take(in, 1);

	if (kind < 0xf0)
		return take(in, 3) % RAM_SIZE;
	return take(in, 8);
}

/* What Linux does: every offered feature, queue 0 of @qsize at RING, DRIVER_OK. */
static void bring_up(struct pci_device *pci, uint16_t qsize)
{
	uint64_t f = 0;

	bar(pci, VIRTIO_COMMON_STATUS, 1, 0, true);
	bar(pci, VIRTIO_COMMON_STATUS, 1, VIRTIO_STATUS_ACK | VIRTIO_STATUS_DRIVER, true);
	for (unsigned int sel = 0; sel < 2; sel++) {
		uint8_t b[4] = { 0 };

		bar(pci, VIRTIO_COMMON_DFSELECT, 4, sel, true);
		pci->bars[0].fn(pci->bars[0].opaque, VIRTIO_COMMON_DF, b, 4, false);
		f |= (uint64_t)(b[0] | b[1] << 8 | b[2] << 16 | (uint32_t)b[3] << 24) << (32 * sel);
	}
	for (unsigned int sel = 0; sel < 2; sel++) {
		bar(pci, VIRTIO_COMMON_GFSELECT, 4, sel, true);
		bar(pci, VIRTIO_COMMON_GF, 4, (uint32_t)(f >> (32 * sel)), true);
	}
	bar(pci, VIRTIO_COMMON_STATUS, 1, VIRTIO_STATUS_ACK | VIRTIO_STATUS_DRIVER |
	    VIRTIO_STATUS_FEATURES_OK, true);
	bar(pci, VIRTIO_COMMON_Q_SELECT, 2, 0, true);
	bar(pci, VIRTIO_COMMON_Q_SIZE, 2, qsize, true);
	bar(pci, VIRTIO_COMMON_Q_DESC, 8, RING, true);
	bar(pci, VIRTIO_COMMON_Q_AVAIL, 8, RING + 0x1000, true);
	bar(pci, VIRTIO_COMMON_Q_USED, 8, RING + 0x2000, true);
	bar(pci, VIRTIO_COMMON_Q_MSIX, 2, 1, true);
	bar(pci, VIRTIO_COMMON_Q_ENABLE, 2, 1, true);
	bar(pci, VIRTIO_COMMON_STATUS, 1, VIRTIO_STATUS_ACK | VIRTIO_STATUS_DRIVER |
	    VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK, true);
}

static void check_reset(struct pci_device *pci)
{
	uint8_t b[2] = { 0 };

	if (status(pci) != 0)
		abort();
	bar(pci, VIRTIO_COMMON_Q_SELECT, 2, 0, true);
	pci->bars[0].fn(pci->bars[0].opaque, VIRTIO_COMMON_Q_ENABLE, b, 2, false);
	if (b[0] || b[1])
		abort();
}

static void run(struct vm *vm, struct virtio_pci *vp, struct iommu_world *w, struct input *in)
{
	struct pci_device *pci = virtio_pci_device(vp);
	uint8_t *ram = vm->mem[0].host;
	uint16_t avail_idx = 0;

	for (unsigned int step = 0; step < MAX_STEPS && in->left; step++) {
		bool broken = status(pci) & VIRTIO_STATUS_NEEDS_RESET, was_reset = false;
		uint8_t op = (uint8_t)take(in, 1);
		unsigned int len = 1u << (take(in, 1) & 3);

		switch (op % 14) {
		case 0: {	/* common configuration, any width */
			uint64_t off = take(in, 1) % (VIRTIO_COMMON_LEN + 8);
			uint64_t val = take(in, 8);

			bar(pci, off, len, val, true);
			/* A write whose byte at device_status is 0 resets. */
			was_reset = off <= VIRTIO_COMMON_STATUS && VIRTIO_COMMON_STATUS < off + len &&
				    !((val >> (8 * (VIRTIO_COMMON_STATUS - off))) & 0xff);
			break;
		}
		case 1:		/* any read of BAR 0 (the ISR read clears it) */
			bar(pci, take(in, 2) % VIRTIO_BAR_SIZE, len, 0, false);
			break;
		case 2: {	/* a store to guest RAM */
			uint64_t a = take(in, 3) % (RAM_SIZE - 8), v = take(in, 8);

			memcpy(ram + a, &v, 8);
			break;
		}
		case 3:		/* notify (any queue number), then let the worker finish */
			bar(pci, VIRTIO_NOTIFY_OFF + (take(in, 1) & 7) * VIRTIO_NOTIFY_MULT, 2, 0, true);
			virtio_quiesce(vp);
			break;
		case 4:
			bring_up(pci, (uint16_t)(1u << (take(in, 1) % 10)));
			avail_idx = 0;
			was_reset = true;	/* the bring-up starts with a reset */
			break;
		case 5: {	/* a descriptor in the ring at RING */
			uint8_t idx = (uint8_t)take(in, 1);
			uint64_t a = addr_of(in);
			uint32_t l = (uint32_t)take(in, 4);
			uint16_t flags = (uint16_t)(take(in, 1) & 7), next = (uint16_t)take(in, 1);
			uint8_t *d = ram + RING + 16 * idx;

			memcpy(d, &a, 8);
			memcpy(d + 8, &l, 4);
			memcpy(d + 12, &flags, 2);
			memcpy(d + 14, &next, 2);
			break;
		}
		case 6: {	/* offer a head, notify */
			uint16_t head = (uint16_t)take(in, 1);

			memcpy(ram + RING + 0x1000 + 4 + 2 * (avail_idx % 256), &head, 2);
			avail_idx++;
			memcpy(ram + RING + 0x1000 + 2, &avail_idx, 2);
			bar(pci, VIRTIO_NOTIFY_OFF, 2, 0, true);
			virtio_quiesce(vp);
			break;
		}
		case 7:		/* command register */
			pci_device_config_write(pci, PCI_COMMAND, 2, take(in, 2) & 0x0407);
			break;
		case 8:		/* MSI-X enable and mask */
			pci_device_config_write(pci, pci->msix_cap + 2, 2, take(in, 2) & 0xc000);
			break;
		case 9:		/* an MSI-X table entry */
			pci->msix_table[take(in, 1) % (16u * pci->msix_entries)] = (uint8_t)take(in, 1);
			break;
		case 10:	/* reset */
			bar(pci, VIRTIO_COMMON_STATUS, 1, 0, true);
			was_reset = true;
			break;
		case 11: {	/* remap or unmap an IOVA page (with a vIOMMU) */
			uint64_t page = take(in, 1) % 512, to = take(in, 1) % MAPPED_PAGES;
			uint8_t perm = (uint8_t)(take(in, 1) & 3);

			if (w)
				put64(vm, SL_L1 + page * 8, to << 12 | perm);
			break;
		}
		case 12: {	/* the guest's invalidation (with a vIOMMU) */
			uint64_t iova = (take(in, 1) % 512) << 12;
			uint8_t how = (uint8_t)take(in, 1);

			if (w)
				invalidate(w, iova, how);
			break;
		}
		case 13: {	/* ATS enable, if the device has the capability */
			uint16_t ats = pci_find_ext_cap(pci, PCI_EXT_CAP_ID_ATS);
			uint16_t on = take(in, 1) & 1 ? ATS_CTRL_ENABLE : 0;

			if (ats)
				pci_device_config_write(pci, ats + ATS_CTRL, 2, on);
			break;
		}
		}
		if (was_reset && op % 14 != 4)
			check_reset(pci);
		/* NEEDS_RESET stays until a reset. */
		if (broken && !was_reset && !(status(pci) & VIRTIO_STATUS_NEEDS_RESET))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };
	struct virtio_spec spec = { 0 };
	static struct iommu_world world;
	struct iommu_world *w = NULL;
	struct virtio_pci *vp;
	struct vm vm;
	char err[256];
	uint8_t mode;
	int fd;

	if (size < 2)
		return 0;
	memset(&vm, 0, sizeof(vm));
	vm.kvm_fd = vm.vm_fd = -1;
	vm.console_in = vm.console_out = -1;
	vm.nmem = 1;
	vm.mem[0] = (struct mem_region){ .gpa = 0, .size = RAM_SIZE, .host = calloc(1, RAM_SIZE) };
	if (!vm.mem[0].host || bus_init(&vm.pio, "pio") || bus_init(&vm.mmio, "mmio") ||
	    pci_host_bridge_init(&vm, err, sizeof(err)))
		abort();
	pci_signal_msi = no_msi;
	pci_irq_line = no_intx;

	/* The image: an anonymous in-memory file, named through /proc. */
	fd = memfd_create("fuzz-virtio", 0);
	if (fd < 0 || ftruncate(fd, IMAGE_SIZE))
		abort();
	snprintf(spec.path, sizeof(spec.path), "/proc/self/fd/%d", fd);
	spec.kind = take(&in, 1) & 1 ? VIRTIO_KIND_RNG : VIRTIO_KIND_BLK;
	mode = (uint8_t)take(&in, 1);
	spec.ro = mode & 1;
	if (mode & 2) {
		spec.ats = mode & 4;
		w = &world;
		iommu_up(&vm, w, spec.ats);
	}
	vp = virtio_create(&vm, &spec, BDF, w != NULL, err, sizeof(err));
	if (!vp) {
		fprintf(stderr, "fuzz_virtio: %s\n", err);
		abort();
	}
	pci_device_config_write(virtio_pci_device(vp), PCI_COMMAND, 2,
				PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	run(&vm, vp, w, &in);
	virtio_free(vp);
	if (w)
		iommu_down(&vm, w);
	close(fd);
	pci_host_bridge_exit(&vm);
	bus_destroy(&vm.pio);
	bus_destroy(&vm.mmio);
	free(vm.mem[0].host);
	return 0;
}
