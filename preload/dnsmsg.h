/*
 * dnsmsg.h - pure DNS message codec (RFC 1035, AAAA per RFC 3596) for the
 * "tunnel" resolver mode: one A or AAAA question out, its answer back in.
 *
 * No syscalls, no globals except const tables, no logging, no malloc.
 * Messages are bare DNS messages: the 2-byte length prefix DNS over TCP
 * puts in front of each (RFC 1035 section 4.2.2) is the caller's job.
 *
 * Names passed in are dotted text ("www.example.com", a trailing dot is
 * optional).  Bytes are not interpreted: no "\." escapes, no IDNA, and
 * comparison is ASCII case-insensitive (RFC 4343).
 */
#ifndef SOCKSIFY_DNSMSG_H
#define SOCKSIFY_DNSMSG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define DNS_TYPE_A     1  /* RFC 1035 section 3.2.2 */
#define DNS_TYPE_CNAME 5  /* RFC 1035 section 3.2.2 */
#define DNS_TYPE_AAAA  28 /* RFC 3596 section 2.1 */
#define DNS_CLASS_IN   1  /* RFC 1035 section 3.2.4 */
#define DNS_MAX_ADDRS  32
#define DNS_MAX_NAME   255 /* RFC 1035 section 2.3.4, wire form */

/* What a response says about the question's name. */
struct dns_answer {
	/* RCODE of the response (0 NOERROR, 3 NXDOMAIN, ...) */
	uint8_t rcode;
	/* addresses found for the name (after CNAMEs) */
	size_t naddr;
	/* AF_INET or AF_INET6 */
	int family[DNS_MAX_ADDRS];
	/* 4 or 16 bytes used */
	uint8_t addr[DNS_MAX_ADDRS][16];
	/* smallest TTL among the records used */
	uint32_t ttl;
	/* the final name after CNAMEs, dotted, no trailing dot */
	char canon[DNS_MAX_NAME + 1];
};

/*
 * Writes a standard query (OPCODE 0, RD=1, no EDNS) with ID @id and one
 * question (@name, @qtype, IN) into @buf.  @name is dotted with an optional
 * trailing dot; every label is 1..63 bytes and the encoded name (length
 * bytes and the root label included) is at most 255 bytes, else -EINVAL
 * (so "", "." and "a..b" are -EINVAL).  -ENOBUFS if @cap is too small.
 * Returns the number of bytes written; @buf is untouched on error.
 */
ssize_t dns_encode_query(uint8_t *buf, size_t cap, uint16_t id,
			 const char *name, uint16_t qtype);

/*
 * Parses the response @buf (@len bytes, no TCP length prefix) to the query
 * (@id, @name, @qtype); @qtype must be DNS_TYPE_A or DNS_TYPE_AAAA and
 * @name valid as for dns_encode_query, else -EINVAL.  Returns:
 *   -EBADMSG   not a response to that query: shorter than the 12-byte
 *              header, QR=0, OPCODE != 0, another ID, QDCOUNT != 1, or a
 *              question other than (@name, @qtype, IN) (names compared
 *              ASCII case-insensitively);
 *   -EMSGSIZE  TC=1 (checked after the question);
 *   -EPROTO    malformed: a name or record running past the end, a label
 *              length byte with 0x40 or 0x80 set, a compression pointer
 *              into the header, to itself or forward (every pointer must
 *              point before the start of the name piece it ends, which
 *              rules out loops), more than 128 pointers in one name, a
 *              name over 255 bytes, or in the answer section an IN A/AAAA
 *              whose RDLENGTH is not 4/16 or a CNAME whose RDATA is not
 *              exactly one name.  Every record of every section is
 *              checked; bytes after the last record are ignored;
 *   0          parsed; *@out is filled (it is zeroed on any error).
 *
 * On 0, out->rcode is the RCODE.  For RCODE 0 the parser starts at the
 * question's name and follows IN CNAME records of the answer section, in
 * any order, at most 16 of them (the first CNAME found for a name wins; one
 * whose target is the root or has a label containing '.' or NUL cannot be
 * written as canon and is not followed).  It then collects, in message
 * order, the IN records of type @qtype in the answer section owned by the
 * name reached: up to DNS_MAX_ADDRS addresses, further ones ignored.
 * Everything else (other names, types and classes, the authority and
 * additional sections) is skipped.  out->canon is the name reached, as
 * spelled in the message (for other RCODEs: the question's name).
 * out->ttl is the smallest TTL among the CNAMEs followed and the addresses
 * collected, with TTLs above 2^31-1 read as 0 (RFC 2181 section 8); it is
 * 0 when no address was collected.
 */
int dns_parse_response(const uint8_t *buf, size_t len, uint16_t id,
		       const char *name, uint16_t qtype,
		       struct dns_answer *out);

/* 1 if dotted names @a and @b are equal ignoring ASCII case and one
 * trailing dot each ("Example.COM." equals "example.com"), else 0. */
int dns_name_equal(const char *a, const char *b);

/* 1 if name is a host name glibc's resolver would look up, else 0: what
 * glibc's res_hnok accepts (glibc refuses the rest before any query:
 * getaddrinfo then says EAI_NONAME): printable ASCII, labels of 1..63
 * letters, digits, '-' and '_', at most 253 bytes with one optional
 * trailing dot, the first label not starting with '-'.  Backslash escapes,
 * which glibc decodes first, are refused outright: an escaped name that
 * decodes to a host name has an unescaped spelling. */
int dns_name_is_host(const char *name);

/* 1 if the tl bytes at tok (a hosts-file token) name the same host as
 * name: ASCII case-insensitive, a trailing dot on either ignored. */
int dns_name_same(const char *tok, size_t tl, const char *name);

/* 1 for "localhost", "localhost." and names under .localhost (RFC 6761
 * 6.3), any case; else 0. */
int dns_is_localhost(const char *name);

#endif
