#!/usr/bin/python3
"""fake_socks5.py - a scripted, deliberately misbehaving SOCKS5 server.

    fake_socks5.py --port N --scenario NAME[,NAME...] [--log FILE]
                   [--ready FILE] [--mark FILE] [--host ADDR] [--conns K]
                   [--idle SECONDS]
    fake_socks5.py --list

One scenario per run, or a comma-separated list: the i-th connection
accepted gets the i-th name (the last one repeats).  The server listens on
--host (127.0.0.1) --port, serves --conns connections (1) with the
scenario, one thread each, and exits once they are all done; it also exits
by itself after --idle seconds (5) without any connection, and in any case
after MAX_LIFE seconds.

The bind_* scenarios serve a CONNECT (the client's control connection)
and a BIND on two connections (--conns 2): see bind_session.

--ready FILE is created once the socket listens (so a test can wait for it).
--mark FILE gets one line ("reply", "close", ...) appended, and closed,
just before the server writes its final answer to a request (success or
failure) or closes on purpose: a client that finds fewer lines there than
answers it has seen was told something before the server said it.
--log FILE records, one line per event, what the client sent, as hex:

    accept                 a connection was accepted
    greeting HEX           VER NMETHODS METHODS
    auth HEX               the RFC 1929 request (VER ULEN UNAME PLEN PASSWD)
    request HEX            VER CMD RSV ATYP DST.ADDR DST.PORT
    app HEX                application bytes received after the reply
                           (BIND: after the second reply and the peer's data)
    ctl HEX                bytes on a BIND scenario's control connection
    eof                    the client closed (or reset) the connection
    short PHASE HEX        the client closed in the middle of a message
    timeout PHASE          the client sent nothing for a while
    raw HEX                bytes received after the scenario stopped parsing
    sent HEX               what the server wrote (for debugging)
    mark WHAT              the line just appended to the --mark file
    closed                 the server closed the connection
    error TEXT             the scenario broke (bug in this script)

Python 3 standard library only.
"""

import argparse
import os
import socket
import struct
import sys
import threading
import time

MAX_LIFE = 30.0      # hard cap on the life of the process, seconds
READ_TIMEOUT = 8.0   # longest wait for one client message
BANNER = b"SERVER-FIRST-BYTES"   # first application bytes after a success
SLOW = 0.4           # the delay of the slow_* failure scenarios, seconds

BND_V4 = bytes([0x01, 10, 9, 8, 7]) + (4321).to_bytes(2, "big")
BND_V6 = bytes([0x04]) + bytes.fromhex("20010db8ffff00000000000000000042") + \
    (4321).to_bytes(2, "big")
_dom = b"bnd.proxy.example"
BND_DOMAIN = bytes([0x03, len(_dom)]) + _dom + (4321).to_bytes(2, "big")
_long = (b"x" * 63 + b".") * 3 + b"y" * 63   # 255 bytes, the most there is
BND_DOMAIN_255 = bytes([0x03, 255]) + _long + (4321).to_bytes(2, "big")
BND_ZERO = bytes([0x01, 0, 0, 0, 0, 0, 0])


class Short(Exception):
    """The client closed the connection before a message was complete."""


