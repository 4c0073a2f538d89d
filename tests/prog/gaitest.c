/* gaitest - the shim's resolver hooks checked against glibc's semantics.
 *
 *   gaitest MODE
 *
 * Run with libsocksify preloaded, inside a network namespace of its own
 * (tests/resolver.sh sets up each MODE's environment):
 *
 *   remote      SOCKSIFY_PROXY=socks5h://127.0.0.1:1080, nothing listening:
 *               getaddrinfo against glibc's lists for numeric literals,
 *               hints and flags, NULL node/service, the hostent calls,
 *               reverse lookups, connect() to placeholders, fork sharing
 *   addrconfig  the AI_ADDRCONFIG cases only (run in namespaces with and
 *               without non-loopback IPv4/IPv6 addresses)
 *   forkfirst   fork() before any lookup, then the sharing checks
 *   hosts       remote mode with a test /etc/hosts and `route direct`
 *               host rules: numeric, localhost, /etc/hosts and direct
 *               names stay local
 *   local       dns local (or a socks5:// URL): no placeholders at all
 *   broken      SOCKSIFY_CONF with a syntax error: EAI_FAIL, one log line
 *   tunnel      dns tunnel, dns_server 203.0.113.53, timeout 1, no proxy
 *   ranges      dns_v4_range 198.18.128.0/17, dns_v6_range
 *               2001:db8:ffff::/64, dns_names 1024
 *   threads     8 threads x 2,000 distinct names, round trips
 *
 * Environment: GAITEST_TEST_HOSTS=1 when the test /etc/hosts (with ::1
 * localhost, 192.0.2.10 myhost.test myalias, 2001:db8::10 myhost6.test)
 * is mounted; GAITEST_DNS_SENTINEL=1 when /etc/resolv.conf names
 * 127.0.0.1: gaitest then answers DNS there itself (NXDOMAIN) and checks
 * which lookups sent queries (remote, hosts, local).
 *
 * Prints "ok: CHECK" or "FAIL: CHECK (details)" per check; exits 1 if any
 * check failed, 2 on a usage error.  The comparisons against glibc use
 * numeric literals (127.0.0.2, ::2), which the shim leaves to libc: a
 * placeholder list must have the structure glibc gives for a literal of
 * the same family, field by field except the address.
 */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fact.h"

#define LIT4 "127.0.0.2"
#define LIT6 "::2"

/* The placeholder ranges in force (the defaults unless mode ranges). */
static uint8_t r4_base[4] = {127, 192, 0, 0};
static unsigned r4_prefix = 10;
static uint8_t r6_base[16] = {0x01, 0x00};
static unsigned r6_prefix = 64;

/* --- small helpers -------------------------------------------------------- */

/* libc's own function, past the shim: the reference where the shim would
 * answer even for the reference's arguments. */
static void *libc_sym(const char *name)
{
	void *h = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);

	return h ? dlsym(h, name) : NULL;
}

typedef int (*byname_r_fn)(const char *, struct hostent *, char *, size_t,
			   struct hostent **, int *);
typedef int (*byaddr_r_fn)(const void *, socklen_t, int, struct hostent *,
			   char *, size_t, struct hostent **, int *);

static const char *eai(int rc)
{
	static __thread char buf[32];

	switch (rc) {
	case 0:
		return "0";
	case EAI_ADDRFAMILY:
		return "EAI_ADDRFAMILY";
	case EAI_AGAIN:
		return "EAI_AGAIN";
	case EAI_BADFLAGS:
		return "EAI_BADFLAGS";
	case EAI_FAIL:
		return "EAI_FAIL";
	case EAI_FAMILY:
		return "EAI_FAMILY";
	case EAI_MEMORY:
		return "EAI_MEMORY";
	case EAI_NODATA:
		return "EAI_NODATA";
	case EAI_NONAME:
		return "EAI_NONAME";
	case EAI_SERVICE:
		return "EAI_SERVICE";
	case EAI_SOCKTYPE:
		return "EAI_SOCKTYPE";
	case EAI_SYSTEM:
		return "EAI_SYSTEM";
	case EAI_OVERFLOW:
		return "EAI_OVERFLOW";
	default:
		snprintf(buf, sizeof(buf), "EAI(%d)", rc);
		return buf;
	}
}

static int prefix_match(const uint8_t *a, const uint8_t *base, unsigned prefix)
{
	unsigned i, full = prefix / 8, rest = prefix % 8;

	for (i = 0; i < full; i++)
		if (a[i] != base[i])
			return 0;
	if (rest) {
		uint8_t m = (uint8_t)(0xff << (8 - rest));

		if ((a[full] & m) != (base[full] & m))
			return 0;
	}
	return 1;
}

/* 1 when addr (4 or 16 bytes by family) is in the placeholder range. */
static int in_range(int family, const void *addr)
{
	if (family == AF_INET)
		return prefix_match(addr, r4_base, r4_prefix);
	if (family == AF_INET6)
		return prefix_match(addr, r6_base, r6_prefix);
	return 0;
}

/* 1 when addr lies in any placeholder range: the ones in force or the
 * defaults, v4-mapped included. */
static int any_placeholder(int family, const void *addr)
{
	static const uint8_t d4[4] = {127, 192, 0, 0};
	static const uint8_t d6[16] = {0x01, 0x00};
	const uint8_t *b = addr;

	if (family == AF_INET6 && IN6_IS_ADDR_V4MAPPED((const void *)b)) {
		family = AF_INET;
		b += 12;
	}
	if (family == AF_INET)
		return in_range(AF_INET, b) || prefix_match(b, d4, 10);
	return in_range(AF_INET6, b) || prefix_match(b, d6, 64);
}

static const uint8_t *ai_bytes(const struct addrinfo *ai)
{
	if (ai->ai_family == AF_INET)
		return (const uint8_t *)&(
			   (const struct sockaddr_in *)(const void *)
			       ai->ai_addr)
		    ->sin_addr;
	return ((const struct sockaddr_in6 *)(const void *)ai->ai_addr)
	    ->sin6_addr.s6_addr;
}

static unsigned ai_port(const struct addrinfo *ai)
{
	/* sin_port and sin6_port share their offset. */
	return ntohs(
	    ((const struct sockaddr_in *)(const void *)ai->ai_addr)->sin_port);
}

static const char *ai_str(const struct addrinfo *ai)
{
	static __thread char buf[INET6_ADDRSTRLEN];

	if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
		return "(other family)";
	inet_ntop(ai->ai_family, ai_bytes(ai), buf, sizeof(buf));
	return buf;
}

static int any_placeholder_ai(const struct addrinfo *ai)
{
	for (; ai; ai = ai->ai_next)
		if ((ai->ai_family == AF_INET || ai->ai_family == AF_INET6) &&
		    any_placeholder(ai->ai_family, ai_bytes(ai)))
			return 1;
	return 0;
}

static size_t ai_count(const struct addrinfo *ai)
{
	size_t n = 0;

	for (; ai; ai = ai->ai_next)
		n++;
	return n;
}

static void sa4(struct sockaddr_in *s, const void *addr, unsigned port)
{
	memset(s, 0, sizeof(*s));
	s->sin_family = AF_INET;
	s->sin_port = htons((uint16_t)port);
	memcpy(&s->sin_addr, addr, 4);
}

static void sa6(struct sockaddr_in6 *s, const void *addr, unsigned port)
{
	memset(s, 0, sizeof(*s));
	s->sin6_family = AF_INET6;
	s->sin6_port = htons((uint16_t)port);
	memcpy(&s->sin6_addr, addr, 16);
}

/* The name as the shim's canonical name gives it: no trailing dot. */
static void undotted(const char *name, char *buf, size_t cap)
{
	size_t n = strlen(name);

	if (n && name[n - 1] == '.')
		n--;
	snprintf(buf, cap, "%.*s", (int)n, name);
}

/* Brings lo up (an unshare -n namespace starts with it down), so that
 * connects to the proxy address are refused rather than unreachable. */
static void lo_up(void)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0 && !(ifr.ifr_flags & IFF_UP)) {
		ifr.ifr_flags |= IFF_UP;
		(void)ioctl(fd, SIOCSIFFLAGS, &ifr);
	}
	close(fd);
}

/* --- capturing the shim's log lines (it writes them to fd 2) ------------- */

static int cap_fd = -1, cap_saved = -1;

static void cap_begin(void)
{
	fflush(stderr);
	cap_fd = memfd_create("gaitest-log", MFD_CLOEXEC);
	cap_saved = dup(2);
	if (cap_fd >= 0 && cap_saved >= 0)
		dup2(cap_fd, 2);
}

/* Restores fd 2; returns the number of "socksify:" lines written since
 * cap_begin, with the text (newlines as " | ") in text. */
