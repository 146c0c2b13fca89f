#!/usr/bin/env bash
# Builds libzigquicheh3.so from source, showing each step and the tools'
# own output, and the total time. One command for a platform without a
# prebuilt package, and what scripts/setup.sh runs in a clone:
#
#   bash node_modules/zig-quiche-h3/scripts/build.sh     # inside an app
#   ./scripts/build.sh                                    # in a clone
#
# Needs python3 with pip (to fetch Zig from PyPI unless $ZIG or a `zig`
# 0.15.2 on PATH is given), cargo, cmake and a C compiler (quiche's
# BoringSSL). Output: zig-out/lib/libzigquicheh3.so in this package, which
# the loader finds; set ZIG_H3_LIB to use a copy elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS

ZIG_VERSION=0.15.2
ZIG_DIR=.toolchain/zig
OPTIMIZE=${OPTIMIZE:-ReleaseSafe}

step() { printf '\033[1m==> [%3ds] %s\033[0m\n' $((SECONDS - started)) "$*"; }
fail() { printf '\033[1;31mbuild: %s\033[0m\n' "$*" >&2; exit 1; }

check_tools() {
  local missing=()
  for tool in cargo cmake cc python3; do command -v "$tool" >/dev/null || missing+=("$tool"); done
  ((${#missing[@]} == 0)) || fail "missing tools: ${missing[*]} (cargo from rustup or your distribution, cmake and a C compiler from your distribution)"
}

find_zig() {
  if [[ -n ${ZIG:-} ]]; then echo "$ZIG"; return; fi
  if [[ -x "$ZIG_DIR/ziglang/zig" && "$("$ZIG_DIR/ziglang/zig" version)" == "$ZIG_VERSION" ]]; then echo "$ZIG_DIR/ziglang/zig"; return; fi
  if command -v zig >/dev/null && [[ "$(zig version)" == "$ZIG_VERSION" ]]; then command -v zig; return; fi
  step "Installing Zig $ZIG_VERSION from PyPI into $ZIG_DIR" >&2
  rm -rf "$ZIG_DIR"
  python3 -m pip install --disable-pip-version-check --root-user-action=ignore --progress-bar off --target "$ZIG_DIR" "ziglang==$ZIG_VERSION" >&2
  echo "$ZIG_DIR/ziglang/zig"
}

check_tools
zig=$(find_zig)
step "Zig $("$zig" version) at $zig"
step "Building quiche 0.28.0 + BoringSSL with cargo (the first build takes a few minutes)"
ZIG_H3_BUILD_VERBOSE=1 ./scripts/build-quiche.sh
step "Building libzigquicheh3.so (zig build -Doptimize=$OPTIMIZE)"
"$zig" build -Doptimize="$OPTIMIZE" --summary new
step "Built $PWD/zig-out/lib/libzigquicheh3.so in $((SECONDS - started)) s"
