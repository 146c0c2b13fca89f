#!/usr/bin/env bash
# Builds quiche as the static archive libzigquicheh3.so links
# (third_party/quiche/target/release/libzigquicheh3_quiche.a); build.zig
# runs it. quiche 0.28.0 comes from the Rust crate registry, its checksum pinned in
# third_party/quiche/Cargo.lock; third_party/quiche/patch.py then fixes a
# lost-FIN bug in it, adds RESET_STREAM_AT and an SSL_CTX accessor (see that file) before cargo
# builds it. The patched
# copy is made once per crate checksum and patch.py version.
set -euo pipefail
cd "$(dirname "$0")/../third_party/quiche"

version=0.28.0
checksum=$(awk '$0 == "name = \"quiche\"" { found = 1 } found && $1 == "checksum" { gsub(/"/, "", $3); print $3; exit }' Cargo.lock)
[[ -n $checksum ]] || { echo "build-quiche: no checksum for quiche in Cargo.lock" >&2; exit 1; }
patched="$PWD/target/quiche-$version-patched"
stamp="$patched/.zig-quiche-h3-patch"
want="$checksum $(sha256sum patch.py | cut -d' ' -f1)"

if [[ ! -f $stamp || $(<"$stamp") != "$want" ]]; then
  cargo fetch --locked "${quiet[@]}"
  crate=""
  for candidate in "${CARGO_HOME:-$HOME/.cargo}"/registry/cache/*/"quiche-$version.crate"; do
    if [[ -f $candidate && $(sha256sum "$candidate" | cut -d' ' -f1) == "$checksum" ]]; then
      crate=$candidate
      break
    fi
  done
  [[ -n $crate ]] || { echo "build-quiche: quiche-$version.crate with checksum $checksum is not in cargo's cache" >&2; exit 1; }
  rm -rf "$patched" "$patched.unpack"
  mkdir -p "$patched.unpack"
  tar xzf "$crate" -C "$patched.unpack"
  python3 patch.py "$patched.unpack/quiche-$version"
  mv "$patched.unpack/quiche-$version" "$patched"
  rmdir "$patched.unpack"
  echo "$want" >"$stamp"
fi

# build.zig runs this quietly; scripts/build.sh sets ZIG_H3_BUILD_VERBOSE=1
# so that a build from source shows cargo's progress.
quiet=(--quiet)
[[ ${ZIG_H3_BUILD_VERBOSE:-} == 1 ]] && quiet=()

# A path override replaces the registry crate of the same name and version
# without touching Cargo.lock, so --locked still holds.
exec cargo build --release --locked "${quiet[@]}" --config "paths = [\"$patched\"]"
