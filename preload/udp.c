/*
 * udp.c - UDP associations: set-up, datagram wrapping and unwrapping.
 */
#include "udp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "config.h"
#include "fdtable.h"
#include "log.h"
#include "names.h"
#include "proxy.h"
#include "real.h"
#include "resolve.h"
#include "socks5.h"

/* Control connections live at or above this fd number when the limit
 * allows: out of the way of programs that assume small fds are theirs. */
#define CTL_FD_BASE  512
#define RECENT_NAMES 8
#define MAX_IOV	     64

struct recent_name {
	uint16_t port;		    /* 0: unused */
	struct sockaddr_storage ph; /* the placeholder the program used */
	socklen_t phlen;
};

struct assoc {
	atomic_int refs;
	pthread_mutex_t lock;
	int ctl; /* control connection, -1 once known dead */
	struct sockaddr_storage relay; /* in the UDP socket's family */
	socklen_t relaylen;
	/* Destinations given by name: a reply comes from the name's real
	 * address, which the program never saw; it is shown the placeholder
	 * it sent to (matched by port). */
	struct recent_name recent[RECENT_NAMES];
	unsigned int recent_next;
	atomic_llong checked_ms; /* when the control connection last stood */
};

/* --- fds of our own --------------------------------------------------------
 */

_Atomic unsigned long sfy_own_bits[FDT_BITMAP_FDS / FDT_WORD_BITS];
atomic_uint sfy_own_count;
__thread struct sfy_last_direct sfy_last_direct
    __attribute__((tls_model("initial-exec")));

static void own(int fd, int on)
{
	unsigned int u = (unsigned int)fd;
	unsigned long bit = 1ul << (u % FDT_WORD_BITS);

	if (fd < 0 || u >= FDT_BITMAP_FDS)
		return;
	if (on) {
		atomic_fetch_or(&sfy_own_bits[u / FDT_WORD_BITS], bit);
		atomic_fetch_add(&sfy_own_count, 1);
	} else {
		atomic_fetch_and(&sfy_own_bits[u / FDT_WORD_BITS], ~bit);
		atomic_fetch_sub(&sfy_own_count, 1);
	}
}

/* --- associations ----------------------------------------------------------
 */

static void assoc_hold(void *p)
{
	atomic_fetch_add(&((struct assoc *)p)->refs, 1);
}

static void assoc_release(void *p)
{
	struct assoc *a = p;

	if (atomic_fetch_sub(&a->refs, 1) != 1)
		return;
	if (a->ctl >= 0) {
		own(a->ctl, 0);
		sfy_real()->close(a->ctl);
	}
	pthread_mutex_destroy(&a->lock);
	free(a);
}

static pthread_once_t hooks_once = PTHREAD_ONCE_INIT;

static void install_hooks(void)
{
	fdt_set_assoc_hooks(assoc_hold, assoc_release);
}

/* Moves a fresh fd of ours up, out of the program's way. */
static int lift_fd(int fd)
{
	struct rlimit rl;
	int hi;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 ||
	    rl.rlim_cur <= CTL_FD_BASE + 64)
		return fd;
	hi = sfy_real()->fcntl(fd, F_DUPFD_CLOEXEC, CTL_FD_BASE);
	if (hi < 0)
		return fd;
	sfy_real()->close(fd);
	return hi;
}

/* The address to send to for relay bnd from a socket of family fam; an
 * all-zero BND.ADDR means the proxy's own address (the control peer). */
static int relay_addr(int ctl, int fam, const struct s5_addr *bnd,
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
		if (getpeername(ctl, (struct sockaddr *)&ss, &pl) < 0)
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
		struct sockaddr_in6 *o = (struct sockaddr_in6 *)out;
		struct sockaddr_in *i = (struct sockaddr_in *)&ss;

		o->sin6_family = AF_INET6;
		o->sin6_port = i->sin_port;
		o->sin6_addr.s6_addr[10] = 0xff;
		o->sin6_addr.s6_addr[11] = 0xff;
		memcpy(&o->sin6_addr.s6_addr[12], &i->sin_addr, 4);
		*outlen = sizeof(*o);
		return 0;
	}
	return -ENETUNREACH; /* an IPv6 relay for an IPv4 socket */
}

