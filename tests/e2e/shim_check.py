#!/usr/bin/python3
"""Checks the LD_PRELOAD shim run of shim.sh (files in --shim-dir).

user: every LLM request a shimmed client made is recorded exactly once with
capture=preload, the sending pid (threads, the fork child, its exec'd image)
and exact tokens and cost (check.py's comparison); what ran without the shim
(curl with LD_PRELOAD removed, Node) is not; the hostile process was counted.
root: shimmed clients once as preload, the others once as uprobe, BPF events
of shimmed processes dropped (bpf_events_deduped).
failopen: every run with the shim has the output, exit code and (within
noise) the time of the runs without it.
Prints PASS/FAIL lines and `shim e2e: N passed, N failed`.
"""
import argparse
import collections
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check  # noqa: E402  (the main e2e checker's comparison and prices)


def read(path, default=""):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return default


def steps_of(d, part):
    out = []
    for line in read(os.path.join(d, f"steps-{part}.tsv")).splitlines():
        name, rc, first, last = line.split("\t")
        out.append((name, int(rc), int(first), int(last)))
    return out


def match(served, records, fixtures):
    """Pairs each served request with a record of the same pid, request line
    and request model. check.py pairs by order, but concurrent threads of
    one process finish in any order, e.g. two calls of /v1/messages."""
    pools = collections.defaultdict(list)
    for r in sorted(records, key=lambda r: (r.get("ts_start") or "", r.get("id") or 0)):
        pools[(r.get("pid"), r.get("method"), check.bare_host(r.get("host")), r.get("path"),
               r.get("request_model"))].append(r)
    pairs = []
    for s in served:
        key = (s.get("pid"), s["method"], s["host"], s["path"],
               check.request_model(fixtures[s["id"]]))
        pool = pools.get(key)
        pairs.append((s, pool.pop(0) if pool else None))
    return pairs, [r for pool in pools.values() for r in pool]


def corpus_diffs(s, e, r):
    """What check.py holds a corpus record to (tokens, model, provider, api,
    stream, status, complete), so both paths meet the same bar."""
    diffs = check.compare(s, e, r, None, strict_meta=False)
    want_api = "responses" if e["api"] == "other" and \
        e.get("path", "").startswith("/v1/responses/compact") else e["api"]
    for k, want in (("provider", e["provider"]), ("api", want_api),
                    ("stream", bool(e["stream"])), ("status", e["status"]), ("complete", True)):
        if r.get(k) != want:
            diffs.append(f"{k}={r.get(k)!r} want {want!r}")
    return diffs


def check_steps(res, d, part, steps):
    for name, rc, _first, _last in steps:
        text = read(os.path.join(d, "out", f"{part}-{name}"))
        fails = [ln for ln in text.splitlines() if ln.startswith("FAIL")]
        res.check(rc == 0 and not fails, f"[{part}] client {name} succeeded under the shim",
                  f"rc={rc}" + (f"; {fails[0][:200]}" if fails else ""))


