// SPDX-License-Identifier: MIT
/*
 * The guest-facing model of one passed-through PCI function: config space
 * and BARs here, interrupts in vfio-pci-irq.c, their shared state and lock
 * order in vfio-pci-priv.h.
 *
 * Config space is virtual: the device's header and the capabilities kept
 * are copied into a struct pci_device (vmm/pci.h) once, and from then on
 * the guest reads and writes the copy under the framework's write masks.
 * Only the command register is written through to the device (Memory,
 * I/O and Bus Master must reach it for it to decode and DMA; vfio-pci in
 * the host kernel virtualizes the bits it must). BARs, the expansion ROM
 * and every capability stay virtual, so a guest write to hidden config
 * space never reaches the device.
 *
 * Capabilities kept, the rest hidden (unlinked from the lists):
 *  - standard: PCI Express, MSI, MSI-X. The guest needs these to drive the
 *    device and its interrupts; power management, VPD, vendor-specific,
 *    AF and the like either act on host-owned state (power, reset) or are
 *    device back doors the guest has no business with.
 *  - extended: PASID and ATS only, which the vIOMMU needs the guest to see.
 *    Their enables stay virtual: the host IOMMU driver owns the real ones.
 *    AER, DPC and ACS belong to the host's error handling and isolation
 *    (IOMMU groups), SR-IOV would create host functions, Resizable BAR
 *    would change a BAR under the host, LTR/L1SS are platform power.
 * The capabilities are laid out again by the framework (pci_add_*_cap), in
 * the device's order, so guest offsets differ from the device's: nothing
 * but the command register is ever written through, so no offset
 * translation is needed.
 *
 * The PCIe capability is the framework's (a root-complex integrated
 * endpoint on bus 0, since there is no root port), with the device's
 * Device Capabilities minus Function Level Reset (reset is the host's,
 * through VFIO_DEVICE_RESET).
 *
 * MSI-X: the guest's table lives in the framework, in a BAR slot the
 * device leaves free (as QEMU's MSI-X relocation does); the device's own
 * table area in its BAR is blocked by vfio-pci in the host anyway. A
 * device with no free BAR slot is shown without MSI-X (TODO).
 *
 * BARs: a memory BAR whose region VFIO lets us read, write and mmap
 * (VFIO_REGION_INFO_FLAG_MMAP) is mmapped from the device fd at create,
 * in whole pages: the areas of VFIO_REGION_INFO_CAP_SPARSE_MMAP when the
 * region has that capability (the rest may not be mmappable), the whole
 * region otherwise, minus the pages holding the device's own MSI-X table
 * and PBA, which the host's vfio-pci guards and the guest has no use for
 * (it sees the relocated table). While the guest decodes the BAR, each
 * area is in a KVM memslot at its guest address (the framework's
 * bar_mapped hook: decode on and off, BAR moves, destroy), so accesses
 * there never exit. Everything else in a BAR, and every BAR of an I/O,
 * non-mmappable, smaller than a page or unaligned region, is trapped:
 * each access exits to the VMM and becomes a pread or pwrite at the
 * region's offset. The bridge's window keeps the whole BAR, so a trapped
 * access also serves an area whose memslot could not be made.
 *
 * The device decodes its BARs only while its command register says so,
 * and vfio-pci makes an mmap fault (SIGBUS, which KVM_RUN reports as
 * EFAULT) when it does not: the command register reaches the device with
 * Memory on before the memslots go in, and the memslots are gone before
 * Memory off reaches it. The framework remaps BARs before config_written,
 * so bar_mapped writes the command register itself, before it adds
 * memslots and after it removes them; the value written is kept so
 * config_written does not write it again. write_command() never sends
 * Memory off while a memslot remains: with two vCPUs writing the command
 * register, one's config_written can run after the other's write of
 * Memory off and before that write's bar_mapped; the device then keeps
 * Memory on until that bar_mapped has removed the memslots.
 *
 * A memslot KVM will not remove stays where it is (stuck; the device
 * keeps Memory on for it), and every later bar_mapped and the destroy
 * try again; the BAR's new address is trapped for that area meanwhile.
 * Its mmap is never unmapped while the memslot is in KVM: destroy leaks
 * it, with a message, if KVM still keeps the memslot.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "lib/hostops.h"
#include "vmm/kvm.h"
#include "vmm/vfio-pci-priv.h"

/* Register offsets and capability fields: vmm/pci-priv.h. */
#define EXP_DEVCAP_FLR		(1u << 28)

