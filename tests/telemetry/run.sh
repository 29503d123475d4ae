#!/usr/bin/env bash
# Telemetry delivery against a real HTTPS receiver (tests/telemetry/
# receiver.py) under a test CA, with the daemon in its unprivileged mode
# (--no-bpf) and an observed app under the LD_PRELOAD shim:
#  off       unset, misconfigured or plain-http settings: the daemon says why
#            once, the receiver sees no connection, no outbox is created;
#  outage    the endpoint fails (500, then 429 with Retry-After, a dropped
#            connection), the daemon is SIGKILLed and restarted: every record
#            arrives, each id exactly once (a batch repeated after a lost
#            answer carries its Idempotency-Key), every body valid v1;
#  canaries  no payload byte holds the prompt, the provider key, the lok_
#            secret or a file path;
#  hang      while the endpoint holds every request, the app's calls take as
#            long as with telemetry off, and are all recorded at once.
# Usage: run.sh OUTPUT_DIR
set -u
OUT=$(cd "${1:-.output}" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PY=/usr/bin/python3
TMP=$(mktemp -d /tmp/llmobs-telemetry.XXXXXX)
PIDS=()
LLM_PORT=$((20000 + RANDOM % 10000))
TEL_PORT=$((LLM_PORT + 1))
SECRET=S3cretTelemetryCanaryX9q
KEY="lok_e2etest1.$SECRET"
PROMPT_CANARY=prompt-canary-7f3a9c
PROVIDER_KEY=sk-provider-canary-51be
APP_DIR=$TMP/path-canary-dir

cleanup() {
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
  wait 2>/dev/null
  [ "$FAILED" = 0 ] && rm -rf "$TMP"
}
trap cleanup EXIT
. "$ROOT/tests/helpers/checks.sh"

echo "telemetry: the v1 schema is frozen"
# A change to v1 needs a new schema name and file, not an edit of this one.
check "v1.schema.json is the pinned one" \
  bash -c "cd '$ROOT' && sha256sum --quiet -c tests/telemetry/schema.sha256"
check "the code sends the schema it names" \
  grep -q '#define TELEMETRY_SCHEMA[[:space:]]*"llmobs.telemetry.v1"' "$ROOT/user/6-telemetry/telemetry_record.h"

echo "telemetry: the worker's filter lets it resolve and connect, and refuses rather than kills"
"$OUT/tests/seccomp_probe" --outbound >"$TMP/seccomp.txt" 2>&1
check "seccomp: DNS from a thread, mkdir refused, openat2 allowed ($(tr '\n' ' ' <"$TMP/seccomp.txt"))" \
  test "$(grep -c ' ok$' "$TMP/seccomp.txt")" = 3

# --- fixtures: CA, the LLM server, the receiver, the app ------------------
mkdir -p "$TMP/ca" "$APP_DIR"
"$ROOT/tests/helpers/make_ca.sh" "$TMP/ca" "llmobs telemetry test CA" ||
  { echo "telemetry: 0 passed, 1 failed"; exit 1; }

$PY "$ROOT/tests/e2e/llm_server.py" --cert "$TMP/ca/server.pem" --key "$TMP/ca/server.key" \
  --fixtures "$ROOT/tests/e2e/fixtures.jsonl" --port "$LLM_PORT" >"$TMP/llm.log" 2>&1 &
PIDS+=($!)
echo ok >"$TMP/mode"
$PY "$HERE/receiver.py" --cert "$TMP/ca/server.pem" --key "$TMP/ca/server.key" \
  --port "$TEL_PORT" --schema "$ROOT/include/telemetry/v1.schema.json" --bearer "$KEY" \
  --mode-file "$TMP/mode" --log "$TMP/receiver.jsonl" --bodies "$TMP/bodies.txt" \
  >"$TMP/receiver.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do grep -q ready "$TMP/receiver.out" 2>/dev/null && break; sleep 0.1; done
# The app runs from a directory whose name is a canary: its exe path must not leave.
cp "$(readlink -f $PY)" "$APP_DIR/python3"
: >"$TMP/receiver.jsonl"

# daemon NAME [ENV...]: starts llmobsd --no-bpf with its own socket, sets DPID.
daemon() {	# daemon NAME [VAR=VALUE...] [--flag...]
  local name=$1 envs=() flags=(); shift
  for a in "$@"; do case $a in --*) flags+=("$a") ;; *) envs+=("$a") ;; esac; done
  env -u LLM_OBSERVER_ENABLED "${envs[@]}" "$OUT/llmobsd" "${flags[@]}" --no-bpf \
    --db "$TMP/$name/llmobs.db" --socket "$TMP/$name.sock" --plain-ports none --listen off \
    >>"$TMP/$name.log" 2>&1 &
  DPID=$!
  PIDS+=($DPID)
  for _ in $(seq 300); do
    grep -q ready "$TMP/$name.log" 2>/dev/null && return 0
    kill -0 "$DPID" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
