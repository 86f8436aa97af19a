// SPDX-License-Identifier: MIT
/*
 * The emulated DMA engine behind a vIOMMU, without KVM: guest RAM is a
 * malloc'ed region, the guest's tables (legacy mode, second stage, 4
 * levels) are built in it by hand per the VT-d spec, and the host side is
 * a simulated host VT-d with the tag store and flush engine in front of
 * it. The stale-translation tests show the host IOTLB and ATC really cache
 * results: a remap without invalidation keeps DMA on the old page until
 * the flush path invalidates it.
 */
#include <check.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_main.h"
#include "hostvtd/flush.h"
#include "hostvtd/simvtd-cache.h"
#include "hostvtd/simvtd.h"
#include "viommu/simdev-regs.h"
#include "viommu/simdev.h"
#include "viommu/viommu-priv.h"
#include "vmm/kvm.h"
#include "vmm/pci.h"
#include "vtd/desc.h"
#include "vtd/regs.h"
#include "vtd_testutil.h"

#define RAM_SIZE	(16ULL << 20)
#define GUEST_SID	0x0008		/* 00:01.0 */
#define HOST_SID	0x1000
#define GUEST_DID	1
#define HOST_DID	42

/* Guest-physical layout of the tables and the data pages. */
#define ROOT		0x100000ULL
#define CTX		0x101000ULL
#define SL_L4		0x102000ULL
#define SL_L3		0x103000ULL
#define SL_L2		0x104000ULL
#define SL_L1		0x105000ULL	/* maps IOVA 0 .. 2 MiB */
#define DATA		0x200000ULL	/* data pages from here */
#define PG(n)		(DATA + (uint64_t)(n) * 4096)

#define PTE_R		1ULL
#define PTE_W		2ULL

static struct vm vm;
static uint8_t *ram;
static struct simvtd *sim;
static struct tag_store *ts;
static struct flush_engine *fe;
static struct viommu unit;
static struct viommu_dev vdev;
static struct simdev *dev;
static struct pci_device *pci;
static unsigned int nmsis;

static int record_msi(struct vm *v, uint64_t address, uint32_t data)
{
	ck_assert_ptr_eq(v, &vm);
	ck_assert_uint_eq(address, 0xfee00000);
	ck_assert_uint_eq(data, 0x41);
	nmsis++;
	return 0;
}

static void *gpa(uint64_t addr)
{
	void *p = vm_gpa(&vm, addr, 1);

	ck_assert_ptr_nonnull(p);
	return p;
}

static void put64(uint64_t addr, uint64_t val)
{
	memcpy(gpa(addr), &val, 8);
}

/* ---- the guest's tables ---- */

static void map(uint64_t iova, uint64_t page, uint64_t perm)
{
	ck_assert_uint_lt(iova, 2ULL << 20);
	put64(SL_L1 + ((iova >> 12) & 511) * 8, page | perm);
}

/* Context entry of GUEST_SID: TT 0 (untranslated only) or 1 (device-TLB too). */
static void set_context(bool present, bool ats_ok)
{
	put64(CTX + (GUEST_SID & 0xff) * 16, present ? SL_L4 | (ats_ok ? 1ULL << 2 : 0) | 1 : 0);
	put64(CTX + (GUEST_SID & 0xff) * 16 + 8, 2 | (uint64_t)GUEST_DID << 8);	/* AW 48-bit */
}

static void build_tables(bool ats_ok)
{
	put64(ROOT + (GUEST_SID >> 8) * 16, CTX | 1);
	set_context(true, ats_ok);
	put64(SL_L4, SL_L3 | PTE_R | PTE_W);
	put64(SL_L3, SL_L2 | PTE_R | PTE_W);
	put64(SL_L2, SL_L1 | PTE_R | PTE_W);
}

/* ---- the device, through BAR 0 and config space ---- */

static uint64_t rd(unsigned int off, unsigned int len)
{
	uint8_t data[8];
	uint64_t val = 0;

	memset(data, 0xee, sizeof(data));
	pci->bars[0].fn(pci->bars[0].opaque, off, data, len, false);
	for (unsigned int i = 0; i < len; i++)
		val |= (uint64_t)data[i] << (8 * i);
	return val;
}

static void wr(unsigned int off, unsigned int len, uint64_t val)
{
	uint8_t data[8];

	for (unsigned int i = 0; i < len; i++)
		data[i] = (uint8_t)(val >> (8 * i));
	pci->bars[0].fn(pci->bars[0].opaque, off, data, len, true);
}

static uint64_t copy(uint64_t src, uint64_t dst, uint64_t len)
{
	wr(SIMDEV_SRC, 8, src);
	wr(SIMDEV_DST, 8, dst);
	wr(SIMDEV_LEN, 8, len);
	wr(SIMDEV_CMD, 8, SIMDEV_CMD_COPY);
	return rd(SIMDEV_STATUS, 8);
}

static uint16_t find_ext_cap(uint16_t id)
{
	unsigned int off = 0x100, guard = 0;

	while (off && guard++ < 64) {
		uint32_t hdr = pci_device_config_read(pci, off, 4);

		if ((hdr & 0xffff) == id)
			return (uint16_t)off;
		off = hdr >> 20;
	}
	return 0;
}

static void enable_ats(bool on)
{
	uint16_t ats = find_ext_cap(PCI_EXT_CAP_ID_ATS);

	ck_assert_uint_ne(ats, 0);
	pci_device_config_write(pci, ats + 6, 2, on ? 0x8000 : 0);
}

static void make_device(bool ats, bool pasid)
{
	char err[256];

	build_tables(ats);
	vdev.host.ats = ats;
	dev = simdev_create(&vm, &vdev, sim, ats, pasid, GUEST_SID, err, sizeof(err));
	ck_assert_msg(dev != NULL, "%s", err);
	pci = simdev_pci(dev);
	ck_assert_ptr_eq(pci_find(&vm, GUEST_SID), pci);
	/* Memory decode, bus master, MSI-X with vector 0 unmasked. */
	pci_device_config_write(pci, 0x04, 2, 0x0006);
	ck_assert_uint_ne(pci->msix_cap, 0);
	memset(pci->msix_table, 0, 16);	/* address 0xfee00000, data 0x41, unmasked */
	pci->msix_table[2] = 0xe0;
	pci->msix_table[3] = 0xfe;
	pci->msix_table[8] = 0x41;
	pci_device_config_write(pci, pci->msix_cap + 2, 2, 0x8000);
	if (ats)
		enable_ats(true);
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
	pci_signal_msi = record_msi;
	nmsis = 0;

	sim = simvtd_new(&cfg);
	ts = tag_store_new();
	ck_assert_ptr_nonnull(sim);
	ck_assert_ptr_nonnull(ts);
	fe = flush_engine_new(ts, NULL, &opt);
	ck_assert_ptr_nonnull(fe);

	ck_assert_int_eq(viommu_unit_init(&unit, &vm, 0, false, err, sizeof(err)), 0);
	unit.signal_msi = record_msi;
	unit.fectl = 1u << 31;		/* fault events masked: only the records matter */
	unit.ts = ts;
	unit.fe = fe;
	unit.rtaddr = unit.rtaddr_active = ROOT;
	unit.gcmd = unit.gsts = VTD_GCMD_TE | VTD_GCMD_SRTP;

	memset(&vdev, 0, sizeof(vdev));
	vdev.unit = &unit;
	vdev.guest_sid = GUEST_SID;
	vdev.host.sid = HOST_SID;
	host_device_name(HOST_SID, vdev.host.name);
	vdev.host.unit = simvtd_unit(sim, 0);
	unit.devs[unit.ndevs++] = &vdev;
	dev = NULL;
}

static void teardown(void)
{
	simdev_free(dev);
	viommu_unit_exit(&unit);
	flush_engine_free(fe);
	tag_store_free(ts);
	simvtd_free(sim);
	pci_host_bridge_exit(&vm);
	bus_destroy(&vm.pio);
	bus_destroy(&vm.mmio);
	free(ram);
}

