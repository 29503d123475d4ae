#!/usr/bin/python3
"""Local TLS server that plays LLM APIs back for the end-to-end tests.

Answers HTTP/1.1 (keep-alive) and, when the client offers it by ALPN,
HTTP/2 requests (Debian's python3-h2) with exchanges in the corpus format:
first by (method, path, sha256 of the request body), then from the fixtures by
(path without query, request "model", "stream"), else a 404 JSON error.
Streams go out one SSE event per chunk (HTTP/1.1) or DATA frame (HTTP/2),
each in its own TLS record, so that an observer sees many small reads. Every answered request is logged
as one JSON line (--served) with the client's pid, found through the socket
table, so the checker knows exactly which process made which exchange.
Stdlib only, but for brotli and h2 (Debian's python3-brotli, python3-h2):
without h2 the server offers HTTP/1.1 alone.
"""
import argparse
import base64
import hashlib
import json
import os
import signal
import socket
import ssl
import sys
import threading
import time
import zlib

try:
    import brotli
except ImportError:  # optional: br only when the module is there
    brotli = None
try:
    import h2.config
    import h2.connection
    import h2.events
    import h2.exceptions
except ImportError:  # optional: HTTP/2 only when the module is there
    h2 = None

HOP_HEADERS = {"content-length", "transfer-encoding", "connection", "keep-alive"}
MAX_HEADER_BYTES = 64 * 1024
MAX_BODY_BYTES = 64 * 1024 * 1024


def log(msg):
    print(f"llm_server: {msg}", file=sys.stderr, flush=True)


def request_route(method, path, body):
    """(path without query, model, stream) a fixture can be chosen by."""
    bare = path.split("?", 1)[0]
    model, stream = "", False
    try:
        obj = json.loads(body) if body else {}
        if isinstance(obj, dict):
            model = obj.get("model") or ""
            stream = bool(obj.get("stream"))
    except ValueError:
        pass
    if "/models/" in bare and ":" in bare:  # Gemini / Vertex: model in the path
        model = model or bare.split("/models/", 1)[1].split(":", 1)[0]
        stream = stream or bare.endswith(":streamGenerateContent")
    if "/deployments/" in bare:  # Azure OpenAI
        model = model or bare.split("/deployments/", 1)[1].split("/", 1)[0]
    return (method, bare, model, stream)


class Catalog:
    """Recorded exchanges indexed by request body hash and by route."""

    def __init__(self):
        self.by_hash = {}
        self.by_route = {}
        self.turn = {}
        self.lock = threading.Lock()

    def load(self, path, source, routable):
        n = 0
        with open(path, "rb") as f:
            for line in f:
                if not line.strip():
                    continue
                e = json.loads(line)
                e["_source"] = source
                e["_req_body"] = base64.b64decode(e.get("req_body_b64", ""))
                e["_resp_body"] = base64.b64decode(e.get("resp_body_b64", ""))
                digest = hashlib.sha256(e["_req_body"]).hexdigest()
                keys = {(e["method"], e["path"], digest),
                        (e["method"], e["path"].split("?", 1)[0], digest)}
                for k in keys:
                    self.by_hash.setdefault(k, []).append(e)
                if routable and not e.get("e2e_hash_only"):
                    r = request_route(e["method"], e["path"], e["_req_body"])
                    self.by_route.setdefault(r, []).append(e)
                n += 1
        log(f"loaded {n} exchanges from {path}")

    def _pick(self, key, cands, host):
        same_host = [e for e in cands if e.get("host") == host]
        cands = same_host or cands
        # Identical requests (the corpus has a few) are answered in turn, in
        # file order, so a replay in file order gets each recorded answer once.
        with self.lock:
            i = self.turn.get((key, host), 0)
            self.turn[(key, host)] = i + 1
        return cands[i % len(cands)]

    def find(self, method, path, host, body):
        digest = hashlib.sha256(body).hexdigest()
        for k in ((method, path, digest), (method, path.split("?", 1)[0], digest)):
            if k in self.by_hash:
                return self._pick(k, self.by_hash[k], host), "hash"
        r = request_route(method, path, body)
        if r in self.by_route:
            return self._pick(r, self.by_route[r], host), "route"
        return None, "none"


