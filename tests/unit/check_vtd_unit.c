// SPDX-License-Identifier: MIT
/*
 * The emulated VT-d unit's registers, fault recording and invalidation
 * queue (viommu/unit.c, viommu/qi.c), driven through the MMIO bus as a
 * vCPU would, with a real tag store, flush engine and simulated host
 * behind it. One fake device: guest SID 0x0008 is host SID 0x0300 (ATS)
 * on host unit 0, attached to guest domains (DID 5, PASID 0) as second
 * stage (host DID 105) and (DID 6, PASID 7) nested (host DID 106).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "viommu/viommu-priv.h"
#include "vtd_testutil.h"

#define REG(off)	(MACHINE_VTD_BASE + (off))
#define QBASE		0x100000ULL
#define STATUS		0x200000ULL
#define ROOT		0x300000ULL
#define GUEST_SID	0x0008
#define HOST_SID	0x0300
#define DID_SL		5
#define HDID_SL		105
#define DID_NEST	6
#define HDID_NEST	106
#define PASID_NEST	7

static struct vm vm;
static struct vtd_test_host host;
static struct viommu unit;
static struct viommu_dev dev;

static struct {
	uint64_t addr;
	uint32_t data;
} msis[64];
static unsigned int nmsi;

static int record_msi(struct vm *v, uint64_t address, uint32_t data)
{
	(void)v;
	if (nmsi < 64) {
		msis[nmsi].addr = address;
		msis[nmsi].data = data;
	}
	nmsi++;
	return 0;
}

static void setup(void)
{
	char err[128];

	vtd_test_vm_init(&vm, VTD_TEST_RAM_SIZE);
	vtd_test_host_init(&host, 1);
	ck_assert_int_eq(viommu_unit_init(&unit, &vm, 0, false, err, sizeof(err)), 0);
	unit.ts = host.ts;
	unit.fe = host.fe;
	unit.signal_msi = record_msi;
	nmsi = 0;

	memset(&dev, 0, sizeof(dev));
	dev.unit = &unit;
	dev.guest_sid = GUEST_SID;
	vtd_test_host_device(&host, &dev.host, 0, HOST_SID, true);
	unit.devs[0] = &dev;
	unit.ndevs = 1;
	vtd_test_attach(&host, &dev.host, GUEST_SID, 0, DID_SL, 0, HDID_SL, false);
	vtd_test_attach(&host, &dev.host, GUEST_SID, 0, DID_NEST, PASID_NEST, HDID_NEST, true);
}

static void teardown(void)
{
	viommu_unit_exit(&unit);
	vtd_test_host_free(&host);
	vtd_test_vm_free(&vm);
}

static uint64_t rd(unsigned int off, unsigned int len)
{
	return vtd_test_mmio_read(&vm, REG(off), len);
}

static void wr(unsigned int off, uint64_t val, unsigned int len)
{
	vtd_test_mmio_write(&vm, REG(off), val, len);
}

/* Persistent GCMD bits as a driver keeps them, plus @oneshot. */
static void gcmd(uint32_t persistent, uint32_t oneshot)
{
	wr(VTD_REG_GCMD, persistent | oneshot, 4);
}

/* Queue of 2^qs pages at QBASE; @scalable latches a scalable-mode root first. */
static void enable_qi(bool wide, unsigned int qs, bool scalable)
{
	if (scalable) {
		wr(VTD_REG_RTADDR, ROOT | 1ULL << VTD_RTADDR_TTM_SHIFT, 8);
		gcmd(0, VTD_GCMD_SRTP);
	}
	wr(VTD_REG_IQA, QBASE | (wide ? VTD_IQA_DW : 0) | qs, 8);
	gcmd(VTD_GCMD_QIE, 0);
	ck_assert(rd(VTD_REG_GSTS, 4) & VTD_GCMD_QIE);
	ck_assert_uint_eq(rd(VTD_REG_IQH, 8), 0);
}

static struct vtd_desc wait_sw(uint32_t data, uint64_t addr)
{
	struct vtd_desc d = { .type = VTD_DESC_WAIT };

	d.wait.sw = true;
	d.wait.status_data = data;
	d.wait.status_addr = addr;
	return d;
}

static struct vtd_desc iotlb_psi(uint16_t did, uint64_t addr)
{
	struct vtd_desc d = { .type = VTD_DESC_IOTLB };

	d.iotlb.gran = VTD_IOTLB_PAGE;
	d.iotlb.did = did;
	d.iotlb.addr = addr;
	return d;
}

static void put(unsigned int slot, const struct vtd_desc *d, bool wide)
{
	vtd_test_put_desc(&vm, QBASE + slot * (wide ? 32 : 16), d, wide);
}

static void tail(unsigned int slot, bool wide)
{
	wr(VTD_REG_IQT, slot * (wide ? 32 : 16), 8);
}

static uint64_t host_submissions(void)
{
	struct flush_stats s;

	flush_engine_stats(host.fe, &s);
	return s.host_submissions;
}

/* ---- capabilities ----------------------------------------------------------- */

START_TEST(test_caps)
{
	uint64_t cap = rd(VTD_REG_CAP, 8), ecap = rd(VTD_REG_ECAP, 8);
	struct viommu cm;
	char err[128];

	ck_assert_uint_eq(rd(VTD_REG_VER, 4), 0x10);
	ck_assert_uint_eq(VTD_CAP_ND(cap), 5);	/* 14-bit DIDs: see vtd_host_did() */
	ck_assert_uint_eq(VTD_CAP_SAGAW(cap), 1u << 2);
	ck_assert_uint_eq(VTD_CAP_MGAW(cap), 47);
	ck_assert_uint_eq(VTD_CAP_FRO(cap) * 16, VTD_FRCD_OFFSET);
	ck_assert_uint_eq(VTD_CAP_NFR(cap), VTD_NFR - 1);
	ck_assert_uint_eq(VTD_CAP_MAMV(cap), 9);
	ck_assert(cap & VTD_CAP_PSI);
	ck_assert(!(cap & (VTD_CAP_CM | VTD_CAP_RWBF | VTD_CAP_PI)));
	/* 32-bit halves read the same register. */
	ck_assert_uint_eq(rd(VTD_REG_CAP, 4) | rd(VTD_REG_CAP + 4, 4) << 32, cap);

	ck_assert(ecap & VTD_ECAP_QI);
	ck_assert(ecap & VTD_ECAP_DT);
	ck_assert(ecap & VTD_ECAP_PT);
	ck_assert(ecap & VTD_ECAP_NEST);
	ck_assert(ecap & VTD_ECAP_PASID);
	ck_assert(ecap & VTD_ECAP_SMTS);
	ck_assert(ecap & VTD_ECAP_FLTS);
	ck_assert(ecap & VTD_ECAP_SLTS);
	ck_assert(ecap & VTD_ECAP_SRS);		/* the first-stage walk honours SRE and WPE */
	ck_assert(!(ecap & VTD_ECAP_IR));
	ck_assert(ecap & VTD_ECAP_PRS);		/* page requests (prq.c), drained at once: PDS */
	ck_assert(ecap & VTD_ECAP_PDS);
	ck_assert(ecap & VTD_ECAP_SMPWCS);	/* walks read guest memory afresh */
	ck_assert(cap & VTD_CAP_FS1GP);
	ck_assert_uint_eq(VTD_ECAP_PSS(ecap), VTD_PASID_BITS - 1);
	ck_assert_uint_eq(VTD_ECAP_IRO(ecap) * 16, VTD_IOTLB_OFFSET);

	/* CAP/ECAP are read-only. */
	wr(VTD_REG_CAP, 0, 8);
	ck_assert_uint_eq(rd(VTD_REG_CAP, 8), cap);

	/* A second unit with caching mode sits 4 KiB further and reports CM. */
	ck_assert_int_eq(viommu_unit_init(&cm, &vm, 1, true, err, sizeof(err)), 0);
	ck_assert(vtd_test_mmio_read(&vm, REG(VTD_REG_SIZE + VTD_REG_CAP), 8) & VTD_CAP_CM);
	viommu_unit_exit(&cm);
}
END_TEST

