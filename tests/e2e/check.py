#!/usr/bin/python3
"""Checks an end-to-end run: what the clients got, and what llmobsd recorded.

The server's log (served.jsonl) says, for each request, which exchange was
answered and which process (pid, exe, comm) sent it; steps.tsv says which
client step each request belongs to. Every answered LLM exchange must appear
exactly once in `llmobs export` with the expected usage, model, api, provider,
stream flag, status, complete flag and process; fixture costs are recomputed
here with the source's own calculator (@pydantic/genai-prices' calcPrice, the
package the price table is built from). Prints PASS/FAIL lines and
`e2e: N passed, N failed`.
"""
import argparse
import base64
import collections
import json
import os
import re
import sqlite3
import subprocess
import sys

COUNTS = ["input_tokens", "cached_input_tokens", "cache_write_tokens",
          "cache_write_1h_tokens", "output_tokens", "reasoning_tokens"]
# What each client step must have sent: (number of requests, exe pattern).
STEP_SHAPE = {
    "curl": (9, r"^/usr/bin/curl$"),
    "curl-h2": (9, r"^/usr/bin/curl$"),
    "local-models": (3, r"^/usr/bin/(curl|python3(\.\d+)?)$"),
    "urllib-system": (5, r"^/usr/bin/python3(\.\d+)?$"),
    "urllib-pyenv": (5, r"/\.pyenv/versions/[^/]+/bin/python3(\.\d+)?$"),
    "httpx": (8, r"^/usr/bin/python3(\.\d+)?$"),
    "node": (8, r"/node$"),
    "gemini-cli": (2, r"/node$"),  # its router's call, then the answer
    "bad-inputs": (4, r"^/usr/bin/curl$"),
    "go-h1": (8, r"/go_client$"),
    "go-h1-late": (8, r"/go_client$"),  # answers read before Write returns
    "go-h2": (8, r"/go_client_stripped$"),
    "bun-fetch": (8, r"/bun$"),
    # Claude Code: its settings and policy GETs (answered 404, no record)
    # and the one streamed /v1/messages?beta=true.
    "claude": (3, r"/claude$"),
    # Codex: its WebSocket attempts (GETs answered 404, no record; how many
    # is its retry policy's business) and the one streamed /v1/responses.
    "codex": (None, r"/codex$"),
    "deno-fetch": (8, r"/deno$"),
    "corpus-replay": (None, r"^/usr/bin/python3(\.\d+)?$"),
}
STEP_SHAPE["httpx-h2"] = STEP_SHAPE["httpx"]  # the same fixtures over HTTP/2


class Result:
    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.notes = []

    def check(self, ok, name, detail=""):
        if ok:
            self.passed += 1
            print(f"PASS {name}" + (f" ({detail})" if detail else ""))
        else:
            self.failed += 1
            print(f"FAIL {name}" + (f": {detail}" if detail else ""))
        return ok

    def note(self, msg):
        self.notes.append(msg)
        print(f"NOTE {msg}")


def load_jsonl(path):
    out = []
    if not os.path.exists(path):
        return out
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                try:
                    out.append(json.loads(line))
                except ValueError as e:
                    out.append({"_bad_line": n, "_error": str(e), "_text": line[:200]})
    return out


# -- prices: the source's own calculator, independent of the daemon's C -----
REFERENCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                         "tools", "genai-prices", "reference.mjs")


class Prices:
    """Costs from @pydantic/genai-prices' calcPrice (tools/genai-prices/
    reference.mjs), given the node_modules the build fetched it into. Our
    overrides are not applied: a fixture model must be one the source prices
    as we do (tests/unit/test_prices_crosscheck.c lists where we differ)."""

    def __init__(self, modules):
        self.modules = modules

    def cost(self, r, usage):
        """USD of usage for record r's model at its host and path, or None."""
        call = {"model": r.get("model") or "", "ts": r.get("ts_start"),
                "url": f"https://{bare_host(r.get('host'))}{r.get('path') or ''}",
                "usage": {k: usage[k] for k in COUNTS}}
        out = subprocess.run(["node", REFERENCE, self.modules], input=json.dumps(call) + "\n",
                             capture_output=True, text=True, timeout=120)
        if out.returncode:
            raise RuntimeError(f"reference calculator failed: {out.stderr[-300:]}")
        return json.loads(out.stdout).get("cost")


