#!/usr/bin/env python3
"""Prompt-cache e2e (issue 9): synthetic workloads with known answers.

serve:  a TLS server that plays OpenAI chat completions and Anthropic
        messages and simulates their prompt caches: the prompt text is
        rendered as llm-observer's segmenter renders it (strings as is, text
        blocks as their text, tools as compact JSON with bare keys); OpenAI
        counts in its own tokens (o200k_base, through tests/helpers/bpe_ids,
        BPE_IDS in the environment: each message encoded on its own after a
        3-token header, 3 more to prime the reply) and caches any prefix of
        >= 1024 tokens in 128-token steps; Anthropic, whose tokenizer is not
        public, counts 4 bytes a token; Anthropic reads a block end written by an earlier call within
        20 blocks before a breakpoint and writes at breakpoints of >= 1024
        tokens; caches are per API key and expire after the TTL of the rules
        file given (the daemon gets the same file, so one clock governs
        both: the TTL workload's model has a 3 s TTL and its calls are 4 s
        apart).
run:    the workloads through urllib (libssl: what the daemon's uprobes
        see), one call at a time; for each call the expected cause, cacheable
        and missed tokens and breakers, computed here from how the workload
        was built, go to expected.jsonl.
check:  expected.jsonl against `llmobs export` (records in time order).
"""
import hashlib
import json
import os
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, HTTPServer

WORDS = ("the agent reads files and answers questions about code carefully with short "
         "clear sentences never guessing when unsure it asks").split()
MIN_OAI, STEP_OAI = 1024, 128


def prose(n, seed):
    out, x = [], seed
    while sum(len(w) + 1 for w in out) < n:
        x = (x * 1103515245 + 12345) & 0xffffffff
        out.append(WORDS[(x >> 16) % len(WORDS)])
    s = " ".join(out)
    return s[:n]