/* ---- global command ---------------------------------------------------------- */

START_TEST(test_gcmd)
{
	uint64_t rt = ROOT | 1ULL << VTD_RTADDR_TTM_SHIFT;

	ck_assert_uint_eq(rd(VTD_REG_GSTS, 4), 0);
	wr(VTD_REG_RTADDR, rt, 8);
	ck_assert_uint_eq(rd(VTD_REG_RTADDR, 8), rt);
	ck_assert_uint_eq(unit.rtaddr_active, 0);	/* only SRTP latches it */
	gcmd(0, VTD_GCMD_SRTP);
	ck_assert(rd(VTD_REG_GSTS, 4) & VTD_GCMD_SRTP);
	ck_assert_uint_eq(unit.rtaddr_active, rt);
	ck_assert_uint_eq(rd(VTD_REG_GCMD, 4), 0);	/* write-only */

	/* TTM 3 is reserved: the write is ignored. */
	wr(VTD_REG_RTADDR, ROOT | 3ULL << VTD_RTADDR_TTM_SHIFT, 8);
	ck_assert_uint_eq(rd(VTD_REG_RTADDR, 8), rt);

	gcmd(VTD_GCMD_TE, 0);
	ck_assert(rd(VTD_REG_GSTS, 4) & VTD_GCMD_TE);
	/* Keeping TE while sending WBF: WBF completes at once, no status. */
	gcmd(VTD_GCMD_TE, VTD_GCMD_WBF);
	ck_assert_uint_eq(rd(VTD_REG_GSTS, 4) & (VTD_GCMD_TE | VTD_GCMD_WBF), VTD_GCMD_TE);

	/* Interrupt remapping is not advertised: no status for its commands. */
	gcmd(VTD_GCMD_TE | VTD_GCMD_IRE | VTD_GCMD_CFI, VTD_GCMD_SIRTP);
	ck_assert(!(rd(VTD_REG_GSTS, 4) & (VTD_GCMD_IRE | VTD_GCMD_SIRTP | VTD_GCMD_CFI)));

	wr(VTD_REG_IQA, QBASE, 8);
	gcmd(VTD_GCMD_TE | VTD_GCMD_QIE, 0);
	ck_assert_uint_eq(rd(VTD_REG_GSTS, 4) & (VTD_GCMD_TE | VTD_GCMD_QIE),
			  VTD_GCMD_TE | VTD_GCMD_QIE);
	gcmd(VTD_GCMD_QIE, 0);
	ck_assert_uint_eq(rd(VTD_REG_GSTS, 4) & (VTD_GCMD_TE | VTD_GCMD_QIE), VTD_GCMD_QIE);
	gcmd(0, 0);
	ck_assert(!(rd(VTD_REG_GSTS, 4) & VTD_GCMD_QIE));
	/* RTPS stays set: it reports the last SRTP completed. */
	ck_assert(rd(VTD_REG_GSTS, 4) & VTD_GCMD_SRTP);
}
END_TEST

START_TEST(test_qie_disable_needs_empty_queue)
{
	bool wide = false;

	enable_qi(wide, 0, false);
	vtd_test_put_raw(&vm, QBASE, 0xf, 0, 0, 0, wide);	/* bad type: stalls at slot 0 */
	tail(1, wide);
	ck_assert(rd(VTD_REG_FSTS, 4) & VTD_FSTS_IQE);
	gcmd(0, 0);
	ck_assert(rd(VTD_REG_GSTS, 4) & VTD_GCMD_QIE);	/* IQH != IQT: refused */

	/* IQA cannot move under a live queue. */
	wr(VTD_REG_IQA, 0x400000, 8);
	ck_assert_uint_eq(rd(VTD_REG_IQA, 8), QBASE);
}
END_TEST

/* ---- queued invalidation ---------------------------------------------------- */

START_TEST(test_qi_piotlb_wait_status)
{
	bool wide = true;
	struct vtd_desc d = vtd_test_piotlb_page(DID_NEST, PASID_NEST, 0x5000, 0);
	struct vtd_desc w = wait_sw(0xabcd, STATUS);
	struct simvtd_counters c0, c1;

	enable_qi(wide, 0, true);
	ck_assert_int_eq(simvtd_iotlb_insert(host.sim, 0, HDID_NEST, PASID_NEST, true, 0x5000), 0);
	ck_assert_int_eq(simvtd_iotlb_insert(host.sim, 0, HDID_NEST, PASID_NEST, true, 0x9000), 0);
	simvtd_counters(host.sim, 0, &c0);

	put(0, &d, wide);
	put(1, &w, wide);
	tail(2, wide);

	ck_assert_uint_eq(vtd_test_read32(&vm, STATUS), 0xabcd);
	ck_assert(!simvtd_iotlb_present(host.sim, 0, HDID_NEST, PASID_NEST, 0x5000));
	ck_assert(simvtd_iotlb_present(host.sim, 0, HDID_NEST, PASID_NEST, 0x9000));
	simvtd_counters(host.sim, 0, &c1);
	ck_assert_uint_gt(c1.desc[VTD_DESC_PIOTLB], c0.desc[VTD_DESC_PIOTLB]);
	ck_assert_uint_eq(rd(VTD_REG_IQH, 8), 2 * 32);
	ck_assert_uint_eq(rd(VTD_REG_FSTS, 4), 0);
	ck_assert_uint_eq(unit.batches, 1);
	ck_assert_uint_eq(unit.descriptors, 2);
}
END_TEST

START_TEST(test_qi_wait_interrupt)
{
	bool wide = false;
	struct vtd_desc w = { .type = VTD_DESC_WAIT };

	w.wait.intr = true;
	enable_qi(wide, 0, false);
	wr(VTD_REG_IEADDR, 0xfee01000, 4);
	wr(VTD_REG_IEUADDR, 0x1, 4);
	wr(VTD_REG_IEDATA, 0x41, 4);
	wr(VTD_REG_IECTL, 0, 4);		/* unmask */

	put(0, &w, wide);
	tail(1, wide);
	ck_assert(rd(VTD_REG_ICS, 4) & VTD_ICS_IWC);
	ck_assert(!(rd(VTD_REG_IECTL, 4) & VTD_ECTL_IP));
	ck_assert_uint_eq(nmsi, 1);
	ck_assert_uint_eq(msis[0].addr, 0x1fee01000ULL);
	ck_assert_uint_eq(msis[0].data, 0x41);

	/* Masked: the interrupt stays pending in IP. */
	wr(VTD_REG_ICS, VTD_ICS_IWC, 4);
	ck_assert_uint_eq(rd(VTD_REG_ICS, 4), 0);
	wr(VTD_REG_IECTL, VTD_ECTL_IM, 4);
	put(1, &w, wide);
	tail(2, wide);
	ck_assert(rd(VTD_REG_ICS, 4) & VTD_ICS_IWC);
	ck_assert(rd(VTD_REG_IECTL, 4) & VTD_ECTL_IP);
	ck_assert_uint_eq(nmsi, 1);
	/* Unmasking delivers it. */
	wr(VTD_REG_IECTL, 0, 4);
	ck_assert_uint_eq(nmsi, 2);
	ck_assert(!(rd(VTD_REG_IECTL, 4) & VTD_ECTL_IP));

	/* Clearing IWC clears a pending IP. */
	wr(VTD_REG_ICS, VTD_ICS_IWC, 4);
	wr(VTD_REG_IECTL, VTD_ECTL_IM, 4);
	put(2, &w, wide);
	tail(3, wide);
	ck_assert(rd(VTD_REG_IECTL, 4) & VTD_ECTL_IP);
	wr(VTD_REG_ICS, VTD_ICS_IWC, 4);
	ck_assert(!(rd(VTD_REG_IECTL, 4) & VTD_ECTL_IP));
	ck_assert_uint_eq(nmsi, 2);
}
END_TEST

