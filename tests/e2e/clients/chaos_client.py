"""Client for the chaos test (tests/e2e/chaos.sh): calls the fixture APIs in
a loop until STOP_FILE exists, and prints one line per call:
    ok FIXTURE_ID SHA256_OF_THE_BODY_IT_GOT
or  FAIL FIXTURE_ID reason
so that chaos.sh can compare every body with the same call made while no
daemon ran. Exits non-zero when any call failed.

Usage: chaos_client.py FIXTURES.jsonl STOP_FILE MODE [PID_FILE]
MODE: urllib  streams and plain calls, one connection each (Python's _ssl);
      curl    the same through a curl process per call, --compressed;
      once    every fixture once through urllib, then exit (the baseline);
      long    one plain call every 0.2 s: a process that outlives daemon
              restarts (its pid goes to PID_FILE).
"""
import base64
import hashlib
import json
import os
import subprocess
import sys
import time
import urllib.request

AUTH = {"api.openai.com": ("Authorization", "Bearer sk-e2e-dummy"),
        "api.anthropic.com": ("x-api-key", "sk-ant-e2e-dummy"),
        "generativelanguage.googleapis.com": ("x-goog-api-key", "e2e-dummy")}
# The truncated stream fails on purpose; everything else must succeed.
SKIP = {"e2e:anthropic-stream-truncated"}


def call_urllib(e):
    req = urllib.request.Request(f"https://{e['host']}{e['path']}",
                                 data=base64.b64decode(e["req_body_b64"]), method="POST")
    req.add_header("Content-Type", "application/json")
    req.add_header(*AUTH[e["host"]])
    with urllib.request.urlopen(req, timeout=30) as r:
        if r.status != e["status"]:
            raise RuntimeError(f"status {r.status}")
        return r.read()


def call_curl(e, body_file):
    k, v = AUTH[e["host"]]
    out = subprocess.run(
        ["curl", "-sS", "--http1.1", "--fail", "--compressed", "-N", "--max-time", "30",
         "-H", "content-type: application/json", "-H", f"{k}: {v}",
         "--data-binary", "@" + body_file, f"https://{e['host']}{e['path']}"],
        capture_output=True, timeout=60)
    if out.returncode:
        raise RuntimeError(f"curl exit {out.returncode}: {out.stderr[:200]!r}")
    return out.stdout


def main():
    fixtures_path, stop, mode = sys.argv[1], sys.argv[2], sys.argv[3]
    with open(fixtures_path) as f:
        fixtures = [json.loads(l) for l in f if l.strip()]
    # Only the HTTPS fixtures: the plain-HTTP local-model ones need their own servers.
    # HTTPS to the hosts chaos.sh serves (it makes certificates for AUTH's)
    fixtures = [e for e in fixtures if e["id"] not in SKIP and
                e.get("scheme", "https") == "https" and e["host"] in AUTH]
    if mode == "long":
        with open(sys.argv[4], "w") as f:
            f.write(f"{os.getpid()}\n")
        fixtures = [e for e in fixtures if not e["stream"]][:1]
    bodies = {}
    if mode == "curl":
        tmp = os.environ.get("TMPDIR", "/tmp")
        for e in fixtures:
            p = os.path.join(tmp, f"chaos-body-{os.getpid()}-{e['id'].split(':')[1]}")
            with open(p, "wb") as f:
                f.write(base64.b64decode(e["req_body_b64"]))
            bodies[e["id"]] = p
    failed = 0
    i = 0
    while True:
        if mode == "once" and i == len(fixtures):
            break
        if mode != "once" and os.path.exists(stop):
            break
        e = fixtures[i % len(fixtures)]
        i += 1
        try:
            data = call_curl(e, bodies[e["id"]]) if mode == "curl" else call_urllib(e)
            print(f"ok {e['id']} {hashlib.sha256(data).hexdigest()}", flush=True)
        except Exception as ex:  # report every failure, keep going
            failed += 1
            print(f"FAIL {e['id']} {type(ex).__name__}: {ex}", flush=True)
        if mode == "long":
            time.sleep(0.2)
    for p in bodies.values():
        os.unlink(p)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
