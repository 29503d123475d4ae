#!/usr/bin/env bash
# Go's Write entered twice for one call (bpf/go_tls.bpf.c): a goroutine
# whose stack is too small for crypto/tls.(*Conn).Write grows it in
# Write's prologue and runs the prologue again, so the entry probe, which
# sends Write's bytes, fires twice. clients/go_stack calls Write at every
# stack depth from 0 to N-1 (some of them hit this); a daemon of this
# script's own records with --record, and the Write stream of the
# client's connection must be every "MSG %04d\n" once, in order, at
# contiguous stream positions. Sending the bytes at the second entry too
# repeated 10 of 400 here.
# Usage: go_stack.sh TMP OUT (run.sh's temp dir and build dir). Needs root.
set -u
TMP=$1
OUT=$(cd "$2" && pwd)
E2E=$(cd "$(dirname "$0")" && pwd)
G=$TMP/go_stack
N=${E2E_GO_STACK_N:-400}
mkdir -p "$G"
DPID=""
trap '[ -n "$DPID" ] && kill -KILL "$DPID" 2>/dev/null; wait 2>/dev/null' EXIT
fail() { echo "FAIL go stack growth in Write: $*"; exit 1; }

(cd "$E2E/clients/go_stack" && GOCACHE="$OUT/go-cache" GOPATH="$G/gopath" GOFLAGS=-mod=mod \
  GOPROXY=off GOTOOLCHAIN=local CGO_ENABLED=0 go build -o "$G/go_stack" .) \
  >"$G/build.log" 2>&1 || fail "build: $(tail -n 3 "$G/build.log")"
"$OUT/llmobsd" --db "$G/db" --record "$G/events.cap" --listen off >/dev/null 2>"$G/daemon.log" &
DPID=$!
for _ in $(seq 300); do grep -q ready "$G/daemon.log" 2>/dev/null && break; sleep 0.1; done
grep -q ready "$G/daemon.log" || fail "llmobsd not ready: $(tail -n 3 "$G/daemon.log")"
# A new binary is probed once the daemon has seen its exec: the client
# waits for the file that says its probes are in.
"$G/go_stack" "$N" "$G/ready" >"$G/client.out" 2>&1 &
CPID=$!
for _ in $(seq 300); do
  grep -q "go tls: attached to $G/go_stack " "$G/daemon.log" && break
  sleep 0.1
done
touch "$G/ready"
wait "$CPID" || fail "client: $(tail -n 3 "$G/client.out")"
grep -q "go tls: attached to $G/go_stack " "$G/daemon.log" ||
  fail "not attached in 30 s: $(grep "go tls" "$G/daemon.log" | tail -n 2)"
sleep 0.5
kill -TERM "$DPID"
wait "$DPID"
DPID=""
/usr/bin/python3 - "$G/events.cap" "$CPID" "$N" "$(cat "$G/client.out")" <<'PY'
import struct, sys
# include/capture.h: struct capture_event, its data at offsetof(data) = 76
EV = struct.Struct("<QQQQIIIIIIBBBB16s")
path, pid, n, client = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
d = open(path, "rb").read()
assert d[:8] == b"LLMOBSEV", "not a capture file"
off, writes = 24, {}
while off + 8 <= len(d):
    size = struct.unpack_from("<I", d, off)[0]
    ev = d[off + 8:off + 8 + size]
    off += 8 + ((size + 7) & ~7)
    f = EV.unpack_from(ev)
    if f[4] == pid and f[10] == 1 and f[11] == 0:	# tgid, CAPTURE_DATA, write
        writes.setdefault(f[1], []).append((f[3], ev[76:76 + f[9]]))
want = b"".join(b"MSG %04d\n" % i for i in range(n))
conns = {c: w for c, w in writes.items() if w and w[0][1].startswith(b"MSG ")}
ok = len(conns) == 1
for c, w in conns.items():
    got = b"".join(x for _, x in w)
    contiguous = all(w[i + 1][0] == w[i][0] + len(w[i][1]) for i in range(len(w) - 1))
    ok = ok and got == want and contiguous
    lines = got.split(b"\n")
    rep = sorted({x.decode() for x in lines if x and lines.count(x) > 1})
    detail = (f"{len(w)} Write events, {len(got)} bytes (want {n}, {len(want)}), "
              f"positions contiguous: {contiguous}; {client}"
              + (f"; repeated: {', '.join(rep[:6])}" if rep else ""))
if not conns:
    detail = f"no Write of the client recorded ({client})"
print(f"{'PASS' if ok else 'FAIL'} go stack growth in Write: each Write's bytes once ({detail})")
sys.exit(0 if ok else 1)
PY
