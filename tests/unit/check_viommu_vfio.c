// SPDX-License-Identifier: MIT
/*
 * VFIO devices behind the vIOMMU (viommu/passthrough.c): the guest programs
 * the emulated VT-d through its registers and queue, as a vCPU would, and
 * the host side is the recording fake of fake_vfio_host.h, so the test
 * checks the iommufd and VFIO calls a real host would get: the nest
 * parent, nested HWPTs built from the guest's PASID entries, attach and
 * replace as the tables change, one IOMMU_HWPT_INVALIDATE per HWPT per
 * guest batch, and the release of everything at teardown. The guest and
 * the host are in viommu_vfio_guest.h.
 */
#include <check.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "viommu_vfio_guest.h"

/* ---- tests ---- */

/*
 * Setup asks the host what it can do, allocates the unit's nest parent
 * over the guest-RAM IOAS and moves the device onto it; the vIOMMU then
 * offers first stage only, and device TLBs and PASIDs as the host has them.
 */
START_TEST(setup_nests_over_the_ioas)
{
	unsigned int described = 0;
	struct iommu_hwpt_alloc a;
	const struct fake_call *c;
	struct iommu_hw_info info;
	uint64_t ecap;

	assign(1);
	script_hw_info(host_ecap & ~VTD_ECAP_DT & ~(0x1fULL << VTD_ECAP_PSS_SHIFT));
	ck_assert_msg(start_viommu() == 0, "%s", err);

	c = fake_hostops_find(fake, FAKE_IOCTL, IOMMU_GET_HW_INFO, 0);
	memcpy(&info, c->arg, sizeof(info));
	ck_assert_uint_eq(info.dev_id, DEV_ID0);
	ck_assert_uint_eq(count(IOMMU_HWPT_ALLOC), 1);
	a = hwpt_alloc(0, NULL);
	/* The host has PASIDs: the parent allows PASID attach beside the RID. */
	ck_assert_uint_eq(a.flags, IOMMU_HWPT_ALLOC_NEST_PARENT | IOMMU_HWPT_ALLOC_PASID);
	ck_assert_uint_eq(a.dev_id, DEV_ID0);
	ck_assert_uint_eq(a.pt_id, IOAS_ID);
	ck_assert_uint_eq(a.data_type, IOMMU_HWPT_DATA_NONE);
	ck_assert_uint_eq(count(VFIO_DEVICE_ATTACH_IOMMUFD_PT), 1);
	ck_assert_uint_eq(attached(0, NULL, NULL), PARENT);

	ecap = rd(VTD_REG_ECAP, 8);
	ck_assert(ecap & VTD_ECAP_FLTS);
	ck_assert(ecap & VTD_ECAP_SMTS);
	ck_assert(ecap & VTD_ECAP_PT);
	ck_assert(!(ecap & VTD_ECAP_SLTS));
	ck_assert(!(ecap & VTD_ECAP_NEST));
	ck_assert(!(ecap & VTD_ECAP_DT));		/* the host has no device TLBs */
	ck_assert_uint_eq(VTD_ECAP_PSS(ecap), 0);	/* 1-bit PASIDs on the host */
	ck_assert(ecap & VTD_ECAP_SRS);
	/* The DMAR places the function behind vIOMMU 0 (and it is described at all). */
	for (size_t i = 0; i < vm.machine.npci; i++)
		if (vm.machine.pci[i].bdf == GUEST_SID0) {
			ck_assert_uint_eq(vm.machine.pci[i].iommu, 0);
			described++;
		}
	ck_assert_uint_eq(described, 1);
}
END_TEST

/* A host unit that cannot nest: refused at setup, naming what it lacks; nothing left behind. */
START_TEST(host_without_nesting_is_refused)
{
	assign(1);
	script_hw_info(host_ecap & ~VTD_ECAP_NEST);
	ck_assert_int_eq(start_viommu(), -1);
	ck_assert_ptr_nonnull(strstr(err, "dmar2 lacks nested translation (ECAP.NEST)"));
	ck_assert_ptr_nonnull(strstr(err, BDF0));
	ck_assert_uint_eq(count(IOMMU_HWPT_ALLOC), 0);
	ck_assert_uint_eq(count(VFIO_DEVICE_ATTACH_IOMMUFD_PT), 0);
}
END_TEST

