#!/usr/bin/python3
"""tests/lab/forkexit.py - a listener carried by BIND outlives the process
that made it (bind.sh, case f).

    forkexit.py HOST PORT RESULT_FILE

Connects the control connection to the call-back server (callback.py) at
HOST PORT, listens on port 0, asks the server to call back in 1.5 s, and
forks: the parent exits at once (its waiter thread goes with it) and the
child must accept the call-back all the same (its own waiter takes the
wait over).  The child writes "ok PEER BYTES" or "error WHAT" to
RESULT_FILE.
"""
import os
import socket
import sys

host, port, result = sys.argv[1], int(sys.argv[2]), sys.argv[3]
fam = socket.AF_INET6 if ":" in host else socket.AF_INET
ctl = socket.create_connection((host, port), timeout=10)
lst = socket.socket(fam, socket.SOCK_STREAM)
lst.bind(("", 0))
lst.listen(1)
bhost, bport = lst.getsockname()[:2]
ctl.sendall(("%s %d 1500 1000\n" % (bhost, bport)).encode())
if os.fork() != 0:
    os._exit(0)
try:
    lst.settimeout(15)
    conn, peer = lst.accept()
    conn.settimeout(10)
    got = b""
    while len(got) < 1000:
        b = conn.recv(65536)
        if not b:
            break
        got += b
    ok = got == bytes((i * 31 + 7) % 256 for i in range(1000))
    out = "ok %s %d" % (peer[0], len(got)) if ok else "error %d bytes" % len(got)
except Exception as e:  # noqa: BLE001 - reported, not raised
    out = "error %s" % e
with open(result, "w") as f:
    f.write(out + "\n")
