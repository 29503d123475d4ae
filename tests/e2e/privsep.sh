#!/usr/bin/env bash
# Privilege separation (issue 12; README "Privilege separation"), with
# run.sh's CA and hosts, clients from chaos_ns.sh (every fixture once,
# through urllib, in a private net+mount namespace):
#  1. state: the worker of a running llmobsd has a uid other than 0,
#     CapEff, CapPrm and CapBnd 0, NoNewPrivs 1, Seccomp 2; the attacher
#     is root, without seccomp, and records nothing itself; what only it
#     may read (root's clients' LLMOBS_PROJECT, exe) reaches the records;
#  2. containment (tests/llmobsd-hooks, the test build): the first worker
#     tries something forbidden (open /etc/shadow, ptrace the attacher,
#     load a BPF program, execve, open an inet socket): it is refused
#     (EACCES, EPERM) or the worker is killed by seccomp, which the
#     attacher says before a new worker is ready and records;
#  3. malformed requests to the attacher: all 7 counted
#     (privsep_requests_malformed in the DB), none acted on, capture goes on;
#  4. restart: a crash injected in the worker's event path while clients
#     run, then a SIGKILL of the worker: the clients see no error, the
#     restarted worker records the later calls, integrity_check is ok, and
#     what was lost is counted by cause (the exit summary);
#  5. the attacher SIGKILLed: the worker ends within 2 s, and so do the
#     probes (no uprobe of the daemon left in bpftool's link list);
#  6. --no-bpf as root: one process, uid other than 0, Seccomp 2.
# Usage: privsep.sh TMP OUT (run.sh's temp dir and build dir). Needs root.
set -u
TMP=$1
OUT=$2
E2E=$(cd "$(dirname "$0")" && pwd)
P=$TMP/privsep
mkdir -p "$P"
ln -sfn "$TMP/ca" "$P/ca"
# chaos_ns.sh's hosts: the three API hosts its fixtures call.
cp "$TMP/hosts" "$P/hosts"
pass=0 fail=0
DPID=""
ok() { echo "PASS privsep: $*"; pass=$((pass + 1)); }
bad() { echo "FAIL privsep: $*"; fail=$((fail + 1)); }
# check WHAT 'CONDITION': CONDITION is evaluated (it may use && and ||).
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }
cleanup() { [ -n "$DPID" ] && kill -KILL "$DPID" 2>/dev/null; wait 2>/dev/null; }
trap cleanup EXIT

worker_of() { pgrep -P "$1" 2>/dev/null | head -n 1; }
status_of() { grep -E "^$2:" "/proc/$1/status" 2>/dev/null | awk '{ print $2 }'; }
counter() { sqlite3 "$1" "SELECT value FROM counters WHERE name = '$2'" 2>/dev/null; }

# start BIN LOG DB [ENV...]: the daemon in the background, ready or fail.
start() {
  local bin=$1 log=$2 db=$3
  shift 3
  env "$@" "$bin" --db "$db" --json --socket "$P/shim.sock" --listen off \
    >>"$P/records.jsonl" 2>"$log" &
  DPID=$!
  for _ in $(seq 300); do
    grep -q 'ready: ' "$log" 2>/dev/null && break
    kill -0 "$DPID" 2>/dev/null || break
    sleep 0.1
  done
  grep -q 'ready: ' "$log" && return 0
  bad "llmobsd not ready: $(tail -n 3 "$log")"
  kill -KILL "$DPID" 2>/dev/null	# its worker follows (its socket hangs up)
  wait "$DPID" 2>/dev/null
  DPID=""
  return 1
}
stop() {
  kill -TERM "$DPID" 2>/dev/null
  wait "$DPID" 2>/dev/null
  RC=$?
  DPID=""
}
# clients OUT: every fixture once; 0 if all were answered in full.
clients() {
  unshare -m -n -- bash "$E2E/chaos_ns.sh" "$P" once "$1" >/dev/null 2>&1 &&
    ! grep -q '^FAIL' "$1" && [ "$(grep -c '^ok ' "$1")" -gt 0 ]
}
stored() { sqlite3 "$1" "SELECT count(*) FROM exchanges" 2>/dev/null || echo 0; }
# wait_for LOG PATTERN [N]: up to 10 s for the Nth line matching PATTERN
wait_for() {
  local n=${3:-1}
  for _ in $(seq 100); do
    [ "$(grep -c -- "$2" "$1" 2>/dev/null)" -ge "$n" ] && return 0
    sleep 0.1
  done
  return 1
}

