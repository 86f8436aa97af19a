// SPDX-License-Identifier: MIT
/*
 * Page faults of a VFIO device behind the vIOMMU (viommu/pt-fault.c),
 * through the host_ops seam: the host unit reports PRS, so setup makes a
 * fault queue (IOMMU_FAULT_QUEUE_ALLOC) and the vIOMMU offers PRS; a
 * PASID bound with PRE set in the guest's context entry gets a nested
 * HWPT with IOMMU_HWPT_FAULT_ID_VALID; records the fake host's fault fd
 * returns become page request descriptors in the guest's queue, and the
 * guest's page group responses become {cookie, code} writes to that fd.
 * The fault reader thread is off: the test polls (viommu_poll_faults()).
 */
#include <time.h>

#include "check_main.h"
#include "viommu/pt-priv.h"
#include "viommu_vfio_guest.h"

#define FAULT_ID	0x77
#define PRQ		0x500000ULL	/* the guest's page request queue: 4 KiB, 128 slots */
#define PASID		5
#define DID		9
#define SCE_PRE		(1ULL << 4)

static int fault_fd;

/* BDF0 behind a vIOMMU, on a host unit with PRS whose fault queue is fault_fd. */
static void faulting_device_with(bool reader)
{
	struct fake_ioctl_result r = { .out_off = offsetof(struct iommu_fault_alloc, out_fault_id),
				       .out_len = 8 };
	struct viommu_options o = { .units = 1, .ite_device = -1, .fault_reader_off = !reader };
	uint32_t out[2];

	assign(1);
	if (reader)
		fake_vfio_lock_ops();
	fake_hostops_add_node(fake, "/dev/fault-queue");
	fault_fd = fake->ops.open(fake, "/dev/fault-queue", O_RDWR);
	ck_assert_int_ge(fault_fd, 0);
	out[0] = FAULT_ID;
	out[1] = (uint32_t)fault_fd;
	memcpy(r.out, out, sizeof(out));
	fake_hostops_arg_sized(fake, IOMMU_FAULT_QUEUE_ALLOC);
	fake_hostops_script_ioctl(fake, IOMMU_FAULT_QUEUE_ALLOC, &r);
	script_hw_info(host_ecap | VTD_ECAP_PRS | VTD_ECAP_PDS);
	ck_assert_msg(viommu_setup(&vm, &o, err, sizeof(err)) == 0, "%s", err);
}

static void faulting_device(void)
{
	faulting_device_with(false);
}

/* The guest: context with PRE (or not), its PRQ, PASID 5 first stage, translation on. */
static void guest_with_pasid(bool pre)
{
	uint64_t pdir = vtd_test_page(&tables);

	vtd_test_sm_ctx(&tables, ROOT, GUEST_SID0, pdir | 1 | 1 << 2 | 1 << 3 | (pre ? SCE_PRE : 0), 0);
	guest_pasid(pdir, 0, PGTT_PT, 1, 0);
	wr(VTD_REG_PQA, PRQ | 0, 8);	/* PQS 0: 4 KiB */
	wr(VTD_REG_PQH, 0, 8);
	wr(VTD_REG_PQT, 0, 8);
	guest_enable();
	fake_hostops_clear_calls(fake);
	guest_pasid(pdir, PASID, PGTT_FL, DID, 0x333000);
	queue_pc(DID, PASID);
	submit();
}

static struct iommu_hwpt_pgfault rec(uint32_t cookie, uint32_t grpid, uint64_t addr, uint32_t perm,
				     bool last)
{
	struct iommu_hwpt_pgfault r;

	memset(&r, 0, sizeof(r));
	r.flags = IOMMU_PGFAULT_FLAGS_PASID_VALID | (last ? IOMMU_PGFAULT_FLAGS_LAST_PAGE : 0);
	r.dev_id = DEV_ID0;
	r.pasid = PASID;
	r.grpid = grpid;
	r.perm = perm;
	r.addr = addr;
	r.cookie = cookie;
	return r;
}

static void host_reports(const struct iommu_hwpt_pgfault *recs, size_t n)
{
	fake_hostops_queue_read(fake, fault_fd, recs, n * sizeof(*recs));
}

/* Slot @i of the guest's PRQ, and how many the unit has written (PQT). */
static void prq_slot(unsigned int i, uint64_t d[2])
{
	d[0] = vtd_test_read64(&vm, PRQ + i * 32);
	d[1] = vtd_test_read64(&vm, PRQ + i * 32 + 8);
}

