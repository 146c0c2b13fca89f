// Slow clients (issue 7, item 2): a request stream that never completes its
// field section is reset with H3_REQUEST_INCOMPLETE after
// request_head_timeout_ms, a body slower than min_request_body_bytes_per_s
// is reset the same way (the handler sees its body abort), both are counted
// in requests_timed_out, nothing is left behind, and a healthy client is
// served throughout. The slow client is aioquic (tests/clients/slow_client.py).
import { expect, test } from "bun:test";
import { join } from "node:path";
import { serve } from "../ts/index.ts";
import { makeCertificate } from "./helpers/certs.ts";
import { h3fetch } from "./helpers/clients.ts";

const tls = makeCertificate();
const root = join(import.meta.dir, "..");
const H3_REQUEST_INCOMPLETE = 0x10d;

async function slowClient(port: number, mode: string, count = 1) {
  const child = Bun.spawn([join(root, ".venv", "bin", "python"), join(root, "tests", "clients", "slow_client.py"), "127.0.0.1", String(port), mode, String(count)], {
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  if (code !== 0) throw new Error(`slow_client.py ${mode} failed: ${stderr.slice(-2000)}`);
  return JSON.parse(stdout) as { resets: number[]; statuses: number[]; closed: number | null };
}

test("200 streams that never finish their heads are reset after request_head_timeout_ms", async () => {
  await using server = serve({ port: 0, tls, limits: { request_head_timeout_ms: 500 }, routes: { "/hello": () => new Response("healthy") } });
  const slow = slowClient(server.port, "partial-head", 200);
  // Served while the slow streams hold their slots.
  await Bun.sleep(200);
  expect(await (await h3fetch(new URL("/hello", server.url))).text()).toBe("healthy");
  const result = await slow;
  expect(result.closed).toBeNull();
  expect(result.resets.length).toBe(200);
  expect(new Set(result.resets)).toEqual(new Set([H3_REQUEST_INCOMPLETE]));
  expect(server.stats().requests_timed_out).toBe(200);
  expect(server.stats().requests_active).toBe(0);
}, 60_000);

test("a body slower than min_request_body_bytes_per_s is reset and the handler sees it abort", async () => {
  let handlerSaw = "";
  await using server = serve({
    port: 0,
    tls,
    limits: { min_request_body_bytes_per_s: 1000, request_body_rate_window_ms: 500 },
    routes: {
      "/upload": async (request) => {
        try {
          await request.arrayBuffer();
          handlerSaw = "complete";
        } catch (error) {
          handlerSaw = (error as Error).name;
        }
        return new Response("done");
      },
      "/hello": () => new Response("healthy"),
    },
  });
  const result = await slowClient(server.port, "slow-body");
  expect(result.resets).toEqual([H3_REQUEST_INCOMPLETE]);
  for (let i = 0; i < 100 && !handlerSaw; i++) await Bun.sleep(10);
  expect(handlerSaw).toBe("AbortError");
  expect(server.stats().requests_timed_out).toBe(1);
  expect(await (await h3fetch(new URL("/hello", server.url))).text()).toBe("healthy");
}, 60_000);
