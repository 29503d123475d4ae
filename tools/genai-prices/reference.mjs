// The source's own calculator, for tests: prices calls with the pinned
// package's calcPrice (tests/unit/test_prices_crosscheck.c and the e2e
// checks compare our cost with it). Reads JSON lines
//   {"model": m, "url": "https://host/path" | "provider": id, "ts": ISO-8601,
//    "usage": {input_tokens, cached_input_tokens, cache_write_tokens,
//              cache_write_1h_tokens, output_tokens, reasoning_tokens}}
// (usage in our convention: input includes cache reads and writes, output
// includes reasoning, which is the source's convention too) and writes one
// line per call: {"cost": USD | null, "provider": id, "model": id} or
// {"error": message} when the source refuses the usage.
// Usage: node tools/genai-prices/reference.mjs NODE_MODULES_DIR < in > out
import { createInterface } from "node:readline";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const modules = process.argv[2];
if (!modules)
	throw new Error("usage: reference.mjs NODE_MODULES_DIR < calls.jsonl");
const { calcPrice } = await import(
	pathToFileURL(join(modules, "@pydantic", "genai-prices", "dist", "index.js")).href);

console.warn = () => {};	// the source warns once per unknown key; not ours to print
const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of lines) {
	if (!line.trim())
		continue;
	const c = JSON.parse(line);
	const u = c.usage ?? {};
	const usage = {
		input_tokens: u.input_tokens ?? 0,
		cache_read_tokens: u.cached_input_tokens ?? 0,
		cache_write_tokens: u.cache_write_tokens ?? 0,
		output_tokens: u.output_tokens ?? 0,
	};
	if (u.cache_write_1h_tokens)
		usage.cache_write_1h_tokens = u.cache_write_1h_tokens;
	if (u.reasoning_tokens)
		usage.output_reasoning_tokens = u.reasoning_tokens;
	const opts = { timestamp: new Date(c.ts) };
	if (c.url)
		opts.providerApiUrl = c.url;
	else if (c.provider)
		opts.providerId = c.provider;
	let out;
	try {
		const r = calcPrice(usage, c.model, opts);
		out = r ? { cost: r.total_price, provider: r.provider.id, model: r.model.id }
			: { cost: null };
	} catch (e) {
		out = { error: String(e.message ?? e) };
	}
	process.stdout.write(JSON.stringify(out) + "\n");
}
