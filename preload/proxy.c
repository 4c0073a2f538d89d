/*
 * proxy.c - the proxy's addresses and the synchronous handshake driver
 * (contract in proxy.h).
 */
#include "proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fdtable.h"
#include "handshake.h"
#include "log.h"
#include "pending.h"
#include "real.h"
#include "socks5.h"
#include "wait.h"

__thread int sfy_busy __attribute__((tls_model("initial-exec")));

#define MAX_PROXY_ADDRS 8

/* Lowers the re-entrancy guard when a thread is cancelled inside libc's
 * resolver (getaddrinfo is a cancellation point): the program's cleanup
 * handlers must not run with every hook passing through. */
static void busy_down(void *arg)
{
	(void)arg;
	sfy_busy--;
}

int sfy_busy_getaddrinfo(const char *node, const char *service,
			 const struct addrinfo *hints, struct addrinfo **res)
{
	int rc;

	sfy_busy++;
	pthread_cleanup_push(busy_down, NULL);
	rc = sfy_real()->getaddrinfo(node, service, hints, res);
	pthread_cleanup_pop(1);
	return rc;
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

/*
 * Published once, never changed after: g_npaddr (release) says how many of
 * g_paddr are valid.  No lock is held while resolving (getaddrinfo is a
 * cancellation point and may take seconds): threads that get here before
 * the first answer each resolve, and the first to finish publishes under
 * g_publish_lock (held for a copy, nothing else).
 */
static pthread_mutex_t g_publish_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sockaddr_storage g_paddr[MAX_PROXY_ADDRS];
static socklen_t g_plen[MAX_PROXY_ADDRS];
static atomic_int g_npaddr; /* > 0 once resolved */

struct paddrs {
	struct sockaddr_storage a[MAX_PROXY_ADDRS];
	socklen_t len[MAX_PROXY_ADDRS];
	int n;
};

static void add_paddr(struct paddrs *p, const struct sockaddr *sa,
		      socklen_t len, uint16_t port)
{
	struct sockaddr_storage *ss;

	if (p->n >= MAX_PROXY_ADDRS || len > sizeof(*ss))
		return;
	ss = &p->a[p->n];
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, sa, len);
	if (sa->sa_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
	p->len[p->n++] = len;
}

static void freeaddrinfo_cleanup(void *res)
{
	if (res)
		sfy_real()->freeaddrinfo(res);
}

/* Resolves the proxy once.  Returns 0, or -errno with *why set. */
static int resolve_proxy(const struct cfg *c, const char **why)
{
	struct addrinfo hints, *res = NULL, *ai;
	struct sockaddr_in s4;
	struct sockaddr_in6 s6;
	struct paddrs p;
	int rc = 0, i;

	if (atomic_load_explicit(&g_npaddr, memory_order_acquire) > 0)
		return 0;
	memset(&p, 0, sizeof(p));
	memset(&s4, 0, sizeof(s4));
	memset(&s6, 0, sizeof(s6));
	if (inet_pton(AF_INET, c->proxy.host, &s4.sin_addr) == 1) {
		s4.sin_family = AF_INET;
		add_paddr(&p, (struct sockaddr *)&s4, sizeof(s4),
			  c->proxy.port);
	} else if (inet_pton(AF_INET6, c->proxy.host, &s6.sin6_addr) == 1) {
		s6.sin6_family = AF_INET6;
		add_paddr(&p, (struct sockaddr *)&s6, sizeof(s6),
			  c->proxy.port);
	} else if (!sfy_real()->getaddrinfo) {
		*why = "cannot resolve the proxy's host name: no getaddrinfo";
		return -ENOSYS;
	} else {
		memset(&hints, 0, sizeof(hints));
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_family = AF_UNSPEC;
		/* The resolver may connect() (DNS over TCP, nscd): those
		 * calls must not come back into the proxy path. */
		rc = sfy_busy_getaddrinfo(c->proxy.host, NULL, &hints, &res);
		if (rc != 0) {
			*why = "cannot resolve the proxy's host name";
			return -EHOSTUNREACH;
		}
		pthread_cleanup_push(freeaddrinfo_cleanup, res);
		for (ai = res; ai; ai = ai->ai_next)
			if (ai->ai_family == AF_INET ||
			    ai->ai_family == AF_INET6)
				add_paddr(&p, ai->ai_addr, ai->ai_addrlen,
					  c->proxy.port);
		pthread_cleanup_pop(1);
		if (p.n == 0) {
			*why = "the proxy's host name has no IPv4 or IPv6 "
			       "address";
			return -EHOSTUNREACH;
		}
	}
	pthread_mutex_lock(&g_publish_lock);
	if (atomic_load_explicit(&g_npaddr, memory_order_relaxed) == 0) {
		for (i = 0; i < p.n; i++) {
			g_paddr[i] = p.a[i];
			g_plen[i] = p.len[i];
		}
		atomic_store_explicit(&g_npaddr, p.n, memory_order_release);
	}
	pthread_mutex_unlock(&g_publish_lock);
	return 0;
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
		*len = sfy_map_v4((const struct sockaddr_in *)p,
				  (struct sockaddr_in6 *)out);
		return 0;
	}
	return -1;
}

