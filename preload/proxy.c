/*
 * proxy.c - configuration loading, proxy address resolution and the
 * synchronous handshake driver for TCP connects.
 */
#include "proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "handshake.h"
#include "log.h"
#include "real.h"
#include "socks5.h"

__thread int sfy_busy __attribute__((tls_model("initial-exec")));

#define MAX_CONF_BYTES	(1u << 20)
#define MAX_PROXY_ADDRS 8

static struct cfg g_cfg;
static char g_err[768];
static int g_cfg_ok;
static pthread_once_t g_cfg_once = PTHREAD_ONCE_INIT;

/* Contract in proxy.h. */
int sfy_slurp(const char *path, size_t max, char **text, size_t *len)
{
	struct stat st;
	ssize_t n;
	size_t got = 0;
	char *buf;
	int fd, err;

	/* O_NONBLOCK: a FIFO in the config's place must not hang the
	 * program in open(); it is then refused as not a regular file. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		err = -errno;
	else if (!S_ISREG(st.st_mode))
		err = -EINVAL;
	else if (st.st_size > (off_t)max)
		err = -EFBIG;
	else
		err = 0;
	if (err < 0) {
		sfy_real()->close(fd);
		return err;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		sfy_real()->close(fd);
		return -ENOMEM;
	}
	while (got < (size_t)st.st_size) {
		n = sfy_real()->read(fd, buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	sfy_real()->close(fd);
	buf[got] = '\0';
	*text = buf;
	*len = got;
	return 0;
}

/* Loads and parses path into g_cfg.  Returns 0, -ENOENT (no such file) or
 * -1 with g_err set. */
static int load_file(const char *path)
{
	char *text = NULL;
	size_t len = 0;
	int rc = sfy_slurp(path, MAX_CONF_BYTES, &text, &len);

	if (rc == -ENOENT)
		return rc;
	if (rc < 0) {
		snprintf(g_err, sizeof(g_err), "cannot read config file %s: %s",
			 path,
			 rc == -EINVAL ? "not a regular file" : strerror(-rc));
		return -1;
	}
	rc = cfg_parse_text(&g_cfg, text, len, path, g_err, sizeof(g_err));
	explicit_bzero(text, len); /* it may hold a password */
	free(text);
	return rc < 0 ? -1 : 0;
}

/* Finds and loads the config file: $SOCKSIFY_CONF, then
 * $XDG_CONFIG_HOME/socksify/socks.conf (or ~/.config/...), then
 * /etc/socksify/socks.conf.  Returns 1 when a file was loaded, 0 when none
 * exists, -1 on error (g_err set). */
static int find_and_load(void)
{
	const char *explicit_path = secure_getenv("SOCKSIFY_CONF");
	const char *xdg = secure_getenv("XDG_CONFIG_HOME");
	const char *home = secure_getenv("HOME");
	char path[4096];
	int rc;

	if (explicit_path && *explicit_path) {
		rc = load_file(explicit_path);
		if (rc == -ENOENT) {
			snprintf(
			    g_err, sizeof(g_err),
			    "config file %s (SOCKSIFY_CONF) does not exist",
			    explicit_path);
			return -1;
		}
		return rc < 0 ? -1 : 1;
	}
	path[0] = '\0';
	if (xdg && *xdg == '/')
		snprintf(path, sizeof(path), "%s/socksify/socks.conf", xdg);
	else if (home && *home == '/')
		snprintf(path, sizeof(path), "%s/.config/socksify/socks.conf",
			 home);
	if (path[0]) {
		rc = load_file(path);
		if (rc != -ENOENT)
			return rc < 0 ? -1 : 1;
	}
	rc = load_file("/etc/socksify/socks.conf");
	if (rc == -ENOENT)
		return 0;
	return rc < 0 ? -1 : 1;
}

/* Parses a URL from the environment variable name into the proxy.  The
 * URL replaces the file's server and DNS choice; credentials from the file
 * are kept unless the URL brings its own. */
static int proxy_from_env(const char *name, const char *url)
{
	struct cfg_proxy p;
	char why[256];

	memset(&p, 0, sizeof(p));
	if (cfg_parse_url(&p, url, why, sizeof(why)) < 0) {
		snprintf(g_err, sizeof(g_err), "%s: %s", name, why);
		return -1;
	}
	if (p.user_len == 0 && g_cfg.proxy.user_len > 0) {
		memcpy(p.user, g_cfg.proxy.user, sizeof(p.user));
		memcpy(p.pass, g_cfg.proxy.pass, sizeof(p.pass));
		p.user_len = g_cfg.proxy.user_len;
		p.pass_len = g_cfg.proxy.pass_len;
	}
	g_cfg.proxy = p;
	explicit_bzero(&p, sizeof(p));
	return 0;
}

/* True for the schemes we honour in ALL_PROXY (curl's convention). */
static int is_socks5_url(const char *url)
{
	return strncasecmp(url, "socks5://", 9) == 0 ||
	       strncasecmp(url, "socks5h://", 10) == 0;
}

static void load_config(void)
{
	const char *url, *lvl, *logfile;
	enum cfg_log_level level;
	int file;

	cfg_init(&g_cfg);
	file = find_and_load();
	if (file >= 0) {
		url = secure_getenv("SOCKSIFY_PROXY");
		if (url && *url) {
			if (proxy_from_env("SOCKSIFY_PROXY", url) < 0)
				file = -1;
		} else if (file == 0) {
			url = secure_getenv("ALL_PROXY");
			if (!url || !*url)
				url = secure_getenv("all_proxy");
			if (url && is_socks5_url(url) &&
			    proxy_from_env("ALL_PROXY", url) < 0)
				file = -1;
		}
	}
	if (file >= 0 && !g_cfg.proxy.set) {
		snprintf(g_err, sizeof(g_err),
			 "no proxy configured (use socksify -x URL, "
			 "SOCKSIFY_PROXY or a config file)");
		file = -1;
	}
	g_cfg_ok = file >= 0;

	level = g_cfg.log_level;
	lvl = secure_getenv("SOCKSIFY_LOG_LEVEL");
	if (lvl && *lvl && cfg_parse_log_level(lvl, &level) < 0)
		level = g_cfg.log_level;
	logfile = secure_getenv("SOCKSIFY_LOG_FILE");
	sfy_log_configure((int)level,
			  logfile && *logfile ? logfile : g_cfg.log_file);
}

const struct cfg *sfy_config(const char **why)
{
	pthread_once(&g_cfg_once, load_config);
	if (g_cfg_ok)
		return &g_cfg;
	if (why)
		*why = g_err;
	return NULL;
}

void sfy_fmt_addr(const struct sockaddr *sa, socklen_t len, char *buf,
		  size_t cap)
{
	char ip[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *s = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &s->sin_addr, ip, sizeof(ip));
		snprintf(buf, cap, "%s:%u", ip, ntohs(s->sin_port));
	} else if (sa->sa_family == AF_INET6 &&
		   len >= offsetof(struct sockaddr_in6, sin6_scope_id)) {
		struct sockaddr_in6 s;

		memcpy(&s, sa, offsetof(struct sockaddr_in6, sin6_scope_id));
		inet_ntop(AF_INET6, &s.sin6_addr, ip, sizeof(ip));
		snprintf(buf, cap, "[%s]:%u", ip, ntohs(s.sin6_port));
	} else {
		snprintf(buf, cap, "(address family %d)", sa->sa_family);
	}
}

