#!/bin/bash
# End-to-end check of the BPF TLS capture with real clients against a local
# TLS server: curl, Python (system libssl, SSL_*_ex), node (OpenSSL inside
# the executable), a 3 MiB upload in 64 KiB calls and one in a single call
# (over the 1 MiB cap), and a node copy that is a new inode started after
# the capture. Needs root; run from the repo after `make .output/tests/capture_dump`.
set -u
DUMP=${CAPTURE_DUMP:-$(dirname "$0")/../../.output/tests/capture_dump}
W=$(mktemp -d /tmp/tls_capture_check.XXXXXX)
trap 'kill $SRV $CAP 2>/dev/null; rm -rf "$W"' EXIT
SRV= CAP=

openssl req -x509 -newkey rsa:2048 -nodes -keyout "$W/k.pem" -out "$W/c.pem" \
	-subj /CN=localhost -days 1 2>/dev/null || exit 1
head -c 2359296 /dev/urandom | base64 -w 100 > "$W/body"	# 3 MiB + a bit
cat > "$W/srv.py" <<'EOF'
import http.server, ssl, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def reply(self, b):
        self.send_response(200); self.send_header("Content-Length", str(len(b)))
        self.end_headers(); self.wfile.write(b)
    def do_GET(self): self.reply(b"hello\n")
    def do_POST(self):
        n = int(self.headers.get("Content-Length", 0))
        while n > 0:
            d = self.rfile.read(min(65536, n))
            if not d: break
            n -= len(d)
        self.reply(b"ok\n")
    def log_message(self, *a): pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain(sys.argv[1], sys.argv[2])
s.socket = ctx.wrap_socket(s.socket, server_side=True)
print(s.server_address[1], flush=True)
s.serve_forever()
EOF
python3 "$W/srv.py" "$W/c.pem" "$W/k.pem" > "$W/port" & SRV=$!
for _ in $(seq 50); do [ -s "$W/port" ] && break; sleep 0.1; done
URL=https://127.0.0.1:$(cat "$W/port")

mkdir "$W/streams"
"$DUMP" --streams "$W/streams" > "$W/dump" 2> "$W/dump.err" & CAP=$!
for _ in $(seq 100); do grep -q READY "$W/dump.err" 2>/dev/null && break; sleep 0.1; done

run() {	# name command...: runs a client, records its pid
	local name=$1; shift
	"$@" > /dev/null 2>&1 & local pid=$!
	echo "$name $pid" >> "$W/pids"
	wait $pid
}
PYGET="import urllib.request,ssl,sys
c=ssl.create_default_context(); c.check_hostname=False; c.verify_mode=ssl.CERT_NONE
urllib.request.urlopen(sys.argv[1]+'/py', context=c).read()"
PYBIG="import ssl,socket,sys
c=ssl.create_default_context(); c.check_hostname=False; c.verify_mode=ssl.CERT_NONE
h,p=sys.argv[1][8:].split(':'); s=c.wrap_socket(socket.create_connection((h,int(p))))
b=open(sys.argv[2],'rb').read()
s.sendall(b'POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n' % len(b) + b); s.recv(100)"
NODEGET="require('https').get(process.argv[1]+'/node',{rejectUnauthorized:false},r=>r.resume())"

run curl curl -sk "$URL/curl"
run python python3 -c "$PYGET" "$URL"
run curl_upload curl -sk --data-binary @"$W/body" "$URL/upload"
run python_upload python3 -c "$PYBIG" "$URL" "$W/body"
if command -v node > /dev/null; then
	run node node -e "$NODEGET" "$URL"
	cp "$(command -v node)" "$W/node_fresh"	# a new inode, not attached yet
	run node_fresh "$W/node_fresh" -e "$NODEGET" "$URL"
fi
sleep 0.3
kill -INT $CAP; wait $CAP; CAP=

python3 - "$W" <<'EOF'
import collections, os, re, sys
w = sys.argv[1]
pids = {int(p): n for n, p in (l.split() for l in open(f"{w}/pids"))}
body = os.path.getsize(f"{w}/body")
pat = re.compile(r'^(\w+)\s+(\S+)\s+tgid=(\d+) tid=\d+ comm=(\S*) conn=(\S+) call_len=(\d+) '
                 r'offset=(\d+) data_len=(\d+) stream_pos=(\d+) "(.*)"$')
ev, drops, fails = collections.defaultdict(list), {}, 0
for l in open(f"{w}/dump"):
    m = pat.match(l.rstrip("\n"))
    if m and int(m[3]) in pids:
        ev[pids[int(m[3])]].append(m.groups())
    elif l.startswith("DROP"):
        f = l.split(); drops[f[1]] = int(f[3].split("=")[1])
    if l.startswith(("TOTAL", "DROP")):
        print(l.rstrip())

def check(ok, what):
    global fails
    print(("PASS " if ok else "FAIL ") + what)
    fails += not ok

for name in pids.values():
    data = [e for e in ev[name] if e[0] == "DATA"]
    w_ = [e for e in data if e[1] == "WRITE"]; r_ = [e for e in data if e[1] == "READ"]
    comm = {"python": "python3", "python_upload": "python3", "curl_upload": "curl"}.get(name, name)
    check(w_ and all(e[3] == comm for e in data), f"{name}: comm {comm}")
    check(w_ and re.match(r"(GET|POST) /", w_[0][9]) is not None, f"{name}: request in WRITE")
    check(r_ and r_[0][9].startswith("HTTP/1."), f"{name}: response in READ")
    for d in (w_, r_):	# contiguous: each event starts where the last ended
        pos = [(int(e[8]), int(e[7])) for e in d]
        check(all(a + n == b for (a, n), (b, _) in zip(pos, pos[1:])),
              f"{name}: {d[0][1] if d else '?'} stream contiguous")
    if name == "curl_upload":
        f = [f for f in os.listdir(f"{w}/streams") if f.endswith("-w.bin") and
             f.startswith(f"{[p for p, n in pids.items() if n == name][0]}-")]
        got = open(f"{w}/streams/{f[0]}", "rb").read() if f else b""
        check(got[-body:] == open(f"{w}/body", "rb").read(), f"{name}: body identical")
    if name == "python_upload":
        call = int(w_[0][5]) if w_ else 0
        check(len(w_) == 64 and sum(int(e[7]) for e in w_) == 1 << 20,
              f"{name}: one {call}-byte call as 64 chunks up to the 1 MiB cap")
        check(drops.get("over_cap", 0) >= call - (1 << 20), f"{name}: over-cap bytes counted")
sys.exit(1 if fails else 0)
EOF