static void fill(uint64_t page, uint8_t seed)
{
	uint8_t *p = gpa(page);

	for (unsigned int i = 0; i < 4096; i++)
		p[i] = (uint8_t)(seed + i * 7);
}

static bool holds(uint64_t page, uint8_t seed)
{
	uint8_t *p = gpa(page);

	for (unsigned int i = 0; i < 4096; i++)
		if (p[i] != (uint8_t)(seed + i * 7))
			return false;
	return true;
}

static bool zero(uint64_t page)
{
	uint8_t *p = gpa(page);

	for (unsigned int i = 0; i < 4096; i++)
		if (p[i])
			return false;
	return true;
}

/* The newest fault record: F set, reason, SID, address. */
static void assert_fault(unsigned int nth, uint8_t reason, uint64_t addr)
{
	uint64_t hi = unit.frcd[nth][1];

	ck_assert(unit.fsts & VTD_FSTS_PPF);
	ck_assert_msg(hi >> 63, "FRCD %u not set", nth);
	ck_assert_uint_eq((hi >> 32) & 0xff, reason);
	ck_assert_uint_eq(hi & 0xffff, GUEST_SID);
	ck_assert_uint_eq(unit.frcd[nth][0] & ~0xfffULL, addr);
}

/* ---- tests ---- */

START_TEST(test_config_space)
{
	make_device(true, true);
	ck_assert_uint_eq(pci_device_config_read(pci, 0, 4),
			  (uint32_t)SIMDEV_DEVICE << 16 | SIMDEV_VENDOR);
	ck_assert_uint_eq(pci_device_config_read(pci, 8, 4) >> 8, SIMDEV_CLASS);
	ck_assert_uint_eq(pci->bars[0].size, 0x1000);
	ck_assert_uint_ne(pci->msix_bar, 0);
	ck_assert_uint_ne(find_ext_cap(PCI_EXT_CAP_ID_ATS), 0);
	ck_assert_uint_eq((pci_device_config_read(pci, find_ext_cap(PCI_EXT_CAP_ID_PASID) + 4, 2)
			   >> 8) & 0x1f, 20);
	ck_assert_uint_eq(rd(SIMDEV_ID, 8), SIMDEV_ID_VALUE);
	ck_assert_uint_eq(rd(SIMDEV_STATUS, 8), SIMDEV_STATUS_IDLE);
}
END_TEST

/*
 * What Linux reads before it enables PASID, ATS and PRI on the engine
 * (drivers/pci/probe.c, ats.c, intel/iommu.c of 6.1 and 6.12): an RCiEP
 * (ACS is then not needed on its path) with End-End TLP Prefix Supported
 * in DevCap2, else pci_enable_pasid() fails; ATS page-aligned requests,
 * else the Intel driver leaves ATS off; PRI with PASID-required and
 * Stopped set, else it leaves PRI off. The engine never asks for execute
 * or privileged access, so its PASID capability offers neither.
 */
START_TEST(test_config_space_linux_checks)
{
	uint8_t exp = 0;
	uint16_t cap;
	char err[128];

	make_device(true, true);
	ck_assert_msg(simdev_add_pri(dev, err, sizeof(err)) == 0, "%s", err);
	for (unsigned int off = pci_device_config_read(pci, 0x34, 1), n = 0; off && n < 48;
	     off = pci_device_config_read(pci, off + 1, 1), n++)
		if (pci_device_config_read(pci, off, 1) == PCI_CAP_ID_EXP)
			exp = (uint8_t)off;
	ck_assert_uint_ne(exp, 0);
	ck_assert_uint_eq((pci_device_config_read(pci, exp + 2, 2) >> 4) & 0xf, PCI_EXP_TYPE_RC_END);
	ck_assert_uint_ne(pci_device_config_read(pci, exp + 0x24, 4) & (1u << 21), 0);
	/* DevCap2 is read-only. */
	pci_device_config_write(pci, exp + 0x24, 4, 0);
	ck_assert_uint_ne(pci_device_config_read(pci, exp + 0x24, 4) & (1u << 21), 0);

	cap = find_ext_cap(PCI_EXT_CAP_ID_PASID);
	ck_assert_uint_eq(pci_device_config_read(pci, cap + 4, 2), 20 << 8);	/* no Exec, no Priv */
	cap = find_ext_cap(PCI_EXT_CAP_ID_ATS);
	ck_assert_uint_ne(pci_device_config_read(pci, cap + 4, 2) & 0x20, 0);	/* page aligned */
	cap = find_ext_cap(PCI_EXT_CAP_ID_PRI);
	ck_assert_uint_eq(pci_device_config_read(pci, cap + PRI_STATUS, 2),
			  PRI_STATUS_STOPPED | PRI_STATUS_PASID);
	ck_assert_uint_eq(pci_device_config_read(pci, cap + PRI_CAPACITY, 4), SIMDEV_PRI_TRIES);
}
END_TEST

START_TEST(test_no_ats_caps)
{
	make_device(false, false);
	ck_assert_uint_eq(find_ext_cap(PCI_EXT_CAP_ID_ATS), 0);
	ck_assert_uint_eq(find_ext_cap(PCI_EXT_CAP_ID_PASID), 0);
}
END_TEST

/* First copy walks, the second is served by the host IOTLB; each raises vector 0. */
START_TEST(test_walk_then_iotlb)
{
	make_device(false, false);
	attach();
	map(0x1000, PG(0), PTE_R);
	map(0x2000, PG(1), PTE_R | PTE_W);
	fill(PG(0), 3);
	ck_assert_uint_eq(copy(0x1000, 0x2000, 4096), SIMDEV_STATUS_DONE);
	ck_assert(holds(PG(1), 3));
	ck_assert_uint_eq(rd(SIMDEV_WALKS, 8), 2);
	ck_assert_uint_eq(rd(SIMDEV_IOTLB_HITS, 8), 0);
	ck_assert_uint_eq(nmsis, 1);
	ck_assert(simvtd_iotlb_present(sim, 0, HOST_DID, 0, 0x1000));
	ck_assert(simvtd_iotlb_present(sim, 0, HOST_DID, 0, 0x2000));

	fill(PG(0), 9);
	ck_assert_uint_eq(copy(0x1000, 0x2000, 4096), SIMDEV_STATUS_DONE);
	ck_assert(holds(PG(1), 9));
	ck_assert_uint_eq(rd(SIMDEV_WALKS, 8), 2);
	ck_assert_uint_eq(rd(SIMDEV_IOTLB_HITS, 8), 2);
	ck_assert_uint_eq(rd(SIMDEV_ATC_HITS, 8), 0);
	ck_assert_uint_eq(nmsis, 2);
}
END_TEST

/* Unaligned, multi-page, with every IOVA page on a scattered GPA. */
START_TEST(test_scattered_pages)
{
	static const unsigned int src_pg[4] = { 7, 2, 11, 5 }, dst_pg[5] = { 20, 31, 24, 27, 22 };
	uint64_t len = 3 * 4096 + 100;
	uint8_t *want = malloc(len);

	make_device(false, false);
	attach();
	for (unsigned int i = 0; i < 4; i++) {
		map(0x10000 + i * 4096, PG(src_pg[i]), PTE_R);
		fill(PG(src_pg[i]), (uint8_t)(i * 40));
	}
	for (unsigned int i = 0; i < 5; i++)
		map(0x40000 + i * 4096, PG(dst_pg[i]), PTE_R | PTE_W);
	for (uint64_t b = 0; b < len; b++) {
		uint64_t iova = 0x10010 + b;

		want[b] = *(uint8_t *)gpa(PG(src_pg[(iova - 0x10000) / 4096]) + (iova & 0xfff));
	}
	ck_assert_uint_eq(copy(0x10010, 0x40ff0, len), SIMDEV_STATUS_DONE);
	for (uint64_t b = 0; b < len; b++) {
		uint64_t iova = 0x40ff0 + b;

		ck_assert_uint_eq(*(uint8_t *)gpa(PG(dst_pg[(iova - 0x40000) / 4096]) + (iova & 0xfff)),
				  want[b]);
	}
	/* Bytes just outside the destination range are untouched. */
	ck_assert(zero(PG(dst_pg[0])) == false);
	ck_assert_uint_eq(*(uint8_t *)gpa(PG(dst_pg[0]) + 0xfef), 0);
	ck_assert_uint_eq(*(uint8_t *)gpa(PG(dst_pg[4]) + 0x54), 0);
	/* 4 source pages and 5 destination pages, each translated once. */
	ck_assert_uint_eq(rd(SIMDEV_WALKS, 8), 9);
	free(want);
}
END_TEST