/*
 * The guest gives the device a first-stage table (PASID entry 0, DID 3):
 * a nested HWPT of exactly that table, the device attached to it, and the
 * guest's P_IOTLB flush is one IOMMU_HWPT_INVALIDATE on it. Then the guest
 * points the entry at another table: a new HWPT, the device replaced onto
 * it, and only then the old one destroyed (after its last flush).
 */
START_TEST(first_stage_becomes_nested_hwpt)
{
	uint64_t pdir, flpt = 0x123000, flpt2 = 0x456000;
	struct iommu_hwpt_vtd_s1 s1;
	struct iommu_hwpt_alloc a;
	struct iommu_hwpt_invalidate inv;
	const struct iommu_hwpt_vtd_s1_invalidate *e;
	uint32_t nested, nested2, pasid;

	pdir = one_device_guest();
	guest_pasid(pdir, 0, PGTT_FL, 3, flpt);
	fake_hostops_clear_calls(fake);
	guest_enable();

	ck_assert_uint_eq(count(IOMMU_HWPT_ALLOC), 1);
	a = hwpt_alloc(0, &s1);
	ck_assert_uint_eq(a.flags, IOMMU_HWPT_ALLOC_PASID);	/* as its parent */
	ck_assert_uint_eq(a.dev_id, DEV_ID0);
	ck_assert_uint_eq(a.pt_id, PARENT);
	ck_assert_uint_eq(a.data_type, IOMMU_HWPT_DATA_VTD_S1);
	ck_assert_uint_eq(a.data_len, sizeof(s1));
	ck_assert_uint_eq(s1.pgtbl_addr, flpt);
	ck_assert_uint_eq(s1.addr_width, 48);
	ck_assert_uint_eq(s1.flags, IOMMU_VTD_S1_SRE);
	nested = PARENT + 1;
	ck_assert_uint_eq(count(VFIO_DEVICE_ATTACH_IOMMUFD_PT), 1);
	ck_assert_uint_eq(attached(0, &pasid, NULL), nested);
	ck_assert_uint_eq(pasid, 0);

	/* A page flush of the domain: one call, one entry, on that HWPT. */
	fake_hostops_clear_calls(fake);
	queue(&(struct vtd_desc){ .type = VTD_DESC_PIOTLB,
		.piotlb = { .gran = VTD_PIOTLB_PAGE, .did = 3, .pasid = 0, .addr = 0x7000 } });
	submit();
	ck_assert_uint_eq(count(IOMMU_HWPT_INVALIDATE), 1);
	e = invalidation(0, &inv);
	ck_assert_uint_eq(inv.hwpt_id, nested);
	ck_assert_uint_eq(inv.entry_num, 1);
	ck_assert_uint_eq(e[0].addr, 0x7000);
	ck_assert_uint_eq(e[0].npages, 1);

	/* Another table for the same PASID: bind, replace, flush and destroy the old. */
	fake_hostops_clear_calls(fake);
	guest_pasid(pdir, 0, PGTT_FL, 3, flpt2);
	queue_pc(3, 0);
	submit();
	ck_assert_uint_eq(count(IOMMU_HWPT_ALLOC), 1);
	hwpt_alloc(0, &s1);
	ck_assert_uint_eq(s1.pgtbl_addr, flpt2);
	nested2 = nested + 1;
	ck_assert_uint_eq(count(VFIO_DEVICE_ATTACH_IOMMUFD_PT), 1);
	ck_assert_uint_eq(attached(0, NULL, NULL), nested2);
	ck_assert_uint_eq(count(IOMMU_DESTROY), 1);
	ck_assert_uint_eq(destroyed(0), nested);
	/* The old attachment's flush went to the old HWPT while it still existed. */
	ck_assert_uint_ge(count(IOMMU_HWPT_INVALIDATE), 1);
	invalidation(0, &inv);
	ck_assert_uint_eq(inv.hwpt_id, nested);
	{
		size_t seen_inv = SIZE_MAX, seen_destroy = SIZE_MAX, seen_attach = SIZE_MAX;

		for (size_t i = 0; i < fake->ncalls; i++) {
			const struct fake_call *c = &fake->calls[i];

			if (c->kind != FAKE_IOCTL)
				continue;
			if (c->request == IOMMU_HWPT_INVALIDATE && seen_inv == SIZE_MAX)
				seen_inv = i;
			if (c->request == IOMMU_DESTROY)
				seen_destroy = i;
			if (c->request == VFIO_DEVICE_ATTACH_IOMMUFD_PT)
				seen_attach = i;
		}
		ck_assert_uint_lt(seen_inv, seen_destroy);
		ck_assert_uint_lt(seen_attach, seen_destroy);
	}
}
END_TEST