def close(a, b):
    return abs(a - b) <= max(1e-9 * max(abs(a), abs(b)), 1e-15)


# -- the clients ---------------------------------------------------------------
def check_clients(res, args, steps, served):
    res.check(args.netns_rc == 0, "namespace ran (unshare, lo, /etc/hosts bind, server start)",
              f"rc={args.netns_rc}")
    by_seq = {s["seq"]: s for s in served}
    for name, rc, first, last in steps:
        out_path = os.path.join(args.tmp, "clients", f"{name}.out")
        text = open(out_path, errors="replace").read() if os.path.exists(out_path) else ""
        fails = [ln for ln in text.splitlines() if ln.startswith("FAIL")]
        res.check(rc == 0 and not fails, f"client {name} succeeded",
                  f"rc={rc}" + (f"; {fails[0][:200]}" if fails else ""))
        items = [by_seq[i] for i in range(first, last + 1) if i in by_seq]
        want_n, exe_re = STEP_SHAPE.get(name, (None, "."))
        if want_n is not None:
            res.check(len(items) == want_n, f"client {name} made {want_n} requests to the server",
                      f"server saw {len(items)}")
        if name.endswith("-h2"):
            protos = collections.Counter(s.get("proto") for s in items)
            res.check(items and set(protos) == {"h2"}, f"client {name} spoke HTTP/2 (ALPN h2)",
                      ", ".join(f"{k}: {v}" for k, v in protos.items()))
        bad = [s for s in items if not re.search(exe_re, s.get("exe", ""))]
        res.check(items and not bad, f"client {name} is the process the server saw",
                  f"exe {sorted({s.get('exe', '?') for s in items})}")
        if name not in ("bad-inputs", "claude", "codex"):
            unmatched = [s for s in items if s["source"] not in ("fixture", "corpus")]
            res.check(not unmatched, f"client {name} requests all matched a recorded exchange",
                      "; ".join(f"{s['method']} {s['host']}{s['path']}" for s in unmatched[:5]))


# -- the daemon's records ----------------------------------------------------------
def expectation(s, fixtures, corpus):
    """What the record for served request s must hold; None if no record."""
    if s["source"] == "fixture":
        e = fixtures[s["id"]]
    elif s["source"] == "corpus":
        e = corpus[s["id"]]
    else:
        return None
    return e


def bare_host(h):
    """Host without its port: plain HTTP clients send "127.0.0.1:11434"."""
    return h.rsplit(":", 1)[0] if h and h.count(":") == 1 else h


def match_records(served, records):
    """Pairs each served LLM request with the record of the same pid, method,
    host and path, in order. Returns (pairs, unmatched records)."""
    pools = collections.defaultdict(list)
    for r in sorted(records, key=lambda r: (r.get("ts_start") or "", r.get("id") or 0)):
        pools[(r.get("pid"), r.get("method"), bare_host(r.get("host")), r.get("path"))].append(r)
    pairs = []
    for s in served:
        key = (s.get("pid"), s["method"], s["host"], s["path"])
        pool = pools.get(key)
        pairs.append((s, pool.pop(0) if pool else None))
    left = [r for pool in pools.values() for r in pool]
    return pairs, left


def request_model(e):
    try:
        m = json.loads(base64.b64decode(e["req_body_b64"])).get("model")
    except ValueError:
        m = None
    if not m and "/models/" in e["path"]:
        m = e["path"].split("/models/", 1)[1].split(":", 1)[0]
    return m or ""


# A record's comm is the calling thread's: Bun makes its HTTPS calls from
# its "HTTP Client" thread, Codex from a tokio worker, where the server
# sees the process's name.
THREAD_COMM = {"bun-fetch": "HTTP Client", "claude": "HTTP Client", "codex": "tokio-rt-worker"}