def peer_process(port, server_port):
    """pid, exe, comm of the process owning the client end 127.0.0.1:port."""
    inode = None
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    p = line.split()
                    lport = int(p[1].rsplit(":", 1)[1], 16)
                    rport = int(p[2].rsplit(":", 1)[1], 16)
                    if lport == port and rport == server_port:
                        inode = p[9]
                        break
        except OSError:
            continue
        if inode:
            break
    if not inode:
        return {}
    target = f"socket:[{inode}]"
    me = os.getpid()
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == me:
            continue
        try:
            fds = os.listdir(f"/proc/{d}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{d}/fd/{fd}") != target:
                    continue
            except OSError:
                continue
            info = {"pid": int(d)}
            try:
                info["exe"] = os.readlink(f"/proc/{d}/exe")
                with open(f"/proc/{d}/comm") as c:
                    info["comm"] = c.read().strip()
            except OSError:
                pass
            return info
    return {}


class Server:
    def __init__(self, args):
        self.args = args
        self.catalog = Catalog()
        self.served_lock = threading.Lock()
        self.served = open(args.served, "a", buffering=1) if args.served else None
        self.seq = 0
        self.conn_seq = 0
        self.enc_turn = 0
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(args.cert, args.key)
        self.ctx.set_alpn_protocols(["h2", "http/1.1"] if h2 else ["http/1.1"])

    def record(self, item):
        with self.served_lock:
            self.seq += 1
            item["seq"] = self.seq
            if self.served:
                self.served.write(json.dumps(item, sort_keys=True) + "\n")

    # -- HTTP/1.1 reading -------------------------------------------------
    @staticmethod
    def read_head(f):
        line = f.readline(MAX_HEADER_BYTES)
        while line in (b"\r\n", b"\n"):  # tolerate stray CRLF between requests
            line = f.readline(MAX_HEADER_BYTES)
        if not line:
            return None
        parts = line.decode("latin-1").rstrip("\r\n").split(" ")
        if len(parts) != 3:
            raise ValueError(f"bad request line {line[:80]!r}")
        headers = []
        total = len(line)
        while True:
            h = f.readline(MAX_HEADER_BYTES)
            total += len(h)
            if total > MAX_HEADER_BYTES or not h:
                raise ValueError("headers too long or cut")
            if h in (b"\r\n", b"\n"):
                break
            name, _, value = h.decode("latin-1").partition(":")
            headers.append((name.strip().lower(), value.strip()))
        return parts[0], parts[1], parts[2], headers

    @staticmethod
    def read_body(f, headers, sock):
        hd = dict(headers)
        if hd.get("expect", "").lower() == "100-continue":
            sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        if "chunked" in hd.get("transfer-encoding", "").lower():
            out = bytearray()
            while True:
                size = int(f.readline(1024).split(b";")[0].strip(), 16)
                if size == 0:
                    while f.readline(MAX_HEADER_BYTES) not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(out)
                if len(out) + size > MAX_BODY_BYTES:
                    raise ValueError("body too large")
                out += f.read(size)
                f.readline(16)
        n = int(hd.get("content-length", "0") or 0)
        if n > MAX_BODY_BYTES:
            raise ValueError("body too large")
        return f.read(n) if n else b""

    # -- answering ---------------------------------------------------------
    def choose_encoding(self, headers, entry_headers, stream):
        hd = dict(headers)
        if not self.args.compress:
            return None
        if stream and not (self.args.compress_streams or hd.get("x-e2e-compress-stream")):
            return None
        if any(k.lower() == "content-encoding" for k, _ in entry_headers):
            return None  # already encoded as recorded
        accepted = {t.split(";")[0].strip().lower()
                    for t in hd.get("accept-encoding", "").split(",")}
        offer = [e for e in ("br", "gzip", "deflate") if e in accepted
                 and (e != "br" or brotli is not None)]
        if not offer:
            return None
        # A client that takes several encodings gets each in turn, and
        # sometimes none, so one replay covers br, gzip, deflate and identity.
        with self.served_lock:
            self.enc_turn += 1
            turn = self.enc_turn
        return (offer + [None])[turn % (len(offer) + 1)]

    @staticmethod
    def encoder(enc):
        """Incremental encoder: feed(bytes) -> bytes, flushed at each call."""
        if enc == "br":
            c = brotli.Compressor()
            return lambda b, last=False: (c.process(b) + (c.finish() if last else c.flush()))
        wbits = {"gzip": 31, "deflate": 15}[enc]
        c = zlib.compressobj(6, zlib.DEFLATED, wbits)
        return lambda b, last=False: c.compress(b) + c.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH)

    @staticmethod
    def sse_events(body):
        """Split a stream body into events, each keeping its separator."""
        sep = b"\r\n\r\n" if b"\r\n\r\n" in body else b"\n\n"
        if sep not in body:  # NDJSON or a single blob: one line per chunk
            sep = b"\n"
        out, start = [], 0
        while start < len(body):
            i = body.find(sep, start)
            end = len(body) if i < 0 else i + len(sep)
            out.append(body[start:end])
            start = end
        return out

    def respond(self, out, method, path, host, headers, body, info):
        """Answers one request through out (H1Writer or H2Writer). Returns
        False when the answer was cut and the connection must end."""
        entry, how = self.catalog.find(method, path, host, body)
        item = dict(info, method=method, host=host, path=path, req_bytes=len(body),
                    match=how)
        keep = True
        if entry is None:
            if method == "GET" and path.split("?")[0] in ("/v1/models", "/v1beta/models"):
                status, hdrs = 200, [("content-type", "application/json")]
                payload = json.dumps({"object": "list", "data": [
                    {"id": "gpt-4o-mini", "object": "model", "owned_by": "openai"}]}).encode()
                item.update(source="builtin", id="builtin:models")
            else:
                status, hdrs = 404, [("content-type", "application/json")]
                payload = json.dumps({"error": {"message": f"no recorded exchange for {method} {path}",
                                                "type": "invalid_request_error", "code": "not_found"}}).encode()
                item.update(source="none", id=None)
                log(f"no match: {method} {host}{path} ({len(body)} bytes)")
            item.update(status=status, stream=False, resp_bytes=len(payload))
            self.record(item)  # logged before the client can see the end
            out.whole(status, hdrs, payload)
            return keep

        status = entry["status"]
        hdrs = [(k, v) for k, v in entry.get("resp_headers", []) if k.lower() not in HOP_HEADERS]
        payload = entry["_resp_body"]
        stream = bool(entry.get("stream"))
        enc = self.choose_encoding(headers, hdrs, stream)
        if enc and not stream:
            payload = self.encoder(enc)(payload, last=True)
        if enc:
            hdrs.append(("content-encoding", enc))
        item.update(source=entry["_source"], id=entry.get("id"), status=status, stream=stream,
                    encoding=enc)
        if not stream:
            item["resp_bytes"] = len(payload)
            self.record(item)
            out.whole(status, hdrs, payload)
            return keep
        out.start(status, hdrs)
        events = self.sse_events(payload)
        cut = entry.get("e2e_truncate_after_events")
        feed = self.encoder(enc) if enc else None
        sent = 0
        for n, ev in enumerate(events):
            if cut is not None and n >= cut:
                break
            if feed:  # each event compressed and flushed on its own
                ev = feed(ev, last=(n == len(events) - 1))
            out.chunk(ev)
            sent += len(ev)
            if self.args.chunk_delay_ms:
                time.sleep(self.args.chunk_delay_ms / 1000.0)
        item["resp_bytes"] = sent
        if cut is not None:
            item["truncated"] = True
            self.record(item)
            out.cut()
            return False  # the caller ends the connection mid-stream
        self.record(item)
        out.finish()
        return keep

    def handle(self, raw, addr, port=None, tls=True):
        """One connection to port (default --port); plain HTTP/1.1 unless tls."""
        with self.served_lock:
            self.conn_seq += 1
            conn_id = self.conn_seq
        info = {"conn": conn_id, "peer_port": addr[1], "tls": tls}
        info.update(peer_process(addr[1], port or self.args.port))
        raw.settimeout(self.args.idle_timeout)
        try:
            sock = self.ctx.wrap_socket(raw, server_side=True) if tls else raw
        except (ssl.SSLError, OSError) as e:
            log(f"conn {conn_id}: TLS handshake failed: {e}")
            raw.close()
            return
        info["proto"] = (sock.selected_alpn_protocol() if tls else None) or "http/1.1"
        if info["proto"] == "h2":
            H2Handler(self, sock, info, conn_id).run()
            return
        f = sock.makefile("rb")
        out = H1Writer(sock)
        try:
            while True:
                req = self.read_head(f)
                if req is None:
                    break
                method, target, _version, headers = req
                body = self.read_body(f, headers, sock)
                hd = dict(headers)
                host = hd.get("host", "").rsplit(":", 1)[0] if hd.get("host", "").count(":") == 1 \
                    else hd.get("host", "")
                keep = self.respond(out, method, target, host, headers, body, info)
                if not keep:
                    try:
                        if tls:
                            sock.unwrap()  # close_notify in the middle of the chunked body
                    except (ssl.SSLError, OSError):
                        pass
                    break
                if hd.get("connection", "").lower() == "close":
                    break
        except (socket.timeout, ssl.SSLError, OSError, ValueError) as e:
            if not isinstance(e, socket.timeout):
                log(f"conn {conn_id}: {type(e).__name__}: {e}")
        finally:
            try:
                f.close()
                sock.close()
            except OSError:
                pass

    def listen(self, port):
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind((self.args.listen, port))
        ls.listen(64)
        ls.settimeout(0.5)
        log(f"listening on {self.args.listen}:{port}")
        return ls

    def accept_loop(self, ls, port, tls, deadline):
        while time.monotonic() < deadline and not STOP.is_set():
            try:
                raw, addr = ls.accept()
            except socket.timeout:
                continue
            threading.Thread(target=self.handle, args=(raw, addr, port, tls),
                             daemon=True).start()
        ls.close()

    def serve(self):
        deadline = time.monotonic() + self.args.lifetime
        listeners = [(self.listen(self.args.port), self.args.port, True)]
        # Local model servers (Ollama, vLLM...) speak plain HTTP.
        listeners += [(self.listen(p), p, False) for p in self.args.plain_port]
        if self.args.ready_file:
            with open(self.args.ready_file, "w") as r:
                r.write(f"{os.getpid()}\n")
        for ls, port, tls in listeners[1:]:
            threading.Thread(target=self.accept_loop, args=(ls, port, tls, deadline),
                             daemon=True).start()
        ls, port, tls = listeners[0]
        self.accept_loop(ls, port, tls, deadline)
        log("stopped" if STOP.is_set() else "lifetime over, stopping")


