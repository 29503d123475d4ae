#!/usr/bin/env bash
# Runs inside `unshare -m -n` for shim.sh: the private /etc/hosts and test CA
# of run.sh, the local TLS server, and the clients of one part of the shim
# test. Each step's name, exit code and served-log range go to
# $S/steps-PART.tsv (as netns.sh does), its output to $S/out/PART-NAME.
# Usage: shim_netns.sh TMP PART [CORPUS]     PART: user | root | failopen
set -u
TMP=$1
PART=$2
CORPUS=${3:-}
S=$TMP/shim
E2E=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
B=$S/bin		# copies the test user can read
SHIM=$B/libllmobs.so
STEP_TIMEOUT=${E2E_STEP_TIMEOUT:-120}

ip link set lo up || { echo "shim netns: cannot bring lo up" >&2; exit 1; }
mount --bind "$TMP/hosts" /etc/hosts || { echo "shim netns: cannot bind /etc/hosts" >&2; exit 1; }
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY LD_PRELOAD LLMOBS_SOCKET
CA=$TMP/ca/ca.pem
TLS_ENV=(SSL_CERT_FILE="$CA" CURL_CA_BUNDLE="$CA" REQUESTS_CA_BUNDLE="$CA" NODE_EXTRA_CA_CERTS="$CA")

SERVED=$S/served-$PART.jsonl
DELAY=2
[ "$PART" = failopen ] && DELAY=15	# streams long enough to kill a daemon in
SERVER_ARGS=()
[ "$PART" = user ] && [ -n "$CORPUS" ] && SERVER_ARGS+=(--exchanges "$CORPUS")
[ "$PART" = user ] && SERVER_ARGS+=(--plain-port 11434 --plain-port 8000)
: >"$SERVED"
$PY "$E2E/llm_server.py" --cert "$TMP/ca/server.pem" --key "$TMP/ca/server.key" \
  --fixtures "$E2E/fixtures.jsonl" --served "$SERVED" --ready-file "$S/server-$PART.ready" \
  --lifetime 600 --chunk-delay-ms "$DELAY" --compress "${SERVER_ARGS[@]}" \
  2>"$S/server-$PART.log" &
SRV=$!
trap 'kill $SRV 2>/dev/null; wait $SRV 2>/dev/null' EXIT
for _ in $(seq 100); do
  [ -s "$S/server-$PART.ready" ] && break
  kill -0 $SRV 2>/dev/null || break
  sleep 0.1
done
if [ ! -s "$S/server-$PART.ready" ]; then
  echo "shim netns: server did not start:" >&2
  cat "$S/server-$PART.log" >&2
  exit 1
fi

served() { wc -l <"$SERVED"; }
STEPS=$S/steps-$PART.tsv
: >"$STEPS"
mkdir -p "$S/out"
# step NAME CMD...: one client, bounded in time, output kept.
step() {
  local name=$1 first rc
  shift
  first=$(( $(served) + 1 ))
  timeout "$STEP_TIMEOUT" "$@" >"$S/out/$PART-$name" 2>&1
  rc=$?
  printf '%s\t%s\t%s\t%s\n' "$name" "$rc" "$first" "$(served)" >>"$STEPS"
  sed "s/^/  [$PART $name] /" "$S/out/$PART-$name" | head -n 20
}

case $PART in
user)
  # Everything as the unprivileged test user, finding its daemon's socket
  # by default ($XDG_RUNTIME_DIR/llmobs.sock).
  AS=(setpriv --reuid="$SHIM_UID" --regid="$SHIM_GID" --clear-groups
      env -i PATH=/usr/bin:/bin HOME="$S/state" XDG_RUNTIME_DIR="$S/run" "${TLS_ENV[@]}")
  PRE=(LD_PRELOAD="$SHIM")
  step hostile "${AS[@]}" $PY "$B/hostile_socket.py" "$S/run/llmobs.sock"
  step curl "${AS[@]}" "${PRE[@]}" bash "$B/curl.sh" "$B/bodies"
  step curl-h2 "${AS[@]}" "${PRE[@]}" bash "$B/curl_h2.sh" "$B/bodies"
  step urllib "${AS[@]}" "${PRE[@]}" $PY "$B/py_urllib.py" "$B/fixtures.jsonl"
  step httpx "${AS[@]}" "${PRE[@]}" $PY "$B/py_httpx.py" fixtures "$B/fixtures.jsonl"
  step threads "${AS[@]}" "${PRE[@]}" $PY "$B/py_threads_fork.py" "$B/fixtures.jsonl"
  # Plain HTTP to local model servers: captured when asked, not otherwise.
  step local-models "${AS[@]}" "${PRE[@]}" LLMOBS_PLAIN_PORTS=11434,8000 \
    bash "$B/local_models.sh" "$B/bodies"
  step local-models-unasked "${AS[@]}" "${PRE[@]}" bash "$B/local_models.sh" "$B/bodies"
  # Node carries OpenSSL inside: the shim sees nothing and says so.
  step node "${AS[@]}" "${PRE[@]}" LLMOBS_DEBUG=1 node -e '
    const https = require("https");
    const body = JSON.stringify({model: "gpt-4o-mini", messages: [{role: "user", content: "hi"}]});
    const req = https.request("https://api.openai.com/v1/chat/completions",
      {method: "POST", headers: {"content-type": "application/json",
       authorization: "Bearer sk-e2e-dummy"}}, (r) => {
        let n = 0; r.on("data", (d) => n += d.length);
        r.on("end", () => console.log(`node status=${r.statusCode} bytes=${n}`)); });
    req.end(body);'
  # The shared corpus through the shim: the same exchanges check.py holds
  # the BPF path to, so the two paths agree exchange for exchange.
  if [ -n "$CORPUS" ]; then
    step corpus-replay "${AS[@]}" "${PRE[@]}" $PY "$B/py_httpx.py" replay "$CORPUS"
  fi
  ;;
