#!/usr/bin/env bash
# Google's Gemini CLI (@google/gemini-cli, pinned in tests/e2e/gemini-cli/,
# installed by run.sh) in non-interactive mode, against the local server: one
# prompt, answered by gemini_cli.jsonl (the router's call to
# gemini-3.5-flash-lite, then gemini-3.8-flash's stream). Node carries its own
# OpenSSL: only the BPF daemon sees it. Usage statistics are off, so it calls
# nothing but the Gemini API. Usage: gemini_cli.sh GEMINI_CLI_DIR
set -u
dir=${1:?usage: gemini_cli.sh GEMINI_CLI_DIR}
bin="$dir/node_modules/@google/gemini-cli/bundle/gemini.js"
if [ ! -f "$bin" ]; then
  echo "FAIL gemini-cli: not installed at $bin (run.sh installs it with npm ci)"
  exit 1
fi
home=$(mktemp -d /tmp/e2e-gemini-cli.XXXXXX)
trap 'rm -rf "$home"' EXIT
mkdir -p "$home/.gemini" "$home/work"
printf '%s\n' '{"privacy": {"usageStatisticsEnabled": false}}' >"$home/.gemini/settings.json"
out=$(cd "$home/work" && HOME="$home" GEMINI_API_KEY=e2e-test-key GEMINI_CLI_TRUST_WORKSPACE=true \
  NO_COLOR=1 node "$bin" -p "Say hi" 2>"$home/err")
rc=$?
if [ $rc -eq 0 ] && grep -q "Hi there! How can I help?" <<<"$out"; then
  echo "ok gemini-cli: $out"
else
  echo "FAIL gemini-cli: rc=$rc out=${out:0:200} err=$(tail -n 5 "$home/err" | tr '\n' ' ' | cut -c1-400)"
  exit 1
fi