static int cap_end(char *text, size_t cap)
{
	char buf[4096];
	ssize_t n;
	int lines = 0;
	char *p;

	if (cap_saved >= 0) {
		dup2(cap_saved, 2);
		close(cap_saved);
	}
	n = cap_fd >= 0 ? pread(cap_fd, buf, sizeof(buf) - 1, 0) : -1;
	if (cap_fd >= 0)
		close(cap_fd);
	cap_fd = cap_saved = -1;
	if (n < 0)
		n = 0;
	buf[n] = '\0';
	for (p = buf; *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : "")
		if (strncmp(p, "socksify:", 9) == 0)
			lines++;
	while (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	for (p = buf; *p; p++)
		if (*p == '\n')
			*p = '|';
	snprintf(text, cap, "%s", buf);
	return lines;
}

/* --- a DNS sentinel --------------------------------------------------------
 * With /etc/resolv.conf saying "nameserver 127.0.0.1" (tests/resolver.sh
 * mounts one), every query libc sends arrives here.  A thread answers
 * each with NXDOMAIN (so libc does not wait) and counts them. */

static int sentinel_fd[3] = {-1, -1, -1};
static atomic_int sentinel_queries;
static char sentinel_first[300];
static pthread_mutex_t sentinel_lock = PTHREAD_MUTEX_INITIALIZER;

/* The question name of a DNS message, dotted, into buf. */
static void qname_of(const uint8_t *m, size_t len, char *buf, size_t cap)
{
	size_t i = 12, o = 0;

	buf[0] = '\0';
	while (i < len && m[i] && m[i] < 64 && i + 1 + m[i] <= len &&
	       o + m[i] + 2 < cap) {
		memcpy(buf + o, m + i + 1, m[i]);
		o += m[i];
		buf[o++] = '.';
		i += 1 + m[i];
	}
	buf[o] = '\0';
}

static void sentinel_saw(const char *what)
{
	pthread_mutex_lock(&sentinel_lock);
	if (!sentinel_first[0])
		snprintf(sentinel_first, sizeof(sentinel_first), "%s", what);
	pthread_mutex_unlock(&sentinel_lock);
	atomic_fetch_add(&sentinel_queries, 1);
}

static void *sentinel_main(void *arg)
{
	struct pollfd p[3];
	struct sockaddr_storage from;
	socklen_t flen;
	uint8_t msg[1500];
	char name[300];
	ssize_t n;
	int i, fd;

	(void)arg;
	for (i = 0; i < 3; i++) {
		p[i].fd = sentinel_fd[i];
		p[i].events = POLLIN;
	}
	for (;;) {
		if (poll(p, 3, -1) < 0)
			continue;
		for (i = 0; i < 2; i++) {
			flen = sizeof(from);
			n = recvfrom(p[i].fd, msg, sizeof(msg), MSG_DONTWAIT,
				     (struct sockaddr *)&from, &flen);
			if (n < 12)
				continue;
			qname_of(msg, (size_t)n, name, sizeof(name));
			sentinel_saw(name);
			msg[2] |= 0x80;		      /* QR */
			msg[3] = (uint8_t)(0x80 | 3); /* RA, NXDOMAIN */
			sendto(p[i].fd, msg, (size_t)n, 0,
			       (struct sockaddr *)&from, flen);
		}
		fd = accept(p[2].fd, NULL, NULL);
		if (fd >= 0) {
			sentinel_saw("(a query over TCP)");
			close(fd);
		}
	}
	return NULL;
}

/* Starts the sentinel (once); 0 or -1 (a failed check). */
static int sentinel_start(void)
{
	static int started;
	struct sockaddr_in s4;
	struct sockaddr_in6 s6;
	pthread_t th;
	int one = 1;

	if (started)
		return 0;
	lo_up();
	sa4(&s4, "\x7f\0\0\1", 53);
	sa6(&s6, &in6addr_loopback, 53);
	sentinel_fd[0] = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	sentinel_fd[1] = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	sentinel_fd[2] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	setsockopt(sentinel_fd[2], SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(sentinel_fd[0], (struct sockaddr *)&s4, sizeof(s4)) < 0 ||
	    bind(sentinel_fd[1], (struct sockaddr *)&s6, sizeof(s6)) < 0 ||
	    bind(sentinel_fd[2], (struct sockaddr *)&s4, sizeof(s4)) < 0 ||
	    listen(sentinel_fd[2], 16) < 0 ||
	    pthread_create(&th, NULL, sentinel_main, NULL) != 0) {
		fact(0, "DNS sentinel: cannot listen on port 53: %s",
		     strerror(errno));
		return -1;
	}
	pthread_detach(th);
	started = 1;
	return 0;
}

/* Queries seen since the last call (the first one's name in first). */
static int sentinel_take(char *first, size_t cap)
{
	int n = atomic_exchange(&sentinel_queries, 0);

	pthread_mutex_lock(&sentinel_lock);
	snprintf(first, cap, "%s", sentinel_first[0] ? sentinel_first : "-");
	sentinel_first[0] = '\0';
	pthread_mutex_unlock(&sentinel_lock);
	return n;
}

/* With GAITEST_DNS_SENTINEL set: checks that what ran since the last call
 * sent no DNS query (want_none) or at least one (!want_none). */
static void sentinel_check(const char *what, int want_none)
{
	char first[300];
	int n;

	if (!getenv("GAITEST_DNS_SENTINEL"))
		return;
	n = sentinel_take(first, sizeof(first));
	if (want_none)
		fact(n == 0,
		     "%s: no DNS query left the program (%d; first "
		     "for %s)",
		     what, n, first);
	else
		fact(n > 0, "%s: resolved by libc (a DNS query seen)", what);
}

static void sentinel_begin(void)
{
	if (getenv("GAITEST_DNS_SENTINEL"))
		sentinel_start();
}

/* --- getaddrinfo against glibc's lists for literals ---------------------- */

struct ph {
	int has4, has6;
	uint8_t a4[4];
	uint8_t a6[16];
};

/* ai_flags are compared too, but reported once per group (flags_check):
 * entries whose ai_flags differ from glibc's, and the first such. */
static int flags_lists;
static char flags_diff[300];

static void flags_check(const char *group)
{
	fact(flags_lists == 0,
	     "%s: every entry's ai_flags as glibc's (the caller's flags) (%d "
	     "entries differ; first: %s)",
	     group, flags_lists, flags_diff[0] ? flags_diff : "-");
	flags_lists = 0;
	flags_diff[0] = '\0';
}

/*
 * Runs getaddrinfo(name, svc, hints) and compares it with glibc's answers
 * for LIT4 and LIT6 with the same arguments: the IPv4 part of our list
 * must have the structure of glibc's IPv4 list (when glibc gives one:
 * per-family filtering such as AI_ADDRCONFIG applies alike), then the IPv6
 * part that of glibc's IPv6 list; all addresses placeholders, one per
 * family; ai_canonname the name (undotted) on the first entry only, and
 * only with AI_CANONNAME.  When glibc gives neither list, ours must fail
 * with one of glibc's codes.  *out (may be NULL) gets the placeholders.
 * ai_flags differences are counted for flags_check.
 */
static void gai_case(const char *desc, const char *name, const char *svc,
		     const struct addrinfo *hints, struct ph *out)
{
	struct addrinfo *ours = NULL, *r4 = NULL, *r6 = NULL, *ai, *e;
	const struct addrinfo *want[64];
	char why[512] = "", canon[300];
	size_t nw = 0, i;
	int rc, rc4, rc6, use4, use6;
	struct ph ph;

	memset(&ph, 0, sizeof(ph));
	rc = getaddrinfo(name, svc, hints, &ours);
	rc4 = getaddrinfo(LIT4, svc, hints, &r4);
	rc6 = getaddrinfo(LIT6, svc, hints, &r6);
	use4 = rc4 == 0 && r4->ai_family == AF_INET;
	use6 = rc6 == 0;
	if (use4)
		for (e = r4; e && nw < 64; e = e->ai_next)
			want[nw++] = e;
	if (use6)
		for (e = r6; e && nw < 64; e = e->ai_next)
			want[nw++] = e;
	if (!nw) {
		fact(rc != 0 && ((rc4 && rc == rc4) || (rc6 && rc == rc6)),
		     "%s: %s (glibc on %s: %s, on %s: %s)", desc, eai(rc), LIT4,
		     eai(rc4), LIT6, eai(rc6));
		goto out;
	}
	if (rc != 0) {
		fact(0, "%s (got %s; glibc gives %zu entries for the literals)",
		     desc, eai(rc), nw);
		goto out;
	}
	undotted(name, canon, sizeof(canon));
	for (ai = ours, i = 0; ai && !why[0]; ai = ai->ai_next, i++) {
		int fam = ai->ai_family;

		if (i >= nw) {
			snprintf(why, sizeof(why), "%zu entries, glibc %zu",
				 ai_count(ours), nw);
			break;
		}
		e = (struct addrinfo *)(uintptr_t)want[i];
		if (ai->ai_flags != e->ai_flags && !flags_diff[0])
			snprintf(flags_diff, sizeof(flags_diff),
				 "%s: ai_flags %#x, glibc %#x", desc,
				 (unsigned)ai->ai_flags, (unsigned)e->ai_flags);
		if (ai->ai_flags != e->ai_flags)
			flags_lists++;
		if (fam != e->ai_family || ai->ai_socktype != e->ai_socktype ||
		    ai->ai_protocol != e->ai_protocol ||
		    ai->ai_addrlen != e->ai_addrlen ||
		    (fam == AF_INET || fam == AF_INET6
			 ? ai_port(ai) != ai_port(e)
			 : 0)) {
			snprintf(why, sizeof(why),
				 "entry %zu: family %d socktype %d "
				 "protocol %d addrlen %u port %u; glibc: "
				 "family %d socktype %d protocol %d "
				 "addrlen %u port %u",
				 i, fam, ai->ai_socktype, ai->ai_protocol,
				 (unsigned)ai->ai_addrlen, ai_port(ai),
				 e->ai_family, e->ai_socktype, e->ai_protocol,
				 (unsigned)e->ai_addrlen, ai_port(e));
			break;
		}
		if (!in_range(fam, ai_bytes(ai))) {
			snprintf(why, sizeof(why),
				 "entry %zu: %s is not a placeholder", i,
				 ai_str(ai));
			break;
		}
		if (fam == AF_INET) {
			if (ph.has4 && memcmp(ph.a4, ai_bytes(ai), 4) != 0)
				snprintf(why, sizeof(why),
					 "two IPv4 placeholders in one list");
			ph.has4 = 1;
			memcpy(ph.a4, ai_bytes(ai), 4);
		} else {
			if (ph.has6 && memcmp(ph.a6, ai_bytes(ai), 16) != 0)
				snprintf(why, sizeof(why),
					 "two IPv6 placeholders in one list");
			ph.has6 = 1;
			memcpy(ph.a6, ai_bytes(ai), 16);
		}
		if (i == 0 && hints && (hints->ai_flags & AI_CANONNAME)) {
			if (!ai->ai_canonname ||
			    strcmp(ai->ai_canonname, canon) != 0)
				snprintf(why, sizeof(why),
					 "ai_canonname %s, expected %s",
					 ai->ai_canonname ? ai->ai_canonname
							  : "NULL",
					 canon);
		} else if (ai->ai_canonname) {
			snprintf(why, sizeof(why),
				 "entry %zu: ai_canonname %s, expected NULL", i,
				 ai->ai_canonname);
		}
	}
	if (!why[0] && i < nw)
		snprintf(why, sizeof(why), "%zu entries, glibc %zu", i, nw);
	if (why[0])
		fact(0, "%s (%s)", desc, why);
	else
		fact(1, "%s", desc);
out:
	if (out)
		*out = ph;
	if (ours && rc == 0)
		freeaddrinfo(ours);
	if (r4 && rc4 == 0)
		freeaddrinfo(r4);
	if (r6 && rc6 == 0)
		freeaddrinfo(r6);
}

static struct addrinfo mkhints(int family, int socktype, int protocol,
			       int flags)
{
	struct addrinfo h;

	memset(&h, 0, sizeof(h));
	h.ai_family = family;
	h.ai_socktype = socktype;
	h.ai_protocol = protocol;
	h.ai_flags = flags;
	return h;
}

/* The placeholders for name with hints {family, flags 0, SOCK_STREAM};
 * returns the getaddrinfo code.  The first entry's family in *first. */
static int ph_of(const char *name, int family, struct ph *p, int *first)
{
	struct addrinfo h = mkhints(family, SOCK_STREAM, 0, 0), *r = NULL, *ai;
	int rc;

	memset(p, 0, sizeof(*p));
	rc = getaddrinfo(name, "80", &h, &r);
	if (rc != 0)
		return rc;
	if (first)
		*first = r->ai_family;
	for (ai = r; ai; ai = ai->ai_next) {
		if (ai->ai_family == AF_INET) {
			p->has4 = 1;
			memcpy(p->a4, ai_bytes(ai), 4);
		} else if (ai->ai_family == AF_INET6) {
			p->has6 = 1;
			memcpy(p->a6, ai_bytes(ai), 16);
		}
	}
	freeaddrinfo(r);
	return 0;
}

static int is_ph(const struct ph *p)
{
	return p->has4 && p->has6 && in_range(AF_INET, p->a4) &&
	       in_range(AF_INET6, p->a6);
}

/* --- groups --------------------------------------------------------------- */

/* getaddrinfo_a: answered without glibc's internal resolver. */
static sem_t gaia_sem;

static void gaia_done(union sigval v)
{
	(void)v;
	sem_post(&gaia_sem);
}

static void group_gaia(void)
{
	struct addrinfo h = mkhints(AF_UNSPEC, SOCK_STREAM, 0, 0);
	struct gaicb a = {.ar_name = "async.gaia.example",
			  .ar_service = "80",
			  .ar_request = &h};
	struct gaicb b = {.ar_name = "other.gaia.example",
			  .ar_service = "no-such-service",
			  .ar_request = &h};
	struct gaicb *list[] = {&a, &b};
	const struct gaicb *wait[] = {&a};
	struct sigevent ev;
	struct timespec ts;
	int rc;

	rc = getaddrinfo_a(GAI_WAIT, list, 2, NULL);
	fact(rc == 0, "getaddrinfo_a(GAI_WAIT) returns 0 (%d)", rc);
	fact(gai_error(&a) == 0 && a.ar_result &&
		 in_range(a.ar_result->ai_family, ai_bytes(a.ar_result)),
	     "getaddrinfo_a: the name got a placeholder (gai_error %d)",
	     gai_error(&a));
	fact(gai_error(&b) == EAI_SERVICE,
	     "getaddrinfo_a: a bad service gives EAI_SERVICE (%d)",
	     gai_error(&b));
	freeaddrinfo(a.ar_result);

	sem_init(&gaia_sem, 0, 0);
	memset(&ev, 0, sizeof(ev));
	ev.sigev_notify = SIGEV_THREAD;
	ev.sigev_notify_function = gaia_done;
	a.ar_result = NULL;
	rc = getaddrinfo_a(GAI_NOWAIT, list, 1, &ev);
	fact(rc == 0, "getaddrinfo_a(GAI_NOWAIT) returns 0 (%d)", rc);
	/* glibc answers a finished request EAI_ALLDONE, without waiting. */
	rc = gai_suspend(wait, 1, NULL);
	fact(rc == EAI_ALLDONE || rc == 0,
	     "gai_suspend returns at once for the finished request (%d)", rc);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 5;
	fact(sem_timedwait(&gaia_sem, &ts) == 0,
	     "getaddrinfo_a(GAI_NOWAIT): the SIGEV_THREAD notification ran");
	/* Let the detached notification thread finish before the process
	 * ends (valgrind would count its stack as possibly lost). */
	usleep(200000);
	fact(gai_error(&a) == 0 && a.ar_result,
	     "getaddrinfo_a(GAI_NOWAIT): result delivered");
	freeaddrinfo(a.ar_result);
}

static void group_basic(void)
{
	struct ph a, b, c, d;
	int first = 0, rc;

	gai_case("getaddrinfo(name, \"80\", NULL) is glibc's list for "
		 "placeholders",
		 "www.example.com", "80", NULL, &a);
	fact(a.has4 && a.has6,
	     "getaddrinfo(name, \"80\", NULL): both families");

	rc = ph_of("basic.example.com", AF_UNSPEC, &a, &first);
	fact(rc == 0 && is_ph(&a),
	     "AF_UNSPEC: an IPv4 and an IPv6 placeholder (%s)", eai(rc));
	fact(rc == 0 && first == AF_INET,
	     "AF_UNSPEC: the IPv4 placeholder first (the proxy is IPv4)");
	rc = ph_of("basic.example.com", AF_UNSPEC, &b, NULL);
	fact(rc == 0 && memcmp(&a, &b, sizeof(a)) == 0,
	     "the same name again: the same placeholders");
	rc = ph_of("BASIC.Example.COM.", AF_UNSPEC, &c, NULL);
	fact(rc == 0 && memcmp(&a, &c, sizeof(a)) == 0,
	     "the name in other case with a trailing dot: the same "
	     "placeholders");
	rc = ph_of("other.example.com", AF_UNSPEC, &d, NULL);
	fact(rc == 0 && is_ph(&d) && memcmp(a.a4, d.a4, 4) != 0 &&
		 memcmp(a.a6, d.a6, 16) != 0,
	     "another name: different placeholders");
	rc = ph_of("basic.example.com", AF_INET, &b, NULL);
	fact(rc == 0 && b.has4 && !b.has6 && memcmp(a.a4, b.a4, 4) == 0,
	     "AF_INET: the same IPv4 placeholder only");
	rc = ph_of("basic.example.com", AF_INET6, &b, NULL);
	fact(rc == 0 && !b.has4 && b.has6 && memcmp(a.a6, b.a6, 16) == 0,
	     "AF_INET6: the same IPv6 placeholder only");
}

static void group_hints(void)
{
	static const struct {
		const char *desc, *svc;
		int family, socktype, protocol, flags;
	} cases[] = {
	    {"hints AF_UNSPEC, flags 0", "80", AF_UNSPEC, 0, 0, 0},
	    {"hints AF_INET", "80", AF_INET, 0, 0, 0},
	    {"hints AF_INET6", "80", AF_INET6, 0, 0, 0},
	    {"hints SOCK_STREAM", "80", AF_UNSPEC, SOCK_STREAM, 0, 0},
	    {"hints SOCK_DGRAM", "53", AF_UNSPEC, SOCK_DGRAM, 0, 0},
	    {"hints SOCK_RAW with a service", "80", AF_UNSPEC, SOCK_RAW, 0, 0},
	    {"hints SOCK_RAW without a service", NULL, AF_UNSPEC, SOCK_RAW, 0,
	     0},
	    {"hints AF_INET SOCK_STREAM IPPROTO_TCP", "80", AF_INET,
	     SOCK_STREAM, IPPROTO_TCP, 0},
	    {"hints IPPROTO_UDP only", "53", AF_UNSPEC, 0, IPPROTO_UDP, 0},
	    {"hints SOCK_STREAM IPPROTO_UDP (mismatch)", "80", AF_UNSPEC,
	     SOCK_STREAM, IPPROTO_UDP, 0},
	    {"hints SOCK_SEQPACKET", "80", AF_UNSPEC, SOCK_SEQPACKET, 0, 0},
	    {"hints socktype 99 (EAI_SOCKTYPE)", "80", AF_UNSPEC, 99, 0, 0},
	    {"hints AF_UNIX (EAI_FAMILY)", "80", AF_UNIX, 0, 0, 0},
	    {"hints family 12345 (EAI_FAMILY)", "80", 12345, 0, 0, 0},
	    {"hints bad flags 0x10000 (EAI_BADFLAGS)", "80", AF_UNSPEC, 0, 0,
	     0x10000},
	    {"AI_PASSIVE with a name", "80", AF_UNSPEC, SOCK_STREAM, 0,
	     AI_PASSIVE},
	    {"AI_CANONNAME", "80", AF_UNSPEC, 0, 0, AI_CANONNAME},
	    {"AI_CANONNAME AF_INET6 SOCK_DGRAM", "80", AF_INET6, SOCK_DGRAM, 0,
	     AI_CANONNAME},
	    {"AI_NUMERICSERV with \"http\" (glibc's code)", "http", AF_UNSPEC,
	     0, 0, AI_NUMERICSERV},
	    {"AI_NUMERICSERV with \"8080\"", "8080", AF_UNSPEC, 0, 0,
	     AI_NUMERICSERV},
	    {"AF_INET6 AI_V4MAPPED", "80", AF_INET6, 0, 0, AI_V4MAPPED},
	    {"AF_INET6 AI_V4MAPPED|AI_ALL", "80", AF_INET6, 0, 0,
	     AI_V4MAPPED | AI_ALL},
	    {"AF_INET AI_V4MAPPED (ignored)", "80", AF_INET, 0, 0, AI_V4MAPPED},
	    {"AI_IDN with an ASCII name", "80", AF_UNSPEC, SOCK_STREAM, 0,
	     AI_IDN},
	    {"AI_CANONNAME|AI_CANONIDN", "80", AF_UNSPEC, SOCK_STREAM, 0,
	     AI_CANONNAME | AI_CANONIDN},
	    {"service \"http\"", "http", AF_UNSPEC, 0, 0, 0},
	    {"service \"https\" SOCK_STREAM", "https", AF_UNSPEC, SOCK_STREAM,
	     0, 0},
	    {"service \"domain\" SOCK_DGRAM", "domain", AF_UNSPEC, SOCK_DGRAM,
	     0, 0},
	    {"service \"0\"", "0", AF_UNSPEC, 0, 0, 0},
	    {"service \"65535\"", "65535", AF_UNSPEC, 0, 0, 0},
	    {"service \"65536\"", "65536", AF_UNSPEC, 0, 0, 0},
	    {"service \"-1\"", "-1", AF_UNSPEC, 0, 0, 0},
	    {"service \"\"", "", AF_UNSPEC, 0, 0, 0},
	    {"bad service name (EAI_SERVICE)", "no-such-service-x", AF_UNSPEC,
	     0, 0, 0},
	    {"bad service name SOCK_STREAM (EAI_SERVICE)", "no-such-service-x",
	     AF_UNSPEC, SOCK_STREAM, 0, 0},
	    {"NULL service", NULL, AF_UNSPEC, 0, 0, 0},
	    {"NULL service SOCK_STREAM", NULL, AF_UNSPEC, SOCK_STREAM, 0, 0},
	};
	struct addrinfo h, *r = NULL;
	char desc[200];
	size_t i;
	int rc;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		h = mkhints(cases[i].family, cases[i].socktype,
			    cases[i].protocol, cases[i].flags);
		snprintf(desc, sizeof(desc), "%s", cases[i].desc);
		gai_case(desc, "hints.example.org", cases[i].svc, &h, NULL);
	}
	h = mkhints(AF_UNSPEC, 0, 0, AI_CANONNAME);
	gai_case("AI_CANONNAME with a trailing dot: the name without it",
		 "Canon.Example.", "80", &h, NULL);

	flags_check("hints");

	h = mkhints(AF_UNSPEC, 0, 0, AI_NUMERICHOST);
	rc = getaddrinfo("numerichost.example.org", "80", &h, &r);
	fact(rc == EAI_NONAME, "AI_NUMERICHOST with a name: EAI_NONAME (%s)",
	     eai(rc));
	if (rc == 0)
		freeaddrinfo(r);
	r = NULL;
	h = mkhints(AF_UNSPEC, 0, 0, AI_CANONNAME);
	rc = getaddrinfo(NULL, "80", &h, &r);
	fact(rc == EAI_BADFLAGS,
	     "AI_CANONNAME with a NULL node: EAI_BADFLAGS (%s)", eai(rc));
	if (rc == 0)
		freeaddrinfo(r);
}

