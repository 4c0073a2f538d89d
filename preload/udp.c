/*
 * udp.c - UDP associations: set-up, the kernel-side filter, datagram
 * wrapping and unwrapping, and the end of an association.
 */
#include "udp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "fdtable.h"
#include "log.h"
#include "names.h"
#include "ownfd.h"
#include "pending.h"
#include "proxy.h"
#include "real.h"
#include "resolve.h"
#include "safemem.h"
#include "sockkind.h"
#include "socks5.h"
#include "udpfilter.h"
#include "wait.h"

#define RECENT_NAMES 8
/* Up to this many of the program's buffers travel in a small array; more
 * (up to the kernel's SFY_IOV_MAX) take the slower path. */
#define SMALL_IOV 64
/* Two neighbouring buffers this small are merged when the program passes
 * SFY_IOV_MAX of them (the header needs one slot of the kernel's limit). */
#define BOUNCE 256

/*
 * How long a control connection outlives its socket when a datagram went
 * out shortly before the close and nothing came back since: the relay
 * must still be there when the datagram reaches it (danted drops a session
 * whose control connection closed, with the datagram in flight).  1 ms is
 * enough against a proxy on the same host; the margin is for the network.
 */
#define LINGER_MS 50

struct recent_name {
	uint16_t port;		    /* 0: unused */
	struct sockaddr_storage ph; /* the placeholder the program used */
	socklen_t phlen;
};

enum filter_state {
	FILTER_NONE = 0, /* not attached yet */
	FILTER_OURS,	 /* attached, filter_len instructions */
	FILTER_OFF,	 /* the program has its own, or the kernel refused */
};

struct assoc {
	atomic_int refs;
	pthread_mutex_t lock; /* recent[], the filter */
	int ctl;	      /* control connection, -1 once known dead */
	int fam;	      /* the UDP socket's family */
	struct sockaddr_storage relay; /* in the UDP socket's family */
	socklen_t relaylen;
	/* Destinations given by name: a reply comes from the name's real
	 * address, which the program never saw; it is shown the placeholder
	 * it sent to (matched by port). */
	struct recent_name recent[RECENT_NAMES];
	unsigned int recent_next;
	atomic_llong checked_ms; /* when the control connection last stood */
	atomic_llong sent_ms;	 /* the last datagram through the relay */
	atomic_int unanswered;	 /* nothing came back since it went */
	/* The socket also talks to peers the rules send direct: their
	 * datagrams pass too (else only the relay's). */
	atomic_int mixed;
	enum filter_state filter;
	unsigned int filter_len;
	atomic_int told_stray, told_unreachable;
};

__thread struct sfy_last_direct sfy_last_direct
    __attribute__((tls_model("initial-exec")));

/* The process's last datagram sent through a relay, and whether one came
 * back since: at exit, an unanswered one that just left gets its linger
 * too. */
static atomic_llong g_sent_ms;
static atomic_int g_unanswered;

/* --- lingering control connections ------------------------------------- */

#define LINGER_SLOTS 64

atomic_uint sfy_udp_lingering;
static pthread_mutex_t g_linger_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	int fd1; /* the fd + 1; 0: a free slot */
	long long until;
} g_linger[LINGER_SLOTS];

/* Closes the control connections whose time is up (all with force): taken
 * from their slots under the lock, closed after it. */
static void reap(int force)
{
	long long now = sfy_now_ms();
	int i, n = 0, fds[LINGER_SLOTS];

	pthread_mutex_lock(&g_linger_lock);
	for (i = 0; i < LINGER_SLOTS; i++) {
		if (!g_linger[i].fd1 || (!force && g_linger[i].until > now))
			continue;
		fds[n++] = g_linger[i].fd1 - 1;
		g_linger[i].fd1 = 0;
		atomic_fetch_sub(&sfy_udp_lingering, 1);
	}
	pthread_mutex_unlock(&g_linger_lock);
	for (i = 0; i < n; i++)
		sfy_own_close(fds[i]);
}

void sfy_udp_reap(void)
{
	if (atomic_load_explicit(&sfy_udp_lingering, memory_order_relaxed))
		reap(0);
}

/* Keeps ctl open until until (or closes it now when every slot is
 * taken: the oldest datagrams are then the ones at risk). */
static void linger(int ctl, long long until)
{
	int i;

	pthread_mutex_lock(&g_linger_lock);
	for (i = 0; i < LINGER_SLOTS && g_linger[i].fd1; i++)
		;
	if (i < LINGER_SLOTS) {
		g_linger[i].fd1 = ctl + 1;
		g_linger[i].until = until;
		atomic_fetch_add(&sfy_udp_lingering, 1);
		ctl = -1;
	}
	pthread_mutex_unlock(&g_linger_lock);
	if (ctl >= 0)
		sfy_own_close(ctl);
}

static void linger_prepare(void)
{
	pthread_mutex_lock(&g_linger_lock);
}

static void linger_parent(void)
{
	pthread_mutex_unlock(&g_linger_lock);
}

static void linger_child(void)
{
	pthread_mutex_init(&g_linger_lock, NULL);
}

/* At exit the kernel would end every association at once: a datagram
 * that just left, unanswered, gets the same moment as at a close. */
__attribute__((destructor)) static void udp_at_exit(void)
{
	long long now = sfy_now_ms(), until = 0, sent, t;
	struct timespec ts;
	int i;

	sent = atomic_load(&g_sent_ms);
	if (sent && atomic_load(&g_unanswered))
		until = sent + LINGER_MS;
	pthread_mutex_lock(&g_linger_lock);
	for (i = 0; i < LINGER_SLOTS; i++)
		if (g_linger[i].fd1 && g_linger[i].until > until)
			until = g_linger[i].until;
	pthread_mutex_unlock(&g_linger_lock);
	t = until - now;
	if (t > 0 && t <= LINGER_MS) {
		ts.tv_sec = 0;
		ts.tv_nsec = (long)t * 1000000;
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
	}
	reap(1);
}

/* --- associations ------------------------------------------------------ */

static void assoc_hold(void *p)
{
	atomic_fetch_add(&((struct assoc *)p)->refs, 1);
}

/* Called with the fd table's lock held: no call back into the table. */
static void assoc_release(void *p)
{
	struct assoc *a = p;
	long long sent;

	if (atomic_fetch_sub(&a->refs, 1) != 1)
		return;
	if (a->ctl >= 0) {
		sent = atomic_load(&a->sent_ms);
		if (sent && atomic_load(&a->unanswered) &&
		    sfy_now_ms() - sent < LINGER_MS)
			linger(a->ctl, sent + LINGER_MS);
		else
			sfy_own_close(a->ctl);
	}
	pthread_mutex_destroy(&a->lock);
	free(a);
}

