#!/usr/bin/env bash
# make bench, Go part: what observing Go's crypto/tls costs a Go program.
# go_tls/main.go (client and server crypto/tls over net.Pipe in one
# process, no network; built here with Debian's golang-go) runs two shapes
# under each variant:
#   bare         nothing attached                                     (a)
#   empty-uprobe empty BPF programs where llmobsd attaches its own:
#                entries of (*Conn).Write/Read/Close, every RET       (b)
#   llmobsd-bpf  the daemon with BPF, as `make run` starts it         (c)
# and prints the process's CPU time (getrusage: all its threads, user +
# system, where the traps are paid) per round trip and per Write/Read
# call, with (c)/(a), (c)/(b), the time go_elf.c took to find the probe
# points, and the time bssl_find.c takes on Claude Code's binary. Rounds run the variants in turn, starting one further
# each round; each number is the median of every repeat of every round.
# Env: BENCH_SHORT=1 (one round, short repeats), BENCH_ROUNDS,
#      BENCH_REPEAT, BENCH_MS, OUTPUT.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${OUTPUT:-$ROOT/.output}
case $OUT in /*) ;; *) OUT=$ROOT/$OUT ;; esac
EMPTY=$OUT/bench/empty_probe
BIN=$OUT/bench/go_tls_bench
if [ -n "${BENCH_SHORT:-}" ]; then
  ROUNDS=${BENCH_ROUNDS:-1} REPEAT=${BENCH_REPEAT:-1} MS=${BENCH_MS:-300}
else
  ROUNDS=${BENCH_ROUNDS:-5} REPEAT=${BENCH_REPEAT:-3} MS=${BENCH_MS:-700}
fi
[ "$(id -u)" -eq 0 ] || { echo "go_tls: needs root (uprobes)"; exit 1; }
for f in "$EMPTY" "$OUT/llmobsd"; do
  [ -e "$f" ] || { echo "go_tls: $f missing (make all bench binaries)"; exit 1; }
done
command -v go >/dev/null || { echo "go_tls: no go (tools/install-deps.sh installs golang-go)"; exit 1; }
(cd "$ROOT/tools/bench/go_tls" && GOCACHE="$OUT/go-cache" GOFLAGS=-mod=mod GOPROXY=off \
  GOTOOLCHAIN=local CGO_ENABLED=0 go build -o "$BIN.tmp" . && mv "$BIN.tmp" "$BIN") ||
  { echo "go_tls: build failed"; exit 1; }

TMP=$(mktemp -d /tmp/llmobs-gobench.XXXXXX)
EPID="" BPID=""
stop() {	# stop PIDVAR: SIGTERM and wait
  local p=${!1}
  [ -n "$p" ] && kill -TERM "$p" 2>/dev/null && wait "$p" 2>/dev/null
  eval "$1="
}
cleanup() { stop EPID; stop BPID; rm -rf "$TMP"; }
trap cleanup EXIT

SHAPES=("1KiB-roundtrip|-bytes 1024 -resp-bytes 1024"
  "64KiB-prompt|-bytes 65536 -resp-bytes 1024")
VARIANTS=(bare empty-uprobe llmobsd-bpf)

setup() {
  case $1 in
  empty-uprobe)
    "$EMPTY" --go "$BIN" >"$TMP/empty.out" 2>&1 &
    EPID=$!
    for _ in $(seq 100); do grep -q '^ready' "$TMP/empty.out" && return 0; sleep 0.05; done
    echo "go_tls: empty_probe did not attach:"; cat "$TMP/empty.out"; exit 1 ;;
  llmobsd-bpf)
    rm -f "$TMP"/bpf.db*
    "$OUT/llmobsd" --db "$TMP/bpf.db" --socket "$TMP/bpf.sock" 2>"$TMP/bpf.log" >/dev/null &
    BPID=$!
    for _ in $(seq 600); do grep -q 'ready:' "$TMP/bpf.log" && break; sleep 0.05; done
    # The daemon probes a Go binary once it sees a process map it: one
    # that lives long enough for its scan (a full one every 2 s at worst).
    "$BIN" -ms 3000 >/dev/null &
    local w=$!
    for _ in $(seq 200); do grep -q "go tls: attached to $BIN" "$TMP/bpf.log" && break; sleep 0.05; done
    wait "$w"
    grep -q "go tls: attached to $BIN" "$TMP/bpf.log" && return 0
    echo "go_tls: llmobsd did not attach to $BIN:"; tail "$TMP/bpf.log"; exit 1 ;;
  esac
}

teardown() {
  case $1 in
  empty-uprobe) stop EPID ;;
  llmobsd-bpf) stop BPID ;;
  esac
}

# Uprobes on the bench binary that are not ours (another llmobsd on the
# host probes every Go program it sees): every variant would pay them.
foreign_probes() {
  command -v bpftool >/dev/null || { echo 0; return; }
  bpftool perf list 2>/dev/null | awk -v a="${EPID:-x}" -v b="${BPID:-x}" \
    '/uprobe.*go_tls_bench/ && $2 != a && $2 != b { n++ } END { print n + 0 }'
}
wait_quiet() {
  local i
  for i in $(seq 120); do
    [ "$(foreign_probes)" = 0 ] && return 0
    [ "$i" = 1 ] && echo "go_tls: someone else's uprobes are on $BIN; waiting (up to 2 min)"
    sleep 1
  done
  echo "go_tls: WARNING: foreign uprobes stayed on $BIN: numbers include them"
}

declare -A CPU CALLS
echo "go_tls: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) at start;" \
  "$ROUNDS rounds x $REPEAT repeats of ~$MS ms; $(go version | cut -d' ' -f3)"
for r in $(seq "$ROUNDS"); do
  nv=${#VARIANTS[@]}
  for k in $(seq 0 $((nv - 1))); do
    v=${VARIANTS[$(( (k + r - 1) % nv ))]}
    setup "$v"
    for s in "${SHAPES[@]}"; do
      shape=${s%%|*}
      for _ in $(seq "$REPEAT"); do
        wait_quiet
        # shellcheck disable=SC2086
        got=$("$BIN" ${s#*|} -ms "$MS") || { echo "go_tls: $v $shape failed"; exit 1; }
        CPU[$v/$shape]="${CPU[$v/$shape]:-} $(awk '{ print $4 }' <<<"$got")"
        CALLS[$shape]=$(awk '{ print $6 }' <<<"$got")
      done
    done
    teardown "$v"
  done
done
grep -h '^go discovery' "$TMP/empty.out" | sed 's/^/go_tls: /'
# BoringSSL found by fingerprint in Claude Code's binary (bssl_find.c),
# when the e2e suite has installed it (tests/e2e/agents).
CLAUDE=$ROOT/tests/e2e/agents/node_modules/@anthropic-ai/claude-code-linux-x64/claude
if [ -x "$CLAUDE" ]; then
  echo "go_tls: Claude Code's binary, $(( $(stat -c %s "$CLAUDE") >> 20 )) MiB:"
  "$EMPTY" --find "$CLAUDE" | sed 's/^/go_tls: /'
fi
echo "go_tls: load average $(cut -d' ' -f1-3 /proc/loadavg) at end"

stat3() {	# median min max of the numbers on stdin
  tr ' ' '\n' | grep . | sort -g |
    awk '{ a[NR] = $1 } END { printf "%s %s %s", a[int((NR + 1) / 2)], a[1], a[NR] }'
}
calc() { awk "BEGIN { printf \"$1\", $2 }"; }
for s in "${SHAPES[@]}"; do
  shape=${s%%|*}
  calls=${CALLS[$shape]}
  echo
  echo "== Go $shape ($calls crypto/tls Write/Read calls per iteration, both ends)"
  printf '%-16s %12s %9s %19s %9s\n' variant "cpu us/iter" "us/call" "[min-max] us/iter" "vs bare"
  declare -A M=()
  read -r base _ <<<"$(echo "${CPU[bare/$shape]}" | stat3)"
  for v in "${VARIANTS[@]}"; do
    read -r m lo hi <<<"$(echo "${CPU[$v/$shape]}" | stat3)"
    M[$v]=$m
    printf '%-16s %12s %9s %19s %8sx\n' "$v" "$(calc %.2f "$m / 1000")" \
      "$(calc %.3f "$m / 1000 / $calls")" \
      "[$(calc %.1f "$lo / 1000")-$(calc %.1f "$hi / 1000")]" "$(calc %.3f "$m / $base")"
  done
  echo "ratio (c)/(a) llmobsd-bpf / bare:         $(calc %.3f "${M[llmobsd-bpf]} / $base")"
  echo "ratio (c)/(b) llmobsd-bpf / empty-uprobe: $(calc %.3f "${M[llmobsd-bpf]} / ${M[empty-uprobe]}")"
  echo "  per call: the traps (b)-(a) $(calc %.2f "(${M[empty-uprobe]} - $base) / 1000 / $calls") us," \
    "llmobsd beyond them (c)-(b) $(calc %.2f "(${M[llmobsd-bpf]} - ${M[empty-uprobe]}) / 1000 / $calls") us"
done