static unsigned int prq_written(void)
{
	return (unsigned int)(rd(VTD_REG_PQT, 8) / 32);
}

static void guest_responds(uint16_t prgi, uint8_t rcode)
{
	struct vtd_desc d = { .type = VTD_DESC_PGRP_RESP };

	d.pgrp.rid = GUEST_SID0;
	d.pgrp.pasid_present = true;
	d.pgrp.pasid = PASID;
	d.pgrp.prgi = prgi;
	d.pgrp.lpig = true;
	d.pgrp.rcode = rcode;
	queue(&d);
	submit();
}

/* The @nth write to the fault fd: one response, whole. */
static struct iommu_hwpt_page_response response(size_t nth)
{
	const struct fake_call *c = fake_hostops_find(fake, FAKE_WRITE, 0, nth);
	struct iommu_hwpt_page_response r;

	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(c->fd, fault_fd);
	ck_assert_uint_eq(c->arg_len, sizeof(r));
	memcpy(&r, c->arg, sizeof(r));
	return r;
}

static size_t writes(void)
{
	return fake_hostops_count(fake, FAKE_WRITE, 0);
}

START_TEST(queue_allocated_and_hwpt_reports_to_it)
{
	struct iommu_hwpt_vtd_s1 s1;
	struct iommu_hwpt_alloc a;
	const struct fake_call *c;
	uint32_t fault_id;

	faulting_device();
	ck_assert_uint_eq(count(IOMMU_FAULT_QUEUE_ALLOC), 1);
	c = fake_hostops_find(fake, FAKE_IOCTL, IOMMU_FAULT_QUEUE_ALLOC, 0);
	ck_assert_uint_eq(c->arg_len, sizeof(struct iommu_fault_alloc));
	ck_assert_uint_eq(((const struct iommu_fault_alloc *)(const void *)c->arg)->flags, 0);
	/* The vIOMMU offers page requests now. */
	ck_assert(rd(VTD_REG_ECAP, 8) & VTD_ECAP_PRS);
	ck_assert(rd(VTD_REG_ECAP, 8) & VTD_ECAP_PDS);

	guest_with_pasid(true);
	ck_assert_uint_eq(count(IOMMU_HWPT_ALLOC), 1);
	a = hwpt_alloc(0, &s1);
	ck_assert_uint_eq(a.size, IOMMU_HWPT_ALLOC_SIZE_6_11);
	ck_assert_uint_eq(a.flags & IOMMU_HWPT_FAULT_ID_VALID, IOMMU_HWPT_FAULT_ID_VALID);
	memcpy(&fault_id, fake_hostops_find(fake, FAKE_IOCTL, IOMMU_HWPT_ALLOC, 0)->arg +
			  IOMMU_HWPT_ALLOC_FAULT_ID_OFFSET, sizeof(fault_id));
	ck_assert_uint_eq(fault_id, FAULT_ID);
	ck_assert_uint_eq(s1.pgtbl_addr, 0x333000);
}
END_TEST

/* PRE clear: the guest takes no page requests from the device, so its HWPT reports none. */
START_TEST(no_pre_no_fault_reporting)
{
	faulting_device();
	guest_with_pasid(false);
	ck_assert_uint_eq(count(IOMMU_HWPT_ALLOC), 1);
	ck_assert_uint_eq(hwpt_alloc(0, NULL).flags & IOMMU_HWPT_FAULT_ID_VALID, 0);
}
END_TEST

