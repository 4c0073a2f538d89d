/*
 * hook_exec.c - exec and spawn of a statically linked program.
 *
 * A socksified program that execs a static one (sh -c 'exec busybox nc
 * ...') would hand it a process no preload can reach: its traffic would
 * go out directly.  execve, execv, execvp, execvpe, the execl family
 * (argument lists gathered here, as libc does, then the same path),
 * posix_spawn and posix_spawnp look at the file first: a static ELF
 * program, a #! script whose interpreter is static, or a file exec could
 * run that cannot be read or judged (fail closed) is run through the
 * launcher instead ($SOCKSIFY_LAUNCHER, else the launcher installed
 * beside this library: LAUNCHER --argv0 ARGV0 -- FILE ARGS...), whose
 * seccomp supervisor carries it; with no launcher known the call fails
 * with EACCES and a log line.  A process already under the supervisor
 * (SOCKSIFY_SUPERVISED in its own environment at load and a seccomp
 * filter on it) passes: its filter is inherited across exec.
 *
 * Safe in a vfork child: no allocation, no lock, stack buffers only (the
 * log line is one write; a long argument array is mmap'd).  The cost is
 * one open and two reads of the file per exec (more for a #! chain, or
 * an ELF file with very many program headers); errno is kept.
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
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "proxy.h"
#include "real.h"

/* What exec of a file amounts to, for the hooks. */
enum {
	J_PASS = 0, /* dynamic, or nothing exec would run: as asked */
	J_STATIC,   /* a static ELF program: through the launcher */
	J_SCRIPT,   /* a #! script whose interpreter (chain) is static */
	J_UNKNOWN,  /* executable, but not to be read or judged */
};

/* The #! rewrites followed: the kernel allows 4 (binfmt rewrites); one
 * more is judged, and a chain still longer is J_UNKNOWN (fail closed). */
#define SCRIPT_DEPTH 5
#define BINPRM_BUF   256 /* the kernel's BINPRM_BUF_SIZE: the #! line */

#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define ELFDATA_HOST ELFDATA2MSB
#else
#define ELFDATA_HOST ELFDATA2LSB
#endif

/* Nonzero when exec could run dirfd/path: a regular file with an x bit
 * for the effective ids. */
static int executable_at(int dirfd, const char *path)
{
	struct stat st;

	return fstatat(dirfd, path, &st, 0) == 0 && S_ISREG(st.st_mode) &&
	       faccessat(dirfd, path, X_OK, AT_EACCESS) == 0;
}

/* The verdict on the ELF file fd, whose first bytes are h (at least an
 * ELF header; class checked): J_STATIC without a PT_INTERP header,
 * J_PASS with one, J_UNKNOWN when the headers cannot be read (or are in
 * the other byte order).  The headers are read in chunks, however many. */
static int judge_elf(int fd, const unsigned char *h)
{
	unsigned char ph[2048];
	unsigned phent, phnum, type_;
	size_t per, k, j, len;
	uint64_t phoff, i;

	if (h[EI_DATA] != ELFDATA_HOST)
		return J_UNKNOWN; /* the launcher's read_elf judges it */
	if (h[EI_CLASS] == ELFCLASS64) {
		Elf64_Ehdr e;

		memcpy(&e, h, sizeof(e));
		phoff = e.e_phoff, phent = e.e_phentsize, phnum = e.e_phnum;
		type_ = e.e_type;
	} else {
		Elf32_Ehdr e;

		memcpy(&e, h, sizeof(e));
		phoff = e.e_phoff, phent = e.e_phentsize, phnum = e.e_phnum;
		type_ = e.e_type;
	}
	if (type_ != ET_EXEC && type_ != ET_DYN)
		return J_PASS; /* exec will say why (ENOEXEC) */
	if (phent < 4 || phnum == 0)
		return J_UNKNOWN;
	per = phent <= sizeof(ph) ? sizeof(ph) / phent : 0;
	for (i = 0; i < phnum; i += k) {
		k = per ? (phnum - i < per ? (size_t)(phnum - i) : per) : 1;
		len = per ? k * phent : 4;
		if (phoff + i * phent > (uint64_t)LLONG_MAX ||
		    pread(fd, ph, len, (off_t)(phoff + i * phent)) !=
			(ssize_t)len)
			return J_UNKNOWN;
		for (j = 0; j < k; j++) {
			uint32_t type;

			memcpy(&type, ph + j * phent, sizeof(type));
			if (type == PT_INTERP)
				return J_PASS;
		}
	}
	return J_STATIC;
}

