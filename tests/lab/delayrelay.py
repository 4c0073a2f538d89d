#!/usr/bin/python3
"""tests/lab/delayrelay.py - a TCP relay that delays every chunk, and counts
SOCKS5 handshakes in flight (python3 stdlib only).

    delayrelay.py --listen ADDR:PORT --to ADDR:PORT --delay-ms 50 \
                  [--stats FILE] [--ready FILE]

(IPv6 addresses in brackets: --listen [2001:db8:1::1]:1082.)

Every accepted connection gets its own connection to --to.  Each chunk read
from either side is written to the other side D ms after it was read (D =
--delay-ms): per direction the order is kept and the delay does not add up
(a chunk that arrived 1 ms after the previous one leaves 1 ms after it, not
D ms after it).  An EOF is passed on the same way, after the delay, as a
shutdown(SHUT_WR) of the other side, so half-closed connections work; a
reset or an error on either side aborts both.  This stands in for netem,
which this kernel lacks.

Handshake tracking: the server-to-client byte stream is parsed as a SOCKS5
server's answers, minimally: the method reply (VER METHOD; with METHOD 0x02
the 2-byte RFC 1929 status follows), then the request reply (VER REP RSV
ATYP, the address: 4 bytes, 16 bytes, or a length byte and that many, then
2 port bytes).  A connection is "in handshake" from its accept until that
reply has been written to the client, or until the connection ends.  Bytes
after the reply are not looked at.

--stats FILE gets a JSON object, rewritten (write to FILE.tmp, rename) after
every change, coalesced within one turn of the event loop, and at exit:

    connections           connections accepted
    peak_handshaking      most connections in handshake at the same time
    completed_handshakes  handshakes whose last answer was delivered: the
                          request reply (any REP), or a refusal of the
                          methods or of the RFC 1929 credentials
    refused_handshakes    of those, the ones that said no (REP != 0, a
                          refusal, or bytes that are not SOCKS5)
    aborted_handshakes    connections that ended in handshake (no reply)
    handshaking           in handshake now
    open                  open now;  peak_open: most open at once
    upstream_failures     connections to --to that could not be made
    delay_ms              D

peak_handshaking is what the lab's tests read: N clients whose connects
overlap push it towards N, clients that connect one after another leave it
at 1, whatever the machine's speed.

--ready FILE is created once the socket listens.  SIGTERM and SIGINT write
the stats and exit 0.
"""
import argparse
import asyncio
import json
import os
import resource
import signal
import socket
import sys

CHUNK = 65536
QUEUE_CHUNKS = 64  # per direction: beyond this the reader waits (backpressure)


def hostport(text):
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or not rest.startswith(":"):
            raise argparse.ArgumentTypeError("want [ADDR]:PORT, got %r" % text)
        port = rest[1:]
    else:
        host, sep, port = text.rpartition(":")
        if not sep or ":" in host:
            raise argparse.ArgumentTypeError("want ADDR:PORT, got %r" % text)
    try:
        port = int(port)
    except ValueError:
        raise argparse.ArgumentTypeError("bad port in %r" % text) from None
    if not 0 < port < 65536:
        raise argparse.ArgumentTypeError("bad port in %r" % text)
    return host, port


class Stats:
    def __init__(self, path, delay_ms):
        self.path = path
        self.v = {
            "connections": 0,
            "peak_handshaking": 0,
            "completed_handshakes": 0,
            "refused_handshakes": 0,
            "aborted_handshakes": 0,
            "handshaking": 0,
            "open": 0,
            "peak_open": 0,
            "upstream_failures": 0,
            "delay_ms": delay_ms,
        }
        self.scheduled = False

    def accepted(self):
        v = self.v
        v["connections"] += 1
        v["open"] += 1
        v["handshaking"] += 1
        v["peak_open"] = max(v["peak_open"], v["open"])
        v["peak_handshaking"] = max(v["peak_handshaking"], v["handshaking"])
        self.changed()

    def add(self, key, n=1):
        self.v[key] += n
        self.changed()

    def changed(self):
        if self.path and not self.scheduled:
            self.scheduled = True
            asyncio.get_running_loop().call_soon(self.flush)

    def flush(self):
        self.scheduled = False
        if not self.path:
            return
        tmp = self.path + ".tmp"
        try:
            with open(tmp, "w") as f:
                json.dump(self.v, f, sort_keys=True)
                f.write("\n")
            os.replace(tmp, self.path)
        except OSError as e:
            sys.stderr.write("delayrelay: cannot write %s: %s\n" % (self.path, e))