/*
 * Pass-through, translation off, a cleared entry and second stage: the
 * nest parent for the first two; the others detach the device (no DMA).
 */
START_TEST(other_modes_place_the_rid)
{
	uint64_t pdir;

	pdir = one_device_guest();
	guest_pasid(pdir, 0, PGTT_FL, 3, 0x123000);
	guest_enable();

	/* Cleared: detached; the nested HWPT goes after that. */
	fake_hostops_clear_calls(fake);
	guest_pasid_clear(pdir, 0);
	queue_pc(3, 0);
	submit();
	ck_assert_uint_eq(count(VFIO_DEVICE_ATTACH_IOMMUFD_PT), 0);
	ck_assert_uint_eq(count(VFIO_DEVICE_DETACH_IOMMUFD_PT), 1);
	ck_assert_uint_eq(fake_hostops_find(fake, FAKE_IOCTL, VFIO_DEVICE_DETACH_IOMMUFD_PT, 0)->arg_len,
			  8);	/* the RID form */
	ck_assert_uint_eq(count(IOMMU_DESTROY), 1);
	ck_assert_uint_eq(destroyed(0), PARENT + 1);

	/* Pass-through: the nest parent (IOVA = GPA). */
	fake_hostops_clear_calls(fake);
	guest_pasid(pdir, 0, PGTT_PT, 3, 0);
	queue_pc(3, 0);
	submit();
	ck_assert_uint_eq(count(VFIO_DEVICE_ATTACH_IOMMUFD_PT), 1);
	ck_assert_uint_eq(attached(0, NULL, NULL), PARENT);

	/* Second stage is not offered (no ECAP.SLTS): the entry faults, the device is detached. */
	fake_hostops_clear_calls(fake);
	guest_pasid(pdir, 0, PGTT_SL, 3, 0x200000);
	queue_pc(3, 0);
	submit();
	ck_assert_uint_eq(count(VFIO_DEVICE_ATTACH_IOMMUFD_PT), 0);
	ck_assert_uint_eq(count(VFIO_DEVICE_DETACH_IOMMUFD_PT), 1);
	ck_assert_uint_eq(count(IOMMU_HWPT_ALLOC), 0);

	/* Translation off: the nest parent again. */
	fake_hostops_clear_calls(fake);
	wr(VTD_REG_GCMD, VTD_GCMD_QIE, 4);
	ck_assert_uint_eq(count(VFIO_DEVICE_ATTACH_IOMMUFD_PT), 1);
	ck_assert_uint_eq(attached(0, NULL, NULL), PARENT);
}
END_TEST

/* Legacy-mode tables are second stage: the device is blocked, not silently translated wrong. */
START_TEST(legacy_mode_blocks)
{
	uint64_t slpt = vtd_test_page(&tables);

	one_device();
	/* Context entry: P, TT 0 (second stage), AW 2 (4-level), DID 4. */
	vtd_test_legacy_ctx(&tables, ROOT, GUEST_SID0, slpt | 1, 2 | 4 << 8);
	fake_hostops_clear_calls(fake);
	wr(VTD_REG_RTADDR, ROOT, 8);
	wr(VTD_REG_GCMD, VTD_GCMD_SRTP, 4);
	wr(VTD_REG_GCMD, VTD_GCMD_TE, 4);
	ck_assert_uint_eq(count(IOMMU_HWPT_ALLOC), 0);
	ck_assert_uint_eq(count(VFIO_DEVICE_ATTACH_IOMMUFD_PT), 0);
	ck_assert_uint_eq(count(VFIO_DEVICE_DETACH_IOMMUFD_PT), 1);
}
END_TEST

/*
 * PASIDs other than 0 (SVA): attached one by one with the PASID form of
 * the attach, flushed on their own HWPT, detached when the entry goes.
 */
