/*
 * test_udpfilter.c - unit tests for the UDP socket filter generator
 * (preload/udpfilter.c), run by the real kernel.
 *
 * Every test builds a filter with uf_build(), attaches it with
 * SO_ATTACH_FILTER to a real UDP socket on loopback (the program's
 * socket), and sends it datagrams from other loopback sockets: the relay
 * (a socket bound to the spec's relay address and port), another port of
 * the relay's address, other loopback addresses (127.0.0.2, ...), ::1.
 * No root is needed.
 *
 * A drop is seen without waiting out a timeout: after the datagram under
 * test, the relay sends a sentinel the filter lets through (a well-formed
 * SOCKS UDP header for the spec), and loopback delivers in order, so when
 * the sentinel arrives first the datagram was dropped.  Whatever is still
 * queued after the sentinel is read too, so a late datagram is not missed.
 *
 * Datagrams from the relay are spelled out byte by byte from RFC 1928
 * section 7: RSV(2) FRAG(1) ATYP(1) DST.ADDR DST.PORT(2), then the data.
 * IPv6 cases print a line and pass when IPv6 loopback is unavailable.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "socks5.h"
#include "udpfilter.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
/* How long the sentinel may take: only a broken filter ever waits it out. */
#define WAIT_MS	  2000
#define PROXY_URL "proxy socks5://127.0.0.1:1080\n"

/* Bytes and their count, for a table row: D(1, 2, 3). */
#define D(...)                                                                 \
	(const uint8_t[]){__VA_ARGS__}, sizeof((const uint8_t[]){__VA_ARGS__})
#define D_EMPTY (const uint8_t[]){0}, 0

/* SOCKS UDP headers (RFC 1928 section 7): RSV 0, FRAG 0, ATYP, address,
 * port; and some data after them. */
#define V6_DOC 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1
#define NAME11 11, 'e', 'x', 'a', 'm', 'p', 'l', 'e', '.', 'c', 'o', 'm'
#define H4     0, 0, 0, S5_ATYP_IPV4, 192, 0, 2, 1, 0, 53
#define H6     0, 0, 0, S5_ATYP_IPV6, V6_DOC, 0, 53
#define HD     0, 0, 0, S5_ATYP_DOMAIN, NAME11, 0, 53
#define PL     'p', 'r', 'o', 'b', 'e'

/* The peer of a connected socket, and the ports of names sent to. */
#define PEER_PORT 0x1e61 /* 7777 */
static const uint8_t peer4[4] = {192, 0, 2, 7};
static const uint8_t peer6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 7};
static const uint16_t name_ports[8] = {0x1101, 0x1102, 0x1103, 0x1104,
				       0x1105, 0x1106, 0x1107, 0x1108};

/* ---- sockets ---- */

/* ip:port as a socket address; returns its length. */
static socklen_t mkaddr(struct sockaddr_storage *ss, const char *ip,
			uint16_t port)
{
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, ip, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		return sizeof(*in);
	}
	ck_assert_msg(inet_pton(AF_INET6, ip, &in6->sin6_addr) == 1,
		      "bad address %s in the test", ip);
	in6->sin6_family = AF_INET6;
	in6->sin6_port = htons(port);
	return sizeof(*in6);
}

/* A UDP socket bound to ip:port, or -1 when that bind fails. */
static int try_bind(const char *ip, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t len = mkaddr(&ss, ip, port);
	int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	ck_assert_msg(fd >= 0, "socket: %s", strerror(errno));
	if (bind(fd, (struct sockaddr *)&ss, len) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* A UDP socket bound to ip and an ephemeral port. */
static int udp_at(const char *ip)
{
	int fd = try_bind(ip, 0);

	ck_assert_msg(fd >= 0, "bind %s: %s", ip, strerror(errno));
	return fd;
}

static void local_addr(int fd, struct sockaddr_storage *ss)
{
	socklen_t len = sizeof(*ss);

	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)ss, &len), 0);
}

static uint16_t port_of(int fd)
{
	struct sockaddr_storage ss;

	local_addr(fd, &ss);
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

/* 1 when IPv6 loopback works; else says so and returns 0. */
static int ipv6_ok(void)
{
	int fd = socket(AF_INET6, SOCK_DGRAM, 0);

	if (fd < 0) {
		printf("skipped: no IPv6 sockets (%s)\n", strerror(errno));
		fflush(stdout);
		return 0;
	}
	close(fd);
	fd = try_bind("::1", 0);
	if (fd < 0) {
		printf("skipped: cannot bind ::1 (%s)\n", strerror(errno));
		fflush(stdout);
		return 0;
	}
	close(fd);
	return 1;
}

/* ---- the program's socket, its relay, its filter ---- */

struct rig {
	int sock;  /* the program's socket */
	int relay; /* bound to the spec's relay address and port */
	uint16_t port;
	struct uf_spec spec;
};

/* The program's socket (IPv4 on 127.0.0.1, or dual-stack IPv6 on ::) and
 * a relay bound to relay_ip, written into the spec; no filter yet. */
static void rig_open(struct rig *r, int fam, const char *relay_ip)
{
	struct sockaddr_storage ss;

	memset(r, 0, sizeof(*r));
	if (fam == AF_INET) {
		r->sock = udp_at("127.0.0.1");
	} else {
		int off = 0;

		r->sock = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		ck_assert_int_ge(r->sock, 0);
		ck_assert_int_eq(setsockopt(r->sock, IPPROTO_IPV6, IPV6_V6ONLY,
					    &off, sizeof(off)),
				 0);
		mkaddr(&ss, "::", 0);
		ck_assert_int_eq(bind(r->sock, (struct sockaddr *)&ss,
				      sizeof(struct sockaddr_in6)),
				 0);
	}
	r->port = port_of(r->sock);
	r->relay = udp_at(relay_ip);
	local_addr(r->relay, &ss);
	r->spec.sock_family = fam;
	r->spec.relay_family = ss.ss_family;
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;

		memcpy(r->spec.relay_addr, &in->sin_addr, 4);
		r->spec.relay_port = ntohs(in->sin_port);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

		memcpy(r->spec.relay_addr, &in6->sin6_addr, 16);
		r->spec.relay_port = ntohs(in6->sin6_port);
	}
}

/* Builds r's filter and attaches it (replacing any); returns its length. */
static int rig_attach(struct rig *r)
{
	static struct sock_filter prog[UF_MAX_INSNS];
	struct sock_fprog fp;
	int n = uf_build(prog, ARRAY_SIZE(prog), &r->spec);

	ck_assert_int_gt(n, 0);
	ck_assert_int_le(n, UF_MAX_INSNS);
	fp.len = (unsigned short)n;
	fp.filter = prog;
	ck_assert_msg(setsockopt(r->sock, SOL_SOCKET, SO_ATTACH_FILTER, &fp,
				 sizeof(fp)) == 0,
		      "SO_ATTACH_FILTER (%d instructions): %s", n,
		      strerror(errno));
	return n;
}

static void rig_close(struct rig *r)
{
	close(r->sock);
	close(r->relay);
}

/* Sends buf from fd to the program's socket: to 127.0.0.1 from an IPv4
 * socket, to ::1 from an IPv6 one. */
static void send_to(const struct rig *r, int fd, const void *buf, size_t len)
{
	struct sockaddr_storage from, to;
	socklen_t tolen;

	local_addr(fd, &from);
	tolen = mkaddr(&to, from.ss_family == AF_INET ? "127.0.0.1" : "::1",
		       r->port);
	ck_assert_int_eq(sendto(fd, buf, len, 0, (struct sockaddr *)&to, tolen),
			 (ssize_t)len);
}

