#!/usr/bin/env bash
# Runs inside `unshare -m -n` (see run.sh): loopback only, a private /etc/hosts
# that sends the API hosts to 127.0.0.1, the test CA trusted by every client.
# Starts the local TLS server, runs the clients one step at a time and writes
# $TMP/steps.tsv: name, exit code, and the first and last served-log seq of
# the step, so the checker knows which requests each client made.
# Usage: netns.sh TMP [CORPUS]
set -u
TMP=$1
CORPUS=${2:-}
E2E=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
STEP_TIMEOUT=${E2E_STEP_TIMEOUT:-180}

ip link set lo up || { echo "netns: cannot bring lo up" >&2; exit 1; }
mount --bind "$TMP/hosts" /etc/hosts || { echo "netns: cannot bind /etc/hosts" >&2; exit 1; }

export SSL_CERT_FILE=$TMP/ca/ca.pem CURL_CA_BUNDLE=$TMP/ca/ca.pem \
  REQUESTS_CA_BUNDLE=$TMP/ca/ca.pem NODE_EXTRA_CA_CERTS=$TMP/ca/ca.pem
# No proxy may take the loopback traffic elsewhere.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY

SERVER_ARGS=(--cert "$TMP/ca/server.pem" --key "$TMP/ca/server.key"
  --fixtures "$E2E/fixtures.jsonl" --served "$TMP/served.jsonl"
  --ready-file "$TMP/server.ready" --lifetime 900 --plain-port 11434 --plain-port 8000
  --chunk-delay-ms "${E2E_CHUNK_DELAY_MS:-2}")
# The Gemini CLI's answers, for its step only (no other client sends them).
SERVER_ARGS+=(--fixtures "$E2E/clients/gemini_cli.jsonl")
# Codex's answer (its model, its usage numbers), for its step only.
SERVER_ARGS+=(--fixtures "$E2E/clients/codex.jsonl")
[ "${E2E_COMPRESS:-1}" = 1 ] && SERVER_ARGS+=(--compress)
[ -n "$CORPUS" ] && SERVER_ARGS+=(--exchanges "$CORPUS")
: >"$TMP/served.jsonl"
$PY "$E2E/llm_server.py" "${SERVER_ARGS[@]}" 2>"$TMP/server.log" &
SRV=$!
trap 'kill $SRV 2>/dev/null; wait $SRV 2>/dev/null' EXIT
for _ in $(seq 100); do
  [ -s "$TMP/server.ready" ] && break
  kill -0 $SRV 2>/dev/null || break
  sleep 0.1
done
if [ ! -s "$TMP/server.ready" ]; then
  echo "netns: server did not start:" >&2
  cat "$TMP/server.log" >&2
  exit 1
fi

served() { wc -l <"$TMP/served.jsonl"; }
: >"$TMP/steps.tsv"
mkdir -p "$TMP/clients"
# step NAME CMD...: runs one client, bounded in time, output kept.
step() {
  local name=$1 first rc
  shift
  first=$(( $(served) + 1 ))
  timeout "$STEP_TIMEOUT" "$@" >"$TMP/clients/$name.out" 2>&1
  rc=$?
  printf '%s\t%s\t%s\t%s\n' "$name" "$rc" "$first" "$(served)" >>"$TMP/steps.tsv"
  sed "s/^/  [$name] /" "$TMP/clients/$name.out" | head -n 40
}

$PY "$E2E/clients/bodies.py" "$E2E/fixtures.jsonl" "$TMP/bodies"
PYENV_PY=$(command -v python3)

step curl bash "$E2E/clients/curl.sh" "$TMP/bodies"
step curl-h2 bash "$E2E/clients/curl_h2.sh" "$TMP/bodies"
step local-models bash "$E2E/clients/local_models.sh" "$TMP/bodies"
step urllib-system $PY "$E2E/clients/py_urllib.py" "$E2E/fixtures.jsonl"
if [ -n "$PYENV_PY" ] && [ "$(readlink -f "$PYENV_PY")" != "$(readlink -f $PY)" ]; then
  step urllib-pyenv "$PYENV_PY" "$E2E/clients/py_urllib.py" "$E2E/fixtures.jsonl"
