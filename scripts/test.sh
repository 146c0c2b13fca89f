#!/usr/bin/env bash
# The whole test suite: Zig unit tests, the TypeScript typecheck, then the
# Bun end-to-end tests.
# Run through `npm test`, which sets up first.
set -euo pipefail
cd "$(dirname "$0")/.."
"${ZIG:-.toolchain/zig/ziglang/zig}" build test --summary all
node_modules/.bin/tsc -p .
# End-to-end tests start servers and real clients: give each room on a
# loaded 2-core machine (the heaviest set their own, longer, limits).
node_modules/.bin/bun test --timeout 60000 "$@"
