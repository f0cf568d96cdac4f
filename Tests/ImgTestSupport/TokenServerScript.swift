// TokenServerScript.swift owns the Python token server behind the token-auth test registry.
/// A token server for docker-registry's `auth.token` set-up, in Python 3 stdlib. It signs RS256 JWTs with
/// `openssl dgst -sign` (Python cannot sign on its own) and names its certificate in the `x5c` header, which
/// the registry checks against its `rootcertbundle`. Every request is logged as a JSON line for the tests.
///
/// argv: port key.pem cert.pem issuer service user:password log-file field(token|access_token)
package let tokenServerScript = #"""
import base64, json, subprocess, sys, time, uuid
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
from urllib.parse import urlparse, parse_qs

port, key, cert, issuer, service, userpass, log, field = sys.argv[1:9]
with open(cert) as f:
    pem = f.read()
der = base64.b64decode("".join(l for l in pem.splitlines() if "-----" not in l))

def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

def sign(claims):
    header = {"typ": "JWT", "alg": "RS256", "x5c": [base64.b64encode(der).decode()]}
    signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key], input=signing_input.encode(),
                         capture_output=True, check=True).stdout
    return signing_input + "." + b64url(sig)

"""# + pythonJSONHandler + #"""
class Handler(JSONHandler):
    def do_GET(self):
        q = parse_qs(urlparse(self.path).query)
        auth = self.headers.get("Authorization", "")
        account = ""
        if auth.startswith("Basic "):
            given = base64.b64decode(auth[6:]).decode()
            if given != userpass:
                self.record(q, "bad-credentials")
                return self.send_json(401, {"details": "wrong credentials"})
            account = given.split(":")[0]
        access = []
        for scope in q.get("scope", []):
            for part in scope.split(" "):
                kind, _, rest = part.partition(":")
                name, _, actions = rest.rpartition(":")
                wanted = actions.split(",")
                # Anonymous users may pull; pushing needs an account.
                granted = [a for a in wanted if account or a == "pull"]
                access.append({"type": kind, "name": name, "actions": granted})
        now = int(time.time())
        claims = {"iss": issuer, "sub": account, "aud": q.get("service", [service])[0], "exp": now + 300,
                  "nbf": now - 10, "iat": now, "jti": str(uuid.uuid4()), "access": access}
        self.record(q, account or "anonymous")
        self.send_json(200, {field: sign(claims), "expires_in": 300})
    def record(self, q, who):
        with open(log, "a") as f:
            f.write(json.dumps({"who": who, "scope": q.get("scope", []), "service": q.get("service", [])}) + "\n")

ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer(("127.0.0.1", int(port)), Handler).serve_forever()
"""#
