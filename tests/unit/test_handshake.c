/*
 * test_handshake.c - unit tests for the SOCKS5 client handshake state
 * machine (preload/handshake.c).
 *
 * A small driver plays the shim's I/O loop: it asks hs_next() what to do,
 * "writes" into a capture buffer and "reads" from a scripted proxy, in
 * chunks of a chosen size, and reports back with hs_wrote() / hs_got() /
 * hs_eof().  The driver itself asserts that no READ ever asks for more than
 * the proxy message being read still holds.  Expected wire bytes are
 * spelled out from RFC 1928 / RFC 1929, not produced by the codec.
 */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "handshake.h"
#include "s5_assert.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

struct msg {
	const uint8_t *p;
	size_t n;
};

#define MSG(...)                                                               \
	{                                                                      \
		(const uint8_t[]){__VA_ARGS__},                                \
		    sizeof((const uint8_t[]){__VA_ARGS__})                     \
	}

/* ---- the driver ---- */

/* drive() stopped after max_ops reads and writes, mid-handshake. */
#define STOPPED (-1)

struct drv {
	struct msg in[4]; /* what the proxy sends, message by message */
	size_t nin;
	size_t mi, mo;	       /* current message, offset into it */
	size_t wchunk, rchunk; /* most bytes per write / read; 0: no limit */
	size_t max_ops;	       /* stop after this many I/Os; 0: no limit */
	size_t ops;
	uint8_t out[2048]; /* everything the machine wrote, in order */
	size_t nout;
	size_t nread; /* bytes handed to the machine */
};

static size_t chunk(size_t len, size_t limit)
{
	return limit && limit < len ? limit : len;
}

static void drv_init(struct drv *d, size_t wchunk, size_t rchunk)
{
	memset(d, 0, sizeof(*d));
	d->wchunk = wchunk;
	d->rchunk = rchunk;
}

static void drv_add(struct drv *d, const uint8_t *p, size_t n)
{
	ck_assert_uint_lt(d->nin, ARRAY_SIZE(d->in));
	d->in[d->nin].p = p;
	d->in[d->nin].n = n;
	d->nin++;
}

static size_t drv_in_total(const struct drv *d)
{
	size_t i, n = 0;

	for (i = 0; i < d->nin; i++)
		n += d->in[i].n;
	return n;
}

/* Runs the handshake until DONE or FAIL (returned as enum hs_io), or until
 * max_ops I/Os were done (STOPPED).  A proxy with nothing left to say
 * closes the connection. */
static int drive(struct hs *h, struct drv *d)
{
	uint8_t *buf;
	size_t len, n;
	enum hs_io io;

	for (;;) {
		io = hs_next(h, &buf, &len);
		if (io != HS_IO_WRITE && io != HS_IO_READ)
			return (int)io;
		if (d->max_ops && d->ops == d->max_ops)
			return STOPPED;
		d->ops++;
		ck_assert_uint_gt(len, 0);
		if (io == HS_IO_WRITE) {
			n = chunk(len, d->wchunk);
			ck_assert_uint_le(n, sizeof(d->out) - d->nout);
			memcpy(d->out + d->nout, buf, n);
			d->nout += n;
			hs_wrote(h, n);
			continue;
		}
		if (d->mi == d->nin) {
			hs_eof(h);
			continue;
		}
		/* The machine must not ask for a byte past this message. */
		ck_assert_uint_le(len, d->in[d->mi].n - d->mo);
		n = chunk(len, d->rchunk);
		memcpy(buf, d->in[d->mi].p + d->mo, n);
		d->mo += n;
		d->nread += n;
		if (d->mo == d->in[d->mi].n) {
			d->mi++;
			d->mo = 0;
		}
		hs_got(h, n);
	}
}

/* Writes the pending message whole (one hs_wrote). */
static void write_all(struct hs *h)
{
	uint8_t *buf;
	size_t len;

	ck_assert_int_eq(hs_next(h, &buf, &len), HS_IO_WRITE);
	hs_wrote(h, len);
}

/* Feeds @n bytes, as much as each READ asks for, then lets the machine
 * act on them (it parses in hs_next()). */
static void feed(struct hs *h, const uint8_t *p, size_t n)
{
	uint8_t *buf;
	size_t len, k;

	while (n > 0) {
		ck_assert_int_eq(hs_next(h, &buf, &len), HS_IO_READ);
		k = chunk(n, len);
		memcpy(buf, p, k);
		hs_got(h, k);
		p += k;
		n -= k;
	}
	(void)hs_next(h, &buf, &len);
}

/* The pending WRITE is exactly @want. */
static void expect_write(struct hs *h, const uint8_t *want, size_t n)
{
	uint8_t *buf;
	size_t len;

	ck_assert_int_eq(hs_next(h, &buf, &len), HS_IO_WRITE);
	ck_assert_uint_eq(len, n);
	ck_assert_mem_eq(buf, want, n);
}

static void expect_fail(struct hs *h, int err)
{
	uint8_t *buf;
	size_t len;

	ck_assert_int_eq(hs_next(h, &buf, &len), HS_IO_FAIL);
	ck_assert_int_eq(h->err, err);
	ck_assert_ptr_nonnull(h->why);
}

/* ---- fixtures ---- */

/* clang-format off */
static const uint8_t GREETING_NOAUTH[] = {0x05, 0x01, 0x00};
static const uint8_t GREETING_BOTH[] = {0x05, 0x02, 0x00, 0x02};
static const uint8_t CHOSE_NOAUTH[] = {0x05, 0x00};
static const uint8_t CHOSE_USERPASS[] = {0x05, 0x02};
static const uint8_t AUTH_OK[] = {0x01, 0x00};