def check_records(res, args, part, steps, policy):
    """policy(step, served) -> 'preload' | 'uprobe' | None (must not be recorded)."""
    d = args.shim_dir
    served = check.load_jsonl(os.path.join(d, f"served-{part}.jsonl"))
    records = [r for r in check.load_jsonl(os.path.join(d, f"export-{part}.jsonl"))
               if "_bad_line" not in r]
    fixtures = {e["id"]: e for e in check.load_jsonl(args.fixtures)}
    corpus = {e["id"]: e for e in check.load_jsonl(args.corpus)} if args.corpus else {}
    prices = check.Prices(args.prices)
    step_of = {}
    for name, _rc, first, last in steps:
        for i in range(first, last + 1):
            step_of[i] = name
    ours = {s.get("pid") for s in served}
    records = [r for r in records if r.get("pid") in ours]
    pairs, extra = match([s for s in served if s["source"] == "fixture"], records, fixtures)
    # The corpus is replayed by one thread: check.py's pairing in order.
    more, extra = check.match_records([s for s in served if s["source"] == "corpus"], extra)
    pairs += more
    by_step = collections.defaultdict(lambda: [0, 0, [], set()])
    for s, r in pairs:
        step = step_of.get(s["seq"], "?")
        want = policy(step, s)
        st = by_step[step]
        st[0] += 1
        st[3].add(want)
        if want is None:
            if r is not None:
                st[2].append(f"{s['id']} pid {s.get('pid')} ({s.get('exe')}) recorded, "
                             "but it ran without the shim")
            continue
        if r is None:
            st[2].append(f"{s['id']} pid {s.get('pid')}: no record")
            continue
        e = check.expectation(s, fixtures, corpus)
        if s["source"] == "fixture":
            diffs = [x for x in check.compare(s, e, r, prices, strict_meta=True)
                     if not x.startswith("capture=")]
        else:
            diffs = corpus_diffs(s, e, r)
        if r.get("capture") != want:
            diffs.append(f"capture={r.get('capture')!r} want {want!r}")
        if diffs:
            st[2].append(f"{s['id']} pid {s.get('pid')}: " + "; ".join(diffs))
        else:
            st[1] += 1
    for name, _rc, _f, _l in steps:
        n, ok, bad, wants = by_step[name]
        if not n:
            continue
        what = ("nothing recorded (no shim at work)" if wants == {None} else
                "each LLM exchange recorded once, exact, by the right path and pid")
        res.check(not bad, f"[{part}] {name}: {what}", f"{ok}/{n} ok"
                  + (f"; {bad[0]}" if bad else "")
                  + (f" (+{len(bad) - 1} more)" if len(bad) > 1 else ""))
    res.check(not extra, f"[{part}] no extra records (each exchange exactly once)",
              "; ".join(f"pid {r.get('pid')} {r.get('method')} {r.get('path')} "
                        f"capture={r.get('capture')}" for r in extra[:6]))
    return served, step_of


def check_user(res, args):
    d = args.shim_dir
    if not os.path.exists(os.path.join(d, "user.netns-rc")):
        res.check(False, "[user] the user's daemon ran", read(os.path.join(d, "user.log"))[-300:])
        return
    res.check(read(os.path.join(d, "user.netns-rc")).strip() == "0", "[user] namespace ran")
    mode = read(os.path.join(d, "user.sock-mode")).split()
    res.check(mode == ["600", str(args.uid)],
              "[user] default socket $XDG_RUNTIME_DIR/llmobs.sock, 0600, the user's",
              " ".join(mode))
    res.check(os.path.exists(os.path.join(d, "user.alive")),
              "[user] the daemon survived the hostile process and every client")
    ex = read(os.path.join(d, "user.exit")).split()
    res.check(len(ex) == 2 and ex[0] == "0" and int(ex[1]) <= 1000,
              "[user] the daemon exits 0 on SIGTERM within 1 s", " ".join(ex))
    steps = steps_of(d, "user")
    check_steps(res, d, "user", steps)

    def policy(step, s):
        if step in ("node", "hostile", "local-models-unasked"):
            return None
        if step == "threads" and s.get("exe", "").endswith("/curl"):
            return None	# run with LD_PRELOAD taken out of its environment
        return "preload"
    served, step_of = check_records(res, args, "user", steps, policy)

    th = [s for s in served if step_of.get(s["seq"]) == "threads"]
    py = collections.Counter(s.get("pid") for s in th if "python" in s.get("exe", ""))
    curl = [s for s in th if s.get("exe", "").endswith("/curl")]
    res.check(sorted(py.values()) == [3, 16] and len(curl) == 1,
              "[user] threads: 16 requests from 8 threads, 3 from the fork child (2 + 1 "
              "after its exec, same pid), 1 from curl without the shim",
              f"python pids {dict(py)}, curl {len(curl)}")
    node = read(os.path.join(d, "out", "user-node"))
    res.check("no libssl calls seen" in node and "node status=200" in node,
              "[user] node: the shim reports 'no libssl calls seen' (OpenSSL inside node)",
              node.strip()[-200:])
    c = check.read_counters(os.path.join(d, "state", "user.db"))
    res.check(c.get("shim_messages_malformed", 0) > 0 and c.get("shim_clients_rejected", 0) > 0
              and c.get("shim_clients_dropped", 0) > 0,
              "[user] the hostile process is counted (malformed, rejected, dropped)",
              ", ".join(f"{k}={v}" for k, v in sorted(c.items()) if k.startswith("shim_")))


