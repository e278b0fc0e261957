#!/usr/bin/env python3
"""An OpenID Connect issuer that is not authgate, for the tests: discovery, a JWKS, and tokens
minted on request with PyJWT (RS256, keys from the cryptography library).

GET  /.well-known/openid-configuration   {"issuer", "jwks_uri", ...}
GET  /jwks                               the current public key (counted in /stats)
POST /mint   {claims}                    a token signed with the current key (iss, iat, exp added
                                         unless given; a "_header" object adds header fields)
POST /rotate                             a new key (new kid) replaces the current one
GET  /stats                              {"jwks_fetches": n}

Prints its port on stdout, then serves until killed.
"""
import http.server
import json
import socketserver
import sys
import threading
import time

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

lock = threading.Lock()
state = {"generation": 0, "key": None, "kid": None, "fetches": 0}


def new_key():
    with lock:
        state["generation"] += 1
        state["key"] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        state["kid"] = f"idp-key-{state['generation']}"


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def base(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def send_json(self, status, value):
        data = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/.well-known/openid-configuration":
            return self.send_json(200, {
                "issuer": self.base(),
                "jwks_uri": self.base() + "/jwks",
                "id_token_signing_alg_values_supported": ["RS256"],
            })
        if self.path == "/jwks":
            with lock:
                state["fetches"] += 1
                jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(state["key"].public_key()))
                jwk.update({"kid": state["kid"], "alg": "RS256", "use": "sig"})
            return self.send_json(200, {"keys": [jwk]})
        if self.path == "/stats":
            return self.send_json(200, {"jwks_fetches": state["fetches"]})
        self.send_json(404, {})

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.path == "/mint":
            claims = json.loads(body)
            extra_header = claims.pop("_header", {})
            now = int(time.time())
            claims.setdefault("iss", self.base())
            claims.setdefault("iat", now)
            claims.setdefault("exp", now + 300)
            with lock:
                token = jwt.encode(claims, state["key"], algorithm="RS256",
                                   headers={"kid": state["kid"], **extra_header})
            return self.send_json(200, {"token": token})
        if self.path == "/rotate":
            new_key()
            return self.send_json(200, {"kid": state["kid"]})
        self.send_json(404, {})


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


if __name__ == "__main__":
    new_key()
    server = Server(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    sys.stdout.close()
    server.serve_forever()
