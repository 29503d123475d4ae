#!/usr/bin/python3
"""Compares the spans a collector received (receiver.py --spans) with
`llmobs export` of the same run: one span per exchange, matched by pid and
start time; the GenAI usage attributes equal the exported token counts,
the resource equals the exchange's attribution, and errors are marked.

Usage: check.py SPANS.jsonl EXPORT.jsonl
Prints one line per problem and a summary; exits 1 on any problem.
"""
import collections
import datetime
import json
import sys

PROVIDERS = {  # export provider -> gen_ai.provider.name values it may become
    "openai": {"openai"}, "anthropic": {"anthropic"}, "ollama": {"ollama"},
    "google": {"gcp.gemini", "gcp.vertex_ai", "gcp.gen_ai"},
    "azure_openai": {"azure.ai.openai"},
}


def ms(iso):
    t = datetime.datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%fZ")
    return int(t.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000 + 0.5)


def expect(problems, where, what, got, want):
    if got != want:
        problems.append(f"{where}: {what} is {got!r}, export says {want!r}")


def check_pair(s, r, problems):
    a, res = s["attributes"], s["resource"]
    w = f"exchange pid {r['pid']} at {r['ts_start']} ({r['api']} {r['model']})"
    if r["usage_source"] == "none":
        if "gen_ai.usage.input_tokens" in a:
            problems.append(f"{w}: usage exported though the exchange has none")
    else:
        for attr, field in (("gen_ai.usage.input_tokens", "input_tokens"),
                            ("gen_ai.usage.output_tokens", "output_tokens"),
                            ("gen_ai.usage.cache_read.input_tokens", "cached_input_tokens"),
                            ("gen_ai.usage.cache_creation.input_tokens", "cache_write_tokens")):
            expect(problems, w, attr, a.get(attr), r[field])
        expect(problems, w, "gen_ai.usage.reasoning.output_tokens",
               a.get("gen_ai.usage.reasoning.output_tokens", 0), r["reasoning_tokens"])
    expect(problems, w, "gen_ai.request.model", a.get("gen_ai.request.model"),
           r["request_model"] or r["model"])
    if a.get("gen_ai.provider.name") not in PROVIDERS.get(r["provider"], {r["provider"]}):
        problems.append(f"{w}: gen_ai.provider.name {a.get('gen_ai.provider.name')!r} "
                        f"for provider {r['provider']}")
    if not a.get("gen_ai.operation.name") or not s["name"].startswith(a["gen_ai.operation.name"]):
        problems.append(f"{w}: span name {s['name']!r} is not '{{operation}} {{model}}'")
    if s["kind"] != 3:
        problems.append(f"{w}: kind {s['kind']} is not CLIENT")
    if r["priced"]:
        if abs(a.get("llmobs.cost_usd", -1) - r["cost_usd"]) > 1e-9:
            problems.append(f"{w}: llmobs.cost_usd {a.get('llmobs.cost_usd')} vs {r['cost_usd']}")
    if r["missed_cache_tokens"] is not None:
        expect(problems, w, "llmobs.cache.missed_tokens", a.get("llmobs.cache.missed_tokens"),
               r["missed_cache_tokens"])
        expect(problems, w, "llmobs.cache.cacheable_tokens",
               a.get("llmobs.cache.cacheable_tokens"), r["cacheable_tokens"])
    failed = bool(r["error"]) or r["status"] >= 400
    if failed != ("error.type" in a) or failed != (s["status"] == 2):
        problems.append(f"{w}: error {r['error']!r} status {r['status']}: error.type "
                        f"{a.get('error.type')!r}, span status {s['status']}")
    expect(problems, w, "span duration (ms)", s["end_ns"] // 1000000 - s["start_ns"] // 1000000,
           ms(r["ts_end"]) - ms(r["ts_start"]))
    svc = res.get("service.name", "")
    if r["app"]:
        expect(problems, w, "service.name", svc, r["app"])
    elif not svc.startswith("unknown_service:"):
        problems.append(f"{w}: service.name {svc!r} for an exchange with no app")
    expect(problems, w, "process.pid", res.get("process.pid"), r["pid"])
    expect(problems, w, "process.executable.path", res.get("process.executable.path"),
           r["exe"] or None)
    expect(problems, w, "process.user.id", res.get("process.user.id"), r["uid"])
    expect(problems, w, "llmobs.project", res.get("llmobs.project"), r["project"])
    for attr, field in (("container.id", "container_id"), ("k8s.pod.uid", "k8s_pod_uid"),
                        ("k8s.namespace.name", "k8s_namespace"), ("k8s.pod.name", "k8s_pod")):
        expect(problems, w, attr, res.get(attr), r[field])


def main():
    spans = [json.loads(line) for line in open(sys.argv[1])]
    rows = [json.loads(line) for line in open(sys.argv[2])]
    problems = []
    by_key = collections.defaultdict(list)
    for s in spans:
        by_key[(s["resource"].get("process.pid"), s["start_ns"] // 1000000)].append(s)
    if len(spans) != len(rows):
        problems.append(f"{len(spans)} spans for {len(rows)} exported exchanges")
    if len({s["trace_id"] for s in spans}) != len(spans):
        problems.append("trace ids repeat")
    for r in rows:
        cands = by_key.get((r["pid"], ms(r["ts_start"])), [])
        # Within one pid and millisecond, the span with the same usage.
        pick = next((s for s in cands if s["attributes"].get("gen_ai.usage.input_tokens")
                     == (r["input_tokens"] if r["usage_source"] != "none" else None)), None)
        if not pick:
            problems.append(f"no span for pid {r['pid']} at {r['ts_start']} ({r['model']})")
            continue
        cands.remove(pick)
        check_pair(pick, r, problems)
    tot = lambda k: sum(s["attributes"].get(k, 0) for s in spans)
    for attr, field in (("gen_ai.usage.input_tokens", "input_tokens"),
                        ("gen_ai.usage.output_tokens", "output_tokens")):
        want = sum(r[field] for r in rows if r["usage_source"] != "none")
        if tot(attr) != want:
            problems.append(f"total {attr} {tot(attr)} vs export {want}")
    for p in problems:
        print("  problem:", p)
    print(f"  {len(spans)} spans, {len(rows)} exchanges, {tot('gen_ai.usage.input_tokens')} input "
          f"and {tot('gen_ai.usage.output_tokens')} output tokens, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
