/*
 * hook_dns.c - the resolver API: getaddrinfo, getaddrinfo_a,
 * gethostbyname*, gethostbyaddr*, getnameinfo, and the res_query family.
 *
 * In remote mode a name that must go through the proxy gets placeholder
 * addresses; in tunnel mode, real addresses from DNS over TCP through the
 * proxy.  Either way the address lists are built by libc's own
 * getaddrinfo from numeric hosts (AI_NUMERICHOST), so service names,
 * socket types, flags, EAI_* codes and freeaddrinfo behave exactly as
 * glibc's do, and libc's freeaddrinfo frees every list we return.
 * Reverse lookups of real addresses in those modes answer from /etc/hosts
 * or numerically: a PTR query would tell the local network what the
 * program talks to.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <resolv.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "proxy.h"
#include "real.h"
#include "resolve.h"

#define MAX_ADDRS (2 * DNS_MAX_ADDRS)

/* Addresses for one name, in the order the program should try them. */
struct addrs {
	size_t n;
	int family[MAX_ADDRS];
	uint8_t addr[MAX_ADDRS][16];
	char canon[DNS_MAX_NAME + 1];
};

static void add_addr(struct addrs *a, int family, const void *addr)
{
	if (a->n >= MAX_ADDRS)
		return;
	a->family[a->n] = family;
	memcpy(a->addr[a->n], addr, family == AF_INET ? 4 : 16);
	a->n++;
}

static void add_answer(struct addrs *a, const struct dns_answer *ans)
{
	size_t i;

	for (i = 0; i < ans->naddr; i++)
		add_addr(a, ans->family[i], ans->addr[i]);
}

/* Copies name without a trailing dot into canon. */
static void set_canon(struct addrs *a, const char *name)
{
	size_t n = strlen(name);

	if (n && name[n - 1] == '.')
		n--;
	if (n > DNS_MAX_NAME)
		n = DNS_MAX_NAME;
	memcpy(a->canon, name, n);
	a->canon[n] = '\0';
}

/* The port a getaddrinfo service names, when it is a number (a name such
 * as "http" counts as unknown: 0). */
static uint16_t service_port(const char *service)
{
	unsigned long v = 0;
	const char *p = service;

	if (!p || !*p)
		return 0;
	for (; *p; p++) {
		if (*p < '0' || *p > '9' || v > 65535)
			return 0;
		v = v * 10 + (unsigned long)(*p - '0');
	}
	return v >= 1 && v <= 65535 ? (uint16_t)v : 0;
}

/*
 * Resolves name for family (AF_INET, AF_INET6 or AF_UNSPEC) by the mode's
 * back end into *a.  Returns 0 or an EAI_* code.
 */
static int lookup(const struct cfg *c, enum sfy_res how, const char *name,
		  int family, struct addrs *a)
{
	struct in_addr p4;
	struct in6_addr p6;
	int has4 = 1, has6 = 0, rc;

	memset(a, 0, sizeof(*a));
	set_canon(a, name);
	if (how == SFY_RES_HOSTS) {
		struct sfy_hosts_addrs h;
		static const uint8_t lo4[4] = {127, 0, 0, 1};
		static const uint8_t lo6[16] = {[15] = 1};
		size_t i;

		if (sfy_hosts_addrs(name, &h) == 0 && sfy_is_localhost(name)) {
			/* RFC 6761 6.3: loopback, never a query. */
			h.n = 2;
			h.family[0] = AF_INET6;
			memcpy(h.addr[0], lo6, 16);
			h.family[1] = AF_INET;
			memcpy(h.addr[1], lo4, 4);
		}
		for (i = 0; i < h.n; i++)
			if (family == AF_UNSPEC || family == h.family[i])
				add_addr(a, h.family[i], h.addr[i]);
		if (h.canon[0])
			set_canon(a, h.canon);
		return a->n ? 0 : EAI_NONAME;
	}
	/* glibc's resolver refuses what is no host name before asking
	 * anyone (res_hnok): so do we, rather than hand out a placeholder
	 * for "::1q". */
	if (!dns_name_is_host(name))
		return EAI_NONAME;
	if (how == SFY_RES_PLACEHOLDER) {
		struct names *t = sfy_names(c);

		if (!t)
			return EAI_FAIL;
		if (names_get(t, name, strlen(name), &p4, &p6) < 0)
			return EAI_NONAME;
		/* Both families stand for the same name; put first the one
		 * whose sockets can reach the proxy without help. */
		if (family == AF_UNSPEC)
			(void)sfy_proxy_families(&has4, &has6);
		if (family == AF_INET || (family == AF_UNSPEC && has4))
			add_addr(a, AF_INET, &p4);
		if (family != AF_INET)
			add_addr(a, AF_INET6, &p6);
		if (family == AF_UNSPEC && !has4)
			add_addr(a, AF_INET, &p4);
		return 0;
	}
	/* SFY_RES_TUNNEL */
	{
		struct dns_answer r4, r6;

		memset(&r4, 0, sizeof(r4));
		memset(&r6, 0, sizeof(r6));
		rc = sfy_tunnel_resolve(c, name, family, &r4, &r6);
		if (rc != 0)
			return rc;
		/* As glibc: what one family answered is an answer, even if
		 * the other failed. */
		if (r4.rcode == 0)
			add_answer(a, &r4);
		if (r6.rcode == 0)
			add_answer(a, &r6);
		if (r4.naddr && r4.canon[0])
			set_canon(a, r4.canon);
		else if (r6.naddr && r6.canon[0])
			set_canon(a, r6.canon);
		/* A name with rules of its own (direct for some ports,
		 * refused): connects to its real addresses follow them. */
		if (cfg_match_name(c, name, 0) != CFG_PROXY) {
			size_t i;

			for (i = 0; i < a->n; i++)
				sfy_direct_learn(a->family[i], a->addr[i],
						 name);
		}
		if (a->n)
			return 0;
		if (r4.rcode == 3 || r6.rcode == 3)
			return EAI_NONAME;
		if (r4.rcode == 2 || r6.rcode == 2)
			return EAI_AGAIN;
		if (r4.rcode != 0 || r6.rcode != 0)
			return EAI_FAIL;
		return EAI_NODATA;
	}
}