/*
 * The guest remaps the destination without invalidating: the DMA still
 * lands on the old page, as on hardware. After the guest's page
 * invalidation goes through the flush engine, it lands on the new one.
 */
START_TEST(test_stale_iotlb)
{
	make_device(false, false);
	attach();
	map(0x1000, PG(0), PTE_R);
	map(0x2000, PG(1), PTE_R | PTE_W);
	fill(PG(0), 1);
	ck_assert_uint_eq(copy(0x1000, 0x2000, 4096), SIMDEV_STATUS_DONE);

	map(0x2000, PG(2), PTE_R | PTE_W);
	fill(PG(0), 2);
	ck_assert_uint_eq(copy(0x1000, 0x2000, 4096), SIMDEV_STATUS_DONE);
	ck_assert(holds(PG(1), 2));
	ck_assert(zero(PG(2)));

	/* Invalidating another page changes nothing. */
	flush_page(0x5000, true, false);
	fill(PG(0), 3);
	ck_assert_uint_eq(copy(0x1000, 0x2000, 4096), SIMDEV_STATUS_DONE);
	ck_assert(holds(PG(1), 3));
	ck_assert(zero(PG(2)));

	flush_page(0x2000, true, false);
	fill(PG(0), 4);
	ck_assert_uint_eq(copy(0x1000, 0x2000, 4096), SIMDEV_STATUS_DONE);
	ck_assert(holds(PG(2), 4));
	ck_assert(holds(PG(1), 3));
	ck_assert_uint_eq(rd(SIMDEV_WALKS, 8), 3);
}
END_TEST

/* With ATS the device's ATC answers first; it goes stale until a device-TLB flush. */
START_TEST(test_stale_atc)
{
	make_device(true, false);
	attach();
	map(0x1000, PG(0), PTE_R);
	map(0x2000, PG(1), PTE_R | PTE_W);
	fill(PG(0), 1);
	ck_assert_uint_eq(copy(0x1000, 0x2000, 4096), SIMDEV_STATUS_DONE);
	ck_assert_uint_eq(rd(SIMDEV_WALKS, 8), 2);
	ck_assert(simvtd_atc_present(sim, HOST_SID, 0, 0x2000));
	ck_assert_uint_eq(copy(0x1000, 0x2000, 4096), SIMDEV_STATUS_DONE);
	ck_assert_uint_eq(rd(SIMDEV_ATC_HITS, 8), 2);
	ck_assert_uint_eq(rd(SIMDEV_IOTLB_HITS, 8), 0);

	/* Remap without invalidating: the ATC serves the old page. */
	map(0x2000, PG(2), PTE_R | PTE_W);
	fill(PG(0), 2);
	ck_assert_uint_eq(copy(0x1000, 0x2000, 4096), SIMDEV_STATUS_DONE);
	ck_assert(holds(PG(1), 2));
	ck_assert(zero(PG(2)));
	ck_assert_uint_eq(rd(SIMDEV_ATC_HITS, 8), 4);

	/*
	 * A device-TLB invalidation alone empties the ATC, but the host IOTLB
	 * still holds the old page (the planner would flush both for an
	 * IOTLB-class request, so the ATC-only case needs a type 3 alone).
	 */
	flush_page(0x2000, false, true);
	ck_assert(!simvtd_atc_present(sim, HOST_SID, 0, 0x2000));
	fill(PG(0), 3);
	ck_assert_uint_eq(copy(0x1000, 0x2000, 4096), SIMDEV_STATUS_DONE);
	ck_assert(holds(PG(1), 3));
	ck_assert(zero(PG(2)));
	ck_assert_uint_eq(rd(SIMDEV_ATC_HITS, 8), 5);
	ck_assert_uint_eq(rd(SIMDEV_IOTLB_HITS, 8), 1);

	/* The guest's IOTLB invalidation (ATC included) fixes it. */
	flush_page(0x2000, true, true);
	fill(PG(0), 4);
	ck_assert_uint_eq(copy(0x1000, 0x2000, 4096), SIMDEV_STATUS_DONE);
	ck_assert(holds(PG(2), 4));
	ck_assert(holds(PG(1), 3));
	ck_assert_uint_eq(rd(SIMDEV_WALKS, 8), 3);
	ck_assert(simvtd_atc_present(sim, HOST_SID, 0, 0x2000));
}
END_TEST

/* ATS turned off in config: the ATC is not consulted, the IOTLB is. */
START_TEST(test_ats_disabled)
{
	make_device(true, false);
	attach();
	map(0x1000, PG(0), PTE_R);
	map(0x2000, PG(1), PTE_R | PTE_W);
	ck_assert_uint_eq(copy(0x1000, 0x2000, 4096), SIMDEV_STATUS_DONE);
	enable_ats(false);
	ck_assert_uint_eq(copy(0x1000, 0x2000, 4096), SIMDEV_STATUS_DONE);
	ck_assert_uint_eq(rd(SIMDEV_ATC_HITS, 8), 0);
	ck_assert_uint_eq(rd(SIMDEV_IOTLB_HITS, 8), 2);
}
END_TEST

/* A context without device-TLB permission (TT 0): nothing enters the ATC. */
START_TEST(test_ats_not_allowed)
{
	make_device(true, false);
	set_context(true, false);
	attach();
	map(0x1000, PG(0), PTE_R);
	map(0x2000, PG(1), PTE_R | PTE_W);
	ck_assert_uint_eq(copy(0x1000, 0x2000, 4096), SIMDEV_STATUS_DONE);
	ck_assert_uint_eq(simvtd_atc_entries(sim, HOST_SID), 0);
	ck_assert_uint_eq(copy(0x1000, 0x2000, 4096), SIMDEV_STATUS_DONE);
	ck_assert_uint_eq(rd(SIMDEV_IOTLB_HITS, 8), 2);
}
END_TEST

START_TEST(test_fault_no_attachment)
{
	/* Caching mode: the guest must invalidate even an entry it made present. */
	unit.cap |= VTD_CAP_CM;
	make_device(false, false);
	map(0x1000, PG(0), PTE_R);
	map(0x2000, PG(1), PTE_R | PTE_W);
	fill(PG(0), 1);
	ck_assert_uint_eq(copy(0x1000, 0x2000, 4096), SIMDEV_STATUS_FAULT);
	ck_assert_uint_eq(rd(SIMDEV_FAULT_ADDR, 8), 0x1000);
	ck_assert(zero(PG(1)));
	assert_fault(0, VTD_FR_CTX_NOT_PRESENT, 0x1000);
	ck_assert_uint_eq(nmsis, 1);

	/* A context the guest's tables do not have: the tables say why. */
	set_context(false, false);
	wr(SIMDEV_SRC, 8, 0x3000);
	wr(SIMDEV_CMD, 8, SIMDEV_CMD_COPY);
	ck_assert_uint_eq(rd(SIMDEV_STATUS, 8), SIMDEV_STATUS_FAULT);
	assert_fault(1, VTD_FR_CTX_NOT_PRESENT, 0x3000);
}
END_TEST

