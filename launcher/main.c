/*
 * main.c - the socksify launcher: options, the configuration check (the
 * library's own loader, in this process), refusing commands the dynamic
 * loader would run without the shim, LD_PRELOAD, and exec.
 *
 * Start-up cost is the point of this program being C: a run that starts a
 * command makes no extra process and reads each file it needs once.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "launcher.h"

#ifndef SFY_VERSION
#define SFY_VERSION "0.1.0"
#endif

static const char usage_text[] =
    "Usage: socksify [options] [--] command [args...]\n"
    "       socksify [options] --env | --off | --shell [args...]\n"
    "       socksify [options] --check [HOST:PORT]\n"
    "       socksify [options] --explain HOST[:PORT]\n"
    "\n"
    "Run COMMAND with its network traffic (TCP, UDP and name lookups) "
    "carried\n"
    "through a SOCKS5 proxy.\n"
    "\n"
    "Options:\n"
    "  -x, --proxy URL     the proxy: socks5://[user:pass@]host[:port] "
    "(names\n"
    "                      resolved locally) or socks5h://... (names "
    "resolved by\n"
    "                      the proxy); sets SOCKSIFY_PROXY\n"
    "  -f, --config FILE   read FILE as the configuration; sets "
    "SOCKSIFY_CONF\n"
    "  -v, --verbose       log connections (info); twice for debug\n"
    "  -q, --quiet         only errors, and no warnings from this "
    "launcher\n"
    "      --force         run a command that cannot be socksified "
    "(setuid\n"
    "                      binary) anyway, unproxied, after a warning\n"
    "      --supervise     run the command under the supervisor, as a "
    "static\n"
    "                      binary is: its raw system calls are carried "
    "too\n"
    "      --argv0 NAME    start the command with NAME as its argv[0] (as "
    "exec -a)\n"
    "      --env           print export lines for a shell profile and "
    "exit\n"
    "      --off           print the lines that turn --env's lines off "
    "again\n"
    "      --shell         start your shell ($SHELL) socksified\n"
    "      --check [HOST:PORT]\n"
    "                      say where each setting comes from, then try "
    "the\n"
    "                      proxy: reach it, authenticate, CONNECT to "
    "HOST:PORT,\n"
    "                      UDP ASSOCIATE, BIND; one line per step\n"
    "      --explain HOST[:PORT]\n"
    "                      which rule decides for HOST and what happens "
    "to it\n"
    "  -h, --help          this help\n"
    "  -V, --version       the version\n"
    "\n"
    "Short options may be bundled (-vv, -vx URL, -qf FILE).\n"
    "Without -x and -f the proxy comes from SOCKSIFY_PROXY, else a config "
    "file\n"
    "($SOCKSIFY_CONF, ~/.config/socksify/socks.conf, "
    "/etc/socksify/socks.conf),\n"
    "else a socks5:// or socks5h:// ALL_PROXY.  Loopback goes direct.\n"
    "A connect() on a non-blocking socket returns EINPROGRESS at once and "
    "the\n"
    "handshake finishes on a helper thread; SOCKSIFY_ASYNC_CONNECT=no (or\n"
    "async_connect no in the file) makes it finish inside connect() "
    "instead.\n"
    "A program that listens on port 0 while connected through the proxy "
    "(active\n"
    "FTP) listens at the proxy instead, through SOCKS BIND; "
    "SOCKSIFY_BIND=never\n"
    "(or bind never in the file) keeps every listening socket local.\n"
    "Exit status: the command's, or 125 for a usage/configuration error, "
    "126\n"
    "when the command cannot be socksified or run, 127 when it is not "
    "found;\n"
    "--check: 0 all passed, 1 TCP works but UDP or BIND does not, 2 the "
    "proxy\n"
    "cannot carry TCP.\n";

static int g_quiet;

static void __attribute__((format(printf, 1, 0)))
vsay(const char *fmt, va_list ap)
{
	fputs("socksify: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

static void __attribute__((format(printf, 1, 2))) say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
}

/* Says it and exits 125 (a usage or configuration error). */
static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(fmt, ap);
	va_end(ap);
	exit(EX_USAGE_CFG);
}

/* --- the configuration ------------------------------------------------- */

static ssize_t plain_read(int fd, void *buf, size_t n)
{
	return read(fd, buf, n);
}

static const char *plain_getenv(const char *name)
{
	return getenv(name);
}

const struct cfg_io launcher_io = {
    .getenv = plain_getenv,
    .read = plain_read,
    .close = close,
    .note = NULL,
};

int load_config(struct cfg *c, struct cfg_origin *o, char *err, size_t len)
{
	cfg_init(c);
	return cfg_load(c, o, &launcher_io, err, len) < 0 ? -1 : 0;
}

