/*
 * hook_tcp.c - outbound connects: connect(), getpeername(), the implicit
 * connect of TCP Fast Open (sendto/sendmsg with MSG_FASTOPEN), the sends
 * that carry an address (sendto, sendmsg, sendmmsg: datagrams go to
 * udp.c), and socket() for the protocols that are refused outright.
 *
 * Every structure the program passes is read through safemem.h: a bad
 * pointer gets EFAULT, as from the kernel.
 * Each exported X is a thin wrapper at the bottom over shim_X above it;
 * internal code calls the real symbols through real.h only.
 */
#include <errno.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/uio.h>
#include <stddef.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include <fcntl.h>

#include "async.h"
#include "bind.h"
#include "config.h"
#include "epreg.h"
#include "fdtable.h"
#include "log.h"
#include "pending.h"
#include "proxy.h"
#include "real.h"
#include "resolve.h"
#include "safemem.h"
#include "sockkind.h"
#include "socks5.h"
#include "udp.h"

/* What to do with a connect-like call. */
enum route {
	ROUTE_PASS,	   /* not ours to judge: the real call, untouched */
	ROUTE_DIRECT,	   /* a rule (or loopback) sends it direct */
	ROUTE_DIRECT_NAME, /* a placeholder whose name a rule sends direct */
	ROUTE_PROXY,	   /* through the SOCKS5 server */
	ROUTE_FAIL,	   /* refused: errno set, logged */
};

/* Where a connect goes, as classify() worked it out. */
struct dest {
	struct sockaddr_storage raw; /* the program's bytes, copied in */
	int family;		     /* the socket's */
	struct sockaddr_storage sa;  /* normalised, as the program gave it */
	socklen_t salen;
	struct s5_addr s5; /* what the proxy is asked for: address or name */
	char desc[SFY_ADDRSTRLEN + DNS_MAX_NAME + 16]; /* for log lines */
};

/*
 * Copies a destination into a clean sockaddr_in / sockaddr_in6 of the
 * kernel's own size, dropping whatever the caller left in sin_zero or
 * sin6_flowinfo: what getpeername() will report, and what rules and the
 * SOCKS request see.  len has been checked to hold the address.
 */
static socklen_t normalize(const struct sockaddr *sa, socklen_t len,
			   struct sockaddr_storage *out)
{
	memset(out, 0, sizeof(*out));
	if (sa->sa_family == AF_INET) {
		struct sockaddr_in in, *o = (struct sockaddr_in *)out;

		memcpy(&in, sa, sizeof(in));
		o->sin_family = AF_INET;
		o->sin_port = in.sin_port;
		o->sin_addr = in.sin_addr;
		return sizeof(*o);
	} else {
		struct sockaddr_in6 in6, *o = (struct sockaddr_in6 *)out;

		memset(&in6, 0, sizeof(in6));
		memcpy(&in6, sa, len < sizeof(in6) ? len : sizeof(in6));
		o->sin6_family = AF_INET6;
		o->sin6_port = in6.sin6_port;
		o->sin6_addr = in6.sin6_addr;
		o->sin6_scope_id = in6.sin6_scope_id;
		return sizeof(*o);
	}
}

/* The direct decision, at debug level (only: the caller checks). */
static __attribute__((noinline, cold)) void
log_direct(const struct cfg_rule *rule, const struct dest *d,
	   const struct sockaddr *sa)
{
	char words[1024];

	sfy_rule_words(rule, sa, words, sizeof(words));
	sfy_log_write(SFY_LOG_DEBUG, "direct: %s by %s", d->desc, words);
}

/* A refusal by a rule: one line naming it (a name's, once for both of its
 * placeholders: sfy_fail_level). */
static __attribute__((noinline, cold)) void
log_refused(const struct cfg_rule *rule, const struct dest *d,
	    const struct sockaddr *sa)
{
	char words[1024];
	int lvl = sfy_fail_level(&d->s5, d->desc, EACCES, SFY_LOG_ERROR);

	if (lvl > sfy_log_level)
		return;
	sfy_rule_words(rule, sa, words, sizeof(words));
	sfy_log_write(lvl, "connect to %s refused by %s (EACCES)%s", d->desc,
		      words, lvl != SFY_LOG_ERROR ? SFY_FAIL_AGAIN : "");
}

/* The route for a rule's action (rule: the one that decided, NULL for a
 * built-in default; sa: the address matched, NULL for a name); direct is
 * what a direct rule means here.  A refusal is logged and sets errno. */
static enum route route_of(enum cfg_action act, const struct cfg_rule *rule,
			   enum route direct, const struct dest *d,
			   const struct sockaddr *sa)
{
	switch (act) {
	case CFG_DIRECT:
		if (__builtin_expect(sfy_log_level >= SFY_LOG_DEBUG, 0))
			log_direct(rule, d, sa);
		return direct;
	case CFG_REFUSE:
		log_refused(rule, d, sa);
		errno = EACCES;
		return ROUTE_FAIL;
	case CFG_PROXY:
	default:
		return ROUTE_PROXY;
	}
}

