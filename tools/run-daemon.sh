#!/usr/bin/env bash
# `make run`: starts llmobsd in the foreground with the default database,
# printing one line per exchange. Needs root (BPF); re-runs itself with sudo
# when it is available and we are not root.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then exec sudo -E "$0" "$@"; fi
  echo "llmobsd needs root for BPF (or run it with --no-bpf once the shim lands)" >&2
  exit 1
fi
exec .output/llmobsd "$@"