/* --- getaddrinfo -----------------------------------------------------------
 */

/* Appends libc's list for one numeric address to *tail.  Returns 0 or the
 * EAI_* code libc gave. */
static int numeric_list(int family, const uint8_t *addr, const char *service,
			const struct addrinfo *hints, int drop_mapped,
			struct addrinfo ***tail)
{
	char lit[INET6_ADDRSTRLEN];
	struct addrinfo h, *part = NULL, *keep = NULL, **kt = &keep, *next;
	int rc;

	inet_ntop(family, addr, lit, sizeof(lit));
	if (hints) {
		h = *hints;
	} else {
		/* glibc's defaults for NULL hints (getaddrinfo(3)). */
		memset(&h, 0, sizeof(h));
		h.ai_flags = AI_V4MAPPED | AI_ADDRCONFIG;
	}
	/* The caller's family, not the literal's: with AF_UNSPEC glibc's
	 * AI_ADDRCONFIG filters nothing when no family is configured, with a
	 * named family it refuses it. */
	if (h.ai_family != AF_INET && h.ai_family != AF_INET6)
		h.ai_family = AF_UNSPEC;
	if (h.ai_family != AF_UNSPEC && h.ai_family != family)
		return EAI_ADDRFAMILY;
	h.ai_flags = (h.ai_flags | AI_NUMERICHOST) & ~AI_CANONNAME;
	h.ai_canonname = NULL;
	h.ai_addr = NULL;
	h.ai_next = NULL;
	rc = sfy_real()->getaddrinfo(lit, service, &h, &part);
	if (rc != 0)
		return rc;
	/* With AI_ADDRCONFIG on an IPv6-only host glibc answers AF_UNSPEC as
	 * AF_INET6 and maps IPv4 (AI_V4MAPPED); where the name has an IPv6
	 * address of its own, glibc would give only that one. */
	for (; part; part = next) {
		next = part->ai_next;
		part->ai_next = NULL;
		if (drop_mapped && family == AF_INET &&
		    part->ai_family == AF_INET6) {
			sfy_real()->freeaddrinfo(part);
			continue;
		}
		*kt = part;
		kt = &part->ai_next;
	}
	if (!keep)
		return EAI_NONAME;
	**tail = keep;
	*tail = kt;
	return 0;
}

/* Remembers the addresses of a `route direct` name's lookup. */
static void learn_list(const struct addrinfo *ai, const char *name)
{
	const struct sockaddr_in *s4;
	const struct sockaddr_in6 *s6;

	for (; ai; ai = ai->ai_next) {
		if (!ai->ai_addr)
			continue;
		if (ai->ai_family == AF_INET) {
			s4 = (const struct sockaddr_in *)ai->ai_addr;
			sfy_direct_learn(AF_INET, &s4->sin_addr, name);
		} else if (ai->ai_family == AF_INET6) {
			s6 = (const struct sockaddr_in6 *)ai->ai_addr;
			sfy_direct_learn(AF_INET6, &s6->sin6_addr, name);
		}
	}
}