/* A host unit without PRS: no queue, and the vIOMMU offers no page requests. */
START_TEST(host_without_prs_offers_none)
{
	struct viommu_options o = { .units = 1, .ite_device = -1, .fault_reader_off = true };

	assign(1);
	script_hw_info(host_ecap);
	ck_assert_msg(viommu_setup(&vm, &o, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(count(IOMMU_FAULT_QUEUE_ALLOC), 0);
	ck_assert_uint_eq(rd(VTD_REG_ECAP, 8) & (VTD_ECAP_PRS | VTD_ECAP_PDS), 0);
}
END_TEST

/* A single page and a group of 3 become descriptors with the host's fields. */
START_TEST(faults_become_page_requests)
{
	struct iommu_hwpt_pgfault g[4] = {
		rec(11, 0x21, 0x7f0000001000ULL, IOMMU_PGFAULT_PERM_READ | IOMMU_PGFAULT_PERM_WRITE,
		    true),
		rec(12, 0x1a5, 0x7f0000002000ULL, IOMMU_PGFAULT_PERM_READ, false),
		rec(12, 0x1a5, 0x7f0000003000ULL, IOMMU_PGFAULT_PERM_EXEC, false),
		rec(12, 0x1a5, 0x7f0000004000ULL, IOMMU_PGFAULT_PERM_PRIV | IOMMU_PGFAULT_PERM_WRITE,
		    true),
	};
	uint64_t d[2];

	faulting_device();
	guest_with_pasid(true);
	ck_assert_uint_eq(viommu_poll_faults(&vm), 0);	/* nothing yet */
	host_reports(g, 4);
	ck_assert_uint_eq(viommu_poll_faults(&vm), 2);
	ck_assert_uint_eq(prq_written(), 4);
	ck_assert(rd(VTD_REG_PRS, 4) & 1);	/* PPR */

	prq_slot(0, d);
	ck_assert_uint_eq(d[0] & 0xff, 1);				/* type: page request */
	ck_assert_uint_eq((d[0] >> 8) & 1, 1);				/* PASID present */
	ck_assert_uint_eq((d[0] >> 16) & 0xffff, GUEST_SID0);		/* the guest's RID */
	ck_assert_uint_eq((d[0] >> 32) & 0xfffff, PASID);
	ck_assert_uint_eq((d[0] >> 52) & 3, 0);				/* no exec, no priv */
	ck_assert_uint_eq(d[1] & 3, 3);					/* read, write */
	ck_assert_uint_eq((d[1] >> 2) & 1, 1);				/* LPIG */
	ck_assert_uint_eq((d[1] >> 3) & 0x1ff, 0x21);			/* PRGI */
	ck_assert_uint_eq(d[1] & ~0xfffULL, 0x7f0000001000ULL);
	for (unsigned int i = 1; i < 4; i++) {
		prq_slot(i, d);
		ck_assert_uint_eq((d[1] >> 3) & 0x1ff, 0x1a5);
		ck_assert_uint_eq((d[1] >> 2) & 1, i == 3);
		ck_assert_uint_eq(d[1] & ~0xfffULL, 0x7f0000001000ULL + 0x1000ULL * i);
	}
	prq_slot(2, d);
	ck_assert_uint_eq((d[0] >> 52) & 3, 1);				/* exec */
	ck_assert_uint_eq(d[1] & 3, 0);
	prq_slot(3, d);
	ck_assert_uint_eq((d[0] >> 52) & 3, 2);				/* priv */
	ck_assert_uint_eq(d[1] & 3, 2);					/* write */
	ck_assert_uint_eq(writes(), 0);		/* the guest answers, not us */
}
END_TEST

/* Success, Invalid Request and Response Failure: the host gets SUCCESS, INVALID, INVALID. */
START_TEST(responses_become_cookie_writes)
{
	struct iommu_hwpt_pgfault g[4] = {
		rec(21, 1, 0x1000, IOMMU_PGFAULT_PERM_READ, true),
		rec(22, 2, 0x2000, IOMMU_PGFAULT_PERM_READ, true),
		rec(23, 3, 0x3000, IOMMU_PGFAULT_PERM_READ, true),
		rec(24, 4, 0x4000, IOMMU_PGFAULT_PERM_READ, true),
	};
	struct iommu_hwpt_page_response r;

	faulting_device();
	guest_with_pasid(true);
	host_reports(g, 4);
	ck_assert_uint_eq(viommu_poll_faults(&vm), 4);
	fake_hostops_clear_calls(fake);

	guest_responds(2, 0x0);		/* Success */
	ck_assert_uint_eq(writes(), 1);
	r = response(0);
	ck_assert_uint_eq(r.cookie, 22);
	ck_assert_uint_eq(r.code, IOMMUFD_PAGE_RESP_SUCCESS);

	guest_responds(1, 0x1);		/* Invalid Request */
	r = response(1);
	ck_assert_uint_eq(r.cookie, 21);
	ck_assert_uint_eq(r.code, IOMMUFD_PAGE_RESP_INVALID);

	/* Response Failure: that group INVALID, and the device's other outstanding one too. */
	guest_responds(3, 0xf);
	ck_assert_uint_eq(writes(), 4);
	r = response(2);
	ck_assert_uint_eq(r.cookie, 23);
	ck_assert_uint_eq(r.code, IOMMUFD_PAGE_RESP_INVALID);
	r = response(3);
	ck_assert_uint_eq(r.cookie, 24);
	ck_assert_uint_eq(r.code, IOMMUFD_PAGE_RESP_INVALID);

	/* Answered groups are gone: a second answer matches nothing and is dropped. */
	guest_responds(4, 0x0);
	guest_responds(2, 0x0);
	ck_assert_uint_eq(writes(), 4);
}
END_TEST

/* A response for a group never asked: dropped, nothing written, the guest's wait completes. */
START_TEST(unknown_group_response_dropped)
{
	faulting_device();
	guest_with_pasid(true);
	guest_responds(0x99, 0x0);
	ck_assert_uint_eq(writes(), 0);
}
END_TEST

/* A full guest queue: the group is answered SUCCESS at once, so the device retries. */
START_TEST(full_guest_queue_answers_success)
{
	struct iommu_hwpt_pgfault g[2] = {
		rec(31, 1, 0x1000, IOMMU_PGFAULT_PERM_READ, true),
		rec(32, 2, 0x2000, IOMMU_PGFAULT_PERM_READ, true),
	};
	struct iommu_hwpt_page_response r;

	faulting_device();
	guest_with_pasid(true);
	/* Head one slot past the tail: the queue is full. */
	wr(VTD_REG_PQH, 32, 8);
	host_reports(g, 2);
	ck_assert_uint_eq(viommu_poll_faults(&vm), 2);
	ck_assert_uint_eq(prq_written(), 0);
	ck_assert(rd(VTD_REG_PRS, 4) & 2);	/* PRO */
	ck_assert_uint_eq(writes(), 2);
	r = response(0);
	ck_assert_uint_eq(r.cookie, 31);
	ck_assert_uint_eq(r.code, IOMMUFD_PAGE_RESP_SUCCESS);
	r = response(1);
	ck_assert_uint_eq(r.cookie, 32);
	ck_assert_uint_eq(r.code, IOMMUFD_PAGE_RESP_SUCCESS);
	/* No group is left waiting: a late guest answer matches nothing. */
	guest_responds(1, 0x0);
	ck_assert_uint_eq(writes(), 2);
}
END_TEST

/* A read that is no whole number of records: nothing forwarded, nothing answered. */
START_TEST(short_read_is_refused)
{
	struct iommu_hwpt_pgfault g = rec(41, 1, 0x1000, IOMMU_PGFAULT_PERM_READ, true);

	faulting_device();
	guest_with_pasid(true);
	fake_hostops_queue_read(fake, fault_fd, &g, sizeof(g) - 4);
	ck_assert_uint_eq(viommu_poll_faults(&vm), 0);
	ck_assert_uint_eq(prq_written(), 0);
	ck_assert_uint_eq(writes(), 0);
}
END_TEST

/* A record of a device that is not ours, and one on a PASID the guest never bound: INVALID. */
START_TEST(unknown_device_and_unbound_pasid_are_invalid)
{
	struct iommu_hwpt_pgfault g[2] = {
		rec(51, 1, 0x1000, IOMMU_PGFAULT_PERM_READ, true),
		rec(52, 2, 0x2000, IOMMU_PGFAULT_PERM_READ, true),
	};
	struct iommu_hwpt_page_response r;

	faulting_device();
	guest_with_pasid(true);
	g[0].dev_id = 0x999;
	g[1].pasid = 77;
	host_reports(g, 2);
	ck_assert_uint_eq(viommu_poll_faults(&vm), 2);
	ck_assert_uint_eq(prq_written(), 0);
	ck_assert_uint_eq(writes(), 2);
	r = response(0);
	ck_assert_uint_eq(r.cookie, 51);
	ck_assert_uint_eq(r.code, IOMMUFD_PAGE_RESP_INVALID);
	r = response(1);
	ck_assert_uint_eq(r.cookie, 52);
	ck_assert_uint_eq(r.code, IOMMUFD_PAGE_RESP_INVALID);
}
END_TEST

/* The table is bounded: groups beyond it are answered SUCCESS, not remembered. */
START_TEST(outstanding_groups_are_bounded)
{
	const unsigned int n = PT_FAULT_GROUPS + 44;
	size_t answered = 0;

	faulting_device();
	guest_with_pasid(true);
	wr(VTD_REG_PQA, PRQ | 7, 8);	/* PQS 7: 512 KiB, room for every request */
	for (unsigned int i = 0; i < n; i++) {
		/* Distinct PRGIs (9 bits): each group is a new one. */
		struct iommu_hwpt_pgfault g = rec(1000 + i, i, 0x1000ULL * (i + 1),
						  IOMMU_PGFAULT_PERM_READ, true);

		fake_hostops_clear_calls(fake);		/* the fake's call log is bounded too */
		host_reports(&g, 1);
		ck_assert_uint_eq(viommu_poll_faults(&vm), 1);
		if (writes()) {
			ck_assert_uint_eq(response(0).cookie, 1000 + i);
			ck_assert_uint_eq(response(0).code, IOMMUFD_PAGE_RESP_SUCCESS);
			answered++;
		}
	}
	ck_assert_uint_eq(answered, n - PT_FAULT_GROUPS);
	ck_assert_uint_eq(prq_written(), PT_FAULT_GROUPS);
	/* A remembered one is still answered by the guest. */
	fake_hostops_clear_calls(fake);
	guest_responds(7, 0x0);
	ck_assert_uint_eq(writes(), 1);
	ck_assert_uint_eq(response(0).cookie, 1007);
}
END_TEST

/* The reader thread, started by the first faulting HWPT, forwards without being polled. */
START_TEST(reader_thread_forwards)
{
	struct iommu_hwpt_pgfault g = rec(61, 0x42, 0x9000, IOMMU_PGFAULT_PERM_WRITE, true);
	struct iommu_hwpt_page_response r;
	uint64_t d[2];

	faulting_device_with(true);
	guest_with_pasid(true);
	pthread_mutex_lock(&fake_lock);
	host_reports(&g, 1);
	pthread_mutex_unlock(&fake_lock);
	/* Not a timing claim: it waits for the thread, up to 10 s on a loaded machine. */
	for (int i = 0; i < 10000 && prq_written() == 0; i++)
		nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
	ck_assert_uint_eq(prq_written(), 1);
	prq_slot(0, d);
	ck_assert_uint_eq((d[1] >> 3) & 0x1ff, 0x42);
	guest_responds(0x42, 0x0);
	pthread_mutex_lock(&fake_lock);
	ck_assert_uint_eq(writes(), 1);
	r = response(0);
	pthread_mutex_unlock(&fake_lock);
	ck_assert_uint_eq(r.cookie, 61);
	ck_assert_uint_eq(r.code, IOMMUFD_PAGE_RESP_SUCCESS);
	viommu_teardown(&vm);		/* stops the reader before the fixture checks the fake */
}
END_TEST

/* Teardown closes the fault fd (the fixture checks every fake fd is closed) and destroys the queue. */
START_TEST(teardown_closes_the_fault_fd)
{
	const struct fake_call *c;
	bool destroyed_queue = false;

	faulting_device();
	guest_with_pasid(true);
	fake_hostops_clear_calls(fake);
	viommu_teardown(&vm);
	ck_assert(!(fake->open_fds & (1ULL << (fault_fd - FAKE_FIRST_FD))));
	for (size_t i = 0; (c = fake_hostops_find(fake, FAKE_IOCTL, IOMMU_DESTROY, i)); i++)
		if (destroyed(i) == FAULT_ID)
			destroyed_queue = true;
	ck_assert(destroyed_queue);
}
END_TEST

static Suite *viommu_vfio_faults_suite(void)
{
	Suite *s = suite_create("viommu_vfio_faults");
	TCase *tc = tcase_create("forwarding");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, queue_allocated_and_hwpt_reports_to_it);
	tcase_add_test(tc, no_pre_no_fault_reporting);
	tcase_add_test(tc, host_without_prs_offers_none);
	tcase_add_test(tc, faults_become_page_requests);
	tcase_add_test(tc, responses_become_cookie_writes);
	tcase_add_test(tc, unknown_group_response_dropped);
	tcase_add_test(tc, full_guest_queue_answers_success);
	tcase_add_test(tc, short_read_is_refused);
	tcase_add_test(tc, unknown_device_and_unbound_pasid_are_invalid);
	tcase_add_test(tc, outstanding_groups_are_bounded);
	tcase_add_test(tc, teardown_closes_the_fault_fd);
	tcase_add_test(tc, reader_thread_forwards);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return check_run(viommu_vfio_faults_suite());
}
