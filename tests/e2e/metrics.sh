#!/usr/bin/env bash
# End-to-end check of /metrics, /healthz, /readyz and the attribution they
# carry (issue 14): a daemon (--no-bpf, its own DB, socket and port), the
# test LLM server on plain HTTP, and two "applications" run under the
# LD_PRELOAD shim: summarizer.py with LLMOBS_PROJECT=billing, ranker.py
# whose project comes from the config file's rule. The scrape, parsed by
# python3-prometheus-client, must equal `llmobs export` counter by counter
# (metrics_check.py); then the endpoints' method check, connection cap and
# timeout. Needs no BPF and no root. Usage: metrics.sh OUTPUT_DIR
set -u
OUT=$(cd "$1" && pwd)
E2E=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
T=$(mktemp -d /tmp/llmobs-metrics.XXXXXX)
pass=0 failn=0
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  [ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
ok() { echo "metrics e2e: ok   $*"; pass=$((pass + 1)); }
bad() { echo "metrics e2e: FAIL $*"; failn=$((failn + 1)); }
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/key.pem" -out "$T/cert.pem" -days 1 \
  -subj /CN=localhost >/dev/null 2>&1 || { echo "metrics e2e: no openssl"; exit 1; }
# The fixtures plus one rate-limited call (status 429, x-ratelimit-remaining-requests 0).
$PY - "$E2E/fixtures.jsonl" "$T/fixtures.jsonl" <<'PYEOF'
import base64, json, sys
src, dst = sys.argv[1], sys.argv[2]
lines = [json.loads(l) for l in open(src) if l.strip()]
e = dict(next(x for x in lines if x["id"] == "e2e:openai-chat"))
body = json.loads(base64.b64decode(e["req_body_b64"]))
body["model"] = "gpt-4o-mini-ratelimited"
e.update(id="e2e:openai-429", req_body_b64=base64.b64encode(json.dumps(body).encode()).decode(),
         status=429, resp_headers=[["content-type", "application/json"],
                                   ["x-ratelimit-remaining-requests", "0"], ["retry-after", "1"]],
         resp_body_b64=base64.b64encode(b'{"error":{"type":"rate_limit_exceeded","message":"slow down"}}').decode(),
         expected={})
with open(dst, "w") as f:
    for x in lines + [e]:
        f.write(json.dumps(x) + "\n")
PYEOF

PPORT=$(free_port); TPORT=$(free_port); MPORT=$(free_port)
$PY "$E2E/llm_server.py" --cert "$T/cert.pem" --key "$T/key.pem" --fixtures "$T/fixtures.jsonl" \
  --listen 127.0.0.1 --port "$TPORT" --plain-port "$PPORT" --ready-file "$T/srv.ready" \
  --lifetime 300 >"$T/server.log" 2>&1 &
pids+=($!)
cat >"$T/llmobsd.yaml" <<YAML
# the metrics test's config: flags on the command line override it
db: \${METRICS_TEST_DIR}/state/llmobs.db
listen: 127.0.0.1:${MPORT}
plain_ports: [${PPORT}]
metrics:
  max_series: 50
projects:
  rules:
    - app: ranker
      project: search
YAML
METRICS_TEST_DIR=$T "$OUT/llmobsd" --config "$T/llmobsd.yaml" --check-config >"$T/check.log" 2>&1 \
  && ok "--check-config accepts the test config" || bad "--check-config: $(cat "$T/check.log")"
METRICS_TEST_DIR=$T "$OUT/llmobsd" --config "$T/llmobsd.yaml" --no-bpf --socket "$T/llmobs.sock" \
  >"$T/daemon.log" 2>&1 &
DPID=$!
pids+=($DPID)
for _ in $(seq 100); do
  grep -q "ready" "$T/daemon.log" 2>/dev/null && [ -e "$T/srv.ready" ] && break
  sleep 0.1
done
grep -q "ready" "$T/daemon.log" || { cat "$T/daemon.log"; echo "metrics e2e: daemon not ready"; exit 1; }
M=http://127.0.0.1:$MPORT

code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
[ "$(code "$M/healthz")" = 200 ] && ok "/healthz 200" || bad "/healthz $(code "$M/healthz")"
[ "$(code "$M/readyz")" = 200 ] && ok "/readyz 200" || bad "/readyz $(code "$M/readyz")"
[ "$(code -X POST "$M/metrics")" = 405 ] && ok "POST refused (405)" || bad "POST $(code -X POST "$M/metrics")"
[ "$(code "$M/nope")" = 404 ] && ok "unknown path 404" || bad "unknown path"

mkdir -p "$T/bin"
cp "$E2E/clients/fleet_app.py" "$T/bin/summarizer.py"
cp "$E2E/clients/fleet_app.py" "$T/bin/ranker.py"
cp "$T/fixtures.jsonl" "$T/bin/fixtures.jsonl"
shim() { LD_PRELOAD=$OUT/libllmobs.so LLMOBS_SOCKET=$T/llmobs.sock LLMOBS_PLAIN_PORTS=$PPORT "$@"; }
# summarizer runs as nobody: the uid the sandboxed worker reads /proc as
# (issue 12), so its environment is readable there; a root process's is
# not, without CAP_SYS_PTRACE (README, "Attribution").
chmod 0711 "$T"
chmod -R a+rX "$T/bin"
shim env LLMOBS_PROJECT=billing setpriv --reuid nobody --regid nogroup --clear-groups \
  $PY "$T/bin/summarizer.py" "$T/bin/fixtures.jsonl" "$PPORT" 2 >/dev/null || bad "summarizer client failed"
shim $PY "$T/bin/ranker.py" "$T/fixtures.jsonl" "$PPORT" 1 >/dev/null || bad "ranker client failed"
# Records reach the DB within a drain tick and a flush (250 ms): wait until
# the count stops moving.
prev=-1
for _ in $(seq 50); do
  n=$("$OUT/llmobs" export --db "$T/state/llmobs.db" 2>/dev/null | wc -l)
  [ "$n" -gt 0 ] && [ "$n" = "$prev" ] && break
  prev=$n
  sleep 0.3
done
"$OUT/llmobs" export --db "$T/state/llmobs.db" >"$T/export.jsonl"
curl -s "$M/metrics" >"$T/metrics.txt"
if $PY "$E2E/metrics_check.py" "$M/metrics" "$T/export.jsonl" \
    '{"apps": {"summarizer": "billing", "ranker": "search"}, "min_429": 1, "ratelimit": 0}'; then
  ok "/metrics equals llmobs export ($(wc -l <"$T/export.jsonl") records)"
else
  bad "/metrics differs from llmobs export"
fi
[ -n "${METRICS_SAMPLE:-}" ] && cp "$T/metrics.txt" "$METRICS_SAMPLE" && cp "$T/export.jsonl" "$METRICS_SAMPLE.export.jsonl"

# Connection cap (16) and idle timeout (5 s): 16 idle connections take every
# slot; the next request is turned away; once they time out, scrapes work.
$PY - "$MPORT" <<'PYEOF' && ok "connection cap and timeout" || bad "connection cap and timeout"
import socket, sys, time, urllib.request
port = int(sys.argv[1])
idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(16)]
time.sleep(0.5)
try:
    urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2).read()
    sys.exit("a 17th connection was served")
except Exception:
    pass
time.sleep(6)
body = urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=3).read()
assert body == b"ok\n", body
for s in idle:
    s.close()
PYEOF

kill -TERM "$DPID"
wait "$DPID" 2>/dev/null
grep -q "llmobs: error\|Sanitizer\|Bad system call" "$T/daemon.log" && bad "daemon log: $(grep 'llmobs: error\|Sanitizer' "$T/daemon.log" | head -3)"
echo "metrics e2e: $pass passed, $failn failed"
[ "$failn" -eq 0 ]