static void learn_hostent(const struct hostent *he, const char *name)
{
	char **p;

	if (!he)
		return;
	for (p = he->h_addr_list; p && *p; p++)
		sfy_direct_learn(he->h_addrtype, *p, name);
}

static int shim_getaddrinfo(const char *node, const char *service,
			    const struct addrinfo *hints, struct addrinfo **res)
{
	const struct sfy_real *r = sfy_real();
	const struct cfg *c = NULL;
	struct addrinfo *head = NULL, **tail = &head, *ai;
	struct addrs a;
	enum sfy_res how;
	int family = hints ? hints->ai_family : AF_UNSPEC;
	int rc, first_err = 0, saved = errno, has6 = 0;
	size_t i;

	if (!r->getaddrinfo) {
		sfy_real_missing("getaddrinfo");
		return EAI_SYSTEM;
	}
	how = sfy_res_decide(node, service_port(service), &c);
	if (how == SFY_RES_TRANSIENT)
		return EAI_SYSTEM; /* errno says why (EMFILE...) */
	if (how == SFY_RES_DIRECT) {
		errno = saved;
		rc = r->getaddrinfo(node, service, hints, res);
		if (rc == 0)
			learn_list(*res, node);
		return rc;
	}
	if (how == SFY_RES_REAL ||
	    (hints && (hints->ai_flags & AI_NUMERICHOST)) ||
	    (family != AF_UNSPEC && family != AF_INET && family != AF_INET6)) {
		errno = saved;
		return r->getaddrinfo(node, service, hints, res);
	}
	if (how == SFY_RES_FAIL) {
		errno = saved;
		return EAI_FAIL;
	}
	rc = lookup(c, how, node, family, &a);
	if (rc != 0) {
		errno = saved;
		return rc;
	}
	for (i = 0; i < a.n; i++)
		has6 |= a.family[i] == AF_INET6;
	for (i = 0; i < a.n; i++) {
		rc = numeric_list(a.family[i], a.addr[i], service, hints, has6,
				  &tail);
		if (rc != 0 && !first_err)
			first_err = rc;
	}
	if (!head) {
		errno = saved;
		return first_err ? first_err : EAI_NONAME;
	}
	/* Each entry carries the caller's flags, as glibc's do. */
	for (ai = head; ai; ai = ai->ai_next)
		ai->ai_flags =
		    hints ? hints->ai_flags : (AI_V4MAPPED | AI_ADDRCONFIG);
	if (hints && (hints->ai_flags & AI_CANONNAME)) {
		free(head->ai_canonname);
		head->ai_canonname = strdup(a.canon);
		if (!head->ai_canonname) {
			r->freeaddrinfo(head);
			return EAI_MEMORY;
		}
	}
	sfy_log(SFY_LOG_DEBUG, "%s %s (%zu addresses)", node,
		how == SFY_RES_PLACEHOLDER ? "resolved to placeholders"
		: how == SFY_RES_TUNNEL	   ? "resolved over the proxy"
					   : "answered from /etc/hosts",
		a.n);
	*res = head;
	errno = saved;
	return 0;
}

/* --- hostent ---------------------------------------------------------------
 */

/*
 * Lays out a hostent for name with the addresses of family af from *a into
 * buf (pointers first, aligned): returns 0, or ERANGE when buf is too
 * small.
 */
static int fill_hostent(struct hostent *he, char *buf, size_t buflen,
			const char *name, int af, const struct addrs *a)
{
	size_t alen = af == AF_INET ? 4 : 16, n = 0, i, need, nlen;
	uintptr_t p = (uintptr_t)buf, end = (uintptr_t)buf + buflen;
	char **list, **aliases, *data;

	for (i = 0; i < a->n; i++)
		n += a->family[i] == af;
	nlen = strlen(name) + 1;
	p = (p + sizeof(char *) - 1) & ~(uintptr_t)(sizeof(char *) - 1);
	need = (n + 2) * sizeof(char *) + n * alen + nlen;
	if (p > end || end - p < need)
		return ERANGE;
	list = (char **)p;
	aliases = list + n + 1;
	data = (char *)(aliases + 1);
	for (i = 0, n = 0; i < a->n; i++) {
		if (a->family[i] != af)
			continue;
		memcpy(data, a->addr[i], alen);
		list[n++] = data;
		data += alen;
	}
	list[n] = NULL;
	aliases[0] = NULL;
	memcpy(data, name, nlen);
	he->h_name = data;
	he->h_aliases = aliases;
	he->h_addrtype = af;
	he->h_length = (int)alen;
	he->h_addr_list = list;
	return 0;
}