/*
 * The route for a destination given by a placeholder's name: rules by
 * name; the proxy gets the name itself (ATYP domain).
 */
static enum route classify_name(const struct cfg *c, struct dest *d,
				const char *name)
{
	uint16_t port = ntohs(((struct sockaddr_in *)&d->sa)->sin_port);
	const struct cfg_rule *rule;
	enum cfg_action act;

	/* sin_port and sin6_port share their offset. */
	snprintf(d->desc, sizeof(d->desc), "%s:%u", name, port);
	if (s5_addr_domain(&d->s5, name, port) < 0) {
		sfy_log(SFY_LOG_ERROR, "connect to %s: bad name (EHOSTUNREACH)",
			d->desc);
		errno = EHOSTUNREACH;
		return ROUTE_FAIL;
	}
	act = cfg_match_name_rule(c, name, port, &rule);
	return route_of(act, rule, ROUTE_DIRECT_NAME, d, NULL);
}

/*
 * Decides the route for fd connecting to the program's usa.  Only TCP
 * sockets of family AF_INET/AF_INET6 connecting to an address of their own
 * family go to the proxy; UDP is udp.c's (ROUTE_PASS here); other IP
 * protocols are refused unless the rules send the destination direct;
 * everything else (Unix sockets, malformed arguments that the kernel
 * rejects with its own errno) passes.  For ours, d gets the normalised
 * destination and what to ask the proxy for.
 */
static enum route classify(int fd, const struct sockaddr *usa, socklen_t len,
			   struct dest *d)
{
	const struct cfg *c;
	const char *why = NULL;
	const struct sockaddr *sa;
	char name[DNS_MAX_NAME + 1];
	const struct cfg_rule *rule;
	struct sfy_sock k;
	int nr, err = EACCES;
	enum cfg_action act;

	/* Lengths the kernel rejects (EINVAL) are left for it to reject. */
	if (sfy_busy || !usa || len < sizeof(sa_family_t) ||
	    len > sizeof(struct sockaddr_storage))
		return ROUTE_PASS;
	if (sfy_copy_in(&d->raw, usa, len) < 0) {
		errno = sfy_bad_address_errno(fd, 1);
		return ROUTE_FAIL;
	}
	sa = (const struct sockaddr *)&d->raw;
	if (sa->sa_family == AF_INET) {
		if (len < sizeof(struct sockaddr_in))
			return ROUTE_PASS;
	} else if (sa->sa_family == AF_INET6) {
		/* The kernel accepts the RFC 2133 size without sin6_scope_id:
		 * so must we, or such a connect would go out directly. */
		if (len < offsetof(struct sockaddr_in6, sin6_scope_id))
			return ROUTE_PASS;
	} else {
		return ROUTE_PASS;
	}
	/* A socket we saw made needs no probe (epreg.h). */
	if (sfy_is_fresh(fd)) {
		sfy_sock_classify(&k, sfy_fresh_family(fd), SOCK_STREAM,
				  IPPROTO_TCP);
		err = 0;
	} else {
		err = sfy_sock_probe(fd, &k);
	}
	if (err == -EBADF || err == -ENOTSOCK)
		return ROUTE_PASS; /* the real call gives the same errno */
	if (err < 0) {
		errno = -err;
		goto uninspectable;
	}
	if (k.carry == SFY_UNCARRIED) {
		c = sfy_config_err(&why, &err);
		if (!c && err != EACCES) {
			errno = err;
			return ROUTE_FAIL;
		}
		return sfy_uncarried_check(c, &k, fd, sa, len, "connect") < 0
			   ? ROUTE_FAIL
			   : ROUTE_PASS;
	}
	if (k.carry != SFY_TCP || k.dom != sa->sa_family)
		return ROUTE_PASS;
	d->family = k.dom;
	d->salen = normalize(sa, len, &d->sa);
	sfy_fmt_addr((struct sockaddr *)&d->sa, d->salen, d->desc,
		     sizeof(d->desc));

