#!/usr/bin/env bash
# make bench: the TLS round-trip harness (tls_roundtrip.c: a client and a
# server SSL over a memory BIO pair, 1 KiB each way per iteration) under each
# capture variant, in one run; prints ns per iteration and the ratio to the
# bare run. Variants are rows of VARIANTS: add one (e.g. uprobes attached)
# as a name and a command prefix.
#
# Rounds interleave the variants so that drift on a shared machine hits all
# of them alike; every repeat of every round is kept and the medians are
# printed. The ratio that counts is the CPU one: the harness thread's own
# CPU time per iteration, which other load on a shared host does not
# stretch (wall time is printed too; on an idle host the two agree, the
# daemon running on another core).
# Env: BENCH_ITERATIONS (default 20000), BENCH_REPEAT (5), BENCH_ROUNDS (10),
#      BENCH_BYTES (1024), OUTPUT (.output).
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${OUTPUT:-$ROOT/.output}
case $OUT in /*) ;; *) OUT=$ROOT/$OUT ;; esac
BIN=$OUT/bench/tls_roundtrip
SHIM=$OUT/libllmobs.so
ITER=${BENCH_ITERATIONS:-20000}
REPEAT=${BENCH_REPEAT:-5}
ROUNDS=${BENCH_ROUNDS:-10}
BYTES=${BENCH_BYTES:-1024}

for f in "$BIN" "$SHIM" "$OUT/llmobsd"; do
  [ -e "$f" ] || { echo "bench: $f missing (make all $OUT/bench/tls_roundtrip)"; exit 1; }
done
TMP=$(mktemp -d /tmp/llmobs-bench.XXXXXX)
DPID=""
cleanup() {
  [ -n "$DPID" ] && kill -TERM "$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT

# Anything already probing libssl (a BPF llmobsd, capture_dump) is paid by
# every variant and makes the ratios meaningless.
if command -v bpftool >/dev/null && bpftool perf list 2>/dev/null | grep -q 'uprobe.*libssl'; then
  echo "bench: WARNING: uprobes are attached to libssl on this host (another llmobsd or"
  echo "bench:          capture_dump): every variant pays for them, ratios understate the shim"
fi

# The shim's daemon, unprivileged mode, its own socket and DB.
"$OUT/llmobsd" --no-bpf -q --socket "$TMP/llmobs.sock" --db "$TMP/bench.db" 2>"$TMP/daemon.log" &
DPID=$!
for _ in $(seq 100); do [ -S "$TMP/llmobs.sock" ] && break; sleep 0.05; done
[ -S "$TMP/llmobs.sock" ] || { echo "bench: llmobsd did not start:"; cat "$TMP/daemon.log"; exit 1; }

VARIANTS=(
  "no-shim|"
  "shim+daemon|env LD_PRELOAD=$SHIM LLMOBS_SOCKET=$TMP/llmobs.sock"
  "shim,no-daemon|env LD_PRELOAD=$SHIM LLMOBS_SOCKET=$TMP/absent.sock"
  "model:seqpacket-per-call|--model-seqpacket"
)

declare -A RES CPU
echo "bench: tls_roundtrip, $BYTES bytes each way, $ITER iterations x $REPEAT repeats, $ROUNDS rounds"
for r in $(seq "$ROUNDS"); do
  for v in "${VARIANTS[@]}"; do
    name=${v%%|*}
    pre=${v#*|}
    args=()
    if [ "${pre#--}" != "$pre" ]; then args=("$pre"); pre=""; fi
    got=$($pre "$BIN" --bytes "$BYTES" --iterations "$ITER" --repeat "$REPEAT" "${args[@]}")
    wall=$(awk '$1 == "ns_per_iter" { printf " %s", $2 }' <<<"$got")
    cpu=$(awk '$1 == "ns_per_iter" { printf " %s", $4 }' <<<"$got")
    [ -n "$wall" ] || { echo "bench: $name failed"; exit 1; }
    RES[$name]="${RES[$name]:-}$wall"
    CPU[$name]="${CPU[$name]:-}$cpu"
  done
done

median() { tr ' ' '\n' | grep . | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
base=$(echo "${RES[no-shim]}" | median)
base_cpu=$(echo "${CPU[no-shim]}" | median)
printf '%-26s %12s %8s %12s %8s\n' variant "cpu ns/iter" ratio "wall ns/iter" ratio
for v in "${VARIANTS[@]}"; do
  name=${v%%|*}
  m=$(echo "${RES[$name]}" | median)
  c=$(echo "${CPU[$name]}" | median)
  printf '%-26s %12.1f %7.3fx %12.1f %7.3fx\n' "$name" "$c" \
    "$(echo "$c $base_cpu" | awk '{ print $1 / $2 }')" "$m" \
    "$(echo "$m $base" | awk '{ print $1 / $2 }')"
done
kill -TERM "$DPID" 2>/dev/null
wait "$DPID" 2>/dev/null
DPID=""
"$OUT/llmobs" report --db "$TMP/bench.db" 2>/dev/null |
  grep -E 'shim_(calls|drop)|events ' | sed 's/^/bench: daemon: /' | head -n 12
echo "bench: goal: shim+daemon <= 1.05x no-shim (cpu)"