/* Loads the configuration; on a problem says it and exits 125. */
static void check_config(struct cfg *c, struct cfg_origin *o)
{
	char err[1024];

	if (load_config(c, o, err, sizeof(err)) < 0) {
		say("%s", err);
		die("not starting the command: fix the configuration first");
	}
	if (o->secret_exposed && !g_quiet)
		say("warning: config file %s holds a password and other users "
		    "may read it (chmod o-r %s)",
		    o->file, o->file);
}

/* --- the library ------------------------------------------------------- */

/* The library to preload, absolute, in buf.  SOCKSIFY_LIB wins; an
 * installed launcher knows its library (SFY_LIBDIR); one in a source
 * tree finds it beside itself. */
static void find_library(char *buf, size_t len)
{
	const char *lib = getenv("SOCKSIFY_LIB");
	char self[PATH_MAX], cwd[PATH_MAX];
	ssize_t n;
	char *slash;

	if (lib && *lib) {
		if (lib[0] == '/') {
			snprintf(buf, len, "%s", lib);
		} else {
			if (!getcwd(cwd, sizeof(cwd)))
				die("cannot find the current directory: %s",
				    strerror(errno));
			snprintf(buf, len, "%s/%s", cwd,
				 strncmp(lib, "./", 2) == 0 ? lib + 2 : lib);
		}
	} else {
#ifdef SFY_LIBDIR
		snprintf(buf, len, "%s/libsocksify.so", SFY_LIBDIR);
		(void)self;
		(void)n;
		(void)slash;
#else
		n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		if (n <= 0)
			die("cannot find my own directory: %s",
			    strerror(errno));
		self[n] = '\0';
		slash = strrchr(self, '/');
		*slash = '\0';
		snprintf(buf, len, "%s/preload/libsocksify.so", self);
#endif
	}
	if (strpbrk(buf, " :"))
		die("library path '%s' contains a space or colon, which "
		    "LD_PRELOAD cannot carry",
		    buf);
}

/* --- will the loader honour LD_PRELOAD for this command? --------------- */

#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define ELFDATA_HOST ELFDATA2MSB
#else
#define ELFDATA_HOST ELFDATA2LSB
#endif

struct elfinfo {
	int is_elf, is_static, class, machine, type;
	int phdrs_read; /* every program header could be read */
	int unknown;	/* exec could run it, but it cannot be judged */
};

/* Nonzero when exec could run path: a regular file with an x bit for the
 * effective ids. */
static int executable(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
	       faccessat(AT_FDCWD, path, X_OK, AT_EACCESS) == 0;
}

/* Reads what the loader cares about from an ELF file: its class and
 * machine, and whether it has a PT_INTERP header (no interpreter: static,
 * LD_PRELOAD never acts), however many headers it has.  is_elf stays 0
 * for what is no ELF program; unknown is set for a file exec could run
 * that cannot be read (execute-only) or an ELF file whose program
 * headers cannot be read: neither is known to be dynamic. */
static void read_elf(const char *path, struct elfinfo *ei)
{
	unsigned char h[64];
	uint64_t phoff;
	unsigned phent, phnum, i;
	int fd;

	memset(ei, 0, sizeof(*ei));
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		ei->unknown = executable(path);
		return;
	}
	if (pread(fd, h, sizeof(h), 0) != (ssize_t)sizeof(h) ||
	    memcmp(h, ELFMAG, SELFMAG) != 0 ||
	    (h[EI_CLASS] != ELFCLASS64 && h[EI_CLASS] != ELFCLASS32))
		goto out;
	if (h[EI_DATA] != ELFDATA_HOST) {
		/* The other byte order: another architecture than ours,
		 * which binfmt_misc may still run (qemu-user), its loader
		 * skipping our library. */
		if (h[EI_DATA] != ELFDATA2LSB && h[EI_DATA] != ELFDATA2MSB)
			goto out;
		ei->is_elf = 1;
		ei->class = h[EI_CLASS];
		ei->machine = ei->type = -1; /* matches nothing of ours */
		goto out;
	}
	ei->is_elf = 1;
	ei->class = h[EI_CLASS];
	if (h[EI_CLASS] == ELFCLASS64) {
		Elf64_Ehdr e;

		memcpy(&e, h, sizeof(e));
		phoff = e.e_phoff, phent = e.e_phentsize, phnum = e.e_phnum;
		ei->machine = e.e_machine, ei->type = e.e_type;
		if (e.e_type != ET_EXEC && e.e_type != ET_DYN)
			goto notelf;
	} else {
		Elf32_Ehdr e;

		memcpy(&e, h, sizeof(e));
		phoff = e.e_phoff, phent = e.e_phentsize, phnum = e.e_phnum;
		ei->machine = e.e_machine, ei->type = e.e_type;
		if (e.e_type != ET_EXEC && e.e_type != ET_DYN)
			goto notelf;
	}
	if (phnum == 0 || phent < 4) {
		ei->unknown = 1;
		goto out;
	}
	ei->is_static = 1;
	for (i = 0; i < phnum; i++) {
		uint32_t type;

		if (pread(fd, &type, sizeof(type),
			  (off_t)(phoff + (uint64_t)i * phent)) !=
		    (ssize_t)sizeof(type)) {
			ei->is_static = 0; /* cannot judge */
			ei->unknown = 1;
			goto out;
		}
		if (type == PT_INTERP) {
			ei->is_static = 0;
			break;
		}
	}
	ei->phdrs_read = 1;
	goto out;
