/*
 * hook_tcp.c - outbound TCP: connect(), getpeername(), and the implicit
 * connect of TCP Fast Open (sendto/sendmsg with MSG_FASTOPEN).
 *
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

#include "config.h"
#include "fdtable.h"
#include "log.h"
#include "proxy.h"
#include "real.h"
#include "resolve.h"
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
	int family;		    /* the socket's */
	struct sockaddr_storage sa; /* normalised, as the program gave it */
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

/* The route for a rule's action; direct is what a direct rule means here.
 * A refusal is logged and sets errno. */
static enum route route_of(enum cfg_action act, enum route direct,
			   const struct dest *d)
{
	switch (act) {
	case CFG_DIRECT:
		return direct;
	case CFG_REFUSE:
		sfy_log(
		    SFY_LOG_ERROR,
		    "connect to %s refused by a 'route refuse' rule (EACCES)",
		    d->desc);
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

	/* sin_port and sin6_port share their offset. */
	snprintf(d->desc, sizeof(d->desc), "%s:%u", name, port);
	if (s5_addr_domain(&d->s5, name, port) < 0) {
		sfy_log(SFY_LOG_ERROR, "connect to %s: bad name (EHOSTUNREACH)",
			d->desc);
		errno = EHOSTUNREACH;
		return ROUTE_FAIL;
	}
	return route_of(cfg_match_name(c, name, port), ROUTE_DIRECT_NAME, d);
}

/*
 * Decides the route for fd connecting to sa.  Only TCP sockets of family
 * AF_INET/AF_INET6 connecting to an address of their own family are ours;
 * everything else (Unix sockets, UDP until it is carried, malformed
 * arguments that the kernel rejects with its own errno) passes.  For ours,
 * d gets the normalised destination and what to ask the proxy for.
 */
static enum route classify(int fd, const struct sockaddr *sa, socklen_t len,
			   struct dest *d)
{
	const struct cfg *c;
	const char *why = NULL;
	char name[DNS_MAX_NAME + 1];
	int dom, proto, nr;
	socklen_t olen;

	/* Lengths the kernel rejects (EINVAL) are left for it to reject. */
	if (sfy_busy || !sa || len < sizeof(sa_family_t) ||
	    len > sizeof(struct sockaddr_storage))
		return ROUTE_PASS;
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
	olen = sizeof(dom);
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &dom, &olen) == 0) {
		olen = sizeof(proto);
		if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &olen) < 0)
			goto uninspectable;
	} else if (errno == EBADF || errno == ENOTSOCK) {
		return ROUTE_PASS; /* the real call gives the same errno */
	} else {
		goto uninspectable;
	}
	if (dom != sa->sa_family ||
	    (proto != IPPROTO_TCP && proto != IPPROTO_MPTCP))
		return ROUTE_PASS;
	d->family = dom;
	d->salen = normalize(sa, len, &d->sa);
	sfy_fmt_addr((struct sockaddr *)&d->sa, d->salen, d->desc,
		     sizeof(d->desc));

	c = sfy_config(&why);
	if (!c) {
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
	/* An address libc resolved for a `route direct` name: that name's
	 * rule decides, with its ports; else the address rules do. */
	if (sfy_direct_name((struct sockaddr *)&d->sa, d->salen, name,
			    sizeof(name)) &&
	    cfg_match_name(c, name,
			   ntohs(((struct sockaddr_in *)&d->sa)->sin_port)) ==
		CFG_DIRECT)
		return ROUTE_DIRECT;
	return route_of(cfg_match(c, (struct sockaddr *)&d->sa, d->salen),
			ROUTE_DIRECT, d);

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
	sfy_busy++;
	rc = r->getaddrinfo(d->s5.u.domain.name, port, &hints, &res);
	sfy_busy--;
	if (rc != 0) {
		sfy_log(SFY_LOG_ERROR,
			"connect to %s (a 'route direct' name): cannot resolve "
			"it locally: %s (EHOSTUNREACH)",
			d->desc, gai_strerror(rc));
		errno = EHOSTUNREACH;
		return -1;
	}
	rc = REAL_CALL(connect, fd, res->ai_addr, res->ai_addrlen);
	r->freeaddrinfo(res);
	return rc;
}

