// SPDX-License-Identifier: MIT
/*
 * libFuzzer target on what a hostile guest reaches of the emulated VT-d:
 * two vIOMMUs whose four DMA engines sit on two simulated host units they
 * share, a small guest RAM holding their queues, root/context/PASID
 * tables and page tables, and an input that is a program of guest steps:
 *
 *   MMIO of any size at any offset (straddling included), GCMD sequences,
 *   IQT writes, FSTS write-1-to-clear, every register at its size; raw
 *   and templated descriptors; stores to guest RAM between steps (tables,
 *   queue, status words), and changes to the very entries a device's
 *   translation goes through (bits flipped, large-page leaves);
 *   seeded valid setups (legacy second stage, scalable first stage,
 *   second stage, nested, pass-through); DMA from any device, with or
 *   without PASID, at any IOVA; the DMA engines' own registers; bus
 *   master, ATS and PASID toggles; worker steps; synchronous resyncs (the
 *   entry points setup and the tests use);
 *   host failures (device-TLB timeouts, host IQE); a VFIO device behind
 *   vIOMMU 1 on the unit tests' fake host (nested HWPTs, iommufd calls),
 *   its tables set up like the others' and its host calls made to fail,
 *   on a host the input's last byte may make lacking or failing, whose
 *   unit has page requests and a fault queue (pt-fault.c): host page
 *   fault groups with any fields (the device's PASIDs mostly), read and
 *   forwarded into vIOMMU 1's page request queue, and the guest's
 *   responses for the device;
 *   page requests (prq.c): device 0 has PRI, so its copies over pages the
 *   tables lack become page requests; requests made directly with any
 *   fields; the queue's registers (PQH, PQT, PQA, PRS, PECTL, PEDATA,
 *   PEADDR, PEUADDR) set up as Linux does or written with anything; the
 *   queue serviced as a driver does (page group responses, type 9, in the
 *   invalidation queue) and responses with any fields. Every IQT write is
 *   recorded by a guest trace (--guest-trace) into a memfd, capped small.
 *
 * Oracles beyond the sanitizers (each aborts):
 *   - after a full flush and a completed wait on a unit, the host IOTLBs
 *     hold nothing of that unit's domains: DMA will walk afresh;
 *   - every host invalidation a unit's step causes names that unit's host
 *     DIDs only (the flush trace, read back after each step; one thread);
 *   - once translation is off and the unit's work is done (and no host
 *     flush failed in this input), the tag store holds none of its domains;
 *   - the host caches stay within SIM_CACHE_CAPACITY;
 *   - no step does more than its budget (FUZZ_BUDGET units, counted with
 *     the overshoot, u->work_spent) plus one step's documented overshoot;
 *     libFuzzer's -timeout is the time limit per input;
 *   - PQH and PQT stay within their register fields; a page request is
 *     queued exactly when PRO is clear and the queue has a free slot in
 *     guest RAM (then it is in that slot, PQT moved one slot on, PPR set),
 *     else dropped with PRO set (PRO newly set only on a full queue);
 *     taken (queued or dropped) only with a PASID, PRS, translation on in
 *     scalable mode and PRE in the RID's present context entry, and
 *     changing nothing when refused; and between the
 *     guest's own writes of the queue registers, PQT moves by exactly one
 *     slot per request the unit counts as queued, and a dropped one
 *     leaves PRO set (no request lost without PRO);
 *   - the guest trace stays under its cap plus one submission, and never
 *     grows once it stopped there;
 *   - every answer written to the host's fault queue names a group the
 *     host reported and nobody answered yet, with SUCCESS or INVALID only
 *     (iommufd takes no other code).
 *
 * Each input starts from a fresh machine. The unit workers are off
 * (worker_off): the input steps the work itself, so a run is
 * deterministic. The two-thread variant (FUZZ_VIOMMU_THREADS=1, the
 * default of fuzz_viommu_tsan, built with ThreadSanitizer) runs the input's
 * DMA steps in a second thread against the MMIO of the first, with unit
 * 0's real worker thread on as well; there DMA may refill the IOTLB at
 * any time, so the oracle on it after a full flush is left out.
 *
 * Past 800 lines on purpose: the machine, the step interpreter and the
 * oracles read one shared state per input; split, each would export it.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hostvtd/flush.h"
#include "hostvtd/flushtrace.h"
#include "hostvtd/simvtd-cache.h"
#include "hostvtd/simvtd.h"
#include "hostvtd/tagstore.h"
#include "viommu/guest-trace.h"
#include "viommu/simdev-regs.h"
#include "viommu/simdev.h"
#include "viommu/viommu-priv.h"
#include "vmm/bus.h"
#include "vmm/kvm.h"
#include "vmm/machine.h"
#include "vmm/pci.h"
#include "vtd/desc.h"
#include "vtd/regs.h"
#include "viommu/passthrough.h"
#include "vmm/vfio.h"
/*
 * The recording fake host of the unit tests: one VFIO device on it. Its two
 * checks abort here, without the Check runner they would report to.
 */
#include <check.h>
#undef ck_assert_ptr_nonnull
#undef ck_assert_int_lt
#define ck_assert_ptr_nonnull(p)	((p) ? (void)0 : abort())
#define ck_assert_int_lt(a, b)		((a) < (b) ? (void)0 : abort())
#include "tests/unit/fake_vfio_host.h"
#include "fuzz/fake_vtd_hw_info.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RAM_SIZE	0x40000ULL	/* 256 KiB at GPA 0: cleared for every input */
#define NUNITS		2
#define NDEVS		4
#define MAX_STEPS	256		/* operations per input */
#define MAX_DRAIN	256		/* worker steps to finish a unit's work */
#define MAX_WORK_STEPS	256		/* worker steps per input: well inside -timeout */
/*
 * Units per step. Less than VTD_WORK_BUDGET, so that work spans steps
 * after a few hundred table reads rather than 16384: the same code paths
 * (a step ending mid-walk, mid-queue, mid-device) at a fraction of the
 * cost per input. check_vtd_bounded runs the real budget.
 */
#define FUZZ_BUDGET	128
#define STEP_SLACK	(64 + 64 + 4 + VTD_MAX_BATCH)	/* one step's overshoot */
#define ROOT(k)		(0x1000ULL + (k) * 0x1000)
#define QUEUE(k)	(0x3000ULL + (k) * 0x1000)	/* one page: QS 0 */
#define STATUS(k)	(0x5000ULL + (k) * 0x100)
#define POOL		0x6000ULL			/* table pages from here */
#define POOL_END	0x27000ULL
#define BIG_TABLE	0x27000ULL	/* 64 present, invalid PASID entries */
#define BIG_DIR		0x28000ULL	/* 2^7 directory entries (PDTS 0), all aimed at BIG_TABLE */
#define BIG_PDTS	0
#define PRQ(k)		(0x29000ULL + (k) * 0x1000)	/* page request queues: PQS 0, 128 slots */
#define PRQ_SLOTS	128
#define DATA		0x30000ULL			/* 16 data pages up to the end of RAM */
#define DATA_PAGES	16
#define PRI_DEV		0	/* dev_cfg[0] (ATS, PASID) also has PRI */
#define GTRACE_MAX	(16u << 10)	/* the guest trace's cap: reached by a few inputs */
/* One submission's worst case past the cap: a 512 KiB queue of 16-byte descriptors. */
#define GTRACE_SLACK	((512u << 10) / 16 * 128 + 4096)

/*
 * A VFIO device on the fake host (tests/unit/fake_vfio_host.h) behind
 * vIOMMU 1: its guest tables become nested HWPTs and iommufd calls
 * (passthrough.c), which the input can make fail.
 */
#define VFIO_BDF	"0000:3b:00.0"
#define VFIO_SID	(0x11 << 3)	/* its guest slot, 00:11.0 */
#define VFIO_UNIT	1
#define VFIO_VM_FD	(FAKE_FIRST_FD + 63)
#define FAULT_ID	0x77		/* the host unit's fault queue object */
#define MAX_COOKIES	(4 * MAX_STEPS + 1)	/* host fault groups per input: cookies 1.. */

/* Device d: guest SID, behind vIOMMU, on host unit; ATS, PASID. */
static const struct {
	uint16_t sid;
	unsigned int viommu, host_unit;
	bool ats, pasid;
} dev_cfg[NDEVS] = {
	{ 0x08, 0, 0, true, true },
	{ 0x10, 0, 1, false, false },
	{ 0x18, 1, 0, true, false },
	{ 0x20, 1, 1, false, true },
};

struct reader {
	const uint8_t *p;
	size_t n;
};

static uint64_t take(struct reader *r, unsigned int bytes)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < bytes; i++) {
		v |= (uint64_t)(r->n ? *r->p : 0) << (8 * i);
		if (r->n) {
			r->p++;
			r->n--;
		}
	}
	return v;
}

#ifndef FUZZ_VIOMMU_THREADS_DEFAULT
#define FUZZ_VIOMMU_THREADS_DEFAULT 0
#endif
static int threads = -1;	/* the two-thread variant */