notelf:
	ei->is_elf = 0;
out:
	close(fd);
}

/* Sets path to the file exec runs for cmd, searching PATH as execvp
 * does: an empty element is the current directory, and a file found that
 * cannot be executed (EACCES: no x bit, a directory) is what exec fails
 * on when no later element has the command.  Returns 0 (path is
 * executable), 1 (only such a file: path names the first one) or -1
 * (none). */
static int resolve_cmd(const char *cmd, char *path, size_t len)
{
	const char *p = getenv("PATH"), *end;
	char denied[PATH_MAX] = "";
	struct stat st;

	if (!*cmd)
		return -1; /* execvp: ENOENT, not a PATH directory */
	if (strchr(cmd, '/')) {
		snprintf(path, len, "%s", cmd);
		return stat(cmd, &st) == 0 || lstat(cmd, &st) == 0 ? 0 : -1;
	}
	if (!p)
		p = "/usr/local/bin:/usr/bin:/bin";
	for (;; p = end + 1) {
		size_t n;

		end = strchr(p, ':');
		n = end ? (size_t)(end - p) : strlen(p);
		if (n == 0)
			snprintf(path, len, "./%s", cmd);
		else
			snprintf(path, len, "%.*s/%s", (int)n, p, cmd);
		if (stat(path, &st) == 0) {
			if (S_ISREG(st.st_mode) && access(path, X_OK) == 0)
				return 0;
			if (!denied[0])
				snprintf(denied, sizeof(denied), "%s", path);
		}
		if (!end)
			break;
	}
	if (!denied[0])
		return -1;
	snprintf(path, len, "%s", denied);
	return 1;
}

/* The #! rewrites why_not follows: the kernel's 4, and one more; a
 * longer chain cannot be judged. */
#define SCRIPT_DEPTH 5

/* Why file cannot be socksified by the library (reason in buf): 2 for a
 * static program (the supervisor carries it), 3 for one that cannot be
 * judged (not readable, its ELF headers not; the supervisor carries it,
 * the library preloaded too, as --supervise), 1 for one nothing can
 * carry (setuid...), or 0 when the library can.
 * Follows #! (depth: the rewrites so far), as the kernel does: the
 * interpreter is what the loader starts. */
static int why_not(const char *file, const struct elfinfo *lib, char *buf,
		   size_t len, int depth)
{
	struct elfinfo ei;
	struct stat st;

	read_elf(file, &ei);
	if (ei.unknown) {
		snprintf(buf, len,
			 "%s cannot be read to judge whether it is statically "
			 "linked (%s)",
			 file,
			 ei.is_elf ? "its ELF program headers cannot be read"
				   : "no read permission");
		return 3;
	}
	if (ei.is_elf && ei.is_static) {
		snprintf(buf, len,
			 "%s is statically linked: LD_PRELOAD cannot reach "
			 "it (its traffic would go out directly)",
			 file);
		return 2; /* the supervisor's case */
	}
	if (ei.is_elf && lib->is_elf &&
	    (ei.class != lib->class || ei.machine != lib->machine)) {
		snprintf(buf, len,
			 "%s is a %d-bit program of another architecture "
			 "than libsocksify.so: the loader would skip the "
			 "library (its traffic would go out directly)",
			 file, ei.class == ELFCLASS32 ? 32 : 64);
		return 1;
	}
	if (!ei.is_elf) {
		char line[512], *s, *w, *interp, resolved[PATH_MAX];
		ssize_t n;
		int fd =
		    open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

		if (fd >= 0) {
			n = pread(fd, line, sizeof(line) - 1, 0);
			close(fd);
			if (n > 2 && line[0] == '#' && line[1] == '!') {
				if (depth >= SCRIPT_DEPTH) {
					snprintf(buf, len,
						 "%s: a #! chain longer than "
						 "%d cannot be judged",
						 file, SCRIPT_DEPTH);
					return 3;
				}
				line[n] = '\0';
				line[strcspn(line, "\n")] = '\0';
				s = line + 2;
				interp = strtok_r(s, " \t", &w);
				if (interp &&
				    strcmp(strrchr(interp, '/')
					       ? strrchr(interp, '/') + 1
					       : interp,
					   "env") == 0) {
					/* env [-S] PROG / env -SPROG: the
					 * first word is the interpreter. */
					char *a = strtok_r(NULL, " \t", &w);

					if (a && strcmp(a, "-S") == 0)
						a = strtok_r(NULL, " \t", &w);
					else if (a && strncmp(a, "-S", 2) == 0)
						a += 2;
					interp = NULL;
					if (a &&
					    resolve_cmd(a, resolved,
							sizeof(resolved)) == 0)
						interp = resolved;
				}
				if (interp && access(interp, F_OK) == 0)
					return why_not(interp, lib, buf, len,
						       depth + 1);
				return 0;
			}
		}
	}
	/* The kernel runs a program in secure mode (and the loader drops
	 * LD_PRELOAD) when exec changes the effective uid or gid away from
	 * the real ones. */
	if (stat(file, &st) < 0)
		return 0;
	if ((st.st_mode & S_ISUID) && st.st_uid != getuid()) {
		snprintf(buf, len,
			 "%s is setuid: the loader ignores LD_PRELOAD for it",
			 file);
		return 1;
	}
	if ((st.st_mode & S_ISGID) && st.st_gid != getgid()) {
		snprintf(buf, len,
			 "%s is setgid: the loader ignores LD_PRELOAD for it",
			 file);
		return 1;
	}
	if (getuid() != 0 &&
	    getxattr(file, "security.capability", NULL, 0) > 0) {
		snprintf(buf, len,
			 "%s has file capabilities: the loader ignores "
			 "LD_PRELOAD for it",
			 file);
		return 1;
	}
	return 0;
}

