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
#define DIRECT_ADDRS 1024
static struct {
	uint8_t family;
	uint8_t addr[16];
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

void sfy_direct_learn(int family, const void *addr)
{
	uint8_t a[16];
	unsigned int i;

	if (family != AF_INET && family != AF_INET6)
		return;
	family = plain_addr(family, addr, a);
	pthread_mutex_lock(&g_direct_lock);
	for (i = 0; i < g_direct_used; i++)
		if (g_direct[i].family == family &&
		    memcmp(g_direct[i].addr, a, 16) == 0)
			goto out;
	i = g_direct_next;
	g_direct_next = (g_direct_next + 1) % DIRECT_ADDRS;
	if (g_direct_used < DIRECT_ADDRS)
		g_direct_used++;
	g_direct[i].family = (uint8_t)family;
	memcpy(g_direct[i].addr, a, 16);
out:
	pthread_mutex_unlock(&g_direct_lock);
}

int sfy_direct_has(const struct sockaddr *sa, socklen_t len)
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
	for (i = 0; i < g_direct_used && !found; i++)
		found = g_direct[i].family == family &&
			memcmp(g_direct[i].addr, a, 16) == 0;
	pthread_mutex_unlock(&g_direct_lock);
	return found;
}

__attribute__((constructor)) static void resolve_at_load(void)
{
	pthread_atfork(NULL, NULL, resolve_atfork_child);
}

/* Re-reads /etc/hosts when it changed (locked).  Keeps the old text when
 * it cannot be read. */
