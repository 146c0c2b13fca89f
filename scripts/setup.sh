#!/usr/bin/env bash
# Sets up everything this project needs from its own files, idempotently:
# Debian packages, Bun (npm), Zig (PyPI), quiche (the Rust crate registry, via build.zig),
# the library, and a development certificate. Re-running it is cheap.
set -euo pipefail
cd "$(dirname "$0")/.."

AIOQUIC_VERSION=1.7.2
APT_PACKAGES=(ngtcp2-client openssl chromium valgrind curl)

step() { printf '\033[1m==> %s\033[0m\n' "$*"; }

missing_packages() {
  local missing=()
  for package in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
  done
  echo "${missing[@]:-}"
}

install_debian_packages() {
  local missing
  missing=$(missing_packages)
  [[ -z "$missing" ]] && return 0
  step "Installing Debian packages: $missing"
  local sudo=""
  [[ $(id -u) -ne 0 ]] && sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  # shellcheck disable=SC2086
  $sudo apt-get install -y -q $missing >/dev/null 2>&1 ||
    { $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q $missing >/dev/null; }
}

install_node_packages() {
  if [[ -x node_modules/.bin/bun && node_modules/.package-lock.json -nt package-lock.json ]]; then return 0; fi
  step "Installing npm packages (Bun, mitata, types)"
  npm ci --no-audit --no-fund --loglevel=error
}

install_python_clients() {
  # aioquic: an HTTP/3 client we did not write that can send malformed requests.
  if [[ -x .venv/bin/python ]] && .venv/bin/python -c "import aioquic, sys; sys.exit(aioquic.__version__ != '$AIOQUIC_VERSION')" 2>/dev/null; then return 0; fi
  step "Installing aioquic $AIOQUIC_VERSION from PyPI into .venv"
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check "aioquic==$AIOQUIC_VERSION"
}

build_library() {
  step "Building libzigquicheh3.so (quiche + BoringSSL on first run: a few minutes)"
  ./scripts/build.sh
}

install_debian_packages
install_node_packages
install_python_clients
build_library
./scripts/gen-dev-cert.sh >/dev/null
step "Ready: zig-out/lib/libzigquicheh3.so (Bun $(node_modules/.bin/bun --version), zig $("${ZIG:-.toolchain/zig/ziglang/zig}" version))"