class Conn:
    def __init__(self, sock, log):
        self.s = sock
        self.log = log
        self.s.settimeout(READ_TIMEOUT)
        try:
            self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass

    def recv_exact(self, n, phase):
        buf = b""
        while len(buf) < n:
            try:
                chunk = self.s.recv(n - len(buf))
            except socket.timeout:
                self.log.write("timeout %s" % phase)
                raise Short()
            except OSError:
                chunk = b""
            if not chunk:
                self.log.write("short %s %s" % (phase, buf.hex()))
                raise Short()
            buf += chunk
        return buf

    def send(self, data, split=False, delay=0.03):
        """Writes data; split: one byte per write, delay between writes."""
        if not data:
            return
        self.log.write("sent %s" % data.hex())
        if not split:
            self.s.sendall(data)
            return
        for i in range(len(data)):
            self.s.sendall(data[i:i + 1])
            time.sleep(delay)

    def send_split_tail(self, data, tail, delay=0.03):
        """Writes data one byte at a time, the last byte together with tail."""
        self.log.write("sent %s" % (data + tail).hex())
        for i in range(len(data) - 1):
            self.s.sendall(data[i:i + 1])
            time.sleep(delay)
        self.s.sendall(data[-1:] + tail)

    # --- client messages ---------------------------------------------------
    def read_greeting(self):
        head = self.recv_exact(2, "greeting")
        methods = self.recv_exact(head[1], "greeting") if head[1] else b""
        self.log.write("greeting %s" % (head + methods).hex())
        return head[0], methods

    def read_auth(self):
        head = self.recv_exact(2, "auth")
        user = self.recv_exact(head[1], "auth") if head[1] else b""
        plen = self.recv_exact(1, "auth")
        pw = self.recv_exact(plen[0], "auth") if plen[0] else b""
        self.log.write("auth %s" % (head + user + plen + pw).hex())
        return user, pw

    def read_request(self):
        head = self.recv_exact(4, "request")
        atyp = head[3]
        if atyp == 0x01:
            rest = self.recv_exact(4 + 2, "request")
        elif atyp == 0x04:
            rest = self.recv_exact(16 + 2, "request")
        elif atyp == 0x03:
            ln = self.recv_exact(1, "request")
            rest = ln + self.recv_exact(ln[0] + 2, "request")
        else:
            self.log.write("request %s" % head.hex())
            self.log.write("bad request ATYP %d" % atyp)
            raise Short()
        self.log.write("request %s" % (head + rest).hex())
        return head + rest

    def drain(self, tag="app", limit=READ_TIMEOUT):
        """Reads until EOF (or limit seconds of silence), logging the bytes."""
        data = b""
        self.s.settimeout(limit)
        try:
            while True:
                chunk = self.s.recv(4096)
                if not chunk:
                    break
                data += chunk
        except socket.timeout:
            if data:
                self.log.write("%s %s" % (tag, data.hex()))
            self.log.write("timeout %s" % tag)
            return data
        except OSError:
            pass
        if data:
            self.log.write("%s %s" % (tag, data.hex()))
        self.log.write("eof")
        return data

    def close(self):
        try:
            self.s.close()
        finally:
            self.log.write("closed")

    def reset(self):
        """Aborts the connection: SO_LINGER 0, so close() sends an RST."""
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                          struct.pack("ii", 1, 0))
        self.s.close()
        self.log.write("reset")

    def close_clean(self):
        """Closes after reading what the client already sent, so that the
        close is a FIN rather than an RST (the harder case for the client:
        a plain end of file in the middle of a message)."""
        self.s.setblocking(False)
        try:
            while True:
                chunk = self.s.recv(4096)
                if not chunk:
                    break
                self.log.write("raw %s" % chunk.hex())
        except OSError:
            pass
        self.close()


def method_for(methods):
    """The method this server picks: user/password if offered, else none."""
    if 0x02 in methods:
        return 0x02
    if 0x00 in methods:
        return 0x00
    return 0xFF


def reply(rep, bnd=BND_V4, ver=0x05, rsv=0x00):
    return bytes([ver, rep, rsv]) + bnd


# --- scenario building blocks -----------------------------------------------
def negotiate(c, split=False, methods=None):
    """Greeting (unless already read: methods), method reply and (if chosen)
    RFC 1929 with success."""
    if methods is None:
        _, methods = c.read_greeting()
    m = method_for(methods)
    c.send(bytes([0x05, m]), split=split)
    if m == 0x02:
        c.read_auth()
        c.send(b"\x01\x00", split=split)
    elif m == 0xFF:
        raise Short()


def success(bnd, split=False, pick=None):
    def run(c):
        if pick is None:
            negotiate(c, split)
        else:
            c.read_greeting()
            c.send(bytes([0x05, pick]), split=split)
        c.read_request()
        c.log.mark("reply")
        if split:
            c.send_split_tail(reply(0x00, bnd), BANNER)
        else:
            c.send(reply(0x00, bnd) + BANNER)
        c.drain()
        c.close()
    return run


def rep_code(code, delay=0.0):
    def run(c):
        negotiate(c)
        c.read_request()
        time.sleep(delay)
        c.log.mark("rep %02x" % code)
        c.send(reply(code, BND_ZERO))
        c.drain("raw")
        c.close()
    return run


def method_reply(data, delay=0.0):
    """Answers the greeting with data (after delay seconds), then waits for
    the client to go."""
    def run(c):
        c.read_greeting()
        time.sleep(delay)
        c.log.mark("method")
        c.send(data)
        c.drain("raw")
        c.close()
    return run


