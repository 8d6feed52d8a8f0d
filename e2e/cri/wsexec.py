"""Minimal client for the kubelet streaming exec protocol over WebSocket (standard library only).

CRI `Exec` returns a URL on containerd's streaming server (http://127.0.0.1:<port>/exec/<token>).
A GET with a WebSocket upgrade and one of the `channel.k8s.io` subprotocols opens the session;
every binary message then carries a one-byte channel prefix: 0 stdin, 1 stdout, 2 stderr,
3 error/status, 4 resize. With `v4.channel.k8s.io` the status channel carries a metav1.Status
JSON (`{"status":"Success"}`, or `Failure` with reason `NonZeroExitCode` and the exit code in
details.causes[reason=ExitCode].message); the older `channel.k8s.io` only writes an error text.
"""
import base64
import json
import os
import socket
import struct
import urllib.parse

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10


class WsError(Exception):
    pass


class WsConn:
    def __init__(self, url, protocols, timeout=20):
        u = urllib.parse.urlsplit(url)
        if u.scheme != "http":
            raise WsError("unsupported scheme in %r" % url)
        self.sock = socket.create_connection((u.hostname, u.port or 80), timeout=timeout)
        self.buf = b""
        key = base64.b64encode(os.urandom(16)).decode()
        path = u.path + ("?" + u.query if u.query else "")
        req = ("GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
               "Sec-WebSocket-Protocol: %s\r\n\r\n") % (path, u.netloc, key, ", ".join(protocols))
        self.sock.sendall(req.encode())
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode(errors="replace").split("\r\n")
        self.status_line = lines[0]
        if " 101 " not in lines[0] + " ":
            raise WsError("upgrade refused: %s" % head.decode(errors="replace"))
        self.headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            self.headers[k.strip().lower()] = v.strip()
        self.protocol = self.headers.get("sec-websocket-protocol", "")

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed")
        self.buf += chunk

    def _need(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def send(self, opcode, payload=b""):
        """Sends one masked frame (clients must mask)."""
        mask = os.urandom(4)
        n = len(payload)
        hdr = bytes([0x80 | opcode])
        if n < 126:
            hdr += bytes([0x80 | n])
        elif n < 1 << 16:
            hdr += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            hdr += bytes([0x80 | 127]) + struct.pack("!Q", n)
        body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(hdr + mask + body)

    def recv(self):
        """Returns (opcode, payload) of the next complete message; None at a clean EOF."""
        data, first_op = b"", None
        while True:
            try:
                b0, b1 = self._need(2)
            except EOFError:
                return None
            fin, op = b0 & 0x80, b0 & 0x0F
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._need(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._need(8))[0]
            mask = self._need(4) if b1 & 0x80 else None
            payload = self._need(n)
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            if op == OP_PING:
                self.send(OP_PONG, payload)
                continue
            if op >= OP_CLOSE:
                return op, payload
            if first_op is None:
                first_op = op
            data += payload
            if fin:
                return first_op, data

    def close(self):
        try:
            self.send(OP_CLOSE, struct.pack("!H", 1000))
        except OSError:
            pass
        self.sock.close()


def exec_stream(url, protocols=("v4.channel.k8s.io", "channel.k8s.io"), stdin=None,
                resize=None, timeout=20):
    """Runs the exec behind url, sending stdin (bytes) and a terminal resize (width, height)
    first when given; returns a dict with protocol, stdout, stderr (bytes), the raw status
    channel text, the parsed status (v4) and exit_code (None when not reported)."""
    ws = WsConn(url, list(protocols), timeout=timeout)
    out = {"protocol": ws.protocol, "stdout": b"", "stderr": b"", "error": b"",
           "status": None, "exit_code": None}
    base64_codec = ws.protocol.startswith("base64.") or ".base64." in ws.protocol
    try:
        if resize is not None:
            size = json.dumps({"Width": resize[0], "Height": resize[1]}).encode()
            ws.send(OP_BINARY, b"\x04" + size)
        if stdin is not None:
            ws.send(OP_BINARY, b"\x00" + stdin)
        while True:
            msg = ws.recv()
            if msg is None:
                break
            op, payload = msg
            if op == OP_CLOSE:
                break
            if not payload:
                continue
            if base64_codec:
                chan, data = int(chr(payload[0])), base64.b64decode(payload[1:])
            else:
                chan, data = payload[0], payload[1:]
            key = {1: "stdout", 2: "stderr", 3: "error"}.get(chan)
            if key:
                out[key] += data
    finally:
        ws.close()
    if out["error"] and ws.protocol.startswith("v4."):
        st = json.loads(out["error"])
        out["status"] = st
        if st.get("status") == "Success":
            out["exit_code"] = 0
        else:
            for cause in (st.get("details") or {}).get("causes") or []:
                if cause.get("reason") == "ExitCode":
                    out["exit_code"] = int(cause.get("message"))
    return out
