#!/usr/bin/env python3
"""The upstream of authgate's integration tests: a real HTTP server in a process of its own.

GET|POST /<anything>  JSON describing the request (method, path, query, headers, body size); counted
GET /sse              text/event-stream: event 1, then waits for /release, then event 2
GET /release          lets /sse send its second event, and /hold answer
ANY /hold             counted on arrival, then answers (JSON, like any path) once /release came
GET /slow             answers after 3 s
GET /hits             how many counted requests arrived
GET /delay            answers after 300 ms
GET /fail             answers 500
GET /drop             answers, then closes the connection without saying so (a stale keep-alive)
POST /v1/traces       an OpenTelemetry collector (OTLP/HTTP JSON): keeps the payload; not counted
GET /v1/traces        every payload kept so far, as a JSON list

Prints its port on stdout, then serves until killed.
"""
import http.server
import json
import socketserver
import sys
import threading
import time
import urllib.parse

hits = 0
hits_lock = threading.Lock()
traces = []
released = threading.Event()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            size, body = -1, b""
            while size != 0:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                body += self.rfile.read(size)
                self.rfile.readline()
            return body
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def send_json(self, status, value):
        data = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def handle_any(self):
        global hits
        body = self.read_body()
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/sse":
            return self.sse()
        if url.path == "/release":
            released.set()
            return self.send_json(200, {"released": True})
        if url.path == "/hits":
            return self.send_json(200, {"hits": hits})
        if url.path == "/v1/traces":
            if self.command == "POST":
                traces.append(json.loads(body))
                return self.send_json(200, {})
            return self.send_json(200, traces)
        if url.path == "/hold":
            with hits_lock:
                hits += 1
            released.wait(timeout=30)
        if url.path == "/slow":
            time.sleep(3)
        if url.path == "/drop":
            self.close_connection = True
        if url.path == "/delay":
            time.sleep(0.3)
        if url.path.endswith("/info.json"):
            # An IIIF image server's description, as Cantaloupe or IIPImage would answer it.
            with hits_lock:
                hits += 1
            base = url.path[: -len("/info.json")]
            return self.send_json(200, {
                "@context": "http://iiif.io/api/image/3/context.json",
                "id": "http://images.internal" + base,
                "type": "ImageService3",
                "protocol": "http://iiif.io/api/image",
                "profile": "level1",
                "width": 2000,
                "height": 1500,
                "cookie": self.headers.get("Cookie"),
            })
        if url.path != "/hold":
            with hits_lock:
                hits += 1
        headers = {}
        for name, value in self.headers.items():
            name = name.lower()
            headers[name] = headers[name] + ", " + value if name in headers else value
        self.send_json(500 if url.path == "/fail" else 200, {
            "method": self.command,
            "path": url.path,
            "query": url.query,
            "headers": headers,
            "body_size": len(body),
            "peer_port": self.client_address[1],
        })

    def sse(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        last = self.headers.get("Last-Event-ID", "none")
        self.wfile.write(f"id: 1\ndata: first after {last}\n\n".encode())
        self.wfile.flush()
        released.wait(timeout=10)
        self.wfile.write(b"id: 2\ndata: second\n\n")
        self.wfile.flush()
        self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


if __name__ == "__main__":
    server = Server(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    sys.stdout.close()
    server.serve_forever()