START_TEST(test_qi_batch_one_submission)
{
	bool wide = false;
	struct vtd_desc a = iotlb_psi(DID_SL, 0x1000), b = iotlb_psi(DID_SL, 0x2000);
	struct vtd_desc c = iotlb_psi(DID_SL, 0x3000), w = wait_sw(1, STATUS);
	uint64_t subs;

	enable_qi(wide, 0, false);
	for (uint64_t iova = 0x1000; iova <= 0x3000; iova += 0x1000)
		ck_assert_int_eq(simvtd_iotlb_insert(host.sim, 0, HDID_SL, 0, false, iova), 0);
	ck_assert_int_eq(simvtd_iotlb_insert(host.sim, 0, HDID_SL, 0, false, 0x100000), 0);
	subs = host_submissions();

	put(0, &a, wide);
	put(1, &b, wide);
	put(2, &c, wide);
	put(3, &w, wide);
	tail(4, wide);

	ck_assert_uint_eq(host_submissions() - subs, 1);
	for (uint64_t iova = 0x1000; iova <= 0x3000; iova += 0x1000)
		ck_assert(!simvtd_iotlb_present(host.sim, 0, HDID_SL, 0, iova));
	ck_assert(simvtd_iotlb_present(host.sim, 0, HDID_SL, 0, 0x100000));
	ck_assert_uint_eq(vtd_test_read32(&vm, STATUS), 1);
	ck_assert_uint_eq(unit.batches, 1);
	ck_assert_uint_eq(unit.descriptors, 4);
}
END_TEST

START_TEST(test_qi_wraps)
{
	bool wide = false;
	unsigned int slots = 4096 / 16;
	struct vtd_desc a = iotlb_psi(DID_SL, 0x1000), w = wait_sw(7, STATUS);

	enable_qi(wide, 0, false);
	/* Walk the head to the last slot with IEC no-ops. */
	for (unsigned int i = 0; i < slots - 1; i++) {
		struct vtd_desc iec = { .type = VTD_DESC_IEC };

		put(i, &iec, wide);
	}
	tail(slots - 1, wide);
	ck_assert_uint_eq(rd(VTD_REG_IQH, 8), (slots - 1) * 16);

	ck_assert_int_eq(simvtd_iotlb_insert(host.sim, 0, HDID_SL, 0, false, 0x1000), 0);
	put(slots - 1, &a, wide);
	put(0, &w, wide);
	tail(1, wide);
	ck_assert_uint_eq(rd(VTD_REG_IQH, 8), 16);
	ck_assert(!simvtd_iotlb_present(host.sim, 0, HDID_SL, 0, 0x1000));
	ck_assert_uint_eq(vtd_test_read32(&vm, STATUS), 7);
}
END_TEST

/* ---- invalidation queue errors --------------------------------------------- */

static uint64_t iqei(void)
{
	return VTD_IQER_IQEI(rd(VTD_REG_IQER, 8));
}

START_TEST(test_iqe_bad_type_then_resume)
{
	bool wide = false;
	struct vtd_desc a = iotlb_psi(DID_SL, 0x1000), b = iotlb_psi(DID_SL, 0x2000);
	struct vtd_desc w = wait_sw(3, STATUS), iec = { .type = VTD_DESC_IEC };

	enable_qi(wide, 0, false);
	wr(VTD_REG_FECTL, 0, 4);		/* fault events unmasked */
	ck_assert_int_eq(simvtd_iotlb_insert(host.sim, 0, HDID_SL, 0, false, 0x1000), 0);
	ck_assert_int_eq(simvtd_iotlb_insert(host.sim, 0, HDID_SL, 0, false, 0x2000), 0);
	put(0, &a, wide);
	vtd_test_put_raw(&vm, QBASE + 16, 0xf, 0, 0, 0, wide);
	put(2, &b, wide);
	put(3, &w, wide);
	tail(4, wide);

	ck_assert(rd(VTD_REG_FSTS, 4) & VTD_FSTS_IQE);
	ck_assert_uint_eq(iqei(), VTD_IQEI_TYPE);
	ck_assert_uint_eq(rd(VTD_REG_IQH, 8), 16);
	ck_assert_uint_eq(nmsi, 1);			/* the fault event */
	/* Before the bad one: flushed. After it: not executed. */
	ck_assert(!simvtd_iotlb_present(host.sim, 0, HDID_SL, 0, 0x1000));
	ck_assert(simvtd_iotlb_present(host.sim, 0, HDID_SL, 0, 0x2000));
	ck_assert_uint_eq(vtd_test_read32(&vm, STATUS), 0);

	/* Tail writes do not fetch while IQE is set. */
	tail(4, wide);
	ck_assert_uint_eq(rd(VTD_REG_IQH, 8), 16);

	/* Linux's recovery: fix the slot, clear IQE; the queue resumes. */
	put(1, &iec, wide);
	wr(VTD_REG_FSTS, VTD_FSTS_IQE, 4);
	ck_assert_uint_eq(rd(VTD_REG_FSTS, 4), 0);
	ck_assert_uint_eq(rd(VTD_REG_IQH, 8), 4 * 16);
	ck_assert(!simvtd_iotlb_present(host.sim, 0, HDID_SL, 0, 0x2000));
	ck_assert_uint_eq(vtd_test_read32(&vm, STATUS), 3);
}
END_TEST

START_TEST(test_iqe_reserved_bit)
{
	bool wide = false;
	struct vtd_desc a = iotlb_psi(DID_SL, 0x1000);
	struct vtd_raw_desc raw;

	enable_qi(wide, 0, false);
	vtd_desc_encode(&a, &raw);
	vtd_test_put_raw(&vm, QBASE, raw.qw[0] | 1ULL << 8, raw.qw[1], 0, 0, wide);
	tail(1, wide);
	ck_assert(rd(VTD_REG_FSTS, 4) & VTD_FSTS_IQE);
	ck_assert_uint_eq(iqei(), VTD_IQEI_RSVD);
	ck_assert_uint_eq(rd(VTD_REG_IQH, 8), 0);
}
END_TEST

START_TEST(test_iqe_tail_beyond_queue)
{
	enable_qi(false, 0, false);
	wr(VTD_REG_IQT, 4096, 8);		/* one page queue: 0..4080 */
	ck_assert(rd(VTD_REG_FSTS, 4) & VTD_FSTS_IQE);
	ck_assert_uint_eq(iqei(), VTD_IQEI_TAIL);
	ck_assert_uint_eq(rd(VTD_REG_IQH, 8), 0);
}
END_TEST

START_TEST(test_iqe_tail_misaligned_wide)
{
	enable_qi(true, 0, true);
	wr(VTD_REG_IQT, 0x10, 8);
	ck_assert(rd(VTD_REG_FSTS, 4) & VTD_FSTS_IQE);
	ck_assert_uint_eq(iqei(), VTD_IQEI_TAIL_ALIGN);
	ck_assert_uint_eq(rd(VTD_REG_IQH, 8), 0);
}
END_TEST

START_TEST(test_iqe_queue_outside_ram)
{
	wr(VTD_REG_IQA, 0x40000000ULL, 8);	/* 1 GiB: beyond 16 MiB of RAM */
	gcmd(VTD_GCMD_QIE, 0);
	wr(VTD_REG_IQT, 16, 8);
	ck_assert(rd(VTD_REG_FSTS, 4) & VTD_FSTS_IQE);
	ck_assert_uint_eq(iqei(), VTD_IQEI_FETCH);
	ck_assert_uint_eq(rd(VTD_REG_IQH, 8), 0);
}
END_TEST

