// SPDX-License-Identifier: MIT
/* host_ops_real: the seam's production side, plain system calls. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lib/hostops.h"

static int real_open(void *ctx, const char *path, int flags)
{
	(void)ctx;
	return open(path, flags | O_CLOEXEC);
}

static int real_close(void *ctx, int fd)
{
	(void)ctx;
	return close(fd);
}

static int real_ioctl(void *ctx, int fd, unsigned long request, void *arg)
{
	(void)ctx;
	return ioctl(fd, request, arg);
}

static ssize_t real_readlink(void *ctx, const char *path, char *buf, size_t len)
{
	(void)ctx;
	return readlink(path, buf, len);
}

static int real_access(void *ctx, const char *path, int mode)
{
	(void)ctx;
	return access(path, mode);
}

static ssize_t real_read_file(void *ctx, const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	(void)ctx;
	if (fd < 0 || len == 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return n;
}

static ssize_t real_list_dir(void *ctx, const char *path, char *buf, size_t len)
{
	DIR *dir = opendir(path);
	struct dirent *ent;
	size_t used = 0;

	(void)ctx;
	if (!dir)
		return -1;
	while ((ent = readdir(dir))) {
		size_t n = strlen(ent->d_name) + 1;

		if (!strcmp(ent->d_name, ".") || !strcmp(ent->d_name, ".."))
			continue;
		if (used + n > len) {
			closedir(dir);
			errno = ENOSPC;
			return -1;
		}
		memcpy(buf + used, ent->d_name, n);
		used += n;
	}
	closedir(dir);
	return (ssize_t)used;
}

static ssize_t real_pread(void *ctx, int fd, void *buf, size_t len, off_t off)
{
	(void)ctx;
	return pread(fd, buf, len, off);
}

static ssize_t real_pwrite(void *ctx, int fd, const void *buf, size_t len, off_t off)
{
	(void)ctx;
	return pwrite(fd, buf, len, off);
}

static void *real_mmap(void *ctx, int fd, size_t len, off_t off)
{
	(void)ctx;
	return mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, off);
}

static int real_munmap(void *ctx, void *addr, size_t len)
{
	(void)ctx;
	return munmap(addr, len);
}

static int real_eventfd(void *ctx)
{
	(void)ctx;
	return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

static ssize_t real_read(void *ctx, int fd, void *buf, size_t len)
{
	(void)ctx;
	return read(fd, buf, len);
}

static ssize_t real_write(void *ctx, int fd, const void *buf, size_t len)
{
	(void)ctx;
	return write(fd, buf, len);
}

const struct host_ops host_ops_real = {
	.open = real_open,
	.close = real_close,
	.ioctl = real_ioctl,
	.readlink = real_readlink,
	.access = real_access,
	.read_file = real_read_file,
	.list_dir = real_list_dir,
	.pread = real_pread,
	.pwrite = real_pwrite,
	.mmap = real_mmap,
	.munmap = real_munmap,
	.eventfd = real_eventfd,
	.read = real_read,
	.write = real_write,
	.ctx = NULL,
};
