// make bench, rustls part: Deno's fetch (rustls with aws-lc), or Bun's
// (BoringSSL found by fingerprint), against a local HTTPS server,
// keep-alive, one request after another. Prints the process's CPU time
// (user + system, all threads: where the tracepoints and probes are paid)
// and the wall time, per request, in us.
//   deno run --allow-net client.mjs URL REQUESTS BYTES
//   bun client.mjs URL REQUESTS BYTES
import process from "node:process";

const args = typeof Deno !== "undefined" ? Deno.args : process.argv.slice(2);
const [url, n, bytes] = [args[0], Number(args[1]), Number(args[2])];
const body = "x".repeat(bytes);
const once = async () => {
  const r = await fetch(url, { method: "POST", body });
  await r.arrayBuffer();
};
await once(); // the connection and its handshake, outside the measure
const c0 = process.cpuUsage();
const t0 = performance.now();
for (let i = 0; i < n; i++) await once();
const c = process.cpuUsage(c0);
console.log(`${((c.user + c.system) / n).toFixed(2)} ${((performance.now() - t0) * 1000 / n).toFixed(2)}`);
