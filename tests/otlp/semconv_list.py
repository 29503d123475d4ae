#!/usr/bin/python3
"""Writes the attribute names of the OpenTelemetry semantic conventions, as
published in the npm package @opentelemetry/semantic-conventions, one a
line: "name" for a current attribute, "name replaced-by OTHER" for one that
the conventions deprecated in favour of another. (The GenAI attributes say
"moved to the GenAI semantic conventions repository": moved, not replaced,
so they stay current.) tests/otlp/receiver.py checks every attribute the
exporter sends against this list, pinned in semconv-attributes.txt.

Usage: semconv_list.py PACKAGE_DIR > tests/otlp/semconv-attributes.txt
  (PACKAGE_DIR: `npm pack @opentelemetry/semantic-conventions@VERSION`
   unpacked; VERSION is read from its package.json)
"""
import json
import os
import re
import sys


def main():
    pkg = sys.argv[1]
    version = json.load(open(os.path.join(pkg, "package.json")))["version"]
    names = {}
    for f in ("stable_attributes.d.cts", "experimental_attributes.d.cts"):
        text = open(os.path.join(pkg, "dist", f)).read()
        for m in re.finditer(r'/\*\*((?:(?!\*/).)*)\*/\s*declare const ATTR_\w+: "([^"]+)"', text, re.S):
            doc, name = m.groups()
            dep = re.search(r"@deprecated Replaced by `([^`]+)`", doc)
            names[name] = dep.group(1) if dep else names.get(name)
    print(f"# @opentelemetry/semantic-conventions {version} (npm): attribute names,")
    print("# made by tests/otlp/semconv_list.py; 'replaced-by' marks a deprecated one.")
    for n in sorted(names):
        print(n if not names[n] else f"{n} replaced-by {names[n]}")


if __name__ == "__main__":
    main()