#define PAGE			4096ULL
#define REGION_MMAP_FLAGS	(VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE | \
				 VFIO_REGION_INFO_FLAG_MMAP)
#define REGION_INFO_MAX		65536	/* region info with capabilities, at most */

/* ---- helpers ---- */

static const char *bdf_name(const struct vfio_pci *vp, char buf[PCI_BDF_LEN])
{
	return pci_bdf_format(vp->pci.bdf, buf);
}

void vfio_pci_warn(struct vfio_pci *vp, const char *what)
{
	char b[16];

	fprintf(stderr, "tagvmm: vfio-pci %s: %s: %s\n", bdf_name(vp, b), what, strerror(errno));
}

static bool region_ok(const struct vfio_region_info *r, uint64_t off, size_t len, uint32_t flag)
{
	return (r->flags & flag) && off <= r->size && len <= r->size - off;
}

/* ---- BARs: trapped accesses ---- */

static void bar_io(void *opaque, uint64_t offset, uint8_t *data, unsigned int len, bool is_write)
{
	struct vfio_pci_bar *b = opaque;
	struct vfio_pci *vp = b->vp;
	const struct vfio_region_info *r = &vp->regions[b->index];
	off_t at = (off_t)(r->offset + offset);
	ssize_t n;

	__atomic_add_fetch(&b->trapped, 1, __ATOMIC_RELAXED);
	if (is_write) {
		if (region_ok(r, offset, len, VFIO_REGION_INFO_FLAG_WRITE))
			vp->ops->pwrite(vp->ops->ctx, vp->fd, data, len, at);
		return;
	}
	n = region_ok(r, offset, len, VFIO_REGION_INFO_FLAG_READ) ?
	    vp->ops->pread(vp->ops->ctx, vp->fd, data, len, at) : -1;
	if (n != (ssize_t)len)
		memset(data, 0xff, len);	/* master abort */
}

/* ---- BARs: mmapped areas in memslots ---- */

/* Add [off, off + size) of a BAR of @limit bytes, shrunk to whole pages. */
static void add_area(struct vfio_pci_bar *b, uint64_t off, uint64_t size, uint64_t limit)
{
	uint64_t end = off + size < off || off + size > limit ? limit : off + size;

	off = (off + PAGE - 1) & ~(PAGE - 1);
	end &= ~(PAGE - 1);
	if (off < end && b->nareas < VFIO_PCI_MAX_AREAS)
		b->areas[b->nareas++] = (struct vfio_pci_area){ off, end - off, NULL, -1, false };
}

/* Take the pages of [start, end) out of @b's areas. */
static void carve(struct vfio_pci_bar *b, uint64_t start, uint64_t end, uint64_t limit)
{
	struct vfio_pci_area old[VFIO_PCI_MAX_AREAS];
	unsigned int n = b->nareas;

	start &= ~(PAGE - 1);
	memcpy(old, b->areas, sizeof(old));
	b->nareas = 0;
	for (unsigned int i = 0; i < n; i++) {
		uint64_t a_end = old[i].off + old[i].size;

		if (end <= old[i].off || start >= a_end) {
			add_area(b, old[i].off, old[i].size, limit);
			continue;
		}
		if (start > old[i].off)
			add_area(b, old[i].off, start - old[i].off, limit);
		if (end < a_end)
			add_area(b, end, a_end - end, limit);
	}
}

