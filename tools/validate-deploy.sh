#!/usr/bin/env bash
# `make deploy-check`: what can be checked of deploy/ without docker or a
# cluster (neither is on these machines; README "Run on Kubernetes" says
# what was not exercised):
#  - the Kubernetes manifests against the Kubernetes JSON schemas and each
#    other, the Grafana dashboard, the Dockerfile (tools/k8s-validate/:
#    pinned npm packages, installed with npm ci from the lock file);
#    a broken DaemonSet must fail, so the validator is known to bite;
#  - both shipped config files with llmobsd --check-config;
#  - the systemd unit with systemd-analyze verify;
#  - make install / uninstall into a scratch DESTDIR.
# Usage: tools/validate-deploy.sh OUTPUT_DIR
set -u
OUT=$(cd "${1:?usage: validate-deploy.sh OUTPUT_DIR}" && pwd)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
V=$OUT/k8s-validate
T=$(mktemp -d /tmp/llmobs-deploy.XXXXXX)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { echo "deploy check: ok   $*"; pass=$((pass + 1)); }
bad() { echo "deploy check: FAIL $*"; fail=$((fail + 1)); }

# The validators, exactly as locked (npm ci checks each package's sha512);
# reinstalled only when the lock file changes.
mkdir -p "$V"
if ! cmp -s "$ROOT/tools/k8s-validate/package-lock.json" "$V/package-lock.json" ||
   [ ! -d "$V/node_modules" ]; then
  cp "$ROOT/tools/k8s-validate/package.json" "$ROOT/tools/k8s-validate/package-lock.json" "$V/"
  (cd "$V" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >npm.log 2>&1) ||
    { echo "deploy check: npm ci failed: $(tail -n 3 "$V/npm.log")"; exit 1; }
fi
cp "$ROOT/tools/k8s-validate/validate.mjs" "$V/"
if node "$V/validate.mjs" "$ROOT/deploy/kubernetes" "$ROOT/deploy/grafana/llm-observer.json" \
    "$ROOT/user/7-daemon/metrics_agg.c" "$ROOT/Dockerfile" >"$T/validate.log" 2>&1; then
  ok "manifests, dashboard, Dockerfile: $(tail -n 1 "$T/validate.log" | sed 's/deploy check: //')"
else
  grep FAIL "$T/validate.log"
  bad "manifests, dashboard or Dockerfile: $(tail -n 1 "$T/validate.log")"
fi
# The validator must reject a DaemonSet with a wrong type and no selector match.
cp -r "$ROOT/deploy/kubernetes" "$T/broken"
sed -i 's/containerPort: 9464/containerPort: "nine"/; s/component: llmobsd$/component: other/' \
  "$T/broken/daemonset.yaml"
if node "$V/validate.mjs" "$T/broken" "$ROOT/deploy/grafana/llm-observer.json" \
    "$ROOT/user/7-daemon/metrics_agg.c" >"$T/broken.log" 2>&1; then
  bad "a broken DaemonSet passed the validator"
elif grep -q "containerPort must be integer" "$T/broken.log" &&
     grep -q "selects no pod" "$T/broken.log"; then
  ok "a broken DaemonSet is refused (schema and selector)"
else
  bad "a broken DaemonSet failed for other reasons: $(grep FAIL "$T/broken.log" | head -2)"
fi

for c in deploy/kubernetes/llmobsd.yaml deploy/systemd/llmobsd.yaml; do
  if "$OUT/llmobsd" --config "$ROOT/$c" --check-config >"$T/cfg.log" 2>&1; then
    ok "$c: $(cat "$T/cfg.log")"
  else
    bad "$c: $(cat "$T/cfg.log")"
  fi
done

if command -v systemd-analyze >/dev/null 2>&1; then
  # verify wants ExecStart's binary where the unit says: point it at the build
  sed "s|/usr/local/sbin/llmobsd|$OUT/llmobsd|g; s|/etc/llm-observer/llmobsd.yaml|$ROOT/deploy/systemd/llmobsd.yaml|g" \
    "$ROOT/deploy/systemd/llmobsd.service" >"$T/llmobsd.service"
  if systemd-analyze verify "$T/llmobsd.service" >"$T/unit.log" 2>&1 && ! grep -qi "unknown\|invalid" "$T/unit.log"; then
    ok "systemd unit: systemd-analyze verify is silent"
  else
    bad "systemd unit: $(head -n 3 "$T/unit.log")"
  fi
  sa=$(systemd-analyze security "$T/llmobsd.service" --offline=yes 2>/dev/null | tail -n 1)
  [ -n "$sa" ] && echo "deploy check: note systemd-analyze security: $sa"
else
  echo "deploy check: note no systemd-analyze: unit not verified"
fi

# make install / uninstall into a scratch root; no user is created with DESTDIR.
D=$T/root
if make -s -C "$ROOT" install OUTPUT="$OUT" DESTDIR="$D" PREFIX=/usr >"$T/install.log" 2>&1 &&
   [ -x "$D/usr/sbin/llmobsd" ] && [ -x "$D/usr/bin/llmobs" ] && [ -f "$D/usr/lib/libllmobs.so" ] &&
   [ -f "$D/etc/llm-observer/llmobsd.yaml" ] &&
   grep -q "^ExecStart=/usr/sbin/llmobsd --config /etc/llm-observer/llmobsd.yaml" \
     "$D/usr/lib/systemd/system/llmobsd.service"; then
  ok "make install DESTDIR PREFIX=/usr: binaries, shim, unit (paths rewritten), config"
else
  bad "make install: $(tail -n 3 "$T/install.log"; find "$D" -type f | head)"
fi
echo "# edited" >>"$D/etc/llm-observer/llmobsd.yaml"
make -s -C "$ROOT" install OUTPUT="$OUT" DESTDIR="$D" PREFIX=/usr >/dev/null 2>&1
grep -q "# edited" "$D/etc/llm-observer/llmobsd.yaml" && ok "a second install keeps the admin's config" ||
  bad "install overwrote the config"
if make -s -C "$ROOT" uninstall DESTDIR="$D" PREFIX=/usr >"$T/uninstall.log" 2>&1 &&
   [ -z "$(find "$D/usr" -type f)" ] && [ -f "$D/etc/llm-observer/llmobsd.yaml" ]; then
  ok "make uninstall removes what install put, keeps the config"
else
  bad "make uninstall: $(find "$D/usr" -type f | head -3)"
fi

echo "deploy check: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
