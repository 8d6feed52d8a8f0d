"""Static file server for the store tests: logs one line per GET ("GET <path>") to stdout,
supports fault injection through environment variables:
  SKIFF_HTTPD_FAIL_FIRST=N   answer the first N requests of each path with 503
  SKIFF_HTTPD_TRUNCATE=SUFFIX  send only half of files whose path ends with SUFFIX
usage: httpd.py DIR PORTFILE [PORT]   (PORT: listen there instead of on any free port)"""
import os
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import statichttp  # noqa: E402

counts = {}
lock = threading.Lock()


class Handler(statichttp.Handler):

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
    srv = statichttp.serve(Handler, d, int(sys.argv[3]) if len(sys.argv) > 3 else 0)
    with open(portfile + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(portfile + ".tmp", portfile)
    srv.serve_forever()


if __name__ == "__main__":
    main()
