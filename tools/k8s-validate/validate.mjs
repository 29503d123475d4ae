// Validates deploy/kubernetes/ and the Grafana dashboard (tools/validate-deploy.sh).
// Every manifest the kustomization lists is checked against the Kubernetes
// JSON schemas of its apiVersion/kind (kubernetes-models; ServiceMonitor:
// @kubernetes-models/prometheus-operator), the generated ConfigMap too; then
// what the schemas cannot say: selectors that select, probe and volume
// names that resolve, one namespace. The dashboard must parse and query
// only metrics the daemon exports (names read from metrics_agg.c).
// The Dockerfile: dockerfile-utils' linter, stages that exist, sources
// that exist.
// Usage: node validate.mjs KUSTOMIZE_DIR DASHBOARD.json METRICS_SOURCE.c DOCKERFILE
import { readFileSync, existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { parseAllDocuments, parse } from "yaml";

const [dir, dashboard, metricsSrc, dockerfile] = process.argv.slice(2);
let passed = 0, failed = 0;
const ok = (m) => { passed++; console.log(`deploy check: ok   ${m}`); };
const bad = (m) => { failed++; console.log(`deploy check: FAIL ${m}`); };

async function model(apiVersion, kind) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  const path = group === "monitoring.coreos.com"
    ? `@kubernetes-models/prometheus-operator/${group}/${version}/${kind}`
    : `kubernetes-models/${group ? group + "/" : ""}${version}/${kind}`;
  return (await import(path))[kind];
}

async function validate(doc, where) {
  try {
    const M = await model(doc.apiVersion, doc.kind);
    if (!M) throw new Error(`no schema for ${doc.apiVersion} ${doc.kind}`);
    new M(doc).validate();
    ok(`${where}: ${doc.kind} ${doc.metadata?.name} matches the ${doc.apiVersion} schema`);
  } catch (e) {
    bad(`${where}: ${doc.apiVersion} ${doc.kind} ${doc.metadata?.name}: ${e.message.slice(0, 400)}`);
  }
}

const matches = (selector, labels) =>
  Object.entries(selector || {}).every(([k, v]) => labels?.[k] === v);

const kust = parse(readFileSync(join(dir, "kustomization.yaml"), "utf8"));
const docs = [];
for (const f of kust.resources || []) {
  if (!existsSync(join(dir, f))) { bad(`kustomization lists ${f}, which does not exist`); continue; }
  for (const d of parseAllDocuments(readFileSync(join(dir, f), "utf8"))) {
    if (d.errors.length) { bad(`${f}: YAML: ${d.errors[0].message}`); continue; }
    const o = d.toJS();
    if (o) docs.push([f, o]);
  }
}
for (const g of kust.configMapGenerator || []) {
  const data = {};
  for (const f of g.files || []) {
    if (!existsSync(join(dir, f))) { bad(`configMapGenerator file ${f} missing`); continue; }
    data[f] = readFileSync(join(dir, f), "utf8");
  }
  docs.push(["configMapGenerator", { apiVersion: "v1", kind: "ConfigMap",
    metadata: { name: g.name, namespace: kust.namespace }, data }]);
}
for (const [f, o] of docs) await validate(o, f);

