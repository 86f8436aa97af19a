// SPDX-License-Identifier: MIT
/*
 * virtio-blk behind a vIOMMU, without KVM: every ring and buffer address
 * is an IOVA, translated through vmm/dma.h by viommu/dma.c for the
 * function's requester ID, with the simulated host's IOTLB and (with ATS)
 * the device's ATC in the way, as check_simdev does for the sim engine.
 * The guest's tables (legacy mode, second stage, 4 levels) are built by
 * hand; IOVAs never equal the GPAs they map to.
 */
#include <check.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "hostvtd/flush.h"
#include "hostvtd/simvtd-cache.h"
#include "hostvtd/simvtd.h"
#include "viommu/viommu-priv.h"
#include "virtio_testutil.h"
#include "vmm/kvm.h"
#include "vmm/pci.h"
#include "vmm/virtio.h"
#include "vtd/desc.h"
#include "vtd/fault.h"
#include "vtd/regs.h"

#define RAM_SIZE	(16ULL << 20)
#define GUEST_SID	0x0008		/* 00:01.0: the virtio function */
#define HOST_SID	0x1100
#define GUEST_DID	1
#define HOST_DID	42

#define ROOT		0x100000ULL
#define CTX		0x101000ULL
#define SL_L4		0x102000ULL
#define SL_L3		0x103000ULL
#define SL_L2		0x104000ULL
#define SL_L1		0x105000ULL	/* maps IOVA 0 .. 2 MiB */
#define PG(n)		(0x200000ULL + (uint64_t)(n) * 4096)

/* IOVAs the driver uses. */
#define IOVA_DESC	0x1000ULL
#define IOVA_AVAIL	0x2000ULL
#define IOVA_USED	0x3000ULL
#define IOVA_HDR	0x4000ULL	/* header; status byte at +0x800 */
#define IOVA_DATA	0x10000ULL
#define IMAGE_SECTORS	2048

#define PTE_R		1ULL
#define PTE_W		2ULL

static struct vm vm;
static uint8_t *ram;
static struct simvtd *sim;
static struct tag_store *ts;
static struct flush_engine *fe;
static struct viommu unit;
static struct viommu_dev vdev;
static struct vdrv drv;
static char image[64];
static bool refuse_rid;

static int ignore_msi(struct vm *v, uint64_t address, uint32_t data)
{
	(void)v;
	(void)address;
	(void)data;
	return 0;
}

static void *gpa(uint64_t addr, size_t len)
{
	void *p = vm_gpa(&vm, addr, len);

	ck_assert_ptr_nonnull(p);
	return p;
}

static void put64(uint64_t addr, uint64_t val)
{
	memcpy(gpa(addr, 8), &val, 8);
}

static void map(uint64_t iova, uint64_t page, uint64_t perm)
{
	ck_assert_uint_lt(iova, 2ULL << 20);
	put64(SL_L1 + ((iova >> 12) & 511) * 8, page | perm);
}

/* Where the guest's tables put @iova (the driver writes its rings there). */
static uint64_t gpa_of(uint64_t iova)
{
	uint64_t pte;

	memcpy(&pte, gpa(SL_L1 + ((iova >> 12) & 511) * 8, 8), 8);
	ck_assert(pte & PTE_R);
	return (pte & ~0xfffULL) | (iova & 0xfff);
}

/* vmm/dma.h: the vIOMMU knows the function at GUEST_SID (unless refuse_rid). */
static int space_of(void *opaque, uint16_t rid, struct dma_space *out)
{
	if (refuse_rid || rid != GUEST_SID)
		return -1;
	viommu_dma_space(opaque, out);
	return 0;
}

