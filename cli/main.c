// SPDX-License-Identifier: MIT
/*
 * tagvmm: a small KVM VMM with an emulated VT-d whose guest invalidations
 * reach the host through a consolidated per-domain tag store.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

struct subcommand {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

static const struct subcommand subcommands[] = {
	{ "run", cmd_run, "boot a kernel or test guest (run -k KERNEL ...)" },
	{ "replay", cmd_replay, "push a recorded guest invalidation stream through the flush path" },
	{ "trace", cmd_trace, "read flush traces (trace summary FILE)" },
};

static void usage(FILE *out)
{
	fprintf(out, "usage: tagvmm <command> [options]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		fprintf(out, "  %-8s %s\n", subcommands[i].name, subcommands[i].summary);
	fprintf(out, "\n'tagvmm <command> --help' describes a command; see also tagvmm(1).\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("%s\n", PACKAGE_STRING);
		return 0;
	}
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		if (!strcmp(argv[1], subcommands[i].name))
			return subcommands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "tagvmm: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
