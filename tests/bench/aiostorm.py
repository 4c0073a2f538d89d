#!/usr/bin/python3
"""tests/bench/aiostorm.py - N TCP connects at once from one asyncio loop.

    aiostorm.py [--socks HOST:PORT] [--timeout S] ADDR PORT N

storm.c's probe as a Python program writes it: N tasks in one event loop,
each asyncio.open_connection(ADDR, PORT), send "ping\\n", read one line,
which must be "proxied\\n" (echod: the connection came from the proxy's
external address).  With --socks, a native SOCKS5 client in the same loop:
each task opens its connection to the proxy and does the SOCKS5 handshake
(no authentication, CONNECT ADDR:PORT) itself with the loop's streams.

Prints the wall time in milliseconds from the first connect to the last
answer; exits 1 on any failure (naming the connection and the step) or when
--timeout (default 120 s) passes, 2 on bad usage.
"""
import argparse
import asyncio
import ipaddress
import struct
import sys
import time


class Failed(Exception):
    pass


async def socks5(reader, writer, addr, port):
    writer.write(b"\x05\x01\x00")
    if await reader.readexactly(2) != b"\x05\x00":
        raise Failed("SOCKS5 greeting: method refused")
    ip = ipaddress.ip_address(addr)
    atyp = b"\x01" if ip.version == 4 else b"\x04"
    writer.write(b"\x05\x01\x00" + atyp + ip.packed + struct.pack("!H", port))
    head = await reader.readexactly(5)
    if head[0] != 5 or head[1] != 0:
        raise Failed(f"SOCKS5 request: reply code {head[1]}")
    rest = {1: 5, 4: 17, 3: 2 + head[4]}.get(head[3])
    if rest is None:
        raise Failed("SOCKS5 request: bad address type")
    await reader.readexactly(rest)


async def one(i, a):
    step = "connect"
    writer = None
    try:
        host, port = a.socks if a.socks else (a.addr, a.port)
        reader, writer = await asyncio.open_connection(host, port)
        if a.socks:
            step = "SOCKS5"
            await socks5(reader, writer, a.addr, a.port)
        step = "ping"
        writer.write(b"ping\n")
        line = await reader.readline()
        if line != b"proxied\n":
            shown = line.decode(errors="replace").strip()
            raise Failed(f"ping: answer '{shown}' (want 'proxied')")
    except Failed as e:
        raise Failed(f"#{i} {e}") from None
    except (OSError, asyncio.IncompleteReadError) as e:
        raise Failed(f"#{i} {step}: {e}") from None
    finally:
        if writer is not None:
            writer.close()


async def storm(a):
    t0 = time.monotonic()
    await asyncio.wait_for(asyncio.gather(*(one(i, a) for i in range(a.n))),
                           a.timeout)
    return (time.monotonic() - t0) * 1000.0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--socks", metavar="HOST:PORT")
    ap.add_argument("--timeout", type=float, default=120.0)
    ap.add_argument("addr")
    ap.add_argument("port", type=int)
    ap.add_argument("n", type=int)
    a = ap.parse_args()
    if a.socks:
        host, sep, port = a.socks.rpartition(":")
        if not sep or not port.isdigit():
            ap.error(f"bad --socks {a.socks}")
        a.socks = (host.strip("[]"), int(port))
    if a.n < 1:
        ap.error("N must be >= 1")
    try:
        ms = asyncio.run(storm(a))
    except Failed as e:
        print(f"aiostorm: {e}", file=sys.stderr)
        return 1
    except asyncio.TimeoutError:
        print(f"aiostorm: timed out after {a.timeout:g} s", file=sys.stderr)
        return 1
    print(f"{ms:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
