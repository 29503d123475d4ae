#!/usr/bin/env bash
# The coding agents and runtimes that carry their own TLS stack
# (tests/e2e/agents/package.json, pinned) are run briefly, with no network,
# while the daemon watches; check.py then looks for the daemon's one line
# per binary: BoringSSL found by fingerprint (Claude Code, Bun), aws-lc's
# key schedule found by fingerprint (rustls: Codex, Deno), or "cannot
# observe" with the stack it names. Writes
# $TMP/agents.tsv: name, exe path, exit code.
# Usage: agents.sh TMP NODE_MODULES
set -u
TMP=$1
NM=$2
export HOME=$TMP/agents-home CODEX_HOME=$TMP/agents-home/.codex DENO_DIR=$TMP/agents-home/deno
mkdir -p "$CODEX_HOME" "$DENO_DIR"
: >"$TMP/agents.tsv"
# run NAME EXE ARGS...: alive for ~1.5 s at least, so the daemon's scan
# sees it mapped whatever the timing of its exec event.
run() {
  local name=$1 exe=$2
  shift 2
  timeout 20 "$@" >"$TMP/agents-$name.out" 2>&1
  printf '%s\t%s\t%s\n' "$name" "$(readlink -f "$exe")" "$?" >>"$TMP/agents.tsv"
}
# The platform packages' binaries: installed with --ignore-scripts, the
# wrappers' own bin/ entries are stubs their install scripts would replace.
CLAUDE=$NM/@anthropic-ai/claude-code-linux-x64/claude
CODEX=$NM/@openai/codex-linux-x64/vendor/x86_64-unknown-linux-musl/bin/codex
BUN=$NM/@oven/bun-linux-x64/bin/bun
DENO=$NM/@deno/linux-x64-glibc/deno
run claude "$CLAUDE" bash -c '"$1" --version & p=$!; sleep 1.5; wait $p' _ "$CLAUDE"
run codex "$CODEX" bash -c 'sleep 1.5 | "$1" app-server' _ "$CODEX"
run bun "$BUN" "$BUN" -e 'setTimeout(() => {}, 1500)'
run deno "$DENO" "$DENO" eval 'setTimeout(() => {}, 1500)'
