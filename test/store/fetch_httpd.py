"""HTTP server (and HTTP proxy) for test_fetch. One JSON line per request goes to LOGFILE:
{"line": request line, "path": path, "auth": Authorization header or null}.
Paths:
  /ok                      200 "hello skiff"
  /fail/<code>/<n>/<tag>   the first n requests answer <code> (500, 503, ...), then 200 "recovered"
  /reset/<n>/<tag>         the first n requests are answered by a TCP reset, then 200 "recovered"
  /big/<mib>               <mib> MiB whose byte i is i % 251
  /missing                 404
  /trunc                   Content-Length 1000, 500 bytes sent, connection closed
  /stall                   Content-Length 100000, 10 bytes sent, then silence for 10 s
  /redirect?to=<url>       302 to <url>
A request whose target is absolute ("GET http://host/x") or a CONNECT is a proxied request: it is
logged and answered by the server itself (200 "via proxy" / 403 for CONNECT).
usage: fetch_httpd.py PORTFILE LOGFILE"""
import http.server
import json
import os
import socket
import struct
import sys
import threading
import time
import urllib.parse

counts = {}
lock = threading.Lock()
LOG = None


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def record(self):
        with lock:
            counts[self.path] = counts.get(self.path, 0) + 1
            with open(LOG, "a") as f:
                f.write(json.dumps({"line": self.requestline, "path": self.path,
                                    "auth": self.headers.get("Authorization")}) + "\n")
            return counts[self.path]

    def reply(self, code, body=b"", headers=()):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_CONNECT(self):
        self.record()
        self.reply(403, b"no tunnels here")
        self.close_connection = True

    def do_GET(self):
        n = self.record()
        p = self.path
        if p.startswith("http://"):
            return self.reply(200, b"via proxy")
        parts = p.split("/")
        if p == "/ok":
            return self.reply(200, b"hello skiff")
        if p.startswith("/fail/"):
            code, k = int(parts[2]), int(parts[3])
            if n <= k:
                return self.reply(code, b"try again")
            return self.reply(200, b"recovered")
        if p.startswith("/reset/"):
            if n <= int(parts[2]):
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                           struct.pack("ii", 1, 0))
                self.connection.close()
                self.close_connection = True
                return
            return self.reply(200, b"recovered")
        if p.startswith("/big/"):
            return self.reply(200, big(int(parts[2])))
        if p == "/missing":
            return self.reply(404, b"no such thing")
        if p == "/trunc":
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"x" * 500)
            self.wfile.flush()
            self.close_connection = True
            return
        if p == "/stall":
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self.wfile.write(b"y" * 10)
            self.wfile.flush()
            time.sleep(10)
            self.close_connection = True
            return
        if p.startswith("/redirect?"):
            to = urllib.parse.parse_qs(urllib.parse.urlparse(p).query)["to"][0]
            return self.reply(302, b"", [("Location", to)])
        return self.reply(404, b"unknown test path")


def big(mib):
    """mib MiB whose byte i is i % 251 (test_fetch regenerates it)."""
    n = mib << 20
    return (bytes(range(251)) * (n // 251 + 1))[:n]


class Server(http.server.ThreadingHTTPServer):
    # socketserver's default backlog of 5 drops SYNs when the fetcher opens more connections at
    # once, and each drop costs the client a 1 s retransmit.
    request_queue_size = 128
    daemon_threads = True


def main():
    global LOG
    portfile, LOG = sys.argv[1], sys.argv[2]
    srv = Server(("127.0.0.1", 0), Handler)
    with open(portfile + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(portfile + ".tmp", portfile)
    srv.serve_forever()


if __name__ == "__main__":
    main()