static struct machine_state {
	struct vm vm;
	void *ram;
	struct simvtd *sim;
	struct tag_store *ts;
	struct flush_engine *fe;
	struct flush_trace *trace;
	FILE *trace_file;
	char *trace_buf;
	size_t trace_len, trace_seen;
	struct viommu units[NUNITS];
	struct viommu_dev vdevs[NDEVS];
	struct simdev *sims[NDEVS];
	uint64_t pool;
	unsigned int steps_left;
	bool big_built;		/* the expensive directory is in RAM */
	bool host_failed;	/* a host flush failure was injected this input */
	uint32_t full_flushes;	/* full_flush() calls this input: each wait's status value */
	struct viommu_dev vfio_dev;
	struct viommu_pt_host *pt;
	bool pt_report;		/* print the iommufd statistics at the end */
	/* The host unit's fault queue, and each group's state: 0 none, 1 reported, 2 answered. */
	int fault_fd;
	uint32_t next_cookie;
	uint8_t cookie_state[MAX_COOKIES];
	/*
	 * The units whose devices this op started or resumed DMA on: a DMA
	 * may make its unit sync and flush (vtd_sync_miss(), CAP.CM clear).
	 */
	unsigned int op_units;
	/* Page requests: the queue registers the guest wrote during this op. */
	bool prq_written[NUNITS];
	/* --guest-trace into a memfd (one per process, truncated per input). */
	int gtrace_fd;
	struct guest_trace *gtrace;
	off_t gtrace_stopped;	/* its size once it reached GTRACE_MAX; 0 before */
} m = { .gtrace_fd = -1 };

static int no_msi(struct vm *vm, uint64_t address, uint32_t data)
{
	(void)vm;
	(void)address;
	(void)data;
	return 0;
}

/* Device @d's DMA ran in this op (check_trace(); one thread: the DMA thread's ops are not counted). */
static void note_unit_of(unsigned int d)
{
	if (!threads)
		m.op_units |= 1u << dev_cfg[d].viommu;
}

static void die(const char *what)
{
	fprintf(stderr, "fuzz_viommu: oracle failed: %s\n", what);
	abort();
}

/*
 * The VFIO device assigned (vfio_setup()) and put behind vIOMMU VFIO_UNIT,
 * on a host unit with page requests (a fault queue, fault_fd) that lacks
 * what @lacks says (script_hw_info(), 1-4), or whose kernel refuses PASID
 * attach and fault queues (5), or fails the nest parent (6, 7) or the
 * hardware info (8); 9 prints the iommufd statistics at the end.
 * A host that refuses the device leaves the input to run without it.
 */
static void vfio_machine_init(unsigned int lacks)
{
	const char *bdfs[1] = { VFIO_BDF };
	size_t used = 0;
	char err[512];

	fake_vfio_host_init();
	/* Two threads: the fault reader (pt-fault.c) calls the fake too. */
	if (threads)
		fake_vfio_lock_ops();
	fake_hostops_ioctl_ids(fake, IOMMU_HWPT_ALLOC, offsetof(struct iommu_hwpt_alloc, out_hwpt_id),
			       0x100);
	host_with_device(VFIO_BDF, 17, "vfio0");
	fake_hostops_add_node(fake, "/dev/kvm-vm");
	fake->next_fd = VFIO_VM_FD;
	m.vm.vm_fd = fake->ops.open(fake, "/dev/kvm-vm", O_RDWR);
	fake->next_fd = FAKE_FIRST_FD;
	script_ok(VFIO_DEVICE_GET_INFO);
	if (vfio_setup(&m.vm, bdfs, 1, &ops, err, sizeof(err))) {
		fprintf(stderr, "fuzz_viommu: vfio_setup: %s\n", err);
		abort();
	}
	fake_hostops_clear_calls(fake);
	if (lacks == 8)
		fake_hostops_fail_ioctl(fake, IOMMU_GET_HW_INFO, EIO);
	else
		script_hw_info_with(lacks <= 4 ? lacks : 0, VTD_ECAP_PRS | VTD_ECAP_PDS);
	fake_hostops_add_node(fake, "/dev/fault-queue");
	m.fault_fd = fake->ops.open(fake, "/dev/fault-queue", O_RDWR);
	fake_hostops_arg_sized(fake, IOMMU_FAULT_QUEUE_ALLOC);
	if (lacks == 5) {	/* a kernel without PASID attach has no fault queues either */
		fake_hostops_fail_ioctl(fake, IOMMU_FAULT_QUEUE_ALLOC, EOPNOTSUPP);
	} else {
		struct fake_ioctl_result fr = { .out_off = offsetof(struct iommu_fault_alloc, out_fault_id),
						.out_len = 8 };
		uint32_t out[2] = { FAULT_ID, (uint32_t)m.fault_fd };

		memcpy(fr.out, out, sizeof(out));
		fake_hostops_script_ioctl(fake, IOMMU_FAULT_QUEUE_ALLOC, &fr);
	}
	m.next_cookie = 1;
	memset(m.cookie_state, 0, sizeof(m.cookie_state));
	if (lacks == 5 || lacks == 7)
		fake_hostops_fail_ioctl(fake, IOMMU_HWPT_ALLOC, EOPNOTSUPP);
	if (lacks == 6 || lacks == 7)
		fake_hostops_fail_ioctl(fake, IOMMU_HWPT_ALLOC, EIO);
	memset(&m.vfio_dev, 0, sizeof(m.vfio_dev));
	m.pt = NULL;
	m.pt_report = lacks == 9;
	if (viommu_pt_setup(&m.vm, &m.units[VFIO_UNIT], 1, NULL, &m.vfio_dev, 1, &used, &m.pt, err,
			    sizeof(err)) != 0 && lacks != 4 && lacks != 6 && lacks != 7 && lacks != 8) {
		fprintf(stderr, "fuzz_viommu: viommu_pt_setup: %s\n", err);
		abort();
	}
	/* One thread: the harness polls the fault queue itself (fault_op()). */
	if (!threads)
		viommu_pt_fault_reader_off(m.pt);
	fake_hostops_clear_calls(fake);	/* check_fault_answers() sees each op's calls */
}

/*
 * The guest trace of every input goes to one memfd (opened by path, as
 * --guest-trace FILE is, which truncates it), capped at GTRACE_MAX.
 */
static void guest_trace_init(void)
{
	char path[64];

	if (m.gtrace_fd < 0 && (m.gtrace_fd = memfd_create("fuzz-viommu-guest-trace", 0)) < 0)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", m.gtrace_fd);
	m.gtrace = guest_trace_open(path);
	if (!m.gtrace)
		abort();
	guest_trace_set_max_bytes(m.gtrace, GTRACE_MAX);
	m.gtrace_stopped = 0;
}

static void fuzz_machine_init(unsigned int host_lacks)
{
	struct simvtd_config cfg = { .units = 2, .mem_size = 64 << 10 };
	struct plan_options opt = { 0 };
	char err[256];

	if (!m.ram && !(m.ram = aligned_alloc(4096, RAM_SIZE)))
		abort();
	memset(m.ram, 0, RAM_SIZE);
	memset(&m.vm, 0, sizeof(m.vm));
	m.vm.kvm_fd = m.vm.vm_fd = -1;
	m.vm.console_in = m.vm.console_out = -1;
	m.vm.nmem = 1;
	m.vm.mem[0] = (struct mem_region){ .gpa = 0, .size = RAM_SIZE, .host = m.ram };
	m.vm.machine.ram_size = RAM_SIZE;
	pthread_mutex_init(&m.vm.stop_lock, NULL);
	if (bus_init(&m.vm.pio, "pio") || bus_init(&m.vm.mmio, "mmio") ||
	    pci_host_bridge_init(&m.vm, err, sizeof(err)))
		abort();
	pci_signal_msi = no_msi;

	m.trace_buf = NULL;
	m.trace_len = m.trace_seen = 0;
	m.trace_file = open_memstream(&m.trace_buf, &m.trace_len);
	m.trace = m.trace_file ? flush_trace_stream(m.trace_file, FLUSH_TRACE_TEXT) : NULL;
	m.sim = simvtd_new(&cfg);
	m.ts = tag_store_new();
	m.fe = m.sim && m.ts ? flush_engine_new(m.ts, m.trace, &opt) : NULL;
	if (!m.trace || !m.fe)
		abort();
	guest_trace_init();
	for (unsigned int k = 0; k < NUNITS; k++) {
		struct viommu *u = &m.units[k];

		if (viommu_unit_init(u, &m.vm, k, k == 1, err, sizeof(err)))
			abort();
		u->ts = m.ts;
		u->fe = m.fe;
		u->signal_msi = no_msi;
		u->worker_off = !(threads && k == 0);
		u->work_budget = FUZZ_BUDGET;
		u->guest_trace = m.gtrace;
		m.prq_written[k] = false;
	}
	for (unsigned int d = 0; d < NDEVS; d++) {
		struct viommu_dev *vd = &m.vdevs[d];
		struct viommu *u = &m.units[dev_cfg[d].viommu];
		struct pci_device *pci;

		memset(vd, 0, sizeof(*vd));
		vd->unit = u;
		vd->guest_sid = dev_cfg[d].sid;
		vd->host.sid = (uint16_t)(0x300 + d);
		vd->host.ats = dev_cfg[d].ats;
		host_device_name(vd->host.sid, vd->host.name);
		vd->host.unit = simvtd_unit(m.sim, dev_cfg[d].host_unit);
		u->devs[u->ndevs++] = vd;
		m.sims[d] = simdev_create(&m.vm, vd, m.sim, dev_cfg[d].ats, dev_cfg[d].pasid,
					  dev_cfg[d].sid, err, sizeof(err));
		if (!m.sims[d])
			abort();
		vd->simdev = m.sims[d];
		if (d == PRI_DEV && simdev_add_pri(m.sims[d], err, sizeof(err)))
			abort();
		pci = simdev_pci(m.sims[d]);
		pci_device_config_write(pci, 0x04, 2, 0x0006);	/* memory, bus master */
	}
	vfio_machine_init(host_lacks);
	m.pool = POOL;
	m.steps_left = MAX_WORK_STEPS;
	m.big_built = false;
	m.host_failed = false;
	m.full_flushes = 0;
}