/* The AI_ADDRCONFIG cases: ours must filter as glibc does for literals in
 * this namespace. */
static void group_addrconfig(void)
{
	static const struct {
		const char *desc;
		int family, socktype, flags;
	} cases[] = {
	    {"AI_ADDRCONFIG AF_UNSPEC", AF_UNSPEC, 0, AI_ADDRCONFIG},
	    {"AI_ADDRCONFIG AF_UNSPEC SOCK_STREAM", AF_UNSPEC, SOCK_STREAM,
	     AI_ADDRCONFIG},
	    {"AI_ADDRCONFIG|AI_V4MAPPED AF_UNSPEC (glibc's default)", AF_UNSPEC,
	     0, AI_ADDRCONFIG | AI_V4MAPPED},
	    {"AI_ADDRCONFIG AF_INET", AF_INET, 0, AI_ADDRCONFIG},
	    {"AI_ADDRCONFIG AF_INET6", AF_INET6, 0, AI_ADDRCONFIG},
	    {"AI_ADDRCONFIG|AI_V4MAPPED AF_INET6", AF_INET6, 0,
	     AI_ADDRCONFIG | AI_V4MAPPED},
	    {"AI_ADDRCONFIG AF_UNSPEC AI_CANONNAME", AF_UNSPEC, SOCK_STREAM,
	     AI_ADDRCONFIG | AI_CANONNAME},
	};
	struct addrinfo h;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		h = mkhints(cases[i].family, cases[i].socktype, 0,
			    cases[i].flags);
		gai_case(cases[i].desc, "addrconfig.example.net", "443", &h,
			 NULL);
	}
	gai_case("NULL hints (AI_V4MAPPED|AI_ADDRCONFIG)",
		 "addrconfig.example.net", "443", NULL, NULL);
	flags_check("AI_ADDRCONFIG");
}