class ReplyParser:
    """Follows a SOCKS5 server's answers until the request reply is complete.

    feed(data) returns None while the handshake goes on, else "ok" or
    "refused" (the handshake is over; later bytes are not parsed).
    """

    def __init__(self):
        self.state = "method"
        self.need = 2
        self.buf = b""
        self.result = None

    def feed(self, data):
        while self.result is None and data:
            take = self.need - len(self.buf)
            self.buf += data[:take]
            data = data[take:]
            if len(self.buf) < self.need:
                break
            self.step()
        return self.result

    def step(self):
        b, st = self.buf, self.state
        if st == "method":
            if b[0] != 5 or b[1] == 0xFF:
                self.result = "refused"
            elif b[1] == 0x02:
                self.state, self.need = "auth", 2
            else:
                self.state, self.need = "reply", 4
        elif st == "auth":
            if b[1] != 0:
                self.result = "refused"
            else:
                self.state, self.need = "reply", 4
        elif st == "reply":
            if b[0] != 5:
                self.result = "refused"
                return
            self.rep = b[1]
            atyp = b[3]
            if atyp == 1:
                self.state, self.need = "addr", 4 + 2
            elif atyp == 4:
                self.state, self.need = "addr", 16 + 2
            elif atyp == 3:
                self.state, self.need = "namelen", 1
            else:
                self.result = "refused"
                return
        elif st == "namelen":
            self.state, self.need = "addr", b[0] + 2
        elif st == "addr":
            self.result = "ok" if self.rep == 0 else "refused"
        self.buf = b""


EOF = b""
ERROR = None


class Conn:
    def __init__(self, relay, creader, cwriter):
        self.relay = relay
        self.stats = relay.stats
        self.creader, self.cwriter = creader, cwriter
        self.uwriter = None
        self.in_handshake = True
        self.parser = ReplyParser()
        self.eofs = 0

    def end_handshake(self, how):
        if not self.in_handshake:
            return
        self.in_handshake = False
        self.stats.v["handshaking"] -= 1
        if how == "ok":
            self.stats.add("completed_handshakes")
        elif how == "refused":
            self.stats.v["completed_handshakes"] += 1
            self.stats.add("refused_handshakes")
        else:
            self.stats.add("aborted_handshakes")

    async def run(self):
        loop = asyncio.get_running_loop()
        q_up = asyncio.Queue(QUEUE_CHUNKS)
        q_down = asyncio.Queue(QUEUE_CHUNKS)
        # The client's bytes are read (and time-stamped) from the accept on,
        # while the upstream connection is still being made.
        tasks = [loop.create_task(self.reader(self.creader, q_up))]
        try:
            try:
                ureader, self.uwriter = await asyncio.open_connection(*self.relay.to)
            except OSError as e:
                self.stats.add("upstream_failures")
                sys.stderr.write("delayrelay: upstream %s: %s\n" % (self.relay.to_text, e))
                return
            tasks.append(loop.create_task(self.reader(ureader, q_down)))
            tasks.append(loop.create_task(self.writer(q_up, self.uwriter, False)))
            tasks.append(loop.create_task(self.writer(q_down, self.cwriter, True)))
            done, _ = await asyncio.wait(tasks[2:], return_when=asyncio.FIRST_EXCEPTION)
            for t in done:
                if t.exception() is not None:
                    self.abort()
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self.end_handshake("aborted")
            for w in (self.cwriter, self.uwriter):
                if w is not None:
                    w.close()
            self.stats.add("open", -1)

    def abort(self):
        for w in (self.cwriter, self.uwriter):
            if w is not None:
                w.transport.abort()

    async def reader(self, reader, q):
        loop = asyncio.get_running_loop()
        try:
            while True:
                data = await reader.read(CHUNK)
                await q.put((loop.time(), data))
                if not data:
                    return
        except (ConnectionError, OSError):
            await q.put((loop.time(), ERROR))

    async def writer(self, q, w, to_client):
        loop = asyncio.get_running_loop()
        delay = self.relay.delay
        while True:
            t, data = await q.get()
            wait = t + delay - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if data is ERROR:
                raise ConnectionResetError("the other side failed")
            if data == EOF:
                if w.can_write_eof() and not w.transport.is_closing():
                    w.write_eof()
                return
            w.write(data)
            if to_client and self.in_handshake:
                how = self.parser.feed(data)
                if how is not None:
                    self.end_handshake(how)
            await w.drain()


class Relay:
    def __init__(self, args):
        self.to = args.to
        self.to_text = "%s:%d" % args.to
        self.delay = args.delay_ms / 1000.0
        self.stats = Stats(args.stats, args.delay_ms)

    async def accept(self, creader, cwriter):
        self.stats.accepted()
        try:
            await Conn(self, creader, cwriter).run()
        except Exception as e:  # one connection's trouble never stops the relay
            sys.stderr.write("delayrelay: connection: %r\n" % (e,))


async def main_async(args):
    relay = Relay(args)
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
    host, port = args.listen
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    server = await asyncio.start_server(relay.accept, host, port, family=fam,
                                        backlog=1024, reuse_address=True)
    relay.stats.flush()
    if args.ready:
        with open(args.ready, "w") as f:
            f.write("ready\n")
    await stop
    server.close()
    relay.stats.flush()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--listen", type=hostport, required=True)
    ap.add_argument("--to", type=hostport, required=True)
    ap.add_argument("--delay-ms", type=float, default=50)
    ap.add_argument("--stats")
    ap.add_argument("--ready")
    args = ap.parse_args()
    # Two fds per connection: make room for many hundreds.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 8192 if hard == resource.RLIM_INFINITY else min(hard, 8192)
    if soft != resource.RLIM_INFINITY and soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