static void fuzz_machine_exit(void)
{
	for (unsigned int k = 0; k < NUNITS; k++)
		vtd_work_stop(&m.units[k]);
	for (unsigned int d = 0; d < NDEVS; d++)
		simdev_free(m.sims[d]);
	if (m.pt_report)
		viommu_pt_report(m.pt);
	viommu_pt_teardown(m.pt);
	for (unsigned int k = 0; k < NUNITS; k++)
		viommu_unit_exit(&m.units[k]);
	if (guest_trace_close(m.gtrace))
		die("writing the guest trace failed");
	vfio_teardown(&m.vm);
	fake->ops.close(fake, m.vm.vm_fd);
	fake_hostops_free(fake);
	fake = NULL;
	flush_engine_free(m.fe);
	flush_trace_close(m.trace);
	fclose(m.trace_file);
	free(m.trace_buf);
	tag_store_free(m.ts);
	simvtd_free(m.sim);
	pci_host_bridge_exit(&m.vm);
	bus_destroy(&m.vm.pio);
	bus_destroy(&m.vm.mmio);
	pthread_mutex_destroy(&m.vm.stop_lock);
}

/* ---- guest helpers ---- */

/*
 * The harness is the guest: its stores to guest RAM race with the DMA and
 * the unit by design (a guest may race its own device). Under TSan they
 * are left out, so what it reports is the VMM's own state.
 */
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define GUEST_TSAN 1
#endif
#endif
#ifdef GUEST_TSAN
void AnnotateIgnoreReadsBegin(const char *file, int line);
void AnnotateIgnoreReadsEnd(const char *file, int line);
void AnnotateIgnoreWritesBegin(const char *file, int line);
void AnnotateIgnoreWritesEnd(const char *file, int line);
#define GUEST_BEGIN() (AnnotateIgnoreReadsBegin(__FILE__, __LINE__), \
		       AnnotateIgnoreWritesBegin(__FILE__, __LINE__))
#define GUEST_END() (AnnotateIgnoreWritesEnd(__FILE__, __LINE__), \
		     AnnotateIgnoreReadsEnd(__FILE__, __LINE__))
#else
#define GUEST_BEGIN() ((void)0)
#define GUEST_END() ((void)0)
#endif

static void put64(uint64_t gpa, uint64_t v)
{
	void *p = vm_gpa(&m.vm, gpa, 8);

	GUEST_BEGIN();
	if (p)
		memcpy(p, &v, 8);
	GUEST_END();
}

static uint64_t get64(uint64_t gpa)
{
	uint64_t v = 0;
	void *p = vm_gpa(&m.vm, gpa, 8);

	GUEST_BEGIN();
	if (p)
		memcpy(&v, p, 8);
	GUEST_END();
	return v;
}

static void put_bytes(uint64_t gpa, const void *src, size_t n)
{
	void *p = vm_gpa(&m.vm, gpa, n);

	GUEST_BEGIN();
	if (p)
		memcpy(p, src, n);
	GUEST_END();
}

static uint64_t page(void)
{
	uint64_t p = m.pool;

	if (p >= POOL_END)
		return POOL_END - 0x1000;	/* out of pages: reuse the last (tables alias) */
	m.pool += 0x1000;
	GUEST_BEGIN();
	memset(vm_gpa(&m.vm, p, 0x1000), 0, 0x1000);
	GUEST_END();
	return p;
}

static void mmio_write(unsigned int k, unsigned int off, uint64_t val, unsigned int len)
{
	uint8_t buf[8];

	memcpy(buf, &val, sizeof(buf));
	if (k < NUNITS && off < VTD_REG_PEUADDR + 4 && off + len > VTD_REG_PQH)
		m.prq_written[k] = true;	/* the PRQ oracle leaves the guest's own writes out */
	bus_dispatch(&m.vm.mmio, MACHINE_VTD_BASE + (uint64_t)k * VTD_REG_SIZE + off, buf, len,
		     true);
}

static uint64_t mmio_read(unsigned int k, unsigned int off, unsigned int len)
{
	uint8_t buf[8] = { 0 };
	uint64_t v = 0;

	bus_dispatch(&m.vm.mmio, MACHINE_VTD_BASE + (uint64_t)k * VTD_REG_SIZE + off, buf, len,
		     false);
	memcpy(&v, buf, len < 8 ? len : 8);
	return v;
}

/* The entry at @at points at a table (made present with @bits when absent). */
static uint64_t table_at(uint64_t at, uint64_t bits)
{
	uint64_t e = get64(at);

	if (!(e & 3)) {
		e = page() | bits;
		put64(at, e);
	}
	return e & 0xffffffffff000ULL;
}

/* Map @iova to @gpa (4 KiB) in a 4-level table at @root with @leaf and @table bits. */
static void map4(uint64_t root, uint64_t iova, uint64_t gpa, uint64_t leaf, uint64_t table)
{
	uint64_t t = root;

	for (unsigned int level = 4; level > 1; level--)
		t = table_at(t + ((iova >> (12 + 9 * (level - 1))) & 511) * 8, table);
	put64(t + ((iova >> 12) & 511) * 8, (gpa & ~0xfffULL) | leaf);
}

/* A valid queue write of @d at the unit's tail, and the IQT write. */
static void queue_desc(unsigned int k, const struct vtd_desc *d)
{
	struct viommu *u = &m.units[k];
	struct vtd_raw_desc raw;
	bool wide;
	uint64_t tail, dsize;

	pthread_mutex_lock(&u->lock);
	wide = u->iqa & VTD_IQA_DW;
	tail = u->iqt & VTD_IQ_OFFSET_MASK;
	pthread_mutex_unlock(&u->lock);
	dsize = wide ? 32 : 16;
	vtd_desc_encode(d, &raw);
	if (tail + dsize <= 0x1000) {
		put_bytes(QUEUE(k) + tail, raw.qw, dsize);
		mmio_write(k, VTD_REG_IQT, (tail + dsize) % 0x1000, 8);
	}
}

/* ---- oracles ---- */

static void check_bounds(void)
{
	for (unsigned int h = 0; h < 2; h++)
		if (simvtd_iotlb_entries(m.sim, h) > SIM_CACHE_CAPACITY)
			die("host IOTLB beyond its capacity");
	for (unsigned int d = 0; d < NDEVS; d++)
		if (simvtd_atc_entries(m.sim, m.vdevs[d].host.sid) > SIM_CACHE_CAPACITY)
			die("ATC beyond its capacity");
	for (unsigned int k = 0; k < NUNITS; k++) {
		struct viommu *u = &m.units[k];
		uint64_t max;

		pthread_mutex_lock(&u->lock);
		max = u->work_max_exit;
		pthread_mutex_unlock(&u->lock);
		if (max > FUZZ_BUDGET + STEP_SLACK)
			die("one step did more than its budget");
	}
}

/*
 * The host invalidations since the last look came from unit @k: each
 * "did N" names one of its host DIDs (vtd_host_did(): k * 0x4000 + DID),
 * or one of a unit whose device's DMA this op started (m.op_units).
 */
static void check_trace(unsigned int k)
{
	const char *p;

	/*
	 * Two threads: unit 0's worker writes the trace whenever it runs, and
	 * the memstream's buffer cannot be read safely beside it (glibc's
	 * stream lock is not one ThreadSanitizer sees). The one-thread mode
	 * checks this.
	 */
	if (threads)
		return;
	fflush(m.trace_file);
	if (!m.trace_buf || m.trace_len <= m.trace_seen)
		return;
	p = m.trace_buf + m.trace_seen;
	while ((p = strstr(p, " did ")) != NULL) {
		unsigned long did = strtoul(p + 5, NULL, 0);

		if (did / 0x4000 != k && !(did / 0x4000 < NUNITS && m.op_units & 1u << (did / 0x4000)))
			die("a host invalidation named another unit's DID");
		p += 5;
	}
	m.trace_seen = m.trace_len;
}

static void visit(const struct tag_domain *d, void *arg)
{
	(void)d;
	(*(size_t *)arg)++;
}

/* One worker step of unit @k, within the input's allowance; returns whether work is left. */
static bool step(unsigned int k)
{
	if (!m.steps_left)
		return true;
	m.steps_left--;
	return vtd_work_step(&m.units[k]);
}

/* Run unit @k's work to the end (bounded); returns whether it ended. */
static bool drain(unsigned int k)
{
	for (unsigned int i = 0; i < MAX_DRAIN && m.steps_left; i++) {
		bool more = step(k);

		check_trace(k);
		if (!more)
			return true;
	}
	return false;
}

/* Translation off and the work done: none of the unit's domains stay in the store. */
static void check_te_off(unsigned int k)
{
	struct viommu *u = &m.units[k];
	size_t n = 0;
	bool te;

	if (m.host_failed)
		return;
	pthread_mutex_lock(&u->lock);
	te = u->gsts & VTD_GCMD_TE;
	pthread_mutex_unlock(&u->lock);
	if (te)
		return;
	tag_store_each_domain(m.ts, (uint16_t)k, true, 0, visit, &n);
	if (n)
		die("tag store not empty with translation off");
}

/*
 * A full flush of unit @k as a driver does it, with a wait; when the wait
 * completes cleanly, nothing of the unit's domains is left in the host
 * IOTLBs: the next DMA walks the tables as they are now.
 */
