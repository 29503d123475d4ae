#!/usr/bin/env bash
# End-to-end test: real clients (curl, urllib, httpx, the OpenAI and Anthropic
# Node SDKs, a Go net/http client) talk TLS to a local server that plays LLM
# APIs back, inside a private network+mount namespace; llmobsd watches from
# outside; check.py compares what it recorded with what the server served.
# Needs root (BPF, namespaces). Builds nothing: `make e2e` builds first.
# Env: E2E_NO_DAEMON=1 runs the clients only (harness check, no daemon);
#      E2E_CORPUS=path|none (default ../shared/corpus/exchanges.jsonl);
#      E2E_COMPRESS=0 turns gzip/br off; E2E_KEEP=1 keeps the temp dir.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
E2E=$ROOT/tests/e2e
OUT=${E2E_OUTPUT:-$ROOT/.output}
PY=/usr/bin/python3
cd "$ROOT"

if [ "$(id -u)" -ne 0 ]; then
  echo "e2e: needs root (BPF uprobes, namespaces)"
  echo "e2e: 0 passed, 1 failed"
  exit 1
fi

TMP=$(mktemp -d /tmp/llmobs-e2e.XXXXXX)
DAEMON_PID=""
cleanup() {
  if [ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2>/dev/null; then
    kill -TERM "$DAEMON_PID" 2>/dev/null
    sleep 1
    kill -KILL "$DAEMON_PID" 2>/dev/null
  fi
  if [ "${E2E_KEEP:-0}" = 1 ]; then echo "e2e: kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- corpus ---------------------------------------------------------------
CORPUS=${E2E_CORPUS:-$ROOT/../shared/corpus/exchanges.jsonl}
if [ "$CORPUS" = none ]; then
  CORPUS=""
  echo "e2e: corpus replay off (E2E_CORPUS=none)"
elif [ ! -r "$CORPUS" ]; then
  echo "e2e: SKIP corpus replay: $CORPUS not found"
  CORPUS=""
else
  CORPUS=$(readlink -f "$CORPUS")
fi

# --- test CA and server certificate ------------------------------------------
HOSTS=(api.openai.com api.anthropic.com generativelanguage.googleapis.com
  aiplatform.googleapis.com europe-west4-aiplatform.googleapis.com api.cerebras.ai
  openrouter.ai)
if [ -n "$CORPUS" ]; then
  mapfile -t -O ${#HOSTS[@]} HOSTS < <($PY -c '
import json, sys
for h in sorted({json.loads(l)["host"] for l in open(sys.argv[1])}): print(h)' "$CORPUS")
fi
mkdir -p "$TMP/ca"
SAN="DNS:localhost,DNS:*.openai.azure.com,IP:127.0.0.1"
for h in $(printf '%s\n' "${HOSTS[@]}" | sort -u); do
  case $h in *.openai.azure.com) ;; *) SAN="$SAN,DNS:$h" ;; esac
done
{
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$TMP/ca/ca.key" -out "$TMP/ca/ca.pem" -days 2 \
    -subj "/CN=llm-observer e2e test CA" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" &&
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$TMP/ca/server.key" -out "$TMP/ca/server.csr" -subj "/CN=api.openai.com" &&
  printf '%s\n' "subjectAltName=$SAN" "basicConstraints=critical,CA:FALSE" \
    "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" \
    "subjectKeyIdentifier=hash" "authorityKeyIdentifier=keyid" >"$TMP/ca/ext.cnf" &&
  openssl x509 -req -in "$TMP/ca/server.csr" -CA "$TMP/ca/ca.pem" -CAkey "$TMP/ca/ca.key" \
    -CAcreateserial -days 2 -out "$TMP/ca/server.pem" -extfile "$TMP/ca/ext.cnf"
} >"$TMP/ca/openssl.log" 2>&1 || {
  cat "$TMP/ca/openssl.log"
  echo "e2e: 0 passed, 1 failed"
  exit 1
}
{
  echo "127.0.0.1 localhost"
  echo "::1 localhost"
  for h in $(printf '%s\n' "${HOSTS[@]}" | sort -u); do echo "127.0.0.1 $h"; done
} >"$TMP/hosts"

# --- Node SDKs ------------------------------------------------------------
if [ ! -d "$E2E/node/node_modules/openai" ] || [ ! -d "$E2E/node/node_modules/@anthropic-ai/sdk" ] ||
   [ ! -d "$E2E/node/node_modules/@google/genai" ]; then
  echo "e2e: installing the Node SDKs (npm ci)"
  (cd "$E2E/node" && timeout 300 npm ci --no-audit --no-fund --loglevel=error) || {
    echo "e2e: npm ci failed"
    echo "e2e: 0 passed, 1 failed"
    exit 1
  }
fi

# --- Google's Gemini CLI, pinned (tests/e2e/gemini-cli/) -------------------
# Its bundle needs none of its optional native modules (a pty, a keyring).
if [ ! -f "$E2E/gemini-cli/node_modules/@google/gemini-cli/bundle/gemini.js" ]; then
  echo "e2e: installing the Gemini CLI (npm ci)"
  (cd "$E2E/gemini-cli" && timeout 300 npm ci --omit=optional --ignore-scripts --no-audit \
    --no-fund --loglevel=error) || echo "e2e: npm ci of the Gemini CLI failed (its step fails)"
fi

# --- Go client (Debian's golang-go): crypto/tls, no libssl ------------------
# Built here, offline (standard library only), with symbols and stripped.
GO_ENV=(GOCACHE="$OUT/go-cache" GOPATH="$TMP/gopath" GOFLAGS=-mod=mod GOPROXY=off
  GOTOOLCHAIN=local CGO_ENABLED=0)
if ! (cd "$E2E/clients/go" && env "${GO_ENV[@]}" go build -o "$TMP/go_client" . &&
      env "${GO_ENV[@]}" go build -ldflags="-s -w" -o "$TMP/go_client_stripped" .) \
      >"$TMP/go_build.log" 2>&1; then
  echo "e2e: building the Go client failed (its steps will fail):"
  sed 's/^/  /' "$TMP/go_build.log" | tail -n 10
fi

# The process that reads the ring buffer: with BPF, the attacher's one
# child (user/7-daemon/privsep.h); else the daemon itself.
worker_of() { pgrep -P "$1" 2>/dev/null | head -n 1 | grep . || echo "$1"; }

# --- agents and runtimes with their own TLS (tests/e2e/agents/, pinned) ------
# --ignore-scripts: nothing but the registry's tarballs; the platform
# packages' binaries are used as they are (agents.sh, netns.sh).
if [ ! -d "$E2E/agents/node_modules/@openai/codex-linux-x64" ]; then
  echo "e2e: installing the agents (npm ci)"
  (cd "$E2E/agents" && timeout 600 npm ci --no-audit --no-fund --loglevel=error \
    --ignore-scripts) || echo "e2e: npm ci of the agents failed (their steps will fail)"
fi

# --- daemon, outside the namespace ------------------------------------------
CHECK_ARGS=()
if [ "${E2E_NO_DAEMON:-0}" = 1 ]; then
  echo "e2e: E2E_NO_DAEMON=1: clients and server only, no daemon assertions"
  CHECK_ARGS+=(--no-daemon)
elif [ ! -x "$OUT/llmobsd" ] || [ ! -x "$OUT/llmobs" ]; then
  echo "e2e: $OUT/llmobsd or $OUT/llmobs missing (run make e2e, or E2E_NO_DAEMON=1)"
  CHECK_ARGS+=(--no-daemon --daemon-missing)
else
  "$OUT/llmobsd" --db "$TMP/e2e.db" --json >"$TMP/daemon.jsonl" 2>"$TMP/daemon.log" &
  DAEMON_PID=$!
  for _ in $(seq 300); do
    grep -q ready "$TMP/daemon.log" 2>/dev/null && break
    kill -0 "$DAEMON_PID" 2>/dev/null || break
    sleep 0.1
  done
  if ! grep -q ready "$TMP/daemon.log" 2>/dev/null; then
    echo "e2e: llmobsd did not become ready in 30 s; its log:"
    sed 's/^/  /' "$TMP/daemon.log" | tail -n 30
    CHECK_ARGS+=(--no-daemon --daemon-missing)
    kill -TERM "$DAEMON_PID" 2>/dev/null
    DAEMON_PID=""
  else
    echo "e2e: llmobsd ready (pid $DAEMON_PID)"
  fi
fi

# --- server and clients, inside the namespace ---------------------------------
echo "e2e: running server and clients in a private net+mount namespace"
unshare -m -n -- bash "$E2E/netns.sh" "$TMP" "$CORPUS"
NS_RC=$?

# A client at the SSL* address of a server side that is gone, while the
# daemon decides late about the old one (tests/helpers/ssl_reuse.c).
if [ -n "$DAEMON_PID" ] && [ -x "$OUT/tests/ssl_reuse" ]; then
  WPID=$(worker_of "$DAEMON_PID")
  timeout 30 "$OUT/tests/ssl_reuse" "$WPID" >"$TMP/ssl_reuse.out" 2>&1
  echo "rc=$?" >>"$TMP/ssl_reuse.out"
  kill -CONT "$WPID" 2>/dev/null	# whatever became of the helper
fi

# --- agents with their own TLS (agents.sh) -----------------------------------
if [ -n "$DAEMON_PID" ]; then
  bash "$E2E/agents.sh" "$TMP" "$E2E/agents/node_modules"
fi

# --- stop the daemon, export ----------------------------------------------------
if [ -n "$DAEMON_PID" ]; then
  sleep "${E2E_SETTLE_S:-1}"  # the last exchanges' records may still be in flight
  if kill -0 "$DAEMON_PID" 2>/dev/null; then
    CHECK_ARGS+=(--daemon-alive)
    T0=$(date +%s%N)
    kill -TERM "$DAEMON_PID"
    for _ in $(seq 500); do kill -0 "$DAEMON_PID" 2>/dev/null || break; sleep 0.01; done
    echo $(( ($(date +%s%N) - T0) / 1000000 )) >"$TMP/daemon.exit_ms"
    if kill -0 "$DAEMON_PID" 2>/dev/null; then
      CHECK_ARGS+=(--daemon-slow-exit)
      kill -KILL "$DAEMON_PID"
    fi
  fi
  wait "$DAEMON_PID" 2>/dev/null
  echo "$?" >"$TMP/daemon.rc"
  DAEMON_PID=""
  echo "e2e: daemon log (last lines):"
  tail -n 15 "$TMP/daemon.log" | sed 's/^/  /'
  "$OUT/llmobs" export --format jsonl --db "$TMP/e2e.db" >"$TMP/export.jsonl" 2>"$TMP/export.err"
  echo "$?" >"$TMP/export.rc"
fi

$PY "$E2E/check.py" --tmp "$TMP" --fixtures "$E2E/fixtures.jsonl" \
  --fixtures "$E2E/clients/gemini_cli.jsonl" --fixtures "$E2E/clients/codex.jsonl" \
  --prices "$OUT/prices/node_modules" --netns-rc "$NS_RC" \
  ${CORPUS:+--corpus "$CORPUS"} "${CHECK_ARGS[@]}"
RC=$?

# This run's database as `llmobs report --html` draws it, in headless
# Chromium: charts laid out, totals those of the export (html_report.sh).
if [ "${E2E_HTML:-1}" = 1 ] && [ -s "$TMP/e2e.db" ]; then
  echo "e2e: the HTML report of this run (tests/e2e/html_report.sh)"
  E2E_OUTPUT=$OUT bash "$E2E/html_report.sh" "$TMP/e2e.db" || RC=1
fi

# The other kind of call probes (arguments in a hash, where the kernel does
# not allow task storage in uprobes), forced: ssl_reuse's exchange in full.
if [ "${E2E_NO_DAEMON:-0}" != 1 ] && [ -x "$OUT/tests/ssl_reuse" ]; then
  LLMOBS_NO_TASK_STORAGE=1 "$OUT/llmobsd" --db "$TMP/hash.db" --json >"$TMP/hash.jsonl" \
    2>"$TMP/hash.log" &
  HPID=$!
  for _ in $(seq 300); do grep -q ready "$TMP/hash.log" 2>/dev/null && break; sleep 0.1; done
  HWPID=$(worker_of "$HPID")
  timeout 30 "$OUT/tests/ssl_reuse" "$HWPID" >"$TMP/hash_reuse.out" 2>&1
  kill -CONT "$HWPID" 2>/dev/null
  sleep 1
  kill -TERM "$HPID" 2>/dev/null
  wait "$HPID" 2>/dev/null
  if grep -q "calls in a hash" "$TMP/hash.log" && grep -q '^reused$' "$TMP/hash_reuse.out" &&
     $PY -c 'import json, sys
r = [json.loads(l) for l in open(sys.argv[1])]
sys.exit(not (len(r) == 1 and r[0]["complete"] and r[0]["input_tokens"] == 11
              and r[0]["output_tokens"] == 7))' "$TMP/hash.jsonl"; then
    echo "PASS call probes with a hash instead of task storage: an exchange in full"
  else
    echo "FAIL call probes with a hash instead of task storage: an exchange in full"
    tail -n 5 "$TMP/hash.log" "$TMP/hash_reuse.out" "$TMP/hash.jsonl" | sed 's/^/  /'
    RC=1
  fi
fi

# The LD_PRELOAD shim, with the same CA, hosts and bodies (shim.sh).
if [ "${E2E_SHIM:-1}" = 1 ] && [ "${E2E_NO_DAEMON:-0}" != 1 ]; then
  echo "e2e: LD_PRELOAD shim (tests/e2e/shim.sh)"
  bash "$E2E/shim.sh" "$TMP" "$OUT" "$CORPUS" || RC=1
fi

# Go's Write entered twice for one call (stack growth in its prologue):
# its bytes recorded once (go_stack.sh).
if [ "${E2E_GO_STACK:-1}" = 1 ] && [ "${E2E_NO_DAEMON:-0}" != 1 ]; then
  bash "$E2E/go_stack.sh" "$TMP" "$OUT" || RC=1
fi

# A binary's first process gone while the daemon attaches: no blind spot,
# another process of it probed instead (attach_exit.sh).
if [ "${E2E_ATTACH_EXIT:-1}" = 1 ] && [ "${E2E_NO_DAEMON:-0}" != 1 ]; then
  bash "$E2E/attach_exit.sh" "$TMP" "$OUT" "$E2E/agents/node_modules" || RC=1
fi

# Privilege separation: the worker's sandbox, containment, restarts.
if [ "${E2E_PRIVSEP:-1}" = 1 ] && [ "${E2E_NO_DAEMON:-0}" != 1 ]; then
  echo "e2e: privilege separation (tests/e2e/privsep.sh)"
  bash "$E2E/privsep.sh" "$TMP" "$OUT" || RC=1
fi

# Prompt-cache analytics: synthetic workloads with known answers through
# urllib and a daemon of its own, against a simulated provider (cache.sh).
if [ "${E2E_CACHE:-1}" = 1 ] && [ "${E2E_NO_DAEMON:-0}" != 1 ]; then
  echo "e2e: prompt-cache workloads (tests/e2e/cache.sh)"
  E2E_OUTPUT=$OUT bash "$E2E/cache.sh" || RC=1
fi
exit $RC