# --- 1. privilege state ----------------------------------------------------------
if start "$OUT/llmobsd" "$P/state.log" "$P/state.db"; then
  W=$(worker_of "$DPID")
  wait_for "$P/state.log" "sandboxed and ready"
  uid=$(status_of "$W" Uid) eff=$(status_of "$W" CapEff) prm=$(status_of "$W" CapPrm)
  bnd=$(status_of "$W" CapBnd) nnp=$(status_of "$W" NoNewPrivs) sec=$(status_of "$W" Seccomp)
  echo "  worker $W: Uid $uid CapEff $eff CapPrm $prm CapBnd $bnd NoNewPrivs $nnp Seccomp $sec"
  check "worker has a uid other than 0 (uid ${uid:-?})" '[ -n "$uid" ] && [ "${uid:-0}" -ne 0 ]'
  check "worker CapEff, CapPrm, CapBnd all 0" \
    '[ "$eff" = 0000000000000000 ] && [ "$prm" = 0000000000000000 ] && [ "$bnd" = 0000000000000000 ]'
  check "worker NoNewPrivs 1, Seccomp 2 (filter)" '[ "$nnp" = 1 ] && [ "$sec" = 2 ]'
  a_uid=$(status_of "$DPID" Uid) a_sec=$(status_of "$DPID" Seccomp) a_eff=$(status_of "$DPID" CapEff)
  echo "  attacher $DPID: Uid $a_uid CapEff $a_eff Seccomp $a_sec"
  check "attacher keeps only its capabilities (CapEff $a_eff, not full)" \
    '[ "$a_eff" != 0000000000000000 ] && [ "$a_eff" != "$(status_of 1 CapBnd)" ]'
  # root's clients, whose environment only the attacher may read
  LLMOBS_PROJECT=privsep-e2e clients "$P/state.out"
  sleep 1
  stop
  n=$(grep -c '^ok ' "$P/state.out")
  got=$(stored "$P/state.db")
  check "sandboxed worker records every call ($got of $n), exits 0 (rc=$RC)" \
    '[ "$got" -ge "$n" ] && [ "$RC" -eq 0 ]'
  proj=$(sqlite3 "$P/state.db" "SELECT count(*) FROM exchanges WHERE project = 'privsep-e2e'
    AND exe LIKE '%python%'")
  check "attribution through the attacher: LLMOBS_PROJECT of root's clients on $proj of $got" \
    '[ "$proj" -eq "$got" ] && [ "$got" -gt 0 ]'
fi

# --- 2. containment ------------------------------------------------------------------
HOOKS=$OUT/tests/llmobsd-hooks
if [ ! -x "$HOOKS" ]; then
  bad "containment: $HOOKS missing (make e2e builds it)"
else
  for what in shadow ptrace bpf exec socket; do
    log=$P/forbid-$what.log
    start "$HOOKS" "$log" "$P/forbid-$what.db" LLMOBS_TEST_FORBIDDEN=$what || continue
    # a killed worker's successor, or the refusal, then a ready worker
    wait_for "$log" "generation 2) sandboxed and ready\|forbidden .* refused"
    sleep 0.5
    killed=$(grep -c "killed by seccomp" "$log")
    refused=$(grep -c "forbidden .* refused" "$log")
    succeeded=$(grep -c "TEST HOOK: forbidden" "$log")
    clients "$P/forbid-$what.out"
    sleep 1
    stop
    why=$(grep -o "killed by seccomp[^;]*\|forbidden .* refused: .*" "$log" | head -n 1)
    got=$(stored "$P/forbid-$what.db") n=$(grep -c '^ok ' "$P/forbid-$what.out")
    check "forbidden $what: ${why:-nothing said}; then recorded $got of $n calls" \
      '[ "$succeeded" -eq 0 ] && [ $((killed + refused)) -ge 1 ] && [ "$got" -ge "$n" ]'
    if [ "$killed" -ge 1 ]; then
      check "forbidden $what: the attacher restarted the worker" \
        'grep -q "generation 2) sandboxed and ready" "$log"'
    fi
  done

  # --- 3. malformed requests -------------------------------------------------------------
  if start "$HOOKS" "$P/badreq.log" "$P/badreq.db" LLMOBS_TEST_FORBIDDEN=badreq; then
    clients "$P/badreq.out"
    sleep 2.5	# counters are persisted every 2 s
    stop
    m=$(counter "$P/badreq.db" privsep_requests_malformed)
    check "malformed requests rejected and counted (privsep_requests_malformed=${m:-none}, want 7)" \
      '[ "${m:-0}" -eq 7 ]'
    check "attacher said so once, and lived on (rc=$RC)" \
      '[ "$(grep -c '\''malformed request rejected'\'' "$P/badreq.log")" -eq 1 ] && [ "$RC" -eq 0 ]'
  fi

  # --- 4. restart under load ------------------------------------------------------------
  # The crash lands at the 40th event, in the middle of the first client run.
  if start "$HOOKS" "$P/crash.log" "$P/crash.db" LLMOBS_TEST_CRASH_AFTER=40; then
    clients "$P/crash-1.out"; c1=$?
    wait_for "$P/crash.log" "generation 2) sandboxed and ready"
    check "clients see no error while the worker crashes" '[ "$c1" -eq 0 ]'
    check "crash in the worker: the attacher says so and restarts it" \
      'grep -q "killed by signal 11" "$P/crash.log"'
    before=$(stored "$P/crash.db")
    clients "$P/crash-2.out"; c2=$?
    # then SIGKILL the worker, and once more
    kill -KILL "$(worker_of "$DPID")"
    wait_for "$P/crash.log" "generation 3) sandboxed and ready"
    clients "$P/crash-3.out"; c3=$?
    sleep 1
    stop
    n2=$(grep -c '^ok ' "$P/crash-2.out") n3=$(grep -c '^ok ' "$P/crash-3.out")
    after=$(stored "$P/crash.db")
    check "restarted workers record the later calls ($((after - before)) stored for $n2 + $n3)" \
      '[ "$c2" -eq 0 ] && [ "$c3" -eq 0 ] && [ $((after - before)) -ge $((n2 + n3)) ]'
    check "database integrity_check ok after two worker deaths" \
      '[ "$(sqlite3 "$P/crash.db" '\''PRAGMA integrity_check'\'')" = ok ]'
    restarts=$(counter "$P/crash.db" privsep_worker_restarts)
    check "restarts counted (privsep_worker_restarts=${restarts:-none}, want 2)" '[ "${restarts:-0}" -eq 2 ]'
    echo "  losses by cause: $(sqlite3 "$P/crash.db" "SELECT group_concat(name || '=' || value, ' ')
      FROM counters WHERE value > 0 AND (name LIKE '%drop%' OR name LIKE '%gap%' OR
      name LIKE '%unmatched%' OR name LIKE '%incomplete%')")"
  fi