START_TEST(test_fault_not_present)
{
	make_device(false, false);
	attach();
	map(0x1000, PG(0), PTE_R);
	map(0x2000, PG(1), PTE_R | PTE_W);
	fill(PG(0), 5);
	/* The second destination page is not mapped: the first is copied, then it stops. */
	ck_assert_uint_eq(copy(0x1000, 0x2800, 4096), SIMDEV_STATUS_FAULT);
	ck_assert_uint_eq(rd(SIMDEV_FAULT_ADDR, 8), 0x3000);
	assert_fault(0, VTD_FR_WRITE, 0x3000);
	ck_assert_uint_eq(*(uint8_t *)gpa(PG(1) + 0x800), 5);
	ck_assert_uint_eq(*(uint8_t *)gpa(PG(1) + 0x7ff), 0);
	/* A failed translation is not cached. */
	ck_assert(!simvtd_iotlb_present(sim, 0, HOST_DID, 0, 0x3000));
	ck_assert_uint_eq(nmsis, 1);
}
END_TEST

/*
 * A cached read-only translation does not serve a write: the write walks
 * (and faults when the PTE forbids it). When the PTE allows it, the new
 * entry keeps both permissions and serves both.
 */
START_TEST(test_permissions)
{
	make_device(false, false);
	attach();
	map(0x1000, PG(0), PTE_R);
	map(0x2000, PG(1), PTE_R | PTE_W);
	map(0x3000, PG(2), PTE_R | PTE_W);
	ck_assert_uint_eq(copy(0x1000, 0x2000, 64), SIMDEV_STATUS_DONE);
	ck_assert_uint_eq(copy(0x2000, 0x1000, 64), SIMDEV_STATUS_FAULT);
	ck_assert_uint_eq(rd(SIMDEV_FAULT_ADDR, 8), 0x1000);
	assert_fault(0, VTD_FR_WRITE, 0x1000);

	/* 0x2000 was cached writable only: the read walked, and the merged entry is R/W. */
	ck_assert_uint_eq(rd(SIMDEV_WALKS, 8), 4);

	/* 0x3000 read first (cached R), then written: walks once more, then hits both ways. */
	ck_assert_uint_eq(copy(0x3000, 0x2000, 64), SIMDEV_STATUS_DONE);
	ck_assert_uint_eq(rd(SIMDEV_WALKS, 8), 5);
	ck_assert_uint_eq(copy(0x2000, 0x3000, 64), SIMDEV_STATUS_DONE);
	ck_assert_uint_eq(rd(SIMDEV_WALKS, 8), 6);
	ck_assert_uint_eq(copy(0x3000, 0x3100, 64), SIMDEV_STATUS_DONE);
	ck_assert_uint_eq(rd(SIMDEV_WALKS, 8), 6);
	ck_assert_uint_eq(rd(SIMDEV_IOTLB_HITS, 8), 4);
}
END_TEST

/* A translation to a GPA outside guest RAM is refused, never dereferenced. */
START_TEST(test_gpa_outside_ram)
{
	make_device(false, false);
	attach();
	map(0x1000, PG(0), PTE_R);
	map(0x2000, RAM_SIZE + 0x10000, PTE_R | PTE_W);
	ck_assert_uint_eq(copy(0x1000, 0x2000, 128), SIMDEV_STATUS_FAULT);
	ck_assert_uint_eq(rd(SIMDEV_FAULT_ADDR, 8), 0x2000);
	assert_fault(0, VTD_FR_ADDR_BEYOND_MGAW, 0x2000);
}
END_TEST

/* ---- pass-through, PASIDs, concurrency ---- */

#define SM_ROOT		0x800000ULL	/* scalable tables from here (vtd_test_tables) */
#define PE_PGTT(p)	((uint64_t)(p) << 6)

static void copy_pasid(uint64_t pasid_reg)
{
	wr(SIMDEV_PASID, 8, pasid_reg);
}

static void enable_pasid(void)
{
	uint16_t cap = find_ext_cap(PCI_EXT_CAP_ID_PASID);

	ck_assert_uint_ne(cap, 0);
	pci_device_config_write(pci, cap + 6, 2, 1);
}

static void sync_all(void)
{
	pthread_mutex_lock(&unit.lock);
	vtd_sync_attachments(&unit, true, 0);
	pthread_mutex_unlock(&unit.lock);
}

/* Scalable root at SM_ROOT, GUEST_SID's context (@v0 bits on P, PDTS 0), PASID entry 0. */
static uint64_t sm_tables(struct vtd_test_tables *t, uint64_t v0, const uint64_t pe0[8])
{
	uint64_t pdir;

	t->vm = &vm;
	t->next = SM_ROOT;
	vtd_test_page(t);			/* the root table */
	pdir = vtd_test_page(t);
	vtd_test_sm_ctx(t, SM_ROOT, GUEST_SID, pdir | 1 | v0, 0);
	vtd_test_pasid_entry(t, pdir, 0, pe0);
	unit.rtaddr_active = SM_ROOT | 1ULL << VTD_RTADDR_TTM_SHIFT;
	return pdir;
}

/*
 * Translation disabled: DMA goes to GPA = IOVA without any attachment,
 * and nothing lands in the host IOTLB or the ATC (nothing to cache).
 */
START_TEST(test_pass_through_te_off)
{
	make_device(true, false);
	unit.gsts = 0;
	fill(PG(0), 7);
	ck_assert_uint_eq(copy(PG(0), PG(1), 4096), SIMDEV_STATUS_DONE);
	ck_assert(holds(PG(1), 7));
	ck_assert_uint_eq(simvtd_iotlb_entries(sim, 0), 0);
	ck_assert_uint_eq(simvtd_atc_entries(sim, HOST_SID), 0);
	ck_assert(!(unit.fsts & VTD_FSTS_PPF));
	ck_assert_uint_eq(nmsis, 1);		/* the completion vector, no fault */

	/* Outside guest RAM: refused as a translated address would be. */
	ck_assert_uint_eq(copy(RAM_SIZE, PG(1), 64), SIMDEV_STATUS_FAULT);
	ck_assert_uint_eq(rd(SIMDEV_FAULT_ADDR, 8), RAM_SIZE);
	assert_fault(0, VTD_FR_ADDR_BEYOND_MGAW, RAM_SIZE);
}
END_TEST

/* Pass-through contexts: legacy TT 2 and scalable PGTT 4 have no attachment. */
START_TEST(test_pass_through_context)
{
	struct vtd_test_tables t;
	uint64_t pt[8] = { 1 | PE_PGTT(4), GUEST_DID };
	uint64_t pdir;

	make_device(false, false);
	put64(CTX + (GUEST_SID & 0xff) * 16, 1 | 2 << 2);	/* TT 2 */
	sync_all();
	ck_assert_uint_eq(vdev.nattach, 0);
	fill(PG(0), 3);
	ck_assert_uint_eq(copy(PG(0), PG(1), 4096), SIMDEV_STATUS_DONE);
	ck_assert(holds(PG(1), 3));

	pdir = sm_tables(&t, 0, pt);
	sync_all();
	ck_assert_uint_eq(vdev.nattach, 0);
	fill(PG(0), 4);
	ck_assert_uint_eq(copy(PG(0), PG(2), 4096), SIMDEV_STATUS_DONE);
	ck_assert(holds(PG(2), 4));
	ck_assert_uint_eq(simvtd_iotlb_entries(sim, 0), 0);
	ck_assert(!(unit.fsts & VTD_FSTS_PPF));

	/* Without pass-through or an attachment: the tables' fault. */
	pt[0] = 0;
	vtd_test_pasid_entry(&t, pdir, 0, pt);
	sync_all();
	ck_assert_uint_eq(copy(PG(0), PG(3), 64), SIMDEV_STATUS_FAULT);
	assert_fault(0, VTD_FR_SM_PTE_NOT_PRESENT, PG(0));
	ck_assert(zero(PG(3)));
}
END_TEST

/*
 * A request with PASID 0 where the tables allow no PASID (legacy mode;
 * scalable with PASIDE clear) must fault as the tables say, not use the
 * attachment (or the ATC entries) of requests without PASID.
 */