/* EAI_* to h_errno. */
static int eai_herrno(int eai)
{
	switch (eai) {
	case EAI_AGAIN:
		return TRY_AGAIN;
	case EAI_NODATA:
		return NO_DATA;
	case EAI_NONAME:
		return HOST_NOT_FOUND;
	default:
		return NO_RECOVERY;
	}
}

/* Thread-local storage for the non-reentrant calls (glibc's are static per
 * process; per thread is strictly safer). */
static __thread struct {
	struct hostent he;
	char buf[2048];
} tls_he __attribute__((tls_model("initial-exec")));

/*
 * The _r form of a forward lookup for our back ends.  Returns 0 with
 * *result set, 0 with *result NULL and *herr set when there is no such
 * name, or ERANGE / EAGAIN as glibc does.
 */
static int byname_ours(const struct cfg *c, enum sfy_res how, const char *name,
		       int af, struct hostent *ret, char *buf, size_t buflen,
		       struct hostent **result, int *herr)
{
	struct addrs a;
	int rc;

	*result = NULL;
	if (how == SFY_RES_FAIL) {
		*herr = NO_RECOVERY;
		return 0;
	}
	if (how == SFY_RES_TRANSIENT) {
		*herr = TRY_AGAIN;
		return EAGAIN;
	}
	rc = lookup(c, how, name, af, &a);
	if (rc != 0) {
		*herr = eai_herrno(rc);
		return rc == EAI_AGAIN ? EAGAIN : 0;
	}
	rc = fill_hostent(ret, buf, buflen, a.canon, af, &a);
	if (rc != 0) {
		*herr = NETDB_INTERNAL;
		errno = rc; /* glibc sets both */
		return rc;
	}
	*herr = NETDB_SUCCESS;
	*result = ret;
	return 0;
}

static int shim_gethostbyname2_r(const char *name, int af, struct hostent *ret,
				 char *buf, size_t buflen,
				 struct hostent **result, int *herr)
{
	const struct cfg *c = NULL;
	int saved = errno;
	enum sfy_res how = sfy_res_decide(name, 0, &c);
	int rc;

	if (how == SFY_RES_REAL || how == SFY_RES_DIRECT ||
	    (af != AF_INET && af != AF_INET6)) {
		rc = REAL_CALL(gethostbyname2_r, name, af, ret, buf, buflen,
			       result, herr);
		if (how == SFY_RES_DIRECT && rc == 0 && result)
			learn_hostent(*result, name);
		return rc;
	}
	errno = saved;
	return byname_ours(c, how, name, af, ret, buf, buflen, result, herr);
}

static struct hostent *shim_gethostbyname2(const char *name, int af)
{
	const struct cfg *c = NULL;
	int saved = errno;
	enum sfy_res how = sfy_res_decide(name, 0, &c);
	struct hostent *result = NULL;
	int herr = 0;

	if (how == SFY_RES_REAL || how == SFY_RES_DIRECT ||
	    (af != AF_INET && af != AF_INET6)) {
		if (!sfy_real()->gethostbyname2) {
			sfy_real_missing("gethostbyname2");
			h_errno = NO_RECOVERY;
			return NULL;
		}
		result = sfy_real()->gethostbyname2(name, af);
		if (how == SFY_RES_DIRECT)
			learn_hostent(result, name);
		return result;
	}
	errno = saved;
	if (byname_ours(c, how, name, af, &tls_he.he, tls_he.buf,
			sizeof(tls_he.buf), &result, &herr) != 0 ||
	    !result)
		result = NULL;
	h_errno = herr;
	return result;
}

/* --- reverse lookups -------------------------------------------------------
 */

/*
 * The name for a bare address in remote or tunnel mode: a placeholder's
 * name, else an /etc/hosts name.  Returns its length, -ENOENT, -ERANGE, or
 * -EAFNOSUPPORT when libc should answer (local mode, no config).
 */
static int name_for_addr(int af, const void *addr, char *buf, size_t cap)
{
	const char *why = NULL;
	const struct cfg *c;
	int rc;

	if (sfy_busy)
		return -EAFNOSUPPORT;
	c = sfy_config(&why);
	if (!c)
		return -ENOENT; /* fail closed: no PTR query, numeric only */
	if (cfg_dns_mode(c) == CFG_DNS_LOCAL)
		return -EAFNOSUPPORT;
	rc = sfy_placeholder_name_raw(c, af, addr, buf, cap);
	if (rc != -EAFNOSUPPORT)
		return rc;
	return sfy_hosts_name_for(af, addr, buf, cap);
}

