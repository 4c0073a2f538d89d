/*
 * handshake.c - SOCKS5 client handshake state machine (RFC 1928, RFC 1929).
 */
#include "handshake.h"

#include <errno.h>
#include <string.h>

static void fail(struct hs *h, int err, const char *why)
{
	h->failed_in = h->state;
	h->state = HS_FAILED;
	h->err = err;
	h->why = why;
}

/* Fills the output buffer for the current sending state. */
static void prepare_out(struct hs *h)
{
	ssize_t n = -EINVAL;

	h->outoff = 0;
	switch (h->state) {
	case HS_GREETING: {
		/* RFC 1928 section 3: offer username/password only when we
		 * have credentials; no-auth is always acceptable to us. */
		static const uint8_t noauth[] = {S5_METHOD_NOAUTH};
		static const uint8_t both[] = {S5_METHOD_NOAUTH,
					       S5_METHOD_USERPASS};
		n = h->user
			? s5_encode_greeting(h->out, sizeof(h->out), both, 2)
			: s5_encode_greeting(h->out, sizeof(h->out), noauth, 1);
		break;
	}
	case HS_AUTH:
		n = s5_encode_userpass(h->out, sizeof(h->out), h->user, h->ulen,
				       h->pass, h->plen);
		break;
	case HS_REQUEST:
		n = s5_encode_request(h->out, sizeof(h->out), h->cmd, &h->dst);
		break;
	default:
		break;
	}
	if (n < 0) {
		fail(h, n == -EINVAL ? EINVAL : ENOBUFS,
		     h->state == HS_AUTH
			 ? "username or password not 1..255 bytes"
			 : "request cannot be encoded");
		return;
	}
	h->outlen = (size_t)n;
}

void hs_init(struct hs *h, uint8_t cmd, const struct s5_addr *dst,
	     const char *user, size_t ulen, const char *pass, size_t plen)
{
	memset(h, 0, sizeof(*h));
	h->cmd = cmd;
	h->dst = *dst;
	if (user && ulen) {
		h->user = user;
		h->ulen = ulen;
		h->pass = pass;
		h->plen = plen;
	}
	h->state = HS_GREETING;
	prepare_out(h);
}

void hs_pipeline(struct hs *h)
{
	const uint8_t method = h->user ? S5_METHOD_USERPASS : S5_METHOD_NOAUTH;
	ssize_t n, m;

	if (h->state != HS_GREETING)
		return;
	n = s5_encode_greeting(h->out, sizeof(h->out), &method, 1);
	if (n > 0 && h->user) {
		m = s5_encode_userpass(h->out + n, sizeof(h->out) - (size_t)n,
				       h->user, h->ulen, h->pass, h->plen);
		n = m < 0 ? m : n + m;
	}
	if (n > 0) {
		m = s5_encode_request(h->out + n, sizeof(h->out) - (size_t)n,
				      h->cmd, &h->dst);
		n = m < 0 ? m : n + m;
	}
	if (n < 0) {
		fail(h, n == -EINVAL ? EINVAL : ENOBUFS,
		     "username, password or request cannot be encoded");
		return;
	}
	h->outlen = (size_t)n;
	h->outoff = 0;
	h->pipelined = 1;
}

/* Moves to a sending state (fills the buffer) or a reading one. */
static void enter(struct hs *h, enum hs_state s)
{
	h->state = s;
	h->inlen = 0;
	if (s == HS_AUTH || s == HS_REQUEST)
		prepare_out(h);
}

/* Runs the parser for the current reading state over what we have.
 * Returns the number of bytes still needed (0 when the state advanced). */
static size_t parse_in(struct hs *h)
{
	int r;
	uint8_t v;
	size_t used;

	switch (h->state) {
	case HS_METHOD:
		r = s5_parse_method_reply(h->in, h->inlen, &v);
		if (r != 0)
			break;
		h->method = v;
		if (h->pipelined) {
			/* We offered one method and sent what follows it. */
			if (v ==
			    (h->user ? S5_METHOD_USERPASS : S5_METHOD_NOAUTH))
				enter(h, h->user ? HS_AUTH_REPLY : HS_REPLY);
			else if (v == S5_METHOD_NONE)
				fail(h, EACCES,
				     h->user ? "proxy does not accept "
					       "username/password "
					       "authentication"
					     : "proxy requires authentication "
					       "and none is configured");
			else
				fail(h, EPROTO,
				     "proxy chose a method we did not offer");
		} else if (v == S5_METHOD_NOAUTH) {
			enter(h, HS_REQUEST);
		} else if (v == S5_METHOD_USERPASS && h->user) {
			enter(h, HS_AUTH);
		} else if (v == S5_METHOD_USERPASS) {
			fail(h, EACCES,
			     "proxy requires username/password authentication "
			     "and none is configured");
		} else if (v == S5_METHOD_NONE) {
			fail(h, EACCES,
			     h->user
				 ? "proxy accepts none of our authentication "
				   "methods (no-auth, username/password)"
				 : "proxy requires authentication and none is "
				   "configured");
		} else {
			fail(h, EPROTO,
			     "proxy chose a method we did not offer");
		}
		return 0;
	case HS_AUTH_REPLY:
		r = s5_parse_userpass_reply(h->in, h->inlen, &v);
		if (r != 0)
			break;
		if (v != 0)
			fail(h, EACCES,
			     "proxy rejected the username/password "
			     "(authentication failed)");
		else
			enter(h, h->pipelined ? HS_REPLY : HS_REQUEST);
		return 0;
	case HS_REPLY:
		r = s5_parse_reply(h->in, h->inlen, &h->rep, &h->bnd, &used);
		if (r != 0)
			break;
		if (h->rep != S5_REP_SUCCEEDED)
			fail(h, s5_reply_errno(h->rep), s5_reply_str(h->rep));
		else
			h->state = HS_DONE;
		return 0;
	default:
		return 0;
	}
	if (r < 0) {
		fail(h, EPROTO, "malformed reply from proxy");
		return 0;
	}
	return (size_t)r;
}