/* --- the proxy's addresses, resolved once ------------------------------ */

/* Held while resolving the proxy's name (possibly seconds), so fork() does
 * not wait for it: the child re-initialises it instead (see at_load). */
static pthread_mutex_t g_resolve_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sockaddr_storage g_paddr[MAX_PROXY_ADDRS];
static socklen_t g_plen[MAX_PROXY_ADDRS];
static int g_npaddr; /* > 0 once resolved */

static void add_paddr(const struct sockaddr *sa, socklen_t len, uint16_t port)
{
	struct sockaddr_storage *ss;

	if (g_npaddr >= MAX_PROXY_ADDRS || len > sizeof(*ss))
		return;
	ss = &g_paddr[g_npaddr];
	memcpy(ss, sa, len);
	if (sa->sa_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
	g_plen[g_npaddr++] = len;
}

/* Resolves the proxy once.  Returns 0, or -errno with *why set. */
static int resolve_proxy(const struct cfg *c, const char **why)
{
	struct addrinfo hints, *res = NULL, *ai;
	struct sockaddr_in s4;
	struct sockaddr_in6 s6;
	int rc = 0;

	pthread_mutex_lock(&g_resolve_lock);
	if (g_npaddr > 0)
		goto out;
	memset(&s4, 0, sizeof(s4));
	memset(&s6, 0, sizeof(s6));
	if (inet_pton(AF_INET, c->proxy.host, &s4.sin_addr) == 1) {
		s4.sin_family = AF_INET;
		add_paddr((struct sockaddr *)&s4, sizeof(s4), c->proxy.port);
	} else if (inet_pton(AF_INET6, c->proxy.host, &s6.sin6_addr) == 1) {
		s6.sin6_family = AF_INET6;
		add_paddr((struct sockaddr *)&s6, sizeof(s6), c->proxy.port);
	} else if (!sfy_real()->getaddrinfo) {
		rc = -ENOSYS;
		*why = "cannot resolve the proxy's host name: no getaddrinfo";
	} else {
		memset(&hints, 0, sizeof(hints));
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_family = AF_UNSPEC;
		/* The resolver may connect() (DNS over TCP, nscd): those
		 * calls must not come back into the proxy path. */
		sfy_busy++;
		rc = sfy_real()->getaddrinfo(c->proxy.host, NULL, &hints, &res);
		sfy_busy--;
		if (rc != 0) {
			*why = "cannot resolve the proxy's host name";
			rc = -EHOSTUNREACH;
			goto out;
		}
		for (ai = res; ai; ai = ai->ai_next)
			if (ai->ai_family == AF_INET ||
			    ai->ai_family == AF_INET6)
				add_paddr(ai->ai_addr, ai->ai_addrlen,
					  c->proxy.port);
		sfy_real()->freeaddrinfo(res);
		if (g_npaddr == 0) {
			*why = "the proxy's host name has no IPv4 or IPv6 "
			       "address";
			rc = -EHOSTUNREACH;
		}
	}
out:
	pthread_mutex_unlock(&g_resolve_lock);
	return rc;
}

/* Builds the address to reach proxy address i from a socket of family
 * fam: IPv4 proxies are reachable from IPv6 sockets as v4-mapped.
 * Returns 0 or -1 when that socket cannot reach that address. */
static int proxy_addr_for(int i, int fam, struct sockaddr_storage *out,
			  socklen_t *len)
{
	const struct sockaddr_storage *p = &g_paddr[i];

	if (p->ss_family == fam) {
		memcpy(out, p, g_plen[i]);
		*len = g_plen[i];
		return 0;
	}
	if (fam == AF_INET6 && p->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)p;
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)out;

		memset(s6, 0, sizeof(*s6));
		s6->sin6_family = AF_INET6;
		s6->sin6_port = s4->sin_port;
		s6->sin6_addr.s6_addr[10] = 0xff;
		s6->sin6_addr.s6_addr[11] = 0xff;
		memcpy(&s6->sin6_addr.s6_addr[12], &s4->sin_addr, 4);
		*len = sizeof(*s6);
		return 0;
	}
	return -1;
}