static void full_flush(unsigned int k)
{
	struct viommu *u = &m.units[k];
	struct vtd_desc d;
	uint32_t seq = 0x5eed0000u + ++m.full_flushes;	/* never a value an earlier wait wrote */
	bool scalable, ok;
	uint32_t fsts_before, fsts_after;

	pthread_mutex_lock(&u->lock);
	scalable = VTD_FIELD(u->rtaddr_active, 11, 10) == 1 && (u->iqa & VTD_IQA_DW);
	ok = (u->gsts & VTD_GCMD_QIE) && !(u->fsts & (VTD_FSTS_IQE | VTD_FSTS_ITE)) &&
	     ((u->iqa & ~0xfffULL) == QUEUE(k)) && VTD_IQA_QS(u->iqa) == 0;
	fsts_before = u->fsts;
	pthread_mutex_unlock(&u->lock);
	if (!ok || !drain(k))
		return;
	/* Only this wait can now write the word (the queue is empty up to here). */
	put_bytes(STATUS(k), &(uint32_t){ 0 }, 4);
	memset(&d, 0, sizeof(d));
	d.type = VTD_DESC_CC;
	d.cc.gran = VTD_CC_GLOBAL;
	queue_desc(k, &d);
	if (scalable) {
		memset(&d, 0, sizeof(d));
		d.type = VTD_DESC_PC;
		d.pc.gran = VTD_PC_GLOBAL;
		queue_desc(k, &d);
		memset(&d, 0, sizeof(d));
		d.type = VTD_DESC_PIOTLB;
		d.piotlb.gran = VTD_PIOTLB_PASID;
		/* one per DID would be needed; the global IOTLB below covers every DID */
	}
	memset(&d, 0, sizeof(d));
	d.type = VTD_DESC_IOTLB;
	d.iotlb.gran = VTD_IOTLB_GLOBAL;
	queue_desc(k, &d);
	memset(&d, 0, sizeof(d));
	d.type = VTD_DESC_WAIT;
	d.wait.sw = true;
	d.wait.status_addr = STATUS(k);
	d.wait.status_data = seq;
	queue_desc(k, &d);
	check_trace(k);
	if (!drain(k))
		return;
	pthread_mutex_lock(&u->lock);
	fsts_after = u->fsts;
	pthread_mutex_unlock(&u->lock);
	if (threads || (uint32_t)get64(STATUS(k)) != seq ||
	    ((fsts_after & ~fsts_before) & (VTD_FSTS_IQE | VTD_FSTS_ITE | VTD_FSTS_ICE)))
		return;
	for (unsigned int h = 0; h < 2; h++)
		if (simvtd_iotlb_entries_in(m.sim, h, (uint16_t)(k * 0x4000),
					    (uint16_t)(k * 0x4000 + 0x3fff)))
			die("a completed wait after a global flush left host IOTLB entries");
}

/* ---- seeded setups ---- */

enum setup_kind { SETUP_LEGACY, SETUP_SM_FL, SETUP_SM_SL, SETUP_SM_NESTED, SETUP_SM_PT, NSETUPS };

/* Identity-ish mappings of IOVA pages 0..7 onto data pages, read-write. */
static void map_data(uint64_t root, bool first_stage, unsigned int salt)
{
	for (unsigned int i = 0; i < 8; i++) {
		uint64_t gpa = DATA + (uint64_t)((i + salt) % DATA_PAGES) * 0x1000;

		if (first_stage)
			map4(root, (uint64_t)i << 12, gpa, 0x7, 0x7);		/* P, RW, US */
		else
			map4(root, (uint64_t)i << 12, gpa, 0x3, 0x3);		/* R, W */
	}
}

/* A valid setup of one device's tables; returns the unit it programmed. */
static unsigned int setup_dev(struct reader *r, unsigned int k, uint16_t sid, bool ats)
{
	unsigned int kind = (unsigned int)take(r, 1) % NSETUPS;
	uint16_t did = (uint16_t)(take(r, 1) % 4 + 1);
	unsigned int pasid_byte = (unsigned int)take(r, 1);
	uint32_t pasid = pasid_byte % 4;
	bool pre = pasid_byte & 0x80;	/* the device may make page requests */
	bool scalable = kind != SETUP_LEGACY;
	uint64_t root = ROOT(k), ctx, slpt = 0, flpt = 0;
	struct vtd_desc desc;

	if (kind == SETUP_LEGACY || kind == SETUP_SM_SL || kind == SETUP_SM_NESTED) {
		slpt = page();
		map_data(slpt, false, did);
		if (kind == SETUP_SM_NESTED) {
			/* The first-stage tables must be reachable through the second stage: identity. */
			for (uint64_t gpa = POOL; gpa < POOL_END; gpa += 0x1000)
				map4(slpt, gpa, gpa, 0x3, 0x3);
		}
	}
	if (kind == SETUP_SM_FL || kind == SETUP_SM_NESTED) {
		flpt = page();
		map_data(flpt, true, did + 1);
	}
	if (!scalable) {
		ctx = table_at(root + (sid >> 8) * 16, 1);
		put64(ctx + (sid & 0xff) * 16, slpt | (ats ? 1ULL << 2 : 0) | 1);
		put64(ctx + (sid & 0xff) * 16 + 8, 2 | (uint64_t)did << 8);
	} else {
		uint64_t pdir, ptab, pe[8] = { 0 };
		uint64_t pgtt = kind == SETUP_SM_FL ? 1 : kind == SETUP_SM_SL ? 2 :
				kind == SETUP_SM_NESTED ? 3 : 4;
		uint64_t at;

		ctx = table_at(root + (sid >> 8) * 16 + ((sid & 0xff) >= 128 ? 8 : 0), 1);
		at = ctx + (sid & 0x7f) * 32;
		pdir = get64(at) & 0xffffffffff000ULL;
		if (!(get64(at) & 1) || pdir < POOL || pdir >= POOL_END)
			pdir = page();
		put64(at, pdir | 1 | (ats ? 1ULL << 2 : 0) | 1ULL << 3 | (pre ? 1ULL << 4 : 0));	/* PDTS 0 */
		put64(at + 8, 0);
		put64(at + 16, 0);
		put64(at + 24, 0);
		ptab = table_at(pdir + (pasid >> 6) * 8, 1);
		pe[0] = 1 | pgtt << 6 | (slpt ? slpt | 2 << 2 : 0);
		pe[1] = did;
		pe[2] = flpt ? flpt | 1 : 0;	/* SRE */
		put_bytes(ptab + (pasid % 64) * 64, pe, 64);
	}
	/* The registers as a driver programs them; then the caches told. */
	mmio_write(k, VTD_REG_RTADDR, root | (scalable ? 1ULL << VTD_RTADDR_TTM_SHIFT : 0), 8);
	mmio_write(k, VTD_REG_GCMD, VTD_GCMD_SRTP | (uint32_t)(mmio_read(k, VTD_REG_GSTS, 4) &
								(VTD_GCMD_TE | VTD_GCMD_QIE)), 4);
	if (!(mmio_read(k, VTD_REG_GSTS, 4) & VTD_GCMD_QIE)) {
		mmio_write(k, VTD_REG_IQA, QUEUE(k) | (scalable ? VTD_IQA_DW : 0), 8);
		mmio_write(k, VTD_REG_GCMD, VTD_GCMD_QIE, 4);
	}
	mmio_write(k, VTD_REG_GCMD, VTD_GCMD_QIE | VTD_GCMD_TE, 4);
	memset(&desc, 0, sizeof(desc));
	desc.type = VTD_DESC_CC;
	desc.cc.gran = VTD_CC_GLOBAL;
	queue_desc(k, &desc);
	if (scalable) {
		memset(&desc, 0, sizeof(desc));
		desc.type = VTD_DESC_PC;
		desc.pc.gran = VTD_PC_GLOBAL;
		queue_desc(k, &desc);
	}
	return k;
}

static unsigned int setup(struct reader *r)
{
	unsigned int d = (unsigned int)take(r, 1) % NDEVS;

	return setup_dev(r, dev_cfg[d].viommu, dev_cfg[d].sid, dev_cfg[d].ats);
}

/*
 * Device @d's context entry (scalable) points at the big directory: every
 * global or domain-selective resync of it reads 2^7 + 2^13 entries, about
 * 64 steps' budget, so the work spans exits (and the worker).
 */
static unsigned int expensive(struct reader *r)
{
	unsigned int d = (unsigned int)take(r, 1) % NDEVS, k = dev_cfg[d].viommu;
	uint16_t sid = dev_cfg[d].sid;
	uint64_t ctx, pe[8] = { 1 };	/* present, PGTT 0: invalid */

	if (!m.big_built) {	/* once per input: the input's stores may change it later */
		for (unsigned int i = 0; i < 64; i++)
			put_bytes(BIG_TABLE + i * 64, pe, 64);
		for (unsigned int i = 0; i < (1u << (BIG_PDTS + 7)); i++)
			put64(BIG_DIR + i * 8, BIG_TABLE | 1);
		m.big_built = true;
	}
	ctx = table_at(ROOT(k) + (sid >> 8) * 16 + ((sid & 0xff) >= 128 ? 8 : 0), 1);
	put64(ctx + (sid & 0x7f) * 32, BIG_DIR | (uint64_t)BIG_PDTS << 9 | 1ULL << 3 | 1);
	put64(ctx + (sid & 0x7f) * 32 + 8, 0);
	return k;
}

/* Whether unit @k has register work pending (its worker may run: under its lock). */
static bool work_busy(unsigned int k)
{
	struct viommu *u = &m.units[k];
	bool busy;

	pthread_mutex_lock(&u->lock);
	busy = vtd_work_busy(u);
	pthread_mutex_unlock(&u->lock);
	return busy;
}

/* ---- one operation ---- */

static const unsigned int sizes[] = { 1, 2, 4, 8, 3, 16, 4, 8 };

