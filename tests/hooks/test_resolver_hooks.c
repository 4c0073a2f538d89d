/*
 * test_resolver_hooks.c - Check unit tests for the semantics of the
 * resolver hooks (preload/hook_dns.c) in remote mode.
 *
 * Links nothing of the shim: tests/hooks/run.sh runs it with
 * LD_PRELOAD=preload/libsocksify.so, SOCKSIFY_PROXY=socks5h://127.0.0.1:1080
 * and nothing listening there, inside `unshare -n` so no lookup or connect
 * can leave the machine.  main() brings lo up (a new namespace has it down)
 * so that a connect to the proxy address is refused, not unreachable.
 *
 * Every test gets the placeholders it needs itself, so the suite runs with
 * CK_FORK=yes (the shim's table is made before the first fork and shared)
 * and with CK_FORK=no alike.  The comparisons against glibc use numeric
 * literals (127.0.0.2, ::2), which the shim leaves to libc.
 */
#include <check.h>
#include <errno.h>
#include <net/if.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define LIT4 "127.0.0.2"
#define LIT6 "::2"

/* In 127.192.0.0/10 and 100::/64 but far past any slot this suite fills. */
static const uint8_t unknown4[4] = {127, 192, 200, 200};
static const uint8_t unknown6[16] = {
    0x01, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe};

/* --- helpers -------------------------------------------------------------- */

static const char *eai_name(int rc)
{
	static char buf[32];

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

static const char *errno_name(int e)
{
	const char *s = e ? strerrorname_np(e) : "0";

	return s ? s : "(unknown errno)";
}

static struct addrinfo hints_of(int family, int socktype, int flags)
{
	struct addrinfo h;

	memset(&h, 0, sizeof(h));
	h.ai_family = family;
	h.ai_socktype = socktype;
	h.ai_flags = flags;
	return h;
}

/* getaddrinfo that must succeed: the failure names the code. */
static struct addrinfo *gai_ok(const char *node, const char *svc,
			       const struct addrinfo *hints)
{
	struct addrinfo *r = NULL;
	int rc = getaddrinfo(node, svc, hints, &r);

	ck_assert_msg(rc == 0, "getaddrinfo(%s, %s): %s", node ? node : "NULL",
		      svc ? svc : "NULL", eai_name(rc));
	ck_assert_ptr_nonnull(r);
	return r;
}

/* getaddrinfo's code (a list it returns anyway is freed). */
static int gai_rc(const char *node, const char *svc,
		  const struct addrinfo *hints)
{
	struct addrinfo *r = NULL;
	int rc = getaddrinfo(node, svc, hints, &r);

	if (rc == 0)
		freeaddrinfo(r);
	return rc;
}

static const uint8_t *ai_bytes(const struct addrinfo *ai)
{
	if (ai->ai_family == AF_INET)
		return (const uint8_t *)&(
			   (const struct sockaddr_in *)(void *)ai->ai_addr)
		    ->sin_addr;
	return ((const struct sockaddr_in6 *)(void *)ai->ai_addr)
	    ->sin6_addr.s6_addr;
}

static unsigned ai_port(const struct addrinfo *ai)
{
	/* sin_port and sin6_port share their offset. */
	return ntohs(
	    ((const struct sockaddr_in *)(void *)ai->ai_addr)->sin_port);
}

static const char *ai_str(const struct addrinfo *ai)
{
	static char buf[INET6_ADDRSTRLEN];

	if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
		return "(other family)";
	inet_ntop(ai->ai_family, ai_bytes(ai), buf, sizeof(buf));
	return buf;
}

static int is_ph4(const uint8_t *a)
{
	return a[0] == 127 && (a[1] & 0xc0) == 192;
}

static int is_ph6(const uint8_t *a)
{
	static const uint8_t base[8] = {0x01, 0x00};

	return memcmp(a, base, 8) == 0;
}

static int ai_is_placeholder(const struct addrinfo *ai)
{
	if (ai->ai_family == AF_INET)
		return is_ph4(ai_bytes(ai));
	if (ai->ai_family == AF_INET6)
		return is_ph6(ai_bytes(ai));
	return 0;
}

static size_t count_family(const struct addrinfo *ai, int family)
{
	size_t n = 0;

	for (; ai; ai = ai->ai_next)
		n += ai->ai_family == family;
	return n;
}

/* The "socktype/protocol" sequence of one family's entries. */
static void sequence_of(const struct addrinfo *ai, int family, char *buf,
			size_t cap)
{
	size_t o = 0;

	buf[0] = '\0';
	for (; ai && o < cap; ai = ai->ai_next)
		if (ai->ai_family == family)
			o += (size_t)snprintf(buf + o, cap - o, "%d/%d ",
					      ai->ai_socktype, ai->ai_protocol);
}

struct ph {
	uint8_t a4[4];
	uint8_t a6[16];
};

/* The placeholders of name (AF_UNSPEC, SOCK_STREAM): both must exist. */
static struct ph ph_of(const char *name)
{
	struct addrinfo h = hints_of(AF_UNSPEC, SOCK_STREAM, 0), *r, *ai;
	struct ph p;
	int has4 = 0, has6 = 0;

	memset(&p, 0, sizeof(p));
	r = gai_ok(name, "80", &h);
	for (ai = r; ai; ai = ai->ai_next) {
		if (ai->ai_family == AF_INET) {
			memcpy(p.a4, ai_bytes(ai), 4);
			has4 = 1;
		} else if (ai->ai_family == AF_INET6) {
			memcpy(p.a6, ai_bytes(ai), 16);
			has6 = 1;
		}
	}
	freeaddrinfo(r);
	ck_assert_msg(has4 && has6, "%s: an IPv4 and an IPv6 placeholder",
		      name);
	return p;
}

static struct sockaddr_in sin_of(const void *addr, unsigned port)
{
	struct sockaddr_in s;

	memset(&s, 0, sizeof(s));
	s.sin_family = AF_INET;
	s.sin_port = htons((uint16_t)port);
	memcpy(&s.sin_addr, addr, 4);
	return s;
}

static struct sockaddr_in6 sin6_of(const void *addr, unsigned port)
{
	struct sockaddr_in6 s;

	memset(&s, 0, sizeof(s));
	s.sin6_family = AF_INET6;
	s.sin6_port = htons((uint16_t)port);
	memcpy(&s.sin6_addr, addr, 16);
	return s;
}

/* connect() of a new TCP socket to sa: its return value, errno in *err. */
static int try_connect(const struct sockaddr *sa, socklen_t len, int *err)
{
	int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0), rc;

	ck_assert_msg(fd >= 0, "socket: %s", errno_name(errno));
	errno = 0;
	rc = connect(fd, sa, len);
	*err = errno;
	close(fd);
	return rc;
}