def bad_reply(data, delay=0.0):
    """A normal negotiation, then data as the CONNECT reply (after delay
    seconds)."""
    def run(c):
        negotiate(c)
        c.read_request()
        time.sleep(delay)
        c.log.mark("reply")
        c.send(data)
        c.drain("raw")
        c.close()
    return run


def auth_reply(data, delay=0.0):
    def run(c):
        _, methods = c.read_greeting()
        if 0x02 not in methods:
            c.log.write("error client did not offer method 02")
            c.close()
            return
        c.send(b"\x05\x02")
        c.read_auth()
        time.sleep(delay)
        c.log.mark("auth")
        c.send(data)
        c.drain("raw")
        c.close()
    return run


def close_at(phase, n=0, bnd=BND_V4):
    """Closes the connection in the middle of the handshake.

    phase: accept     right after accept, before reading anything
           greeting   after reading the greeting, nothing written
           method     after the greeting, having written n bytes of 05 00
           auth       after the RFC 1929 request, having written n bytes of 01 00
           reply      after the request, having written n bytes of the reply
    """
    def run(c):
        if phase == "accept":
            c.close()
            return
        _, methods = c.read_greeting()
        if phase == "greeting":
            c.close_clean()
            return
        if phase == "method":
            c.send(b"\x05\x00"[:n])
            c.close_clean()
            return
        if phase == "auth":
            if 0x02 not in methods:
                c.log.write("error client did not offer method 02")
            c.send(b"\x05\x02")
            c.read_auth()
            c.send(b"\x01\x00"[:n])
            c.close_clean()
            return
        negotiate(c, methods=methods)
        c.read_request()
        r = reply(0x00, bnd)
        assert n < len(r)
        c.send(r[:n], split=True, delay=0.01)
        c.close_clean()
    return run


def reset_at(phase, n=0):
    """Like close_at, but aborts with an RST instead of a FIN."""
    def run(c):
        if phase == "accept":
            c.reset()
            return
        _, methods = c.read_greeting()
        if phase == "method":
            c.send(b"\x05\x00"[:n])
        elif phase == "reply":
            negotiate(c, methods=methods)
            c.read_request()
            c.send(reply(0x00)[:n])
        time.sleep(0.05)
        c.reset()
    return run


def trickle(bnd=BND_DOMAIN, delay=0.4):
    """Answers, but one byte every delay seconds: a per-read timeout never
    fires, only a bound on the whole handshake does."""
    def run(c):
        negotiate(c)
        c.read_request()
        try:
            c.send(reply(0x00, bnd) + BANNER, split=True, delay=delay)
        except OSError:
            c.log.write("eof")
        c.close()
    return run


def silent_at(phase, n=0):
    """Stops answering in the middle of the handshake (keeps the connection
    open until the client gives up)."""
    def run(c):
        if phase == "accept":
            c.drain("raw")
            c.close()
            return
        _, methods = c.read_greeting()
        if phase == "method":
            c.send(b"\x05\x00"[:n])
        elif phase == "auth":
            c.send(b"\x05\x02")
            c.read_auth()
            c.send(b"\x01\x00"[:n])
        elif phase == "reply":
            negotiate(c, methods=methods)
            c.read_request()
            c.send(reply(0x00)[:n])
        c.drain("raw")
        c.close()
    return run


def slow_ok(delay):
    """Answers the request with success (and the banner) after delay
    seconds: a distant proxy, for tests that act during the handshake."""
    def run(c):
        negotiate(c)
        c.read_request()
        time.sleep(delay)
        c.log.mark("reply")
        c.send(reply(0x00, BND_V4) + BANNER)
        c.drain()
        c.close()
    return run


def slow_end(delay, how):
    """Reads the request, waits delay seconds, then closes (how "close": a
    FIN after reading what the client sent) or aborts ("reset": an RST)."""
    def run(c):
        negotiate(c)
        c.read_request()
        time.sleep(delay)
        c.log.mark(how)
        if how == "reset":
            c.reset()
        else:
            c.close_clean()
    return run


_first_lock = threading.Lock()
_first_seen = [False]