/*
 * The areas of BAR @i from a region info with capabilities (@len bytes):
 * VFIO_REGION_INFO_CAP_SPARSE_MMAP replaces the whole region by its list,
 * which may be empty.
 */
static void sparse_areas(struct vfio_pci_bar *b, const uint8_t *info, size_t len, uint64_t size)
{
	struct vfio_region_info r;
	uint32_t off;

	memcpy(&r, info, sizeof(r));
	off = r.cap_offset;
	for (unsigned int guard = 0; off >= sizeof(r) && guard < 32; guard++) {
		struct vfio_info_cap_header h;
		struct vfio_region_info_cap_sparse_mmap sp;

		if (off > len || len - off < sizeof(h))
			return;
		memcpy(&h, info + off, sizeof(h));
		if (h.id == VFIO_REGION_INFO_CAP_SPARSE_MMAP && len - off >= sizeof(sp)) {
			memcpy(&sp, info + off, sizeof(sp));
			b->nareas = 0;
			for (uint32_t a = 0; a < sp.nr_areas; a++) {
				struct vfio_region_sparse_mmap_area area;
				size_t at = off + sizeof(sp) + (size_t)a * sizeof(area);

				if (at + sizeof(area) > len)
					break;
				memcpy(&area, info + at, sizeof(area));
				add_area(b, area.offset, area.size, size);
			}
			return;
		}
		off = h.next;
	}
}

/* Is any area of any BAR in a memslot? bar_lock held. */
static bool has_slots(const struct vfio_pci *vp)
{
	for (unsigned int i = 0; i < PCI_NUM_BARS; i++)
		for (unsigned int a = 0; a < vp->bars[i].nareas; a++)
			if (vp->bars[i].areas[a].slot >= 0)
				return true;
	return false;
}

/*
 * The guest's command register to the device, unless it has it already;
 * Memory stays on while any memslot remains (bar_mapped() writes Memory
 * off once the last one is gone). Returns what the device has (-1:
 * unknown). bar_lock held.
 */
static int write_command(struct vfio_pci *vp)
{
	uint16_t cmd = (uint16_t)pci_device_config_read(&vp->pci, PCI_COMMAND, 2);
	const struct vfio_region_info *r = &vp->regions[VFIO_PCI_REGION_CFG];
	uint8_t b[2];

	if (!(cmd & PCI_COMMAND_MEMORY) && has_slots(vp))
		cmd |= PCI_COMMAND_MEMORY;
	if (vp->cmd_written == cmd)
		return cmd;
	b[0] = (uint8_t)cmd;
	b[1] = (uint8_t)(cmd >> 8);
	if (vp->ops->pwrite(vp->ops->ctx, vp->fd, b, 2, (off_t)(r->offset + PCI_COMMAND)) != 2)
		vfio_pci_warn(vp, "command register write");
	else
		vp->cmd_written = cmd;
	return vp->cmd_written;
}

/*
 * Take @b's memslots out of KVM, all of them or (@all false) only those
 * stuck from before. One KVM keeps stays where it is, stuck: the next
 * call retries it. bar_lock held.
 */
static void remove_slots(struct vfio_pci *vp, struct vfio_pci_bar *b, bool all)
{
	for (unsigned int a = 0; a < b->nareas; a++) {
		struct vfio_pci_area *ar = &b->areas[a];

		if (ar->slot < 0 || (!all && !ar->stuck))
			continue;
		if (!vm_unmap_device_memory(vp->vm, ar->slot)) {
			ar->slot = -1;
			ar->stuck = false;
		} else if (!ar->stuck) {
			ar->stuck = true;
			vfio_pci_warn(vp, "removing a BAR memslot (kept, Memory on; retried)");
		}
	}
}

