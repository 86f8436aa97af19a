// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the flush trace reader (`tagvmm trace summary`):
 * the input is a trace, text or JSON lines. A trace that reads is printed
 * both ways, so a summary that survives the reader but upsets the printers
 * shows up here too.
 *
 * Beyond "no crash", the reader's own promises are checked: tables within
 * bounds and sorted, counters that add up, and an error that names a line.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostvtd/flushtrace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool terminated(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

static void check_summary(const struct trace_summary *s)
{
	uint64_t inv = 0, devtlb = 0, subs = 0, absorbed = 0, errors = 0;
	uint64_t did_absorbed = 0;

	if (s->nunits > TRACE_SUMMARY_MAX_UNITS || s->ndids > TRACE_SUMMARY_MAX_DIDS)
		abort();
	if (s->units_truncated && s->nunits != TRACE_SUMMARY_MAX_UNITS)
		abort();
	if (s->dids_truncated && s->ndids != TRACE_SUMMARY_MAX_DIDS)
		abort();
	if (s->invalidations + s->devtlb_invalidations > s->records ||
	    s->errors > s->submissions)
		abort();
	/* Every record has a batch and a unit, and the first unit always fits. */
	if (!s->batches != !s->nunits || (!s->batches && (s->records || s->submissions)))
		abort();

	for (size_t i = 0; i < s->nunits; i++) {
		const struct trace_summary_unit *u = &s->units[i];

		if (!terminated(u->name, sizeof(u->name)) || !u->name[0])
			abort();
		if (i && (strverscmp(s->units[i - 1].name, u->name) > 0 ||
			  !strcmp(s->units[i - 1].name, u->name)))
			abort();
		inv += u->invalidations;
		devtlb += u->devtlb_invalidations;
		subs += u->submissions;
		absorbed += u->absorbed;
		errors += u->errors;
	}
	/* Without truncation the unit table holds every record. */
	if (!s->units_truncated &&
	    (inv != s->invalidations || devtlb != s->devtlb_invalidations ||
	     subs != s->submissions || absorbed != s->absorbed || errors != s->errors))
		abort();
	if (inv > s->invalidations || devtlb > s->devtlb_invalidations ||
	    subs > s->submissions || absorbed > s->absorbed || errors > s->errors)
		abort();

	for (size_t i = 0; i < s->ndids; i++) {
		const struct trace_summary_did *d = &s->dids[i];

		if (!terminated(d->unit, sizeof(d->unit)) || !d->unit[0] || !d->invalidations)
			abort();
		if (i) {
			const struct trace_summary_did *p = &s->dids[i - 1];
			int c = strverscmp(p->unit, d->unit);

			if (c > 0 || (!c && p->did > d->did) ||
			    (!strcmp(p->unit, d->unit) && p->did == d->did))
				abort();
		}
		did_absorbed += d->absorbed;
	}
	if (did_absorbed > s->absorbed || (!s->dids_truncated && did_absorbed != s->absorbed))
		abort();
}

/* Large enough for either format of a full table, so nothing is cut. */
static void print(const struct trace_summary *s, bool json)
{
	static char sink[1 << 18];
	FILE *out = fmemopen(sink, sizeof(sink), "w");

	if (!out)
		return;
	trace_summary_print(s, out, json);
	if (ferror(out))
		abort();
	fclose(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct trace_summary s;	/* ~60 KiB: not on the stack */
	char err[256];
	char *copy;
	FILE *in;
	int ret;

	/* glibc's fmemopen wants a writable buffer, and libFuzzer's is const */
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	in = fmemopen(copy, size, "r");
	if (!in) {
		free(copy);
		return 0;
	}

	memset(err, 'x', sizeof(err));
	ret = trace_summary_read(in, &s, err, sizeof(err));
	if (!terminated(err, sizeof(err)))
		abort();
	if (ret == 0) {
		if (err[0])
			abort();
		check_summary(&s);
		if (trace_summary_merge_ratio(&s) < 0)
			abort();
		print(&s, false);
		print(&s, true);
	} else if (ret == -1) {
		if (strncmp(err, "line ", 5) != 0)
			abort();
	} else if (ret == -2) {
		/* Memory or a read error: fmemopen does not fail, malloc might. */
		if (!err[0] || errno == 0)
			abort();
	} else {
		abort();
	}

	fclose(in);
	free(copy);
	return 0;
}
