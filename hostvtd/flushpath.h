/* SPDX-License-Identifier: MIT */
/*
 * The one place a flush path is put together from options, for `run`
 * (viommu/setup.c) and `replay` alike: the host back end chosen by name
 * from one table, its host units, the tag store, the flush trace and the
 * flush engine. A new host back end is one entry in the table
 * (flushpath.c) and nothing else here.
 */
#ifndef TAGVMM_HOSTVTD_FLUSHPATH_H
#define TAGVMM_HOSTVTD_FLUSHPATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "hostvtd/flush.h"
#include "hostvtd/flushtrace.h"
#include "hostvtd/host.h"

struct flush_path;

/* One entry of the back-end table. */
struct host_backend_kind {
	const char *name;		/* what --backend calls it */
	const char *what;		/* for messages: "simulated host VT-d" */
	/* Create the back end and fp->units[0 .. fp->nunits - 1]. */
	int (*create)(struct flush_path *fp, FILE *log, char *err, size_t errlen);
	void (*destroy)(struct flush_path *fp);
};

/* The table's entry named @name, or NULL. */
const struct host_backend_kind *host_backend_find(const char *name);
/* "sim or iommufd-dry-run": every name in the table, for usage messages. */
const char *host_backend_names(void);

struct flush_path_options {
	const char *backend;		/* a name in the table; NULL: "sim" */
	unsigned int units;		/* host units, 1..HOST_MAX_UNITS */
	bool no_merge;			/* one host op per device (docs/design.md) */
	const char *trace;		/* flush trace file ("-": stderr), or NULL */
	enum flush_trace_format trace_format;
	bool qemu_model;		/* iommufd-dry-run: QEMU's HWPT per device */
	FILE *log;			/* iommufd-dry-run: every ioctl, or NULL */
};

struct flush_path {
	const struct host_backend_kind *kind;
	void *backend;			/* the kind's own state */
	struct host_unit *units[HOST_MAX_UNITS];
	unsigned int nunits;
	bool qemu_model;
	struct tag_store *ts;
	struct flush_trace *trace;
	struct flush_engine *fe;
};

/*
 * Build @fp from @o. Returns 0, or -1 with a message in @err (unknown
 * back end, unit count out of range, trace file, no memory); a failed
 * build is freed already.
 */
int flush_path_build(struct flush_path *fp, const struct flush_path_options *o, char *err,
		     size_t errlen);
/* Stop and free it all; returns -1 if writing the flush trace failed. Zeroed @fp is fine. */
int flush_path_free(struct flush_path *fp);

/* The back end's state when it is of kind @name, else NULL. */
void *flush_path_backend(const struct flush_path *fp, const char *name);

#endif
