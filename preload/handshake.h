/*
 * handshake.h - the SOCKS5 client handshake as a pure state machine.
 *
 * No syscalls: the driver asks hs_next() what to do, performs the I/O on
 * whatever socket and with whatever waiting it likes (blocking, poll, an
 * event loop), and reports back with hs_wrote() / hs_got() / hs_eof().
 * Reads are never asked for more bytes than the current message still
 * needs, so no byte after the final reply (application data the proxy
 * already relayed) is ever consumed.
 */
#ifndef SOCKSIFY_HANDSHAKE_H
#define SOCKSIFY_HANDSHAKE_H

#include <stddef.h>
#include <stdint.h>

#include "socks5.h"

enum hs_state {
	HS_GREETING,   /* sending the method list */
	HS_METHOD,     /* reading the chosen method */
	HS_AUTH,       /* sending RFC 1929 credentials */
	HS_AUTH_REPLY, /* reading the RFC 1929 status */
	HS_REQUEST,    /* sending the request */
	HS_REPLY,      /* reading the (first) reply */
	HS_DONE,
	HS_FAILED,
};

enum hs_io {
	HS_IO_WRITE, /* write *buf, *len bytes (partial writes are fine) */
	HS_IO_READ,  /* read at most *len bytes into *buf */
	HS_IO_DONE,  /* success: h->rep == 0, h->bnd holds BND.ADDR/PORT */
	HS_IO_FAIL,  /* failure: h->err is the errno, h->why the reason */
};

struct hs {
	enum hs_state state;
	uint8_t cmd;
	struct s5_addr dst;
	const char *user, *pass; /* borrowed; NULL user: no authentication */
	size_t ulen, plen;
	/* Pipelined: the one-method greeting, the credentials and the
	 * request, all in one write. */
	uint8_t out[3 + S5_MAX_USERPASS + S5_MAX_REQUEST];
	int pipelined;
	size_t outlen, outoff;
	uint8_t in[S5_MAX_REPLY];
	size_t inlen;
	uint8_t method;		 /* the method the proxy chose, once read */
	uint8_t rep;		 /* REP of the reply, once read */
	struct s5_addr bnd;	 /* BND.ADDR/BND.PORT of the reply */
	int err;		 /* errno on failure */
	enum hs_state failed_in; /* the state it failed in */
	const char *why;	 /* static reason on failure, for the log */
};

/* Starts a handshake for cmd (S5_CMD_*) to dst.  With user non-NULL both
 * no-auth and username/password are offered (1..255 bytes each). */
void hs_init(struct hs *h, uint8_t cmd, const struct s5_addr *dst,
	     const char *user, size_t ulen, const char *pass, size_t plen);

/* Right after hs_init: send the greeting (offering only the method we
 * will use: username/password when we have credentials, else no-auth),
 * the credentials and the request in one write, saving a round trip per
 * reply we do not wait for.  The replies are read in order as usual.  A
 * server that reads the greeting and discards the rest of its buffer
 * breaks this (see socks.conf.example, `pipeline`). */
void hs_pipeline(struct hs *h);

/* What to do next.  For WRITE and READ, buf and len say where and how
 * much. */
enum hs_io hs_next(struct hs *h, uint8_t **buf, size_t *len);

/* n bytes of the last WRITE were written. */
void hs_wrote(struct hs *h, size_t n);
/* n (> 0) bytes were read into the buffer of the last READ. */
void hs_got(struct hs *h, size_t n);
/* The proxy closed the connection (an end of file, or an RST: drivers
 * report both so).  Right after the request, before any byte of the
 * reply, h->why names the request and says what such a hang-up usually
 * means (hs_hangup_hint). */
void hs_eof(struct hs *h);
/* 1 when h failed because the proxy hung up right after the request,
 * before any byte of the reply (hs_eof in HS_REPLY). */
int hs_hung_up(const struct hs *h);
/* What a proxy's hang-up right after a request for cmd (S5_CMD_*)
 * usually means, for a line that names the request itself; h->why after
 * such a hang-up already carries it. */
const char *hs_hangup_hint(uint8_t cmd);
/* Wipes credentials from the state (call when done either way). */
void hs_wipe(struct hs *h);

#endif