/* --- LD_PRELOAD and the shell lines ------------------------------------ */

/* Nonzero when the space/colon separated list holds word. */
static int list_has(const char *list, const char *word)
{
	size_t n = strlen(word);
	const char *p = list;

	while ((p = strstr(p, word)) != NULL) {
		if ((p == list || p[-1] == ' ' || p[-1] == ':') &&
		    (p[n] == '\0' || p[n] == ' ' || p[n] == ':'))
			return 1;
		p += n;
	}
	return 0;
}

/* Exports LD_PRELOAD with lib first (once). */
static void set_preload(const char *lib)
{
	const char *old = getenv("LD_PRELOAD");
	char *v;

	if (old && *old && list_has(old, lib))
		return;
	if (!old || !*old) {
		setenv("LD_PRELOAD", lib, 1);
		return;
	}
	if (asprintf(&v, "%s %s", lib, old) < 0)
		die("out of memory");
	setenv("LD_PRELOAD", v, 1);
	free(v);
}

/* Nonzero when LD_PRELOAD entry w (of n bytes) is our library. */
static int is_our_lib(const char *w, size_t n)
{
	static const char base[] = "libsocksify.so";
	size_t b = sizeof(base) - 1;

	return n >= b && memcmp(w + n - b, base, b) == 0 &&
	       (n == b || w[n - b - 1] == '/');
}

/*
 * Our library preloaded into the launcher itself (a shell set up with
 * --env, or the library's exec hook sending a static program here) would
 * carry the launcher's own connections, the supervisor's to the proxy and
 * --check's, through the proxy a second time.  Such a launcher runs itself
 * afresh without it; the command gets the library back as always
 * (set_preload), and the other entries keep their order and separators,
 * as --off leaves them.
 */
static void shed_library(char **argv)
{
	const char *old = getenv("LD_PRELOAD"), *p;
	char *v;
	size_t o = 0, sep = 0;
	int found = 0;

	if (!old || !strstr(old, "libsocksify.so"))
		return;
	if (!(v = malloc(strlen(old) + 1)))
		return;
	for (p = old; *p;) {
		size_t n = strcspn(p, " :");

		if (n && is_our_lib(p, n)) {
			found = 1;
		} else if (n) {
			if (o)
				v[o++] = (char)sep;
			memcpy(v + o, p, n);
			o += n;
		}
		p += n;
		if (*p) {
			if (n && !is_our_lib(p - n, n))
				sep = (unsigned char)*p;
			p++;
		}
	}
	v[o] = '\0';
	if (found) {
		if (o)
			setenv("LD_PRELOAD", v, 1);
		else
			unsetenv("LD_PRELOAD");
		execv("/proc/self/exe", argv);
		fprintf(stderr,
			"socksify: warning: cannot run afresh without the "
			"library preloaded into the launcher (%s): its own "
			"connections may go through the proxy twice\n",
			strerror(errno));
		setenv("LD_PRELOAD", old, 1);
	}
	free(v);
}

/* Prints s single-quoted for the shell. */
static void put_quoted(const char *s)
{
	putchar('\'');
	for (; *s; s++)
		if (*s == '\'')
			fputs("'\\''", stdout);
		else
			putchar(*s);
	putchar('\'');
}

static void put_export(const char *name)
{
	const char *v = getenv(name);

	if (!v || !*v)
		return;
	printf("export %s=", name);
	put_quoted(v);
	putchar('\n');
}