	c = sfy_config_err(&why, &err);
	if (!c) {
		if (err != EACCES) {
			errno = err; /* transient: logged once by the loader */
			return ROUTE_FAIL;
		}
		sfy_log(SFY_LOG_ERROR,
			"connect to %s refused: configuration error: %s "
			"(EACCES)",
			d->desc, why);
		errno = EACCES;
		return ROUTE_FAIL;
	}
	nr = sfy_placeholder_name(c, (struct sockaddr *)&d->sa, d->salen, name,
				  sizeof(name));
	if (nr > 0)
		return classify_name(c, d, name);
	if (nr != -EAFNOSUPPORT) {
		/* Fail closed: guessing would send the program elsewhere. */
		sfy_log(SFY_LOG_ERROR,
			"connect to %s: a placeholder address that stands for "
			"no name (expired, or from another process) "
			"(EHOSTUNREACH)",
			d->desc);
		errno = EHOSTUNREACH;
		return ROUTE_FAIL;
	}
	(void)s5_addr_from_sockaddr(&d->s5, (struct sockaddr *)&d->sa,
				    d->salen);
	/* An address resolved for a name with rules of its own (libc for a
	 * `route direct` name, the tunnel for a name some rule names): that
	 * name's rules decide, with their ports, when they send it direct or
	 * refuse it; else the address rules do. */
	if (sfy_direct_name((struct sockaddr *)&d->sa, d->salen, name,
			    sizeof(name))) {
		act = cfg_match_name_rule(
		    c, name, ntohs(((struct sockaddr_in *)&d->sa)->sin_port),
		    &rule);
		if (act != CFG_PROXY)
			return route_of(act, rule, ROUTE_DIRECT, d,
					(struct sockaddr *)&d->sa);
	}
	act = cfg_match_rule(c, (struct sockaddr *)&d->sa, d->salen, &rule);
	return route_of(act, rule, ROUTE_DIRECT, d, (struct sockaddr *)&d->sa);

uninspectable:
	/* A socket we may not even inspect (seccomp, an LSM) could be TCP
	 * to a proxied destination: fail closed rather than guess. */
	sfy_log(SFY_LOG_ERROR,
		"connect on fd %d refused: cannot inspect the socket (%s) "
		"(EACCES)",
		fd, strerrorname_np(errno));
	errno = EACCES;
	return ROUTE_FAIL;
}

/*
 * A placeholder whose name a rule sends direct: resolve the name here, with
 * libc, and connect to the first address of the socket's family.
 */
static int direct_by_name(int fd, const struct dest *d)
{
	const struct sfy_real *r = sfy_real();
	struct addrinfo hints, *res = NULL;
	char port[8];
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = d->family;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags =
	    AI_NUMERICSERV | (d->family == AF_INET6 ? AI_V4MAPPED : 0);
	snprintf(port, sizeof(port), "%u", d->s5.port);
	rc = sfy_busy_getaddrinfo(d->s5.u.domain.name, port, &hints, &res);
	if (rc != 0) {
		int lvl = sfy_fail_level(&d->s5, d->desc, EHOSTUNREACH,
					 SFY_LOG_ERROR);

		sfy_log(lvl,
			"connect to %s (a 'route direct' name): cannot resolve "
			"it locally: %s (EHOSTUNREACH)%s",
			d->desc, gai_strerror(rc),
			lvl != SFY_LOG_ERROR ? SFY_FAIL_AGAIN : "");
		errno = EHOSTUNREACH;
		return -1;
	}
	rc = REAL_CALL(connect, fd, res->ai_addr, res->ai_addrlen);
	if (sfy_is_fresh(fd) && (rc == 0 || errno == EINPROGRESS)) {
		int saved = errno;

		sfy_fresh_clear(fd);
		errno = saved;
	}
	r->freeaddrinfo(res);
	return rc;
}

/* Connects through the proxy and records the peer.  Returns 0 or -1. */
static int proxy_connect(int fd, const struct dest *d)
{
	struct s5_addr bnd;
	struct sfy_fdinfo info;
	const struct cfg *c;
	int rc, fl = -1;

	/* A non-blocking socket: EINPROGRESS now, the handshake in the
	 * helper thread (async.h). */
	if (sfy_is_fresh(fd)) {
		fl = REAL_CALL(fcntl, fd, F_GETFL);
		if (fl >= 0 && (fl & O_NONBLOCK) &&
		    (c = sfy_config(NULL)) != NULL) {
			rc = sfy_async_connect(c, fd, d->family, &d->s5,
					       (const struct sockaddr *)&d->sa,
					       d->salen, d->desc);
			if (rc != 1) {
				errno = -rc;
				return -1;
			}
		}
	}
	rc = sfy_tcp_connect(fd, d->family, &d->s5, d->desc, fl, &bnd);

	if (rc < 0) {
		errno = -rc;
		return -1;
	}
	if (rc == SFY_CLOSED_MEANWHILE)
		return 0; /* another thread closed fd: nothing to record */
	memset(&info, 0, sizeof(info));
	info.kind = SFY_FD_TCP_PROXIED;
	memcpy(&info.peer, &d->sa, d->salen);
	info.peerlen = d->salen;
	/* The local address is learnt when first needed (same_connection):
	 * no syscall here. */
	info.locallen = 0;
	sfy_bnd_record(&info, fd, d->family, &bnd);
	if (sfy_is_fresh(fd))
		sfy_fresh_clear(fd);
	/* Without a record only getpeername() is affected (it shows the
	 * proxy): not worth failing a working connection for. */
	if (fdt_set(fd, &info) < 0)
		sfy_log(SFY_LOG_WARN, "out of memory recording fd %d", fd);
	return 0;
}

