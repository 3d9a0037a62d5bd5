"""Upstream for the Envoy tests: echoes the request it received as JSON, and serves bundles.

Run as `python3 upstream.py PORT BUNDLE_DIR`. Routes:
  GET /bundle            the file BUNDLE_DIR/<current>, with an ETag; 304 on If-None-Match
  POST /control/bundle   body = file name to serve from now on (the test switches bundles)
  GET /control/stats     {"bundle_fetches": N, "current": NAME}
  GET /status/<code>     an empty answer with that status (a bundle source with nothing to serve)
  anything else          200 {"method", "path", "headers": {lower-case name: value}}
"""

import hashlib
import json
import os
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STATE = {"current": "bundle.jws", "fetches": 0}
LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    bundle_dir = "."

    def log_message(self, *args):
        pass

    def setup(self):
        super().setup()
        # Headers and body go out in two writes; without this, Nagle + delayed ACK add ~40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def reply(self, status, body, headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def read_body(self):
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length else b""

    def serve_bundle(self):
        with LOCK:
            STATE["fetches"] += 1
            name = STATE["current"]
        with open(os.path.join(self.bundle_dir, name), "rb") as f:
            body = f.read()
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        if self.headers.get("if-none-match") == etag:
            self.reply(304, b"", [("etag", etag)])
        else:
            self.reply(200, body, [("etag", etag), ("content-type", "application/jose")])

    def echo(self):
        body = self.read_body()
        seen = {
            "method": self.command,
            "path": self.path,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body_bytes": len(body),
        }
        self.reply(200, json.dumps(seen).encode(), [("content-type", "application/json")])

    def do_GET(self):
        if self.path == "/bundle":
            self.serve_bundle()
        elif self.path.startswith("/status/"):
            self.reply(int(self.path.rsplit("/", 1)[-1]), b"")
        elif self.path == "/control/stats":
            with LOCK:
                stats = {"bundle_fetches": STATE["fetches"], "current": STATE["current"]}
            self.reply(200, json.dumps(stats).encode(), [("content-type", "application/json")])
        else:
            self.echo()

    def do_POST(self):
        if self.path == "/control/bundle":
            name = self.read_body().decode().strip()
            with LOCK:
                STATE["current"] = name
            self.reply(204, b"")
        else:
            self.echo()

    do_PUT = do_POST
    do_DELETE = do_GET
    do_PATCH = do_POST


def main():
    port, bundle_dir = int(sys.argv[1]), sys.argv[2]
    Handler.bundle_dir = bundle_dir
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    print("upstream ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
