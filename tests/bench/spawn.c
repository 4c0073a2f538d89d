/*
 * spawn.c - process start-up cost.
 *
 *   spawn N [VAR=VALUE...] -- PROG [ARGS...]
 *
 * posix_spawn()s PROG N times, one after the other, each with this
 * program's environment plus the given VAR=VALUE settings, and waits for
 * each.  Prints the mean wall time per start in milliseconds.  Exits
 * nonzero if a spawn fails or a child exits nonzero.  (This program itself
 * runs without LD_PRELOAD: only the children get it.)
 */
#define _GNU_SOURCE
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	long n, i;
	int k, nenv = 0, ai = 2, nextra = 0;
	char **envp;
	double t0, t1;

	if (argc < 4) {
		fprintf(stderr,
			"usage: spawn N [VAR=VALUE...] -- PROG [ARGS...]\n");
		return 2;
	}
	n = atol(argv[1]);
	while (ai < argc && strcmp(argv[ai], "--") != 0) {
		nextra++;
		ai++;
	}
	if (ai >= argc - 1) {
		fprintf(stderr, "spawn: no program\n");
		return 2;
	}
	while (environ[nenv])
		nenv++;
	envp = calloc((size_t)(nenv + nextra + 1), sizeof(*envp));
	if (!envp)
		return 1;
	/* Extras first: getenv() finds the first match. */
	for (k = 0; k < nextra; k++)
		envp[k] = argv[2 + k];
	for (k = 0; k < nenv; k++)
		envp[nextra + k] = environ[k];
	t0 = now_s();
	for (i = 0; i < n; i++) {
		pid_t pid;
		int st;

		if (posix_spawn(&pid, argv[ai + 1], NULL, NULL, argv + ai + 1,
				envp) != 0) {
			perror("spawn: posix_spawn");
			return 1;
		}
		if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) ||
		    WEXITSTATUS(st) != 0) {
			fprintf(stderr, "spawn: %s failed (status %d)\n",
				argv[ai + 1], st);
			return 1;
		}
	}
	t1 = now_s();
	printf("%.4f\n", (t1 - t0) * 1000.0 / (double)n);
	return 0;
}
