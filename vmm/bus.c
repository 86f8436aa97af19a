// SPDX-License-Identifier: MIT
/*
 * Port I/O and MMIO dispatch. A bus holds a few dozen ranges at most, so a
 * sorted array searched by bisection beats a tree: lookups touch one cache
 * line or two and need no allocation. Every vCPU looks up under the read
 * lock; registration (device set-up, PCI BAR moves) takes the write lock.
 *
 * The handler is called after the lock is dropped, so a handler may itself
 * register, unregister or dispatch (an ECAM write moving an MMIO BAR). The
 * price: bus_unregister() does not wait for calls already under way, so a
 * handler's opaque must stay valid until the vCPUs have stopped. Device
 * state here lives as long as the VM, which gives exactly that.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/bus.h"

int bus_init(struct bus *b, const char *name)
{
	pthread_rwlockattr_t attr;
	int err;

	memset(b, 0, sizeof(*b));
	/*
	 * glibc's default rwlock lets a steady stream of vCPU lookups starve a
	 * BAR move forever; preferring writers bounds the wait.
	 */
	if (pthread_rwlockattr_init(&attr))
		return -1;
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	err = pthread_rwlock_init(&b->lock, &attr);
	pthread_rwlockattr_destroy(&attr);
	if (err)
		return -1;
	b->name = name ? name : "bus";
	return 0;
}

/* Safe on a zeroed bus (never initialised) and on one destroyed already. */
void bus_destroy(struct bus *b)
{
	if (!b->name)
		return;
	pthread_rwlock_destroy(&b->lock);
	free(b->ranges);
	memset(b, 0, sizeof(*b));
}

/* Index of the first range whose base is above @addr (0 .. n). */
static size_t first_above(const struct bus *b, uint64_t addr)
{
	size_t lo = 0, hi = b->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (b->ranges[mid].base <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The last address of a range, computed without overflow. */
static uint64_t range_last(const struct bus_range *r)
{
	return r->base + (r->len - 1);
}

static int grow(struct bus *b)
{
	size_t cap = b->cap ? b->cap * 2 : 16;
	struct bus_range *r;

	if (b->n < b->cap)
		return 0;
	r = realloc(b->ranges, cap * sizeof(*r));
	if (!r)
		return -1;
	b->ranges = r;
	b->cap = cap;
	return 0;
}

int bus_register(struct bus *b, uint64_t base, uint64_t len, io_handler_t fn, void *opaque,
		 const char *name)
{
	struct bus_range r = { base, len, fn, opaque, name };
	size_t i;
	int err = 0;

	/* A range must be non-empty and must not wrap past the top of the space. */
	if (!len || !fn || base + (len - 1) < base) {
		errno = EINVAL;
		return -1;
	}
	pthread_rwlock_wrlock(&b->lock);
	i = first_above(b, base);
	/* Only the neighbours can overlap: the ranges are sorted and disjoint. */
	if ((i > 0 && range_last(&b->ranges[i - 1]) >= base) ||
	    (i < b->n && b->ranges[i].base <= range_last(&r))) {
		err = EEXIST;
	} else if (grow(b)) {
		err = ENOMEM;
	} else {
		memmove(&b->ranges[i + 1], &b->ranges[i], (b->n - i) * sizeof(r));
		b->ranges[i] = r;
		b->n++;
	}
	pthread_rwlock_unlock(&b->lock);
	if (err) {
		errno = err;
		return -1;
	}
	return 0;
}

int bus_unregister(struct bus *b, uint64_t base, void *opaque)
{
	size_t i;
	int found = 0;

	pthread_rwlock_wrlock(&b->lock);
	i = first_above(b, base);
	if (i > 0 && b->ranges[i - 1].base == base && b->ranges[i - 1].opaque == opaque) {
		memmove(&b->ranges[i - 1], &b->ranges[i], (b->n - i) * sizeof(b->ranges[0]));
		b->n--;
		found = 1;
	}
	pthread_rwlock_unlock(&b->lock);
	if (!found) {
		errno = ENOENT;
		return -1;
	}
	return 0;
}

bool bus_dispatch(struct bus *b, uint64_t addr, uint8_t *data, unsigned int len, bool is_write)
{
	struct bus_range r;
	bool taken = false;
	size_t i;

	if (!len)
		return false;
	pthread_rwlock_rdlock(&b->lock);
	i = first_above(b, addr);
	if (i > 0) {
		uint64_t offset = addr - b->ranges[i - 1].base;

		/* Inside, and the whole access fits: straddlers belong to nobody. */
		if (offset < b->ranges[i - 1].len && len - 1 <= b->ranges[i - 1].len - 1 - offset) {
			r = b->ranges[i - 1];
			r.base = offset;	/* reused for the offset */
			taken = true;
		}
	}
	pthread_rwlock_unlock(&b->lock);
	if (taken)
		r.fn(r.opaque, r.base, data, len, is_write);
	return taken;
}