/* A child of fork() has only the forking thread: a lock held by another
 * would never be released. */
static void publish_lock_child(void)
{
	pthread_mutex_init(&g_publish_lock, NULL);
}

/*
 * At load time: the log level comes from the environment so that early
 * failures are reported as asked, and the fork handler is registered.
 * Everything else is lazy.  (The launcher checks the configuration in its
 * own process, with the same loader: cfgfind.c.)
 */
__attribute__((constructor)) static void at_load(void)
{
	const char *lvl = secure_getenv("SOCKSIFY_LOG_LEVEL");
	enum cfg_log_level level;

	if (lvl && cfg_parse_log_level(lvl, &level) == 0)
		sfy_log_level = (int)level;
	pthread_atfork(NULL, NULL, publish_lock_child);
}

/* --- the synchronous driver --------------------------------------------- */

/* What the driver needs to undo when it stops, also when the thread is
 * cancelled in one of its waits (poll, connect, send and recv are all
 * cancellation points): the program's socket gets its flags back and no
 * half-done handshake. */
struct drive {
	int fd;
	int flags;	/* F_GETFL before we set O_NONBLOCK */
	int own_socket; /* fd is the program's: registered as pending */
	int done;	/* the handshake succeeded */
	int closed;	/* the program closed fd meanwhile */
	struct sfy_pending pend;
	struct hs h;
};

/* Dissolves whatever connection fd has, so that a failed connect leaves
 * the program a socket it can connect again (connect(2) with AF_UNSPEC),
 * and takes the ECONNRESET that dissolving a TCP connection leaves in
 * SO_ERROR: after a failed direct connect the error is reported once and
 * SO_ERROR reads 0, and so it must here. */
void sfy_dissolve(int fd)
{
	struct sockaddr sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_family = AF_UNSPEC;
	(void)sfy_real()->connect(fd, &sa, sizeof(sa));
}

void sfy_disconnect(int fd)
{
	int err;
	socklen_t el = sizeof(err);

	sfy_dissolve(fd);
	(void)REAL_CALL(getsockopt, fd, SOL_SOCKET, SO_ERROR, &err, &el);
}

/* Undoes the driver's changes (the cleanup handler, and the normal end).
 * With cancellation off: a cancel acted on in here (connect and close are
 * cancellation points) would leave the record linked and the flags wrong. */
static void drive_end(void *arg)
{
	struct drive *d = arg;
	int saved = errno, old;

	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
	hs_wipe(&d->h);
	if (!d->done)
		sfy_disconnect(d->fd);
	if (d->own_socket)
		(void)sfy_pending_end(&d->pend, d->flags | O_NONBLOCK,
				      &d->closed);
	else if (!(d->flags & O_NONBLOCK))
		(void)sfy_real()->fcntl(d->fd, F_SETFL, d->flags);
	if (d->closed)
		(void)sfy_real()->close(d->fd);
	pthread_setcancelstate(old, &old);
	errno = saved;
}

/* Connects fd to one of the proxy's addresses.  Returns 0 or -errno
 * (*why is set when there is more to say than the errno). */
static int reach_proxy(int fd, int fam, long long deadline, int sig_fd,
		       char *pbuf, size_t pcap, const char **why)
{
	int i = 0, rc, last = -ENETUNREACH;
	short rev;

	for (;;) {
		rc = sfy_proxy_start(fd, fam, &i, pbuf, pcap, why);
		if (rc == -ENOENT)
			return last; /* none left after one that failed */
		if (rc != -EINPROGRESS)
			return rc; /* connected, the program's own, or failed */
		rc = sfy_wait_fd_rev(fd, POLLOUT, deadline, sig_fd, SO_SNDTIMEO,
				     &rev);
		if (rc < 0)
			return rc; /* out of time: no point trying others */
		/* Writable with no error: connected, at no further cost (the
		 * program's later connect() gets EISCONN from hook_tcp.c).
		 * Else connect() again says what went wrong. */
		if (!(rev & (POLLERR | POLLHUP)))
			return 0;
		rc = sfy_proxy_finish(fd, fam, i);
		if (rc == 0)
			return 0;
		last = rc;
		i++;
	}
}

