// The loader: where it looks for libzigquicheh3.so, and the error with a
// code and the one build command when there is none.
import { expect, test } from "bun:test";
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = join(import.meta.dir, "..");

/** Runs a script that calls version() and prints what it threw as JSON. */
function tryVersion(loader: string, env: Record<string, string | undefined>, prelude = "") {
  const script = `${prelude}
const { version } = await import(${JSON.stringify(loader)});
try { console.log(JSON.stringify({ version: version() })); }
catch (e) { console.log(JSON.stringify({ name: e.name, code: e.code, status: e.status, message: e.message })); }`;
  const result = Bun.spawnSync([process.execPath, "-e", script], { env: { ...process.env, ...env } });
  expect(result.exitCode).toBe(0);
  return JSON.parse(result.stdout.toString());
}

test("ZIG_H3_LIB naming a missing file is a ZigH3Error with a code, the path and the build command", () => {
  const thrown = tryVersion(join(root, "ts", "loader.ts"), { ZIG_H3_LIB: "/nonexistent/libzigquicheh3.so" });
  expect(thrown.name).toBe("ZigH3Error");
  expect(thrown.code).toBe("ZIG_H3_ERR_LIBRARY_NOT_FOUND");
  expect(thrown.status).toBe(0);
  expect(thrown.message).toContain("looked in: /nonexistent/libzigquicheh3.so");
  expect(thrown.message).toContain("ZIG_H3_LIB names a file that does not exist");
  expect(thrown.message).toContain("scripts/build.sh");
});

test("ZIG_H3_LIB pointing at a real build loads it", () => {
  const loaded = tryVersion(join(root, "ts", "loader.ts"), { ZIG_H3_LIB: join(root, "zig-out", "lib", "libzigquicheh3.so") });
  expect(loaded).toEqual({ version: "zig-quiche-h3/0.1.0 quiche/0.28.0" });
});

test("a platform without a prebuilt package names the platforms that exist and the build command", () => {
  // A copy of the package's TypeScript with no build beside it, on a
  // machine that claims to be arm64.
  const copy = mkdtempSync(join(tmpdir(), "zig-h3-loader-"));
  try {
    cpSync(join(root, "ts"), join(copy, "ts"), { recursive: true });
    const thrown = tryVersion(join(copy, "ts", "loader.ts"), { ZIG_H3_LIB: undefined }, `Object.defineProperty(process, "arch", { value: "arm64" });`);
    expect(thrown.code).toBe("ZIG_H3_ERR_PLATFORM_UNSUPPORTED");
    expect(thrown.message).toContain("no prebuilt libzigquicheh3.so for linux-arm64-gnu (prebuilt: linux-x64-gnu;");
    expect(thrown.message).toContain("Build it from source with: bash node_modules/zig-quiche-h3/scripts/build.sh");
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
});

test("a supported platform whose package is missing says which package to add", () => {
  const copy = mkdtempSync(join(tmpdir(), "zig-h3-loader-"));
  try {
    cpSync(join(root, "ts"), join(copy, "ts"), { recursive: true });
    const thrown = tryVersion(join(copy, "ts", "loader.ts"), { ZIG_H3_LIB: undefined });
    expect(thrown.code).toBe("ZIG_H3_ERR_LIBRARY_NOT_FOUND");
    expect(thrown.message).toContain("the optional dependency zig-quiche-h3-linux-x64-gnu is not installed (bun add zig-quiche-h3-linux-x64-gnu)");
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
});