/* Binds an unbound UDP socket as its first send would, so that the
 * association can name the port it sends from. */
static int ensure_bound(int fd, int fam, uint16_t *port)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
		return -errno;
	*port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (*port)
		return 0;
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = (sa_family_t)fam;
	if (bind(fd, (struct sockaddr *)&ss,
		 fam == AF_INET ? sizeof(struct sockaddr_in)
				: sizeof(struct sockaddr_in6)) < 0)
		return -errno;
	sl = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
		return -errno;
	*port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return 0;
}

/* Sets up an association for UDP socket fd (family fam).  Returns it with
 * one reference, or NULL with errno set (logged). */
static struct assoc *assoc_create(int fd, int fam, const char *desc)
{
	struct s5_addr req, bnd;
	struct assoc *a;
	uint16_t port = 0;
	int has4 = 0, has6 = 0, cfam, ctl, rc;
	char what[SFY_ADDRSTRLEN + DNS_MAX_NAME + 48];

	pthread_once(&hooks_once, install_hooks);
	rc = ensure_bound(fd, fam, &port);
	if (rc == 0)
		rc = sfy_proxy_families(&has4, &has6);
	if (rc < 0) {
		errno = -rc;
		return NULL;
	}
	cfam = has4 ? AF_INET : AF_INET6;
	ctl = socket(cfam, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (ctl < 0)
		return NULL;
	ctl = lift_fd(ctl);
	own(ctl, 1);
	/* RFC 1928 section 7: the address the client will send from; the
	 * port is what the relay can check, the address may be zero. */
	memset(&req, 0, sizeof(req));
	/* In the control connection's family: the relay address danted
	 * hands back follows it (an IPv6-only client needs an IPv6 relay). */
	req.atyp = cfam == AF_INET6 ? S5_ATYP_IPV6 : S5_ATYP_IPV4;
	req.port = port;
	snprintf(what, sizeof(what), "%s", desc);
	rc = sfy_socks_request(ctl, cfam, S5_CMD_UDP_ASSOCIATE, &req, what,
			       &bnd);
	a = rc < 0 ? NULL : calloc(1, sizeof(*a));
	if (a) {
		rc = relay_addr(ctl, fam, &bnd, &a->relay, &a->relaylen);
		if (rc < 0) {
			sfy_log(SFY_LOG_ERROR,
				"%s: unusable relay address in the UDP "
				"ASSOCIATE reply (%s)",
				what, strerrorname_np(-rc));
			free(a);
			a = NULL;
		}
	} else if (rc >= 0) {
		rc = -ENOMEM;
	}
	if (!a) {
		own(ctl, 0);
		sfy_real()->close(ctl);
		errno = -rc;
		return NULL;
	}
	atomic_init(&a->refs, 1);
	pthread_mutex_init(&a->lock, NULL);
	a->ctl = ctl;
	return a;
}

/* 1 while the control connection stands (RFC 1928 section 7: the
 * association ends with it). */
static int ctl_check(struct assoc *a)
{
	struct pollfd p = {.fd = a->ctl, .events = POLLIN};
	char b[64];
	ssize_t n;

	if (a->ctl < 0)
		return 0;
	if (sfy_real()->poll(&p, 1, 0) <= 0)
		return 1;
	/* Nothing is due on it: bytes are discarded (so a wait does not
	 * wake for them again), end of file or an error end it. */
	n = sfy_real()->recv(a->ctl, b, sizeof(b), MSG_DONTWAIT);
	return n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR));
}

/* ctl_check at most every 200 ms on the send path: a datagram sent to a
 * relay that just went away is lost, as UDP may lose it anyway, and the
 * steady state pays no syscall for the check. */