/*
 * What exec of dirfd/path (openat's) amounts to (J_*).  A #! script is
 * judged by its interpreter, as the kernel runs it (the interpreter's
 * path taken as the kernel takes it: relative to the current directory).
 * A file exec could run but we cannot read is J_UNKNOWN: an execute-only
 * static program would otherwise pass unproxied.
 */
static int judge_at(int dirfd, const char *path)
{
	unsigned char h[BINPRM_BUF];
	char interp[BINPRM_BUF];
	size_t a, b;
	ssize_t n;
	int depth, fd, j;

	for (depth = 0;; depth++) {
		fd = openat(dirfd, path,
			    O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
		if (fd < 0)
			return executable_at(dirfd, path) ? J_UNKNOWN : J_PASS;
		n = pread(fd, h, sizeof(h) - 1, 0);
		if (n >= (ssize_t)sizeof(Elf64_Ehdr) &&
		    memcmp(h, ELFMAG, SELFMAG) == 0 &&
		    (h[EI_CLASS] == ELFCLASS64 || h[EI_CLASS] == ELFCLASS32)) {
			j = judge_elf(fd, h);
			(void)REAL_CALL(close, fd);
			return j == J_STATIC && depth ? J_SCRIPT : j;
		}
		(void)REAL_CALL(close, fd);
		if (n < 2 || h[0] != '#' || h[1] != '!')
			return J_PASS; /* exec will say why */
		if (depth == SCRIPT_DEPTH)
			return J_UNKNOWN;
		/* binfmt_script: blanks, then the interpreter up to a blank,
		 * the line's end or a NUL (the buffer is zero-filled). */
		memset(h + n, 0, sizeof(h) - (size_t)n);
		for (a = 2; a < (size_t)n && (h[a] == ' ' || h[a] == '\t'); a++)
			;
		for (b = a; b < sizeof(h) - 1 && h[b] && h[b] != ' ' &&
			    h[b] != '\t' && h[b] != '\n';
		     b++)
			;
		if (b == a || b == sizeof(h) - 1)
			return J_PASS; /* ENOEXEC: none, or cut short */
		memcpy(interp, h + a, b - a);
		interp[b - a] = '\0';
		path = interp;
		dirfd = AT_FDCWD;
	}
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
			/* As execvp: a directory or a file without an x bit
			 * is skipped (its exec fails with EACCES). */
			if (executable_at(AT_FDCWD, buf))
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

/* Nonzero when this process runs under the supervisor, decided once at
 * load from the process itself: SOCKSIFY_SUPERVISED (which the
 * supervisor sets) in our own environment and a seccomp filter on us
 * (Seccomp: 2), which exec and fork pass on.  The new program's envp is
 * not trusted: env SOCKSIFY_SUPERVISED=1 ./static would pass unproxied. */
static int g_supervised;

__attribute__((constructor)) static void find_supervised(void)
{
	char b[8192];
	const char *p;
	size_t o = 0;
	ssize_t n;
	int fd;

	if (!getenv("SOCKSIFY_SUPERVISED"))
		return;
	fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	while (o < sizeof(b) - 1 &&
	       (n = REAL_CALL(read, fd, b + o, sizeof(b) - 1 - o)) > 0)
		o += (size_t)n;
	(void)REAL_CALL(close, fd);
	b[o] = '\0';
	p = strstr(b, "\nSeccomp:");
	if (!p)
		return;
	p += strlen("\nSeccomp:");
	p += strspn(p, " \t");
	g_supervised = p[0] == '2' && (p[1] == '\n' || p[1] == '\0');
}

/* The words for a verdict, in the log lines. */
static const char *verdict(int j)
{
	return j == J_STATIC   ? "statically linked"
	       : j == J_SCRIPT ? "its #! interpreter is statically linked"
			       : "it cannot be read to judge whether it is "
				 "statically linked";
}

/*
 * Whether path is to run through the launcher: 0 to run it as asked; 1
 * with *launcher set to run it through the supervisor; -1 with errno set
 * to refuse it.
 */
static int reroute(const char *path, char *const envp[], const char **launcher,
		   int *j)
{
	int saved = errno;

	if (g_supervised)
		return 0; /* the filter is inherited */
	*j = judge_at(AT_FDCWD, path);
	errno = saved;
	if (*j == J_PASS)
		return 0;
	*launcher = env_in(envp, "SOCKSIFY_LAUNCHER");
	if (!*launcher || !**launcher)
		*launcher = g_launcher;
	if (**launcher != '/' || access(*launcher, X_OK) < 0) {
		sfy_log(SFY_LOG_ERROR,
			"exec of %s refused: %s, no preload reaches it, "
			"and no socksify launcher is known to supervise it "
			"(SOCKSIFY_LAUNCHER) (EACCES)",
			path,
			*j == J_STATIC ? "it is statically linked"
				       : verdict(*j));
		errno = EACCES;
		return -1;
	}
	return 1;
}

/* An array of n pointers: in buf (cap of them) when it fits, else mmap'd
 * (no malloc: a vfork child may be here).  NULL with errno set. */
static char **args_array(char **buf, size_t cap, size_t n, size_t *maplen)
{
	void *m;

	*maplen = 0;
	if (n <= cap)
		return buf;
	if (n > SIZE_MAX / sizeof(char *)) {
		errno = E2BIG;
		return NULL;
	}
	m = mmap(NULL, n * sizeof(char *), PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	*maplen = n * sizeof(char *);
	return m;
}

/* Unmaps what args_array mapped, errno kept.  (A vfork child whose exec
 * succeeds leaves the mapping in its parent, which shares the memory: a
 * leak of the array's size, on the long-argument path only.) */
static void args_free(char **a, size_t maplen)
{
	int e = errno;

	if (maplen)
		(void)munmap(a, maplen);
	errno = e;
}

/*
 * Runs LAUNCHER --argv0 ARGV0 -- PATH ARGS... (posix_spawn when pid is
 * non-NULL, else execve): the program gets the argv[0] it was given (a
 * multi-call binary such as busybox goes by it; "" for an empty argv, as
 * the kernel gives).  The array is on this frame when short, else
 * mmap'd: sized from the count, as the kernel takes any number.
 */
static __attribute__((noinline)) int
via_launcher(const char *l, const char *path, int j, char *const argv[],
	     char *const envp[], pid_t *pid,
	     const posix_spawn_file_actions_t *fa, const posix_spawnattr_t *at)
{
	char *small[64], **nargv;
	size_t argc = 0, i, k = 0, maplen;
	int r;

	if (argv && argv[0])
		for (argc = 1; argv[argc]; argc++)
			;
	nargv = args_array(small, sizeof(small) / sizeof(small[0]), argc + 6,
			   &maplen);
	if (!nargv)
		return pid ? errno : -1;
	nargv[k++] = (char *)(uintptr_t) "socksify";
	nargv[k++] = (char *)(uintptr_t) "--argv0";
	nargv[k++] = argc ? argv[0] : (char *)(uintptr_t) "";
	nargv[k++] = (char *)(uintptr_t) "--";
	nargv[k++] = (char *)(uintptr_t)path;
	for (i = 1; i < argc; i++)
		nargv[k++] = argv[i];
	nargv[k] = NULL;
	sfy_log(SFY_LOG_INFO, "exec of %s: %s, run under the supervisor (%s)",
		path, verdict(j), l);
	if (pid)
		r = REAL_CALL(posix_spawn, pid, l, fa, at, nargv, envp);
	else
		r = REAL_CALL(execve, l, nargv, envp);
	args_free(nargv, maplen);
	return r;
}

static int do_execve(const char *path, char *const argv[], char *const envp[])
{
	const char *l = NULL;
	int j = 0, r = path ? reroute(path, envp, &l, &j) : 0;

	if (r < 0)
		return -1;
	if (r > 0)
		return via_launcher(l, path, j, argv, envp, NULL, NULL, NULL);
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
	int j = 0, r = 0;

	if (given(file) && search(file, getenv("PATH"), buf, sizeof(buf)) == 0)
		r = reroute(buf, envp, &l, &j);
	if (r < 0)
		return -1;
	if (r > 0)
		return via_launcher(l, buf, j, argv, envp, NULL, NULL, NULL);
	return REAL_CALL(execvpe, file, argv, envp);
}

SFY_EXPORT int execvp(const char *file, char *const argv[])
{
	char buf[PATH_MAX];
	const char *l = NULL;
	int j = 0, r = 0;

	if (given(file) && search(file, getenv("PATH"), buf, sizeof(buf)) == 0)
		r = reroute(buf, environ, &l, &j);
	if (r < 0)
		return -1;
	if (r > 0)
		return via_launcher(l, buf, j, argv, environ, NULL, NULL, NULL);
	return REAL_CALL(execvp, file, argv);
}

static int spawn(pid_t *pid, const char *file, int use_path,
		 const posix_spawn_file_actions_t *fa,
		 const posix_spawnattr_t *at, char *const argv[],
		 char *const envp[])
{
	char buf[PATH_MAX];
	const char *l = NULL, *path = file;
	int j = 0, r = 0, saved = errno;

	if (file && use_path) {
		path = search(file, getenv("PATH"), buf, sizeof(buf)) == 0
			   ? buf
			   : NULL;
	}
	if (path)
		r = reroute(path, envp, &l, &j);
	if (r < 0) {
		r = errno;
		errno = saved;
		return r; /* posix_spawn returns the error */
	}
	errno = saved;
	if (r > 0)
		return via_launcher(l, path, j, argv, envp, pid, fa, at);
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
 * The execl family: the arguments gathered into an array, as libc does,
 * then the v form's path (which the hooks above take).  Any number: a
 * long list's array is mmap'd (execl_long).
 */
#define GATHER(va, n)                                                          \
	do {                                                                   \
		va_list c_;                                                    \
		va_copy(c_, va);                                               \
		for (n = 1; va_arg(c_, char *); n++)                           \
			;                                                      \
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

/* The long lists' array, mmap'd to its size (vfork-safe). */
static __attribute__((noinline)) int
execl_long(const char *path, const char *arg0, va_list va, size_t n, int mode)
{
	size_t maplen;
	char **argv = args_array(NULL, 0, n + 1, &maplen);
	int r;

	if (!argv)
		return -1;
	r = execl_run(path, arg0, va, argv, n, mode);
	args_free(argv, maplen);
	return r;
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
	int j = J_PASS, saved = errno;

	(void)envp;
	if (g_supervised)
		return 0; /* the filter is inherited */
	if (flags & AT_EMPTY_PATH && given(path) && !*path) {
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
		j = judge_at(AT_FDCWD, proc);
	} else if (given(path)) {
		j = judge_at(fd, path);
	}
	errno = saved;
	if (j == J_PASS)
		return 0;
	sfy_log(SFY_LOG_ERROR,
		"exec of fd %d%s%s refused: %s, no preload reaches it, and "
		"the supervisor needs it by path (EACCES)",
		fd, given(path) && *path ? ": " : "", given(path) ? path : "",
		j == J_STATIC ? "it is statically linked" : verdict(j));
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
	int j = 0, r;

	if (given(path) && *path && (path[0] == '/' || dirfd == AT_FDCWD) &&
	    !(flags & AT_SYMLINK_NOFOLLOW)) {
		/* By path: rerouted as execve is. */
		r = reroute(path, envp, &l, &j);
		if (r < 0)
			return -1;
		if (r > 0)
			return via_launcher(l, path, j, argv, envp, NULL, NULL,
					    NULL);
	} else if (refuse_fd_static(dirfd, path, flags, envp) < 0) {
		return -1;
	}
	return REAL_CALL(execveat, dirfd, path, argv, envp, flags);
}
