#!/bin/sh
# restart-and-wait.sh TIMEOUT API SERVERS
# Restarts the consul unit, then waits (at most TIMEOUT seconds) until the agent at API sees a
# leader and SERVERS Raft peers. The status endpoints need no ACL token.
set -eu
timeout=$1 api=$2 servers=$3
systemctl restart consul
end=$(( $(date +%s) + timeout ))
while :; do
    if python3 - "$api" "$servers" <<'PY'
import json, sys, urllib.request
api, servers = sys.argv[1], int(sys.argv[2])
try:
    leader = json.load(urllib.request.urlopen(api + '/v1/status/leader', timeout=3))
    peers = json.load(urllib.request.urlopen(api + '/v1/status/peers', timeout=3))
except Exception:
    sys.exit(1)
sys.exit(0 if leader and len(peers) >= servers else 1)
PY
    then
        exit 0
    fi
    if [ "$(date +%s)" -ge "$end" ]; then
        echo "consul restarted, but after ${timeout}s the agent at $api sees no leader with $servers server peers" >&2
        systemctl --no-pager status consul >&2 || true
        exit 1
    fi
    sleep 2
done