static void templated(struct reader *r, unsigned int k)
{
	struct vtd_desc d;
	unsigned int t = (unsigned int)take(r, 1) % 10;
	uint64_t f = take(r, 8);

	memset(&d, 0, sizeof(d));
	switch (t) {
	case 0:
		d.type = VTD_DESC_IOTLB;
		d.iotlb.gran = (enum vtd_iotlb_gran)(f % 3 + 1);
		d.iotlb.did = (uint16_t)((f >> 8) % 5);
		d.iotlb.addr = ((f >> 16) % 8) << 12;
		d.iotlb.am = (uint8_t)((f >> 24) % 4);
		break;
	case 1:
		d.type = VTD_DESC_DEVTLB;
		d.devtlb.sid = dev_cfg[f % NDEVS].sid;
		d.devtlb.addr = vtd_devtlb_encode_addr(((f >> 8) % 8) << 12, (unsigned int)(f >> 16) % 4,
						       &d.devtlb.size);
		break;
	case 2:
		d.type = VTD_DESC_PIOTLB;
		d.piotlb.gran = (f & 1) ? VTD_PIOTLB_PAGE : VTD_PIOTLB_PASID;
		d.piotlb.did = (uint16_t)((f >> 8) % 5);
		d.piotlb.pasid = (uint32_t)(f >> 16) % 4;
		d.piotlb.addr = ((f >> 24) % 8) << 12;
		d.piotlb.am = (uint8_t)((f >> 32) % 4);
		break;
	case 3:
		d.type = VTD_DESC_PC;
		d.pc.gran = (enum vtd_pc_gran)((f % 3 == 2) ? 3 : f % 3);
		d.pc.did = (uint16_t)((f >> 8) % 5);
		d.pc.pasid = (uint32_t)(f >> 16) % 4;
		break;
	case 4:
		d.type = VTD_DESC_CC;
		d.cc.gran = (enum vtd_cc_gran)(f % 3 + 1);
		d.cc.did = (uint16_t)((f >> 8) % 5);
		d.cc.sid = dev_cfg[(f >> 16) % NDEVS].sid;
		d.cc.fm = (uint8_t)((f >> 24) % 4);
		break;
	case 5:
		d.type = VTD_DESC_PDEVTLB;
		d.pdevtlb.sid = dev_cfg[f % NDEVS].sid;
		d.pdevtlb.pasid = (uint32_t)(f >> 8) % 4;
		d.pdevtlb.addr = vtd_devtlb_encode_addr(((f >> 16) % 8) << 12,
							(unsigned int)(f >> 24) % 4, &d.pdevtlb.size);
		break;
	case 6:
		d.type = VTD_DESC_PGRP_RESP;
		break;
	case 7:
		d.type = VTD_DESC_IEC;
		break;
	default:
		d.type = VTD_DESC_WAIT;
		d.wait.sw = f & 1;
		d.wait.intr = (f >> 1) & 1;
		d.wait.status_addr = (f & 4) ? STATUS(k) : (f >> 8) % (RAM_SIZE * 2) & ~3ULL;
		d.wait.status_data = (uint32_t)(f >> 32);
		break;
	}
	queue_desc(k, &d);
}

static void dma(struct reader *r)
{
	unsigned int d = (unsigned int)take(r, 1) % NDEVS;
	uint64_t src = take(r, 2) % 0x9000, dst = take(r, 2) % 0x9000;
	uint64_t len = take(r, 2) % 0x3000 + 1, pasid = take(r, 1);
	struct pci_device *pci = simdev_pci(m.sims[d]);

	note_unit_of(d);
	/* Any IOVA at all: non-canonical, beyond the address width, in a large page. */
	if (pasid & 0x40)
		src = take(r, 8);
	if (pasid & 0x20)
		dst = take(r, 8);
	uint8_t buf[8];
	const struct { unsigned int reg; uint64_t val; } w[] = {
		{ SIMDEV_SRC, src }, { SIMDEV_DST, dst }, { SIMDEV_LEN, len },
		{ SIMDEV_PASID, (pasid & 0x80) ? ((pasid & 3) | SIMDEV_PASID_VALID) : 0 },
		{ SIMDEV_CMD, SIMDEV_CMD_COPY },
	};

	for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++) {
		memcpy(buf, &w[i].val, 8);
		pci->bars[0].fn(pci->bars[0].opaque, w[i].reg, buf, 8, true);
	}
}

static uint16_t ext_cap(struct pci_device *pci, uint16_t id)
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

static void toggle(struct reader *r)
{
	unsigned int d = (unsigned int)take(r, 1) % NDEVS, what = (unsigned int)take(r, 1);
	struct pci_device *pci = simdev_pci(m.sims[d]);
	bool on = what & 0x10;
	uint16_t cap;

	if (what >= 0xc0) {	/* the PRI device's PRI control: Enable, Reset, an allocation */
		pci = simdev_pci(m.sims[PRI_DEV]);
		note_unit_of(PRI_DEV);	/* a waiting copy may end */
		if (!(cap = ext_cap(pci, PCI_EXT_CAP_ID_PRI)))
			return;
		if (what & 0x8)
			pci_device_config_write(pci, cap + PRI_ALLOCATION, 4, what & 0x7);
		pci_device_config_write(pci, cap + PRI_CTRL, 2,
					(on ? PRI_CTRL_ENABLE : 0) | (what & 0x20 ? PRI_CTRL_RESET : 0));
		return;
	}
	switch (what % 3) {
	case 0:
		pci_device_config_write(pci, 0x04, 2, on ? 0x0006 : 0x0002);
		break;
	case 1:
		if ((cap = ext_cap(pci, PCI_EXT_CAP_ID_ATS)))
			pci_device_config_write(pci, cap + 6, 2, on ? 0x8000 : 0);
		break;
	default:
		if ((cap = ext_cap(pci, PCI_EXT_CAP_ID_PASID)))
			pci_device_config_write(pci, cap + 6, 2, on ? 1 : 0);
		break;
	}
}

/* The registers a driver uses (and the fault records): any of them, at the right size. */
static const unsigned int regs[] = {
	VTD_REG_VER, VTD_REG_CAP, VTD_REG_ECAP, VTD_REG_GCMD, VTD_REG_GSTS, VTD_REG_RTADDR,
	VTD_REG_CCMD, VTD_REG_FSTS, VTD_REG_FECTL, VTD_REG_FEDATA, VTD_REG_FEADDR,
	VTD_REG_FEUADDR, VTD_REG_IQH, VTD_REG_IQT, VTD_REG_IQA, VTD_REG_ICS, VTD_REG_IECTL,
	VTD_REG_IEDATA, VTD_REG_IEADDR, VTD_REG_IEUADDR, VTD_REG_IQER, VTD_IOTLB_OFFSET,
	VTD_IOTLB_OFFSET + 8, VTD_FRCD_OFFSET,
};

static void reg_access(struct reader *r, unsigned int k)
{
	unsigned int i = (unsigned int)take(r, 1), how = (unsigned int)take(r, 1);
	unsigned int off = regs[i % (sizeof(regs) / sizeof(regs[0]))];
	unsigned int len = (how & 1) ? 8 : 4;

	if (off == VTD_FRCD_OFFSET)
		off += (i / 32 % VTD_NFR) * 16 + (how & 2 ? 8 : 0);
	if (len == 4 && (how & 4))
		off += 4;		/* the upper half of a 64-bit register */
	if (how & 8)
		mmio_write(k, off, take(r, 8), len);
	else
		(void)mmio_read(k, off, len);
}

/*
 * The guest address of one entry device @d's translation goes through, as
 * the unit would read it now: its root or context entry, PASID directory or
 * PASID entry, or a page-table entry of either stage (@level 4..1) for
 * @iova. Returns false when the walk there finds nothing present.
 */
static bool entry_of(unsigned int d, unsigned int which, unsigned int q, uint32_t pasid,
		     bool first_stage, unsigned int level, uint64_t iova, uint64_t *at)
{
	struct viommu *u = &m.units[dev_cfg[d].viommu];
	uint16_t sid = dev_cfg[d].sid;
	unsigned int devfn = sid & 0xff;
	uint64_t rt, e, t;
	bool scalable;

	pthread_mutex_lock(&u->lock);
	rt = u->rtaddr_active;
	pthread_mutex_unlock(&u->lock);
	scalable = VTD_FIELD(rt, 11, 10) == 1;
	*at = (rt & ~0xfffULL) + (sid >> 8) * 16 + (scalable && devfn >= 128 ? 8 : 0);
	if (which == 0)
		return true;
	if (!((e = get64(*at)) & 1))
		return false;
	*at = (e & 0xffffffffff000ULL) + (scalable ? (devfn & 0x7f) * 32 + (q % 4) * 8 :
						    devfn * 16 + (q % 2) * 8);
	if (which == 1)
		return true;
	e = get64(*at & ~(scalable ? 31ULL : 15ULL));
	if (!(e & 1))
		return false;
	if (scalable) {
		*at = (e & 0xffffffffff000ULL) + (pasid >> 6) * 8;
		if (which == 2)
			return true;
		if (!((e = get64(*at)) & 1))
			return false;
		*at = (e & 0xffffffffff000ULL) + (pasid % 64) * 64;
		if (which == 3) {
			*at += (q % 8) * 8;
			return true;
		}
		t = get64(*at + (first_stage ? 16 : 0)) & 0xffffffffff000ULL;
	} else {
		t = e & 0xffffffffff000ULL;
	}
	for (unsigned int l = 4; l > level; l--) {
		e = get64(t + ((iova >> (12 + 9 * (l - 1))) & 511) * 8);
		if (!(e & 3) || (e & 0x80))
			return false;
		t = e & 0xffffffffff000ULL;
	}
	*at = t + ((iova >> (12 + 9 * (level - 1))) & 511) * 8;
	return true;
}

