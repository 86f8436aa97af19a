/* SPDX-License-Identifier: MIT */
/*
 * A recording fake of struct host_ops (lib/hostops.h) for tests of the
 * passthrough path on machines without /dev/iommu or /dev/vfio.
 *
 *	struct fake_hostops *f = fake_hostops_new();
 *	fake_hostops_add_node(f, "/dev/iommu");		// openable
 *	fake_hostops_ioctl_ids(f, IOMMU_HWPT_ALLOC, 16, 100);	// out_hwpt_id = 100, 101, ...
 *	... run code with &f->ops ...
 *	c = fake_hostops_find(f, FAKE_IOCTL, IOMMU_HWPT_INVALIDATE, 0);
 *	// c->arg: the argument struct as passed in; c->ptr: the array it points to
 *	fake_hostops_free(f);
 *
 * Recording. Every call appends a struct fake_call (up to FAKE_MAX_CALLS;
 * beyond that f->overflow is set). An ioctl's argument is copied only when
 * its request is declared: fake_hostops_arg_sized() for structs that start
 * with their own u32 size (iommufd; VFIO's argsz), fake_hostops_arg_fixed()
 * for fixed-size objects. Undeclared requests record the pointer value only,
 * since some ioctls pass an integer in it. fake_hostops_arg_pointer()
 * declares a user pointer inside the argument (e.g. data_uptr) whose array
 * is copied too. The iommufd requests of lib/iommufd-compat.h are
 * declared by fake_hostops_new().
 *
 * Results. By default an ioctl returns 0 and writes nothing. A scripted
 * result (fake_hostops_script_ioctl) is used by the next call with that
 * request, in FIFO order: it sets the return value and errno, bytes to
 * write into the argument (out-fields such as entry_num), and bytes to
 * write through the declared user pointer (hw info). fake_hostops_ioctl_ids()
 * writes a fresh u32 id at an offset on every successful call of a request.
 *
 * Paths. open/access/readlink/read_file/list_dir see only the paths added
 * here; anything else is ENOENT. fake_hostops_fail_path() makes a path fail
 * with an errno. open and eventfd return fds from FAKE_FIRST_FD on; close
 * of an fd the fake did not hand out is EBADF, and so is any call on one.
 *
 * Devices. By default pread reads all ones (a function that does not
 * answer) and pwrite takes anything (its bytes kept in arg), mmap is
 * anonymous shared memory that munmap unmaps, and read finds an eventfd
 * that counted nothing (EAGAIN). A test that models a device or KVM puts
 * its own functions in a copy of f->ops and passes that instead
 * (fake_vfio_host.h, vfio_pci_fake.h); what they do is then theirs to
 * record.
 *
 * Everything is static inline: each test program gets its own copy.
 */
#ifndef TAGVMM_TESTS_FAKE_HOSTOPS_H
#define TAGVMM_TESTS_FAKE_HOSTOPS_H

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>

#include "lib/hostops.h"
#include "lib/iommufd-compat.h"

#define FAKE_MAX_CALLS		256
#define FAKE_ARG_MAX		128	/* bytes of an ioctl argument kept */
#define FAKE_READ_MAX		2048	/* bytes queued for read() */
#define FAKE_PTR_MAX		2048	/* bytes of a pointed-to array kept */
#define FAKE_PATH_MAX		256
#define FAKE_MAX_PATHS		64
#define FAKE_MAX_RULES		32
#define FAKE_MAX_SCRIPTS	32
#define FAKE_OUT_MAX		64
#define FAKE_FIRST_FD		100
#define FAKE_NO_FIELD		SIZE_MAX
#define FAKE_DIR_MAX		256	/* bytes of a directory's names */

enum fake_call_kind {
	FAKE_OPEN, FAKE_CLOSE, FAKE_IOCTL, FAKE_READLINK, FAKE_ACCESS, FAKE_READ_FILE,
	FAKE_LIST_DIR, FAKE_PREAD, FAKE_PWRITE, FAKE_MMAP, FAKE_MUNMAP, FAKE_EVENTFD,
	FAKE_READ, FAKE_WRITE,
};

