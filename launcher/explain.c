/*
 * explain.c - socksify --explain HOST[:PORT]: which rule decides for a
 * destination and what the library will do with it, for the name and for
 * each address the name would resolve to.  The rules are the library's
 * own (cfg_match_rule, cfg_match_name_rule); nothing is sent anywhere,
 * and a name is resolved here only where the program would resolve it
 * locally too.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "launcher.h"

int split_target(const char *s, char *host, size_t hostlen, unsigned *port,
		 const char **why)
{
	const char *colon, *end = s + strlen(s);
	unsigned long p = 0;
	char *stop;
	size_t n;

	*port = 0;
	if (*s == '[') {
		const char *rb = strchr(s, ']');

		if (!rb) {
			*why = "a '[' without its ']'";
			return -1;
		}
		n = (size_t)(rb - s - 1);
		colon = rb[1] == ':' ? rb + 1 : NULL;
		if (rb[1] && !colon) {
			*why = "text after ']' that is not :PORT";
			return -1;
		}
		s++;
	} else if ((colon = strrchr(s, ':')) && strchr(s, ':') != colon) {
		colon = NULL; /* a bare IPv6 literal */
		n = (size_t)(end - s);
	} else {
		n = colon ? (size_t)(colon - s) : (size_t)(end - s);
	}
	if (n == 0 || n >= hostlen) {
		*why = n ? "the host is too long" : "no host";
		return -1;
	}
	memcpy(host, s, n);
	host[n] = '\0';
	if (colon) {
		p = strtoul(colon + 1, &stop, 10);
		if (!colon[1] || *stop || p == 0 || p > 65535) {
			*why = "the port is not a number from 1 to 65535";
			return -1;
		}
	}
	*port = (unsigned)p;
	return 0;
}

static const char *action_word(enum cfg_action a)
{
	return a == CFG_DIRECT	 ? "direct"
	       : a == CFG_REFUSE ? "refuse"
				 : "proxy";
}

/* "rule FILE:LINE (route ...)" or the built-in default, into buf. */
static void rule_words(const struct cfg_origin *o, const struct cfg_rule *r,
		       const char *dflt, char *buf, size_t len)
{
	char text[400];

	if (!r) {
		snprintf(buf, len, "%s", dflt);
		return;
	}
	cfg_rule_text(r, text, sizeof(text));
	snprintf(buf, len, "%s:%u: %s", o->file, (unsigned)r->line, text);
}

static const char *consequence(enum cfg_action a)
{
	return a == CFG_DIRECT ? "connects directly, as without socksify"
	       : a == CFG_REFUSE
		   ? "connect() fails with EACCES; nothing is sent"
		   : "carried through the proxy";
}

/* One line for an address. */
static void explain_addr(const struct cfg *c, const struct cfg_origin *o,
			 const struct sockaddr *sa, socklen_t len,
			 unsigned port)
{
	const struct cfg_rule *r;
	enum cfg_action a = cfg_match_rule(c, sa, len, &r);
	char ip[INET6_ADDRSTRLEN] = "?", why[4600];
	const void *raw =
	    sa->sa_family == AF_INET
		? (const void *)&((const struct sockaddr_in *)sa)->sin_addr
		: (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr;

	inet_ntop(sa->sa_family, raw, ip, sizeof(ip));
	rule_words(o, r,
		   a == CFG_DIRECT ? "built-in: loopback and the unspecified "
				     "address stay on this machine"
				   : "no rule matches: the default",
		   why, sizeof(why));
	printf("address %s%s%s port %u: %s (%s): %s\n",
	       sa->sa_family == AF_INET6 ? "[" : "", ip,
	       sa->sa_family == AF_INET6 ? "]" : "", port, action_word(a), why,
	       consequence(a));
}

/* Resolves host here (as the program would) and explains each address:
 * by the address rules, or, with byname set, by that name rule. */
static void resolve_here(const struct cfg *c, const struct cfg_origin *o,
			 const char *host, unsigned port, const char *byname)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL, *ai;
	char ip[INET6_ADDRSTRLEN];
	int rc = getaddrinfo(host, NULL, &hints, &res);

	if (rc != 0) {
		printf("name %s: does not resolve here: %s\n", host,
		       gai_strerror(rc));
		return;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		if (ai->ai_family == AF_INET)
			((struct sockaddr_in *)ai->ai_addr)->sin_port =
			    htons((uint16_t)port);
		else if (ai->ai_family == AF_INET6)
			((struct sockaddr_in6 *)ai->ai_addr)->sin6_port =
			    htons((uint16_t)port);
		else
			continue;
		if (!byname) {
			explain_addr(c, o, ai->ai_addr, ai->ai_addrlen, port);
			continue;
		}
		inet_ntop(
		    ai->ai_family,
		    ai->ai_family == AF_INET
			? (const void *)&((struct sockaddr_in *)ai->ai_addr)
			      ->sin_addr
			: (const void *)&((struct sockaddr_in6 *)ai->ai_addr)
			      ->sin6_addr,
		    ip, sizeof(ip));
		printf("address %s%s%s port %u: as the name (%s)\n",
		       ai->ai_family == AF_INET6 ? "[" : "", ip,
		       ai->ai_family == AF_INET6 ? "]" : "", port, byname);
	}
	freeaddrinfo(res);
}

