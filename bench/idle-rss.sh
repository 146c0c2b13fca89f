#!/usr/bin/env bash
# RSS per idle connection of any server that prints "ready <port>" on stdout:
# VmRSS of the server process before, then 1 s after zig-out/bin/h3load reports
# that all N connections are up (held idle for 4 s). The growth is divided by N
# and by the connections h3load actually established: h3load does not wait for a
# connection that failed, so a server that loses handshakes would look cheaper
# per N than it is.
#   N=2000 ./bench/idle-rss.sh ours env CERT=certs/dev/cert.pem KEY=certs/dev/key.pem MODE=poll \
#     node_modules/.bin/bun bench/servers/ours.ts
# The server must be the process started (exec, not a child), since its own
# /proc/PID/status is read.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${N:-2000}
label=$1
shift
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$@" >"$work/server.out" 2>&1 &
server=$!
for _ in $(seq 1 150); do grep -q '^ready' "$work/server.out" && break; sleep 0.2; done
port=$(awk '/^ready/ { print $2; exit }' "$work/server.out")
[[ -n $port ]] || { echo "$label: server did not print ready"; kill "$server"; exit 1; }
sleep 1
before=$(awk '/^VmRSS/ { print $2 }' "/proc/$server/status")
zig-out/bin/h3load --port "$port" --connections "$n" --idle-ms 4000 2>"$work/h3load.err" >"$work/h3load.json" &
load=$!
for _ in $(seq 1 1800); do grep -q established "$work/h3load.err" && break; sleep 0.1; done
grep -q established "$work/h3load.err" || echo "$label: h3load never reported established"
sleep 1
during=$(awk '/^VmRSS/ { print $2 }' "/proc/$server/status")
wait "$load"
kill "$server"
wait "$server" 2>/dev/null || true
handshakes=$(grep -o '"handshakes":[0-9]*' "$work/h3load.json" | cut -d: -f2)
errors=$(grep -o '"errors":[0-9]*' "$work/h3load.json" | cut -d: -f2)
awk -v label="$label" -v n="$n" -v b="$before" -v d="$during" -v h="$handshakes" -v e="$errors" 'BEGIN {
  printf "%s: RSS %d -> %d KiB, %.1f KiB per connection of %d, %.1f KiB per established (%d established, %d failed)\n",
    label, b, d, (d - b) / n, n, (h > 0 ? (d - b) / h : 0), h, e }'