struct fake_call {
	enum fake_call_kind kind;
	int fd;				/* the fd used; open, eventfd: the fd returned */
	unsigned long request;		/* ioctl */
	const void *arg_ptr;		/* ioctl: the argument pointer as passed */
	char path[FAKE_PATH_MAX];	/* open, readlink, access, read_file, list_dir */
	int flags;			/* open flags, access mode */
	uint64_t off;			/* pread, pwrite, mmap */
	size_t len;			/* pread, pwrite, mmap, munmap, read, list_dir */
	void *addr;			/* mmap: the mapping returned; munmap: the address */
	int ret, err;			/* what the call returned, and errno when it failed */
	/* ioctl argument, pwrite's bytes, as passed in; aligned to be read as the struct */
	_Alignas(8) unsigned char arg[FAKE_ARG_MAX];
	size_t arg_len;
	_Alignas(8) unsigned char ptr[FAKE_PTR_MAX];	/* the declared user pointer's array */
	size_t ptr_len;
	bool truncated;			/* arg or ptr was longer than kept */
};

/* A scripted ioctl result; fields left zero mean "return 0, write nothing". */
struct fake_ioctl_result {
	int ret;			/* -1 makes the call fail with errno = err */
	int err;
	size_t out_off, out_len;	/* written into the argument */
	unsigned char out[FAKE_OUT_MAX];
	size_t ptr_out_len;		/* written through the declared user pointer */
	unsigned char ptr_out[FAKE_OUT_MAX];
};

enum fake_arg_layout { FAKE_ARG_NONE, FAKE_ARG_SIZED, FAKE_ARG_FIXED };

struct fake_rule {
	unsigned long request;
	enum fake_arg_layout layout;
	size_t fixed_len;
	size_t uptr_off, len_off, count_off;	/* FAKE_NO_FIELD: none */
	size_t id_off;				/* fake_hostops_ioctl_ids */
	uint32_t next_id;
};

struct fake_path {
	char path[FAKE_PATH_MAX];
	bool node;			/* openable device node */
	const char *content;		/* file: read_file; link: readlink target */
	bool link;
	bool dir;			/* list_dir returns names */
	char names[FAKE_DIR_MAX];	/* NUL-terminated, one after the other */
	size_t names_len;
	int fail_errno;			/* every call on the path fails */
};

struct fake_hostops {
	struct host_ops ops;		/* pass &f->ops to the code under test */
	struct fake_call calls[FAKE_MAX_CALLS];
	size_t ncalls;
	bool overflow;
	struct fake_rule rules[FAKE_MAX_RULES];
	size_t nrules;
	struct {
		unsigned long request;
		struct fake_ioctl_result r;
		bool used;
	} scripts[FAKE_MAX_SCRIPTS];
	size_t nscripts;
	struct fake_path paths[FAKE_MAX_PATHS];
	size_t npaths;
	int next_fd;
	uint64_t open_fds;		/* bit (fd - FAKE_FIRST_FD) */
	/* Bytes read() of read_fd returns, in order (fake_hostops_queue_read()); EAGAIN when empty. */
	int read_fd;
	unsigned char read_data[FAKE_READ_MAX];
	size_t read_len;
};

/* Queue @len bytes for read() of @fd (one fd at a time). */
static inline void fake_hostops_queue_read(struct fake_hostops *f, int fd, const void *data,
					   size_t len)
{
	if (f->read_len && f->read_fd != fd)
		f->read_len = 0;
	f->read_fd = fd;
	if (len > FAKE_READ_MAX - f->read_len) {
		f->overflow = true;
		return;
	}
	memcpy(f->read_data + f->read_len, data, len);
	f->read_len += len;
}

static inline struct fake_rule *fake_hostops_rule(struct fake_hostops *f, unsigned long request,
						  bool create)
{
	for (size_t i = 0; i < f->nrules; i++)
		if (f->rules[i].request == request)
			return &f->rules[i];
	if (!create || f->nrules == FAKE_MAX_RULES)
		return NULL;
	f->rules[f->nrules] = (struct fake_rule){
		.request = request, .uptr_off = FAKE_NO_FIELD, .len_off = FAKE_NO_FIELD,
		.count_off = FAKE_NO_FIELD, .id_off = FAKE_NO_FIELD,
	};
	return &f->rules[f->nrules++];
}

