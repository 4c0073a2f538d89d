/*
 * resolve.c - how a name is resolved, the placeholder table instance, the
 * /etc/hosts reader and the DNS-over-TCP tunnel resolver.
 */
#include "resolve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "proxy.h"
#include "real.h"
#include "socks5.h"
#include "wait.h"

#define HOSTS_PATH	"/etc/hosts"
#define HOSTS_MAX_BYTES (4u << 20)

/* --- the placeholder table ---------------------------------------------- */

static struct names *g_names;
static struct names_cfg g_ncfg;
static pthread_once_t g_names_once = PTHREAD_ONCE_INIT;
static const struct cfg *g_names_from;

static void names_cfg_of(const struct cfg *c, struct names_cfg *n)
{
	memset(n, 0, sizeof(*n));
	memcpy(n->v4_base, c->dns_v4, 4);
	n->v4_prefix = c->dns_v4_prefix;
	memcpy(n->v6_base, c->dns_v6, 16);
	n->v6_prefix = c->dns_v6_prefix;
	n->capacity = c->dns_names;
}

static void create_names(void)
{
	int rc;

	names_cfg_of(g_names_from, &g_ncfg);
	rc = names_create(&g_names, &g_ncfg);
	if (rc < 0) {
		g_names = NULL;
		sfy_log(SFY_LOG_ERROR,
			"cannot create the placeholder table (%s): names "
			"cannot be resolved by the proxy",
			strerrorname_np(-rc));
	}
}

struct names *sfy_names(const struct cfg *c)
{
	/* The configuration is loaded once per process, so c is the same
	 * object on every call. */
	g_names_from = c;
	pthread_once(&g_names_once, create_names);
	return g_names;
}

int sfy_placeholder_name_raw(const struct cfg *c, int family, const void *addr,
			     char *buf, size_t cap)
{
	struct names_cfg n;
	struct names *t;
	struct in_addr a4;
	struct in6_addr a6;

	if (cfg_dns_mode(c) != CFG_DNS_REMOTE)
		return -EAFNOSUPPORT;
	names_cfg_of(c, &n);
	if (family == AF_INET6) {
		memcpy(&a6, addr, 16);
		if (IN6_IS_ADDR_V4MAPPED(&a6)) {
			memcpy(&a4, &a6.s6_addr[12], 4);
			family = AF_INET;
		} else if (!names_in_range_v6(&n, &a6)) {
			return -EAFNOSUPPORT;
		}
	} else if (family == AF_INET) {
		memcpy(&a4, addr, 4);
	} else {
		return -EAFNOSUPPORT;
	}
	if (family == AF_INET && !names_in_range_v4(&n, &a4))
		return -EAFNOSUPPORT;
	t = sfy_names(c);
	if (!t)
		return -ENOENT;
	return family == AF_INET ? names_reverse_v4(t, &a4, buf, cap)
				 : names_reverse_v6(t, &a6, buf, cap);
}

int sfy_placeholder_name(const struct cfg *c, const struct sockaddr *sa,
			 socklen_t len, char *buf, size_t cap)
{
	struct sockaddr_in s4;
	struct sockaddr_in6 s6;

	if (sa->sa_family == AF_INET && len >= sizeof(s4)) {
		memcpy(&s4, sa, sizeof(s4));
		return sfy_placeholder_name_raw(c, AF_INET, &s4.sin_addr, buf,
						cap);
	}
	if (sa->sa_family == AF_INET6 &&
	    len >= offsetof(struct sockaddr_in6, sin6_scope_id)) {
		memcpy(&s6, sa, offsetof(struct sockaddr_in6, sin6_scope_id));
		return sfy_placeholder_name_raw(c, AF_INET6, &s6.sin6_addr, buf,
						cap);
	}
	return -EAFNOSUPPORT;
}

/* --- /etc/hosts ----------------------------------------------------------- */

/* Held while reading or scanning the cached file; a child of fork()
 * re-initialises it (see resolve_atfork_child). */
static pthread_mutex_t g_hosts_lock = PTHREAD_MUTEX_INITIALIZER;
static char *g_hosts;	       /* the file's text, NUL-terminated */
static struct stat g_hosts_st; /* what it was read from */

/* Addresses libc resolved for names that a `route direct` host rule
 * matches: connect() sends them direct, as the rule says (address rules
 * alone would send them to the proxy).  Bounded, oldest replaced first. */
