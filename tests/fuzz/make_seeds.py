#!/usr/bin/python3
"""Writes the libFuzzer seed inputs of every target into OUTDIR/<target>/.

Seeds come from the shared corpus (real request/response bytes, SSE streams,
JSON bodies), from data/prices-overrides.json (and a table in the
format of @pydantic/genai-prices), and from a few hand-made edge cases,
each in the input layout its target documents (tests/fuzz/fuzz_*.c). They
are generated at build time rather than committed: thousands of files in
git for what a script derives in a second. Deterministic (fixed RNG seed).

Usage: make_seeds.py OUTDIR PRICES_JSON [CORPUS_JSONL]
"""
import base64
import gzip
import hashlib
import json
import os
import random
import struct
import sys
import zlib

try:
    import brotli
except ImportError:  # Debian's python3-brotli; br seeds are skipped without it
    brotli = None

APIS = {"chat.completions": 1, "responses": 2, "messages": 3,
        "generate_content": 4, "stream_generate_content": 5, "other": 2}
MAX_SEED = 96 * 1024  # larger inputs slow every execution down
rng = random.Random(20240605)


def write(outdir, target, data):
    d = os.path.join(outdir, target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def headers(pairs):
    return b"".join(f"{k}: {v}\r\n".encode() for k, v in pairs)


def request_head(e, body):
    hs = [("Host", e["host"])] + [tuple(h) for h in e["req_headers"]]
    hs.append(("Content-Length", str(len(body))))
    return f"{e['method']} {e['path']} HTTP/1.1\r\n".encode() + headers(hs) + b"\r\n"


def sse_events(body):
    out, start = [], 0
    while True:
        i = body.find(b"\n\n", start)
        if i < 0:
            break
        out.append(body[start:i + 2])
        start = i + 2
    if start < len(body):
        out.append(body[start:])
    return out


def chunked(pieces, trailer=b""):
    out = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces if p)
    return out + b"0\r\n" + trailer + b"\r\n"


def response_wire(e, body, coding=None):
    """Head and framed body; streams go chunked, one chunk per event."""
    hs = [tuple(h) for h in e["resp_headers"]]
    if coding:
        hs.append(("Content-Encoding", coding))
    status = f"HTTP/1.1 {e['status']} OK\r\n".encode()
    if e["stream"]:
        pieces = sse_events(body) if not coding else [body[i:i + 700]
                                                      for i in range(0, len(body), 700)]
        hs.append(("Transfer-Encoding", "chunked"))
        return status + headers(hs) + b"\r\n", chunked(pieces)
    hs.append(("Content-Length", str(len(body))))
    return status + headers(hs) + b"\r\n", body


def encode(coding, body):
    if coding == "gzip":
        return gzip.compress(body, mtime=0)
    if coding == "deflate":
        return zlib.compress(body)
    if coding == "raw-deflate":
        c = zlib.compressobj(wbits=-15)
        return c.compress(body) + c.flush()
    if coding == "br" and brotli:
        return brotli.compress(body)
    return None


# ---- conn: capture events (layout in fuzz_conn.c) ----

def ev_data(conn, direction, data):
    return bytes([conn | direction << 2]) + struct.pack("<H", len(data)) + data


def calls(conn, direction, data, max_call):
    out = b""
    while data:
        n = rng.randint(1, max_call)
        out += ev_data(conn, direction, data[:n])
        data = data[n:]
    return out


def conn_exchange(e, conn=0, coding=None):
    """The request's events and the response's events, apart."""
    req_body = base64.b64decode(e["req_body_b64"])
    resp_body = base64.b64decode(e["resp_body_b64"])
    if coding:
        resp_body = encode(coding, resp_body)
        if resp_body is None:
            return None
    head, framed = response_wire(e, resp_body, coding)
    req = calls(conn, 0, request_head(e, req_body) + req_body, 16384)
    if e["stream"] and not coding:  # one read per chunk, as the server sends
        resp = ev_data(conn, 1, head)
        rest = framed
        while rest:
            i = rest.find(b"\r\n", rest.find(b"\r\n") + 2) + 2
            if i < 2:
                i = len(rest)
            resp += ev_data(conn, 1, rest[:i])
            rest = rest[i:]
    else:
        resp = calls(conn, 1, head + framed, 16384)
    return req, resp