class H1Writer:
    """An answer in HTTP/1.1: whole with Content-Length, or chunked."""

    def __init__(self, sock):
        self.sock = sock

    def _head(self, status, hdrs, extra):
        head = f"HTTP/1.1 {status} {'OK' if status < 400 else 'Error'}\r\n"
        for k, v in hdrs + [extra]:
            head += f"{k}: {v}\r\n"
        return (head + "\r\n").encode("latin-1")

    def whole(self, status, hdrs, payload):
        self.sock.sendall(self._head(status, hdrs, ("content-length", len(payload))) + payload)

    def start(self, status, hdrs):
        self.sock.sendall(self._head(status, hdrs, ("transfer-encoding", "chunked")))

    def chunk(self, b):
        self.sock.sendall(b"%x\r\n" % len(b) + b + b"\r\n")

    def finish(self):
        self.sock.sendall(b"0\r\n\r\n")

    def cut(self):
        pass  # the caller sends close_notify in the middle of the body


class H2Handler:
    """One HTTP/2 connection: requests are collected as their streams end and
    answered in that order, each DATA write flushed to its own TLS record."""

    def __init__(self, server, sock, info, conn_id):
        self.server, self.sock, self.info, self.conn_id = server, sock, info, conn_id
        self.conn = h2.connection.H2Connection(config=h2.config.H2Configuration(
            client_side=False, header_encoding=None))
        self.partial = {}  # stream id -> [headers, body]
        self.ready = []    # stream ids whose request is whole
        self.closed = False

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def pump(self):
        """Reads once and handles the events. False at the end."""
        data = self.sock.recv(65536)
        if not data:
            return False
        for ev in self.conn.receive_data(data):
            if isinstance(ev, h2.events.RequestReceived):
                self.partial[ev.stream_id] = [ev.headers, bytearray()]
                if ev.stream_ended:
                    self.ready.append(ev.stream_id)
            elif isinstance(ev, h2.events.DataReceived):
                if ev.stream_id in self.partial:
                    self.partial[ev.stream_id][1] += ev.data
                    if len(self.partial[ev.stream_id][1]) > MAX_BODY_BYTES:
                        raise ValueError("body too large")
                self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            elif isinstance(ev, h2.events.StreamEnded):
                if ev.stream_id in self.partial and ev.stream_id not in self.ready:
                    self.ready.append(ev.stream_id)
            elif isinstance(ev, h2.events.StreamReset):
                self.partial.pop(ev.stream_id, None)
            elif isinstance(ev, h2.events.ConnectionTerminated):
                self.closed = True
        self.flush()
        return not self.closed

    def run(self):
        self.conn.initiate_connection()
        try:
            self.flush()
            while True:
                while not self.ready:
                    if not self.pump():
                        return
                sid = self.ready.pop(0)
                if sid not in self.partial:
                    continue
                raw, body = self.partial.pop(sid)
                hdrs = [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in raw]
                pseudo = dict(h for h in hdrs if h[0].startswith(":"))
                headers = [h for h in hdrs if not h[0].startswith(":")]
                host = pseudo.get(":authority", "")
                if host.count(":") == 1:
                    host = host.rsplit(":", 1)[0]
                if not self.server.respond(H2Writer(self, sid), pseudo.get(":method", ""),
                                           pseudo.get(":path", ""), host, headers, bytes(body),
                                           self.info):
                    return
        except (socket.timeout, ssl.SSLError, OSError, ValueError,
                h2.exceptions.ProtocolError) as e:
            if not isinstance(e, socket.timeout):
                log(f"conn {self.conn_id} (h2): {type(e).__name__}: {e}")
        finally:
            try:
                self.sock.close()
            except OSError:
                pass


