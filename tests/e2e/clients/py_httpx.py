"""httpx client (Debian's python3-httpx): one keep-alive Client, many requests.

Modes:
  py_httpx.py fixtures FIXTURES.jsonl   the fixtures, streams read as streams
  py_httpx.py fixtures-h2 FIXTURES.jsonl  the same over HTTP/2 (ALPN h2, needs
                                        python3-h2): one connection, so the
                                        HPACK tables carry across requests
  py_httpx.py replay CORPUS.jsonl       every corpus exchange with its recorded
                                        method, path and headers (minus
                                        credentials), in file order
Checks each answer against the recorded status and body; prints one line per
call (replay: failures and a summary); exits non-zero when any call fails.
"""
import base64
import json
import sys

import httpx

DROP = {"authorization", "cookie", "x-api-key", "x-goog-api-key", "api-key",
        "content-length", "host", "transfer-encoding", "connection"}
AUTH = {"api.anthropic.com": {"x-api-key": "sk-ant-e2e-dummy", "anthropic-version": "2023-06-01"},
        "generativelanguage.googleapis.com": {"x-goog-api-key": "e2e-dummy"}}


def headers_for(e):
    h = [(k, v) for k, v in e.get("req_headers", []) if k.lower() not in DROP]
    extra = AUTH.get(e["host"], {"authorization": "Bearer sk-e2e-dummy"})
    return h + list(extra.items())


def call(client, e, compress_stream=False):
    url = f"https://{e['host']}{e['path']}"
    body = base64.b64decode(e["req_body_b64"])
    want = base64.b64decode(e["resp_body_b64"])
    if e.get("stream"):
        chunks = 0
        h = headers_for(e)
        if compress_stream:  # the server then compresses the stream event by event
            h.append(("x-e2e-compress-stream", "1"))
        with client.stream(e["method"], url, content=body, headers=h) as r:
            data = b""
            for piece in r.iter_bytes():
                chunks += 1
                data += piece
            status = r.status_code
        detail = f"reads={chunks} encoding={r.headers.get('content-encoding', 'identity')}"
    else:
        r = client.request(e["method"], url, content=body, headers=headers_for(e))
        data, status = r.content, r.status_code
        detail = f"encoding={r.headers.get('content-encoding', 'identity')}"
    if status != e["status"] or data != want:
        raise RuntimeError(f"status {status} (want {e['status']}), {len(data)} bytes (want {len(want)})")
    if client._transport._pool._http2 and r.http_version != "HTTP/2":
        raise RuntimeError(f"answered over {r.http_version}, want HTTP/2")
    return f"status={status} bytes={len(data)} {r.http_version} {detail}"


def main():
    mode, path = sys.argv[1], sys.argv[2]
    with open(path) as f:
        entries = [json.loads(line) for line in f if line.strip()]
    fixtures = mode in ("fixtures", "fixtures-h2")
    if fixtures:
        entries = [e for e in entries if not e.get("e2e_hash_only")]
    failed = 0
    limits = httpx.Limits(max_connections=4, max_keepalive_connections=4)
    with httpx.Client(http2=(mode == "fixtures-h2"), timeout=30.0, limits=limits) as client:
        for e in entries:
            try:
                line = call(client, e, compress_stream=fixtures)
                if fixtures:
                    print(f"ok httpx {e['id']} {line}", flush=True)
            except Exception as ex:
                failed += 1
                print(f"FAIL httpx {e['id']} {type(ex).__name__}: {ex}", flush=True)
    print(f"httpx {mode}: {len(entries) - failed} ok, {failed} failed", flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