START_TEST(test_iqe_status_outside_ram)
{
	bool wide = false;
	struct vtd_desc a = iotlb_psi(DID_SL, 0x1000), w = wait_sw(9, 0x80000000ULL);
	struct vtd_desc ok = wait_sw(9, STATUS);

	enable_qi(wide, 0, false);
	ck_assert_int_eq(simvtd_iotlb_insert(host.sim, 0, HDID_SL, 0, false, 0x1000), 0);
	put(0, &a, wide);
	put(1, &w, wide);
	put(2, &ok, wide);
	tail(3, wide);
	ck_assert(rd(VTD_REG_FSTS, 4) & VTD_FSTS_IQE);
	ck_assert_uint_eq(iqei(), VTD_IQEI_NONE);
	ck_assert_uint_eq(rd(VTD_REG_IQH, 8), 16);	/* on the wait */
	ck_assert(!simvtd_iotlb_present(host.sim, 0, HDID_SL, 0, 0x1000));
	ck_assert_uint_eq(vtd_test_read32(&vm, STATUS), 0);
}
END_TEST

START_TEST(test_iqe_unsupported)
{
	bool wide = false;
	struct vtd_desc p = vtd_test_piotlb_page(DID_NEST, PASID_NEST, 0x1000, 0);
	struct vtd_desc big = iotlb_psi(DID_SL, 0);

	/* PASID-based descriptors in legacy mode. */
	enable_qi(wide, 0, false);
	put(0, &p, wide);
	tail(1, wide);
	ck_assert(rd(VTD_REG_FSTS, 4) & VTD_FSTS_IQE);
	ck_assert_uint_eq(iqei(), VTD_IQEI_TTM);

	/* AM beyond MAMV. */
	big.iotlb.am = 10;
	put(0, &big, wide);
	wr(VTD_REG_FSTS, VTD_FSTS_IQE, 4);
	ck_assert(rd(VTD_REG_FSTS, 4) & VTD_FSTS_IQE);
	ck_assert_uint_eq(iqei(), VTD_IQEI_RSVD);
	ck_assert_uint_eq(rd(VTD_REG_IQH, 8), 0);
}
END_TEST

START_TEST(test_ite)
{
	bool wide = false;
	struct vtd_desc dt = vtd_test_devtlb(GUEST_SID, 0x3000, 0), w = wait_sw(5, STATUS);
	struct vtd_desc a = iotlb_psi(DID_SL, 0x1000);

	enable_qi(wide, 0, false);
	wr(VTD_REG_FECTL, 0, 4);
	ck_assert_int_eq(simvtd_atc_insert(host.sim, HOST_SID, 0, 0x3000), 0);
	simvtd_inject_ite(host.sim, HOST_SID, 1);
	put(0, &dt, wide);
	put(1, &w, wide);
	put(2, &a, wide);
	tail(3, wide);

	ck_assert(rd(VTD_REG_FSTS, 4) & VTD_FSTS_ITE);
	ck_assert_uint_eq(VTD_FIELD(rd(VTD_REG_IQER, 8), 47, 32), GUEST_SID);
	ck_assert_uint_eq(vtd_test_read32(&vm, STATUS), 0);	/* wait aborted */
	ck_assert_uint_eq(rd(VTD_REG_IQH, 8), 2 * 16);		/* past the wait */
	ck_assert_uint_eq(nmsi, 1);

	/* Clearing ITE resumes; a second try of the same flush succeeds. */
	ck_assert_int_eq(simvtd_iotlb_insert(host.sim, 0, HDID_SL, 0, false, 0x1000), 0);
	wr(VTD_REG_FSTS, VTD_FSTS_ITE, 4);
	ck_assert_uint_eq(rd(VTD_REG_IQH, 8), 3 * 16);
	ck_assert(!simvtd_iotlb_present(host.sim, 0, HDID_SL, 0, 0x1000));
	put(3, &dt, wide);
	put(4, &w, wide);
	tail(5, wide);
	ck_assert_uint_eq(rd(VTD_REG_FSTS, 4), 0);
	ck_assert_uint_eq(vtd_test_read32(&vm, STATUS), 5);
	ck_assert(!simvtd_atc_present(host.sim, HOST_SID, 0, 0x3000));
}
END_TEST

static struct vtd_desc cc_device(uint16_t sid)
{
	struct vtd_desc d = { .type = VTD_DESC_CC };

	d.cc.gran = VTD_CC_DEVICE;
	d.cc.sid = sid;
	return d;
}

/* Drop the fixture's hand-made attachments: the test lets the tables drive them. */
static void detach_fixture(void)
{
	struct guest_domain_key k1 = { .viommu = 0, .did = DID_SL, .pasid = 0 };
	struct guest_domain_key k2 = { .viommu = 0, .did = DID_NEST, .pasid = PASID_NEST };
	struct tag_attach a1 = { .dev = &dev.host, .guest_sid = GUEST_SID, .host_did = HDID_SL };
	struct tag_attach a2 = { .dev = &dev.host, .guest_sid = GUEST_SID, .host_did = HDID_NEST,
				 .host_pasid = PASID_NEST, .nested = true };

	ck_assert_int_eq(tag_store_detach(host.ts, k1, &a1), 0);
	ck_assert_int_eq(tag_store_detach(host.ts, k2, &a2), 0);
}

/*
 * ITE in the flush made before a context-cache descriptor: that
 * descriptor has not run, so IQH stays on it, and clearing ITE runs it:
 * the device leaves its old domain. The wait after it is not completed
 * (the timed-out device-TLB invalidation was its work); the next one is.
 */
START_TEST(test_ite_before_cc_keeps_head_on_cc)
{
	struct vtd_test_tables t = { .vm = &vm, .next = 0x400000 };
	uint64_t slpt = vtd_test_page(&t);
	struct vtd_desc dt = vtd_test_devtlb(GUEST_SID, 0, 0), cc = cc_device(GUEST_SID);
	struct vtd_desc w = wait_sw(5, STATUS);

	detach_fixture();
	/* Legacy, TT 1 (device TLB), AW 48-bit, DID 9. */
	vtd_test_legacy_ctx(&t, ROOT, GUEST_SID, slpt | 1 | 1 << 2, 2 | 9 << 8);
	wr(VTD_REG_RTADDR, ROOT, 8);
	gcmd(0, VTD_GCMD_SRTP);
	gcmd(VTD_GCMD_TE, 0);
	ck_assert_uint_eq(dev.nattach, 1);
	ck_assert_uint_eq(dev.attach[0].did, 9);
	wr(VTD_REG_IQA, QBASE, 8);
	gcmd(VTD_GCMD_TE | VTD_GCMD_QIE, 0);

	/* The guest moves the device to DID 10: ATC flush, context-cache flush, wait. */
	vtd_test_legacy_ctx(&t, ROOT, GUEST_SID, slpt | 1 | 1 << 2, 2 | 10 << 8);
	simvtd_inject_ite(host.sim, HOST_SID, 1);
	put(0, &dt, false);
	put(1, &cc, false);
	put(2, &w, false);
	tail(3, false);
	ck_assert(rd(VTD_REG_FSTS, 4) & VTD_FSTS_ITE);
	ck_assert_uint_eq(rd(VTD_REG_IQH, 8), 1 * 16);		/* on the CC */
	ck_assert_uint_eq(dev.attach[0].did, 9);
	ck_assert_uint_eq(vtd_test_read32(&vm, STATUS), 0);

	wr(VTD_REG_FSTS, VTD_FSTS_ITE, 4);
	ck_assert_uint_eq(rd(VTD_REG_IQH, 8), 3 * 16);
	ck_assert_uint_eq(dev.nattach, 1);
	ck_assert_uint_eq(dev.attach[0].did, 10);
	ck_assert_uint_eq(vtd_test_read32(&vm, STATUS), 0);
	/* The ITE aborted that wait; the spec leaves an aborted wait silent. */
	ck_assert(!(rd(VTD_REG_FSTS, 4) & VTD_FSTS_ICE));

	/* The guest resubmits (as Linux does after an ITE): this wait completes. */
	put(3, &w, false);
	tail(4, false);
	ck_assert_uint_eq(vtd_test_read32(&vm, STATUS), 5);
	ck_assert_uint_eq(rd(VTD_REG_FSTS, 4), 0);
}
END_TEST