static void print_env(const char *lib)
{
	printf("# socksify %s: add to a shell profile\n", SFY_VERSION);
	/* Idempotent: sourcing the profile twice adds the library once (an
	 * entry of a space- or colon-separated list, as the loader reads). */
	printf("case \" ${LD_PRELOAD:-} \" in *[\\ :]");
	put_quoted(lib);
	printf("[\\ :]*) ;; *) export LD_PRELOAD=");
	put_quoted(lib);
	printf("\"${LD_PRELOAD:+ $LD_PRELOAD}\" ;; esac\n");
	put_export("SOCKSIFY_PROXY");
	put_export("SOCKSIFY_CONF");
	put_export("SOCKSIFY_LOG_LEVEL");
}

/* The variables socksify and its library read: --off unsets them. */
static const char off_vars[] =
    "SOCKSIFY_PROXY SOCKSIFY_CONF SOCKSIFY_LOG_LEVEL SOCKSIFY_LOG_FILE "
    "SOCKSIFY_ASYNC_CONNECT SOCKSIFY_BIND SOCKSIFY_LIB SOCKSIFY_LAUNCHER";

/* Lines for sh, bash, dash and zsh (no word splitting, no globbing:
 * zsh splits nothing unquoted) that drop every libsocksify.so from
 * LD_PRELOAD and unset our variables.  The other entries keep their order
 * and the separators that followed them (a colon stays a colon), so what
 * --env prepended comes off exactly. */
static void print_off(void)
{
	printf("# socksify %s: turn socksify off in this shell\n", SFY_VERSION);
	printf("_sfy_r=${LD_PRELOAD-} _sfy_n= _sfy_s=\n"
	       "while :; do _sfy_w=${_sfy_r%%%%[ :]*}; "
	       "_sfy_r=${_sfy_r#\"$_sfy_w\"}; "
	       "_sfy_d=${_sfy_r%%\"${_sfy_r#?}\"}; _sfy_r=${_sfy_r#?}; "
	       "case $_sfy_w in libsocksify.so | */libsocksify.so) ;; "
	       "*) _sfy_n=$_sfy_n$_sfy_s$_sfy_w _sfy_s=$_sfy_d ;; esac; "
	       "[ -n \"$_sfy_d\" ] || break; done\n"
	       "if [ -n \"$_sfy_n\" ]; then export LD_PRELOAD=\"$_sfy_n\"; "
	       "else unset LD_PRELOAD; fi\n"
	       "unset _sfy_r _sfy_n _sfy_s _sfy_w _sfy_d %s\n",
	       off_vars);
}

/* Nonzero when something accepts TCP connections at the loopback
 * address host:port (a refusal comes back at once on loopback). */
static int loopback_listens(int fam, const void *addr, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	struct pollfd pfd;
	int fd, ok = 0, err = 0;
	socklen_t elen = sizeof(err);

	memset(&ss, 0, sizeof(ss));
	if (fam == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;

		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		memcpy(&in->sin_addr, addr, 4);
		len = sizeof(*in);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		memcpy(&in6->sin6_addr, addr, 16);
		len = sizeof(*in6);
	}
	fd = socket(fam, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 1; /* cannot tell: no warning */
	if (connect(fd, (struct sockaddr *)&ss, len) == 0) {
		ok = 1;
	} else if (errno == EINPROGRESS) {
		pfd.fd = fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, 500) <= 0)
			ok = 1; /* slow: something is there */
		else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) ==
			     0 &&
			 err == 0)
			ok = 1;
	}
	close(fd);
	return ok;
}

/*
 * The traps of a socksified shell, said once when it is set up (--env,
 * --shell): a proxy on this machine that is not running yet (ssh -D or
 * tor started from this shell would themselves be socksified and fail to
 * reach their upstream), and another SOCKS shim already in LD_PRELOAD.
 */
static void shell_traps(const struct cfg *c, int quiet)
{
	const char *pre = getenv("LD_PRELOAD");
	static const char *const shims[] = {"libproxychains", "libtorsocks",
					    "libtsocks", "libdsocks"};
	unsigned char a[16];
	int fam = 0;
	size_t i;

	if (quiet)
		return;
	if (inet_pton(AF_INET, c->proxy.host, a) == 1 && a[0] == 127)
		fam = AF_INET;
	else if (inet_pton(AF_INET6, c->proxy.host, a) == 1 &&
		 IN6_IS_ADDR_LOOPBACK((struct in6_addr *)a))
		fam = AF_INET6;
	else if (strcmp(c->proxy.host, "localhost") == 0) {
		fam = AF_INET;
		a[0] = 127, a[1] = 0, a[2] = 0, a[3] = 1;
	}
	if (fam && !loopback_listens(fam, a, c->proxy.port))
		say("warning: nothing listens at the proxy %s%s%s:%u yet; a "
		    "proxy started from this shell (ssh -D %u, tor) would be "
		    "socksified too and could not reach its own server: "
		    "start it first, or as 'env -u LD_PRELOAD ssh -D %u ...'",
		    fam == AF_INET6 ? "[" : "", c->proxy.host,
		    fam == AF_INET6 ? "]" : "", (unsigned)c->proxy.port,
		    (unsigned)c->proxy.port, (unsigned)c->proxy.port);
	for (i = 0; pre && i < sizeof(shims) / sizeof(shims[0]); i++)
		if (strstr(pre, shims[i]))
			say("warning: LD_PRELOAD already holds %s (%s): two "
			    "SOCKS shims in one program fight over its "
			    "sockets",
			    shims[i], pre);
}