/* The framework's hook: BAR @i decoded at @addr now, or not at all (0). */
static void bar_mapped(struct pci_device *dev, unsigned int i, uint64_t addr)
{
	struct vfio_pci *vp = dev->opaque;
	struct vfio_pci_bar *b = &vp->bars[i];
	int cmd;

	if (!b->nareas)
		return;
	pthread_mutex_lock(&vp->bar_lock);
	/* This BAR's slots, and those KVM kept before: one may be where this BAR goes. */
	for (unsigned int j = 0; j < PCI_NUM_BARS; j++)
		remove_slots(vp, &vp->bars[j], j == i);
	/*
	 * Memory on in the device before the first access that cannot exit;
	 * if another vCPU turned it off meanwhile, its bar_mapped(0) is next.
	 * Decoding off: the guest's Memory off reaches the device here once
	 * no memslot is left.
	 */
	cmd = write_command(vp);
	if (addr && cmd >= 0 && (cmd & PCI_COMMAND_MEMORY)) {
		for (unsigned int a = 0; a < b->nareas; a++) {
			struct vfio_pci_area *ar = &b->areas[a];

			if (ar->slot >= 0)
				continue;	/* stuck at its old address */
			ar->slot = vm_map_device_memory(vp->vm, addr + ar->off, ar->size, ar->host);
			if (ar->slot < 0)
				vfio_pci_warn(vp, "BAR memslot (that part stays trapped)");
		}
	}
	pthread_mutex_unlock(&vp->bar_lock);
}

/* mmap every area of every BAR; an area that fails is dropped (trapped). */
static void map_bars(struct vfio_pci *vp)
{
	for (unsigned int i = 0; i < PCI_NUM_BARS; i++) {
		struct vfio_pci_bar *b = &vp->bars[i];
		unsigned int kept = 0;

		for (unsigned int a = 0; a < b->nareas; a++) {
			struct vfio_pci_area ar = b->areas[a];
			void *p = vp->ops->mmap(vp->ops->ctx, vp->fd, ar.size,
						(off_t)(vp->regions[i].offset + ar.off));

			if (p == MAP_FAILED) {
				char what[48];

				snprintf(what, sizeof(what), "mmap of BAR%u at %#llx (trapped)", i,
					 (unsigned long long)ar.off);
				vfio_pci_warn(vp, what);
				continue;
			}
			ar.host = p;
			b->areas[kept++] = ar;
		}
		b->nareas = kept;
	}
}

/* Destroy: the mmaps, each once out of KVM; one a memslot KVM keeps still maps is leaked. */
static void unmap_bars(struct vfio_pci *vp)
{
	for (unsigned int i = 0; i < PCI_NUM_BARS; i++) {
		struct vfio_pci_bar *b = &vp->bars[i];

		for (unsigned int a = 0; a < b->nareas; a++) {
			struct vfio_pci_area *ar = &b->areas[a];

			if (ar->slot >= 0 && vm_unmap_device_memory(vp->vm, ar->slot))
				vfio_pci_warn(vp, "removing a BAR memslot (its mmap is leaked)");
			else
				vp->ops->munmap(vp->ops->ctx, ar->host, ar->size);
		}
		b->nareas = 0;
	}
}

/* ---- config space ---- */

static void config_written(struct pci_device *dev, unsigned int offset, unsigned int len)
{
	struct vfio_pci *vp = dev->opaque;

	if (pci_config_touches(offset, len, PCI_COMMAND, 2)) {
		pthread_mutex_lock(&vp->bar_lock);
		write_command(vp);
		pthread_mutex_unlock(&vp->bar_lock);
	}
	vfio_pci_irq_config_written(dev, offset, len);
}

static const struct pci_device_ops vfio_pci_ops = {
	.config_written = config_written,
	.msix_written = vfio_pci_msix_written,
	.msix_pba_read = vfio_pci_msix_pba_read,
	.bar_mapped = bar_mapped,
};

