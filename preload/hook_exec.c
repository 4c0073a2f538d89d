/*
 * hook_exec.c - exec and spawn of a statically linked program.
 *
 * A socksified program that execs a static one (sh -c 'exec busybox nc
 * ...') would hand it a process no preload can reach: its traffic would
 * go out directly.  execve, execv, execvp, execvpe, the execl family
 * (argument lists gathered here, as libc does, then the same path),
 * posix_spawn and posix_spawnp look at the file first: a static ELF
 * program is run
 * through the launcher instead ($SOCKSIFY_LAUNCHER, else the launcher
 * installed beside this library: LAUNCHER -- FILE ARGS...), whose seccomp
 * supervisor carries it; with no launcher known the call fails with
 * EACCES and a log line.  A process already under the supervisor
 * (SOCKSIFY_SUPERVISED, which the supervisor sets, in the environment it
 * started with or the one it passes on) passes: its filter is inherited
 * across exec.
 *
 * Safe in a vfork child: no allocation, no lock, stack buffers only (the
 * log line is one write).  The cost is one open and two reads of the file
 * per exec; the fd calls do not pay for it.
 */
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "proxy.h"
#include "real.h"

#define MAX_ARGS 4096

/* 1 when dirfd/path (openat's) is a static ELF program (no PT_INTERP),
 * else 0. */
static int is_static_at(int dirfd, const char *path)
{
	unsigned char h[64], ph[56 * 64];
	unsigned phent, phnum, i;
	uint64_t phoff;
	ssize_t n;
	int fd, st = 0;

	fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return 0; /* exec will say why */
	if (pread(fd, h, sizeof(h), 0) != (ssize_t)sizeof(h) ||
	    memcmp(h, ELFMAG, SELFMAG) != 0)
		goto out;
	if (h[EI_CLASS] == ELFCLASS64) {
		Elf64_Ehdr e;

		memcpy(&e, h, sizeof(e));
		phoff = e.e_phoff, phent = e.e_phentsize, phnum = e.e_phnum;
	} else if (h[EI_CLASS] == ELFCLASS32) {
		Elf32_Ehdr e;

		memcpy(&e, h, sizeof(e));
		phoff = e.e_phoff, phent = e.e_phentsize, phnum = e.e_phnum;
	} else {
		goto out;
	}
	if (phent < 4 || phnum == 0 || (size_t)phent * phnum > sizeof(ph))
		goto out;
	n = pread(fd, ph, (size_t)phent * phnum, (off_t)phoff);
	if (n != (ssize_t)((size_t)phent * phnum))
		goto out;
	st = 1;
	for (i = 0; i < phnum; i++) {
		uint32_t type;

		memcpy(&type, ph + (size_t)i * phent, sizeof(type));
		if (type == PT_INTERP)
			st = 0;
	}
out:
	(void)REAL_CALL(close, fd);
	return st;
}

static int is_static(const char *path)
{
	return is_static_at(AT_FDCWD, path);
}

/* The file execvp would run for file (PATH search), into buf; 0 or -1. */
static int search(const char *file, const char *path, char *buf, size_t cap)
{
	const char *p = path && *path ? path : "/bin:/usr/bin", *end;
	size_t n, fl = strlen(file);

	if (strchr(file, '/')) {
		if (fl >= cap)
			return -1;
		memcpy(buf, file, fl + 1);
		return 0;
	}
	for (;; p = end + 1) {
		end = strchr(p, ':');
		n = end ? (size_t)(end - p) : strlen(p);
		if (n + 1 + fl < cap) {
			if (n) {
				memcpy(buf, p, n);
				buf[n] = '/';
				memcpy(buf + n + 1, file, fl + 1);
			} else {
				memcpy(buf, file, fl + 1);
			}
			if (access(buf, X_OK) == 0)
				return 0;
		}
		if (!end)
			return -1;
	}
}

/* p != NULL, for arguments libc declares nonnull (a NULL one still
 * reaches the real call, which faults as without us). */
static int given(const void *p)
{
	return p != NULL;
}