CONN_HEADER = bytes([2, 3, 7])  # 256 KiB bodies, 4 conns, 8 pending
CLOSE = 4 << 2


def conn_seeds(outdir, lines):
    small = [e for e in lines if len(e["req_body_b64"]) + len(e["resp_body_b64"]) < 60000]
    for e in small:
        req, resp = conn_exchange(e)
        write(outdir, "conn", CONN_HEADER + req + resp)
    for coding in ("gzip", "deflate", "br"):
        for e in rng.sample(small, 6):
            x = conn_exchange(e, 1, coding)
            if x:
                write(outdir, "conn", CONN_HEADER + x[0] + x[1])
    for _ in range(8):
        # keep-alive: three exchanges on one connection, then its close
        s = b"".join(r + a for r, a in (conn_exchange(e, 2) for e in rng.sample(small, 3)))
        write(outdir, "conn", CONN_HEADER + s[:MAX_SEED] + bytes([2 | CLOSE]))
        # pipelining: both requests before either response
        (ra, aa), (rb, ab) = (conn_exchange(e, 1) for e in rng.sample(small, 2))
        write(outdir, "conn", CONN_HEADER + ra + rb + aa + ab)
        # two processes' connections interleaved
        (ra, aa), (rb, ab) = conn_exchange(rng.choice(small), 0), conn_exchange(rng.choice(small), 3)
        write(outdir, "conn", CONN_HEADER + ra + rb + ab + aa + bytes([0 | CLOSE, 3 | CLOSE]))


# ---- HTTP/2: frames with HPACK literals and dynamic-table references ----

def hp_int(v, bits, flags=0):
    top = (1 << bits) - 1
    if v < top:
        return bytes([flags | v])
    out, v = [flags | top], v - top
    while v >= 128:
        out.append(v % 128 | 128)
        v //= 128
    return bytes(out + [v])


def hp_str(b):
    return hp_int(len(b), 7) + b


def hp_literal(name, value, index=False):
    """A literal field, new name; index=True adds it to the dynamic table."""
    return (b"\x40" if index else b"\x00") + hp_str(name) + hp_str(value)


def h2_frame(ftype, flags, sid, payload):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", sid) + payload


def h2_data_frames(sid, pieces):
    """DATA frames, at most 16 KiB each, END_STREAM on the last."""
    frames = []
    for p in pieces:
        for i in range(0, max(len(p), 1), 16384):
            frames.append(p[i:i + 16384])
    return [h2_frame(0, 1 if i == len(frames) - 1 else 0, sid, f) for i, f in enumerate(frames)]


def h2_conversation(exchanges):
    """(direction, bytes of one TLS call) for exchanges on streams 1, 3, 5..."""
    calls = [(0, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + h2_frame(4, 0, 0, b"")),
             (1, h2_frame(4, 0, 0, struct.pack(">HI", 1, 65536))), (1, h2_frame(4, 1, 0, b""))]
    for n, e in enumerate(exchanges):
        sid = 1 + 2 * n
        req_body = base64.b64decode(e["req_body_b64"])
        resp_body = base64.b64decode(e["resp_body_b64"])
        if n == 0:  # inserted: [62] content-type, [63] :authority
            hb = (b"\x83\x87" + hp_literal(b":authority", e["host"].encode(), True)
                  + hp_literal(b"content-type", b"application/json", True))
        else:
            hb = b"\x83\x87\xbf\xbe"
        hb += hp_literal(b":path", e["path"].encode())
        calls.append((0, h2_frame(1, 4, sid, hb)))
        calls += [(0, f) for f in h2_data_frames(sid, [req_body])]
        ctype = dict((k.lower(), v) for k, v in e["resp_headers"]).get("content-type", "")
        rh = b"\x88" if e["status"] == 200 else hp_literal(b":status", str(e["status"]).encode())
        rh += hp_literal(b"content-type", ctype.encode())
        calls.append((1, h2_frame(1, 4, sid, rh)))
        pieces = sse_events(resp_body) if e["stream"] else [resp_body]
        calls += [(1, f) for f in h2_data_frames(sid, pieces)]
    return calls