static int ctl_alive(struct assoc *a)
{
	long long now = sfy_now_ms();

	if (now - atomic_load_explicit(&a->checked_ms, memory_order_relaxed) <
	    200)
		return 1;
	if (!ctl_check(a))
		return 0;
	atomic_store_explicit(&a->checked_ms, now, memory_order_relaxed);
	return 1;
}

/* --- routing ---------------------------------------------------------------
 */

/*
 * Where a datagram to sa goes.  Returns 1 (proxy: *dst and desc set), 0
 * (not ours: direct by rule, not a UDP socket...), or -1 with errno (a
 * refusal or a broken config; logged).  Direct destinations are decided
 * before any syscall.
 */
/* Remembers sa as the last destination this thread found direct. */
static void remember_direct(const struct sockaddr *sa)
{
	struct sfy_last_direct *d = &sfy_last_direct;

	d->valid = 0;
	d->family = sa->sa_family;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;

		d->port = s4->sin_port;
		memcpy(d->addr, &s4->sin_addr, 4);
	} else {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

		d->port = s6->sin6_port;
		memcpy(d->addr, &s6->sin6_addr, 16);
	}
	d->valid = 1;
}

static int udp_route(int fd, const struct sockaddr *sa, socklen_t len,
		     int known_fam, int *fam, struct s5_addr *dst,
		     struct sockaddr_storage *norm, socklen_t *normlen,
		     char *desc, size_t cap)
{
	const struct cfg *c;
	const char *why = NULL;
	char name[DNS_MAX_NAME + 1];
	enum cfg_action act;
	int dom, proto, nr;
	socklen_t olen;
	uint16_t port;

	if (sfy_busy || !sa || len < sizeof(sa_family_t) ||
	    len > sizeof(struct sockaddr_storage) ||
	    (sa->sa_family == AF_INET && len < sizeof(struct sockaddr_in)) ||
	    (sa->sa_family == AF_INET6 &&
	     len < offsetof(struct sockaddr_in6, sin6_scope_id)) ||
	    (sa->sa_family != AF_INET && sa->sa_family != AF_INET6))
		return 0;
	if (sfy_udp_direct_cached(sa, len))
		return 0;
	c = sfy_config(&why);
	memset(norm, 0, sizeof(*norm));
	memcpy(norm, sa, len);
	*normlen = sa->sa_family == AF_INET ? sizeof(struct sockaddr_in)
					    : sizeof(struct sockaddr_in6);
	port = ntohs(((struct sockaddr_in *)norm)->sin_port);
	nr = c ? sfy_placeholder_name(c, (struct sockaddr *)norm, *normlen,
				      name, sizeof(name))
	       : -EAFNOSUPPORT;
	if (!c)
		act = CFG_PROXY; /* judged below, once we know it is UDP */
	else if (nr > 0)
		act = cfg_match_name(c, name, port);
	else
		act = cfg_match(c, (struct sockaddr *)norm, *normlen);
	/* Direct by address, and no placeholder of a name we no longer
	 * know (that one fails closed below, whatever the rules say). */
	if (act == CFG_DIRECT && nr == -EAFNOSUPPORT) {
		remember_direct(sa);
		return 0;
	}
	if (known_fam) {
		dom = known_fam; /* a socket with an association is UDP */
	} else {
		olen = sizeof(dom);
		if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &dom, &olen) < 0) {
			if (errno == EBADF || errno == ENOTSOCK)
				return 0; /* the real call says the same */
			/* A socket we may not inspect could be UDP to a
			 * proxied destination: fail closed. */
			sfy_log(SFY_LOG_ERROR,
				"datagram on fd %d refused: cannot inspect the "
				"socket (%s) (EACCES)",
				fd, strerrorname_np(errno));
			errno = EACCES;
			return -1;
		}
		olen = sizeof(proto);
		if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &olen) <
			0 ||
		    proto != IPPROTO_UDP)
			return 0;
	}
	/* An IPv6 socket may send to an IPv4 address (the kernel maps it);
	 * the other way round the kernel refuses, so let it. */
	if (dom != sa->sa_family &&
	    !(dom == AF_INET6 && sa->sa_family == AF_INET))
		return 0;
	*fam = dom;
	desc[0] = '\0';
	if (!c || nr == -ENOENT || act != CFG_PROXY || nr > 0)
		sfy_fmt_addr((struct sockaddr *)norm, *normlen, desc, cap);
	if (!c) {
		sfy_log(SFY_LOG_ERROR,
			"datagram to %s refused: configuration error: %s "
			"(EACCES)",
			desc, why);
		errno = EACCES;
		return -1;
	}
	if (nr == -ENOENT) {
		sfy_log(SFY_LOG_ERROR,
			"datagram to %s: a placeholder address that stands "
			"for no name (EHOSTUNREACH)",
			desc);
		errno = EHOSTUNREACH;
		return -1;
	}
	if (nr > 0) {
		snprintf(desc, cap, "%s:%u", name, port);
		if (s5_addr_domain(dst, name, port) < 0) {
			errno = EHOSTUNREACH;
			return -1;
		}
	} else {
		(void)s5_addr_from_sockaddr(dst, (struct sockaddr *)norm,
					    *normlen);
	}
	if (act == CFG_REFUSE) {
		sfy_log(SFY_LOG_ERROR,
			"datagram to %s refused by a 'route refuse' rule "
			"(EACCES)",
			desc);
		errno = EACCES;
		return -1;
	}
	if (act == CFG_DIRECT) {
		/* A placeholder name that a rule sends direct: UDP has no
		 * connect step to resolve it in; refuse clearly. */
		sfy_log(SFY_LOG_ERROR,
			"datagram to %s: a 'route direct' name reached by "
			"placeholder cannot go direct over UDP (EHOSTUNREACH)",
			desc);
		errno = EHOSTUNREACH;
		return -1;
	}
	return 1;
}

