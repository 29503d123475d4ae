#!/usr/bin/env bash
# Runs inside `unshare -m -n` for chaos.sh: loopback only, the API hosts on
# 127.0.0.1, the test CA trusted; starts the local TLS server, then:
#   once OUT   every fixture once (urllib), lines to OUT;
#   chaos      streaming clients (urllib and curl) and one long-running
#              client, looping until $TMP/stop exists; $TMP/ns.ready is
#              written once they run. Outputs in $TMP/chaos/.
# Usage: chaos_ns.sh TMP MODE [OUT]
set -u
TMP=$1
MODE=$2
E2E=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
CLIENT=(timeout 600 "$PY" "$E2E/clients/chaos_client.py" "$E2E/fixtures.jsonl" "$TMP/stop")

ip link set lo up || { echo "chaos-ns: cannot bring lo up" >&2; exit 1; }
mount --bind "$TMP/hosts" /etc/hosts || { echo "chaos-ns: cannot bind /etc/hosts" >&2; exit 1; }
export SSL_CERT_FILE=$TMP/ca/ca.pem CURL_CA_BUNDLE=$TMP/ca/ca.pem TMPDIR=$TMP
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY

rm -f "$TMP/server.ready"
# Streams paced (20 ms per event) so that kills land in the middle of them.
"$PY" "$E2E/llm_server.py" --cert "$TMP/ca/server.pem" --key "$TMP/ca/server.key" \
  --fixtures "$E2E/fixtures.jsonl" --ready-file "$TMP/server.ready" --lifetime 1800 \
  --chunk-delay-ms "${CHAOS_CHUNK_DELAY_MS:-20}" --compress 2>>"$TMP/server.log" &
SRV=$!
trap 'kill $SRV 2>/dev/null; wait $SRV 2>/dev/null' EXIT
for _ in $(seq 100); do
  [ -s "$TMP/server.ready" ] && break
  sleep 0.1
done
[ -s "$TMP/server.ready" ] || { echo "chaos-ns: server did not start" >&2; exit 1; }

if [ "$MODE" = once ]; then
  "${CLIENT[@]}" once >"$3" 2>&1
  exit $?
fi

mkdir -p "$TMP/chaos"
pids=()
"${CLIENT[@]}" long "$TMP/long.pid" >"$TMP/chaos/long.out" 2>&1 &
pids+=($!)
for i in $(seq "${CHAOS_CLIENTS:-3}"); do
  "${CLIENT[@]}" urllib >"$TMP/chaos/urllib-$i.out" 2>&1 &
  pids+=($!)
done
"${CLIENT[@]}" curl >"$TMP/chaos/curl.out" 2>&1 &
pids+=($!)
touch "$TMP/ns.ready"
rc=0
for p in "${pids[@]}"; do
  wait "$p" || rc=1
done
exit $rc