static int fail(char *err, size_t errlen, uint16_t bdf, const char *fmt, const char *what)
{
	char b[PCI_BDF_LEN];

	snprintf(err, errlen, "vfio-pci %s: %s: %s", pci_bdf_format(bdf, b), what, fmt);
	return -1;
}

/*
 * Region @i's info; for a BAR that may be mmapped, its areas (the whole
 * region, or the sparse list read with the capabilities).
 */
static int query_region(struct vfio_pci *vp, unsigned int i)
{
	struct vfio_region_info *r = &vp->regions[i];
	struct vfio_pci_bar *b;
	uint8_t *buf;
	uint32_t need;

	r->argsz = sizeof(*r);
	r->index = i == VFIO_PCI_REGION_CFG ? VFIO_PCI_CONFIG_REGION_INDEX :
					      VFIO_PCI_BAR0_REGION_INDEX + i;
	if (vfio_pci_ioctl(vp, vp->fd, VFIO_DEVICE_GET_REGION_INFO, r))
		return -1;
	need = r->argsz;
	r->argsz = sizeof(*r);
	if (i >= PCI_NUM_BARS || (r->flags & REGION_MMAP_FLAGS) != REGION_MMAP_FLAGS ||
	    r->offset % PAGE)
		return 0;
	b = &vp->bars[i];
	add_area(b, 0, r->size, r->size);
	if (!(r->flags & VFIO_REGION_INFO_FLAG_CAPS) || need <= sizeof(*r) ||
	    need > REGION_INFO_MAX)
		return 0;
	buf = calloc(1, need);
	if (!buf)
		return -1;
	memcpy(buf, r, sizeof(*r));
	memcpy(buf, &need, sizeof(need));	/* argsz */
	if (vfio_pci_ioctl(vp, vp->fd, VFIO_DEVICE_GET_REGION_INFO, buf)) {
		free(buf);
		return -1;
	}
	sparse_areas(b, buf, need, r->size);
	free(buf);
	return 0;
}

static int query(struct vfio_pci *vp, uint16_t bdf, char *err, size_t errlen)
{
	for (unsigned int i = 0; i < VFIO_PCI_NUM_REGIONS; i++) {
		if (query_region(vp, i)) {
			char what[48];

			snprintf(what, sizeof(what), "VFIO_DEVICE_GET_REGION_INFO(%u)",
				 vp->regions[i].index);
			return fail(err, errlen, bdf, strerror(errno), what);
		}
	}
	for (unsigned int i = 0; i <= VFIO_PCI_MSIX_IRQ_INDEX; i++) {
		struct vfio_irq_info *q = &vp->irqs[i];

		q->argsz = sizeof(*q);
		q->index = i;
		if (vfio_pci_ioctl(vp, vp->fd, VFIO_DEVICE_GET_IRQ_INFO, q)) {
			char what[48];

			snprintf(what, sizeof(what), "VFIO_DEVICE_GET_IRQ_INFO(%u)", i);
			return fail(err, errlen, bdf, strerror(errno), what);
		}
		if (!(q->flags & VFIO_IRQ_INFO_EVENTFD))
			q->count = 0;	/* unusable without eventfds */
	}
	return 0;
}

/* Read the device's config space (up to 4 KiB) into @cfg. */
static int read_config(struct vfio_pci *vp, uint8_t *cfg, uint16_t bdf, char *err, size_t errlen)
{
	const struct vfio_region_info *r = &vp->regions[VFIO_PCI_REGION_CFG];
	size_t len = r->size < PCI_CFG_SIZE ? (size_t)r->size : PCI_CFG_SIZE;
	ssize_t n;

	memset(cfg, 0, PCI_CFG_SIZE);
	if (len < 0x40 || !(r->flags & VFIO_REGION_INFO_FLAG_READ))
		return fail(err, errlen, bdf, "no readable config region", "config space");
	n = vp->ops->pread(vp->ops->ctx, vp->fd, cfg, len, (off_t)r->offset);
	if (n != (ssize_t)len)
		return fail(err, errlen, bdf, n < 0 ? strerror(errno) : "short read",
			    "reading config space");
	if (len < PCI_CFG_SIZE)
		memset(cfg + len, 0, PCI_CFG_SIZE - len);
	return 0;
}