enum hs_io hs_next(struct hs *h, uint8_t **buf, size_t *len)
{
	size_t need;

	for (;;) {
		switch (h->state) {
		case HS_GREETING:
		case HS_AUTH:
		case HS_REQUEST:
			*buf = h->out + h->outoff;
			*len = h->outlen - h->outoff;
			return HS_IO_WRITE;
		case HS_METHOD:
		case HS_AUTH_REPLY:
		case HS_REPLY:
			need = parse_in(h);
			if (need == 0)
				continue; /* state advanced (or failed) */
			if (need > sizeof(h->in) - h->inlen) {
				fail(h, EPROTO, "oversized reply from proxy");
				continue;
			}
			*buf = h->in + h->inlen;
			*len = need;
			return HS_IO_READ;
		case HS_DONE:
			return HS_IO_DONE;
		case HS_FAILED:
		default:
			return HS_IO_FAIL;
		}
	}
}

void hs_wrote(struct hs *h, size_t n)
{
	h->outoff += n;
	if (h->outoff < h->outlen)
		return;
	if (h->state == HS_AUTH || h->pipelined)
		explicit_bzero(h->out, sizeof(h->out));
	switch (h->state) {
	case HS_GREETING:
		enter(h, HS_METHOD);
		break;
	case HS_AUTH:
		enter(h, HS_AUTH_REPLY);
		break;
	case HS_REQUEST:
		enter(h, HS_REPLY);
		break;
	default:
		break;
	}
}

void hs_got(struct hs *h, size_t n)
{
	h->inlen += n;
}

/*
 * What a hang-up right after a request usually means (OpenSSH's -D, for
 * one, carries CONNECT only and hangs up on the rest; on CONNECT it hangs
 * up when its own connect fails, a name it cannot resolve included).  One
 * wording, for the shim's lines (in the reason, below) and the launcher's
 * check (hs_hangup_hint).
 */
#define HINT_CONNECT                                                           \
	"a proxy does so when it cannot resolve the name or reach the "        \
	"destination (ssh -D, for one)"
#define HINT_UDP  "it carries no UDP (ssh -D, for one, does CONNECT only)"
#define HINT_BIND "it offers no BIND (ssh -D, for one, does CONNECT only)"
#define HUNG_UP(what, hint)                                                    \
	"the proxy hung up on the " what " request without a reply: " hint

void hs_eof(struct hs *h)
{
	if (h->state == HS_REPLY && h->inlen == 0)
		fail(h, ECONNRESET,
		     h->cmd == S5_CMD_UDP_ASSOCIATE
			 ? HUNG_UP("UDP ASSOCIATE", HINT_UDP)
		     : h->cmd == S5_CMD_BIND
			 ? HUNG_UP("BIND", HINT_BIND)
			 : HUNG_UP("CONNECT", HINT_CONNECT));
	else if (h->state == HS_REPLY)
		fail(h, ECONNRESET,
		     "the proxy closed the connection in the middle of its "
		     "reply");
	else if (h->state != HS_DONE && h->state != HS_FAILED)
		fail(h, ECONNRESET,
		     "proxy closed the connection during the "
		     "SOCKS5 handshake");
}

int hs_hung_up(const struct hs *h)
{
	return h->state == HS_FAILED && h->failed_in == HS_REPLY &&
	       h->err == ECONNRESET && h->inlen == 0;
}

const char *hs_hangup_hint(uint8_t cmd)
{
	switch (cmd) {
	case S5_CMD_UDP_ASSOCIATE:
		return HINT_UDP;
	case S5_CMD_BIND:
		return HINT_BIND;
	default:
		return HINT_CONNECT;
	}
}

void hs_wipe(struct hs *h)
{
	explicit_bzero(h->out, sizeof(h->out));
	h->user = h->pass = NULL;
	h->ulen = h->plen = 0;
}