START_TEST(test_pasid_request_not_rid_attachment)
{
	struct vtd_test_tables t;
	uint64_t sl[8] = { SL_L4 | 1 | 2 << 2 | PE_PGTT(2), GUEST_DID };
	uint64_t pdir;

	make_device(true, true);
	enable_pasid();
	attach();
	map(0x1000, PG(0), PTE_R);
	map(0x2000, PG(1), PTE_R | PTE_W);
	fill(PG(0), 1);
	ck_assert_uint_eq(copy(0x1000, 0x2000, 4096), SIMDEV_STATUS_DONE);
	ck_assert(simvtd_atc_present(sim, HOST_SID, 0, 0x1000));

	copy_pasid(SIMDEV_PASID_VALID | 0);
	fill(PG(0), 2);
	ck_assert_uint_eq(copy(0x1000, 0x2000, 4096), SIMDEV_STATUS_FAULT);
	ck_assert_uint_eq(rd(SIMDEV_FAULT_ADDR, 8), 0x1000);
	assert_fault(0, VTD_FR_SM_PASID_IN_LEGACY, 0x1000);
	ck_assert(holds(PG(1), 1));

	/* Scalable, PASIDE clear: requests without PASID work, with PASID 0 fault. */
	pdir = sm_tables(&t, 0, sl);
	sync_all();
	ck_assert_uint_eq(vdev.nattach, 1);
	ck_assert_uint_eq(vdev.attach[0].pasid, 0);
	copy_pasid(0);
	ck_assert_uint_eq(copy(0x1000, 0x2000, 4096), SIMDEV_STATUS_DONE);
	ck_assert(holds(PG(1), 2));
	copy_pasid(SIMDEV_PASID_VALID | 0);
	fill(PG(0), 3);
	ck_assert_uint_eq(copy(0x1000, 0x2000, 4096), SIMDEV_STATUS_FAULT);
	assert_fault(1, VTD_FR_SM_CTE_PASIDE, 0x1000);
	ck_assert(holds(PG(1), 2));

	/* PASIDE set and synced: PASID 0 is RID_PASID's entry, and its attachment. */
	vtd_test_sm_ctx(&t, SM_ROOT, GUEST_SID, pdir | 1 | 1 << 3, 0);
	sync_all();
	ck_assert_uint_eq(copy(0x1000, 0x2000, 4096), SIMDEV_STATUS_DONE);
	ck_assert(holds(PG(1), 3));
}
END_TEST

/*
 * CAP.CM clear: the guest may make entries present without invalidating
 * (Linux 6.12 does so for the PASID entry of an SVA bind). The first
 * request finds no attachment; the vIOMMU reads the tables then, as
 * hardware would, and the request goes through.
 */
START_TEST(test_present_without_invalidation)
{
	struct vtd_test_tables t;
	uint64_t sl[8] = { SL_L4 | 1 | 2 << 2 | PE_PGTT(2), GUEST_DID };
	uint64_t pdir;

	ck_assert(!(unit.cap & VTD_CAP_CM));
	make_device(true, true);
	map(0x1000, PG(0), PTE_R);
	map(0x2000, PG(1), PTE_R | PTE_W);
	fill(PG(0), 1);
	/* Legacy context present, never invalidated: no attachment until the request. */
	ck_assert_uint_eq(vdev.nattach, 0);
	ck_assert_uint_eq(copy(0x1000, 0x2000, 4096), SIMDEV_STATUS_DONE);
	ck_assert(holds(PG(1), 1));
	ck_assert_uint_eq(vdev.nattach, 1);
	ck_assert_uint_gt(simvtd_iotlb_entries(sim, 0), 0);	/* the walk was cached */

	/* Scalable, PASIDE: PASID 3's entry made present after the last sync. */
	enable_pasid();
	pdir = sm_tables(&t, 1ULL << 3, sl);
	sync_all();
	ck_assert_uint_eq(vdev.nattach, 1);
	vtd_test_pasid_entry(&t, pdir, 3, sl);
	copy_pasid(SIMDEV_PASID_VALID | 3);
	fill(PG(0), 2);
	ck_assert_uint_eq(copy(0x1000, 0x2000, 4096), SIMDEV_STATUS_DONE);
	ck_assert(holds(PG(1), 2));
	ck_assert_uint_eq(vdev.nattach, 2);
	ck_assert(!(unit.fsts & VTD_FSTS_PPF));

	/* An entry still not present: the tables' fault, nothing attached. */
	copy_pasid(SIMDEV_PASID_VALID | 4);
	ck_assert_uint_eq(copy(0x1000, 0x2000, 64), SIMDEV_STATUS_FAULT);
	assert_fault(0, VTD_FR_SM_PTE_NOT_PRESENT, 0x1000);
	ck_assert_uint_eq(vdev.nattach, 2);
}
END_TEST

/* ---- PRI: page requests through the vIOMMU's queue ---- */

#define PQ		0xa00000ULL	/* the guest's page request queue (PQS 0) */
#define PRI_PASID	5

static void pri_respond(uint16_t prgi, uint8_t code)
{
	struct vtd_desc_pgrp_resp r = {
		.pasid_present = true, .rid = GUEST_SID, .pasid = PRI_PASID, .prgi = prgi,
		.lpig = true, .rcode = code,
	};

	pthread_mutex_lock(&unit.lock);
	vtd_page_response(&unit, &r);
	pthread_mutex_unlock(&unit.lock);
}

/* What pci_reset_pri() and pci_enable_pri(dev, 2048) write, checking Stopped as they do. */
static void pri_enable_as_linux(uint16_t cap)
{
	uint32_t reqs;

	pci_device_config_write(pci, cap + PRI_CTRL, 2, PRI_CTRL_RESET);
	ck_assert_uint_eq(pci_device_config_read(pci, cap + PRI_CTRL, 2), 0);	/* self-clearing */
	ck_assert_uint_ne(pci_device_config_read(pci, cap + PRI_STATUS, 2) & PRI_STATUS_STOPPED, 0);
	reqs = pci_device_config_read(pci, cap + PRI_CAPACITY, 4);
	pci_device_config_write(pci, cap + PRI_ALLOCATION, 4, reqs < 2048 ? reqs : 2048);
	pci_device_config_write(pci, cap + PRI_CTRL, 2, PRI_CTRL_ENABLE);
	ck_assert_uint_eq(pci_device_config_read(pci, cap + PRI_STATUS, 2), PRI_STATUS_PASID);
}

/* Engine with ATS, PASID and PRI enabled; scalable tables with @ce_bits; PASID 5 over the second stage. */
static void pri_device(uint64_t ce_bits)
{
	struct vtd_test_tables t;
	uint64_t sl[8] = { SL_L4 | 1 | 2 << 2 | PE_PGTT(2), GUEST_DID };
	uint64_t pdir;
	uint16_t cap;
	char err[128];

	make_device(true, true);
	ck_assert_msg(simdev_add_pri(dev, err, sizeof(err)) == 0, "%s", err);
	enable_pasid();
	cap = find_ext_cap(PCI_EXT_CAP_ID_PRI);
	ck_assert_uint_ne(cap, 0);
	ck_assert_uint_eq(pci_device_config_read(pci, cap + PRI_STATUS, 2),
			  PRI_STATUS_STOPPED | PRI_STATUS_PASID);
	pri_enable_as_linux(cap);
	pdir = sm_tables(&t, 1ULL << 2 | 1ULL << 3 | ce_bits, sl);	/* DTE, PASIDE */
	vtd_test_pasid_entry(&t, pdir, PRI_PASID, sl);
	sync_all();
	unit.pqa = PQ;
	unit.pqh = unit.pqt = 0;
	copy_pasid(SIMDEV_PASID_VALID | PRI_PASID);
}