/*
 * A host failure in a flush that closes no wait (here: before a
 * context-cache descriptor) is not forgotten: the next wait, even one
 * queued by a later IQT write, is not completed. The one after is.
 */
START_TEST(test_ice_before_cc_fails_next_wait)
{
	struct vtd_desc a = iotlb_psi(DID_SL, 0x1000), cc = cc_device(GUEST_SID);
	struct vtd_desc w = wait_sw(5, STATUS);

	enable_qi(false, 0, false);
	wr(VTD_REG_IECTL, 0, 4);
	ck_assert_int_eq(simvtd_iotlb_insert(host.sim, 0, HDID_SL, 0, false, 0x1000), 0);
	simvtd_inject_iqe(host.sim, 0, 1);
	put(0, &a, false);
	put(1, &cc, false);
	tail(2, false);
	ck_assert(rd(VTD_REG_FSTS, 4) & VTD_FSTS_ICE);
	ck_assert_uint_eq(rd(VTD_REG_IQH, 8), 2 * 16);
	wr(VTD_REG_FSTS, VTD_FSTS_ICE, 4);

	w.wait.intr = true;
	put(2, &w, false);
	tail(3, false);
	ck_assert_uint_eq(vtd_test_read32(&vm, STATUS), 0);
	ck_assert(rd(VTD_REG_FSTS, 4) & VTD_FSTS_ICE);
	ck_assert(!(rd(VTD_REG_ICS, 4) & VTD_ICS_IWC));
	ck_assert_uint_eq(rd(VTD_REG_IQH, 8), 3 * 16);

	/* Answered for: the next wait completes. */
	wr(VTD_REG_FSTS, VTD_FSTS_ICE, 4);
	put(3, &w, false);
	tail(4, false);
	ck_assert_uint_eq(vtd_test_read32(&vm, STATUS), 5);
	ck_assert(rd(VTD_REG_ICS, 4) & VTD_ICS_IWC);
	ck_assert_uint_eq(rd(VTD_REG_FSTS, 4), 0);
}
END_TEST

/* The same when the failing flush is a full batch (VTD_MAX_BATCH) before the wait. */
START_TEST(test_ice_batch_full_fails_wait)
{
	struct vtd_desc a = iotlb_psi(DID_SL, 0x1000), w = wait_sw(5, STATUS);
	unsigned int i;

	enable_qi(false, 1, false);		/* 512 slots */
	simvtd_inject_iqe(host.sim, 0, 1);
	for (i = 0; i < VTD_MAX_BATCH; i++)
		put(i, &a, false);
	put(i, &w, false);
	tail(i + 1, false);
	ck_assert(rd(VTD_REG_FSTS, 4) & VTD_FSTS_ICE);
	ck_assert_uint_eq(vtd_test_read32(&vm, STATUS), 0);
	ck_assert_uint_eq(rd(VTD_REG_IQH, 8), (i + 1) * 16);

	put(i + 1, &w, false);
	tail(i + 2, false);
	ck_assert_uint_eq(vtd_test_read32(&vm, STATUS), 5);
}
END_TEST

static bool in_store(uint16_t did, uint32_t pasid)
{
	struct guest_domain_key k = { .viommu = 0, .did = did, .pasid = pasid };
	bool found;

	tag_store_read_lock(host.ts);
	found = tag_store_find(host.ts, k) != NULL;
	tag_store_read_unlock(host.ts);
	return found;
}

/* Legacy tables, device at DID 9 with TT 1 (device TLB); QI on. */
static void legacy_ats_at_did9(struct vtd_test_tables *t, uint64_t slpt)
{
	detach_fixture();
	vtd_test_legacy_ctx(t, ROOT, GUEST_SID, slpt | 1 | 1 << 2, 2 | 9 << 8);
	wr(VTD_REG_RTADDR, ROOT, 8);
	gcmd(0, VTD_GCMD_SRTP);
	gcmd(VTD_GCMD_TE, 0);
	ck_assert_uint_eq(dev.nattach, 1);
	ck_assert_uint_eq(dev.attach[0].did, 9);
	wr(VTD_REG_IQA, QBASE, 8);
	gcmd(VTD_GCMD_TE | VTD_GCMD_QIE, 0);
}

/*
 * The host flush of the attachment a context-cache invalidation removes
 * times out: ITE (ITESID = the guest SID), IQH stays on the CC, the wait
 * is not completed, and the device stays attached to its old domain, so
 * guest device-TLB invalidations still reach its ATC. No second
 * attachment takes PASID 0 meanwhile. Clearing ITE re-runs the CC: the
 * flush succeeds, the old domain goes, the new one comes.
 */
START_TEST(test_ite_in_detach_flush_keeps_attachment)
{
	struct vtd_test_tables t = { .vm = &vm, .next = 0x400000 };
	uint64_t slpt = vtd_test_page(&t);
	struct vtd_desc cc = cc_device(GUEST_SID), w = wait_sw(5, STATUS);
	struct vtd_desc dt = vtd_test_devtlb(GUEST_SID, 0x3000, 0);
	struct flush_result res = { 0 };
	struct simvtd_counters c0, c1;

	legacy_ats_at_did9(&t, slpt);
	ck_assert(in_store(9, 0));

	vtd_test_legacy_ctx(&t, ROOT, GUEST_SID, slpt | 1 | 1 << 2, 2 | 10 << 8);
	simvtd_inject_ite(host.sim, HOST_SID, 1);
	put(0, &cc, false);
	put(1, &w, false);
	tail(2, false);
	ck_assert(rd(VTD_REG_FSTS, 4) & VTD_FSTS_ITE);
	ck_assert_uint_eq(VTD_FIELD(rd(VTD_REG_IQER, 8), 47, 32), GUEST_SID);
	ck_assert_uint_eq(rd(VTD_REG_IQH, 8), 0);		/* on the CC */
	ck_assert_uint_eq(vtd_test_read32(&vm, STATUS), 0);
	ck_assert_uint_eq(dev.nattach, 1);
	ck_assert_uint_eq(dev.attach[0].did, 9);
	ck_assert(in_store(9, 0));
	ck_assert(!in_store(10, 0));

	/* A guest device-TLB invalidation still routes to the device's ATC. */
	ck_assert_int_eq(simvtd_atc_insert(host.sim, HOST_SID, 0, 0x3000), 0);
	ck_assert_int_eq(flush_engine_batch(host.fe, 0, &dt, 1, 1, &res), 0);
	ck_assert_int_eq(res.status, 0);
	ck_assert(!simvtd_atc_present(host.sim, HOST_SID, 0, 0x3000));

	/* Clearing ITE re-runs the CC; the injected timeout is used up. */
	ck_assert_int_eq(simvtd_atc_insert(host.sim, HOST_SID, 0, 0x5000), 0);
	simvtd_counters(host.sim, 0, &c0);
	wr(VTD_REG_FSTS, VTD_FSTS_ITE, 4);
	simvtd_counters(host.sim, 0, &c1);
	ck_assert_uint_gt(c1.desc[VTD_DESC_DEVTLB], c0.desc[VTD_DESC_DEVTLB]);
	ck_assert(!simvtd_atc_present(host.sim, HOST_SID, 0, 0x5000));
	ck_assert_uint_eq(rd(VTD_REG_IQH, 8), 2 * 16);
	ck_assert_uint_eq(dev.nattach, 1);
	ck_assert_uint_eq(dev.attach[0].did, 10);
	ck_assert(!in_store(9, 0));
	ck_assert(in_store(10, 0));
	/* The ITE aborted that wait, silently. */
	ck_assert_uint_eq(vtd_test_read32(&vm, STATUS), 0);
	ck_assert_uint_eq(rd(VTD_REG_FSTS, 4), 0);

	/* The guest resubmits: this wait completes. */
	put(2, &w, false);
	tail(3, false);
	ck_assert_uint_eq(vtd_test_read32(&vm, STATUS), 5);
	ck_assert_uint_eq(rd(VTD_REG_FSTS, 4), 0);
}
END_TEST

