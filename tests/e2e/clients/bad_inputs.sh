#!/usr/bin/env bash
# Inputs an observer must survive: HTTPS that is not an LLM call, a stream
# the server cuts, a 10 MB request body. Usage: bad_inputs.sh BODIES_DIR
set -u
B=$1
fail=0
C=(curl -sS --http1.1 --max-time 60 -H 'authorization: Bearer sk-e2e-dummy')

out=$("${C[@]}" -w ' http=%{http_code}' https://api.openai.com/v1/models 2>&1)
if grep -q 'http=200' <<<"$out"; then echo "ok curl non-llm-get-models"; else echo "FAIL curl non-llm-get-models: $out"; fail=1; fi

out=$("${C[@]}" -w ' http=%{http_code}' -H 'content-type: application/json' \
  --data-binary '{"hello":"world"}' https://api.openai.com/e2e/not-an-llm-call 2>&1)
if grep -q 'http=404' <<<"$out"; then echo "ok curl non-llm-random-path"; else echo "FAIL curl non-llm-random-path: $out"; fail=1; fi

# The server closes the connection after 4 events: curl must see a cut stream.
out=$("${C[@]}" -N -H 'content-type: application/json' -H 'anthropic-version: 2023-06-01' \
  --data-binary @"$B/anthropic-stream-truncated.json" https://api.anthropic.com/v1/messages 2>&1)
rc=$?
if [ $rc -ne 0 ] && grep -q 'message_start' <<<"$out"; then
  echo "ok curl truncated-stream (curl rc=$rc as expected)"
else
  echo "FAIL curl truncated-stream rc=$rc: ${out:0:300}"; fail=1
fi

out=$("${C[@]}" -w ' http=%{http_code}' -H 'content-type: application/json' \
  --data-binary @"$B/big.json" https://api.openai.com/v1/chat/completions 2>&1)
if grep -q 'http=200' <<<"$out" && grep -q '"prompt_tokens":1234' <<<"$out"; then
  echo "ok curl big-request-10MB"
else
  echo "FAIL curl big-request-10MB: ${out:0:300}"; fail=1
fi
exit $fail