/*
 * The connect-like step shared by connect() and the MSG_FASTOPEN sends.
 * Returns 0 once connected through the proxy, -1 with errno set when
 * refused or failed, or 1 when the call is not ours (pass-through, or a
 * rule sends it direct) and the real call should run unchanged.  An
 * already connected socket gets EISCONN from the kernel when the driver
 * connects it to the proxy.
 */
/*
 * A connect on a socket connected through the proxy: the kernel may still
 * call it "connecting" (the driver does not ask it twice, and a handshake
 * that ran on the helper thread left it so), so its own answer would be
 * 0.  Every destination gets EISCONN, as from a connected socket;
 * AF_UNSPEC dissolves the connection (the record goes).  Returns 1 when
 * the call is not about such a socket.
 */
static __attribute__((noinline)) int
connected_already(int fd, const struct sockaddr *sa, socklen_t len)
{
	struct sfy_fdinfo info;
	sa_family_t fam;

	if (fdt_get(fd, &info) < 0 || info.kind != SFY_FD_TCP_PROXIED)
		return 1;
	if (sa && len >= sizeof(fam) &&
	    sfy_copy_in(&fam, sa, sizeof(fam)) == 0 && fam == AF_UNSPEC) {
		fdt_del(fd);
		return 1;
	}
	errno = EISCONN;
	return -1;
}

/* A socket bound for BIND (bind_early) that connects instead: its
 * session goes. */
static __attribute__((noinline, cold)) void listen_dropped(int fd)
{
	struct sfy_fdinfo info;

	if (fdt_get(fd, &info) == 0 && info.kind == SFY_FD_TCP_LISTEN)
		fdt_del(fd);
}

static int route_connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	struct dest d;
	int saved = errno, rc;

	if (fdt_maybe_ours(fd) && !sfy_busy && !fdt_maybe_udp(fd)) {
		if (sfy_is_fresh(fd))
			listen_dropped(fd);
		else if (connected_already(fd, sa, len) < 0)
			return -1;
	}

	switch (classify(fd, sa, len, &d)) {
	case ROUTE_FAIL:
		return -1;
	case ROUTE_PROXY:
		rc = proxy_connect(fd, &d);
		break;
	case ROUTE_DIRECT_NAME:
		rc = direct_by_name(fd, &d);
		if (rc < 0)
			return -1;
		break;
	case ROUTE_PASS:
	case ROUTE_DIRECT:
	default:
		rc = 1;
		break;
	}
	/* Success leaves errno as the program had it (our probes and the
	 * first config load set it on the way). */
	if (rc >= 0)
		errno = saved;
	return rc;
}

/* connect() on a socket with an asynchronous connect's entry: pending,
 * or failed with the error not reported yet. */
static __attribute__((noinline, cold)) int async_again(int fd)
{
	int rc = sfy_async_reconnect(fd);

	if (rc < 0) {
		errno = -rc;
		return -1;
	}
	return 0;
}

/* The real connect of a socket that is ours to pass: a fresh TCP socket
 * that connected (or started to) is fresh no more. */
static int real_connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	int rc = REAL_CALL(connect, fd, sa, len);

	if (__builtin_expect(sfy_is_fresh(fd), 0) &&
	    (rc == 0 || errno == EINPROGRESS)) {
		int saved = errno;

		sfy_fresh_clear(fd);
		errno = saved;
	}
	return rc;
}

static int shim_connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	int rc;

	if (__builtin_expect(sfy_async_entry(fd) != 0, 0) && async_again(fd))
		return -1;
	rc = route_connect(fd, sa, len);
	/* Not a proxied TCP connect: perhaps a UDP socket's peer. */
	if (rc == 1 && !sfy_busy)
		rc = sfy_udp_connect(fd, sa, len);
	return rc == 1 || rc == SFY_UDP_PASS ? real_connect(fd, sa, len) : rc;
}

/* 1 when fd still holds the connection info was recorded for. */
static int same_connection(int fd, struct sfy_fdinfo *info)
{
	struct sockaddr_storage local;
	socklen_t llen = sizeof(local);

	if (REAL_CALL(getsockname, fd, (struct sockaddr *)&local, &llen) < 0)
		return 0;
	if (info->locallen == 0) {
		/* First asked: recorded now.  A socket made since on the
		 * same number would be fresh (epreg.h). */
		if (sfy_is_fresh(fd))
			return 0;
		memcpy(&info->local, &local, llen);
		info->locallen = llen;
		(void)fdt_set(fd, info);
		return 1;
	}
	return llen == info->locallen &&
	       memcmp(&local, &info->local, llen) == 0;
}