static pthread_once_t hooks_once = PTHREAD_ONCE_INIT;

static void install_hooks(void)
{
	fdt_set_assoc_hooks(SFY_FD_UDP, assoc_hold, assoc_release);
	pthread_atfork(linger_prepare, linger_parent, linger_child);
}

/* Binds an unbound UDP socket as its first send would, so that the
 * association can name the port it sends from.  *fresh gets 1 when it was
 * unbound: it has talked to nobody yet. */
static int ensure_bound(int fd, int fam, uint16_t *port, int *fresh)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	*fresh = 0;
	if (REAL_CALL(getsockname, fd, (struct sockaddr *)&ss, &sl) < 0)
		return -errno;
	*port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (*port)
		return 0;
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = (sa_family_t)fam;
	/* EINVAL: another thread of the program bound it meanwhile (its own
	 * first datagram): the port is there to read. */
	if (REAL_CALL(bind, fd, (struct sockaddr *)&ss,
		      fam == AF_INET ? sizeof(struct sockaddr_in)
				     : sizeof(struct sockaddr_in6)) < 0 &&
	    errno != EINVAL)
		return -errno;
	sl = sizeof(ss);
	if (REAL_CALL(getsockname, fd, (struct sockaddr *)&ss, &sl) < 0)
		return -errno;
	*port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	*fresh = 1;
	return *port ? 0 : -EINVAL;
}

/* A control socket of ours, closed when the setting-up thread is
 * cancelled in the handshake. */
static void ctl_cleanup(void *arg)
{
	int *ctl = arg;

	if (*ctl >= 0)
		sfy_own_close(*ctl);
}

/* The UDP ASSOCIATE on control socket ctl (family cfam) for a socket of
 * family fam bound to port.  Returns the association (owning ctl) or NULL
 * with *rc set (logged). */
static struct assoc *negotiate(int ctl, int cfam, int fam, uint16_t port,
			       int fresh, const char *what, int *rc)
{
	struct s5_addr req, bnd;
	struct assoc *a;

	/* RFC 1928 section 7: the address the client will send from; the
	 * port is what the relay can check, the address may be zero.  In the
	 * control connection's family: the relay address danted hands back
	 * follows it (an IPv6-only client needs an IPv6 relay). */
	memset(&req, 0, sizeof(req));
	req.atyp = cfam == AF_INET6 ? S5_ATYP_IPV6 : S5_ATYP_IPV4;
	req.port = port;
	*rc = sfy_socks_request(ctl, cfam, S5_CMD_UDP_ASSOCIATE, &req, what,
				&bnd);
	if (*rc < 0)
		return NULL;
	a = calloc(1, sizeof(*a));
	if (!a) {
		*rc = -ENOMEM;
		sfy_log(SFY_LOG_ERROR, "UDP association for %s: out of memory",
			what);
		return NULL;
	}
	*rc = sfy_bnd_sockaddr(ctl, fam, &bnd, &a->relay, &a->relaylen);
	if (*rc < 0) {
		sfy_log(SFY_LOG_ERROR,
			"%s: unusable relay address in the UDP ASSOCIATE reply "
			"(%s)",
			what,
			*rc == -ENETUNREACH ? "an IPv6 relay for an IPv4 socket"
					    : strerrorname_np(-*rc));
		free(a);
		return NULL;
	}
	atomic_init(&a->refs, 1);
	pthread_mutex_init(&a->lock, NULL);
	a->ctl = ctl;
	a->fam = fam;
	/* A socket bound before it ever sent may have talked to direct
	 * peers (or be a server of theirs): mixed. */
	atomic_init(&a->mixed, !fresh);
	return a;
}

/* negotiate(), closing ctl unless it succeeded: also when the thread is
 * cancelled in the handshake. */
static struct assoc *negotiate_owned(int *ctl, int cfam, int fam, uint16_t port,
				     int fresh, const char *what, int *rc)
{
	struct assoc *a;

	pthread_cleanup_push(ctl_cleanup, ctl);
	a = negotiate(*ctl, cfam, fam, port, fresh, what, rc);
	if (a)
		*ctl = -1; /* the association owns it now */
	pthread_cleanup_pop(1);
	return a;
}

/* Sets up an association for UDP socket fd (family fam).  Returns it with
 * one reference, or NULL with errno set (logged). */
static struct assoc *assoc_create(int fd, int fam, const char *desc)
{
	struct assoc *a;
	uint16_t port = 0;
	int has4 = 0, has6 = 0, cfam, ctl, rc, fresh = 0;
	char what[SFY_ADDRSTRLEN + DNS_MAX_NAME + 48];