/* @request's argument starts with its own u32 size: record that many bytes. */
static inline void fake_hostops_arg_sized(struct fake_hostops *f, unsigned long request)
{
	struct fake_rule *r = fake_hostops_rule(f, request, true);

	if (r)
		r->layout = FAKE_ARG_SIZED;
}

/* @request's argument is a @len-byte object. */
static inline void fake_hostops_arg_fixed(struct fake_hostops *f, unsigned long request, size_t len)
{
	struct fake_rule *r = fake_hostops_rule(f, request, true);

	if (r) {
		r->layout = FAKE_ARG_FIXED;
		r->fixed_len = len;
	}
}

/*
 * A u64 user pointer at @uptr_off in @request's argument points to an array
 * of (u32 at @len_off) bytes, times (u32 at @count_off) unless FAKE_NO_FIELD.
 */
static inline void fake_hostops_arg_pointer(struct fake_hostops *f, unsigned long request,
					    size_t uptr_off, size_t len_off, size_t count_off)
{
	struct fake_rule *r = fake_hostops_rule(f, request, true);

	if (r) {
		r->uptr_off = uptr_off;
		r->len_off = len_off;
		r->count_off = count_off;
	}
}

/* Every successful @request writes a fresh u32 id (@first, @first + 1, ...) at @off. */
static inline void fake_hostops_ioctl_ids(struct fake_hostops *f, unsigned long request, size_t off,
					  uint32_t first)
{
	struct fake_rule *r = fake_hostops_rule(f, request, true);

	if (r) {
		r->id_off = off;
		r->next_id = first;
	}
}

/* Queue the result of the next call of @request. */
static inline void fake_hostops_script_ioctl(struct fake_hostops *f, unsigned long request,
					     const struct fake_ioctl_result *r)
{
	if (f->nscripts == FAKE_MAX_SCRIPTS) {
		f->overflow = true;
		return;
	}
	f->scripts[f->nscripts].request = request;
	f->scripts[f->nscripts].r = *r;
	f->scripts[f->nscripts].used = false;
	f->nscripts++;
}

/* Shorthand: the next call of @request fails with @err. */
static inline void fake_hostops_fail_ioctl(struct fake_hostops *f, unsigned long request, int err)
{
	struct fake_ioctl_result r = { .ret = -1, .err = err };

	fake_hostops_script_ioctl(f, request, &r);
}

static inline struct fake_path *fake_hostops_path(struct fake_hostops *f, const char *path,
						  bool create)
{
	for (size_t i = 0; i < f->npaths; i++)
		if (!strcmp(f->paths[i].path, path))
			return &f->paths[i];
	if (!create || f->npaths == FAKE_MAX_PATHS || strlen(path) >= FAKE_PATH_MAX)
		return NULL;
	memset(&f->paths[f->npaths], 0, sizeof(f->paths[0]));
	strcpy(f->paths[f->npaths].path, path);
	return &f->paths[f->npaths++];
}

/* An openable, accessible device node. */
static inline void fake_hostops_add_node(struct fake_hostops *f, const char *path)
{
	struct fake_path *p = fake_hostops_path(f, path, true);

	if (p)
		p->node = true;
}

/* A file read_file returns @content of (the string is not copied: keep it alive). */
static inline void fake_hostops_add_file(struct fake_hostops *f, const char *path,
					 const char *content)
{
	struct fake_path *p = fake_hostops_path(f, path, true);

	if (p)
		p->content = content;
}

/* A symbolic link to @target (not copied). */
static inline void fake_hostops_add_link(struct fake_hostops *f, const char *path,
					 const char *target)
{
	struct fake_path *p = fake_hostops_path(f, path, true);

	if (p) {
		p->content = target;
		p->link = true;
	}
}

/*
 * A directory whose entries are the names that follow, NULL-terminated
 * (copied). It exists even if a failure was set on it before.
 */
