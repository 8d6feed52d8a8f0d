"""The static file server every e2e test and benchmark serves caches and hubs with (stdlib only).

What differs from `python3 -m http.server`, and why:
- a listen backlog of 128 instead of socketserver's 5: a realizer opens 8 or more connections at
  once, and with a backlog of 5 the kernel drops SYNs, which costs the client a 1 s SYN
  retransmit (seen as bimodal benchmark times and TcpExtListenOverflows);
- HTTP/1.1 keep-alive, no request logging, daemon threads.
Handler subclasses override do_GET and call super().do_GET()."""
import functools
import http.server


class Handler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    request_queue_size = 128
    daemon_threads = True


def serve(handler_class, directory, port=0):
    """A started-but-not-serving Server for directory on 127.0.0.1:port (0: any free port)."""
    return Server(("127.0.0.1", port), functools.partial(handler_class, directory=directory))
