#!/usr/bin/env bash
# The OTLP exporter against a test collector (tests/otlp/receiver.py: no
# OpenTelemetry Collector is packaged for Debian or npm), with the daemon in
# its unprivileged mode (--no-bpf, seccomp on) and an observed app under the
# LD_PRELOAD shim, run as another user with LLMOBS_PROJECT set:
#  config    bad endpoints, headers and config keys stop the start with
#            an error that names them and never echoes a header value;
#  export    every fixture (OpenAI, Anthropic, Gemini, Ollama, vLLM; streams,
#            a truncated stream, an error) becomes one span whose names are
#            all in the pinned semantic-conventions list (or llmobs.*), and
#            whose tokens, cost, errors and resource equal `llmobs export`;
#  canaries  no request holds the prompt, the provider key, or the path;
#  outage    503s with Retry-After: retried, all delivered, failures counted;
#            a partial success's rejected span and a 400's batch are
#            counted as dropped, not retried;
#  https     a collector with a CA of its own: refused without
#            OTEL_EXPORTER_OTLP_CERTIFICATE, delivered with it;
#  full      a collector that hangs: every exchange still recorded, the
#            overflow counted on /metrics, and the daemon stops in < 5 s.
# Usage: run.sh OUTPUT_DIR
set -u
OUT=$(cd "${1:-.output}" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PY=/usr/bin/python3
TMP=$(mktemp -d /tmp/llmobs-otlp.XXXXXX)
chmod 755 "$TMP"
PIDS=()
LLM_PORT=$((20000 + RANDOM % 10000))
OTLP_PORT=$((LLM_PORT + 1))
METRICS_PORT=$((LLM_PORT + 2))
PROMPT_CANARY=otlp-prompt-canary-4b1e
PROVIDER_KEY=sk-otlp-key-canary-93d0
COLLECTOR_TOKEN=collector-token-c0ffee
APP_USER=nobody

cleanup() {
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
  wait 2>/dev/null
  [ "$FAILED" = 0 ] && rm -rf "$TMP"
}
trap cleanup EXIT
. "$ROOT/tests/helpers/checks.sh"

echo "otlp: the attribute list is the pinned one"
check "semconv-attributes.txt is @opentelemetry/semantic-conventions 1.45.0's" \
  bash -c "head -1 '$HERE/semconv-attributes.txt' | grep -q 'semantic-conventions 1.45.0 (npm)' &&
           test \$(grep -vc '^#' '$HERE/semconv-attributes.txt') -gt 900"

echo "otlp: a bad setting stops the start, naming it"
cfgerr() {	# cfgerr WANT [VAR=VALUE...] -- [FLAGS...]: exit 2, WANT in the message
  local want=$1 envs=(); shift
  while [ "$1" != -- ]; do envs+=("$1"); shift; done; shift
  env "${envs[@]}" "$OUT/llmobsd" --check-config "$@" >"$TMP/cfgerr.out" 2>&1
  [ $? = 2 ] && grep -q -- "$want" "$TMP/cfgerr.out" && ! grep -q "$COLLECTOR_TOKEN" "$TMP/cfgerr.out"
}
check "--otlp-endpoint ftp://x" cfgerr "otlp: --otlp-endpoint: 'ftp://x' is not http:// or https://" -- --otlp-endpoint ftp://x
check "an endpoint with credentials" cfgerr "credentials in the URL" -- --otlp-endpoint "http://u:$COLLECTOR_TOKEN@127.0.0.1:1"
check "headers without '=' (the value not echoed)" cfgerr "OTEL_EXPORTER_OTLP_HEADERS: an entry is not name=value" \
  "OTEL_EXPORTER_OTLP_HEADERS=authorization:$COLLECTOR_TOKEN" -- --otlp-endpoint http://127.0.0.1:1
check "a bad header name" cfgerr "'bad name' is not a header name" "OTEL_EXPORTER_OTLP_HEADERS=bad name=1" \
  -- --otlp-endpoint http://127.0.0.1:1
check "OTEL_BSP_MAX_QUEUE_SIZE=0" cfgerr "OTEL_BSP_MAX_QUEUE_SIZE: '0' is not a whole number" \
  OTEL_BSP_MAX_QUEUE_SIZE=0 OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:1 --
printf 'otlp:\n  endpoint: http://127.0.0.1:1\n  header: x\n' >"$TMP/bad.yaml"
check "an unknown key in the config's otlp section, by line" cfgerr "bad.yaml:3: unknown key 'header' in otlp" \
  -- --config "$TMP/bad.yaml"
printf 'otlp:\n  endpoint: http://127.0.0.1:%s/base/\n  headers: ${OTLP_TEST_HEADERS}\n' "$OTLP_PORT" >"$TMP/otlp.yaml"
"$OUT/llmobsd" --check-config --config "$TMP/otlp.yaml" >"$TMP/cfg.out" 2>&1 </dev/null
check "no OTLP_TEST_HEADERS: the \${VAR} error" grep -q "OTLP_TEST_HEADERS" "$TMP/cfg.out"
OTLP_TEST_HEADERS=x=1 "$OUT/llmobsd" --check-config --config "$TMP/otlp.yaml" >"$TMP/cfg.out" 2>&1
check "the file's endpoint, /v1/traces appended" grep -q "spans to http://127.0.0.1:$OTLP_PORT/base/v1/traces" "$TMP/cfg.out"
OTLP_TEST_HEADERS=x=1 OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://127.0.0.1:9/t "$OUT/llmobsd" --check-config \
  --config "$TMP/otlp.yaml" >"$TMP/cfg.out" 2>&1
check "the environment over the file, a traces endpoint as is" grep -q "spans to http://127.0.0.1:9/t)" "$TMP/cfg.out"
OTLP_TEST_HEADERS=x=1 OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://127.0.0.1:9/t "$OUT/llmobsd" --check-config \
  --config "$TMP/otlp.yaml" --otlp-endpoint http://127.0.0.1:8/v1/traces >"$TMP/cfg.out" 2>&1
check "the flag over both" grep -q "spans to http://127.0.0.1:8/v1/traces)" "$TMP/cfg.out"

# --- fixtures: CA, the LLM server, the collector, the app ------------------
mkdir -p "$TMP/ca"
"$ROOT/tests/helpers/make_ca.sh" "$TMP/ca" "llmobs otlp test CA" ||
  { echo "otlp: 0 passed, 1 failed"; exit 1; }
chmod 644 "$TMP/ca/ca.pem"

$PY "$ROOT/tests/e2e/llm_server.py" --cert "$TMP/ca/server.pem" --key "$TMP/ca/server.key" \
  --fixtures "$ROOT/tests/e2e/fixtures.jsonl" --port "$LLM_PORT" >"$TMP/llm.log" 2>&1 &
PIDS+=($!)
echo ok >"$TMP/mode"
$PY "$HERE/receiver.py" --port "$OTLP_PORT" --semconv "$HERE/semconv-attributes.txt" \
  --log "$TMP/receiver.jsonl" --spans "$TMP/spans.jsonl" --bodies "$TMP/bodies.txt" \
  --mode-file "$TMP/mode" --require-header "x-tenant:t1" \
  --require-header "authorization:Bearer $COLLECTOR_TOKEN" \
  --allow-attribute deployment.environment.name >"$TMP/receiver.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do grep -q ready "$TMP/receiver.out" 2>/dev/null && break; sleep 0.1; done
: >"$TMP/receiver.jsonl"; : >"$TMP/spans.jsonl"; : >"$TMP/bodies.txt"
# The app: another user than the daemon's root, as a real one would be, so
# that the worker reads its /proc files as they are read in production.
cp "$HERE/client.py" "$ROOT/tests/e2e/fixtures.jsonl" "$TMP/"
chmod 644 "$TMP/client.py" "$TMP/fixtures.jsonl"
app() {	# app SOCKET ROUNDS
  LLMOBS_PROJECT=otlp-proj LD_PRELOAD="$OUT/libllmobs.so" LLMOBS_SOCKET="$1" \
    setpriv --reuid="$APP_USER" --regid="$(id -g "$APP_USER")" --clear-groups \
    "$PY" "$TMP/client.py" "$LLM_PORT" "$TMP/ca/ca.pem" "$TMP/fixtures.jsonl" "$2" \
    "$PROMPT_CANARY" "$PROVIDER_KEY"
}
daemon() {	# daemon NAME [VAR=VALUE...] [--flag...]: llmobsd --no-bpf, sets DPID
  local name=$1 envs=() flags=(); shift
  for a in "$@"; do case $a in --*) flags+=("$a") ;; *) envs+=("$a") ;; esac; done
  mkdir -p "$TMP/$name"
  env "${envs[@]}" "$OUT/llmobsd" "${flags[@]}" --no-bpf --db "$TMP/$name/llmobs.db" \
    --socket "$TMP/$name.sock" --plain-ports none >>"$TMP/$name.log" 2>&1 &
  DPID=$!
  PIDS+=($DPID)
  for _ in $(seq 300); do
    grep -q ready "$TMP/$name.log" 2>/dev/null && chmod 666 "$TMP/$name.sock" && return 0
    kill -0 "$DPID" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