/* Why an IPv6 socket's connect to a v4-mapped proxy address said
 * ENETUNREACH, when the socket is the reason; else NULL. */
static const char *v6only_why(int fd, int fam,
			      const struct sockaddr_storage *pa)
{
	int v6only = 0;
	socklen_t ol = sizeof(v6only);

	if (fam == AF_INET6 && pa->ss_family == AF_INET6 &&
	    IN6_IS_ADDR_V4MAPPED(
		&((const struct sockaddr_in6 *)pa)->sin6_addr) &&
	    REAL_CALL(getsockopt, fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only,
		      &ol) == 0 &&
	    v6only)
		return "the socket is IPv6-only (IPV6_V6ONLY) and the proxy "
		       "has only IPv4 addresses";
	return NULL;
}

int sfy_proxy_start(int fd, int fam, int *idx, char *pbuf, size_t pcap,
		    const char **why)
{
	struct sockaddr_storage pa;
	socklen_t plen;
	const char *w;
	int rc = -ENOENT, n, first = *idx;

	n = atomic_load_explicit(&g_npaddr, memory_order_acquire);
	for (; *idx < n; (*idx)++) {
		if (proxy_addr_for(*idx, fam, &pa, &plen) < 0)
			continue;
		sfy_fmt_addr((struct sockaddr *)&pa, plen, pbuf, pcap);
		if (sfy_real()->connect(fd, (struct sockaddr *)&pa, plen) == 0)
			return 0;
		/* EISCONN, EALREADY: the program's socket is connected or
		 * connecting already, its own mistake, answered as the
		 * kernel answers it. */
		if (errno == EINPROGRESS || errno == EISCONN ||
		    errno == EALREADY)
			return -errno;
		rc = -errno;
		if (rc == -ENETUNREACH && (w = v6only_why(fd, fam, &pa)))
			*why = w;
	}
	if (rc == -ENOENT && first == 0) {
		rc = -ENETUNREACH;
		if (n > 0) {
			sfy_fmt_addr((struct sockaddr *)&g_paddr[0], g_plen[0],
				     pbuf, pcap);
			*why = "the proxy has only IPv6 addresses and this is "
			       "an IPv4 socket";
		}
	}
	return rc;
}

int sfy_proxy_finish(int fd, int fam, int idx)
{
	struct sockaddr_storage pa;
	socklen_t plen;

	if (proxy_addr_for(idx, fam, &pa, &plen) < 0)
		return -ENETUNREACH;
	if (sfy_real()->connect(fd, (struct sockaddr *)&pa, plen) == 0 ||
	    errno == EISCONN)
		return 0;
	return -errno;
}

/* The last failures to reach a name: one word each, the key's hash in
 * the high half and the sfy_now_ms() it was logged at in the low half, so
 * that one compare-and-swap tells the first line from a repeat. */
#define NAME_FAIL_SLOTS 16
static _Atomic uint64_t g_name_fail[NAME_FAIL_SLOTS];

int sfy_fail_level(const struct s5_addr *dst, const char *desc, int err,
		   int level)
{
	uint32_t h = 2166136261u, now, then;
	_Atomic uint64_t *slot;
	uint64_t old, mine;
	const char *p;

	if (dst->atyp != S5_ATYP_DOMAIN)
		return level;
	for (p = desc; *p; p++) /* FNV-1a over "name:port" and the errno */
		h = (h ^ (uint8_t)*p) * 16777619u;
	h = ((h ^ (uint32_t)err) * 16777619u) | 1u;
	now = (uint32_t)sfy_now_ms();
	mine = (uint64_t)h << 32 | now;
	slot = &g_name_fail[h % NAME_FAIL_SLOTS];
	old = atomic_load_explicit(slot, memory_order_relaxed);
	for (;;) {
		then = (uint32_t)old;
		if ((uint32_t)(old >> 32) == h &&
		    (uint32_t)(now - then) < SFY_NAME_FAIL_MS)
			return SFY_LOG_DEBUG; /* told already */
		if (atomic_compare_exchange_weak_explicit(slot, &old, mine,
							  memory_order_relaxed,
							  memory_order_relaxed))
			return level;
	}
}