static inline void fake_hostops_add_dir(struct fake_hostops *f, const char *path, ...)
{
	struct fake_path *p = fake_hostops_path(f, path, true);
	const char *name;
	va_list ap;

	if (!p) {
		f->overflow = true;
		return;
	}
	p->dir = true;
	p->names_len = 0;
	p->fail_errno = 0;
	va_start(ap, path);
	while ((name = va_arg(ap, const char *))) {
		size_t n = strlen(name) + 1;

		if (p->names_len + n > sizeof(p->names)) {
			f->overflow = true;
			break;
		}
		memcpy(p->names + p->names_len, name, n);
		p->names_len += n;
	}
	va_end(ap);
}

/* Every call on @path fails with @err (EACCES, ENODEV, ...). */
static inline void fake_hostops_fail_path(struct fake_hostops *f, const char *path, int err)
{
	struct fake_path *p = fake_hostops_path(f, path, true);

	if (p)
		p->fail_errno = err;
}

static inline struct fake_call *fake_hostops_record(struct fake_hostops *f,
						    enum fake_call_kind kind, const char *path)
{
	static struct fake_call scratch;
	struct fake_call *c;

	if (f->ncalls == FAKE_MAX_CALLS) {
		f->overflow = true;
		c = &scratch;	/* keeps the call working; the record is dropped */
	} else {
		c = &f->calls[f->ncalls++];
	}
	memset(c, 0, sizeof(*c));
	c->kind = kind;
	c->fd = -1;
	if (path)
		snprintf(c->path, sizeof(c->path), "%s", path);
	return c;
}

static inline int fake_hostops_result(struct fake_call *c, int ret, int err)
{
	c->ret = ret;
	c->err = ret < 0 ? err : 0;
	if (ret < 0)
		errno = err;
	return ret;
}

/* The path's failure, or ENOENT when the fake does not know it; 0 when usable. */
static inline int fake_hostops_path_errno(struct fake_hostops *f, const char *path,
					  struct fake_path **out)
{
	struct fake_path *p = fake_hostops_path(f, path, false);

	*out = p;
	if (!p)
		return ENOENT;
	return p->fail_errno;
}

/* The next free fd, for @c's call (open, eventfd); EMFILE past 64. */
static inline int fake_hostops_new_fd(struct fake_hostops *f, struct fake_call *c)
{
	int fd;

	if (f->next_fd - FAKE_FIRST_FD >= 64)
		return fake_hostops_result(c, -1, EMFILE);
	fd = f->next_fd++;
	f->open_fds |= 1ULL << (fd - FAKE_FIRST_FD);
	c->fd = fd;
	return fake_hostops_result(c, fd, 0);
}

static inline bool fake_hostops_fd_open(const struct fake_hostops *f, int fd)
{
	return fd >= FAKE_FIRST_FD && fd < FAKE_FIRST_FD + 64 &&
	       (f->open_fds & 1ULL << (fd - FAKE_FIRST_FD));
}

/* Records a call of @kind on @fd; NULL, the call failed with EBADF, when @fd is not open. */
static inline struct fake_call *fake_hostops_fd_call(struct fake_hostops *f,
						     enum fake_call_kind kind, int fd,
						     uint64_t off, size_t len)
{
	struct fake_call *c = fake_hostops_record(f, kind, NULL);

	c->fd = fd;
	c->off = off;
	c->len = len;
	if (fake_hostops_fd_open(f, fd))
		return c;
	fake_hostops_result(c, -1, EBADF);
	return NULL;
}

static inline int fake_hostops_open(void *ctx, const char *path, int flags)
{
	struct fake_hostops *f = ctx;
	struct fake_call *c = fake_hostops_record(f, FAKE_OPEN, path);
	struct fake_path *p;
	int err = fake_hostops_path_errno(f, path, &p);

	c->flags = flags;
	if (!err && !p->node && !p->content)
		err = ENOENT;
	if (err)
		return fake_hostops_result(c, -1, err);
	return fake_hostops_new_fd(f, c);
}