def h2_seeds(outdir, lines):
    small = [e for e in lines if len(e["req_body_b64"]) + len(e["resp_body_b64"]) < 40000]
    groups = [[e] for e in small] + [rng.sample(small, 3) for _ in range(20)]
    for g in groups:
        conv = h2_conversation(g)
        write(outdir, "h2", bytes([0, 2, 7]) + b"".join(
            bytes([d | 2]) + struct.pack("<H", len(b)) + b for d, b in conv))
        write(outdir, "conn", CONN_HEADER + b"".join(ev_data(1, d, b) for d, b in conv))
    # joined mid-way: no preface, no table state
    for g in groups[:40]:
        conv = h2_conversation(g)[3:]
        write(outdir, "h2", bytes([1, 2, 7]) + b"".join(
            bytes([d | 2]) + struct.pack("<H", len(b)) + b for d, b in conv))


# ---- the LD_PRELOAD shim's ring (include/shim_ring.h) ----

EVENT_BYTES, EVENT_DATA_OFF, RING = 80, 76, 65536


def shim_ring(events, start):
    """Records as the shim writes them from position start; a record that
    would cross the ring's end is preceded by a pad record."""
    ring, pos = bytearray(RING), start
    for kind, direction, stream_pos, data in events:
        ev = struct.pack("<QQQQIIIIIIBBBB16s", 1000, 0x1000, 0, stream_pos, 7, 7, 0,
                         len(data), 0, len(data), kind, direction, 1, 0, b"shim")
        assert len(ev) == EVENT_DATA_OFF
        body = (ev + data).ljust(EVENT_BYTES + len(data), b"\0")
        rec_bytes = (16 + len(body) + 15) & ~15
        off = pos % RING
        if off + rec_bytes > RING:
            ring[off:off + 16] = struct.pack("<IIQ", 0xffffffff, 0, pos)
            pos += RING - off
            off = 0
        ring[off:off + 16] = struct.pack("<IIQ", len(body), 0, pos)
        ring[off + 16:off + 16 + len(body)] = body
        pos += rec_bytes
    s = start % RING
    rotated = bytes(ring[s:] + ring[:s])
    return struct.pack("<BII", 0, start, pos - start) + rotated[:pos - start]


def shim_seeds(outdir, lines):
    small = [e for e in lines if len(e["req_body_b64"]) + len(e["resp_body_b64"]) < 30000]
    for e in rng.sample(small, 40):
        req_body = base64.b64decode(e["req_body_b64"])
        head, framed = response_wire(e, base64.b64decode(e["resp_body_b64"]))
        events, pos = [], [0, 0]
        for direction, wire in ((0, request_head(e, req_body) + req_body), (1, head + framed)):
            while wire:
                n = rng.randint(1, 8000)
                events.append((1, direction, pos[direction], wire[:n]))
                pos[direction] += len(wire[:n])
                wire = wire[n:]
        events.append((2, 0, 0, b""))  # CLOSE
        start = rng.choice([0, RING - 512, 3 * RING + 4096])
        write(outdir, "shim", shim_ring(events, start))


# ---- the other targets ----

def provider_seed(api, mode, status, payload):
    return bytes([api, mode]) + struct.pack("<H", status) + payload


