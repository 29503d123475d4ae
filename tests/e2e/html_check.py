#!/usr/bin/python3
"""Checks an `llmobs report --html` page as Chromium rendered it.

Usage: html_check.py PAGE.html DOM.html EXPORT.jsonl [FILTER=VALUE]

PAGE is the file llmobs wrote, DOM what `chromium --dump-dom` printed once
the page had loaded (so its scripts ran and its SVG was laid out), EXPORT
`llmobs export --format jsonl` of the same database. FILTER (provider=...,
app=..., project=...) says which exchanges the page was asked to show.

Asserts: the browser laid out every chart (the page's check sets
data-rendered="yes" on <body> when every <svg> has a box) and there are
bars in them; the totals shown equal the export's (exchanges, input,
cached and output tokens exactly, priced cost to the page's 6 decimals);
the spend-by-model legend names the export's costliest models; the page
loads nothing from anywhere (a CSP forbids it, and no src/href points out)
and stays small.
"""
import json
import sys
from html.parser import HTMLParser

MAX_PAGE_BYTES = 400 * 1024


class Dom(HTMLParser):
    def __init__(self):
        super().__init__()
        self.body = {}
        self.ids = {}
        self.svgs = 0
        self.bars = {}          # svg id -> rect.bar count
        self.legend = {}        # svg id -> legend names
        self.urls = []
        self._svg = None
        self._fig_svg = None    # the chart whose legend we are in
        self._key = None
        self._in_legend = False
        self.sensitive_rows = []    # [app, project, kind, exchanges, found]
        self._table = None
        self._cell = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self._table = a.get("id")
        if tag == "tr" and self._table == "sensitive":
            self.sensitive_rows.append([])
        if tag == "td" and self._table == "sensitive":
            self._cell = ""
        if tag == "body":
            self.body = a
        if "id" in a:
            self.ids[a["id"]] = a
        for k in ("src", "href"):
            if k in a and a[k] and not a[k].startswith(("#", "data:")):
                self.urls.append(a[k])
        if tag == "svg":
            self.svgs += 1
            self._svg = a.get("id")
            self._fig_svg = self._svg
        if tag == "rect" and a.get("class") == "toolmark":
            self.toolmarks = getattr(self, "toolmarks", 0) + 1
        if tag == "rect" and "bar" in a.get("class", "").split() and self._svg:
            self.bars[self._svg] = self.bars.get(self._svg, 0) + 1
        if tag == "figcaption" and "legend" in a.get("class", ""):
            self._in_legend = True
        if tag == "span" and self._in_legend and a.get("class") == "key":
            self._key = ""

    def handle_endtag(self, tag):
        if tag == "table":
            self._table = None
        if tag == "td" and self._cell is not None:
            self.sensitive_rows[-1].append(self._cell)
            self._cell = None
        if tag == "svg":
            self._svg = None
        if tag == "figcaption":
            self._in_legend = False
        if tag == "span" and self._key is not None:
            self.legend.setdefault(self._fig_svg, []).append(self._key)
            self._key = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data
        if self._key is not None:
            self._key += data


def main():
    page_path, dom_path, export_path = sys.argv[1:4]
    filt = dict(a.split("=", 1) for a in sys.argv[4:])
    page = open(page_path, encoding="utf-8").read()
    dom = Dom()
    dom.feed(open(dom_path, encoding="utf-8").read())
    rows = [json.loads(l) for l in open(export_path) if l.strip()]
    for k, v in filt.items():
        if k == "app":   # the page's app: attribution, else the command name
            rows = [r for r in rows if (r.get("app") or r["comm"]) == v]
        elif k == "project":
            rows = [r for r in rows if (r.get("project") or "(none)") == v]
        else:
            rows = [r for r in rows if r[k] == v]
    errors = []

    def check(cond, what):
        if not cond:
            errors.append(what)

    check(dom.body.get("data-rendered") == "yes",
          f"charts not laid out: body {dom.body}")
    check(dom.svgs >= 5, f"only {dom.svgs} <svg> elements")
    check(dom.bars.get("spend-model", 0) > 0, "no bars in spend-model")
    check(dom.bars.get("tokens-by-type", 0) > 0, "no bars in tokens-by-type")

    def shown(name):
        return float(dom.ids[f"total-{name}"]["data-value"])

    want = {
        "exchanges": len(rows),
        "input": sum(r["input_tokens"] for r in rows),
        "cached": sum(r["cached_input_tokens"] for r in rows),
        "output": sum(r["output_tokens"] for r in rows),
        "unpriced": sum(1 for r in rows if not r["priced"]),
    }
    for k, v in want.items():
        check(shown(k) == v, f"total {k}: page {shown(k)}, export {v}")
    cost = sum(r["cost_usd"] for r in rows if r["priced"] and r["cost_usd"] is not None)
    check(abs(shown("cost") - cost) <= 1e-6 + 1e-9 * cost,
          f"total cost: page {shown('cost')}, export {cost:.9f}")

    by_model = {}
    for r in rows:
        if r["priced"]:
            m = r["model"] or "(unknown)"
            by_model[m] = by_model.get(m, 0) + r["cost_usd"]
    top = [m for m, c in sorted(by_model.items(), key=lambda x: (-x[1], x[0])) if c > 0]
    legend = dom.legend.get("spend-model", [])
    named = [n for n in legend if n != "other"]
    for m in top[:len(named)]:
        check(m in named, f"legend of spend-model lacks {m!r}: {legend}")
    check(len(named) >= min(len(top), 8), f"legend names {len(named)} of {len(top)} models")

    # secrets and personal data: the page's counts per kind are the export's
    found = {}
    for row in dom.sensitive_rows:
        if len(row) == 5:
            found[row[2]] = found.get(row[2], 0) + int(row[4])
    want_found = {}
    for r in rows:
        for k, v in (r.get("sensitive") or {}).items():
            want_found[k] = want_found.get(k, 0) + v
    check(found == want_found, f"sensitive counts: page {found}, export {want_found}")

    # the timeline marks calls whose response asked for tools
    if any(r.get("tool_calls") for r in rows):
        check(getattr(dom, "toolmarks", 0) > 0, "no tool-call marks in the timeline")

    check("Content-Security-Policy" in page and "default-src 'none'" in page,
          "no CSP forbidding fetches")
    check(not dom.urls, f"page refers to {dom.urls[:3]}")
    check(len(page.encode()) <= MAX_PAGE_BYTES, f"page is {len(page)} bytes")

    label = " ".join(f"{k}={v}" for k, v in filt.items()) or "no filter"
    if errors:
        for e in errors:
            print(f"html_check ({label}): FAIL {e}")
        return 1
    print(f"html_check ({label}): ok: {len(rows)} exchanges, ${cost:.6f}, "
          f"{dom.svgs} charts rendered, {len(page) // 1024} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