app() {	# app SOCKET N: the observed app's calls, one latency line each
  LD_PRELOAD="$OUT/libllmobs.so" LLMOBS_SOCKET="$1" \
    "$APP_DIR/python3" "$HERE/client.py" "$LLM_PORT" "$TMP/ca/ca.pem" "$2" "$PROMPT_CANARY" "$PROVIDER_KEY"
}
recorded() {	# recorded NAME: exchanges in that daemon's database
  "$OUT/llmobs" export --db "$TMP/$1/llmobs.db" 2>/dev/null | wc -l
}
recorded_at_least() { [ "$(recorded "$1")" -ge "$2" ]; }
connections() { grep -c '"connection"' "$TMP/receiver.jsonl"; }
TEL=(LLM_OBSERVER_ENABLED=true "LLM_OBSERVER_API_KEY=$KEY"
     "LLM_OBSERVER_ENDPOINT=https://localhost:$TEL_PORT" "LLM_OBSERVER_CA_FILE=$TMP/ca/ca.pem"
     LLM_OBSERVER_FLUSH_SECONDS=1)

echo "telemetry: off unless every switch is right"
for variant in unset not-true bad-key plain-http; do
  mkdir -p "$TMP/off-$variant"
  case $variant in
  unset) envs=() ; want="not set" ;;
  not-true) envs=(LLM_OBSERVER_ENABLED=yes "LLM_OBSERVER_API_KEY=$KEY" "LLM_OBSERVER_ENDPOINT=https://127.0.0.1:$TEL_PORT") ; want='is not "true"' ;;
  bad-key) envs=(LLM_OBSERVER_ENABLED=true "LLM_OBSERVER_API_KEY=sk-$SECRET" "LLM_OBSERVER_ENDPOINT=https://127.0.0.1:$TEL_PORT") ; want="lok_<prefix>" ;;
  plain-http) envs=(LLM_OBSERVER_ENABLED=true "LLM_OBSERVER_API_KEY=$KEY" "LLM_OBSERVER_ENDPOINT=http://127.0.0.1:$TEL_PORT") ; want="not https" ;;
  esac
  daemon "off-$variant" "${envs[@]}" || { bad "$variant: daemon did not start"; continue; }
  app "$TMP/off-$variant.sock" 2 >/dev/null
  wait_for 10 recorded_at_least "off-$variant" 2
  sleep 1.5
  kill -TERM "$DPID"; wait "$DPID" 2>/dev/null
  check "$variant: says why, once" test "$(grep -c "telemetry: off: .*$want" "$TMP/off-$variant.log")" = 1
  check "$variant: no outbox created" test ! -e "$TMP/off-$variant/telemetry-outbox.db"
  check "$variant: the secret is in no log line" test "$(grep -c "$SECRET" "$TMP/off-$variant.log")" = 0
done
check "off: the receiver saw no connection" test "$(connections)" = 0

echo "telemetry: an outage, a SIGKILL, a restart: every record once"
mkdir -p "$TMP/on"
echo fail500 >"$TMP/mode"
daemon on "${TEL[@]}" || bad "on: daemon did not start"
check "on: says it is on, with the key's prefix only" grep -q "telemetry: on, sending to https://localhost:$TEL_PORT as lok_e2etest1\.…" "$TMP/on.log"
app "$TMP/on.sock" 20 >/dev/null
check "on: 20 exchanges recorded" wait_for 20 recorded_at_least on 20
check "on: the endpoint was tried and failed" wait_for 20 grep -q '"answer": 500' "$TMP/receiver.jsonl"
kill -KILL "$DPID"; wait "$DPID" 2>/dev/null
echo 429 >"$TMP/mode"
daemon on "${TEL[@]}" || bad "on: daemon did not restart"
wait_for 20 grep -q '"answer": 429' "$TMP/receiver.jsonl"
echo drop >"$TMP/mode"
wait_for 20 grep -q '"answer": "drop"' "$TMP/receiver.jsonl"
echo ok >"$TMP/mode"
delivered() {
  $PY - "$TMP/receiver.jsonl" <<'PYEOF'
import json, sys
seen, batches = {}, set()
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e.get("event") != "request" or e.get("answer") != 202 or e["idempotency_key"] in batches:
        continue
    batches.add(e["idempotency_key"])
    for i in e["ids"]:
        seen[i] = seen.get(i, 0) + 1
print(len(seen), sum(seen.values()))
PYEOF
}
all_delivered() { [ "$(delivered | cut -d' ' -f1)" = 20 ]; }
check "on: all 20 delivered after the outage" wait_for 60 all_delivered
read -r uniq total < <(delivered)
check "on: each record exactly once by id ($uniq ids, $total deliveries)" test "$uniq" = 20 -a "$total" = 20
check "on: every body was valid v1 with the right key and headers" \
  test "$(grep '"event": "request"' "$TMP/receiver.jsonl" | grep -vc '"problems": \[\]')" = 0