int sfy_proxy_prepare(const struct cfg *c, const char *verb, const char *desc)
{
	const char *why = NULL;
	int rc = resolve_proxy(c, &why);

	if (rc < 0)
		sfy_log(SFY_LOG_ERROR, "%s %s via %s failed: %s (%s)", verb,
			desc, c->proxy.host, why, strerrorname_np(-rc));
	return rc;
}

/* Runs the handshake in d->h on a connected, non-blocking fd.  Returns 0,
 * or -errno with *why set. */
static int run_handshake(struct drive *d, struct s5_addr *bnd,
			 long long deadline, int sig_fd, const char **why)
{
	const struct sfy_real *r = sfy_real();
	struct hs *h = &d->h;
	uint8_t *buf;
	size_t len;
	ssize_t n;
	int rc = 0;
	/* After a write the answer cannot be there yet: wait before reading
	 * instead of paying for a read that says EAGAIN. */
	int expect_wait = 0;

	for (;;) {
		switch (hs_next(h, &buf, &len)) {
		case HS_IO_WRITE:
			n = r->send(d->fd, buf, len, MSG_NOSIGNAL);
			if (n > 0) {
				hs_wrote(h, (size_t)n);
				expect_wait = 1;
			} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
				rc = sfy_wait_fd(d->fd, POLLOUT, deadline,
						 sig_fd, SO_SNDTIMEO);
			} else if (errno != EINTR) {
				rc = -errno;
				*why = "cannot send to the proxy";
			}
			break;
		case HS_IO_READ:
			if (expect_wait) {
				expect_wait = 0;
				rc = sfy_wait_fd(d->fd, POLLIN, deadline,
						 sig_fd, SO_SNDTIMEO);
				if (rc < 0)
					break;
			}
			n = r->recv(d->fd, buf, len, 0);
			if (n > 0) {
				hs_got(h, (size_t)n);
			} else if (n == 0 || errno == ECONNRESET) {
				hs_eof(h); /* an RST is a hang-up too */
			} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
				rc = sfy_wait_fd(d->fd, POLLIN, deadline,
						 sig_fd, SO_SNDTIMEO);
			} else if (errno != EINTR) {
				rc = -errno;
				*why = "cannot read from the proxy";
			}
			break;
		case HS_IO_DONE:
			if (bnd)
				*bnd = h->bnd;
			return 0;
		case HS_IO_FAIL:
			*why = h->why;
			return -h->err;
		}
		if (rc < 0) {
			if (rc == -ETIMEDOUT)
				*why = "the proxy did not complete the SOCKS5 "
				       "handshake in time";
			return rc;
		}
	}
}

int sfy_proxy_families(int *has4, int *has6)
{
	const char *why = NULL;
	int err = EACCES, i, rc, n;
	const struct cfg *c = sfy_config_err(NULL, &err);

	*has4 = *has6 = 0;
	if (!c)
		return -err;
	rc = resolve_proxy(c, &why);
	if (rc < 0)
		return rc;
	n = atomic_load_explicit(&g_npaddr, memory_order_acquire);
	for (i = 0; i < n; i++) {
		if (g_paddr[i].ss_family == AF_INET)
			*has4 = 1;
		else
			*has6 = 1;
	}
	return 0;
}

static int socks_request(int fd, int sock_family, uint8_t cmd,
			 const struct s5_addr *dst, const char *dbuf,
			 struct s5_addr *bnd, int known_flags);

int sfy_tcp_connect(int fd, int sock_family, const struct s5_addr *dst,
		    const char *dbuf, int flags, struct s5_addr *bnd)
{
	memset(bnd, 0, sizeof(*bnd));
	return socks_request(fd, sock_family, S5_CMD_CONNECT, dst, dbuf, bnd,
			     flags);
}

void sfy_bnd_record(struct sfy_fdinfo *info, int fd, int fam,
		    const struct s5_addr *bnd)
{
	static const uint8_t zero[16];

	info->bndlen = 0;
	if ((bnd->atyp == S5_ATYP_IPV4 && memcmp(bnd->u.v4, zero, 4) != 0) ||
	    (bnd->atyp == S5_ATYP_IPV6 && memcmp(bnd->u.v6, zero, 16) != 0))
		if (sfy_bnd_sockaddr(fd, fam, bnd, &info->bnd, &info->bndlen) <
		    0)
			info->bndlen = 0;
}

