// The CI form of bench/soak.ts: 50,000 requests in callback mode (the mode
// with Bun's history of threadsafe-callback crashes), Bun.gc(true) every
// 10,000, in its own process so a crash shows as a failed exit.
import { expect, test } from "bun:test";
import { join } from "node:path";
import { makeCertificate } from "./helpers/certs.ts";

test("50,000 requests in callback mode: no failure, no crash, RSS growth under 50 MB", async () => {
  const { dir } = makeCertificate();
  const child = Bun.spawn([process.execPath, join(import.meta.dir, "..", "bench", "soak.ts")], {
    env: { ...process.env, REQUESTS: "50000", MODE: "callback", CERT_DIR: dir },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, exitCode] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  const result = JSON.parse(stdout.trim().split("\n").at(-1) || "{}");
  expect({ exitCode, stderr: stderr.slice(-500) }).toEqual({ exitCode: 0, stderr: "" });
  expect(result.ok).toBe(50_000);
  expect(result.failed).toBe(0);
  expect(result.server_responses_completed).toBe(50_000);
  expect(result.rss_growth_mb).toBeLessThan(50);
}, 300_000);
