#!/usr/bin/env bash
# A binary's first process exits while the daemon attaches to it (issue 11):
# Claude Code's `--version` lives 30-80 ms, finding BoringSSL in its 408 MiB
# takes ~200 ms, so the attach through /proc/PID/root/<path> finds that
# path gone. That is no blind spot:
#  1. with another process of the same binary alive (`claude -p` waiting on
#     its stdin), the probes go in through that one at once: "attached to
#     <claude> (seen in pid <it>)", and no "cannot observe" line;
#  2. with none, a debug line only, nothing counted (tls_blind_binaries and
#     attach_errors 0), and the next process of the binary gets it probed.
# A daemon of this script's own (-v, a fresh one: the binary is new to it).
# Usage: attach_exit.sh TMP OUT AGENTS_NODE_MODULES. Needs root.
set -u
TMP=$1
OUT=$(cd "$2" && pwd)
CLAUDE=$(readlink -f "$3/@anthropic-ai/claude-code-linux-x64/claude")	# as the daemon names it
A=$TMP/attach_exit
mkdir -p "$A/home"
pass=0 fail=0 DPID="" LPID=""
ok() { echo "PASS attach, first process gone: $*"; pass=$((pass + 1)); }
bad() { echo "FAIL attach, first process gone: $*"; fail=$((fail + 1)); }
trap '[ -n "$LPID" ] && kill "$LPID" 2>/dev/null; [ -n "$DPID" ] && kill -KILL "$DPID" 2>/dev/null' EXIT
[ -x "$CLAUDE" ] || { bad "no $CLAUDE"; exit 1; }
CL=(env HOME="$A/home" ANTHROPIC_API_KEY=sk-ant-e2e-dummy DISABLE_TELEMETRY=1
  CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 DISABLE_AUTOUPDATER=1)

# start NAME: a daemon of its own, until stop
start() {
  "$OUT/llmobsd" -v --db "$A/$1.db" --listen off >/dev/null 2>"$A/$1.log" &
  DPID=$!
  for _ in $(seq 300); do grep -q ready "$A/$1.log" 2>/dev/null && break; sleep 0.1; done
}
stop() { kill -TERM "$DPID"; wait "$DPID" 2>/dev/null; DPID=""; }
# wait_for LOG PATTERN: up to 10 s
wait_for() { for _ in $(seq 100); do grep -q "$2" "$A/$1.log" && return 0; sleep 0.1; done; return 1; }
counter() { sqlite3 "$A/$1.db" "select value from counters where name='$2'" 2>/dev/null || echo "?"; }

# 1. A short process, then a long one of the same binary.
start one
"${CL[@]}" "$CLAUDE" --version >/dev/null 2>&1 &
SPID=$!
sleep 0.01
# Waiting on its stdin, with no network.
sleep 6 | "${CL[@]}" unshare -n "$CLAUDE" -p >/dev/null 2>&1 &
LPID=$!
wait "$SPID"
wait_for one "attached to $CLAUDE (" || true
if grep -q "pid $SPID exited before its probes were attached" "$A/one.log"; then
  ok "exercised: pid $SPID exited before its probes were in"
  # Which pid is the other claude (under sleep's pipe, env and unshare)
  # is the daemon's to find: not the one gone, and tried for that reason.
  P=$(grep -o "attached to $CLAUDE (seen in pid [0-9]*" "$A/one.log" | grep -o "[0-9]*$" | head -n 1)
  [ -n "$P" ] && [ "$P" != "$SPID" ] &&
    grep -q "pid $SPID exited while attaching, trying pid $P$" "$A/one.log" &&
    ok "attached through the other live process (pid $P)" ||
    bad "attached through the other live process: $(grep -E "attached to|trying pid" "$A/one.log" | tail -n 2)"
else
  echo "note: pid $SPID was probed before it exited (or never seen): case 1 not exercised this run"
fi
grep -q "cannot observe $CLAUDE " "$A/one.log" &&
  bad "said unobservable: $(grep "cannot observe" "$A/one.log" | head -n 1)" ||
  ok "not said unobservable"
kill "$LPID" 2>/dev/null; wait "$LPID" 2>/dev/null; LPID=""
stop
[ "$(counter one tls_blind_binaries)" = 0 ] && ok "tls_blind_binaries 0" ||
  bad "tls_blind_binaries $(counter one tls_blind_binaries)"

# 2. A short process alone, then a later one.
start two
"${CL[@]}" "$CLAUDE" --version >/dev/null 2>&1 &
SPID=$!
wait "$SPID"
sleep 1
grep -q "pid $SPID exited before its probes were attached" "$A/two.log" &&
  ok "alone: pid $SPID exited before its probes were in (debug)" ||
  echo "note: case 2's first process was probed before it exited (or never seen)"
sleep 6 | "${CL[@]}" unshare -n "$CLAUDE" -p >/dev/null 2>&1 &
LPID=$!
wait_for two "attached to $CLAUDE (" && ok "a later process gets the binary probed" ||
  bad "a later process gets the binary probed: $(grep -E "claude" "$A/two.log" | tail -n 3)"
kill "$LPID" 2>/dev/null; wait "$LPID" 2>/dev/null; LPID=""
stop
grep -q "cannot observe $CLAUDE " "$A/two.log" && bad "alone: said unobservable" ||
  ok "alone: not said unobservable"
[ "$(counter two tls_blind_binaries)" = 0 ] && [ "$(counter two attach_errors)" = 0 ] &&
  ok "alone: tls_blind_binaries and attach_errors 0" ||
  bad "alone: tls_blind_binaries $(counter two tls_blind_binaries), attach_errors $(counter two attach_errors)"
echo "attach_exit: $pass passed, $fail failed"
[ "$fail" = 0 ]
