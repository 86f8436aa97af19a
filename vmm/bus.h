/* SPDX-License-Identifier: MIT */
/*
 * Port I/O and MMIO dispatch: one handler signature for both buses, ranges
 * looked up by binary search. Devices register before the vCPUs start;
 * PCI BARs may move at run time, so lookups and changes share an rwlock.
 */
#ifndef TAGVMM_VMM_BUS_H
#define TAGVMM_VMM_BUS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * @offset is relative to the start of the registered range; @data holds
 * @len bytes (1, 2, 4 or 8) in guest (little-endian) order. A handler must
 * fill @data on reads. Handlers run on vCPU threads, concurrently.
 */
typedef void (*io_handler_t)(void *opaque, uint64_t offset, uint8_t *data, unsigned int len,
			     bool is_write);

struct bus_range {
	uint64_t base, len;
	io_handler_t fn;
	void *opaque;
	const char *name;
};

struct bus {
	const char *name;		/* "pio" or "mmio", for messages */
	pthread_rwlock_t lock;
	struct bus_range *ranges;	/* sorted by base, never overlapping */
	size_t n, cap;
};

int bus_init(struct bus *b, const char *name);
void bus_destroy(struct bus *b);

/* Returns 0, or -1 with errno EEXIST (overlap), EINVAL (empty range), ENOMEM. */
int bus_register(struct bus *b, uint64_t base, uint64_t len, io_handler_t fn, void *opaque,
		 const char *name);
/* Remove the range registered at @base with @opaque. Returns 0 or -1 (ENOENT). */
int bus_unregister(struct bus *b, uint64_t base, void *opaque);

/*
 * Dispatch an access. Returns true when a range took it. An access that
 * straddles the end of a range is not taken. Unclaimed reads should read
 * as all ones (the caller's choice; see kvm.c). The handler runs without
 * the bus lock held, so it may register, unregister or dispatch itself;
 * an unregistered handler may still be running, so its opaque must stay
 * valid until the vCPUs have stopped.
 */
bool bus_dispatch(struct bus *b, uint64_t addr, uint8_t *data, unsigned int len, bool is_write);

#endif