START_TEST(pasid_attach_follows_entries)
{
	struct iommu_hwpt_invalidate inv;
	const struct fake_call *c;
	struct tagvmm_vfio_detach_pasid d;
	uint64_t pdir;
	uint32_t pasid, sva;

	pdir = one_device_guest();
	guest_pasid(pdir, 0, PGTT_PT, 1, 0);
	guest_enable();
	ck_assert_uint_eq(count(IOMMU_HWPT_ALLOC), 1);	/* the parent only */

	fake_hostops_clear_calls(fake);
	guest_pasid(pdir, 5, PGTT_FL, 9, 0x333000);
	queue_pc(9, 5);
	submit();
	sva = PARENT + 1;
	ck_assert_uint_eq(count(IOMMU_HWPT_ALLOC), 1);
	ck_assert_uint_eq(count(VFIO_DEVICE_ATTACH_IOMMUFD_PT), 1);
	ck_assert_uint_eq(attached(0, &pasid, NULL), sva);
	ck_assert_uint_eq(pasid, 5);

	fake_hostops_clear_calls(fake);
	queue(&(struct vtd_desc){ .type = VTD_DESC_PIOTLB,
		.piotlb = { .gran = VTD_PIOTLB_PASID, .did = 9, .pasid = 5 } });
	submit();
	ck_assert_uint_eq(count(IOMMU_HWPT_INVALIDATE), 1);
	invalidation(0, &inv);
	ck_assert_uint_eq(inv.hwpt_id, sva);

	fake_hostops_clear_calls(fake);
	guest_pasid_clear(pdir, 5);
	queue_pc(9, 5);
	submit();
	ck_assert_uint_eq(count(VFIO_DEVICE_DETACH_IOMMUFD_PT), 1);
	c = fake_hostops_find(fake, FAKE_IOCTL, VFIO_DEVICE_DETACH_IOMMUFD_PT, 0);
	ck_assert_uint_eq(c->arg_len, sizeof(d));
	memcpy(&d, c->arg, sizeof(d));
	ck_assert_uint_eq(d.flags, VFIO_DEVICE_DETACH_PASID);
	ck_assert_uint_eq(d.pasid, 5);
	ck_assert_uint_eq(count(IOMMU_DESTROY), 1);
	ck_assert_uint_eq(destroyed(0), sva);
	ck_assert_uint_eq(count(VFIO_DEVICE_ATTACH_IOMMUFD_PT), 0);	/* the RID stays */
}
END_TEST

/*
 * Two devices the guest puts in one domain with one table share one
 * nested HWPT: a guest batch with a P_IOTLB and a P_DEVTLB per device
 * (Linux 6.1's SVA flush) is one IOMMU_HWPT_INVALIDATE with one entry,
 * where one call per device per guest request is QEMU's nesting.
 */
START_TEST(shared_domain_one_call_per_batch)
{
	struct iommu_hwpt_invalidate inv;
	const struct iommu_hwpt_vtd_s1_invalidate *e;
	uint64_t pdir0, pdir1;
	uint32_t pasid;

	assign(2);
	script_hw_info(host_ecap);
	script_hw_info(host_ecap);
	ck_assert_msg(start_viommu() == 0, "%s", err);
	ck_assert_uint_eq(count(IOMMU_HWPT_ALLOC), 1);	/* one unit, one parent */
	pdir0 = guest_context(GUEST_SID0);
	pdir1 = guest_context(GUEST_SID1);
	guest_pasid(pdir0, 0, PGTT_PT, 1, 0);
	guest_pasid(pdir1, 0, PGTT_PT, 1, 0);
	guest_pasid(pdir0, 5, PGTT_FL, 9, 0x333000);
	guest_pasid(pdir1, 5, PGTT_FL, 9, 0x333000);
	fake_hostops_clear_calls(fake);
	guest_enable();
	ck_assert_uint_eq(count(IOMMU_HWPT_ALLOC), 1);	/* shared */
	ck_assert_uint_eq(count(VFIO_DEVICE_ATTACH_IOMMUFD_PT), 2);
	ck_assert_uint_eq(attached(0, &pasid, NULL), PARENT + 1);
	ck_assert_uint_eq(pasid, 5);
	ck_assert_uint_eq(attached(1, &pasid, NULL), PARENT + 1);
	ck_assert_uint_eq(pasid, 5);

	fake_hostops_clear_calls(fake);
	for (int i = 0; i < 2; i++) {
		struct vtd_desc p = { .type = VTD_DESC_PIOTLB,
			.piotlb = { .gran = VTD_PIOTLB_PAGE, .did = 9, .pasid = 5, .addr = 0x5000 } };
		struct vtd_desc d = { .type = VTD_DESC_PDEVTLB };

		d.pdevtlb.sid = i ? GUEST_SID1 : GUEST_SID0;
		d.pdevtlb.pasid = 5;
		d.pdevtlb.addr = vtd_devtlb_encode_addr(0x5000, 0, &d.pdevtlb.size);
		queue(&p);
		queue(&d);
	}
	submit();
	ck_assert_uint_eq(count(IOMMU_HWPT_INVALIDATE), 1);
	e = invalidation(0, &inv);
	ck_assert_uint_eq(inv.hwpt_id, PARENT + 1);
	ck_assert_uint_eq(inv.entry_num, 1);
	ck_assert_uint_eq(e[0].addr, 0x5000);
	ck_assert_uint_eq(e[0].npages, 1);
}
END_TEST

