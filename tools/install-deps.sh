#!/usr/bin/env bash
# Installs everything llm-observer needs to build, run and test on Debian 12.
# Idempotent; works as root (CI) or through sudo.
set -euo pipefail
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

PKGS=(
  build-essential clang llvm libclang-rt-dev pkg-config make
  libbpf-dev libelf-dev zlib1g-dev libssl-dev libcjson-dev libsqlite3-dev
  libbrotli-dev libcmocka-dev libnghttp2-dev libseccomp-dev libpcre2-dev bpftool linux-perf
  iproute2 util-linux curl openssl ca-certificates python3 python3-httpx sqlite3
  python3-brotli python3-h2
  chromium fonts-dejavu-core tmux
  libyaml-dev libmicrohttpd-dev python3-prometheus-client
  libcapstone-dev golang-go lld
  libcurl4-openssl-dev python3-jsonschema
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# Node (with npm) is needed only by the end-to-end tests with the official SDKs;
# the image may ship it from another source whose package conflicts with Debian's npm.
if ! command -v npm >/dev/null 2>&1; then
  $SUDO apt-get install -y -qq --no-install-recommends nodejs npm
fi
