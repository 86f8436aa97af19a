// SPDX-License-Identifier: MIT
/* host_ops_real: the seam's production side, plain system calls. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "hostvtd/hostops.h"

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

const struct host_ops host_ops_real = {
	.open = real_open,
	.close = real_close,
	.ioctl = real_ioctl,
	.readlink = real_readlink,
	.access = real_access,
	.read_file = real_read_file,
	.ctx = NULL,
};
