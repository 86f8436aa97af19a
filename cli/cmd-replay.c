// SPDX-License-Identifier: MIT
/*
 * tagvmm replay: the command line of replay/ (replay.h). Push a guest
 * invalidation stream recorded by QEMU through the same flush path a
 * live guest uses (tag store, planner, and the simulated host VT-d or the
 * iommufd back end over a dry-run /dev/iommu), and report what the host
 * received.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "hostvtd/flushpath.h"
#include "replay/replay.h"
#include "replay/topology.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: tagvmm replay --qemu-trace FILE [options]\n"
		"\n"
		"Replays a guest VT-d invalidation stream recorded by QEMU with\n"
		"  -trace 'vtd_inv_desc*' -trace vtd_inv_qi_tail -D FILE\n"
		"through the tag store, the flush planner and a host back end.\n"
		"\n"
		"options:\n"
		"  --qemu-trace FILE        the recorded stream ('-' for stdin)\n"
		"  --assign SPEC            an assigned device and one domain it is attached to;\n"
		"                           repeatable. SPEC: sid=BDF,did=N[,pasid=N][,unit=N]\n"
		"                           [,ats][,nested][,qdep=N][,host-sid=BDF][,host-did=N]\n"
		"                           [,host-pasid=N][,viommu=N]\n"
		"                           Without --assign, every guest DID seen is one domain\n"
		"                           with one device (guest SID = DID) behind unit 0.\n"
		"  --units N                host units to simulate (default: as many as named)\n"
		"  --queue-entries N        guest queue size, to count untraced descriptors (256)\n"
		"  --no-merge               forward one for one, one host invalidation per device\n"
		"  --backend B              sim (default): the simulated host VT-d;\n"
		"                           iommufd-dry-run: the iommufd nesting back end over a\n"
		"                           /dev/iommu that checks and counts every call\n"
		"  --iommufd-log OUT        with iommufd-dry-run, log every ioctl ('-' for stderr)\n"
		"  --flush-trace OUT        write the host flush trace to OUT ('-' for stderr)\n"
		"  --flush-trace-format F   text (default) or json\n"
		"  --json                   print the summary as JSON\n"
		"  -h, --help               this text\n"
		"\n"
		"Exit status: 0 done; 2 bad usage; 3 malformed or truncated trace; 4 host error.\n");
}

static int exit_status(enum replay_status s)
{
	switch (s) {
	case REPLAY_OK:		return 0;
	case REPLAY_BAD_SETUP:	return EXIT_USAGE;
	case REPLAY_BAD_INPUT:	return EXIT_INPUT;
	case REPLAY_FAILED:	break;
	}
	return 1;
}

int cmd_replay(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "qemu-trace", required_argument, NULL, 'q' },
		{ "assign", required_argument, NULL, 'a' },
		{ "units", required_argument, NULL, 'u' },
		{ "queue-entries", required_argument, NULL, 'Q' },
		{ "no-merge", no_argument, NULL, 'n' },
		{ "flush-trace", required_argument, NULL, 't' },
		{ "flush-trace-format", required_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'j' },
		{ "backend", required_argument, NULL, 'b' },
		{ "iommufd-log", required_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct replay *rp = calloc(1, sizeof(*rp));
	struct flush_path_options fo = { 0 };
	const char *log_path = NULL;
	bool host_failed = false, dry_run;
	char err[160], *end;
	FILE *in = NULL, *iommufd_log = NULL;
	int c, status = EXIT_USAGE;

	if (!rp) {
		fprintf(stderr, "tagvmm: replay: out of memory\n");
		return 1;
	}
	rp->queue_entries = REPLAY_DEFAULT_QUEUE_ENTRIES;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		struct assignment a;
		unsigned long v;

		switch (c) {
		case 'q':
			rp->path = optarg;
			break;
		case 'a':
			if (topology_parse_assign(optarg, &a, err, sizeof(err))) {
				fprintf(stderr, "tagvmm: replay: --assign %s: %s\n", optarg, err);
				goto out;
			}
			if (topology_add(&rp->topo, &a)) {
				fprintf(stderr, "tagvmm: replay: out of memory\n");
				status = 1;
				goto out;
			}
			break;
		case 'u':
		case 'Q':
			errno = 0;
			v = strtoul(optarg, &end, 0);
			if (errno || *end || !*optarg || v == 0 ||
			    v > (c == 'u' ? HOST_MAX_UNITS : 0x8000)) {
				fprintf(stderr, "tagvmm: replay: bad value '%s' for --%s\n", optarg,
					c == 'u' ? "units" : "queue-entries");
				goto out;
			}
			if (c == 'u')
				rp->nunits = (unsigned int)v;
			else
				rp->queue_entries = (unsigned int)v;
			break;
		case 'n':
			rp->no_merge = true;
			break;
		case 'b':
			if (!host_backend_find(optarg)) {
				fprintf(stderr, "tagvmm: replay: --backend is %s\n",
					host_backend_names());
				goto out;
			}
			fo.backend = optarg;
			break;
		case 'L':
			log_path = optarg;
			break;
		case 't':
			fo.trace = optarg;
			break;
		case 'f':
			if (flush_trace_format_parse(optarg, &fo.trace_format)) {
				fprintf(stderr, "tagvmm: replay: --flush-trace-format is text or json\n");
				goto out;
			}
			break;
		case 'j':
			rp->json = true;
			break;
		case 'h':
			usage(stdout);
			status = 0;
			goto out;
		default:
			usage(stderr);
			goto out;
		}
	}
	if (optind != argc || !rp->path) {
		fprintf(stderr, "tagvmm: replay: %s\n",
			optind != argc ? "unexpected argument" : "--qemu-trace FILE is required");
		usage(stderr);
		goto out;
	}
	dry_run = fo.backend && !strcmp(fo.backend, "iommufd-dry-run");
	if (log_path && !dry_run) {
		fprintf(stderr, "tagvmm: replay: --iommufd-log needs --backend iommufd-dry-run\n");
		goto out;
	}
	if (log_path) {
		iommufd_log = strcmp(log_path, "-") ? fopen(log_path, "w") : stderr;
		if (!iommufd_log) {
			fprintf(stderr, "tagvmm: replay: cannot open %s: %s\n", log_path,
				strerror(errno));
			status = 1;
			goto out;
		}
	}
	rp->auto_topology = rp->topo.nassign == 0;
	fo.log = iommufd_log;
	status = exit_status(replay_setup(rp, &fo));
	if (status)
		goto out;
	in = strcmp(rp->path, "-") ? fopen(rp->path, "r") : stdin;
	if (!in) {
		fprintf(stderr, "tagvmm: replay: cannot open %s: %s\n", rp->path, strerror(errno));
		status = 1;
		goto out;
	}
	status = exit_status(replay_stream(rp, in, &host_failed));
	if (status == 0 || status == EXIT_INPUT)
		replay_print_summary(rp);
	if (status == 0 && host_failed)
		status = EXIT_HOST;
	/* A VMM's exit path: the host must accept the teardown calls too. */
	if (replay_teardown(rp) && status == 0)
		status = 1;
out:
	if (in && in != stdin)
		fclose(in);
	if (replay_free(rp) && status == 0) {
		fprintf(stderr, "tagvmm: replay: writing the flush trace failed\n");
		status = 1;
	}
	if (iommufd_log && iommufd_log != stderr && fclose(iommufd_log) && status == 0) {
		fprintf(stderr, "tagvmm: replay: writing the iommufd log failed\n");
		status = 1;
	}
	free(rp);
	return status;
}
