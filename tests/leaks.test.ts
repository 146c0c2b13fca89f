// The CI form of bench/leaks.sh: a C program drives the C ABI (native route,
// static route, event/command queues) through 1,500 requests under
// valgrind; no byte may be definitely or indirectly lost, and valgrind
// must report no errors. It runs the same on every x86-64 CPU because the
// library carries no instruction valgrind cannot decode (checked below).
import { expect, test } from "bun:test";
import { join } from "node:path";

const root = join(import.meta.dir, "..");

test("the library carries no AVX-512 instruction, whatever CPU built it", async () => {
  // build.zig compiles for x86-64-v2, not the build machine's CPU. Built for
  // an AVX-512 CPU, Zig's own vectorised std.mem code used zmm and mask
  // registers, which valgrind 3.19 stops on ("Illegal instruction") and
  // older CPUs cannot run. This assertion fails on any CPU if that returns.
  const disassembly = Bun.spawn(["objdump", "-d", "--no-show-raw-insn", join(root, "zig-out", "lib", "libzigquicheh3.so")], { stdout: "pipe" });
  const text = await new Response(disassembly.stdout).text();
  expect(await disassembly.exited).toBe(0);
  expect(text.length).toBeGreaterThan(1_000_000);
  const avx512 = text.split("\n").filter((line) => /%zmm|%k[0-7]\b|%[xy]mm(1[6-9]|2\d|3[01])\b/.test(line));
  expect(avx512.slice(0, 5)).toEqual([]);
});

test("1,500 requests through the C ABI under valgrind: no leaks, no errors", async () => {
  const child = Bun.spawn([join(root, "bench", "leaks.sh")], { env: { ...process.env, REQUESTS: "1500" }, stdout: "pipe", stderr: "pipe", cwd: root });
  const [stdout, stderr, exitCode] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  expect({ exitCode, tail: exitCode === 0 ? "" : (stdout + stderr).slice(-2000) }).toEqual({ exitCode: 0, tail: "" });
  expect(stdout).toContain("definitely lost: 0 bytes in 0 blocks");
  expect(stdout).toContain("indirectly lost: 0 bytes in 0 blocks");
  expect(stdout).toContain("ERROR SUMMARY: 0 errors");
  expect(stdout).toContain("server: answered 500");
}, 300_000);