	pthread_once(&hooks_once, install_hooks);
	sfy_udp_reap();
	snprintf(what, sizeof(what), "%s", desc);
	rc = ensure_bound(fd, fam, &port, &fresh);
	if (rc < 0) {
		sfy_log(SFY_LOG_ERROR,
			"UDP association for %s: cannot bind the socket (%s)",
			what, strerrorname_np(-rc));
		errno = -rc;
		return NULL;
	}
	rc = sfy_proxy_families(&has4, &has6);
	if (rc < 0) {
		errno = -rc;
		return NULL; /* logged where it failed */
	}
	cfam = has4 ? AF_INET : AF_INET6;
	ctl = REAL_CALL(socket, cfam, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (ctl < 0) {
		rc = -errno;
		sfy_log(SFY_LOG_ERROR,
			"UDP association for %s: cannot open its control "
			"connection to the proxy (%s)",
			what, strerrorname_np(-rc));
		errno = -rc;
		return NULL;
	}
	ctl = sfy_own_new(ctl);
	a = negotiate_owned(&ctl, cfam, fam, port, fresh, what, &rc);
	if (!a)
		errno = -rc;
	return a;
}

/* 1 while the control connection stands (RFC 1928 section 7: the
 * association ends with it).  Bytes on it mean nothing (nothing is due
 * after the reply): they are read and dropped, with one line. */
static int ctl_check(struct assoc *a)
{
	struct pollfd p = {.fd = a->ctl, .events = POLLIN};
	char b[4096];
	ssize_t n;

	if (a->ctl < 0)
		return 0;
	if (sfy_real()->poll(&p, 1, 0) <= 0)
		return 1;
	n = sfy_real()->recv(a->ctl, b, sizeof(b), MSG_DONTWAIT);
	if (n > 0) {
		if (!atomic_exchange(&a->told_stray, 1))
			sfy_log(SFY_LOG_WARN,
				"the proxy sent %zd unexpected byte%s on a UDP "
				"association's control connection: ignored",
				n, n == 1 ? "" : "s");
		return 1;
	}
	return n < 0 && (errno == EAGAIN || errno == EINTR);
}

/* ctl_check at most every 200 ms on the send path: a datagram sent to a
 * relay that just went away is lost, as UDP may lose it anyway, and the
 * steady state pays no syscall for the check. */
static int ctl_alive(struct assoc *a, long long now)
{
	if (now - atomic_load_explicit(&a->checked_ms, memory_order_relaxed) <
	    200)
		return 1;
	if (!ctl_check(a))
		return 0;
	atomic_store_explicit(&a->checked_ms, now, memory_order_relaxed);
	return 1;
}

/* --- the kernel-side filter -------------------------------------------- */

/* Puts a's filter on fd (locked by the caller): relay only, or mixed; with
 * the program's connected peer when it has one.  A socket that carries a
 * filter of the program's is left alone (the shim's own checks on receive
 * still drop what the filter would have). */
static void refilter_locked(int fd, struct assoc *a,
			    const struct sfy_fdinfo *info)
{
	struct uf_spec s;
	struct sock_fprog prog;
	struct sock_filter *insn;
	const struct sockaddr_in6 *r6 = (const struct sockaddr_in6 *)&a->relay;
	const struct cfg *c = sfy_config(NULL);
	socklen_t have = 0;
	unsigned int i;
	int n;

	if (a->filter == FILTER_OFF)
		return;
	/* SO_GET_FILTER with no room says how long the current one is. */
	if (getsockopt(fd, SOL_SOCKET, SO_GET_FILTER, NULL, &have) < 0 ||
	    (a->filter == FILTER_NONE && have != 0) ||
	    (a->filter == FILTER_OURS && have != a->filter_len)) {
		sfy_log(SFY_LOG_DEBUG,
			"UDP fd %d carries a socket filter of the program's: "
			"the shim filters on receive only",
			fd);
		a->filter = FILTER_OFF;
		return;
	}
	memset(&s, 0, sizeof(s));
	s.sock_family = a->fam;
	if (a->relay.ss_family == AF_INET) {
		s.relay_family = AF_INET;
		memcpy(s.relay_addr,
		       &((const struct sockaddr_in *)&a->relay)->sin_addr, 4);
		s.relay_port =
		    ntohs(((const struct sockaddr_in *)&a->relay)->sin_port);
	} else if (IN6_IS_ADDR_V4MAPPED(&r6->sin6_addr)) {
		s.relay_family = AF_INET; /* it comes over IPv4 */
		memcpy(s.relay_addr, &r6->sin6_addr.s6_addr[12], 4);
		s.relay_port = ntohs(r6->sin6_port);
	} else {
		s.relay_family = AF_INET6;
		memcpy(s.relay_addr, &r6->sin6_addr, 16);
		s.relay_port = ntohs(r6->sin6_port);
	}
	if (info->connected && info->dst.atyp != S5_ATYP_DOMAIN) {
		s.peer_atyp = info->dst.atyp;
		memcpy(s.peer_addr, info->dst.u.v6,
		       info->dst.atyp == S5_ATYP_IPV4 ? 4 : 16);
		s.peer_port = info->dst.port;
	} else if (info->connected) {
		s.any_sender = 1;
	}
	/* The ports that sender_for() shows as a name's placeholder: those
	 * of exactly one recent name. */
	for (i = 0; i < RECENT_NAMES; i++) {
		unsigned int j, same = 0;

		if (!a->recent[i].phlen)
			continue;
		for (j = 0; j < RECENT_NAMES; j++)
			same += a->recent[j].phlen &&
				a->recent[j].port == a->recent[i].port;
		if (same == 1 && s.n_name_ports < 8)
			s.name_ports[s.n_name_ports++] = a->recent[i].port;
	}
	s.direct = atomic_load(&a->mixed) ? c : NULL;
	if (atomic_load(&a->mixed) && !c)
		return; /* no rules to judge direct peers by */
	insn = malloc(UF_MAX_INSNS * sizeof(*insn));
	if (!insn)
		return;
	n = uf_build(insn, UF_MAX_INSNS, &s);
	if (n > 0) {
		prog.len = (unsigned short)n;
		prog.filter = insn;
		if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog,
			       sizeof(prog)) == 0) {
			a->filter = FILTER_OURS;
			a->filter_len = (unsigned int)n;
		} else {
			a->filter = FILTER_OFF;
		}
	} else {
		a->filter = FILTER_OFF;
	}
	if (a->filter == FILTER_OFF)
		sfy_log(SFY_LOG_DEBUG,
			"UDP fd %d: no kernel filter (%s): the shim filters "
			"on receive only",
			fd, n > 0 ? strerrorname_np(errno) : "too many rules");
	free(insn);
}

static void refilter(int fd, struct assoc *a, const struct sfy_fdinfo *info)
{
	int saved = errno;

	pthread_mutex_lock(&a->lock);
	refilter_locked(fd, a, info);
	pthread_mutex_unlock(&a->lock);
	errno = saved;
}

/* The socket starts talking to a direct peer: let its datagrams in. */
static void go_mixed(int fd, struct assoc *a, const struct sfy_fdinfo *info)
{
	if (atomic_load_explicit(&a->mixed, memory_order_relaxed))
		return;
	atomic_store(&a->mixed, 1);
	refilter(fd, a, info);
}

/* --- routing ----------------------------------------------------------- */

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

/* A datagram's direct decision, at debug level (only: the caller
 * checks); once per destination while it stays this thread's last
 * direct one (remember_direct). */
static __attribute__((noinline, cold)) void
log_direct(const struct cfg_rule *rule, const struct sockaddr_storage *norm,
	   socklen_t normlen)
{
	char words[1024], desc[SFY_ADDRSTRLEN];

	sfy_fmt_addr((const struct sockaddr *)norm, normlen, desc,
		     sizeof(desc));
	sfy_rule_words(rule, (const struct sockaddr *)norm, words,
		       sizeof(words));
	sfy_log_write(SFY_LOG_DEBUG, "direct: datagram to %s by %s", desc,
		      words);
}