#define DIRECT_ADDRS 256
static struct {
	uint8_t family;
	uint8_t addr[16];
	char name[DNS_MAX_NAME + 1]; /* the name it was looked up for */
} g_direct[DIRECT_ADDRS];
static unsigned int g_direct_next;
static atomic_uint g_direct_used; /* read without the lock: 0 is common */
static pthread_mutex_t g_direct_lock = PTHREAD_MUTEX_INITIALIZER;

static void resolve_atfork_child(void)
{
	pthread_mutex_init(&g_hosts_lock, NULL);
	pthread_mutex_init(&g_direct_lock, NULL);
}

/* Reduces v4-mapped IPv6 to IPv4 so both spellings match. */
static int plain_addr(int family, const void *addr, uint8_t out[16])
{
	memset(out, 0, 16);
	if (family == AF_INET6 &&
	    IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)addr)) {
		memcpy(out, (const uint8_t *)addr + 12, 4);
		return AF_INET;
	}
	memcpy(out, addr, family == AF_INET ? 4 : 16);
	return family;
}

void sfy_direct_learn(int family, const void *addr, const char *name)
{
	uint8_t a[16];
	unsigned int i;

	if ((family != AF_INET && family != AF_INET6) ||
	    strlen(name) > DNS_MAX_NAME)
		return;
	family = plain_addr(family, addr, a);
	pthread_mutex_lock(&g_direct_lock);
	for (i = 0; i < g_direct_used; i++)
		if (g_direct[i].family == family &&
		    memcmp(g_direct[i].addr, a, 16) == 0)
			break;
	if (i < g_direct_used) {
		strcpy(g_direct[i].name, name); /* the newest name wins */
		goto out;
	}
	i = g_direct_next;
	g_direct_next = (g_direct_next + 1) % DIRECT_ADDRS;
	if (g_direct_used < DIRECT_ADDRS)
		g_direct_used++;
	g_direct[i].family = (uint8_t)family;
	memcpy(g_direct[i].addr, a, 16);
	strcpy(g_direct[i].name, name);
out:
	pthread_mutex_unlock(&g_direct_lock);
}

int sfy_direct_name(const struct sockaddr *sa, socklen_t len, char *buf,
		    size_t cap)
{
	struct sockaddr_in s4;
	struct sockaddr_in6 s6;
	uint8_t a[16];
	unsigned int i;
	int family, found = 0;

	if (sa->sa_family == AF_INET && len >= sizeof(s4)) {
		memcpy(&s4, sa, sizeof(s4));
		family = plain_addr(AF_INET, &s4.sin_addr, a);
	} else if (sa->sa_family == AF_INET6 &&
		   len >= offsetof(struct sockaddr_in6, sin6_scope_id)) {
		memcpy(&s6, sa, offsetof(struct sockaddr_in6, sin6_scope_id));
		family = plain_addr(AF_INET6, &s6.sin6_addr, a);
	} else {
		return 0;
	}
	if (atomic_load_explicit(&g_direct_used, memory_order_relaxed) == 0)
		return 0;
	pthread_mutex_lock(&g_direct_lock);
	for (i = 0; i < g_direct_used && !found; i++) {
		found = g_direct[i].family == family &&
			memcmp(g_direct[i].addr, a, 16) == 0 &&
			strlen(g_direct[i].name) < cap;
		if (found)
			strcpy(buf, g_direct[i].name);
	}
	pthread_mutex_unlock(&g_direct_lock);
	return found;
}

/*
 * Before fork(): in remote mode the placeholder table must exist, so that
 * parent and child share one (a table made after the fork would be each
 * side's own, handing out the same placeholders for different names).
 */
static void resolve_atfork_prepare(void)
{
	const struct cfg *c;

	if (g_names || sfy_busy)
		return;
	c = sfy_config(NULL);
	if (c && cfg_dns_mode(c) == CFG_DNS_REMOTE)
		(void)sfy_names(c);
}

__attribute__((constructor)) static void resolve_at_load(void)
{
	pthread_atfork(resolve_atfork_prepare, NULL, resolve_atfork_child);
}

/* Re-reads /etc/hosts when it changed (locked).  Keeps the old text when
 * it cannot be read. */
