/*
 * resolve.h - where a name is resolved, and the two back ends that keep
 * names away from the local network: placeholders (remote mode) and DNS
 * over TCP through the proxy (tunnel mode).  Used by the resolver hooks and
 * by connect().
 */
#ifndef SOCKSIFY_RESOLVE_H
#define SOCKSIFY_RESOLVE_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "config.h"
#include "dnsmsg.h"
#include "names.h"

enum sfy_res {
	SFY_RES_REAL,	     /* libc, unchanged */
	SFY_RES_DIRECT,	     /* libc, for a name a `route direct` rule
				matches: learn its addresses */
	SFY_RES_HOSTS,	     /* /etc/hosts or localhost, answered by us */
	SFY_RES_PLACEHOLDER, /* remote mode: a placeholder for the name */
	SFY_RES_TUNNEL,	     /* tunnel mode: DNS over TCP via the proxy */
	SFY_RES_FAIL,	     /* broken configuration: fail the lookup */
	SFY_RES_TRANSIENT,   /* the configuration cannot be read just now:
				fail this lookup with errno set */
};

/*
 * Decides how to resolve name: libc for NULL, numeric hosts and in local
 * mode; SFY_RES_HOSTS (answered from /etc/hosts, localhost synthesised)
 * for localhost names and /etc/hosts names; libc, as SFY_RES_DIRECT, for
 * names the rules send direct at every port, or at port (when the lookup
 * names one; 0 when not); else the mode's back end.  *cfgp gets the
 * configuration (NULL for SFY_RES_FAIL, which is logged, and
 * SFY_RES_TRANSIENT, which sets errno).
 */
enum sfy_res sfy_res_decide(const char *name, uint16_t port,
			    const struct cfg **cfgp);

/* The placeholder table of this process tree, created on first use from
 * the configuration.  NULL (logged once) when it cannot be created. */
struct names *sfy_names(const struct cfg *c);

/*
 * For connect() and getnameinfo(): when c is in remote mode and sa is a
 * placeholder address (IPv4, IPv6, or v4-mapped IPv4), copies the name it
 * stands for into buf and returns its length; -ENOENT when it is a
 * placeholder that stands for no name (never handed out, or reused since);
 * -EAFNOSUPPORT when it is not a placeholder at all.
 */
int sfy_placeholder_name(const struct cfg *c, const struct sockaddr *sa,
			 socklen_t len, char *buf, size_t cap);

/* Same, for a bare address (family AF_INET with 4 bytes, AF_INET6 with
 * 16), as gethostbyaddr() gets it. */
int sfy_placeholder_name_raw(const struct cfg *c, int family, const void *addr,
			     char *buf, size_t cap);

/*
 * Tunnel mode: resolves name over TCP through the proxy to the configured
 * DNS server.  family AF_INET asks for A, AF_INET6 for AAAA, AF_UNSPEC for
 * both (into *a4 and *a6; either may be NULL when not asked).  Returns 0
 * (rcode and addresses in the answers), or an EAI_* code (EAI_AGAIN when
 * the server cannot be reached or does not answer in time; logged).
 */
int sfy_tunnel_resolve(const struct cfg *c, const char *name, int family,
		       struct dns_answer *a4, struct dns_answer *a6);

/* Tunnel mode, raw: sends the DNS message q to the configured server
 * through the proxy and copies up to anslen bytes of the response into
 * ans.  Returns the bytes copied, or -1 (logged).  what names the query in
 * the log. */
int sfy_tunnel_raw(const struct cfg *c, const char *what, const uint8_t *q,
		   size_t qlen, uint8_t *ans, size_t anslen);

/* Addresses of a name in /etc/hosts, in file order. */
#define SFY_HOSTS_MAX 32
struct sfy_hosts_addrs {
	size_t n;
	int family[SFY_HOSTS_MAX];
	uint8_t addr[SFY_HOSTS_MAX][16];
	char canon[256]; /* the first name of the first matching line */
};

/* Fills *out with name's /etc/hosts addresses; returns how many. */
int sfy_hosts_addrs(const char *name, struct sfy_hosts_addrs *out);

/* "localhost", "localhost." and names under .localhost (RFC 6761). */
int sfy_is_localhost(const char *name);

/* Remembers that libc resolved name, a `route direct` name, to addr
 * (family AF_INET/AF_INET6; v4-mapped is reduced to IPv4). */
void sfy_direct_learn(int family, const void *addr, const char *name);
/* When connect() goes to such an address: copies the name into buf and
 * returns 1 (the name's rules then decide, with the port); else 0. */
int sfy_direct_name(const struct sockaddr *sa, socklen_t len, char *buf,
		    size_t cap);

/* 1 when name (case-insensitive) is a name or alias in /etc/hosts. */
int sfy_hosts_has_name(const char *name);

/* The first /etc/hosts name for an address (family AF_INET/AF_INET6),
 * copied into buf: its length, or -ENOENT (or -ERANGE). */
int sfy_hosts_name_for(int family, const void *addr, char *buf, size_t cap);

#endif
