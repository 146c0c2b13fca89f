// The CI form of bench/leaks.sh: a C program drives the C ABI (native route,
// static route, event/command queues) through 1,500 requests under
// valgrind; no byte may be definitely or indirectly lost, and valgrind
// must report no errors.
import { expect, test } from "bun:test";
import { join } from "node:path";

test("1,500 requests through the C ABI under valgrind: no leaks, no errors", async () => {
  const root = join(import.meta.dir, "..");
  const child = Bun.spawn([join(root, "bench", "leaks.sh")], { env: { ...process.env, REQUESTS: "1500" }, stdout: "pipe", stderr: "pipe", cwd: root });
  const [stdout, stderr, exitCode] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  expect({ exitCode, tail: exitCode === 0 ? "" : (stdout + stderr).slice(-2000) }).toEqual({ exitCode: 0, tail: "" });
  expect(stdout).toContain("definitely lost: 0 bytes in 0 blocks");
  expect(stdout).toContain("indirectly lost: 0 bytes in 0 blocks");
  expect(stdout).toContain("ERROR SUMMARY: 0 errors");
  expect(stdout).toContain("server: answered 500");
}, 300_000);