static inline int fake_hostops_close(void *ctx, int fd)
{
	struct fake_hostops *f = ctx;
	struct fake_call *c = fake_hostops_fd_call(f, FAKE_CLOSE, fd, 0, 0);

	if (!c)
		return -1;
	f->open_fds &= ~(1ULL << (fd - FAKE_FIRST_FD));
	return fake_hostops_result(c, 0, 0);
}

static inline uint32_t fake_hostops_u32(const void *base, size_t off)
{
	uint32_t v;

	memcpy(&v, (const unsigned char *)base + off, sizeof(v));
	return v;
}

static inline int fake_hostops_ioctl(void *ctx, int fd, unsigned long request, void *arg)
{
	struct fake_hostops *f = ctx;
	struct fake_call *c = fake_hostops_record(f, FAKE_IOCTL, NULL);
	struct fake_rule *rule = fake_hostops_rule(f, request, false);
	struct fake_ioctl_result result = { 0 };
	size_t arg_len = 0;
	void *uptr = NULL;
	size_t uptr_len = 0;

	c->fd = fd;
	c->request = request;
	c->arg_ptr = arg;
	if (!fake_hostops_fd_open(f, fd))
		return fake_hostops_result(c, -1, EBADF);
	if (rule && arg) {
		arg_len = rule->layout == FAKE_ARG_SIZED ? fake_hostops_u32(arg, 0) :
			  rule->layout == FAKE_ARG_FIXED ? rule->fixed_len : 0;
		c->arg_len = arg_len < FAKE_ARG_MAX ? arg_len : FAKE_ARG_MAX;
		c->truncated = arg_len > FAKE_ARG_MAX;
		memcpy(c->arg, arg, c->arg_len);
		if (rule->uptr_off != FAKE_NO_FIELD && rule->uptr_off + 8 <= arg_len) {
			uint64_t p;

			memcpy(&p, (unsigned char *)arg + rule->uptr_off, sizeof(p));
			uptr = (void *)(uintptr_t)p;
			uptr_len = fake_hostops_u32(arg, rule->len_off);
			if (rule->count_off != FAKE_NO_FIELD)
				uptr_len *= fake_hostops_u32(arg, rule->count_off);
			if (uptr) {
				c->ptr_len = uptr_len < FAKE_PTR_MAX ? uptr_len : FAKE_PTR_MAX;
				c->truncated |= uptr_len > FAKE_PTR_MAX;
				memcpy(c->ptr, uptr, c->ptr_len);
			}
		}
	}
	for (size_t i = 0; i < f->nscripts; i++) {
		if (!f->scripts[i].used && f->scripts[i].request == request) {
			f->scripts[i].used = true;
			result = f->scripts[i].r;
			break;
		}
	}
	/* Out-fields go only where the caller's argument really has room. */
	if (arg && result.out_len && result.out_off + result.out_len <= arg_len)
		memcpy((unsigned char *)arg + result.out_off, result.out, result.out_len);
	if (uptr && result.ptr_out_len)
		memcpy(uptr, result.ptr_out,
		       result.ptr_out_len < uptr_len ? result.ptr_out_len : uptr_len);
	if (result.ret >= 0 && rule && rule->id_off != FAKE_NO_FIELD && rule->id_off + 4 <= arg_len) {
		memcpy((unsigned char *)arg + rule->id_off, &rule->next_id, sizeof(rule->next_id));
		rule->next_id++;
	}
	return fake_hostops_result(c, result.ret, result.err);
}

static inline ssize_t fake_hostops_readlink(void *ctx, const char *path, char *buf, size_t len)
{
	struct fake_hostops *f = ctx;
	struct fake_call *c = fake_hostops_record(f, FAKE_READLINK, path);
	struct fake_path *p;
	int err = fake_hostops_path_errno(f, path, &p);
	size_t n;

	if (!err && !p->link)
		err = EINVAL;
	if (err)
		return fake_hostops_result(c, -1, err);
	/* Like readlink(2): no NUL, truncated to @len. */
	n = strlen(p->content);
	if (n > len)
		n = len;
	memcpy(buf, p->content, n);
	return fake_hostops_result(c, (int)n, 0);
}