/*
 * Whether the kernel socket is connected to the relay for a connected
 * program socket.  Not when the relay is a v4-mapped address: connecting an
 * IPv6 socket to one turns it into an IPv4 socket for good, and the program
 * could no longer connect it to an IPv6 peer.  Such sockets send with the
 * relay's address every time (receives are filtered by sender anyway).
 */
static int kernel_connects(const struct assoc *a)
{
	const struct sockaddr_in6 *r6 = (const struct sockaddr_in6 *)&a->relay;

	return a->relay.ss_family != AF_INET6 ||
	       !IN6_IS_ADDR_V4MAPPED(&r6->sin6_addr);
}

/* Gets fd's association (creating or renewing it).  On success *info
 * holds the record.  Returns 0 or -1 with errno. */
static int get_assoc(int fd, int fam, const char *desc,
		     const struct sockaddr_storage *norm, socklen_t normlen,
		     struct sfy_fdinfo *info)
{
	struct assoc *a, *old = NULL;
	struct sfy_fdinfo fresh;
	char dbuf[SFY_ADDRSTRLEN];

	if (fdt_maybe_ours(fd) && fdt_get(fd, info) == 0 &&
	    info->kind == SFY_FD_UDP) {
		old = info->assoc;
		if (ctl_alive(old))
			return 0;
		sfy_log(SFY_LOG_WARN,
			"UDP association for fd %d ended (proxy restarted?): "
			"setting up a new one",
			fd);
	} else {
		memset(info, 0, sizeof(*info));
		info->kind = SFY_FD_UDP;
	}
	/* Only now is a description worth formatting (a log line). */
	if (!desc[0] && norm) {
		sfy_fmt_addr((const struct sockaddr *)norm, normlen, dbuf,
			     sizeof(dbuf));
		desc = dbuf;
	}
	a = assoc_create(fd, fam, desc);
	if (!a) {
		if (old)
			errno = ENETRESET;
		return -1;
	}
	fresh = *info;
	fresh.assoc = a;
	if (fdt_set(fd, &fresh) < 0) {
		assoc_release(a);
		errno = ENOMEM;
		return -1;
	}
	assoc_release(a); /* the table holds it now */
	if (fresh.connected && kernel_connects(a) &&
	    sfy_real()->connect(fd, (struct sockaddr *)&a->relay, a->relaylen) <
		0)
		return -1;
	*info = fresh;
	return 0;
}

