# Sourced by the shell test suites (tests/telemetry/run.sh, tests/otlp/run.sh):
# counted checks and polling. A suite ends with
#   echo "NAME: $PASS passed, $FAILED failed"; [ "$FAILED" = 0 ]
PASS=0 FAILED=0
ok() { PASS=$((PASS + 1)); echo "  ok   $*"; }
bad() { FAILED=$((FAILED + 1)); echo "  FAIL $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
wait_for() {	# wait_for SECONDS CMD...: until CMD succeeds
  local until=$((SECONDS + $1)); shift
  while [ $SECONDS -lt $until ]; do "$@" && return 0; sleep 0.2; done
  return 1
}
