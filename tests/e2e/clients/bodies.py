"""Writes each fixture's request body to DIR/<name>.json for curl, plus
big.json: a 10 MB chat request (model gpt-4o-mini) for the large-body case.
Usage: bodies.py FIXTURES.jsonl DIR"""
import base64
import json
import os
import sys

fixtures, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
with open(fixtures) as f:
    for line in f:
        e = json.loads(line)
        with open(os.path.join(out, e["id"].split(":", 1)[1] + ".json"), "wb") as b:
            b.write(base64.b64decode(e["req_body_b64"]))
filler = "lorem ipsum dolor sit amet " * (10 * 1024 * 1024 // 27 + 1)
big = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": filler}]}
with open(os.path.join(out, "big.json"), "w") as b:
    json.dump(big, b, separators=(",", ":"))