/* A datagram refused by a rule: the line names it (norm NULL: a name). */
static __attribute__((noinline, cold)) void
log_refused(const struct cfg_rule *rule, const struct s5_addr *dst,
	    const struct sockaddr_storage *norm, const char *desc)
{
	char words[1024];
	int lvl = sfy_fail_level(dst, desc, EACCES, SFY_LOG_ERROR);

	if (lvl > sfy_log_level)
		return;
	sfy_rule_words(rule, (const struct sockaddr *)norm, words,
		       sizeof(words));
	sfy_log_write(lvl, "datagram to %s refused by %s (EACCES)%s", desc,
		      words, lvl != SFY_LOG_ERROR ? SFY_FAIL_AGAIN : "");
}

/*
 * Where a datagram to sa (the shim's copy) goes.  Returns 1 (proxy: *dst
 * and desc set), 0 (not ours: direct by rule, not a UDP socket...), or -1
 * with errno (a refusal or a broken config; logged).  Direct destinations
 * are decided before any syscall.  send: a datagram's (a connect() may be
 * a TCP socket's that hook_tcp.c has judged, and logged, already).
 */
static int udp_route(int fd, const struct sockaddr *sa, socklen_t len,
		     int known_fam, int send, int *fam, struct s5_addr *dst,
		     struct sockaddr_storage *norm, socklen_t *normlen,
		     char *desc, size_t cap)
{
	const struct cfg *c;
	const struct cfg_rule *rule = NULL;
	const char *why = NULL;
	char name[DNS_MAX_NAME + 1];
	enum cfg_action act;
	struct sfy_sock k;
	int dom, nr, err = EACCES;
	uint16_t port;

	if (sfy_busy || len < sizeof(sa_family_t) ||
	    len > sizeof(struct sockaddr_storage) ||
	    (sa->sa_family == AF_INET && len < sizeof(struct sockaddr_in)) ||
	    (sa->sa_family == AF_INET6 &&
	     len < offsetof(struct sockaddr_in6, sin6_scope_id)) ||
	    (sa->sa_family != AF_INET && sa->sa_family != AF_INET6))
		return 0;
	if (sfy_udp_direct_cached(sa, len))
		return 0;
	c = sfy_config_err(&why, &err);
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
		act = cfg_match_name_rule(c, name, port, &rule);
	else
		act =
		    cfg_match_rule(c, (struct sockaddr *)norm, *normlen, &rule);
	/* Direct by address, and no placeholder of a name we no longer
	 * know (that one fails closed below, whatever the rules say). */
	if (act == CFG_DIRECT && nr == -EAFNOSUPPORT) {
		if (__builtin_expect(sfy_log_level >= SFY_LOG_DEBUG, 0) &&
		    (send || known_fam))
			log_direct(rule, norm, *normlen);
		remember_direct(sa);
		return 0;
	}
	if (known_fam) {
		dom = known_fam; /* a socket with an association is UDP */
	} else {
		int rc = sfy_sock_probe(fd, &k);

		if (rc == -EBADF || rc == -ENOTSOCK)
			return 0; /* the real call says the same */
		if (rc < 0) {
			/* A socket we may not inspect could be UDP to a
			 * proxied destination: fail closed. */
			sfy_log(SFY_LOG_ERROR,
				"datagram on fd %d refused: cannot inspect the "
				"socket (%s) (EACCES)",
				fd, strerrorname_np(-rc));
			errno = EACCES;
			return -1;
		}
		if (k.carry == SFY_UNCARRIED) {
			if (!c && err != EACCES) {
				errno = err;
				return -1;
			}
			return sfy_uncarried_check(c, &k, fd,
						   (struct sockaddr *)norm,
						   *normlen, "datagram") < 0
				   ? -1
				   : 0;
		}
		if (k.carry != SFY_UDP)
			return 0; /* TCP ignores the address; others pass */
		dom = k.dom;
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
		if (err != EACCES) {
			errno = err; /* transient: logged once by the loader */
			return -1;
		}
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
		log_refused(rule, dst, nr > 0 ? NULL : norm, desc);
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

/* Setting up an association for the program's socket: the fd is pending
 * meanwhile (pending.h), so that the program's other threads wait for it
 * instead of setting up one of their own (two associations for one socket
 * would each have half of its answers). */
struct setup {
	struct sfy_pending pend;
	int flags, closed;
};

static void setup_end(void *arg)
{
	struct setup *su = arg;
	int old;

	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
	(void)sfy_pending_end(&su->pend, su->flags, &su->closed);
	pthread_setcancelstate(old, &old);
}

/* assoc_create, ending the pending state if the thread is cancelled. */
static struct assoc *create_pending(int fd, int fam, const char *desc,
				    struct setup *su)
{
	struct assoc *a;

	pthread_cleanup_push(setup_end, su);
	a = assoc_create(fd, fam, desc);
	pthread_cleanup_pop(0);
	return a;
}

static int get_info(int fd, struct sfy_fdinfo *info);
static void put_info(struct sfy_fdinfo *info, int held);

/*
 * Gets fd's association, creating or renewing it.  *info is the caller's
 * copy of the record, holding a reference on its association when *held
 * (fdt_get_held).  On success *info holds a reference on the association
 * to use (the old one's reference, if any, has been dropped) and *held is
 * 1.  Returns 0 or -1 with errno (then *info and *held are as they were,
 * or as another thread's set-up left them).
 */
static int get_assoc(int fd, int fam, const char *desc,
		     const struct sockaddr_storage *norm, socklen_t normlen,
		     struct sfy_fdinfo *info, int *held)
{
	struct assoc *a, *old = NULL;
	struct sfy_fdinfo fresh;
	struct setup su;
	char dbuf[SFY_ADDRSTRLEN];
	int rc, tries;

	if (*held && ctl_alive(info->assoc, sfy_now_ms()))
		return 0;
	for (tries = 0;; tries++) {
		rc = sfy_pending_begin(&su.pend, fd, -1, &su.flags);
		if (rc != -EALREADY || tries > 3)
			break;
		/* Another thread is setting one up: use it. */
		sfy_pending_wait_end(fd);
		put_info(info, *held);
		*held = get_info(fd, info);
		if (*held && ctl_alive(info->assoc, sfy_now_ms()))
			return 0;
	}
	if (rc < 0) {
		errno = -rc;
		return -1;
	}
	su.closed = 0;
	if (*held) {
		old = info->assoc;
		sfy_log(SFY_LOG_WARN,
			"UDP association for fd %d ended (proxy restarted?): "
			"setting up a new one",
			fd);
		fresh = *info;
	} else {
		memset(&fresh, 0, sizeof(fresh));
		fresh.kind = SFY_FD_UDP;
	}
	/* Only now is a description worth formatting (a log line). */
	if (!desc[0] && norm) {
		sfy_fmt_addr((const struct sockaddr *)norm, normlen, dbuf,
			     sizeof(dbuf));
		desc = dbuf;
	}
	a = create_pending(fd, fam, desc, &su);
	if (!a) {
		rc = old ? ENETRESET : errno;
		setup_end(&su);
		errno = rc;
		return -1;
	}
	if (old) {
		/* The socket still carries the old association's filter (or
		 * the program's): the new one takes it over. */
		pthread_mutex_lock(&old->lock);
		a->filter = old->filter;
		a->filter_len = old->filter_len;
		pthread_mutex_unlock(&old->lock);
		if (atomic_load(&old->mixed))
			atomic_store(&a->mixed, 1);
	}
	fresh.assoc = a;
	if (fdt_set(fd, &fresh) < 0) {
		assoc_release(a);
		setup_end(&su);
		errno = ENOMEM;
		return -1;
	}
	/* The table holds one reference now; the one from assoc_create is
	 * the caller's. */
	if (old)
		assoc_release(old);
	*info = fresh;
	*held = 1;
	rc = 0;
	if (fresh.connected && kernel_connects(a) &&
	    sfy_real()->connect(fd, (struct sockaddr *)&a->relay, a->relaylen) <
		0)
		rc = -errno;
	refilter(fd, a, &fresh);
	setup_end(&su);
	if (su.closed) {
		/* The program closed the socket meanwhile: as it asked. */
		fdt_del(fd);
		(void)sfy_real()->close(fd);
		rc = -EBADF;
	}
	if (rc < 0) {
		errno = -rc;
		return -1;
	}
	return 0;
}

/* The record of fd when it is a UDP one, with a reference on its
 * association (drop it with put_info).  Returns 1, or 0 (no such record;
 * nothing held). */
static int get_info(int fd, struct sfy_fdinfo *info)
{
	if (!fdt_maybe_ours(fd) || fdt_get_held(fd, info) < 0)
		return 0;
	if (info->kind == SFY_FD_UDP && info->assoc)
		return 1;
	if (info->assoc)
		assoc_release(info->assoc);
	return 0;
}

static void put_info(struct sfy_fdinfo *info, int held)
{
	int saved = errno;

	if (held)
		assoc_release(info->assoc);
	errno = saved;
}

/* --- datagrams ---------------------------------------------------------- */

/* Remembers a name the program sent to (by its placeholder).  A new one
 * changes which answers the filter lets in. */
static void remember_name(int fd, struct assoc *a, const struct s5_addr *dst,
			  const struct sockaddr_storage *ph, socklen_t phlen,
			  const struct sfy_fdinfo *info)
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
	if (a->fam == AF_INET)
		refilter_locked(fd, a, info);
out:
	pthread_mutex_unlock(&a->lock);
}

/* Gets the program's iovec array (n entries) into out: copied in through
 * safemem, or as is when it is the shim's own. */
static int iov_in(struct iovec *out, const struct iovec *in, size_t n,
		  int trusted)
{
	if (trusted) {
		memcpy(out, in, n * sizeof(*in));
		return 0;
	}
	return sfy_copy_in(out, in, n * sizeof(*in));
}

/* Two neighbours of iov[0..n) small enough to share one bounce buffer:
 * the index of the first, or -1. */
static long small_pair(const struct iovec *iov, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < n; i++)
		if (iov[i].iov_len <= BOUNCE &&
		    iov[i + 1].iov_len <= BOUNCE - iov[i].iov_len)
			return (long)i;
	return -1;
}

