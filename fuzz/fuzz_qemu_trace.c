// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the QEMU VT-d trace reader: the input is a trace
 * file. Every descriptor it yields is decoded and formatted the way
 * `tagvmm replay --qemu-trace` would, so a descriptor that survives the
 * reader but upsets the decoder shows up here too.
 *
 * Beyond "no crash", the reader's own promises are checked: events come
 * in line order, counters add up (a descriptor with tagvmm's upper-half
 * line took two lines), and an error is sticky and names a line.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "replay/qemu-trace.h"
#include "vtd/desc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void decode_and_format(const struct qemu_trace_event *ev)
{
	struct vtd_desc d;
	char text[256];

	/* QEMU's lines carry qw0/qw1; bits 255:128 only come from tagvmm's upper line. */
	if (!ev->wide && (ev->raw.qw[2] || ev->raw.qw[3]))
		abort();
	vtd_desc_decode(&ev->raw, ev->wide, &d);
	if (vtd_desc_format(&d, text, sizeof(text)) < 0)
		abort();
}

static void check_failure(struct qemu_trace_reader *r, const char *err)
{
	struct qemu_trace_event ev;
	char again[256];

	if (strncmp(err, "line ", 5) != 0)
		abort();
	if (qemu_trace_next(r, &ev, again, sizeof(again)) != -1 || strcmp(err, again) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct qemu_trace_event ev;
	struct qemu_trace_reader *r;
	unsigned long prev_line = 0, events = 0, upper_lines = 0;
	char err[256];
	char *copy;
	FILE *f;
	int ret;

	/* glibc's fmemopen wants a writable buffer, and libFuzzer's is const */
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	f = fmemopen(copy, size, "r");
	if (!f) {
		free(copy);
		return 0;
	}
	r = qemu_trace_open(f);
	if (!r)
		abort();

	while ((ret = qemu_trace_next(r, &ev, err, sizeof(err))) == 1) {
		if (ev.line <= prev_line || ev.line != qemu_trace_lines(r))
			abort();
		prev_line = ev.line;
		events++;
		if (ev.kind == QEMU_TRACE_DESC) {
			decode_and_format(&ev);
			upper_lines += ev.wide ? 1 : 0;
		} else if ((ev.kind != QEMU_TRACE_TAIL && ev.kind != QEMU_TRACE_VIOMMU) ||
			   ev.invalid || ev.wide) {
			abort();
		}
	}
	if (ret == 0 && events + upper_lines + qemu_trace_skipped(r) != qemu_trace_lines(r))
		abort();
	if (ret == -1)
		check_failure(r, err);
	else if (ret != 0)
		abort();

	qemu_trace_close(r);
	fclose(f);
	free(copy);
	return 0;
}