static void group_null(void)
{
	struct addrinfo h, *r = NULL, *ai;
	int rc, ok;

	rc = getaddrinfo(NULL, "80", NULL, &r);
	ok = rc == 0;
	for (ai = ok ? r : NULL; ai; ai = ai->ai_next)
		if (ai_port(ai) != 80 || any_placeholder_ai(ai))
			ok = 0;
	fact(ok, "getaddrinfo(NULL, \"80\", NULL): libc's loopback list (%s)",
	     eai(rc));
	if (rc == 0)
		freeaddrinfo(r);
	r = NULL;
	h = mkhints(AF_INET, SOCK_STREAM, 0, AI_PASSIVE);
	rc = getaddrinfo(NULL, "8080", &h, &r);
	fact(rc == 0 && r->ai_family == AF_INET &&
		 ((struct sockaddr_in *)(void *)r->ai_addr)->sin_addr.s_addr ==
		     htonl(INADDR_ANY) &&
		 ai_port(r) == 8080,
	     "getaddrinfo(NULL, \"8080\", AI_PASSIVE): 0.0.0.0:8080 (%s)",
	     eai(rc));
	if (rc == 0)
		freeaddrinfo(r);
	r = NULL;
	rc = getaddrinfo(NULL, NULL, NULL, &r);
	fact(rc == EAI_NONAME, "getaddrinfo(NULL, NULL, NULL): EAI_NONAME (%s)",
	     eai(rc));
	if (rc == 0)
		freeaddrinfo(r);

	gai_case("getaddrinfo(name, NULL, NULL)", "noservice.example.com", NULL,
		 NULL, NULL);
	r = NULL;
	h = mkhints(AF_UNSPEC, 0, 0, 0);
	rc = getaddrinfo("noservice.example.com", NULL, &h, &r);
	ok = rc == 0;
	for (ai = ok ? r : NULL; ai; ai = ai->ai_next)
		if (ai_port(ai) != 0 || !in_range(ai->ai_family, ai_bytes(ai)))
			ok = 0;
	fact(ok, "getaddrinfo(name, NULL, flags 0): placeholders, port 0 (%s)",
	     eai(rc));
	if (rc == 0)
		freeaddrinfo(r);

	/* An empty name and an overlong one are not names. */
	r = NULL;
	rc = getaddrinfo("", "80", &h, &r);
	fact(rc != 0 || !any_placeholder_ai(r),
	     "getaddrinfo(\"\"): no placeholder (%s)", eai(rc));
	if (rc == 0)
		freeaddrinfo(r);
	{
		char longname[400];

		memset(longname, 'a', sizeof(longname) - 1);
		longname[sizeof(longname) - 1] = '\0';
		r = NULL;
		rc = getaddrinfo(longname, "80", &h, &r);
		fact(rc != 0 || !any_placeholder_ai(r),
		     "getaddrinfo(a 399-byte name): no placeholder (%s)",
		     eai(rc));
		if (rc == 0)
			freeaddrinfo(r);
	}
}

/* Checks a hostent for name with the one address addr (len bytes). */
static int hostent_is(const struct hostent *he, const char *name, int af,
		      const void *addr, char *why, size_t cap)
{
	int len = af == AF_INET ? 4 : 16;

	if (!he)
		snprintf(why, cap, "NULL");
	else if (!he->h_name || strcmp(he->h_name, name) != 0)
		snprintf(why, cap, "h_name %s",
			 he->h_name ? he->h_name : "NULL");
	else if (he->h_addrtype != af || he->h_length != len)
		snprintf(why, cap, "h_addrtype %d h_length %d", he->h_addrtype,
			 he->h_length);
	else if (!he->h_aliases || he->h_aliases[0])
		snprintf(why, cap, "h_aliases not an empty list");
	else if (!he->h_addr_list || !he->h_addr_list[0] ||
		 memcmp(he->h_addr_list[0], addr, (size_t)len) != 0 ||
		 he->h_addr_list[1])
		snprintf(why, cap, "h_addr_list is not the one placeholder");
	else if (((uintptr_t)he->h_addr_list % sizeof(char *)) ||
		 ((uintptr_t)he->h_aliases % sizeof(char *)))
		snprintf(why, cap, "misaligned pointer arrays");
	else
		return 1;
	return 0;
}

static void group_hostent(void)
{
	const char *name = "hostent.example.com";
	struct hostent he, *res = NULL, *p;
	char buf[1024] __attribute__((aligned(16))), small[16];
	char why[200] = "";
	struct ph ph;
	int rc, herr, g_rc, g_herr, g_errno, e;
	byname_r_fn libc_byname_r = (byname_r_fn)libc_sym("gethostbyname_r");

	if (ph_of(name, AF_UNSPEC, &ph, NULL) != 0 || !is_ph(&ph)) {
		fact(0, "hostent: cannot get the placeholders to compare with");
		return;
	}
	p = gethostbyname(name);
	fact(hostent_is(p, name, AF_INET, ph.a4, why, sizeof(why)),
	     "gethostbyname(name): the name and its IPv4 placeholder (%s)",
	     why);
	p = gethostbyname2(name, AF_INET);
	fact(hostent_is(p, name, AF_INET, ph.a4, why, sizeof(why)),
	     "gethostbyname2(name, AF_INET) (%s)", why);
	p = gethostbyname2(name, AF_INET6);
	fact(hostent_is(p, name, AF_INET6, ph.a6, why, sizeof(why)),
	     "gethostbyname2(name, AF_INET6): its IPv6 placeholder (%s)", why);
	p = gethostbyname("HostEnt.Example.com.");
	fact(p && p->h_length == 4 && memcmp(p->h_addr_list[0], ph.a4, 4) == 0,
	     "gethostbyname(other case, trailing dot): the same placeholder");

	herr = 12345;
	rc = gethostbyname_r(name, &he, buf, sizeof(buf), &res, &herr);
	fact(rc == 0 && res == &he &&
		 hostent_is(res, name, AF_INET, ph.a4, why, sizeof(why)),
	     "gethostbyname_r(name): success (rc %d, %s)", rc, why);
	rc = gethostbyname2_r(name, AF_INET6, &he, buf + 1, sizeof(buf) - 1,
			      &res, &herr);
	fact(rc == 0 && res == &he &&
		 hostent_is(res, name, AF_INET6, ph.a6, why, sizeof(why)),
	     "gethostbyname2_r(name, AF_INET6), unaligned buffer: success "
	     "(rc %d, %s)",
	     rc, why);

	/* glibc's answer to a too-small buffer (files backend). */
	if (!libc_byname_r) {
		fact(0, "hostent: libc's gethostbyname_r not found");
		return;
	}
	errno = 0;
	g_rc = libc_byname_r("localhost", &he, small, sizeof(small), &res,
			     &g_herr);
	g_errno = errno;
	errno = 0;
	res = &he;
	rc = gethostbyname_r(name, &he, small, sizeof(small), &res, &herr);
	e = errno;
	fact(rc == ERANGE && !res && herr == g_herr && rc == g_rc &&
		 e == g_errno,
	     "gethostbyname_r, too-small buffer: ERANGE, h_errno and errno as "
	     "glibc's (rc %d herr %d errno %d result %p; glibc rc %d herr %d "
	     "errno %d)",
	     rc, herr, e, (void *)res, g_rc, g_herr, g_errno);
	errno = 0;
	res = &he;
	rc = gethostbyname2_r(name, AF_INET6, &he, small, sizeof(small), &res,
			      &herr);
	e = errno;
	fact(rc == ERANGE && !res && herr == g_herr && e == g_errno,
	     "gethostbyname2_r AF_INET6, too-small buffer: ERANGE (rc %d herr "
	     "%d errno %d)",
	     rc, herr, e);
	/* Exactly enough: 3 pointers, 4 bytes, the name. */
	{
		size_t need = 3 * sizeof(char *) + 4 + strlen(name) + 1;
		char *exact = malloc(need);

		rc = exact
			 ? gethostbyname_r(name, &he, exact, need, &res, &herr)
			 : -1;
		fact(
		    rc == 0 && res &&
			hostent_is(res, name, AF_INET, ph.a4, why, sizeof(why)),
		    "gethostbyname_r, a buffer of exactly the size needed "
		    "(rc %d)",
		    rc);
		free(exact);
	}
}