static int shim_getnameinfo(const struct sockaddr *sa, socklen_t salen,
			    char *host, socklen_t hostlen, char *serv,
			    socklen_t servlen, int flags)
{
	const struct sfy_real *r = sfy_real();
	struct sockaddr_in s4;
	struct sockaddr_in6 s6;
	char name[DNS_MAX_NAME + 1];
	const void *addr;
	int rc, saved = errno;

	if (!r->getnameinfo) {
		sfy_real_missing("getnameinfo");
		return EAI_SYSTEM;
	}
	if (!sa || !host || hostlen == 0 || (flags & NI_NUMERICHOST))
		return r->getnameinfo(sa, salen, host, hostlen, serv, servlen,
				      flags);
	if (sa->sa_family == AF_INET && salen >= sizeof(s4)) {
		memcpy(&s4, sa, sizeof(s4));
		addr = &s4.sin_addr;
	} else if (sa->sa_family == AF_INET6 && salen >= sizeof(s6)) {
		memcpy(&s6, sa, sizeof(s6));
		addr = &s6.sin6_addr;
	} else {
		return r->getnameinfo(sa, salen, host, hostlen, serv, servlen,
				      flags);
	}
	rc = name_for_addr(sa->sa_family, addr, name, sizeof(name));
	errno = saved;
	if (rc == -EAFNOSUPPORT)
		return r->getnameinfo(sa, salen, host, hostlen, serv, servlen,
				      flags);
	if (rc < 0) {
		/* No name we may give without asking the network. */
		if (flags & NI_NAMEREQD)
			return EAI_NONAME;
		return r->getnameinfo(sa, salen, host, hostlen, serv, servlen,
				      flags | NI_NUMERICHOST);
	}
	if ((size_t)rc + 1 > hostlen)
		return EAI_OVERFLOW;
	if (serv && servlen) {
		int src =
		    r->getnameinfo(sa, salen, NULL, 0, serv, servlen, flags);
		if (src != 0)
			return src;
	}
	memcpy(host, name, (size_t)rc + 1);
	errno = saved;
	return 0;
}

static int shim_gethostbyaddr_r(const void *addr, socklen_t len, int type,
				struct hostent *ret, char *buf, size_t buflen,
				struct hostent **result, int *herr)
{
	char name[DNS_MAX_NAME + 1];
	struct addrs a;
	int rc;

	if (!addr || (type == AF_INET && len != 4) ||
	    (type == AF_INET6 && len != 16) ||
	    (type != AF_INET && type != AF_INET6))
		return REAL_CALL(gethostbyaddr_r, addr, len, type, ret, buf,
				 buflen, result, herr);
	rc = name_for_addr(type, addr, name, sizeof(name));
	if (rc == -EAFNOSUPPORT)
		return REAL_CALL(gethostbyaddr_r, addr, len, type, ret, buf,
				 buflen, result, herr);
	*result = NULL;
	if (rc < 0) {
		*herr = HOST_NOT_FOUND;
		return 0;
	}
	memset(&a, 0, sizeof(a));
	add_addr(&a, type, addr);
	rc = fill_hostent(ret, buf, buflen, name, type, &a);
	if (rc != 0) {
		*herr = NETDB_INTERNAL;
		errno = rc;
		return rc;
	}
	*herr = NETDB_SUCCESS;
	*result = ret;
	return 0;
}

static struct hostent *shim_gethostbyaddr(const void *addr, socklen_t len,
					  int type)
{
	char name[DNS_MAX_NAME + 1];
	struct hostent *result = NULL;
	int rc, herr = 0;

	if (addr && ((type == AF_INET && len == 4) ||
		     (type == AF_INET6 && len == 16))) {
		rc = name_for_addr(type, addr, name, sizeof(name));
		if (rc != -EAFNOSUPPORT) {
			shim_gethostbyaddr_r(addr, len, type, &tls_he.he,
					     tls_he.buf, sizeof(tls_he.buf),
					     &result, &herr);
			h_errno = herr;
			return result;
		}
	}
	if (!sfy_real()->gethostbyaddr) {
		sfy_real_missing("gethostbyaddr");
		h_errno = NO_RECOVERY;
		return NULL;
	}
	return sfy_real()->gethostbyaddr(addr, len, type);
}

/* --- raw DNS: res_query and friends --------------------------------------- */

/*
 * The libresolv-style calls build and send DNS messages themselves, to the
 * servers in resolv.conf: in remote mode that would be a query on the local
 * network, so they fail closed (h_errno NO_RECOVERY, one log line); in
 * tunnel mode the message goes over TCP through the proxy to dns_server.
 * Returns the answer length, -1 with h_errno set, or -2: libc's own call
 * should run (local mode, local names).
 */