class Tokens:
    """OpenAI's token boundaries (o200k_base) from tests/helpers/bpe_ids."""

    def __init__(self):
        self.p = subprocess.Popen([os.environ["BPE_IDS"]], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        self.lock = threading.Lock()

    def of(self, text):
        """[(id, bytes)] of text's encoding"""
        with self.lock:
            self.p.stdin.write("o200k_base " + text.encode().hex() + "\n")
            self.p.stdin.flush()
            line = self.p.stdout.readline()
        if not line:
            raise SystemExit("cache-e2e: bpe_ids gave nothing (ranks not built in?)")
        return [tuple(int(x) for x in t.split(":")) for t in line.split()]

    def ended_by(self, text, off):
        """tokens of text that end at or before byte off"""
        n, end = 0, 0
        for _, l in self.of(text):
            end += l
            if end > off:
                break
            n += 1
        return n


OA_HEADER = 3


def oai_flat(tok, bl):
    """an OpenAI prompt as tokens: per message a header, then its ids"""
    flat = []
    for name, t, _ in bl:
        if ".content[" not in name or name.endswith(".content[0]"):
            flat += [-1] * OA_HEADER
        flat += [i for i, _ in tok.of(t)]
    return flat


# ---- rendering, as user/5-analysis/cache_segment.c does ----------------------

def render_json(v, sort=False):
    if isinstance(v, dict):
        items = sorted(v.items()) if sort else v.items()
        return "{" + ",".join(f"{k}:{render_json(x, sort)}" for k, x in items
                              if k != "cache_control") + "}"
    if isinstance(v, list):
        return "[" + ",".join(render_json(x, sort) for x in v) + "]"
    if isinstance(v, str):
        return '"' + v + '"'
    return json.dumps(v)


def block_text(b):
    """a text block as its text, another block as compact JSON"""
    if set(b) - {"type", "text", "cache_control", "citations",
                 "prompt_cache_breakpoint"} == set() and "text" in b:
        return b["text"]
    return render_json(b)


def blocks_of(api, body):
    """(name, text, breakpoint) in prefix order."""
    out = []
    for i, t in enumerate(body.get("tools", [])):
        out.append((f"tools[{i}]", render_json(t), "cache_control" in t))
    if api == "messages":
        sysv = body.get("system", [])
        if isinstance(sysv, str):
            out.append(("system", sysv, False))
        else:
            for i, b in enumerate(sysv):
                # Claude Code's billing block: the provider strips it (cache
                # reads go on across its changes: issue 9's calibration)
                if b.get("text", "").startswith("x-anthropic-billing-header:"):
                    continue
                out.append((f"system[{i}]", block_text(b), "cache_control" in b))
    for i, m in enumerate(body["messages"]):
        c = m["content"]
        if isinstance(c, str):
            out.append((f"messages[{i}]", c, False))
        else:
            for j, b in enumerate(c):
                out.append((f"messages[{i}].content[{j}]", block_text(b),
                            "cache_control" in b or "prompt_cache_breakpoint" in b))
    if api == "messages" and "cache_control" in body and out:
        n, t, _ = out[-1]
        out[-1] = (n, t, True)
    return out


# ---- the simulated provider -----------------------------------------------------

class Sim:
    def __init__(self, rules):
        self.ttl = {}   # model prefix -> ttl seconds, anthropic and openai
        self.min = {}   # model prefix -> minimum tokens
        for p in rules["providers"]:
            for r in p["rules"]:
                self.ttl[(p["provider"], r["model"])] = r["ttl_s"]
                self.min[(p["provider"], r["model"])] = r["min_tokens"]
        self.seen = []  # (account, provider, prefix text or tokens, time)
        self.lock = threading.Lock()
        self.tok = Tokens()

    def ttl_of(self, provider, model, table=None):
        table = self.ttl if table is None else table
        best = ("", table.get((provider, ""), 300))
        for (p, m), t in table.items():
            if p == provider and m and model.startswith(m) and len(m) > len(best[0]):
                best = (m, t)
        return best[1]

    def call(self, api, body, account):
        provider = "anthropic" if api == "messages" else "openai"
        ttl = self.ttl_of(provider, body["model"])
        min_ant = self.ttl_of(provider, body["model"], self.min)
        bl = blocks_of(api, body)
        texts = [t for _, t, _ in bl]
        total = "".join(texts)
        inp = len(total) // 4
        now = time.time()
        with self.lock:
            live = [s for s in self.seen if s[0] == account and s[1].startswith(provider)
                    and now - s[3] <= ttl]
            if provider == "openai" and (body.get("prompt_cache_options") or {}).get(
                    "mode") == "explicit":
                # GPT-5.6+ explicit: only prefixes written at breakpoints
                # are read, writes (billed) only at breakpoints
                flat = oai_flat(self.tok, bl)
                inp = len(flat) + OA_HEADER
                if not any(x[2] for x in bl):
                    return inp, 0, 0
                read = max([len(s[2]) for s in live if s[1] == "openai-x"
                            and flat[:len(s[2])] == s[2]] + [0])
                wrote = 0
                for b in range(1, len(bl) + 1):
                    pre = oai_flat(self.tok, bl[:b])
                    if bl[b - 1][2] and len(pre) >= MIN_OAI and len(pre) > read:
                        wrote = len(pre) - read
                        self.seen.append((account, "openai-x", pre, now))
                return inp, read, wrote
            if provider == "openai":
                flat = oai_flat(self.tok, bl)
                inp = len(flat) + OA_HEADER
                best = 0
                for s in live:
                    n = 0
                    while n < min(len(s[2]), len(flat)) and s[2][n] == flat[n]:
                        n += 1
                    t = 0 if n < MIN_OAI else MIN_OAI + (n - MIN_OAI) // STEP_OAI * STEP_OAI
                    best = max(best, t)
                self.seen.append((account, provider, flat, now))
                return inp, best, 0
            # a change of tool_choice, thinking, effort or images
            # invalidates the messages, not tools and system
            first_msg = next((k for k, x in enumerate(bl) if x[0].startswith("messages")),
                             len(bl))
            salt = json.dumps([body.get(k) for k in ("tool_choice", "thinking", "output_config")]
                              + sorted(t for n, t, _ in bl if '"image"' in t))

            def key(b):
                return "".join(texts[:b]) + ("\x04" + salt if b > first_msg else "")
            read = 0
            for b in range(len(bl), 0, -1):
                if not any(bl[k][2] for k in range(b - 1, min(len(bl), b - 1 + 21))):
                    continue
                pre = key(b)
                hit = [s for s in live if s[2] == pre]
                if hit:
                    read = len("".join(texts[:b])) // 4
                    for s in hit:
                        self.seen.remove(s)
                        self.seen.append((s[0], s[1], s[2], now))
                    break
            wrote = 0
            for b in range(1, len(bl) + 1):
                n = len("".join(texts[:b])) // 4
                if bl[b - 1][2] and n >= min_ant and n > read:
                    wrote = n - read
                    self.seen.append((account, provider, key(b), now))
            return inp, read, wrote


def sse(events):
    return "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events).encode()


def shape_of(body):
    """what differs between two runs of an agent, as hashes: the billing
    block, metadata.user_id (the test's own log, no prompt text)"""
    sysv = body.get("system")
    bill = None
    if isinstance(sysv, list) and sysv and sysv[0].get("text", "").startswith(
            "x-anthropic-billing-header:"):
        bill = hashlib.sha256(sysv[0]["text"].encode()).hexdigest()[:12]
    uid = (body.get("metadata") or {}).get("user_id")
    return dict(billing=bill, user_id=hashlib.sha256(uid.encode()).hexdigest()[:12] if uid else None)


def serve(args):
    cert, key, rules_path, ready = args[:4]
    served = open(args[4], "a") if len(args) > 4 else None
    # a file "evict" beside the log empties the cache once (the provider
    # evicted, or routed the next call to another machine)
    evict = os.path.join(os.path.dirname(args[4]), "evict") if served else None
    sim = Sim(json.load(open(rules_path)))

    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["content-length"])))
            api = "messages" if self.path.startswith("/v1/messages") else "chat"
            account = self.headers.get("x-api-key") or self.headers.get("authorization", "")
            if evict and os.path.exists(evict):
                os.remove(evict)
                with sim.lock:
                    sim.seen.clear()
            if "count_tokens" in self.path:
                return self.answer({"input_tokens": sum(
                    len(t) for _, t, _ in blocks_of(api, body)) // 4})
            inp, read, wrote = sim.call(api, body, account)
            if served:
                served.write(json.dumps(dict(path=self.path, model=body.get("model"),
                                             stream=bool(body.get("stream")), input=inp,
                                             read=read, wrote=wrote, **shape_of(body))) + "\n")
                served.flush()
            if api == "messages" and body.get("stream"):
                usage = {"input_tokens": inp - read - wrote, "cache_read_input_tokens": read,
                         "cache_creation_input_tokens": wrote, "output_tokens": 1}
                msg = {"id": "msg_" + uuid.uuid4().hex[:24], "type": "message",
                       "role": "assistant", "model": body["model"], "content": [],
                       "stop_reason": None, "stop_sequence": None, "usage": usage}
                return self.answer(sse([
                    {"type": "message_start", "message": msg},
                    {"type": "content_block_start", "index": 0,
                     "content_block": {"type": "text", "text": ""}},
                    {"type": "content_block_delta", "index": 0,
                     "delta": {"type": "text_delta", "text": "Hello."}},
                    {"type": "content_block_stop", "index": 0},
                    {"type": "message_delta", "delta": {"stop_reason": "end_turn",
                                                        "stop_sequence": None},
                     "usage": {"output_tokens": 2}},
                    {"type": "message_stop"}]), "text/event-stream")
            if api == "messages":
                out = {"id": "msg_" + uuid.uuid4().hex[:24], "type": "message", "role": "assistant",
                       "model": body["model"], "content": [{"type": "text", "text": "ok"}],
                       "stop_reason": "end_turn", "stop_sequence": None,
                       "usage": {"input_tokens": inp - read - wrote,
                                 "cache_read_input_tokens": read,
                                 "cache_creation_input_tokens": wrote, "output_tokens": 2}}
            else:
                out = {"id": "chatcmpl-" + uuid.uuid4().hex[:24], "object": "chat.completion",
                       "created": int(time.time()), "model": body["model"],
                       "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"},
                                    "finish_reason": "stop"}],
                       "usage": {"prompt_tokens": inp, "completion_tokens": 2,
                                 "total_tokens": inp + 2,
                                 "prompt_tokens_details": {"cached_tokens": read,
                                                           "cache_write_tokens": wrote}}}
            self.answer(out)

        def answer(self, out, ctype="application/json"):
            data = out if isinstance(out, bytes) else json.dumps(out).encode()
            self.send_response(200)
            self.send_header("content-type", ctype)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    srv = HTTPServer(("127.0.0.1", 443), H)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    open(ready, "w").write("ok\n")
    srv.serve_forever()