/* The value of name in envp (or NULL). */
static const char *env_in(char *const envp[], const char *name)
{
	size_t n = strlen(name);

	for (; envp && *envp; envp++)
		if (strncmp(*envp, name, n) == 0 && (*envp)[n] == '=')
			return *envp + n + 1;
	return NULL;
}

/* The launcher beside this library, found once at load: in a source
 * tree preload/libsocksify.so has ../socksify, an installed one
 * LIBDIR = PREFIX/lib/socksify has PREFIX/bin/socksify ("" when neither
 * is there).  At load, not at exec: dladdr takes the loader's lock, which
 * a vfork child must not. */
static char g_launcher[PATH_MAX];

__attribute__((constructor)) static void find_launcher(void)
{
	static const char *const rel[] = {"/../socksify",
					  "/../../bin/socksify"};
	char dir[PATH_MAX], cand[PATH_MAX];
	Dl_info di;
	char *slash;
	size_t i;

	if (!dladdr((void *)find_launcher, &di) || !di.dli_fname ||
	    di.dli_fname[0] != '/' || strlen(di.dli_fname) >= sizeof(dir))
		return;
	strcpy(dir, di.dli_fname);
	if (!(slash = strrchr(dir, '/')))
		return;
	*slash = '\0';
	for (i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
		if (strlen(dir) + strlen(rel[i]) >= sizeof(cand))
			continue;
		strcpy(cand, dir);
		strcat(cand, rel[i]);
		if (access(cand, X_OK) == 0 &&
		    realpath(cand, g_launcher) != NULL)
			return;
	}
	g_launcher[0] = '\0';
}

/* Whether this process runs under the supervisor's filter, from the
 * environment it started with (the supervisor sets SOCKSIFY_SUPERVISED
 * for the program; its descendants inherit it with the filter), not only
 * from the one an exec passes on: a supervised program that execs with an
 * environment of its own (env -i, a built envp) is still under the filter,
 * and rerouting it would start a second supervisor, which cannot be had
 * (EBUSY).  Believed only where /proc/self/status shows a filter (Seccomp:
 * 2), or cannot be read. */
static int g_supervised;

__attribute__((constructor)) static void supervised_at_load(void)
{
	const char *v = getenv("SOCKSIFY_SUPERVISED");
	char buf[4096], *at;
	ssize_t n;
	int fd;

	if (!v || !*v)
		return;
	g_supervised = 1;
	fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	(void)REAL_CALL(close, fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	at = strstr(buf, "\nSeccomp:");
	if (at && strtol(at + 9, NULL, 10) != 2)
		g_supervised = 0;
}

/*
 * Whether path is to run through the launcher: 0 to run it as asked; 1
 * with *launcher set to run it through the supervisor; -1 with errno set
 * to refuse it.
 */
static int reroute(const char *path, char *const envp[], const char **launcher)
{
	if (!is_static(path))
		return 0;
	if (g_supervised || env_in(envp, "SOCKSIFY_SUPERVISED"))
		return 0; /* the filter is inherited */
	*launcher = env_in(envp, "SOCKSIFY_LAUNCHER");
	if (!*launcher || !**launcher)
		*launcher = g_launcher;
	if (**launcher != '/' || access(*launcher, X_OK) < 0) {
		sfy_log(SFY_LOG_ERROR,
			"exec of %s refused: it is statically linked, no "
			"preload reaches it, and no socksify launcher is known "
			"to supervise it (SOCKSIFY_LAUNCHER) (EACCES)",
			path);
		errno = EACCES;
		return -1;
	}
	return 1;
}

/*
 * Runs LAUNCHER -- PATH ARGS... (posix_spawn when pid is non-NULL, else
 * execve).  The argument array lives on this frame only: the large stack
 * use is paid on the rerouted path, not by every exec (a vfork child runs
 * on its parent's stack, which may be a small thread stack).
 */
static __attribute__((noinline)) int
via_launcher(const char *l, const char *path, char *const argv[],
	     char *const envp[], pid_t *pid,
	     const posix_spawn_file_actions_t *fa, const posix_spawnattr_t *at)
{
	char *nargv[MAX_ARGS];
	size_t i;

	nargv[0] = (char *)(uintptr_t) "socksify";
	nargv[1] = (char *)(uintptr_t) "--";
	nargv[2] = (char *)(uintptr_t)path;
	for (i = 1; argv && argv[i]; i++) {
		if (i + 3 >= MAX_ARGS) {
			errno = E2BIG;
			return pid ? E2BIG : -1;
		}
		nargv[i + 2] = argv[i];
	}
	nargv[i + 2] = NULL;
	sfy_log(SFY_LOG_INFO,
		"exec of %s: statically linked, run under the supervisor (%s)",
		path, l);
	if (pid)
		return REAL_CALL(posix_spawn, pid, l, fa, at, nargv, envp);
	return REAL_CALL(execve, l, nargv, envp);
}

static int do_execve(const char *path, char *const argv[], char *const envp[])
{
	const char *l = NULL;
	int r = path ? reroute(path, envp, &l) : 0;

	if (r < 0)
		return -1;
	if (r > 0)
		return via_launcher(l, path, argv, envp, NULL, NULL, NULL);
	return REAL_CALL(execve, path, argv, envp);
}

SFY_EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
	return do_execve(path, argv, envp);
}