def check_root(res, args):
    d = args.shim_dir
    if not os.path.exists(os.path.join(d, "root.netns-rc")):
        res.check(False, "[root] the root daemon ran", read(os.path.join(d, "root.log"))[-300:])
        return
    res.check(read(os.path.join(d, "root.netns-rc")).strip() == "0", "[root] namespace ran")
    steps = steps_of(d, "root")
    check_steps(res, d, "root", steps)
    check_records(res, args, "root", steps,
                  lambda step, s: "preload" if step.startswith("shim-") else "uprobe")
    c = check.read_counters(os.path.join(d, "root.db"))
    res.check(c.get("bpf_events_deduped", 0) > 0 and c.get("shim_clients", 0) >= 2,
              "[root] BPF events of shimmed processes dropped, shims served",
              f"bpf_events_deduped={c.get('bpf_events_deduped')}, "
              f"shim_clients={c.get('shim_clients')}")


def check_failopen(res, args):
    d = args.shim_dir
    res.check(read(os.path.join(d, "failopen.netns-rc")).strip() == "0", "[failopen] namespace ran")
    runs = {}
    for line in read(os.path.join(d, "failopen.tsv")).splitlines():
        case, client, rc, ms = line.split("\t")
        runs[(case, client)] = (int(rc), int(ms))
    for client in ("urllib", "big"):
        base = runs.get(("base", client))
        if base is None:
            res.check(False, f"[failopen] {client}: baseline ran")
            continue
        ref = max(base[1], runs.get(("base2", client), base)[1])
        out0 = read(os.path.join(d, "out", f"fo-base-{client}"))
        res.check(base[0] == 0 and out0 and "FAIL" not in out0,
                  f"[failopen] {client}: baseline without the shim works", f"rc={base[0]}")
        for case, what in (("absent", "daemon absent"), ("killed", "daemon SIGKILLed mid-run"),
                           ("stale", "stale socket, nobody listening"),
                           ("stopped", "daemon stopped: ring full"),
                           ("backlog", "daemon stopped, listen backlog full"),
                           ("base2", "no shim, again")):
            got = runs.get((case, client))
            out = read(os.path.join(d, "out", f"fo-{case}-{client}"))
            if got is None:
                res.check(False, f"[failopen] {client}: {what}: ran")
                continue
            slack = max(1000, ref // 2)
            res.check(got[0] == base[0] and out == out0 and got[1] <= ref + slack,
                      f"[failopen] {client}: {what}: same output, exit code and time",
                      f"rc={got[0]} (want {base[0]}), output {'same' if out == out0 else 'DIFFERS'}, "
                      f"{got[1]} ms (no shim {ref} ms, allowed +{slack})")
    log = read(os.path.join(d, "failopen-daemon.log"))
    res.check("killed after" in log, "[failopen] the daemon was killed while clients ran",
              " / ".join(ln for ln in log.splitlines() if "killed" in ln))


def check_probe(res, args):
    d = args.shim_dir
    bare = read(os.path.join(d, "probe-bare"))
    res.check(bare.endswith("\n0\n") and "first call" in bare,
              "[probe] shim_probe runs without the shim", bare[-200:])
    for case, what in (("absent", "no daemon"), ("daemon", "a daemon")):
        got = read(os.path.join(d, f"probe-{case}"))
        res.check(got == bare, f"[probe] every SSL_* and plain socket call's return value and "
                  f"errno unchanged under the shim with {what} (fork child included)",
                  "same" if got == bare else f"differs: {got[:300]!r}")
    # Seen, too: the three TLS sessions and the plain connection (its port
    # in LLMOBS_PLAIN_PORTS) each made one non-LLM exchange.
    c = check.read_counters(os.path.join(d, "probe.db"))
    res.check(c.get("non_llm_exchanges") == 4,
              "[probe] the shim captured the probe's TLS sessions and its plain connection",
              f"non_llm_exchanges={c.get('non_llm_exchanges')} (want 4)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shim-dir", required=True)
    ap.add_argument("--fixtures", required=True)
    ap.add_argument("--prices", required=True)
    ap.add_argument("--uid", type=int, required=True)
    ap.add_argument("--corpus")
    args = ap.parse_args()
    res = check.Result()
    check_user(res, args)
    check_root(res, args)
    check_failopen(res, args)
    check_probe(res, args)
    print(f"shim e2e: {res.passed} passed, {res.failed} failed")
    sys.exit(1 if res.failed else 0)


if __name__ == "__main__":
    main()
