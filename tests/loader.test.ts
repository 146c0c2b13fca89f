// The loader names the build command when the library is missing.
import { expect, test } from "bun:test";
import { join } from "node:path";

test("a missing library is an Error naming the path and the build command", () => {
  const loader = JSON.stringify(join(import.meta.dir, "..", "ts", "loader.ts"));
  const script = `import { version } from ${loader};
try { version(); console.log("loaded"); } catch (e) { console.log(e.constructor.name + ": " + e.message); }`;
  const result = Bun.spawnSync([process.execPath, "-e", script], {
    env: { ...process.env, ZIG_H3_LIB: "/nonexistent/libzigquicheh3.so" },
  });
  const output = result.stdout.toString();
  expect(result.exitCode).toBe(0);
  expect(output).toContain("Error: libzigquicheh3.so not found (looked in: /nonexistent/libzigquicheh3.so)");
  expect(output).toContain("./scripts/setup.sh");
  expect(output).toContain("ZIG_H3_LIB");
});

test("ZIG_H3_LIB pointing at a real build loads it", () => {
  const loader = JSON.stringify(join(import.meta.dir, "..", "ts", "loader.ts"));
  const result = Bun.spawnSync([process.execPath, "-e", `import { version } from ${loader}; console.log(version());`], {
    env: { ...process.env, ZIG_H3_LIB: join(import.meta.dir, "..", "zig-out", "lib", "libzigquicheh3.so") },
  });
  expect(result.stdout.toString().trim()).toBe("zig-quiche-h3/0.1.0 quiche/0.28.0");
});