/* --- datagrams -------------------------------------------------------------
 */

static void remember_name(struct assoc *a, const struct s5_addr *dst,
			  const struct sockaddr_storage *ph, socklen_t phlen)
{
	unsigned int i;

	if (dst->atyp != S5_ATYP_DOMAIN)
		return;
	pthread_mutex_lock(&a->lock);
	for (i = 0; i < RECENT_NAMES; i++)
		if (a->recent[i].port == dst->port &&
		    a->recent[i].phlen == phlen &&
		    memcmp(&a->recent[i].ph, ph, phlen) == 0)
			goto out;
	i = a->recent_next++ % RECENT_NAMES;
	a->recent[i].port = dst->port;
	a->recent[i].ph = *ph;
	a->recent[i].phlen = phlen;
out:
	pthread_mutex_unlock(&a->lock);
}

ssize_t sfy_udp_send(int fd, const struct msghdr *msg, int flags)
{
	struct sfy_fdinfo info;
	struct s5_addr dst;
	struct sockaddr_storage norm;
	socklen_t normlen = 0;
	struct iovec iov[MAX_IOV + 1];
	struct msghdr m;
	uint8_t hdr[S5_MAX_UDP_HEADER];
	char desc[SFY_ADDRSTRLEN + DNS_MAX_NAME + 8];
	struct assoc *a;
	ssize_t hlen, n;
	int fam = 0, r, saved = errno;

	int have = fdt_maybe_udp(fd) && fdt_get(fd, &info) == 0 &&
		   info.kind == SFY_FD_UDP;
	struct msghdr fixed;
	struct sockaddr_in as4;

	desc[0] = '\0';
	if (msg->msg_name &&
	    (msg->msg_namelen == 0 ||
	     ((const struct sockaddr *)msg->msg_name)->sa_family ==
		 AF_UNSPEC)) {
		/* What the kernel makes of these: no address at all (an
		 * empty name; AF_UNSPEC on an IPv6 socket), or, on an IPv4
		 * socket, AF_UNSPEC read as AF_INET (udp_sendmsg). */
		int dom = 0;
		socklen_t ol = sizeof(dom);

		fixed = *msg;
		if (msg->msg_namelen >= sizeof(as4) &&
		    getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &dom, &ol) == 0 &&
		    dom == AF_INET) {
			memcpy(&as4, msg->msg_name, sizeof(as4));
			as4.sin_family = AF_INET;
			fixed.msg_name = &as4;
			fixed.msg_namelen = sizeof(as4);
		} else {
			fixed.msg_name = NULL;
			fixed.msg_namelen = 0;
		}
		msg = &fixed;
	}
	if (msg->msg_name) {
		/* A socket with an association is known to be UDP, of the
		 * family its relay address is kept in. */
		r = udp_route(
		    fd, msg->msg_name, msg->msg_namelen,
		    have ? ((struct assoc *)info.assoc)->relay.ss_family : 0,
		    &fam, &dst, &norm, &normlen, desc, sizeof(desc));
		if (r <= 0)
			return r < 0 ? -1 : SFY_UDP_PASS;
		if ((!have || !ctl_alive(info.assoc)) &&
		    get_assoc(fd, fam, desc, &norm, normlen, &info) < 0)
			return -1;
	} else {
		if (!have || !info.connected)
			return SFY_UDP_PASS;
		dst = info.dst;
		norm = info.peer;
		normlen = info.peerlen;
		if (!ctl_alive(info.assoc) &&
		    get_assoc(fd, ((struct assoc *)info.assoc)->relay.ss_family,
			      desc, &norm, normlen, &info) < 0)
			return -1;
	}
	if (msg->msg_iovlen > MAX_IOV) {
		errno = EMSGSIZE;
		return -1;
	}
	a = info.assoc;
	hlen = s5_encode_udp_header(hdr, sizeof(hdr), 0, &dst);
	if (hlen < 0) {
		errno = EINVAL;
		return -1;
	}
	remember_name(a, &dst, &norm, normlen);
	/* The header in front, the program's buffers as they are. */
	iov[0].iov_base = hdr;
	iov[0].iov_len = (size_t)hlen;
	if (msg->msg_iovlen)
		memcpy(iov + 1, msg->msg_iov,
		       msg->msg_iovlen * sizeof(struct iovec));
	m = *msg;
	m.msg_iov = iov;
	m.msg_iovlen = msg->msg_iovlen + 1;
	if (info.connected && kernel_connects(a)) {
		m.msg_name = NULL;
		m.msg_namelen = 0;
	} else {
		m.msg_name = &a->relay;
		m.msg_namelen = a->relaylen;
	}
	n = REAL_CALL(sendmsg, fd, &m, flags);
	if (n < 0)
		return -1;
	errno = saved;
	return n >= hlen ? n - hlen : 0;
}