fi

# --- 5. the attacher dies --------------------------------------------------------------
if start "$OUT/llmobsd" "$P/orphan.log" "$P/orphan.db"; then
  W=$(worker_of "$DPID")
  A=$DPID
  kill -KILL "$A"
  wait "$A" 2>/dev/null
  DPID=""
  for _ in $(seq 20); do kill -0 "$W" 2>/dev/null || break; sleep 0.1; done
  check "attacher SIGKILLed: its worker ends within 2 s" 'bash -c "! kill -0 $W 2>/dev/null"'
  sleep 0.5
  links=$(bpftool link show 2>/dev/null | grep -c "llmobsd($A)" || true)
  check "attacher SIGKILLed: none of its BPF links is left ($links)" '[ "$links" -eq 0 ]'
fi

# --- 6. --no-bpf as root -----------------------------------------------------------------
"$OUT/llmobsd" --no-bpf --db "$P/nobpf.db" --socket "$P/nobpf.sock" --listen off \
  2>"$P/nobpf.log" &
NPID=$!
for _ in $(seq 100); do [ -S "$P/nobpf.sock" ] && break; sleep 0.05; done
sleep 0.3
uid=$(status_of "$NPID" Uid) sec=$(status_of "$NPID" Seccomp) eff=$(status_of "$NPID" CapEff)
kids=$(pgrep -P "$NPID" | wc -l)
kill -TERM "$NPID"
wait "$NPID"
nrc=$?
check "--no-bpf as root: one process, uid ${uid:-?}, CapEff ${eff:-?}, Seccomp ${sec:-?}, exit $nrc" \
  '[ "$kids" -eq 0 ] && [ "${uid:-0}" -ne 0 ] && [ "$eff" = 0000000000000000 ] && [ "$sec" = 2 ] &&
  [ "$nrc" -eq 0 ]'

echo "privsep: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
