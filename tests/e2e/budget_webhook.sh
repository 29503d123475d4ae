#!/usr/bin/env bash
# Budget alerts through the real daemon, end to end, without root: llmobsd
# --no-bpf (its sandboxed worker) with a config holding a budget and a
# budget_webhook; curl under the LD_PRELOAD shim calls a local TLS server
# that answers like OpenAI (gpt-4o, 100,000 prompt tokens: $0.25 a call);
# three calls cross 50, 80 and 100 % of a $0.50 day. The local receiver
# must get exactly three POSTs, one per threshold, in order; the daemon's
# log must say the same three budget_alert lines; each call is recorded;
# and /metrics shows the budget's gauges and the prompts' e-mail count.
# Env: E2E_OUTPUT (build dir, default .output).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${E2E_OUTPUT:-$root/.output}
dir=$OUT/budget
rm -rf "$dir" && mkdir -p "$dir"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
llm_port=$(free_port) hook_port=$(free_port) metrics_port=$(free_port)
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$dir/key.pem" -out "$dir/cert.pem" -days 1 \
  -subj /CN=localhost 2>/dev/null

python3 - "$hook_port" "$dir/hook.jsonl" <<'PY' &
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        b = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with open(sys.argv[2], "a") as f:
            f.write(b.decode() + "\n")
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
pids+=($!)
python3 - "$llm_port" "$dir" <<'PY' &
import http.server, json, ssl, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        b = json.dumps({"id": "x", "object": "chat.completion", "model": "gpt-4o-2024-08-06",
                        "choices": [{"index": 0, "finish_reason": "stop",
                                     "message": {"role": "assistant", "content": "ok"}}],
                        "usage": {"prompt_tokens": 100000, "completion_tokens": 10,
                                  "total_tokens": 100010}}).encode()
        self.send_response(200); self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(b))); self.end_headers(); self.wfile.write(b)
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[2] + "/cert.pem", sys.argv[2] + "/key.pem")
s.socket = ctx.wrap_socket(s.socket, server_side=True)
s.serve_forever()
PY
pids+=($!)
wait_port() { for _ in $(seq 100); do
  python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2)' "$1" \
    2>/dev/null && return 0; sleep 0.1; done; echo "budget_webhook: port $1 never opened" >&2; return 1; }
wait_port "$hook_port"
wait_port "$llm_port"
cat > "$dir/llmobsd.yaml" <<EOF2
listen: "127.0.0.1:$metrics_port"
budgets:
  - name: gpt-4o-day
    model: "gpt-4o*"
    period: day
    usd: 0.5
budget_webhook: http://127.0.0.1:$hook_port/hook
EOF2
export LLMOBS_SOCKET=$dir/llmobs.sock
"$OUT/llmobsd" --no-bpf --config "$dir/llmobsd.yaml" --db "$dir/llmobs.db" \
  >"$dir/daemon.out" 2>"$dir/daemon.log" &
daemon=$!
pids+=("$daemon")
for _ in $(seq 50); do [ -S "$LLMOBS_SOCKET" ] && break; sleep 0.1; done
for _ in 1 2 3; do
  LD_PRELOAD=$OUT/libllmobs.so curl -sk --http1.1 "https://127.0.0.1:$llm_port/v1/chat/completions" \
    -H 'Content-Type: application/json' -d '{"model":"gpt-4o","messages":[{"role":"user","content":"mail jane@example.com"}]}' \
    >/dev/null
done
for _ in $(seq 50); do [ "$(wc -l < "$dir/hook.jsonl" 2>/dev/null || echo 0)" -ge 3 ] && break; sleep 0.1; done
sleep 0.5
curl -s "http://127.0.0.1:$metrics_port/metrics" > "$dir/metrics.txt" || true
kill -TERM "$daemon"
wait "$daemon" || true
python3 - "$dir" <<'PY'
import json, re, sys, sqlite3
d = sys.argv[1]
fail = []
posts = [json.loads(l) for l in open(d + "/hook.jsonl")] if __import__("os").path.exists(d + "/hook.jsonl") else []
if [p["threshold_pct"] for p in posts] != [50, 80, 100]:
    fail.append(f"webhook got {[p.get('threshold_pct') for p in posts]}, want [50, 80, 100]")
if any(p["type"] != "llmobs.budget_alert" or p["name"] != "gpt-4o-day" for p in posts):
    fail.append(f"webhook bodies: {posts}")
logged = re.findall(r"budget_alert name=gpt-4o-day .* threshold_pct=(\d+)", open(d + "/daemon.log").read())
if logged != ["50", "80", "100"]:
    fail.append(f"daemon logged {logged}")
n = sqlite3.connect(d + "/llmobs.db").execute("select count(*) from exchanges").fetchone()[0]
m = open(d + "/metrics.txt").read()
want = ['llmobs_budget_limit_usd{budget="gpt-4o-day",scope="model",period="day"} 0.5\n',
        'llmobs_budget_threshold_pct{budget="gpt-4o-day",scope="model",period="day"} 100\n']
for w in want:
    if w not in m:
        fail.append(f"/metrics lacks {w!r}")
emails = sum(float(v) for v in re.findall(r'^llmobs_sensitive_total\{[^}]*kind="email"\} (\S+)$', m, re.M))
if emails != 3:
    fail.append(f"/metrics: {emails} e-mails in llmobs_sensitive_total, want 3")
spent = re.search(r'llmobs_budget_spent_usd\{budget="gpt-4o-day"[^}]*\} ([0-9.e+-]+)', m)
if not spent or abs(float(spent.group(1)) - 0.7503) > 0.001:
    fail.append(f"/metrics budget spent: {spent and spent.group(1)}")
if n != 3:
    fail.append(f"{n} exchanges recorded, want 3")
for f in fail:
    print("budget_webhook: FAIL", f)
if not fail:
    print("budget_webhook: ok: 3 calls, 3 alerts logged and POSTed once each, /metrics gauges and sensitive counts")
sys.exit(1 if fail else 0)
PY
