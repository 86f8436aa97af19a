/* SPDX-License-Identifier: MIT */
/*
 * The guest and host sides of the VFIO-behind-the-vIOMMU tests
 * (check_viommu_vfio.c, check_viommu_vfio_faults.c): a guest programming
 * the emulated VT-d through its registers and queue, and the recording
 * fake host of fake_vfio_host.h.
 *
 * Guest: 16 MiB of RAM at 0, the PCI host bridge, one vIOMMU per host
 * unit. The assigned devices appear at 00:11.0 (and 00:12.0), behind host
 * unit dmar2 (the second one elsewhere with assign_on()).
 */
#ifndef TAGVMM_TESTS_VIOMMU_VFIO_GUEST_H
#define TAGVMM_TESTS_VIOMMU_VFIO_GUEST_H

#include <check.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "fake_hostops.h"
#include "fake_vfio_host.h"
#include "lib/iommufd-compat.h"
#include "viommu/viommu.h"
#include "viommu/viommu-priv.h"
#include "vmm/pci.h"
#include "vmm/vfio.h"
#include "vtd_testutil.h"

#define BDF0		"0000:3b:00.0"
#define BDF1		"0000:3b:00.1"
#define VM_FD		(FAKE_FIRST_FD + 63)
#define REG(off)	(MACHINE_VTD_BASE + (off))
#define QBASE		0x100000ULL
#define STATUS		0x200000ULL
#define ROOT		0x300000ULL
#define GUEST_SID0	(0x11 << 3)
#define GUEST_SID1	(0x12 << 3)
#define DEV_ID0		0x40		/* iommufd's ids for the devices (bind order) */
#define DEV_ID1		0x41
#define IOAS_ID		7		/* vfio.c's guest-RAM IOAS */
#define FIRST_HWPT	0x100
#define PARENT		FIRST_HWPT	/* the nest parent is the first HWPT */
#define PE_PGTT(p)	((uint64_t)(p) << 6)
#define PGTT_FL		1
#define PGTT_SL		2
#define PGTT_PT		4

static struct vm vm;
static struct vtd_test_tables tables;
static char err[512];
static unsigned int qslot;	/* next free queue slot (256-bit descriptors) */
/*
 * What the host reports: scalable mode, first stage, nesting, device TLBs,
 * supervisor requests, 20-bit PASIDs.
 */
static const uint64_t host_ecap = VTD_ECAP_QI | VTD_ECAP_DT | VTD_ECAP_PT | VTD_ECAP_NEST |
				  VTD_ECAP_PASID | 19ULL << VTD_ECAP_PSS_SHIFT | VTD_ECAP_SMTS |
				  VTD_ECAP_FLTS | VTD_ECAP_SLTS | VTD_ECAP_SRS;

static inline void script_hw_info(uint64_t ecap)
{
	fake_script_hw_info(0xd2008c40660462ULL, ecap);
}

/* vfio_setup() of @n devices (BDF0 behind dmar2, then BDF1 behind @unit1); calls cleared. */
static inline void assign_on(size_t n, const char *unit1)
{
	const char *bdfs[2] = { BDF0, BDF1 };

	fake_vfio_host_init();
	fake_hostops_ioctl_ids(fake, IOMMU_HWPT_ALLOC, offsetof(struct iommu_hwpt_alloc, out_hwpt_id),
			       FIRST_HWPT);
	/* The PASID-flavoured attach and detach are 16 and 12 bytes: recorded whole. */
	host_with_device(BDF0, 17, "vfio0");
	if (n > 1)
		host_with_device_on(BDF1, 18, "vfio1", unit1);
	fake_hostops_add_node(fake, "/dev/kvm-vm");
	fake->next_fd = VM_FD;
	vm.vm_fd = fake->ops.open(fake, "/dev/kvm-vm", O_RDWR);
	ck_assert_int_eq(vm.vm_fd, VM_FD);
	fake->next_fd = FAKE_FIRST_FD;
	for (size_t i = 0; i < n; i++)
		script_ok(VFIO_DEVICE_GET_INFO);
	ck_assert_msg(vfio_setup(&vm, bdfs, n, &ops, err, sizeof(err)) == 0, "%s", err);
	fake_hostops_clear_calls(fake);
}