# ---- the workloads --------------------------------------------------------------

def post(api, body, key):
    if api == "messages":
        url, headers = "https://api.anthropic.com/v1/messages", {
            "x-api-key": key, "anthropic-version": "2023-06-01"}
    else:
        url, headers = "https://api.openai.com/v1/chat/completions", {
            "authorization": "Bearer " + key}
    headers["content-type"] = "application/json"
    req = urllib.request.Request(url, json.dumps(body).encode(), headers)
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def cached_of(api, resp):
    u = resp["usage"]
    if api == "messages":
        return u["cache_read_input_tokens"]
    return u["prompt_tokens_details"]["cached_tokens"]


def tokens_at(cum, total, inp):
    return inp if cum >= total else cum * inp // total


def oai_round(t):
    return 0 if t < MIN_OAI else MIN_OAI + (t - MIN_OAI) // STEP_OAI * STEP_OAI


def stamp(i):
    return "2026-12-07T18:%02d:%02dZ" % (10 + i, (i * 7) % 60)


TOOLS = [
    {"name": "read_file", "description": "Reads a file from the workspace and returns it",
     "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}}},
    {"name": "write_file", "description": "Writes a file in the workspace, replacing it",
     "input_schema": {"type": "object", "properties": {"path": {"type": "string"},
                                                       "text": {"type": "string"}}}},
    {"name": "search", "description": "Searches the workspace for a pattern, fast",
     "input_schema": {"type": "object", "properties": {"pattern": {"type": "string"}}}},
    {"name": "run", "description": "Runs a shell command in the sandbox and waits",
     "input_schema": {"type": "object", "properties": {"cmd": {"type": "string"}}}},
]


def ant(system_blocks, user, tools=None, top_cc=False, model="claude-sonnet-4-5"):
    b = {"model": model, "max_tokens": 64,
         "system": [dict(type="text", text=t, **({"cache_control": {"type": "ephemeral"}} if bp else {}))
                    for t, bp in system_blocks],
         "messages": [{"role": "user", "content": user}]}
    if tools is not None:
        b["tools"] = tools
    if top_cc:
        b["cache_control"] = {"type": "ephemeral"}
    return b


def oai(texts, model="gpt-4o"):
    msgs = [{"role": "system", "content": texts[0]}]
    for i, t in enumerate(texts[1:]):
        msgs.append({"role": "user" if i % 2 == 0 else "assistant", "content": t})
    return {"model": model, "messages": msgs}


def run(args):
    out = open(args[0], "w")
    key_a, key_b = "sk-test-" + "a" * 40, "sk-test-" + "b" * 40
    tok = Tokens()

    def call(wl, i, api, body, key, want):
        resp = post(api, body, key)
        bl = blocks_of(api, body)
        total = sum(len(t) for _, t, _ in bl)
        inp = total // 4 if api == "messages" else len(oai_flat(tok, bl)) + OA_HEADER
        cached = cached_of(api, resp)
        w = want(inp, cached, bl, total)
        w.update(workload=wl, call=i, input=inp, cached=cached, pid=os.getpid())
        out.write(json.dumps(w) + "\n")
        out.flush()

    def sys_tokens(bl, total, inp, upto):
        """tokens through block index upto (inclusive)"""
        return tokens_at(sum(len(t) for _, t, _ in bl[:upto + 1]), total, inp)

    # 1. timestamp at the top of a large system prompt, breakpoint after it
    stat = prose(24000, 1)
    for i in range(5):
        body = ant([("Current time: %s\n%s" % (stamp(i), stat), True)],
                   "What changed since yesterday?")

        def want(inp, cached, bl, total, i=i):
            if i == 0:
                return dict(cause="cold", cacheable=0, missed=0, breakers=[])
            t = sys_tokens(bl, total, inp, 0)
            return dict(cause="prefix_changed", cacheable=t, missed=t,
                        breakers=[["timestamp", "system[0]", 14]])
        call("ts_top_anthropic", i, "messages", body, key_a, want)

    # 2. OpenAI: the timestamp at the top, then at the bottom
    stat2 = prose(16000, 2)
    for where in ("top", "bottom"):
        for i in range(3):
            sysp = ("Current time: %s\n%s" % (stamp(i), stat2) if where == "top"
                    else "%s\nCurrent time: %s" % (stat2, stamp(i)))
            body = oai([sysp, "Please list the open issues for me now."],
                       model="gpt-4o" if where == "top" else "gpt-4.1")

            def want(inp, cached, bl, total, i=i, where=where):
                if i == 0:
                    return dict(cause="cold", cacheable=0, missed=0, breakers=[])
                allc = oai_round(inp)
                if allc == cached:
                    return dict(cause=None, cacheable=allc, missed=0, breakers=[])
                off = 14 if where == "top" else len(stat2) + 15
                # exact: the message header and the tokens before the stamp
                t = OA_HEADER + tok.ended_by(bl[0][1], off)
                return dict(cause="prefix_changed", cacheable=allc, missed=allc - cached,
                            breakers=[["timestamp", "messages[0]", off, t, allc - cached]])
            call("ts_%s_openai" % where, i, "chat", body, key_a, want)

    # 3. a UUID in the system prompt before an Anthropic breakpoint
    stat3 = prose(8000, 3)
    for i in range(3):
        body = ant([("Session %s. %s" % (uuid.uuid4(), stat3), True)], "Go on with the task.",
                   model="claude-opus-4-1")

        def want(inp, cached, bl, total, i=i):
            if i == 0:
                return dict(cause="cold", cacheable=0, missed=0, breakers=[])
            t = sys_tokens(bl, total, inp, 0)
            return dict(cause="prefix_changed", cacheable=t, missed=t,
                        breakers=[["uuid", "system[0]", 8]])
        call("uuid_anthropic", i, "messages", body, key_a, want)

    # 4. tools in another order on each call; breakpoint after the system prompt
    stat4 = prose(8000, 4)
    for i in range(3):
        tools = TOOLS[i:] + TOOLS[:i]
        body = ant([(stat4, True)], "Fix the failing test.", tools=tools, model="claude-sonnet-4")

        def want(inp, cached, bl, total, i=i):
            if i == 0:
                return dict(cause="cold", cacheable=0, missed=0, breakers=[])
            t = sys_tokens(bl, total, inp, len(TOOLS))
            return dict(cause="prefix_changed", cacheable=t, missed=t,
                        breakers=[["reordered_tools", "tools[0]", 0]])
        call("tools_shuffled", i, "messages", body, key_a, want)

    # 5. the same tools, one schema's keys in another order, then back
    stat5 = prose(8000, 5)
    for i in range(3):
        t1 = dict(TOOLS[1])
        if i == 1:
            t1 = {"input_schema": t1["input_schema"], "description": t1["description"],
                  "name": t1["name"]}
        body = ant([(stat5, True)], "Who is Ada?", tools=[TOOLS[0], t1], model="claude-sonnet-4-0")

        def want(inp, cached, bl, total, i=i):
            if i == 0:
                return dict(cause="cold", cacheable=0, missed=0, breakers=[])
            t = sys_tokens(bl, total, inp, 2)
            if i == 2:   # back to the first order: the provider still has it
                return dict(cause=None, cacheable=cached, missed=0, breakers=[])
            return dict(cause="prefix_changed", cacheable=t, missed=t,
                        breakers=[["reordered_keys", "tools[1]", 0]])
        call("keys_reordered", i, "messages", body, key_a, want)

    # 5b. few-shot examples (system blocks) in another order on some calls,
    #     the breakpoint after the last one: the same blocks, so one order
    #     would have let the provider read through the breakpoint
    head = prose(2000, 20)
    ex = [prose(3000, 21 + k) for k in range(3)]
    for i, order in enumerate(((0, 1, 2), (1, 2, 0), (0, 1, 2), (2, 0, 1))):
        blocks = [(head, False)] + [(ex[k], n == 2) for n, k in enumerate(order)]
        body = ant(blocks, "Now classify this one, please.", model="claude-sonnet-4-5")

        def want(inp, cached, bl, total, i=i):
            if i == 0:
                return dict(cause="cold", cacheable=0, missed=0, breakers=[])
            t = sys_tokens(bl, total, inp, 3)
            if i == 2:   # the first order again: the provider still has it
                return dict(cause=None, cacheable=cached, missed=0, breakers=[])
            return dict(cause="prefix_changed", cacheable=t, missed=t,
                        breakers=[["reordered_blocks", "system[1]", 0,
                                   tokens_at(len(head), total, inp), t]])
        call("blocks_reordered", i, "messages", body, key_a, want)

    # 5c. Anthropic: tool_choice changes, which invalidates the messages'
    #     cache but not the tools' and the system prompt's (issue 9); the
    #     provider reads through the system prompt only, and that is no miss
    stat5c = prose(8000, 52)
    ask5c = prose(4000, 53)
    for i, tc in enumerate(("auto", "auto", "any", "any")):
        body = ant([(stat5c, True)], [{"type": "text", "text": ask5c,
                                       "cache_control": {"type": "ephemeral"}}],
                   tools=[TOOLS[0]], model="claude-sonnet-4-5")
        body["tool_choice"] = {"type": tc}

        def want(inp, cached, bl, total, i=i):
            if i == 0:
                return dict(cause="cold", cacheable=0, missed=0, breakers=[])
            return dict(cause=None, cacheable=cached, missed=0, breakers=[])
        call("anthropic_tool_choice", i, "messages", body, key_a, want)

    # 5d. GPT-5.6, prompt_cache_options mode explicit: cached only through
    #     the prompt_cache_breakpoint block (BPE-exact), writes billed;
    #     without a breakpoint nothing is, and the cause says so
    stat5d = prose(12000, 54)
    ask5d = prose(6000, 55)
    for i in range(3):
        sysblock = {"type": "text", "text": stat5d}
        if i < 2:
            sysblock["prompt_cache_breakpoint"] = {"type": "ephemeral"}
        body = {"model": "gpt-5.6-sol",
                "messages": [{"role": "system", "content": [sysblock]},
                             {"role": "user", "content": ask5d}],
                "prompt_cache_options": {"mode": "explicit", "ttl": "30m"}}

        def want(inp, cached, bl, total, i=i):
            if i == 0:
                return dict(cause="cold", cacheable=0, missed=0, breakers=[])
            if i == 1:   # exactly the breakpoint block's end: header and text
                through = OA_HEADER + len(tok.of(stat5d))
                return dict(cause=None, cacheable=through, missed=0, breakers=[],
                            check_cached=through)
            return dict(cause="no_breakpoint", cacheable=inp, missed=inp, breakers=[])
        call("gpt56_explicit", i, "chat", body, key_a, want)

    # 6. Anthropic without a breakpoint, below the minimum, and with one
    for mode, n, model in (("nobp", 8000, "claude-3-7-sonnet"), ("below", 3000, "claude-opus-4-0"),
                           ("bp", 8000, "claude-sonnet-4-5-20250929")):
        stat6 = prose(n, 6)
        for i in range(3):
            body = ant([(stat6, mode != "nobp")], "Next step please.", model=model)

            def want(inp, cached, bl, total, i=i, mode=mode):
                if mode == "nobp":
                    return dict(cause="no_breakpoint", cacheable=inp if i else 0,
                                missed=inp if i else 0, breakers=[])
                if mode == "below":
                    return dict(cause="below_minimum", cacheable=0, missed=0, breakers=[])
                if i == 0:
                    return dict(cause="cold", cacheable=0, missed=0, breakers=[])
                return dict(cause=None, cacheable=cached, missed=0, breakers=[])
            call("anthropic_" + mode, i, "messages", body, key_a, want)

    # 7. OpenAI just under and over 1024 tokens
    #    (in OpenAI's tokens: the prose grows until it is)
    for name, floor, model in (("under", 1000, "gpt-4o-mini"), ("over", 1040, "gpt-4.1-mini")):
        n = 4000
        while len(oai_flat(tok, blocks_of("chat", oai([prose(n, 7), "Hello there, again."])))) \
                + OA_HEADER < floor:
            n += 40
        stat7 = prose(n, 7)
        for i in range(3):
            body = oai([stat7, "Hello there, again."], model=model)

            def want(inp, cached, bl, total, i=i, name=name):
                if name == "under":
                    return dict(cause="below_minimum", cacheable=0, missed=0, breakers=[])
                if i == 0:
                    return dict(cause="cold", cacheable=0, missed=0, breakers=[])
                return dict(cause=None, cacheable=1024, missed=0, breakers=[])
            call("openai_" + name, i, "chat", body, key_a, want)

    # 8. calls spaced past the TTL (3 s for this model in the rules given)
    stat8 = prose(8000, 8)
    for i in range(3):
        if i:
            time.sleep(4)
        body = ant([(stat8, True)], "Status?", model="claude-ttl-test")
        call("ttl", i, "messages", body, key_a,
             lambda inp, cached, bl, total, i=i: dict(cause="ttl_expired" if i else "cold",
                                                      cacheable=0, missed=0, breakers=[]))

    # 9. the same prefix under two API keys
    stat9 = prose(8000, 9)
    for i in range(4):
        body = oai([stat9, "Same question again."], model="gpt-5")
        call("two_keys", i, "chat", body, key_a if i % 2 == 0 else key_b,
             lambda inp, cached, bl, total, i=i: dict(cause="cold" if i < 2 else None,
                                                      cacheable=cached, missed=0, breakers=[]))

    # 10. a clean agent loop: each call appends the answer and a new turn
    stat10 = prose(8000, 10)
    texts = [stat10]
    for i in range(6):
        texts.append(prose(400 + 40 * i, 100 + i))
        body = oai(list(texts), model="gpt-5-mini")
        call("agent_loop", i, "chat", body, key_a,
             lambda inp, cached, bl, total, i=i: dict(cause=None if i else "cold",
                                                      cacheable=cached, missed=0, breakers=[]))
        texts.append(prose(200, 200 + i))
    out.close()


def check(args):
    expected = [json.loads(l) for l in open(args[0])]
    records = [json.loads(l) for l in open(args[1])]
    # this run's calls only: the daemon sees every process on the host
    pids = {e["pid"] for e in expected}
    records = [r for r in records if r.get("host") in ("api.anthropic.com", "api.openai.com")
               and r.get("pid") in pids]
    records.sort(key=lambda r: r["ts_start"])
    fails = 0
    if len(records) != len(expected):
        print(f"cache-e2e: FAIL: {len(records)} records for {len(expected)} calls")
        return 1
    for e, r in zip(expected, records):
        # [kind, segment, byte_offset(, token_offset, missed_tokens)]: as
        # many fields as the workload knows
        got_b = [[b["kind"], b["segment"], b["byte_offset"], b.get("token_offset"),
                  b.get("missed_tokens")][:len(w)]
                 for b, w in zip(r.get("breakers") or [], e["breakers"] + [[0] * 5] * 8)]
        got = dict(cause=r.get("cache_miss_cause"), cacheable=r.get("cacheable_tokens"),
                   missed=r.get("missed_cache_tokens"), breakers=got_b)
        want = {k: e[k] for k in ("cause", "cacheable", "missed", "breakers")}
        if r.get("cached_input_tokens") != e["cached"] or r.get("input_tokens") != e["input"]:
            want["usage"] = [e["input"], e["cached"]]
            got["usage"] = [r.get("input_tokens"), r.get("cached_input_tokens")]
        if "check_cached" in e and e["cached"] != e["check_cached"]:
            fails += 1
            print(f"cache-e2e: FAIL {e['workload']}#{e['call']}: the simulated provider "
                  f"read {e['cached']}, the workload says {e['check_cached']}")
        if got != want or (e["missed"] and not r.get("missed_cache_usd")):
            fails += 1
            print(f"cache-e2e: FAIL {e['workload']}#{e['call']}: got {got}, want {want}")
        if not r.get("account") or not r.get("template"):
            fails += 1
            print(f"cache-e2e: FAIL {e['workload']}#{e['call']}: no account or template")
    accounts = {r["account"] for r, e in zip(records, expected) if e["workload"] == "two_keys"}
    if len(accounts) != 2:
        fails += 1
        print(f"cache-e2e: FAIL two_keys: {len(accounts)} accounts, want 2")
    print(f"cache-e2e: {len(expected) - fails} of {len(expected)} calls as expected")
    return 1 if fails else 0


def claude(args):
    """Claude Code run twice against the simulated Anthropic: its billing
    block and metadata.user_id change between runs, the provider's cache
    reads go on, and llm-observer must report no breaker that costs tokens
    (issue 9: actual usage wins). A third run finds the provider's cache
    emptied: the prompt is the same but for those fields, so the miss is
    the provider's side and no breaker; this is what the rules table's
    non-prompt entries decide, usage having nothing to say."""
    export, cache_json, served = args
    recs = [json.loads(l) for l in open(export)]
    recs = [r for r in recs if r.get("exe", "").endswith("/claude")
            and r.get("host") == "api.anthropic.com"]
    srv = [json.loads(l) for l in open(served)]
    srv = [x for x in srv if x["billing"]]
    fails = []
    bills = {x["billing"] for x in srv}
    uids = {x["user_id"] for x in srv if x["user_id"]}
    if len(bills) < 2:
        fails.append(f"{len(bills)} distinct billing blocks: the runs did not differ there")
    if [bool(x["read"]) for x in srv] != [False, True, False]:
        fails.append(f"the simulated provider read {[x['read'] for x in srv]}, "
                     f"want nothing, all, nothing")
    if not any(r.get("cached_input_tokens") for r in recs):
        fails.append("no recorded Claude Code call shows cache reads")
    analysed = sorted((r for r in recs if r.get("cacheable_tokens") is not None),
                      key=lambda r: r["ts_start"])
    if len(analysed) != 3:
        fails.append(f"{len(analysed)} analysed Claude Code exchanges, want 3 "
                     f"({len(recs)} recorded)")
    for n, r in enumerate(analysed):
        bad = [b for b in r.get("breakers") or [] if b.get("missed_tokens")]
        if n < 2 and (r.get("missed_cache_tokens") or bad):
            fails.append(f"run {n + 1} ({r['model']}): missed {r.get('missed_cache_tokens')} "
                         f"tokens, cause {r.get('cache_miss_cause')!r}, breakers {bad}")
        if n == 2 and (r.get("cache_miss_cause") != "provider_side" or r.get("breakers")
                       or not r.get("missed_cache_tokens")):
            fails.append(f"run 3, cache emptied: cause {r.get('cache_miss_cause')!r}, missed "
                         f"{r.get('missed_cache_tokens')}, breakers {r.get('breakers')}; want "
                         f"provider_side, no breaker")
    for t in json.load(open(cache_json))["templates"]:
        if t["exe"].endswith("/claude"):
            bad = [b for b in t["breakers"] if b["missed_tokens"]]
            if bad:
                fails.append(f"llmobs cache: template {t['template']}: breakers {bad}")
    print(f"cache-e2e: Claude Code: {len(srv)} calls served, {len(bills)} billing blocks, "
          f"{len(uids)} user ids; {len(analysed)} analysed, causes "
          f"{sorted({r.get('cache_miss_cause') or 'hit' for r in analysed})}, "
          f"{sum(r.get('cached_input_tokens') or 0 for r in analysed)} tokens read")
    for f in fails:
        print("cache-e2e: FAIL Claude Code: " + f)
    return 1 if fails else 0


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "serve":
        serve(sys.argv[2:])
    elif mode == "run":
        run(sys.argv[2:])
    elif mode == "claude":
        sys.exit(claude(sys.argv[2:]))
    else:
        sys.exit(check(sys.argv[2:]))