/*
 * Change one entry the unit walks for a device: flip bits, set one bit,
 * clear it, or make it a large-page leaf (2 MiB at level 2, 1 GiB at 3)
 * over guest address 0. Random stores rarely land on a live entry.
 */
static void corrupt(struct reader *r)
{
	unsigned int d = (unsigned int)take(r, 1) % NDEVS, sel = (unsigned int)take(r, 1);
	unsigned int how = (unsigned int)take(r, 1);
	unsigned int which = sel % 5, level = (sel >> 3) % 4 + 1;
	uint64_t iova = (uint64_t)((sel >> 5) % 8) << 12, at, v = take(r, 8);

	if (!entry_of(d, which, how >> 2, (uint32_t)(v >> 62), (sel >> 2) & 1, level, iova, &at))
		return;
	switch (how % 4) {
	case 0:
		put64(at, get64(at) ^ v);
		break;
	case 1:
		put64(at, get64(at) | 1ULL << (v % 64));
		break;
	case 2:
		put64(at, get64(at) & ~(1ULL << (v % 64)));
		break;
	default:
		if (which == 4 && (level == 2 || level == 3))
			put64(at, 0x80 | (v & 0x67));	/* PS, and R/W/U/A/D as the input says */
		break;
	}
}

/* The DMA engine's own registers, any offset and size, read or written. */
static void simdev_access(struct reader *r)
{
	unsigned int d = (unsigned int)take(r, 1) % NDEVS, how = (unsigned int)take(r, 1);
	unsigned int off = (unsigned int)take(r, 1), len = sizes[how % 8];
	struct pci_device *pci = simdev_pci(m.sims[d]);
	uint8_t buf[16] = { 0 };
	uint64_t v = take(r, 8);

	note_unit_of(d);
	memcpy(buf, &v, 8);
	pci->bars[0].fn(pci->bars[0].opaque, off, buf, len, how & 8);
}

/*
 * A resync all at once, as setup and the unit tests call it (and the
 * queue does when it has no memory for steps), by any granularity: it
 * must leave the unit as consistent as the stepped one the guest drives.
 */
static void sync_now(struct reader *r, unsigned int k)
{
	struct viommu *u = &m.units[k];
	unsigned int how = (unsigned int)take(r, 1);
	uint16_t did = (uint16_t)(take(r, 1) % 5);
	struct vtd_resync_req req = { .kind = VTD_RESYNC_DEVICES, .all = how & 4,
				      .sid = dev_cfg[how / 8 % NDEVS].sid };
	struct flush_result res;

	vtd_unit_lock(u);
	switch (how % 4) {
	case 0:
		vtd_sync_attachments(u, how & 4, req.sid);
		break;
	case 1:
		(void)vtd_sync_pasid(u, did, (uint32_t)(how >> 5), &res);
		break;
	case 2:
		(void)vtd_sync_domain(u, did, &res);
		break;
	default:
		(void)vtd_sync_req(u, &req, &res);
		break;
	}
	pthread_mutex_unlock(&u->lock);
}

/* ---- the VFIO device's page faults (pt-fault.c) ---- */

static void respond(unsigned int k, uint16_t rid, uint32_t pasid, uint16_t prgi, uint8_t code,
		    bool lpig, bool pasid_present);
static void prq_service(struct reader *r, unsigned int k);

/*
 * The host reports 1-4 page fault records on the device's unit's fault
 * queue (one group, or one group each), mostly of the device and one of
 * the PASIDs setup_dev() binds, with any address, permissions and group
 * index; or a read that is no whole number of records. Then a pass of the
 * reader's (with two threads the reader thread may make it first: polls
 * take turns, pt-fault.c's poll_lock).
 */
static void host_faults(struct reader *r)
{
	struct iommu_hwpt_pgfault recs[4];
	const struct vfio_state *vs = vfio_state_of(&m.vm);
	unsigned int how = (unsigned int)take(r, 1), n = how % 4 + 1;
	uint32_t cookie = 0;

	memset(recs, 0, sizeof(recs));
	for (unsigned int i = 0; i < n; i++) {
		uint64_t f = take(r, 8);

		if (!cookie || (how & 4)) {	/* a group per record, or one for all */
			if (m.next_cookie >= MAX_COOKIES)
				return;
			cookie = m.next_cookie++;
			m.cookie_state[cookie] = 1;
		}
		recs[i].flags = (f & 1 ? 0 : IOMMU_PGFAULT_FLAGS_PASID_VALID) |
				(f & 2 ? IOMMU_PGFAULT_FLAGS_LAST_PAGE : 0);
		recs[i].dev_id = f & 4 || !vs ? (uint32_t)(f >> 8) & 0xff : vs->devs[0].dev_id;
		recs[i].pasid = f & 8 ? (uint32_t)(f >> 16) & 0xfffff : (uint32_t)(f >> 16) % 4;
		recs[i].grpid = (uint32_t)(f >> 36) & 0x1ff;
		recs[i].perm = (uint32_t)(f >> 45) & 0xf;
		recs[i].addr = (f >> 49) << 12;
		recs[i].cookie = cookie;
	}
	pthread_mutex_lock(&fake_lock);
	fake_hostops_queue_read(fake, m.fault_fd, recs, n * sizeof(recs[0]) - (how & 8 ? 3 : 0));
	pthread_mutex_unlock(&fake_lock);
	(void)viommu_pt_fault_poll(m.pt);
}

/* Op 20's bytes from 0xc0: the device's page faults, its responses, or the reader's pass. */
static void fault_op(struct reader *r, unsigned int what)
{
	switch (what % 4) {
	case 0:
		host_faults(r);
		break;
	case 1:
		(void)viommu_pt_fault_poll(m.pt);
		break;
	case 2: {	/* the guest answers the device: Success, Invalid, Response Failure, any */
		static const uint8_t codes[] = { 0, 1, 0xf, 0 };
		uint64_t f = take(r, 8);

		respond(VFIO_UNIT, VFIO_SID, f & 1 ? (uint32_t)(f >> 8) : (uint32_t)(f >> 8) % 4,
			(uint16_t)(f >> 28), f & 2 ? (uint8_t)(f >> 40) : codes[(f >> 2) % 4], f & 0x10,
			!(f & 0x20));
		break;
	}
	default:	/* the guest services vIOMMU 1's queue: answers reach the host */
		prq_service(r, VFIO_UNIT);
		break;
	}
}

/*
 * Every answer written to the fault queue since the last look: a group
 * the host reported and nobody answered yet, SUCCESS or INVALID.
 */
static void check_fault_answers(void)
{
	pthread_mutex_lock(&fake_lock);
	for (size_t i = 0; i < fake->ncalls; i++) {
		const struct fake_call *c = &fake->calls[i];

		if (c->kind != FAKE_WRITE || c->fd != m.fault_fd || c->ret < 0)
			continue;
		for (size_t at = 0; at + sizeof(struct iommu_hwpt_page_response) <= c->arg_len;
		     at += sizeof(struct iommu_hwpt_page_response)) {
			struct iommu_hwpt_page_response a;

			memcpy(&a, c->arg + at, sizeof(a));
			if (a.code != IOMMUFD_PAGE_RESP_SUCCESS && a.code != IOMMUFD_PAGE_RESP_INVALID)
				die("a fault answer with a code iommufd does not take");
			if (a.cookie >= MAX_COOKIES || m.cookie_state[a.cookie] != 1)
				die("a fault group answered twice, or never reported");
			m.cookie_state[a.cookie] = 2;
		}
	}
	fake_hostops_clear_calls(fake);
	pthread_mutex_unlock(&fake_lock);
}

/* The host fails the nth next call of one iommufd or VFIO request (bytes below 0xc0). */
static void vfio_failure(struct reader *r)
{
	static const unsigned long requests[] = {
		IOMMU_HWPT_ALLOC, IOMMU_HWPT_INVALIDATE, IOMMU_DESTROY,
		VFIO_DEVICE_ATTACH_IOMMUFD_PT, VFIO_DEVICE_DETACH_IOMMUFD_PT,
	};
	static const int errs[] = { EINVAL, ENOMEM, EBUSY, ETIMEDOUT };
	unsigned int what = (unsigned int)take(r, 1);

	if (what >= 0xc0) {
		fault_op(r, what);
		return;
	}
	m.host_failed = true;
	pthread_mutex_lock(&fake_lock);
	fail_nth(requests[what % 5], (int)(what / 5 % 4) + 1, errs[what / 20 % 4]);
	pthread_mutex_unlock(&fake_lock);
}

/* ---- page requests (prq.c) ---- */

/* Device @d's status register, read as the guest does (a copy waiting on a response resumes). */
static uint64_t simdev_status(unsigned int d)
{
	struct pci_device *pci = simdev_pci(m.sims[d]);
	uint8_t buf[8] = { 0 };
	uint64_t v;

	note_unit_of(d);	/* a waiting copy resumes */
	pci->bars[0].fn(pci->bars[0].opaque, SIMDEV_STATUS, buf, 8, false);
	memcpy(&v, buf, 8);
	return v;
}

#define PRS_PPR		1u
#define PRS_PRO		2u
#define PQ_FIELD	0x7ffe0ULL	/* PQH/PQT bits 18:5 */

struct prq_regs {
	uint64_t pqh, pqt, pqa;
	uint32_t prs;
	uint64_t queued, dropped;
};

static struct prq_regs prq_regs(unsigned int k)
{
	struct viommu *u = &m.units[k];
	struct prq_regs p;