def corpus_seeds(outdir, lines):
    for e in lines:
        api = APIS.get(e["api"], 1)
        req_body = base64.b64decode(e["req_body_b64"])
        resp_body = base64.b64decode(e["resp_body_b64"])
        head = request_head(e, req_body)
        write(outdir, "http1", bytes([1, rng.randrange(256)]) + head + req_body[:64])
        cache_api = {"messages": 0, "chat.completions": 1, "responses": 2,
                     "generate_content": 3, "stream_generate_content": 3}.get(e["api"])
        if cache_api is not None and len(req_body) < MAX_SEED:
            write(outdir, "cache", bytes([cache_api, rng.randrange(256)]) + req_body)
        write(outdir, "detect", req_body[:MAX_SEED])
        rhead, framed = response_wire(e, resp_body)
        write(outdir, "http1", bytes([6, rng.randrange(256)]) + rhead + framed[:64])
        if len(req_body) < MAX_SEED:
            write(outdir, "provider", provider_seed(
                api, 0, 0, f"{e['method']}\n{e['path']}\n{e['host']}\n".encode() + req_body))
        if len(resp_body) >= MAX_SEED:
            continue
        write(outdir, "provider", provider_seed(api, 2 if e["stream"] else 1,
                                                e["status"], resp_body))
        split = struct.pack("<H", rng.randrange(65536))
        if e["stream"]:
            write(outdir, "sse", bytes([4]) + split + bytes([0]) + resp_body)
            write(outdir, "chunked", split + chunked(sse_events(resp_body)))
        elif rng.random() < 0.2:
            pieces, rest = [], resp_body
            while rest:
                n = rng.randint(1, 3000)
                pieces.append(rest[:n])
                rest = rest[n:]
            write(outdir, "chunked", split + chunked(pieces, b"X-Trailer: 1\r\n"))
        if rng.random() < 0.15:
            for idx, coding in ((0, "gzip"), (1, "deflate"), (1, "raw-deflate"),
                                (2, "br"), (3, "identity")):
                enc = encode(coding, resp_body) if coding != "identity" else resp_body
                if enc is not None:
                    write(outdir, "content", bytes([idx, 3]) + split + bytes([0]) + enc)