/* The request in slot @n of the queue: its group index, after checking what it asks. */
static uint16_t pri_slot(unsigned int n, uint64_t addr, bool write)
{
	uint64_t qw0, qw1;

	memcpy(&qw0, gpa(PQ + n * 32), 8);
	memcpy(&qw1, gpa(PQ + n * 32 + 8), 8);
	ck_assert_uint_eq(qw0 & 0xff, 1);
	ck_assert_uint_eq((qw0 >> 16) & 0xffff, GUEST_SID);
	ck_assert_uint_eq((qw0 >> 32) & 0xfffff, PRI_PASID);
	ck_assert_uint_eq(qw1 & 3, write ? 2 : 1);
	ck_assert_uint_eq(qw1 & 4, 4);				/* LPIG */
	ck_assert_uint_eq(qw1 & ~0xfffULL, addr);
	return (uint16_t)((qw1 >> 3) & 0x1ff);
}

/* A page the tables lack becomes a page request; Success makes the copy go on. */
START_TEST(test_pri_request_then_retry)
{
	uint16_t prgi, cap;

	pri_device(1ULL << 4);		/* PRE */
	map(0x1000, PG(0), PTE_R);
	fill(PG(0), 9);
	ck_assert_uint_eq(copy(0x1000, 0x2000, 4096), SIMDEV_STATUS_PAGE_REQUEST);
	prgi = pri_slot(0, 0x2000, true);
	ck_assert_uint_eq(unit.pqt, 32);
	ck_assert(!(unit.fsts & VTD_FSTS_PPF));		/* a translation request: nothing recorded */
	ck_assert_uint_eq(rd(SIMDEV_PAGE_REQUESTS, 8), 1);
	/* No response yet, or one for another group: still waiting. */
	ck_assert_uint_eq(rd(SIMDEV_STATUS, 8), SIMDEV_STATUS_PAGE_REQUEST);
	pri_respond((uint16_t)(prgi + 1) & 0x1ff, 0);
	ck_assert_uint_eq(rd(SIMDEV_STATUS, 8), SIMDEV_STATUS_PAGE_REQUEST);
	/* That one was to no outstanding group: Unexpected PRG Index, write-1-to-clear. */
	cap = find_ext_cap(PCI_EXT_CAP_ID_PRI);
	ck_assert_uint_eq(pci_device_config_read(pci, cap + PRI_STATUS, 2),
			  PRI_STATUS_PASID | PRI_STATUS_UPRGI);
	pci_device_config_write(pci, cap + PRI_STATUS, 2, PRI_STATUS_UPRGI);
	ck_assert_uint_eq(pci_device_config_read(pci, cap + PRI_STATUS, 2), PRI_STATUS_PASID);
	/* The guest makes the page present and answers Success. */
	map(0x2000, PG(1), PTE_R | PTE_W);
	pri_respond(prgi, 0);
	ck_assert_uint_eq(nmsis, 0);
	ck_assert_uint_eq(rd(SIMDEV_STATUS, 8), SIMDEV_STATUS_DONE);
	ck_assert(holds(PG(1), 9));
	ck_assert_uint_eq(nmsis, 1);			/* completion, once the copy ended */

	/* Invalid Request: the copy faults there. */
	ck_assert_uint_eq(copy(0x1000, 0x3000, 64), SIMDEV_STATUS_PAGE_REQUEST);
	prgi = pri_slot(1, 0x3000, true);
	pri_respond(prgi, 1);
	ck_assert_uint_eq(rd(SIMDEV_STATUS, 8), SIMDEV_STATUS_FAULT);
	ck_assert_uint_eq(rd(SIMDEV_FAULT_ADDR, 8), 0x3000);
}
END_TEST

/* Refused (PRE clear) or an overflowing queue: the copy ends in a fault, boundedly. */
START_TEST(test_pri_refused_or_overflowing)
{
	pri_device(0);			/* no PRE */
	map(0x1000, PG(0), PTE_R);
	ck_assert_uint_eq(copy(0x1000, 0x2000, 64), SIMDEV_STATUS_FAULT);
	ck_assert_uint_eq(rd(SIMDEV_FAULT_ADDR, 8), 0x2000);
	ck_assert_uint_eq(unit.pqt, 0);

	teardown();
	setup();
	pri_device(1ULL << 4);
	map(0x1000, PG(0), PTE_R);
	unit.prs = 2;			/* PRO: every request dropped, answered Success */
	ck_assert_uint_eq(copy(0x1000, 0x2000, 64), SIMDEV_STATUS_FAULT);
	ck_assert_uint_eq(rd(SIMDEV_PAGE_REQUESTS, 8), SIMDEV_PRI_TRIES);
	ck_assert_uint_eq(unit.page_requests_dropped, SIMDEV_PRI_TRIES);
}
END_TEST

/*
 * PRI control and status as the PCIe spec has them: Stopped only while
 * disabled with nothing outstanding; Reset drops the outstanding request;
 * Response Failure stops further requests until the guest clears it; no
 * requests without an allocation.
 */
START_TEST(test_pri_control_and_status)
{
	uint16_t prgi, cap;

	pri_device(1ULL << 4);
	cap = find_ext_cap(PCI_EXT_CAP_ID_PRI);
	map(0x1000, PG(0), PTE_R);

	/* Disabled with a request outstanding: not Stopped until Reset drops it. */
	ck_assert_uint_eq(copy(0x1000, 0x2000, 64), SIMDEV_STATUS_PAGE_REQUEST);
	prgi = pri_slot(0, 0x2000, true);
	pci_device_config_write(pci, cap + PRI_CTRL, 2, 0);
	ck_assert_uint_eq(pci_device_config_read(pci, cap + PRI_STATUS, 2) & PRI_STATUS_STOPPED, 0);
	ck_assert_uint_eq(nmsis, 0);
	pci_device_config_write(pci, cap + PRI_CTRL, 2, PRI_CTRL_RESET);
	ck_assert_uint_eq(pci_device_config_read(pci, cap + PRI_CTRL, 2), 0);
	ck_assert_uint_eq(pci_device_config_read(pci, cap + PRI_STATUS, 2),
			  PRI_STATUS_STOPPED | PRI_STATUS_PASID);
	ck_assert_uint_eq(rd(SIMDEV_STATUS, 8), SIMDEV_STATUS_FAULT);
	ck_assert_uint_eq(nmsis, 1);			/* the command ended */
	/* The late response to the dropped group is unexpected, and changes nothing else. */
	pri_respond(prgi, 0);
	ck_assert_uint_eq(rd(SIMDEV_STATUS, 8), SIMDEV_STATUS_FAULT);
	ck_assert_uint_ne(pci_device_config_read(pci, cap + PRI_STATUS, 2) & PRI_STATUS_UPRGI, 0);
	pci_device_config_write(pci, cap + PRI_STATUS, 2, PRI_STATUS_UPRGI);

	/* Response Failure: the copy faults and no page request is made until it is cleared. */
	pri_enable_as_linux(cap);
	ck_assert_uint_eq(copy(0x1000, 0x3000, 64), SIMDEV_STATUS_PAGE_REQUEST);
	pri_respond(pri_slot(1, 0x3000, true), VTD_PRG_RESP_FAILURE);
	ck_assert_uint_eq(rd(SIMDEV_STATUS, 8), SIMDEV_STATUS_FAULT);
	ck_assert_uint_eq(pci_device_config_read(pci, cap + PRI_STATUS, 2),
			  PRI_STATUS_PASID | PRI_STATUS_RF);
	ck_assert_uint_eq(copy(0x1000, 0x3000, 64), SIMDEV_STATUS_FAULT);
	ck_assert_uint_eq(rd(SIMDEV_PAGE_REQUESTS, 8), 2);
	ck_assert_uint_eq(unit.pqt, 64);
	pci_device_config_write(pci, cap + PRI_STATUS, 2, PRI_STATUS_RF);
	ck_assert_uint_eq(copy(0x1000, 0x3000, 64), SIMDEV_STATUS_PAGE_REQUEST);
	ck_assert_uint_eq(rd(SIMDEV_PAGE_REQUESTS, 8), 3);
	map(0x3000, PG(3), PTE_R | PTE_W);
	pri_respond(pri_slot(2, 0x3000, true), VTD_PRG_RESP_SUCCESS);
	ck_assert_uint_eq(rd(SIMDEV_STATUS, 8), SIMDEV_STATUS_DONE);

	/* No allocation: no request, the miss faults. */
	pci_device_config_write(pci, cap + PRI_ALLOCATION, 4, 0);
	ck_assert_uint_eq(copy(0x1000, 0x4000, 64), SIMDEV_STATUS_FAULT);
	ck_assert_uint_eq(rd(SIMDEV_PAGE_REQUESTS, 8), 3);
	ck_assert_uint_eq(rd(SIMDEV_FAULT_ADDR, 8), 0x4000);
}
END_TEST