	pthread_mutex_lock(&u->lock);
	p = (struct prq_regs){ u->pqh, u->pqt, u->pqa, u->prs, u->page_requests,
			       u->page_requests_dropped };
	pthread_mutex_unlock(&u->lock);
	return p;
}

static uint64_t prq_bytes(const struct prq_regs *p)
{
	return 32ULL << ((p->pqa & 7) + 7);
}

/* The queue as the spec has it: no room for one more request (or no slot in guest RAM). */
static bool prq_full(const struct prq_regs *p)
{
	uint64_t size = prq_bytes(p), head = p->pqh & PQ_FIELD, tail = p->pqt & PQ_FIELD;
	uint64_t slot = (p->pqa & ~0xfffULL) + tail;

	return head >= size || tail >= size || (tail + 32) % size == head ||
	       slot < (p->pqa & ~0xfffULL) || slot + 32 > RAM_SIZE;
}

/* Registers the guest cannot set out of their fields, whatever it writes. */
static void check_prq_regs(unsigned int k)
{
	struct prq_regs p = prq_regs(k);

	if ((p.pqh & ~PQ_FIELD) || (p.pqt & ~PQ_FIELD))
		die("PQH or PQT outside its field");
	if (p.prs & ~(PRS_PPR | PRS_PRO))
		die("PRS beyond PPR and PRO");
}

/*
 * What one op did to unit @k's queue, the guest's own writes of its
 * registers aside: PQT moved one slot per request queued, and a dropped
 * request left PRO set. Single-thread mode only (DMA may race otherwise).
 */
static void check_prq_op(unsigned int k, const struct prq_regs *before)
{
	struct prq_regs after = prq_regs(k);
	uint64_t queued = after.queued - before->queued, size = prq_bytes(before);

	if (threads || m.prq_written[k])
		return;
	if (after.dropped != before->dropped && !(after.prs & PRS_PRO))
		die("a page request was dropped without PRO");
	if (after.pqa != before->pqa || after.pqh != before->pqh)
		die("the unit moved PQA or PQH");
	if (after.pqt != (queued ? (before->pqt + queued * 32) % size : before->pqt))
		die("PQT moved other than one slot per queued page request");
	if (queued && !(after.prs & PRS_PPR))
		die("a page request queued without PPR");
}

/*
 * Whether unit @k takes page requests from @rid: PRS, translation on in
 * scalable mode, and PRE set in the RID's present context entry, read
 * from guest RAM as it is now.
 */
static bool context_pre(unsigned int k, uint16_t rid)
{
	struct viommu *u = &m.units[k];
	unsigned int devfn = rid & 0xff;
	uint64_t rt, re, ce;
	bool on;

	pthread_mutex_lock(&u->lock);
	rt = u->rtaddr_active;
	on = (u->gsts & VTD_GCMD_TE) && (u->ecap & VTD_ECAP_PRS);
	pthread_mutex_unlock(&u->lock);
	if (!on || VTD_FIELD(rt, 11, 10) != 1)
		return false;
	re = get64((rt & ~0xfffULL) + (rid >> 8) * 16 + (devfn >= 128 ? 8 : 0));
	if (!(re & 1))
		return false;
	ce = get64((re & 0xffffffffff000ULL) + (devfn & 0x7f) * 32);
	return (ce & 1) && (ce & 1ULL << 4);
}

/*
 * One page request made directly to unit @k, as a device would, with
 * fields from the input; its outcome checked against the queue as it was.
 */
static void page_request(struct reader *r, unsigned int k)
{
	struct viommu *u = &m.units[k];
	uint64_t f = take(r, 8);
	struct vtd_page_req pr = {
		.rid = (f & 1) ? (uint16_t)(f >> 1) : dev_cfg[(f >> 1) % NDEVS].sid,
		.has_pasid = !(f & 0x100000), .pasid = (uint32_t)(f >> 24),
		.addr = take(r, 8), .read = f & 0x200000, .write = f & 0x400000,
		.exec = f & 0x800000, .priv = f & 0x1000000, .lpig = f & 0x2000000,
		.prgi = (uint16_t)(f >> 40),
	};
	struct prq_regs before = prq_regs(k), after;
	enum vtd_prq_result res = vtd_page_request(u, &pr);
	uint64_t tail = before.pqt & PQ_FIELD, qw[2];

	if (threads)
		return;		/* DMA may make requests meanwhile */
	after = prq_regs(k);
	if (res != VTD_PRQ_REFUSED && !(pr.has_pasid && context_pre(k, pr.rid)))
		die("a page request taken without PASID, PRS, scalable translation or PRE");
	switch (res) {
	case VTD_PRQ_REFUSED:
		if (after.pqt != before.pqt || after.prs != before.prs ||
		    after.queued != before.queued || after.dropped != before.dropped)
			die("a refused page request changed the queue");
		break;
	case VTD_PRQ_DROPPED:
		if (!(before.prs & PRS_PRO) && !prq_full(&before))
			die("PRO set on a queue with room");
		if (!(after.prs & PRS_PRO) || after.pqt != before.pqt ||
		    after.dropped != before.dropped + 1)
			die("a dropped page request without PRO, or moving PQT");
		break;
	case VTD_PRQ_QUEUED:
		if ((before.prs & PRS_PRO) || prq_full(&before))
			die("a page request queued into a full or overflowed queue");
		if (after.pqt != (tail + 32) % prq_bytes(&before) || !(after.prs & PRS_PPR) ||
		    (after.prs & PRS_PRO) || after.queued != before.queued + 1)
			die("a queued page request left the wrong PQT or PRS");
		qw[0] = get64((before.pqa & ~0xfffULL) + tail);
		qw[1] = get64((before.pqa & ~0xfffULL) + tail + 8);
		if ((qw[0] & 0x1ff) != 0x101 || (uint16_t)(qw[0] >> 16) != pr.rid ||
		    ((qw[0] >> 32) & 0xfffff) != (pr.pasid & 0xfffff) ||
		    (qw[1] & 7) != ((uint64_t)pr.read | (uint64_t)pr.write << 1 |
				    (uint64_t)pr.lpig << 2) ||
		    ((qw[1] >> 3) & 0x1ff) != (pr.prgi & 0x1ffu) ||
		    (qw[1] & ~0xfffULL) != (pr.addr & ~0xfffULL))
			die("the queued page request is not the one made");
		break;
	default:
		die("an unknown page request result");
	}
}

/*
 * Unit @k's page request queue set up as Linux does it (PQH, PQT, PQA of
 * one page, the event registers, unmasked), PRE set in the scalable
 * context entries of its devices, and for unit 0 the PRI device's ATS,
 * PASID and PRI enabled: its copies over missing pages ask the guest.
 */
static void prq_setup(unsigned int k)
{
	struct viommu *u = &m.units[k];
	uint64_t rt;

	mmio_write(k, VTD_REG_PQH, 0, 8);
	mmio_write(k, VTD_REG_PQT, 0, 8);
	mmio_write(k, VTD_REG_PQA, PRQ(k), 8);
	mmio_write(k, VTD_REG_PEDATA, 0x41, 4);
	mmio_write(k, VTD_REG_PEADDR, 0xfee00000u, 4);
	mmio_write(k, VTD_REG_PEUADDR, 0, 4);
	mmio_write(k, VTD_REG_PECTL, 0, 4);
	pthread_mutex_lock(&u->lock);
	rt = u->rtaddr_active;
	pthread_mutex_unlock(&u->lock);
	if (VTD_FIELD(rt, 11, 10) == 1) {
		for (unsigned int d = 0; d < NDEVS; d++) {
			uint16_t sid = dev_cfg[d].sid;
			uint64_t re, at;

			if (dev_cfg[d].viommu != k)
				continue;
			re = get64((rt & ~0xfffULL) + (sid >> 8) * 16 + ((sid & 0xff) >= 128 ? 8 : 0));
			if (!(re & 1))
				continue;
			at = (re & 0xffffffffff000ULL) + (sid & 0x7f) * 32;
			put64(at, get64(at) | 1ULL << 4);	/* PRE */
		}
	}
	if (k == dev_cfg[PRI_DEV].viommu) {
		struct pci_device *pci = simdev_pci(m.sims[PRI_DEV]);
		uint16_t cap;

		if ((cap = ext_cap(pci, PCI_EXT_CAP_ID_ATS)))
			pci_device_config_write(pci, cap + 6, 2, 0x8000);
		if ((cap = ext_cap(pci, PCI_EXT_CAP_ID_PASID)))
			pci_device_config_write(pci, cap + 6, 2, 1);
		/* Linux's pci_enable_pri(): the allocation first, or the device asks nothing. */
		if ((cap = ext_cap(pci, PCI_EXT_CAP_ID_PRI))) {
			pci_device_config_write(pci, cap + PRI_ALLOCATION, 4, 32);
			pci_device_config_write(pci, cap + PRI_CTRL, 2, PRI_CTRL_ENABLE);
		}
	}
}

/* One page request register read, or written with any value or one near a valid one. */
static void prq_reg_access(struct reader *r, unsigned int k)
{
	static const unsigned int offs[] = {
		VTD_REG_PQH, VTD_REG_PQH + 4, VTD_REG_PQT, VTD_REG_PQT + 4, VTD_REG_PQA,
		VTD_REG_PQA + 4, VTD_REG_PRS, VTD_REG_PECTL, VTD_REG_PEDATA, VTD_REG_PEADDR,
		VTD_REG_PEUADDR,
	};
	unsigned int how = (unsigned int)take(r, 1);
	unsigned int off = offs[how % (sizeof(offs) / sizeof(offs[0]))];
	unsigned int len = (off & 4) || off >= VTD_REG_PRS || !(how & 0x40) ? 4 : 8;
	uint64_t v;

	if (how & 0x20) {
		(void)mmio_read(k, off, len);
		return;
	}
	v = take(r, 8);
	if (how & 0x80) {	/* in range: a slot of the unit's queue, or its base with any PQS */
		if (off == VTD_REG_PQH || off == VTD_REG_PQT)
			v = (v % PRQ_SLOTS) * 32;
		else if (off == VTD_REG_PQA)
			v = PRQ(k) | (v & 7);
	}
	mmio_write(k, off, v, len);
}

