#!/usr/bin/env python3
"""A plain-HTTP proxy in front of one registry that logs every request with the bytes it moved.

Usage: count-proxy.py UPSTREAM_HOST:PORT LOG PORTFILE

Listens on a free 127.0.0.1 port (written to PORTFILE once it accepts) and forwards each request to
UPSTREAM unchanged, Host header included, so the registry's Location headers name the proxy and uploads
come back through it. One tab-separated line per request goes to LOG once its response is sent:
start (unix s), duration (s), method, path, status, response body bytes, request body bytes.
Counting here rather than in the registry's access log sees exactly what each client received.
"""
import http.client
import http.server
import socketserver
import sys
import threading
import time

UPSTREAM_HOST, UPSTREAM_PORT = sys.argv[1].rsplit(":", 1)
LOG = open(sys.argv[2], "a", buffering=1)
LOG_LOCK = threading.Lock()
HOP = {"connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization",
       "te", "trailer", "transfer-encoding", "upgrade", "expect"}
CHUNK = 1 << 20


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Without it, the response's small writes (status line, headers, body) meet the client's delayed ACK and
    # every small request stalls ~40 ms, in the proxy, not in the tool measured.
    disable_nagle_algorithm = True
    upstream = None

    def log_message(self, *args):
        pass

    def _connect(self):
        if self.upstream is not None:
            self.upstream.close()
        self.upstream = http.client.HTTPConnection(UPSTREAM_HOST, int(UPSTREAM_PORT), timeout=600)

    def _request_body(self):
        """Yields the request body in pieces, whether sent with a length or chunked."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return
                left = size
                while left:
                    piece = self.rfile.read(min(left, CHUNK))
                    if not piece:
                        raise ConnectionError("client closed mid-chunk")
                    left -= len(piece)
                    yield piece
                self.rfile.readline()
        else:
            left = int(self.headers.get("Content-Length") or 0)
            while left:
                piece = self.rfile.read(min(left, CHUNK))
                if not piece:
                    raise ConnectionError("client closed mid-body")
                left -= len(piece)
                yield piece

    def _forward(self):
        start = time.time()
        has_body = "Content-Length" in self.headers or "Transfer-Encoding" in self.headers
        chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
        sent_in = 0
        for attempt in (0, 1):
            if self.upstream is None:
                self._connect()
            try:
                self.upstream.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                for k, v in self.headers.items():
                    if k.lower() not in HOP:
                        self.upstream.putheader(k, v)
                if chunked:
                    self.upstream.putheader("Transfer-Encoding", "chunked")
                self.upstream.endheaders()
                break
            except (ConnectionError, OSError):
                # The registry closed an idle keep-alive connection: nothing was sent, so retry once.
                self.upstream = None
                if attempt:
                    raise
        if has_body:
            for piece in self._request_body():
                sent_in += len(piece)
                if chunked:
                    self.upstream.send(b"%x\r\n" % len(piece) + piece + b"\r\n")
                else:
                    self.upstream.send(piece)
            if chunked:
                self.upstream.send(b"0\r\n\r\n")
        resp = self.upstream.getresponse()
        self.send_response_only(resp.status, resp.reason)
        length = resp.getheader("Content-Length")
        bodyless = self.command == "HEAD" or resp.status in (204, 304) or 100 <= resp.status < 200
        for k, v in resp.getheaders():
            if k.lower() not in HOP:
                self.send_header(k, v)
        if not bodyless and length is None:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        out = 0
        if not bodyless:
            while True:
                piece = resp.read(CHUNK)
                if not piece:
                    break
                out += len(piece)
                self.wfile.write(b"%x\r\n" % len(piece) + piece + b"\r\n" if length is None else piece)
            if length is None:
                self.wfile.write(b"0\r\n\r\n")
        else:
            resp.read()
        self.wfile.flush()
        if resp.will_close:
            self.upstream = None
        with LOG_LOCK:
            LOG.write(f"{start:.3f}\t{time.time() - start:.3f}\t{self.command}\t{self.path}\t{resp.status}\t{out}\t{sent_in}\n")

    do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = _forward


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


server = Server(("127.0.0.1", 0), Handler)
with open(sys.argv[3], "w") as f:
    f.write(str(server.server_address[1]))
server.serve_forever()