/* The same, both behind dmar2. */
static inline void assign(size_t n)
{
	assign_on(n, "dmar2");
}

static inline void setup(void)
{
	vtd_test_vm_init(&vm, VTD_TEST_RAM_SIZE);
	ck_assert_int_eq(pci_host_bridge_init(&vm, err, sizeof(err)), 0);
	tables.vm = &vm;
	tables.next = 0x400000;
	qslot = 0;
}

static inline void teardown(void)
{
	viommu_teardown(&vm);
	vfio_teardown(&vm);
	ck_assert(!fake->overflow);
	ck_assert_int_eq(fake->ops.close(fake, vm.vm_fd), 0);
	ck_assert_uint_eq(fake->open_fds, 0);
	fake_hostops_free(fake);
	pci_host_bridge_exit(&vm);
	vtd_test_vm_free(&vm);
}

static inline int start_viommu(void)
{
	struct viommu_options o = { .units = 1, .ite_device = -1 };

	err[0] = '\0';
	return viommu_setup(&vm, &o, err, sizeof(err));
}

/* BDF0 assigned on a host with host_ecap, behind a started vIOMMU. */
static inline void one_device(void)
{
	assign(1);
	script_hw_info(host_ecap);
	ck_assert_msg(start_viommu() == 0, "%s", err);
}

/* ---- the guest's side ---- */

static inline void wr(unsigned int off, uint64_t val, unsigned int len)
{
	vtd_test_mmio_write(&vm, REG(off), val, len);
}

static inline uint64_t rd(unsigned int off, unsigned int len)
{
	return vtd_test_mmio_read(&vm, REG(off), len);
}

/* Scalable root, a 256-bit queue, translation on: Linux's order. */
static inline void guest_enable(void)
{
	wr(VTD_REG_RTADDR, ROOT | 1ULL << VTD_RTADDR_TTM_SHIFT, 8);
	wr(VTD_REG_GCMD, VTD_GCMD_SRTP, 4);
	wr(VTD_REG_IQA, QBASE | VTD_IQA_DW, 8);
	wr(VTD_REG_GCMD, VTD_GCMD_QIE, 4);
	wr(VTD_REG_GCMD, VTD_GCMD_QIE | VTD_GCMD_TE, 4);
	ck_assert(rd(VTD_REG_GSTS, 4) & VTD_GCMD_TE);
}

/* The device's PASID directory (PASIDE set, 2^7 entries); its context entry points at it. */
static inline uint64_t guest_context(uint16_t sid)
{
	uint64_t pdir = vtd_test_page(&tables);

	vtd_test_sm_ctx(&tables, ROOT, sid, pdir | 1 | 1 << 2 | 1 << 3, 0);
	return pdir;
}

/* one_device(), and the device's context entry: its PASID directory. */
static inline uint64_t one_device_guest(void)
{
	one_device();
	return guest_context(GUEST_SID0);
}

static inline void guest_pasid(uint64_t pdir, uint32_t pasid, unsigned int pgtt, uint16_t did,
			uint64_t flpt)
{
	uint64_t pe[8] = { 1 | PE_PGTT(pgtt), did, flpt | (pgtt == PGTT_FL ? 1 : 0) };

	if (pgtt == PGTT_SL)
		pe[0] |= flpt | 2 << 2;		/* SLPTR, 4-level */
	vtd_test_pasid_entry(&tables, pdir, pasid, pe);
}

static inline void guest_pasid_clear(uint64_t pdir, uint32_t pasid)
{
	const uint64_t pe[8] = { 0 };

	vtd_test_pasid_entry(&tables, pdir, pasid, pe);
}

static inline void queue(const struct vtd_desc *d)
{
	vtd_test_put_desc(&vm, QBASE + qslot++ * 32, d, true);
}