static void group_reverse(void)
{
	const char *name = "reverse.example.com";
	static const uint8_t never4[4] = {127, 192, 200, 200};
	static const uint8_t never6[16] = {0x01, 0,    0,    0,	   0,	 0,
					   0,	 0,    0xff, 0xff, 0xff, 0xff,
					   0xff, 0xff, 0xff, 0xfe};
	struct sockaddr_in s4, l4;
	struct sockaddr_in6 s6, m6;
	struct hostent he, *res, *p;
	char host[NI_MAXHOST], serv[NI_MAXSERV], gserv[NI_MAXSERV];
	char buf[1024] __attribute__((aligned(16))), small[16], why[200] = "";
	char num[INET6_ADDRSTRLEN];
	struct ph ph;
	int rc, grc, herr, g_herr, g_rc, g_errno, e;
	size_t i;
	byaddr_r_fn libc_byaddr_r = (byaddr_r_fn)libc_sym("gethostbyaddr_r");
	static const struct {
		const char *desc;
		unsigned port;
		int flags;
	} sv[] = {
	    {"flags 0, port 80", 80, 0},
	    {"NI_NUMERICSERV", 80, NI_NUMERICSERV},
	    {"NI_DGRAM, port 53", 53, NI_DGRAM},
	    {"NI_NAMEREQD", 443, NI_NAMEREQD},
	    {"NI_NOFQDN, port 1", 1, NI_NOFQDN},
	    {"NI_NUMERICSERV|NI_DGRAM, port 0", 0, NI_NUMERICSERV | NI_DGRAM},
	    {"flags 0, a port with no service name", 4, 0},
	};

	if (ph_of(name, AF_UNSPEC, &ph, NULL) != 0 || !is_ph(&ph)) {
		fact(0, "reverse: cannot get the placeholders");
		return;
	}
	p = gethostbyaddr(ph.a4, 4, AF_INET);
	fact(hostent_is(p, name, AF_INET, ph.a4, why, sizeof(why)),
	     "gethostbyaddr(IPv4 placeholder): the name (%s)", why);
	p = gethostbyaddr(ph.a6, 16, AF_INET6);
	fact(hostent_is(p, name, AF_INET6, ph.a6, why, sizeof(why)),
	     "gethostbyaddr(IPv6 placeholder): the name (%s)", why);
	rc = gethostbyaddr_r(ph.a4, 4, AF_INET, &he, buf, sizeof(buf), &res,
			     &herr);
	fact(rc == 0 && res == &he &&
		 hostent_is(res, name, AF_INET, ph.a4, why, sizeof(why)),
	     "gethostbyaddr_r(IPv4 placeholder): the name (rc %d, %s)", rc,
	     why);
	if (!libc_byaddr_r) {
		fact(0, "reverse: libc's gethostbyaddr_r not found");
		return;
	}
	errno = 0;
	g_rc = libc_byaddr_r("\x7f\0\0\1", 4, AF_INET, &he, small,
			     sizeof(small), &res, &g_herr);
	g_errno = errno;
	errno = 0;
	res = &he;
	rc = gethostbyaddr_r(ph.a4, 4, AF_INET, &he, small, sizeof(small), &res,
			     &herr);
	e = errno;
	fact(rc == ERANGE && !res && rc == g_rc && herr == g_herr &&
		 e == g_errno,
	     "gethostbyaddr_r, too-small buffer: as glibc (rc %d herr %d "
	     "errno %d; glibc rc %d herr %d errno %d)",
	     rc, herr, e, g_rc, g_herr, g_errno);
	h_errno = 0;
	p = gethostbyaddr(never4, 4, AF_INET);
	fact(!p && h_errno == HOST_NOT_FOUND,
	     "gethostbyaddr(a placeholder never handed out): HOST_NOT_FOUND "
	     "(h_errno %d)",
	     h_errno);

	/* getnameinfo: the name, the service part as glibc fills it. */
	for (i = 0; i < sizeof(sv) / sizeof(sv[0]); i++) {
		sa4(&s4, ph.a4, sv[i].port);
		sa4(&l4, "\x7f\0\0\2", sv[i].port);
		grc =
		    getnameinfo((struct sockaddr *)&l4, sizeof(l4), host,
				sizeof(host), gserv, sizeof(gserv),
				(sv[i].flags & ~NI_NAMEREQD) | NI_NUMERICHOST);
		rc = getnameinfo((struct sockaddr *)&s4, sizeof(s4), host,
				 sizeof(host), serv, sizeof(serv), sv[i].flags);
		fact(rc == 0 && grc == 0 && strcmp(host, name) == 0 &&
			 strcmp(serv, gserv) == 0,
		     "getnameinfo(IPv4 placeholder, %s): the name, service "
		     "\"%s\" (%s, host %s, service %s)",
		     sv[i].desc, gserv, eai(rc), rc ? "-" : host,
		     rc ? "-" : serv);
	}
	sa6(&s6, ph.a6, 80);
	rc = getnameinfo((struct sockaddr *)&s6, sizeof(s6), host, sizeof(host),
			 serv, sizeof(serv), 0);
	fact(rc == 0 && strcmp(host, name) == 0 && strcmp(serv, "http") == 0,
	     "getnameinfo(IPv6 placeholder): the name (%s %s)", eai(rc),
	     rc ? "" : host);
	memset(&m6, 0, sizeof(m6));
	m6.sin6_family = AF_INET6;
	m6.sin6_port = htons(80);
	m6.sin6_addr.s6_addr[10] = m6.sin6_addr.s6_addr[11] = 0xff;
	memcpy(&m6.sin6_addr.s6_addr[12], ph.a4, 4);
	rc = getnameinfo((struct sockaddr *)&m6, sizeof(m6), host, sizeof(host),
			 NULL, 0, NI_NAMEREQD);
	fact(rc == 0 && strcmp(host, name) == 0,
	     "getnameinfo(v4-mapped IPv4 placeholder): the name (%s)", eai(rc));
	sa4(&s4, ph.a4, 80);
	inet_ntop(AF_INET, ph.a4, num, sizeof(num));
	rc = getnameinfo((struct sockaddr *)&s4, sizeof(s4), host, sizeof(host),
			 serv, sizeof(serv), NI_NUMERICHOST);
	fact(rc == 0 && strcmp(host, num) == 0 && strcmp(serv, "http") == 0,
	     "getnameinfo(NI_NUMERICHOST): the numeric placeholder (%s %s)",
	     eai(rc), rc ? "" : host);
	inet_ntop(AF_INET6, ph.a6, num, sizeof(num));
	rc = getnameinfo((struct sockaddr *)&s6, sizeof(s6), host, sizeof(host),
			 NULL, 0, NI_NUMERICHOST);
	fact(rc == 0 && strcmp(host, num) == 0,
	     "getnameinfo(IPv6, NI_NUMERICHOST): the numeric placeholder (%s)",
	     eai(rc));
	rc = getnameinfo((struct sockaddr *)&s4, sizeof(s4), host,
			 (socklen_t)strlen(name), NULL, 0, 0);
	fact(rc == EAI_OVERFLOW,
	     "getnameinfo, host buffer one byte short: EAI_OVERFLOW (%s)",
	     eai(rc));
	rc = getnameinfo((struct sockaddr *)&s4, sizeof(s4), host,
			 (socklen_t)strlen(name) + 1, NULL, 0, 0);
	fact(rc == 0 && strcmp(host, name) == 0,
	     "getnameinfo, host buffer of exactly the size: the name (%s)",
	     eai(rc));
	sa4(&l4, "\x7f\0\0\2", 80);
	grc = getnameinfo((struct sockaddr *)&l4, sizeof(l4), host,
			  sizeof(host), gserv, 2, NI_NUMERICHOST);
	rc = getnameinfo((struct sockaddr *)&s4, sizeof(s4), host, sizeof(host),
			 serv, 2, 0);
	fact(rc == grc,
	     "getnameinfo, service buffer too small: %s as glibc "
	     "(%s)",
	     eai(grc), eai(rc));
	grc = getnameinfo((struct sockaddr *)&l4, sizeof(l4), NULL, 0, gserv,
			  sizeof(gserv), 0);
	rc = getnameinfo((struct sockaddr *)&s4, sizeof(s4), NULL, 0, serv,
			 sizeof(serv), 0);
	fact(rc == grc && (rc || strcmp(serv, gserv) == 0),
	     "getnameinfo, service only: as glibc (%s %s)", eai(rc),
	     rc ? "" : serv);
	rc = getnameinfo((struct sockaddr *)&s4, sizeof(s4) - 1, host,
			 sizeof(host), NULL, 0, 0);
	fact(rc == EAI_FAMILY,
	     "getnameinfo, a short sockaddr_in: EAI_FAMILY as glibc (%s)",
	     eai(rc));

	sa4(&s4, never4, 80);
	rc = getnameinfo((struct sockaddr *)&s4, sizeof(s4), host, sizeof(host),
			 NULL, 0, NI_NAMEREQD);
	fact(rc == EAI_NONAME,
	     "getnameinfo(NI_NAMEREQD, a placeholder never handed out): "
	     "EAI_NONAME (%s)",
	     eai(rc));
	rc = getnameinfo((struct sockaddr *)&s4, sizeof(s4), host, sizeof(host),
			 NULL, 0, 0);
	fact(rc == 0 && strcmp(host, "127.192.200.200") == 0,
	     "getnameinfo(a placeholder never handed out): numeric (%s %s)",
	     eai(rc), rc ? "" : host);
	sa6(&s6, never6, 80);
	rc = getnameinfo((struct sockaddr *)&s6, sizeof(s6), host, sizeof(host),
			 NULL, 0, NI_NAMEREQD);
	fact(rc == EAI_NONAME,
	     "getnameinfo(NI_NAMEREQD, an IPv6 placeholder never handed out): "
	     "EAI_NONAME (%s)",
	     eai(rc));
}

