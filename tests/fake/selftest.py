#!/usr/bin/python3
"""selftest.py - checks fake_socks5.py itself with a strict reference client.

Runs every scenario the suite uses against a small, careful SOCKS5 client
written here (exact reads, the errno contract of run.sh), on 127.0.0.1 with
ephemeral ports; the BIND scenarios against a reference for the shim's
listen()/accept() errno contract (bind.h).  Needs no shim and no namespace.  Prints one line per
scenario and "selftest: N passed, N failed"; exits nonzero on a failure.
"""
import os
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
FAKE = os.path.join(HERE, "fake_socks5.py")
BANNER = b"SERVER-FIRST-BYTES"
REP_ERRNO = {1: "ECONNREFUSED", 2: "EACCES", 3: "ENETUNREACH",
             4: "EHOSTUNREACH", 5: "ECONNREFUSED", 6: "ETIMEDOUT",
             7: "EOPNOTSUPP", 8: "EAFNOSUPPORT"}


class Fail(Exception):
    pass


def client(port, dst, creds=None, timeout=1.0, split_send=False):
    """Returns ("0", banner) or (ERRNAME, None)."""
    s = socket.create_connection(("127.0.0.1", port))
    deadline = time.monotonic() + timeout

    def rd(n):
        buf = b""
        while len(buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Fail("ETIMEDOUT")
            s.settimeout(left)
            try:
                c = s.recv(n - len(buf))
            except socket.timeout:
                raise Fail("ETIMEDOUT")
            except ConnectionResetError:
                raise Fail("ECONNRESET")
            if not c:
                raise Fail("ECONNRESET")
            buf += c
        return buf

    def wr(b):
        try:
            s.sendall(b)
        except (BrokenPipeError, ConnectionResetError):
            raise Fail("ECONNRESET")

    try:
        methods = b"\x00\x02" if creds else b"\x00"
        wr(bytes([5, len(methods)]) + methods)
        v, m = rd(2)
        if v != 5:
            raise Fail("EPROTO")
        if m == 0xFF:
            raise Fail("EACCES")
        if m not in methods:
            raise Fail("EPROTO")
        if m == 2:
            u, p = creds
            wr(bytes([1, len(u)]) + u + bytes([len(p)]) + p)
            v, st = rd(2)
            if v != 1:
                raise Fail("EPROTO")
            if st != 0:
                raise Fail("EACCES")
        fam, addr = dst
        if fam == 4:
            req = b"\x05\x01\x00\x01" + socket.inet_pton(socket.AF_INET, addr)
        else:
            req = b"\x05\x01\x00\x04" + socket.inet_pton(socket.AF_INET6, addr)
        wr(req + (80).to_bytes(2, "big"))
        ver, rep, rsv, atyp = rd(4)
        if ver != 5 or rsv != 0:
            raise Fail("EPROTO")
        if atyp == 1:
            rd(6)
        elif atyp == 4:
            rd(18)
        elif atyp == 3:
            rd(rd(1)[0] + 2)
        else:
            raise Fail("EPROTO")
        if rep != 0:
            raise Fail(REP_ERRNO.get(rep, "ECONNREFUSED"))
        # the application bytes must be intact
        s.settimeout(3)
        got = b""
        while len(got) < len(BANNER):
            c = s.recv(len(BANNER) - len(got))
            if not c:
                break
            got += c
        s.sendall(b"PING")
        return "0", got
    except Fail as e:
        return str(e), None
    finally:
        s.close()


def free_port():
    t = socket.socket()
    t.bind(("127.0.0.1", 0))
    p = t.getsockname()[1]
    t.close()
    return p


def run(scenario, want, creds=None, dst=(4, "203.0.113.10"), expect_log=()):
    port = free_port()
    with tempfile.TemporaryDirectory() as d:
        log, ready = os.path.join(d, "log"), os.path.join(d, "ready")
        srv = subprocess.Popen([sys.executable, FAKE, "--port", str(port),
                                "--scenario", scenario, "--log", log,
                                "--ready", ready])
        for _ in range(500):
            if os.path.exists(ready):
                break
            time.sleep(0.01)
        t0 = time.monotonic()
        res, banner = client(port, dst, creds)
        el = time.monotonic() - t0
        try:
            srv.wait(5)
        except subprocess.TimeoutExpired:
            srv.kill()
            srv.wait()
            return False, "server did not exit"
        lines = open(log).read().splitlines()
    problems = []
    if res != want:
        problems.append("got %s want %s" % (res, want))
    if want == "0" and banner != BANNER:
        problems.append("banner %r" % banner)
    if want == "0" and "app 50494e47" not in lines:
        problems.append("server did not log the PING")
    if scenario.startswith(("silent", "trickle")) and not 0.8 < el < 2.5:
        problems.append("elapsed %.2f" % el)
    for e in expect_log:
        if e not in lines:
            problems.append("log lacks %r" % e)
    if any(ln.startswith("error") for ln in lines):
        problems.append("server error: %s" % [ln for ln in lines if ln.startswith("error")])
    return not problems, "; ".join(problems) or "ok (%s)" % res


PEER_DATA = b"PEER-FIRST-BYTES"
EXPECTED_PEER = socket.inet_aton("203.0.113.10")


def bind_client(port):
    """The BIND side of the call-back pattern, after a CONNECT on another
    connection; 1 s for the first reply (run.sh's timeout), 2 s for the
    second (its bind_timeout).  Returns ("listen", ERRNAME),
    ("accept", ERRNAME) or ("ok", data until EOF)."""
    ctl = socket.create_connection(("127.0.0.1", port))
    ctl.sendall(b"\x05\x01\x00")
    ctl.recv(2)
    ctl.sendall(b"\x05\x01\x00\x01" + EXPECTED_PEER + (80).to_bytes(2, "big"))
    ctl.recv(10)
    s = socket.create_connection(("127.0.0.1", port))
    got = [0]
    timeout = 1.0

    def rd(n, eof):
        buf = b""
        deadline = time.monotonic() + timeout
        while len(buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Fail("ETIMEDOUT")
            s.settimeout(left)
            try:
                c = s.recv(n - len(buf))
            except socket.timeout:
                raise Fail("ETIMEDOUT")
            except ConnectionResetError:
                c = b""
            if not c:
                raise Fail(eof(got[0]))
            buf += c
            got[0] += len(c)
        return buf

    def reply(eof):
        got[0] = 0
        ver, rep, rsv, atyp = rd(4, eof)
        if ver != 5 or rsv != 0 or atyp not in (1, 3, 4):
            raise Fail("EPROTO")
        addr = rd({1: 4, 4: 16}.get(atyp) or rd(1, eof)[0], eof)
        rd(2, eof)
        return rep, atyp, addr

    phase = "listen"
    try:
        s.sendall(b"\x05\x01\x00")
        if s.recv(2) != b"\x05\x00":
            raise Fail("EPROTO")
        s.sendall(b"\x05\x02\x00\x01" + EXPECTED_PEER + b"\x00\x00")
        rep, atyp, _ = reply(lambda n: "ECONNRESET" if n else "EOPNOTSUPP")
        if rep:
            raise Fail(REP_ERRNO.get(rep, "ECONNREFUSED"))
        if atyp != 1:
            raise Fail("EAFNOSUPPORT")
        phase = "accept"
        timeout = 2.0
        rep, atyp, addr = reply(lambda n: "ECONNABORTED")
        if rep:
            raise Fail("EPERM" if rep == 2 else "ECONNABORTED")
        if atyp == 3:
            raise Fail("EPROTO")
        if atyp == 4:
            raise Fail("EAFNOSUPPORT")
        if addr != EXPECTED_PEER:
            raise Fail("ECONNABORTED")
        data = b""
        s.settimeout(3)
        while True:
            c = s.recv(4096)
            if not c:
                break
            data += c
        s.sendall(b"PONG")
        return "ok", data
    except Fail as e:
        return phase, str(e)
    finally:
        s.close()
        ctl.close()


def run_bind(scenario, want):
    port = free_port()
    with tempfile.TemporaryDirectory() as d:
        log, ready = os.path.join(d, "log"), os.path.join(d, "ready")
        srv = subprocess.Popen([sys.executable, FAKE, "--port", str(port),
                                "--scenario", scenario, "--log", log,
                                "--ready", ready, "--conns", "2"])
        for _ in range(500):
            if os.path.exists(ready):
                break
            time.sleep(0.01)
        res = bind_client(port)
        try:
            srv.wait(5)
        except subprocess.TimeoutExpired:
            srv.kill()
            srv.wait()
            return False, "server did not exit"
        lines = open(log).read().splitlines()
    problems = []
    if res != want:
        problems.append("got %s want %s" % (res, want))
    if res[0] == "ok" and "app 504f4e47" not in lines:
        problems.append("server did not log the PONG")
    if "request 05020001cb00710a0000" not in lines:
        problems.append("server did not log the BIND request")
    if any(ln.startswith("error") for ln in lines):
        problems.append("server error: %s" % [ln for ln in lines if ln.startswith("error")])
    return not problems, "; ".join(problems) or "ok (%s %s)" % res


def bind_cases():
    """The BIND scenarios and what the reference client gets."""
    ok = ("ok", PEER_DATA)
    cases = [(s, ok) for s in ("bind_ok", "bind_ok_split",
                               "bind_ok_together", "bind_ok_slow",
                               "bind_ok_bnd_zero")]
    cases += [("bind_cut_first_0", ("listen", "EOPNOTSUPP")),
              ("bind_close_request", ("listen", "EOPNOTSUPP")),
              ("bind_reset_request", ("listen", "EOPNOTSUPP")),
              ("bind_silent_first", ("listen", "ETIMEDOUT")),
              ("bind_silent_second", ("accept", "ETIMEDOUT")),
              ("bind_other_peer", ("accept", "ECONNABORTED")),
              ("bind_ok_peer_v6", ("accept", "EAFNOSUPPORT")),
              ("bind_first_domain", ("listen", "EAFNOSUPPORT")),
              ("bind_first_v6", ("listen", "EAFNOSUPPORT")),
              ("bind_second_domain", ("accept", "EPROTO"))]
    cases += [("bind_cut_first_%d" % n, ("listen", "ECONNRESET"))
              for n in range(1, 10)]
    cases += [("bind_cut_second_%d" % n, ("accept", "ECONNABORTED"))
              for n in range(10)]
    for code in (1, 2, 3, 4, 5, 6, 7, 8, 9, 0xff):
        cases.append(("bind_first_rep_%02x" % code,
                      ("listen", REP_ERRNO.get(code, "ECONNREFUSED"))))
        cases.append(("bind_second_rep_%02x" % code,
                      ("accept", "EPERM" if code == 2 else "ECONNABORTED")))
    for g in ("bad_ver", "bad_rsv", "bad_atyp", "http"):
        cases.append(("bind_first_" + g, ("listen", "EPROTO")))
        cases.append(("bind_second_" + g, ("accept", "EPROTO")))
    return cases


def main():
    creds = (b"alice", b"s3cret-Pw")
    cases = []
    for s in ("ok_v4", "ok_v6", "ok_domain", "ok_split_v4", "ok_split_v6",
              "ok_split_domain"):
        cases.append((s, "0", None, (4, "203.0.113.10"),
                      ["greeting 050100", "request 05010001cb00710a0050"]))
    cases.append(("ok_v4", "0", None, (6, "2001:db8::10"),
                  ["request 0501000420010db80000000000000000000000100050"]))
    cases.append(("ok_v4", "0", creds, (4, "203.0.113.10"),
                  ["greeting 05020002", "auth 0105616c6963650973336372" +
                   "65742d5077"]))
    cases.append(("ok_split_domain", "0", creds, (4, "203.0.113.10"), []))
    cases.append(("ok_pick_noauth", "0", creds, (4, "203.0.113.10"), []))
    for code in (1, 2, 3, 4, 5, 6, 7, 8, 9, 0x0a, 0x80, 0xff):
        cases.append(("rep_%02x" % code, REP_ERRNO.get(code, "ECONNREFUSED"),
                      None, (4, "203.0.113.10"), []))
    for s, w in (("method_none", "EACCES"), ("method_bad_ver", "EPROTO"),
                 ("method_unoffered", "EPROTO"), ("garbage", "EPROTO"),
                 ("reply_bad_ver", "EPROTO"), ("reply_bad_ver0", "EPROTO"),
                 ("reply_bad_rsv", "EPROTO"), ("reply_bad_atyp", "EPROTO"),
                 ("reply_bad_atyp0", "EPROTO"), ("reply_garbage", "EPROTO")):
        cases.append((s, w, None, (4, "203.0.113.10"), []))
    for s, w in (("auth_reject", "EACCES"), ("auth_reject_ff", "EACCES"),
                 ("auth_bad_ver", "EPROTO"), ("method_none", "EACCES"),
                 ("close_auth_0", "ECONNRESET"), ("close_auth_1", "ECONNRESET"),
                 ("silent_auth", "ETIMEDOUT")):
        cases.append((s, w, creds, (4, "203.0.113.10"), []))
    closes = ["close_accept", "close_greeting", "close_method_1"] + \
        ["close_reply_%d" % n for n in range(10)] + \
        ["close_reply_v6_10", "close_reply_v6_21", "close_reply_domain_4",
         "close_reply_domain_5", "close_reply_domain_12",
         "close_reply_domain_23"]
    for s in closes:
        cases.append((s, "ECONNRESET", None, (4, "203.0.113.10"), []))
    for s in ("close_method_2", "reset_accept", "reset_greeting",
              "reset_method_1", "reset_method_2", "reset_reply_0",
              "reset_reply_5"):
        cases.append((s, "ECONNRESET", None, (4, "203.0.113.10"), []))
    cases.append(("close_auth_2", "ECONNRESET", creds, (4, "203.0.113.10"), []))
    cases.append(("ok_domain_255", "0", None, (4, "203.0.113.10"), []))
    for s in ("trickle_reply", "silent_greeting", "silent_method_1", "silent_request",
              "silent_reply_5"):
        cases.append((s, "ETIMEDOUT", None, (4, "203.0.113.10"), []))
    npass = nfail = 0
    for s, w, cr, dst, el in cases:
        ok, msg = run(s, w, cr, dst, el)
        print("%s: %s%s: %s" % ("PASS" if ok else "FAIL", s,
                                " (creds)" if cr else "", msg))
        if ok:
            npass += 1
        else:
            nfail += 1
    for s, w in bind_cases():
        ok, msg = run_bind(s, w)
        print("%s: %s: %s" % ("PASS" if ok else "FAIL", s, msg))
        if ok:
            npass += 1
        else:
            nfail += 1
    print("selftest: %d passed, %d failed" % (npass, nfail))
    return 1 if nfail else 0


if __name__ == "__main__":
    sys.exit(main())