/* In a child of fork() only the forking thread exists: a resolver lock
 * held by another thread would never be released. */
static void resolve_lock_child(void)
{
	pthread_mutex_init(&g_resolve_lock, NULL);
}

/*
 * At load time: the log level comes from the environment so that early
 * failures are reported as asked; and the launcher's check run
 * (SOCKSIFY_CHECK_CONFIG=1) gets the configuration error, if any, on
 * stderr; and the fork handler is registered.  Everything else is lazy.
 */
__attribute__((constructor)) static void at_load(void)
{
	const char *lvl = secure_getenv("SOCKSIFY_LOG_LEVEL");
	const char *check = secure_getenv("SOCKSIFY_CHECK_CONFIG");
	const char *why = NULL;
	enum cfg_log_level level;

	if (lvl && cfg_parse_log_level(lvl, &level) == 0)
		sfy_log_level = (int)level;
	pthread_atfork(NULL, NULL, resolve_lock_child);
	if (check && strcmp(check, "1") == 0 && !sfy_config(&why)) {
		/* The launcher reads this from stderr, wherever the config
		 * sends the log. */
		sfy_log_configure(SFY_LOG_ERROR, NULL);
		sfy_log_write(SFY_LOG_ERROR, "%s", why);
	}
}

/* --- the synchronous driver --------------------------------------------- */

