/*
 * log.c - one line, one write(2), errno untouched.
 *
 * A log file is opened, appended to and closed for every line rather than
 * kept open: the shim then holds no fd that the program could close or
 * dup2 over (closefrom loops in daemons), and errors are rare enough that
 * the two extra syscalls do not matter.
 */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "real.h"

int sfy_log_level = SFY_LOG_ERROR;
static char log_path[4096];

void sfy_log_configure(int level, const char *path)
{
	sfy_log_level = level;
	if (path && *path)
		snprintf(log_path, sizeof(log_path), "%s", path);
	else
		log_path[0] = '\0';
}

static const char *const prefixes[] = {
    [SFY_LOG_ERROR] = "socksify: ",
    [SFY_LOG_WARN] = "socksify: warning: ",
    [SFY_LOG_INFO] = "socksify: info: ",
    [SFY_LOG_DEBUG] = "socksify: debug: ",
};

/*
 * A daemon that closed its stderr may have reused fd 2 for a network
 * connection: our lines must not be injected into its protocol stream.
 * (A Unix socket, such as the journal's, is a fine place for them.)
 */
static int stderr_is_network(void)
{
	struct stat st;
	int dom;
	socklen_t len = sizeof(dom);

	if (fstat(2, &st) < 0 || !S_ISSOCK(st.st_mode))
		return 0;
	return getsockopt(2, SOL_SOCKET, SO_DOMAIN, &dom, &len) == 0 &&
	       (dom == AF_INET || dom == AF_INET6);
}

/*
 * Escapes in place what a line must not carry: everything it quotes from
 * outside (a host name from the program, a name from a DNS answer, a
 * path) could hold a newline that forges a second line, or a control
 * character for the terminal.  Each such byte becomes \xNN.  Returns the
 * new length (at most cap).
 */
static size_t escape(char *line, size_t n, size_t cap)
{
	char out[1024];
	size_t i, o = 0;
	static const char hex[] = "0123456789abcdef";

	for (i = 0; i < n && o < sizeof(out); i++) {
		unsigned char ch = (unsigned char)line[i];

		if (ch >= 0x20 && ch != 0x7f) {
			out[o++] = (char)ch;
		} else if (o + 4 <= sizeof(out)) {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 15];
		} else {
			break;
		}
	}
	if (o > cap)
		o = cap;
	memcpy(line, out, o);
	return o;
}

void sfy_log_write(int level, const char *fmt, ...)
{
	int saved = errno, old;
	char line[1024];
	size_t n, plen;
	va_list ap;
	int fd = 2;
	int r;

	if (level < SFY_LOG_ERROR || level > SFY_LOG_DEBUG)
		level = SFY_LOG_ERROR;
	r = snprintf(line, sizeof(line), "%s", prefixes[level]);
	plen = n = r > 0 ? (size_t)r : 0;
	va_start(ap, fmt);
	r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	if (r > 0)
		n += (size_t)r;
	if (n > sizeof(line) - 1)
		n = sizeof(line) - 1;
	n = plen + escape(line + plen, n - plen, sizeof(line) - 2 - plen);
	line[n++] = '\n';

	/* open and write are cancellation points: a thread cancelled here
	 * would leak the log file's fd. */
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
	if (log_path[0]) {
		/* O_NONBLOCK: a FIFO nobody reads must not hang the program;
		 * O_NOFOLLOW: a symlink planted in a shared directory must not
		 * send our lines (and O_CREAT) elsewhere. */
		fd = open(log_path,
			  O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY |
			      O_NONBLOCK | O_NOFOLLOW,
			  0600);
		if (fd < 0)
			fd = 2;
	}
	if (fd != 2 || !stderr_is_network()) {
		if (sfy_real()->write)
			while (sfy_real()->write(fd, line, n) < 0 &&
			       errno == EINTR)
				;
	}
	if (fd != 2 && sfy_real()->close)
		sfy_real()->close(fd);
	pthread_setcancelstate(old, &old);
	errno = saved;
}