# How each step's calls are captured, when not by a probe on the TLS
# library's calls (plain HTTP is "syscall"): rustls is decrypted from its
# records with its secrets.
STEP_CAPTURE = {"codex": "secrets", "deno-fetch": "secrets"}


def compare(s, e, r, prices, strict_meta, comm=None, capture=None):
    """Field-by-field differences between expectation and record."""
    diffs = []
    exp = e["expected"]
    for k in COUNTS:
        if r.get(k) != exp[k]:
            diffs.append(f"{k}={r.get(k)} want {exp[k]}")
    if (r.get("model") or "") != (exp.get("model") or ""):
        diffs.append(f"model={r.get('model')!r} want {exp.get('model')!r}")
    if not strict_meta:
        return diffs
    for k, want in (("provider", e["provider"]), ("api", e["api"]), ("stream", bool(e["stream"])),
                    ("status", s["status"]), ("complete", e.get("e2e_expect_complete", True)),
                    ("pid", s.get("pid")), ("comm", comm or s.get("comm")),
                    ("request_model", request_model(e)), ("method", s["method"]),
                    ("capture", capture or ("uprobe" if s.get("tls", True) else "syscall")),
                    ("usage_source", e.get("e2e_expect_usage_source", "provider")),
                    ("protocol", s.get("proto", "http/1.1")), ("headers_unknown", False)):
        if r.get(k) != want:
            diffs.append(f"{k}={r.get(k)!r} want {want!r}")
    if bare_host(r.get("host")) != s["host"]:
        diffs.append(f"host={r.get('host')!r} want {s['host']!r} (port aside)")
    if not isinstance(r.get("latency_ms"), int) or r["latency_ms"] < 0:
        diffs.append(f"latency_ms={r.get('latency_ms')!r} want a number")
    if e["stream"] and (not isinstance(r.get("ttft_ms"), int) or r["ttft_ms"] < 0):
        diffs.append(f"ttft_ms={r.get('ttft_ms')!r} want a number for a stream")
    if r.get("error") is not None:
        diffs.append(f"error={r.get('error')!r} want null")
    if e.get("e2e_expect_unpriced"):
        # Local models are in no price table: flagged, never a silent $0.
        if r.get("priced") is not False:
            diffs.append(f"priced={r.get('priced')} want false (model not in the table)")
    elif prices is not None:
        want = prices.cost(r, exp)
        if want is None:
            diffs.append(f"no price for {r.get('model')!r} in @pydantic/genai-prices (fixture problem)")
        else:
            if r.get("priced") is not True:
                diffs.append(f"priced={r.get('priced')} want true")
            if not isinstance(r.get("cost_usd"), (int, float)) or not close(r["cost_usd"], want):
                diffs.append(f"cost_usd={r.get('cost_usd')} want {want:.10g}")
    return diffs