/*
 * Another host failure in that flush: ICE, the queue goes on past the CC,
 * the next wait is not completed, the old attachment stays (a guest
 * device-TLB invalidation through the queue still reaches the ATC), and
 * the next context-cache invalidation retries the move.
 */
START_TEST(test_ice_in_detach_flush_keeps_attachment)
{
	struct vtd_test_tables t = { .vm = &vm, .next = 0x400000 };
	uint64_t slpt = vtd_test_page(&t);
	struct vtd_desc cc = cc_device(GUEST_SID), w = wait_sw(5, STATUS);
	struct vtd_desc dt = vtd_test_devtlb(GUEST_SID, 0x3000, 0);

	legacy_ats_at_did9(&t, slpt);
	vtd_test_legacy_ctx(&t, ROOT, GUEST_SID, slpt | 1 | 1 << 2, 2 | 10 << 8);
	simvtd_inject_iqe(host.sim, 0, 1);
	put(0, &cc, false);
	put(1, &w, false);
	tail(2, false);
	ck_assert(rd(VTD_REG_FSTS, 4) & VTD_FSTS_ICE);
	ck_assert(!(rd(VTD_REG_FSTS, 4) & (VTD_FSTS_ITE | VTD_FSTS_IQE)));
	ck_assert_uint_eq(rd(VTD_REG_IQH, 8), 2 * 16);
	ck_assert_uint_eq(vtd_test_read32(&vm, STATUS), 0);
	ck_assert_uint_eq(dev.nattach, 1);
	ck_assert_uint_eq(dev.attach[0].did, 9);
	ck_assert(in_store(9, 0));
	ck_assert(!in_store(10, 0));
	wr(VTD_REG_FSTS, VTD_FSTS_ICE, 4);

	/* Still routed: the queue's device-TLB invalidation reaches the ATC. */
	ck_assert_int_eq(simvtd_atc_insert(host.sim, HOST_SID, 0, 0x3000), 0);
	put(2, &dt, false);
	put(3, &w, false);
	tail(4, false);
	ck_assert(!simvtd_atc_present(host.sim, HOST_SID, 0, 0x3000));
	ck_assert_uint_eq(vtd_test_read32(&vm, STATUS), 5);
	ck_assert_uint_eq(rd(VTD_REG_FSTS, 4), 0);

	/* The next CC retries, and succeeds. */
	vtd_test_write32(&vm, STATUS, 0);
	put(4, &cc, false);
	put(5, &w, false);
	tail(6, false);
	ck_assert_uint_eq(dev.nattach, 1);
	ck_assert_uint_eq(dev.attach[0].did, 10);
	ck_assert(!in_store(9, 0));
	ck_assert(in_store(10, 0));
	ck_assert_uint_eq(vtd_test_read32(&vm, STATUS), 5);
	ck_assert_uint_eq(rd(VTD_REG_FSTS, 4), 0);
}
END_TEST

/* A PASID-cache descriptor of granularity @gran. */
static struct vtd_desc pc_desc(enum vtd_pc_gran gran, uint16_t did, uint32_t pasid)
{
	struct vtd_desc d = { .type = VTD_DESC_PC };

	d.pc.gran = gran;
	d.pc.did = did;
	d.pc.pasid = pasid;
	return d;
}

static uint16_t attached_did(uint32_t pasid)
{
	for (size_t i = 0; i < dev.nattach; i++)
		if (dev.attach[i].pasid == pasid)
			return dev.attach[i].did;
	return 0xffff;
}

/*
 * PASID-cache descriptors through the queue honour their granularity:
 * PASID-selective moves that PASID only, domain-selective the PASIDs of
 * that DID, global everything; each wait completes.
 */
START_TEST(test_qi_pc_granularity)
{
	struct vtd_test_tables t = { .vm = &vm, .next = 0x400000 };
	uint64_t slpt = vtd_test_page(&t), pdir = vtd_test_page(&t);
	uint64_t pe[8] = { slpt | 1 | 2 << 2 | 2 << 6, 6 };
	struct vtd_desc w = wait_sw(1, STATUS);
	struct vtd_desc pc;

	detach_fixture();
	/* Scalable context: P, DTE, PASIDE, PDTS 0 (128 directory entries). */
	vtd_test_sm_ctx(&t, ROOT, GUEST_SID, pdir | 1 | 1 << 2 | 1 << 3, 0);
	vtd_test_pasid_entry(&t, pdir, 7, pe);
	vtd_test_pasid_entry(&t, pdir, 8, pe);
	pe[1] = 5;
	vtd_test_pasid_entry(&t, pdir, 0, pe);
	enable_qi(true, 0, true);
	gcmd(VTD_GCMD_QIE | VTD_GCMD_TE, 0);
	ck_assert_uint_eq(dev.nattach, 3);
	ck_assert_uint_eq(attached_did(0), 5);
	ck_assert_uint_eq(attached_did(7), 6);
	ck_assert_uint_eq(attached_did(8), 6);

	pe[1] = 10;
	vtd_test_pasid_entry(&t, pdir, 7, pe);
	vtd_test_pasid_entry(&t, pdir, 8, pe);
	pe[1] = 11;
	vtd_test_pasid_entry(&t, pdir, 0, pe);

	pc = pc_desc(VTD_PC_PASID, 6, 7);
	put(0, &pc, true);
	put(1, &w, true);
	tail(2, true);
	ck_assert_uint_eq(vtd_test_read32(&vm, STATUS), 1);
	ck_assert_uint_eq(attached_did(7), 10);
	ck_assert_uint_eq(attached_did(8), 6);
	ck_assert_uint_eq(attached_did(0), 5);
	ck_assert(in_store(10, 7) && in_store(6, 8) && !in_store(6, 7));

	pc = pc_desc(VTD_PC_DOMAIN, 6, 0);
	w.wait.status_data = 2;
	put(2, &pc, true);
	put(3, &w, true);
	tail(4, true);
	ck_assert_uint_eq(vtd_test_read32(&vm, STATUS), 2);
	ck_assert_uint_eq(attached_did(8), 10);
	ck_assert_uint_eq(attached_did(0), 5);

	pc = pc_desc(VTD_PC_GLOBAL, 0, 0);
	w.wait.status_data = 3;
	put(4, &pc, true);
	put(5, &w, true);
	tail(6, true);
	ck_assert_uint_eq(vtd_test_read32(&vm, STATUS), 3);
	ck_assert_uint_eq(attached_did(0), 11);
	ck_assert_uint_eq(dev.nattach, 3);
	ck_assert(!in_store(5, 0) && in_store(11, 0));
	ck_assert_uint_eq(rd(VTD_REG_FSTS, 4), 0);
}
END_TEST