const byKind = (k) => docs.map(([, o]) => o).filter((o) => o.kind === k);
for (const [f, o] of docs) {
  if (o.kind !== "Namespace" && o.metadata?.namespace && o.metadata.namespace !== kust.namespace)
    bad(`${f}: namespace ${o.metadata.namespace}, the kustomization's is ${kust.namespace}`);
}
const ds = byKind("DaemonSet")[0];
const svc = byKind("Service")[0];
const sm = byKind("ServiceMonitor")[0];
if (!ds) bad("no DaemonSet");
else {
  const spec = ds.spec.template.spec;
  const labels = ds.spec.template.metadata.labels;
  matches(ds.spec.selector.matchLabels, labels) ? ok("DaemonSet selector selects its pods")
    : bad("DaemonSet selector does not match its template's labels");
  spec.hostPID === true ? ok("hostPID") : bad("hostPID is not true");
  const c = spec.containers[0];
  const sc = c.securityContext || {};
  !sc.privileged ? ok("not privileged") : bad("privileged: the issue asks for capabilities instead");
  const want = ["BPF", "PERFMON", "SYS_PTRACE", "SYS_RESOURCE", "DAC_READ_SEARCH"];
  const add = sc.capabilities?.add || [];
  want.every((w) => add.includes(w)) && (sc.capabilities?.drop || []).includes("ALL")
    ? ok(`capabilities: drop ALL, add ${add.join(" ")}`) : bad(`capabilities ${JSON.stringify(sc.capabilities)}`);
  const ports = new Set((c.ports || []).map((p) => p.name));
  for (const p of ["livenessProbe", "readinessProbe"]) {
    const g = c[p]?.httpGet;
    g && ports.has(g.port) && ["/healthz", "/readyz"].includes(g.path)
      ? ok(`${p} on ${g.path}, port ${g.port}`) : bad(`${p}: ${JSON.stringify(c[p])}`);
  }
  const vols = new Map((spec.volumes || []).map((v) => [v.name, v]));
  for (const m of c.volumeMounts || [])
    if (!vols.has(m.name)) bad(`volumeMount ${m.name} has no volume`);
  for (const p of ["/sys/kernel/btf", "/sys/fs/cgroup", "/var/lib/llm-observer"]) {
    const v = [...vols.values()].find((v) => v.hostPath?.path === p);
    v ? ok(`hostPath ${p}`) : bad(`no hostPath ${p}`);
  }
  const cm = byKind("ConfigMap")[0];
  const cfgVol = [...vols.values()].find((v) => v.configMap);
  cfgVol && cm && cfgVol.configMap.name === cm.metadata.name ? ok("config volume is the generated ConfigMap")
    : bad("config volume does not name the generated ConfigMap");
  c.resources?.requests && c.resources?.limits ? ok("resource requests and limits")
    : bad("no resource requests/limits");
  const img = (kust.images || [])[0];
  img && c.image.startsWith(img.name + ":") ? ok(`kustomization image ${img.name} is the container's`)
    : bad(`kustomization images do not name ${c.image}`);
  if (svc) {
    matches(svc.spec.selector, labels) ? ok("Service selects the DaemonSet's pods")
      : bad("Service selector selects no pod of the DaemonSet");
    svc.spec.ports.every((p) => ports.has(p.targetPort) || typeof p.targetPort === "number")
      ? ok("Service targets the metrics port") : bad("Service targetPort names no container port");
  } else bad("no Service");
  if (sm && svc) {
    matches(sm.spec.selector.matchLabels, svc.metadata.labels) ? ok("ServiceMonitor selects the Service")
      : bad("ServiceMonitor selector does not match the Service's labels");
    sm.spec.endpoints.every((e) => svc.spec.ports.some((p) => p.name === e.port))
      ? ok("ServiceMonitor endpoint names the Service port") : bad("ServiceMonitor port unknown");
  } else bad("no ServiceMonitor");
}

// Grafana: JSON, panels with targets, and only metrics the daemon exports.
try {
  const d = JSON.parse(readFileSync(dashboard, "utf8"));
  const src = readFileSync(metricsSrc, "utf8");
  const exported = new Set([...src.matchAll(/"((?:llmobs|process)_[a-z_]+)"/g)].map((m) => m[1]));
  const panels = (d.panels || []).flatMap((p) => [p, ...(p.panels || [])]);
  const exprs = panels.flatMap((p) => (p.targets || []).map((t) => t.expr)).filter(Boolean);
  d.title && d.uid && panels.length && exprs.length
    ? ok(`dashboard ${d.uid}: ${panels.length} panels, ${exprs.length} queries`) : bad("dashboard has no title/uid/panels/targets");
  const unknown = new Set();
  for (const e of exprs)
    for (const m of e.matchAll(/\b((?:llmobs|process)_[a-z_]+?)(?:_bucket)?\b/g))
      if (!exported.has(m[1])) unknown.add(m[1]);
  unknown.size === 0 ? ok("dashboard queries only exported metrics")
    : bad(`dashboard queries metrics the daemon does not export: ${[...unknown].join(", ")}`);
} catch (e) {
  bad(`dashboard ${dashboard}: ${e.message}`);
}

if (dockerfile) {
  const text = readFileSync(dockerfile, "utf8");
  const lint = createRequire(import.meta.url)("dockerfile-utils").validate(text);
  lint.length === 0 ? ok("Dockerfile: dockerfile-utils finds nothing")
    : bad(`Dockerfile: ${lint.map((d) => `line ${d.range.start.line + 1}: ${d.message}`).join("; ")}`);
  const stages = [];
  const root = dirname(dockerfile);
  let stageOk = true, srcOk = true;
  for (const line of text.split("\n")) {
    let m = line.match(/^FROM\s+\S+(?:\s+AS\s+(\S+))?/i);
    if (m) { stages.push(m[1]); continue; }
    m = line.match(/^COPY\s+--from=(\S+)/i);
    if (m && !stages.includes(m[1])) { stageOk = false; bad(`Dockerfile: COPY --from=${m[1]}: no such stage`); }
    m = !line.includes("--from") && line.match(/^COPY\s+(\S+)\s+\S+$/i);
    if (m && m[1] !== "." && !existsSync(join(root, m[1]))) { srcOk = false; bad(`Dockerfile: COPY ${m[1]}: not in the tree`); }
  }
  stages.length >= 2 ? ok(`Dockerfile: ${stages.length} stages`) : bad("Dockerfile: not multi-stage");
  if (stageOk && srcOk) ok("Dockerfile: every COPY source and stage exists");
}

console.log(`deploy check: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