static void hosts_refresh_locked(void)
{
	struct stat st;
	char *text, *old;
	size_t got = 0;

	if (stat(HOSTS_PATH, &st) < 0) {
		/* Unlink before freeing: a fork child must never see a
		 * pointer to freed text. */
		text = g_hosts;
		g_hosts = NULL;
		free(text);
		return;
	}
	if (g_hosts && st.st_ino == g_hosts_st.st_ino &&
	    st.st_dev == g_hosts_st.st_dev &&
	    st.st_size == g_hosts_st.st_size &&
	    st.st_mtim.tv_sec == g_hosts_st.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == g_hosts_st.st_mtim.tv_nsec)
		return;
	if (sfy_slurp(HOSTS_PATH, HOSTS_MAX_BYTES, &text, &got) < 0)
		return;
	old = g_hosts;
	g_hosts = text;
	g_hosts_st = st;
	free(old);
}

/*
 * Walks the cached file line by line; for each line calls fn(addr token,
 * its length, name tokens...) through a small callback interface.  Returns
 * what fn returns when nonzero.
 */
struct hosts_query {
	const char *name; /* for name queries */
	int family;	  /* for address queries */
	uint8_t addr[16];
	char *buf;
	size_t cap;
	/* For address collection (sfy_hosts_addrs): */
	struct sfy_hosts_addrs *out;
};

static int hosts_line(struct hosts_query *q, const char *line, size_t len)
{
	const char *p = line, *end = line + len, *tok[64];
	size_t tl[64], nt = 0, i;
	char ab[INET6_ADDRSTRLEN + 1];
	uint8_t a[16];
	const char *pct;

	while (p < end && nt < 64) {
		while (p < end && (*p == ' ' || *p == '\t' || *p == '\r'))
			p++;
		if (p >= end || *p == '#')
			break;
		tok[nt] = p;
		while (p < end && *p != ' ' && *p != '\t' && *p != '\r' &&
		       *p != '#')
			p++;
		tl[nt] = (size_t)(p - tok[nt]);
		nt++;
	}
	if (nt < 2 || tl[0] >= sizeof(ab))
		return 0;
	memcpy(ab, tok[0], tl[0]);
	ab[tl[0]] = '\0';
	pct = strchr(ab, '%');
	if (pct)
		ab[pct - ab] = '\0';
	if (q->out) {
		struct sfy_hosts_addrs *o = q->out;
		int fam = inet_pton(AF_INET, ab, a) == 1    ? AF_INET
			  : inet_pton(AF_INET6, ab, a) == 1 ? AF_INET6
							    : 0;

		for (i = 1; fam && i < nt; i++) {
			if (!dns_name_same(tok[i], tl[i], q->name))
				continue;
			if (!o->canon[0] && tl[1] < sizeof(o->canon)) {
				memcpy(o->canon, tok[1], tl[1]);
				o->canon[tl[1]] = '\0';
			}
			if (o->n < SFY_HOSTS_MAX) {
				o->family[o->n] = fam;
				memcpy(o->addr[o->n], a, 16);
				o->n++;
			}
			break;
		}
		return 0; /* keep going: a name may have several lines */
	}
	if (q->name) {
		for (i = 1; i < nt; i++)
			if (dns_name_same(tok[i], tl[i], q->name))
				return 1;
		return 0;
	}
	if (inet_pton(q->family, ab, a) != 1 ||
	    memcmp(a, q->addr, q->family == AF_INET ? 4 : 16) != 0)
		return 0;
	if (tl[1] + 1 > q->cap)
		return -ERANGE;
	memcpy(q->buf, tok[1], tl[1]);
	q->buf[tl[1]] = '\0';
	return (int)tl[1];
}

static int hosts_scan(struct hosts_query *q)
{
	const char *p, *nl;
	int r = 0, old;

	/* Reading the file (open, read: cancellation points) with the lock
	 * held: a cancelled thread must not leave it locked. */
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
	pthread_mutex_lock(&g_hosts_lock);
	hosts_refresh_locked();
	for (p = g_hosts; p && *p && r == 0; p = nl ? nl + 1 : NULL) {
		nl = strchr(p, '\n');
		r = hosts_line(q, p, nl ? (size_t)(nl - p) : strlen(p));
	}
	pthread_mutex_unlock(&g_hosts_lock);
	pthread_setcancelstate(old, &old);
	return r;
}