/* From the register side (here: TE off) a failed flush is recorded as ICE. */
START_TEST(test_register_resync_failure_is_ice)
{
	struct vtd_test_tables t = { .vm = &vm, .next = 0x400000 };
	uint64_t slpt = vtd_test_page(&t);

	legacy_ats_at_did9(&t, slpt);
	simvtd_inject_ite(host.sim, HOST_SID, 1);
	gcmd(VTD_GCMD_QIE, 0);
	ck_assert(rd(VTD_REG_FSTS, 4) & VTD_FSTS_ICE);
	ck_assert(!(rd(VTD_REG_FSTS, 4) & VTD_FSTS_ITE));
	ck_assert_uint_eq(VTD_FIELD(rd(VTD_REG_IQER, 8), 63, 48), GUEST_SID);
	ck_assert_uint_eq(dev.nattach, 1);
	ck_assert(in_store(9, 0));
}
END_TEST

/* ---- fault recording ------------------------------------------------------------ */

static void fault(uint16_t sid, uint64_t addr, uint8_t reason)
{
	struct vtd_fault f = { .sid = sid, .addr = addr, .reason = reason };

	pthread_mutex_lock(&unit.lock);
	vtd_record_fault(&unit, &f);
	pthread_mutex_unlock(&unit.lock);
}

START_TEST(test_fault_recording)
{
	struct vtd_fault fp = {
		.sid = 0x10, .has_pasid = true, .pasid = 0x12345, .addr = 0xdead1234,
		.reason = VTD_FR_WRITE, .write = true,
	};
	uint64_t lo, hi;

	wr(VTD_REG_FEADDR, 0xfee00000, 4);
	wr(VTD_REG_FEDATA, 0x30, 4);
	wr(VTD_REG_FECTL, 0, 4);

	pthread_mutex_lock(&unit.lock);
	vtd_record_fault(&unit, &fp);
	pthread_mutex_unlock(&unit.lock);
	lo = rd(VTD_FRCD_OFFSET, 8);
	hi = rd(VTD_FRCD_OFFSET + 8, 8);
	ck_assert_uint_eq(lo, 0xdead1000);
	ck_assert(hi & VTD_BIT(63));			/* F */
	ck_assert(!(hi & VTD_BIT(62)));			/* T: write */
	ck_assert_uint_eq(VTD_FIELD(hi, 15, 0), 0x10);
	ck_assert_uint_eq(VTD_FIELD(hi, 39, 32), VTD_FR_WRITE);
	ck_assert(hi & VTD_BIT(31));			/* PP */
	ck_assert_uint_eq(VTD_FIELD(hi, 59, 40), 0x12345);
	ck_assert(rd(VTD_REG_FSTS, 4) & VTD_FSTS_PPF);
	ck_assert_uint_eq(VTD_FIELD(rd(VTD_REG_FSTS, 4), 15, 8), 0);
	ck_assert_uint_eq(nmsi, 1);
	ck_assert_uint_eq(msis[0].addr, 0xfee00000);
	ck_assert_uint_eq(msis[0].data, 0x30);

	for (unsigned int i = 1; i < VTD_NFR; i++)
		fault(0x20, 0x1000 * i, VTD_FR_READ);
	hi = rd(VTD_FRCD_OFFSET + 16 + 8, 8);
	ck_assert(hi & VTD_BIT(62));			/* T: read */
	ck_assert(!(hi & VTD_BIT(31)));
	ck_assert_uint_eq(nmsi, 1);			/* already pending: no new event */
	ck_assert(!(rd(VTD_REG_FSTS, 4) & VTD_FSTS_PFO));

	/* Ninth: every record is full. */
	fault(0x30, 0x9000, VTD_FR_READ);
	ck_assert(rd(VTD_REG_FSTS, 4) & VTD_FSTS_PFO);
	ck_assert_uint_eq(VTD_FIELD(rd(VTD_FRCD_OFFSET + 8, 8), 15, 0), 0x10);

	/* Free record 0 (W1C of F with a 32-bit write of the top dword), clear PFO. */
	wr(VTD_FRCD_OFFSET + 12, 1u << 31, 4);
	ck_assert(!(rd(VTD_FRCD_OFFSET + 8, 8) & VTD_BIT(63)));
	ck_assert(rd(VTD_REG_FSTS, 4) & VTD_FSTS_PPF);	/* seven still pending */
	wr(VTD_REG_FSTS, VTD_FSTS_PFO, 4);
	fault(0x40, 0xa000, VTD_FR_READ);
	ck_assert_uint_eq(VTD_FIELD(rd(VTD_FRCD_OFFSET + 8, 8), 15, 0), 0x40);
	ck_assert(!(rd(VTD_REG_FSTS, 4) & VTD_FSTS_PFO));

	/* Clear them all: PPF goes away; a new fault raises a new event. */
	for (unsigned int i = 0; i < VTD_NFR; i++)
		wr(VTD_FRCD_OFFSET + 16 * i + 8, VTD_BIT(63), 8);
	ck_assert_uint_eq(rd(VTD_REG_FSTS, 4) & (VTD_FSTS_PPF | VTD_FSTS_PFO), 0);
	fault(0x50, 0xb000, VTD_FR_READ);
	ck_assert_uint_eq(nmsi, 2);
	ck_assert_uint_eq(VTD_FIELD(rd(VTD_REG_FSTS, 4), 15, 8), 1);	/* FRI */
}
END_TEST

START_TEST(test_fault_masked_and_suppressed)
{
	struct vtd_fault f = { .sid = 1, .addr = 0x1000, .reason = VTD_FR_READ, .suppress = true };

	/* FECTL.IM is set at reset. */
	ck_assert(rd(VTD_REG_FECTL, 4) & VTD_ECTL_IM);
	pthread_mutex_lock(&unit.lock);
	vtd_record_fault(&unit, &f);
	pthread_mutex_unlock(&unit.lock);
	ck_assert_uint_eq(rd(VTD_REG_FSTS, 4), 0);
	ck_assert(!(rd(VTD_FRCD_OFFSET + 8, 8) & VTD_BIT(63)));

	fault(1, 0x1000, VTD_FR_READ);
	ck_assert(rd(VTD_REG_FECTL, 4) & VTD_ECTL_IP);
	ck_assert_uint_eq(nmsi, 0);
	wr(VTD_REG_FECTL, 0, 4);
	ck_assert_uint_eq(nmsi, 1);
	ck_assert(!(rd(VTD_REG_FECTL, 4) & VTD_ECTL_IP));

	/* Masked again, then the guest services the fault: IP is dropped. */
	wr(VTD_FRCD_OFFSET + 8, VTD_BIT(63), 8);
	wr(VTD_REG_FECTL, VTD_ECTL_IM, 4);
	fault(2, 0x2000, VTD_FR_READ);
	ck_assert(rd(VTD_REG_FECTL, 4) & VTD_ECTL_IP);
	wr(VTD_FRCD_OFFSET + 16 + 8, VTD_BIT(63), 8);
	ck_assert(!(rd(VTD_REG_FECTL, 4) & VTD_ECTL_IP));
	wr(VTD_REG_FECTL, 0, 4);
	ck_assert_uint_eq(nmsi, 1);
}
END_TEST

/* ---- register-based invalidation ---------------------------------------------- */