static const char USER[] = "alice";
static const char PASS[] = "s3cr3t-Pa55w0rd";
/* RFC 1929 section 2: VER ULEN UNAME PLEN PASSWD */
static const uint8_t AUTH_MSG[] = {
	0x01,
	5, 'a', 'l', 'i', 'c', 'e',
	15, 's', '3', 'c', 'r', '3', 't', '-', 'P', 'a', '5', '5', 'w', '0',
	'r', 'd',
};

/* Request destinations and their RFC 1928 section 4 CONNECT requests. */
struct dst_case {
	struct s5_addr dst;
	struct msg req;
};

static const struct dst_case dsts[] = {
	{
		.dst = {.atyp = S5_ATYP_IPV4, .port = 80,
			.u.v4 = {192, 0, 2, 1}},
		.req = MSG(0x05, 0x01, 0x00, 0x01, 192, 0, 2, 1, 0x00, 0x50),
	},
	{
		.dst = {.atyp = S5_ATYP_IPV6, .port = 8080,
			.u.v6 = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
				 0, 0, 0, 0, 0, 0, 0, 1}},
		.req = MSG(0x05, 0x01, 0x00, 0x04,
			   0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
			   0, 0, 0, 0, 0, 0, 0, 1,
			   0x1f, 0x90),
	},
	{
		.dst = {.atyp = S5_ATYP_DOMAIN, .port = 443,
			.u.domain = {.len = 11, .name = "example.com"}},
		.req = MSG(0x05, 0x01, 0x00, 0x03, 11,
			   'e', 'x', 'a', 'm', 'p', 'l', 'e', '.', 'c', 'o', 'm',
			   0x01, 0xbb),
	},
};

/* Successful replies (RFC 1928 section 6) and the BND they carry. */
struct bnd_case {
	struct msg reply;
	struct s5_addr bnd;
};

static const struct bnd_case bnds[] = {
	{
		.reply = MSG(0x05, 0x00, 0x00, 0x01, 203, 0, 113, 7,
			     0x04, 0xd2),
		.bnd = {.atyp = S5_ATYP_IPV4, .port = 1234,
			.u.v4 = {203, 0, 113, 7}},
	},
	{
		.reply = MSG(0x05, 0x00, 0x00, 0x04,
			     0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
			     0, 0, 0, 0, 0, 0, 0, 2,
			     0xc3, 0x50),
		.bnd = {.atyp = S5_ATYP_IPV6, .port = 50000,
			.u.v6 = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
				 0, 0, 0, 0, 0, 0, 0, 2}},
	},
	{	/* the shortest reply there is: a one-byte domain */
		.reply = MSG(0x05, 0x00, 0x00, 0x03, 1, 'a', 0x00, 0x01),
		.bnd = {.atyp = S5_ATYP_DOMAIN, .port = 1,
			.u.domain = {.len = 1, .name = "a"}},
	},
	{
		.reply = MSG(0x05, 0x00, 0x00, 0x03, 13,
			     'p', 'r', 'o', 'x', 'y', '.', 'e', 'x', 'a', 'm',
			     'p', 'l', 'e',
			     0x12, 0x34),
		.bnd = {.atyp = S5_ATYP_DOMAIN, .port = 0x1234,
			.u.domain = {.len = 13, .name = "proxy.example"}},
	},
};
/* clang-format on */

/* Write/read chunk sizes the driver runs with (0: whatever is asked). */
static const size_t chunks[] = {0, 1, 2, 3, 7};

/* Any destination will do where the request is not what is tested. */
#define DST	 (&dsts[0].dst)
#define OK_REPLY (&bnds[0].reply)

/* ---- what is written ---- */

START_TEST(test_greeting_noauth)
{
	struct hs h;

	hs_init(&h, S5_CMD_CONNECT, DST, NULL, 0, NULL, 0);
	expect_write(&h, GREETING_NOAUTH, sizeof(GREETING_NOAUTH));
}
END_TEST

START_TEST(test_greeting_userpass)
{
	struct hs h;

	hs_init(&h, S5_CMD_CONNECT, DST, USER, strlen(USER), PASS,
		strlen(PASS));
	expect_write(&h, GREETING_BOTH, sizeof(GREETING_BOTH));
}
END_TEST

START_TEST(test_auth_bytes)
{
	struct hs h;

	hs_init(&h, S5_CMD_CONNECT, DST, USER, strlen(USER), PASS,
		strlen(PASS));
	write_all(&h);
	feed(&h, CHOSE_USERPASS, sizeof(CHOSE_USERPASS));
	expect_write(&h, AUTH_MSG, sizeof(AUTH_MSG));
}
END_TEST

START_TEST(test_request_bytes)
{
	const struct dst_case *c = &dsts[_i];
	struct hs h;

	hs_init(&h, S5_CMD_CONNECT, &c->dst, NULL, 0, NULL, 0);
	write_all(&h);
	feed(&h, CHOSE_NOAUTH, sizeof(CHOSE_NOAUTH));
	expect_write(&h, c->req.p, c->req.n);
}
END_TEST

START_TEST(test_request_after_auth)
{
	const struct dst_case *c = &dsts[_i];
	struct hs h;

	hs_init(&h, S5_CMD_CONNECT, &c->dst, USER, strlen(USER), PASS,
		strlen(PASS));
	write_all(&h);
	feed(&h, CHOSE_USERPASS, sizeof(CHOSE_USERPASS));
	write_all(&h);
	feed(&h, AUTH_OK, sizeof(AUTH_OK));
	expect_write(&h, c->req.p, c->req.n);
}
END_TEST