static void hosts_refresh_locked(void)
{
	struct stat st;
	char *text;
	ssize_t n;
	size_t got = 0;
	int fd;

	if (stat(HOSTS_PATH, &st) < 0) {
		free(g_hosts);
		g_hosts = NULL;
		return;
	}
	if (g_hosts && st.st_ino == g_hosts_st.st_ino &&
	    st.st_dev == g_hosts_st.st_dev &&
	    st.st_size == g_hosts_st.st_size &&
	    st.st_mtim.tv_sec == g_hosts_st.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == g_hosts_st.st_mtim.tv_nsec)
		return;
	if (!S_ISREG(st.st_mode) || st.st_size > (off_t)HOSTS_MAX_BYTES)
		return;
	fd = open(HOSTS_PATH, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return;
	text = malloc((size_t)st.st_size + 1);
	if (!text) {
		sfy_real()->close(fd);
		return;
	}
	while (got < (size_t)st.st_size) {
		n = read(fd, text + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	sfy_real()->close(fd);
	text[got] = '\0';
	free(g_hosts);
	g_hosts = text;
	g_hosts_st = st;
}

/* Compares a hosts-file token with a name: case-insensitive, a trailing
 * dot on either ignored. */
static int token_is(const char *tok, size_t tlen, const char *name)
{
	size_t nlen = strlen(name);

	if (tlen && tok[tlen - 1] == '.')
		tlen--;
	if (nlen && name[nlen - 1] == '.')
		nlen--;
	return tlen == nlen && strncasecmp(tok, name, nlen) == 0;
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
	if (nt < 2)
		return 0;
	if (q->name) {
		for (i = 1; i < nt; i++)
			if (token_is(tok[i], tl[i], q->name))
				return 1;
		return 0;
	}
	if (tl[0] >= sizeof(ab))
		return 0;
	memcpy(ab, tok[0], tl[0]);
	ab[tl[0]] = '\0';
	pct = strchr(ab, '%');
	if (pct)
		ab[pct - ab] = '\0';
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
	int r = 0;

	pthread_mutex_lock(&g_hosts_lock);
	hosts_refresh_locked();
	for (p = g_hosts; p && *p && r == 0; p = nl ? nl + 1 : NULL) {
		nl = strchr(p, '\n');
		r = hosts_line(q, p, nl ? (size_t)(nl - p) : strlen(p));
	}
	pthread_mutex_unlock(&g_hosts_lock);
	return r;
}

int sfy_hosts_has_name(const char *name)
{
	struct hosts_query q = {.name = name};

	return hosts_scan(&q) > 0;
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

	if (inet_aton(name, &a4))
		return 1;
	if (strlen(name) >= sizeof(buf))
		return 0;
	strcpy(buf, name);
	pct = strchr(buf, '%');
	if (pct)
		*pct = '\0';
	return inet_pton(AF_INET6, buf, &a6) == 1;
}

/* "localhost", "localhost.", and names under .localhost (RFC 6761 6.3). */
static int is_localhost(const char *name)
{
	size_t n = strlen(name);

	if (n && name[n - 1] == '.')
		n--;
	if (n == 9 && strncasecmp(name, "localhost", 9) == 0)
		return 1;
	return n > 10 && strncasecmp(name + n - 10, ".localhost", 10) == 0;
}

enum sfy_res sfy_res_decide(const char *name, const struct cfg **cfgp)
{
	const struct cfg *c;
	const char *why = NULL;
	enum cfg_dns mode;

	*cfgp = NULL;
	if (sfy_busy || !name || is_numeric(name) || is_localhost(name))
		return SFY_RES_REAL;
	c = sfy_config(&why);
	if (!c) {
		sfy_log(SFY_LOG_ERROR,
			"lookup of %s refused: configuration error: %s", name,
			why);
		return SFY_RES_FAIL;
	}
	*cfgp = c;
	mode = cfg_dns_mode(c);
	if (mode == CFG_DNS_LOCAL || sfy_hosts_has_name(name))
		return SFY_RES_REAL;
	if (cfg_name_is_direct(c, name))
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

/* Sends all of buf on our own blocking socket (send timeout set). */
static int send_all(int fd, const uint8_t *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = sfy_real()->send(fd, buf, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int recv_all(int fd, uint8_t *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = sfy_real()->recv(fd, buf, len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
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
	struct s5_addr dst;
	char desc[SFY_ADDRSTRLEN + 300];
	struct timeval tv;
	int has4 = 0, has6 = 0, fam, fd, rc;

	if (s5_addr_from_sockaddr(&dst, (const struct sockaddr *)&c->dns_server,
				  c->dns_server_len) < 0)
		return -1;
	if (sfy_proxy_families(&has4, &has6) < 0)
		return -1;
	fam = has4 ? AF_INET : AF_INET6;
	fd = socket(fam, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	sfy_fmt_addr((const struct sockaddr *)&c->dns_server, c->dns_server_len,
		     desc, SFY_ADDRSTRLEN);
	snprintf(desc + strlen(desc), sizeof(desc) - strlen(desc),
		 " (DNS over TCP, looking up %s)", name);
	rc = sfy_tcp_connect(fd, fam, &dst, desc);
	if (rc < 0) {
		sfy_real()->close(fd);
		return -1;
	}
	tv.tv_sec = c->timeout_ms / 1000;
	tv.tv_usec = (c->timeout_ms % 1000) * 1000;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return fd;
}

/* Sends one framed query (RFC 1035 4.2.2).  Returns 0 or -1. */
static int tunnel_send(int fd, uint16_t id, const char *name, uint16_t type)
{
	uint8_t msg[2 + 512];
	ssize_t n = dns_encode_query(msg + 2, sizeof(msg) - 2, id, name, type);

	if (n < 0)
		return -1;
	msg[0] = (uint8_t)(n >> 8);
	msg[1] = (uint8_t)n;
	return send_all(fd, msg, (size_t)n + 2);
}

/* Reads one framed response and parses it against (id, name, type).
 * Returns 0 or an EAI_* code. */
static int tunnel_recv(int fd, uint16_t id, const char *name, uint16_t type,
		       struct dns_answer *ans)
{
	uint8_t hdr[2], *msg;
	size_t len;
	int rc;

	if (recv_all(fd, hdr, 2) < 0)
		return EAI_AGAIN;
	len = (size_t)hdr[0] << 8 | hdr[1];
	msg = malloc(len ? len : 1);
	if (!msg)
		return EAI_MEMORY;
	if (recv_all(fd, msg, len) < 0) {
		free(msg);
		return EAI_AGAIN;
	}
	rc = dns_parse_response(msg, len, id, name, type, ans);
	free(msg);
	return rc == 0 ? 0 : EAI_FAIL;
}

int sfy_tunnel_resolve(const struct cfg *c, const char *name, int family,
		       struct dns_answer *a4, struct dns_answer *a6)
{
	uint16_t id4 = query_id(), id6 = (uint16_t)(id4 + 1);
	int want4 = family != AF_INET6, want6 = family != AF_INET;
	int fd, rc = 0, saved = errno;

	fd = tunnel_open(c, name);
	if (fd < 0) {
		errno = saved;
		return EAI_AGAIN;
	}
	/* Both questions first, then both answers: one round trip. */
	if ((want4 && tunnel_send(fd, id4, name, DNS_TYPE_A) < 0) ||
	    (want6 && tunnel_send(fd, id6, name, DNS_TYPE_AAAA) < 0))
		rc = EAI_AGAIN;
	if (rc == 0 && want4)
		rc = tunnel_recv(fd, id4, name, DNS_TYPE_A, a4);
	if (rc == 0 && want6)
		rc = tunnel_recv(fd, id6, name, DNS_TYPE_AAAA, a6);
	sfy_real()->close(fd);
	if (rc != 0)
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
	uint8_t hdr[2], *msg = NULL;
	size_t len;
	int fd, rc = -1, saved = errno;

	if (qlen > 65535)
		return -1;
	fd = tunnel_open(c, what);
	if (fd < 0) {
		errno = saved;
		return -1;
	}
	hdr[0] = (uint8_t)(qlen >> 8);
	hdr[1] = (uint8_t)qlen;
	if (send_all(fd, hdr, 2) == 0 && send_all(fd, q, qlen) == 0 &&
	    recv_all(fd, hdr, 2) == 0) {
		len = (size_t)hdr[0] << 8 | hdr[1];
		msg = malloc(len ? len : 1);
		if (msg && recv_all(fd, msg, len) == 0) {
			rc = (int)(len < anslen ? len : anslen);
			memcpy(ans, msg, (size_t)rc);
		}
		free(msg);
	}
	sfy_real()->close(fd);
	if (rc < 0)
		sfy_log(SFY_LOG_ERROR,
			"DNS query for %s over the proxy failed: no answer "
			"from the DNS server in time",
			what);
	errno = saved;
	return rc;
}