/* Queue a wait and ring the doorbell. Returns whether the wait completed. */
static inline bool try_submit(void)
{
	struct vtd_desc w = { .type = VTD_DESC_WAIT };
	static uint32_t seq = 1;

	w.wait.sw = true;
	w.wait.status_data = ++seq;
	w.wait.status_addr = STATUS;
	queue(&w);
	wr(VTD_REG_IQT, qslot * 32, 8);
	return vtd_test_read32(&vm, STATUS) == seq;
}

/* The wait must complete, with no IQE, ITE or ICE. */
static inline void submit(void)
{
	ck_assert(try_submit());
	ck_assert_uint_eq(rd(VTD_REG_FSTS, 4) & (VTD_FSTS_IQE | VTD_FSTS_ICE | VTD_FSTS_ITE), 0);
}

static inline void queue_pc(uint16_t did, uint32_t pasid)
{
	struct vtd_desc d = { .type = VTD_DESC_PC };

	d.pc.gran = VTD_PC_PASID;
	d.pc.did = did;
	d.pc.pasid = pasid;
	queue(&d);
}

/* ---- the host's side ---- */

static inline size_t count(unsigned long request)
{
	return fake_hostops_count(fake, FAKE_IOCTL, request);
}

static inline struct iommu_hwpt_alloc hwpt_alloc(size_t nth, struct iommu_hwpt_vtd_s1 *s1)
{
	const struct fake_call *c = fake_hostops_find(fake, FAKE_IOCTL, IOMMU_HWPT_ALLOC, nth);
	struct iommu_hwpt_alloc a;

	ck_assert_ptr_nonnull(c);
	memcpy(&a, c->arg, sizeof(a));
	if (s1) {
		ck_assert_uint_eq(c->ptr_len, sizeof(*s1));
		memcpy(s1, c->ptr, sizeof(*s1));
	}
	return a;
}

/* The @nth VFIO attach: its pt_id as passed, and PASID (0 for the RID form). */
static inline uint32_t attached(size_t nth, uint32_t *pasid, int *fd)
{
	const struct fake_call *c = fake_hostops_find(fake, FAKE_IOCTL,
						      VFIO_DEVICE_ATTACH_IOMMUFD_PT, nth);
	struct tagvmm_vfio_attach_pasid a = { 0 };

	ck_assert_ptr_nonnull(c);
	ck_assert(c->arg_len == 12 || c->arg_len == 16);
	memcpy(&a, c->arg, c->arg_len);
	ck_assert_uint_eq(a.argsz, c->arg_len);
	ck_assert_uint_eq(a.flags, c->arg_len == 16 ? VFIO_DEVICE_ATTACH_PASID : 0);
	if (pasid)
		*pasid = c->arg_len == 16 ? a.pasid : 0;
	if (fd)
		*fd = c->fd;
	return a.pt_id;
}

static inline uint32_t destroyed(size_t nth)
{
	const struct fake_call *c = fake_hostops_find(fake, FAKE_IOCTL, IOMMU_DESTROY, nth);
	struct iommu_destroy d;

	ck_assert_ptr_nonnull(c);
	memcpy(&d, c->arg, sizeof(d));
	return d.id;
}

static inline const struct iommu_hwpt_vtd_s1_invalidate *invalidation(size_t nth,
							       struct iommu_hwpt_invalidate *inv)
{
	const struct fake_call *c = fake_hostops_find(fake, FAKE_IOCTL, IOMMU_HWPT_INVALIDATE, nth);

	ck_assert_ptr_nonnull(c);
	memcpy(inv, c->arg, sizeof(*inv));
	ck_assert_uint_eq(inv->entry_len, sizeof(struct iommu_hwpt_vtd_s1_invalidate));
	ck_assert_uint_eq(c->ptr_len, (size_t)inv->entry_num * inv->entry_len);
	return (const struct iommu_hwpt_vtd_s1_invalidate *)c->ptr;
}

#endif