int run_explain(const struct opts *op, const char *target)
{
	struct cfg c;
	struct cfg_origin o;
	char host[300], err[1024], why[4600];
	const char *bad;
	unsigned port;
	union {
		struct sockaddr sa;
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
	} u;

	(void)op;
	if (split_target(target, host, sizeof(host), &port, &bad) < 0) {
		fprintf(stderr, "socksify: --explain %s: %s\n", target, bad);
		return EX_USAGE_CFG;
	}
	if (load_config(&c, &o, err, sizeof(err)) < 0) {
		fprintf(stderr, "socksify: %s\n", err);
		cfg_free(&c);
		return EX_USAGE_CFG;
	}
	if (port == 0)
		printf("(no port given: a name is judged as a lookup is, where "
		       "rules for some ports match too; an address only by "
		       "rules for every port; give HOST:PORT)\n");
	memset(&u, 0, sizeof(u));
	if (inet_pton(AF_INET, host, &u.in.sin_addr) == 1) {
		u.in.sin_family = AF_INET;
		u.in.sin_port = htons((uint16_t)port);
		explain_addr(&c, &o, &u.sa, sizeof(u.in), port);
	} else if (inet_pton(AF_INET6, host, &u.in6.sin6_addr) == 1) {
		u.in6.sin6_family = AF_INET6;
		u.in6.sin6_port = htons((uint16_t)port);
		explain_addr(&c, &o, &u.sa, sizeof(u.in6), port);
	} else {
		const struct cfg_rule *r;
		enum cfg_action a =
		    cfg_match_name_rule(&c, host, (uint16_t)port, &r);
		enum cfg_dns mode = cfg_dns_mode(&c);
		int local =
		    mode == CFG_DNS_LOCAL || cfg_name_always_direct(&c, host);

		if (mode == CFG_DNS_LOCAL) {
			printf("name %s: resolved on this machine by libc (dns "
			       "local); connections go to its addresses, "
			       "which the address rules judge (host rules "
			       "apply with dns remote or tunnel only)\n",
			       host);
			resolve_here(&c, &o, host, port, NULL);
		} else {
			rule_words(&o, r, "no host rule matches: the default",
				   why, sizeof(why));
			printf("name %s port %u: %s (%s): %s\n", host, port,
			       action_word(a), why, consequence(a));
			if (local) {
				printf("name %s: every port of it goes direct, "
				       "so it is resolved on this machine by "
				       "libc and its connections follow this "
				       "rule\n",
				       host);
				resolve_here(&c, &o, host, port, why);
			} else if (mode == CFG_DNS_REMOTE) {
				printf("name %s: not resolved on this machine "
				       "(dns remote): the program gets a "
				       "placeholder address, and %s\n",
				       host,
				       a == CFG_PROXY
					   ? "connect() sends the name to the "
					     "proxy, which resolves it"
				       : a == CFG_REFUSE
					   ? "connect() fails with EACCES"
					   : "connect() resolves it here at "
					     "that port and connects directly");
			} else {
				printf("name %s: resolved by dns_server "
				       "through the proxy (dns tunnel; "
				       "--explain sends no query); "
				       "connections to the name follow this "
				       "rule\n",
				       host);
			}
		}
	}
	cfg_free(&c);
	return 0;
}
