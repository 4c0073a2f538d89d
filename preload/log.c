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

void sfy_log_write(int level, const char *fmt, ...)
{
	int saved = errno;
	char line[1024];
	size_t n;
	va_list ap;
	int fd = 2;
	int r;

	if (level < SFY_LOG_ERROR || level > SFY_LOG_DEBUG)
		level = SFY_LOG_ERROR;
	r = snprintf(line, sizeof(line), "%s", prefixes[level]);
	n = r > 0 ? (size_t)r : 0;
	va_start(ap, fmt);
	r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	if (r > 0)
		n += (size_t)r;
	/* Truncated lines still end in a newline. */
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';

	if (log_path[0]) {
		/* O_NONBLOCK: a FIFO nobody reads must not hang the program. */
		fd = open(log_path,
			  O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY |
			      O_NONBLOCK,
			  0600);
		if (fd < 0)
			fd = 2;
	}
	if (fd == 2 && stderr_is_network()) {
		errno = saved;
		return;
	}
	if (sfy_real()->write)
		while (sfy_real()->write(fd, line, n) < 0 && errno == EINTR)
			;
	if (fd != 2 && sfy_real()->close)
		sfy_real()->close(fd);
	errno = saved;
}