static int setup_bars(struct vfio_pci *vp, const uint8_t *cfg, uint16_t bdf, char *err,
		      size_t errlen)
{
	for (unsigned int i = 0; i < PCI_NUM_BARS; i++) {
		uint32_t reg = vfio_pci_le(cfg + PCI_BASE_ADDRESS_0 + 4 * i, 4);
		uint64_t size = vp->regions[i].size;
		enum pci_bar_kind kind;

		vp->bars[i].vp = vp;
		vp->bars[i].index = i;
		if (!size) {
			vp->bars[i].nareas = 0;
			continue;
		}
		if (reg & 1)
			kind = PCI_BAR_IO;
		else if (((reg >> 1) & 3) == 2)
			kind = PCI_BAR_MEM64;
		else
			kind = PCI_BAR_MEM32;
		if (kind == PCI_BAR_IO)
			vp->bars[i].nareas = 0;
		vp->pci.bars[i].prefetchable = kind != PCI_BAR_IO && (reg & 8);
		if (pci_device_set_bar(&vp->pci, i, kind, size, bar_io, &vp->bars[i])) {
			char what[32];

			snprintf(what, sizeof(what), "BAR%u", i);
			vp->pci.bars[i].prefetchable = false;
			return fail(err, errlen, bdf, "size or type not supported", what);
		}
		if (kind == PCI_BAR_MEM64 && ++i < PCI_NUM_BARS) {
			vp->bars[i].vp = vp;
			vp->bars[i].index = i;
			vp->bars[i].nareas = 0;	/* the upper half */
		}
	}
	return 0;
}

static bool bar_slot_free(const struct pci_device *dev, unsigned int i)
{
	return dev->bars[i].kind == PCI_BAR_NONE &&
	       !(i > 0 && dev->bars[i - 1].kind == PCI_BAR_MEM64);
}

/* Never mmap the device's own MSI-X table and PBA (its capability at @off). */
static void carve_msix(struct vfio_pci *vp, const uint8_t *cfg, unsigned int off)
{
	uint64_t n = (vfio_pci_le(cfg + off + 2, 2) & MSIX_FLAGS_QSIZE) + 1u;
	uint32_t table = vfio_pci_le(cfg + off + MSIX_TABLE, 4);
	uint32_t pba = vfio_pci_le(cfg + off + MSIX_PBA, 4);
	uint64_t table_off = table & ~7u, pba_off = pba & ~7u;

	if ((table & 7) < PCI_NUM_BARS)
		carve(&vp->bars[table & 7], table_off, table_off + n * MSIX_ENTRY_SIZE,
		      vp->regions[table & 7].size);
	if ((pba & 7) < PCI_NUM_BARS)
		carve(&vp->bars[pba & 7], pba_off, pba_off + (n + 63) / 64 * 8,
		      vp->regions[pba & 7].size);
}