/* Connects through the proxy and records the peer.  Returns 0 or -1. */
static int proxy_connect(int fd, const struct dest *d)
{
	struct sfy_fdinfo info;
	int rc = sfy_tcp_connect(fd, d->family, &d->s5, d->desc);

	if (rc < 0) {
		errno = -rc;
		return -1;
	}
	memset(&info, 0, sizeof(info));
	info.kind = SFY_FD_TCP_PROXIED;
	memcpy(&info.peer, &d->sa, d->salen);
	info.peerlen = d->salen;
	info.locallen = sizeof(info.local);
	if (getsockname(fd, (struct sockaddr *)&info.local, &info.locallen) < 0)
		info.locallen = 0;
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
static int route_connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	struct dest d;
	int saved = errno, rc;

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

static int shim_connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	int rc = route_connect(fd, sa, len);

	/* Not a proxied TCP connect: perhaps a UDP socket's peer. */
	if (rc == 1 && !sfy_busy)
		rc = sfy_udp_connect(fd, sa, len);
	return rc == 1 || rc == SFY_UDP_PASS ? REAL_CALL(connect, fd, sa, len)
					     : rc;
}

/* 1 when fd still holds the connection info was recorded for. */
static int same_connection(int fd, const struct sfy_fdinfo *info)
{
	struct sockaddr_storage local;
	socklen_t llen = sizeof(local);

	if (getsockname(fd, (struct sockaddr *)&local, &llen) < 0)
		return 0;
	return info->locallen != 0 && llen == info->locallen &&
	       memcmp(&local, &info->local, llen) == 0;
}

static int shim_getpeername(int fd, struct sockaddr *sa, socklen_t *len)
{
	struct sfy_fdinfo info;

	if (!fdt_maybe_ours(fd) || fdt_get(fd, &info) < 0 ||
	    (info.kind == SFY_FD_UDP && !info.connected))
		return REAL_CALL(getpeername, fd, sa, len);
	if (info.kind != SFY_FD_UDP && !same_connection(fd, &info)) {
		fdt_del(fd); /* stale: the fd was closed behind our back */
		return REAL_CALL(getpeername, fd, sa, len);
	}
	if (!sa || !len) {
		errno = EFAULT;
		return -1;
	}
	/* getpeername(2): the result is truncated to *len, and *len is set
	 * to the real size. */
	memcpy(sa, &info.peer, *len < info.peerlen ? *len : info.peerlen);
	*len = info.peerlen;
	return 0;
}

/*
 * MSG_FASTOPEN on an unconnected TCP socket connects implicitly (tcp(7)).
 * For a proxied destination we connect through the proxy first and then
 * send normally: the data goes after the handshake instead of in the SYN,
 * but nothing goes out directly.
 */

/* The MSG_FASTOPEN path of sendto, kept out of line so that the common
 * path of the hook is a flag test and a tail call. */
static __attribute__((noinline, cold)) ssize_t
fastopen_sendto(int fd, const void *buf, size_t n, int flags,
		const struct sockaddr *sa, socklen_t len)
{
	int rc = route_connect(fd, sa, len);

	if (rc < 0)
		return -1;
	if (rc == 0)
		return REAL_CALL(send, fd, buf, n, flags & ~MSG_FASTOPEN);
	return REAL_CALL(sendto, fd, buf, n, flags, sa, len);
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
	r = sfy_udp_send(fd, &m, flags);
	if (r != SFY_UDP_PASS)
		return r;
	return REAL_CALL(sendto, fd, buf, n, flags, sa, len);
}