static int same_sockaddr(const struct sockaddr_storage *a, socklen_t al,
			 const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a,
					 *y = (const void *)b;

		return x->sin_port == y->sin_port &&
		       x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	(void)al;
	{
		const struct sockaddr_in6 *x = (const void *)a,
					  *y = (const void *)b;

		return x->sin6_port == y->sin6_port &&
		       memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0;
	}
}

/* The sender the program sees, in its socket's family.  Returns its
 * length, or 0 when it cannot be shown (then the datagram is dropped). */
static socklen_t sender_for(struct assoc *a, int fam, const struct s5_addr *src,
			    struct sockaddr_storage *out)
{
	size_t sl = sizeof(*out);
	unsigned int i;

	memset(out, 0, sizeof(*out));
	if (src->atyp == S5_ATYP_DOMAIN ||
	    s5_addr_to_sockaddr(src, (struct sockaddr *)out, &sl) < 0)
		return 0;
	/* A reply from a name's real address: show the placeholder the
	 * program sent to, when exactly one recent name matches the port. */
	pthread_mutex_lock(&a->lock);
	{
		int hit = -1, hits = 0;

		for (i = 0; i < RECENT_NAMES; i++)
			if (a->recent[i].port == src->port &&
			    a->recent[i].phlen) {
				hit = (int)i;
				hits++;
			}
		if (hits == 1) {
			*out = a->recent[hit].ph;
			sl = a->recent[hit].phlen;
			pthread_mutex_unlock(&a->lock);
			return (socklen_t)sl;
		}
	}
	pthread_mutex_unlock(&a->lock);
	if (out->ss_family == fam)
		return (socklen_t)sl;
	if (fam == AF_INET6 && out->ss_family == AF_INET) {
		struct sockaddr_in i4 = *(struct sockaddr_in *)out;
		struct sockaddr_in6 *o = (struct sockaddr_in6 *)out;

		memset(out, 0, sizeof(*out));
		o->sin6_family = AF_INET6;
		o->sin6_port = i4.sin_port;
		o->sin6_addr.s6_addr[10] = 0xff;
		o->sin6_addr.s6_addr[11] = 0xff;
		memcpy(&o->sin6_addr.s6_addr[12], &i4.sin_addr, 4);
		return sizeof(*o);
	}
	return 0; /* an IPv6 sender for an IPv4 socket */
}

/* 1 when a datagram from src is one the rules send direct. */
static int from_direct_peer(const struct sockaddr_storage *src, socklen_t sl)
{
	const struct cfg *c = sfy_config(NULL);

	return c &&
	       cfg_match(c, (const struct sockaddr *)src, sl) == CFG_DIRECT;
}