recorded() { "$OUT/llmobs" export --db "$TMP/$1/llmobs.db" 2>/dev/null | wc -l; }
spans() { wc -l <"$TMP/spans.jsonl"; }
stat() {	# stat NAME: a daemon counter from /metrics
  curl -s "http://127.0.0.1:$METRICS_PORT/metrics" |
    sed -n "s/^llmobs_daemon_stat{name=\"$1\"} //p"
}
requests_ok() { [ "$(grep -c '"event": "request"' "$TMP/receiver.jsonl")" -gt 0 ] &&
  [ "$(grep '"event": "request"' "$TMP/receiver.jsonl" | grep -vc '"problems": \[\]')" = 0 ]; }

echo "otlp: one span per exchange, named by the semantic conventions, equal to the export"
daemon main \
  "OTLP_TEST_HEADERS=x-tenant=t1,authorization=Bearer%20$COLLECTOR_TOKEN" OTEL_BSP_SCHEDULE_DELAY=200 \
  OTEL_RESOURCE_ATTRIBUTES=deployment.environment.name=ci "--config=$TMP/otlp.yaml" \
  "--otlp-endpoint=http://127.0.0.1:$OTLP_PORT" "--listen=127.0.0.1:$METRICS_PORT" ||
  bad "main: daemon did not start"
