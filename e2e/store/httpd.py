"""Static file server for the store tests: logs one line per GET ("GET <path>") to stdout,
supports fault injection through environment variables:
  SKIFF_HTTPD_FAIL_FIRST=N   answer the first N requests of each path with 503
  SKIFF_HTTPD_TRUNCATE=SUFFIX  send only half of files whose path ends with SUFFIX
usage: httpd.py DIR PORTFILE"""
import functools
import http.server
import os
import sys
import threading

counts = {}
lock = threading.Lock()


class Handler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        with lock:
            counts[self.path] = counts.get(self.path, 0) + 1
            n = counts[self.path]
            print("GET %s" % self.path, flush=True)
        fail_first = int(os.environ.get("SKIFF_HTTPD_FAIL_FIRST", "0"))
        if n <= fail_first:
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        trunc = os.environ.get("SKIFF_HTTPD_TRUNCATE")
        if trunc and self.path.endswith(trunc):
            path = self.translate_path(self.path)
            data = open(path, "rb").read()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        super().do_GET()


def main():
    d, portfile = sys.argv[1], sys.argv[2]
    handler = functools.partial(Handler, directory=d)
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    srv.daemon_threads = True
    with open(portfile + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(portfile + ".tmp", portfile)
    srv.serve_forever()


if __name__ == "__main__":
    main()
