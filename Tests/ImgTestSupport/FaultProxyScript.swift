// FaultProxyScript.swift owns the Python fault-injecting proxy the fault tests put in front of a registry.
/// A fault-injecting HTTP proxy in front of a registry, in Python 3 stdlib. Faults:
/// - `fail503=N`: the first N manifest requests get 503;
/// - `cut=BYTES`: the first full blob GET is cut after BYTES body bytes (the connection is closed);
/// - `corrupt`: blob bodies get one byte flipped;
/// - `slow=SECONDS`: blob bodies pause SECONDS after every 64 KiB (a slow link, to catch a pull midway);
/// - `redirect`: blob GETs are answered with a 307 to `/_r/<path>` on the proxy, which serves the blob.
/// `GET /_stats` returns the requests seen and the blob body bytes sent.
///
/// argv: port upstream-port faults(comma separated)
package let faultProxyScript = #"""
import http.client, json, sys, threading, time
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler

port, upstream = int(sys.argv[1]), int(sys.argv[2])
faults = dict((f.split("=") + [""])[:2] for f in sys.argv[3].split(",") if f)
lock = threading.Lock()
state = {"fail503": int(faults.get("fail503", "0")), "cut": int(faults.get("cut", "0")) or None,
         "requests": [], "blob_bytes": 0}

"""# + pythonJSONHandler + #"""
class Handler(JSONHandler):
    def handle_any(self):
        if self.path == "/_stats":
            with lock:
                return self.send_json(200, {"requests": state["requests"], "blob_bytes": state["blob_bytes"]})
        if "redirect" in faults and self.command == "GET" and "/blobs/sha256:" in self.path \
                and not self.path.startswith("/_r/"):
            with lock:
                state["requests"].append({"method": "GET", "path": self.path, "range": self.headers.get("Range")})
            self.send_response(307)
            self.send_header("Location", "http://%s/_r%s" % (self.headers.get("Host"), self.path))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        redirected = self.path.startswith("/_r/")
        if redirected:
            self.path = self.path[3:]
        is_blob = "/blobs/sha256:" in self.path and self.command == "GET"
        is_manifest = "/manifests/" in self.path
        with lock:
            state["requests"].append({"method": self.command, "path": ("/_r" if redirected else "") + self.path,
                                      "range": self.headers.get("Range")})
            if is_manifest and state["fail503"] > 0:
                state["fail503"] -= 1
                fail = True
            else:
                fail = False
            cut = None
            if is_blob and state["cut"] is not None and self.headers.get("Range") is None:
                cut, state["cut"] = state["cut"], None
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        if fail:
            return self.send_json(503, {"errors": [{"code": "UNAVAILABLE", "message": "injected"}]})
        conn = http.client.HTTPConnection("127.0.0.1", upstream)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "keep-alive")}
        conn.request(self.command, self.path, body=body, headers=headers)
        resp = conn.getresponse()
        self.send_response(resp.status)
        data_len = resp.getheader("Content-Length")
        payload = None
        if data_len is None and self.command != "HEAD":
            payload = resp.read()
            data_len = str(len(payload))
        for k, v in resp.getheaders():
            if k.lower() not in ("connection", "keep-alive", "transfer-encoding", "content-length"):
                self.send_header(k, v)
        if data_len is not None:
            self.send_header("Content-Length", data_len)
        self.end_headers()
        if self.command == "HEAD":
            conn.close()
            return
        sent = 0
        flipped = False
        while True:
            chunk = payload if payload is not None else resp.read(65536)
            payload = b"" if payload is not None else None
            if not chunk:
                break
            if is_blob and "slow" in faults:
                time.sleep(float(faults["slow"] or "0.02"))
            if is_blob and "corrupt" in faults and not flipped:
                chunk = bytes([chunk[0] ^ 0xFF]) + chunk[1:]
                flipped = True
            if cut is not None and sent + len(chunk) >= cut:
                chunk = chunk[: cut - sent]
                self.wfile.write(chunk)
                self.wfile.flush()
                with lock:
                    state["blob_bytes"] += len(chunk)
                self.close_connection = True
                self.connection.shutdown(2)
                conn.close()
                return
            self.wfile.write(chunk)
            sent += len(chunk)
            if is_blob:
                with lock:
                    state["blob_bytes"] += len(chunk)
        conn.close()
    do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = handle_any

ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
"""#