check "says where spans go, header names only" \
  grep -q "otlp: exporting a span per exchange to http://127.0.0.1:$OTLP_PORT/v1/traces .*headers: x-tenant, authorization)" "$TMP/main.log"
app "$TMP/main.sock" 2 >"$TMP/app.lat" 2>"$TMP/app.err"
n=$(wc -l <"$TMP/app.lat")
check "the app made its $n calls" test "$n" = 28
all_exported() { [ "$(recorded main)" -ge "$n" ] && [ "$(spans)" = "$(recorded main)" ]; }
check "as many spans as exchanges" wait_for 20 all_exported
check "every request: OTLP/JSON, its headers, all names in the list" requests_ok
"$OUT/llmobs" export --db "$TMP/main/llmobs.db" >"$TMP/export.jsonl"
check "the spans equal llmobs export" $PY "$HERE/check.py" "$TMP/spans.jsonl" "$TMP/export.jsonl"
check "the exchanges were attributed (project, exe), as the spans say" \
  test "$(grep -c '"project":"otlp-proj"' "$TMP/export.jsonl")" = "$n" -a \
       "$(grep -c '"process.executable.path": "/usr/bin/python3' "$TMP/spans.jsonl")" = "$n"
check "the operator's OTEL_RESOURCE_ATTRIBUTES on every resource" \
  test "$(grep -c '"deployment.environment.name": "ci"' "$TMP/spans.jsonl")" = "$n"
error_span() {	# the 404's span: error.type and status ERROR
  $PY -c 'import json, sys
s = [json.loads(l) for l in open(sys.argv[1])]
e = [x for x in s if x["attributes"].get("gen_ai.request.model") == "no-such-model"]
sys.exit(not (len(e) == 1 and e[0]["status"] == 2 and e[0]["attributes"].get("error.type")
              and e[0]["attributes"].get("http.response.status_code") == 404))' "$TMP/spans.jsonl"
}
check "the error span: error.type, status ERROR, the HTTP status" error_span
check "/metrics: otlp_spans_exported $(stat otlp_spans_exported)" test "$(stat otlp_spans_exported)" = "$n"

echo "otlp: canaries"
for c in "$PROMPT_CANARY" "$PROVIDER_KEY" "$COLLECTOR_TOKEN" "Say hi" /v1/chat/completions; do
  check "no request holds '$c'" test "$(grep -cF -- "$c" "$TMP/bodies.txt")" = 0
done
check "the daemon's log never holds the collector's token" test "$(grep -c "$COLLECTOR_TOKEN" "$TMP/main.log")" = 0

echo "otlp: an outage, then a partial success"
echo fail503 >"$TMP/mode"
app "$TMP/main.sock" 0 >/dev/null 2>&1
check "the collector failed a request" wait_for 10 grep -q '"answer": 503' "$TMP/receiver.jsonl"
echo ok >"$TMP/mode"
check "retried: all $((n + 2)) delivered" wait_for 20 all_exported
check "export failures counted ($(stat otlp_export_failures))" test "$(stat otlp_export_failures)" -ge 1
echo partial >"$TMP/mode"
app "$TMP/main.sock" 0 >/dev/null 2>&1
check "a partial success answered" wait_for 10 grep -q '"rejected": 1' "$TMP/receiver.jsonl"
partial_counted() { [ "$(stat otlp_spans_dropped_export)" = 1 ] &&
  [ $(( $(stat otlp_spans_exported) + 1 )) = "$(recorded main)" ]; }