/* The standard capabilities kept, in the device's order. */
static void setup_caps(struct vfio_pci *vp, const uint8_t *cfg)
{
	struct pci_device *dev = &vp->pci;
	unsigned int off = cfg[PCI_CAPABILITY_LIST] & 0xfc, guard = 0;

	if (!(vfio_pci_le(cfg + PCI_STATUS, 2) & PCI_STATUS_CAP_LIST))
		off = 0;
	for (; off >= 0x40 && off < PCI_STD_CFG_SIZE && guard < 48; guard++) {
		uint8_t id = cfg[off];
		unsigned int next = cfg[off + 1] & 0xfc;

		if (id == PCI_CAP_ID_MSIX && off + 12 <= PCI_STD_CFG_SIZE)
			carve_msix(vp, cfg, off);	/* shown or not */
		if (id == PCI_CAP_ID_MSI && !vp->msi_cap && vp->irqs[VFIO_PCI_MSI_IRQ_INDEX].count) {
			unsigned int can = (vfio_pci_le(cfg + off + 2, 2) & MSI_FLAGS_QMASK) >> 1;
			unsigned int n = 1u << can;

			if (n > vp->irqs[VFIO_PCI_MSI_IRQ_INDEX].count)
				n = vp->irqs[VFIO_PCI_MSI_IRQ_INDEX].count;
			vp->msi_cap = pci_add_msi_cap(dev, n, false);
		} else if (id == PCI_CAP_ID_MSIX && !vp->msix_cap &&
			   vp->irqs[VFIO_PCI_MSIX_IRQ_INDEX].count) {
			unsigned int n = (vfio_pci_le(cfg + off + 2, 2) & MSIX_FLAGS_QSIZE) + 1u;

			if (n > vp->irqs[VFIO_PCI_MSIX_IRQ_INDEX].count)
				n = vp->irqs[VFIO_PCI_MSIX_IRQ_INDEX].count;
			for (unsigned int b = 0; b < PCI_NUM_BARS; b++) {
				if (bar_slot_free(dev, b)) {
					vp->msix_cap = pci_add_msix_cap(dev, n, b);
					break;
				}
			}
		} else if (id == PCI_CAP_ID_EXP) {
			uint8_t at = pci_add_pcie_cap(dev, (dev->bdf >> 8) == 0 ?
						      PCI_EXP_TYPE_RC_END : PCI_EXP_TYPE_ENDPOINT);

			if (at) {
				uint32_t devcap = vfio_pci_le(cfg + off + EXP_DEVCAP, 4) &
						  ~EXP_DEVCAP_FLR;

				for (unsigned int b = 0; b < 4; b++)
					dev->cfg[at + EXP_DEVCAP + b] = (uint8_t)(devcap >> (8 * b));
			}
		}
		off = next;
	}
}

/* The extended capabilities kept: PASID and ATS, in the device's order. */
static void setup_ext_caps(struct vfio_pci *vp, const uint8_t *cfg)
{
	unsigned int off = PCI_STD_CFG_SIZE, guard = 0;

	if (vp->regions[VFIO_PCI_REGION_CFG].size < PCI_CFG_SIZE)
		return;		/* conventional PCI: no extended space */
	while (off >= PCI_STD_CFG_SIZE && off + 4 <= PCI_CFG_SIZE && guard++ < 512) {
		uint32_t hdr = vfio_pci_le(cfg + off, 4);
		uint16_t id = (uint16_t)(hdr & 0xffff);

		if (!hdr || hdr == 0xffffffff)
			break;
		if (id == PCI_EXT_CAP_ID_PASID && off + 8 <= PCI_CFG_SIZE) {
			unsigned int bits = (vfio_pci_le(cfg + off + PASID_CAP, 2) >> 8) & 0x1f;

			if (bits)
				pci_add_pasid_cap(&vp->pci, bits > 20 ? 20 : bits);
		} else if (id == PCI_EXT_CAP_ID_ATS && off + 8 <= PCI_CFG_SIZE) {
			unsigned int depth = vfio_pci_le(cfg + off + ATS_CAP, 2) & 0x1f;

			pci_add_ats_cap(&vp->pci, depth ? depth : 32);
		}
		off = (hdr >> 20) & 0xffc;
	}
}

void vfio_pci_print_stats(const struct vfio_pci *vp, FILE *out)
{
	char b[PCI_BDF_LEN];

	for (unsigned int i = 0; i < PCI_NUM_BARS; i++) {
		const struct vfio_pci_bar *bar = &vp->bars[i];
		uint64_t mapped = 0;

		if (!vp->regions[i].size)
			continue;
		for (unsigned int a = 0; a < bar->nareas; a++)
			mapped += bar->areas[a].size;
		fprintf(out, "tagvmm: stats: vfio %s BAR%u: %llu bytes, %llu mmapped in %u area%s, "
			"%llu trapped accesses\n", bdf_name(vp, b), i,
			(unsigned long long)vp->regions[i].size, (unsigned long long)mapped,
			bar->nareas, bar->nareas == 1 ? "" : "s",
			(unsigned long long)__atomic_load_n(&bar->trapped, __ATOMIC_RELAXED));
	}
}

