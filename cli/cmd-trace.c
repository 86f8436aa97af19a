// SPDX-License-Identifier: MIT
/*
 * tagvmm trace: read flush traces written by `tagvmm replay --flush-trace`
 * (and later `tagvmm run`). One subcommand so far: summary. Format and
 * examples: docs/flush-trace.md.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostvtd/flushtrace.h"
#include "cli/cli.h"

/* Reading a trace failed (open, read, or writing the summary), not its content. */
#define EXIT_IO 1

static void usage(FILE *out)
{
	fprintf(out,
		"usage: tagvmm trace summary [--json] FILE\n"
		"\n"
		"Reads a flush trace (text or JSON lines, as written by\n"
		"'tagvmm replay --flush-trace FILE') and prints what the host received:\n"
		"records, batches, submissions, host IOTLB and device-TLB invalidations,\n"
		"guest requests absorbed into them, host errors, the merge ratio\n"
		"(absorbed per host invalidation), and per-unit and per-(unit, DID) tables.\n"
		"\n"
		"options:\n"
		"  --json       print the summary as one JSON object\n"
		"  -h, --help   this text\n"
		"\n"
		"FILE '-' reads standard input.\n"
		"\n"
		"Exit status: 0 done; 1 cannot read FILE; 2 bad usage; 3 malformed trace.\n");
}

/*
 * trace_summary_read() says "line N: why": print it the way compilers do,
 * FILE:N: why, or without the line when the file, not a line, is at fault.
 */
static void report(const char *path, const char *err, bool with_line)
{
	uint64_t line;
	int skip = 0;

	if (sscanf(err, "line %" SCNu64 ": %n", &line, &skip) == 1 && skip > 0) {
		if (with_line)
			fprintf(stderr, "tagvmm: %s:%" PRIu64 ": %s\n", path, line, err + skip);
		else
			fprintf(stderr, "tagvmm: %s: %s\n", path, err + skip);
	} else {
		fprintf(stderr, "tagvmm: %s: %s\n", path, err);
	}
}

static int trace_summary(int argc, char **argv)
{
	static struct trace_summary summary;	/* ~50 KiB: not on the stack */
	const char *path = NULL;
	bool json = false, options = true;
	char err[256];
	FILE *in;
	int ret, status = 0;

	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];

		if (options && !strcmp(arg, "--")) {
			options = false;
		} else if (options && (!strcmp(arg, "-h") || !strcmp(arg, "--help"))) {
			usage(stdout);
			return 0;
		} else if (options && !strcmp(arg, "--json")) {
			json = true;
		} else if (options && arg[0] == '-' && arg[1]) {
			fprintf(stderr, "tagvmm: trace summary: unknown option '%s'\n", arg);
			usage(stderr);
			return EXIT_USAGE;
		} else if (path) {
			fprintf(stderr, "tagvmm: trace summary: more than one FILE ('%s')\n", arg);
			usage(stderr);
			return EXIT_USAGE;
		} else {
			path = arg;
		}
	}
	if (!path) {
		fprintf(stderr, "tagvmm: trace summary: no FILE given\n");
		usage(stderr);
		return EXIT_USAGE;
	}

	if (!strcmp(path, "-")) {
		in = stdin;
		path = "<stdin>";
	} else {
		in = fopen(path, "re");
		if (!in) {
			fprintf(stderr, "tagvmm: %s: %s\n", path, strerror(errno));
			return EXIT_IO;
		}
	}

	ret = trace_summary_read(in, &summary, err, sizeof(err));
	if (in != stdin)
		fclose(in);
	if (ret == -1) {
		report(path, err, true);
		return EXIT_INPUT;
	}
	if (ret) {
		report(path, err, false);
		return EXIT_IO;
	}

	trace_summary_print(&summary, stdout, json);
	errno = 0;
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "tagvmm: writing the summary: %s\n", strerror(errno ? errno : EIO));
		status = EXIT_IO;
	}
	return status;
}

int cmd_trace(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "summary"))
		return trace_summary(argc - 1, argv + 1);
	fprintf(stderr, "tagvmm: trace: unknown subcommand '%s'\n", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