/* --- getaddrinfo(name, "80", NULL) ---------------------------------------- */

#define DEFAULT_NAME "www.example.com"

START_TEST(default_returns_0)
{
	struct addrinfo *r = NULL;
	int rc = getaddrinfo(DEFAULT_NAME, "80", NULL, &r);

	ck_assert_str_eq(eai_name(rc), "0");
	freeaddrinfo(r);
}
END_TEST

START_TEST(default_every_address_is_a_placeholder)
{
	struct addrinfo *r = gai_ok(DEFAULT_NAME, "80", NULL), *ai;

	for (ai = r; ai; ai = ai->ai_next)
		ck_assert_msg(ai_is_placeholder(ai), "%s is no placeholder",
			      ai_str(ai));
	freeaddrinfo(r);
}
END_TEST

START_TEST(default_has_an_ipv4_placeholder)
{
	struct addrinfo *r = gai_ok(DEFAULT_NAME, "80", NULL);

	ck_assert_uint_gt(count_family(r, AF_INET), 0);
	freeaddrinfo(r);
}
END_TEST

START_TEST(default_has_an_ipv6_placeholder)
{
	struct addrinfo *r = gai_ok(DEFAULT_NAME, "80", NULL);

	ck_assert_uint_gt(count_family(r, AF_INET6), 0);
	freeaddrinfo(r);
}
END_TEST

START_TEST(default_ipv4_first)
{
	struct addrinfo *r = gai_ok(DEFAULT_NAME, "80", NULL);

	ck_assert_int_eq(r->ai_family, AF_INET);
	freeaddrinfo(r);
}
END_TEST

START_TEST(default_no_ipv4_after_ipv6)
{
	struct addrinfo *r = gai_ok(DEFAULT_NAME, "80", NULL), *ai;
	int seen6 = 0;

	for (ai = r; ai; ai = ai->ai_next) {
		if (seen6)
			ck_assert_int_eq(ai->ai_family, AF_INET6);
		seen6 |= ai->ai_family == AF_INET6;
	}
	freeaddrinfo(r);
}
END_TEST

START_TEST(default_one_placeholder_per_family)
{
	struct addrinfo *r = gai_ok(DEFAULT_NAME, "80", NULL), *ai;
	const struct addrinfo *first4 = NULL, *first6 = NULL;

	for (ai = r; ai; ai = ai->ai_next) {
		const struct addrinfo **first =
		    ai->ai_family == AF_INET ? &first4 : &first6;

		if (!*first)
			*first = ai;
		ck_assert_mem_eq(ai_bytes(ai), ai_bytes(*first),
				 ai->ai_family == AF_INET ? 4 : 16);
	}
	freeaddrinfo(r);
}
END_TEST

START_TEST(default_port_80)
{
	struct addrinfo *r = gai_ok(DEFAULT_NAME, "80", NULL), *ai;

	for (ai = r; ai; ai = ai->ai_next)
		ck_assert_uint_eq(ai_port(ai), 80);
	freeaddrinfo(r);
}
END_TEST

/* The literal of the loop's family, called the same way (NULL hints: in
 * an lo-only namespace AI_ADDRCONFIG acts on it as on our list). */
static const int lit_family[] = {AF_INET, AF_INET6};
static const char *const lit_name[] = {LIT4, LIT6};

START_TEST(default_entry_count_as_literal)
{
	struct addrinfo *r = gai_ok(DEFAULT_NAME, "80", NULL);
	struct addrinfo *l = gai_ok(lit_name[_i], "80", NULL);

	ck_assert_uint_eq(count_family(r, lit_family[_i]),
			  count_family(l, lit_family[_i]));
	freeaddrinfo(l);
	freeaddrinfo(r);
}
END_TEST

START_TEST(default_socktypes_as_literal)
{
	struct addrinfo *r = gai_ok(DEFAULT_NAME, "80", NULL);
	struct addrinfo *l = gai_ok(lit_name[_i], "80", NULL);
	char ours[256], libc[256];

	sequence_of(r, lit_family[_i], ours, sizeof(ours));
	sequence_of(l, lit_family[_i], libc, sizeof(libc));
	ck_assert_str_eq(ours, libc);
	freeaddrinfo(l);
	freeaddrinfo(r);
}
END_TEST