static int shim_getpeername(int fd, struct sockaddr *sa, socklen_t *len)
{
	struct sfy_fdinfo info;
	int rc;

	if (__builtin_expect(sfy_is_pending(fd), 0) &&
	    (!sfy_async_entry(fd) || sfy_async_pending(fd) ||
	     (sfy_async_entry(fd) & SFY_ASYNC_ERR))) {
		/* Connected to the proxy, not yet to the destination (or the
		 * handshake failed): what the kernel says of a socket that
		 * is still connecting, or not connected. */
		errno = ENOTCONN;
		return -1;
	}
	if (!fdt_maybe_ours(fd) || fdt_get(fd, &info) < 0 ||
	    (info.kind == SFY_FD_UDP && !info.connected) ||
	    info.kind == SFY_FD_TCP_LISTEN)
		return REAL_CALL(getpeername, fd, sa, len);
	if (info.kind != SFY_FD_UDP && !same_connection(fd, &info)) {
		fdt_del(fd); /* stale: the fd was closed behind our back */
		return REAL_CALL(getpeername, fd, sa, len);
	}
	rc = sfy_sockaddr_out(sa, len, &info.peer, info.peerlen);
	if (rc < 0) {
		errno = -rc;
		return -1;
	}
	return 0;
}

/*
 * MSG_FASTOPEN on an unconnected TCP socket connects implicitly (tcp(7)).
 * For a proxied destination we connect through the proxy first and then
 * send normally: the data goes after the handshake instead of in the SYN,
 * but nothing goes out directly.
 */

static ssize_t udp_sendto(int fd, const void *buf, size_t n, int flags,
			  const struct sockaddr *sa, socklen_t len);

/* The MSG_FASTOPEN path of sendto, kept out of line so that the common
 * path of the hook is a flag test and a tail call.  What is not a proxied
 * TCP connect (a UDP socket, on which the kernel ignores the flag; a
 * direct destination) goes the way of any sendto. */
static __attribute__((noinline, cold)) ssize_t
fastopen_sendto(int fd, const void *buf, size_t n, int flags,
		const struct sockaddr *sa, socklen_t len)
{
	int rc = route_connect(fd, sa, len);

	if (rc < 0)
		return -1;
	if (rc == 0)
		return REAL_CALL(send, fd, buf, n, flags & ~MSG_FASTOPEN);
	return udp_sendto(fd, buf, n, flags, sa, len);
}

/* A datagram with an address, or on a UDP socket with an association:
 * through the relay when its destination is proxied. */
static __attribute__((noinline)) ssize_t udp_sendto(int fd, const void *buf,
						    size_t n, int flags,
						    const struct sockaddr *sa,
						    socklen_t len)
{
	struct iovec iov = {.iov_base = (void *)(uintptr_t)buf, .iov_len = n};
	struct msghdr m;
	ssize_t r;

	memset(&m, 0, sizeof(m));
	m.msg_name = (void *)(uintptr_t)sa;
	m.msg_namelen = len;
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	r = sfy_udp_send(fd, &m, flags, 1);
	if (r != SFY_UDP_PASS)
		return r;
	return REAL_CALL(sendto, fd, buf, n, flags, sa, len);
}

static ssize_t shim_sendto(int fd, const void *buf, size_t n, int flags,
			   const struct sockaddr *sa, socklen_t len)
{
	if (__builtin_expect(sfy_is_pending(fd), 0) &&
	    sfy_pending_io(fd, 1, flags))
		return -1;
	if (__builtin_expect((flags & MSG_FASTOPEN) && sa, 0))
		return fastopen_sendto(fd, buf, n, flags, sa, len);
	/* The cached direct destination is compared in place only when the
	 * bytes passed the kernel's check before on this thread. */
	if (fdt_maybe_udp(fd) ||
	    (sa && !(sfy_mem_known(sa, len) && sfy_udp_direct_cached(sa, len))))
		return udp_sendto(fd, buf, n, flags, sa, len);
	return REAL_CALL(sendto, fd, buf, n, flags, sa, len);
}

static __attribute__((noinline, cold)) ssize_t
fastopen_sendmsg(int fd, const struct msghdr *m, int flags)
{
	struct msghdr c;
	ssize_t r;
	int rc = route_connect(fd, m->msg_name, m->msg_namelen);

	if (rc < 0)
		return -1;
	if (rc == 1) {
		r = sfy_udp_send(fd, m, flags, 0);
		return r != SFY_UDP_PASS ? r : REAL_CALL(sendmsg, fd, m, flags);
	}
	c = *m;
	c.msg_name = NULL;
	c.msg_namelen = 0;
	return REAL_CALL(sendmsg, fd, &c, flags & ~MSG_FASTOPEN);
}

/* The program's msghdr, copied in (a bad pointer: -1, errno as the kernel
 * would set it). */
static int msghdr_in(int fd, const struct msghdr *umsg, struct msghdr *m)
{
	if (sfy_mem_known(umsg, sizeof(*umsg))) {
		*m = *umsg;
		return 0;
	}
	if (sfy_copy_in(m, umsg, sizeof(*m)) == 0)
		return 0;
	errno = sfy_bad_address_errno(fd, 0);
	return -1;
}