def hold_then_ok(delay=0.05):
    """The first connection gets a greeting answer and then silence; every
    later one is a slow success."""
    def run(c):
        with _first_lock:
            first = not _first_seen[0]
            _first_seen[0] = True
        if first:
            negotiate(c)
            c.read_request()
            c.drain("raw")
            c.close()
            return
        slow_ok(delay)(c)
    return run


# UDP ASSOCIATE: the relay is a UDP socket of this server on the same host;
# the client's datagrams are answered as the scenario says.
UDP_DST = bytes([0x01, 203, 0, 113, 10]) + (7).to_bytes(2, "big")


def udp_hdr(dst=UDP_DST, frag=0):
    return b"\x00\x00" + bytes([frag]) + dst


UDP_GARBAGE = [
    b"", b"\x00", b"\x00\x00", b"\x00\x00\x00", b"\x00\x00\x00\x01\x01",
    b"\x01\x00\x00" + UDP_DST + b"RSV",            # RSV != 0
    udp_hdr(frag=1) + b"FRAG",                      # a fragment
    b"\x00\x00\x00\x03\x00\x00\x07EMPTYNAME",      # zero-length name
    b"\x00\x00\x00\x03\x05a.b.c\x00\x07DOMAIN",     # a name: unshowable
    b"\x00\x00\x00\x07" + bytes(8),                # unknown ATYP
    b"\x00\x00\x00\x04" + bytes(16) + b"\x00\x07V6FOR4",  # IPv6 sender, v4 socket
]


def udp_relay(mode):
    def run(c):
        _, methods = c.read_greeting()
        m = method_for(methods)
        c.send(bytes([0x05, m]))
        if m == 0x02:
            c.read_auth()
            c.send(b"\x01\x00")
        req = c.read_request()
        if req[1] != 0x03:
            c.send(reply(0x07, BND_ZERO))
            c.close()
            return
        host = c.s.getsockname()[0]
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind((host, 0))
        port = u.getsockname()[1]
        c.send(reply(0x00, bytes([0x01]) + socket.inet_aton(host) +
                     port.to_bytes(2, "big")))
        u.settimeout(READ_TIMEOUT)
        try:
            d, a = u.recvfrom(65535)
        except socket.timeout:
            c.log.write("timeout udp")
            c.close()
            return
        c.log.write("udp %s" % d.hex())
        if mode == "garbage":
            for g in UDP_GARBAGE:
                u.sendto(g, a)
            # The right header from the wrong port, and from another host
            # (127.0.0.2 is loopback too: a rule may send it to the proxy).
            for src in ((host, 0), ("127.0.0.2", 0)):
                sp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                sp.bind(src)
                sp.sendto(udp_hdr() + b"SPOOFED", a)
                sp.close()
            time.sleep(0.6)
            u.sendto(udp_hdr() + b"REAL", a)
        elif mode == "ctlbyte":
            time.sleep(0.3)
            c.s.sendall(b"Z")
            c.log.write("sent ctl byte")
            time.sleep(0.4)
            u.sendto(udp_hdr() + b"REAL", a)
        elif mode == "closectl":
            time.sleep(0.4)
            c.close()
            u.close()
            return
        c.drain("raw")
        u.close()
        c.close()
    return run


# BIND (RFC 1928 section 4).  The client first connects its control
# connection (CONNECT, answered with a plain success; it stays open until
# the client goes), then sends BIND on a second connection: the first
# reply says where the proxy listens (BND), the second who connected, and
# the peer's bytes follow.  Every connection gets the same scenario; the
# command says which part it plays.
BIND_BND = bytes([0x01, 127, 0, 0, 5]) + (4321).to_bytes(2, "big")
BIND_PEER = bytes([0x01, 203, 0, 113, 10]) + (40000).to_bytes(2, "big")
BIND_OTHER = bytes([0x01, 198, 51, 100, 7]) + (40000).to_bytes(2, "big")
BIND_PEER_V6 = bytes([0x04]) + bytes.fromhex(
    "20010db8000000000000000000000010") + (40000).to_bytes(2, "big")
PEER_DATA = b"PEER-FIRST-BYTES"   # the peer's first bytes, after reply 2
BIND_GAP = 0.3                    # seconds between the two replies
BIND_OK = reply(0x00, BIND_BND)
BIND_PEER_OK = reply(0x00, BIND_PEER)


def reply_ok(r):
    """Whether r is a well-formed success reply."""
    return r[:3] == b"\x05\x00\x00" and r[3] in (0x01, 0x03, 0x04)