SFY_EXPORT int execv(const char *path, char *const argv[])
{
	return do_execve(path, argv, environ);
}

SFY_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
	char buf[PATH_MAX];
	const char *l = NULL;
	int r = 0;

	if (given(file) && search(file, getenv("PATH"), buf, sizeof(buf)) == 0)
		r = reroute(buf, envp, &l);
	if (r < 0)
		return -1;
	if (r > 0)
		return via_launcher(l, buf, argv, envp, NULL, NULL, NULL);
	return REAL_CALL(execvpe, file, argv, envp);
}

SFY_EXPORT int execvp(const char *file, char *const argv[])
{
	char buf[PATH_MAX];
	const char *l = NULL;
	int r = 0;

	if (given(file) && search(file, getenv("PATH"), buf, sizeof(buf)) == 0)
		r = reroute(buf, environ, &l);
	if (r < 0)
		return -1;
	if (r > 0)
		return via_launcher(l, buf, argv, environ, NULL, NULL, NULL);
	return REAL_CALL(execvp, file, argv);
}

static int spawn(pid_t *pid, const char *file, int use_path,
		 const posix_spawn_file_actions_t *fa,
		 const posix_spawnattr_t *at, char *const argv[],
		 char *const envp[])
{
	char buf[PATH_MAX];
	const char *l = NULL, *path = file;
	int r = 0, saved = errno;

	if (file && use_path) {
		path = search(file, getenv("PATH"), buf, sizeof(buf)) == 0
			   ? buf
			   : NULL;
	}
	if (path)
		r = reroute(path, envp, &l);
	if (r < 0) {
		r = errno;
		errno = saved;
		return r; /* posix_spawn returns the error */
	}
	errno = saved;
	if (r > 0)
		return via_launcher(l, path, argv, envp, pid, fa, at);
	return use_path ? REAL_CALL(posix_spawnp, pid, file, fa, at, argv, envp)
			: REAL_CALL(posix_spawn, pid, file, fa, at, argv, envp);
}

SFY_EXPORT int posix_spawn(pid_t *pid, const char *path,
			   const posix_spawn_file_actions_t *fa,
			   const posix_spawnattr_t *at, char *const argv[],
			   char *const envp[])
{
	return spawn(pid, path, 0, fa, at, argv, envp);
}

SFY_EXPORT int posix_spawnp(pid_t *pid, const char *file,
			    const posix_spawn_file_actions_t *fa,
			    const posix_spawnattr_t *at, char *const argv[],
			    char *const envp[])
{
	return spawn(pid, file, 1, fa, at, argv, envp);
}

/*
 * The execl family: the arguments gathered into an array on this frame,
 * as libc does, then the v form's path (which the hooks above take).  At
 * most MAX_ARGS, else E2BIG (the kernel's own limit is lower in practice).
 */
