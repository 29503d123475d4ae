#!/usr/bin/env bash
# make bench: every benchmark of tools/bench/, in one run, printed and kept
# in $OUTPUT/bench/results-<date>.txt (docs/performance.md says how to read
# them and holds the figures of record):
#   probes.sh      what observing TLS calls costs the observed program:
#                  bare, empty uprobe, llmobsd BPF, LD_PRELOAD shim
#                  (ratios (c)/(b) and (d)/(a); 1 KiB round trips, 64 KiB
#                  prompts, 500-read SSE streams)
#   throughput.sh  the daemon's pipeline on one core (llmobsd --replay)
#   memory.sh      its RSS with 1 to 10,000 open connections
#   loss.sh        200 calls/s of 64 KiB prompts, then past saturation
#   go_tls.sh      what observing Go's crypto/tls costs a Go program: bare,
#                  empty probes at the same places, llmobsd BPF; and the
#                  time to find those places in a binary
#   rustls.sh      what seeing rustls by its secrets costs a Deno fetch
#                  client, and BoringSSL found by fingerprint a Bun one:
#                  bare, llmobsd BPF; and awslc_find's time
# Speed targets live here, never in timed tests: on a shared machine each
# part interleaves what it compares and reports medians and spread, and
# the load average it ran under.
# Env: BENCH_SHORT=1 (a short version of each part; the probe part still
#      waits out other people's uprobes), BENCH_PARTS="probes throughput
#      memory loss go_tls rustls" (a subset), OUTPUT.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${OUTPUT:-$ROOT/.output}
case $OUT in /*) ;; *) OUT=$ROOT/$OUT ;; esac
export OUTPUT=$OUT BENCH_SHORT=${BENCH_SHORT:-}
PARTS=${BENCH_PARTS:-probes throughput memory loss go_tls rustls}
mkdir -p "$OUT/bench"
RES=$OUT/bench/results-$(date -u +%Y%m%dT%H%M%SZ)${BENCH_SHORT:+-short}.txt

{
  echo "llm-observer make bench${BENCH_SHORT:+ (BENCH_SHORT)}: $(date -u '+%F %T UTC'), $(uname -r)," \
    "$(nproc) CPUs ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo))," \
    "$(awk '/MemTotal/ { printf "%.0f GB", $2 / 1048576 }' /proc/meminfo)," \
    "commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
  rc=0
  for p in $PARTS; do
    echo
    echo "######## $p"
    bash "$ROOT/tools/bench/$p.sh" || { echo "bench: $p failed"; rc=1; }
  done
  exit $rc
} 2>&1 | tee "$RES"
rc=${PIPESTATUS[0]}
echo "bench: results in $RES"
exit "$rc"