check "its rejected span counted as dropped, the others as exported" wait_for 10 partial_counted
echo reject400 >"$TMP/mode"
app "$TMP/main.sock" 0 >/dev/null 2>&1
refused_counted() { [ "$(stat otlp_spans_dropped_export)" = 3 ]; }
check "a 400: the batch dropped, not retried, counted" wait_for 10 refused_counted
check "... and said" grep -q "otlp: the collector refused a batch of .* spans (HTTP 400); dropped" "$TMP/main.log"
echo ok >"$TMP/mode"
check "the main daemon (export thread under the seccomp filter) still runs" kill -0 "$DPID"
kill -TERM "$DPID"; wait "$DPID" 2>/dev/null

echo "otlp: a collector over https, with its own CA"
TLS_PORT=$((LLM_PORT + 3))
: >"$TMP/tls-spans.jsonl"
$PY "$HERE/receiver.py" --port "$TLS_PORT" --semconv "$HERE/semconv-attributes.txt" \
  --log "$TMP/tls.jsonl" --spans "$TMP/tls-spans.jsonl" --bodies "$TMP/bodies.txt" \
  --mode-file "$TMP/mode" --cert "$TMP/ca/server.pem" --key "$TMP/ca/server.key" \
  >"$TMP/tls.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do grep -q ready "$TMP/tls.out" 2>/dev/null && break; sleep 0.1; done
daemon nocert "OTEL_EXPORTER_OTLP_ENDPOINT=https://localhost:$TLS_PORT" OTEL_BSP_SCHEDULE_DELAY=100 \
  --listen=off || bad "nocert: daemon did not start"
app "$TMP/nocert.sock" 0 >/dev/null 2>&1
check "without the CA: the certificate is refused, said once" \
  wait_for 10 grep -q "otlp: exporting to https://localhost:$TLS_PORT/v1/traces failed (SSL" "$TMP/nocert.log"
kill -TERM "$DPID"; wait "$DPID" 2>/dev/null
check "... and nothing was accepted" test ! -s "$TMP/tls-spans.jsonl"
daemon tls "OTEL_EXPORTER_OTLP_ENDPOINT=https://localhost:$TLS_PORT" OTEL_BSP_SCHEDULE_DELAY=100 \
  "OTEL_EXPORTER_OTLP_CERTIFICATE=$TMP/ca/ca.pem" --listen=off || bad "tls: daemon did not start"
app "$TMP/tls.sock" 0 >/dev/null 2>&1
tls_spans() { [ "$(wc -l <"$TMP/tls-spans.jsonl")" = 2 ]; }
check "with OTEL_EXPORTER_OTLP_CERTIFICATE: both spans, by name (localhost)" wait_for 10 tls_spans
kill -TERM "$DPID"; wait "$DPID" 2>/dev/null
check "a CA file that cannot be read stops the start" cfgerr \
  "OTEL_EXPORTER_OTLP_CERTIFICATE: cannot read $TMP/none.pem" \
  "OTEL_EXPORTER_OTLP_CERTIFICATE=$TMP/none.pem" -- --otlp-endpoint https://localhost:1

echo "otlp: a collector that hangs, a queue of 4"
echo hang >"$TMP/mode"
daemon full OTEL_BSP_MAX_QUEUE_SIZE=4 OTEL_BSP_MAX_EXPORT_BATCH_SIZE=2 OTEL_BSP_SCHEDULE_DELAY=100 \
  "--otlp-endpoint=http://127.0.0.1:$OTLP_PORT" "--listen=127.0.0.1:$METRICS_PORT" ||
  bad "full: daemon did not start"
app "$TMP/full.sock" 1 >"$TMP/full.lat" 2>/dev/null
check "the collector holds a request" wait_for 10 grep -q '"answer": "hang"' "$TMP/receiver.jsonl"
all_recorded() { [ "$(recorded full)" = 15 ]; }
check "every exchange recorded while it hangs" wait_for 10 all_recorded
check "the overflow counted ($(stat otlp_spans_dropped_queue_full) spans)" \
  test "$(stat otlp_spans_dropped_queue_full)" -ge 5
check "the daemon (its export thread under the seccomp filter) still runs" kill -0 "$DPID"
t0=$(date +%s%N)
kill -TERM "$DPID"; wait "$DPID" 2>/dev/null
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "the daemon stops in ${ms} ms though a request hangs (< 5 s)" test "$ms" -lt 5000
echo ok >"$TMP/mode"

echo "otlp: $PASS passed, $FAILED failed"
[ "$FAILED" = 0 ]
