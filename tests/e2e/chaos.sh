#!/usr/bin/env bash
# Chaos test: the daemon is SIGKILLed and restarted while clients stream,
# and its database is made full and read-only while it captures.
#
#  1. baseline: every fixture called once with no daemon running; the
#     sha256 of each body the client got is what every later call must get.
#  2. kills: streaming clients (urllib, curl) and one long-running client
#     loop in a private net+mount namespace (chaos_ns.sh); llmobsd is
#     SIGKILLed CHAOS_KILLS times at random moments and restarted. After
#     each kill `PRAGMA integrity_check` must say ok. The clients must see
#     0 errors and byte-identical bodies. The last daemon must capture the
#     long-running client, which started before every restart (re-attach).
#  3. disk full: the DB on a 1 MiB tmpfs (in the daemon's own mount
#     namespace) filled up: capture goes on (--json still prints every
#     exchange), records are dropped and counted, one log line says why;
#     once space is back the daemon records again.
#  4. read-only: an existing DB on a read-only file system, and a DB that
#     cannot be created at all: the same. (A file system going read-only
#     under an open DB is test_store_full's part: Linux refuses to remount
#     read-only while the daemon holds the file open for writing.)
# Needs root. Builds nothing: `make chaos` builds first.
# Env: CHAOS_KILLS (default 100), CHAOS_CLIENTS (urllib streamers, 3),
#      CHAOS_KEEP=1 keeps the temp dir.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
E2E=$ROOT/tests/e2e
OUT=${E2E_OUTPUT:-$ROOT/.output}
KILLS=${CHAOS_KILLS:-100}
PY=/usr/bin/python3

if [ "$(id -u)" -ne 0 ]; then
  echo "chaos: needs root (BPF uprobes, namespaces)"
  exit 1
fi
TMP=$(mktemp -d /tmp/llmobs-chaos.XXXXXX)
DPID=""
NSPID=""
fails=0
cleanup() {
  touch "$TMP/stop"
  [ -n "$DPID" ] && kill -KILL "$DPID" 2>/dev/null
  [ -n "$NSPID" ] && { sleep 1; kill "$NSPID" 2>/dev/null; }
  wait 2>/dev/null
  if [ "${CHAOS_KEEP:-0}" = 1 ]; then echo "chaos: kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
  echo "chaos: FAIL: $*"
  fails=$((fails + 1))
}

# --- CA, certificate, hosts (as run.sh) --------------------------------------
HOSTS=(api.openai.com api.anthropic.com generativelanguage.googleapis.com)
mkdir -p "$TMP/ca"
SAN="DNS:localhost,IP:127.0.0.1"
for h in "${HOSTS[@]}"; do SAN="$SAN,DNS:$h"; done
{
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$TMP/ca/ca.key" -out "$TMP/ca/ca.pem" -days 2 -subj "/CN=llm-observer chaos CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" &&
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$TMP/ca/server.key" -out "$TMP/ca/server.csr" -subj "/CN=api.openai.com" &&
  printf '%s\n' "subjectAltName=$SAN" "basicConstraints=critical,CA:FALSE" \
    "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" >"$TMP/ca/ext.cnf" &&
  openssl x509 -req -in "$TMP/ca/server.csr" -CA "$TMP/ca/ca.pem" -CAkey "$TMP/ca/ca.key" \
    -CAcreateserial -days 2 -out "$TMP/ca/server.pem" -extfile "$TMP/ca/ext.cnf"
} >"$TMP/ca/openssl.log" 2>&1 || { cat "$TMP/ca/openssl.log"; exit 1; }
{
  echo "127.0.0.1 localhost"
  for h in "${HOSTS[@]}"; do echo "127.0.0.1 $h"; done
} >"$TMP/hosts"

# start_daemon LOG [unshare-wrapper...]: llmobsd in the background, waits
# for its ready line (30 s). Sets DPID and READY_NS (CLOCK_REALTIME).
start_daemon() {
  local log=$1 db=$2
  shift 2
  "$@" "$OUT/llmobsd" --db "$db" --json --socket "$TMP/shim.sock" \
    >>"$TMP/records.jsonl" 2>"$log" &
  DPID=$!
  for _ in $(seq 300); do
    grep -q ' ready' "$log" 2>/dev/null && break
    kill -0 "$DPID" 2>/dev/null || break
    sleep 0.1
  done
  READY_NS=$(date +%s%N)
  grep -q ' ready' "$log" || { fail "llmobsd not ready: $(tail -n 5 "$log")"; return 1; }
}

stop_daemon() {
  kill -TERM "$DPID" 2>/dev/null
  wait "$DPID" 2>/dev/null
  DPID=""
}

ok_lines() { grep -c '^ok ' "$1"; }

