// fetch() client for runtimes with their own HTTP and TLS (Bun: BoringSSL
// linked in): sends every fixture's request with its recorded method, path
// and headers and checks the answer's status and body, as py_httpx.py does.
//   bun fetch_fixtures.mjs FIXTURES.jsonl
// The runtime trusts the test CA through NODE_EXTRA_CA_CERTS.
import { readFileSync } from "node:fs";

const DROP = new Set(["authorization", "cookie", "x-api-key", "x-goog-api-key", "api-key",
  "content-length", "host", "transfer-encoding", "connection", "accept-encoding"]);
const AUTH = {
  "api.anthropic.com": { "x-api-key": "sk-ant-e2e-dummy", "anthropic-version": "2023-06-01" },
  "generativelanguage.googleapis.com": { "x-goog-api-key": "e2e-dummy" },
};

const b64 = (s) => Buffer.from(s || "", "base64");
let ok = 0, failed = 0;
for (const line of readFileSync(process.argv[2], "utf8").split("\n")) {
  if (!line.trim()) continue;
  const e = JSON.parse(line);
  if (e.e2e_hash_only) continue;
  const headers = {};
  for (const [k, v] of e.req_headers || []) if (!DROP.has(k.toLowerCase())) headers[k] = v;
  Object.assign(headers, AUTH[e.host] || { authorization: "Bearer sk-e2e-dummy" });
  try {
    const r = await fetch(`https://${e.host}${e.path}`,
      { method: e.method, headers, body: b64(e.req_body_b64) });
    const got = Buffer.from(await r.arrayBuffer());
    const want = b64(e.resp_body_b64);
    if (r.status !== e.status || !got.equals(want))
      throw new Error(`status ${r.status} (want ${e.status}), ${got.length} bytes (want ${want.length})`);
    console.log(`ok fetch ${e.id} status=${r.status} bytes=${got.length}`);
    ok++;
  } catch (err) {
    console.log(`FAIL fetch ${e.id} ${err.message}`);
    failed++;
  }
}
console.log(`fetch: ${ok} ok, ${failed} failed`);
process.exit(failed ? 1 : 0);
