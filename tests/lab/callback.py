#!/usr/bin/python3
"""tests/lab/callback.py - the lab's call-back server for BIND (bind.sh).

    callback.py --addr 198.18.1.2 --addr 2001:db8:2::2 --port 2100 [--ready FILE]

A client connects (the control connection) and sends one line

    HOST PORT DELAY_MS SIZE [SOURCE]

The server waits DELAY_MS, connects to HOST:PORT (the data connection: in
the lab the address a SOCKS BIND made the proxy listen on) from SOURCE
(default: the control connection's own address, as an FTP server does;
the target has its resolver's addresses too, which the kernel may pick
and the proxy would refuse as not the expected peer) and then:

  - on the control connection: "from ADDR PORT" (its own end of the data
    connection, i.e. the peer the client should see), or "error NAME"
    when the connect failed (and closes);
  - on the data connection: SIZE bytes, byte i being (i * 31 + 7) % 256;
  - reads the data connection until the line "back" arrives, then writes
    "back-ok" on the control connection (or "back-bad ..." on EOF/timeout).

Each client is served on its own thread; runs until killed.  FILE is
created once every address listens.
"""
import argparse
import errno
import socket
import sys
import threading
import time


def family_of(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def pattern(size):
    return bytes((i * 31 + 7) % 256 for i in range(size))


def ename(e):
    return errno.errorcode.get(e.errno, type(e).__name__) if e.errno else type(e).__name__


def serve(ctl):
    ctl.settimeout(30)
    data = None
    try:
        line = b""
        while not line.endswith(b"\n"):
            c = ctl.recv(1)
            if not c:
                return
            line += c
        f = line.decode().split()
        host, port, delay, size = f[:4]
        # The source: the control connection's own address (as an FTP
        # server's data connection), or the fifth field.
        src = f[4] if len(f) > 4 else ctl.getsockname()[0]
        time.sleep(int(delay) / 1000.0)
        try:
            data = socket.create_connection((host, int(port)), timeout=10,
                                            source_address=(src, 0))
        except OSError as e:
            ctl.sendall(("error %s\n" % ename(e)).encode())
            return
        me = data.getsockname()
        ctl.sendall(("from %s %d\n" % (me[0], me[1])).encode())
        data.sendall(pattern(int(size)))
        data.settimeout(15)
        got = b""
        try:
            while not got.endswith(b"back\n"):
                c = data.recv(100)
                if not c:
                    break
                got += c
        except OSError as e:
            ctl.sendall(("back-bad %s\n" % ename(e)).encode())
            return
        ctl.sendall(b"back-ok\n" if got.endswith(b"back\n") else b"back-bad eof\n")
    except OSError as e:
        print("callback: %s" % e, file=sys.stderr)
    finally:
        if data:
            data.close()
        ctl.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--addr", action="append", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--ready")
    a = ap.parse_args()
    socks = []
    for addr in a.addr:
        s = socket.socket(family_of(addr), socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((addr, a.port))
        s.listen(64)
        socks.append(s)
    if a.ready:
        with open(a.ready, "w") as f:
            f.write("ready\n")

    def loop(s):
        while True:
            c, _ = s.accept()
            threading.Thread(target=serve, args=(c,), daemon=True).start()

    for s in socks[1:]:
        threading.Thread(target=loop, args=(s,), daemon=True).start()
    loop(socks[0])


if __name__ == "__main__":
    main()
