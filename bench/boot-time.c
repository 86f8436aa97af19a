// SPDX-License-Identifier: MIT
/*
 * boot-time: start a VMM command, and time (from fork) its first byte of
 * serial output, the first output line matching each given pattern, and
 * its exit. Repeats the run and prints medians. A figure, not a test.
 *
 *   boot-time [-n RUNS] [-t SECONDS] [-p REGEX]... -- COMMAND [ARGS...]
 *
 * With -t the command is sent SIGTERM once every pattern has been seen or
 * the time is up (for kernels that do not power off here).
 */
#include <errno.h>
#include <regex.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <poll.h>

#define MAX_PATTERNS 8
#define MAX_RUNS 100

struct run {
	double first_byte, exit;
	double pattern[MAX_PATTERNS];
	int status;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Feed output bytes; match complete lines against the patterns. */
struct scanner {
	char line[4096];
	size_t len;
};

static void scan(struct scanner *sc, const char *buf, size_t n, regex_t *re, int npat,
		 struct run *r, double t)
{
	for (size_t i = 0; i < n; i++) {
		if (buf[i] != '\n' && sc->len < sizeof(sc->line) - 1) {
			sc->line[sc->len++] = buf[i];
			continue;
		}
		sc->line[sc->len] = '\0';
		for (int p = 0; p < npat; p++)
			if (r->pattern[p] < 0 && !regexec(&re[p], sc->line, 0, NULL, 0))
				r->pattern[p] = t;
		sc->len = 0;
	}
}

static int all_seen(const struct run *r, int npat)
{
	for (int p = 0; p < npat; p++)
		if (r->pattern[p] < 0)
			return 0;
	return 1;
}

static int run_once(char **cmd, regex_t *re, int npat, double limit, struct run *r)
{
	struct scanner sc = { .len = 0 };
	int pipefd[2], status;
	double start, t;
	bool killed = false;
	pid_t pid;

	memset(r, 0, sizeof(*r));
	r->first_byte = -1;
	for (int p = 0; p < MAX_PATTERNS; p++)
		r->pattern[p] = -1;
	if (pipe(pipefd))
		return -1;
	start = now_s();
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		dup2(pipefd[1], STDOUT_FILENO);
		close(pipefd[0]);
		close(pipefd[1]);
		execvp(cmd[0], cmd);
		_exit(127);
	}
	close(pipefd[1]);
	for (;;) {
		struct pollfd pfd = { pipefd[0], POLLIN, 0 };
		char buf[4096];
		ssize_t n;

		if (poll(&pfd, 1, 100) > 0) {
			n = read(pipefd[0], buf, sizeof(buf));
			if (n <= 0)
				break;
			t = now_s() - start;
			if (r->first_byte < 0)
				r->first_byte = t;
			scan(&sc, buf, (size_t)n, re, npat, r, t);
		}
		t = now_s() - start;
		if (limit > 0 && !killed && ((npat && all_seen(r, npat)) || t > limit)) {
			kill(pid, SIGTERM);
			killed = true;
		}
	}
	close(pipefd[0]);
	waitpid(pid, &status, 0);
	r->exit = now_s() - start;
	r->status = status;
	return 0;
}

int main(int argc, char **argv)
{
	int runs = 10, npat = 0, c;
	double limit = 0;
	regex_t re[MAX_PATTERNS];
	const char *pat[MAX_PATTERNS];
	struct run r[MAX_RUNS];
	double v[MAX_RUNS];

	while ((c = getopt(argc, argv, "+n:t:p:")) != -1) {
		switch (c) {
		case 'n':
			runs = atoi(optarg);
			break;
		case 't':
			limit = atof(optarg);
			break;
		case 'p':
			if (npat == MAX_PATTERNS || regcomp(&re[npat], optarg, REG_EXTENDED | REG_NOSUB)) {
				fprintf(stderr, "boot-time: bad or too many patterns\n");
				return 2;
			}
			pat[npat++] = optarg;
			break;
		default:
			return 2;
		}
	}
	if (optind < argc && !strcmp(argv[optind], "--"))
		optind++;
	if (optind >= argc || runs < 1 || runs > MAX_RUNS) {
		fprintf(stderr, "usage: boot-time [-n RUNS] [-t SECONDS] [-p REGEX]... -- CMD...\n");
		return 2;
	}
	for (int i = 0; i < runs; i++)
		if (run_once(argv + optind, re, npat, limit, &r[i])) {
			perror("boot-time");
			return 1;
		}
	for (int i = 0; i < runs; i++)
		v[i] = r[i].first_byte;
	printf("first serial byte: median %.1f ms over %d runs\n", median(v, runs) * 1e3, runs);
	for (int p = 0; p < npat; p++) {
		int seen = 0;

		for (int i = 0; i < runs; i++)
			if (r[i].pattern[p] >= 0)
				v[seen++] = r[i].pattern[p];
		if (seen)
			printf("line /%s/: median %.1f ms (%d of %d runs)\n", pat[p],
			       median(v, seen) * 1e3, seen, runs);
		else
			printf("line /%s/: never seen\n", pat[p]);
	}
	for (int i = 0; i < runs; i++)
		v[i] = r[i].exit;
	printf("exit: median %.1f ms (status of the last run: %d)\n", median(v, runs) * 1e3,
	       WIFEXITED(r[runs - 1].status) ? WEXITSTATUS(r[runs - 1].status) : -1);
	return 0;
}