/* --- when exec fails ---------------------------------------------------- */

/* Nonzero when file looks like no script: a NUL before the end of its
 * first line (as a shell tells a binary file it would not run). */
static int binary_file(const char *file)
{
	char b[80];
	ssize_t n, k;
	int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	if (fd < 0)
		return 0;
	n = pread(fd, b, sizeof(b), 0);
	close(fd);
	for (k = 0; k < n && b[k] != '\n'; k++)
		if (b[k] == '\0')
			return 1;
	return 0;
}

/* The interpreter exec needs for file (the #! line's first word, or the
 * ELF loader named by PT_INTERP), into buf; "" when not known. */
static const char *interpreter(const char *file, char *buf, size_t len)
{
	unsigned char h[256];
	ssize_t n;
	int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	buf[0] = '\0';
	if (fd < 0)
		return buf;
	n = pread(fd, h, sizeof(h) - 1, 0);
	if (n > 2 && h[0] == '#' && h[1] == '!') {
		char *s = (char *)h + 2;

		h[n] = '\0';
		s += strspn(s, " \t");
		s[strcspn(s, " \t\n")] = '\0';
		snprintf(buf, len, "%s", s);
	} else if (n >= 64 && memcmp(h, ELFMAG, SELFMAG) == 0) {
		int is64 = h[EI_CLASS] == ELFCLASS64;
		Elf64_Ehdr e64;
		Elf32_Ehdr e32;
		uint64_t phoff, off, size;
		unsigned i, phent, phnum;

		memcpy(&e64, h, sizeof(e64));
		memcpy(&e32, h, sizeof(e32));
		phoff = is64 ? e64.e_phoff : e32.e_phoff;
		phent = is64 ? e64.e_phentsize : e32.e_phentsize;
		phnum = is64 ? e64.e_phnum : e32.e_phnum;
		for (i = 0; i < phnum && i < 4096; i++) {
			Elf64_Phdr p64;
			Elf32_Phdr p32;
			void *ph = is64 ? (void *)&p64 : (void *)&p32;
			size_t phlen = is64 ? sizeof(p64) : sizeof(p32);

			if (pread(fd, ph, phlen,
				  (off_t)(phoff + (uint64_t)i * phent)) !=
			    (ssize_t)phlen)
				break;
			if ((is64 ? p64.p_type : p32.p_type) != PT_INTERP)
				continue;
			off = is64 ? p64.p_offset : p32.p_offset;
			size = is64 ? p64.p_filesz : p32.p_filesz;
			if (size < len) {
				n = pread(fd, buf, (size_t)size, (off_t)off);
				buf[n > 0 ? n : 0] = '\0';
			}
			break;
		}
	}
	close(fd);
	if (!buf[0])
		snprintf(buf, len, "(unknown)");
	return buf;
}

/* --- main -------------------------------------------------------------- */

enum mode { M_RUN, M_ENV, M_OFF, M_SHELL, M_CHECK, M_EXPLAIN };

static void set_mode(enum mode *m, enum mode want, const char *opt)
{
	if (*m != M_RUN && *m != want)
		die("%s cannot be combined with another of --env, --off, "
		    "--shell, --check, --explain",
		    opt);
	*m = want;
}

static void need_arg(int i, int argc, const char *opt, const char *what)
{
	if (i + 1 >= argc)
		die("%s needs %s", opt, what);
}

static void set_proxy(struct opts *op, const char *url, const char *opt)
{
	struct cfg_proxy p;
	char why[256];

	if (cfg_parse_url(&p, url, why, sizeof(why)) < 0)
		die("%s: %s", opt, why);
	explicit_bzero(&p, sizeof(p));
	op->proxy_flag = url;
	setenv("SOCKSIFY_PROXY", url, 1);
}

/* True for an argument --check may take as its HOST:PORT. */
static int is_target(const char *s)
{
	return s && s[0] && s[0] != '-';
}