START_TEST(default_flags_as_literal)
{
	struct addrinfo *r = gai_ok(DEFAULT_NAME, "80", NULL), *ai;
	struct addrinfo *l = gai_ok(LIT4, "80", NULL);

	for (ai = r; ai; ai = ai->ai_next)
		ck_assert_int_eq(ai->ai_flags, l->ai_flags);
	freeaddrinfo(l);
	freeaddrinfo(r);
}
END_TEST

START_TEST(default_no_canonname)
{
	struct addrinfo *r = gai_ok(DEFAULT_NAME, "80", NULL), *ai;

	for (ai = r; ai; ai = ai->ai_next)
		ck_assert_ptr_null(ai->ai_canonname);
	freeaddrinfo(r);
}
END_TEST

/* --- NULL node, NULL service ---------------------------------------------- */

START_TEST(null_node_returns_0)
{
	struct addrinfo *r = NULL;
	int rc = getaddrinfo(NULL, "80", NULL, &r);

	ck_assert_str_eq(eai_name(rc), "0");
	freeaddrinfo(r);
}
END_TEST

START_TEST(null_node_entries_are_loopback)
{
	struct addrinfo *r = gai_ok(NULL, "80", NULL), *ai;

	for (ai = r; ai; ai = ai->ai_next) {
		if (ai->ai_family == AF_INET)
			ck_assert_uint_eq(ai_bytes(ai)[0], 127);
		else if (ai->ai_family == AF_INET6)
			ck_assert_mem_eq(ai_bytes(ai), &in6addr_loopback, 16);
		else
			ck_abort_msg("entry of family %d", ai->ai_family);
	}
	freeaddrinfo(r);
}
END_TEST

START_TEST(null_node_no_placeholder)
{
	struct addrinfo *r = gai_ok(NULL, "80", NULL), *ai;

	for (ai = r; ai; ai = ai->ai_next)
		ck_assert_msg(!ai_is_placeholder(ai), "%s is a placeholder",
			      ai_str(ai));
	freeaddrinfo(r);
}
END_TEST

START_TEST(null_node_port_80)
{
	struct addrinfo *r = gai_ok(NULL, "80", NULL), *ai;

	for (ai = r; ai; ai = ai->ai_next)
		ck_assert_uint_eq(ai_port(ai), 80);
	freeaddrinfo(r);
}
END_TEST

START_TEST(null_node_addrlen_fits_family)
{
	struct addrinfo *r = gai_ok(NULL, "80", NULL), *ai;

	for (ai = r; ai; ai = ai->ai_next)
		ck_assert_uint_eq(ai->ai_addrlen,
				  ai->ai_family == AF_INET
				      ? sizeof(struct sockaddr_in)
				      : sizeof(struct sockaddr_in6));
	freeaddrinfo(r);
}
END_TEST

START_TEST(null_service_returns_0)
{
	struct addrinfo *r = NULL;
	int rc = getaddrinfo("noservice.example.com", NULL, NULL, &r);

	ck_assert_str_eq(eai_name(rc), "0");
	freeaddrinfo(r);
}
END_TEST

START_TEST(null_service_port_0)
{
	struct addrinfo *r = gai_ok("noservice.example.com", NULL, NULL), *ai;

	for (ai = r; ai; ai = ai->ai_next)
		ck_assert_uint_eq(ai_port(ai), 0);
	freeaddrinfo(r);
}
END_TEST

START_TEST(null_service_placeholders)
{
	struct addrinfo *r = gai_ok("noservice.example.com", NULL, NULL), *ai;

	for (ai = r; ai; ai = ai->ai_next)
		ck_assert_msg(ai_is_placeholder(ai), "%s is no placeholder",
			      ai_str(ai));
	freeaddrinfo(r);
}
END_TEST

/* --- hints ---------------------------------------------------------------- */

#define HINTS_NAME "hints.example.org"

START_TEST(af_inet_only_ipv4)
{
	struct addrinfo h = hints_of(AF_INET, 0, 0);
	struct addrinfo *r = gai_ok(HINTS_NAME, "80", &h), *ai;

	for (ai = r; ai; ai = ai->ai_next)
		ck_assert_int_eq(ai->ai_family, AF_INET);
	freeaddrinfo(r);
}
END_TEST

START_TEST(af_inet_the_ipv4_placeholder)
{
	struct ph p = ph_of(HINTS_NAME);
	struct addrinfo h = hints_of(AF_INET, 0, 0);
	struct addrinfo *r = gai_ok(HINTS_NAME, "80", &h);

	ck_assert_mem_eq(ai_bytes(r), p.a4, 4);
	freeaddrinfo(r);
}
END_TEST

START_TEST(af_inet6_only_ipv6)
{
	struct addrinfo h = hints_of(AF_INET6, 0, 0);
	struct addrinfo *r = gai_ok(HINTS_NAME, "80", &h), *ai;

	for (ai = r; ai; ai = ai->ai_next)
		ck_assert_int_eq(ai->ai_family, AF_INET6);
	freeaddrinfo(r);
}
END_TEST

START_TEST(af_inet6_the_ipv6_placeholder)
{
	struct ph p = ph_of(HINTS_NAME);
	struct addrinfo h = hints_of(AF_INET6, 0, 0);
	struct addrinfo *r = gai_ok(HINTS_NAME, "80", &h);

	ck_assert_mem_eq(ai_bytes(r), p.a6, 16);
	freeaddrinfo(r);
}
END_TEST