def bind_session(first=BIND_OK, second=BIND_PEER_OK, cut_first=None,
                 cut_second=None, after="answer", gap=BIND_GAP, split=False,
                 together=False):
    """first / second: the two BIND replies (a failure REP, or garbage,
    ends the exchange: the server then waits for the client to go).
    cut_first=k: only k bytes of the first reply, then a close (FIN);
    cut_second=k: the first reply, then k bytes of the second, then a close.
    after: "answer"; "close" or "reset" right after reading the request
    (OpenSSH's -D hangs up on anything but CONNECT); "silent_first" (no
    reply at all); "silent_second" (the first reply only).
    split: the second reply one byte per write, its last byte in the same
    write as the peer's data; together: both replies and the data in one
    write (a peer that connected at once)."""
    def run(c):
        negotiate(c)
        req = c.read_request()
        if req[1] == 0x01:
            c.log.mark("reply")
            c.send(reply(0x00, BND_V4))
            c.drain("ctl")
            c.close()
            return
        if req[1] != 0x02:
            c.log.write("error unexpected command %02x" % req[1])
            c.close()
            return
        if after in ("close", "reset"):
            c.log.mark(after)
            if after == "reset":
                c.reset()
            else:
                c.close_clean()
            return
        if after == "silent_first":
            c.drain("raw")
            c.close()
            return
        if cut_first is not None:
            c.log.mark("cut first %d" % cut_first)
            c.send(first[:cut_first], split=True, delay=0.01)
            c.close_clean()
            return
        if together:
            c.log.mark("reply")
            c.send(first + second + PEER_DATA)
        else:
            c.log.mark("reply")
            c.send(first)
            if not reply_ok(first):
                c.drain("raw")   # a failure (or garbage): the end
                c.close()
                return
            if after == "silent_second":
                c.drain("raw")
                c.close()
                return
            time.sleep(gap)
            if cut_second is not None:
                c.log.mark("cut second %d" % cut_second)
                c.send(second[:cut_second], split=True, delay=0.01)
                c.close_clean()
                return
            c.log.mark("second")
            if not reply_ok(second):
                c.send(second)
                c.drain("raw")
                c.close()
                return
            if split:
                c.send_split_tail(second, PEER_DATA)
            else:
                c.send(second + PEER_DATA)
        try:
            c.s.shutdown(socket.SHUT_WR)
        except OSError:   # the client is gone already (it refused BND)
            c.log.write("eof")
            c.close()
            return
        c.drain()
        c.close()
    return run


BIND_GARBAGE = {
    "bad_ver": reply(0x00, BIND_BND, ver=0x04),
    "bad_rsv": reply(0x00, BIND_BND, rsv=0x01),
    "bad_atyp": reply(0x00, b"\x05" + BIND_BND[1:]),
    "http": b"HTTP/1.0 200 OK\r\n\r\n",
}


