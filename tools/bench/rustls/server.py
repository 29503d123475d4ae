#!/usr/bin/python3
"""make bench, rustls part: a keep-alive HTTPS server on 127.0.0.1 that
answers every POST with RESP_BYTES bytes. Writes its port to PORT_FILE.
Usage: server.py CERT KEY PORT_FILE RESP_BYTES"""
import http.server
import ssl
import sys

cert, key, port_file, resp = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
PAYLOAD = b"y" * resp


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        # One write: head and body apart would wait on delayed ACKs.
        self.wfile.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\n"
                         b"content-length: %d\r\n\r\n" % len(PAYLOAD) + PAYLOAD)

    def log_message(self, *a):
        pass


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.minimum_version = ssl.TLSVersion.TLSv1_3
ctx.load_cert_chain(cert, key)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
with open(port_file, "w") as f:
    f.write(str(srv.server_address[1]))
srv.serve_forever()
