// Dumps the price data that @pydantic/genai-prices bundles inside
// dist/index.js (its exports reach it only through waitForUpdate(), which
// resolves to the bundled Provider[] when no update was asked for) as the
// JSON of the package's own data file (prices/new_data/v2/data.json), with
// what llm-observer does not use left out: descriptions, usage extractors.
// The daemon reads this format as is (user/3-llm/prices_genai.c), so the
// embedded table and `llmobs prices --update data.json` take one path.
// Usage: node tools/genai-prices/dump.mjs NODE_MODULES_DIR OUT.json
import { writeFileSync, renameSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [modules, outPath] = process.argv.slice(2);
if (!modules || !outPath)
	throw new Error("usage: dump.mjs NODE_MODULES_DIR OUT.json");
const dir = join(modules, "@pydantic", "genai-prices");
const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
const lib = await import(pathToFileURL(join(dir, "dist", "index.js")).href);
const providers = await lib.waitForUpdate();
if (!Array.isArray(providers))
	throw new Error(`${pkg.name}@${pkg.version}: waitForUpdate() gave no provider list`);

const keepProvider = ["id", "name", "api_pattern", "pricing_urls", "provider_match",
	"model_match", "fallback_model_providers"];
const keepModel = ["id", "name", "match", "prices", "deprecated"];
const pick = (o, keys) => Object.fromEntries(keys.filter((k) => o[k] !== undefined).map((k) => [k, o[k]]));
const out = providers.map((p) => ({
	...pick(p, keepProvider),
	models: p.models.map((m) => pick(m, keepModel)),
}));
const nModels = out.reduce((n, p) => n + p.models.length, 0);
for (const id of ["openai", "anthropic", "google"])
	if (!out.some((p) => p.id === id && p.models.length > 10))
		throw new Error(`${pkg.name}@${pkg.version}: provider ${id} missing or nearly empty`);
writeFileSync(outPath + ".tmp", JSON.stringify(out) + "\n");
renameSync(outPath + ".tmp", outPath);
console.log(`prices: ${out.length} providers, ${nModels} models from ${pkg.name}@${pkg.version}`);
