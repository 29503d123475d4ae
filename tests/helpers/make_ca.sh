#!/usr/bin/env bash
# A throwaway test CA and a server certificate for localhost / 127.0.0.1,
# for the local TLS servers of the tests (tests/e2e/llm_server.py, the
# telemetry receiver): DIR/ca.pem, DIR/server.pem, DIR/server.key. On
# failure prints openssl's output and exits 1.
# Usage: make_ca.sh DIR [CN]
set -u
dir=$1
cn=${2:-llmobs test CA}
mkdir -p "$dir"
{
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$dir/ca.key" -out "$dir/ca.pem" -days 2 -subj "/CN=$cn" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" &&
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$dir/server.key" -out "$dir/server.csr" -subj "/CN=localhost" &&
  printf '%s\n' "subjectAltName=DNS:localhost,IP:127.0.0.1" "basicConstraints=critical,CA:FALSE" \
    "extendedKeyUsage=serverAuth" >"$dir/ext.cnf" &&
  openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
    -CAcreateserial -days 2 -out "$dir/server.pem" -extfile "$dir/ext.cnf"
} >"$dir/openssl.log" 2>&1 || { cat "$dir/openssl.log"; exit 1; }
