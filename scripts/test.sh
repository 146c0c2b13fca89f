#!/usr/bin/env bash
# The whole test suite: Zig unit tests, the TypeScript typecheck, then the
# Bun end-to-end tests.
# Run through `npm test`, which sets up first.
set -euo pipefail
cd "$(dirname "$0")/.."
"${ZIG:-.toolchain/zig/ziglang/zig}" build test --summary all
node_modules/.bin/tsc -p .
# bunfig.toml sets the per-test timeout (tests/setup.ts) and the test root.
node_modules/.bin/bun test "$@"