START_TEST(numerichost_with_a_name_is_eai_noname)
{
	struct addrinfo h = hints_of(AF_UNSPEC, 0, AI_NUMERICHOST);

	ck_assert_str_eq(eai_name(gai_rc(HINTS_NAME, "80", &h)), "EAI_NONAME");
}
END_TEST

START_TEST(canonname_is_the_name)
{
	struct addrinfo h = hints_of(AF_UNSPEC, SOCK_STREAM, AI_CANONNAME);
	struct addrinfo *r = gai_ok(HINTS_NAME, "80", &h);

	ck_assert_pstr_eq(r->ai_canonname, HINTS_NAME);
	freeaddrinfo(r);
}
END_TEST

START_TEST(canonname_drops_the_trailing_dot)
{
	struct addrinfo h = hints_of(AF_UNSPEC, SOCK_STREAM, AI_CANONNAME);
	struct addrinfo *r = gai_ok(HINTS_NAME ".", "80", &h);

	ck_assert_pstr_eq(r->ai_canonname, HINTS_NAME);
	freeaddrinfo(r);
}
END_TEST

START_TEST(canonname_on_the_first_entry_only)
{
	struct addrinfo h = hints_of(AF_UNSPEC, 0, AI_CANONNAME);
	struct addrinfo *r = gai_ok(HINTS_NAME, "80", &h), *ai;

	for (ai = r->ai_next; ai; ai = ai->ai_next)
		ck_assert_ptr_null(ai->ai_canonname);
	freeaddrinfo(r);
}
END_TEST

START_TEST(passive_with_a_name_is_a_placeholder)
{
	struct addrinfo h = hints_of(AF_UNSPEC, SOCK_STREAM, AI_PASSIVE);
	struct addrinfo *r = gai_ok(HINTS_NAME, "80", &h), *ai;

	for (ai = r; ai; ai = ai->ai_next)
		ck_assert_msg(ai_is_placeholder(ai), "%s is no placeholder",
			      ai_str(ai));
	freeaddrinfo(r);
}
END_TEST

START_TEST(service_http_is_port_80)
{
	struct addrinfo h = hints_of(AF_UNSPEC, SOCK_STREAM, 0);
	struct addrinfo *r = gai_ok(HINTS_NAME, "http", &h), *ai;

	for (ai = r; ai; ai = ai->ai_next)
		ck_assert_uint_eq(ai_port(ai), 80);
	freeaddrinfo(r);
}
END_TEST

START_TEST(bad_service_is_eai_service)
{
	struct addrinfo h = hints_of(AF_UNSPEC, SOCK_STREAM, 0);

	ck_assert_str_eq(eai_name(gai_rc(HINTS_NAME, "no-such-service-x", &h)),
			 "EAI_SERVICE");
}
END_TEST

static const int entry_flags[] = {
    0,
    AI_PASSIVE,
    AI_CANONNAME,
    AI_ADDRCONFIG,
    AI_V4MAPPED | AI_ADDRCONFIG,
    AI_CANONNAME | AI_PASSIVE | AI_NUMERICSERV,
};

START_TEST(entry_flags_are_the_hints_flags)
{
	struct addrinfo h = hints_of(AF_UNSPEC, 0, entry_flags[_i]);
	struct addrinfo *r = gai_ok(HINTS_NAME, "80", &h), *ai;

	for (ai = r; ai; ai = ai->ai_next)
		ck_assert_int_eq(ai->ai_flags, entry_flags[_i]);
	freeaddrinfo(r);
}
END_TEST

/* --- the same name, other names ------------------------------------------- */

START_TEST(same_name_same_placeholders)
{
	struct ph a = ph_of("same.example.com");
	struct ph b = ph_of("same.example.com");

	ck_assert_mem_eq(&a, &b, sizeof(a));
}
END_TEST

START_TEST(other_case_and_dot_same_ipv4)
{
	struct ph a = ph_of("case.example.com");
	struct ph b = ph_of("CASE.Example.COM.");

	ck_assert_mem_eq(a.a4, b.a4, 4);
}
END_TEST

START_TEST(other_case_and_dot_same_ipv6)
{
	struct ph a = ph_of("case.example.com");
	struct ph b = ph_of("CASE.Example.COM.");

	ck_assert_mem_eq(a.a6, b.a6, 16);
}
END_TEST

START_TEST(other_names_other_ipv4)
{
	struct ph a = ph_of("one.example.com");
	struct ph b = ph_of("two.example.com");

	ck_assert_int_ne(memcmp(a.a4, b.a4, 4), 0);
}
END_TEST

START_TEST(other_names_other_ipv6)
{
	struct ph a = ph_of("one.example.com");
	struct ph b = ph_of("two.example.com");

	ck_assert_int_ne(memcmp(a.a6, b.a6, 16), 0);
}
END_TEST

/* --- freeaddrinfo ---------------------------------------------------------
 * A crash ends the test (an error); valgrind, in run.sh, sees bad frees. */

START_TEST(free_our_list)
{
	freeaddrinfo(gai_ok("free.example.com", "80", NULL));
}
END_TEST

START_TEST(free_our_list_with_canonname)
{
	struct addrinfo h = hints_of(AF_UNSPEC, 0, AI_CANONNAME);

	freeaddrinfo(gai_ok("free.example.com", "80", &h));
}
END_TEST