/* Sends header + the n iovecs in v[1..n] (v[0] is the header's slot);
 * SFY_IOV_MAX of the program's need one pair merged.  m has the name. */
static ssize_t send_vec(int fd, struct msghdr *m, struct iovec *v, size_t n,
			int flags)
{
	uint8_t bounce[BOUNCE];
	long p;
	size_t k;

	if (n + 1 > SFY_IOV_MAX) {
		p = small_pair(v + 1, n);
		if (p < 0) {
			errno = EMSGSIZE; /* over 64 KiB: the kernel says so */
			return -1;
		}
		k = v[1 + p].iov_len;
		if (sfy_copy_in(bounce, v[1 + p].iov_base, k) < 0 ||
		    sfy_copy_in(bounce + k, v[2 + p].iov_base,
				v[2 + p].iov_len) < 0) {
			errno = EFAULT;
			return -1;
		}
		v[1 + p].iov_base = bounce;
		v[1 + p].iov_len = k + v[2 + p].iov_len;
		memmove(&v[2 + p], &v[3 + p], (n - (size_t)p - 2) * sizeof(*v));
		n--;
	}
	m->msg_iov = v;
	m->msg_iovlen = n + 1;
	return REAL_CALL(sendmsg, fd, m, flags);
}

/* The sends with more buffers than SMALL_IOV: a larger array, out of the
 * common path's stack frame. */
static __attribute__((noinline, cold)) ssize_t
send_big(int fd, struct msghdr *m, const struct iovec *hdr,
	 const struct iovec *prog, size_t n, int trusted, int flags)
{
	struct iovec v[SFY_IOV_MAX + 1];

	v[0] = *hdr;
	if (iov_in(v + 1, prog, n, trusted) < 0) {
		errno = EFAULT;
		return -1;
	}
	return send_vec(fd, m, v, n, flags);
}

/* A datagram the relay cannot be reached for from this socket (an IPv6
 * socket bound to ::1 and an IPv4 relay...): said once per association. */
static void tell_unreachable(int fd, struct assoc *a, const char *desc)
{
	char rbuf[SFY_ADDRSTRLEN];
	int saved = errno;

	if (atomic_exchange(&a->told_unreachable, 1))
		return;
	sfy_fmt_addr((const struct sockaddr *)&a->relay, a->relaylen, rbuf,
		     sizeof(rbuf));
	sfy_log(SFY_LOG_ERROR,
		"datagram%s%s on fd %d: the relay %s cannot be reached from "
		"this socket (its local address?) (%s)",
		desc[0] ? " to " : "", desc, fd, rbuf, strerrorname_np(saved));
	errno = saved;
}

static ssize_t udp_send(int fd, const struct msghdr *msg, int flags,
			int trusted_iov, struct sfy_fdinfo *infop, int *have);

