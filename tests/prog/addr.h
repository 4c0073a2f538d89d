/*
 * addr.h - socket address helpers for the test programs (tests/prog and
 * tests/prog-static): port, "1.2.3.4:80" / "[2001:db8::1]:80" text, and
 * equality of two IP addresses with their ports.
 */
#ifndef SOCKSIFY_TEST_ADDR_H
#define SOCKSIFY_TEST_ADDR_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

static inline unsigned port_of(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	return 0;
}

static inline const char *addr_str(const struct sockaddr_storage *ss, char *buf,
				   size_t n)
{
	char a[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr,
			  a, sizeof(a));
	else if (ss->ss_family == AF_INET6)
		inet_ntop(AF_INET6,
			  &((const struct sockaddr_in6 *)ss)->sin6_addr, a,
			  sizeof(a));
	else
		snprintf(a, sizeof(a), "family-%d", ss->ss_family);
	snprintf(buf, n, ss->ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u", a,
		 port_of(ss));
	return buf;
}

static inline int same_addr(const struct sockaddr_storage *x,
			    const struct sockaddr_storage *y)
{
	if (x->ss_family != y->ss_family)
		return 0;
	if (x->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)x;
		const struct sockaddr_in *b = (const struct sockaddr_in *)y;
		return a->sin_port == b->sin_port &&
		       a->sin_addr.s_addr == b->sin_addr.s_addr;
	}
	if (x->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)x;
		const struct sockaddr_in6 *b = (const struct sockaddr_in6 *)y;
		return a->sin6_port == b->sin6_port &&
		       memcmp(&a->sin6_addr, &b->sin6_addr,
			      sizeof(a->sin6_addr)) == 0;
	}
	return 0;
}

#endif