# --- 1. baseline, no daemon ---------------------------------------------------
unshare -m -n -- bash "$E2E/chaos_ns.sh" "$TMP" once "$TMP/baseline.out"
if [ $? -ne 0 ] || grep -q '^FAIL' "$TMP/baseline.out"; then
  fail "baseline clients failed: $(grep FAIL "$TMP/baseline.out" | head -n 3)"
  exit 1
fi
echo "chaos: baseline: $(ok_lines "$TMP/baseline.out") calls without a daemon"

# --- 2. SIGKILL during streaming ------------------------------------------------
DB=$TMP/chaos.db
start_daemon "$TMP/daemon.0.log" "$DB" || exit 1
unshare -m -n -- bash "$E2E/chaos_ns.sh" "$TMP" chaos &
NSPID=$!
for _ in $(seq 300); do [ -e "$TMP/ns.ready" ] && break; sleep 0.1; done
[ -e "$TMP/ns.ready" ] || { fail "clients did not start"; exit 1; }
T0=$(date +%s)
bad_integrity=0
for i in $(seq "$KILLS"); do
  # a random moment 0.1-0.8 s into this daemon's life, streams in flight
  sleep "0.$((RANDOM % 8 + 1))"
  kill -KILL "$DPID"
  wait "$DPID" 2>/dev/null
  ic=$(sqlite3 "$DB" "PRAGMA integrity_check" 2>&1)
  if [ "$ic" != ok ]; then
    bad_integrity=$((bad_integrity + 1))
    fail "integrity_check after kill $i: $ic"
  fi
  start_daemon "$TMP/daemon.$i.log" "$DB" || break
done
LAST_READY_NS=$READY_NS
# the long-running client, started before all of these daemons, calls
# every 0.2 s: give the last daemon time to see a few calls
sleep 3
touch "$TMP/stop"
wait "$NSPID"
ns_rc=$?
NSPID=""
stop_daemon
echo "chaos: $KILLS kills in $(( $(date +%s) - T0 )) s, integrity_check ok after $((KILLS - bad_integrity))"
[ "$(sqlite3 "$DB" "PRAGMA integrity_check")" = ok ] || fail "integrity_check at the end"

# Clients: 0 errors, every body identical to the baseline's for that call.
calls=0
errors=0
for f in "$TMP"/chaos/*.out; do
  n=$(ok_lines "$f")
  calls=$((calls + n))
  errors=$((errors + $(grep -c '^FAIL' "$f")))
  grep -q '^FAIL' "$f" && fail "$(basename "$f"): $(grep -c '^FAIL' "$f") failed calls: $(grep '^FAIL' "$f" | head -n 2)"
  [ "$n" -gt 0 ] || fail "$(basename "$f"): no calls"
done
[ "$ns_rc" -eq 0 ] || fail "a client exited non-zero"
$PY - "$TMP/baseline.out" "$TMP"/chaos/*.out <<'PYEOF' || fail "bodies differ from the baseline"
import sys
want = dict(l.split()[1:3] for l in open(sys.argv[1]) if l.startswith("ok "))
bad = 0
for path in sys.argv[2:]:
    for l in open(path):
        if l.startswith("ok "):
            _, fid, digest = l.split()
            if want.get(fid) != digest:
                bad += 1
                print(f"chaos: {path}: {fid} body differs from the no-daemon run")
sys.exit(1 if bad else 0)
PYEOF
LONG=$(cat "$TMP/long.pid" 2>/dev/null)
recorded=$(sqlite3 "$DB" "SELECT count(*) FROM exchanges")
reattached=$(sqlite3 "$DB" "SELECT count(*) FROM exchanges WHERE pid = ${LONG:-0} AND ts_start_ns > $LAST_READY_NS")
echo "chaos: clients made $calls calls with $errors errors; $recorded exchanges recorded;" \
  "long-running client (pid $LONG) seen $reattached times by the last daemon"
[ "${reattached:-0}" -ge 3 ] || fail "the last daemon did not capture the long-running client (re-attach)"

# --- 3. disk full ------------------------------------------------------------------
# The DB lives on a 1 MiB tmpfs mounted in the daemon's own mount namespace;
# a filler file takes the space that is left once the DB exists.
mkdir -p "$TMP/full"
: >"$TMP/records.jsonl"
start_daemon "$TMP/full.log" "$TMP/full/db" \
  unshare -m -- sh -c 'mount -t tmpfs -o size=1m tmpfs "$0" && exec "$@"' "$TMP/full" || exit 1
nsenter -t "$DPID" -m -- dd if=/dev/zero of="$TMP/full/filler" bs=64k status=none 2>/dev/null
unshare -m -n -- bash "$E2E/chaos_ns.sh" "$TMP" once "$TMP/full-1.out" || fail "clients failed on a full disk"
sleep 1
n1=$(ok_lines "$TMP/full-1.out")
printed=$(grep -c '"api"' "$TMP/records.jsonl")
[ "$printed" -ge "$n1" ] || fail "disk full: $printed exchanges printed for $n1 calls (capture must go on)"
said=$(grep -c 'records are dropped' "$TMP/full.log")
[ "$said" -eq 1 ] || fail "disk full: $said 'records are dropped' lines, want 1: $(grep store "$TMP/full.log" | head -n 3)"
nsenter -t "$DPID" -m -- rm -f "$TMP/full/filler"
unshare -m -n -- bash "$E2E/chaos_ns.sh" "$TMP" once "$TMP/full-2.out" || fail "clients failed after space came back"
sleep 1
n2=$(ok_lines "$TMP/full-2.out")
stored=$(nsenter -t "$DPID" -m -- sqlite3 "$TMP/full/db" "SELECT count(*) FROM exchanges")
grep -q 'writing again' "$TMP/full.log" || fail "disk full: no 'writing again' once space came back"
[ "${stored:-0}" -ge "$n2" ] || fail "disk full: $stored exchanges stored after space came back, want >= $n2"
stop_daemon
dropped=$(sed -n 's/.* \([0-9]*\) records dropped.*/\1/p' "$TMP/full.log" | tail -n 1)
[ "${dropped:-0}" -ge 1 ] || fail "disk full: exit summary counts ${dropped:-no} records dropped"
echo "chaos: disk full: $printed exchanges printed, ${dropped:-?} records dropped and counted, one line:" \
  "$(grep -o 'store: .*' "$TMP/full.log" | head -n 1)"