SCENARIOS = {
    # slow answers: the handshake takes a while (tests that act during it)
    "slow_ok": slow_ok(0.4),
    "slow_ok_20ms": slow_ok(0.02),
    "slow_ok_1500": slow_ok(1.5),
    "hold_then_ok": hold_then_ok(),
    # slow failures: the answer comes SLOW seconds after the request (or
    # the greeting), so that a client can be caught reporting it early
    **{"slow_rep_%02x" % code: rep_code(code, delay=SLOW)
       for code in (0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09)},
    "slow_close": slow_end(SLOW, "close"),
    "slow_reset": slow_end(SLOW, "reset"),
    "slow_garbage": method_reply(b"HTTP/1.0 400 Bad Request\r\n\r\n",
                                 delay=SLOW),
    "slow_reply_garbage": bad_reply(b"HTTP/1.0 200 OK\r\n\r\n", delay=SLOW),
    "slow_method_none": method_reply(b"\x05\xff", delay=SLOW),
    "slow_auth_reject": auth_reply(b"\x01\x01", delay=SLOW),
    # UDP ASSOCIATE with a hostile relay
    "udp_garbage": udp_relay("garbage"),
    "udp_ctlbyte": udp_relay("ctlbyte"),
    "udp_closectl": udp_relay("closectl"),
    # success: BND as IPv4 / IPv6 / domain, whole or one byte per write,
    # the first application bytes in the same write as the reply's tail
    "ok_v4": success(BND_V4),
    "ok_v6": success(BND_V6),
    "ok_domain": success(BND_DOMAIN),
    "ok_split_v4": success(BND_V4, split=True),
    "ok_split_v6": success(BND_V6, split=True),
    "ok_split_domain": success(BND_DOMAIN, split=True),
    "ok_domain_255": success(BND_DOMAIN_255),
    # credentials offered, the server still picks "no authentication"
    "ok_pick_noauth": success(BND_V4, pick=0x00),
    # error replies
    **{"rep_%02x" % code: rep_code(code)
       for code in (0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09,
                    0x0a, 0x80, 0xff)},
    # method negotiation
    "method_none": method_reply(b"\x05\xff"),
    "method_bad_ver": method_reply(b"\x04\x00"),
    "method_unoffered": method_reply(b"\x05\x01"),   # GSSAPI, never offered
    "garbage": method_reply(b"HTTP/1.0 400 Bad Request\r\n\r\n"),
    # RFC 1929
    "auth_reject": auth_reply(b"\x01\x01"),
    "auth_reject_ff": auth_reply(b"\x01\xff"),
    "auth_bad_ver": auth_reply(b"\x07\x00"),
    # malformed CONNECT replies
    "reply_bad_ver": bad_reply(reply(0x00, BND_V4, ver=0x04) + BANNER),
    "reply_bad_ver0": bad_reply(reply(0x00, BND_V4, ver=0x00) + BANNER),
    "reply_bad_rsv": bad_reply(reply(0x00, BND_V4, rsv=0x01) + BANNER),
    "reply_bad_atyp": bad_reply(reply(0x00, b"\x05\x0a\x09\x08\x07\x10\xe1")
                                + BANNER),
    "reply_bad_atyp0": bad_reply(reply(0x00, b"\x00\x0a\x09\x08\x07\x10\xe1")
                                 + BANNER),
    "reply_garbage": bad_reply(b"HTTP/1.0 200 OK\r\n\r\n"),
    # close in the middle of the handshake
    "close_accept": close_at("accept"),
    "close_greeting": close_at("greeting"),
    "close_method_1": close_at("method", 1),
    "close_method_2": close_at("method", 2),   # then the request gets an RST
    "close_auth_0": close_at("auth", 0),
    "close_auth_1": close_at("auth", 1),
    "close_auth_2": close_at("auth", 2),
    **{"close_reply_%d" % n: close_at("reply", n) for n in range(10)},
    "close_reply_v6_10": close_at("reply", 10, BND_V6),
    "close_reply_v6_21": close_at("reply", 21, BND_V6),
    "close_reply_domain_4": close_at("reply", 4, BND_DOMAIN),
    "close_reply_domain_5": close_at("reply", 5, BND_DOMAIN),
    "close_reply_domain_12": close_at("reply", 12, BND_DOMAIN),
    "close_reply_domain_23": close_at("reply", 23, BND_DOMAIN),
    # abort (RST) in the middle of the handshake
    "reset_accept": reset_at("accept"),
    "reset_greeting": reset_at("greeting"),
    "reset_method_1": reset_at("method", 1),
    "reset_method_2": reset_at("method", 2),
    "reset_reply_0": reset_at("reply", 0),
    "reset_reply_5": reset_at("reply", 5),
    # answer too slowly
    "trickle_reply": trickle(),
    # never answer
    "silent_greeting": silent_at("greeting"),
    "silent_method_1": silent_at("method", 1),
    "silent_auth": silent_at("auth", 0),
    "silent_request": silent_at("reply", 0),
    "silent_reply_5": silent_at("reply", 5),
    # BIND: success, with the replies and the data in every arrangement
    "bind_ok": bind_session(),
    "bind_ok_split": bind_session(split=True),
    "bind_ok_together": bind_session(together=True),
    "bind_ok_slow": bind_session(gap=1.0),
    "bind_ok_bnd_zero": bind_session(first=reply(0x00, BND_ZERO[:5] +
                                                 (4321).to_bytes(2, "big"))),
    "bind_ok_peer_v6": bind_session(second=reply(0x00, BIND_PEER_V6)),
    # BIND: addresses a socket cannot show (a name; IPv6 for IPv4)
    "bind_first_domain": bind_session(first=reply(0x00, BND_DOMAIN)),
    "bind_first_v6": bind_session(first=reply(0x00, BND_V6)),
    "bind_second_domain": bind_session(second=reply(0x00, BND_DOMAIN)),
    # BIND: the proxy hangs up on the request, or never answers
    "bind_close_request": bind_session(after="close"),
    "bind_reset_request": bind_session(after="reset"),
    "bind_silent_first": bind_session(after="silent_first"),
    "bind_silent_second": bind_session(after="silent_second"),
    # BIND: the second reply names someone else
    "bind_other_peer": bind_session(second=reply(0x00, BIND_OTHER)),
    # BIND: truncated replies (k bytes, then a FIN)
    **{"bind_cut_first_%d" % n: bind_session(cut_first=n)
       for n in range(len(BIND_OK))},
    **{"bind_cut_second_%d" % n: bind_session(cut_second=n)
       for n in range(len(BIND_PEER_OK))},
    # BIND: failure codes in either reply
    **{"bind_first_rep_%02x" % code: bind_session(first=reply(code, BND_ZERO))
       for code in (0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09,
                    0xff)},
    **{"bind_second_rep_%02x" % code:
       bind_session(second=reply(code, BND_ZERO))
       for code in (0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09,
                    0xff)},
    # BIND: garbage in either reply
    **{"bind_first_%s" % k: bind_session(first=v)
       for k, v in BIND_GARBAGE.items()},
    **{"bind_second_%s" % k: bind_session(second=v)
       for k, v in BIND_GARBAGE.items()},
}