START_TEST(free_libc_literal_list)
{
	freeaddrinfo(gai_ok(LIT4, "80", NULL));
}
END_TEST

START_TEST(free_libc_null_node_list)
{
	freeaddrinfo(gai_ok(NULL, "80", NULL));
}
END_TEST

START_TEST(free_libc_localhost_list)
{
	struct addrinfo h = hints_of(AF_INET, 0, AI_CANONNAME);

	freeaddrinfo(gai_ok("localhost", "80", &h));
}
END_TEST

/* --- the hostent calls, reverse lookups ----------------------------------- */

#define HOSTENT_NAME "hostent.example.com"

START_TEST(gethostbyname_gives_the_name)
{
	struct hostent *he;

	ph_of(HOSTENT_NAME);
	he = gethostbyname(HOSTENT_NAME);
	ck_assert_ptr_nonnull(he);
	ck_assert_str_eq(he->h_name, HOSTENT_NAME);
}
END_TEST

START_TEST(gethostbyname_gives_the_ipv4_placeholder)
{
	struct ph p = ph_of(HOSTENT_NAME);
	struct hostent *he = gethostbyname(HOSTENT_NAME);

	ck_assert_ptr_nonnull(he);
	ck_assert_int_eq(he->h_addrtype, AF_INET);
	ck_assert_int_eq(he->h_length, 4);
	ck_assert_mem_eq(he->h_addr_list[0], p.a4, 4);
	ck_assert_ptr_null(he->h_addr_list[1]);
}
END_TEST

START_TEST(gethostbyname_no_aliases)
{
	struct hostent *he = gethostbyname(HOSTENT_NAME);

	ck_assert_ptr_nonnull(he);
	ck_assert_ptr_null(he->h_aliases[0]);
}
END_TEST

START_TEST(gethostbyname2_inet6_gives_the_ipv6_placeholder)
{
	struct ph p = ph_of(HOSTENT_NAME);
	struct hostent *he = gethostbyname2(HOSTENT_NAME, AF_INET6);

	ck_assert_ptr_nonnull(he);
	ck_assert_str_eq(he->h_name, HOSTENT_NAME);
	ck_assert_int_eq(he->h_addrtype, AF_INET6);
	ck_assert_int_eq(he->h_length, 16);
	ck_assert_mem_eq(he->h_addr_list[0], p.a6, 16);
}
END_TEST

START_TEST(gethostbyname_r_succeeds)
{
	struct ph p = ph_of(HOSTENT_NAME);
	struct hostent he, *res = NULL;
	char buf[1024];
	int herr = -1;
	int rc =
	    gethostbyname_r(HOSTENT_NAME, &he, buf, sizeof(buf), &res, &herr);

	ck_assert_str_eq(errno_name(rc), "0");
	ck_assert_ptr_eq(res, &he);
	ck_assert_str_eq(he.h_name, HOSTENT_NAME);
	ck_assert_mem_eq(he.h_addr_list[0], p.a4, 4);
}
END_TEST

START_TEST(gethostbyname_r_tiny_buffer_returns_erange)
{
	struct hostent he, *res = &he;
	char buf[8];
	int herr = -1;

	ck_assert_str_eq(errno_name(gethostbyname_r(HOSTENT_NAME, &he, buf,
						    sizeof(buf), &res, &herr)),
			 "ERANGE");
}
END_TEST

START_TEST(gethostbyname_r_tiny_buffer_sets_errno_erange)
{
	struct hostent he, *res = &he;
	char buf[8];
	int herr = -1;

	errno = 0;
	(void)gethostbyname_r(HOSTENT_NAME, &he, buf, sizeof(buf), &res, &herr);
	ck_assert_str_eq(errno_name(errno), "ERANGE");
}
END_TEST

START_TEST(gethostbyname_r_tiny_buffer_null_result)
{
	struct hostent he, *res = &he;
	char buf[8];
	int herr = -1;

	(void)gethostbyname_r(HOSTENT_NAME, &he, buf, sizeof(buf), &res, &herr);
	ck_assert_ptr_null(res);
}
END_TEST

START_TEST(gethostbyname_r_tiny_buffer_netdb_internal)
{
	struct hostent he, *res = &he;
	char buf[8];
	int herr = -1;

	(void)gethostbyname_r(HOSTENT_NAME, &he, buf, sizeof(buf), &res, &herr);
	ck_assert_int_eq(herr, NETDB_INTERNAL);
}
END_TEST

START_TEST(gethostbyaddr_ipv4_placeholder_gives_the_name)
{
	struct ph p = ph_of(HOSTENT_NAME);
	struct hostent *he = gethostbyaddr(p.a4, 4, AF_INET);

	ck_assert_ptr_nonnull(he);
	ck_assert_str_eq(he->h_name, HOSTENT_NAME);
}
END_TEST

START_TEST(gethostbyaddr_ipv6_placeholder_gives_the_name)
{
	struct ph p = ph_of(HOSTENT_NAME);
	struct hostent *he = gethostbyaddr(p.a6, 16, AF_INET6);

	ck_assert_ptr_nonnull(he);
	ck_assert_str_eq(he->h_name, HOSTENT_NAME);
}
END_TEST

START_TEST(gethostbyaddr_unknown_placeholder_host_not_found)
{
	struct hostent *he;

	h_errno = 0;
	he = gethostbyaddr(unknown4, 4, AF_INET);
	ck_assert_ptr_null(he);
	ck_assert_int_eq(h_errno, HOST_NOT_FOUND);
}
END_TEST