int main(int argc, char **argv)
{
	struct opts op = {0};
	enum mode mode = M_RUN;
	const char *target = NULL;
	int force = 0, supervise_all = 0, i;
	const char *argv0 = NULL;
	struct cfg cfg;
	struct cfg_origin org;
	char lib[PATH_MAX + 32];
	struct elfinfo libei;

	shed_library(argv);
	if (argc <= 1) {
		fputs(usage_text, stderr);
		return EX_USAGE_CFG;
	}
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (a[0] != '-' || a[1] == '\0')
			break;
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (a[1] == '-') {
			const char *eq = strchr(a, '=');
			size_t n = eq ? (size_t)(eq - a) : strlen(a);

#define IS(name) (n == sizeof(name) - 1 && strncmp(a, name, n) == 0)
			if (IS("--proxy")) {
				if (!eq) {
					need_arg(i, argc, a, "a URL");
					eq = argv[++i] - 1;
				}
				set_proxy(&op, eq + 1, "--proxy");
			} else if (IS("--config")) {
				if (!eq) {
					need_arg(i, argc, a, "a file");
					eq = argv[++i] - 1;
				}
				op.conf_flag = eq + 1;
				setenv("SOCKSIFY_CONF", eq + 1, 1);
			} else if (IS("--check")) {
				set_mode(&mode, M_CHECK, "--check");
				if (eq)
					target = eq + 1;
				else if (i + 1 < argc && is_target(argv[i + 1]))
					target = argv[++i];
			} else if (IS("--argv0")) {
				if (!eq) {
					need_arg(i, argc, a, "a name");
					eq = argv[++i] - 1;
				}
				argv0 = eq + 1;
			} else if (IS("--explain")) {
				set_mode(&mode, M_EXPLAIN, "--explain");
				if (!eq) {
					need_arg(i, argc, a, "HOST[:PORT]");
					eq = argv[++i] - 1;
				}
				target = eq + 1;
			} else if (eq) {
				die("option '%.*s' takes no value (see "
				    "socksify --help)",
				    (int)n, a);
			} else if (IS("--verbose")) {
				op.verbose++;
			} else if (IS("--quiet")) {
				op.quiet = 1;
			} else if (IS("--supervise")) {
				supervise_all = 1;
			} else if (IS("--force")) {
				force = 1;
			} else if (IS("--env")) {
				set_mode(&mode, M_ENV, "--env");
			} else if (IS("--off")) {
				set_mode(&mode, M_OFF, "--off");
			} else if (IS("--shell")) {
				set_mode(&mode, M_SHELL, "--shell");
				i++;
				break; /* the rest is the shell's */
			} else if (IS("--help")) {
				fputs(usage_text, stdout);
				return 0;
			} else if (IS("--version")) {
				printf("socksify %s\n", SFY_VERSION);
				return 0;
			} else {
				die("unknown option '%s' (see socksify "
				    "--help)",
				    a);
			}
#undef IS
			continue;
		}
		/* Short options, bundled: -vv, -vx URL, -xURL, -qf FILE. */
		for (const char *p = a + 1; *p; p++) {
			if (*p == 'x' || *p == 'f') {
				const char *v = p[1] ? p + 1 : NULL;
				char opt[3] = {'-', *p, '\0'};

				if (!v) {
					need_arg(i, argc, opt,
						 *p == 'x' ? "a URL"
							   : "a file");
					v = argv[++i];
				}
				if (*p == 'x') {
					set_proxy(&op, v, "-x");
				} else {
					op.conf_flag = v;
					setenv("SOCKSIFY_CONF", v, 1);
				}
				break;
			}
			switch (*p) {
			case 'v':
				op.verbose++;
				break;
			case 'q':
				op.quiet = 1;
				break;
			case 'h':
				fputs(usage_text, stdout);
				return 0;
			case 'V':
				printf("socksify %s\n", SFY_VERSION);
				return 0;
			default:
				die("unknown option '-%c' (see socksify "
				    "--help)",
				    *p);
			}
		}
	}
	g_quiet = op.quiet;
	if (argv0 && mode != M_RUN)
		die("--argv0 goes with a command only");

	if (mode == M_OFF) {
		if (i < argc)
			die("--off takes no command");
		print_off();
		return 0;
	}
	if (op.quiet)
		setenv("SOCKSIFY_LOG_LEVEL", "error", 1);
	else if (op.verbose >= 2)
		setenv("SOCKSIFY_LOG_LEVEL", "debug", 1);
	else if (op.verbose == 1)
		setenv("SOCKSIFY_LOG_LEVEL", "info", 1);

	/* A relative config path would be resolved against whatever
	 * directory the program later runs in: make it absolute now. */
	{
		const char *conf = getenv("SOCKSIFY_CONF");
		char cwd[PATH_MAX], *abs;

		if (conf && *conf && conf[0] != '/') {
			if (!getcwd(cwd, sizeof(cwd)))
				die("cannot find the current directory: %s",
				    strerror(errno));
			if (asprintf(&abs, "%s/%s", cwd, conf) < 0)
				die("out of memory");
			setenv("SOCKSIFY_CONF", abs, 1);
			free(abs);
		}
	}

	if (mode == M_CHECK || mode == M_EXPLAIN) {
		if (i < argc)
			die("%s takes no command (see socksify --help)",
			    mode == M_CHECK ? "--check" : "--explain");
		return mode == M_CHECK ? run_check(&op, target)
				       : run_explain(&op, target);
	}

	if (mode == M_ENV && i < argc)
		die("--env takes no command");
	find_library(lib, sizeof(lib));
	if (access(lib, R_OK) < 0)
		die("cannot find libsocksify.so at %s (run 'make' first?)",
		    lib);
	/* The loader skips a preload it cannot load with one line on
	 * stderr and runs the program anyway, unproxied: refuse here what it
	 * would skip (a file that is no shared object, or is cut short). */
	read_elf(lib, &libei);
	if (!libei.is_elf || libei.type != ET_DYN || !libei.phdrs_read)
		die("cannot load %s: not a shared library the loader can "
		    "preload (its traffic would go out directly)",
		    lib);
	/* Kept until exec: the supervisor uses it. */
	check_config(&cfg, &org);
	if (mode == M_ENV || mode == M_SHELL)
		shell_traps(&cfg, op.quiet);

	if (mode == M_ENV) {
		print_env(lib);
		return 0;
	}
	/* For the library's exec hook: a static program the command execs
	 * is run through us (the supervisor) instead of unproxied. */
	{
		char self[PATH_MAX];
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

		if (n > 0) {
			self[n] = '\0';
			setenv("SOCKSIFY_LAUNCHER", self, 1);
		}
	}

	{
		char path[PATH_MAX], reason[PATH_MAX + 200];
		static char binsh[] = "/bin/sh";
		char **cmdv = argv + i;
		int found, e, w;

		if (mode == M_SHELL) {
			char *sh = getenv("SHELL");

			argv[i - 1] = sh && *sh ? sh : binsh;
			cmdv = argv + i - 1;
		} else if (i >= argc) {
			fputs(usage_text, stderr);
			return EX_USAGE_CFG;
		}
		found = resolve_cmd(cmdv[0], path, sizeof(path));
		if (found < 0) {
			say("%s: command not found", cmdv[0]);
			return EX_NOTFOUND;
		}
		w = found == 0
			? why_not(path, &libei, reason, sizeof(reason), 0)
			: 0;
		if (argv0)
			cmdv[0] = (char *)(uintptr_t)argv0;
		if (w == 3 && cfg.log_level >= CFG_LOG_INFO)
			say("info: %s: running it under the supervisor, the "
			    "library preloaded too (as --supervise)",
			    reason);
		if (w == 2 || w == 3 ||
		    (w == 0 && supervise_all && found == 0)) {
			/* The library too: the program's dynamic children
			 * load it as usual. */
			set_preload(lib);
			e = supervise(&cfg, path, cmdv, reason, sizeof(reason));
			if (e != SUPERVISE_NO_FILTER)
				return e;
			/* The filter cannot be had (another supervisor's
			 * already): as any command that cannot be socksified,
			 * refused, or with --force run without it. */
			if (!force) {
				say("%s", reason);
				say("not starting it; --force runs it anyway, "
				    "%s",
				    w == 2 ? "unproxied"
					   : "with the library only");
				return EX_CANNOT;
			}
			if (!op.quiet)
				say("warning: %s; running it %s (--force)",
				    reason,
				    w == 2 ? "UNPROXIED"
					   : "without the supervisor, with "
					     "the library only");
			w = 0;
		}
		if (w) {
			if (!force) {
				say("%s", reason);
				say("not starting it; --force runs it "
				    "anyway, unproxied");
				return EX_CANNOT;
			}
			if (!op.quiet)
				say("warning: %s; running it UNPROXIED "
				    "(--force)",
				    reason);
		}
		set_preload(lib);
		execv(path, cmdv);
		e = errno;
		if (e == ENOEXEC && !binary_file(path)) {
			/* As execvp: a script without #! is run by sh. */
			char **shv =
			    calloc((size_t)(argc - i) + 3, sizeof(char *));
			int k;

			if (shv) {
				shv[0] = binsh;
				shv[1] = path;
				for (k = 1; cmdv[k]; k++)
					shv[k + 1] = cmdv[k];
				execv("/bin/sh", shv);
			}
		}
		{
			struct stat st;
			int there = stat(path, &st) == 0;
			char interp[PATH_MAX];

			if (there && S_ISDIR(st.st_mode))
				say("cannot run %s: it is a directory", path);
			else if (there && e == ENOENT) /* not the file: */
				say("cannot run %s: its interpreter %s is "
				    "missing",
				    path,
				    interpreter(path, interp, sizeof(interp)));
			else
				say("cannot run %s: %s", path, strerror(e));
			return e == ENOENT && !there ? EX_NOTFOUND : EX_CANNOT;
		}
	}
}
