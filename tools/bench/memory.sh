#!/usr/bin/env bash
# make bench, part 3: the daemon's memory with many connections open at
# once. gen_events writes N connections that each sent a request head and
# half of a 10 KiB prompt (--open-conns), or 1,000 streams that each got
# their response head and a few events (--half-streams); `llmobsd
# --replay` takes them all in and reports VmRSS and RssAnon with every
# connection still open (the capture file's own pages dropped first), and
# how many least-recently-used connections it evicted (--max-conns,
# default 4096). Goal: <= 64 MB at 1,000 connections, bounded by
# --max-conns beyond.
# Env: OUTPUT. (Short already: BENCH_SHORT changes nothing.)
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${OUTPUT:-$ROOT/.output}
case $OUT in /*) ;; *) OUT=$ROOT/$OUT ;; esac
GEN=$OUT/bench/gen_events
D=$OUT/llmobsd
for f in "$GEN" "$D"; do [ -x "$f" ] || { echo "memory: $f missing"; exit 1; }; done
TMP=$(mktemp -d /tmp/llmobs-memory.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

# name|gen_events args|llmobsd args
CASES=(
  "idle (1 exchange done)|--exchanges 1 --conns 1|"
  "1 open conn|--open-conns 1|"
  "100 open conns|--open-conns 100|"
  "1000 open conns|--open-conns 1000|"
  "10000 open conns|--open-conns 10000|"
  "10000, --max-conns 1000|--open-conns 10000|--max-conns 1000"
  "1000 half-done streams|--half-streams 1000|"
)
printf '%-26s %10s %10s %10s %9s %8s\n' case "VmRSS MB" "anon MB" "KB/conn" "open" evicted
for c in "${CASES[@]}"; do
  IFS='|' read -r name gargs dargs <<<"$c"
  $GEN --out "$TMP/m.cap" --prompt-bytes 10240 $gargs >/dev/null || exit 1
  line=$("$D" --replay "$TMP/m.cap" $dargs 2>&1 | grep '^replay:')
  [ -n "$line" ] || { echo "memory: $name failed"; exit 1; }
  awk -v name="$name" '{
      for (i = 2; i < NF; i += 2) v[$i] = $(i + 1)
      per = v["conns_open"] > 0 ? (v["anon_kb"] - v["anon_start_kb"]) / v["conns_open"] : 0
      printf "%-26s %10.1f %10.1f %10.1f %9d %8d\n", name, v["rss_kb"] / 1024,
             v["anon_kb"] / 1024, per, v["conns_open"], v["conns_evicted"]
      if (name == "1000 open conns") rss1k = v["rss_kb"] / 1024
    } END { if (rss1k) printf "goal: <= 64 MB at 1000 connections: %s (%.1f MB)\n",
                                rss1k <= 64 ? "met" : "NOT met", rss1k }' <<<"$line"
done