START_TEST(getnameinfo_ipv4_placeholder_gives_the_name)
{
	struct ph p = ph_of(HOSTENT_NAME);
	struct sockaddr_in s = sin_of(p.a4, 80);
	char host[NI_MAXHOST];
	int rc = getnameinfo((struct sockaddr *)&s, sizeof(s), host,
			     sizeof(host), NULL, 0, NI_NAMEREQD);

	ck_assert_str_eq(eai_name(rc), "0");
	ck_assert_str_eq(host, HOSTENT_NAME);
}
END_TEST

START_TEST(getnameinfo_ipv6_placeholder_gives_the_name)
{
	struct ph p = ph_of(HOSTENT_NAME);
	struct sockaddr_in6 s = sin6_of(p.a6, 80);
	char host[NI_MAXHOST];
	int rc = getnameinfo((struct sockaddr *)&s, sizeof(s), host,
			     sizeof(host), NULL, 0, NI_NAMEREQD);

	ck_assert_str_eq(eai_name(rc), "0");
	ck_assert_str_eq(host, HOSTENT_NAME);
}
END_TEST

START_TEST(getnameinfo_placeholder_service_as_glibc)
{
	struct ph p = ph_of(HOSTENT_NAME);
	struct sockaddr_in s = sin_of(p.a4, 80);
	char host[NI_MAXHOST], serv[NI_MAXSERV];
	int rc = getnameinfo((struct sockaddr *)&s, sizeof(s), host,
			     sizeof(host), serv, sizeof(serv), 0);

	ck_assert_str_eq(eai_name(rc), "0");
	ck_assert_str_eq(serv, "http");
}
END_TEST

START_TEST(getnameinfo_namereqd_unknown_ipv4_is_eai_noname)
{
	struct sockaddr_in s = sin_of(unknown4, 80);
	char host[NI_MAXHOST];
	int rc = getnameinfo((struct sockaddr *)&s, sizeof(s), host,
			     sizeof(host), NULL, 0, NI_NAMEREQD);

	ck_assert_str_eq(eai_name(rc), "EAI_NONAME");
}
END_TEST

START_TEST(getnameinfo_namereqd_unknown_ipv6_is_eai_noname)
{
	struct sockaddr_in6 s = sin6_of(unknown6, 80);
	char host[NI_MAXHOST];
	int rc = getnameinfo((struct sockaddr *)&s, sizeof(s), host,
			     sizeof(host), NULL, 0, NI_NAMEREQD);

	ck_assert_str_eq(eai_name(rc), "EAI_NONAME");
}
END_TEST

START_TEST(getnameinfo_unknown_placeholder_is_numeric)
{
	struct sockaddr_in s = sin_of(unknown4, 80);
	char host[NI_MAXHOST];
	int rc = getnameinfo((struct sockaddr *)&s, sizeof(s), host,
			     sizeof(host), NULL, 0, 0);

	ck_assert_str_eq(eai_name(rc), "0");
	ck_assert_str_eq(host, "127.192.200.200");
}
END_TEST

START_TEST(getnameinfo_numerichost_ipv4_is_numeric)
{
	struct ph p = ph_of(HOSTENT_NAME);
	struct sockaddr_in s = sin_of(p.a4, 80);
	char host[NI_MAXHOST], num[INET_ADDRSTRLEN];
	int rc = getnameinfo((struct sockaddr *)&s, sizeof(s), host,
			     sizeof(host), NULL, 0, NI_NUMERICHOST);

	inet_ntop(AF_INET, p.a4, num, sizeof(num));
	ck_assert_str_eq(eai_name(rc), "0");
	ck_assert_str_eq(host, num);
}
END_TEST

START_TEST(getnameinfo_numerichost_ipv6_is_numeric)
{
	struct ph p = ph_of(HOSTENT_NAME);
	struct sockaddr_in6 s = sin6_of(p.a6, 80);
	char host[NI_MAXHOST], num[INET6_ADDRSTRLEN];
	int rc = getnameinfo((struct sockaddr *)&s, sizeof(s), host,
			     sizeof(host), NULL, 0, NI_NUMERICHOST);

	inet_ntop(AF_INET6, p.a6, num, sizeof(num));
	ck_assert_str_eq(eai_name(rc), "0");
	ck_assert_str_eq(host, num);
}
END_TEST

/* --- numeric hosts, localhost --------------------------------------------- */

static const char *const numeric_host[] = {"192.0.2.1", "2001:db8::7"};

START_TEST(numeric_host_stays_numeric)
{
	struct addrinfo *r = gai_ok(numeric_host[_i], "80", NULL), *ai;
	char got[INET6_ADDRSTRLEN];

	for (ai = r; ai; ai = ai->ai_next) {
		inet_ntop(ai->ai_family, ai_bytes(ai), got, sizeof(got));
		ck_assert_str_eq(got, numeric_host[_i]);
	}
	freeaddrinfo(r);
}
END_TEST

START_TEST(gethostbyname_numeric_is_the_literal)
{
	struct hostent *he = gethostbyname("192.0.2.1");

	ck_assert_ptr_nonnull(he);
	ck_assert_mem_eq(he->h_addr_list[0], "\xc0\x00\x02\x01", 4);
}
END_TEST

