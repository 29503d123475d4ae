"""urllib client: posts the exact fixture bodies to the real API URLs.

Runs under any python3 (Debian's and pyenv's); urllib opens one connection per
request. Prints one line per call; exits non-zero when any call fails.
Usage: py_urllib.py FIXTURES.jsonl [ID...]
"""
import base64
import json
import sys
import urllib.request

DEFAULT_IDS = ["e2e:openai-chat", "e2e:anthropic-messages", "e2e:gemini-generate",
               "e2e:anthropic-messages-stream", "e2e:gemini-stream"]
AUTH = {"api.openai.com": ("Authorization", "Bearer sk-e2e-dummy"),
        "api.anthropic.com": ("x-api-key", "sk-ant-e2e-dummy"),
        "generativelanguage.googleapis.com": ("x-goog-api-key", "e2e-dummy")}


def main():
    fixtures = {}
    with open(sys.argv[1]) as f:
        for line in f:
            e = json.loads(line)
            fixtures[e["id"]] = e
    failed = 0
    for fid in sys.argv[2:] or DEFAULT_IDS:
        e = fixtures[fid]
        body = base64.b64decode(e["req_body_b64"])
        req = urllib.request.Request(f"https://{e['host']}{e['path']}", data=body, method="POST")
        req.add_header("Content-Type", "application/json")
        req.add_header(*AUTH[e["host"]])
        if e["host"] == "api.anthropic.com":
            req.add_header("anthropic-version", "2023-06-01")
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                data = r.read()
                status = r.status
            want = base64.b64decode(e["resp_body_b64"])
            if status != e["status"] or data != want:
                raise RuntimeError(f"status {status}, {len(data)} bytes, want {len(want)}")
            print(f"ok {sys.executable} {fid} status={status} bytes={len(data)}", flush=True)
        except Exception as ex:  # report every failure, keep going
            failed += 1
            print(f"FAIL {sys.executable} {fid} {type(ex).__name__}: {ex}", flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