START_TEST(test_request_cmd)
{
	static const uint8_t cmds[] = {S5_CMD_CONNECT, S5_CMD_BIND,
				       S5_CMD_UDP_ASSOCIATE};
	uint8_t *buf;
	size_t len, i;
	struct hs h;

	for (i = 0; i < ARRAY_SIZE(cmds); i++) {
		hs_init(&h, cmds[i], DST, NULL, 0, NULL, 0);
		write_all(&h);
		feed(&h, CHOSE_NOAUTH, sizeof(CHOSE_NOAUTH));
		ck_assert_int_eq(hs_next(&h, &buf, &len), HS_IO_WRITE);
		ck_assert_uint_eq(buf[1], cmds[i]);
	}
}
END_TEST

/* ---- whole handshakes ---- */

/* No-auth CONNECT; each BND type, each chunk size for reads and writes. */
START_TEST(test_connect_noauth)
{
	const struct bnd_case *b = &bnds[_i / ARRAY_SIZE(chunks)];
	size_t ck = chunks[_i % ARRAY_SIZE(chunks)];
	const struct dst_case *c = &dsts[_i % ARRAY_SIZE(dsts)];
	uint8_t want[64];
	size_t wantlen = 0;
	struct drv d;
	struct hs h;

	memcpy(want, GREETING_NOAUTH, sizeof(GREETING_NOAUTH));
	wantlen += sizeof(GREETING_NOAUTH);
	memcpy(want + wantlen, c->req.p, c->req.n);
	wantlen += c->req.n;

	drv_init(&d, ck, ck);
	drv_add(&d, CHOSE_NOAUTH, sizeof(CHOSE_NOAUTH));
	drv_add(&d, b->reply.p, b->reply.n);
	hs_init(&h, S5_CMD_CONNECT, &c->dst, NULL, 0, NULL, 0);

	ck_assert_int_eq(drive(&h, &d), HS_IO_DONE);
	ck_assert_uint_eq(h.rep, S5_REP_SUCCEEDED);
	assert_addr_eq(&h.bnd, &b->bnd);
	ck_assert_uint_eq(d.nout, wantlen);
	ck_assert_mem_eq(d.out, want, wantlen);
	ck_assert_uint_eq(d.nread, drv_in_total(&d));
}
END_TEST

/* Username/password CONNECT; each BND type, each chunk size. */
START_TEST(test_connect_userpass)
{
	const struct bnd_case *b = &bnds[_i / ARRAY_SIZE(chunks)];
	size_t ck = chunks[_i % ARRAY_SIZE(chunks)];
	const struct dst_case *c = &dsts[_i % ARRAY_SIZE(dsts)];
	uint8_t want[128];
	size_t wantlen = 0;
	struct drv d;
	struct hs h;

	memcpy(want, GREETING_BOTH, sizeof(GREETING_BOTH));
	wantlen += sizeof(GREETING_BOTH);
	memcpy(want + wantlen, AUTH_MSG, sizeof(AUTH_MSG));
	wantlen += sizeof(AUTH_MSG);
	memcpy(want + wantlen, c->req.p, c->req.n);
	wantlen += c->req.n;

	drv_init(&d, ck, ck);
	drv_add(&d, CHOSE_USERPASS, sizeof(CHOSE_USERPASS));
	drv_add(&d, AUTH_OK, sizeof(AUTH_OK));
	drv_add(&d, b->reply.p, b->reply.n);
	hs_init(&h, S5_CMD_CONNECT, &c->dst, USER, strlen(USER), PASS,
		strlen(PASS));

	ck_assert_int_eq(drive(&h, &d), HS_IO_DONE);
	ck_assert_uint_eq(h.rep, S5_REP_SUCCEEDED);
	assert_addr_eq(&h.bnd, &b->bnd);
	ck_assert_uint_eq(d.nout, wantlen);
	ck_assert_mem_eq(d.out, want, wantlen);
	ck_assert_uint_eq(d.nread, drv_in_total(&d));
}
END_TEST

/* Credentials may offer no-auth and still be told no-auth. */
START_TEST(test_connect_creds_noauth_chosen)
{
	struct drv d;
	struct hs h;

	drv_init(&d, 0, 0);
	drv_add(&d, CHOSE_NOAUTH, sizeof(CHOSE_NOAUTH));
	drv_add(&d, OK_REPLY->p, OK_REPLY->n);
	hs_init(&h, S5_CMD_CONNECT, &dsts[0].dst, USER, strlen(USER), PASS,
		strlen(PASS));

	ck_assert_int_eq(drive(&h, &d), HS_IO_DONE);
	ck_assert_uint_eq(d.nout, sizeof(GREETING_BOTH) + dsts[0].req.n);
	ck_assert_mem_eq(d.out + sizeof(GREETING_BOTH), dsts[0].req.p,
			 dsts[0].req.n);
}
END_TEST

START_TEST(test_bnd_domain_255)
{
	uint8_t reply[3 + 1 + 1 + 255 + 2];
	struct drv d;
	struct hs h;
	size_t i;

	reply[0] = 0x05;
	reply[1] = 0x00;
	reply[2] = 0x00;
	reply[3] = S5_ATYP_DOMAIN;
	reply[4] = 255;
	for (i = 0; i < 255; i++)
		reply[5 + i] = (uint8_t)('a' + i % 26);
	reply[260] = 0xff;
	reply[261] = 0xfe;

	drv_init(&d, 0, 0);
	drv_add(&d, CHOSE_NOAUTH, sizeof(CHOSE_NOAUTH));
	drv_add(&d, reply, sizeof(reply));
	hs_init(&h, S5_CMD_CONNECT, DST, NULL, 0, NULL, 0);

	ck_assert_int_eq(drive(&h, &d), HS_IO_DONE);
	ck_assert_uint_eq(h.bnd.atyp, S5_ATYP_DOMAIN);
	ck_assert_uint_eq(h.bnd.u.domain.len, 255);
	ck_assert_mem_eq(h.bnd.u.domain.name, reply + 5, 255);
	ck_assert_uint_eq(h.bnd.port, 0xfffe);
	ck_assert_uint_eq(d.nread, drv_in_total(&d));
}
END_TEST