/* The position of the @nth call of @request among all calls, for ordering checks. */
static size_t position(unsigned long request, size_t nth)
{
	for (size_t i = 0; i < fake->ncalls; i++)
		if (fake->calls[i].kind == FAKE_IOCTL && fake->calls[i].request == request &&
		    nth-- == 0)
			return i;
	ck_abort_msg("call %zu of request %#lx not made", nth, request);
	return SIZE_MAX;
}

/*
 * Teardown: the PASIDs detached, then the RID (no DMA until vfio.c resets
 * the device), then every nested HWPT, then the parent.
 */
START_TEST(teardown_releases_everything)
{
	struct tagvmm_vfio_detach_pasid d;
	uint64_t pdir;

	pdir = one_device_guest();
	guest_pasid(pdir, 0, PGTT_FL, 3, 0x123000);
	guest_pasid(pdir, 5, PGTT_FL, 9, 0x333000);
	guest_enable();
	ck_assert_uint_eq(count(IOMMU_HWPT_ALLOC), 3);

	fake_hostops_clear_calls(fake);
	viommu_teardown(&vm);
	ck_assert_uint_eq(count(VFIO_DEVICE_ATTACH_IOMMUFD_PT), 0);
	ck_assert_uint_eq(count(VFIO_DEVICE_DETACH_IOMMUFD_PT), 2);
	memcpy(&d, fake_hostops_find(fake, FAKE_IOCTL, VFIO_DEVICE_DETACH_IOMMUFD_PT, 0)->arg,
	       sizeof(d));
	ck_assert_uint_eq(d.flags, VFIO_DEVICE_DETACH_PASID);
	ck_assert_uint_eq(d.pasid, 5);
	ck_assert_uint_eq(fake_hostops_find(fake, FAKE_IOCTL, VFIO_DEVICE_DETACH_IOMMUFD_PT, 1)->arg_len,
			  8);
	ck_assert_uint_eq(count(IOMMU_DESTROY), 3);
	/* Nothing is destroyed while the device still sits on it. */
	ck_assert_uint_lt(position(VFIO_DEVICE_DETACH_IOMMUFD_PT, 1), position(IOMMU_DESTROY, 0));
	ck_assert_uint_ne(destroyed(0), PARENT);
	ck_assert_uint_ne(destroyed(1), PARENT);
	ck_assert_uint_eq(destroyed(2), PARENT);
	/* vfio.c knows the device is detached: its own teardown does not detach again. */
	fake_hostops_clear_calls(fake);
	vfio_teardown(&vm);
	ck_assert_uint_eq(count(VFIO_DEVICE_DETACH_IOMMUFD_PT), 0);
}
END_TEST

/*
 * The host refuses the move to a new table: the device is detached rather
 * than left on the table the guest replaced, the old HWPT goes, and the
 * wait completes (the device is safe, if without DMA). When the detach
 * fails too, the device may still use the old table: the old HWPT stays
 * allocated and the wait does not complete (ICE).
 */