static ssize_t shim_sendmsg(int fd, const struct msghdr *umsg, int flags)
{
	struct msghdr m;
	ssize_t r;

	if (__builtin_expect(sfy_is_pending(fd), 0) &&
	    sfy_pending_io(fd, 1, flags))
		return -1;
	if (!umsg)
		return REAL_CALL(sendmsg, fd, umsg, flags); /* EFAULT */
	if (msghdr_in(fd, umsg, &m) < 0)
		return -1;
	if (__builtin_expect((flags & MSG_FASTOPEN) && m.msg_name, 0))
		return fastopen_sendmsg(fd, &m, flags);
	if ((m.msg_name || fdt_maybe_udp(fd)) &&
	    (r = sfy_udp_send(fd, &m, flags, 0)) != SFY_UDP_PASS)
		return r;
	return REAL_CALL(sendmsg, fd, &m, flags);
}

static int udp_sendmmsg(int fd, struct mmsghdr *v, unsigned int n, int flags);

/* sendmmsg applies MSG_FASTOPEN to its messages like sendmsg: the first
 * message's name is where the implicit connect goes.  What is not a
 * proxied TCP connect goes the way of any sendmmsg. */
static __attribute__((noinline, cold)) int
fastopen_sendmmsg(int fd, struct mmsghdr *v, unsigned int n, int flags)
{
	struct mmsghdr first;
	int rc;

	if (sfy_copy_in(&first, v, sizeof(first)) < 0) {
		errno = sfy_bad_address_errno(fd, 0);
		return -1;
	}
	if (!first.msg_hdr.msg_name)
		return udp_sendmmsg(fd, v, n, flags);
	rc = route_connect(fd, first.msg_hdr.msg_name,
			   first.msg_hdr.msg_namelen);
	if (rc < 0)
		return -1;
	if (rc == 1)
		return udp_sendmmsg(fd, v, n, flags);
	/* Connected through the proxy: TCP ignores msg_name without
	 * MSG_FASTOPEN. */
	return REAL_CALL(sendmmsg, fd, v, n, flags & ~MSG_FASTOPEN);
}

/* sendmmsg of datagrams: each message on its own through the relay, as
 * the kernel takes them: a bad message ends the batch (an error only when
 * it is the first). */
static __attribute__((noinline)) int udp_sendmmsg(int fd, struct mmsghdr *v,
						  unsigned int n, int flags)
{
	struct mmsghdr m;
	unsigned int i, sent;
	ssize_t r;

	for (i = 0; i < n; i++) {
		if (sfy_copy_in(&m, &v[i], sizeof(m)) < 0) {
			if (i > 0)
				return (int)i;
			errno = sfy_bad_address_errno(fd, 0);
			return -1;
		}
		r = sfy_udp_send(fd, &m.msg_hdr, flags, 0);
		/* A message that is not ours (a direct destination) goes
		 * alone: the next one may be proxied. */
		if (r == SFY_UDP_PASS)
			r = REAL_CALL(sendmsg, fd, &m.msg_hdr, flags);
		if (r < 0)
			return i > 0 ? (int)i : -1;
		sent = (unsigned int)r;
		if (sfy_copy_out(&v[i].msg_len, &sent, sizeof(sent)) < 0) {
			if (i > 0)
				return (int)i;
			errno = EFAULT;
			return -1;
		}
	}
	return (int)n;
}

/* 1 when any message of the batch carries an address, or when the batch
 * cannot be read as a whole (the per-message path then says where). */
static int any_named(const struct mmsghdr *v, unsigned int n)
{
	unsigned int i;

	if (sfy_mem_readable(v, (size_t)n * sizeof(*v)) < 0)
		return 1;
	for (i = 0; i < n; i++)
		if (v[i].msg_hdr.msg_name)
			return 1;
	return 0;
}

static int shim_sendmmsg(int fd, struct mmsghdr *v, unsigned int n, int flags)
{
	if (__builtin_expect(sfy_is_pending(fd), 0) &&
	    sfy_pending_io(fd, 1, flags))
		return -1;
	if (!v || !n)
		return REAL_CALL(sendmmsg, fd, v, n, flags);
	if (n > SFY_IOV_MAX)
		n = SFY_IOV_MAX; /* the kernel's cap on a batch */
	/* Any message may name a proxied destination, not only the first. */
	if (!(flags & MSG_FASTOPEN) && (fdt_maybe_udp(fd) || any_named(v, n)))
		return udp_sendmmsg(fd, v, n, flags);
	if (__builtin_expect(flags & MSG_FASTOPEN, 0))
		return fastopen_sendmmsg(fd, v, n, flags);
	return REAL_CALL(sendmmsg, fd, v, n, flags);
}

/*
 * socket(): SCTP, raw and packet sockets are refused here, not per
 * destination.  An SCTP association is multi-homed: the peer announces
 * more addresses and the kernel sends to them on its own, so checking the
 * address the program names cannot keep its traffic where the rules say.
 * A raw socket may write its own IP header (IP_HDRINCL, IPPROTO_RAW), with
 * any destination in it; a packet socket needs no destination at all
 * (write() on a bound one sends a frame).  direct_protocols sctp / raw let
 * them be created.
 */
