// SPDX-License-Identifier: MIT
/* --host-trace: the logging host_ops (lib/hostops-trace.c) over a scripted one. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <linux/kvm.h>

#include "lib/hostops-trace.h"
#include "lib/iommufd-compat.h"
#include "lib/vfio-compat.h"

/* The inner side: each call answers @next_rc with errno @next_err. */
static long next_rc;
static int next_err;
static int calls;
static char page[4096];

static long answer(void)
{
	calls++;
	errno = next_err;
	return next_rc;
}

static int in_open(void *c, const char *p, int f) { (void)c; (void)p; (void)f; return (int)answer(); }
static int in_close(void *c, int fd) { (void)c; (void)fd; return (int)answer(); }
static int in_ioctl(void *c, int fd, unsigned long r, void *a)
{
	(void)c; (void)fd; (void)r; (void)a;
	return (int)answer();
}
static ssize_t in_pread(void *c, int fd, void *b, size_t l, off_t o)
{
	(void)c; (void)fd; (void)b; (void)o;
	answer();
	return (ssize_t)l;
}
static void *in_mmap(void *c, int fd, size_t l, off_t o)
{
	(void)c; (void)fd; (void)l; (void)o;
	return answer() < 0 ? MAP_FAILED : page;
}
static int in_eventfd(void *c) { (void)c; return (int)answer(); }

static const struct host_ops inner = {
	.open = in_open, .close = in_close, .ioctl = in_ioctl, .pread = in_pread,
	.mmap = in_mmap, .eventfd = in_eventfd,
};

START_TEST(test_calls_and_answers_logged)
{
	struct host_ops_trace t;
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	const struct host_ops *ops = host_ops_trace_init(&t, &inner, out);
	char buf[8];

	next_rc = 7, next_err = 0;
	ck_assert_int_eq(ops->open(ops->ctx, "/dev/iommu", 2), 7);
	ck_assert_int_eq(ops->ioctl(ops->ctx, 7, IOMMU_IOAS_ALLOC, NULL), 7);
	next_rc = -1, next_err = EOPNOTSUPP;
	ck_assert_int_eq(ops->ioctl(ops->ctx, 9, VFIO_DEVICE_RESET, NULL), -1);
	/* The caller still sees the inner call's errno after the log line. */
	ck_assert_int_eq(errno, EOPNOTSUPP);
	next_err = ENOENT;
	ck_assert_int_eq(ops->open(ops->ctx, "/dev/vfio/devices/vfio3", 2), -1);
	ck_assert_int_eq(errno, ENOENT);
	next_rc = 0, next_err = 0;
	ck_assert_int_eq(ops->ioctl(ops->ctx, 4, KVM_IRQFD, NULL), 0);
	ck_assert_int_eq(ops->ioctl(ops->ctx, 4, 0x1234, NULL), 0);
	ck_assert_ptr_eq(ops->mmap(ops->ctx, 9, 0x4000, 0x10000), page);
	/* The data path passes through unlogged. */
	ck_assert_int_eq(ops->pread(ops->ctx, 9, buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
	next_rc = 12;
	ck_assert_int_eq(ops->eventfd(ops->ctx), 12);
	ck_assert_int_eq(calls, 9);
	fclose(out);
	ck_assert_str_eq(text,
		"open /dev/iommu = 7\n"
		"ioctl 7 IOMMU_IOAS_ALLOC = 7\n"
		"ioctl 9 VFIO_DEVICE_RESET = -1 EOPNOTSUPP (Operation not supported)\n"
		"open /dev/vfio/devices/vfio3 = -1 ENOENT (No such file or directory)\n"
		"ioctl 4 KVM_IRQFD = 0\n"
		"ioctl 4 0x1234 = 0\n"
		"mmap 9 len 0x4000 off 0x10000 = 0\n"
		"eventfd = 12\n");
	free(text);
	host_ops_trace_destroy(&t);
}
END_TEST

START_TEST(test_every_call_tagvmm_makes_has_a_name)
{
	static const unsigned long used[] = {
		IOMMU_DESTROY, IOMMU_IOAS_ALLOC, IOMMU_IOAS_MAP, IOMMU_IOAS_UNMAP, IOMMU_HWPT_ALLOC,
		IOMMU_GET_HW_INFO, IOMMU_HWPT_INVALIDATE, VFIO_DEVICE_BIND_IOMMUFD,
		VFIO_DEVICE_ATTACH_IOMMUFD_PT, VFIO_DEVICE_DETACH_IOMMUFD_PT, VFIO_DEVICE_GET_INFO,
		VFIO_DEVICE_GET_REGION_INFO, VFIO_DEVICE_GET_IRQ_INFO, VFIO_DEVICE_SET_IRQS,
		VFIO_DEVICE_RESET, KVM_IRQFD, KVM_SET_GSI_ROUTING, KVM_SET_USER_MEMORY_REGION,
	};

	for (size_t i = 0; i < sizeof(used) / sizeof(used[0]); i++)
		ck_assert_msg(host_ioctl_name(used[i]), "request %#lx has no name", used[i]);
	ck_assert_str_eq(host_ioctl_name(IOMMU_HWPT_INVALIDATE), "IOMMU_HWPT_INVALIDATE");
	ck_assert_ptr_null(host_ioctl_name(0));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("hostops_trace");
	TCase *tc = tcase_create("trace");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_calls_and_answers_logged);
	tcase_add_test(tc, test_every_call_tagvmm_makes_has_a_name);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
