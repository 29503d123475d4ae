#!/usr/bin/python3
"""An observed app for the telemetry tests: N chat completions over HTTPS
(urllib, the system libssl, so LD_PRELOAD=libllmobs.so sees them) with a
canary in the prompt and in the provider API key. Prints one line per call
with its latency in ms, so that a test can compare runs.

Usage: client.py PORT CAFILE N PROMPT_CANARY KEY_CANARY
"""
import json
import ssl
import sys
import time
import urllib.request


def main():
    port, cafile, n, canary, key = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
    ctx = ssl.create_default_context(cafile=cafile)
    body = json.dumps({"model": "gpt-4o-mini", "messages": [
        {"role": "system", "content": "You are terse. " + canary},
        {"role": "user", "content": "Say hi. " + canary}]}).encode()
    for _ in range(n):
        req = urllib.request.Request(
            f"https://127.0.0.1:{port}/v1/chat/completions", data=body, method="POST",
            headers={"Content-Type": "application/json", "Authorization": "Bearer " + key,
                     "Host": "api.openai.com"})
        t0 = time.monotonic()
        with urllib.request.urlopen(req, context=ctx, timeout=30) as r:
            r.read()
        print(f"latency_ms {1000 * (time.monotonic() - t0):.2f}", flush=True)


if __name__ == "__main__":
    main()
