#!/usr/bin/python3
"""A test OTLP/HTTP receiver (no OpenTelemetry Collector is packaged for
Debian or npm): POST /v1/traces with an OTLP/JSON ExportTraceServiceRequest,
decoded by the rules of the OTLP specification's JSON encoding (hex trace
and span ids, 64-bit integers as decimal strings, enums as numbers, one
value type per AnyValue), and every attribute name checked against the
semantic conventions' list (--semconv: tests/otlp/semconv-attributes.txt,
pinned from @opentelemetry/semantic-conventions): a name must be on it and
not deprecated, or be under our own prefix "llmobs.".

Per request, one JSON line in --log: the answer given, the span count and
every problem found. Every span, flattened with its resource, one JSON line
in --spans; every decompressed body in --bodies (for canary greps).
--mode-file holds how to answer next: ok, fail503 (503 + Retry-After: 1),
reject400, partial (2xx, one span rejected, the first time), hang (hold the request).

Usage: receiver.py --port N --semconv FILE --log F --spans F --bodies F
                   --mode-file F [--require-header NAME:VALUE]...
                   [--cert PEM --key PEM]   (https)
"""
import argparse
import gzip
import http.server
import json
import re
import ssl
import sys
import threading
import time

HEX32 = re.compile(r"^[0-9a-f]{32}$")
HEX16 = re.compile(r"^[0-9a-f]{16}$")
UINT = re.compile(r"^[0-9]+$")
VALUE_TYPES = {"stringValue", "intValue", "doubleValue", "boolValue", "arrayValue",
               "kvlistValue", "bytesValue"}
OUR_PREFIX = "llmobs."


def load_semconv(path):
    names, replaced = set(), {}
    for line in open(path):
        if line.startswith("#") or not line.strip():
            continue
        parts = line.split()
        names.add(parts[0])
        if len(parts) == 3 and parts[1] == "replaced-by":
            replaced[parts[0]] = parts[2]
    return names, replaced


def decode_value(v, where, problems):
    if not isinstance(v, dict) or len(v) != 1 or next(iter(v)) not in VALUE_TYPES:
        problems.append(f"{where}: value is not one AnyValue: {v!r}")
        return None
    kind, x = next(iter(v.items()))
    if kind == "intValue":
        if isinstance(x, str) and re.match(r"^-?[0-9]+$", x):
            return int(x)
        if isinstance(x, int):
            return x
        problems.append(f"{where}: intValue {x!r} is not an int64")
    elif kind == "doubleValue":
        if isinstance(x, (int, float)) and not isinstance(x, bool):
            return float(x)
        problems.append(f"{where}: doubleValue {x!r} is not a number")
    elif kind == "boolValue":
        if isinstance(x, bool):
            return x
        problems.append(f"{where}: boolValue {x!r} is not a bool")
    elif kind == "stringValue":
        if isinstance(x, str):
            return x
        problems.append(f"{where}: stringValue {x!r} is not a string")
    else:
        problems.append(f"{where}: {kind}: the exporter sends scalars only")
    return None


def decode_attrs(attrs, where, ctx, problems):
    out = {}
    if not isinstance(attrs, list):
        problems.append(f"{where}: attributes is not a list")
        return out
    for a in attrs:
        k = a.get("key") if isinstance(a, dict) else None
        if not isinstance(k, str) or not k:
            problems.append(f"{where}: attribute without a key: {a!r}")
            continue
        if k in out:
            problems.append(f"{where}: duplicate attribute {k}")
        if not k.startswith(OUR_PREFIX):
            if k in ctx.replaced:
                problems.append(f"{where}: {k} is deprecated, replaced by {ctx.replaced[k]}")
            elif k not in ctx.names and k not in ctx.extra:
                problems.append(f"{where}: {k} is not a semantic-conventions attribute")
        out[k] = decode_value(a.get("value"), f"{where} {k}", problems)
    return out


