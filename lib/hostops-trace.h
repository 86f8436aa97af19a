/* SPDX-License-Identifier: MIT */
/*
 * A host_ops that logs what another one does: every open, close, ioctl,
 * mmap, munmap and eventfd, one line each with its answer, so a run on a
 * real host says which calls the kernel took and which it refused
 * (`tagvmm run --host-trace FILE`). Region reads and writes (trapped BAR
 * accesses, config space) and sysfs reads pass through unlogged: they are
 * the data path, not the uAPI being checked.
 *
 *   ioctl 7 IOMMU_IOAS_ALLOC = 0
 *   ioctl 9 VFIO_DEVICE_ATTACH_IOMMUFD_PT = -1 EOPNOTSUPP (Operation not supported)
 *
 * Thread-safe: one lock around each line, the inner call made outside it.
 */
#ifndef TAGVMM_LIB_HOSTOPS_TRACE_H
#define TAGVMM_LIB_HOSTOPS_TRACE_H

#include <pthread.h>
#include <stdio.h>

#include "lib/hostops.h"

struct host_ops_trace {
	struct host_ops ops;		/* hand this out */
	const struct host_ops *inner;
	FILE *out;
	pthread_mutex_t lock;
};

/* Sets @t up over @inner, logging to @out (kept open by the caller). Returns &t->ops. */
const struct host_ops *host_ops_trace_init(struct host_ops_trace *t, const struct host_ops *inner,
					   FILE *out);
void host_ops_trace_destroy(struct host_ops_trace *t);

/* The ioctl's name (IOMMU_*, VFIO_*, KVM_*), or NULL for one the table lacks. */
const char *host_ioctl_name(unsigned long request);

#endif
