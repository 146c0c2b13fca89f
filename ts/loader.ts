// Finds and loads libzigquicheh3.so once per process.
//
// Where it looks, in order:
// 1. $ZIG_H3_LIB when set, and then only there: an explicit path is the
//    user's decision, so one that does not exist is an error rather than a
//    reason to load some other build.
// 2. The prebuilt platform package (e.g. zig-quiche-h3-linux-x64-gnu), which
//    `bun add zig-quiche-h3` installs through optionalDependencies, the way
//    esbuild and Biome ship native code.
// 3. A build from source in this package's own zig-out/lib
//    (scripts/build.sh; what a clone of the repository uses).
import { dlopen } from "bun:ffi";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { symbols } from "./symbols.ts";
import { ZigH3Error } from "./errors.ts";

export const LIBRARY_ENV = "ZIG_H3_LIB";
export const LIBRARY_FILE = "libzigquicheh3.so";
/** The one command that builds the library from this package's sources. */
export const BUILD_COMMAND = "bash node_modules/zig-quiche-h3/scripts/build.sh  (in a clone of the repository: ./scripts/build.sh)";
/** Platforms with a prebuilt package, as `${platform}-${arch}-${libc}`. */
export const PREBUILT_PLATFORMS = ["linux-x64-gnu"] as const;

export type Native = ReturnType<typeof dlopen<typeof symbols>>["symbols"];

let loaded: Native | undefined;

/** This machine as the platform packages name it, e.g. "linux-x64-gnu". */
export function currentPlatform(): string {
  const parts: string[] = [process.platform, process.arch];
  if (process.platform === "linux") {
    // Bun reports the C library it runs on like Node does: a glibc version
    // on glibc systems and nothing on musl ones.
    const report = (process as { report?: { getReport?: () => { header?: { glibcVersionRuntime?: string } } } }).report;
    parts.push(report?.getReport?.().header?.glibcVersionRuntime ? "gnu" : "musl");
  }
  return parts.join("-");
}

/** The npm package holding the prebuilt library for this machine. */
export function platformPackage(platform = currentPlatform()): string {
  return `zig-quiche-h3-${platform}`;
}

/** The installed platform package's directory, or null when it is not installed. */
function platformPackageDir(): string | null {
  try {
    return dirname(Bun.resolveSync(`${platformPackage()}/package.json`, import.meta.dir));
  } catch {
    return null;
  }
}

/** Where the library is looked for, in order (see the top of this file). */
export function libraryCandidates(): string[] {
  const fromEnv = process.env[LIBRARY_ENV];
  if (fromEnv) return [resolve(fromEnv)];
  const candidates: string[] = [];
  const prebuilt = platformPackageDir();
  if (prebuilt) candidates.push(join(prebuilt, LIBRARY_FILE));
  candidates.push(join(import.meta.dir, "..", "zig-out", "lib", LIBRARY_FILE));
  return candidates;
}

function packageVersion(packageJson: string): string | undefined {
  try {
    return JSON.parse(readFileSync(packageJson, "utf8")).version;
  } catch {
    return undefined;
  }
}

/**
 * A platform package of another version than this package would pair a
 * library with wrappers that disagree on the ABI; say so plainly instead of
 * failing later on a struct size.
 */
function checkPlatformVersion(path: string) {
  const prebuilt = platformPackageDir();
  if (!prebuilt || dirname(path) !== prebuilt) return;
  const ours = packageVersion(join(import.meta.dir, "..", "package.json"));
  const theirs = packageVersion(join(prebuilt, "package.json"));
  if (ours && theirs && ours !== theirs) {
    throw new ZigH3Error(
      "ZIG_H3_ERR_LIBRARY_VERSION",
      `${platformPackage()}@${theirs} is installed but zig-quiche-h3 is ${ours}; install the same version of both (bun add ${platformPackage()}@${ours})`,
    );
  }
}

function notFound(candidates: string[]): ZigH3Error {
  const platform = currentPlatform();
  const looked = `looked in: ${candidates.join(", ")}`;
  if (!process.env[LIBRARY_ENV] && !(PREBUILT_PLATFORMS as readonly string[]).includes(platform)) {
    return new ZigH3Error(
      "ZIG_H3_ERR_PLATFORM_UNSUPPORTED",
      `no prebuilt ${LIBRARY_FILE} for ${platform} (prebuilt: ${PREBUILT_PLATFORMS.join(", ")}; ${looked}). ` +
        `Build it from source with: ${BUILD_COMMAND}, or set ${LIBRARY_ENV} to a build's path.`,
    );
  }
  const hint = process.env[LIBRARY_ENV]
    ? `${LIBRARY_ENV} names a file that does not exist`
    : `the optional dependency ${platformPackage()} is not installed (bun add ${platformPackage()})`;
  return new ZigH3Error(
    "ZIG_H3_ERR_LIBRARY_NOT_FOUND",
    `${LIBRARY_FILE} not found (${looked}): ${hint}. Or build it from source with: ${BUILD_COMMAND}, or set ${LIBRARY_ENV} to its path.`,
  );
}

/** The loaded library's functions; loads it on first use. */
export function native(): Native {
  if (loaded) return loaded;
  const candidates = libraryCandidates();
  const path = candidates.find((candidate) => existsSync(candidate));
  if (!path) throw notFound(candidates);
  checkPlatformVersion(path);
  try {
    loaded = dlopen(path, symbols).symbols;
  } catch (error) {
    throw new ZigH3Error("ZIG_H3_ERR_LIBRARY_LOAD", `${path} could not be loaded: ${(error as Error).message}`);
  }
  return loaded;
}

/** The library's version line, e.g. "zig-quiche-h3/0.1.0 quiche/0.28.0". */
export function version(): string {
  return String(native().zig_h3_version());
}