/* A datagram from the relay that the spec lets through. */
static size_t sentinel(const struct uf_spec *s, uint8_t *b)
{
	static const uint8_t any4[4] = {198, 51, 100, 1};
	static const char data[] = "sentinel";
	size_t n = 0;

	b[n++] = 0; /* RSV */
	b[n++] = 0;
	b[n++] = 0; /* FRAG */
	if (s->peer_atyp == S5_ATYP_IPV6) {
		b[n++] = S5_ATYP_IPV6;
		memcpy(b + n, s->peer_addr, 16);
		n += 16;
	} else {
		b[n++] = S5_ATYP_IPV4;
		memcpy(b + n, s->peer_atyp ? s->peer_addr : any4, 4);
		n += 4;
	}
	b[n++] = (uint8_t)(s->peer_port >> 8);
	b[n++] = (uint8_t)s->peer_port;
	memcpy(b + n, data, sizeof(data));
	return n + sizeof(data);
}

/* Sends buf from fd, then the sentinel from the relay; returns how many
 * copies of buf the program's socket got (0: dropped, 1: received). */
static int delivered(const struct rig *r, int fd, const void *buf, size_t len)
{
	uint8_t s[64], got[2048];
	size_t slen = sentinel(&r->spec, s);
	int seen = 0, done = 0;
	ssize_t n;

	send_to(r, fd, buf, len);
	send_to(r, r->relay, s, slen);
	for (;;) {
		if (!done) {
			struct pollfd p = {.fd = r->sock, .events = POLLIN};

			ck_assert_msg(poll(&p, 1, WAIT_MS) == 1,
				      "the relay's sentinel did not arrive");
		}
		n = recv(r->sock, got, sizeof(got), MSG_DONTWAIT);
		if (n < 0 && done && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		ck_assert_msg(n >= 0, "recv: %s", strerror(errno));
		if ((size_t)n == len && memcmp(got, buf, len) == 0)
			seen++;
		else if (!done && (size_t)n == slen &&
			 memcmp(got, s, slen) == 0)
			done = 1;
		else
			ck_abort_msg("an unexpected datagram of %zd bytes", n);
	}
	return seen;
}

/* Sends buf from a new socket on ip (ephemeral port); as delivered(). */
static int delivered_from(const struct rig *r, const char *ip, const void *buf,
			  size_t len)
{
	int fd = udp_at(ip), got;

	got = delivered(r, fd, buf, len);
	close(fd);
	return got;
}

/* n sockets on ip bound to consecutive ports; returns the first port. */
static uint16_t bind_run(const char *ip, int *fds, unsigned int n)
{
	unsigned int tries, i;

	for (tries = 0; tries < 100; tries++) {
		uint16_t p;

		fds[0] = udp_at(ip);
		p = port_of(fds[0]);
		for (i = 1; i < n && p <= 65535 - n; i++) {
			fds[i] = try_bind(ip, (uint16_t)(p + i));
			if (fds[i] < 0)
				break;
		}
		if (i == n)
			return p;
		while (i-- > 0)
			close(fds[i]);
	}
	ck_abort_msg("no %u consecutive free ports on %s", n, ip);
	return 0;
}

/* Parses PROXY_URL plus rules into c (cfg_init'ed here). */
static void parse_rules(struct cfg *c, const char *rules)
{
	size_t len = strlen(PROXY_URL) + strlen(rules) + 2;
	char *text = malloc(len), err[256] = "";

	ck_assert_ptr_nonnull(text);
	snprintf(text, len, "%s%s\n", PROXY_URL, rules);
	cfg_init(c);
	ck_assert_msg(cfg_parse_text(c, text, strlen(text), "t.conf", err,
				     sizeof(err)) == 0,
		      "config: %s", err);
	free(text);
}

/* ---- the spec's kinds ---- */

enum kind {
	K_RELAY4,    /* IPv4 socket, relay 127.0.0.1, relay only */
	K_NAMES4,    /* the same, having sent to names at name_ports */
	K_PEER4,     /* the same, connected to 192.0.2.7:7777 */
	K_ANY4,	     /* the same, connected to a name: any sender */
	K_RELAY6,    /* IPv6 socket, relay ::1 */
	K_RELAY6_V4, /* IPv6 socket, relay 127.0.0.1 (IPv4 on the wire) */
	K_PEER6,     /* IPv6 socket, relay ::1, connected to 2001:db8::7 */
	K_ANY6,	     /* IPv6 socket, relay ::1, connected to a name */
};

/* Opens the rig for kind k and attaches its filter; 0 (with a message)
 * when k needs IPv6 and there is none. */
static int rig_kind(struct rig *r, enum kind k)
{
	int fam = k >= K_RELAY6 ? AF_INET6 : AF_INET;

	if (fam == AF_INET6 && !ipv6_ok())
		return 0;
	rig_open(r, fam,
		 fam == AF_INET || k == K_RELAY6_V4 ? "127.0.0.1" : "::1");
	switch (k) {
	case K_NAMES4:
		memcpy(r->spec.name_ports, name_ports, sizeof(name_ports));
		r->spec.n_name_ports = ARRAY_SIZE(name_ports);
		break;
	case K_PEER4:
		r->spec.peer_atyp = S5_ATYP_IPV4;
		memcpy(r->spec.peer_addr, peer4, 4);
		r->spec.peer_port = PEER_PORT;
		break;
	case K_PEER6:
		r->spec.peer_atyp = S5_ATYP_IPV6;
		memcpy(r->spec.peer_addr, peer6, 16);
		r->spec.peer_port = PEER_PORT;
		break;
	case K_ANY4:
	case K_ANY6:
		r->spec.any_sender = 1;
		break;
	default:
		break;
	}
	rig_attach(r);
	return 1;
}

/* ---- relay-only sockets: one datagram each ---- */

struct relay_case {
	const char *what;
	enum kind kind;
	const char *from; /* NULL: the relay; else an address, any port */
	const uint8_t *bytes;
	size_t len;
	int want; /* 1: received, 0: dropped */
};

static const struct relay_case relay_cases[] = {
    /* IPv4 socket, relay only */
    {"ATYP 1 from the relay", K_RELAY4, NULL, D(H4, PL), 1},
    {"ATYP 1 header alone from the relay", K_RELAY4, NULL, D(H4), 1},
    {"from the relay's address, another port", K_RELAY4, "127.0.0.1", D(H4, PL),
     0},
    {"from 127.0.0.2", K_RELAY4, "127.0.0.2", D(H4, PL), 0},
    {"RSV 0x0100", K_RELAY4, NULL, D(1, 0, 0, 1, 192, 0, 2, 1, 0, 53, PL), 0},
    {"RSV 0x0001", K_RELAY4, NULL, D(0, 1, 0, 1, 192, 0, 2, 1, 0, 53, PL), 0},
    {"FRAG 1", K_RELAY4, NULL, D(0, 0, 1, 1, 192, 0, 2, 1, 0, 53, PL), 0},
    {"FRAG 0x80", K_RELAY4, NULL, D(0, 0, 0x80, 1, 192, 0, 2, 1, 0, 53, PL), 0},
    {"ATYP 4 on an IPv4 socket", K_RELAY4, NULL, D(H6, PL), 0},
    {"ATYP 3 without any_sender", K_RELAY4, NULL, D(HD, PL), 0},
    {"ATYP 0", K_RELAY4, NULL, D(0, 0, 0, 0, 192, 0, 2, 1, 0, 53, PL), 0},
    {"ATYP 2", K_RELAY4, NULL, D(0, 0, 0, 2, 192, 0, 2, 1, 0, 53, PL), 0},
    {"ATYP 5", K_RELAY4, NULL, D(0, 0, 0, 5, 192, 0, 2, 1, 0, 53, PL), 0},
    {"3 bytes", K_RELAY4, NULL, D(0, 0, 0), 0},
    {"ATYP 1, 9 bytes", K_RELAY4, NULL, D(0, 0, 0, 1, 192, 0, 2, 1, 0), 0},
    {"empty datagram from the relay", K_RELAY4, NULL, D_EMPTY, 0},
    {"empty datagram from 127.0.0.2", K_RELAY4, "127.0.0.2", D_EMPTY, 0},
    /* IPv4 socket that sent to names */
    {"ATYP 4 from the first name port", K_NAMES4, NULL,
     D(0, 0, 0, 4, V6_DOC, 0x11, 0x01, PL), 1},
    {"ATYP 4 from the eighth name port", K_NAMES4, NULL,
     D(0, 0, 0, 4, V6_DOC, 0x11, 0x08, PL), 1},
    {"ATYP 4 from another port", K_NAMES4, NULL,
     D(0, 0, 0, 4, V6_DOC, 0x11, 0x09, PL), 0},
    {"ATYP 4 from port 0", K_NAMES4, NULL, D(0, 0, 0, 4, V6_DOC, 0, 0, PL), 0},
    {"ATYP 4 from a name port, 20 bytes", K_NAMES4, NULL,
     D(0, 0, 0, 4, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1),
     0},
    {"ATYP 4 from a name port, 21 bytes", K_NAMES4, NULL,
     D(0, 0, 0, 4, V6_DOC, 0x11), 0},
    {"ATYP 4 from a name port, header alone", K_NAMES4, NULL,
     D(0, 0, 0, 4, V6_DOC, 0x11, 0x01), 1},
    {"ATYP 4 from a name port, FRAG 1", K_NAMES4, NULL,
     D(0, 0, 1, 4, V6_DOC, 0x11, 0x01, PL), 0},
    {"ATYP 1 with name ports", K_NAMES4, NULL, D(H4, PL), 1},
    {"ATYP 3 with name ports", K_NAMES4, NULL, D(HD, PL), 0},
    /* connected to 192.0.2.7:7777 */
    {"the peer", K_PEER4, NULL, D(0, 0, 0, 1, 192, 0, 2, 7, 0x1e, 0x61, PL), 1},
    {"another address", K_PEER4, NULL,
     D(0, 0, 0, 1, 192, 0, 2, 8, 0x1e, 0x61, PL), 0},
    {"another first byte", K_PEER4, NULL,
     D(0, 0, 0, 1, 193, 0, 2, 7, 0x1e, 0x61, PL), 0},
    {"another port", K_PEER4, NULL, D(0, 0, 0, 1, 192, 0, 2, 7, 0x1e, 0x62, PL),
     0},
    {"another port's high byte", K_PEER4, NULL,
     D(0, 0, 0, 1, 192, 0, 2, 7, 0x1f, 0x61, PL), 0},
    {"ATYP 4 on a socket connected to IPv4", K_PEER4, NULL, D(H6, PL), 0},
    {"ATYP 4 ::ffff:192.0.2.7 on a socket connected to it", K_PEER4, NULL,
     D(0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 7, 0x1e,
       0x61, PL),
     0},
    {"ATYP 3 on a socket connected to an address", K_PEER4, NULL, D(HD, PL), 0},
    {"the peer in a bad FRAG", K_PEER4, NULL,
     D(0, 0, 1, 1, 192, 0, 2, 7, 0x1e, 0x61, PL), 0},
    {"the peer's header from 127.0.0.2", K_PEER4, "127.0.0.2",
     D(0, 0, 0, 1, 192, 0, 2, 7, 0x1e, 0x61, PL), 0},
    /* connected to a name */
    {"any sender: ATYP 1", K_ANY4, NULL, D(H4, PL), 1},
    {"any sender: ATYP 4", K_ANY4, NULL, D(H6, PL), 1},
    {"any sender: ATYP 3", K_ANY4, NULL, D(HD, PL), 1},
    {"any sender: ATYP 3 header alone", K_ANY4, NULL, D(HD), 1},
    {"any sender: ATYP 3, a 1-byte name", K_ANY4, NULL,
     D(0, 0, 0, 3, 1, 'a', 0, 53), 1},
    {"any sender: ATYP 3, a 1-byte name, 1 data byte", K_ANY4, NULL,
     D(0, 0, 0, 3, 1, 'a', 0, 53, 'x'), 1},
    {"any sender: ATYP 3, a 1-byte name, 2 data bytes", K_ANY4, NULL,
     D(0, 0, 0, 3, 1, 'a', 0, 53, 'x', 'y'), 1},
    {"any sender: ATYP 3, a 2-byte name, header alone", K_ANY4, NULL,
     D(0, 0, 0, 3, 2, 'a', 'b', 0, 53), 1},
    {"any sender: ATYP 3, a 0-byte name", K_ANY4, NULL,
     D(0, 0, 0, 3, 0, 0, 53, PL), 0},
    {"any sender: ATYP 3, length 10, 5 bytes follow", K_ANY4, NULL,
     D(0, 0, 0, 3, 10, 'a', 'b', 'c', 'd', 'e'), 0},
    {"any sender: ATYP 3, one port byte missing", K_ANY4, NULL,
     D(0, 0, 0, 3, NAME11, 0), 0},
    {"any sender: ATYP 3 cut after its length", K_ANY4, NULL, D(0, 0, 0, 3, 5),
     0},
    {"any sender: ATYP 5", K_ANY4, NULL, D(0, 0, 0, 5, 192, 0, 2, 1, 0, 53, PL),
     0},
    {"any sender: FRAG 1", K_ANY4, NULL, D(0, 0, 1, 3, NAME11, 0, 53, PL), 0},
    {"any sender: RSV 0x0100", K_ANY4, NULL, D(1, 0, 0, 3, NAME11, 0, 53, PL),
     0},
    {"any sender: ATYP 4, 21 bytes", K_ANY4, NULL, D(0, 0, 0, 4, V6_DOC, 0), 0},
    {"any sender: from 127.0.0.2", K_ANY4, "127.0.0.2", D(HD, PL), 0},
    /* IPv6 socket, relay ::1 */
    {"v6 socket: ATYP 1", K_RELAY6, NULL, D(H4, PL), 1},
    {"v6 socket: ATYP 4", K_RELAY6, NULL, D(H6, PL), 1},
    {"v6 socket: ATYP 4 header alone", K_RELAY6, NULL, D(H6), 1},
    {"v6 socket: ATYP 4, 21 bytes", K_RELAY6, NULL, D(0, 0, 0, 4, V6_DOC, 0),
     0},
    {"v6 socket: ATYP 3", K_RELAY6, NULL, D(HD, PL), 0},
    {"v6 socket: FRAG 1", K_RELAY6, NULL, D(0, 0, 1, 4, V6_DOC, 0, 53, PL), 0},
    {"v6 socket: RSV 0x0001", K_RELAY6, NULL, D(0, 1, 0, 4, V6_DOC, 0, 53, PL),
     0},
    {"v6 socket: from ::1, another port", K_RELAY6, "::1", D(H6, PL), 0},
    {"v6 socket: from 127.0.0.1 (IPv4)", K_RELAY6, "127.0.0.1", D(H4, PL), 0},
    {"v6 socket: empty datagram from the relay", K_RELAY6, NULL, D_EMPTY, 0},
    /* IPv6 socket, relay 127.0.0.1 */
    {"v6 socket, v4 relay: ATYP 1", K_RELAY6_V4, NULL, D(H4, PL), 1},
    {"v6 socket, v4 relay: ATYP 4", K_RELAY6_V4, NULL, D(H6, PL), 1},
    {"v6 socket, v4 relay: FRAG 1", K_RELAY6_V4, NULL,
     D(0, 0, 1, 1, 192, 0, 2, 1, 0, 53, PL), 0},
    {"v6 socket, v4 relay: from 127.0.0.1, another port", K_RELAY6_V4,
     "127.0.0.1", D(H4, PL), 0},
    {"v6 socket, v4 relay: from ::1", K_RELAY6_V4, "::1", D(H4, PL), 0},
    /* IPv6 socket connected to [2001:db8::7]:7777 */
    {"v6 peer", K_PEER6, NULL,
     D(0, 0, 0, 4, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7,
       0x1e, 0x61, PL),
     1},
    {"v6 peer: another last byte", K_PEER6, NULL,
     D(0, 0, 0, 4, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 8,
       0x1e, 0x61, PL),
     0},
    {"v6 peer: another first byte", K_PEER6, NULL,
     D(0, 0, 0, 4, 0x21, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7,
       0x1e, 0x61, PL),
     0},
    {"v6 peer: another middle byte", K_PEER6, NULL,
     D(0, 0, 0, 4, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 7,
       0x1e, 0x61, PL),
     0},
    {"v6 peer: another port", K_PEER6, NULL,
     D(0, 0, 0, 4, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7,
       0x1e, 0x62, PL),
     0},
    {"v6 peer: ATYP 1", K_PEER6, NULL, D(H4, PL), 0},
    {"v6 peer: ATYP 3", K_PEER6, NULL, D(HD, PL), 0},
    /* IPv6 socket connected to a name */
    {"v6 any sender: ATYP 1", K_ANY6, NULL, D(H4, PL), 1},
    {"v6 any sender: ATYP 4", K_ANY6, NULL, D(H6, PL), 1},
    {"v6 any sender: ATYP 3", K_ANY6, NULL, D(HD, PL), 1},
    {"v6 any sender: ATYP 3, a 0-byte name", K_ANY6, NULL,
     D(0, 0, 0, 3, 0, 0, 53, PL), 0},
    {"v6 any sender: from ::1, another port", K_ANY6, "::1", D(HD, PL), 0},
};

START_TEST(test_relay_datagram)
{
	const struct relay_case *c = &relay_cases[_i];
	struct rig r;
	int got;

	if (!rig_kind(&r, c->kind))
		return;
	if (c->from)
		got = delivered_from(&r, c->from, c->bytes, c->len);
	else
		got = delivered(&r, r.relay, c->bytes, c->len);
	ck_assert_msg(got == c->want, "%s: %s, expected %s", c->what,
		      got ? "received" : "dropped",
		      c->want ? "received" : "dropped");
	rig_close(&r);
}
END_TEST

/* A name of each length from the relay to a socket connected to a name:
 * the whole header received, one byte short dropped. */
static const unsigned int name_lengths[] = {1, 2, 63, 64, 127, 128, 254, 255};

static size_t domain_header(uint8_t *b, unsigned int len)
{
	size_t n = 0;

	b[n++] = 0;
	b[n++] = 0;
	b[n++] = 0;
	b[n++] = S5_ATYP_DOMAIN;
	b[n++] = (uint8_t)len;
	memset(b + n, 'a', len);
	n += len;
	b[n++] = 0x01;
	b[n++] = 0xbb;
	return n;
}

START_TEST(test_any_sender_name_length)
{
	uint8_t b[300];
	size_t n = domain_header(b, name_lengths[_i]);
	struct rig r;

	rig_kind(&r, K_ANY4);
	ck_assert_msg(delivered(&r, r.relay, b, n) == 1,
		      "a %u-byte name with its port: dropped",
		      name_lengths[_i]);
	rig_close(&r);
}
END_TEST

START_TEST(test_any_sender_name_short)
{
	uint8_t b[300];
	size_t n = domain_header(b, name_lengths[_i]);
	struct rig r;

	rig_kind(&r, K_ANY4);
	ck_assert_msg(delivered(&r, r.relay, b, n - 1) == 0,
		      "a %u-byte name, a byte short: received",
		      name_lengths[_i]);
	rig_close(&r);
}
END_TEST

/* Every truncation of the header from the relay is dropped. */
static const enum kind cut_kinds[] = {K_RELAY4, K_NAMES4, K_ANY4, K_RELAY6};

START_TEST(test_every_truncation)
{
	static const uint8_t hdr4[] = {H4},
			     hdr6[] = {0, 0, 0, 4, V6_DOC, 0x11, 0x01},
			     hdrd[] = {HD};
	enum kind k = cut_kinds[_i];
	const uint8_t *h = k == K_ANY4 ? hdrd : k == K_RELAY4 ? hdr4 : hdr6;
	size_t hlen = k == K_ANY4     ? sizeof(hdrd)
		      : k == K_RELAY4 ? sizeof(hdr4)
				      : sizeof(hdr6);
	size_t len;
	struct rig r;

	if (!rig_kind(&r, k))
		return;
	for (len = 0; len < hlen; len++)
		ck_assert_msg(delivered(&r, r.relay, h, len) == 0,
			      "kind %d: a %zu-byte cut of a %zu-byte header "
			      "received",
			      (int)k, len, hlen);
	ck_assert_msg(delivered(&r, r.relay, h, hlen) == 1,
		      "kind %d: the whole header dropped", (int)k);
	rig_close(&r);
}
END_TEST

/* ---- mixed mode: the rules decide datagrams from elsewhere ---- */

struct mixed_case {
	const char *what;
	int fam;	   /* the program's socket */
	const char *relay; /* its address */
	const char *rules; /* config lines after the proxy line */
	const char *from;  /* NULL: the relay; else an address, any port */
	const uint8_t *bytes;
	size_t len;
	int want;
};

static const struct mixed_case mixed_cases[] = {
    /* IPv4 socket, relay 127.0.0.1 */
    {"no rules: 127.0.0.2 (loopback)", AF_INET, "127.0.0.1", "", "127.0.0.2",
     D(PL), 1},
    {"no rules: the relay's address, another port", AF_INET, "127.0.0.1", "",
     "127.0.0.1", D(PL), 1},
    {"no rules: an empty datagram from 127.0.0.2", AF_INET, "127.0.0.1", "",
     "127.0.0.2", D_EMPTY, 1},
    {"no rules: the relay, a good header", AF_INET, "127.0.0.1", "", NULL,
     D(H4, PL), 1},
    {"no rules: the relay, FRAG 1", AF_INET, "127.0.0.1", "", NULL,
     D(0, 0, 1, 1, 192, 0, 2, 1, 0, 53, PL), 0},
    {"no rules: the relay, RSV 0x0100", AF_INET, "127.0.0.1", "", NULL,
     D(1, 0, 0, 1, 192, 0, 2, 1, 0, 53, PL), 0},
    {"no rules: the relay, ATYP 4", AF_INET, "127.0.0.1", "", NULL, D(H6, PL),
     0},
    {"no rules: the relay, no header", AF_INET, "127.0.0.1", "", NULL, D(PL),
     0},
    {"proxy 127.0.0.2/32: from .2", AF_INET, "127.0.0.1",
     "route proxy 127.0.0.2/32", "127.0.0.2", D(PL), 0},
    {"proxy 127.0.0.2/32: from .3", AF_INET, "127.0.0.1",
     "route proxy 127.0.0.2/32", "127.0.0.3", D(PL), 1},
    {"proxy 127.0.0.2 (no prefix): from .2", AF_INET, "127.0.0.1",
     "route proxy 127.0.0.2", "127.0.0.2", D(PL), 0},
    {"proxy 127.0.0.2/31: from .3", AF_INET, "127.0.0.1",
     "route proxy 127.0.0.2/31", "127.0.0.3", D(PL), 0},
    {"proxy 127.0.0.2/31: from .4", AF_INET, "127.0.0.1",
     "route proxy 127.0.0.2/31", "127.0.0.4", D(PL), 1},
    {"proxy 127.0.0.0/30: from .3", AF_INET, "127.0.0.1",
     "route proxy 127.0.0.0/30", "127.0.0.3", D(PL), 0},
    {"proxy 127.0.0.0/30: from .4", AF_INET, "127.0.0.1",
     "route proxy 127.0.0.0/30", "127.0.0.4", D(PL), 1},
    {"proxy 127.0.0.0/8: from 127.1.2.3", AF_INET, "127.0.0.1",
     "route proxy 127.0.0.0/8", "127.1.2.3", D(PL), 0},
    {"proxy 127.0.0.0/8: the relay, a good header", AF_INET, "127.0.0.1",
     "route proxy 127.0.0.0/8", NULL, D(H4, PL), 1},
    {"proxy 127.0.0.0/8: the relay's address, another port", AF_INET,
     "127.0.0.1", "route proxy 127.0.0.0/8", "127.0.0.1", D(PL), 0},
    {"proxy 10.0.0.0/8: from .2", AF_INET, "127.0.0.1",
     "route proxy 10.0.0.0/8", "127.0.0.2", D(PL), 1},
    {"proxy all: from .2", AF_INET, "127.0.0.1", "route proxy all", "127.0.0.2",
     D(PL), 0},
    {"proxy all: the relay, a good header", AF_INET, "127.0.0.1",
     "route proxy all", NULL, D(H4, PL), 1},
    {"refuse 127.0.0.2: from .2", AF_INET, "127.0.0.1",
     "route refuse 127.0.0.2", "127.0.0.2", D(PL), 0},
    {"proxy 127.0.0.2 1-65535: from .2", AF_INET, "127.0.0.1",
     "route proxy 127.0.0.2 1-65535", "127.0.0.2", D(PL), 0},
    {"direct .2 before proxy /8: from .2", AF_INET, "127.0.0.1",
     "route direct 127.0.0.2\nroute proxy 127.0.0.0/8", "127.0.0.2", D(PL), 1},
    {"direct .2 before proxy /8: from .3", AF_INET, "127.0.0.1",
     "route direct 127.0.0.2\nroute proxy 127.0.0.0/8", "127.0.0.3", D(PL), 0},
    {"proxy /8 before direct .2: from .2", AF_INET, "127.0.0.1",
     "route proxy 127.0.0.0/8\nroute direct 127.0.0.2", "127.0.0.2", D(PL), 0},
    {"direct all before proxy .2: from .2", AF_INET, "127.0.0.1",
     "route direct all\nroute proxy 127.0.0.2", "127.0.0.2", D(PL), 1},
    {"host rules only: from .2", AF_INET, "127.0.0.1",
     "route proxy example.com\nroute proxy .lan\nroute proxy *.corp.example",
     "127.0.0.2", D(PL), 1},
    {"v4 socket, proxy ::ffff:127.0.0.2/128: from .2", AF_INET, "127.0.0.1",
     "route proxy ::ffff:127.0.0.2/128", "127.0.0.2", D(PL), 1},
    {"v4 socket, proxy ::/0: from .2", AF_INET, "127.0.0.1", "route proxy ::/0",
     "127.0.0.2", D(PL), 1},
    /* IPv6 socket, relay ::1 */
    {"v6, no rules: ::1, another port", AF_INET6, "::1", "", "::1", D(PL), 1},
    {"v6, no rules: 127.0.0.2", AF_INET6, "::1", "", "127.0.0.2", D(PL), 1},
    {"v6, no rules: the relay, ATYP 4", AF_INET6, "::1", "", NULL, D(H6, PL),
     1},
    {"v6, no rules: the relay, FRAG 1", AF_INET6, "::1", "", NULL,
     D(0, 0, 1, 4, V6_DOC, 0, 53, PL), 0},
    {"v6, no rules: the relay, ATYP 3", AF_INET6, "::1", "", NULL, D(HD, PL),
     0},
    {"v6, proxy ::1/128: ::1, another port", AF_INET6, "::1",
     "route proxy ::1/128", "::1", D(PL), 0},
    {"v6, proxy ::1/128: 127.0.0.2", AF_INET6, "::1", "route proxy ::1/128",
     "127.0.0.2", D(PL), 1},
    {"v6, proxy ::1/128: the relay, ATYP 4", AF_INET6, "::1",
     "route proxy ::1/128", NULL, D(H6, PL), 1},
    {"v6, proxy ::/0: ::1", AF_INET6, "::1", "route proxy ::/0", "::1", D(PL),
     0},
    {"v6, proxy ::/0: 127.0.0.2", AF_INET6, "::1", "route proxy ::/0",
     "127.0.0.2", D(PL), 0},
    {"v6, proxy 127.0.0.2/32: 127.0.0.2", AF_INET6, "::1",
     "route proxy 127.0.0.2/32", "127.0.0.2", D(PL), 0},
    {"v6, proxy 127.0.0.2/32: 127.0.0.3", AF_INET6, "::1",
     "route proxy 127.0.0.2/32", "127.0.0.3", D(PL), 1},
    {"v6, proxy 127.0.0.0/8: ::1", AF_INET6, "::1", "route proxy 127.0.0.0/8",
     "::1", D(PL), 1},
    {"v6, proxy ::ffff:127.0.0.2/128: 127.0.0.2", AF_INET6, "::1",
     "route proxy ::ffff:127.0.0.2/128", "127.0.0.2", D(PL), 0},
    {"v6, proxy ::ffff:127.0.0.2/128: 127.0.0.3", AF_INET6, "::1",
     "route proxy ::ffff:127.0.0.2/128", "127.0.0.3", D(PL), 1},
    {"v6, proxy ::ffff:127.0.0.2/128: ::1", AF_INET6, "::1",
     "route proxy ::ffff:127.0.0.2/128", "::1", D(PL), 1},
    {"v6, proxy ::ffff:127.0.0.2/127: 127.0.0.3", AF_INET6, "::1",
     "route proxy ::ffff:127.0.0.2/127", "127.0.0.3", D(PL), 0},
    {"v6, proxy ::ffff:127.0.0.2/127: 127.0.0.4", AF_INET6, "::1",
     "route proxy ::ffff:127.0.0.2/127", "127.0.0.4", D(PL), 1},
    {"v6, proxy ::ffff:127.0.0.0/104: 127.1.2.3", AF_INET6, "::1",
     "route proxy ::ffff:127.0.0.0/104", "127.1.2.3", D(PL), 0},
    {"v6, proxy ::ffff:0.0.0.0/96: 127.0.0.3", AF_INET6, "::1",
     "route proxy ::ffff:0.0.0.0/96", "127.0.0.3", D(PL), 0},
    {"v6, proxy ::ffff:0.0.0.0/96: ::1", AF_INET6, "::1",
     "route proxy ::ffff:0.0.0.0/96", "::1", D(PL), 1},
    {"v6, proxy ::/80: 127.0.0.2", AF_INET6, "::1", "route proxy ::/80",
     "127.0.0.2", D(PL), 0},
    {"v6, proxy ::/96 (not mapped): 127.0.0.2", AF_INET6, "::1",
     "route proxy ::/96", "127.0.0.2", D(PL), 1},
    {"v6, proxy 64:ff9b::/96: 127.0.0.2", AF_INET6, "::1",
     "route proxy 64:ff9b::/96", "127.0.0.2", D(PL), 1},
    {"v6, proxy ::7f00:2/128 (compatible): 127.0.0.2", AF_INET6, "::1",
     "route proxy ::7f00:2/128", "127.0.0.2", D(PL), 1},
    {"v6, direct mapped .2 before proxy /8: 127.0.0.2", AF_INET6, "::1",
     "route direct ::ffff:127.0.0.2\nroute proxy 127.0.0.0/8", "127.0.0.2",
     D(PL), 1},
    {"v6, direct mapped .2 before proxy /8: 127.0.0.3", AF_INET6, "::1",
     "route direct ::ffff:127.0.0.2\nroute proxy 127.0.0.0/8", "127.0.0.3",
     D(PL), 0},
    {"v6, proxy all: ::1", AF_INET6, "::1", "route proxy all", "::1", D(PL), 0},
    /* IPv6 socket, relay 127.0.0.1 */
    {"v6, v4 relay, no rules: the relay, ATYP 1", AF_INET6, "127.0.0.1", "",
     NULL, D(H4, PL), 1},
    {"v6, v4 relay, no rules: the relay, FRAG 1", AF_INET6, "127.0.0.1", "",
     NULL, D(0, 0, 1, 1, 192, 0, 2, 1, 0, 53, PL), 0},
    {"v6, v4 relay, no rules: 127.0.0.1, another port", AF_INET6, "127.0.0.1",
     "", "127.0.0.1", D(PL), 1},
    {"v6, v4 relay, no rules: ::1", AF_INET6, "127.0.0.1", "", "::1", D(PL), 1},
    {"v6, v4 relay, proxy 127.0.0.1: 127.0.0.1, another port", AF_INET6,
     "127.0.0.1", "route proxy 127.0.0.1", "127.0.0.1", D(PL), 0},
    {"v6, v4 relay, proxy ::ffff:127.0.0.1/128: the relay", AF_INET6,
     "127.0.0.1", "route proxy ::ffff:127.0.0.1/128", NULL, D(H4, PL), 1},
};

START_TEST(test_mixed)
{
	const struct mixed_case *m = &mixed_cases[_i];
	struct cfg c;
	struct rig r;
	int got;

	if (m->fam == AF_INET6 && !ipv6_ok())
		return;
	parse_rules(&c, m->rules);
	rig_open(&r, m->fam, m->relay);
	r.spec.direct = &c;
	rig_attach(&r);
	if (m->from)
		got = delivered_from(&r, m->from, m->bytes, m->len);
	else
		got = delivered(&r, r.relay, m->bytes, m->len);
	ck_assert_msg(got == m->want, "%s: %s, expected %s", m->what,
		      got ? "received" : "dropped",
		      m->want ? "received" : "dropped");
	rig_close(&r);
	cfg_free(&c);
}
END_TEST

/* The source of a datagram from ip:port as a socket of family fam shows
 * it: v4-mapped on an IPv6 socket. */
static socklen_t seen_as(struct sockaddr_storage *ss, int fam, const char *ip,
			 uint16_t port)
{
	char mapped[64];

	if (fam == AF_INET6 && strchr(ip, ':') == NULL) {
		snprintf(mapped, sizeof(mapped), "::ffff:%s", ip);
		ip = mapped;
	}
	return mkaddr(ss, ip, port);
}

/* The table agrees with cfg_match, which udpfilter.h promises to follow. */
START_TEST(test_mixed_table_is_cfg_match)
{
	const struct mixed_case *m = &mixed_cases[_i];
	struct sockaddr_storage ss;
	socklen_t len;
	struct cfg c;

	if (!m->from)
		return; /* from the relay: the rules do not apply */
	parse_rules(&c, m->rules);
	len = seen_as(&ss, m->fam, m->from, 40000);
	ck_assert_msg((cfg_match(&c, (struct sockaddr *)&ss, len) ==
		       CFG_DIRECT) == m->want,
		      "%s: cfg_match disagrees with the table", m->what);
	cfg_free(&c);
}
END_TEST

/* route direct ADDR B-(B+1), route proxy the rest: the ports B-1, B, B+1
 * and B+2 of ADDR (_i 0..3), IPv4 on an IPv4 socket, then ::1 on an IPv6
 * socket (_i 4..7). */
START_TEST(test_mixed_port_range)
{
	int v6 = _i >= 4, off = _i % 4, fds[4], got, i;
	const char *ip = v6 ? "::1" : "127.0.0.2";
	char rules[256];
	uint16_t b;
	struct cfg c;
	struct rig r;
	const uint8_t data[] = {PL};

	if (v6 && !ipv6_ok())
		return;
	b = (uint16_t)(bind_run(ip, fds, 4) + 1);
	snprintf(rules, sizeof(rules), "route direct %s %u-%u\nroute proxy %s",
		 ip, b, b + 1, v6 ? "::1/128" : "127.0.0.0/8");
	parse_rules(&c, rules);
	rig_open(&r, v6 ? AF_INET6 : AF_INET, v6 ? "::1" : "127.0.0.1");
	r.spec.direct = &c;
	rig_attach(&r);
	got = delivered(&r, fds[off], data, sizeof(data));
	ck_assert_msg(got == (off == 1 || off == 2),
		      "%s port %u with rules \"%s\": %s", ip, b - 1 + off,
		      rules, got ? "received" : "dropped");
	for (i = 0; i < 4; i++)
		close(fds[i]);
	rig_close(&r);
	cfg_free(&c);
}
END_TEST

/* ---- mixed mode against cfg_match, random rules ---- */

static uint32_t prng;

static uint32_t rnd(void)
{
	/* xorshift32 */
	prng ^= prng << 13;
	prng ^= prng >> 17;
	prng ^= prng << 5;
	return prng;
}

static const char *const rnd_senders[] = {
    "127.0.0.1", "127.0.0.2",	    "127.0.0.2", "127.0.0.3",
    "127.1.2.3", "127.255.255.254", "::1",	 "::1",
};
static const char *const rnd_bases4[] = {
    "127.0.0.1",       "127.0.0.2", "127.0.0.3", "127.1.2.3",
    "127.255.255.254", "10.1.2.3",  "0.0.0.0",	 "128.0.0.0",
};
static const char *const rnd_bases6[] = {
    "::1",
    "::ffff:127.0.0.2",
    "::ffff:127.0.0.3",
    "::ffff:127.1.2.3",
    "::",
    "64:ff9b::7f00:2",
    "2001:db8::1",
    "::7f00:2",
    "::ffff:0:7f00:2",
};
static const unsigned int rnd_prefixes6[] = {0,	 1,   64,  79,	80,  95,  96,
					     97, 104, 111, 120, 126, 127, 128};

/* Clears the bits of addr (nbytes) beyond prefix. */
static void mask(uint8_t *addr, unsigned int nbytes, unsigned int prefix)
{
	unsigned int i;

	for (i = 0; i < nbytes; i++) {
		if (prefix >= 8 * (i + 1))
			continue;
		if (prefix <= 8 * i)
			addr[i] = 0;
		else
			addr[i] &= (uint8_t)(0xff << (8 - (prefix - 8 * i)));
	}
}

static void rnd_rule(struct cfg_rule *r, const uint16_t *ports)
{
	unsigned int kind = rnd() % 10;

	memset(r, 0, sizeof(*r));
	r->action = (enum cfg_action)(rnd() % 3);
	r->port_lo = 0;
	r->port_hi = 65535;
	if (rnd() % 2) {
		uint16_t p = ports[rnd() % ARRAY_SIZE(rnd_senders)];

		switch (rnd() % 4) {
		case 0: /* exactly p */
			r->port_lo = r->port_hi = p;
			break;
		case 1: /* p at the bottom */
			r->port_lo = p;
			r->port_hi = (uint16_t)(p + rnd() % 3);
			break;
		case 2: /* p at the top */
			r->port_lo = (uint16_t)(p - rnd() % 3);
			r->port_hi = p;
			break;
		default: /* just above or below p */
			r->port_lo = r->port_hi =
			    (uint16_t)(rnd() % 2 ? p + 1 : p - 1);
			break;
		}
	}
	if (kind < 5) {
		r->family = AF_INET;
		ck_assert_int_eq(
		    inet_pton(AF_INET,
			      rnd_bases4[rnd() % ARRAY_SIZE(rnd_bases4)],
			      r->addr),
		    1);
		r->prefix = (uint8_t)(rnd() % 33);
		mask(r->addr, 4, r->prefix);
	} else if (kind < 8) {
		r->family = AF_INET6;
		ck_assert_int_eq(
		    inet_pton(AF_INET6,
			      rnd_bases6[rnd() % ARRAY_SIZE(rnd_bases6)],
			      r->addr),
		    1);
		r->prefix =
		    (uint8_t)(rnd() % 2
				  ? rnd_prefixes6[rnd() %
						  ARRAY_SIZE(rnd_prefixes6)]
				  : rnd() % 129);
		mask(r->addr, 16, r->prefix);
	} else if (kind == 8) {
		r->family = AF_UNSPEC;
	} else {
		r->family = AF_UNSPEC;
		r->host_kind = CFG_HOST_EXACT;
		strcpy(r->host, "example.com");
	}
}

/* The rules as text, for a failure message. */
static void rules_text(const struct cfg *c, char *out, size_t cap)
{
	static const char *const act[] = {"proxy", "direct", "refuse"};
	size_t i, n = 0;

	out[0] = '\0';
	for (i = 0; i < c->nrules && n < cap; i++) {
		const struct cfg_rule *r = &c->rules[i];
		char a[INET6_ADDRSTRLEN] = "all";

		if (r->host_kind != CFG_HOST_NONE)
			snprintf(a, sizeof(a), "%.40s", r->host);
		else if (r->family != AF_UNSPEC)
			inet_ntop(r->family, r->addr, a, sizeof(a));
		n += (size_t)snprintf(out + n, cap - n,
				      "route %s %s/%u %u-%u; ", act[r->action],
				      a, r->prefix, r->port_lo, r->port_hi);
	}
}

/* _i: the seed; even: an IPv4 socket, odd: an IPv6 one (relay ::1 or
 * 127.0.0.1 by turns).  For 32 random rule sets, every sender gets what
 * cfg_match says of it. */
START_TEST(test_mixed_random_vs_cfg_match)
{
	int fam = _i % 2 ? AF_INET6 : AF_INET, fds[ARRAY_SIZE(rnd_senders)];
	uint16_t ports[ARRAY_SIZE(rnd_senders)];
	const uint8_t data[] = {PL};
	char text[4096];
	unsigned int round, i, j, nrules;
	struct rig r;

	if (fam == AF_INET6 && !ipv6_ok())
		return;
	prng = 0x9e3779b9u ^ (uint32_t)_i * 2654435761u;
	for (i = 0; i < ARRAY_SIZE(rnd_senders); i++) {
		fds[i] = -1;
		ports[i] = 40000; /* not sent from, but rules may name it */
		if (fam == AF_INET && strchr(rnd_senders[i], ':'))
			continue;
		fds[i] = udp_at(rnd_senders[i]);
		ports[i] = port_of(fds[i]);
	}
	rig_open(&r, fam, fam == AF_INET || _i % 4 == 1 ? "127.0.0.1" : "::1");
	for (round = 0; round < 32; round++) {
		struct cfg c;
		struct cfg_rule rule;

		cfg_init(&c);
		nrules = rnd() % 7;
		for (j = 0; j < nrules; j++) {
			rnd_rule(&rule, ports);
			ck_assert_int_eq(cfg_add_rule(&c, &rule), 0);
		}
		r.spec.direct = &c;
		rig_attach(&r);
		for (i = 0; i < ARRAY_SIZE(rnd_senders); i++) {
			struct sockaddr_storage ss;
			socklen_t len;
			int want, got;

			if (fds[i] < 0)
				continue;
			len = seen_as(&ss, fam, rnd_senders[i], ports[i]);
			want = cfg_match(&c, (struct sockaddr *)&ss, len) ==
			       CFG_DIRECT;
			got = delivered(&r, fds[i], data, sizeof(data));
			if (got != want)
				rules_text(&c, text, sizeof(text));
			ck_assert_msg(got == want,
				      "%s socket, from %s port %u: %s, "
				      "cfg_match says %s; rules: %s",
				      fam == AF_INET ? "IPv4" : "IPv6",
				      rnd_senders[i], ports[i],
				      got ? "received" : "dropped",
				      want ? "direct" : "not direct", text);
		}
		cfg_free(&c);
	}
	for (i = 0; i < ARRAY_SIZE(rnd_senders); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	rig_close(&r);
}
END_TEST

/* ---- uf_build's own errors and limits ---- */

static void plain_spec(struct uf_spec *s, int sock_family, int relay_family)
{
	static const uint8_t loop6[16] = {[15] = 1};
	static const uint8_t loop4[4] = {127, 0, 0, 1};

	memset(s, 0, sizeof(*s));
	s->sock_family = sock_family;
	s->relay_family = relay_family;
	memcpy(s->relay_addr, relay_family == AF_INET6 ? loop6 : loop4,
	       relay_family == AF_INET6 ? 16 : 4);
	s->relay_port = 1080;
}

START_TEST(test_enospc_cap_5)
{
	struct sock_filter out[5];
	struct uf_spec s;

	plain_spec(&s, AF_INET, AF_INET);
	ck_assert_int_eq(uf_build(out, ARRAY_SIZE(out), &s), -ENOSPC);
}
END_TEST

START_TEST(test_enospc_cap_0)
{
	struct sock_filter out[1];
	struct uf_spec s;

	plain_spec(&s, AF_INET6, AF_INET6);
	ck_assert_int_eq(uf_build(out, 0, &s), -ENOSPC);
}
END_TEST

/* One instruction short of what it needs: -ENOSPC, and nothing written
 * past the capacity; exactly what it needs: the same program. */
static struct sock_filter full[UF_MAX_INSNS + 8], part[UF_MAX_INSNS + 8];

static int exact_spec_n(struct uf_spec *s, struct cfg *c)
{
	int n;

	parse_rules(c, "route direct 10.0.0.0/8 53\nroute proxy ::1");
	plain_spec(s, AF_INET6, AF_INET);
	s->direct = c;
	s->any_sender = 1;
	n = uf_build(full, UF_MAX_INSNS, s);
	ck_assert_int_gt(n, 0);
	return n;
}

START_TEST(test_enospc_one_short)
{
	struct uf_spec s;
	struct cfg c;
	int n = exact_spec_n(&s, &c);

	memset(part, 0xA5, sizeof(part));
	ck_assert_int_eq(uf_build(part, (size_t)n - 1, &s), -ENOSPC);
	cfg_free(&c);
}
END_TEST

START_TEST(test_enospc_writes_within_cap)
{
	static struct sock_filter canary[8];
	struct uf_spec s;
	struct cfg c;
	int n = exact_spec_n(&s, &c);

	memset(part, 0xA5, sizeof(part));
	memset(canary, 0xA5, sizeof(canary));
	uf_build(part, (size_t)n - 1, &s);
	ck_assert_mem_eq(&part[n - 1], canary, sizeof(canary));
	cfg_free(&c);
}
END_TEST

START_TEST(test_exact_cap)
{
	struct uf_spec s;
	struct cfg c;
	int n = exact_spec_n(&s, &c);

	ck_assert_int_eq(uf_build(part, (size_t)n, &s), n);
	ck_assert_mem_eq(part, full, (size_t)n * sizeof(full[0]));
	cfg_free(&c);
}
END_TEST

static const int bad_families[][2] = {
    {AF_INET, AF_INET6},  {AF_UNIX, AF_INET},  {AF_INET, AF_UNSPEC},
    {AF_UNSPEC, AF_INET}, {AF_INET6, AF_UNIX},
};

START_TEST(test_einval_families)
{
	static struct sock_filter out[UF_MAX_INSNS];
	struct uf_spec s;

	plain_spec(&s, bad_families[_i][0], bad_families[_i][1]);
	ck_assert_int_eq(uf_build(out, ARRAY_SIZE(out), &s), -EINVAL);
}
END_TEST

/* 200 address rules fit, the kernel takes them, and the 200th (past
 * every far jump) still decides. */
enum filler {
	FILL_V4,     /* route proxy 10.X.Y.0/24 1000-2000 */
	FILL_V6,     /* route proxy 2001:db8::X:Y/128 1000-2000 */
	FILL_MAPPED, /* route direct ::ffff:10.X.Y.0/120 */
};

struct many_case {
	int fam;
	enum filler fill; /* the 199 rules before the last */
	const char *last; /* the 200th rule */
	const char *hit;  /* dropped by it */
	const char *miss; /* received */
};

static const struct many_case many_cases[] = {
    {AF_INET, FILL_V4, "route proxy 127.0.0.2/32", "127.0.0.2", "127.0.0.3"},
    {AF_INET6, FILL_V6, "route proxy ::1/128", "::1", "127.0.0.3"},
    {AF_INET6, FILL_V4, "route proxy ::ffff:127.0.0.2/128", "127.0.0.2",
     "127.0.0.3"},
    {AF_INET6, FILL_MAPPED, "route proxy 127.0.0.2", "127.0.0.2", "127.0.0.3"},
};

/* n - 1 filler rules, then last; malloc'd. */
static char *many_rules(enum filler fill, const char *last, unsigned int n)
{
	size_t cap = (size_t)n * 64 + 64, len = 0;
	char *text = malloc(cap);
	unsigned int i, x, y;

	ck_assert_ptr_nonnull(text);
	for (i = 0; i + 1 < n; i++) {
		x = i / 256;
		y = i % 256;
		if (fill == FILL_V4)
			len += (size_t)snprintf(
			    text + len, cap - len,
			    "route proxy 10.%u.%u.0/24 1000-2000\n", x, y);
		else if (fill == FILL_V6)
			len += (size_t)snprintf(
			    text + len, cap - len,
			    "route proxy 2001:db8::%x:%x/128 1000-2000\n", x,
			    y);
		else
			len += (size_t)snprintf(
			    text + len, cap - len,
			    "route direct ::ffff:10.%u.%u.0/120\n", x, y);
	}
	snprintf(text + len, cap - len, "%s", last);
	return text;
}

START_TEST(test_200_rules)
{
	const struct many_case *m = &many_cases[_i];
	const uint8_t data[] = {PL};
	struct cfg c;
	struct rig r;
	char *text;

	if (m->fam == AF_INET6 && !ipv6_ok())
		return;
	text = many_rules(m->fill, m->last, 200);
	parse_rules(&c, text);
	ck_assert_uint_eq(c.nrules, 200);
	rig_open(&r, m->fam, "127.0.0.1");
	r.spec.direct = &c;
	rig_attach(&r); /* n in 1..UF_MAX_INSNS, and the kernel takes it */
	ck_assert_msg(delivered_from(&r, m->hit, data, sizeof(data)) == 0,
		      "from %s, its 200th rule %s: received", m->hit, m->last);
	ck_assert_msg(delivered_from(&r, m->miss, data, sizeof(data)) == 1,
		      "from %s: dropped", m->miss);
	free(text);
	rig_close(&r);
	cfg_free(&c);
}
END_TEST

/* Far too many rules: -ENOSPC (instructions, then labels), no overrun. */
static const unsigned int too_many[] = {1000, 2100, 5000};

START_TEST(test_too_many_rules)
{
	static struct sock_filter out[UF_MAX_INSNS];
	char *text = many_rules(FILL_V4, "route proxy 127.0.0.2", too_many[_i]);
	struct uf_spec s;
	struct cfg c;

	parse_rules(&c, text);
	plain_spec(&s, AF_INET, AF_INET);
	s.direct = &c;
	ck_assert_int_eq(uf_build(out, ARRAY_SIZE(out), &s), -ENOSPC);
	free(text);
	cfg_free(&c);
}
END_TEST

/* The first and last rules can be anything: a filter with a rule of each
 * sort is taken by the kernel on both socket families. */
START_TEST(test_kernel_takes_every_rule_sort)
{
	struct cfg c;
	struct rig r;

	if (_i == 1 && !ipv6_ok())
		return;
	parse_rules(&c, "route direct all 53\n"
			"route proxy example.com\n"
			"route refuse 0.0.0.0/0 25\n"
			"route direct 10.0.0.0/8\n"
			"route proxy 10.1.0.0/16 1-1023\n"
			"route direct fd00::/8 443\n"
			"route proxy ::ffff:10.0.0.0/104\n"
			"route direct ::ffff:0.0.0.0/96 1000-2000\n"
			"route proxy ::/0\n"
			"route direct 2001:db8::/127 65535\n"
			"route proxy all");
	rig_open(&r, _i ? AF_INET6 : AF_INET, "127.0.0.1");
	r.spec.direct = &c;
	r.spec.any_sender = 1;
	memcpy(r.spec.name_ports, name_ports, sizeof(name_ports));
	r.spec.n_name_ports = ARRAY_SIZE(name_ports);
	rig_attach(&r);
	rig_close(&r);
	cfg_free(&c);
}
END_TEST

static Suite *udpfilter_suite(void)
{
	Suite *s = suite_create("udpfilter");
	TCase *tc;

	tc = tcase_create("relay");
	tcase_add_loop_test(tc, test_relay_datagram, 0,
			    ARRAY_SIZE(relay_cases));
	tcase_add_loop_test(tc, test_any_sender_name_length, 0,
			    ARRAY_SIZE(name_lengths));
	tcase_add_loop_test(tc, test_any_sender_name_short, 0,
			    ARRAY_SIZE(name_lengths));
	tcase_add_loop_test(tc, test_every_truncation, 0,
			    ARRAY_SIZE(cut_kinds));
	suite_add_tcase(s, tc);

	tc = tcase_create("mixed");
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, test_mixed, 0, ARRAY_SIZE(mixed_cases));
	tcase_add_loop_test(tc, test_mixed_table_is_cfg_match, 0,
			    ARRAY_SIZE(mixed_cases));
	tcase_add_loop_test(tc, test_mixed_port_range, 0, 8);
	tcase_add_loop_test(tc, test_mixed_random_vs_cfg_match, 0, 16);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_add_test(tc, test_enospc_cap_5);
	tcase_add_test(tc, test_enospc_cap_0);
	tcase_add_test(tc, test_enospc_one_short);
	tcase_add_test(tc, test_enospc_writes_within_cap);
	tcase_add_test(tc, test_exact_cap);
	tcase_add_loop_test(tc, test_einval_families, 0,
			    ARRAY_SIZE(bad_families));
	tcase_add_loop_test(tc, test_200_rules, 0, ARRAY_SIZE(many_cases));
	tcase_add_loop_test(tc, test_too_many_rules, 0, ARRAY_SIZE(too_many));
	tcase_add_loop_test(tc, test_kernel_takes_every_rule_sort, 0, 2);
	suite_add_tcase(s, tc);

	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(udpfilter_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