static __attribute__((noinline, cold)) int refused_socket(int dom, int type,
							  int proto)
{
	struct sfy_sock k;
	const struct cfg *c;
	const char *why = NULL;
	int err = EACCES;

	sfy_sock_classify(&k, dom, type & 0xf, proto);
	if (k.carry != SFY_UNCARRIED ||
	    (k.kind != CFG_PROTO_SCTP && k.kind != CFG_PROTO_RAW) || sfy_busy)
		return 0;
	c = sfy_config_err(&why, &err);
	if (!c && err != EACCES) {
		errno = err;
		return 1;
	}
	return sfy_uncarried_check(c, &k, -1, NULL, 0, "socket()") < 0;
}

static __attribute__((noinline, cold)) void stale_fd(int fd)
{
	int saved = errno;

	sfy_async_forget(fd);
	if (fdt_maybe_ours(fd))
		fdt_del(fd);
	errno = saved;
}

/* listen(): a listening socket connects no more (its epoll registrations
 * need no watching); through BIND when the rules say so (bind.h). */
static int shim_listen(int fd, int backlog)
{
	int rc = sfy_bind_listen(fd, backlog), saved;

	if (rc == 0 && sfy_is_fresh(fd)) {
		/* listening through BIND: it connects no more either (a
		 * connect() on it is the kernel's EISCONN, and leaves the
		 * session alone) */
		saved = errno;
		sfy_fresh_clear(fd);
		errno = saved;
	}
	if (rc != 1)
		return rc;
	if (__builtin_expect(sfy_is_fresh(fd), 0)) {
		rc = REAL_CALL(listen, fd, backlog);
		saved = errno;
		if (rc == 0)
			sfy_fresh_clear(fd);
		errno = saved;
		return rc;
	}
	return REAL_CALL(listen, fd, backlog);
}

/*
 * A bind() to an address that is not the machine's, but one that
 * getsockname() showed for a connection through the proxy (an FTP client
 * binds its data socket to its control connection's address: curl -P -):
 * the socket is bound to the wildcard address with the same port
 * instead; a TCP socket then goes through BIND at its first getsockname()
 * or listen(), whose address getsockname() shows.  Returns the bind's result
 * (errno as the kernel set it when the address is not one of ours).
 */
static __attribute__((noinline, cold)) int
bind_reported(int fd, const struct sockaddr *sa, socklen_t len)
{
	struct sockaddr_storage ss, any;
	int saved = errno, fresh = sfy_is_fresh(fd);

	if (sfy_busy || !sa || len < sizeof(sa_family_t) || len > sizeof(ss) ||
	    sfy_copy_in(&ss, sa, len) < 0 ||
	    (ss.ss_family != AF_INET && ss.ss_family != AF_INET6) ||
	    (fresh && ss.ss_family != sfy_fresh_family(fd)) ||
	    len < (ss.ss_family == AF_INET ? sizeof(struct sockaddr_in)
					   : sizeof(struct sockaddr_in6)) ||
	    !fdt_is_bnd_addr(&ss)) {
		errno = saved;
		return -1;
	}
	memset(&any, 0, sizeof(any));
	any.ss_family = ss.ss_family;
	/* sin_port and sin6_port share their offset */
	((struct sockaddr_in *)&any)->sin_port =
	    ((struct sockaddr_in *)&ss)->sin_port;
	sfy_log(SFY_LOG_DEBUG,
		"bind on fd %d: the address is the proxy's (a connection "
		"through it showed it); bound to the wildcard address",
		fd);
	if (REAL_CALL(bind, fd, (struct sockaddr *)&any, len) < 0) {
		errno = saved; /* the kernel's first answer stands */
		return -1;
	}
	/* A TCP socket goes through BIND at its first getsockname() or at
	 * listen() (bind.h), not now: lftp binds its passive data
	 * connections so too, and connects them.  A UDP socket (a SIP
	 * client binding its media socket to the address it learnt from its
	 * TCP connection) is done: its datagrams go through the relay. */
	errno = saved;
	return 0;
}

/* bind(): notes a TCP socket bound to port 0 (the call-back pattern,
 * bind.h). */
static int shim_bind(int fd, const struct sockaddr *sa, socklen_t len)
{
	int rc = REAL_CALL(bind, fd, sa, len), saved, reported = 0;

	if (__builtin_expect(rc < 0 && errno == EADDRNOTAVAIL, 0)) {
		rc = bind_reported(fd, sa, len);
		reported = rc == 0;
	}
	if (rc == 0 && sfy_is_fresh(fd)) {
		saved = errno;
		sfy_bind_note(fd, sa, len, reported);
		errno = saved;
	}
	return rc;
}

/* An fd the kernel just handed out: records of a number closed where we
 * could not see it (fclose, a raw syscall) are stale. */
static inline void new_fd(int fd)
{
	if (__builtin_expect(fdt_maybe_ours(fd) || sfy_async_entry(fd), 0))
		stale_fd(fd);
}