int sfy_hosts_has_name(const char *name)
{
	struct hosts_query q = {.name = name};

	return hosts_scan(&q) > 0;
}

int sfy_hosts_addrs(const char *name, struct sfy_hosts_addrs *out)
{
	struct hosts_query q = {.name = name, .out = out};

	memset(out, 0, sizeof(*out));
	hosts_scan(&q);
	return (int)out->n;
}

int sfy_hosts_name_for(int family, const void *addr, char *buf, size_t cap)
{
	struct hosts_query q = {.family = family, .buf = buf, .cap = cap};
	int r;

	if (family != AF_INET && family != AF_INET6)
		return -ENOENT;
	memcpy(q.addr, addr, family == AF_INET ? 4 : 16);
	r = hosts_scan(&q);
	return r == 0 ? -ENOENT : r;
}

/* --- deciding ------------------------------------------------------------- */

/* A numeric host as getaddrinfo would take it (inet_aton's forms, IPv6
 * with an optional %scope). */
static int is_numeric(const char *name)
{
	struct in_addr a4;
	struct in6_addr a6;
	char buf[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
	char *pct;

	if (strlen(name) >= sizeof(buf))
		return 0;
	strcpy(buf, name);
	/* "192.0.2.1." is numeric to glibc too. */
	if (buf[0] && buf[strlen(buf) - 1] == '.')
		buf[strlen(buf) - 1] = '\0';
	if (inet_aton(buf, &a4))
		return 1;
	pct = strchr(buf, '%');
	if (pct)
		*pct = '\0';
	return inet_pton(AF_INET6, buf, &a6) == 1;
}

/* "localhost", "localhost.", and names under .localhost (RFC 6761 6.3). */
int sfy_is_localhost(const char *name)
{
	return dns_is_localhost(name);
}

enum sfy_res sfy_res_decide(const char *name, uint16_t port,
			    const struct cfg **cfgp)
{
	const struct cfg *c;
	const char *why = NULL;
	enum cfg_dns mode;
	int err = EACCES;

	*cfgp = NULL;
	if (sfy_busy || !name || is_numeric(name))
		return SFY_RES_REAL;
	c = sfy_config_err(&why, &err);
	if (!c) {
		if (sfy_is_localhost(name))
			return SFY_RES_REAL;
		if (err != EACCES) {
			errno = err; /* logged once by the loader */
			return SFY_RES_TRANSIENT;
		}
		sfy_log(SFY_LOG_ERROR,
			"lookup of %s refused: configuration error: %s", name,
			why);
		return SFY_RES_FAIL;
	}
	*cfgp = c;
	mode = cfg_dns_mode(c);
	if (mode == CFG_DNS_LOCAL)
		return SFY_RES_REAL;
	/* Answered here, not by libc: glibc falls through to DNS for a
	 * family /etc/hosts lacks, and for localhost names it lacks. */
	if (sfy_is_localhost(name) || sfy_hosts_has_name(name))
		return SFY_RES_HOSTS;
	/* Resolved locally only when no connection to it can go through
	 * the proxy: a `route direct` rule for some ports leaves the others
	 * proxied, and their lookups must not leave the machine. */
	if (cfg_name_always_direct(c, name) ||
	    (port && cfg_match_name(c, name, port) == CFG_DIRECT))
		return SFY_RES_DIRECT;
	return mode == CFG_DNS_TUNNEL ? SFY_RES_TUNNEL : SFY_RES_PLACEHOLDER;
}

/* --- the tunnel resolver -------------------------------------------------- */

static uint16_t query_id(void)
{
	uint16_t id;
	struct timespec ts;

	if (getrandom(&id, sizeof(id), GRND_NONBLOCK) == sizeof(id))
		return id;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint16_t)(ts.tv_nsec ^ (ts.tv_nsec >> 16) ^ getpid());
}

/* Waits for ev on our own fd until the deadline; a signal does not cut a
 * lookup short.  Returns 0 or -1. */
static int wait_until(int fd, short ev, long long deadline)
{
	int rc;

	while ((rc = sfy_wait_fd(fd, ev, deadline, -1, 0)) == -EINTR)
		;
	return rc < 0 ? -1 : 0;
}