/*
 * Waits, as a blocking receive on fd would, for a datagram; and for the
 * end of the association: a program blocked in a receive must not hang on
 * once the proxy is gone.  Honours O_NONBLOCK and SO_RCVTIMEO.  Returns 0
 * when something may be readable, -1 with errno (EAGAIN, ECONNREFUSED).
 */
static int wait_datagram(int fd, struct assoc *a)
{
	struct pollfd p[2] = {{.fd = fd, .events = POLLIN},
			      {.fd = a->ctl, .events = POLLIN}};
	struct timeval tv;
	socklen_t tl = sizeof(tv);
	int fl = sfy_real()->fcntl(fd, F_GETFL), ms = -1, rc;

	if (fl >= 0 && (fl & O_NONBLOCK)) {
		errno = EAGAIN;
		return -1;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, &tl) == 0 &&
	    (tv.tv_sec || tv.tv_usec))
		ms = (int)(tv.tv_sec * 1000 + (tv.tv_usec + 999) / 1000);
	rc = sfy_real()->poll(p, a->ctl >= 0 ? 2 : 1, ms);
	if (rc < 0)
		return -1;
	if (rc == 0) {
		errno = EAGAIN; /* SO_RCVTIMEO ran out */
		return -1;
	}
	if (p[0].revents)
		return 0;
	if (!ctl_check(a)) {
		sfy_log(SFY_LOG_ERROR,
			"UDP receive on fd %d: the proxy ended the association "
			"(ECONNREFUSED)",
			fd);
		errno = ECONNREFUSED;
		return -1;
	}
	return 0;
}

ssize_t sfy_udp_recv(int fd, struct msghdr *msg, int flags)
{
	const struct sfy_real *r = sfy_real();
	struct sfy_fdinfo info;
	struct assoc *a;
	uint8_t hdr[S5_MAX_UDP_HEADER];
	struct sockaddr_storage src, from;
	socklen_t sl, fl;
	struct s5_addr sender;
	struct iovec iov[MAX_IOV + 1];
	struct msghdr m;
	uint8_t frag;
	size_t hlen;
	ssize_t n;
	int saved = errno, woke = 0;

	/* The error queue carries no SOCKS header: as without us. */
	if ((flags & MSG_ERRQUEUE) || !fdt_maybe_ours(fd) ||
	    fdt_get(fd, &info) < 0 || info.kind != SFY_FD_UDP)
		return SFY_UDP_PASS;
	a = info.assoc;
	if (msg->msg_iovlen > MAX_IOV) {
		errno = EMSGSIZE;
		return -1;
	}
	for (;;) {
		/* Look at the header (and who sent it) first: the payload
		 * then goes straight into the program's buffers.  Never
		 * block here: a blocking wait must also watch the control
		 * connection (wait_datagram). */
		sl = sizeof(src);
		n = r->recvfrom(fd, hdr, sizeof(hdr), MSG_PEEK | MSG_DONTWAIT,
				(struct sockaddr *)&src, &sl);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) &&
		    !(flags & MSG_DONTWAIT)) {
			if (woke) {
				/* Readable, yet nothing to peek: shut down
				 * for reading, where a receive returns 0. */
				errno = saved;
				return 0;
			}
			if (wait_datagram(fd, a) < 0)
				return -1;
			woke = 1;
			continue;
		}
		woke = 0;
		if (n < 0)
			return -1;
		if (!same_sockaddr(&src, sl, &a->relay) &&
		    from_direct_peer(&src, sl)) {
			/* A peer the rules send direct: as without us. */
			errno = saved;
			return r->recvmsg(fd, msg, flags);
		}
		if (!same_sockaddr(&src, sl, &a->relay) ||
		    s5_parse_udp_header(hdr, (size_t)n, &frag, &sender, &hlen) <
			0 ||
		    frag != 0 ||
		    !(fl = info.connected ? info.peerlen
					  : sender_for(a, src.ss_family,
						       &sender, &from))) {
			/* Not from the relay, a fragment (RFC 1928 section
			 * 7: we do not reassemble), or unshowable: dropped. */
			(void)r->recv(fd, hdr, 1, MSG_DONTWAIT);
			continue;
		}
		if (info.connected) {
			struct sockaddr_storage want;
			socklen_t wl =
			    sender_for(a, src.ss_family, &sender, &want);

			/* A connected socket hears only its peer (a name's
			 * replies come from wherever it resolved to). */
			if (info.dst.atyp != S5_ATYP_DOMAIN &&
			    (!wl || !same_sockaddr(&want, wl, &info.peer))) {
				(void)r->recv(fd, hdr, 1, MSG_DONTWAIT);
				continue;
			}
			from = info.peer;
		}
		break;
	}
	iov[0].iov_base = hdr;
	iov[0].iov_len = hlen;
	if (msg->msg_iovlen)
		memcpy(iov + 1, msg->msg_iov,
		       msg->msg_iovlen * sizeof(struct iovec));
	m = *msg;
	m.msg_name = NULL;
	m.msg_namelen = 0;
	m.msg_iov = iov;
	m.msg_iovlen = msg->msg_iovlen + 1;
	n = r->recvmsg ? r->recvmsg(fd, &m, flags) : -1;
	if (n < 0)
		return -1;
	msg->msg_flags = m.msg_flags;
	msg->msg_controllen = m.msg_controllen;
	if (msg->msg_name) {
		memcpy(msg->msg_name, &from,
		       msg->msg_namelen < fl ? msg->msg_namelen : fl);
		msg->msg_namelen = fl;
	}
	errno = saved;
	return n >= (ssize_t)hlen ? n - (ssize_t)hlen : 0;
}