/* Without PRI enabled, the same miss is an ordinary recorded fault. */
START_TEST(test_pri_disabled_faults)
{
	uint16_t cap;

	pri_device(1ULL << 4);
	cap = find_ext_cap(PCI_EXT_CAP_ID_PRI);
	pci_device_config_write(pci, cap + PRI_CTRL, 2, 0);
	map(0x1000, PG(0), PTE_R);
	ck_assert_uint_eq(copy(0x1000, 0x2000, 64), SIMDEV_STATUS_FAULT);
	ck_assert(unit.fsts & VTD_FSTS_PPF);
	ck_assert_uint_eq(rd(SIMDEV_PAGE_REQUESTS, 8), 0);
}
END_TEST

struct dma_job {
	uint64_t status;
};

static void *dma_thread(void *arg)
{
	struct dma_job *job = arg;

	job->status = copy(0x1000, 0x2000, 4096);
	return NULL;
}

/*
 * In-flight DMA vs the guest's invalidation: while queue processing holds
 * the unit's lock (a wait may be about to complete), no DMA may move data
 * with a translation it is invalidating, not even from the ATC. Once the
 * invalidation is done the DMA translates afresh and lands on the new page.
 */
START_TEST(test_dma_waits_for_invalidation)
{
	struct vtd_desc d[2] = {
		{ .type = VTD_DESC_IOTLB, .iotlb = { .gran = VTD_IOTLB_PAGE, .did = GUEST_DID,
						     .addr = 0x2000 } },
		{ .type = VTD_DESC_DEVTLB, .devtlb = { .sid = GUEST_SID } },
	};
	struct dma_job job = { 0 };
	struct flush_result res;
	pthread_t th;

	make_device(true, false);
	attach();
	map(0x1000, PG(0), PTE_R);
	map(0x2000, PG(1), PTE_R | PTE_W);
	fill(PG(0), 1);
	ck_assert_uint_eq(copy(0x1000, 0x2000, 4096), SIMDEV_STATUS_DONE);
	ck_assert(simvtd_atc_present(sim, HOST_SID, 0, 0x2000));
	fill(PG(0), 2);

	pthread_mutex_lock(&unit.lock);
	ck_assert_int_eq(pthread_create(&th, NULL, dma_thread, &job), 0);
	/* Give a DMA that ignores the lock every chance to land; it must not. */
	for (int i = 0; i < 200 && holds(PG(1), 1); i++)
		usleep(1000);
	ck_assert_msg(holds(PG(1), 1), "DMA moved data during the invalidation");
	map(0x2000, PG(2), PTE_R | PTE_W);
	d[1].devtlb.addr = vtd_devtlb_encode_addr(0x2000, 0, &d[1].devtlb.size);
	ck_assert_int_eq(flush_engine_batch(fe, 0, d, 2, 1, &res), 0);
	pthread_mutex_unlock(&unit.lock);
	ck_assert_int_eq(pthread_join(th, NULL), 0);

	ck_assert_uint_eq(job.status, SIMDEV_STATUS_DONE);
	ck_assert(holds(PG(2), 2));
	ck_assert(holds(PG(1), 1));
}
END_TEST

START_TEST(test_bad_len_and_command)
{
	make_device(false, false);
	attach();
	map(0x1000, PG(0), PTE_R);
	map(0x2000, PG(1), PTE_R | PTE_W);
	ck_assert_uint_eq(copy(0x1000, 0x2000, 0), SIMDEV_STATUS_BAD);
	ck_assert_uint_eq(copy(0x1000, 0x2000, SIMDEV_MAX_LEN + 1ULL), SIMDEV_STATUS_BAD);
	ck_assert_uint_eq(copy(0x1000, 0x2000, ~0ULL), SIMDEV_STATUS_BAD);
	ck_assert_uint_eq(rd(SIMDEV_WALKS, 8), 0);
	ck_assert_uint_eq(nmsis, 3);
	wr(SIMDEV_LEN, 8, 16);
	wr(SIMDEV_CMD, 8, 7);
	ck_assert_uint_eq(rd(SIMDEV_STATUS, 8), SIMDEV_STATUS_BAD);
	ck_assert_uint_eq(nmsis, 4);
	/* Without bus mastering the device may not DMA (and MSI-X stays silent). */
	pci_device_config_write(pci, 0x04, 2, 0x0002);
	ck_assert_uint_eq(copy(0x1000, 0x2000, 16), SIMDEV_STATUS_BAD);
	ck_assert_uint_eq(nmsis, 4);
	pci_device_config_write(pci, 0x04, 2, 0x0006);
	ck_assert_uint_eq(copy(0x1000, 0x2000, 16), SIMDEV_STATUS_DONE);
	ck_assert_uint_eq(nmsis, 5);
	ck_assert_uint_eq(unit.fsts, 0);
}
END_TEST

START_TEST(test_hostile_registers)
{
	make_device(false, true);
	attach();
	map(0x1000, PG(0), PTE_R);
	map(0x2000, PG(1), PTE_R | PTE_W);

	/* Odd sizes, straddling accesses and offsets past the registers. */
	ck_assert_uint_eq(rd(SIMDEV_ID + 4, 8), 0);
	ck_assert_uint_eq(rd(0xffc, 8), 0);
	ck_assert_uint_eq(rd(0x800, 8), 0);
	ck_assert_uint_eq(rd(SIMDEV_ID, 4), SIMDEV_ID_VALUE);
	ck_assert_uint_eq(rd(SIMDEV_ID + 1, 1), (SIMDEV_ID_VALUE >> 8) & 0xff);
	wr(SIMDEV_ID, 8, 0);
	wr(SIMDEV_STATUS, 8, 0x55);
	wr(SIMDEV_WALKS, 8, 0x55);
	wr(0xfff, 8, ~0ULL);
	wr(SIMDEV_SRC + 6, 4, ~0ULL);
	ck_assert_uint_eq(rd(SIMDEV_ID, 8), SIMDEV_ID_VALUE);
	ck_assert_uint_eq(rd(SIMDEV_STATUS, 8), SIMDEV_STATUS_IDLE);
	ck_assert_uint_eq(rd(SIMDEV_WALKS, 8), 0);
	ck_assert_uint_eq(rd(SIMDEV_SRC, 8), 0);
	{
		uint8_t buf[16];

		memset(buf, 0x77, sizeof(buf));
		pci->bars[0].fn(pci->bars[0].opaque, 0, buf, 16, false);
		pci->bars[0].fn(pci->bars[0].opaque, 0, buf, 0, true);
		ck_assert_uint_eq(buf[0], 0);
	}

	/* 32-bit halves compose a 64-bit register; PASID keeps only its fields. */
	wr(SIMDEV_SRC, 4, 0x89abc000);
	wr(SIMDEV_SRC + 4, 4, 0x01234567);
	ck_assert_uint_eq(rd(SIMDEV_SRC, 8), 0x0123456789abc000ULL);
	ck_assert_uint_eq(rd(SIMDEV_SRC + 4, 4), 0x01234567);
	wr(SIMDEV_PASID, 8, ~0ULL);
	ck_assert_uint_eq(rd(SIMDEV_PASID, 8), SIMDEV_PASID_VALID | 0xfffff);
	/* A command is its low byte: the upper half alone starts nothing. */
	wr(SIMDEV_CMD + 4, 4, SIMDEV_CMD_COPY);
	ck_assert_uint_eq(rd(SIMDEV_STATUS, 8), SIMDEV_STATUS_IDLE);
	ck_assert_uint_eq(nmsis, 0);

	/* PASID requests before the guest enabled PASID: refused. */
	ck_assert_uint_eq(copy(0x1000, 0x2000, 16), SIMDEV_STATUS_BAD);
	wr(SIMDEV_PASID, 8, 0);

	/* Addresses at the top of the IOVA space, wrapping: faults, nothing else. */
	ck_assert_uint_eq(copy(~0ULL - 10, 0x2000, 100), SIMDEV_STATUS_FAULT);
	ck_assert_uint_eq(rd(SIMDEV_FAULT_ADDR, 8), ~0ULL - 10);
	ck_assert_uint_eq(copy(0x1000, ~0ULL - 10, 100), SIMDEV_STATUS_FAULT);
	ck_assert_uint_eq(rd(SIMDEV_FAULT_ADDR, 8), ~0ULL - 10);
	ck_assert(zero(PG(1)));

	/* The largest copy runs to its first unmapped page. */
	ck_assert_uint_eq(copy(0x1000, 0x2000, SIMDEV_MAX_LEN), SIMDEV_STATUS_FAULT);
	ck_assert_uint_eq(rd(SIMDEV_FAULT_ADDR, 8), 0x3000);
	ck_assert_uint_eq(copy(0x1000, 0x1000, SIMDEV_MAX_LEN), SIMDEV_STATUS_FAULT);
	ck_assert_uint_eq(rd(SIMDEV_FAULT_ADDR, 8), 0x1000);
}
END_TEST