/* Sends all of buf before the deadline.  Returns 0 or -1. */
static int send_all(int fd, const uint8_t *buf, size_t len, long long deadline)
{
	ssize_t n;

	while (len > 0) {
		if (wait_until(fd, POLLOUT, deadline) < 0)
			return -1;
		n = sfy_real()->send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Reads exactly len bytes before the deadline.  Returns 0, -1 on error or
 * timeout, -2 when the server closed the connection first. */
static int recv_all(int fd, uint8_t *buf, size_t len, long long deadline)
{
	ssize_t n;

	while (len > 0) {
		if (wait_until(fd, POLLIN, deadline) < 0)
			return -1;
		n = sfy_real()->recv(fd, buf, len, MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n == 0)
			return -2;
		if (n < 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Opens a connection through the proxy to the configured DNS server on a
 * socket of our own (close-on-exec, closed before we return to the
 * program).  Returns the fd or -1 (logged by the connect). */
static int tunnel_open(const struct cfg *c, const char *name)
{
	struct s5_addr dst, bnd;
	char desc[SFY_ADDRSTRLEN + 300];
	int has4 = 0, has6 = 0, fam, fd, rc;

	if (s5_addr_from_sockaddr(&dst, (const struct sockaddr *)&c->dns_server,
				  c->dns_server_len) < 0)
		return -1;
	if (sfy_proxy_families(&has4, &has6) < 0)
		return -1;
	fam = has4 ? AF_INET : AF_INET6;
	fd = REAL_CALL(socket, fam, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	sfy_fmt_addr((const struct sockaddr *)&c->dns_server, c->dns_server_len,
		     desc, SFY_ADDRSTRLEN);
	snprintf(desc + strlen(desc), sizeof(desc) - strlen(desc),
		 " (DNS over TCP, looking up %s)", name);
	rc = sfy_tcp_connect(fd, fam, &dst, desc, -1, &bnd);
	if (rc < 0) {
		sfy_real()->close(fd);
		return -1;
	}
	return fd;
}

/* Closes a tunnel socket of ours (also when the looking-up thread is
 * cancelled in a wait: the lookup is a cancellation point). */
static void close_cleanup(void *arg)
{
	sfy_real()->close(*(int *)arg);
}

/* Frames a DNS message (RFC 1035 4.2.2) and sends it. */
static int send_framed(int fd, const uint8_t *msg, size_t len,
		       long long deadline)
{
	uint8_t hdr[2] = {(uint8_t)(len >> 8), (uint8_t)len};

	if (len > 65535)
		return -1;
	return send_all(fd, hdr, 2, deadline) == 0 &&
		       send_all(fd, msg, len, deadline) == 0
		   ? 0
		   : -1;
}

/* Reads one framed message into a malloc'd buffer.  Returns its length,
 * -1 on error or timeout, -2 when the server closed first. */
static ssize_t recv_framed(int fd, uint8_t **out, long long deadline)
{
	uint8_t hdr[2], *msg;
	size_t len;
	int rc = recv_all(fd, hdr, 2, deadline);

	if (rc < 0)
		return rc;
	len = (size_t)hdr[0] << 8 | hdr[1];
	msg = malloc(len ? len : 1);
	if (!msg)
		return -1;
	pthread_cleanup_push(free, msg);
	rc = recv_all(fd, msg, len, deadline);
	pthread_cleanup_pop(0);
	if (rc < 0) {
		free(msg);
		return -1;
	}
	*out = msg;
	return (ssize_t)len;
}

struct tq {
	uint16_t id, type;
	uint8_t q[512];
	size_t qlen;
	struct dns_answer *ans;
	int done; /* 1: answered; -1: unusable answer */
};

/*
 * Sends the pending questions on a fresh connection and collects answers
 * in whatever order they come (RFC 7766 lets a server reorder them).
 * Returns 0 when every question got an answer or the server hung up
 * (call again for the rest), -1 on a failure or at the deadline, -2 when
 * the proxy could not be reached (already logged).
 */
static int tunnel_exchange(int fd, const char *name, struct tq *q, size_t nq,
			   long long deadline)
{
	size_t i, pending = 0;
	uint8_t *msg = NULL;
	ssize_t len;
	uint16_t id;
	int rc = 0;

	for (i = 0; i < nq; i++)
		if (!q[i].done) {
			if (send_framed(fd, q[i].q, q[i].qlen, deadline) < 0)
				rc = -1;
			pending++;
		}
	while (rc == 0 && pending > 0) {
		len = recv_framed(fd, &msg, deadline);
		if (len == -2)
			break; /* one answer per connection: go again */
		if (len < 0) {
			rc = -1;
			break;
		}
		id = len >= 2 ? (uint16_t)(msg[0] << 8 | msg[1]) : 0;
		for (i = 0; i < nq; i++) {
			if (q[i].done || q[i].id != id)
				continue;
			q[i].done =
			    dns_parse_response(msg, (size_t)len, id, name,
					       q[i].type, q[i].ans) == 0
				? 1
				: -1;
			pending--;
		}
		free(msg);
	}
	return rc;
}

static int tunnel_round(const struct cfg *c, const char *name, struct tq *q,
			size_t nq, long long deadline)
{
	int fd = tunnel_open(c, name), rc;

	if (fd < 0)
		return -2;
	pthread_cleanup_push(close_cleanup, &fd);
	rc = tunnel_exchange(fd, name, q, nq, deadline);
	pthread_cleanup_pop(1);
	return rc;
}

int sfy_tunnel_resolve(const struct cfg *c, const char *name, int family,
		       struct dns_answer *a4, struct dns_answer *a6)
{
	struct tq q[2];
	size_t nq = 0, i;
	uint16_t id = query_id();
	long long deadline = sfy_now_ms() + c->timeout_ms;
	int saved = errno, rc = 0, round, logged = 0;
	ssize_t n;

	memset(q, 0, sizeof(q));
	if (family != AF_INET6) {
		q[nq].type = DNS_TYPE_A;
		q[nq].ans = a4;
		nq++;
	}
	if (family != AF_INET) {
		q[nq].type = DNS_TYPE_AAAA;
		q[nq].ans = a6;
		nq++;
	}
	for (i = 0; i < nq; i++) {
		q[i].id = (uint16_t)(id + i);
		n = dns_encode_query(q[i].q, sizeof(q[i].q), q[i].id, name,
				     q[i].type);
		if (n < 0)
			return EAI_NONAME; /* not a name DNS can carry */
		q[i].qlen = (size_t)n;
	}
	/* A server that answers one question per connection needs a round
	 * per question; give up after that many. */
	for (round = 0; round < 2 && rc == 0; round++) {
		for (i = 0; i < nq && q[i].done; i++)
			;
		if (i == nq)
			break;
		switch (tunnel_round(c, name, q, nq, deadline)) {
		case -2:
			logged = 1;
			/* fall through */
		case -1:
			rc = EAI_AGAIN;
			break;
		default:
			break;
		}
	}
	for (i = 0; i < nq && rc == 0; i++)
		if (q[i].done != 1)
			rc = q[i].done < 0 ? EAI_FAIL : EAI_AGAIN;
	if (rc != 0 && !logged)
		sfy_log(SFY_LOG_ERROR,
			"lookup of %s over the proxy failed: %s (%s)", name,
			rc == EAI_AGAIN
			    ? "no answer from the DNS server in time"
			    : "unusable answer from the DNS server",
			rc == EAI_AGAIN ? "EAI_AGAIN" : "EAI_FAIL");
	errno = saved;
	return rc;
}

int sfy_tunnel_raw(const struct cfg *c, const char *what, const uint8_t *q,
		   size_t qlen, uint8_t *ans, size_t anslen)
{
	long long deadline = sfy_now_ms() + c->timeout_ms;
	uint8_t *msg = NULL;
	ssize_t len = -1;
	int fd, rc = -1, saved = errno;

	fd = tunnel_open(c, what);
	if (fd < 0) {
		errno = saved;
		return -1; /* logged by the connect */
	}
	pthread_cleanup_push(close_cleanup, &fd);
	if (send_framed(fd, q, qlen, deadline) == 0)
		len = recv_framed(fd, &msg, deadline);
	if (len >= 0) {
		rc = (int)((size_t)len < anslen ? (size_t)len : anslen);
		memcpy(ans, msg, (size_t)rc);
		free(msg);
	}
	pthread_cleanup_pop(1);
	if (rc < 0)
		sfy_log(SFY_LOG_ERROR,
			"DNS query for %s over the proxy failed: no answer "
			"from the DNS server in time",
			what);
	errno = saved;
	return rc;
}
