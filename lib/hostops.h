/* SPDX-License-Identifier: MIT */
/*
 * The one seam between tagvmm and a real host's device plumbing (iommufd,
 * VFIO cdevs and regions, sysfs, eventfds). Every call the passthrough
 * path makes goes through a struct host_ops, so tests run it against a
 * recording fake on machines without VT-d, /dev/iommu or /dev/vfio.
 * host_ops_real calls the kernel. Every member is required; each returns
 * what its system call does, -1 (MAP_FAILED for mmap) with errno on
 * failure.
 */
#ifndef TAGVMM_LIB_HOSTOPS_H
#define TAGVMM_LIB_HOSTOPS_H

#include <stddef.h>
#include <sys/types.h>

struct host_ops {
	int (*open)(void *ctx, const char *path, int flags);
	/* Every fd the seam hands out, eventfds too, goes back through here. */
	int (*close)(void *ctx, int fd);
	/* ioctl(2): returns its result, or -1 with errno. */
	int (*ioctl)(void *ctx, int fd, unsigned long request, void *arg);
	/* readlink(2) and access(2), for sysfs and /dev discovery. */
	ssize_t (*readlink)(void *ctx, const char *path, char *buf, size_t len);
	int (*access)(void *ctx, const char *path, int mode);
	/* Read a small sysfs file into @buf (NUL-terminated). Returns bytes or -1. */
	ssize_t (*read_file)(void *ctx, const char *path, char *buf, size_t len);
	/* Group members, cdev names: @path's entries, NUL-separated, no "." or ".." (ENOSPC). */
	ssize_t (*list_dir)(void *ctx, const char *path, char *buf, size_t len);
	/* A VFIO region's config space and trapped BAR accesses. */
	ssize_t (*pread)(void *ctx, int fd, void *buf, size_t len, off_t off);
	ssize_t (*pwrite)(void *ctx, int fd, const void *buf, size_t len, off_t off);
	/* Shared, read-write: BAR pages in a memslot take guest accesses without exits. */
	void *(*mmap)(void *ctx, int fd, size_t len, off_t off);
	int (*munmap)(void *ctx, void *addr, size_t len);
	/* Non-blocking, close-on-exec: VFIO signals through it, a KVM irqfd consumes it. */
	int (*eventfd)(void *ctx);
	/* An eventfd's 8-byte count, reset by the read (EAGAIN at 0): a masked vector's pending. */
	ssize_t (*read)(void *ctx, int fd, void *buf, size_t len);
	/* write(2): an iommufd fault queue's page responses. */
	ssize_t (*write)(void *ctx, int fd, const void *buf, size_t len);
	void *ctx;
};

extern const struct host_ops host_ops_real;

#endif