static ssize_t shim_sendto(int fd, const void *buf, size_t n, int flags,
			   const struct sockaddr *sa, socklen_t len)
{
	if (__builtin_expect((flags & MSG_FASTOPEN) && sa, 0))
		return fastopen_sendto(fd, buf, n, flags, sa, len);
	if (fdt_maybe_udp(fd) || (sa && !sfy_udp_direct_cached(sa, len)))
		return udp_sendto(fd, buf, n, flags, sa, len);
	return REAL_CALL(sendto, fd, buf, n, flags, sa, len);
}

static __attribute__((noinline, cold)) ssize_t
fastopen_sendmsg(int fd, const struct msghdr *msg, int flags)
{
	struct msghdr m;
	int rc = route_connect(fd, msg->msg_name, msg->msg_namelen);

	if (rc < 0)
		return -1;
	if (rc == 1)
		return REAL_CALL(sendmsg, fd, msg, flags);
	m = *msg;
	m.msg_name = NULL;
	m.msg_namelen = 0;
	return REAL_CALL(sendmsg, fd, &m, flags & ~MSG_FASTOPEN);
}

static ssize_t shim_sendmsg(int fd, const struct msghdr *msg, int flags)
{
	ssize_t r;

	if (__builtin_expect((flags & MSG_FASTOPEN) && msg && msg->msg_name, 0))
		return fastopen_sendmsg(fd, msg, flags);
	if (msg && (msg->msg_name || fdt_maybe_udp(fd)) &&
	    (r = sfy_udp_send(fd, msg, flags)) != SFY_UDP_PASS)
		return r;
	return REAL_CALL(sendmsg, fd, msg, flags);
}

/* sendmmsg applies MSG_FASTOPEN to its messages like sendmsg: the first
 * message's name is where the implicit connect goes. */
static __attribute__((noinline, cold)) int
fastopen_sendmmsg(int fd, struct mmsghdr *v, unsigned int n, int flags)
{
	int rc =
	    route_connect(fd, v[0].msg_hdr.msg_name, v[0].msg_hdr.msg_namelen);

	if (rc < 0)
		return -1;
	if (rc == 1)
		return REAL_CALL(sendmmsg, fd, v, n, flags);
	/* Connected through the proxy: TCP ignores msg_name without
	 * MSG_FASTOPEN. */
	return REAL_CALL(sendmmsg, fd, v, n, flags & ~MSG_FASTOPEN);
}

/* sendmmsg of datagrams: each message on its own through the relay. */
static __attribute__((noinline)) int udp_sendmmsg(int fd, struct mmsghdr *v,
						  unsigned int n, int flags)
{
	unsigned int i;
	ssize_t r;

	for (i = 0; i < n; i++) {
		r = sfy_udp_send(fd, &v[i].msg_hdr, flags);
		/* A message that is not ours (a direct destination) goes
		 * alone: the next one may be proxied. */
		if (r == SFY_UDP_PASS)
			r = REAL_CALL(sendmsg, fd, &v[i].msg_hdr, flags);
		if (r < 0)
			return i > 0 ? (int)i : -1;
		v[i].msg_len = (unsigned int)r;
	}
	return (int)n;
}

/* 1 when any message of the batch carries an address. */
static int any_named(const struct mmsghdr *v, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (v[i].msg_hdr.msg_name)
			return 1;
	return 0;
}

static int shim_sendmmsg(int fd, struct mmsghdr *v, unsigned int n, int flags)
{
	/* Any message may name a proxied destination, not only the first. */
	if (!(flags & MSG_FASTOPEN) && v && n &&
	    (fdt_maybe_udp(fd) || any_named(v, n)))
		return udp_sendmmsg(fd, v, n, flags);
	if (__builtin_expect(
		(flags & MSG_FASTOPEN) && v && n && v[0].msg_hdr.msg_name, 0))
		return fastopen_sendmmsg(fd, v, n, flags);
	return REAL_CALL(sendmmsg, fd, v, n, flags);
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