static void group_connect(void)
{
	static const uint8_t never4[4] = {127, 192, 200, 200};
	static const uint8_t never6[16] = {0x01, 0,    0,    0,	   0,	 0,
					   0,	 0,    0xff, 0xff, 0xff, 0xff,
					   0xff, 0xff, 0xff, 0xfe};
	struct sockaddr_in s4;
	struct sockaddr_in6 s6;
	struct ph ph;
	char log[1024];
	int fd, rc, e, lines;

	lo_up();
	if (ph_of("connect.example.com", AF_UNSPEC, &ph, NULL) != 0 ||
	    !is_ph(&ph)) {
		fact(0, "connect: cannot get the placeholders");
		return;
	}
	fd = socket(AF_INET, SOCK_STREAM, 0);
	sa4(&s4, never4, 80);
	cap_begin();
	rc = connect(fd, (struct sockaddr *)&s4, sizeof(s4));
	e = errno;
	lines = cap_end(log, sizeof(log));
	close(fd);
	fact(rc == -1 && e == EHOSTUNREACH && lines == 1,
	     "connect(127.192.200.200:80, never handed out): EHOSTUNREACH, "
	     "one log line (rc %d %s, %d lines: %s)",
	     rc, rc ? strerrorname_np(e) : "", lines, log);

	fd = socket(AF_INET6, SOCK_STREAM, 0);
	sa6(&s6, never6, 80);
	cap_begin();
	rc = connect(fd, (struct sockaddr *)&s6, sizeof(s6));
	e = errno;
	lines = cap_end(log, sizeof(log));
	close(fd);
	fact(rc == -1 && e == EHOSTUNREACH && lines == 1,
	     "connect(IPv6 placeholder never handed out): EHOSTUNREACH, one "
	     "log line (rc %d %s, %d lines: %s)",
	     rc, rc ? strerrorname_np(e) : "", lines, log);

	fd = socket(AF_INET, SOCK_STREAM, 0);
	sa4(&s4, ph.a4, 80);
	cap_begin();
	rc = connect(fd, (struct sockaddr *)&s4, sizeof(s4));
	e = errno;
	lines = cap_end(log, sizeof(log));
	close(fd);
	fact(rc == -1 && e == ECONNREFUSED,
	     "connect(IPv4 placeholder), no proxy running: ECONNREFUSED from "
	     "the proxy address (rc %d %s; log: %s)",
	     rc, rc ? strerrorname_np(e) : "", log);

	fd = socket(AF_INET6, SOCK_STREAM, 0);
	sa6(&s6, ph.a6, 80);
	cap_begin();
	rc = connect(fd, (struct sockaddr *)&s6, sizeof(s6));
	e = errno;
	lines = cap_end(log, sizeof(log));
	close(fd);
	fact(rc == -1 && e == ECONNREFUSED,
	     "connect(IPv6 placeholder), no proxy running: ECONNREFUSED "
	     "(rc %d %s; log: %s)",
	     rc, rc ? strerrorname_np(e) : "", log);
	(void)lines;
}

/* --- fork ------------------------------------------------------------------
 */

