// PythonJSONHandler.swift owns the Python request-handler base the test servers (fault proxy, token server) share.
/// A Python 3 stdlib HTTP/1.1 handler base that logs nothing and answers JSON (`send_json(status, body)`);
/// pasted after a script's imports (it needs `json` and `BaseHTTPRequestHandler`).
package let pythonJSONHandler = #"""
class JSONHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *args):
        pass
    def send_json(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

"""#
