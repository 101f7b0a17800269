#!/usr/bin/env python3
"""A stand-in for etcd's JSON gateway, for etcd.bats: damage that a real
etcd does not send.

    fake-etcd.py FILE

Listens on a free port of 127.0.0.1, prints the port, and answers every
POST with status 200 and FILE's bytes as they are when asked (so a test
may change them between requests), written 7 bytes at a time so that a
reader gets them split anywhere. Serves until killed."""
import http.server
import socketserver
import sys

PATH = sys.argv[1]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with open(PATH, "rb") as f:
            body = f.read()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        for i in range(0, len(body), 7):
            self.wfile.write(body[i:i + 7])
            self.wfile.flush()

    def log_message(self, *args):
        pass


server = socketserver.TCPServer(("127.0.0.1", 0), Handler)
server.handle_error = lambda request, address: None  # a reader gone
print(server.server_address[1], flush=True)
server.serve_forever()