/*
 * The deadline for a handshake on the program's socket: the configured
 * timeout, cut short by SO_SNDTIMEO on a blocking socket (the bound the
 * kernel puts on a blocking connect, see socket(7)).
 */
static long long handshake_deadline(const struct cfg *c, int fd, int flags,
				    int own_socket, int *by_sndtimeo)
{
	long long deadline = sfy_now_ms() + c->timeout_ms, snd;

	*by_sndtimeo = 0;
	if (own_socket && !(flags & O_NONBLOCK)) {
		snd = sfy_socket_deadline(fd, SO_SNDTIMEO);
		if (snd > 0 && snd < deadline) {
			deadline = snd;
			*by_sndtimeo = 1;
		}
	}
	return deadline;
}

__thread int sfy_quiet_failure __attribute__((tls_model("initial-exec")));
__thread const char *sfy_last_why __attribute__((tls_model("initial-exec")));

int sfy_socks_request(int fd, int sock_family, uint8_t cmd,
		      const struct s5_addr *dst, const char *dbuf,
		      struct s5_addr *bnd)
{
	return socks_request(fd, sock_family, cmd, dst, dbuf, bnd, -1);
}

static int socks_request(int fd, int sock_family, uint8_t cmd,
			 const struct s5_addr *dst, const char *dbuf,
			 struct s5_addr *bnd, int known_flags)
{
	const char *verb = cmd == S5_CMD_UDP_ASSOCIATE ? "UDP association for"
			   : cmd == S5_CMD_BIND	       ? "BIND for"
						       : "connect to";
	const struct sfy_real *r = sfy_real();
	int err = EACCES;
	const struct cfg *c = sfy_config_err(NULL, &err);
	char pbuf[SFY_ADDRSTRLEN] = "(proxy)";
	const char *why = NULL;
	long long deadline;
	struct drive d;
	int rc, by_sndtimeo, sig_fd;

	if (!c)
		return -err; /* callers check the config first */
	rc = resolve_proxy(c, &why);
	if (rc < 0) {
		sfy_log(SFY_LOG_ERROR, "%s %s via %s failed: %s (%s)", verb,
			dbuf, c->proxy.host, why, strerrorname_np(-rc));
		return rc;
	}
	memset(&d, 0, sizeof(d));
	d.fd = fd;
	/* UDP associations and BIND run on a control socket of our own;
	 * CONNECT on the program's socket, which must be hidden meanwhile. */
	d.own_socket = cmd == S5_CMD_CONNECT;
	sig_fd = d.own_socket ? fd : -1;
	if (d.own_socket) {
		rc = sfy_pending_begin(&d.pend, fd, known_flags, &d.flags);
		if (rc < 0)
			return rc; /* another thread's connect is running */
	} else {
		d.flags = r->fcntl(fd, F_GETFL);
		if (d.flags < 0)
			return -errno;
	}
	hs_init(&d.h, cmd, dst, c->proxy.user_len ? c->proxy.user : NULL,
		c->proxy.user_len, c->proxy.pass, c->proxy.pass_len);
	if (c->pipeline)
		hs_pipeline(&d.h);
	pthread_cleanup_push(drive_end, &d);
	if (!(d.flags & O_NONBLOCK) &&
	    r->fcntl(fd, F_SETFL, d.flags | O_NONBLOCK) < 0) {
		rc = -errno;
	} else {
		deadline = handshake_deadline(c, fd, d.flags, d.own_socket,
					      &by_sndtimeo);
		rc = reach_proxy(fd, sock_family, deadline, sig_fd, pbuf,
				 sizeof(pbuf), &why);
		if (rc == -EISCONN || rc == -EALREADY) {
			/* Leave the program's existing connection alone. */
			d.done = 1;
		} else if (rc < 0 && !why) {
			why = rc == -ETIMEDOUT
				  ? "timed out connecting to the proxy"
				  : "cannot connect to the proxy";
		} else if (rc == 0) {
			rc = run_handshake(&d, bnd, deadline, sig_fd, &why);
			d.done = rc == 0;
			/* OpenSSH's -D hangs up on anything but CONNECT:
			 * an end (FIN, or an RST from recv) before the
			 * reply's first byte; the reason says so.  A reply
			 * cut short is a broken proxy, not a refusal. */
			if (rc == -ECONNRESET && cmd != S5_CMD_CONNECT &&
			    hs_hung_up(&d.h))
				rc = -EOPNOTSUPP;
		}
		if (rc == -ETIMEDOUT && by_sndtimeo)
			why = "the socket's SO_SNDTIMEO ran out before the "
			      "proxy was reached and the handshake done";
	}
	pthread_cleanup_pop(1);
	if (rc == -EISCONN || rc == -EALREADY)
		return rc;
	if (rc == -EINTR)
		sfy_log(SFY_LOG_INFO,
			"%s %s via %s interrupted by a signal (EINTR)", verb,
			dbuf, pbuf);
	else if (rc < 0) {
		int base = sfy_quiet_failure ? SFY_LOG_INFO : SFY_LOG_ERROR,
		    lvl = sfy_fail_level(dst, dbuf, -rc, base);

		sfy_log(lvl, "%s %s via %s failed: %s (%s)%s", verb, dbuf, pbuf,
			why ? why : strerror(-rc), strerrorname_np(-rc),
			lvl != base ? SFY_FAIL_AGAIN : "");
		sfy_last_why = why;
	} else
		sfy_log(SFY_LOG_INFO, "%s %s via %s: ok", verb, dbuf, pbuf);
	if (rc == 0 && d.closed)
		return SFY_CLOSED_MEANWHILE;
	return rc;
}