long long sfy_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int sfy_wait_fd(int fd, short ev, long long deadline)
{
	struct pollfd p = {.fd = fd, .events = ev};
	long long left;
	int r;

	for (;;) {
		left = deadline - sfy_now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		r = sfy_real()->poll(&p, 1,
				     left > 1000000 ? 1000000 : (int)left);
		if (r > 0)
			return 0; /* readiness or an error: the next call says
				   */
		if (r == 0)
			continue; /* re-check the clock */
		/* A signal: connect(2) promises EINTR, and a program that
		 * bounds connect() with alarm() must not wait for our
		 * whole timeout. */
		return -errno;
	}
}

/* Connects fd to one of the proxy's addresses.  Returns 0 or -errno
 * (*why is set when there is more to say than the errno). */
static int reach_proxy(int fd, int fam, long long deadline, char *pbuf,
		       size_t pcap, const char **why)
{
	const struct sfy_real *r = sfy_real();
	struct sockaddr_storage pa;
	socklen_t plen;
	int i, rc = -ENETUNREACH, tried = 0;

	for (i = 0; i < g_npaddr; i++) {
		if (proxy_addr_for(i, fam, &pa, &plen) < 0)
			continue;
		tried = 1;
		sfy_fmt_addr((struct sockaddr *)&pa, plen, pbuf, pcap);
		if (r->connect(fd, (struct sockaddr *)&pa, plen) == 0)
			return 0;
		/* The program's socket is already connected or connecting:
		 * its own mistake, answered as the kernel answers it. */
		if (errno == EISCONN || errno == EALREADY)
			return -errno;
		if (errno != EINPROGRESS) {
			rc = -errno;
			continue;
		}
		rc = sfy_wait_fd(fd, POLLOUT, deadline);
		if (rc < 0)
			return rc; /* out of time: no point trying others */
		/* Asking connect() again (rather than SO_ERROR) both reports
		 * the outcome and moves the socket to the connected state, so
		 * that a later connect() by the program gets EISCONN from the
		 * kernel instead of a silent 0 (connect(2), EINPROGRESS). */
		if (r->connect(fd, (struct sockaddr *)&pa, plen) == 0 ||
		    errno == EISCONN)
			return 0;
		rc = -errno;
	}
	if (!tried && g_npaddr > 0) {
		sfy_fmt_addr((struct sockaddr *)&g_paddr[0], g_plen[0], pbuf,
			     pcap);
		*why = "the proxy has only IPv6 addresses and this is an IPv4 "
		       "socket";
	}
	return rc;
}

/* Runs the handshake on a connected, non-blocking fd.  Returns 0, or
 * -errno with *why set. */
static int run_handshake(int fd, const struct cfg *c, uint8_t cmd,
			 const struct s5_addr *dst, struct s5_addr *bnd,
			 long long deadline, const char **why)
{
	const struct sfy_real *r = sfy_real();
	struct hs h;
	uint8_t *buf;
	size_t len;
	ssize_t n;
	int rc = 0;
	/* After a write the answer cannot be there yet: wait before reading
	 * instead of paying for a read that says EAGAIN. */
	int expect_wait = 0;

	hs_init(&h, cmd, dst, c->proxy.user_len ? c->proxy.user : NULL,
		c->proxy.user_len, c->proxy.pass, c->proxy.pass_len);
	for (;;) {
		switch (hs_next(&h, &buf, &len)) {
		case HS_IO_WRITE:
			n = r->send(fd, buf, len, MSG_NOSIGNAL);
			if (n > 0) {
				hs_wrote(&h, (size_t)n);
				expect_wait = 1;
			} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
				rc = sfy_wait_fd(fd, POLLOUT, deadline);
			} else if (errno != EINTR) {
				rc = -errno;
				*why = "cannot send to the proxy";
			}
			break;
		case HS_IO_READ:
			if (expect_wait) {
				expect_wait = 0;
				rc = sfy_wait_fd(fd, POLLIN, deadline);
				if (rc < 0)
					break;
			}
			n = r->recv(fd, buf, len, 0);
			if (n > 0) {
				hs_got(&h, (size_t)n);
			} else if (n == 0) {
				hs_eof(&h);
			} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
				rc = sfy_wait_fd(fd, POLLIN, deadline);
			} else if (errno != EINTR) {
				rc = -errno;
				*why = "cannot read from the proxy";
			}
			break;
		case HS_IO_DONE:
			if (bnd)
				*bnd = h.bnd;
			hs_wipe(&h);
			return 0;
		case HS_IO_FAIL:
			hs_wipe(&h);
			*why = h.why;
			return -h.err;
		}
		if (rc < 0) {
			if (rc == -ETIMEDOUT)
				*why = "the proxy did not complete the SOCKS5 "
				       "handshake in time";
			hs_wipe(&h);
			return rc;
		}
	}
}