fi
step httpx $PY "$E2E/clients/py_httpx.py" fixtures "$E2E/fixtures.jsonl"
step httpx-h2 $PY "$E2E/clients/py_httpx.py" fixtures-h2 "$E2E/fixtures.jsonl"
step node node "$E2E/node/sdk_clients.mjs"
step gemini-cli bash "$E2E/clients/gemini_cli.sh" "$E2E/gemini-cli"
warm_up() {	# warm_up EXE CMD...: run CMD until the daemon probed EXE (10 s at most)
  local exe=$1 pid i
  shift
  "$@" >/dev/null 2>&1 &
  pid=$!
  for i in $(seq 100); do
    # attached, not only found: a process killed while the daemon attaches
    # leaves the binary unprobed, and the next one is probed late
    grep -q "attached to $exe (" "$TMP/daemon.log" 2>/dev/null && break
    sleep 0.1
  done
  kill "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
}
# Go's own crypto/tls (no libssl), built by run.sh: with symbols over
# HTTP/1.1, stripped (-s -w) over HTTP/2. Each binary is new, so a first
# process of each (no fixtures) waits until the daemon has attached to it
# (README, Go crypto/tls): a fixed wait was short on a loaded machine.
warm_up "$TMP/go_client" "$TMP/go_client" h1 /dev/null 10000
warm_up "$TMP/go_client_stripped" "$TMP/go_client_stripped" h2 /dev/null 10000
# h1-late: every Write returns after the server answered it, which a
# descheduled writer did now and then (bpf/go_tls.bpf.c, why Write's bytes
# go at its entry).
step go-h1 "$TMP/go_client" h1 "$E2E/fixtures.jsonl" "${E2E_GO_WAIT_MS:-300}"
step go-h1-late "$TMP/go_client" h1-late "$E2E/fixtures.jsonl" "${E2E_GO_WAIT_MS:-300}"
step go-h2 "$TMP/go_client_stripped" h2 "$E2E/fixtures.jsonl" "${E2E_GO_WAIT_MS:-300}"
# BoringSSL linked in without symbols (Bun, Claude Code), found by
# fingerprint (user/1-capture/bssl_find.c). The daemon probes a binary once
# it has seen a process run it, ~0.2 s later; these are new to it, so a
# first process of each stays until the daemon says so (its log is
# $TMP/daemon.log; without a daemon this only costs the wait).
AG=$E2E/agents/node_modules
BUN=$AG/@oven/bun-linux-x64/bin/bun
CLAUDE=$AG/@anthropic-ai/claude-code-linux-x64/claude
warm_up "$BUN" "$BUN" -e 'setTimeout(() => {}, 10000)'
# rustls with aws-lc (Codex, Deno): their key schedule probed, their
# records decrypted (user/1-capture/awslc_find.c, tls13_conns.c).
CODEX=$AG/@openai/codex-linux-x64/vendor/x86_64-unknown-linux-musl/bin/codex
DENO=$AG/@deno/linux-x64-glibc/deno
warm_up "$DENO" "$DENO" eval 'setTimeout(() => {}, 10000)'
warm_up "$CODEX" bash -c 'exec "$1" app-server < <(sleep 10)' _ "$CODEX"
warm_up "$CLAUDE" env HOME="$TMP/claude-home" bash -c \
  'for i in 1 2 3 4 5 6 7 8 9 10; do "$1" --version; done' _ "$CLAUDE"
sleep 1	# an orphaned --version run ends
step bun-fetch "$BUN" "$E2E/clients/fetch_fixtures.mjs" "$E2E/fixtures.jsonl"
step claude env HOME="$TMP/claude-home" ANTHROPIC_API_KEY=sk-ant-e2e-dummy DISABLE_TELEMETRY=1 \
  CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 DISABLE_AUTOUPDATER=1 \
  "$CLAUDE" -p "Say hello" --max-turns 1 --model claude-haiku-4-5
# Codex tries a WebSocket first (GETs answered 404, no record), then
# streams POST /v1/responses, answered by clients/codex.jsonl.
mkdir -p "$TMP/codex-home/.codex"
step codex env HOME="$TMP/codex-home" CODEX_HOME="$TMP/codex-home/.codex" \
  OPENAI_API_KEY=sk-e2e-dummy "$CODEX" exec --skip-git-repo-check -m gpt-5-codex "Say hello"
step deno-fetch env DENO_DIR="$TMP/deno-dir" DENO_CERT="$TMP/ca/ca.pem" DENO_NO_UPDATE_CHECK=1 \
  "$DENO" run --allow-net --allow-read --allow-env "$E2E/clients/fetch_fixtures.mjs" \
  "$E2E/fixtures.jsonl"
step bad-inputs bash "$E2E/clients/bad_inputs.sh" "$TMP/bodies"
if [ -n "$CORPUS" ]; then
  step corpus-replay $PY "$E2E/clients/py_httpx.py" replay "$CORPUS"
fi
exit 0
