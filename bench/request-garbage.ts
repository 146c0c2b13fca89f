// How much memory each request leaves for a JavaScriptCore collection to
// free (the garbage ts/gc-pacer.ts counts). The bench server's handlers run
// in this process; h3load (zig-out/bin/h3load) sends GET /hello and 64 KiB
// POST /upload in phases, and for each phase this prints RSS before, right
// after (what accumulated, less what collections during the phase freed)
// and after a full Bun.gc(true), which frees it again. GC_PACER_OFF=1 makes
// Bun.gc(false) a no-op, so the library's requests for a collection do
// nothing: the growth is then what each request leaves for JSC's own
// schedule to collect.
//
//   node_modules/.bin/bun bench/request-garbage.ts
//   MODE=callback GC_PACER_OFF=1 node_modules/.bin/bun bench/request-garbage.ts
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { serve, type EventMode } from "../ts/index.ts";
import { route } from "./servers/handlers.ts";

const root = join(import.meta.dir, "..");
const gc = Bun.gc;
if (process.env.GC_PACER_OFF === "1") Bun.gc = (force?: boolean) => (force ? gc(true) : 0);
const mode = (process.env.MODE ?? "poll") as EventMode;
const server = serve({
  port: 0,
  tls: { cert: join(root, "certs", "dev", "cert.pem"), key: join(root, "certs", "dev", "key.pem") },
  mode,
  http1: false,
  handlerTimeoutMs: 0,
  fetch: (request) => route(request, new URL(request.url).pathname),
});
if (mode === "manual") setInterval(() => server.poll(), 1);

const rssMb = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync("/proc/self/status", "utf8"))?.[1] ?? 0) / 1024;

async function load(args: string[]) {
  const child = Bun.spawn([join(root, "zig-out", "bin", "h3load"), "--port", String(server.port), "--connections", "1", "--streams", "16", ...args], { stdout: "pipe", stderr: "pipe" });
  const [stdout, code] = await Promise.all([new Response(child.stdout).text(), child.exited]);
  if (code !== 0) throw new Error(`h3load ${args.join(" ")} failed (${code})`);
  return JSON.parse(stdout) as { requests: number; errors: number };
}

const get = ["--path", "/hello", "--requests", "20000"];
const upload = ["--path", "/upload", "--method", "POST", "--body-bytes", "65536", "--requests", "2000"];
const phases: [string, string[]][] = [["warm-up GET", get], ["warm-up upload", upload], ["20,000 GET /hello", get], ["2,000 × 64 KiB POST /upload", upload], ["20,000 GET /hello", get], ["2,000 × 64 KiB POST /upload", upload]];
for (const [name, args] of phases) {
  gc(true);
  await Bun.sleep(500);
  const before = rssMb();
  const result = await load(args);
  const after = rssMb();
  gc(true);
  await Bun.sleep(1000);
  const collected = rssMb();
  const perRequestKib = ((after - before) * 1024) / result.requests;
  console.log(`${name.padEnd(28)} RSS ${before.toFixed(1)} → ${after.toFixed(1)} MB (+${(after - before).toFixed(1)}, ${perRequestKib.toFixed(1)} KiB per request), after Bun.gc(true) ${collected.toFixed(1)} MB; ${result.errors} errors`);
}
await server.stop(true);
process.exit(0);
