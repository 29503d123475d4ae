#!/usr/bin/python3
"""The observed app of the OTLP test: every request of the e2e fixtures
(OpenAI chat and responses, Anthropic messages, Gemini, Ollama, vLLM;
streamed and not) over HTTPS with urllib (the system libssl, so that
LD_PRELOAD=libllmobs.so sees it), ROUNDS times, then one call the server
answers with an error. A canary rides in every prompt and in every API key
header: none may reach the collector. Prints one line per call with its
latency in ms.

Usage: client.py PORT CAFILE FIXTURES ROUNDS PROMPT_CANARY KEY_CANARY
"""
import base64
import http.client
import json
import ssl
import sys
import time
import urllib.error
import urllib.request


def call(port, ctx, host, path, headers, body):
    req = urllib.request.Request(f"https://127.0.0.1:{port}{path}", data=body, method="POST",
                                 headers=dict(headers, Host=host))
    t0 = time.monotonic()
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=30) as r:
            r.read()
    except urllib.error.HTTPError as e:
        e.read()
    except http.client.IncompleteRead:
        pass	# the fixture of a truncated stream
    print(f"latency_ms {1000 * (time.monotonic() - t0):.2f}", flush=True)


def main():
    port, cafile, fixtures, rounds, canary, key = sys.argv[1:7]
    ctx = ssl.create_default_context(cafile=cafile)
    auth = {"Authorization": "Bearer " + key, "x-api-key": key, "x-goog-api-key": key}
    calls = []
    for line in open(fixtures):
        e = json.loads(line)
        headers = {k: v for k, v in e["req_headers"] if k.lower() not in ("host", "content-length")}
        calls.append((e["host"], e["path"], headers, base64.b64decode(e["req_body_b64"])))
    for _ in range(int(rounds)):
        for host, path, headers, body in calls:
            call(port, ctx, host, path, dict(headers, **auth), body)
    # The canary in a prompt: served from the fixtures by (path, model).
    body = json.dumps({"model": "gpt-4o-mini", "messages": [
        {"role": "user", "content": "Say hi. " + canary}]}).encode()
    call(port, ctx, "api.openai.com", "/v1/chat/completions",
         dict(auth, **{"Content-Type": "application/json"}), body)
    # No fixture for this model: the server answers a 404 error.
    body = json.dumps({"model": "no-such-model", "messages": [
        {"role": "user", "content": canary}]}).encode()
    call(port, ctx, "api.openai.com", "/v1/chat/completions",
         dict(auth, **{"Content-Type": "application/json"}), body)


if __name__ == "__main__":
    main()