static atomic_int g_raw_told; /* the remote mode's refusal was logged */

static int res_ours(const char *fn, const char *name, const uint8_t *msg,
		    int msglen, unsigned char *answer, int anslen)
{
	const struct cfg *c = NULL;
	const char *why = NULL;
	enum sfy_res how;
	int n;

	/* res_query sends even numeric and /etc/hosts names to the DNS
	 * server: only local mode and `route direct` names may use libc. */
	if (sfy_busy)
		return -2;
	c = sfy_config(&why);
	if (!c) {
		sfy_log(SFY_LOG_ERROR, "%s refused: configuration error: %s",
			fn, why);
		how = SFY_RES_FAIL;
	} else if (cfg_dns_mode(c) == CFG_DNS_LOCAL ||
		   (name && cfg_name_always_direct(c, name))) {
		how = SFY_RES_REAL;
	} else {
		how = cfg_dns_mode(c) == CFG_DNS_TUNNEL ? SFY_RES_TUNNEL
							: SFY_RES_PLACEHOLDER;
	}
	if (!name)
		name = "(a prebuilt query)";
	if (how == SFY_RES_REAL)
		return -2;
	if (how == SFY_RES_FAIL || !answer || anslen < 0 || msglen < 0) {
		h_errno = NO_RECOVERY;
		return -1;
	}
	if (how == SFY_RES_PLACEHOLDER) {
		/* Programs make these on the side and cope (apt's SRV lookup
		 * before the plain connect): an info line, once per process;
		 * each one at debug level. */
		int lvl = atomic_exchange(&g_raw_told, 1) ? SFY_LOG_DEBUG
							  : SFY_LOG_INFO;

		sfy_log(lvl,
			"%s for %s refused: a raw DNS query would leave this "
			"machine unproxied (use 'dns tunnel' to carry it)%s",
			fn, name,
			lvl == SFY_LOG_INFO ? "; the next ones are refused "
					      "too, silently"
					    : "");
		h_errno = NO_RECOVERY;
		return -1;
	}
	n = sfy_tunnel_raw(c, name, msg, (size_t)msglen, answer,
			   (size_t)anslen);
	if (n < 12) {
		h_errno = TRY_AGAIN;
		return -1;
	}
	/* As res_query does: the RCODE decides h_errno. */
	switch (answer[3] & 0x0f) {
	case 0:
		if (!(answer[6] | answer[7])) {
			h_errno = NO_DATA;
			return -1;
		}
		return n;
	case 3:
		h_errno = HOST_NOT_FOUND;
		return -1;
	case 2:
		h_errno = TRY_AGAIN;
		return -1;
	default:
		h_errno = NO_RECOVERY;
		return -1;
	}
}

/* Builds a query for name (the res_query family) and runs it. */
static int res_query_ours(const char *fn, const char *name, int class, int type,
			  unsigned char *answer, int anslen)
{
	unsigned char q[512];
	int n;

	if (!name)
		return -2;
	/* Only the message is built here (res_mkquery sends nothing). */
	n = res_mkquery(QUERY, name, class, type, NULL, 0, NULL, q, sizeof(q));
	if (n < 0) {
		/* Let libc report its own error where it may run at all. */
		if (res_ours(fn, name, NULL, 0, NULL, 0) == -2)
			return -2;
		h_errno = NO_RECOVERY;
		return -1;
	}
	return res_ours(fn, name, q, n, answer, anslen);
}

/* Old-ABI names (declared here: resolv.h no longer does). */
int __res_query(const char *, int, int, unsigned char *, int);
int __res_search(const char *, int, int, unsigned char *, int);
int __res_querydomain(const char *, const char *, int, int, unsigned char *,
		      int);
int __res_send(const unsigned char *, int, unsigned char *, int);
int __res_nquery(res_state, const char *, int, int, unsigned char *, int);
int __res_nsearch(res_state, const char *, int, int, unsigned char *, int);
int __res_nquerydomain(res_state, const char *, const char *, int, int,
		       unsigned char *, int);
int __res_nsend(res_state, const unsigned char *, int, unsigned char *, int);

#define RES_CALL(expr, realcall)                                               \
	do {                                                                   \
		int rc_ = (expr);                                              \
		return rc_ == -2 ? (realcall) : rc_;                           \
	} while (0)

SFY_EXPORT int res_query(const char *name, int class, int type,
			 unsigned char *answer, int anslen)
{
	RES_CALL(res_query_ours("res_query", name, class, type, answer, anslen),
		 REAL_CALL(res_query, name, class, type, answer, anslen));
}