static inline int fake_hostops_access(void *ctx, const char *path, int mode)
{
	struct fake_hostops *f = ctx;
	struct fake_call *c = fake_hostops_record(f, FAKE_ACCESS, path);
	struct fake_path *p;
	int err = fake_hostops_path_errno(f, path, &p);

	c->flags = mode;
	return fake_hostops_result(c, err ? -1 : 0, err);
}

static inline ssize_t fake_hostops_read_file(void *ctx, const char *path, char *buf, size_t len)
{
	struct fake_hostops *f = ctx;
	struct fake_call *c = fake_hostops_record(f, FAKE_READ_FILE, path);
	struct fake_path *p;
	int err = fake_hostops_path_errno(f, path, &p);
	size_t n;

	if (!err && (!p->content || p->link))
		err = p->link ? ELOOP : EISDIR;
	if (!err && len == 0)
		err = EINVAL;
	if (err)
		return fake_hostops_result(c, -1, err);
	n = strlen(p->content);
	if (n > len - 1)
		n = len - 1;
	memcpy(buf, p->content, n);
	buf[n] = '\0';
	return fake_hostops_result(c, (int)n, 0);
}

static inline ssize_t fake_hostops_list_dir(void *ctx, const char *path, char *buf,
					    size_t len)
{
	struct fake_hostops *f = ctx;
	struct fake_call *c = fake_hostops_record(f, FAKE_LIST_DIR, path);
	struct fake_path *p;
	int err = fake_hostops_path_errno(f, path, &p);

	c->len = len;
	if (!err && !p->dir)
		err = ENOTDIR;
	if (!err && p->names_len > len)
		err = ENOSPC;
	if (err)
		return fake_hostops_result(c, -1, err);
	memcpy(buf, p->names, p->names_len);
	return fake_hostops_result(c, (int)p->names_len, 0);
}

static inline ssize_t fake_hostops_pread(void *ctx, int fd, void *buf, size_t len, off_t off)
{
	struct fake_call *c = fake_hostops_fd_call(ctx, FAKE_PREAD, fd, (uint64_t)off, len);

	if (!c)
		return -1;
	memset(buf, 0xff, len);
	return fake_hostops_result(c, (int)len, 0);
}

/* pwrite(2) and write(2): the bytes are recorded in arg. */
static inline ssize_t fake_hostops_record_write(void *ctx, enum fake_call_kind kind, int fd,
						const void *buf, size_t len, uint64_t off)
{
	struct fake_call *c = fake_hostops_fd_call(ctx, kind, fd, off, len);

	if (!c)
		return -1;
	c->arg_len = len < FAKE_ARG_MAX ? len : FAKE_ARG_MAX;
	c->truncated = len > FAKE_ARG_MAX;
	memcpy(c->arg, buf, c->arg_len);
	return fake_hostops_result(c, (int)len, 0);
}

static inline ssize_t fake_hostops_pwrite(void *ctx, int fd, const void *buf, size_t len,
					  off_t off)
{
	return fake_hostops_record_write(ctx, FAKE_PWRITE, fd, buf, len, (uint64_t)off);
}

static inline void *fake_hostops_mmap(void *ctx, int fd, size_t len, off_t off)
{
	struct fake_call *c = fake_hostops_fd_call(ctx, FAKE_MMAP, fd, (uint64_t)off, len);
	int err;

	if (!c)
		return MAP_FAILED;
	c->addr = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	err = errno;
	fake_hostops_result(c, c->addr == MAP_FAILED ? -1 : 0, err);
	return c->addr;
}

static inline int fake_hostops_munmap(void *ctx, void *addr, size_t len)
{
	struct fake_call *c = fake_hostops_record(ctx, FAKE_MUNMAP, NULL);
	int ret;

	c->addr = addr;
	c->len = len;
	ret = munmap(addr, len);
	return fake_hostops_result(c, ret, errno);
}

static inline int fake_hostops_eventfd(void *ctx)
{
	struct fake_hostops *f = ctx;

	return fake_hostops_new_fd(f, fake_hostops_record(f, FAKE_EVENTFD, NULL));
}