def decode_request(doc, ctx, problems):
    """ExportTraceServiceRequest -> flattened spans."""
    spans = []
    rss = doc.get("resourceSpans") if isinstance(doc, dict) else None
    if not isinstance(rss, list) or not rss:
        problems.append("no resourceSpans")
        return spans
    seen_resources = []
    for i, rs in enumerate(rss):
        res = decode_attrs(rs.get("resource", {}).get("attributes", []), f"resource[{i}]", ctx,
                           problems)
        if res in seen_resources:
            problems.append(f"resource[{i}]: the same resource twice in one request")
        seen_resources.append(res)
        if "service.name" not in res:
            problems.append(f"resource[{i}]: no service.name")
        for ss in rs.get("scopeSpans", []):
            scope = ss.get("scope", {})
            if not scope.get("name"):
                problems.append(f"resource[{i}]: a scope without a name")
            for s in ss.get("spans", []):
                w = f"span {s.get('spanId')}"
                if not HEX32.match(str(s.get("traceId"))) or set(s["traceId"]) == {"0"}:
                    problems.append(f"{w}: traceId {s.get('traceId')!r} is not 32 hex digits")
                if not HEX16.match(str(s.get("spanId"))) or set(s["spanId"]) == {"0"}:
                    problems.append(f"{w}: spanId is not 16 hex digits")
                if not isinstance(s.get("kind"), int) or not 0 <= s["kind"] <= 5:
                    problems.append(f"{w}: kind {s.get('kind')!r} is not a SpanKind number")
                t0, t1 = s.get("startTimeUnixNano"), s.get("endTimeUnixNano")
                if not (isinstance(t0, str) and UINT.match(t0) and isinstance(t1, str)
                        and UINT.match(t1) and int(t1) >= int(t0) > 0):
                    problems.append(f"{w}: times {t0!r}..{t1!r} are not uint64 strings, in order")
                    t0 = t1 = "0"
                if not isinstance(s.get("name"), str) or not s["name"]:
                    problems.append(f"{w}: no name")
                status = s.get("status", {})
                if status and status.get("code") not in (0, 1, 2):
                    problems.append(f"{w}: status code {status.get('code')!r}")
                attrs = decode_attrs(s.get("attributes", []), w, ctx, problems)
                spans.append({"resource": res, "attributes": attrs, "name": s.get("name"),
                              "kind": s.get("kind"), "start_ns": int(t0), "end_ns": int(t1),
                              "status": status.get("code", 0), "trace_id": s.get("traceId"),
                              "span_id": s.get("spanId")})
    return spans


class Ctx:
    pass


def make_handler(ctx):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def answer(self, status, body=b"{}", headers=()):
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for k, v in headers:
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            problems = []
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            mode = open(ctx.mode_file).read().strip()
            entry = {"event": "request", "path": self.path, "mode": mode}
            if self.path != "/v1/traces":
                problems.append(f"path {self.path}")
            if self.headers.get("Content-Type") != "application/json":
                problems.append(f"Content-Type {self.headers.get('Content-Type')}")
            for name, value in ctx.require:
                if self.headers.get(name) != value:
                    problems.append(f"header {name} missing or wrong")
            try:
                body = gzip.decompress(raw) if self.headers.get("Content-Encoding") == "gzip" \
                    else raw
                doc = json.loads(body)
            except (OSError, ValueError) as e:
                problems.append(f"body: {e}")
                body, doc = raw, None
            spans = decode_request(doc, ctx, problems) if doc is not None else []
            entry.update(spans=len(spans), problems=problems)
            with ctx.lock, open(ctx.bodies, "ab") as f:
                f.write(body + b"\n")
            if mode == "hang":
                entry["answer"] = "hang"
                ctx.write_log(entry)
                while open(ctx.mode_file).read().strip() == "hang":
                    time.sleep(0.1)
                self.close_connection = True
                return
            if mode == "fail503":
                entry["answer"] = 503
                self.answer(503, b'{"code":14}', [("Retry-After", "1")])
            elif mode == "reject400":
                entry["answer"] = 400
                self.answer(400, b'{"code":3,"message":"bad"}')
            else:
                with ctx.lock:	# partial: one span rejected, once
                    rejected = 1 if mode == "partial" and spans and not ctx.partial_done else 0
                    ctx.partial_done |= bool(rejected)
                entry["answer"] = 200
                entry["rejected"] = rejected
                self.answer(200, json.dumps({"partialSuccess": {"rejectedSpans": str(rejected)}}
                                            if rejected else {"partialSuccess": {}}).encode())
                with ctx.lock, open(ctx.spans, "a") as f:
                    # A rejected span is not kept: what the collector stores.
                    for s in spans[rejected:]:
                        f.write(json.dumps(s) + "\n")
            ctx.write_log(entry)

    return Handler


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--semconv", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--spans", required=True)
    ap.add_argument("--bodies", required=True)
    ap.add_argument("--mode-file", required=True)
    ap.add_argument("--require-header", action="append", default=[])
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--allow-attribute", action="append", default=[],
                    help="an operator's own resource attribute the test sets")
    a = ap.parse_args()
    ctx = Ctx()
    ctx.names, ctx.replaced = load_semconv(a.semconv)
    ctx.extra = set(a.allow_attribute)
    ctx.partial_done = False
    ctx.mode_file, ctx.spans, ctx.bodies = a.mode_file, a.spans, a.bodies
    ctx.require = [tuple(h.split(":", 1)) for h in a.require_header]
    ctx.lock, log_lock = threading.Lock(), threading.Lock()

    def write_log(entry):
        with log_lock, open(a.log, "a") as f:
            f.write(json.dumps(entry) + "\n")
    ctx.write_log = write_log
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", a.port), make_handler(ctx))
    srv.daemon_threads = True
    if a.cert:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(a.cert, a.key)
        srv.socket = tls.wrap_socket(srv.socket, server_side=True)
    print("ready", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
