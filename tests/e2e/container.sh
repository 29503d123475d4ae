#!/usr/bin/env bash
# A container made here with unshare (issue 14): mount, pid and net
# namespaces; its own root filesystem (curl, sh, sleep and the libraries
# they link, copied: its libssl is another inode than the host's); its own
# cgroup under a path shaped like containerd's in a Kubernetes pod
# (kubepods.slice/.../kubepods-besteffort-pod<uid>.slice/cri-containerd-<id>.scope);
# LLMOBS_PROJECT in its environment; the node's containerd state faked
# under a host root. The BPF daemon (privsep, as in production) must
# capture its curl through /proc/PID/root and record the container id and
# runtime, the pod uid from the path, the pod's namespace, name and
# container from containerd's file, the image, the app and the project.
# Root and BPF: run under flock /tmp/llmobs-e2e.lock.
# The root is chroot()ed within the new mount namespace, so /proc/PID/maps
# names the container's files by their path from the host's root
# (/tmp/.../rootfs/lib/...), not from /proc/PID/root: the attacher must
# find them anyway (tls_mapping_open(), user/1-capture/tls_libs.c).
# Run by `make e2e`. CONTAINER_DEBUG=1 KEEP=1 keeps the daemon's debug log
# and a --record capture file of the run.
# Usage: container.sh OUTPUT_DIR
set -u
OUT=$(cd "$1" && pwd)
E2E=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
T=$(mktemp -d /tmp/llmobs-container.XXXXXX)
pass=0 failn=0
pids=()
CG=
CPID=
cleanup() {
  # unshare --fork ignores SIGTERM while it waits: end its pid namespace
  # by its init, or the wait below lasts the init's sleep.
  [ -n "$CPID" ] && kill -KILL "$CPID" 2>/dev/null
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  # the container's processes leave its cgroup as they die: retry a while
  for _ in $(seq 50); do
    [ -n "$CG" ] && [ -d "$CG" ] || break
    rmdir "$CG" 2>/dev/null && break
    sleep 0.1
  done
  [ -n "$CG" ] && rmdir "$(dirname "$CG")" "$(dirname "$(dirname "$CG")")" \
    "$(dirname "$(dirname "$(dirname "$CG")")")" 2>/dev/null
  [ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
ok() { echo "container e2e: ok   $*"; pass=$((pass + 1)); }
bad() { echo "container e2e: FAIL $*"; failn=$((failn + 1)); }
skip() { echo "container e2e: $*"; echo "container e2e: 0 passed, 0 failed, 1 skipped"; exit 0; }

[ "$(id -u)" = 0 ] || skip "skipped: needs root (BPF, namespaces, cgroups)"
[ -r /sys/kernel/btf/vmlinux ] || skip "skipped: no kernel BTF"
command -v unshare >/dev/null && command -v nsenter >/dev/null || skip "skipped: no unshare/nsenter"

ID=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
POD=$(cat /proc/sys/kernel/random/uuid)
POD_=${POD//-/_}
# The unified hierarchy when there is one (cgroup v2, or v1's "unified"),
# else the named systemd one of v1.
CGROOT=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
[ -n "$CGROOT" ] || CGROOT=$(awk '$3 == "cgroup" && $4 ~ /name=systemd/ { print $2; exit }' /proc/mounts)
[ -n "$CGROOT" ] || skip "skipped: no writable cgroup hierarchy"
CG=$CGROOT/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod$POD_.slice/cri-containerd-$ID.scope
mkdir -p "$CG" || skip "skipped: cannot create $CG"

# The container's root: the binaries and every library they link, copied.
R=$T/rootfs
mkdir -p "$R/proc" "$R/tmp" "$R/bin" "$R/etc" "$R/dev"
mknod -m 666 "$R/dev/null" c 1 3
for b in /usr/bin/curl /bin/sh /bin/sleep; do
  cp -L "$b" "$R/bin/"
  ldd "$b" | awk '/=> \// { print $3 } /^\t\/lib/ { print $1 }' | sort -u |
    while read -r l; do cp -L --parents "$l" "$R/"; done
done
LIBSSL=$(ldd /usr/bin/curl | awk '/libssl/ { print $3 }')
[ -n "$LIBSSL" ] && [ -e "$R$LIBSSL" ] && [ "$(stat -c %i "$LIBSSL")" != "$(stat -c %i "$R$LIBSSL")" ] &&
  ok "the container's libssl is its own copy ($LIBSSL, inode $(stat -c %i "$R$LIBSSL"))" ||
  bad "no copied libssl in the root"
cat >"$R/bin/client.sh" <<SH
#!/bin/sh
# The container's workload: one curl making 6 calls a second apart (HTTP/2
# by ALPN): its libssl, new to the daemon, is attached while it runs, so
# the first calls may be missed; then a new process, HTTP/1.1, which must
# be seen from its first call, the library being attached by then.
U=https://api.openai.com:8443/v1/chat/completions
curl -sk --rate 1/s --resolve api.openai.com:8443:127.0.0.1 -H 'content-type: application/json' \\
  --data-binary @/tmp/body.json -o /dev/null -o /dev/null -o /dev/null -o /dev/null -o /dev/null \\
  -o /dev/null \$U \$U \$U \$U \$U \$U
curl -sk --http1.1 --resolve api.openai.com:8443:127.0.0.1 -H 'content-type: application/json' \\
  --data-binary @/tmp/body.json -o /dev/null -w '%{http_version}\\n' \$U
SH
chmod +x "$R/bin/client.sh"
$PY - "$E2E/fixtures.jsonl" "$R/tmp/body.json" <<'PYEOF'
import base64, json, sys
e = next(json.loads(l) for l in open(sys.argv[1]) if '"e2e:openai-chat"' in l)
open(sys.argv[2], "wb").write(base64.b64decode(e["req_body_b64"]))
PYEOF

# The node's containerd state, as the kubelet's CRI plugin writes it.
H=$T/host
mkdir -p "$H/run/containerd/io.containerd.runtime.v2.task/k8s.io/$ID"
cat >"$H/run/containerd/io.containerd.runtime.v2.task/k8s.io/$ID/config.json" <<JSON
{"ociVersion":"1.1.0","process":{"args":["/bin/client.sh"]},"annotations":{
 "io.kubernetes.cri.container-type":"container",
 "io.kubernetes.cri.container-name":"summarizer",
 "io.kubernetes.cri.image-name":"registry.local/summarizer:2.1",
 "io.kubernetes.cri.sandbox-name":"summarizer-6f7d9c-x2x7q",
 "io.kubernetes.cri.sandbox-namespace":"team-a",
 "io.kubernetes.cri.sandbox-uid":"$POD"}}
JSON

# The container: its namespaces held by a sleeping init, put in its cgroup.
unshare --mount --pid --net --fork --kill-child sleep 600 2>"$T/unshare.log" &
UPID=$!
pids+=($UPID)
for _ in $(seq 50); do
  CPID=$(pgrep -P "$UPID" sleep | head -1)
  [ -n "$CPID" ] && break
  sleep 0.1
done
[ -n "$CPID" ] || { cat "$T/unshare.log"; echo "container e2e: no container init"; exit 1; }
echo "$CPID" >"$CG/cgroup.procs"
nsenter --target "$CPID" --net ip link set lo up

# The LLM server on the container's loopback (its net namespace, our files).
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/key.pem" -out "$T/cert.pem" -days 1 \
  -subj /CN=api.openai.com >/dev/null 2>&1
nsenter --target "$CPID" --net $PY "$E2E/llm_server.py" --cert "$T/cert.pem" --key "$T/key.pem" \
  --fixtures "$E2E/fixtures.jsonl" --listen 127.0.0.1 --port 8443 --ready-file "$T/srv.ready" \
  --lifetime 300 >"$T/server.log" 2>&1 &
pids+=($!)

# The daemon: BPF, privilege split, the fake node root.
"$OUT/llmobsd" --db "$T/state/llmobs.db" --socket "$T/llmobs.sock" --listen off --plain-ports none \
  --host-root "$H" ${CONTAINER_DEBUG:+-v --record "$T/events.cap"} >"$T/daemon.log" 2>&1 &
DPID=$!
pids+=($DPID)
for _ in $(seq 150); do
  grep -q "ready:" "$T/daemon.log" && [ -e "$T/srv.ready" ] && break
  sleep 0.2
done
grep -q "ready:" "$T/daemon.log" || { cat "$T/daemon.log"; echo "container e2e: daemon not ready"; exit 1; }

# The workload, inside: the container's cgroup first, then its namespaces and root.
sh -c "echo \$\$ > '$CG/cgroup.procs' && exec nsenter --target $CPID --mount --pid --net -- \
  env -i PATH=/bin LLMOBS_PROJECT=search-ranking $(command -v chroot) '$R' /bin/client.sh" ||
  bad "the container's client failed"
sleep 1
kill -TERM "$DPID"
wait "$DPID" 2>/dev/null
"$OUT/llmobs" export --db "$T/state/llmobs.db" >"$T/export.jsonl" 2>"$T/export.err"

$PY - "$T/export.jsonl" "$ID" "$POD" <<'PYEOF' && ok "the container's calls are attributed to it" || bad "attribution"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
cid, pod = sys.argv[2], sys.argv[3]
mine = [r for r in recs if r["container_id"] == cid]
print(f"container e2e: {len(recs)} records, {len(mine)} from the container")
want = {"container_runtime": "containerd", "k8s_pod_uid": pod, "k8s_namespace": "team-a",
        "k8s_pod": "summarizer-6f7d9c-x2x7q", "k8s_container": "summarizer",
        "container_image": "registry.local/summarizer:2.1", "project": "search-ranking",
        "app": "curl", "provider": "openai", "status": 200}
bad = 0
if len(mine) < 3:
    print(f"container e2e: only {len(mine)} of the 7 calls recorded from the container")
    bad += 1
if not any(r["protocol"] == "http/1.1" for r in mine):
    print("container e2e: the second process's call (HTTP/1.1, library attached by then) is missing")
    bad += 1
for r in mine:
    for k, v in want.items():
        if r[k] != v:
            print(f"container e2e: record {r['id']}: {k} = {r[k]!r}, want {v!r}")
            bad += 1
    if not r["cmdline_hash"] or r["uid"] != 0:
        print(f"container e2e: record {r['id']}: cmdline_hash {r['cmdline_hash']!r} uid {r['uid']}")
        bad += 1
sys.exit(1 if bad else 0)
PYEOF
grep -q "llmobs: error\|Sanitizer\|Bad system call" "$T/daemon.log" &&
  bad "daemon log: $(grep 'llmobs: error\|Sanitizer\|Bad system call' "$T/daemon.log" | head -3)"
echo "container e2e: $pass passed, $failn failed"
[ "$failn" -eq 0 ]