/*
 * Like a socket with the whole proxy output already queued: the replies and
 * then the first bytes of the application stream.  Each READ gets all it
 * asks for, up to what is queued; the machine must stop at the reply.
 */
START_TEST(test_app_bytes_untouched)
{
	static const uint8_t app[] = "HTTP/1.1 200 OK\r\n\r\n";
	const struct bnd_case *b = &bnds[_i / 2];
	int auth = (int)(_i % 2);
	uint8_t stream[512];
	size_t hslen = 0, len, off = 0, n;
	uint8_t *buf;
	enum hs_io io;
	struct hs h;

	if (auth) {
		memcpy(stream, CHOSE_USERPASS, sizeof(CHOSE_USERPASS));
		hslen += sizeof(CHOSE_USERPASS);
		memcpy(stream + hslen, AUTH_OK, sizeof(AUTH_OK));
		hslen += sizeof(AUTH_OK);
	} else {
		memcpy(stream, CHOSE_NOAUTH, sizeof(CHOSE_NOAUTH));
		hslen += sizeof(CHOSE_NOAUTH);
	}
	memcpy(stream + hslen, b->reply.p, b->reply.n);
	hslen += b->reply.n;
	memcpy(stream + hslen, app, sizeof(app));

	if (auth)
		hs_init(&h, S5_CMD_CONNECT, DST, USER, strlen(USER), PASS,
			strlen(PASS));
	else
		hs_init(&h, S5_CMD_CONNECT, DST, NULL, 0, NULL, 0);
	while ((io = hs_next(&h, &buf, &len)) == HS_IO_WRITE ||
	       io == HS_IO_READ) {
		if (io == HS_IO_WRITE) {
			hs_wrote(&h, len);
			continue;
		}
		if (off == hslen + sizeof(app)) {
			hs_eof(&h);
			continue;
		}
		n = chunk(len, hslen + sizeof(app) - off);
		memcpy(buf, stream + off, n);
		off += n;
		hs_got(&h, n);
	}
	ck_assert_int_eq(io, HS_IO_DONE);
	ck_assert_uint_eq(off, hslen);
}
END_TEST

/* ---- credentials ---- */

START_TEST(test_creds_255)
{
	char user[255], pass[255];
	uint8_t want[3 + 255 + 255];
	struct drv d;
	struct hs h;

	memset(user, 'u', sizeof(user));
	memset(pass, 'p', sizeof(pass));
	want[0] = 0x01;
	want[1] = 255;
	memset(want + 2, 'u', 255);
	want[257] = 255;
	memset(want + 258, 'p', 255);

	drv_init(&d, 0, 0);
	drv_add(&d, CHOSE_USERPASS, sizeof(CHOSE_USERPASS));
	drv_add(&d, AUTH_OK, sizeof(AUTH_OK));
	drv_add(&d, OK_REPLY->p, OK_REPLY->n);
	hs_init(&h, S5_CMD_CONNECT, DST, user, sizeof(user), pass,
		sizeof(pass));

	ck_assert_int_eq(drive(&h, &d), HS_IO_DONE);
	ck_assert_uint_eq(d.nout,
			  sizeof(GREETING_BOTH) + sizeof(want) + dsts[0].req.n);
	ck_assert_mem_eq(d.out + sizeof(GREETING_BOTH), want, sizeof(want));
}
END_TEST

/* A 256-byte username cannot be sent: a failure, never a truncation. */
START_TEST(test_creds_too_long)
{
	char user[256];
	struct hs h;

	memset(user, 'u', sizeof(user));
	hs_init(&h, S5_CMD_CONNECT, DST, user, sizeof(user), PASS,
		strlen(PASS));
	write_all(&h);
	feed(&h, CHOSE_USERPASS, sizeof(CHOSE_USERPASS));
	expect_fail(&h, EINVAL);
}
END_TEST

/* No 4-byte piece of the password is anywhere in *h (a partly
 * overwritten password is still a leak). */
static int password_absent(const struct hs *h)
{
	size_t i;

	for (i = 0; i + 4 <= strlen(PASS); i++)
		if (memmem(h, sizeof(*h), PASS + i, 4))
			return 0;
	return 1;
}

/* Once the auth message is out, the password is gone from the state,
 * whether the message went in one piece or byte by byte. */
START_TEST(test_password_gone_after_auth)
{
	size_t ck = chunks[_i];
	uint8_t *buf;
	size_t len;
	struct hs h;

	hs_init(&h, S5_CMD_CONNECT, DST, USER, strlen(USER), PASS,
		strlen(PASS));
	write_all(&h);
	feed(&h, CHOSE_USERPASS, sizeof(CHOSE_USERPASS));
	ck_assert_ptr_nonnull(memmem(h.out, sizeof(h.out), PASS, strlen(PASS)));
	while (hs_next(&h, &buf, &len) == HS_IO_WRITE)
		hs_wrote(&h, chunk(len, ck));
	ck_assert_int_eq(h.state, HS_AUTH_REPLY);
	ck_assert(password_absent(&h));
}
END_TEST

START_TEST(test_password_gone_after_done)
{
	struct drv d;
	struct hs h;

	drv_init(&d, 1, 1);
	drv_add(&d, CHOSE_USERPASS, sizeof(CHOSE_USERPASS));
	drv_add(&d, AUTH_OK, sizeof(AUTH_OK));
	drv_add(&d, OK_REPLY->p, OK_REPLY->n);
	hs_init(&h, S5_CMD_CONNECT, DST, USER, strlen(USER), PASS,
		strlen(PASS));

	ck_assert_int_eq(drive(&h, &d), HS_IO_DONE);
	ck_assert(password_absent(&h));
}
END_TEST