/* Dissolves whatever connection fd has, so that a failed connect leaves
 * the program a socket it can connect again (connect(2) with AF_UNSPEC). */
static void disconnect(int fd)
{
	struct sockaddr sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_family = AF_UNSPEC;
	(void)sfy_real()->connect(fd, &sa, sizeof(sa));
}

int sfy_proxy_families(int *has4, int *has6)
{
	const struct cfg *c = sfy_config(NULL);
	const char *why = NULL;
	int i, rc;

	*has4 = *has6 = 0;
	if (!c)
		return -EACCES;
	rc = resolve_proxy(c, &why);
	if (rc < 0)
		return rc;
	for (i = 0; i < g_npaddr; i++) {
		if (g_paddr[i].ss_family == AF_INET)
			*has4 = 1;
		else
			*has6 = 1;
	}
	return 0;
}

int sfy_tcp_connect(int fd, int sock_family, const struct s5_addr *dst,
		    const char *dbuf)
{
	return sfy_socks_request(fd, sock_family, S5_CMD_CONNECT, dst, dbuf,
				 NULL);
}

int sfy_socks_request(int fd, int sock_family, uint8_t cmd,
		      const struct s5_addr *dst, const char *dbuf,
		      struct s5_addr *bnd)
{
	const char *verb = cmd == S5_CMD_UDP_ASSOCIATE ? "UDP association for"
			   : cmd == S5_CMD_BIND	       ? "bind for"
						       : "connect to";
	const struct sfy_real *r = sfy_real();
	const struct cfg *c = sfy_config(NULL);
	char pbuf[SFY_ADDRSTRLEN] = "(proxy)";
	const char *why = NULL;
	long long deadline;
	int flags, rc;

	if (!c)
		return -EACCES; /* callers check the config first */
	rc = resolve_proxy(c, &why);
	if (rc < 0) {
		sfy_log(SFY_LOG_ERROR, "%s %s via %s: %s (%s)", verb, dbuf,
			c->proxy.host, why, strerrorname_np(-rc));
		return rc;
	}
	flags = r->fcntl(fd, F_GETFL);
	if (flags < 0)
		return -errno;
	if (!(flags & O_NONBLOCK) &&
	    r->fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
		return -errno;

	deadline = sfy_now_ms() + c->timeout_ms;
	rc = reach_proxy(fd, sock_family, deadline, pbuf, sizeof(pbuf), &why);
	if (rc == -EISCONN || rc == -EALREADY) {
		/* Leave the program's existing connection alone. */
		if (!(flags & O_NONBLOCK))
			r->fcntl(fd, F_SETFL, flags);
		return rc;
	}
	if (rc < 0 && !why) {
		why = rc == -ETIMEDOUT ? "timed out connecting to the proxy"
				       : "cannot connect to the proxy";
	} else if (rc == 0) {
		rc = run_handshake(fd, c, cmd, dst, bnd, deadline, &why);
	}
	if (rc < 0)
		disconnect(fd);
	if (!(flags & O_NONBLOCK)) {
		int saved = errno;

		r->fcntl(fd, F_SETFL, flags);
		errno = saved;
	}
	if (rc == -EINTR)
		sfy_log(SFY_LOG_INFO,
			"%s %s via %s interrupted by a signal (EINTR)", verb,
			dbuf, pbuf);
	else if (rc < 0)
		sfy_log(SFY_LOG_ERROR, "%s %s via %s failed: %s (%s)", verb,
			dbuf, pbuf, why ? why : strerror(-rc),
			strerrorname_np(-rc));
	else
		sfy_log(SFY_LOG_INFO, "%s %s via %s: ok", verb, dbuf, pbuf);
	return rc;
}