static void build_tables(bool ats_ok)
{
	put64(ROOT + (GUEST_SID >> 8) * 16, CTX | 1);
	put64(CTX + (GUEST_SID & 0xff) * 16, SL_L4 | (ats_ok ? 1ULL << 2 : 0) | 1);
	put64(CTX + (GUEST_SID & 0xff) * 16 + 8, 2 | (uint64_t)GUEST_DID << 8);
	put64(SL_L4, SL_L3 | PTE_R | PTE_W);
	put64(SL_L3, SL_L2 | PTE_R | PTE_W);
	put64(SL_L2, SL_L1 | PTE_R | PTE_W);
	map(IOVA_DESC, PG(0), PTE_R | PTE_W);
	map(IOVA_AVAIL, PG(1), PTE_R | PTE_W);
	map(IOVA_USED, PG(2), PTE_R | PTE_W);
	map(IOVA_HDR, PG(3), PTE_R | PTE_W);
	map(IOVA_DATA, PG(10), PTE_R | PTE_W);
}

static void attach(void)
{
	struct tag_attach a = { .dev = &vdev.host, .guest_sid = GUEST_SID, .host_did = HOST_DID };
	struct guest_domain_key key = { .viommu = 0, .did = GUEST_DID, .pasid = 0 };

	vdev.attach[0] = (struct viommu_attach){ .pasid = 0, .did = GUEST_DID, .host_did = HOST_DID };
	vdev.nattach = 1;
	ck_assert_int_eq(tag_store_attach(ts, key, &a), 0);
}

/* The guest's invalidation of one page, as its queue would hand it over. */
static void flush_page(uint64_t iova, bool iotlb, bool devtlb)
{
	struct vtd_desc d[2];
	struct flush_result res;
	size_t n = 0;

	if (iotlb)
		d[n++] = (struct vtd_desc){ .type = VTD_DESC_IOTLB,
					    .iotlb = { .gran = VTD_IOTLB_PAGE, .did = GUEST_DID,
						       .addr = iova } };
	if (devtlb) {
		d[n] = (struct vtd_desc){ .type = VTD_DESC_DEVTLB, .devtlb = { .sid = GUEST_SID } };
		d[n].devtlb.addr = vtd_devtlb_encode_addr(iova, 0, &d[n].devtlb.size);
		n++;
	}
	pthread_mutex_lock(&unit.lock);
	ck_assert_int_eq(flush_engine_batch(fe, 0, d, n, 1, &res), 0);
	pthread_mutex_unlock(&unit.lock);
}

static void setup(void)
{
	struct simvtd_config cfg = { .units = 1 };
	struct plan_options opt = { 0 };
	char err[256];
	int fd;

	memset(&vm, 0, sizeof(vm));
	vm.kvm_fd = vm.vm_fd = -1;
	vm.console_in = vm.console_out = -1;
	ram = calloc(1, RAM_SIZE);
	ck_assert_ptr_nonnull(ram);
	vm.nmem = 1;
	vm.mem[0] = (struct mem_region){ .gpa = 0, .size = RAM_SIZE, .host = ram };
	ck_assert_int_eq(bus_init(&vm.pio, "pio"), 0);
	ck_assert_int_eq(bus_init(&vm.mmio, "mmio"), 0);
	ck_assert_int_eq(pci_host_bridge_init(&vm, err, sizeof(err)), 0);
	pci_signal_msi = ignore_msi;

	sim = simvtd_new(&cfg);
	ts = tag_store_new();
	ck_assert_ptr_nonnull(sim);
	ck_assert_ptr_nonnull(ts);
	fe = flush_engine_new(ts, NULL, &opt);
	ck_assert_ptr_nonnull(fe);
	ck_assert_int_eq(viommu_unit_init(&unit, &vm, 0, false, err, sizeof(err)), 0);
	unit.signal_msi = ignore_msi;
	unit.fectl = 1u << 31;		/* fault events masked: only the records matter */
	unit.ts = ts;
	unit.fe = fe;
	unit.rtaddr = unit.rtaddr_active = ROOT;
	unit.gcmd = unit.gsts = VTD_GCMD_TE | VTD_GCMD_SRTP;

	memset(&vdev, 0, sizeof(vdev));
	vdev.unit = &unit;
	vdev.guest_sid = GUEST_SID;
	vdev.host.sid = HOST_SID;
	vdev.sim = sim;
	host_device_name(HOST_SID, vdev.host.name);
	vdev.host.unit = simvtd_unit(sim, 0);
	unit.devs[unit.ndevs++] = &vdev;
	vm.dma_iommu = (struct dma_iommu){ .space = space_of, .opaque = &vdev };
	refuse_rid = false;

	strcpy(image, "/tmp/tagvmm-virtio-XXXXXX");
	fd = mkstemp(image);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, IMAGE_SECTORS * 512), 0);
	close(fd);
	memset(&drv, 0, sizeof(drv));
}