START_TEST(refused_move_blocks_or_fails_the_wait)
{
	uint64_t pdir;

	pdir = one_device_guest();
	guest_pasid(pdir, 0, PGTT_FL, 3, 0x123000);
	guest_enable();

	fake_hostops_clear_calls(fake);
	fake_hostops_fail_ioctl(fake, VFIO_DEVICE_ATTACH_IOMMUFD_PT, EINVAL);
	guest_pasid(pdir, 0, PGTT_FL, 4, 0x456000);
	queue_pc(3, 0);
	submit();
	ck_assert_uint_eq(count(VFIO_DEVICE_ATTACH_IOMMUFD_PT), 1);
	ck_assert_uint_eq(count(VFIO_DEVICE_DETACH_IOMMUFD_PT), 1);
	ck_assert_uint_eq(count(IOMMU_DESTROY), 1);
	ck_assert_uint_eq(destroyed(0), PARENT + 1);	/* the old table's */

	/* Back to a working move, then one where attach and detach both fail. */
	guest_pasid(pdir, 0, PGTT_FL, 3, 0x123000);
	queue_pc(4, 0);
	submit();
	fake_hostops_clear_calls(fake);
	fake_hostops_fail_ioctl(fake, VFIO_DEVICE_ATTACH_IOMMUFD_PT, EINVAL);
	fake_hostops_fail_ioctl(fake, VFIO_DEVICE_DETACH_IOMMUFD_PT, EIO);
	guest_pasid(pdir, 0, PGTT_FL, 5, 0x789000);
	queue_pc(3, 0);
	ck_assert(!try_submit());
	ck_assert(rd(VTD_REG_FSTS, 4) & VTD_FSTS_ICE);
	ck_assert_uint_eq(count(IOMMU_DESTROY), 0);	/* the device may still sit on it */
}
END_TEST

/* Two devices of one IOMMU group cannot follow two guest contexts: refused by name. */
START_TEST(shared_group_is_refused)
{
	const char *bdfs[2] = { BDF0, BDF1 };

	fake_vfio_host_init();
	host_with_device(BDF0, 17, "vfio0");
	host_with_device(BDF1, 17, "vfio1");
	fake_dir("/sys/kernel/iommu_groups/17/devices", BDF0, BDF1, NULL);
	fake_hostops_add_node(fake, "/dev/kvm-vm");
	fake->next_fd = VM_FD;
	vm.vm_fd = fake->ops.open(fake, "/dev/kvm-vm", O_RDWR);
	fake->next_fd = FAKE_FIRST_FD;
	script_ok(VFIO_DEVICE_GET_INFO);
	script_ok(VFIO_DEVICE_GET_INFO);
	ck_assert_msg(vfio_setup(&vm, bdfs, 2, &ops, err, sizeof(err)) == 0, "%s", err);
	fake_hostops_clear_calls(fake);
	ck_assert_int_eq(start_viommu(), -1);
	ck_assert_ptr_nonnull(strstr(err, "share IOMMU group 17"));
	ck_assert_uint_eq(count(IOMMU_HWPT_ALLOC), 0);
}
END_TEST

/* The vIOMMU function @bdf is described behind (the DMAR's and the device tree's). */
static unsigned int viommu_of(uint16_t bdf)
{
	for (size_t i = 0; i < vm.machine.npci; i++)
		if (vm.machine.pci[i].bdf == bdf)
			return vm.machine.pci[i].iommu;
	ck_abort_msg("function %#x not described", bdf);
	return ~0u;
}

/*
 * Devices on two host units get a vIOMMU each (plain --viommu), each
 * vIOMMU limited by its own host unit: dmar3 has no device TLBs, so only
 * vIOMMU 1 drops ECAP.DT. A guest's flush of one vIOMMU then reaches one
 * host unit. With --viommu=2 both sit behind vIOMMU 0.
 */
