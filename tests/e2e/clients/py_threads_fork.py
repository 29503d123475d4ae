"""Threads, fork and exec under the LD_PRELOAD shim (urllib, stdlib only).

8 threads make 2 requests each at once; then a fork child makes 2 requests
and execs python3 py_urllib.py for 1 more (same pid, new image: LD_PRELOAD
passes on as the environment says); then curl runs with LD_PRELOAD taken
out of its environment, and must not be seen by a shim-only daemon.
Prints one line per call; exits non-zero when any call fails.
Usage: py_threads_fork.py FIXTURES.jsonl
"""
import base64
import json
import os
import subprocess
import sys
import threading
import urllib.request

IDS = ["e2e:openai-chat", "e2e:anthropic-messages", "e2e:gemini-generate",
       "e2e:anthropic-messages-stream", "e2e:gemini-stream", "e2e:openai-responses"]
AUTH = {"api.openai.com": ("Authorization", "Bearer sk-e2e-dummy"),
        "api.anthropic.com": ("x-api-key", "sk-ant-e2e-dummy"),
        "generativelanguage.googleapis.com": ("x-goog-api-key", "e2e-dummy")}
HERE = os.path.dirname(os.path.abspath(__file__))


def call(e, who):
    body = base64.b64decode(e["req_body_b64"])
    req = urllib.request.Request(f"https://{e['host']}{e['path']}", data=body, method="POST")
    req.add_header("Content-Type", "application/json")
    req.add_header(*AUTH[e["host"]])
    if e["host"] == "api.anthropic.com":
        req.add_header("anthropic-version", "2023-06-01")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            data, status = r.read(), r.status
        if status != e["status"] or data != base64.b64decode(e["resp_body_b64"]):
            raise RuntimeError(f"status {status}, {len(data)} bytes")
        print(f"ok {who} {e['id']}", flush=True)
        return True
    except Exception as ex:  # report every failure, keep going
        print(f"FAIL {who} {e['id']} {type(ex).__name__}: {ex}", flush=True)
        return False


def main():
    fixtures = {}
    with open(sys.argv[1]) as f:
        for line in f:
            e = json.loads(line)
            fixtures[e["id"]] = e
    results = []
    start = threading.Barrier(8)

    def worker(n):
        start.wait()  # all eight at once: the first calls race to connect
        for k in range(2):
            results.append(call(fixtures[IDS[(n + k) % len(IDS)]], f"thread{n}"))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        ok = call(fixtures["e2e:openai-chat"], "child") & call(fixtures["e2e:gemini-stream"], "child")
        if not ok:
            os._exit(1)
        sys.stdout.flush()
        os.execv(sys.executable, [sys.executable, os.path.join(HERE, "py_urllib.py"),
                                  sys.argv[1], "e2e:anthropic-messages"])
    _, status = os.waitpid(pid, 0)
    results.append(os.waitstatus_to_exitcode(status) == 0)

    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    e = fixtures["e2e:openai-chat"]
    r = subprocess.run(["curl", "-sS", "--http1.1", "--fail-with-body", "--max-time", "30",
                        "-H", "content-type: application/json",
                        "-H", "authorization: Bearer sk-e2e-dummy",
                        "--data-binary", base64.b64decode(e["req_body_b64"]),
                        f"https://{e['host']}{e['path']}"], env=env, capture_output=True)
    print(f"{'ok' if r.returncode == 0 else 'FAIL'} curl without LD_PRELOAD rc={r.returncode}",
          flush=True)
    results.append(r.returncode == 0)
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