static void teardown(void)
{
	virtio_free(drv.vp);
	viommu_unit_exit(&unit);
	flush_engine_free(fe);
	tag_store_free(ts);
	simvtd_free(sim);
	pci_host_bridge_exit(&vm);
	bus_destroy(&vm.pio);
	bus_destroy(&vm.mmio);
	free(ram);
	unlink(image);
}

static void make(bool ats)
{
	struct virtio_spec s = { .kind = VIRTIO_KIND_BLK, .ats = ats };
	char err[256];
	uint16_t cap;

	build_tables(ats);
	vdev.host.ats = ats;
	strcpy(s.path, image);
	drv.vm = &vm;
	drv.vp = virtio_create(&vm, &s, GUEST_SID, true, err, sizeof(err));
	ck_assert_msg(drv.vp != NULL, "%s", err);
	drv.pci = virtio_pci_device(drv.vp);
	drv.gpa_of = gpa_of;
	drv.desc = IOVA_DESC;
	drv.avail = IOVA_AVAIL;
	drv.used = IOVA_USED;
	pci_device_config_write(drv.pci, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	cap = pci_find_ext_cap(drv.pci, PCI_EXT_CAP_ID_ATS);
	ck_assert_uint_eq(cap != 0, ats);
	if (ats)
		pci_device_config_write(drv.pci, cap + ATS_CTRL, 2, ATS_CTRL_ENABLE);
}

/* A blk request with its data at IOVA @data. Returns the used length. */
static int64_t blk(uint32_t type, uint64_t sector, uint64_t data, uint32_t len, bool data_write)
{
	struct vd_buf b[3];
	unsigned int n = 0;
	uint8_t *h = gpa(gpa_of(IOVA_HDR), 16);

	memset(h, 0, 16);
	memcpy(h, &type, 4);
	memcpy(h + 8, &sector, 8);
	*(uint8_t *)gpa(gpa_of(IOVA_HDR + 0x800), 1) = 0xff;
	b[n++] = (struct vd_buf){ IOVA_HDR, 16, false };
	if (len)
		b[n++] = (struct vd_buf){ data, len, data_write };
	b[n++] = (struct vd_buf){ IOVA_HDR + 0x800, 1, true };
	return vd_request(&drv, b, n);
}

static uint8_t blk_status(void)
{
	return *(uint8_t *)gpa(gpa_of(IOVA_HDR + 0x800), 1);
}

/* Fault record @nth: reason, our SID, the page. */
static void assert_fault(unsigned int nth, uint8_t reason, uint64_t addr)
{
	uint64_t hi = unit.frcd[nth][1];

	ck_assert(unit.fsts & VTD_FSTS_PPF);
	ck_assert_msg(hi >> 63, "FRCD %u not set", nth);
	ck_assert_uint_eq((hi >> 32) & 0xff, reason);
	ck_assert_uint_eq(hi & 0xffff, GUEST_SID);
	ck_assert_uint_eq(unit.frcd[nth][0] & ~0xfffULL, addr);
}

/* Fill the image's first 8 sectors with @seed's pattern. */
static void fill_image(uint8_t seed)
{
	uint8_t buf[4096];
	int fd = open(image, O_WRONLY);

	for (unsigned int i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(seed + i * 7);
	ck_assert_int_eq(pwrite(fd, buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
	close(fd);
}

static bool holds(uint64_t page, uint8_t seed)
{
	uint8_t *p = gpa(page, 4096);

	for (unsigned int i = 0; i < 4096; i++)
		if (p[i] != (uint8_t)(seed + i * 7))
			return false;
	return true;
}

/* ---- tests ---- */

START_TEST(test_access_platform)
{
	uint64_t f;

	make(false);
	f = vd_device_features(&drv);
	ck_assert(f >> VIRTIO_F_ACCESS_PLATFORM & 1);
	/* A driver that would put guest-physical addresses in the ring is refused (as QEMU). */
	ck_assert(!vd_negotiate(&drv, f & ~(1ULL << VIRTIO_F_ACCESS_PLATFORM)));
	ck_assert(vd_negotiate(&drv, f));
}
END_TEST

START_TEST(test_round_trip_through_iovas)
{
	struct virtio_stats st;
	uint8_t *data = gpa(PG(10), 4096), file[4096];
	int fd;

	make(false);
	attach();
	vd_bring_up(&drv, 16);
	for (unsigned int i = 0; i < 4096; i++)
		data[i] = (uint8_t)(i ^ 0x5a);
	ck_assert_int_eq(blk(1, 3, IOVA_DATA, 4096, false), 1);
	ck_assert_uint_eq(blk_status(), 0);
	fd = open(image, O_RDONLY);
	ck_assert_int_eq(pread(fd, file, sizeof(file), 3 * 512), (ssize_t)sizeof(file));
	close(fd);
	ck_assert_mem_eq(file, data, sizeof(file));
	memset(data, 0, 4096);
	ck_assert_int_eq(blk(0, 3, IOVA_DATA, 4096, true), 4097);
	ck_assert_mem_eq(file, data, sizeof(file));
	virtio_get_stats(drv.vp, &st);
	ck_assert_uint_gt(st.walks, 0);
	ck_assert_uint_gt(st.iotlb_hits, 0);		/* the rings, second time round */
	ck_assert_uint_eq(st.atc_hits, 0);
	ck_assert_uint_eq(st.dma_faults, 0);
	ck_assert_uint_eq(unit.fsts & VTD_FSTS_PPF, 0);
}
END_TEST

START_TEST(test_unmapped_buffer_faults)
{
	struct virtio_stats st;

	make(false);
	attach();
	vd_bring_up(&drv, 16);
	/* Data at an IOVA the guest never mapped: a recorded fault, IOERR, the queue goes on. */
	ck_assert_int_eq(blk(0, 0, 0x80000, 4096, true), 1);
	ck_assert_uint_eq(blk_status(), 1);
	assert_fault(0, VTD_FR_WRITE, 0x80000);
	ck_assert_uint_eq(vd_status(&drv) & VIRTIO_STATUS_NEEDS_RESET, 0);
	/* Read-only mapping written by the device: a write fault. */
	map(0x90000, PG(20), PTE_R);
	ck_assert_int_eq(blk(0, 0, 0x90000, 4096, true), 1);
	ck_assert_uint_eq(blk_status(), 1);
	assert_fault(1, VTD_FR_WRITE, 0x90000);
	virtio_get_stats(drv.vp, &st);
	ck_assert_uint_eq(st.dma_faults, 2);
}
END_TEST

START_TEST(test_unmapped_ring_faults)
{
	make(false);
	attach();
	map(IOVA_USED, PG(2), PTE_R);			/* the used ring read-only */
	vd_bring_up(&drv, 16);
	ck_assert_int_eq(blk(4, 0, 0, 0, false), -1);
	ck_assert(vd_status(&drv) & VIRTIO_STATUS_NEEDS_RESET);
	assert_fault(0, VTD_FR_WRITE, IOVA_USED);
}
END_TEST

START_TEST(test_rid_refused)
{
	/* The vIOMMU does not know the function: no DMA at all, an error at DRIVER_OK. */
	make(false);
	refuse_rid = true;
	ck_assert(vd_negotiate(&drv, vd_device_features(&drv)));
	vd_setup_queue(&drv, 16, 1);
	vd_driver_ok(&drv);
	ck_assert(vd_status(&drv) & VIRTIO_STATUS_NEEDS_RESET);
}
END_TEST

/* Without ATS the host IOTLB caches: a remap is seen only after the guest invalidates. */
START_TEST(test_stale_iotlb)
{
	make(false);
	attach();
	vd_bring_up(&drv, 16);
	fill_image(1);
	ck_assert_int_eq(blk(0, 0, IOVA_DATA, 4096, true), 4097);
	ck_assert(holds(PG(10), 1));
	map(IOVA_DATA, PG(11), PTE_R | PTE_W);
	fill_image(2);
	ck_assert_int_eq(blk(0, 0, IOVA_DATA, 4096, true), 4097);
	ck_assert(holds(PG(10), 2));				/* stale, as on hardware */
	flush_page(IOVA_DATA, true, false);
	fill_image(3);
	ck_assert_int_eq(blk(0, 0, IOVA_DATA, 4096, true), 4097);
	ck_assert(holds(PG(11), 3));
	ck_assert(holds(PG(10), 2));
}
END_TEST

/*
 * With ATS the device's ATC answers first. A remap without the device-TLB
 * invalidation keeps the device on the old page; the guest's invalidation
 * through the flush path (IOTLB and device-TLB) moves it.
 */
START_TEST(test_stale_atc)
{
	struct virtio_stats st;

	make(true);
	attach();
	vd_bring_up(&drv, 16);
	fill_image(1);
	ck_assert_int_eq(blk(0, 0, IOVA_DATA, 4096, true), 4097);
	ck_assert(holds(PG(10), 1));
	ck_assert(simvtd_atc_present(sim, HOST_SID, 0, IOVA_DATA));
	virtio_get_stats(drv.vp, &st);
	ck_assert_uint_gt(st.atc_hits, 0);			/* the rings, second access on */

	map(IOVA_DATA, PG(11), PTE_R | PTE_W);
	fill_image(2);
	ck_assert_int_eq(blk(0, 0, IOVA_DATA, 4096, true), 4097);
	ck_assert(holds(PG(10), 2));				/* the ATC's stale page */

	/* A device-TLB invalidation alone empties the ATC; the host IOTLB still holds it. */
	flush_page(IOVA_DATA, false, true);
	ck_assert(!simvtd_atc_present(sim, HOST_SID, 0, IOVA_DATA));
	fill_image(3);
	ck_assert_int_eq(blk(0, 0, IOVA_DATA, 4096, true), 4097);
	ck_assert(holds(PG(10), 3));

	flush_page(IOVA_DATA, true, true);
	fill_image(4);
	ck_assert_int_eq(blk(0, 0, IOVA_DATA, 4096, true), 4097);
	ck_assert(holds(PG(11), 4));
	ck_assert(holds(PG(10), 3));
	ck_assert(simvtd_atc_present(sim, HOST_SID, 0, IOVA_DATA));
}
END_TEST

/* ATS off in config space: the ATC is never consulted or filled. */
START_TEST(test_ats_disabled)
{
	struct virtio_stats st;
	uint16_t cap;

	make(true);
	cap = pci_find_ext_cap(drv.pci, PCI_EXT_CAP_ID_ATS);
	pci_device_config_write(drv.pci, cap + ATS_CTRL, 2, 0);
	attach();
	vd_bring_up(&drv, 16);
	ck_assert_int_eq(blk(0, 0, IOVA_DATA, 4096, true), 4097);
	ck_assert_int_eq(blk(0, 0, IOVA_DATA, 4096, true), 4097);
	ck_assert(!simvtd_atc_present(sim, HOST_SID, 0, IOVA_DATA));
	virtio_get_stats(drv.vp, &st);
	ck_assert_uint_eq(st.atc_hits, 0);
	ck_assert_uint_gt(st.iotlb_hits, 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("virtio_iommu");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_access_platform);
	tcase_add_test(tc, test_round_trip_through_iovas);
	tcase_add_test(tc, test_unmapped_buffer_faults);
	tcase_add_test(tc, test_unmapped_ring_faults);
	tcase_add_test(tc, test_rid_refused);
	tcase_add_test(tc, test_stale_iotlb);
	tcase_add_test(tc, test_stale_atc);
	tcase_add_test(tc, test_ats_disabled);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(suite());
}
