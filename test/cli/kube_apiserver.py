"""A stand-in Kubernetes API server over HTTPS for test_kube (stdlib only).

Checks each request the way the API server would, in its order: authentication (the bearer token
must equal the content of --token-file, else 401), the path (/api/v1/nodes/<RFC 1123 name>, else
404), the method (PATCH, else 405), the patch media type (else 415), the body (a JSON object, else
400). A request that passes answers what --reply (a JSON file, re-read per request) says:
{"status": <code>, "body": <text>, "echo_auth": <bool>}; with no file, 200 and the node with the
patch applied. echo_auth appends the request's Authorization header to the body (a server that
leaks it back). With no "body", a failure answers a Kubernetes Status object.

One JSON line per event is appended to --log:
  {"method", "path", "headers": [[name, value], ...], "body"}  for each HTTP request;
  {"event": "connection"}                                      for each accepted connection;
  {"event": "tls_error", "error"}                              for a failed TLS handshake.
The listening port is written to --portfile (atomically) once the socket accepts connections."""
import argparse
import http.server
import json
import os
import re
import socket
import ssl
import sys
import threading

NODE_PATH = re.compile(r"^/api/v1/nodes/([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)$")
PATCH_TYPES = {
    "application/strategic-merge-patch+json",
    "application/merge-patch+json",
    "application/json-patch+json",
}

ARGS = None
LOCK = threading.Lock()


def log(entry):
    with LOCK:
        with open(ARGS.log, "a") as f:
            f.write(json.dumps(entry) + "\n")


def status_object(code, reason, message):
    return json.dumps({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                       "message": message, "reason": reason, "code": code})


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def reply(self, code, body):
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(min(n, 1 << 20)).decode("utf-8", "replace")
        log({"method": self.command, "path": self.path,
             "headers": [[k, v] for k, v in self.headers.items()], "body": body})
        with open(ARGS.token_file) as f:
            want = "Bearer " + f.read().strip()
        if self.headers.get_all("Authorization") != [want]:
            return self.reply(401, status_object(401, "Unauthorized", "Unauthorized"))
        m = NODE_PATH.match(self.path)
        if not m or len(m.group(1)) > 253:
            return self.reply(404, status_object(404, "NotFound", "the server could not find "
                                                 "the requested resource"))
        if self.command != "PATCH":
            return self.reply(405, status_object(405, "MethodNotAllowed", "only PATCH here"))
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        if ctype not in PATCH_TYPES or len(self.headers.get_all("Content-Type")) != 1:
            return self.reply(415, status_object(415, "UnsupportedMediaType",
                                                 "the body of the request was in an unknown "
                                                 "format - accepted media types include: "
                                                 + ", ".join(sorted(PATCH_TYPES))))
        try:
            patch = json.loads(body)
            if not isinstance(patch, dict):
                raise ValueError("not an object")
        except ValueError as e:
            return self.reply(400, status_object(400, "BadRequest", "error decoding patch: %s" % e))
        conf = {}
        if os.path.exists(ARGS.reply):
            with open(ARGS.reply) as f:
                conf = json.load(f)
        code = conf.get("status", 200)
        if "body" in conf:
            out = conf["body"]
        elif code == 200:
            labels = {k: v for k, v in patch.get("metadata", {}).get("labels", {}).items()
                      if v is not None}
            out = json.dumps({"kind": "Node", "apiVersion": "v1",
                              "metadata": {"name": m.group(1), "labels": labels}})
        else:
            out = status_object(code, "InternalError", "configured failure")
        if conf.get("echo_auth"):
            out += " Authorization: " + self.headers.get("Authorization", "")
        return self.reply(code, out)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = handle_any


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # socketserver's 5 drops SYNs under parallel clients (1 s stalls)

    def __init__(self, addr, ctx):
        self.address_family = socket.AF_INET6 if ":" in addr[0] else socket.AF_INET
        self.ctx = ctx
        super().__init__(addr, Handler)

    def finish_request(self, request, client_address):
        # The handshake runs in the connection's thread, so a stuck client blocks nobody.
        log({"event": "connection"})
        try:
            tls = self.ctx.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as e:
            log({"event": "tls_error", "error": str(e)})
            return
        try:
            Handler(tls, client_address, self)
        finally:
            try:
                tls.close()
            except OSError:
                pass


def main():
    global ARGS
    p = argparse.ArgumentParser()
    for a in ("--bind", "--cert", "--key", "--token-file", "--portfile", "--log", "--reply"):
        p.add_argument(a, required=True)
    ARGS = p.parse_args()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(ARGS.cert, ARGS.key)
    srv = Server((ARGS.bind, 0), ctx)
    with open(ARGS.portfile + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(ARGS.portfile + ".tmp", ARGS.portfile)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