def check_daemon(res, args, steps, served, fixtures, corpus):
    t = args.tmp
    res.check(args.daemon_alive, "llmobsd still running after all clients (10 MB body, cut stream)")
    rc = open(os.path.join(t, "daemon.rc")).read().strip() if os.path.exists(os.path.join(t, "daemon.rc")) else "?"
    exit_ms = open(os.path.join(t, "daemon.exit_ms")).read().strip() if os.path.exists(os.path.join(t, "daemon.exit_ms")) else "?"
    limit_ms = int(os.environ.get("E2E_EXIT_MS", "1000"))
    fast = exit_ms.isdigit() and int(exit_ms) <= limit_ms and not args.daemon_slow_exit
    res.check(rc == "0" and fast, f"llmobsd exits 0 on SIGTERM within {limit_ms} ms",
              f"rc={rc}, {exit_ms} ms" + (", needed SIGKILL" if args.daemon_slow_exit else ""))
    # The test's TLS server (Python, libssl) is observed too: once the daemon
    # sees a connection is its server side, the uprobes stop copying it.
    counters = read_counters(os.path.join(t, "e2e.db"))
    res.check(counters.get("server_side_conns", 0) > 0 and counters.get("bpf_ignored_calls", 0) > 0,
              "server-side TLS calls are not copied once the daemon has seen which side they are",
              f"server_side_conns={counters.get('server_side_conns')}, "
              f"bpf_ignored_calls={counters.get('bpf_ignored_calls')}, "
              f"bpf_ignored_bytes={counters.get('bpf_ignored_bytes')}")
    erc = open(os.path.join(t, "export.rc")).read().strip() if os.path.exists(os.path.join(t, "export.rc")) else "?"
    records = load_jsonl(os.path.join(t, "export.jsonl"))
    # ssl_reuse: a client at a freed server side's SSL* address, the daemon
    # deciding about the old one only after the new one started.
    out = open(os.path.join(t, "ssl_reuse.out")).read() if os.path.exists(os.path.join(t, "ssl_reuse.out")) else ""
    mine = [r for r in records if str(r.get("exe", "")).endswith("/ssl_reuse")]
    res.check(out.startswith("reused\n") and "rc=0" in out and len(mine) == 1
              and mine[0].get("complete") is True and mine[0].get("input_tokens") == 11
              and mine[0].get("output_tokens") == 7,
              "a client reusing a freed server side's SSL* address is captured in full",
              f"helper: {out.strip()!r}; records: " + "; ".join(
                  f"complete={r.get('complete')} in={r.get('input_tokens')} out={r.get('output_tokens')}"
                  for r in mine))
    bad = [r for r in records if "_bad_line" in r]
    res.check(erc == "0" and not bad, "llmobs export --format jsonl works",
              f"rc={erc}, {len(records)} records" + (f", bad line {bad[0]}" if bad else ""))
    records = [r for r in records if "_bad_line" not in r]
    live = load_jsonl(os.path.join(t, "daemon.jsonl"))
    bad = [r for r in live if "_bad_line" in r]

    def sig(r):
        return (r.get("pid"), r.get("path"), tuple(r.get(k) for k in COUNTS), r.get("complete"))
    res.check(not bad and collections.Counter(map(sig, live)) == collections.Counter(map(sig, records)),
              "llmobsd --json stdout has the same records as the store",
              f"{len(live)} on stdout, {len(records)} exported" + (f", bad line {bad[0]}" if bad else ""))

    step_of = {}
    for name, _rc, first, last in steps:
        for i in range(first, last + 1):
            step_of[i] = name
    ours = {s.get("pid") for s in served if s.get("pid")}
    foreign = [r for r in records if r.get("pid") not in ours]
    if foreign:
        res.note(f"{len(foreign)} records from processes outside the test (ignored): "
                 + ", ".join(sorted({f"{r.get('comm')}:{r.get('host')}" for r in foreign}))[:300])
    records = [r for r in records if r.get("pid") in ours]

    llm = [s for s in served if s["source"] in ("fixture", "corpus")]
    pairs, extra = match_records(llm, records)
    prices = Prices(args.prices) if os.path.isdir(args.prices) else None
    if prices is None:
        res.note(f"{args.prices} (the price package's node_modules) missing: "
                 "fixture costs not checked")

    # Non-LLM requests must leave no record.
    for s in served:
        if s["source"] in ("builtin", "none"):
            hits = [r for r in extra if r.get("path") == s["path"] and r.get("pid") == s.get("pid")]
            res.check(not hits, f"no record for non-LLM {s['method']} {s['host']}{s['path']}",
                      f"{len(hits)} records" if hits else "")
            extra = [r for r in extra if r not in hits]

    corpus_fail = collections.Counter()
    corpus_shown = 0
    for s, r in pairs:
        e = expectation(s, fixtures, corpus)
        step = step_of.get(s["seq"], "?")
        name = f"[{step}] {s['id']} (pid {s.get('pid')}, {s['method']} {s['host']}{s['path']})"
        if s.get("truncated"):
            ok = r is not None and r.get("complete") is False
            res.check(ok, f"cut stream recorded with complete=false {name}",
                      "no record" if r is None else f"complete={r.get('complete')}")
            continue
        if s.get("req_bytes", 0) >= 10 * 1000 * 1000:
            if r is None:
                counted = dropped_counters(os.path.join(t, "e2e.db"))
                res.check(bool(counted), f"10 MB request recorded or counted {name}",
                          f"no record; counters: {counted or 'none non-zero'}")
            else:
                # The request body is past the capture cap: its model may be
                # unknown, the response's usage must still be right.
                diffs = [d for d in compare(s, e, r, prices, strict_meta=True)
                         if not d.startswith("request_model=")]
                res.check(not diffs, f"10 MB request recorded {name}", "; ".join(diffs)
                          or f"request_model={r.get('request_model')!r}")
            continue
        if r is None:
            diffs = ["no record"]
        else:
            diffs = compare(s, e, r, prices if s["source"] == "fixture" else None,
                            strict_meta=s["source"] == "fixture", comm=THREAD_COMM.get(step),
                            capture=STEP_CAPTURE.get(step))
            if s["source"] == "corpus":
                # The corpus files POST /v1/responses/compact under "other";
                # it is Responses-shaped and billed, and we name it so.
                want_api = "responses" if e["api"] == "other" and \
                    e.get("path", "").startswith("/v1/responses/compact") else e["api"]
                for k, want in (("provider", e["provider"]), ("api", want_api),
                                ("stream", bool(e["stream"])), ("status", e["status"]),
                                ("complete", True)):
                    if r.get(k) != want:
                        diffs.append(f"{k}={r.get(k)!r} want {want!r}")
        if s["source"] == "fixture":
            enc = f" [{s['encoding']}]" if s.get("encoding") else ""
            res.check(not diffs, f"record {name}{enc}", "; ".join(diffs))
        else:
            if diffs:
                res.failed += 1
                for d in diffs:
                    corpus_fail[d.split("=")[0] if d != "no record" else d] += 1
                if corpus_shown < args.show:
                    print(f"FAIL corpus {s['id']} [{e['provider']}/{e['api']}"
                          f"{' stream' if e['stream'] else ''}"
                          f"{' ' + s['encoding'] if s.get('encoding') else ''}]: {'; '.join(diffs)}")
                    corpus_shown += 1
            else:
                res.passed += 1
    n_corpus = sum(1 for s, _ in pairs if s["source"] == "corpus")
    if n_corpus:
        print(f"corpus replay: {n_corpus} exchanges checked; failing fields: "
              + (", ".join(f"{k} x{v}" for k, v in corpus_fail.most_common()) or "none"))
        if corpus_shown >= args.show:
            print(f"  (only the first {args.show} corpus failures shown; E2E_SHOW=N for more)")
    # The record's exe must be the process's executable as the kernel names
    # it (/proc/PID/exe), the same whether the process started before or
    # after the daemon; checked once per client.
    by_step = collections.defaultdict(set)
    for s, r in pairs:
        if r is not None and r.get("exe") != s.get("exe"):
            by_step[step_of.get(s["seq"], "?")].add((r.get("exe"), s.get("exe")))
    for name, _rc, _f, _l in steps:
        res.check(name not in by_step, f"records of client {name} carry its exe (/proc/PID/exe)",
                  "; ".join(f"exe={a!r} want {b!r}" for a, b in sorted(by_step[name], key=str)))
    res.check(not extra, "no extra records for the test's requests (each exchange exactly once)",
              "; ".join(f"pid {r.get('pid')} {r.get('method')} {r.get('host')}{r.get('path')} "
                        f"model={r.get('model')}" for r in extra[:8]))


