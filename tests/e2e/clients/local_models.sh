#!/usr/bin/env bash
# Clients of local model servers over plain HTTP on loopback (captured by
# the daemon's syscall path, not TLS): Ollama's native /api/chat (NDJSON
# stream) and /api/generate with curl, a vLLM-style OpenAI-compatible SSE
# stream with Python's urllib. Usage: local_models.sh BODIES_DIR
set -u
B=$1
fail=0
C=(curl -sS --fail-with-body --max-time 30 -H 'content-type: application/json')

# check NAME MUST_CONTAIN RC OUTPUT
check() {
  if [ "$3" -eq 0 ] && grep -qF -- "$2" <<<"$4"; then
    echo "ok local $1 bytes=${#4}"
  else
    echo "FAIL local $1 rc=$3: ${4:0:300}"
    fail=1
  fi
}

out=$("${C[@]}" -N --data-binary @"$B/ollama-chat-stream.json" http://127.0.0.1:11434/api/chat 2>&1)
check ollama-chat-stream '"eval_count":298' $? "$out"
out=$("${C[@]}" --data-binary @"$B/ollama-generate.json" http://localhost:11434/api/generate 2>&1)
check ollama-generate '"eval_count":12' $? "$out"
out=$(/usr/bin/python3 - "$B/vllm-chat-stream.json" 2>&1 <<'PY'
import sys, urllib.request
body = open(sys.argv[1], "rb").read()
req = urllib.request.Request("http://127.0.0.1:8000/v1/chat/completions", data=body,
                             headers={"content-type": "application/json"})
with urllib.request.urlopen(req, timeout=30) as r:
    for line in r:  # read as the stream comes
        sys.stdout.write(line.decode())
PY
)
check vllm-chat-stream 'data: [DONE]' $? "$out"
exit $fail