# --- 4. read-only ---------------------------------------------------------------------
# A real DB (a copy of the one above) on a file system mounted read-only.
mkdir -p "$TMP/ro"
: >"$TMP/records.jsonl"
export SRC_DB=$DB
start_daemon "$TMP/ro.log" "$TMP/ro/db" unshare -m -- sh -c \
  'mount -t tmpfs -o size=8m tmpfs "$0" && cp "$SRC_DB" "$0/db" && mount -o remount,ro "$0" && exec "$@"' \
  "$TMP/ro" || exit 1
unshare -m -n -- bash "$E2E/chaos_ns.sh" "$TMP" once "$TMP/ro-1.out" || fail "clients failed with a read-only DB"
sleep 1
stop_daemon
n1=$(ok_lines "$TMP/ro-1.out")
printed=$(grep -c '"api"' "$TMP/records.jsonl")
dropped=$(sed -n 's/.* \([0-9]*\) records dropped.*/\1/p' "$TMP/ro.log" | tail -n 1)
said=$(grep -c 'records are dropped' "$TMP/ro.log")
[ "$printed" -ge "$n1" ] || fail "read-only: $printed exchanges printed for $n1 calls"
[ "${dropped:-0}" -ge "$n1" ] || fail "read-only: ${dropped:-no} records dropped for $n1 calls"
[ "$said" -eq 1 ] || fail "read-only: $said 'records are dropped' lines, want 1: $(grep -i 'store\|database' "$TMP/ro.log" | head -n 3)"
echo "chaos: read-only DB: $printed exchanges printed, ${dropped:-?} records dropped, one line:" \
  "$(grep -o 'store: .*\|cannot open database.*' "$TMP/ro.log" | head -n 1)"

# A DB that cannot be opened at all: the daemon still captures.
: >"$TMP/records.jsonl"
start_daemon "$TMP/ro2.log" "$TMP/ro/db2" \
  unshare -m -- sh -c 'mount -t tmpfs -o size=1m,ro tmpfs "$0" && exec "$@"' "$TMP/ro" || exit 1
unshare -m -n -- bash "$E2E/chaos_ns.sh" "$TMP" once "$TMP/ro-2.out" || fail "clients failed"
sleep 1
stop_daemon
n1=$(ok_lines "$TMP/ro-2.out")
printed=$(grep -c '"api"' "$TMP/records.jsonl")
dropped=$(sed -n 's/.* \([0-9]*\) records dropped.*/\1/p' "$TMP/ro2.log" | tail -n 1)
[ "$printed" -ge "$n1" ] && [ "${dropped:-0}" -ge "$n1" ] && grep -q 'capture goes on' "$TMP/ro2.log" ||
  fail "unopenable DB: $printed printed, ${dropped:-no} dropped for $n1 calls"
echo "chaos: unopenable DB: $printed exchanges printed, ${dropped:-?} records dropped"

if [ "$fails" -eq 0 ]; then
  echo "chaos: passed"
else
  echo "chaos: $fails failures"
  exit 1
fi
