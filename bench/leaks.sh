#!/usr/bin/env bash
# Leak check: a C program (tests/c/leak_server.c) drives the C ABI through
# REQUESTS requests (default 10,000, split over a native route, a static
# route and routes answered through the event/command queues) under
# valgrind; any definitely or indirectly lost byte fails. valgrind 3.19
# decodes no AVX-512, which is why build.zig compiles the library for
# x86-64-v2 instead of the build machine's CPU; tests/leaks.test.ts checks the
# library carries no AVX-512 instruction, so this runs on any x86-64 CPU.
#   ./bench/leaks.sh            REQUESTS=1000 ./bench/leaks.sh
set -euo pipefail
cd "$(dirname "$0")/.."
requests=${REQUESTS:-10000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
./scripts/gen-dev-cert.sh "$work" >/dev/null
"${ZIG:-.toolchain/zig/ziglang/zig}" build loadgen
cc -std=c11 -D_DEFAULT_SOURCE -O1 -g -Wall -Wextra -Werror -I include tests/c/leak_server.c -o "$work/leak_server" \
  -L zig-out/lib -lzigquicheh3 -Wl,-rpath,"$PWD/zig-out/lib"

mkfifo "$work/stdin"
valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect \
  --log-file="$work/valgrind.log" "$work/leak_server" "$work/cert.pem" "$work/key.pem" <"$work/stdin" >"$work/out" &
server=$!
exec 3>"$work/stdin"
for _ in $(seq 1 600); do [[ -s "$work/out" ]] && break; kill -0 "$server" 2>/dev/null || break; sleep 0.1; done
port=$(head -1 "$work/out")
if [[ ! "$port" =~ ^[0-9]+$ ]]; then
  # The server under valgrind died before it listened: show why (an
  # instruction valgrind cannot decode shows up here as "unhandled instruction").
  wait "$server" || echo "leak_server under valgrind exited with status $?"
  grep -E -A4 "unhandled instruction|Process terminating|Illegal" "$work/valgrind.log" | head -20
  exit 1
fi
third=$((requests / 3))
for path in /native /static /queued; do
  zig-out/bin/h3load --port "$port" --path "$path" --connections 4 --streams 8 --requests "$third" >"$work/load-${path#/}.json"
  echo "$path: $(cut -c1-60 "$work/load-${path#/}.json")"
done
exec 3>&-
wait "$server"
echo "server: $(tail -1 "$work/out")"
grep -E "definitely lost|indirectly lost|possibly lost|still reachable|ERROR SUMMARY|All heap blocks" "$work/valgrind.log" | sed 's/^==[0-9]*== //'
if grep -qE "definitely lost: [1-9]|indirectly lost: [1-9]" "$work/valgrind.log"; then
  echo "LEAKS FOUND"; grep -A20 "definitely lost in" "$work/valgrind.log" | head -60; exit 1
fi
errors=$(sed -n 's/.*ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$work/valgrind.log" | tail -1)
[[ "$errors" == "0" ]] || { echo "valgrind reported $errors errors"; grep -B2 -A12 "Invalid\|uninitialised" "$work/valgrind.log" | head -60; exit 1; }
echo "no leaks, no valgrind errors"