"$OUT/llmobs" telemetry status --db "$TMP/on/llmobs.db" >"$TMP/status.txt" 2>&1
check "status: depth 0, 20 sent, retries counted" \
  grep -q "queue depth            0" "$TMP/status.txt"
check "status: sent_records 20" grep -q "sent_records           20" "$TMP/status.txt"
check "status: the key only by its prefix" test "$(grep -c "$SECRET" "$TMP/status.txt")" = 0

echo "telemetry: the same switches from the config file"
kill -TERM "$DPID"; wait "$DPID" 2>/dev/null
mkdir -p "$TMP/cfg"
printf 'telemetry:\n  enabled: "true"\n  api_key: ${TEL_TEST_KEY}\n  endpoint: https://localhost:%s\n  ca_file: %s\n  flush_seconds: 1\n' \
  "$TEL_PORT" "$TMP/ca/ca.pem" >"$TMP/cfg.yaml"
TEL_TEST_KEY=$KEY daemon cfg "TEL_TEST_KEY=$KEY" "--config=$TMP/cfg.yaml" || bad "cfg: daemon did not start"
check "cfg: on from the file, the key by its prefix" grep -q "telemetry: on, sending to https://localhost:$TEL_PORT as lok_e2etest1\.…" "$TMP/cfg.log"
app "$TMP/cfg.sock" 3 >/dev/null
cfg_delivered() { [ "$(delivered | cut -d' ' -f1)" = 23 ]; }
check "cfg: its 3 records delivered too" wait_for 30 cfg_delivered

echo "telemetry: canaries"
for c in "$PROMPT_CANARY" "$PROVIDER_KEY" "$SECRET" path-canary-dir "$TMP" /usr/ "chat/completions" 127.0.0.1; do
  check "no payload holds '$c'" test "$(grep -cF -- "$c" "$TMP/bodies.txt")" = 0
done
check "the daemon's log never holds the secret" test "$(grep -c "$SECRET" "$TMP/on.log")" = 0
check "the outbox file never holds the secret or the prompt" \
  test "$(cat "$TMP"/on/telemetry-outbox.db* | grep -acF -e "$SECRET" -e "$PROMPT_CANARY")" = 0

echo "telemetry: a hanging endpoint changes nothing for the app"
kill -TERM "$DPID"; wait "$DPID" 2>/dev/null
mkdir -p "$TMP/base" "$TMP/hang"
daemon base || bad "base: daemon did not start"
BPID=$DPID
echo hang >"$TMP/mode"
daemon hang "${TEL[@]}" || bad "hang: daemon did not start"
app "$TMP/hang.sock" 10 >/dev/null	# the first batch goes out and hangs
check "hang: the endpoint holds a batch" wait_for 20 grep -q '"answer": "hang"' "$TMP/receiver.jsonl"
# Rounds alternate between a daemon without telemetry and the one whose
# endpoint hangs, so that the machine's own load falls on both alike.
: >"$TMP/base.lat"; : >"$TMP/hang.lat"
for _ in 1 2 3 4 5; do
  app "$TMP/base.sock" 8 >>"$TMP/base.lat"
  app "$TMP/hang.sock" 8 >>"$TMP/hang.lat"
done
check "hang: every call recorded while the endpoint hangs" wait_for 10 recorded_at_least hang 50
median() { awk '{print $2}' "$1" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
b=$(median "$TMP/base.lat") h=$(median "$TMP/hang.lat")
echo "  median call: ${b} ms beside a daemon without telemetry, ${h} ms with the endpoint hanging"
check "hang: the app's median call is no slower (within 1.5x + 5 ms)" \
  awk -v b="$b" -v h="$h" 'BEGIN { exit !(h <= 1.5 * b + 5) }'
t0=$(date +%s%N)
kill -TERM "$DPID"; wait "$DPID" 2>/dev/null
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "hang: the daemon stops in ${ms} ms though a send hangs (< 5 s)" test "$ms" -lt 5000
kill -TERM "$BPID"; wait "$BPID" 2>/dev/null
echo ok >"$TMP/mode"

echo "telemetry: $PASS passed, $FAILED failed"
[ "$FAILED" = 0 ]