class Log:
    def __init__(self, path, mark=None):
        self.f = open(path, "a", buffering=1) if path else None
        self.mark_path = mark
        self.lock = threading.Lock()

    def mark(self, what):
        """Appends what to the --mark file (closed before returning, so a
        reader sees it at once) and logs it."""
        with self.lock:
            if self.mark_path:
                with open(self.mark_path, "a") as f:
                    f.write(what + "\n")
        self.write("mark %s" % what)

    def write(self, line):
        with self.lock:
            if self.f:
                self.f.write(line + "\n")
                self.f.flush()
            if os.environ.get("FAKE_SOCKS5_DEBUG"):
                sys.stderr.write("fake_socks5: %s\n" % line)


def serve(conn, scenario, log, named=False):
    c = Conn(conn, log)
    log.write("accept %s" % scenario if named else "accept")
    try:
        SCENARIOS[scenario](c)
    except Short:
        c.close()
    except (BrokenPipeError, ConnectionResetError) as e:
        log.write("eof (%s)" % e.__class__.__name__)
        c.close()
    except Exception as e:   # a bug here, not in the client
        log.write("error %r" % e)
        c.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--scenario")
    ap.add_argument("--log")
    ap.add_argument("--ready")
    ap.add_argument("--mark")
    ap.add_argument("--conns", type=int, default=1)
    ap.add_argument("--idle", type=float, default=5.0)
    ap.add_argument("--list", action="store_true")
    a = ap.parse_args()
    if a.list:
        print("\n".join(sorted(SCENARIOS)))
        return 0
    names = (a.scenario or "").split(",")
    if a.port is None or not all(n in SCENARIOS for n in names):
        ap.error("need --port and a known --scenario (see --list)")
    log = Log(a.log, a.mark)
    fam = socket.AF_INET6 if ":" in a.host else socket.AF_INET
    ls = socket.socket(fam, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((a.host, a.port))
    ls.listen(128)   # a burst of 100 connects at once gets no SYN dropped
    if a.ready:
        with open(a.ready, "w") as f:
            f.write("%d\n" % os.getpid())
    start = time.monotonic()
    last = start
    threads = []
    served = 0
    while True:
        now = time.monotonic()
        if now - start > MAX_LIFE:
            log.write("error max life reached")
            break
        alive = [t for t in threads if t.is_alive()]
        if served >= a.conns and not alive:
            break
        if alive:
            last = now
        elif now - last > a.idle:
            break
        if served >= a.conns:
            time.sleep(0.02)
            continue
        ls.settimeout(0.05)
        try:
            conn, _ = ls.accept()
        except socket.timeout:
            continue
        conn.settimeout(None)
        served += 1
        name = names[min(served, len(names)) - 1]
        t = threading.Thread(target=serve,
                             args=(conn, name, log, len(names) > 1),
                             daemon=True)
        t.start()
        threads.append(t)
    ls.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
