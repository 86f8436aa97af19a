// SPDX-License-Identifier: MIT
/* host_ops_trace: a logging host_ops over another one (hostops-trace.h). */
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mman.h>
#include <linux/kvm.h>

#include "lib/hostops-trace.h"
#include "lib/iommufd-compat.h"
#include "lib/vfio-compat.h"

#define NAME(r) { r, #r }
static const struct {
	unsigned long request;
	const char *name;
} ioctl_names[] = {
	NAME(IOMMU_DESTROY), NAME(IOMMU_IOAS_ALLOC), NAME(IOMMU_IOAS_MAP), NAME(IOMMU_IOAS_UNMAP),
	NAME(IOMMU_HWPT_ALLOC), NAME(IOMMU_GET_HW_INFO), NAME(IOMMU_HWPT_INVALIDATE),
	NAME(VFIO_DEVICE_BIND_IOMMUFD), NAME(VFIO_DEVICE_ATTACH_IOMMUFD_PT),
	NAME(VFIO_DEVICE_DETACH_IOMMUFD_PT), NAME(VFIO_DEVICE_GET_INFO),
	NAME(VFIO_DEVICE_GET_REGION_INFO), NAME(VFIO_DEVICE_GET_IRQ_INFO), NAME(VFIO_DEVICE_SET_IRQS),
	NAME(VFIO_DEVICE_RESET),
	NAME(KVM_IRQFD), NAME(KVM_SET_GSI_ROUTING), NAME(KVM_SET_USER_MEMORY_REGION),
	NAME(KVM_IRQ_LINE), NAME(KVM_SIGNAL_MSI), NAME(KVM_CHECK_EXTENSION),
};

const char *host_ioctl_name(unsigned long request)
{
	for (size_t i = 0; i < sizeof(ioctl_names) / sizeof(ioctl_names[0]); i++)
		if (ioctl_names[i].request == request)
			return ioctl_names[i].name;
	return NULL;
}

/* One line: what was called and its answer; errno is kept for the caller. */
static void log_line(struct host_ops_trace *t, long rc, int err, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&t->lock);
	va_start(ap, fmt);
	vfprintf(t->out, fmt, ap);
	va_end(ap);
	if (rc < 0)
		fprintf(t->out, " = %ld %s (%s)\n", rc, strerrorname_np(err) ? strerrorname_np(err) : "?",
			strerror(err));
	else
		fprintf(t->out, " = %ld\n", rc);
	fflush(t->out);
	pthread_mutex_unlock(&t->lock);
	errno = err;
}

static int tr_open(void *ctx, const char *path, int flags)
{
	struct host_ops_trace *t = ctx;
	int fd = t->inner->open(t->inner->ctx, path, flags);

	log_line(t, fd, errno, "open %s", path);
	return fd;
}

static int tr_close(void *ctx, int fd)
{
	struct host_ops_trace *t = ctx;
	int rc = t->inner->close(t->inner->ctx, fd);

	log_line(t, rc, errno, "close %d", fd);
	return rc;
}

static int tr_ioctl(void *ctx, int fd, unsigned long request, void *arg)
{
	struct host_ops_trace *t = ctx;
	const char *name = host_ioctl_name(request);
	int rc = t->inner->ioctl(t->inner->ctx, fd, request, arg);

	if (name)
		log_line(t, rc, errno, "ioctl %d %s", fd, name);
	else
		log_line(t, rc, errno, "ioctl %d %#lx", fd, request);
	return rc;
}

static ssize_t tr_readlink(void *ctx, const char *path, char *buf, size_t len)
{
	struct host_ops_trace *t = ctx;

	return t->inner->readlink(t->inner->ctx, path, buf, len);
}

static int tr_access(void *ctx, const char *path, int mode)
{
	struct host_ops_trace *t = ctx;

	return t->inner->access(t->inner->ctx, path, mode);
}

static ssize_t tr_read_file(void *ctx, const char *path, char *buf, size_t len)
{
	struct host_ops_trace *t = ctx;

	return t->inner->read_file(t->inner->ctx, path, buf, len);
}

static ssize_t tr_list_dir(void *ctx, const char *path, char *buf, size_t len)
{
	struct host_ops_trace *t = ctx;

	return t->inner->list_dir(t->inner->ctx, path, buf, len);
}

static ssize_t tr_pread(void *ctx, int fd, void *buf, size_t len, off_t off)
{
	struct host_ops_trace *t = ctx;

	return t->inner->pread(t->inner->ctx, fd, buf, len, off);
}

static ssize_t tr_pwrite(void *ctx, int fd, const void *buf, size_t len, off_t off)
{
	struct host_ops_trace *t = ctx;

	return t->inner->pwrite(t->inner->ctx, fd, buf, len, off);
}

static void *tr_mmap(void *ctx, int fd, size_t len, off_t off)
{
	struct host_ops_trace *t = ctx;
	void *p = t->inner->mmap(t->inner->ctx, fd, len, off);

	log_line(t, p == MAP_FAILED ? -1 : 0, errno, "mmap %d len %#zx off %#llx", fd, len,
		 (unsigned long long)off);
	return p;
}

static int tr_munmap(void *ctx, void *addr, size_t len)
{
	struct host_ops_trace *t = ctx;
	int rc = t->inner->munmap(t->inner->ctx, addr, len);

	log_line(t, rc, errno, "munmap len %#zx", len);
	return rc;
}

static int tr_eventfd(void *ctx)
{
	struct host_ops_trace *t = ctx;
	int fd = t->inner->eventfd(t->inner->ctx);

	log_line(t, fd, errno, "eventfd");
	return fd;
}

static ssize_t tr_read(void *ctx, int fd, void *buf, size_t len)
{
	struct host_ops_trace *t = ctx;

	return t->inner->read(t->inner->ctx, fd, buf, len);
}

static ssize_t tr_write(void *ctx, int fd, const void *buf, size_t len)
{
	struct host_ops_trace *t = ctx;
	ssize_t rc = t->inner->write(t->inner->ctx, fd, buf, len);

	log_line(t, (long)rc, errno, "write fd %d len %zu", fd, len);
	return rc;
}

const struct host_ops *host_ops_trace_init(struct host_ops_trace *t, const struct host_ops *inner,
					   FILE *out)
{
	t->ops = (struct host_ops){
		.open = tr_open, .close = tr_close, .ioctl = tr_ioctl, .readlink = tr_readlink,
		.access = tr_access, .read_file = tr_read_file, .list_dir = tr_list_dir,
		.pread = tr_pread, .pwrite = tr_pwrite, .mmap = tr_mmap, .munmap = tr_munmap,
		.eventfd = tr_eventfd, .read = tr_read, .write = tr_write,
		.ctx = t,
	};
	t->inner = inner;
	t->out = out;
	pthread_mutex_init(&t->lock, NULL);
	return &t->ops;
}

void host_ops_trace_destroy(struct host_ops_trace *t)
{
	pthread_mutex_destroy(&t->lock);
}