/* Contract: see proxy.h. */
int sfy_bnd_sockaddr(int ctl, int fam, const struct s5_addr *bnd,
		     struct sockaddr_storage *out, socklen_t *outlen)
{
	struct sockaddr_storage ss;
	size_t sl = sizeof(ss);
	socklen_t pl = sizeof(ss);
	static const uint8_t zero[16];
	int is_zero =
	    (bnd->atyp == S5_ATYP_IPV4 && memcmp(bnd->u.v4, zero, 4) == 0) ||
	    (bnd->atyp == S5_ATYP_IPV6 && memcmp(bnd->u.v6, zero, 16) == 0);

	if (is_zero) {
		if (REAL_CALL(getpeername, ctl, (struct sockaddr *)&ss, &pl) <
		    0)
			return -errno;
		if (ss.ss_family == AF_INET)
			((struct sockaddr_in *)&ss)->sin_port =
			    htons(bnd->port);
		else
			((struct sockaddr_in6 *)&ss)->sin6_port =
			    htons(bnd->port);
	} else if (s5_addr_to_sockaddr(bnd, (struct sockaddr *)&ss, &sl) < 0) {
		return -EPROTO; /* a relay given by name */
	}
	memset(out, 0, sizeof(*out));
	if (ss.ss_family == fam) {
		memcpy(out, &ss, sizeof(ss));
		*outlen = fam == AF_INET ? sizeof(struct sockaddr_in)
					 : sizeof(struct sockaddr_in6);
		return 0;
	}
	if (fam == AF_INET6 && ss.ss_family == AF_INET) {
		*outlen = sfy_map_v4((struct sockaddr_in *)&ss,
				     (struct sockaddr_in6 *)out);
		return 0;
	}
	return -ENETUNREACH; /* an IPv6 relay for an IPv4 socket */
}

socklen_t sfy_map_v4(const struct sockaddr_in *in, struct sockaddr_in6 *out)
{
	memset(out, 0, sizeof(*out));
	out->sin6_family = AF_INET6;
	out->sin6_port = in->sin_port;
	out->sin6_addr.s6_addr[10] = 0xff;
	out->sin6_addr.s6_addr[11] = 0xff;
	memcpy(&out->sin6_addr.s6_addr[12], &in->sin_addr, 4);
	return sizeof(*out);
}

int sfy_same_sockaddr(const struct sockaddr_storage *a,
		      const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a,
					 *y = (const void *)b;

		return x->sin_port == y->sin_port &&
		       x->sin_addr.s_addr == y->sin_addr.s_addr;
	} else {
		const struct sockaddr_in6 *x = (const void *)a,
					  *y = (const void *)b;

		return x->sin6_port == y->sin6_port &&
		       memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0;
	}
}

int sfy_start_thread(void *(*fn)(void *), void *arg, size_t stack)
{
	pthread_attr_t a;
	pthread_t t;
	sigset_t all, old;
	int rc;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&a, stack);
	rc = pthread_create(&t, &a, fn, arg);
	pthread_attr_destroy(&a);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return -rc;
}