HANDMADE = {
    "otlp": [
        b"\x00x-tenant=t1,authorization=Bearer%20tok, ,k=%zz",
        b"\x00a=1,b,c=%41%42",
        b"\x01FLAG=http://127.0.0.1:4318/base/\nOTEL_EXPORTER_OTLP_HEADERS=a=1,b=%20x\n"
        b"OTEL_RESOURCE_ATTRIBUTES=service.name=s,k8s.cluster.name=c\nOTEL_BSP_MAX_QUEUE_SIZE=8\n",
        b"\x01OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=https://u:p@h/v1/traces\n",
        b"\x01OTEL_EXPORTER_OTLP_ENDPOINT=http://[::1]:4318\nOTEL_BSP_SCHEDULE_DELAY=-1\n",
        b"\x02gemini\x00/usr/bin/node\x00gemini-2.5-flash\x00generativelanguage.googleapis.com"
        b"\x00\x00generate_content\x00google\x00pod-1\x00proj\x00ttl_expired",
        b"\x02app\xff\xfe\x00exe\x00m\x00[::1]:8080\x00rate_limit\x00messages\x00anthropic",
    ],
    # fuzz_tls13: [mode][vector][split seed], then patches to the vector's
    # stream (odd modes) or a stream of its own (even).
    "tls13": [
        b"\x01\x00\x00\x00", b"\x03\x01\x07\x00", b"\x01\x02\x01\x00\xf0\x00\x01",
        b"\x00\x00\x00\x00\x17\x03\x03\x00\x11" + bytes(17),
    ],
    "config": [
        b"db: ${HOME:-/var/lib}/llmobs.db\nlisten: 127.0.0.1:9464\nplain_ports: [11434]\n"
        b"metrics:\n  max_series: 10\nprojects:\n  from_labels: [team]\n  rules:\n"
        b"    - app: gemini\n      project: research\n",
        b'{"db": "/x.db", "max_conns": 5, "projects": {"rules": [{"exe": "/usr/bin/*", "project": "p"}]}}',
        b"a: &x [1]\nb: *x\n",
        b"budgets:\n  - project: devtools\n    period: day\n    usd: 25\n  - name: s\n"
        b"    model: \"claude-*\"\n    period: month\n    usd: 500.5\n  - period: month\n"
        b"    usd: 1000\nbudget_webhook: https://hooks.example/x\n",
    ],
    "procattr": [
        b"\x01" + b"0::/kubepods.slice/kubepods-pod1f2e3d4c_5b6a_4978_8695_a4b3c2d1e0f9.slice/"
        b"cri-containerd-" + b"ab" * 32 + b".scope\n",
        b"\x01" + b"12:pids:/docker/" + b"0f" * 32 + b"\n0::/\n",
        b"\x00node\x00--require\x00x.js\x00/srv/app/dist/index.js\x00",
        b"\x02python3\x00-m\x00openai.cli\x00",
        b"\x04java\x00-cp\x00a.jar\x00com.example.Main\x00",
    ],
    "http1": [
        b"\x01\x05GET /v1/models HTTP/1.1\r\nHost: a\r\n\r\n",
        b"\x01\x00POST /v1/chat/completions HTTP/1.1\nTransfer-Encoding: gzip, chunked\n\n",
        b"\x00\x03HTTP/1.1 100 Continue\r\n\r\n",
        b"\x02\x03HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
        b"\x04\x03HTTP/1.1 200 Connection established\r\n\r\n",
        b"\x06\x10HTTP/1.1 204\r\nContent-Length: 42, 42\r\n\r\n",
        b"\x06\x10HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        b"\x01\x07\r\n\r\nPOST / HTTP/1.1\r\nA: b\r\n c\r\n\r\n",
    ],
    "chunked": [
        b"\x00\x00" + b"5;ext=1\r\nhello\r\n0\r\n\r\nGET / HTTP/1.1\r\n",
        b"\x01\x02" + b"FFFFFFFFFFFFFFFF\r\n",
        b"\x03\x04" + b"3\nabc\n0\nTrailer: x\n\n",
    ],
    "sse": [
        b"\x02\x00\x00\x00\xef\xbb\xbfdata: a\r\ndata: b\r\rdata:c\n\n: ping\n\nevent: x\ndata\n\n",
        b"\x00\x01\x00\x02data: " + b"x" * 200 + b"\n\n",
    ],
    "content": [
        bytes([0, 0, 0, 0, 0]) + gzip.compress(b"a" * 100000, mtime=0),
        bytes([1, 1, 0, 0, 2]) + zlib.compress(b"b" * 100000),
        bytes([0, 3, 1, 0, 0]) + gzip.compress(b"one", mtime=0) + gzip.compress(b"two", mtime=0),
    ],
    "detect": [
        b"key sk-proj-4fT9aQ2LmZx8Rk1VbN7pWc3YsH6jDg0EuQ5tKiOa AKIAIOSFODNN7EXAMPLE "
        b"ghp_1a2B3c4D5e6F7g8H9i0J1k2L3m4N5o6P7q8R AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY",
        b"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQ",
        b"-----BEGIN RSA PRIVATE KEY-----\\nMIIEpAIBAAKCAQEA\\n-----END RSA PRIVATE KEY-----",
        b"jane.doe+x@example.co.uk +44 20 7946 0958 (415) 555-0100 212-555-0199",
        b"4111 1111 1111 1111 3782 822463 10005 DE89 3704 0044 0532 0130 00 GB82WEST12345698765432",
    ],
    "provider": [
        provider_seed(1, 2, 200, b'data: {"model":"m","usage":{"prompt_tokens":3}}\n\ndata: [DONE]\n\n'),
        provider_seed(3, 2, 200, b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error"}}\n\n'),
        provider_seed(4, 1, 200, b'[{"usageMetadata":{"promptTokenCount":1}}]'),
        provider_seed(2, 1, 500, b'<html>bad gateway</html>'),
        provider_seed(1, 0, 0, b"POST\n/openai/deployments/gpt4/chat/completions?api-version=1\nx.openai.azure.com\n{}"),
        provider_seed(3, 0, 0, b"POST\n/v1/projects/p/locations/l/publishers/anthropic/models/claude:streamRawPredict\nus-east5-aiplatform.googleapis.com\n"),
    ],
    # the cache analysis' request shapes the corpus lacks: GPT-5.6 explicit
    # breakpoints and options, Anthropic tool_choice and images, Codex items
    "cache": [
        b"\x01\x00" + json.dumps({"model": "gpt-5.6-sol", "messages": [
            {"role": "system", "content": [{"type": "text", "text": "You are terse.",
                                            "prompt_cache_breakpoint": {"type": "ephemeral"}}]},
            {"role": "user", "content": "hi"}],
            "prompt_cache_options": {"mode": "explicit", "ttl": "30m"}}).encode(),
        b"\x00\x00" + json.dumps({"model": "claude-sonnet-4-5", "tool_choice": {"type": "any"},
            "thinking": {"type": "enabled", "budget_tokens": 1024},
            "tools": [{"name": "t", "input_schema": {"type": "object"}}],
            "system": [{"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1; cch=ab12;"},
                       {"type": "text", "text": "S", "cache_control": {"type": "ephemeral"}}],
            "messages": [{"role": "user", "content": [
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBOR"}},
                {"type": "text", "text": "what is this?", "cache_control": {"type": "ephemeral"}}]}],
            "metadata": {"user_id": "u_1"}}).encode(),
        b"\x02\x00" + json.dumps({"model": "gpt-5-codex", "instructions": "I", "input": [
            {"type": "message", "role": "user", "id": "msg_0199f3a2",
             "content": [{"type": "input_text", "text": "t"}],
             "internal_chat_message_metadata_passthrough": {"turn_id": "0b5c"}}],
            "prompt_cache_key": "5f1e"}).encode(),
    ],
}


def go_pclntab(magic):
    """A .gopclntab of Go 1.18+ (magic 0xfffffff0/1) or 1.16 (0xfffffffa)
    listing main.main and crypto/tls.(*Conn).Write/Read/Close, as
    tests/unit/test_go_elf.c builds it."""
    new = magic != 0xfffffffa
    names = [b"main.main", b"crypto/tls.(*Conn).Write", b"crypto/tls.(*Conn).Read",
             b"crypto/tls.(*Conn).Close"]
    entry = [0x100, 0x200, 0x480, 0x900, 0xa00]
    names_off, pcln = 0x100, 0x300
    entsz = 8 if new else 16
    funcs = pcln + 5 * entsz
    b = bytearray(funcs + 5 * 16)
    struct.pack_into("<IxxBBQ", b, 0, magic, 1, 8, 4)
    if new:
        struct.pack_into("<QQ", b, 24, 0x401000, names_off)
        struct.pack_into("<Q", b, 64, pcln)
    else:
        struct.pack_into("<Q", b, 24, names_off)
        struct.pack_into("<Q", b, 56, pcln)
    p, offs = names_off, []
    for n in names:
        offs.append(p - names_off)
        b[p:p + len(n) + 1] = n + b"\0"
        p += len(n) + 1
    for i in range(5):
        f = funcs + i * 16 - pcln
        if new:
            struct.pack_into("<II", b, pcln + i * entsz, entry[i], f)
            if i < 4:
                struct.pack_into("<Ii", b, pcln + f, entry[i], offs[i])
        else:
            struct.pack_into("<QQ", b, pcln + i * entsz, 0x401000 + entry[i], f)
            if i < 4:
                struct.pack_into("<Qi", b, pcln + f, 0x401000 + entry[i], offs[i])
    return bytes(b)


def elf_seeds(outdir):
    """Small real executables for fuzz_elf_tls: the harness's own tools."""
    for path in ("/bin/true", "/usr/lib/go/bin/gofmt"):
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError:
            continue
        if len(data) <= 4 << 20:
            write(outdir, "elf_tls", data)


def find_cache_seeds(outdir):
    """fuzz_find_cache: a cache of find_cache.c's format (one entry, one
    refusal of finder 9, the harness's), and a small executable."""
    entry = bytes(32) + struct.pack("<IIiIQ", 9, 1, -2, 0, 1) + bytes(16 + 32 + 64) \
        + b"none here".ljust(160, b"\0")
    write(outdir, "find_cache", b"LLMOBSFC" + struct.pack("<IIII", 1, 1, len(entry), 0) + entry)
    with open("/bin/true", "rb") as f:
        write(outdir, "find_cache", f.read())


def go_seeds(outdir):
    for magic in (0xfffffffa, 0xfffffff0, 0xfffffff1):
        write(outdir, "go_elf", b"\x01" + go_pclntab(magic))
    write(outdir, "go_elf", b"\x00" + go_pclntab(0xfffffff1)[:200])
    bi = bytearray(b"\xff Go buildinf:" + bytes([8, 2]) + bytes(16))
    write(outdir, "go_elf", b"\x00" + bytes(bi) + bytes([8]) + b"go1.19.8" + bytes(8))


def main():
    outdir, prices = sys.argv[1], sys.argv[2]
    corpus = sys.argv[3] if len(sys.argv) > 3 else ""
    for target, seeds in HANDMADE.items():
        for s in seeds:
            write(outdir, target, s)
    with open(prices, "rb") as f:
        table = f.read()
    write(outdir, "cost", table)
    doc = json.loads(table)
    models = doc["models"]
    first = next(iter(models))
    write(outdir, "cost", json.dumps({"models": {first: models[first]}}).encode())
    write(outdir, "cost", b'{"models":{"m":{"provider":"p","input":1e-6,"output":2e-6,'
          b'"aliases":["a","b"]},"n":{"provider":"p","input":0,"output":0,"reasoning":1e-7}}}')

    # @pydantic/genai-prices' format: match trees, tiers, history, off-peak.
    write(outdir, "cost", json.dumps([{
        "id": "openai", "api_pattern": "https://api\\.openai\\.com",
        "model_match": {"or": [{"starts_with": "gpt-"}, {"regex": "^o[134]"}]},
        "fallback_model_providers": ["anthropic"],
        "models": [
            {"id": "gpt-4o", "match": {"or": [{"equals": "gpt-4o"}, {"equals": "gpt-4o-2024-08-06"}]},
             "prices": {"input_mtok": 2.5, "cache_read_mtok": 1.25, "output_mtok": 10,
                        "requests_kcount": 1}},
            {"id": "o3", "match": {"and": [{"starts_with": "o3"}, {"regex": "^(?!.*-mini)"}]},
             "prices": [{"prices": {"input_mtok": 10, "output_mtok": 40}},
                        {"constraint": {"start_date": "2025-06-10", "type": "start_date"},
                         "prices": {"input_mtok": 2, "output_mtok": 8}},
                        {"constraint": {"start_time": "16:30:00Z", "end_time": "00:30:00Z",
                                        "type": "time_of_date"},
                         "prices": {"input_mtok": 1, "output_mtok": 4}}]},
            {"id": "gpt-5.4", "match": {"ends_with": "5.4"},
             "prices": {"input_mtok": {"base": 2.5, "tiers": [{"start": 272000, "price": 5}]},
                        "output_mtok": {"base": 15, "tiers": [{"start": 272000, "price": 22.5}]},
                        "cache_write_mtok": 3, "cache_write_1h_mtok": 6,
                        "output_reasoning_mtok": 20}}]},
        {"id": "anthropic", "api_pattern": "https://api\\.anthropic\\.com",
         "model_match": {"contains": "claude"},
         "models": [{"id": "claude-x", "match": {"contains": "claude-x"},
                     "prices": {"input_mtok": 3, "output_mtok": 15}}]}]).encode())
    write(outdir, "conn", CONN_HEADER)
    go_seeds(outdir)
    elf_seeds(outdir)
    find_cache_seeds(outdir)
    if corpus and os.path.exists(corpus):
        with open(corpus) as f:
            lines = [json.loads(l) for l in f if l.strip()]
        corpus_seeds(outdir, lines)
        conn_seeds(outdir, lines)
        h2_seeds(outdir, lines)
        shim_seeds(outdir, lines)
    else:
        print(f"make_seeds: no corpus at {corpus!r}: hand-made seeds only", file=sys.stderr)


if __name__ == "__main__":
    main()
