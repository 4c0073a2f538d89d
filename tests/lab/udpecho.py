#!/usr/bin/python3
"""tests/lab/udpecho.py - the lab's UDP echo server, and a spoofing sender.

Server (in the target namespace):

    udpecho.py --addr 198.18.1.2 --addr 2001:db8:2::2 --port 7 [--ready FILE]

Echoes every datagram (any size up to 65535 bytes, including empty ones)
back to its sender, from the address and port it was sent to.  danted
relays UDP from a *connected* socket, so a reply from any other address of
this host would never reach it.  Each --addr gets its own socket; an
--addr of 0.0.0.0 or :: (a wildcard) is served with IP_PKTINFO /
IPV6_RECVPKTINFO so that the reply still leaves from the datagram's
destination address.  FILE is written once every socket is bound.

A datagram "SPOOF <host> <port>" is echoed as usual and, in addition, a
datagram "SPOOFED" is sent to (host, port) from another socket, i.e. not
as a reply to the sender.  (In the lab the target cannot reach the client;
the spoof tests use the sender mode below from the border instead.)

Sender (the spoof, e.g. in the border namespace):

    udpecho.py --spoof HOST PORT [--from ADDR] [--payload TEXT] [--socks-from ADDR:PORT]

sends TEXT (default "SPOOFED") to HOST:PORT from ADDR (default: any), once
as it is and once wrapped in a SOCKS5 UDP request header (RFC 1928 section
7) claiming the datagram comes from --socks-from (default 198.18.1.2:7),
the way a relay's reply would look.  Exits 0 once both are sent.

Relay check (no shim; validates the lab's danted UDP relay by hand):

    udpecho.py --relay-test PROXY PROXYPORT HOST PORT SIZE...

does a SOCKS5 UDP ASSOCIATE (method none) with PROXY:PROXYPORT, sends one
datagram of each SIZE (random bytes) for HOST:PORT through the relay and
prints "SIZE ok FROM-HOST FROM-PORT" per echo that comes back byte-exact
(FROM: the address in the relay's SOCKS header), "SIZE bad ..." otherwise.
Exits 0 only if every size came back.
"""

import argparse
import ipaddress
import os
import select
import socket
import struct
import sys

MAXDGRAM = 65535


def family_of(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def is_wildcard(addr):
    return addr in ("0.0.0.0", "::")


def make_socket(addr, port):
    fam = family_of(addr)
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if fam == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    if is_wildcard(addr):
        if fam == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
        else:
            s.setsockopt(socket.IPPROTO_IP, socket.IP_PKTINFO, 1)
    # Large enough for a few maximum-size datagrams.
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
    s.bind((addr, port))
    return s


IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)
IPV6_PKTINFO = getattr(socket, "IPV6_PKTINFO", 50)


def reply_ancillary(s, ancdata):
    """The control message that makes a wildcard socket's reply leave from
    the address the datagram was sent to."""
    out = []
    for level, typ, data in ancdata:
        if level == socket.IPPROTO_IP and typ == IP_PKTINFO and len(data) >= 12:
            # struct in_pktinfo { int ifindex; in_addr spec_dst; in_addr addr; }
            ifindex, _spec, dst = struct.unpack("=I4s4s", data[:12])
            out.append((socket.IPPROTO_IP, IP_PKTINFO,
                        struct.pack("=I4s4s", 0, dst, b"\0" * 4)))
        elif level == socket.IPPROTO_IPV6 and typ == IPV6_PKTINFO and len(data) >= 20:
            # struct in6_pktinfo { in6_addr addr; unsigned ifindex; }
            dst, ifindex = struct.unpack("=16sI", data[:20])
            out.append((socket.IPPROTO_IPV6, IPV6_PKTINFO,
                        struct.pack("=16sI", dst, ifindex)))
    return out


def spoof_to(host, port, payload, src=None):
    t = socket.socket(family_of(host), socket.SOCK_DGRAM)
    try:
        if src:
            t.bind((src, 0))
        t.sendto(payload, (host, port))
    finally:
        t.close()


def handle(s, wildcard):
    try:
        if wildcard:
            data, anc, _flags, peer = s.recvmsg(MAXDGRAM, socket.CMSG_SPACE(64))
        else:
            data, peer = s.recvfrom(MAXDGRAM)
            anc = []
    except OSError as e:
        print("udpecho: recv: %s" % e, file=sys.stderr)
        return
    try:
        if wildcard:
            s.sendmsg([data], reply_ancillary(s, anc), 0, peer)
        else:
            s.sendto(data, peer)
    except OSError as e:
        print("udpecho: reply of %d bytes to %s: %s" % (len(data), peer, e),
              file=sys.stderr)
    if data.startswith(b"SPOOF "):
        try:
            _, host, port = data.decode("ascii", "replace").split()
            spoof_to(host, int(port), b"SPOOFED")
        except (ValueError, OSError) as e:
            print("udpecho: spoof %r: %s" % (data[:80], e), file=sys.stderr)


