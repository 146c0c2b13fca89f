// Memory bound of request bodies a handler has not read yet (issue 12,
// goal 4). A server process whose POST handler waits HOLD_MS before reading
// its body receives uploads from h3load (64 MiB on one connection, then 100
// uploads of 64 MiB on 100 connections at once); its RSS is sampled while
// the handlers wait. With the per-stream read window the library stops
// reading each stream after request_read_window_bytes and QUIC flow
// control holds the client; RSS grows by about a window (plus quiche's own
// stream window) per upload, not by the upload.
//   node_modules/.bin/bun bench/unread-body.ts
import { join } from "node:path";
import { rssKib } from "./harness.ts";

const root = join(import.meta.dir, "..");
const bun = join(root, "node_modules", ".bin", "bun");
const holdMs = Number(process.env.HOLD_MS ?? 3000);

if (process.env.ROLE === "server") {
  const { serve } = await import("../ts/index.ts");
  const server = serve({
    port: 0,
    tls: { cert: process.env.CERT!, key: process.env.KEY! },
    handlerTimeoutMs: 0,
    // WINDOW=1073741824 approximates the library before the read window
    // (it read whatever quiche had, as far as the event queue allowed).
    limits: { max_connections: 1024, max_request_body_size: 1 << 30, request_read_window_bytes: Number(process.env.WINDOW ?? 1 << 20) },
    routes: {
      "/hold": {
        POST: async (req) => {
          await Bun.sleep(holdMs);
          let length = 0;
          for await (const chunk of req.body!) length += chunk.length;
          return new Response(String(length));
        },
      },
    },
  });
  console.log(`ready ${server.port}`);
  process.on("SIGTERM", () => void server.stop(true).then(() => process.exit(0)));
} else {
  const certs = join(root, "certs", "dev");
  const results: string[] = [];
  const uploadCounts = (process.env.UPLOADS ?? "1,100").split(",").map(Number);
  for (const uploads of uploadCounts) {
    const child = Bun.spawn(["taskset", "-c", "0", bun, import.meta.path], {
      env: { ...process.env, ROLE: "server", CERT: join(certs, "cert.pem"), KEY: join(certs, "key.pem") },
      stdout: "pipe",
      stderr: "inherit",
    });
    const reader = child.stdout.getReader();
    let text = "";
    while (!text.includes("\n")) text += new TextDecoder().decode((await reader.read()).value);
    const port = /ready (\d+)/.exec(text)![1]!;
    await Bun.sleep(300);
    const before = rssKib(child.pid);
    // Sampled while every handler still waits (the uploads start at once);
    // reading afterwards makes garbage the collector frees later, which is
    // not what this measures.
    let peak = before;
    const started = performance.now();
    const sampler = setInterval(() => {
      if (performance.now() - started < holdMs - 500) peak = Math.max(peak, rssKib(child.pid));
    }, 50);
    const load = Bun.spawn(
      ["taskset", "-c", "1", join(root, "zig-out", "bin", "h3load"), "--port", port, "--method", "POST", "--path", "/hold", "--body-bytes", String(64 << 20), "--connections", String(uploads), "--requests", String(uploads)],
      { stdout: "pipe", stderr: "inherit" },
    );
    const output = JSON.parse(await new Response(load.stdout).text());
    clearInterval(sampler);
    child.kill("SIGTERM");
    await child.exited;
    const growthMib = (peak - before) / 1024;
    results.push(`| ${uploads} × 64 MiB, read window ${((Number(process.env.WINDOW ?? 1 << 20)) / 1048576).toFixed(0)} MiB, handler reads after ${holdMs} ms | ${output.requests} | ${output.errors} | ${(before / 1024).toFixed(1)} MiB | ${growthMib.toFixed(1)} MiB | ${(growthMib / uploads).toFixed(2)} MiB |`);
  }
  console.log("| uploads | answered | errors | server RSS before | peak growth while unread | per upload |");
  console.log("|---|---|---|---|---|---|");
  for (const line of results) console.log(line);
}