START_TEST(localhost_inet_is_127_0_0_1)
{
	struct addrinfo h = hints_of(AF_INET, SOCK_STREAM, 0);
	struct addrinfo *r = gai_ok("localhost", "80", &h), *ai;

	for (ai = r; ai; ai = ai->ai_next)
		ck_assert_str_eq(ai_str(ai), "127.0.0.1");
	freeaddrinfo(r);
}
END_TEST

START_TEST(localhost_unspec_is_loopback)
{
	struct addrinfo h = hints_of(AF_UNSPEC, SOCK_STREAM, 0);
	struct addrinfo *r = gai_ok("localhost", "80", &h), *ai;

	for (ai = r; ai; ai = ai->ai_next)
		ck_assert_msg(
		    ai->ai_family == AF_INET
			? ai_bytes(ai)[0] == 127
			: memcmp(ai_bytes(ai), &in6addr_loopback, 16) == 0,
		    "%s is no loopback address", ai_str(ai));
	freeaddrinfo(r);
}
END_TEST

START_TEST(gethostbyname_localhost_is_127_0_0_1)
{
	struct hostent *he = gethostbyname("localhost");

	ck_assert_ptr_nonnull(he);
	ck_assert_mem_eq(he->h_addr_list[0], "\x7f\x00\x00\x01", 4);
}
END_TEST

/* --- names DNS cannot carry ----------------------------------------------- */

#define LABEL63                                                                \
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define LABEL64 LABEL63 "a"

static const char *const invalid_name[] = {
    "a b.example",
    "a..b",
    LABEL64 ".example",
};

START_TEST(invalid_name_is_eai_noname)
{
	ck_assert_str_eq(eai_name(gai_rc(invalid_name[_i], "80", NULL)),
			 "EAI_NONAME");
}
END_TEST

START_TEST(invalid_name_gethostbyname_host_not_found)
{
	struct hostent *he;

	h_errno = 0;
	he = gethostbyname(invalid_name[_i]);
	ck_assert_ptr_null(he);
	ck_assert_int_eq(h_errno, HOST_NOT_FOUND);
}
END_TEST

START_TEST(label_of_63_is_valid)
{
	struct addrinfo *r = gai_ok(LABEL63 ".example", "80", NULL);

	ck_assert_msg(ai_is_placeholder(r), "%s is no placeholder", ai_str(r));
	freeaddrinfo(r);
}
END_TEST

/* --- connect() to placeholders -------------------------------------------- */

START_TEST(connect_unknown_ipv4_placeholder_ehostunreach)
{
	struct sockaddr_in s = sin_of(unknown4, 80);
	int e = 0;

	ck_assert_int_eq(try_connect((struct sockaddr *)&s, sizeof(s), &e), -1);
	ck_assert_str_eq(errno_name(e), "EHOSTUNREACH");
}
END_TEST

START_TEST(connect_unknown_ipv6_placeholder_ehostunreach)
{
	struct sockaddr_in6 s = sin6_of(unknown6, 80);
	int e = 0;

	ck_assert_int_eq(try_connect((struct sockaddr *)&s, sizeof(s), &e), -1);
	ck_assert_str_eq(errno_name(e), "EHOSTUNREACH");
}
END_TEST

START_TEST(connect_known_ipv4_placeholder_goes_to_the_proxy)
{
	struct ph p = ph_of("connect.example.com");
	struct sockaddr_in s = sin_of(p.a4, 80);
	int e = 0;

	ck_assert_int_eq(try_connect((struct sockaddr *)&s, sizeof(s), &e), -1);
	ck_assert_str_eq(errno_name(e), "ECONNREFUSED");
}
END_TEST

START_TEST(connect_known_ipv6_placeholder_goes_to_the_proxy)
{
	struct ph p = ph_of("connect.example.com");
	struct sockaddr_in6 s = sin6_of(p.a6, 80);
	int e = 0;

	ck_assert_int_eq(try_connect((struct sockaddr *)&s, sizeof(s), &e), -1);
	ck_assert_str_eq(errno_name(e), "ECONNREFUSED");
}
END_TEST

/* --- the suite ------------------------------------------------------------ */

