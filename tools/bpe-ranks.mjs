// Converts a js-tiktoken rank module (dist/ranks/<enc>.js: {"bpe_ranks":
// "! <first rank> <base64 token> ..."}) to the compact file bpe.c loads:
// "LLMOBPE1", u32 LE token count, then per rank from 0: u8 length, bytes.
// Ranks must be contiguous from 0, each token 1..255 bytes and distinct.
// Usage: node tools/bpe-ranks.mjs IN.js OUT.bin
import { readFileSync, writeFileSync, renameSync } from "node:fs";

const [inPath, outPath] = process.argv.slice(2);
if (!inPath || !outPath)
	throw new Error("usage: bpe-ranks.mjs IN.js OUT.bin");
const src = readFileSync(inPath, "utf8");
const json = src.replace(/^\s*export\s+default\s*/, "").replace(/;\s*$/, "");
const ranks = JSON.parse(json).bpe_ranks;
const tokens = [];
const seen = new Set();
for (const line of ranks.split("\n")) {
	if (!line)
		continue;
	const [, first, ...toks] = line.split(" ");
	if (Number(first) !== tokens.length)
		throw new Error(`ranks not contiguous at ${tokens.length} (line starts at ${first})`);
	for (const t of toks) {
		const b = Buffer.from(t, "base64");
		if (b.length < 1 || b.length > 255 || b.toString("base64") !== t)
			throw new Error(`bad token ${t} at rank ${tokens.length}`);
		if (seen.has(t))
			throw new Error(`duplicate token ${t}`);
		seen.add(t);
		tokens.push(b);
	}
}
const head = Buffer.alloc(12);
head.write("LLMOBPE1", 0, "latin1");
head.writeUInt32LE(tokens.length, 8);
const parts = [head];
for (const b of tokens)
	parts.push(Buffer.from([b.length]), b);
writeFileSync(outPath + ".tmp", Buffer.concat(parts));
renameSync(outPath + ".tmp", outPath);
console.log(`${outPath}: ${tokens.length} tokens`);