root)
  # The root daemon runs BPF and takes shims: each exchange once.
  PRE=(env "${TLS_ENV[@]}" LD_PRELOAD="$SHIM" LLMOBS_SOCKET="$S/root.sock")
  step shim-curl "${PRE[@]}" bash "$B/curl.sh" "$B/bodies"
  step shim-urllib "${PRE[@]}" $PY "$B/py_urllib.py" "$B/fixtures.jsonl"
  step bpf-urllib env "${TLS_ENV[@]}" $PY "$B/py_urllib.py" "$B/fixtures.jsonl"
  ;;
failopen)
  # The same clients without the shim, and with it while the daemon is
  # absent, killed mid-stream, stopped (its ring fills) or its listen
  # backlog full. shim_check.py compares output, exit code and time.
  RES=$S/failopen.tsv
  : >"$RES"
  CL_URLLIB=($PY "$B/py_urllib.py" "$B/fixtures.jsonl")
  CL_BIG=(curl -sS --http1.1 --max-time 60 -H 'content-type: application/json'
          -H 'authorization: Bearer sk-e2e-dummy' --data-binary @"$B/bodies/big.json"
          https://api.openai.com/v1/chat/completions)
  SOCK=$S/failopen.sock
  DPID=""
  daemon_start() {
    rm -f "$S/failopen.db"*
    "$B/llmobsd" --no-bpf --socket "$SOCK" --db "$S/failopen.db" 2>>"$S/failopen-daemon.log" &
    DPID=$!
    for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.05; done
  }
  daemon_stop() {
    [ -n "$DPID" ] || return
    { kill -CONT "$DPID"; kill -KILL "$DPID"; wait "$DPID"; } 2>/dev/null
    DPID=""
  }
  # run CASE CLIENT KILL ENV... -- CMD...   KILL: - | after-first | SECONDS
  run() {
    local case=$1 client=$2 killer=$3 t0 t1 rc first
    shift 3
    local envs=()
    while [ "$1" != -- ]; do envs+=("$1"); shift; done
    shift
    first=$(served)
    t0=$(date +%s%N)
    env "${TLS_ENV[@]}" "${envs[@]}" "$@" >"$S/out/fo-$case-$client" 2>&1 &
    local cpid=$!
    if [ "$killer" = after-first ]; then	# between requests, streams to come
      for _ in $(seq 400); do [ "$(served)" -gt "$first" ] && break; sleep 0.01; done
    elif [ "$killer" != - ]; then		# a time into the run (an upload)
      sleep "$killer"
    fi
    if [ "$killer" != - ]; then
      { kill -KILL "$DPID"; wait "$DPID"; } 2>/dev/null
      echo "$case $client: daemon killed after $(( $(served) - first )) requests" \
        >>"$S/failopen-daemon.log"
    fi
    wait $cpid
    rc=$?
    t1=$(date +%s%N)
    printf '%s\t%s\t%s\t%s\n' "$case" "$client" "$rc" $(( (t1 - t0) / 1000000 )) >>"$RES"
  }
  for client in urllib big; do
    if [ $client = urllib ]; then
      CMD=("${CL_URLLIB[@]}"); KILL=after-first
    else
      CMD=("${CL_BIG[@]}"); KILL=0.1
    fi
    run base $client - -- "${CMD[@]}"
    run absent $client - LD_PRELOAD="$SHIM" LLMOBS_SOCKET="$S/absent.sock" -- "${CMD[@]}"
    daemon_start
    run killed $client $KILL LD_PRELOAD="$SHIM" LLMOBS_SOCKET="$SOCK" -- "${CMD[@]}"
    daemon_stop
    # A daemon killed earlier leaves its socket file: connections refused.
    run stale $client - LD_PRELOAD="$SHIM" LLMOBS_SOCKET="$SOCK" -- "${CMD[@]}"
    daemon_start
    kill -STOP "$DPID"
    run stopped $client - LD_PRELOAD="$SHIM" LLMOBS_SOCKET="$SOCK" LLMOBS_RING_KB=64 \
      -- "${CMD[@]}"
    # Its backlog full as well: connect() itself fails (EAGAIN).
    $PY -c '
import socket, sys, time
socks = []
while True:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.setblocking(False)
    try:
        s.connect(sys.argv[1])
    except BlockingIOError:
        break
    socks.append(s)
print(len(socks), flush=True)
time.sleep(600)' "$SOCK" >"$S/out/fo-backlog-fill" 2>&1 &
    FILL=$!
    for _ in $(seq 100); do [ -s "$S/out/fo-backlog-fill" ] && break; sleep 0.05; done
    run backlog $client - LD_PRELOAD="$SHIM" LLMOBS_SOCKET="$SOCK" -- "${CMD[@]}"
    kill $FILL 2>/dev/null
    wait $FILL 2>/dev/null
    daemon_stop
    run base2 $client - -- "${CMD[@]}"
  done
  ;;
esac
exit 0