ssize_t sfy_udp_send(int fd, const struct msghdr *msg, int flags,
		     int trusted_iov)
{
	struct sfy_fdinfo info;
	int have = fdt_maybe_udp(fd) && get_info(fd, &info);
	ssize_t r = udp_send(fd, msg, flags, trusted_iov, &info, &have);

	put_info(&info, have);
	return r;
}

/* sfy_udp_send with the record in *infop (holding its association when
 * *have). */
static ssize_t udp_send(int fd, const struct msghdr *msg, int flags,
			int trusted_iov, struct sfy_fdinfo *infop, int *have)
{
#define info (*infop)
	struct s5_addr dst;
	struct sockaddr_storage norm, name;
	socklen_t normlen = 0, namelen = 0;
	struct iovec v[SMALL_IOV + 1];
	struct msghdr m;
	uint8_t hdr[S5_MAX_UDP_HEADER];
	char desc[SFY_ADDRSTRLEN + DNS_MAX_NAME + 8];
	struct assoc *a;
	ssize_t hlen, n;
	long long now;
	int fam = 0, r, saved = errno;

	desc[0] = '\0';
	if (msg->msg_name && msg->msg_namelen > 0) {
		if (msg->msg_namelen > sizeof(name))
			return SFY_UDP_PASS; /* the kernel says EINVAL */
		namelen = msg->msg_namelen;
		if (sfy_copy_in(&name, msg->msg_name, namelen) < 0) {
			errno = sfy_bad_address_errno(fd, 0);
			return -1;
		}
		if (name.ss_family == AF_UNSPEC) {
			/* What the kernel makes of it: on an IPv4 socket,
			 * AF_UNSPEC read as AF_INET (udp_sendmsg); on an
			 * IPv6 one, no address at all. */
			int dom = *have ? ((struct assoc *)info.assoc)->fam : 0;
			socklen_t ol = sizeof(dom);

			if (!*have && getsockopt(fd, SOL_SOCKET, SO_DOMAIN,
						 &dom, &ol) < 0)
				dom = 0;
			if (dom == AF_INET &&
			    namelen >= sizeof(struct sockaddr_in))
				name.ss_family = AF_INET;
			else
				namelen = 0;
		}
	}
	if (namelen) {
		r = udp_route(fd, (struct sockaddr *)&name, namelen,
			      *have ? ((struct assoc *)info.assoc)->fam : 0, 1,
			      &fam, &dst, &norm, &normlen, desc, sizeof(desc));
		if (r < 0)
			return -1;
		if (r == 0) {
			/* A direct peer on a socket with an association: its
			 * answers must get in from now on. */
			if (*have)
				go_mixed(fd, info.assoc, &info);
			return SFY_UDP_PASS;
		}
		if ((!*have || !ctl_alive(info.assoc, sfy_now_ms())) &&
		    get_assoc(fd, fam, desc, &norm, normlen, &info, have) < 0)
			return -1;
	} else {
		if (!*have || !info.connected)
			return SFY_UDP_PASS;
		dst = info.dst;
		norm = info.peer;
		normlen = info.peerlen;
		if (!ctl_alive(info.assoc, sfy_now_ms()) &&
		    get_assoc(fd, ((struct assoc *)info.assoc)->fam, desc,
			      &norm, normlen, &info, have) < 0)
			return -1;
	}
	if (msg->msg_iovlen > SFY_IOV_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	a = info.assoc;
	hlen = s5_encode_udp_header(hdr, sizeof(hdr), 0, &dst);
	if (hlen < 0) {
		errno = EINVAL;
		return -1;
	}
	remember_name(fd, a, &dst, &norm, normlen, &info);
	m = *msg;
	if (info.connected && kernel_connects(a)) {
		m.msg_name = NULL;
		m.msg_namelen = 0;
	} else {
		m.msg_name = &a->relay;
		m.msg_namelen = a->relaylen;
	}
	/* The header in front, the program's buffers as they are. */
	v[0].iov_base = hdr;
	v[0].iov_len = (size_t)hlen;
	if (msg->msg_iovlen > SMALL_IOV) {
		n = send_big(fd, &m, &v[0], msg->msg_iov, msg->msg_iovlen,
			     trusted_iov, flags);
	} else if (iov_in(v + 1, msg->msg_iov, msg->msg_iovlen, trusted_iov) <
		   0) {
		errno = EFAULT;
		n = -1;
	} else {
		n = send_vec(fd, &m, v, msg->msg_iovlen, flags);
	}
	if (n < 0) {
		if (errno == ENETUNREACH || errno == EHOSTUNREACH ||
		    errno == EADDRNOTAVAIL || errno == EINVAL)
			tell_unreachable(fd, a, desc);
		return -1;
	}
	now = sfy_now_ms();
	atomic_store_explicit(&a->sent_ms, now, memory_order_relaxed);
	atomic_store_explicit(&a->unanswered, 1, memory_order_relaxed);
	atomic_store_explicit(&g_sent_ms, now, memory_order_relaxed);
	atomic_store_explicit(&g_unanswered, 1, memory_order_relaxed);
	errno = saved;
	return n >= hlen ? n - hlen : 0;
#undef info
}

/* The sender the program sees, in its socket's family (with names: a
 * name's answer shown as its placeholder).  Returns its length, or 0 when
 * it cannot be shown (then the datagram is dropped). */
static socklen_t sender_for(struct assoc *a, int fam, const struct s5_addr *src,
			    struct sockaddr_storage *out, int names)
{
	size_t sl = sizeof(*out);
	unsigned int i;
	int hit = -1, hits = 0;

	memset(out, 0, sizeof(*out));
	if (src->atyp == S5_ATYP_DOMAIN ||
	    s5_addr_to_sockaddr(src, (struct sockaddr *)out, &sl) < 0)
		return 0;
	/* A reply from a name's real address: show the placeholder the
	 * program sent to, when exactly one recent name matches the port. */
	if (!names)
		goto plain;
	pthread_mutex_lock(&a->lock);
	for (i = 0; i < RECENT_NAMES; i++)
		if (a->recent[i].port == src->port && a->recent[i].phlen) {
			hit = (int)i;
			hits++;
		}
	if (hits == 1) {
		*out = a->recent[hit].ph;
		sl = a->recent[hit].phlen;
		pthread_mutex_unlock(&a->lock);
		return (socklen_t)sl;
	}
	pthread_mutex_unlock(&a->lock);
plain:
	if (out->ss_family == fam)
		return (socklen_t)sl;
	if (fam == AF_INET6 && out->ss_family == AF_INET) {
		struct sockaddr_in i4 = *(struct sockaddr_in *)out;

		memset(out, 0, sizeof(*out));
		return sfy_map_v4(&i4, (struct sockaddr_in6 *)out);
	}
	return 0; /* an IPv6 sender for an IPv4 socket */
}

/* 1 when a datagram from src comes from a peer the rules send direct and
 * the socket talks to such peers. */
static int from_direct_peer(struct assoc *a, const struct sockaddr_storage *src,
			    socklen_t sl)
{
	const struct cfg *c;

	if (!atomic_load_explicit(&a->mixed, memory_order_relaxed))
		return 0;
	c = sfy_config(NULL);
	return c &&
	       cfg_match(c, (const struct sockaddr *)src, sl) == CFG_DIRECT;
}

/*
 * Waits, as a blocking receive on fd would, for a datagram; and for the
 * end of the association: a program blocked in a receive must not hang on
 * once the proxy is gone.  Honours O_NONBLOCK, SO_RCVTIMEO (*deadline, 0
 * until first needed, -1 for none) and SA_RESTART.  Returns 0 when
 * something may be readable, 1 when the socket was shut down for reading
 * (a receive returns 0), -1 with errno (EAGAIN, EINTR, ECONNREFUSED).
 */
static int wait_datagram(int fd, struct assoc *a, long long *deadline)
{
	struct pollfd p[2] = {{.fd = fd, .events = POLLIN | POLLRDHUP},
			      {.fd = a->ctl, .events = POLLIN}};
	int fl = sfy_real()->fcntl(fd, F_GETFL), ms, rc;

	if (fl >= 0 && (fl & O_NONBLOCK)) {
		errno = EAGAIN;
		return -1;
	}
	if (*deadline == 0) {
		*deadline = sfy_socket_deadline(fd, SO_RCVTIMEO);
		if (*deadline == 0)
			*deadline = -1;
	}
	for (;;) {
		ms = -1;
		if (*deadline > 0) {
			long long left = *deadline - sfy_now_ms();

			if (left <= 0) {
				errno = EAGAIN; /* SO_RCVTIMEO ran out */
				return -1;
			}
			ms = left > INT_MAX ? INT_MAX : (int)left;
		}
		p[0].revents = p[1].revents = 0;
		rc = sfy_real()->poll(p, a->ctl >= 0 ? 2 : 1, ms);
		if (rc < 0) {
			if (errno == EINTR &&
			    sfy_eintr_restarts(fd, SO_RCVTIMEO))
				continue;
			return -1;
		}
		if (rc == 0)
			continue; /* the clock decides */
		if (p[1].revents && !ctl_check(a)) {
			sfy_log(SFY_LOG_ERROR,
				"UDP receive on fd %d: the proxy ended the "
				"association (ECONNREFUSED)",
				fd);
			errno = ECONNREFUSED;
			return -1;
		}
		if (p[0].revents & POLLRDHUP)
			return 1;
		if (p[0].revents)
			return 0;
		/* Only stray bytes on the control connection: nothing for
		 * the program yet. */
	}
}

/* Receives into header + the program's n buffers in v[1..n] (v[0] is the
 * header's slot); SFY_IOV_MAX of them need a pair merged, or the last one
 * dropped when they can hold any datagram without it. */
static ssize_t recv_vec(int fd, struct msghdr *m, struct iovec *v, size_t n,
			int flags, size_t hlen)
{
	uint8_t bounce[BOUNCE];
	struct iovec first = {0}, second = {0};
	size_t before = 0, k, i, got;
	long p = -1;
	ssize_t r;

	if (n + 1 > SFY_IOV_MAX) {
		p = small_pair(v + 1, n);
		if (p < 0) {
			n--; /* the others hold more than 64 KiB */
		} else {
			first = v[1 + p];
			second = v[2 + p];
			for (i = 0; i < (size_t)p; i++)
				before += v[1 + i].iov_len;
			v[1 + p].iov_base = bounce;
			v[1 + p].iov_len = first.iov_len + second.iov_len;
			memmove(&v[2 + p], &v[3 + p],
				(n - (size_t)p - 2) * sizeof(*v));
			n--;
		}
	}
	m->msg_iov = v;
	m->msg_iovlen = n + 1;
	r = REAL_CALL(recvmsg, fd, m, flags);
	if (r < 0 || p < 0)
		return r;
	/* The merged pair's share of the payload goes where it belongs. */
	got = (size_t)r > hlen + before ? (size_t)r - hlen - before : 0;
	if (got > first.iov_len + second.iov_len)
		got = first.iov_len + second.iov_len;
	k = got < first.iov_len ? got : first.iov_len;
	if (sfy_copy_out(first.iov_base, bounce, k) < 0 ||
	    sfy_copy_out(second.iov_base, bounce + k, got - k) < 0) {
		errno = EFAULT;
		return -1;
	}
	return r;
}

static __attribute__((noinline, cold)) ssize_t
recv_big(int fd, struct msghdr *m, const struct iovec *hdr,
	 const struct iovec *prog, size_t n, int flags, size_t hlen)
{
	struct iovec v[SFY_IOV_MAX + 1];

	v[0] = *hdr;
	if (sfy_copy_in(v + 1, prog, n * sizeof(*prog)) < 0) {
		errno = EFAULT;
		return -1;
	}
	return recv_vec(fd, m, v, n, flags, hlen);
}

/* Drops the datagram at the head of fd's queue. */
static void drop_one(int fd)
{
	uint8_t b;

	(void)sfy_real()->recv(fd, &b, 1, MSG_DONTWAIT);
}

static ssize_t udp_recv(int fd, struct msghdr *msg, int flags, int trusted_iov,
			struct sfy_fdinfo *infop);

ssize_t sfy_udp_recv(int fd, struct msghdr *msg, int flags, int trusted_iov)
{
	struct sfy_fdinfo info;
	ssize_t r;

	/* The error queue carries no SOCKS header: as without us. */
	if ((flags & MSG_ERRQUEUE) || !get_info(fd, &info))
		return SFY_UDP_PASS;
	r = udp_recv(fd, msg, flags, trusted_iov, &info);
	put_info(&info, 1);
	return r;
}

/* sfy_udp_recv with the record in *infop, holding its association. */
static ssize_t udp_recv(int fd, struct msghdr *msg, int flags, int trusted_iov,
			struct sfy_fdinfo *infop)
{
#define info (*infop)
	const struct sfy_real *r = sfy_real();
	struct assoc *a;
	uint8_t hdr[S5_MAX_UDP_HEADER];
	struct sockaddr_storage src, from;
	socklen_t sl, fl = 0;
	struct s5_addr sender;
	struct iovec v[SMALL_IOV + 1];
	struct msghdr m;
	long long deadline = 0;
	uint8_t frag;
	size_t hlen = 0;
	ssize_t n;
	int saved = errno, w;

	a = info.assoc;
	if (msg->msg_iovlen > SFY_IOV_MAX) {
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
			w = wait_datagram(fd, a, &deadline);
			if (w < 0)
				return -1;
			if (w > 0) {
				errno = saved;
				return 0; /* shut down for reading */
			}
			continue;
		}
		if (n < 0)
			return -1;
		if (!sfy_same_sockaddr(&src, &a->relay) &&
		    from_direct_peer(a, &src, sl)) {
			/* A peer the rules send direct: as without us. */
			errno = saved;
			return r->recvmsg(fd, msg, flags);
		}
		if (!sfy_same_sockaddr(&src, &a->relay) ||
		    s5_parse_udp_header(hdr, (size_t)n, &frag, &sender, &hlen) <
			0 ||
		    frag != 0 ||
		    !(fl = info.connected ? info.peerlen
					  : sender_for(a, src.ss_family,
						       &sender, &from, 1))) {
			/* Not from the relay, a fragment (RFC 1928 section
			 * 7: we do not reassemble), or unshowable: dropped
			 * (the kernel filter drops these before they are
			 * queued, where it is in place). */
			drop_one(fd);
			continue;
		}
		if (info.connected) {
			struct sockaddr_storage want;
			socklen_t wl =
			    sender_for(a, src.ss_family, &sender, &want, 0);

			/* A connected socket hears only its peer (a name's
			 * replies come from wherever it resolved to), by the
			 * sender's own address, as the filter checks it. */
			if (info.dst.atyp != S5_ATYP_DOMAIN &&
			    (!wl || !sfy_same_sockaddr(&want, &info.peer))) {
				drop_one(fd);
				continue;
			}
			from = info.peer;
		}
		break;
	}
	v[0].iov_base = hdr;
	v[0].iov_len = hlen;
	m = *msg;
	m.msg_name = NULL;
	m.msg_namelen = 0;
	if (msg->msg_iovlen > SMALL_IOV)
		n = recv_big(fd, &m, &v[0], msg->msg_iov, msg->msg_iovlen,
			     flags, hlen);
	else if (iov_in(v + 1, msg->msg_iov, msg->msg_iovlen, trusted_iov) <
		 0) {
		errno = EFAULT;
		n = -1;
	} else
		n = recv_vec(fd, &m, v, msg->msg_iovlen, flags, hlen);
	if (n < 0)
		return -1;
	if (!(flags & MSG_PEEK)) {
		atomic_store_explicit(&a->unanswered, 0, memory_order_relaxed);
		atomic_store_explicit(&g_unanswered, 0, memory_order_relaxed);
	}
	msg->msg_flags = m.msg_flags;
	msg->msg_controllen = m.msg_controllen;
	if (msg->msg_name) {
		if (sfy_copy_out(msg->msg_name, &from,
				 msg->msg_namelen < fl ? msg->msg_namelen
						       : fl) < 0) {
			errno = EFAULT; /* the datagram is gone, as in the
					   kernel's recvfrom */
			return -1;
		}
		msg->msg_namelen = fl;
	}
	errno = saved;
	return n >= (ssize_t)hlen ? n - (ssize_t)hlen : 0;
#undef info
}

