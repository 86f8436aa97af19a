/* SPDX-License-Identifier: MIT */
/*
 * The one seam between tagvmm and a real host's IOMMU plumbing (iommufd,
 * VFIO cdev, sysfs). Every call the passthrough path makes goes through a
 * struct host_ops, so tests run it against a recording fake on machines
 * without VT-d, /dev/iommu or /dev/vfio. host_ops_real calls the kernel.
 */
#ifndef TAGVMM_HOSTVTD_HOSTOPS_H
#define TAGVMM_HOSTVTD_HOSTOPS_H

#include <stddef.h>
#include <sys/types.h>

struct host_ops {
	int (*open)(void *ctx, const char *path, int flags);
	int (*close)(void *ctx, int fd);
	/* ioctl(2): returns its result, or -1 with errno. */
	int (*ioctl)(void *ctx, int fd, unsigned long request, void *arg);
	/* readlink(2) and access(2), for sysfs and /dev discovery. */
	ssize_t (*readlink)(void *ctx, const char *path, char *buf, size_t len);
	int (*access)(void *ctx, const char *path, int mode);
	/* Read a small sysfs file into @buf (NUL-terminated). Returns bytes or -1. */
	ssize_t (*read_file)(void *ctx, const char *path, char *buf, size_t len);
	void *ctx;
};

extern const struct host_ops host_ops_real;

#endif