class H2Writer:
    """An answer on one HTTP/2 stream, within the flow-control windows."""

    def __init__(self, handler, sid):
        self.h, self.sid = handler, sid

    def _headers(self, status, hdrs, end):
        fields = [(":status", str(status))] + [(k.lower(), str(v)) for k, v in hdrs]
        self.h.conn.send_headers(self.sid, fields, end_stream=end)
        self.h.flush()

    def _data(self, b, end):
        conn = self.h.conn
        while True:
            room = min(conn.local_flow_control_window(self.sid), conn.max_outbound_frame_size)
            n = min(room, len(b))
            if n or not b:
                conn.send_data(self.sid, b[:n], end_stream=end and n == len(b))
                self.h.flush()
                b = b[n:]
                if not b:
                    return
            elif not self.h.pump():  # wait for WINDOW_UPDATE
                raise OSError("connection closed while blocked on flow control")

    def whole(self, status, hdrs, payload):
        self._headers(status, hdrs + [("content-length", len(payload))], not payload)
        if payload:
            self._data(payload, True)

    def start(self, status, hdrs):
        self._headers(status, hdrs, False)

    def chunk(self, b):
        if b:
            self._data(b, False)

    def finish(self):
        self._data(b"", True)

    def cut(self):
        self.h.conn.reset_stream(self.sid, error_code=2)  # INTERNAL_ERROR
        self.h.flush()