START_TEST(devices_on_two_host_units_get_a_viommu_each)
{
	assign_on(2, "dmar3");
	script_hw_info(host_ecap);
	script_hw_info(host_ecap & ~VTD_ECAP_DT);
	ck_assert_msg(start_viommu() == 0, "%s", err);
	ck_assert_uint_eq(vm.machine.niommus, 2);
	ck_assert_uint_eq(viommu_of(GUEST_SID0), 0);
	ck_assert_uint_eq(viommu_of(GUEST_SID1), 1);
	ck_assert_uint_eq(count(IOMMU_HWPT_ALLOC), 2);		/* a nest parent per host unit */
	ck_assert(rd(VTD_REG_ECAP, 8) & VTD_ECAP_DT);
	ck_assert(!(vtd_test_mmio_read(&vm, vm.machine.iommus[1].base + VTD_REG_ECAP, 8) &
		    VTD_ECAP_DT));
}
END_TEST

START_TEST(viommu_count_given_keeps_vfio_behind_the_first)
{
	struct viommu_options given = { .units = 2, .units_given = true, .ite_device = -1 };

	assign_on(2, "dmar3");
	script_hw_info(host_ecap);
	script_hw_info(host_ecap & ~VTD_ECAP_DT);
	ck_assert_msg(viommu_setup(&vm, &given, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(vm.machine.niommus, 2);
	ck_assert_uint_eq(viommu_of(GUEST_SID0), 0);
	ck_assert_uint_eq(viommu_of(GUEST_SID1), 0);
	/* vIOMMU 0 fronts both host units: it offers what both have. */
	ck_assert(!(rd(VTD_REG_ECAP, 8) & VTD_ECAP_DT));
}
END_TEST

/*
 * A host kernel without PASID attach refuses IOMMU_HWPT_ALLOC_PASID: the
 * parent is allocated without it and the vIOMMU offers no PASIDs, so a
 * guest PASID entry never reaches the host. Without ECAP.SRS on the host,
 * SRE is reserved for the guest: such an entry faults, nothing is bound.
 */
START_TEST(host_limits_reach_the_guest)
{
	uint64_t pdir, ecap;

	assign(1);
	script_hw_info(host_ecap & ~VTD_ECAP_SRS);
	fake_hostops_fail_ioctl(fake, IOMMU_HWPT_ALLOC, EOPNOTSUPP);
	ck_assert_msg(start_viommu() == 0, "%s", err);
	ck_assert_uint_eq(count(IOMMU_HWPT_ALLOC), 2);
	ck_assert_uint_eq(hwpt_alloc(0, NULL).flags,
			  IOMMU_HWPT_ALLOC_NEST_PARENT | IOMMU_HWPT_ALLOC_PASID);
	ck_assert_uint_eq(hwpt_alloc(1, NULL).flags, IOMMU_HWPT_ALLOC_NEST_PARENT);
	ecap = rd(VTD_REG_ECAP, 8);
	ck_assert(!(ecap & VTD_ECAP_PASID));
	ck_assert(!(ecap & VTD_ECAP_SRS));

	pdir = guest_context(GUEST_SID0);
	guest_pasid(pdir, 0, PGTT_FL, 3, 0x123000);	/* with SRE: reserved here */
	guest_pasid(pdir, 5, PGTT_FL, 9, 0x333000);
	fake_hostops_clear_calls(fake);
	guest_enable();
	ck_assert_uint_eq(count(IOMMU_HWPT_ALLOC), 0);
	ck_assert_uint_eq(count(VFIO_DEVICE_ATTACH_IOMMUFD_PT), 0);
	ck_assert_uint_eq(count(VFIO_DEVICE_DETACH_IOMMUFD_PT), 1);	/* blocked */
}
END_TEST

/*
 * A domain-selective PASID-cache invalidation of another DID leaves the
 * RID where it is, even though its entry changed (the guest has not
 * invalidated that yet).
 */
START_TEST(domain_scope_leaves_other_rids)
{
	uint64_t pdir;
	struct vtd_desc pc = { .type = VTD_DESC_PC };

	pdir = one_device_guest();
	guest_pasid(pdir, 0, PGTT_PT, 7, 0);
	guest_enable();
	guest_pasid(pdir, 0, PGTT_FL, 7, 0x123000);
	fake_hostops_clear_calls(fake);
	pc.pc.gran = VTD_PC_DOMAIN;
	pc.pc.did = 9;
	queue(&pc);
	submit();
	ck_assert_uint_eq(count(VFIO_DEVICE_ATTACH_IOMMUFD_PT), 0);
	ck_assert_uint_eq(count(VFIO_DEVICE_DETACH_IOMMUFD_PT), 0);
	/* Its own DID: now it moves. */
	pc.pc.did = 7;
	queue(&pc);
	submit();
	ck_assert_uint_eq(count(VFIO_DEVICE_ATTACH_IOMMUFD_PT), 1);
	ck_assert_uint_eq(attached(0, NULL, NULL), PARENT + 1);
}
END_TEST

/*
 * Finding 3 of the hardening review: a PASID whose host detach failed
 * stays in the device's host PASID list (and is retried); the guest then
 * moving all 16 of its PASIDs to 16 new ones must not append past that
 * list. The 16th new PASID finds no room and stays blocked on the host
 * (no attach call, a message) until the stale one is gone.
 */
START_TEST(failed_pasid_detach_keeps_the_list_bounded)
{
	struct vtd_desc pc = { .type = VTD_DESC_PC };
	uint64_t pdir;
	uint32_t pasid;

	pc.pc.gran = VTD_PC_GLOBAL;
	pdir = one_device_guest();
	guest_pasid(pdir, 0, PGTT_PT, 1, 0);
	guest_enable();
	fake_hostops_clear_calls(fake);
	for (pasid = 1; pasid <= VTD_MAX_ATTACH; pasid++)
		guest_pasid(pdir, pasid, PGTT_FL, (uint16_t)(10 + pasid), 0x333000);
	queue(&pc);
	submit();
	ck_assert_uint_eq(count(VFIO_DEVICE_ATTACH_IOMMUFD_PT), VTD_MAX_ATTACH);

	fake_hostops_clear_calls(fake);
	fake_hostops_fail_ioctl(fake, VFIO_DEVICE_DETACH_IOMMUFD_PT, EIO);
	for (pasid = 1; pasid <= VTD_MAX_ATTACH; pasid++) {
		guest_pasid_clear(pdir, pasid);
		guest_pasid(pdir, pasid + VTD_MAX_ATTACH, PGTT_FL, (uint16_t)(10 + pasid), 0x444000);
	}
	queue(&pc);
	/* The failed detach leaves the device on a table the guest dropped: not completed. */
	try_submit();
	ck_assert_uint_eq(count(VFIO_DEVICE_DETACH_IOMMUFD_PT), VTD_MAX_ATTACH);
	ck_assert_uint_eq(count(VFIO_DEVICE_ATTACH_IOMMUFD_PT), VTD_MAX_ATTACH - 1);

	/* The next resync retries the detach, and then there is room for the last one. */
	fake_hostops_clear_calls(fake);
	wr(VTD_REG_FSTS, VTD_FSTS_ICE | VTD_FSTS_ITE | VTD_FSTS_IQE, 4);
	queue(&pc);
	submit();
	ck_assert_uint_eq(count(VFIO_DEVICE_DETACH_IOMMUFD_PT), 1);
	ck_assert_uint_eq(count(VFIO_DEVICE_ATTACH_IOMMUFD_PT), 1);
}
END_TEST

static Suite *viommu_vfio_suite(void)
{
	Suite *s = suite_create("viommu_vfio");
	TCase *tc = tcase_create("nesting");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, setup_nests_over_the_ioas);
	tcase_add_test(tc, host_without_nesting_is_refused);
	tcase_add_test(tc, first_stage_becomes_nested_hwpt);
	tcase_add_test(tc, other_modes_place_the_rid);
	tcase_add_test(tc, legacy_mode_blocks);
	tcase_add_test(tc, pasid_attach_follows_entries);
	tcase_add_test(tc, shared_domain_one_call_per_batch);
	tcase_add_test(tc, teardown_releases_everything);
	tcase_add_test(tc, refused_move_blocks_or_fails_the_wait);
	tcase_add_test(tc, shared_group_is_refused);
	tcase_add_test(tc, host_limits_reach_the_guest);
	tcase_add_test(tc, devices_on_two_host_units_get_a_viommu_each);
	tcase_add_test(tc, viommu_count_given_keeps_vfio_behind_the_first);
	tcase_add_test(tc, domain_scope_leaves_other_rids);
	tcase_add_test(tc, failed_pasid_detach_keeps_the_list_bounded);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(viommu_vfio_suite());
}