static inline ssize_t fake_hostops_read(void *ctx, int fd, void *buf, size_t len)
{
	struct fake_hostops *f = ctx;
	struct fake_call *c = fake_hostops_fd_call(f, FAKE_READ, fd, 0, len);
	size_t n;

	if (!c)
		return -1;
	if (fd != f->read_fd || !f->read_len)
		return fake_hostops_result(c, -1, EAGAIN);
	n = len < f->read_len ? len : f->read_len;
	memcpy(buf, f->read_data, n);
	memmove(f->read_data, f->read_data + n, f->read_len - n);
	f->read_len -= n;
	return fake_hostops_result(c, (int)n, 0);
}

static inline ssize_t fake_hostops_write(void *ctx, int fd, const void *buf, size_t len)
{
	return fake_hostops_record_write(ctx, FAKE_WRITE, fd, buf, len, 0);
}

/* A fake with the iommufd requests declared and no paths. */
static inline struct fake_hostops *fake_hostops_new(void)
{
	struct fake_hostops *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->ops = (struct host_ops){
		.open = fake_hostops_open,
		.close = fake_hostops_close,
		.ioctl = fake_hostops_ioctl,
		.readlink = fake_hostops_readlink,
		.access = fake_hostops_access,
		.read_file = fake_hostops_read_file,
		.list_dir = fake_hostops_list_dir,
		.pread = fake_hostops_pread,
		.pwrite = fake_hostops_pwrite,
		.mmap = fake_hostops_mmap,
		.munmap = fake_hostops_munmap,
		.eventfd = fake_hostops_eventfd,
		.read = fake_hostops_read,
		.write = fake_hostops_write,
		.ctx = f,
	};
	f->next_fd = FAKE_FIRST_FD;
	fake_hostops_arg_sized(f, IOMMU_DESTROY);
	fake_hostops_arg_sized(f, IOMMU_IOAS_ALLOC);
	fake_hostops_arg_sized(f, IOMMU_IOAS_MAP);
	fake_hostops_arg_sized(f, IOMMU_HWPT_ALLOC);
	fake_hostops_arg_pointer(f, IOMMU_HWPT_ALLOC, offsetof(struct iommu_hwpt_alloc, data_uptr),
				 offsetof(struct iommu_hwpt_alloc, data_len), FAKE_NO_FIELD);
	fake_hostops_arg_sized(f, IOMMU_HWPT_INVALIDATE);
	fake_hostops_arg_pointer(f, IOMMU_HWPT_INVALIDATE,
				 offsetof(struct iommu_hwpt_invalidate, data_uptr),
				 offsetof(struct iommu_hwpt_invalidate, entry_len),
				 offsetof(struct iommu_hwpt_invalidate, entry_num));
	fake_hostops_arg_sized(f, IOMMU_GET_HW_INFO);
	fake_hostops_arg_pointer(f, IOMMU_GET_HW_INFO, offsetof(struct iommu_hw_info, data_uptr),
				 offsetof(struct iommu_hw_info, data_len), FAKE_NO_FIELD);
	return f;
}

static inline void fake_hostops_free(struct fake_hostops *f)
{
	free(f);
}

/* The @nth (from 0) recorded call of @kind (and @request, for ioctls), or NULL. */
static inline const struct fake_call *fake_hostops_find(const struct fake_hostops *f,
							enum fake_call_kind kind,
							unsigned long request, size_t nth)
{
	for (size_t i = 0; i < f->ncalls; i++) {
		const struct fake_call *c = &f->calls[i];

		if (c->kind == kind && (kind != FAKE_IOCTL || c->request == request) && nth-- == 0)
			return c;
	}
	return NULL;
}

/* How many calls of @kind (and @request, for ioctls) were recorded. */
static inline size_t fake_hostops_count(const struct fake_hostops *f, enum fake_call_kind kind,
					unsigned long request)
{
	size_t n = 0;

	for (size_t i = 0; i < f->ncalls; i++)
		n += f->calls[i].kind == kind &&
		     (kind != FAKE_IOCTL || f->calls[i].request == request);
	return n;
}

/* Forget the recorded calls (rules, scripts and paths stay). */
static inline void fake_hostops_clear_calls(struct fake_hostops *f)
{
	f->ncalls = 0;
	f->overflow = false;
}

#endif
