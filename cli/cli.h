/* SPDX-License-Identifier: MIT */
/* Subcommands of the tagvmm program. Each returns the process exit status. */
#ifndef TAGVMM_CLI_CLI_H
#define TAGVMM_CLI_CLI_H

/* Exit statuses shared by all subcommands. */
#define EXIT_USAGE 2		/* bad command line */
#define EXIT_INPUT 3		/* malformed input file */
#define EXIT_HOST 4		/* a host invalidation failed */

int cmd_run(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_trace(int argc, char **argv);

#endif
