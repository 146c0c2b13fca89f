// Finds and loads libzigquicheh3.so once per process.
import { dlopen } from "bun:ffi";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { symbols } from "./symbols.ts";

export const LIBRARY_ENV = "ZIG_H3_LIB";
export const BUILD_COMMAND = "./scripts/setup.sh  (or: .toolchain/zig/ziglang/zig build -Doptimize=ReleaseSafe)";

export type Native = ReturnType<typeof dlopen<typeof symbols>>["symbols"];

let loaded: Native | undefined;

/**
 * Where the library is looked for: $ZIG_H3_LIB when set (and then only
 * there: an explicit path that does not exist is an error, not a reason to
 * load some other build), else this package's own build output.
 */
export function libraryCandidates(): string[] {
  const fromEnv = process.env[LIBRARY_ENV];
  if (fromEnv) return [resolve(fromEnv)];
  return [join(import.meta.dir, "..", "zig-out", "lib", "libzigquicheh3.so")];
}

export function native(): Native {
  if (loaded) return loaded;
  const candidates = libraryCandidates();
  const path = candidates.find((candidate) => existsSync(candidate));
  if (!path) {
    throw new Error(
      `libzigquicheh3.so not found (looked in: ${candidates.join(", ")}). ` +
        `Build it with ${BUILD_COMMAND}, or set ${LIBRARY_ENV} to its path.`,
    );
  }
  loaded = dlopen(path, symbols).symbols;
  return loaded;
}

export function version(): string {
  return String(native().zig_h3_version());
}
