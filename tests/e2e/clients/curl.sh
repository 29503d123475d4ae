#!/usr/bin/env bash
# curl clients: fixture bodies posted with --http1.1 to the real API URLs,
# with and without --compressed, one connection per call except the --next
# pair, which shares one keep-alive connection. Usage: curl.sh BODIES_DIR
set -u
B=$1
fail=0
C=(curl -sS --http1.1 --fail-with-body --max-time 30 -H 'content-type: application/json')
OA=(-H 'authorization: Bearer sk-e2e-dummy')
AN=(-H 'x-api-key: sk-ant-e2e-dummy' -H 'anthropic-version: 2023-06-01')
GG=(-H 'x-goog-api-key: e2e-dummy')

# run NAME MUST_CONTAIN CURL_ARGS...: one curl invocation, output checked.
run() {
  local name=$1 want=$2 out rc
  shift 2
  out=$("${C[@]}" "$@" 2>&1); rc=$?
  if [ $rc -eq 0 ] && grep -qF -- "$want" <<<"$out"; then
    echo "ok curl $name bytes=${#out}"
  else
    echo "FAIL curl $name rc=$rc: ${out:0:300}"
    fail=1
  fi
}

run openai-chat-compressed '"prompt_tokens":1234' --compressed "${OA[@]}" \
  --data-binary @"$B/openai-chat.json" https://api.openai.com/v1/chat/completions
run anthropic-messages '"cache_creation_input_tokens":3000' "${AN[@]}" \
  --data-binary @"$B/anthropic-messages.json" https://api.anthropic.com/v1/messages
run gemini-generate '"thoughtsTokenCount":120' --compressed "${GG[@]}" \
  --data-binary @"$B/gemini-generate.json" \
  https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent
run gemini-stream '"candidatesTokenCount":7' -N "${GG[@]}" \
  --data-binary @"$B/gemini-stream.json" \
  'https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash-lite:streamGenerateContent?alt=sse'
run anthropic-messages-stream 'event: message_stop' -N "${AN[@]}" \
  --data-binary @"$B/anthropic-messages-stream.json" https://api.anthropic.com/v1/messages
# A chat stream without include_usage: the daemon estimates the tokens.
run openai-chat-stream-no-usage 'data: [DONE]' -N "${OA[@]}" \
  --data-binary @"$B/openai-chat-stream-no-usage.json" https://api.openai.com/v1/chat/completions
# Two requests on one keep-alive connection.
run openai-keepalive-pair 'response.completed' "${OA[@]}" \
  --data-binary @"$B/openai-chat-stream.json" https://api.openai.com/v1/chat/completions \
  --next "${C[@]:1}" "${OA[@]}" --compressed \
  --data-binary @"$B/openai-responses.json" https://api.openai.com/v1/responses \
  --next "${C[@]:1}" "${OA[@]}" \
  --data-binary @"$B/openai-responses-stream.json" https://api.openai.com/v1/responses
exit $fail
