/*
 * socks5.h - pure SOCKS5 codec (RFC 1928, RFC 1929).
 *
 * No syscalls, no globals, no logging: bytes in, bytes or a result out.
 * Encoders write into a caller buffer and return the number of bytes
 * written, or -ENOBUFS when the buffer is too small / -EINVAL for bad
 * arguments.  Parsers take (buf, len) and return:
 *     0    a complete message was parsed (outputs filled)
 *    >0    the number of additional bytes needed before the message can be
 *          parsed (a lower bound: call again with more bytes)
 *    <0    -EPROTO: the bytes cannot be a valid message
 */
#ifndef SOCKSIFY_SOCKS5_H
#define SOCKSIFY_SOCKS5_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define S5_VERSION	0x05 /* RFC 1928 section 3 */
#define S5_AUTH_VERSION 0x01 /* RFC 1929 section 2 */

/* RFC 1928 section 3: METHOD values */
#define S5_METHOD_NOAUTH   0x00
#define S5_METHOD_USERPASS 0x02
#define S5_METHOD_NONE	   0xFF

/* RFC 1928 section 4: CMD values */
#define S5_CMD_CONNECT	     0x01
#define S5_CMD_BIND	     0x02
#define S5_CMD_UDP_ASSOCIATE 0x03

/* RFC 1928 section 5: ATYP values */
#define S5_ATYP_IPV4   0x01
#define S5_ATYP_DOMAIN 0x03
#define S5_ATYP_IPV6   0x04

/* RFC 1928 section 6: REP values */
#define S5_REP_SUCCEEDED	0x00
#define S5_REP_GENERAL_FAILURE	0x01
#define S5_REP_NOT_ALLOWED	0x02
#define S5_REP_NET_UNREACHABLE	0x03
#define S5_REP_HOST_UNREACHABLE 0x04
#define S5_REP_CONN_REFUSED	0x05
#define S5_REP_TTL_EXPIRED	0x06
#define S5_REP_CMD_UNSUPPORTED	0x07
#define S5_REP_ATYP_UNSUPPORTED 0x08

/* Largest encodings, for sizing buffers. */
#define S5_MAX_GREETING	  (2 + 255)
#define S5_MAX_USERPASS	  (3 + 255 + 255)
#define S5_MAX_REQUEST	  (4 + 1 + 255 + 2) /* domain ATYP is the longest */
#define S5_MAX_REPLY	  S5_MAX_REQUEST
#define S5_MAX_UDP_HEADER (4 + 1 + 255 + 2)

/* A SOCKS address: ATYP plus address plus port (host byte order). */
struct s5_addr {
	uint8_t atyp; /* S5_ATYP_* */
	uint16_t port;
	union {
		uint8_t v4[4];
		uint8_t v6[16];
		struct {
			uint8_t len;	/* 1..255 */
			char name[256]; /* len bytes, NUL-terminated for
					   convenience */
		} domain;
	} u;
};

/* Method negotiation (RFC 1928 section 3). */
ssize_t s5_encode_greeting(uint8_t *buf, size_t cap, const uint8_t *methods,
			   size_t nmethods);
/* Parses VER METHOD; *method gets METHOD (possibly S5_METHOD_NONE).
 * A VER other than 5 is -EPROTO. */
int s5_parse_method_reply(const uint8_t *buf, size_t len, uint8_t *method);

/* Username/password sub-negotiation (RFC 1929 section 2).  ulen and plen
 * must be 1..255 (-EINVAL otherwise). */
ssize_t s5_encode_userpass(uint8_t *buf, size_t cap, const char *user,
			   size_t ulen, const char *pass, size_t plen);
/* Parses VER STATUS; *status 0 means success.  VER must be 1. */
int s5_parse_userpass_reply(const uint8_t *buf, size_t len, uint8_t *status);

/* Requests (RFC 1928 section 4), cmd is S5_CMD_*. */
ssize_t s5_encode_request(uint8_t *buf, size_t cap, uint8_t cmd,
			  const struct s5_addr *dst);
/* Replies (RFC 1928 section 6), parsed by the reply's own ATYP.  On 0,
 * *rep is REP, *bnd is BND.ADDR/BND.PORT and *consumed is the length of the
 * whole reply (bytes after it belong to the application stream).
 * VER != 5, RSV != 0, an unknown ATYP or a zero-length domain is -EPROTO. */
int s5_parse_reply(const uint8_t *buf, size_t len, uint8_t *rep,
		   struct s5_addr *bnd, size_t *consumed);

/* UDP request header (RFC 1928 section 7): RSV(2) FRAG(1) ATYP DST.ADDR
 * DST.PORT.  Encode writes the header only (the payload goes after it,
 * e.g. in a second iovec). */
ssize_t s5_encode_udp_header(uint8_t *buf, size_t cap, uint8_t frag,
			     const struct s5_addr *dst);
/* Parses the header at the start of a datagram.  Unlike the stream parsers
 * a datagram is complete: a short header is -EPROTO, never ">0".  On 0,
 * *frag, *src and *hdrlen (header length; the payload starts there) are
 * set.  RSV != 0 is -EPROTO. */
int s5_parse_udp_header(const uint8_t *buf, size_t len, uint8_t *frag,
			struct s5_addr *src, size_t *hdrlen);

/* The one table from reply codes to errno (see README "Errors"). */
int s5_reply_errno(uint8_t rep);
/* RFC 1928 text for a reply code ("connection refused", ...). */
const char *s5_reply_str(uint8_t rep);

/* struct sockaddr <-> s5_addr.  v4-mapped IPv6 addresses become ATYP IPv4.
 * Return 0, or -EAFNOSUPPORT / -EINVAL. */
struct sockaddr;
int s5_addr_from_sockaddr(struct s5_addr *out, const struct sockaddr *sa,
			  size_t salen);
/* ATYP domain cannot be converted (-EAFNOSUPPORT).  *salen is in/out. */
int s5_addr_to_sockaddr(const struct s5_addr *a, struct sockaddr *sa,
			size_t *salen);
/* Fills a domain address; name length must be 1..255 (-EINVAL). */
int s5_addr_domain(struct s5_addr *out, const char *name, uint16_t port);

#endif