START_TEST(test_free_null)
{
	simdev_free(NULL);
}
END_TEST

/*
 * Hardening finding 5: CAP.SLLPS advertises 2 MiB and 1 GiB second-stage
 * pages, and DMA goes through both; a page invalidation inside the 2 MiB
 * page retires what the host cached of it.
 */
START_TEST(test_second_stage_large_pages)
{
	const uint64_t iova_2m = 2ULL << 20, iova_1g = 1ULL << 30;

	ck_assert_uint_eq(VTD_CAP_SLLPS(unit.cap), 3);
	make_device(false, false);
	attach();
	/* SL_L2[1]: IOVA 2 MiB..4 MiB -> GPA 4 MiB; SL_L3[1]: IOVA 1 GiB..2 GiB -> GPA 0. */
	put64(SL_L2 + 8, (4ULL << 20) | 1ULL << 7 | PTE_R | PTE_W);
	put64(SL_L3 + 8, 0 | 1ULL << 7 | PTE_R);
	fill(PG(1), 5);
	ck_assert_uint_eq(copy(iova_1g + PG(1), iova_2m + 0x3000, 4096), SIMDEV_STATUS_DONE);
	ck_assert(holds((4ULL << 20) + 0x3000, 5));
	ck_assert_uint_eq(unit.fsts & VTD_FSTS_PPF, 0);

	/* A reserved bit below the 2 MiB page size (bit 12) faults the walk. */
	put64(SL_L2 + 8, (4ULL << 20) | 1ULL << 12 | 1ULL << 7 | PTE_R | PTE_W);
	ck_assert_uint_eq(copy(iova_1g + PG(1), iova_2m + 0x5000, 4096), SIMDEV_STATUS_FAULT);
	ck_assert_uint_eq((unit.frcd[0][1] >> 32) & 0xff, VTD_FR_PAGING_RSVD);

	/* The guest moves the 2 MiB page and invalidates the page it uses. */
	put64(SL_L2 + 8, (6ULL << 20) | 1ULL << 7 | PTE_R | PTE_W);
	flush_page(iova_2m + 0x3000, true, false);
	fill(PG(1), 6);
	ck_assert_uint_eq(copy(iova_1g + PG(1), iova_2m + 0x3000, 4096), SIMDEV_STATUS_DONE);
	ck_assert(holds((6ULL << 20) + 0x3000, 6));
	ck_assert(holds((4ULL << 20) + 0x3000, 5));
}
END_TEST

/*
 * Hardening finding 2: a guest that aliases its second-stage tables and
 * DMAs over ever-new IOVAs, never invalidating, fills the host IOTLB and
 * the ATC with one entry per page. They must stay within their capacity
 * (hostvtd/simvtd-cache.h) however many pages it touches, and the DMA
 * must stay right: the latest copies land where the tables say.
 */
START_TEST(test_caches_bounded_over_fresh_iovas)
{
	const uint64_t mib = 1ULL << 20;
	const unsigned int copies = 512;	/* 2 x 256 Ki fresh pages: 8 x the capacity */

	make_device(true, false);
	attach();
	/* Every L3 and L2 entry aliases the one table below: 512 GiB of IOVA on SL_L1. */
	for (unsigned int i = 0; i < 512; i++) {
		put64(SL_L3 + i * 8, SL_L2 | PTE_R | PTE_W);
		put64(SL_L2 + i * 8, SL_L1 | PTE_R | PTE_W);
		put64(SL_L1 + i * 8, PG(i % 256) | PTE_R | PTE_W);
	}
	for (unsigned int c = 0; c < copies; c++) {
		uint64_t src = (2ULL * c) * mib, dst = (2ULL * c + 1) * mib;

		ck_assert_uint_eq(copy(src, dst, mib), SIMDEV_STATUS_DONE);
		ck_assert_uint_le(simvtd_iotlb_entries(sim, 0), SIM_CACHE_CAPACITY);
		ck_assert_uint_le(simvtd_atc_entries(sim, HOST_SID), SIM_CACHE_CAPACITY);
	}
	ck_assert_uint_eq(simvtd_iotlb_entries(sim, 0), SIM_CACHE_CAPACITY);
	ck_assert_uint_eq(simvtd_atc_entries(sim, HOST_SID), SIM_CACHE_CAPACITY);
	ck_assert_uint_eq(unit.fsts & VTD_FSTS_PPF, 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("simdev");
	TCase *tc = tcase_create("dma");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_config_space);
	tcase_add_test(tc, test_config_space_linux_checks);
	tcase_add_test(tc, test_no_ats_caps);
	tcase_add_test(tc, test_walk_then_iotlb);
	tcase_add_test(tc, test_scattered_pages);
	tcase_add_test(tc, test_stale_iotlb);
	tcase_add_test(tc, test_second_stage_large_pages);
	tcase_add_test(tc, test_caches_bounded_over_fresh_iovas);
	tcase_add_test(tc, test_stale_atc);
	tcase_add_test(tc, test_ats_disabled);
	tcase_add_test(tc, test_ats_not_allowed);
	tcase_add_test(tc, test_fault_no_attachment);
	tcase_add_test(tc, test_present_without_invalidation);
	tcase_add_test(tc, test_fault_not_present);
	tcase_add_test(tc, test_permissions);
	tcase_add_test(tc, test_gpa_outside_ram);
	tcase_add_test(tc, test_bad_len_and_command);
	tcase_add_test(tc, test_hostile_registers);
	tcase_add_test(tc, test_free_null);
	tcase_add_test(tc, test_pass_through_te_off);
	tcase_add_test(tc, test_pass_through_context);
	tcase_add_test(tc, test_pasid_request_not_rid_attachment);
	tcase_add_test(tc, test_dma_waits_for_invalidation);
	tcase_add_test(tc, test_pri_request_then_retry);
	tcase_add_test(tc, test_pri_refused_or_overflowing);
	tcase_add_test(tc, test_pri_control_and_status);
	tcase_add_test(tc, test_pri_disabled_faults);
	suite_add_tcase(s, tc);
	return check_run(s);
}
