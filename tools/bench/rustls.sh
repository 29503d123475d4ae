#!/usr/bin/env bash
# make bench, rustls part: what seeing rustls by its secrets costs the
# observed program. Deno (rustls with aws-lc, tests/e2e/agents) fetches
# from a local HTTPS server (rustls/server.py, TLS 1.3, keep-alive), one
# request after another; Bun (BoringSSL without symbols, its SSL_write /
# SSL_read found by fingerprint: Claude Code's stack) does the same, for
# the other path of issue 11 with no Go in it. Under each variant:
#   bare         nothing attached                                     (a)
#   llmobsd-bpf  the daemon with BPF, as `make run` starts it: the key
#                schedule probed, the sockets' bytes copied, the records
#                decrypted in the worker                               (c)
# and prints the Deno process's CPU time (user + system, all threads:
# the syscall tracepoints and copies are paid there) per request, with
# (c)/(a) and the difference per request, and the time awslc_find.c takes
# on Codex's and Deno's binaries. The key probe fires four times per
# connection, not per request: each shape reuses one connection. Rounds
# run the variants in turn, starting one further each round; each number
# is the median of every repeat of every round.
# Env: BENCH_SHORT=1 (one round, short repeats), BENCH_ROUNDS, BENCH_REPEAT,
#      BENCH_REQUESTS, OUTPUT.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${OUTPUT:-$ROOT/.output}
case $OUT in /*) ;; *) OUT=$ROOT/$OUT ;; esac
# The daemon names binaries by their real path (node_modules may be a link).
AG=$(readlink -f "$ROOT/tests/e2e/agents/node_modules")
DENO=$AG/@deno/linux-x64-glibc/deno
BUN=$AG/@oven/bun-linux-x64/bin/bun
CODEX=$AG/@openai/codex-linux-x64/vendor/x86_64-unknown-linux-musl/bin/codex
EMPTY=$OUT/bench/empty_probe
if [ -n "${BENCH_SHORT:-}" ]; then
  ROUNDS=${BENCH_ROUNDS:-1} REPEAT=${BENCH_REPEAT:-1} N=${BENCH_REQUESTS:-300}
else
  ROUNDS=${BENCH_ROUNDS:-5} REPEAT=${BENCH_REPEAT:-3} N=${BENCH_REQUESTS:-1000}
fi
[ "$(id -u)" -eq 0 ] || { echo "rustls: needs root (BPF)"; exit 1; }
[ -x "$DENO" ] || { echo "rustls: SKIP: no Deno at $DENO (the e2e suite installs tests/e2e/agents)"; exit 0; }
for f in "$EMPTY" "$OUT/llmobsd"; do
  [ -e "$f" ] || { echo "rustls: $f missing (make all bench binaries)"; exit 1; }
done

TMP=$(mktemp -d /tmp/llmobs-rustlsbench.XXXXXX)
SPID="" BPID=""
stop() {	# stop PIDVAR: SIGTERM and wait
  local p=${!1}
  [ -n "$p" ] && kill -TERM "$p" 2>/dev/null && wait "$p" 2>/dev/null
  eval "$1="
}
cleanup() { stop BPID; stop SPID; rm -rf "$TMP"; }
trap cleanup EXIT

# A CA for Deno to trust and a leaf for the server (rustls refuses a CA
# certificate used as the server's).
{
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
    -keyout "$TMP/ca.key" -out "$TMP/ca.pem" -subj "/CN=bench CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" &&
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$TMP/key.pem" \
    -out "$TMP/leaf.csr" -subj "/CN=localhost" &&
  printf '%s\n' "subjectAltName=DNS:localhost" "basicConstraints=critical,CA:FALSE" \
    "extendedKeyUsage=serverAuth" >"$TMP/ext.cnf" &&
  openssl x509 -req -in "$TMP/leaf.csr" -CA "$TMP/ca.pem" -CAkey "$TMP/ca.key" -CAcreateserial \
    -days 1 -out "$TMP/cert.pem" -extfile "$TMP/ext.cnf"
} >/dev/null 2>&1 || { echo "rustls: openssl failed"; exit 1; }
export DENO_CERT=$TMP/ca.pem DENO_DIR=$TMP/deno DENO_NO_UPDATE_CHECK=1 \
  NODE_EXTRA_CA_CERTS=$TMP/ca.pem
# runtime|binary|how it runs client.mjs
RUNTIMES=("deno|$DENO|run --allow-net")
[ -x "$BUN" ] && RUNTIMES+=("bun|$BUN|")

# Large answers are left out: this Python server takes ~40 ms to send 64
# KiB (a run of 1,000 requests would hold the e2e lock for minutes).
SHAPES=("1KiB-roundtrip|1024|1024" "64KiB-prompt|65536|1024")
VARIANTS=(bare llmobsd-bpf)
echo "rustls: Deno $("$DENO" --version | head -1 | cut -d' ' -f2), Bun $("$BUN" --version 2>/dev/null)," \
  "$N requests per repeat," \
  "$ROUNDS rounds x $REPEAT repeats; load average $(cut -d' ' -f1-3 /proc/loadavg)"

setup() {
  case $1 in
  llmobsd-bpf)
    rm -f "$TMP"/bpf.db*
    "$OUT/llmobsd" --db "$TMP/bpf.db" --socket "$TMP/bpf.sock" 2>"$TMP/bpf.log" >/dev/null &
    BPID=$!
    for _ in $(seq 600); do grep -q 'ready:' "$TMP/bpf.log" && break; sleep 0.05; done
    # The daemon probes a binary once it sees a process map it.
    if [ "$RT" = bun ]; then "$RT_BIN" -e 'setTimeout(() => {}, 3000)'
    else "$RT_BIN" eval 'setTimeout(() => {}, 3000)'; fi >/dev/null 2>&1 &
    local w=$!
    for _ in $(seq 200); do grep -q "attached to $RT_BIN (" "$TMP/bpf.log" && break; sleep 0.05; done
    kill "$w" 2>/dev/null; wait "$w" 2>/dev/null
    grep -q "attached to $RT_BIN (" "$TMP/bpf.log" && return 0
    echo "rustls: llmobsd did not attach to $RT_BIN:"; tail "$TMP/bpf.log"; exit 1 ;;
  esac
}

stat3() {	# median min max of the numbers on stdin
  tr ' ' '\n' | grep . | sort -g |
    awk '{ a[NR] = $1 } END { printf "%s %s %s", a[int((NR + 1) / 2)], a[1], a[NR] }'
}
calc() { awk "BEGIN { printf \"$1\", $2 }"; }

declare -A CPU=()
for rt in "${RUNTIMES[@]}"; do
IFS='|' read -r RT RT_BIN RT_ARGS <<<"$rt"
for s in "${SHAPES[@]}"; do
  IFS='|' read -r shape req resp <<<"$s"
  stop SPID
  rm -f "$TMP/port"
  python3 "$ROOT/tools/bench/rustls/server.py" "$TMP/cert.pem" "$TMP/key.pem" "$TMP/port" "$resp" &
  SPID=$!
  for _ in $(seq 100); do [ -s "$TMP/port" ] && break; sleep 0.05; done
  url="https://localhost:$(cat "$TMP/port")/"
  for r in $(seq 0 $((ROUNDS - 1))); do
    for i in "${!VARIANTS[@]}"; do
      v=${VARIANTS[$(( (i + r) % ${#VARIANTS[@]} ))]}
      setup "$v"
      for _ in $(seq "$REPEAT"); do
        # shellcheck disable=SC2086 # RT_ARGS: words
        out=$("$RT_BIN" $RT_ARGS "$ROOT/tools/bench/rustls/client.mjs" "$url" "$N" "$req") ||
          { echo "rustls: client failed: $out"; exit 1; }
        CPU[$RT/$shape/$v]+="${out%% *} "
      done
      if [ "$v" = llmobsd-bpf ]; then
        stop BPID
        [ "$shape" = "${SHAPES[0]%%|*}" ] && [ "$r" = 0 ] &&
          "$OUT/llmobs" report --db "$TMP/bpf.db" 2>/dev/null | grep -E "tls13_|exchanges" | head -5 |
          sed 's/^/rustls: daemon: /'
      fi
    done
  done
  echo
  echo "== $RT fetch, $shape (request $req B, response $resp B)"
  printf '%-14s %14s %21s\n' variant "cpu us/request" "[min-max]"
  for v in "${VARIANTS[@]}"; do
    read -r m lo hi <<<"$(stat3 <<<"${CPU[$RT/$shape/$v]}")"
    printf '%-14s %14s %21s\n' "$v" "$m" "[$lo-$hi]"
    eval "M_${v//-/_}=$m"
  done
  echo "ratio (c)/(a) llmobsd-bpf / bare: $(calc %.3f "$M_llmobsd_bpf / $M_bare")" \
    " (+$(calc %.1f "$M_llmobsd_bpf - $M_bare") us CPU per request)"
done
done
stop SPID
echo
for b in "$CODEX" "$DENO"; do
  [ -x "$b" ] || continue
  echo "rustls: $(basename "$b"), $(( $(stat -c %s "$b") >> 20 )) MiB:"
  "$EMPTY" --find-awslc "$b" | sed 's/^/rustls: /'
done
echo "rustls: load average $(cut -d' ' -f1-3 /proc/loadavg) at end"