#define GATHER(va, n)                                                          \
	do {                                                                   \
		va_list c_;                                                    \
		va_copy(c_, va);                                               \
		for (n = 1; va_arg(c_, char *); n++)                           \
			if (n + 1 >= MAX_ARGS) {                               \
				va_end(c_);                                    \
				errno = E2BIG;                                 \
				return -1;                                     \
			}                                                      \
		va_end(c_);                                                    \
	} while (0)

/* Runs the v form with the n arguments (arg0, then va's) in argv. */
static int execl_run(const char *path, const char *arg0, va_list va,
		     char **argv, size_t n, int mode)
{
	char *const *envp;
	size_t i;

	argv[0] = (char *)(uintptr_t)arg0;
	for (i = 1; i <= n; i++) /* argv[n] is the terminating NULL */
		argv[i] = va_arg(va, char *);
	if (mode == 'e') {
		envp = va_arg(va, char *const *);
		return do_execve(path, argv, envp);
	}
	if (mode == 'p')
		return execvp(path, argv);
	return do_execve(path, argv, environ);
}

/* The long lists' array on its own frame, paid by them only. */
static __attribute__((noinline)) int
execl_long(const char *path, const char *arg0, va_list va, size_t n, int mode)
{
	char *argv[MAX_ARGS];

	return execl_run(path, arg0, va, argv, n, mode);
}

static int execl_v(const char *path, const char *arg0, va_list va, size_t n,
		   int mode)
{
	char *argv[32];

	if (n + 1 > sizeof(argv) / sizeof(argv[0]))
		return execl_long(path, arg0, va, n, mode);
	return execl_run(path, arg0, va, argv, n, mode);
}

SFY_EXPORT int execl(const char *path, const char *arg0, ...)
{
	va_list va;
	size_t n;
	int r;

	va_start(va, arg0);
	GATHER(va, n);
	r = execl_v(path, arg0, va, n, 'v');
	va_end(va);
	return r;
}

SFY_EXPORT int execlp(const char *file, const char *arg0, ...)
{
	va_list va;
	size_t n;
	int r;

	va_start(va, arg0);
	GATHER(va, n);
	r = execl_v(file, arg0, va, n, 'p');
	va_end(va);
	return r;
}

SFY_EXPORT int execle(const char *path, const char *arg0, ...)
{
	va_list va;
	size_t n;
	int r;

	va_start(va, arg0);
	GATHER(va, n);
	r = execl_v(path, arg0, va, n, 'e');
	va_end(va);
	return r;
}

/* A static program named by fd (fexecve, execveat): refused, see the top. */
static int refuse_fd_static(int fd, const char *path, int flags,
			    char *const envp[])
{
	char proc[48];
	int st;

	if (flags & AT_EMPTY_PATH && given(path) && !*path) {
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
		st = is_static(proc);
	} else {
		st = given(path) && is_static_at(fd, path);
	}
	if (!st || env_in(envp, "SOCKSIFY_SUPERVISED"))
		return 0;
	sfy_log(SFY_LOG_ERROR,
		"exec of fd %d%s%s refused: it is statically linked, no "
		"preload reaches it, and the supervisor needs it by path "
		"(EACCES)",
		fd, given(path) && *path ? ": " : "", given(path) ? path : "");
	errno = EACCES;
	return -1;
}

SFY_EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
	if (refuse_fd_static(fd, "", AT_EMPTY_PATH, envp) < 0)
		return -1;
	return REAL_CALL(fexecve, fd, argv, envp);
}

SFY_EXPORT int execveat(int dirfd, const char *path, char *const argv[],
			char *const envp[], int flags)
{
	const char *l = NULL;
	int r;

	if (given(path) && *path && (path[0] == '/' || dirfd == AT_FDCWD) &&
	    !(flags & AT_SYMLINK_NOFOLLOW)) {
		/* By path: rerouted as execve is. */
		r = reroute(path, envp, &l);
		if (r < 0)
			return -1;
		if (r > 0)
			return via_launcher(l, path, argv, envp, NULL, NULL,
					    NULL);
	} else if (refuse_fd_static(dirfd, path, flags, envp) < 0) {
		return -1;
	}
	return REAL_CALL(execveat, dirfd, path, argv, envp, flags);
}
