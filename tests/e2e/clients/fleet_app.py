#!/usr/bin/python3
"""A small 'application' for the fleet tests (tests/e2e/metrics.sh): sends
every fixture of FIXTURES over plain HTTP to 127.0.0.1:PORT, N rounds, with
http.client (send/recv: the LD_PRELOAD shim sees them with
LLMOBS_PLAIN_PORTS). The tests copy it under other names (summarizer.py,
ranker.py) to check that the app is named by its script, not 'python3'.
Usage: fleet_app.py FIXTURES PORT ROUNDS"""
import base64
import http.client
import json
import sys


def main():
    fixtures, port, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    with open(fixtures) as f:
        exchanges = [json.loads(l) for l in f if l.strip()]
    ok = 0
    for _ in range(rounds):
        for e in exchanges:
            body = base64.b64decode(e["req_body_b64"]) if e.get("req_body_b64") else b""
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            headers = {k: v for k, v in e["req_headers"]}
            headers["Host"] = e["host"]
            try:
                c.request(e["method"], e["path"], body=body, headers=headers)
                c.getresponse().read()
                ok += 1
            except http.client.HTTPException:
                pass  # the fixture that cuts its stream short, on purpose
            c.close()
    print(f"{ok} requests")


if __name__ == "__main__":
    main()
