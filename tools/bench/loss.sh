#!/usr/bin/env bash
# make bench, part 4: loss under load, with the BPF daemon (root). loadgen
# (a local TLS server and keep-alive clients, in a private network
# namespace: 127.0.0.1 only) sends OpenAI chat calls with 64 KiB prompts:
#   steady      200 calls/s for 60 s (BENCH_SHORT: 10 s): every call must
#               be recorded, complete, with every drop counter at 0;
#   flat out    as fast as 4 connections go, bare then observed: what the
#               daemon costs the client, and whether it keeps up;
#   stalled     flat out while the daemon is stopped (SIGSTOP) for a few
#               seconds: the ring buffer fills, bytes are dropped and
#               counted by cause, the client never waits for us.
# Records are told apart from other traffic on the host by their exe; the
# counters are the whole host's (bpf_drop_no_entry counts calls other
# processes had under way when the probes were attached: not a loss of
# ours).
# Env: BENCH_SHORT=1, OUTPUT.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${OUTPUT:-$ROOT/.output}
case $OUT in /*) ;; *) OUT=$ROOT/$OUT ;; esac
LG=$OUT/bench/loadgen
if [ -n "${BENCH_SHORT:-}" ]; then STEADY=10 FLAT=4 STALL=2; else STEADY=60 FLAT=15 STALL=4; fi
[ "$(id -u)" -eq 0 ] || { echo "loss: needs root (BPF): skipped"; exit 0; }
for f in "$LG" "$OUT/llmobsd"; do [ -x "$f" ] || { echo "loss: $f missing"; exit 1; }; done
command -v sqlite3 >/dev/null || { echo "loss: sqlite3 missing"; exit 1; }
TMP=$(mktemp -d /tmp/llmobs-loss.XXXXXX)
DPID=""
cleanup() {
  [ -n "$DPID" ] && kill -CONT "$DPID" 2>/dev/null && kill -TERM "$DPID" 2>/dev/null &&
    wait "$DPID" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT

start_daemon() {	# start_daemon NAME: its own DB and socket
  : >"$TMP/$1.log"
  "$OUT/llmobsd" --db "$TMP/$1.db" --socket "$TMP/$1.sock" >/dev/null 2>"$TMP/$1.log" &
  DPID=$!
  for _ in $(seq 600); do grep -q 'ready:' "$TMP/$1.log" && return 0; sleep 0.05; done
  echo "loss: llmobsd did not start:"; tail "$TMP/$1.log"; exit 1
}

stop_daemon() {	# sets EXIT_MS: how long SIGTERM took
  local t0=$(date +%s%N)
  kill -TERM "$DPID"; wait "$DPID" 2>/dev/null; DPID=""
  EXIT_MS=$(( ($(date +%s%N) - t0) / 1000000 ))
}

load() {	# load ARGS...: loadgen in a private netns, its summary line
  unshare -n sh -c 'ip link set lo up && exec "$0" "$@"' "$LG" --prompt-bytes 65536 "$@" |
    grep '^loadgen:'
}

field() { awk -v k="$1" '{ for (i = 1; i < NF; i++) if ($i == k) print $(i + 1) }'; }

report() {	# report NAME LOADLINE EXIT_MS: records and counters of that run
  local db=$TMP/$1.db ok rec comp
  ok=$(field ok <<<"$2")
  read -r rec comp <<<"$(sqlite3 -separator ' ' "$db" \
    "SELECT count(*), coalesce(sum(complete), 0) FROM exchanges WHERE exe LIKE '%/loadgen'")"
  echo "  client: $2"
  echo "  daemon: $rec records of loadgen calls ($comp complete) for $ok answered; SIGTERM exit $3 ms"
  echo "  drops by cause (whole host):" $(sqlite3 -separator '=' "$db" \
    "SELECT name, value FROM counters WHERE (name LIKE 'bpf_drop_%' OR name IN
     ('stream_gaps', 'stream_gap_bytes', 'exchanges_incomplete', 'records_dropped'))
     AND value != 0 ORDER BY name")
  [ "$rec" = "$ok" ] && [ "$comp" = "$ok" ] &&
    [ "$(sqlite3 "$db" "SELECT coalesce(sum(value), 0) FROM counters WHERE name IN
          ('bpf_drop_ringbuf_full_events', 'bpf_drop_read_failed_events',
           'bpf_drop_over_cap_events', 'records_dropped')")" = 0 ]
}

echo "loss: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) at start"
echo "== steady: 200 calls/s, 64 KiB prompts, ${STEADY} s"
start_daemon steady
line=$(load --rate 200 --seconds "$STEADY" --conns 4)
stop_daemon
if report steady "$line" "$EXIT_MS"; then echo "  goal: 0 drops, every call recorded: met"
else echo "  goal: 0 drops, every call recorded: NOT met"; fi

echo "== flat out: 4 connections, ${FLAT} s, without then with the daemon"
echo "  bare:   $(load --rate 0 --seconds "$FLAT" --conns 4)"
start_daemon flat
line=$(load --rate 0 --seconds "$FLAT" --conns 4)
stop_daemon
report flat "$line" "$EXIT_MS" || echo "  (drops past saturation are expected; they are counted above)"

echo "== stalled: flat out, the daemon stopped for ${STALL} s in the middle"
start_daemon stall
load --rate 0 --seconds "$FLAT" --conns 4 >"$TMP/stall.line" &
LPID=$!
sleep $(( (FLAT - STALL) / 2 ))
# the process reading the ring: the attacher's worker (user/7-daemon/privsep.h)
WPID=$(pgrep -P "$DPID" | head -n 1)
kill -STOP "${WPID:-$DPID}"
sleep "$STALL"
kill -CONT "${WPID:-$DPID}"
wait "$LPID"
stop_daemon
report stall "$(cat "$TMP/stall.line")" "$EXIT_MS" ||
  echo "  (calls lost while stopped are counted by cause above; the client's p99/max show no wait)"
echo "loss: load average $(cut -d' ' -f1-3 /proc/loadavg) at end"
