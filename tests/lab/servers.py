#!/usr/bin/python3
"""Lab target servers: an HTTP server that serves one known body and a TCP
echo server, each bound to every address given with --addr.

  servers.py --addr 198.18.1.2 --addr 2001:db8:2::2 --http-port 80 \
             --echo-port 7 --token TOKEN [--ready FILE]

GET on any path answers 200 with the body "TOKEN\n".  The echo server sends
back every byte it receives until the peer shuts its side down.  Once every
socket is listening, FILE (if given) is created, so the caller can wait for it
with a bounded loop.  Runs until killed.
"""
import argparse
import http.server
import socket
import socketserver
import sys
import threading


def family_of(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


class EchoHandler(socketserver.BaseRequestHandler):
    def handle(self):
        sock = self.request
        sock.settimeout(60)
        try:
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                sock.sendall(data)
        except OSError:
            pass


def make_http_handler(body):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_HEAD(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()

        def log_message(self, fmt, *args):
            sys.stderr.write("http %s %s\n" % (self.client_address[0], fmt % args))

    return Handler


def make_server(base, addr, port, handler):
    class Server(base):
        address_family = family_of(addr)
        allow_reuse_address = True
        daemon_threads = True
        request_queue_size = 256

        def server_bind(self):
            if self.address_family == socket.AF_INET6:
                self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            super().server_bind()

    return Server((addr, port), handler)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--addr", action="append", required=True)
    ap.add_argument("--http-port", type=int, default=0)
    ap.add_argument("--echo-port", type=int, default=0)
    ap.add_argument("--token", default="socksify-lab")
    ap.add_argument("--ready")
    args = ap.parse_args()

    body = (args.token + "\n").encode()
    servers = []
    for addr in args.addr:
        if args.http_port:
            servers.append(make_server(http.server.ThreadingHTTPServer, addr,
                                       args.http_port, make_http_handler(body)))
        if args.echo_port:
            servers.append(make_server(socketserver.ThreadingTCPServer, addr,
                                       args.echo_port, EchoHandler))
    threads = []
    for srv in servers:
        t = threading.Thread(target=srv.serve_forever, daemon=True)
        t.start()
        threads.append(t)
    if args.ready:
        with open(args.ready, "w") as f:
            f.write("ready\n")
    for t in threads:
        t.join()


if __name__ == "__main__":
    main()
