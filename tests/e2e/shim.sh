#!/usr/bin/env bash
# End-to-end test of the LD_PRELOAD shim (preload/), run by run.sh after its
# own check, in its $TMP (test CA, hosts file, request bodies):
#  user      a user's daemon (--no-bpf, as an unprivileged test user, default
#            socket in its XDG_RUNTIME_DIR); curl, urllib, httpx, 8 threads +
#            fork + exec, Node (not seen: OpenSSL inside), and a hostile
#            process writing garbage to the socket first;
#  root      the root daemon with BPF and shims at once: shimmed clients are
#            recorded once (capture=preload), the others by BPF (uprobe);
#  failopen  clients with the daemon absent, SIGKILLed mid-stream, stopped
#            (ring full) or its listen backlog full print the same bytes,
#            exit the same and take the same time as without the shim;
#  probe     tests/helpers/shim_probe.c prints every SSL_* return value and
#            errno: the same with the shim (daemon or not) as without.
# shim_check.py checks the records against the server's log.
# Usage: shim.sh TMP OUTPUT_DIR [CORPUS]
set -u
TMP=$1
OUT=$2
CORPUS=${3:-}
E2E=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$E2E/../.." && pwd)
PY=/usr/bin/python3
S=$TMP/shim
B=$S/bin
USER_NAME=llmobs-e2e

fail() { echo "shim e2e: $*"; echo "shim e2e: 0 passed, 1 failed"; exit 1; }

[ -r "$OUT/libllmobs.so" ] || fail "$OUT/libllmobs.so missing (make all)"
[ -x "$OUT/llmobsd" ] && [ -x "$OUT/llmobs" ] || fail "$OUT/llmobsd or llmobs missing"

# The unprivileged user the per-user daemon and its clients run as.
if ! id -u "$USER_NAME" >/dev/null 2>&1; then
  useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
    "$USER_NAME" || fail "cannot create user $USER_NAME"
fi
export SHIM_UID=$(id -u "$USER_NAME") SHIM_GID=$(id -g "$USER_NAME")

# What the test user runs, in a place it can read whatever the checkout's
# permissions; the state and runtime dirs are its own.
mkdir -p "$B" "$S/run" "$S/state" "$S/out"
cp "$OUT/llmobsd" "$OUT/llmobs" "$OUT/libllmobs.so" "$E2E/fixtures.jsonl" \
  "$E2E/clients/curl.sh" "$E2E/clients/curl_h2.sh" "$E2E/clients/py_urllib.py" \
  "$E2E/clients/py_httpx.py" \
  "$E2E/clients/py_threads_fork.py" "$E2E/clients/hostile_socket.py" \
  "$E2E/clients/local_models.sh" "$B/"
cp -r "$TMP/bodies" "$B/bodies"
if [ -n "$CORPUS" ]; then
  cp "$CORPUS" "$B/corpus.jsonl"
  CORPUS=$B/corpus.jsonl
fi
chmod 0711 "$TMP"
chmod 0755 "$S" "$B" "$S/out"
chmod -R a+rX "$B" "$TMP/ca/ca.pem"
chown "$SHIM_UID:$SHIM_GID" "$S/run" "$S/state"
chmod 0700 "$S/run" "$S/state"

