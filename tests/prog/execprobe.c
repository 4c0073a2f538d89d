/*
 * execprobe.c - runs a program through one of libc's exec or spawn calls,
 * for the exec hooks' lab cases (tests/lab/static.sh, case h): under
 * socksify a statically linked program must come out supervised (or be
 * refused), never unproxied.
 *
 *   execprobe [-0 NAME] [-E] [-N COUNT] CALL PROG [ARGS...]
 *
 * -0 NAME gives the program NAME as argv[0] (the v and spawn forms; else
 * argv[0] is PROG), -E an empty argv (argv[0] NULL, a stray word after
 * it that a reader past the end would pick up), -N COUNT appends COUNT
 * words "x" (the v and spawn forms).  CALL execl-many is execl with PROG
 * and 5000 words "x" written in the call.
 *
 * CALL: execl, execlp, execle, execv, execvp, execvpe, execve, fexecve,
 * execveat (by path), execveat-fd (AT_EMPTY_PATH), posix_spawn,
 * posix_spawnp (the spawns wait for the child and exit with its status).
 * PROG is a path, or for the p forms a name searched in PATH.  The execl
 * forms take up to 5 ARGS.  When the call itself fails it prints
 * "execprobe: CALL: ERRNONAME" on stderr and exits 120.
 */
#include <errno.h>
#include <stdlib.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static int failed(const char *call)
{
	fprintf(stderr, "execprobe: %s: %s\n", call, strerrorname_np(errno));
	return 120;
}

#define X10   "x", "x", "x", "x", "x", "x", "x", "x", "x", "x"
#define X100  X10, X10, X10, X10, X10, X10, X10, X10, X10, X10
#define X1000 X100, X100, X100, X100, X100, X100, X100, X100, X100, X100

int main(int argc, char **argv)
{
	const char *call, *prog, *name = NULL;
	char **args;
	char *empty[] = {NULL, (char *)(uintptr_t) "STRAY", NULL};
	int i, fd, many = 0, noargs = 0;

	while (argc > 1 && argv[1][0] == '-') {
		if (strcmp(argv[1], "-0") == 0 && argc > 2)
			name = argv[2], argv += 2, argc -= 2;
		else if (strcmp(argv[1], "-N") == 0 && argc > 2)
			many = atoi(argv[2]), argv += 2, argc -= 2;
		else if (strcmp(argv[1], "-E") == 0)
			noargs = 1, argv++, argc--;
		else
			break;
	}
	call = argc > 2 ? argv[1] : "";
	prog = argv[2];
	args = argv + 2;
	if (many > 0) {
		char **m = calloc((size_t)(argc - 2 + many + 1), sizeof(*m));

		if (!m)
			return failed("calloc");
		for (i = 0; i < argc - 2; i++)
			m[i] = argv[i + 2];
		for (; i < argc - 2 + many; i++)
			m[i] = (char *)(uintptr_t) "x";
		args = m;
	}
	if (name)
		args[0] = (char *)(uintptr_t)name;
	if (noargs)
		args = empty;

	if (argc < 3) {
		fprintf(stderr, "usage: execprobe CALL PROG [ARGS...]\n");
		return 2;
	}
	if (strcmp(call, "execl-many") == 0) {
		execl(prog, prog, X1000, X1000, X1000, X1000, X1000,
		      (char *)NULL);
	} else if (strncmp(call, "execl", 5) == 0 && argc <= 3 + 5) {
		/* The list as written in a program: up to 5 ARGS, NULL-ended.
		 */
		const char *a[6] = {NULL, NULL, NULL, NULL, NULL, NULL};
		int k = call[5];

		for (i = 0; i + 3 < argc; i++)
			a[i] = argv[i + 3];
#define L(...)                                                                 \
	(k == 'p'   ? execlp(prog, prog, __VA_ARGS__)                          \
	 : k == 'e' ? execle(prog, prog, __VA_ARGS__, environ)                 \
		    : execl(prog, prog, __VA_ARGS__))
		switch (argc - 3) {
		case 0:
			L((char *)NULL);
			break;
		case 1:
			L(a[0], (char *)NULL);
			break;
		case 2:
			L(a[0], a[1], (char *)NULL);
			break;
		case 3:
			L(a[0], a[1], a[2], (char *)NULL);
			break;
		case 4:
			L(a[0], a[1], a[2], a[3], (char *)NULL);
			break;
		default:
			L(a[0], a[1], a[2], a[3], a[4], (char *)NULL);
			break;
		}
#undef L
	} else if (strcmp(call, "execv") == 0)
		execv(prog, args);
	else if (strcmp(call, "execvp") == 0)
		execvp(prog, args);
	else if (strcmp(call, "execvpe") == 0)
		execvpe(prog, args, environ);
	else if (strcmp(call, "execve") == 0)
		execve(prog, args, environ);
	else if (strcmp(call, "execveat") == 0)
		execveat(AT_FDCWD, prog, args, environ, 0);
	else if (strcmp(call, "fexecve") == 0 ||
		 strcmp(call, "execveat-fd") == 0) {
		if ((fd = open(prog, O_RDONLY | O_CLOEXEC)) < 0)
			return failed("open");
		if (call[0] == 'f')
			fexecve(fd, args, environ);
		else
			execveat(fd, "", args, environ, AT_EMPTY_PATH);
	} else if (strncmp(call, "posix_spawn", 11) == 0) {
		pid_t pid;
		int st, r = call[11] == 'p' ? posix_spawnp(&pid, prog, NULL,
							   NULL, args, environ)
					    : posix_spawn(&pid, prog, NULL,
							  NULL, args, environ);

		if (r != 0) {
			errno = r;
			return failed(call);
		}
		if (waitpid(pid, &st, 0) != pid)
			return failed("waitpid");
		return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	} else {
		fprintf(stderr, "execprobe: unknown call %s\n", call);
		return 2;
	}
	return failed(call);
}
