#!/usr/bin/python3
"""A telemetry endpoint for the tests: HTTPS under the test CA, POST
/v1/ingest only. It checks the bearer key, the headers of contract v1, and
validates every (gunzipped) body against include/telemetry/v1.schema.json.

Its behaviour is read from --mode-file before each request, so a test can
change it while the daemon runs: ok, fail500, 429 (Retry-After: 1), hang
(reads the request, never answers while the mode stays hang), drop (closes
the connection unanswered). Logs one JSON line per connection and per
request to --log; the raw gunzipped bodies go to --bodies (one per line),
for the canary checks.
"""
import argparse
import gzip
import http.server
import json
import socketserver
import ssl
import sys
import threading
import time

import jsonschema

LOCK = threading.Lock()


def log(path, obj):
    with LOCK, open(path, "a") as f:
        f.write(json.dumps(obj) + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--schema", required=True)
    ap.add_argument("--bearer", required=True)
    ap.add_argument("--mode-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--bodies", required=True)
    args = ap.parse_args()
    schema = json.load(open(args.schema))
    validator = jsonschema.Draft202012Validator(schema)

    def mode():
        try:
            return open(args.mode_file).read().strip() or "ok"
        except OSError:
            return "ok"

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self):
            super().setup()
            log(args.log, {"event": "connection"})

        def log_message(self, *a):
            pass

        def answer(self, status, body=b"", headers=()):
            self.send_response(status)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            n = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(n)
            m = mode()
            entry = {"event": "request", "path": self.path, "mode": m,
                     "idempotency_key": self.headers.get("Idempotency-Key"),
                     "user_agent": self.headers.get("User-Agent")}
            problems = []
            if self.path != "/v1/ingest":
                problems.append("path")
            if self.headers.get("Authorization") != "Bearer " + args.bearer:
                problems.append("bearer")
            if self.headers.get("Content-Encoding") != "gzip":
                problems.append("content-encoding")
            if self.headers.get("Content-Type") != "application/json":
                problems.append("content-type")
            body = None
            try:
                text = gzip.decompress(raw)
                with LOCK, open(args.bodies, "ab") as f:
                    f.write(text + b"\n")
                body = json.loads(text)
                errors = sorted(validator.iter_errors(body), key=lambda e: list(e.path))
                if errors:
                    problems.append("schema: " + "; ".join(
                        f"{list(e.path)}: {e.message}" for e in errors[:3]))
                elif body["batch_id"] != entry["idempotency_key"]:
                    problems.append("batch_id != Idempotency-Key")
            except (OSError, ValueError) as e:
                problems.append(f"body: {e}")
            entry["problems"] = problems
            if body and isinstance(body, dict):
                entry["batch_id"] = body.get("batch_id")
                entry["ids"] = [r.get("id") for r in body.get("records", [])]
            if problems:
                entry["answer"] = 401 if "bearer" in problems else 400
                log(args.log, entry)
                self.answer(entry["answer"], b'{"error":"bad request"}')
                return
            if m == "hang":
                entry["answer"] = "hang"
                log(args.log, entry)
                while mode() == "hang":
                    time.sleep(0.2)
                self.close_connection = True
                return
            if m == "drop":
                entry["answer"] = "drop"
                log(args.log, entry)
                self.close_connection = True
                self.connection.close()
                return
            if m == "fail500":
                entry["answer"] = 500
                log(args.log, entry)
                self.answer(500, b'{"error":"unavailable"}')
                return
            if m == "429":
                entry["answer"] = 429
                log(args.log, entry)
                self.answer(429, b'{"error":"slow down"}', [("Retry-After", "1")])
                return
            entry["answer"] = 202
            log(args.log, entry)
            self.answer(202, b'{"accepted":true}')

    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True
        allow_reuse_address = True

    srv = Server(("127.0.0.1", args.port), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print("ready", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
