#!/usr/bin/env bash
# Prompt-cache analytics end to end (issue 9): synthetic workloads with
# known answers (cache_workloads.py) through urllib and the real daemon,
# against a local server that simulates OpenAI's and Anthropic's prompt
# caches; every call's cause, cacheable and missed tokens and breakers
# (kind, segment, byte offset) must be what the workload implies, and
# `llmobs cache` is printed for the record. The daemon and the server read
# the same rules file: the embedded one plus a 3 s TTL for the model of the
# TTL workload, whose calls are 4 s apart, so one clock governs both.
# Needs root (BPF, namespaces); `flock /tmp/llmobs-e2e.lock` around it.
# Builds nothing (needs llmobsd, llmobs and tests/bpe_ids in E2E_OUTPUT).
# Env: E2E_OUTPUT (build dir), CACHE_KEEP=1 keeps $TMP.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
E2E=$ROOT/tests/e2e
OUT=${E2E_OUTPUT:-$ROOT/.output}
PY=/usr/bin/python3
[ "$(id -u)" -eq 0 ] || { echo "cache-e2e: needs root"; exit 1; }
# OpenAI's token boundaries for the simulated provider (make's helpers)
export BPE_IDS=$OUT/tests/bpe_ids
[ -x "$BPE_IDS" ] || { echo "cache-e2e: $BPE_IDS missing (make $BPE_IDS)"; exit 1; }
TMP=$(mktemp -d /tmp/llmobs-cache-e2e.XXXXXX)
DPID=""
cleanup() {
  [ -n "$DPID" ] && kill -KILL "$DPID" 2>/dev/null
  if [ "${CACHE_KEEP:-0}" = 1 ]; then echo "cache-e2e: kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- CA, certificate, hosts (as chaos.sh) ------------------------------------
HOSTS=(api.openai.com api.anthropic.com)
mkdir -p "$TMP/ca"
SAN="DNS:localhost,IP:127.0.0.1"
for h in "${HOSTS[@]}"; do SAN="$SAN,DNS:$h"; done
{
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$TMP/ca/ca.key" -out "$TMP/ca/ca.pem" -days 2 -subj "/CN=llm-observer cache CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" &&
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$TMP/ca/server.key" -out "$TMP/ca/server.csr" -subj "/CN=api.openai.com" &&
  printf '%s\n' "subjectAltName=$SAN" "basicConstraints=critical,CA:FALSE" \
    "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" >"$TMP/ca/ext.cnf" &&
  openssl x509 -req -in "$TMP/ca/server.csr" -CA "$TMP/ca/ca.pem" -CAkey "$TMP/ca/ca.key" \
    -CAcreateserial -days 2 -out "$TMP/ca/server.pem" -extfile "$TMP/ca/ext.cnf"
} >"$TMP/ca/openssl.log" 2>&1 || { cat "$TMP/ca/openssl.log"; exit 1; }
{
  echo "127.0.0.1 localhost"
  for h in "${HOSTS[@]}"; do echo "127.0.0.1 $h"; done
} >"$TMP/hosts"

# --- the rules both sides use ----------------------------------------------------
$PY - "$ROOT/data/cache_rules.json" "$TMP/rules.json" <<'PYEOF' || exit 1
import json, sys
r = json.load(open(sys.argv[1]))
for p in r["providers"]:
    if p["provider"] == "anthropic":
        p["rules"].append({"model": "claude-ttl", "min_tokens": 1024, "granularity_tokens": 1,
                           "ttl_s": 3, "max_ttl_s": 0, "breakpoints": "anthropic",
                           "lookback_blocks": 20, "max_breakpoints": 4, "write_premium": True,
                           "implicit": True, "note": "e2e: the TTL workload's clock"})
json.dump(r, open(sys.argv[2], "w"))
PYEOF

# --- the daemon, outside the namespace ----------------------------------------
"$OUT/llmobsd" --db "$TMP/cache.db" --cache-rules "$TMP/rules.json" --json \
  >"$TMP/records.jsonl" 2>"$TMP/daemon.log" &
DPID=$!
for _ in $(seq 300); do
  grep -q ' ready' "$TMP/daemon.log" 2>/dev/null && break
  kill -0 "$DPID" 2>/dev/null || break
  sleep 0.1
done
grep -q ' ready' "$TMP/daemon.log" || { echo "cache-e2e: FAIL: llmobsd not ready: $(tail -n 5 "$TMP/daemon.log")"; exit 1; }

# --- server and workloads in a private net+mount namespace ---------------------
CLAUDE=$E2E/agents/node_modules/@anthropic-ai/claude-code-linux-x64/claude
[ -x "$CLAUDE" ] || echo "cache-e2e: Claude Code not installed (tests/e2e/agents): its calibration is skipped"
unshare -m -n -- bash -c '
  set -u
  TMP=$1 E2E=$2 PY=$3 CLAUDE=$4
  ip link set lo up && mount --bind "$TMP/hosts" /etc/hosts || exit 1
  export SSL_CERT_FILE=$TMP/ca/ca.pem
  unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
  "$PY" "$E2E/cache_workloads.py" serve "$TMP/ca/server.pem" "$TMP/ca/server.key" \
    "$TMP/rules.json" "$TMP/server.ready" "$TMP/served.jsonl" 2>"$TMP/server.log" &
  SRV=$!
  for _ in $(seq 100); do [ -s "$TMP/server.ready" ] && break; sleep 0.1; done
  [ -s "$TMP/server.ready" ] || { echo "cache-e2e: server did not start"; kill $SRV; exit 1; }
  "$PY" "$E2E/cache_workloads.py" run "$TMP/expected.jsonl"
  rc=$?
  # Claude Code (pinned, tests/e2e/agents), twice back to back, as a new
  # user would: once the daemon has attached to its BoringSSL
  if [ -x "$CLAUDE" ]; then
    export NODE_EXTRA_CA_CERTS=$TMP/ca/ca.pem
    HOME=$TMP/claude-home bash -c '\''for i in 1 2 3 4 5 6 7 8 9 10; do "$1" --version; done'\'' \
      _ "$CLAUDE" >/dev/null 2>&1 &
    W=$!
    for _ in $(seq 100); do
      grep -q "attached to $(readlink -f "$CLAUDE") (" "$TMP/daemon.log" && break
      sleep 0.1
    done
    kill $W 2>/dev/null; wait $W 2>/dev/null
    sleep 1
    : >"$TMP/served.jsonl"
    for run in 1 2 3; do
      # before the third run the simulated cache is emptied (cache_workloads.py)
      [ $run = 3 ] && touch "$TMP/evict"
      timeout 120 env HOME="$TMP/claude-home" ANTHROPIC_API_KEY=sk-ant-e2e-cache-claude \
        DISABLE_TELEMETRY=1 CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 DISABLE_AUTOUPDATER=1 \
        "$CLAUDE" -p "Say hello" --max-turns 1 --model claude-haiku-4-5 \
        >"$TMP/claude-$run.out" 2>&1 || { echo "cache-e2e: claude run $run failed: $(tail -n 3 "$TMP/claude-$run.out")"; rc=1; }
    done
  fi
  kill $SRV
  exit $rc
' _ "$TMP" "$E2E" "$PY" "$CLAUDE" || { echo "cache-e2e: FAIL: workloads: $(tail -n 5 "$TMP/server.log")"; exit 1; }

sleep 1
kill -TERM "$DPID"
wait "$DPID" 2>/dev/null
DPID=""
"$OUT/llmobs" export --db "$TMP/cache.db" --format jsonl >"$TMP/export.jsonl" || exit 1
"$PY" "$E2E/cache_workloads.py" check "$TMP/expected.jsonl" "$TMP/export.jsonl"
rc=$?
"$OUT/llmobs" cache --db "$TMP/cache.db" >"$TMP/cache.txt" || rc=1
"$OUT/llmobs" cache --db "$TMP/cache.db" --json >"$TMP/cache.json" || rc=1
if [ -x "$CLAUDE" ]; then
  "$PY" "$E2E/cache_workloads.py" claude "$TMP/export.jsonl" "$TMP/cache.json" \
    "$TMP/served.jsonl" || rc=1
fi
$PY -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["schema"]=="llmobs.cache.v1"' \
  "$TMP/cache.json" || { echo "cache-e2e: FAIL: llmobs cache --json"; rc=1; }
# advice in the provider's own terms: a breakpoint is cache_control for
# Anthropic, prompt_cache_breakpoint for OpenAI's explicit mode; a
# reordering is fixed by one order, not by moving something
$PY - "$TMP/cache.json" <<'PYEOF' || { echo "cache-e2e: FAIL: advice wording"; rc=1; }
import json, sys
d = json.load(open(sys.argv[1]))
seen = set()
for t in d["templates"]:
    recs = {r["action"]: r["text"] for r in t["recommendations"]}
    if t["misses"].get("no_breakpoint"):
        word = "prompt_cache_breakpoint" if t["provider"] == "openai" else "cache_control"
        assert word in recs.get("add_breakpoint", ""), (t["template"], recs)
        seen.add(t["provider"])
    if any(b["kind"] == "reordered_blocks" and b["missed_tokens"] > 0 for b in t["breakers"]):
        assert "one fixed order" in recs.get("fix_order", ""), (t["template"], recs)
        seen.add("reordered_blocks")
assert seen == {"openai", "anthropic", "reordered_blocks"}, seen
PYEOF
cat "$TMP/cache.txt"
# no prompt text and no API key anywhere on disk or in the log
for f in "$TMP/cache.db" "$TMP/cache.db-wal" "$TMP/daemon.log" "$TMP/hash.secret" \
    "$TMP/records.jsonl" "$TMP/export.jsonl"; do
  [ -e "$f" ] || continue
  if grep -a -q -e 'sk-test-aaaa' -e 'the agent reads files' "$f"; then
    echo "cache-e2e: FAIL: prompt text or API key in $f"
    rc=1
  fi
done
[ $rc -eq 0 ] && echo "cache-e2e: passed" || echo "cache-e2e: FAILED"
exit $rc