int sfy_udp_connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	struct sfy_fdinfo info;
	struct s5_addr dst;
	struct sockaddr_storage norm;
	socklen_t normlen = 0;
	char desc[SFY_ADDRSTRLEN + DNS_MAX_NAME + 8];
	int fam = 0, r;

	if (sa && len >= sizeof(sa_family_t) && sa->sa_family == AF_UNSPEC) {
		/* Dissolving the default destination: the association stays
		 * for later sends. */
		if (!fdt_maybe_ours(fd) || fdt_get(fd, &info) < 0 ||
		    info.kind != SFY_FD_UDP)
			return SFY_UDP_PASS;
		info.connected = 0;
		(void)fdt_set(fd, &info);
		return REAL_CALL(connect, fd, sa, len);
	}
	desc[0] = '\0';
	r = udp_route(fd, sa, len, 0, &fam, &dst, &norm, &normlen, desc,
		      sizeof(desc));
	if (r < 0)
		return -1;
	if (r == 0) {
		/* A new, direct peer: the proxied one no longer applies
		 * (sends would carry its header, receives filter for it). */
		if (fdt_maybe_udp(fd) && fdt_get(fd, &info) == 0 &&
		    info.kind == SFY_FD_UDP && info.connected) {
			info.connected = 0;
			(void)fdt_set(fd, &info);
		}
		return SFY_UDP_PASS;
	}
	if (get_assoc(fd, fam, desc, &norm, normlen, &info) < 0)
		return -1;
	/* The kernel's peer is the relay (so only it is heard); the
	 * program's peer is kept for send() and getpeername(). */
	if (kernel_connects(info.assoc) &&
	    REAL_CALL(connect, fd,
		      (struct sockaddr *)&((struct assoc *)info.assoc)->relay,
		      ((struct assoc *)info.assoc)->relaylen) < 0)
		return -1;
	info.connected = 1;
	info.dst = dst;
	info.peer = norm;
	info.peerlen = normlen;
	info.locallen = 0;
	if (fdt_set(fd, &info) < 0) {
		errno = ENOMEM;
		return -1;
	}
	return 0;
}
