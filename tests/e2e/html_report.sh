#!/usr/bin/env bash
# The HTML report in a real browser (Debian's chromium, headless).
#
#   html_report.sh [DB]
#
# Without DB, builds a day of a busy host from the shared corpus through the
# daemon's pipeline (tests/helpers/corpus_db.c). Then, unfiltered and with
# each filter: `llmobs report --html`, Chromium loads the page from disk and
# dumps the DOM it rendered, and html_check.py compares it with `llmobs
# export`. The unfiltered page is screenshotted to $OUT/html/report.png;
# SCREENSHOT=docs/html-report.png copies it there too (the README's image).
# Env: E2E_OUTPUT (build dir, default .output), CORPUS.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${E2E_OUTPUT:-$root/.output}
CORPUS=${CORPUS:-$root/../shared/corpus/exchanges.jsonl}
dir=$OUT/html
rm -rf "$dir" && mkdir -p "$dir"
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
  echo "html_report: no chromium (tools/install-deps.sh installs it)" >&2
  exit 1
fi
db=${1:-}
if [ -z "$db" ]; then
  db=$dir/corpus.db
  "$OUT/tests/corpus_db" "$CORPUS" "$db" 2
fi
llmobs=$OUT/llmobs
"$llmobs" export --format jsonl --db "$db" > "$dir/export.jsonl"

# Chromium as root needs --no-sandbox; its profile goes in a throwaway dir.
chrome() {
  timeout 120 "$browser" --headless --no-sandbox --disable-gpu --no-first-run \
    --user-data-dir="$dir/profile" --hide-scrollbars "$@" 2>>"$dir/chromium.log"
}

fail=0
run() {  # run NAME [FILTER=VALUE]
  local name=$1 args=()
  shift
  for f in "$@"; do args+=("--${f%%=*}" "${f#*=}"); done
  "$llmobs" report --html "$dir/$name.html" --db "$db" "${args[@]}"
  chrome --virtual-time-budget=5000 --dump-dom "file://$dir/$name.html" > "$dir/$name.dom.html"
  python3 "$root/tests/e2e/html_check.py" "$dir/$name.html" "$dir/$name.dom.html" \
    "$dir/export.jsonl" "$@" || fail=1
}

run all
# Filters: the costliest provider, app and project in the export.
top() { python3 -c "import json,sys,collections;c=collections.Counter()
for l in open(sys.argv[1]):
  r=json.loads(l); k=r.get(sys.argv[2]) or (r['comm'] if sys.argv[2]=='app' else '')
  c[k]+=r['cost_usd'] if r['priced'] else 0
print(max((v,k) for k,v in c.items() if k)[1] if any(c) else '')" "$dir/export.jsonl" "$1"; }
for f in provider app project; do
  v=$(top "$f")
  [ -n "$v" ] && run "by-$f" "$f=$v"
done

chrome --window-size=1100,2400 --screenshot="$dir/report.png" "file://$dir/all.html" >/dev/null
[ -s "$dir/report.png" ] || { echo "html_report: no screenshot" >&2; fail=1; }
if [ -n "${SCREENSHOT:-}" ] && [ -s "$dir/report.png" ]; then
  cp "$dir/report.png" "$root/$SCREENSHOT"
  echo "html_report: screenshot in $SCREENSHOT"
fi
[ "$fail" -eq 0 ] && echo "html_report: ok ($dir)"
exit "$fail"