def serve(args):
    socks = {}
    for a in args.addr:
        s = make_socket(a, args.port)
        socks[s.fileno()] = (s, is_wildcard(a))
    if args.ready:
        tmp = args.ready + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % os.getpid())
        os.rename(tmp, args.ready)
    poller = select.poll()
    for fd in socks:
        poller.register(fd, select.POLLIN)
    while True:
        for fd, _ev in poller.poll():
            s, wildcard = socks[fd]
            handle(s, wildcard)


def socks_header(addr, port):
    ip = ipaddress.ip_address(addr)
    atyp = 1 if ip.version == 4 else 4
    return b"\0\0\0" + bytes([atyp]) + ip.packed + struct.pack("!H", port)


def spoof(args):
    host, port = args.spoof[0], int(args.spoof[1])
    payload = args.payload.encode()
    shost, _, sport = args.socks_from.rpartition(":")
    shost = shost.strip("[]")
    spoof_to(host, port, payload, args.src)
    spoof_to(host, port, socks_header(shost, int(sport)) + payload, args.src)
    return 0


def relay_test(args):
    phost, pport, host, port = args.relay_test[:4]
    pport, port = int(pport), int(port)
    sizes = [int(x) for x in args.relay_test[4:]] or [5]
    ctl = socket.create_connection((phost, pport), timeout=5)
    ctl.sendall(b"\x05\x01\x00")
    if ctl.recv(2) != b"\x05\x00":
        print("method negotiation failed")
        return 1
    fam = family_of(phost)
    u = socket.socket(fam, socket.SOCK_DGRAM)
    u.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    u.bind((ctl.getsockname()[0], 0))
    u.settimeout(5)
    # DST.ADDR/DST.PORT: where the client will send from.
    ctl.sendall(b"\x05\x03\x00" + socks_header(*u.getsockname()[:2])[3:])
    rep = ctl.recv(4)
    if len(rep) < 4 or rep[1] != 0:
        print("UDP ASSOCIATE refused: %r" % rep)
        return 1
    alen = {1: 4, 4: 16}[rep[3]]
    rest = b""
    while len(rest) < alen + 2:
        rest += ctl.recv(alen + 2 - len(rest))
    raddr = str(ipaddress.ip_address(rest[:alen]))
    rport = struct.unpack("!H", rest[alen:])[0]
    if raddr in ("0.0.0.0", "::"):
        raddr = phost
    ok = True
    for n in sizes:
        payload = os.urandom(n)
        try:
            u.sendto(socks_header(host, port) + payload, (raddr, rport))
            data, _src = u.recvfrom(MAXDGRAM)
        except OSError as e:
            print("%d bad: %s" % (n, e))
            ok = False
            continue
        atyp = data[3]
        alen = {1: 4, 4: 16}.get(atyp, 0)
        frm = str(ipaddress.ip_address(data[4:4 + alen])) if alen else "?"
        fport = struct.unpack("!H", data[4 + alen:6 + alen])[0] if alen else 0
        body = data[6 + alen:]
        if body == payload:
            print("%d ok %s %d" % (n, frm, fport))
        else:
            print("%d bad: %d bytes back" % (n, len(body)))
            ok = False
    ctl.close()
    return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--addr", action="append", default=[])
    ap.add_argument("--port", type=int, default=7)
    ap.add_argument("--ready")
    ap.add_argument("--spoof", nargs=2, metavar=("HOST", "PORT"))
    ap.add_argument("--from", dest="src")
    ap.add_argument("--payload", default="SPOOFED")
    ap.add_argument("--socks-from", default="198.18.1.2:7")
    ap.add_argument("--relay-test", nargs="+",
                    metavar="PROXY PROXYPORT HOST PORT SIZE")
    args = ap.parse_args()
    if args.relay_test:
        if len(args.relay_test) < 4:
            ap.error("--relay-test PROXY PROXYPORT HOST PORT [SIZE...]")
        return relay_test(args)
    if args.spoof:
        return spoof(args)
    if not args.addr:
        ap.error("--addr is required (or --spoof)")
    serve(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
