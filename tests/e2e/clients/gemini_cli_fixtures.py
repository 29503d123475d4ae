#!/usr/bin/python3
"""Writes gemini_cli.jsonl: what the local server answers Google's Gemini CLI
(gemini_cli.sh) with, in the corpus format (tests/e2e/README.md). One prompt
makes two calls: its model router asks gemini-3.5-flash-lite (the CLI's
default small model, the one issue 10 found unpriced) to score the prompt's
complexity, then the chosen model (gemini-3.8-flash for a simple prompt)
answers in a stream. The server picks an answer by path and model, so the
CLI's prompts (dated, machine-specific) need not match byte for byte.
Usage: gemini_cli_fixtures.py > gemini_cli.jsonl  (commit both)
"""
import base64
import json
import sys

ROUTER_MODEL = "gemini-3.5-flash-lite"
MAIN_MODEL = "gemini-3.8-flash"
ANSWER = "Hi there! How can I help?"


def b64(b):
    return base64.b64encode(b).decode()


def fixture(fid, api, path, stream, resp, raw, expected):
    req = json.dumps({"contents": [{"role": "user", "parts": [{"text": "Say hi"}]}]}).encode()
    ctype = "text/event-stream; charset=utf-8" if stream else "application/json"
    return {"id": fid, "source": "llm-observer-e2e", "license": "MIT", "provider": "google",
            "api": api, "scheme": "https", "host": "generativelanguage.googleapis.com",
            "method": "POST", "path": path,
            "req_headers": [["accept", "*/*"], ["content-type", "application/json"]],
            "req_body_b64": b64(req), "status": 200, "resp_headers": [["content-type", ctype]],
            "resp_body_b64": b64(resp), "stream": stream,
            "expected": dict(usage_present=True, cached_input_tokens=0, cache_write_tokens=0,
                             cache_write_1h_tokens=0, error=False, raw_usage=raw, **expected)}


def main():
    verdict = json.dumps({"complexity_reasoning": "A greeting: nothing to plan.",
                          "complexity_score": 5})
    usage = {"promptTokenCount": 1523, "candidatesTokenCount": 21, "totalTokenCount": 1544}
    router = json.dumps({"candidates": [{"content": {"role": "model", "parts": [{"text": verdict}]},
                                         "finishReason": "STOP", "index": 0}],
                         "usageMetadata": usage, "modelVersion": ROUTER_MODEL,
                         "responseId": "e2e-gcli-1"}, separators=(",", ":")).encode()
    last = {"promptTokenCount": 9412, "candidatesTokenCount": 8, "thoughtsTokenCount": 41,
            "totalTokenCount": 9461}
    events = [({"text": "Hi there!"}, {"promptTokenCount": 9412, "totalTokenCount": 9412}, None),
              ({"text": " How can I help?"}, last, "STOP")]
    sse = b""
    for part, u, finish in events:
        cand = {"content": {"role": "model", "parts": [part]}, "index": 0}
        if finish:
            cand["finishReason"] = finish
        ev = {"candidates": [cand], "usageMetadata": u, "modelVersion": MAIN_MODEL,
              "responseId": "e2e-gcli-2"}
        sse += b"data: " + json.dumps(ev, separators=(",", ":")).encode() + b"\r\n\r\n"
    out = [
        fixture("e2e:gemini-cli-router", "generate_content",
                f"/v1beta/models/{ROUTER_MODEL}:generateContent", False, router, usage,
                dict(input_tokens=1523, output_tokens=21, reasoning_tokens=0, model=ROUTER_MODEL)),
        fixture("e2e:gemini-cli-answer", "stream_generate_content",
                f"/v1beta/models/{MAIN_MODEL}:streamGenerateContent?alt=sse", True, sse, last,
                dict(input_tokens=9412, output_tokens=49, reasoning_tokens=41, model=MAIN_MODEL)),
    ]
    for f in out:
        sys.stdout.write(json.dumps(f) + "\n")


if __name__ == "__main__":
    main()
