// Soak: REQUESTS GET /hello requests (default 1,000,000) through Bun's HTTP/3
// fetch against one server in MODE (default callback), CONCURRENCY in flight,
// Bun.gc(true) every 10,000. Prints one JSON line: counts, RSS before/after,
// req/s. Exit code 1 on any failed request or RSS growth over MAX_RSS_GROWTH_MB (50).
//
//   node_modules/.bin/bun bench/soak.ts                      # the full run
//   REQUESTS=50000 MODE=poll node_modules/.bin/bun bench/soak.ts
import { serve, type EventMode } from "../ts/index.ts";
import { join } from "node:path";

const requests = Number(process.env.REQUESTS ?? 1_000_000);
const mode = (process.env.MODE ?? "callback") as EventMode;
const concurrency = Number(process.env.CONCURRENCY ?? 64);
const maxGrowthMb = Number(process.env.MAX_RSS_GROWTH_MB ?? 50);
const certs = process.env.CERT_DIR ?? join(import.meta.dir, "..", "certs", "dev");

const server = serve({
  port: 0,
  mode,
  tls: { cert: join(certs, "cert.pem"), key: join(certs, "key.pem") },
  routes: { "/hello": { GET: () => new Response("Hello, HTTP/3!\n", { headers: { "content-type": "text/plain" } }) } },
});
const url = new URL("/hello", server.url);
const init = { protocol: "http3", tls: { rejectUnauthorized: false } } as RequestInit;
const rssMb = () => process.memoryUsage().rss / (1024 * 1024);

let issued = 0;
let ok = 0;
let failed = 0;
let rssBefore = 0;
const warmup = Math.min(10_000, Math.floor(requests / 10));

async function worker() {
  while (issued < requests) {
    const n = issued++;
    try {
      const response = await fetch(url, init);
      const text = await response.text();
      if (response.status === 200 && text === "Hello, HTTP/3!\n") ok++;
      else failed++;
    } catch {
      failed++;
    }
    if ((n + 1) % 10_000 === 0) Bun.gc(true);
    if (n + 1 === warmup) {
      Bun.gc(true);
      rssBefore = rssMb();
    }
  }
}

const started = performance.now();
await Promise.all(Array.from({ length: concurrency }, worker));
const seconds = (performance.now() - started) / 1000;
Bun.gc(true);
const rssAfter = rssMb();
const stats = server.stats();
await server.stop();
const result = {
  mode,
  requests,
  ok,
  failed,
  concurrency,
  seconds: Number(seconds.toFixed(1)),
  requests_per_second: Math.round(requests / seconds),
  rss_before_mb: Number(rssBefore.toFixed(1)),
  rss_after_mb: Number(rssAfter.toFixed(1)),
  rss_growth_mb: Number((rssAfter - rssBefore).toFixed(1)),
  server_responses_completed: stats.responses_completed,
  server_stale_commands: stats.stale_commands,
};
console.log(JSON.stringify(result));
process.exit(failed === 0 && ok === requests && result.rss_growth_mb < maxGrowthMb ? 0 : 1);
