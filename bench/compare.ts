// bench/compare: every contender, every workload, one run, one load
// generator (zig-out/bin/h3load). Servers run pinned to CPU 0 and the load
// generator to CPU 1 (taskset), so neither steals the other's core.
// Writes the table between the markers in bench/RESULTS.md and a chart
// (bench/compare.svg). BENCH_DURATION_MS (default 5000) sets the length of
// the timed workloads.
import { readFileSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { version } from "../ts/loader.ts";
import { measureRate as measureRateRuns, rssKib, runLoad, startServer as startServerIn, type Result } from "./harness.ts";

const root = join(import.meta.dir, "..");
const duration = String(Number(process.env.BENCH_DURATION_MS ?? 3000));
// Request-rate points are the median of this many runs: single runs on a
// shared VM varied by ±30 %.
const repeat = Number(process.env.BENCH_REPEAT ?? 3);
const certDir = process.env.CERT_DIR ?? join(root, "certs", "dev");
const cert = join(certDir, "cert.pem");
const key = join(certDir, "key.pem");

interface Contender { name: string; script: string; env: Record<string, string> }
const contenders: Contender[] = [
  { name: "ours callback", script: "bench/servers/ours.ts", env: { MODE: "callback" } },
  { name: "ours poll", script: "bench/servers/ours.ts", env: { MODE: "poll" } },
  { name: "ours raw route", script: "bench/servers/ours.ts", env: { MODE: "raw" } },
  { name: "ours native", script: "bench/servers/ours.ts", env: { MODE: "native" } },
  { name: "Bun.serve h3", script: "bench/servers/bun.ts", env: {} },
];
const BUN = "Bun.serve h3";

interface Workload {
  name: string;
  args: string[];
  metric: "rps" | "goodput_gbps" | "handshakes_per_s" | "datagrams_per_s" | "kib_per_connection";
  concurrency?: number;
  only?: string[];
  idle?: number;
}
const workloads: Workload[] = [
  { name: "GET 5 B, 1×1", args: ["--path", "/hello", "--connections", "1", "--streams", "1", "--duration-ms", duration], metric: "rps", concurrency: 1 },
  { name: "GET 5 B, 1×64", args: ["--path", "/hello", "--connections", "1", "--streams", "64", "--duration-ms", duration], metric: "rps", concurrency: 64 },
  { name: "GET 5 B, 16×64", args: ["--path", "/hello", "--connections", "16", "--streams", "64", "--duration-ms", duration], metric: "rps", concurrency: 1024 },
  { name: "1 GiB download, 1 connection", args: ["--path", "/bytes/1073741824", "--requests", "1"], metric: "goodput_gbps", only: ["ours callback", "ours poll", BUN] },
  { name: "16 × 64 MiB downloads", args: ["--path", "/bytes/67108864", "--connections", "16", "--requests", "16"], metric: "goodput_gbps", only: ["ours callback", "ours poll", BUN] },
  { name: "16 × 10 MiB uploads", args: ["--method", "POST", "--path", "/upload", "--body-bytes", "10485760", "--connections", "16", "--requests", "16"], metric: "goodput_gbps", only: ["ours callback", "ours poll", BUN] },
  { name: "new connection per request", args: ["--new-connection-per-request", "--connections", "8", "--path", "/hello", "--duration-ms", duration], metric: "handshakes_per_s" },
  { name: "datagram echo (window 64, 100 B)", args: ["--datagrams", "300000", "--window", "64", "--datagram-size", "100"], metric: "datagrams_per_s", only: ["ours callback", "ours poll"] },
  { name: "10,000 idle connections", args: ["--connections", "10000", "--idle-ms", "4000"], metric: "kib_per_connection", idle: 10000, only: ["ours poll", BUN] },
];

const results = new Map<string, Map<string, Result>>();

const startServer = (contender: Contender) => startServerIn(root, contender.script, { ...contender.env, CERT: cert, KEY: key });
const measureRate = (port: number, workload: Workload) => measureRateRuns(port, workload.args, repeat);

/** Idle memory is measured on a fresh server: one that just moved gigabytes keeps freed memory
 * in its allocator, and new connections would reuse it without RSS growing. */
async function measureIdle(contender: Contender, workload: Workload): Promise<Result> {
  const server = await startServer(contender);
  try {
    await Bun.sleep(500);
    const before = rssKib(server.pid);
    let during = 0;
    const result = await runLoad(server.port, workload.args, () => (during = rssKib(server.pid)));
    if (during === 0) throw new Error(`${contender.name}: h3load never reported its connections established`);
    return { ...result, kib_per_connection: (during - before) / workload.idle!, rss_before_kib: before, rss_during_kib: during };
  } finally {
    server.child.kill("SIGTERM");
    await server.child.exited;
  }
}

for (const contender of contenders) {
  const server = await startServer(contender);
  const byWorkload = new Map<string, Result>();
  results.set(contender.name, byWorkload);
  for (const workload of workloads) {
    if (workload.only && !workload.only.includes(contender.name)) continue;
    await Bun.sleep(300);
    let result: Result;
    if (workload.idle) result = await measureIdle(contender, workload);
    else if (workload.metric === "rps") result = await measureRate(server.port, workload);
    else result = await runLoad(server.port, workload.args);
    if (workload.metric === "datagrams_per_s") result.loss = 1 - result.datagrams_echoed! / result.datagrams_sent!;
    byWorkload.set(workload.name, result);
    console.log(`${contender.name.padEnd(14)} ${workload.name.padEnd(36)} ${format(workload, result)}`);
  }
  server.child.kill("SIGTERM");
  await server.child.exited;
}

function ms(us: number): string {
  return us >= 1000 ? `${(us / 1000).toFixed(1)} ms` : `${us} µs`;
}

function format(workload: Workload, r: Result): string {
  switch (workload.metric) {
    case "rps":
      return `${Math.round(r.rps!).toLocaleString("en-US")} req/s, p50 ${ms(r.p50_us!)}, p99 ${ms(r.p99_us!)}, errors ${r.errors}`;
    case "goodput_gbps":
      return `${r.goodput_gbps!.toFixed(2)} Gbps (${r.seconds!.toFixed(2)} s), errors ${r.errors}`;
    case "handshakes_per_s":
      return `${Math.round(r.handshakes_per_s!).toLocaleString("en-US")} handshakes/s, errors ${r.errors}`;
    case "datagrams_per_s":
      return `${Math.round(r.datagrams_per_s!).toLocaleString("en-US")} echoes/s, loss ${(r.loss! * 100).toFixed(2)} %`;
    case "kib_per_connection":
      return `${r.kib_per_connection!.toFixed(1)} KiB RSS per idle connection`;
  }
}

function ratio(workload: Workload, ours: Result | undefined, theirs: Result | undefined): string {
  if (!ours) return "";
  if (!theirs) return "Bun has none";
  const value = (r: Result) => (workload.metric === "kib_per_connection" ? 1 / r.kib_per_connection! : r[workload.metric]!);
  return `${(value(ours) / value(theirs)).toFixed(2)}×`;
}

// The table.
const lines: string[] = [];
const header = ["workload", ...contenders.map((c) => c.name), "best of ours / Bun"];
lines.push(`| ${header.join(" | ")} |`, `|${header.map(() => "---").join("|")}|`);
for (const workload of workloads) {
  const cells = contenders.map((c) => {
    const r = results.get(c.name)?.get(workload.name);
    return r ? format(workload, r) : "—";
  });
  const ours = contenders
    .filter((c) => c.name !== BUN)
    .map((c) => results.get(c.name)?.get(workload.name))
    .filter((r): r is Result => !!r)
    .sort((a, b) => (workload.metric === "kib_per_connection" ? a.kib_per_connection! - b.kib_per_connection! : b[workload.metric]! - a[workload.metric]!))[0];
  lines.push(`| ${workload.name} | ${cells.join(" | ")} | ${ratio(workload, ours, results.get(BUN)?.get(workload.name))} |`);
}
const table = lines.join("\n");
console.log("\n" + table);

// The chart: req/s and p99 against concurrency, one line per contender.
const rpsWorkloads = workloads.filter((w) => w.concurrency);
writeFileSync(join(import.meta.dir, "compare.svg"), chart(rpsWorkloads));

function chart(points: Workload[]): string {
  const colors = ["#d9480f", "#1971c2", "#e67700", "#2f9e44", "#7048e8"];
  const width = 900, height = 360, panel = 400, top = 40, plot = 260;
  const xs = points.map((_, i) => 60 + (i * (panel - 100)) / (points.length - 1));
  const series = (metric: "rps" | "p99_us") =>
    contenders.map((c) => points.map((w) => results.get(c.name)?.get(w.name)?.[metric] ?? 0));
  const panelSvg = (offset: number, title: string, metric: "rps" | "p99_us", unit: (v: number) => string) => {
    const data = series(metric);
    const max = Math.max(1, ...data.flat());
    const y = (v: number) => top + plot - (v / max) * plot;
    let svg = `<text x="${offset + panel / 2}" y="24" text-anchor="middle" font-weight="bold">${title}</text>`;
    svg += `<line x1="${offset + 50}" y1="${top + plot}" x2="${offset + panel - 20}" y2="${top + plot}" stroke="#888"/>`;
    for (let t = 0; t <= 4; t++) {
      const v = (max * t) / 4;
      svg += `<text x="${offset + 45}" y="${y(v) + 4}" text-anchor="end" font-size="11">${unit(v)}</text><line x1="${offset + 50}" y1="${y(v)}" x2="${offset + panel - 20}" y2="${y(v)}" stroke="#eee"/>`;
    }
    points.forEach((w, i) => (svg += `<text x="${offset + xs[i]!}" y="${top + plot + 18}" text-anchor="middle" font-size="11">${w.concurrency} in flight</text>`));
    data.forEach((values, c) => {
      const path = values.map((v, i) => `${i ? "L" : "M"}${offset + xs[i]!},${y(v)}`).join(" ");
      svg += `<path d="${path}" fill="none" stroke="${colors[c]}" stroke-width="2"/>`;
      values.forEach((v, i) => (svg += `<circle cx="${offset + xs[i]!}" cy="${y(v)}" r="3" fill="${colors[c]}"/>`));
    });
    return svg;
  };
  let svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12"><rect width="100%" height="100%" fill="white"/>`;
  svg += panelSvg(0, "GET 5 B: requests/s", "rps", (v) => `${Math.round(v / 1000)}k`);
  svg += panelSvg(panel + 50, "GET 5 B: p99 latency", "p99_us", (v) => `${(v / 1000).toFixed(1)} ms`);
  contenders.forEach((c, i) => (svg += `<rect x="${20 + i * 175}" y="${height - 22}" width="12" height="12" fill="${colors[i]}"/><text x="${38 + i * 175}" y="${height - 12}">${c.name}</text>`));
  return svg + "</svg>\n";
}

// RESULTS.md: the generated section between the markers.
const machine = `${cpus().length} × ${cpus()[0]?.model ?? "CPU"}, ${Math.round(totalmem() / 2 ** 30)} GiB, Linux ${readFileSync("/proc/sys/kernel/osrelease", "utf8").trim()}`;
const section = `<!-- compare:start -->
## Comparison with Bun.serve({ http3: true }) (issue 5)

Generated by \`bench/compare\` (reproduce: \`./bench/compare\`, or \`node_modules/.bin/bun bench/compare.ts\` once set
up) on ${new Date().toISOString().slice(0, 10)}. Machine: ${machine}. Bun ${Bun.version}; ${version()}.
Each server runs alone in its own process pinned to CPU 0 (\`taskset -c 0\`); the load generator
(\`zig-out/bin/h3load\`, ours, on quiche's client API) runs pinned to CPU 1. Every contender runs the
same handler (\`bench/servers/handlers.ts\`) through Web Request/Response; "ours raw route" answers
\`/hello\` through the low-level \`server.route()\` API instead (no Web objects), and "ours native"
from a static route with no JavaScript per request. Timed workloads run ${Number(duration) / 1000} s each; request rates are the median of
${repeat} runs. Idle memory is measured on a fresh server process, 1 s after all 10,000 connections are up. Concurrency is
connections × streams per connection.

${table}

![req/s and p99 against concurrency](compare.svg)
<!-- compare:end -->`;
const resultsPath = join(import.meta.dir, "RESULTS.md");
const current = readFileSync(resultsPath, "utf8");
const updated = current.includes("<!-- compare:start -->")
  ? current.replace(/<!-- compare:start -->[\s\S]*<!-- compare:end -->/, section)
  : current.trimEnd() + "\n\n" + section + "\n";
writeFileSync(resultsPath, updated);
console.log(`\nwrote bench/RESULTS.md and bench/compare.svg`);
