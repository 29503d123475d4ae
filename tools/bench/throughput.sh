#!/usr/bin/env bash
# make bench, part 2: the daemon's pipeline alone, on one core. Synthetic
# capture files (gen_events.c: OpenAI chat calls as the BPF side delivers
# them, 8 keep-alive connections taking turns, 10 calls each) of 1, 10 and
# 100 KiB prompts, JSON responses or SSE streams of 100 events, replayed
# by `llmobsd --replay` at full speed: exchanges and MB of capture per
# second of the replaying thread's CPU time (other load on a shared host
# stretches wall time, not this). One more line stores every record in
# SQLite (a DB in $TMP) as the daemon does. "-nocache" lines replay the
# same files with --no-cache-analytics: the price of the prompt-cache
# analysis (issue 9; goal: at most 25% slower at 10 KiB, in every case).
# "-top" files carry a timestamp at the top of the system prompt, a new
# one on every call (gen_events --vary-top): the analysis cannot resume
# from the last call there, as it does for the plain files' repeats, and
# lexes and hashes each prompt whole. "-noscan" with
# --no-sensitive-scan, the price of counting secrets and personal data in
# each prompt (issue 15, detect.c; no goal set). Files take turns in every
# round; each figure is the median over rounds, [min-max] beside it.
# Goal: >= 30,000 exchanges/s/core with 10 KiB prompts.
# Env: BENCH_SHORT=1, BENCH_ROUNDS, OUTPUT.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${OUTPUT:-$ROOT/.output}
case $OUT in /*) ;; *) OUT=$ROOT/$OUT ;; esac
GEN=$OUT/bench/gen_events
D=$OUT/llmobsd
if [ -n "${BENCH_SHORT:-}" ]; then ROUNDS=${BENCH_ROUNDS:-1} SCALE=1; else ROUNDS=${BENCH_ROUNDS:-5} SCALE=4; fi
for f in "$GEN" "$D"; do [ -x "$f" ] || { echo "throughput: $f missing"; exit 1; }; done
TMP=$(mktemp -d /tmp/llmobs-throughput.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

# name|gen_events args|loops (about 0.3 s of CPU each at SCALE=1)
CASES=(
  "1KiB-json|--prompt-bytes 1024 --exchanges 2000|5"
  "1KiB-stream|--prompt-bytes 1024 --exchanges 500 --stream|3"
  "10KiB-json|--prompt-bytes 10240 --exchanges 2000|4"
  "10KiB-stream|--prompt-bytes 10240 --exchanges 500 --stream|3"
  "100KiB-json|--prompt-bytes 102400 --exchanges 400|3"
  "100KiB-stream|--prompt-bytes 102400 --exchanges 300 --stream|3"
  "10KiB-json+sqlite|--prompt-bytes 10240 --exchanges 2000|4"
  "10KiB-json-nocache|--prompt-bytes 10240 --exchanges 2000|4"
  "100KiB-json-nocache|--prompt-bytes 102400 --exchanges 400|3"
  "10KiB-json-top|--prompt-bytes 10240 --exchanges 2000 --vary-top|4"
  "10KiB-json-top-nocache|--prompt-bytes 10240 --exchanges 2000 --vary-top|4"
  "100KiB-json-top|--prompt-bytes 102400 --exchanges 400 --vary-top|3"
  "100KiB-json-top-nocache|--prompt-bytes 102400 --exchanges 400 --vary-top|3"
  "10KiB-json-noscan|--prompt-bytes 10240 --exchanges 2000|4"
)
for c in "${CASES[@]}"; do
  IFS='|' read -r name args _ <<<"$c"
  $GEN --out "$TMP/$name.cap" $args >/dev/null || exit 1
done

declare -A EXS MBS
echo "throughput: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) at start; $ROUNDS rounds"
for r in $(seq "$ROUNDS"); do
  for c in "${CASES[@]}"; do
    IFS='|' read -r name _ loops <<<"$c"
    db=()
    [ "${name%+sqlite}" != "$name" ] && { rm -f "$TMP"/replay.db*; db=(--db "$TMP/replay.db"); }
    [ "${name%-nocache}" != "$name" ] && db=(--no-cache-analytics)
    [ "${name%-noscan}" != "$name" ] && db=(--no-sensitive-scan)
    line=$("$D" --replay "$TMP/$name.cap" --replay-loops $((loops * SCALE)) "${db[@]}" 2>&1 |
           grep '^replay:')
    [ -n "$line" ] || { echo "throughput: $name failed"; exit 1; }
    EXS[$name]="${EXS[$name]:-} $(awk '{ for (i = 2; i < NF; i += 2) if ($i == "exchanges_per_cpu_s") print $(i + 1) }' <<<"$line")"
    MBS[$name]="${MBS[$name]:-} $(awk '{ for (i = 2; i < NF; i += 2) if ($i == "mb_per_cpu_s") print $(i + 1) }' <<<"$line")"
  done
done
echo "throughput: load average $(cut -d' ' -f1-3 /proc/loadavg) at end"

stat3() {
  tr ' ' '\n' | grep . | sort -g |
    awk '{ a[NR] = $1 } END { printf "%s %s %s", a[int((NR + 1) / 2)], a[1], a[NR] }'
}
printf '%-20s %14s %17s %10s\n' case "exchanges/s" "[min-max]" "MB/s"
for c in "${CASES[@]}"; do
  IFS='|' read -r name _ _ <<<"$c"
  read -r e lo hi <<<"$(echo "${EXS[$name]}" | stat3)"
  read -r mb _ <<<"$(echo "${MBS[$name]}" | stat3)"
  printf '%-20s %14.0f %17s %10.1f\n' "$name" "$e" "[$lo-$hi]" "$mb"
  [ "$name" = 10KiB-json ] && goal=$e
done
echo "goal: 10KiB-json >= 30000 exchanges/s/core: $(awk -v e="$goal" 'BEGIN { print (e >= 30000 ? "met" : "NOT met") }')"
for c in 10KiB-json 10KiB-json-top 100KiB-json 100KiB-json-top; do
  read -r on _ <<<"$(echo "${EXS[$c]}" | stat3)"
  read -r off _ <<<"$(echo "${EXS[$c-nocache]}" | stat3)"
  awk -v c="$c" -v on="$on" -v off="$off" 'BEGIN {
    printf "cache analytics, %s: %.0f/s on, %.0f/s off: %.0f%% slower%s\n", c, on, off,
      100 * (1 - on / off), c ~ /^10KiB/ ? ((1 - on / off) <= 0.25 ? " (goal <= 25%: met)" : " (goal <= 25%: NOT met)") : "" }'
done
read -r on _ <<<"$(echo "${EXS[10KiB-json]}" | stat3)"
read -r off _ <<<"$(echo "${EXS[10KiB-json-noscan]}" | stat3)"
awk -v on="$on" -v off="$off" 'BEGIN {
  printf "sensitive-data scan at 10KiB: %.0f/s on, %.0f/s off: %.0f%% slower\n", on, off, 100 * (1 - on / off) }'