SFY_EXPORT int res_search(const char *name, int class, int type,
			  unsigned char *answer, int anslen)
{
	RES_CALL(
	    res_query_ours("res_search", name, class, type, answer, anslen),
	    REAL_CALL(res_search, name, class, type, answer, anslen));
}

SFY_EXPORT int res_querydomain(const char *name, const char *domain, int class,
			       int type, unsigned char *answer, int anslen)
{
	char full[DNS_MAX_NAME + 2];

	if (!name || !domain ||
	    snprintf(full, sizeof(full), "%s.%s", name, domain) >=
		(int)sizeof(full))
		return REAL_CALL(res_querydomain, name, domain, class, type,
				 answer, anslen);
	RES_CALL(res_query_ours("res_querydomain", full, class, type, answer,
				anslen),
		 REAL_CALL(res_querydomain, name, domain, class, type, answer,
			   anslen));
}

SFY_EXPORT int res_send(const unsigned char *msg, int msglen,
			unsigned char *answer, int anslen)
{
	RES_CALL(res_ours("res_send", NULL, msg, msglen, answer, anslen),
		 REAL_CALL(res_send, msg, msglen, answer, anslen));
}

SFY_EXPORT int res_nquery(res_state st, const char *name, int class, int type,
			  unsigned char *answer, int anslen)
{
	RES_CALL(
	    res_query_ours("res_nquery", name, class, type, answer, anslen),
	    REAL_CALL(res_nquery, st, name, class, type, answer, anslen));
}

SFY_EXPORT int res_nsearch(res_state st, const char *name, int class, int type,
			   unsigned char *answer, int anslen)
{
	RES_CALL(
	    res_query_ours("res_nsearch", name, class, type, answer, anslen),
	    REAL_CALL(res_nsearch, st, name, class, type, answer, anslen));
}

SFY_EXPORT int res_nquerydomain(res_state st, const char *name,
				const char *domain, int class, int type,
				unsigned char *answer, int anslen)
{
	char full[DNS_MAX_NAME + 2];

	if (!name || !domain ||
	    snprintf(full, sizeof(full), "%s.%s", name, domain) >=
		(int)sizeof(full))
		return REAL_CALL(res_nquerydomain, st, name, domain, class,
				 type, answer, anslen);
	RES_CALL(res_query_ours("res_nquerydomain", full, class, type, answer,
				anslen),
		 REAL_CALL(res_nquerydomain, st, name, domain, class, type,
			   answer, anslen));
}

SFY_EXPORT int res_nsend(res_state st, const unsigned char *msg, int msglen,
			 unsigned char *answer, int anslen)
{
	RES_CALL(res_ours("res_nsend", NULL, msg, msglen, answer, anslen),
		 REAL_CALL(res_nsend, st, msg, msglen, answer, anslen));
}

/* The names binaries built before glibc 2.34 link against. */
SFY_EXPORT int __res_query(const char *name, int class, int type,
			   unsigned char *answer, int anslen)
{
	return res_query(name, class, type, answer, anslen);
}

SFY_EXPORT int __res_search(const char *name, int class, int type,
			    unsigned char *answer, int anslen)
{
	return res_search(name, class, type, answer, anslen);
}

SFY_EXPORT int __res_querydomain(const char *name, const char *domain,
				 int class, int type, unsigned char *answer,
				 int anslen)
{
	return res_querydomain(name, domain, class, type, answer, anslen);
}

SFY_EXPORT int __res_send(const unsigned char *msg, int msglen,
			  unsigned char *answer, int anslen)
{
	return res_send(msg, msglen, answer, anslen);
}

SFY_EXPORT int __res_nquery(res_state st, const char *name, int class, int type,
			    unsigned char *answer, int anslen)
{
	return res_nquery(st, name, class, type, answer, anslen);
}

SFY_EXPORT int __res_nsearch(res_state st, const char *name, int class,
			     int type, unsigned char *answer, int anslen)
{
	return res_nsearch(st, name, class, type, answer, anslen);
}

SFY_EXPORT int __res_nquerydomain(res_state st, const char *name,
				  const char *domain, int class, int type,
				  unsigned char *answer, int anslen)
{
	return res_nquerydomain(st, name, domain, class, type, answer, anslen);
}

SFY_EXPORT int __res_nsend(res_state st, const unsigned char *msg, int msglen,
			   unsigned char *answer, int anslen)
{
	return res_nsend(st, msg, msglen, answer, anslen);
}

/* --- getaddrinfo_a ------------------------------------------------------- */