static int read_full(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;
	ssize_t n;

	while (len) {
		n = read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The name getnameinfo gives for a placeholder pair (both must agree). */
static int reverse_is(const struct ph *p, const char *name)
{
	struct sockaddr_in s4;
	struct sockaddr_in6 s6;
	char h4[NI_MAXHOST], h6[NI_MAXHOST];

	sa4(&s4, p->a4, 80);
	sa6(&s6, p->a6, 80);
	return getnameinfo((struct sockaddr *)&s4, sizeof(s4), h4, sizeof(h4),
			   NULL, 0, NI_NAMEREQD) == 0 &&
	       getnameinfo((struct sockaddr *)&s6, sizeof(s6), h6, sizeof(h6),
			   NULL, 0, NI_NAMEREQD) == 0 &&
	       strcmp(h4, name) == 0 && strcmp(h6, name) == 0;
}

static void group_fork(const char *tag)
{
	int up[2], down[2], st = 0;
	char cname[100], pname[100];
	struct ph cp, pp;
	pid_t pid;

	char *sp;

	/* Host names have no blanks (the shim answers such names
	 * EAI_NONAME, as DNS would). */
	snprintf(cname, sizeof(cname), "child-%s.fork.example", tag);
	snprintf(pname, sizeof(pname), "parent-%s.fork.example", tag);
	for (sp = cname; *sp; sp++)
		*sp = *sp == ' ' ? '-' : *sp;
	for (sp = pname; *sp; sp++)
		*sp = *sp == ' ' ? '-' : *sp;
	if (pipe(up) < 0 || pipe(down) < 0) {
		fact(0, "fork (%s): pipe: %s", tag, strerror(errno));
		return;
	}
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		fact(0, "fork (%s): %s", tag, strerror(errno));
		return;
	}
	if (pid == 0) {
		int code = 0;

		close(up[0]);
		close(down[1]);
		if (ph_of(cname, AF_UNSPEC, &cp, NULL) != 0 || !is_ph(&cp))
			code |= 1;
		if (write(up[1], &cp, sizeof(cp)) != (ssize_t)sizeof(cp))
			code |= 1;
		if (read_full(down[0], &pp, sizeof(pp)) < 0 ||
		    !reverse_is(&pp, pname))
			code |= 2;
		_exit(code);
	}
	close(up[1]);
	close(down[0]);
	/* The parent resolves its name after the fork, as the child does. */
	if (ph_of(pname, AF_UNSPEC, &pp, NULL) != 0 || !is_ph(&pp))
		memset(&pp, 0, sizeof(pp));
	if (write(down[1], &pp, sizeof(pp)) != (ssize_t)sizeof(pp))
		memset(&pp, 0, sizeof(pp));
	close(down[1]);
	if (read_full(up[0], &cp, sizeof(cp)) < 0)
		memset(&cp, 0, sizeof(cp));
	close(up[0]);
	waitpid(pid, &st, 0);
	fact(is_ph(&cp) && reverse_is(&cp, cname),
	     "fork (%s): a name the child resolved after fork() is known to "
	     "the parent",
	     tag);
	fact(WIFEXITED(st) && !(WEXITSTATUS(st) & 1),
	     "fork (%s): the child resolves (status %#x)", tag, st);
	fact(WIFEXITED(st) && !(WEXITSTATUS(st) & 2),
	     "fork (%s): a name the parent resolved after fork() is known to "
	     "the child (status %#x)",
	     tag, st);
	fact(is_ph(&pp) && is_ph(&cp) && memcmp(pp.a4, cp.a4, 4) != 0 &&
		 memcmp(pp.a6, cp.a6, 16) != 0,
	     "fork (%s): parent and child got different placeholders for "
	     "different names",
	     tag);
}

/* --- threads ---------------------------------------------------------------
 */

#define NTHREADS 8
#define NPER	 2000

static uint32_t thread_v4[NTHREADS * NPER];
static atomic_int thread_errors;
static char thread_first_error[NTHREADS][200];

static void thread_name(int t, int i, char *buf, size_t cap)
{
	snprintf(buf, cap, "n%d-t%d.threads.example", i, t);
}

static void *thread_main(void *arg)
{
	int t = (int)(intptr_t)arg, i, rc, bad;
	struct addrinfo h = mkhints(AF_UNSPEC, SOCK_STREAM, 0, 0), *r, *r2;
	char name[64], host[NI_MAXHOST], *err = thread_first_error[t];

	for (i = 0; i < NPER; i++) {
		thread_name(t, i, name, sizeof(name));
		r = NULL;
		rc = getaddrinfo(name, "443", &h, &r);
		bad = rc != 0 || !r->ai_next || r->ai_next->ai_next ||
		      r->ai_family != AF_INET ||
		      r->ai_next->ai_family != AF_INET6 ||
		      !in_range(AF_INET, ai_bytes(r)) ||
		      !in_range(AF_INET6, ai_bytes(r->ai_next)) ||
		      ai_port(r) != 443;
		if (bad) {
			if (!err[0])
				snprintf(err, 200, "%s: %s", name,
					 rc ? eai(rc)
					    : "a list not of two "
					      "placeholders");
			atomic_fetch_add(&thread_errors, 1);
			if (rc == 0)
				freeaddrinfo(r);
			continue;
		}
		memcpy(&thread_v4[t * NPER + i], ai_bytes(r), 4);
		if (getnameinfo(r->ai_addr, r->ai_addrlen, host, sizeof(host),
				NULL, 0, NI_NAMEREQD) != 0 ||
		    strcmp(host, name) != 0 ||
		    getnameinfo(r->ai_next->ai_addr, r->ai_next->ai_addrlen,
				host, sizeof(host), NULL, 0,
				NI_NAMEREQD) != 0 ||
		    strcmp(host, name) != 0) {
			if (!err[0])
				snprintf(err, 200,
					 "%s: getnameinfo gave another name",
					 name);
			atomic_fetch_add(&thread_errors, 1);
		}
		/* Again, from this thread: the same placeholder. */
		if ((i % 97) == 0) {
			r2 = NULL;
			if (getaddrinfo(name, "443", &h, &r2) != 0 ||
			    memcmp(ai_bytes(r2), ai_bytes(r), 4) != 0) {
				if (!err[0])
					snprintf(err, 200,
						 "%s: another placeholder the "
						 "second time",
						 name);
				atomic_fetch_add(&thread_errors, 1);
			}
			if (r2)
				freeaddrinfo(r2);
		}
		freeaddrinfo(r);
	}
	return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void group_threads(void)
{
	pthread_t th[NTHREADS];
	uint32_t *sorted;
	size_t i, dups = 0;
	int t, started = 0, mismatch = 0;
	struct ph p;
	char name[64];

	for (t = 0; t < NTHREADS; t++)
		if (pthread_create(&th[t], NULL, thread_main,
				   (void *)(intptr_t)t) == 0)
			started++;
	for (t = 0; t < started; t++)
		pthread_join(th[t], NULL);
	fact(started == NTHREADS, "threads: %d started", started);
	for (t = 0; t < NTHREADS; t++)
		if (thread_first_error[t][0])
			printf("  thread %d: %s\n", t, thread_first_error[t]);
	fact(atomic_load(&thread_errors) == 0,
	     "threads: %d x %d names, getaddrinfo + getnameinfo round trips "
	     "consistent (%d errors)",
	     NTHREADS, NPER, atomic_load(&thread_errors));
	sorted = malloc(sizeof(thread_v4));
	if (sorted) {
		memcpy(sorted, thread_v4, sizeof(thread_v4));
		qsort(sorted, NTHREADS * NPER, sizeof(*sorted), cmp_u32);
		for (i = 1; i < NTHREADS * NPER; i++)
			dups += sorted[i] == sorted[i - 1];
		free(sorted);
	}
	fact(sorted && dups == 0,
	     "threads: %d distinct names got %d distinct IPv4 placeholders "
	     "(%zu repeats)",
	     NTHREADS * NPER, NTHREADS * NPER, dups);
	for (t = 0; t < NTHREADS; t++)
		for (i = 0; i < NPER; i += 131) {
			thread_name(t, (int)i, name, sizeof(name));
			if (ph_of(name, AF_INET, &p, NULL) != 0 ||
			    memcmp(p.a4, &thread_v4[t * NPER + i], 4) != 0)
				mismatch++;
		}
	fact(mismatch == 0,
	     "threads: names resolved again from the main thread: the same "
	     "placeholders (%d differ)",
	     mismatch);
}

/* --- local paths -----------------------------------------------------------
 */

/* getaddrinfo(name) gives no placeholder (success or not, no crash). */
static void not_placeholder(const char *what, const char *name, int family)
{
	struct addrinfo h = mkhints(family, SOCK_STREAM, 0, 0), *r = NULL;
	int rc = getaddrinfo(name, "80", &h, &r);

	fact(rc != 0 || !any_placeholder_ai(r),
	     "%s: %s (%s) resolved locally, no placeholder (%s%s%s)", what,
	     name,
	     family == AF_INET	  ? "AF_INET"
	     : family == AF_INET6 ? "AF_INET6"
				  : "AF_UNSPEC",
	     eai(rc), rc ? "" : " ", rc ? "" : ai_str(r));
	if (rc == 0)
		freeaddrinfo(r);
}

/* getaddrinfo(name) gives the addresses in want (NULL-ended) and no
 * others, in any order (glibc may repeat one: ::1 is 127.0.0.1 to an
 * AF_INET lookup of /etc/hosts). */
static void resolves_to(const char *what, const char *name, int family,
			const char *const *want)
{
	struct addrinfo h = mkhints(family, SOCK_STREAM, 0, 0), *r = NULL, *ai;
	int rc = getaddrinfo(name, "80", &h, &r), ok = rc == 0;
	size_t nwant = 0, i;
	char got[300] = "";

	while (want[nwant])
		nwant++;
	for (ai = ok ? r : NULL; ai; ai = ai->ai_next) {
		int found = 0;

		for (i = 0; i < nwant; i++)
			if (strcmp(ai_str(ai), want[i]) == 0)
				found = 1;
		ok &= found && ai_port(ai) == 80;
	}
	for (i = 0; ok && i < nwant; i++) {
		int found = 0;

		for (ai = r; ai; ai = ai->ai_next)
			if (strcmp(ai_str(ai), want[i]) == 0)
				found = 1;
		ok &= found;
	}
	for (ai = rc == 0 ? r : NULL; ai; ai = ai->ai_next)
		snprintf(got + strlen(got), sizeof(got) - strlen(got), " %s",
			 ai_str(ai));
	fact(ok, "%s: %s -> %s%s (%s:%s)", what, name, want[0],
	     nwant > 1 ? " ..." : "", eai(rc), got);
	if (rc == 0)
		freeaddrinfo(r);
}

/* strict: remote mode, where localhost names must not reach DNS either
 * (in local mode glibc's own behaviour stands). */
static void group_numeric_localhost(int strict)
{
	static const char *const lo4[] = {"127.0.0.1", NULL};
	static const char *const lo6[] = {"::1", NULL};
	static const char *const both[] = {"127.0.0.1", "::1", NULL};
	static const char *const a1[] = {"192.0.2.1", NULL};
	static const char *const a6[] = {"2001:db8::7", NULL};
	struct hostent *p;

	resolves_to("numeric", "192.0.2.1", AF_UNSPEC, a1);
	resolves_to("numeric", "2001:db8::7", AF_UNSPEC, a6);
	resolves_to("numeric (inet_aton form)", "127.1", AF_INET, lo4);
	resolves_to("numeric", "::1", AF_INET6, lo6);
	resolves_to("localhost", "localhost", AF_INET, lo4);
	/* ::1 comes from /etc/hosts: only with the test file mounted. */
	if (getenv("GAITEST_TEST_HOSTS")) {
		resolves_to("localhost", "localhost", AF_INET6, lo6);
		resolves_to("localhost", "localhost", AF_UNSPEC, both);
	} else {
		not_placeholder("localhost", "localhost", AF_INET6);
		not_placeholder("localhost", "localhost", AF_UNSPEC);
	}
	p = gethostbyname("localhost");
	fact(p && p->h_length == 4 &&
		 memcmp(p->h_addr_list[0], "\x7f\0\0\1", 4) == 0,
	     "gethostbyname(localhost): 127.0.0.1");
	p = gethostbyname("192.0.2.1");
	fact(p && p->h_length == 4 &&
		 memcmp(p->h_addr_list[0], "\xc0\0\2\1", 4) == 0,
	     "gethostbyname(\"192.0.2.1\"): the literal");
	sentinel_check("numeric hosts and localhost", 1);
	not_placeholder("localhost", "LocalHost.", AF_UNSPEC);
	if (strict)
		sentinel_check("\"LocalHost.\" (other case, trailing dot)", 1);
	not_placeholder("RFC 6761", "foo.localhost", AF_UNSPEC);
	if (strict)
		sentinel_check(
		    "\"foo.localhost\" (RFC 6761: loopback, never DNS)", 1);
}

static void group_hosts(void)
{
	static const char *const h1[] = {"192.0.2.10", NULL};
	static const char *const h6[] = {"2001:db8::10", NULL};
	struct sockaddr_in s4;
	char host[NI_MAXHOST];
	struct hostent *p;
	struct ph ph;
	int rc;

	group_numeric_localhost(1);
	resolves_to("/etc/hosts", "myhost.test", AF_INET, h1);
	resolves_to("/etc/hosts, other case", "MyHost.TEST", AF_INET, h1);
	resolves_to("/etc/hosts alias", "myalias", AF_INET, h1);
	resolves_to("/etc/hosts IPv6", "myhost6.test", AF_INET6, h6);
	not_placeholder("/etc/hosts", "myhost.test", AF_UNSPEC);
	sentinel_check("/etc/hosts names", 1);
	not_placeholder("/etc/hosts, trailing dot", "myhost.test.", AF_UNSPEC);
	sentinel_check("an /etc/hosts name with a trailing dot", 1);
	not_placeholder("/etc/hosts name (IPv4 only there)", "myhost.test",
			AF_INET6);
	p = gethostbyname2("myhost.test", AF_INET6);
	fact(!p || !any_placeholder(AF_INET6, p->h_addr_list[0]),
	     "gethostbyname2(an /etc/hosts name, AF_INET6): no placeholder");
	sentinel_check("an /etc/hosts name (IPv4 only there) asked for IPv6",
		       1);
	p = gethostbyname("myhost.test");
	fact(p && p->h_length == 4 &&
		 memcmp(p->h_addr_list[0], "\xc0\0\2\x0a", 4) == 0,
	     "gethostbyname(/etc/hosts name): its address");
	sa4(&s4, "\xc0\0\2\x0a", 80);
	rc = getnameinfo((struct sockaddr *)&s4, sizeof(s4), host, sizeof(host),
			 NULL, 0, NI_NAMEREQD);
	fact(rc == 0 && strcmp(host, "myhost.test") == 0,
	     "getnameinfo(an /etc/hosts address): its name (%s %s)", eai(rc),
	     rc ? "" : host);
	p = gethostbyaddr("\xc0\0\2\x0a", 4, AF_INET);
	fact(p && strcmp(p->h_name, "myhost.test") == 0,
	     "gethostbyaddr(an /etc/hosts address): its name");
	sa4(&s4, "\xc0\0\2\x63", 80);
	rc = getnameinfo((struct sockaddr *)&s4, sizeof(s4), host, sizeof(host),
			 NULL, 0, 0);
	fact(rc == 0 && strcmp(host, "192.0.2.99") == 0,
	     "getnameinfo(an address not in /etc/hosts): numeric, no PTR query "
	     "(%s %s)",
	     eai(rc), rc ? "" : host);
	rc = getnameinfo((struct sockaddr *)&s4, sizeof(s4), host, sizeof(host),
			 NULL, 0, NI_NAMEREQD);
	fact(rc == EAI_NONAME,
	     "getnameinfo(NI_NAMEREQD, an address not in /etc/hosts): "
	     "EAI_NONAME (%s)",
	     eai(rc));

	sentinel_check("reverse lookups of /etc/hosts and other addresses", 1);

	/* route direct .corp.example / exact.example / *.star.example */
	not_placeholder("route direct .corp.example", "a.corp.example",
			AF_UNSPEC);
	not_placeholder("route direct .corp.example", "corp.example",
			AF_UNSPEC);
	not_placeholder("route direct .corp.example", "X.B.Corp.Example.",
			AF_INET);
	not_placeholder("route direct exact.example", "exact.example",
			AF_UNSPEC);
	not_placeholder("route direct *.star.example", "a.star.example",
			AF_UNSPEC);
	p = gethostbyname("a.corp.example");
	fact(!p || !any_placeholder(AF_INET, p->h_addr_list[0]),
	     "gethostbyname(a direct name): no placeholder (h_errno %d)",
	     p ? 0 : h_errno);
	p = gethostbyname2("a.corp.example", AF_INET6);
	fact(!p || !any_placeholder(AF_INET6, p->h_addr_list[0]),
	     "gethostbyname2(a direct name, AF_INET6): no placeholder");
	sentinel_check("route direct names", 0);
	rc = ph_of("notcorp.example", AF_UNSPEC, &ph, NULL);
	fact(rc == 0 && is_ph(&ph),
	     "notcorp.example (not under .corp.example): placeholders (%s)",
	     eai(rc));
	rc = ph_of("sub.exact.example", AF_UNSPEC, &ph, NULL);
	fact(rc == 0 && is_ph(&ph),
	     "sub.exact.example (an exact rule): placeholders (%s)", eai(rc));
	rc = ph_of("star.example", AF_UNSPEC, &ph, NULL);
	fact(rc == 0 && is_ph(&ph),
	     "star.example (*.star.example is below only): placeholders (%s)",
	     eai(rc));
	rc = ph_of("myhost.test.other", AF_UNSPEC, &ph, NULL);
	fact(rc == 0 && is_ph(&ph),
	     "a name that only starts like an /etc/hosts name: placeholders "
	     "(%s)",
	     eai(rc));
	sentinel_check("names with placeholders", 1);
}

static void group_local(void)
{
	static const char *const names[] = {"www.example.com",
					    "other.example.org", "x.y.z.test"};
	struct addrinfo *r = NULL;
	struct hostent *p;
	struct sockaddr_in s4;
	char host[NI_MAXHOST];
	size_t i;
	int rc;

	group_numeric_localhost(0);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		not_placeholder("local mode", names[i], AF_UNSPEC);
		not_placeholder("local mode", names[i], AF_INET6);
		p = gethostbyname(names[i]);
		fact(!p || !any_placeholder(AF_INET, p->h_addr_list[0]),
		     "local mode: gethostbyname(%s): no placeholder", names[i]);
		p = gethostbyname2(names[i], AF_INET6);
		fact(!p || !any_placeholder(AF_INET6, p->h_addr_list[0]),
		     "local mode: gethostbyname2(%s, AF_INET6): no "
		     "placeholder",
		     names[i]);
	}
	rc = getaddrinfo("www.example.com", "80", NULL, &r);
	fact(rc != 0 || !any_placeholder_ai(r),
	     "local mode: getaddrinfo(name, \"80\", NULL): no placeholder "
	     "(%s)",
	     eai(rc));
	if (rc == 0)
		freeaddrinfo(r);
	sa4(&s4, "\x7f\xc0\0\1", 80);
	rc = getnameinfo((struct sockaddr *)&s4, sizeof(s4), host, sizeof(host),
			 NULL, 0, NI_NAMEREQD);
	fact(rc != 0 || strcmp(host, "www.example.com") != 0,
	     "local mode: 127.192.0.1 stands for no name (%s)", eai(rc));
	sentinel_check("local mode: names", 0);
}

static void group_broken(void)
{
	struct addrinfo h = mkhints(AF_UNSPEC, SOCK_STREAM, 0, 0), *r = NULL;
	char log[1024];
	struct hostent *p;
	int rc, lines;

	cap_begin();
	rc = getaddrinfo("www.example.com", "80", &h, &r);
	lines = cap_end(log, sizeof(log));
	fact(rc == EAI_FAIL, "broken config: getaddrinfo(name) EAI_FAIL (%s)",
	     eai(rc));
	fact(lines == 1,
	     "broken config: exactly one socksify: line for it (%d: %s)", lines,
	     log);
	if (rc == 0)
		freeaddrinfo(r);
	cap_begin();
	h_errno = 0;
	p = gethostbyname("www.example.com");
	rc = h_errno;
	lines = cap_end(log, sizeof(log));
	fact(!p && rc == NO_RECOVERY && lines == 1,
	     "broken config: gethostbyname(name) NULL, NO_RECOVERY, one line "
	     "(%p, h_errno %d, %d lines)",
	     (void *)p, rc, lines);
	cap_begin();
	r = NULL;
	rc = getaddrinfo("localhost", "80", &h, &r);
	lines = cap_end(log, sizeof(log));
	fact(rc == 0 && !any_placeholder_ai(r) && lines == 0,
	     "broken config: localhost still resolves, silently (%s, %d "
	     "lines)",
	     eai(rc), lines);
	if (rc == 0)
		freeaddrinfo(r);
	r = NULL;
	rc = getaddrinfo("192.0.2.1", "80", &h, &r);
	fact(rc == 0, "broken config: numeric hosts still resolve (%s)",
	     eai(rc));
	if (rc == 0)
		freeaddrinfo(r);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A listener on the proxy address that never answers. */
static int silent_proxy(void)
{
	struct sockaddr_in s;
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sa4(&s, "\x7f\0\0\1", 1080);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, (struct sockaddr *)&s, sizeof(s)) < 0 ||
	    listen(fd, 16) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static void tunnel_case(const char *what, double limit)
{
	struct addrinfo h = mkhints(AF_UNSPEC, SOCK_STREAM, 0, 0), *r = NULL;
	char log[1024];
	struct hostent *p;
	double t0, dt;
	int rc, lines;

	cap_begin();
	t0 = now_s();
	rc = getaddrinfo("tunnel.example.com", "80", &h, &r);
	dt = now_s() - t0;
	lines = cap_end(log, sizeof(log));
	fact(rc == EAI_AGAIN && dt < limit,
	     "tunnel, %s: EAI_AGAIN within %.0f s (%s after %.2f s)", what,
	     limit, eai(rc), dt);
	fact(lines == 1, "tunnel, %s: one log line (%d: %s)", what, lines, log);
	if (rc == 0)
		freeaddrinfo(r);
	cap_begin();
	h_errno = 0;
	p = gethostbyname("tunnel2.example.com");
	rc = h_errno;
	lines = cap_end(log, sizeof(log));
	fact(!p && rc == TRY_AGAIN,
	     "tunnel, %s: gethostbyname NULL, TRY_AGAIN (h_errno %d)", what,
	     rc);
}

static void group_tunnel(void)
{
	int fd;

	lo_up();
	tunnel_case("no proxy running", 1.0);
	fd = silent_proxy();
	if (fd < 0) {
		fact(0, "tunnel: cannot listen on 127.0.0.1:1080: %s",
		     strerror(errno));
		return;
	}
	tunnel_case("a proxy that never answers (timeout 1)", 3.0);
	close(fd);
	not_placeholder("tunnel mode", "localhost", AF_UNSPEC);
}

static void group_ranges(void)
{
	static const uint8_t old_default[4] = {127, 192, 0, 1};
	struct addrinfo h = mkhints(AF_UNSPEC, 0, 0, 0);
	struct sockaddr_in s4;
	struct ph first, p, again;
	char name[64], host[NI_MAXHOST], log[1024];
	int i, rc, bad = 0, fd, e;

	r4_base[0] = 198;
	r4_base[1] = 18;
	r4_base[2] = 128;
	r4_base[3] = 0;
	r4_prefix = 17;
	memset(r6_base, 0, sizeof(r6_base));
	r6_base[0] = 0x20;
	r6_base[1] = 0x01;
	r6_base[2] = 0x0d;
	r6_base[3] = 0xb8;
	r6_base[4] = r6_base[5] = 0xff;
	r6_prefix = 64;

	gai_case("dns_v4_range/dns_v6_range: glibc's list structure, the "
		 "configured ranges",
		 "ranges.example.com", "80", &h, &first);
	rc = ph_of("ranges.example.com", AF_UNSPEC, &first, NULL);
	fact(rc == 0 && is_ph(&first),
	     "the placeholders come from 198.18.128.0/17 and "
	     "2001:db8:ffff::/64");
	fact(reverse_is(&first, "ranges.example.com"),
	     "getnameinfo on the configured ranges: the name");
	lo_up();
	sa4(&s4, old_default, 80);
	rc = getnameinfo((struct sockaddr *)&s4, sizeof(s4), host, sizeof(host),
			 NULL, 0, NI_NAMEREQD);
	fact(rc != 0 || strcmp(host, "ranges.example.com") != 0,
	     "127.192.0.1 is no placeholder with other ranges (%s)", eai(rc));
	fd = socket(AF_INET, SOCK_STREAM, 0);
	cap_begin();
	rc = connect(fd, (struct sockaddr *)&s4, sizeof(s4));
	e = errno;
	cap_end(log, sizeof(log));
	close(fd);
	fact(rc == -1 && e != EHOSTUNREACH,
	     "connect(127.192.0.1:80) is a plain loopback connect (%s)",
	     rc ? strerrorname_np(e) : "connected");
	/* dns_names 1024: 2,500 more names take the CLOCK hand round the
	 * table twice, evicting the first name. */
	for (i = 0; i < 2500; i++) {
		snprintf(name, sizeof(name), "evict%d.ranges.example.com", i);
		if (ph_of(name, AF_UNSPEC, &p, NULL) != 0 || !is_ph(&p))
			bad++;
	}
	fact(bad == 0,
	     "2,500 more names: all in the configured ranges (%d "
	     "not)",
	     bad);
	sa4(&s4, first.a4, 80);
	rc = getnameinfo((struct sockaddr *)&s4, sizeof(s4), host, sizeof(host),
			 NULL, 0, NI_NAMEREQD);
	fact(rc == EAI_NONAME,
	     "dns_names 1024: the first name's placeholder no longer stands "
	     "for it (%s %s)",
	     eai(rc), rc ? "" : host);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	cap_begin();
	rc = connect(fd, (struct sockaddr *)&s4, sizeof(s4));
	e = errno;
	cap_end(log, sizeof(log));
	close(fd);
	fact(rc == -1 && e == EHOSTUNREACH,
	     "dns_names 1024: connect to the evicted placeholder: "
	     "EHOSTUNREACH (%s)",
	     rc ? strerrorname_np(e) : "connected");
	rc = ph_of("ranges.example.com", AF_UNSPEC, &again, NULL);
	fact(rc == 0 && is_ph(&again) && memcmp(again.a4, first.a4, 4) != 0,
	     "dns_names 1024: the evicted name gets a fresh placeholder");
	fact(reverse_is(&again, "ranges.example.com"),
	     "dns_names 1024: the fresh placeholder resolves back");
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";

	setvbuf(stdout, NULL, _IOLBF, 0);
	sentinel_begin();
	if (strcmp(mode, "remote") == 0) {
		group_basic();
		group_hints();
		group_addrconfig();
		group_null();
		group_hostent();
		group_reverse();
		group_connect();
		group_fork("after lookups");
		group_gaia();
		sentinel_check("remote mode, all of the above", 1);
	} else if (strcmp(mode, "addrconfig") == 0) {
		group_addrconfig();
	} else if (strcmp(mode, "forkfirst") == 0) {
		group_fork("before any lookup");
	} else if (strcmp(mode, "hosts") == 0) {
		group_hosts();
	} else if (strcmp(mode, "local") == 0) {
		group_local();
	} else if (strcmp(mode, "broken") == 0) {
		group_broken();
	} else if (strcmp(mode, "tunnel") == 0) {
		group_tunnel();
	} else if (strcmp(mode, "ranges") == 0) {
		group_ranges();
	} else if (strcmp(mode, "threads") == 0) {
		group_threads();
	} else {
		fprintf(stderr,
			"usage: gaitest remote|addrconfig|forkfirst|hosts|"
			"local|broken|tunnel|ranges|threads\n");
		return 2;
	}
	return fact_failures ? 1 : 0;
}