# wait_ready LOG PID: the daemon's "ready" line, up to 30 s.
wait_ready() {
  for _ in $(seq 300); do
    grep -q "ready" "$1" 2>/dev/null && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
# stop PID NAME: SIGTERM, exit time and code kept for the checker.
stop() {
  local t0=$(date +%s%N)
  kill -TERM "$1" 2>/dev/null
  for _ in $(seq 500); do kill -0 "$1" 2>/dev/null || break; sleep 0.01; done
  kill -KILL "$1" 2>/dev/null
  wait "$1"
  echo "$? $(( ($(date +%s%N) - t0) / 1000000 ))" >"$S/$2.exit"
}

# --- user: a user's daemon, no BPF, no privilege ---------------------------
setpriv --reuid="$SHIM_UID" --regid="$SHIM_GID" --clear-groups \
  env -i PATH=/usr/bin:/bin HOME="$S/state" XDG_RUNTIME_DIR="$S/run" \
  "$B/llmobsd" --no-bpf --db "$S/state/user.db" --json >"$S/user.jsonl" 2>"$S/user.log" &
UPID=$!
if wait_ready "$S/user.log" $UPID; then
  stat -c '%a %u' "$S/run/llmobs.sock" >"$S/user.sock-mode" 2>&1
  echo "shim e2e: user daemon ready (uid $SHIM_UID, socket $S/run/llmobs.sock)"
  unshare -m -n -- bash "$E2E/shim_netns.sh" "$TMP" user "$CORPUS"
  echo "$?" >"$S/user.netns-rc"
  sleep 0.3	# rings are drained on a timer
  kill -0 $UPID 2>/dev/null && echo alive >"$S/user.alive"
  stop $UPID user
  "$OUT/llmobs" export --format jsonl --db "$S/state/user.db" >"$S/export-user.jsonl" 2>&1
  echo "shim e2e: user daemon log (last lines):"
  tail -n 8 "$S/user.log" | sed 's/^/  /'
else
  echo "shim e2e: the user daemon did not start:"
  sed 's/^/  /' "$S/user.log" | tail -n 20
  kill $UPID 2>/dev/null
fi

# --- root: BPF and shims in one daemon ----------------------------------------
"$OUT/llmobsd" --db "$S/root.db" --socket "$S/root.sock" --json \
  >"$S/root.jsonl" 2>"$S/root.log" &
RPID=$!
if wait_ready "$S/root.log" $RPID; then
  echo "shim e2e: root daemon ready (BPF + $S/root.sock)"
  unshare -m -n -- bash "$E2E/shim_netns.sh" "$TMP" root
  echo "$?" >"$S/root.netns-rc"
  sleep 0.5
  stop $RPID root
  "$OUT/llmobs" export --format jsonl --db "$S/root.db" >"$S/export-root.jsonl" 2>&1
else
  echo "shim e2e: the root daemon did not start:"
  sed 's/^/  /' "$S/root.log" | tail -n 20
  kill $RPID 2>/dev/null
fi

# --- failopen -------------------------------------------------------------------
unshare -m -n -- bash "$E2E/shim_netns.sh" "$TMP" failopen
echo "$?" >"$S/failopen.netns-rc"

# --- what the application sees: every return value and errno, same bytes -----
PROBE=$OUT/tests/shim_probe
# A free loopback port for the plain socket calls, watched under the shim.
PPORT=$($PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export LLMOBS_PLAIN_PORTS=$PPORT
if [ -x "$PROBE" ]; then
  "$PROBE" "$PPORT" >"$S/probe-bare" 2>&1
  echo "$?" >>"$S/probe-bare"
  LD_PRELOAD="$B/libllmobs.so" LLMOBS_SOCKET="$S/absent.sock" "$PROBE" "$PPORT" >"$S/probe-absent" 2>&1
  echo "$?" >>"$S/probe-absent"
  "$OUT/llmobsd" --no-bpf -q --socket "$S/probe.sock" --db "$S/probe.db" 2>"$S/probe.log" &
  PPID_=$!
  for _ in $(seq 100); do [ -S "$S/probe.sock" ] && break; sleep 0.05; done
  LD_PRELOAD="$B/libllmobs.so" LLMOBS_SOCKET="$S/probe.sock" "$PROBE" "$PPORT" >"$S/probe-daemon" 2>&1
  echo "$?" >>"$S/probe-daemon"
  stop $PPID_ probe
  unset LLMOBS_PLAIN_PORTS
else
  echo "$PROBE missing: make e2e builds it" >"$S/probe-bare"
fi

$PY "$E2E/shim_check.py" --shim-dir "$S" --fixtures "$E2E/fixtures.jsonl" \
  --prices "$OUT/prices/node_modules" --uid "$SHIM_UID" ${CORPUS:+--corpus "$CORPUS"}