static int all_zero(const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

/* hs_wipe with the auth message still pending (e.g. the connect failed
 * before it was sent) clears it and forgets the credentials. */
START_TEST(test_wipe_pending_auth)
{
	struct hs h;

	hs_init(&h, S5_CMD_CONNECT, DST, USER, strlen(USER), PASS,
		strlen(PASS));
	write_all(&h);
	feed(&h, CHOSE_USERPASS, sizeof(CHOSE_USERPASS));
	hs_wipe(&h);
	ck_assert(all_zero(h.out, sizeof(h.out)));
	ck_assert_ptr_null(h.user);
	ck_assert_ptr_null(h.pass);
	ck_assert_uint_eq(h.ulen, 0);
	ck_assert_uint_eq(h.plen, 0);
}
END_TEST

START_TEST(test_wipe_after_done)
{
	struct drv d;
	struct hs h;

	drv_init(&d, 0, 0);
	drv_add(&d, CHOSE_USERPASS, sizeof(CHOSE_USERPASS));
	drv_add(&d, AUTH_OK, sizeof(AUTH_OK));
	drv_add(&d, OK_REPLY->p, OK_REPLY->n);
	hs_init(&h, S5_CMD_CONNECT, DST, USER, strlen(USER), PASS,
		strlen(PASS));
	ck_assert_int_eq(drive(&h, &d), HS_IO_DONE);
	hs_wipe(&h);
	ck_assert(all_zero(h.out, sizeof(h.out)));
	ck_assert_ptr_null(h.user);
	ck_assert_ptr_null(h.pass);
}
END_TEST

/* ---- refusals ---- */

START_TEST(test_method_none)
{
	int creds = (int)_i;
	static const uint8_t none[] = {0x05, 0xff};
	struct drv d;
	struct hs h;

	drv_init(&d, 0, 0);
	drv_add(&d, none, sizeof(none));
	if (creds)
		hs_init(&h, S5_CMD_CONNECT, DST, USER, strlen(USER), PASS,
			strlen(PASS));
	else
		hs_init(&h, S5_CMD_CONNECT, DST, NULL, 0, NULL, 0);
	ck_assert_int_eq(drive(&h, &d), HS_IO_FAIL);
	expect_fail(&h, EACCES);
}
END_TEST

START_TEST(test_userpass_without_creds)
{
	struct drv d;
	struct hs h;

	drv_init(&d, 0, 0);
	drv_add(&d, CHOSE_USERPASS, sizeof(CHOSE_USERPASS));
	hs_init(&h, S5_CMD_CONNECT, DST, NULL, 0, NULL, 0);
	ck_assert_int_eq(drive(&h, &d), HS_IO_FAIL);
	expect_fail(&h, EACCES);
	ck_assert_uint_eq(d.nout, sizeof(GREETING_NOAUTH));
}
END_TEST

/* Methods we never offer (0x01 GSSAPI, IANA and private ones). */
static const uint8_t unoffered[] = {0x01, 0x03, 0x7f, 0x80, 0xfe};

START_TEST(test_unoffered_method)
{
	const uint8_t reply[] = {0x05, unoffered[_i / 2]};
	int creds = (int)(_i % 2);
	struct drv d;
	struct hs h;

	drv_init(&d, 0, 0);
	drv_add(&d, reply, sizeof(reply));
	if (creds)
		hs_init(&h, S5_CMD_CONNECT, DST, USER, strlen(USER), PASS,
			strlen(PASS));
	else
		hs_init(&h, S5_CMD_CONNECT, DST, NULL, 0, NULL, 0);
	ck_assert_int_eq(drive(&h, &d), HS_IO_FAIL);
	expect_fail(&h, EPROTO);
}
END_TEST

static const uint8_t auth_statuses[] = {0x01, 0x02, 0x80, 0xff};

START_TEST(test_auth_rejected)
{
	const uint8_t reply[] = {0x01, auth_statuses[_i]};
	struct drv d;
	struct hs h;

	drv_init(&d, 0, 0);
	drv_add(&d, CHOSE_USERPASS, sizeof(CHOSE_USERPASS));
	drv_add(&d, reply, sizeof(reply));
	hs_init(&h, S5_CMD_CONNECT, DST, USER, strlen(USER), PASS,
		strlen(PASS));
	ck_assert_int_eq(drive(&h, &d), HS_IO_FAIL);
	expect_fail(&h, EACCES);
	/* Nothing is sent after a rejection. */
	ck_assert_uint_eq(d.nout, sizeof(GREETING_BOTH) + sizeof(AUTH_MSG));
}
END_TEST

/* REP 1..8: the errno is the one table's, whatever BND type follows. */
START_TEST(test_reply_code)
{
	uint8_t rep = (uint8_t)(S5_REP_GENERAL_FAILURE + _i);
	const struct bnd_case *b = &bnds[_i % ARRAY_SIZE(bnds)];
	uint8_t reply[S5_MAX_REPLY];
	struct drv d;
	struct hs h;

	memcpy(reply, b->reply.p, b->reply.n);
	reply[1] = rep;
	drv_init(&d, 0, 0);
	drv_add(&d, CHOSE_NOAUTH, sizeof(CHOSE_NOAUTH));
	drv_add(&d, reply, b->reply.n);
	hs_init(&h, S5_CMD_CONNECT, DST, NULL, 0, NULL, 0);
	ck_assert_int_eq(drive(&h, &d), HS_IO_FAIL);
	expect_fail(&h, s5_reply_errno(rep));
	ck_assert_int_ne(h.err, 0);
	ck_assert_uint_eq(h.rep, rep);
	ck_assert_str_eq(h.why, s5_reply_str(rep));
	ck_assert_uint_eq(d.nread, drv_in_total(&d));
}
END_TEST

/* ---- malformed replies ---- */

enum stage { ST_METHOD, ST_AUTH, ST_REPLY };

struct bad_case {
	enum stage stage;
	struct msg m;
};

/* clang-format off */
static const struct bad_case bads[] = {
	{ST_METHOD, MSG(0x04, 0x00)},			/* VER 4 */
	{ST_METHOD, MSG(0x01, 0x00)},			/* VER 1 */
	{ST_AUTH, MSG(0x05, 0x00)},			/* RFC 1929 VER 5 */
	{ST_AUTH, MSG(0x00, 0x00)},			/* RFC 1929 VER 0 */
	{ST_REPLY, MSG(0x04, 0x00, 0x00, 0x01, 1, 2, 3, 4, 0, 80)}, /* VER */
	{ST_REPLY, MSG(0x05, 0x00, 0x01, 0x01, 1, 2, 3, 4, 0, 80)}, /* RSV */
	{ST_REPLY, MSG(0x05, 0x00, 0xff, 0x01, 1, 2, 3, 4, 0, 80)}, /* RSV */
	{ST_REPLY, MSG(0x05, 0x00, 0x00, 0x09, 1, 2, 3, 4, 0, 80)}, /* ATYP */
	{ST_REPLY, MSG(0x05, 0x00, 0x00, 0x00, 1, 2, 3, 4, 0, 80)}, /* ATYP */
	{ST_REPLY, MSG(0x05, 0x00, 0x00, 0x02, 1, 2, 3, 4, 0, 80)}, /* ATYP */
	{ST_REPLY, MSG(0x05, 0x00, 0x00, 0x03, 0, 'a', 0, 80)},   /* len 0 */
	{ST_REPLY, MSG(0x05, 0x01, 0x00, 0x09, 1, 2, 3, 4, 0, 80)}, /* ATYP */
};
/* clang-format on */

START_TEST(test_malformed)
{
	const struct bad_case *c = &bads[_i / ARRAY_SIZE(chunks)];
	size_t ck = chunks[_i % ARRAY_SIZE(chunks)];
	struct drv d;
	struct hs h;

	drv_init(&d, ck, ck);
	switch (c->stage) {
	case ST_METHOD:
		drv_add(&d, c->m.p, c->m.n);
		break;
	case ST_AUTH:
		drv_add(&d, CHOSE_USERPASS, sizeof(CHOSE_USERPASS));
		drv_add(&d, c->m.p, c->m.n);
		break;
	case ST_REPLY:
		drv_add(&d, CHOSE_USERPASS, sizeof(CHOSE_USERPASS));
		drv_add(&d, AUTH_OK, sizeof(AUTH_OK));
		drv_add(&d, c->m.p, c->m.n);
		break;
	}
	hs_init(&h, S5_CMD_CONNECT, DST, USER, strlen(USER), PASS,
		strlen(PASS));
	ck_assert_int_eq(drive(&h, &d), HS_IO_FAIL);
	expect_fail(&h, EPROTO);
}
END_TEST

/* An unencodable destination fails with EINVAL instead of sending junk. */
START_TEST(test_bad_dst)
{
	struct s5_addr dst = {.atyp = 0x09, .port = 1};
	struct drv d;
	struct hs h;

	drv_init(&d, 0, 0);
	drv_add(&d, CHOSE_NOAUTH, sizeof(CHOSE_NOAUTH));
	hs_init(&h, S5_CMD_CONNECT, &dst, NULL, 0, NULL, 0);
	ck_assert_int_eq(drive(&h, &d), HS_IO_FAIL);
	expect_fail(&h, EINVAL);
	ck_assert_uint_eq(d.nout, sizeof(GREETING_NOAUTH));
}
END_TEST

/* ---- end of file ---- */

/* The proxy closes after every possible number of I/Os (one byte each) of
 * a full handshake: every one is ECONNRESET, until the handshake is done. */
START_TEST(test_eof_everywhere)
{
	int creds = (int)_i;
	size_t ops;
	int done = 0, r;
	struct drv d;
	struct hs h;

	for (ops = 0; !done && ops < 10000; ops++) {
		drv_init(&d, 1, 1);
		d.max_ops = ops;
		if (creds) {
			drv_add(&d, CHOSE_USERPASS, sizeof(CHOSE_USERPASS));
			drv_add(&d, AUTH_OK, sizeof(AUTH_OK));
		} else {
			drv_add(&d, CHOSE_NOAUTH, sizeof(CHOSE_NOAUTH));
		}
		drv_add(&d, bnds[2].reply.p, bnds[2].reply.n);
		if (creds)
			hs_init(&h, S5_CMD_CONNECT, DST, USER, strlen(USER),
				PASS, strlen(PASS));
		else
			hs_init(&h, S5_CMD_CONNECT, DST, NULL, 0, NULL, 0);
		if (ops == 0) {
			/* Closed before anything at all. */
			hs_eof(&h);
			expect_fail(&h, ECONNRESET);
			continue;
		}
		r = drive(&h, &d);
		if (r == HS_IO_DONE) {
			done = 1;
			continue;
		}
		ck_assert_int_eq(r, STOPPED);
		hs_eof(&h);
		expect_fail(&h, ECONNRESET);
	}
	ck_assert(done);
}
END_TEST

/* After DONE the stream is the application's: its EOF is not ours. */
START_TEST(test_eof_after_done)
{
	uint8_t *buf;
	size_t len;
	struct drv d;
	struct hs h;

	drv_init(&d, 0, 0);
	drv_add(&d, CHOSE_NOAUTH, sizeof(CHOSE_NOAUTH));
	drv_add(&d, OK_REPLY->p, OK_REPLY->n);
	hs_init(&h, S5_CMD_CONNECT, DST, NULL, 0, NULL, 0);
	ck_assert_int_eq(drive(&h, &d), HS_IO_DONE);
	hs_eof(&h);
	ck_assert_int_eq(hs_next(&h, &buf, &len), HS_IO_DONE);
}
END_TEST

/* A failure is final: a later EOF does not rewrite the errno. */
START_TEST(test_eof_after_fail)
{
	static const uint8_t none[] = {0x05, 0xff};
	struct drv d;
	struct hs h;

	drv_init(&d, 0, 0);
	drv_add(&d, none, sizeof(none));
	hs_init(&h, S5_CMD_CONNECT, DST, NULL, 0, NULL, 0);
	ck_assert_int_eq(drive(&h, &d), HS_IO_FAIL);
	hs_eof(&h);
	expect_fail(&h, EACCES);
}
END_TEST

/* A hang-up right after the request names the request and what it
 * usually means; one in the middle of the reply does not. */
START_TEST(test_eof_after_request)
{
	static const struct {
		uint8_t cmd;
		const char *req, *hint;
	} cmds[] = {
	    {S5_CMD_CONNECT, "hung up on the CONNECT request", "resolve"},
	    {S5_CMD_UDP_ASSOCIATE, "hung up on the UDP ASSOCIATE request",
	     "carries no UDP"},
	    {S5_CMD_BIND, "hung up on the BIND request", "offers no BIND"},
	};
	const uint8_t part[] = {0x05, 0x00};
	unsigned int i = (unsigned int)_i / 2;
	int partial = _i % 2;
	struct hs h;

	hs_init(&h, cmds[i].cmd, DST, NULL, 0, NULL, 0);
	write_all(&h);
	feed(&h, CHOSE_NOAUTH, sizeof(CHOSE_NOAUTH));
	write_all(&h);
	if (partial)
		feed(&h, part, sizeof(part));
	hs_eof(&h);
	expect_fail(&h, ECONNRESET);
	ck_assert_int_eq(h.failed_in, HS_REPLY);
	ck_assert_int_eq(hs_hung_up(&h), !partial);
	ck_assert_ptr_nonnull(
	    strstr(hs_hangup_hint(cmds[i].cmd), cmds[i].hint));
	if (partial) {
		ck_assert_ptr_nonnull(strstr(h.why, "middle of its reply"));
	} else {
		ck_assert_ptr_nonnull(strstr(h.why, cmds[i].req));
		ck_assert_ptr_nonnull(
		    strstr(h.why, hs_hangup_hint(cmds[i].cmd)));
	}
}
END_TEST

/* ---- pipelining (hs_pipeline) ---- */

/* One write: the greeting offering no-auth only, then the request. */
START_TEST(test_pipeline_noauth)
{
	const struct dst_case *c = &dsts[_i % ARRAY_SIZE(dsts)];
	const struct bnd_case *b = &bnds[_i % ARRAY_SIZE(bnds)];
	uint8_t want[3 + S5_MAX_REQUEST];
	uint8_t *buf;
	size_t len;
	struct hs h;

	hs_init(&h, S5_CMD_CONNECT, &c->dst, NULL, 0, NULL, 0);
	hs_pipeline(&h);
	memcpy(want, GREETING_NOAUTH, 3);
	memcpy(want + 3, c->req.p, c->req.n);
	expect_write(&h, want, 3 + c->req.n);
	write_all(&h);
	feed(&h, CHOSE_NOAUTH, sizeof(CHOSE_NOAUTH));
	/* Nothing more to write: the request went with the greeting. */
	feed(&h, b->reply.p, b->reply.n);
	ck_assert_int_eq(hs_next(&h, &buf, &len), HS_IO_DONE);
	assert_addr_eq(&h.bnd, &b->bnd);
}
END_TEST

/* One write: the greeting offering username/password only, the
 * credentials, the request; the replies are read in order. */
START_TEST(test_pipeline_userpass)
{
	const struct dst_case *c = &dsts[_i];
	uint8_t want[3 + sizeof(AUTH_MSG) + S5_MAX_REQUEST];
	static const uint8_t greeting[] = {0x05, 0x01, 0x02};
	uint8_t *buf;
	size_t len;
	struct hs h;

	hs_init(&h, S5_CMD_CONNECT, &c->dst, USER, strlen(USER), PASS,
		strlen(PASS));
	hs_pipeline(&h);
	memcpy(want, greeting, 3);
	memcpy(want + 3, AUTH_MSG, sizeof(AUTH_MSG));
	memcpy(want + 3 + sizeof(AUTH_MSG), c->req.p, c->req.n);
	expect_write(&h, want, 3 + sizeof(AUTH_MSG) + c->req.n);
	write_all(&h);
	/* The password does not outlive the write. */
	ck_assert_ptr_null(memmem(h.out, sizeof(h.out), PASS, strlen(PASS)));
	feed(&h, CHOSE_USERPASS, sizeof(CHOSE_USERPASS));
	feed(&h, AUTH_OK, sizeof(AUTH_OK));
	feed(&h, OK_REPLY->p, OK_REPLY->n);
	ck_assert_int_eq(hs_next(&h, &buf, &len), HS_IO_DONE);
}
END_TEST

/* Partial writes of the pipelined buffer, and replies in small reads. */
START_TEST(test_pipeline_chunks)
{
	struct drv d;
	struct hs h;

	drv_init(&d, chunks[_i], chunks[_i]);
	drv_add(&d, CHOSE_NOAUTH, sizeof(CHOSE_NOAUTH));
	drv_add(&d, OK_REPLY->p, OK_REPLY->n);
	hs_init(&h, S5_CMD_CONNECT, DST, NULL, 0, NULL, 0);
	hs_pipeline(&h);
	ck_assert_int_eq(drive(&h, &d), HS_IO_DONE);
	ck_assert_uint_eq(d.nout, 3 + dsts[0].req.n);
	ck_assert_mem_eq(d.out, GREETING_NOAUTH, 3);
	ck_assert_mem_eq(d.out + 3, dsts[0].req.p, dsts[0].req.n);
}
END_TEST

/* A method other than the one offered: EPROTO; none acceptable: EACCES;
 * a rejected password: EACCES. */
START_TEST(test_pipeline_refused)
{
	static const uint8_t none[] = {0x05, 0xff};
	static const uint8_t bad_auth[] = {0x01, 0x01};
	struct hs h;

	hs_init(&h, S5_CMD_CONNECT, DST, NULL, 0, NULL, 0);
	hs_pipeline(&h);
	write_all(&h);
	feed(&h, CHOSE_USERPASS, sizeof(CHOSE_USERPASS));
	expect_fail(&h, EPROTO);

	hs_init(&h, S5_CMD_CONNECT, DST, USER, strlen(USER), PASS,
		strlen(PASS));
	hs_pipeline(&h);
	write_all(&h);
	feed(&h, CHOSE_NOAUTH, sizeof(CHOSE_NOAUTH));
	expect_fail(&h, EPROTO);

	hs_init(&h, S5_CMD_CONNECT, DST, USER, strlen(USER), PASS,
		strlen(PASS));
	hs_pipeline(&h);
	write_all(&h);
	feed(&h, none, sizeof(none));
	expect_fail(&h, EACCES);

	hs_init(&h, S5_CMD_CONNECT, DST, USER, strlen(USER), PASS,
		strlen(PASS));
	hs_pipeline(&h);
	write_all(&h);
	feed(&h, CHOSE_USERPASS, sizeof(CHOSE_USERPASS));
	feed(&h, bad_auth, sizeof(bad_auth));
	expect_fail(&h, EACCES);
}
END_TEST

static Suite *handshake_suite(void)
{
	Suite *s = suite_create("handshake");
	TCase *tc;

	tc = tcase_create("write");
	tcase_add_test(tc, test_greeting_noauth);
	tcase_add_test(tc, test_greeting_userpass);
	tcase_add_test(tc, test_auth_bytes);
	tcase_add_loop_test(tc, test_request_bytes, 0, ARRAY_SIZE(dsts));
	tcase_add_loop_test(tc, test_request_after_auth, 0, ARRAY_SIZE(dsts));
	tcase_add_test(tc, test_request_cmd);
	suite_add_tcase(s, tc);

	tc = tcase_create("connect");
	tcase_add_loop_test(tc, test_connect_noauth, 0,
			    ARRAY_SIZE(bnds) * ARRAY_SIZE(chunks));
	tcase_add_loop_test(tc, test_connect_userpass, 0,
			    ARRAY_SIZE(bnds) * ARRAY_SIZE(chunks));
	tcase_add_test(tc, test_connect_creds_noauth_chosen);
	tcase_add_test(tc, test_bnd_domain_255);
	tcase_add_loop_test(tc, test_app_bytes_untouched, 0,
			    ARRAY_SIZE(bnds) * 2);
	suite_add_tcase(s, tc);

	tc = tcase_create("credentials");
	tcase_add_test(tc, test_creds_255);
	tcase_add_test(tc, test_creds_too_long);
	tcase_add_loop_test(tc, test_password_gone_after_auth, 0,
			    ARRAY_SIZE(chunks));
	tcase_add_test(tc, test_password_gone_after_done);
	tcase_add_test(tc, test_wipe_pending_auth);
	tcase_add_test(tc, test_wipe_after_done);
	suite_add_tcase(s, tc);

	tc = tcase_create("refusal");
	tcase_add_loop_test(tc, test_method_none, 0, 2);
	tcase_add_test(tc, test_userpass_without_creds);
	tcase_add_loop_test(tc, test_unoffered_method, 0,
			    ARRAY_SIZE(unoffered) * 2);
	tcase_add_loop_test(tc, test_auth_rejected, 0,
			    ARRAY_SIZE(auth_statuses));
	tcase_add_loop_test(tc, test_reply_code, 0,
			    S5_REP_ATYP_UNSUPPORTED - S5_REP_GENERAL_FAILURE +
				1);
	suite_add_tcase(s, tc);

	tc = tcase_create("malformed");
	tcase_add_loop_test(tc, test_malformed, 0,
			    ARRAY_SIZE(bads) * ARRAY_SIZE(chunks));
	tcase_add_test(tc, test_bad_dst);
	suite_add_tcase(s, tc);

	tc = tcase_create("pipeline");
	tcase_add_loop_test(tc, test_pipeline_noauth, 0, ARRAY_SIZE(dsts));
	tcase_add_loop_test(tc, test_pipeline_userpass, 0, ARRAY_SIZE(dsts));
	tcase_add_loop_test(tc, test_pipeline_chunks, 0, ARRAY_SIZE(chunks));
	tcase_add_test(tc, test_pipeline_refused);
	suite_add_tcase(s, tc);

	tc = tcase_create("eof");
	tcase_add_loop_test(tc, test_eof_everywhere, 0, 2);
	tcase_add_test(tc, test_eof_after_done);
	tcase_add_test(tc, test_eof_after_fail);
	tcase_add_loop_test(tc, test_eof_after_request, 0, 6);
	suite_add_tcase(s, tc);

	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(handshake_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