/* Runs a SIGEV_THREAD notification (glibc runs it on a thread of its own). */
static void *notify_thread(void *arg)
{
	struct sigevent *ev = arg;

	ev->sigev_notify_function(ev->sigev_value);
	free(ev);
	return NULL;
}

static void notify(const struct sigevent *sevp)
{
	pthread_attr_t attr, *ap = sevp->sigev_notify_attributes;
	struct sigevent *copy;
	pthread_t th;

	if (sevp->sigev_notify == SIGEV_SIGNAL) {
		sigqueue(getpid(), sevp->sigev_signo, sevp->sigev_value);
	} else if (sevp->sigev_notify == SIGEV_THREAD &&
		   sevp->sigev_notify_function) {
		copy = malloc(sizeof(*copy));
		if (!copy)
			return;
		*copy = *sevp;
		if (!ap) {
			pthread_attr_init(&attr);
			ap = &attr;
		}
		pthread_attr_setdetachstate(ap, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&th, ap, notify_thread, copy) != 0)
			free(copy);
		if (ap == &attr)
			pthread_attr_destroy(&attr);
	}
}

/*
 * glibc's getaddrinfo_a resolves on worker threads through its internal
 * getaddrinfo, which no hook sees: outside local mode we answer each
 * request here, through our getaddrinfo, before returning (allowed: a
 * request may complete at any time after it is queued), set the result
 * gai_error() reads, and notify as asked.  gai_suspend and gai_cancel
 * then see finished requests.
 */
static int shim_getaddrinfo_a(int mode, struct gaicb *list[], int n,
			      struct sigevent *sevp)
{
	const char *why = NULL;
	const struct cfg *c;
	int i, saved = errno;

	if (!sfy_busy) {
		c = sfy_config(&why);
		if (!c || cfg_dns_mode(c) != CFG_DNS_LOCAL)
			goto ours;
	}
	return REAL_CALL(getaddrinfo_a, mode, list, n, sevp);
ours:
	if (mode != GAI_WAIT && mode != GAI_NOWAIT) {
		errno = EINVAL;
		return EAI_SYSTEM;
	}
	for (i = 0; i < n; i++) {
		if (!list[i])
			continue;
		list[i]->ar_result = NULL;
		list[i]->__return =
		    shim_getaddrinfo(list[i]->ar_name, list[i]->ar_service,
				     list[i]->ar_request, &list[i]->ar_result);
	}
	if (mode == GAI_NOWAIT && sevp)
		notify(sevp);
	errno = saved;
	return 0;
}

/* --- exported hooks --------------------------------------------------------
 */

SFY_EXPORT int getaddrinfo(const char *node, const char *service,
			   const struct addrinfo *hints, struct addrinfo **res)
{
	return shim_getaddrinfo(node, service, hints, res);
}

SFY_EXPORT struct hostent *gethostbyname(const char *name)
{
	return shim_gethostbyname2(name, AF_INET);
}

SFY_EXPORT struct hostent *gethostbyname2(const char *name, int af)
{
	return shim_gethostbyname2(name, af);
}

SFY_EXPORT int gethostbyname_r(const char *name, struct hostent *ret, char *buf,
			       size_t buflen, struct hostent **result,
			       int *herr)
{
	return shim_gethostbyname2_r(name, AF_INET, ret, buf, buflen, result,
				     herr);
}

SFY_EXPORT int gethostbyname2_r(const char *name, int af, struct hostent *ret,
				char *buf, size_t buflen,
				struct hostent **result, int *herr)
{
	return shim_gethostbyname2_r(name, af, ret, buf, buflen, result, herr);
}

SFY_EXPORT int getnameinfo(const struct sockaddr *sa, socklen_t salen,
			   char *host, socklen_t hostlen, char *serv,
			   socklen_t servlen, int flags)
{
	return shim_getnameinfo(sa, salen, host, hostlen, serv, servlen, flags);
}

SFY_EXPORT struct hostent *gethostbyaddr(const void *addr, socklen_t len,
					 int type)
{
	return shim_gethostbyaddr(addr, len, type);
}

SFY_EXPORT int gethostbyaddr_r(const void *addr, socklen_t len, int type,
			       struct hostent *ret, char *buf, size_t buflen,
			       struct hostent **result, int *herr)
{
	return shim_gethostbyaddr_r(addr, len, type, ret, buf, buflen, result,
				    herr);
}

SFY_EXPORT int getaddrinfo_a(int mode, struct gaicb *list[], int n,
			     struct sigevent *sevp)
{
	return shim_getaddrinfo_a(mode, list, n, sevp);
}