/* A page group response (type 9) for @rid in unit @k's queue. */
static void respond(unsigned int k, uint16_t rid, uint32_t pasid, uint16_t prgi, uint8_t code,
		    bool lpig, bool pasid_present)
{
	struct vtd_desc d;

	memset(&d, 0, sizeof(d));
	d.type = VTD_DESC_PGRP_RESP;
	d.pgrp.pasid_present = pasid_present;
	d.pgrp.rid = rid;
	d.pgrp.pasid = pasid & 0xfffff;
	d.pgrp.prgi = prgi & 0x1ff;
	d.pgrp.rcode = code & 0xf;
	d.pgrp.lpig = lpig;
	queue_desc(k, &d);
}

/*
 * The driver's side: each request from PQH to PQT answered with a page
 * group response (the input's code, mostly Success), then PQH moved on
 * and PPR cleared. Device 0's copy waiting on one goes on when read.
 */
static void prq_service(struct reader *r, unsigned int k)
{
	struct prq_regs p = prq_regs(k);
	uint64_t size = prq_bytes(&p), head = p.pqh & PQ_FIELD, tail = p.pqt & PQ_FIELD;
	uint64_t base = p.pqa & ~0xfffULL;
	unsigned int codes = (unsigned int)take(r, 1), n = 0;

	if (head >= size || tail >= size)
		return;
	for (; head != tail && n < 16; head = (head + 32) % size, n++) {
		uint64_t qw0 = get64(base + head), qw1 = get64(base + head + 8);

		respond(k, (uint16_t)(qw0 >> 16), (uint32_t)(qw0 >> 32), (uint16_t)(qw1 >> 3),
			(codes >> (n % 8)) & 1 ? 1 : 0, qw1 & 4, qw0 & 0x100);
	}
	mmio_write(k, VTD_REG_PQH, head, 8);
	mmio_write(k, VTD_REG_PRS, PRS_PPR | ((codes & 0x80) ? PRS_PRO : 0), 4);
	(void)simdev_status(PRI_DEV);
}

/* Unit @k's page request queue, as op 13's selector says. */
static void prq_op(struct reader *r, unsigned int k, unsigned int sel)
{
	switch (sel % 6) {
	case 0:
		prq_setup(k);
		break;
	case 1:
		prq_reg_access(r, k);
		break;
	case 2:
		page_request(r, k);
		break;
	case 3:
		prq_service(r, k);
		break;
	case 4: {	/* a response with any fields: unknown RIDs and groups, any code */
		uint64_t f = take(r, 8);

		respond(k, (f & 1) ? (uint16_t)(f >> 1) : dev_cfg[(f >> 1) % NDEVS].sid,
			(uint32_t)(f >> 17), (uint16_t)(f >> 37), (uint8_t)(f >> 46), f & 0x8,
			f & 0x4);
		break;
	}
	default:	/* the guest reads the PRI device's status: a waiting copy resumes */
		(void)simdev_status(PRI_DEV);
		break;
	}
}

/* The guest trace: under its cap plus one submission, and still once stopped there. */
static void check_guest_trace(void)
{
	struct stat st;

	if (fstat(m.gtrace_fd, &st))
		abort();
	if (m.gtrace_stopped) {
		if (st.st_size != m.gtrace_stopped)
			die("the guest trace grew after it stopped at its cap");
		return;
	}
	if (st.st_size > (off_t)(GTRACE_MAX + GTRACE_SLACK))
		die("the guest trace went past its cap by more than one submission");
	if (st.st_size >= (off_t)GTRACE_MAX)
		m.gtrace_stopped = st.st_size;
}

static void run_op(struct reader *r)
{
	unsigned int op = (unsigned int)take(r, 1) % 21;
	unsigned int k = (unsigned int)take(r, 1) % NUNITS;
	struct prq_regs prq_before[NUNITS];

	for (unsigned int j = 0; j < NUNITS; j++) {
		prq_before[j] = prq_regs(j);
		m.prq_written[j] = false;
	}
	m.op_units = 0;

	switch (op) {
	case 0: {	/* MMIO write, any size and offset */
		unsigned int off = (unsigned int)take(r, 2) & 0xfff, len = sizes[take(r, 1) % 8];

		mmio_write(k, off, take(r, 8), len > 8 ? 8 : len);
		break;
	}
	case 1: {
		unsigned int off = (unsigned int)take(r, 2) & 0xfff, len = sizes[take(r, 1) % 8];

		(void)mmio_read(k, off, len > 8 ? 8 : len);
		break;
	}
	case 2:		/* GCMD: TE / QIE / SRTP as the input says, persistent bits kept or not */
		mmio_write(k, VTD_REG_GCMD, (uint32_t)take(r, 1) << 24 & 0xe8000000u, 4);
		break;
	case 3:		/* IQT */
		mmio_write(k, VTD_REG_IQT, (take(r, 2) & 0xfff0) % 0x1000, 8);
		break;
	case 4:		/* FSTS write-1-to-clear */
		mmio_write(k, VTD_REG_FSTS, (uint32_t)take(r, 1), 4);
		break;
	case 5:		/* a store to guest RAM: tables, queue, anything */
		put64(take(r, 3) % RAM_SIZE & ~7ULL, take(r, 8));
		break;
	case 6:		/* a store into the table pool, where the tables are */
		put64(POOL + (take(r, 3) % (POOL_END - POOL) & ~7ULL), take(r, 8));
		break;
	case 7:
		k = setup(r);
		break;
	case 8: {	/* a raw descriptor */
		uint64_t tail = mmio_read(k, VTD_REG_IQT, 8) & 0xfe0;
		uint8_t raw[32];

		for (unsigned int i = 0; i < 32; i++)
			raw[i] = (uint8_t)take(r, 1);
		put_bytes(QUEUE(k) + tail, raw, 32);
		mmio_write(k, VTD_REG_IQT, (tail + 32) % 0x1000, 8);
		break;
	}
	case 9:
		templated(r, k);
		break;
	case 10:
		dma(r);
		break;
	case 11:
		toggle(r);
		break;
	case 12: {	/* host failures */
		unsigned int what = (unsigned int)take(r, 1);

		m.host_failed = true;
		if (what & 1)
			simvtd_inject_ite(m.sim, m.vdevs[what / 2 % NDEVS].host.sid, 1);
		else
			simvtd_inject_iqe(m.sim, what / 2 % 2, 1);
		break;
	}
	case 14:
		k = expensive(r);
		break;
	case 15:
		reg_access(r, k);
		break;
	case 16:
		corrupt(r);
		break;
	case 17:
		simdev_access(r);
		break;
	case 18:
		sync_now(r, k);
		break;
	case 19:	/* the VFIO device's tables, as for a sim device */
		k = setup_dev(r, VFIO_UNIT, VFIO_SID, false);
		break;
	case 20:	/* the VFIO device's host: failures, its page faults (on vIOMMU 1) */
		vfio_failure(r);
		k = VFIO_UNIT;
		break;
	default: {	/* 13: a full flush, worker steps, or the page request queue */
		/*
		 * The page request ops share op 13's byte (even values from
		 * 0x80) rather than taking new op numbers: the committed corpus
		 * keeps its meaning.
		 */
		unsigned int how = (unsigned int)take(r, 1);

		if (how & 1)
			full_flush(k);
		else if (how & 0x80)
			prq_op(r, k, how >> 1);
		else
			for (unsigned int i = take(r, 1) % 4 + 1; i; i--)
				if (!step(k))
					break;
		break;
	}
	}
	check_trace(k);
	check_bounds();
	for (unsigned int j = 0; j < NUNITS; j++) {
		check_prq_regs(j);
		check_prq_op(j, &prq_before[j]);
	}
	check_guest_trace();
	check_fault_answers();
	if (!work_busy(k))
		check_te_off(k);
}

/* ---- the two-thread variant ---- */

struct dma_thread {
	const uint8_t *data;
	size_t size;
};

static void *dma_main(void *arg)
{
	struct dma_thread *t = arg;
	struct reader r = { t->data, t->size };

	for (unsigned int i = 0; i < 64 && r.n; i++)
		dma(&r);
	return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct reader r = { data, size };
	pthread_t dma_thread;
	struct dma_thread t = { data, size };

	if (threads < 0)
		threads = getenv("FUZZ_VIOMMU_THREADS") ? atoi(getenv("FUZZ_VIOMMU_THREADS")) > 0 :
							   FUZZ_VIOMMU_THREADS_DEFAULT;
	/* The input's last byte picks the VFIO device's host (vfio_machine_init(); mostly healthy). */
	fuzz_machine_init(size && data[size - 1] >= 0xf0 ? data[size - 1] % 16 % 10 : 0);
	/* The machine was set up for two threads (the fault reader, the fake's lock). */
	if (threads && pthread_create(&dma_thread, NULL, dma_main, &t))
		abort();
	for (unsigned int i = 0; i < MAX_STEPS && r.n; i++)
		run_op(&r);
	if (threads)
		pthread_join(dma_thread, NULL);
	for (unsigned int k = 0; k < NUNITS; k++)
		drain(k);
	check_bounds();
	fuzz_machine_exit();
	return 0;
}
