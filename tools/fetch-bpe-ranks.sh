#!/usr/bin/env bash
# Builds the BPE rank files of OpenAI's o200k_base and cl100k_base for token
# estimation (user/3-llm/bpe.c) from the npm package js-tiktoken, pinned by version
# and by the sha256 of its tarball. Without the npm registry (or node) the
# files are left empty: the build goes on, with estimation disabled and a
# clear message; `rm -rf OUTDIR` and rebuild to try again.
# Usage: tools/fetch-bpe-ranks.sh OUTDIR
set -uo pipefail
out=${1:?usage: fetch-bpe-ranks.sh OUTDIR}
pkg=js-tiktoken
ver=1.0.21
sha256=3b1f24b185565ca9a8d8f51466dfc4f99d67f1f05bc009258710ddb7a8d810fa
here=$(cd "$(dirname "$0")" && pwd)

mkdir -p "$out"
tmp=$(mktemp -d "$out/fetch.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

disable() {
	echo "bpe: $*" >&2
	echo "bpe: token estimation is DISABLED in this build (records without provider usage stay usage_source=none)" >&2
	: > "$out/o200k_base.bin"
	: > "$out/cl100k_base.bin"
	exit 0
}

command -v npm >/dev/null 2>&1 && command -v node >/dev/null 2>&1 ||
	disable "npm/node not found, cannot fetch $pkg@$ver"
(cd "$tmp" && npm pack --silent "$pkg@$ver" > pack.out 2> pack.err) ||
	disable "npm pack $pkg@$ver failed: $(tail -n 3 "$tmp/pack.err" 2>/dev/null | tr '\n' ' ')"
tgz="$tmp/$pkg-$ver.tgz"
echo "$sha256  $tgz" | sha256sum -c --quiet - >/dev/null 2>&1 ||
	disable "$pkg-$ver.tgz does not have the pinned sha256 $sha256"
tar -xzf "$tgz" -C "$tmp" package/dist/ranks/o200k_base.js package/dist/ranks/cl100k_base.js ||
	disable "$pkg-$ver.tgz lacks dist/ranks/{o200k,cl100k}_base.js"
for enc in o200k_base cl100k_base; do
	node "$here/bpe-ranks.mjs" "$tmp/package/dist/ranks/$enc.js" "$out/$enc.bin" >/dev/null ||
		disable "converting $enc from $pkg@$ver failed"
done
echo "bpe: o200k_base and cl100k_base ranks from $pkg@$ver"

# The package's own JS encoder, for tests/unit/test_bpe.c to compare with
# (optional: the tests say when it is missing). Its one dependency too.
js="$out/js/node_modules"
rm -rf "$out/js"
mkdir -p "$js/js-tiktoken" "$js/base64-js"
tar -xzf "$tgz" -C "$js/js-tiktoken" --strip-components=1 2>/dev/null || rm -rf "$out/js"
dep=base64-js dep_ver=1.5.1
dep_sha256=b1b7a945b52685269083425216d6597e33d97bf21699d656e92fdb3eb5210a85
if [ -d "$out/js" ] && (cd "$tmp" && npm pack --silent "$dep@$dep_ver" >/dev/null 2>&1) &&
   echo "$dep_sha256  $tmp/$dep-$dep_ver.tgz" | sha256sum -c --quiet - >/dev/null 2>&1 &&
   tar -xzf "$tmp/$dep-$dep_ver.tgz" -C "$js/$dep" --strip-components=1; then
	echo "bpe: reference encoder $pkg@$ver (with $dep@$dep_ver) for the tests"
else
	rm -rf "$out/js"
	echo "bpe: reference encoder unavailable; the tests compare with fixed vectors only" >&2
fi