static Suite *hooks_suite(void)
{
	Suite *s = suite_create("resolver hooks");
	TCase *tc;

	tc = tcase_create("getaddrinfo(name, \"80\", NULL)");
	tcase_add_test(tc, default_returns_0);
	tcase_add_test(tc, default_every_address_is_a_placeholder);
	tcase_add_test(tc, default_has_an_ipv4_placeholder);
	tcase_add_test(tc, default_has_an_ipv6_placeholder);
	tcase_add_test(tc, default_ipv4_first);
	tcase_add_test(tc, default_no_ipv4_after_ipv6);
	tcase_add_test(tc, default_one_placeholder_per_family);
	tcase_add_test(tc, default_port_80);
	tcase_add_loop_test(tc, default_entry_count_as_literal, 0,
			    (int)ARRAY_SIZE(lit_family));
	tcase_add_loop_test(tc, default_socktypes_as_literal, 0,
			    (int)ARRAY_SIZE(lit_family));
	tcase_add_test(tc, default_flags_as_literal);
	tcase_add_test(tc, default_no_canonname);
	suite_add_tcase(s, tc);

	tc = tcase_create("NULL node or service");
	tcase_add_test(tc, null_node_returns_0);
	tcase_add_test(tc, null_node_entries_are_loopback);
	tcase_add_test(tc, null_node_no_placeholder);
	tcase_add_test(tc, null_node_port_80);
	tcase_add_test(tc, null_node_addrlen_fits_family);
	tcase_add_test(tc, null_service_returns_0);
	tcase_add_test(tc, null_service_port_0);
	tcase_add_test(tc, null_service_placeholders);
	suite_add_tcase(s, tc);

	tc = tcase_create("hints");
	tcase_add_test(tc, af_inet_only_ipv4);
	tcase_add_test(tc, af_inet_the_ipv4_placeholder);
	tcase_add_test(tc, af_inet6_only_ipv6);
	tcase_add_test(tc, af_inet6_the_ipv6_placeholder);
	tcase_add_test(tc, numerichost_with_a_name_is_eai_noname);
	tcase_add_test(tc, canonname_is_the_name);
	tcase_add_test(tc, canonname_drops_the_trailing_dot);
	tcase_add_test(tc, canonname_on_the_first_entry_only);
	tcase_add_test(tc, passive_with_a_name_is_a_placeholder);
	tcase_add_test(tc, service_http_is_port_80);
	tcase_add_test(tc, bad_service_is_eai_service);
	tcase_add_loop_test(tc, entry_flags_are_the_hints_flags, 0,
			    (int)ARRAY_SIZE(entry_flags));
	suite_add_tcase(s, tc);

	tc = tcase_create("names and placeholders");
	tcase_add_test(tc, same_name_same_placeholders);
	tcase_add_test(tc, other_case_and_dot_same_ipv4);
	tcase_add_test(tc, other_case_and_dot_same_ipv6);
	tcase_add_test(tc, other_names_other_ipv4);
	tcase_add_test(tc, other_names_other_ipv6);
	suite_add_tcase(s, tc);

	tc = tcase_create("freeaddrinfo");
	tcase_add_test(tc, free_our_list);
	tcase_add_test(tc, free_our_list_with_canonname);
	tcase_add_test(tc, free_libc_literal_list);
	tcase_add_test(tc, free_libc_null_node_list);
	tcase_add_test(tc, free_libc_localhost_list);
	suite_add_tcase(s, tc);

	tc = tcase_create("hostent and reverse lookups");
	tcase_add_test(tc, gethostbyname_gives_the_name);
	tcase_add_test(tc, gethostbyname_gives_the_ipv4_placeholder);
	tcase_add_test(tc, gethostbyname_no_aliases);
	tcase_add_test(tc, gethostbyname2_inet6_gives_the_ipv6_placeholder);
	tcase_add_test(tc, gethostbyname_r_succeeds);
	tcase_add_test(tc, gethostbyname_r_tiny_buffer_returns_erange);
	tcase_add_test(tc, gethostbyname_r_tiny_buffer_sets_errno_erange);
	tcase_add_test(tc, gethostbyname_r_tiny_buffer_null_result);
	tcase_add_test(tc, gethostbyname_r_tiny_buffer_netdb_internal);
	tcase_add_test(tc, gethostbyaddr_ipv4_placeholder_gives_the_name);
	tcase_add_test(tc, gethostbyaddr_ipv6_placeholder_gives_the_name);
	tcase_add_test(tc, gethostbyaddr_unknown_placeholder_host_not_found);
	tcase_add_test(tc, getnameinfo_ipv4_placeholder_gives_the_name);
	tcase_add_test(tc, getnameinfo_ipv6_placeholder_gives_the_name);
	tcase_add_test(tc, getnameinfo_placeholder_service_as_glibc);
	tcase_add_test(tc, getnameinfo_namereqd_unknown_ipv4_is_eai_noname);
	tcase_add_test(tc, getnameinfo_namereqd_unknown_ipv6_is_eai_noname);
	tcase_add_test(tc, getnameinfo_unknown_placeholder_is_numeric);
	tcase_add_test(tc, getnameinfo_numerichost_ipv4_is_numeric);
	tcase_add_test(tc, getnameinfo_numerichost_ipv6_is_numeric);
	suite_add_tcase(s, tc);

	tc = tcase_create("numeric hosts and localhost");
	tcase_add_loop_test(tc, numeric_host_stays_numeric, 0,
			    (int)ARRAY_SIZE(numeric_host));
	tcase_add_test(tc, gethostbyname_numeric_is_the_literal);
	tcase_add_test(tc, localhost_inet_is_127_0_0_1);
	tcase_add_test(tc, localhost_unspec_is_loopback);
	tcase_add_test(tc, gethostbyname_localhost_is_127_0_0_1);
	suite_add_tcase(s, tc);

	tc = tcase_create("invalid names");
	tcase_add_loop_test(tc, invalid_name_is_eai_noname, 0,
			    (int)ARRAY_SIZE(invalid_name));
	tcase_add_loop_test(tc, invalid_name_gethostbyname_host_not_found, 0,
			    (int)ARRAY_SIZE(invalid_name));
	tcase_add_test(tc, label_of_63_is_valid);
	suite_add_tcase(s, tc);

	tc = tcase_create("connect");
	tcase_add_test(tc, connect_unknown_ipv4_placeholder_ehostunreach);
	tcase_add_test(tc, connect_unknown_ipv6_placeholder_ehostunreach);
	tcase_add_test(tc, connect_known_ipv4_placeholder_goes_to_the_proxy);
	tcase_add_test(tc, connect_known_ipv6_placeholder_goes_to_the_proxy);
	suite_add_tcase(s, tc);
	return s;
}

/* Brings lo up (unshare -n starts with it down): a connect to the proxy
 * address must be refused, not unreachable. */
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

int main(void)
{
	SRunner *sr = srunner_create(hooks_suite());
	int failed;

	lo_up();
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