STOP = threading.Event()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--exchanges", action="append", default=[],
                    help="corpus-format JSONL answered by request body hash (repeatable)")
    ap.add_argument("--fixtures", action="append", default=[],
                    help="corpus-format JSONL also answered by (path, model, stream)")
    ap.add_argument("--listen", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=443)
    ap.add_argument("--plain-port", type=int, action="append", default=[],
                    help="also serve plain HTTP on this port (repeatable)")
    ap.add_argument("--compress", action="store_true",
                    help="br/gzip/deflate/identity in turn when Accept-Encoding allows")
    ap.add_argument("--compress-streams", action="store_true",
                    help="also compress streams (per event, sync-flushed); a request "
                    "header x-e2e-compress-stream asks for it on one request")
    ap.add_argument("--chunk-delay-ms", type=float, default=0.0)
    ap.add_argument("--served", help="append one JSON line per answered request")
    ap.add_argument("--ready-file", help="written once listening")
    ap.add_argument("--lifetime", type=float, default=900, help="stop after this many seconds")
    ap.add_argument("--idle-timeout", type=float, default=30)
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: STOP.set())
    signal.signal(signal.SIGINT, lambda *_: STOP.set())
    srv = Server(args)
    for p in args.fixtures:
        srv.catalog.load(p, "fixture", routable=True)
    for p in args.exchanges:
        srv.catalog.load(p, "corpus", routable=False)
    srv.serve()


if __name__ == "__main__":
    main()