struct pci_device *vfio_pci_device(struct vfio_pci *vp)
{
	return &vp->pci;
}

struct vfio_pci *vfio_pci_create(struct vm *vm, const struct host_ops *ops, int device_fd,
				 uint16_t guest_bdf, char *err, size_t errlen)
{
	struct vfio_pci *vp = calloc(1, sizeof(*vp));
	uint8_t *cfg = malloc(PCI_CFG_SIZE);
	struct pci_device *dev;

	if (!vp || !cfg) {
		free(vp);
		free(cfg);
		snprintf(err, errlen, "vfio-pci: out of memory");
		return NULL;
	}
	vp->vm = vm;
	vp->ops = ops;
	vp->fd = device_fd;
	vp->intx_fd = vp->intx_resample_fd = -1;
	vp->cmd_written = -1;
	pthread_mutex_init(&vp->irq_lock, NULL);
	pthread_mutex_init(&vp->bar_lock, NULL);
	dev = &vp->pci;
	if (query(vp, guest_bdf, err, errlen) || read_config(vp, cfg, guest_bdf, err, errlen))
		goto fail_free;

	dev->ops = &vfio_pci_ops;
	dev->opaque = vp;
	pci_device_init(dev, (uint16_t)vfio_pci_le(cfg, 2), (uint16_t)vfio_pci_le(cfg + 2, 2),
			vfio_pci_le(cfg + PCI_REVISION_ID, 4) >> 8, cfg[PCI_REVISION_ID]);
	dev->bdf = guest_bdf;		/* for the PCIe port type; pci_register sets it too */
	memcpy(dev->cfg + PCI_SUBSYSTEM_VENDOR_ID, cfg + PCI_SUBSYSTEM_VENDOR_ID, 4);
	dev->cfg[PCI_INTERRUPT_PIN] = vp->irqs[VFIO_PCI_INTX_IRQ_INDEX].count ? cfg[PCI_INTERRUPT_PIN] : 0;
	if (dev->cfg[PCI_INTERRUPT_PIN] > 4)
		dev->cfg[PCI_INTERRUPT_PIN] = 1;
	if (setup_bars(vp, cfg, guest_bdf, err, errlen))
		goto fail_dev;
	setup_caps(vp, cfg);
	setup_ext_caps(vp, cfg);

	if (pci_register(vm, dev, guest_bdf)) {
		fail(err, errlen, guest_bdf, "slot taken or bus full", "pci_register");
		goto fail_dev;
	}
	vp->registered = true;
	map_bars(vp);
	if (vfio_pci_irq_start(vp)) {
		fail(err, errlen, guest_bdf, strerror(errno), "INTx eventfd/irqfd setup");
		vfio_pci_destroy(vp);
		free(cfg);
		return NULL;
	}
	free(cfg);
	return vp;

fail_dev:
	pci_device_exit(dev);
fail_free:
	pthread_mutex_destroy(&vp->bar_lock);
	pthread_mutex_destroy(&vp->irq_lock);
	free(vp);
	free(cfg);
	return NULL;
}

void vfio_pci_destroy(struct vfio_pci *vp)
{
	if (!vp)
		return;
	vfio_pci_irq_stop(vp);
	pci_device_exit(&vp->pci);	/* decoding off: bar_mapped() drops the memslots */
	unmap_bars(vp);
	pthread_mutex_destroy(&vp->bar_lock);
	pthread_mutex_destroy(&vp->irq_lock);
	free(vp);
}