def read_counters(db):
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        return dict(con.execute("SELECT name, value FROM counters"))
    except sqlite3.Error:
        return {}


def dropped_counters(db):
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        out = []
        for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type='table'"):
            cols = [c[1] for c in con.execute(f"PRAGMA table_info({name})")]
            if "name" in cols and "value" in cols:
                for n, v in con.execute(f"SELECT name, value FROM {name}"):
                    if v and re.search(r"drop|skip|large|over|trunc|cap|limit", str(n)):
                        out.append(f"{n}={v}")
        return ", ".join(out)
    except sqlite3.Error:
        return ""


# What the daemon must say of each agent binary (tests/e2e/agents.sh): that
# it found BoringSSL (or aws-lc's key schedule) by fingerprint, or that it
# cannot observe it and why.
AGENT_SAYS = {"claude": ("tls: BoringSSL in {} found by fingerprint", ""),
              "bun": ("tls: BoringSSL in {} found by fingerprint", ""),
              "codex": ("tls: aws-lc in {} found by fingerprint", ""),
              "deno": ("tls: aws-lc in {} found by fingerprint", "")}


def check_blind(res, args):
    """Each agent with its own TLS is named once in the daemon's log: probed
    by fingerprint, or a blind spot with its stack (and counted)."""
    path = os.path.join(args.tmp, "agents.tsv")
    if not os.path.exists(path):
        res.check(False, "agents with their own TLS ran (tests/e2e/agents.sh)", "no agents.tsv")
        return
    log = open(os.path.join(args.tmp, "daemon.log"), errors="replace").read()
    blind = 0
    for line in open(path):
        name, exe, rc = line.rstrip("\n").split("\t")
        pattern, want = AGENT_SAYS.get(name, ("?{}", "?"))
        said = [ln for ln in log.splitlines() if pattern.format(exe) in ln]
        blind += "cannot observe" in pattern
        # A blind spot is said once per file. A fingerprint found is said
        # per attach attempt: when the first process exits before its
        # probes are in, the next one is probed again and said again, so
        # there what matters is that it ended attached.
        # And a first process gone while it was attached to is no blind
        # spot: the binary is not said unobservable.
        once = len(said) == 1 if "cannot observe" in pattern else \
            len(said) >= 1 and any(f"attached to {exe} " in ln for ln in log.splitlines()) \
            and not any(f"cannot observe {exe} " in ln for ln in log.splitlines())
        res.check(rc == "0" and once and want in said[0],
                  f"agent {name}: " + pattern.format("<exe>").strip() + (f" ({want})" if want else ""),
                  f"rc={rc}; " + (said[0].split("llmobs")[-1][:200] if said else
                                  f"{len(said)} log lines for {exe}"))
    counters = read_counters(os.path.join(args.tmp, "e2e.db"))
    res.check(counters.get("tls_blind_binaries", 0) >= blind,
              "blind-spot binaries counted (tls_blind_binaries)",
              f"tls_blind_binaries={counters.get('tls_blind_binaries')}, blind agents {blind}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tmp", required=True)
    ap.add_argument("--fixtures", action="append", required=True)
    ap.add_argument("--corpus")
    ap.add_argument("--prices", required=True)
    ap.add_argument("--netns-rc", type=int, default=0)
    ap.add_argument("--no-daemon", action="store_true")
    ap.add_argument("--daemon-missing", action="store_true")
    ap.add_argument("--daemon-alive", action="store_true")
    ap.add_argument("--daemon-slow-exit", action="store_true")
    ap.add_argument("--show", type=int, default=int(os.environ.get("E2E_SHOW", "40")),
                    help="corpus failures to print")
    args = ap.parse_args()

    res = Result()
    steps = []
    steps_path = os.path.join(args.tmp, "steps.tsv")
    if os.path.exists(steps_path):
        for line in open(steps_path):
            name, rc, first, last = line.rstrip("\n").split("\t")
            steps.append((name, int(rc), int(first), int(last)))
    served = load_jsonl(os.path.join(args.tmp, "served.jsonl"))
    fixtures = {e["id"]: e for path in args.fixtures for e in load_jsonl(path)}
    corpus = {e["id"]: e for e in load_jsonl(args.corpus)} if args.corpus else {}

    check_clients(res, args, steps, served)
    if args.daemon_missing:
        res.check(False, "llmobsd available and ready", "see above")
    elif not args.no_daemon:
        check_daemon(res, args, steps, served, fixtures, corpus)
        check_blind(res, args)

    print(f"e2e: {res.passed} passed, {res.failed} failed")
    sys.exit(1 if res.failed else 0)


if __name__ == "__main__":
    main()
