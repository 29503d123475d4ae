#!/usr/bin/env bash
# curl over HTTP/2 (ALPN h2, as curl does by default against real providers):
# single calls, a --next chain that reuses one connection (so later header
# blocks refer to the HPACK dynamic table the first ones filled), and
# --parallel transfers multiplexed as concurrent streams on one connection.
# Each call must report HTTP version 2. Usage: curl_h2.sh BODIES_DIR
set -u
B=$1
fail=0
C=(curl -sS --http2 --fail-with-body --max-time 30 -H 'content-type: application/json')
OA=(-H 'authorization: Bearer sk-e2e-dummy')
AN=(-H 'x-api-key: sk-ant-e2e-dummy' -H 'anthropic-version: 2023-06-01')
GG=(-H 'x-goog-api-key: e2e-dummy')
V=(-w '\nhttp_version=%{http_version}\n')

# run NAME MUST_CONTAIN N CURL_ARGS...: one curl invocation of N transfers,
# output checked, every transfer over HTTP/2.
run() {
  local name=$1 want=$2 n=$3 out rc got
  shift 3
  out=$("${C[@]}" "$@" 2>&1); rc=$?
  got=$(grep -c '^http_version=2$' <<<"$out")
  if [ $rc -eq 0 ] && grep -qF -- "$want" <<<"$out" && [ "$got" -eq "$n" ]; then
    echo "ok curl-h2 $name bytes=${#out}"
  else
    echo "FAIL curl-h2 $name rc=$rc h2_transfers=$got/$n: ${out:0:300}"
    fail=1
  fi
}

run openai-chat-compressed '"prompt_tokens":1234' 1 --compressed "${OA[@]}" "${V[@]}" \
  --data-binary @"$B/openai-chat.json" https://api.openai.com/v1/chat/completions
run anthropic-messages-stream 'event: message_stop' 1 -N "${AN[@]}" "${V[@]}" \
  --data-binary @"$B/anthropic-messages-stream.json" https://api.anthropic.com/v1/messages
run gemini-stream '"candidatesTokenCount":7' 1 -N "${GG[@]}" "${V[@]}" \
  --data-binary @"$B/gemini-stream.json" \
  'https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash-lite:streamGenerateContent?alt=sse'
# Three requests, one after the other, on one connection.
run openai-keepalive-chain 'response.completed' 3 "${OA[@]}" "${V[@]}" \
  --data-binary @"$B/openai-chat-stream.json" https://api.openai.com/v1/chat/completions \
  --next "${C[@]:1}" "${OA[@]}" "${V[@]}" --compressed \
  --data-binary @"$B/openai-responses.json" https://api.openai.com/v1/responses \
  --next "${C[@]:1}" "${OA[@]}" "${V[@]}" \
  --data-binary @"$B/openai-responses-stream.json" https://api.openai.com/v1/responses
# Three at once: concurrent streams multiplexed on one connection.
run anthropic-parallel '"cache_creation_input_tokens":3000' 3 --parallel --parallel-max 3 \
  "${AN[@]}" "${V[@]}" --data-binary @"$B/anthropic-messages.json" \
  https://api.anthropic.com/v1/messages \
  --next "${C[@]:1}" "${AN[@]}" "${V[@]}" -N \
  --data-binary @"$B/anthropic-messages-stream.json" https://api.anthropic.com/v1/messages \
  --next "${C[@]:1}" "${OA[@]}" "${V[@]}" \
  --data-binary @"$B/openai-chat.json" https://api.openai.com/v1/chat/completions
exit $fail
