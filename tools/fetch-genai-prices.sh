#!/usr/bin/env bash
# Fetches the pinned @pydantic/genai-prices (tools/genai-prices/package.json
# and package-lock.json: version and sha512) and dumps its bundled price data
# to OUTDIR/genai-prices.json, the base of the price table the binaries embed
# (user/3-llm/prices.S). Unlike the BPE ranks, prices are required: without
# the npm registry (or node) this fails, saying why. The package stays in
# OUTDIR/node_modules for the cross-check test (its own calcPrice).
# Usage: tools/fetch-genai-prices.sh OUTDIR
set -euo pipefail
out=${1:?usage: fetch-genai-prices.sh OUTDIR}
here=$(cd "$(dirname "$0")" && pwd)

fail() {
	echo "prices: $*" >&2
	echo "prices: the price table is built from @pydantic/genai-prices and the build cannot go on without it" >&2
	exit 1
}
command -v npm >/dev/null 2>&1 && command -v node >/dev/null 2>&1 ||
	fail "npm/node not found (tools/install-deps.sh installs them)"
mkdir -p "$out"
cp "$here/genai-prices/package.json" "$here/genai-prices/package-lock.json" "$out/"
# npm ci installs exactly the lock file's version and checks its sha512.
(cd "$out" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error > npm.log 2>&1) ||
	fail "npm ci of the pinned package failed (registry unreachable?): $(tail -n 3 "$out/npm.log" | tr '\n' ' ')"
node "$here/genai-prices/dump.mjs" "$out/node_modules" "$out/genai-prices.json" ||
	fail "dumping the package's data failed"
# What the table says it was built from (`llmobs prices`).
node -e 'const p = require(process.argv[1]); process.stdout.write(`${p.name} ${p.version}`)' \
	"$(cd "$out" && pwd)/node_modules/@pydantic/genai-prices/package.json" > "$out/origin.txt" ||
	fail "cannot read the package's version"