START_TEST(test_register_iotlb)
{
	uint64_t cmd = VTD_IOTLB_IVT | 3ULL << VTD_IOTLB_IIRG_SHIFT |
		       (uint64_t)DID_SL << VTD_IOTLB_DID_SHIFT;

	ck_assert_int_eq(simvtd_iotlb_insert(host.sim, 0, HDID_SL, 0, false, 0x4000), 0);
	ck_assert_int_eq(simvtd_iotlb_insert(host.sim, 0, HDID_SL, 0, false, 0x8000), 0);
	wr(VTD_IOTLB_OFFSET, 0x4000, 8);
	wr(VTD_IOTLB_OFFSET + 8, cmd, 8);
	ck_assert(!simvtd_iotlb_present(host.sim, 0, HDID_SL, 0, 0x4000));
	ck_assert(simvtd_iotlb_present(host.sim, 0, HDID_SL, 0, 0x8000));
	ck_assert(!(rd(VTD_IOTLB_OFFSET + 8, 8) & VTD_IOTLB_IVT));
	ck_assert_uint_eq(VTD_FIELD(rd(VTD_IOTLB_OFFSET + 8, 8), 58, 57), 3);

	/* Domain-selective, written as two dwords (low first, as 32-bit drivers do). */
	cmd = VTD_IOTLB_IVT | 2ULL << VTD_IOTLB_IIRG_SHIFT | (uint64_t)DID_SL << VTD_IOTLB_DID_SHIFT;
	wr(VTD_IOTLB_OFFSET + 8, (uint32_t)cmd, 4);
	ck_assert(simvtd_iotlb_present(host.sim, 0, HDID_SL, 0, 0x8000));
	wr(VTD_IOTLB_OFFSET + 12, cmd >> 32, 4);
	ck_assert(!simvtd_iotlb_present(host.sim, 0, HDID_SL, 0, 0x8000));
	ck_assert_uint_eq(VTD_FIELD(rd(VTD_IOTLB_OFFSET + 8, 8), 58, 57), 2);

	/* With QI on, register-based invalidation does nothing. */
	ck_assert_int_eq(simvtd_iotlb_insert(host.sim, 0, HDID_SL, 0, false, 0x4000), 0);
	enable_qi(false, 0, false);
	wr(VTD_IOTLB_OFFSET, 0x4000, 8);
	wr(VTD_IOTLB_OFFSET + 8, VTD_IOTLB_IVT | 3ULL << VTD_IOTLB_IIRG_SHIFT |
	   (uint64_t)DID_SL << VTD_IOTLB_DID_SHIFT, 8);
	ck_assert(simvtd_iotlb_present(host.sim, 0, HDID_SL, 0, 0x4000));
	ck_assert_uint_eq(VTD_FIELD(rd(VTD_IOTLB_OFFSET + 8, 8), 58, 57), 0);
}
END_TEST

START_TEST(test_register_ccmd)
{
	wr(VTD_REG_CCMD, VTD_CCMD_ICC | 1ULL << VTD_CCMD_CIRG_SHIFT, 8);
	ck_assert(!(rd(VTD_REG_CCMD, 8) & VTD_CCMD_ICC));
	ck_assert_uint_eq(VTD_FIELD(rd(VTD_REG_CCMD, 8), 60, 59), 1);
	wr(VTD_REG_CCMD, VTD_CCMD_ICC | 3ULL << VTD_CCMD_CIRG_SHIFT | (uint64_t)GUEST_SID << 16, 8);
	ck_assert_uint_eq(VTD_FIELD(rd(VTD_REG_CCMD, 8), 60, 59), 3);
}
END_TEST

/* ---- hostile accesses ----------------------------------------------------------- */

START_TEST(test_hostile_accesses)
{
	uint64_t before = unit.ignored_accesses;
	uint8_t data[8];

	ck_assert_uint_eq(rd(VTD_REG_CAP, 1), 0);
	ck_assert_uint_eq(rd(VTD_REG_CAP, 2), 0);
	ck_assert_uint_eq(rd(VTD_REG_GSTS + 2, 4), 0);	/* misaligned */
	ck_assert_uint_eq(rd(VTD_REG_GSTS, 8), 0);	/* 8 bytes at a 4-aligned offset */
	ck_assert_uint_eq(rd(0x800, 4), 0);		/* nothing there */
	wr(VTD_REG_GCMD, VTD_GCMD_TE, 2);
	wr(VTD_REG_GCMD + 1, VTD_GCMD_TE, 1);
	ck_assert_uint_eq(rd(VTD_REG_GSTS, 4), 0);
	ck_assert_uint_ge(unit.ignored_accesses - before, 7);
	/* A 3-byte access from a confused caller. */
	memset(data, 0xff, sizeof(data));
	ck_assert(bus_dispatch(&vm.mmio, REG(0x18), data, 3, false));
	ck_assert_uint_eq(data[0] | data[1] | data[2], 0);
}
END_TEST

/* Random writes everywhere, guest memory random too: nothing may crash. */
START_TEST(test_register_fuzz)
{
	static const unsigned int lens[] = { 1, 2, 4, 8 };
	uint8_t *ram = vm.mem[0].host;

	srand(1234);
	for (size_t i = 0; i < 1 << 20; i += 4) {
		uint32_t r = (uint32_t)rand();

		memcpy(ram + QBASE + (i % (1 << 19)), &r, 4);
	}
	for (unsigned int i = 0; i < 20000; i++) {
		unsigned int len = lens[rand() % 4];
		unsigned int off = (unsigned int)(rand() % 0x600);
		uint64_t val = (uint64_t)rand() << 33 ^ (uint64_t)rand() << 7 ^ (uint64_t)rand();

		if (rand() % 4 == 0)
			off = (unsigned int)(rand() % 0xc0) & ~3u;
		if (off / 8 * 8 == VTD_REG_IQA)
			val = (val & 0x7ff) | (rand() % 2 ? QBASE : (uint64_t)rand() << 12);
		if (rand() % 2)
			wr(off & ~(len - 1), val, len);
		else
			(void)rd(off & ~(len - 1), len);
	}
	/* Still a consistent unit: IQH inside the queue, aligned. */
	ck_assert_uint_lt(unit.iqh, VTD_PAGE_SIZE << VTD_IQA_QS(unit.iqa));
	ck_assert_uint_eq(unit.iqh & 0xf, 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("vtd_unit");
	TCase *tc;

	tc = tcase_create("registers");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_caps);
	tcase_add_test(tc, test_gcmd);
	tcase_add_test(tc, test_qie_disable_needs_empty_queue);
	tcase_add_test(tc, test_register_iotlb);
	tcase_add_test(tc, test_register_ccmd);
	tcase_add_test(tc, test_hostile_accesses);
	tcase_add_test(tc, test_register_fuzz);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tc = tcase_create("queue");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_qi_piotlb_wait_status);
	tcase_add_test(tc, test_qi_wait_interrupt);
	tcase_add_test(tc, test_qi_batch_one_submission);
	tcase_add_test(tc, test_qi_wraps);
	tcase_add_test(tc, test_iqe_bad_type_then_resume);
	tcase_add_test(tc, test_iqe_reserved_bit);
	tcase_add_test(tc, test_iqe_tail_beyond_queue);
	tcase_add_test(tc, test_iqe_tail_misaligned_wide);
	tcase_add_test(tc, test_iqe_queue_outside_ram);
	tcase_add_test(tc, test_iqe_status_outside_ram);
	tcase_add_test(tc, test_iqe_unsupported);
	tcase_add_test(tc, test_ite);
	tcase_add_test(tc, test_ite_before_cc_keeps_head_on_cc);
	tcase_add_test(tc, test_ice_before_cc_fails_next_wait);
	tcase_add_test(tc, test_ice_batch_full_fails_wait);
	tcase_add_test(tc, test_ite_in_detach_flush_keeps_attachment);
	tcase_add_test(tc, test_ice_in_detach_flush_keeps_attachment);
	tcase_add_test(tc, test_register_resync_failure_is_ice);
	tcase_add_test(tc, test_qi_pc_granularity);
	suite_add_tcase(s, tc);

	tc = tcase_create("faults");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_fault_recording);
	tcase_add_test(tc, test_fault_masked_and_suppressed);
	suite_add_tcase(s, tc);

	return check_run(s);
}