/* accept()/accept4(): a listening socket carried by BIND hands over its
 * one inbound stream (bind.h); any other is the kernel's. */
static int shim_accept4(int fd, struct sockaddr *sa, socklen_t *len, int flags,
			int four)
{
	int nfd;

	if (__builtin_expect(fdt_maybe_ours(fd), 0) && !sfy_busy &&
	    (nfd = sfy_bind_accept(fd, sa, len, flags, four)) != -2)
		return nfd;
	nfd = four ? REAL_CALL(accept4, fd, sa, len, flags)
		   : REAL_CALL(accept, fd, sa, len);
	if (nfd >= 0)
		new_fd(nfd);
	return nfd;
}

/* getsockname(): a connection through the proxy shows the address the
 * proxy reported for its end (BND), when it reported one; a listening
 * socket carried by BIND the proxy's listening address. */
static __attribute__((noinline)) int sockname_ours(int fd, struct sockaddr *sa,
						   socklen_t *len)
{
	struct sfy_fdinfo info;
	int rc;

	if (fdt_get(fd, &info) < 0 || !info.bndlen)
		return 1;
	if (info.kind == SFY_FD_TCP_PROXIED && !same_connection(fd, &info)) {
		fdt_del(fd); /* stale: the fd was closed behind our back */
		return 1;
	}
	rc = sfy_sockaddr_out(sa, len, &info.bnd, info.bndlen);
	if (rc < 0) {
		errno = -rc;
		return -1;
	}
	return 0;
}

static int shim_getsockname(int fd, struct sockaddr *sa, socklen_t *len)
{
	int rc;

	if (__builtin_expect(sfy_is_ephq(fd), 0) && sfy_is_fresh(fd) &&
	    !sfy_busy)
		sfy_bind_sockname(fd);

	if (__builtin_expect(fdt_maybe_ours(fd), 0) && !fdt_maybe_udp(fd) &&
	    !sfy_busy && (rc = sockname_ours(fd, sa, len)) != 1)
		return rc;
	return REAL_CALL(getsockname, fd, sa, len);
}

static int shim_socket(int dom, int type, int proto)
{
	int fd;

	if (__builtin_expect(proto == IPPROTO_SCTP || dom == AF_PACKET ||
				 (type & 0xf) == SOCK_RAW ||
				 (type & 0xf) == SOCK_PACKET,
			     0) &&
	    refused_socket(dom, type, proto))
		return -1;
	fd = REAL_CALL(socket, dom, type, proto);
	/* A TCP socket: its epoll registrations are watched until it
	 * connects (epreg.h).  Any other: a stale mark left by a close we
	 * did not see (fclose, a raw syscall) goes. */
	if (fd < 0)
		return fd;
	/* Records of an fd closed where we could not see it (fclose of an
	 * fdopen'd socket, a raw syscall) are stale now. */
	new_fd(fd);
	if (__builtin_expect(sfy_is_eph(fd) || sfy_is_ephq(fd), 0))
		sfy_eph_clear(fd);
	if ((type & 0xf) == SOCK_STREAM &&
	    (dom == AF_INET || dom == AF_INET6) &&
	    (proto == 0 || proto == IPPROTO_TCP || proto == IPPROTO_MPTCP))
		sfy_fresh_set(fd, dom);
	else if (__builtin_expect(sfy_is_fresh(fd), 0))
		sfy_fresh_clear(fd);
	return fd;
}

/* --- exported hooks ------------------------------------------------------ */

SFY_EXPORT int connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	return shim_connect(fd, sa, len);
}

SFY_EXPORT int getpeername(int fd, struct sockaddr *sa, socklen_t *len)
{
	return shim_getpeername(fd, sa, len);
}

SFY_EXPORT ssize_t sendto(int fd, const void *buf, size_t n, int flags,
			  const struct sockaddr *sa, socklen_t len)
{
	return shim_sendto(fd, buf, n, flags, sa, len);
}

SFY_EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	return shim_sendmsg(fd, msg, flags);
}

SFY_EXPORT int sendmmsg(int fd, struct mmsghdr *v, unsigned int n, int flags)
{
	return shim_sendmmsg(fd, v, n, flags);
}

SFY_EXPORT int socket(int dom, int type, int proto)
{
	return shim_socket(dom, type, proto);
}

SFY_EXPORT int listen(int fd, int backlog)
{
	return shim_listen(fd, backlog);
}

SFY_EXPORT int bind(int fd, const struct sockaddr *sa, socklen_t len)
{
	return shim_bind(fd, sa, len);
}

SFY_EXPORT int accept(int fd, struct sockaddr *sa, socklen_t *len)
{
	return shim_accept4(fd, sa, len, 0, 0);
}

SFY_EXPORT int accept4(int fd, struct sockaddr *sa, socklen_t *len, int flags)
{
	return shim_accept4(fd, sa, len, flags, 1);
}

SFY_EXPORT int getsockname(int fd, struct sockaddr *sa, socklen_t *len)
{
	return shim_getsockname(fd, sa, len);
}
