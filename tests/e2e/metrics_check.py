#!/usr/bin/python3
"""Checks llmobsd's /metrics against `llmobs export` for the same run
(tests/e2e/metrics.sh). The scrape is parsed by a real Prometheus parser
(Debian's python3-prometheus-client), in both the text format 0.0.4 and
OpenMetrics; every usage counter must equal the sum of the exported records
with the same labels, series by series, and the attribution expected from
each client (app, project) must be there.
Usage: metrics_check.py URL EXPORT_JSONL EXPECT_JSON"""
import json
import math
import sys
import urllib.request
from collections import defaultdict

from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.openmetrics.parser import text_string_to_metric_families as om_families

fails = []


def check(cond, msg):
    if not cond:
        fails.append(msg)


def scrape(url, accept=None):
    req = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.headers.get("Content-Type", ""), r.read().decode()


def samples(families):
    out = defaultdict(dict)
    for fam in families:
        for s in fam.samples:
            out[s.name][tuple(sorted(s.labels.items()))] = s.value
    return out


def main():
    url, export, expect = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    ctype, text = scrape(url)
    check(ctype.startswith("text/plain; version=0.0.4"), f"content type {ctype!r}")
    got = samples(text_string_to_metric_families(text))
    octype, otext = scrape(url, "application/openmetrics-text; version=1.0.0")
    check(octype.startswith("application/openmetrics-text"), f"openmetrics type {octype!r}")
    check(otext.endswith("# EOF\n"), "openmetrics: no # EOF")
    om = samples(om_families(otext))
    check(om.get("llmobs_exchanges_total") == got.get("llmobs_exchanges_total"),
          "openmetrics and text disagree on llmobs_exchanges_total")

    with open(export) as f:
        recs = [json.loads(l) for l in f if l.strip()]
    want = defaultdict(lambda: defaultdict(float))
    errors = defaultdict(float)
    for r in recs:
        key = (("app", r["app"] or ""), ("model", r["model"]),
               ("namespace", r["k8s_namespace"] or ""), ("project", r["project"] or ""),
               ("provider", r["provider"]))
        w = want[key]
        w["exchanges"] += 1
        w["input"] += r["input_tokens"]
        w["output"] += r["output_tokens"]
        w["cached_input"] += r["cached_input_tokens"]
        w["cache_write"] += r["cache_write_tokens"]
        w["reasoning"] += r["reasoning_tokens"]
        w["cost"] += r["cost_usd"] or 0.0
        if r["status"] >= 400:
            errors[(("host", r["host"]), ("model", r["model"]), ("provider", r["provider"]),
                    ("status", str(r["status"])))] += 1

    exch = got.get("llmobs_exchanges_total", {})
    check(len(exch) == len(want), f"{len(exch)} series, export has {len(want)} label sets")
    check(sum(exch.values()) == len(recs), f"{sum(exch.values())} exchanges, export {len(recs)}")
    for key, w in want.items():
        check(exch.get(key) == w["exchanges"], f"exchanges{dict(key)}: {exch.get(key)} != {w['exchanges']}")
        for t in ("input", "output", "cached_input", "cache_write", "reasoning"):
            k = tuple(sorted(key + (("type", t),)))
            v = got["llmobs_tokens_total"].get(k)
            check(v == w[t], f"tokens{dict(k)}: {v} != {w[t]}")
        c = got["llmobs_cost_usd_total"].get(key)
        check(c is not None and math.isclose(c, w["cost"], rel_tol=1e-9, abs_tol=1e-12),
              f"cost{dict(key)}: {c} != {w['cost']}")
    errs = got.get("llmobs_http_errors_total", {})
    check(errs == dict(errors), f"http errors {errs} != export {dict(errors)}")
    check(sum(v for k, v in errs.items() if ("status", "429") in k) >= expect.get("min_429", 0),
          "no 429 counted")
    if expect.get("ratelimit"):
        rl = got.get("llmobs_ratelimit_remaining", {})
        check(any(dict(k).get("limit") == "requests" and v == expect["ratelimit"]
                  for k, v in rl.items()), f"ratelimit gauge {rl}")
    for app, project in expect.get("apps", {}).items():
        n = sum(v for k, v in exch.items() if dict(k)["app"] == app and dict(k)["project"] == project)
        check(n > 0, f"no exchanges for app={app} project={project}")
    stat = got.get("llmobs_daemon_stat", {})
    check(stat.get((("name", "exchanges"),)) == len(recs) or
          stat.get((("name", "exchanges"),), 0) >= len(recs),
          f"daemon_stat exchanges {stat.get((('name', 'exchanges'),))} vs {len(recs)}")
    check("process_resident_memory_bytes" in got, "no process_resident_memory_bytes")
    check("process_cpu_seconds_total" in got, "no process_cpu_seconds_total")
    check(any(k == (("cause", "shim_ring_full"),) for k in got.get("llmobs_capture_drops_total", {})),
          "no capture drops by cause")

    if fails:
        for f in fails:
            print("metrics check: FAIL", f)
        print(f"metrics check: {len(recs)} records, {len(fails)} failures")
        sys.exit(1)
    print(f"metrics check: {len(recs)} records, {len(exch)} series: every counter equals the export")


if __name__ == "__main__":
    main()