static int udp_connect(int fd, const struct sockaddr_storage *sa, socklen_t len,
		       struct sfy_fdinfo *info, int *held);

int sfy_udp_connect(int fd, const struct sockaddr *usa, socklen_t len)
{
	struct sfy_fdinfo info;
	struct sockaddr_storage sa;
	int held, r;

	if (!usa || len < sizeof(sa_family_t) || len > sizeof(sa))
		return SFY_UDP_PASS;
	if (sfy_copy_in(&sa, usa, len) < 0) {
		errno = sfy_bad_address_errno(fd, 1);
		return -1;
	}
	held = get_info(fd, &info);
	r = udp_connect(fd, &sa, len, &info, &held);
	put_info(&info, held);
	return r;
}

/* sfy_udp_connect on the shim's copy of the address, with fd's record in
 * *info (holding its association when *held). */
static int udp_connect(int fd, const struct sockaddr_storage *sa, socklen_t len,
		       struct sfy_fdinfo *info, int *held)
{
	struct s5_addr dst;
	struct sockaddr_storage norm;
	socklen_t normlen = 0;
	char desc[SFY_ADDRSTRLEN + DNS_MAX_NAME + 8];
	int fam = 0, r;

	if (sa->ss_family == AF_UNSPEC) {
		/* Dissolving the default destination: the association stays
		 * for later sends. */
		if (!*held)
			return SFY_UDP_PASS;
		info->connected = 0;
		(void)fdt_set(fd, info);
		r = REAL_CALL(connect, fd, (const struct sockaddr *)sa, len);
		refilter(fd, info->assoc, info);
		return r;
	}
	desc[0] = '\0';
	r = udp_route(fd, (const struct sockaddr *)sa, len, 0, 0, &fam, &dst,
		      &norm, &normlen, desc, sizeof(desc));
	if (r < 0)
		return -1;
	if (r == 0) {
		/* A new, direct peer: the proxied one no longer applies
		 * (sends would carry its header, receives filter for it). */
		if (*held) {
			if (info->connected) {
				info->connected = 0;
				(void)fdt_set(fd, info);
			}
			go_mixed(fd, info->assoc, info);
			refilter(fd, info->assoc, info);
		}
		return SFY_UDP_PASS;
	}
	if (get_assoc(fd, fam, desc, &norm, normlen, info, held) < 0)
		return -1;
	/* The kernel's peer is the relay (so only it is heard); the
	 * program's peer is kept for send() and getpeername(). */
	if (kernel_connects(info->assoc) &&
	    REAL_CALL(connect, fd,
		      (struct sockaddr *)&((struct assoc *)info->assoc)->relay,
		      ((struct assoc *)info->assoc)->relaylen) < 0)
		return -1;
	info->connected = 1;
	info->dst = dst;
	info->peer = norm;
	info->peerlen = normlen;
	info->locallen = 0;
	if (fdt_set(fd, info) < 0) {
		errno = ENOMEM;
		return -1;
	}
	refilter(fd, info->assoc, info);
	return 0;
}
