// Reference token ids from js-tiktoken, the npm package our rank files come
// from, for test_bpe.c. Reads JSON strings, one per line, from IN and
// writes one JSON array of ids per line to OUT.
// Usage: node bpe_ref.mjs NODE_MODULES_DIR o200k_base|cl100k_base IN OUT
import { readFileSync, writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const [dir, enc, inPath, outPath] = process.argv.slice(2);
const lite = await import(pathToFileURL(`${dir}/js-tiktoken/dist/lite.js`));
const ranks = (await import(pathToFileURL(`${dir}/js-tiktoken/dist/ranks/${enc}.js`))).default;
const tok = new lite.Tiktoken(ranks);
const out = [];
for (const line of readFileSync(inPath, "utf8").split("\n")) {
	if (!line)
		continue;
	// Special tokens' spellings are ordinary text for us, as for the API.
	out.push(JSON.stringify(tok.encode(JSON.parse(line), [], [])));
}
writeFileSync(outPath, out.join("\n") + "\n");
