// bench/rpc (issue 16): unary zRPC round trips per second, p99 and server CPU
// per call, over each transport (HTTP/3 requests, WebTransport streams, raw
// QUIC streams with ALPN zr/1), next to the same call as a JSON POST to our
// server and to Bun.serve({ http3: true }). The load comes from
// bench/rpcload (quic-go, webtransport-go: clients nobody here wrote), pinned
// to CPU 1; servers are pinned to CPU 0. Server CPU is utime + stime of every
// thread from /proc/PID/task/*/stat, divided by the calls answered.
//
//   node_modules/.bin/bun bench/rpc.ts
//
// BENCH_DURATION_MS (default 4000) and BENCH_REPEAT (default 3); the row is
// the run with the median server CPU per call. Writes the table between the
// rpc markers of bench/RESULTS.md.
import { readFileSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { startServer } from "./harness.ts";
import { sample, spent } from "./threads.ts";

const root = join(import.meta.dir, "..");
const duration = Number(process.env.BENCH_DURATION_MS ?? 4000);
const repeat = Number(process.env.BENCH_REPEAT ?? 3);
const tls = { CERT: join(root, "certs", "dev", "cert.pem"), KEY: join(root, "certs", "dev", "key.pem") };
const loaderDir = join(import.meta.dir, "rpcload");
const loader = join(loaderDir, "rpcload");
const built = Bun.spawnSync(["go", "build", "-mod=readonly", "-o", loader, "."], { cwd: loaderDir, stderr: "inherit" });
if (built.exitCode !== 0) throw new Error("go build in bench/rpcload failed");

const contenders = [
  { name: "ours zRPC over HTTP/3", server: "ours", mode: "h3" },
  { name: "ours zRPC over WebTransport", server: "ours", mode: "wt" },
  { name: "ours zRPC over QUIC (zr/1)", server: "ours", mode: "quic" },
  { name: "ours JSON POST", server: "ours", mode: "json" },
  { name: "Bun.serve JSON POST", server: "bun", mode: "json" },
] as const;
const shapes = [
  { connections: 1, streams: 16 },
  { connections: 8, streams: 16 },
];

interface Run { calls: number; errors: number; rps: number; p99: number; cpuPerCall: number; loop: number; js: number; clientCpuPerCall: number; failed?: string }

async function runOnce(pid: number, port: number, mode: string, shape: (typeof shapes)[number]): Promise<Run> {
  const before = sample(pid);
  const child = Bun.spawn(["taskset", "-c", "1", loader, "-port", String(port), "-mode", mode, "-connections", String(shape.connections), "-streams", String(shape.streams), "-duration-ms", String(duration)], { stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  await Bun.sleep(200);
  const used = spent(before, sample(pid));
  if (code !== 0) return { calls: 0, errors: 0, rps: 0, p99: 0, cpuPerCall: Infinity, loop: 0, js: 0, clientCpuPerCall: 0, failed: stderr.trim().split("\n").at(-1) };
  const result = JSON.parse(stdout) as Record<string, number>;
  const calls = result.requests!;
  const per = (seconds: number) => (seconds / calls) * 1e6;
  return {
    calls,
    errors: result.errors!,
    rps: result.rps!,
    p99: result.p99_us!,
    cpuPerCall: per(used.total),
    loop: per(used.split["zig-h3-loop"]),
    js: per(used.split["JS thread"]),
    clientCpuPerCall: per(result.cpu_seconds!),
  };
}

const servers = {
  ours: await startServer(root, "bench/servers/rpc.ts", { MODE: "poll", ...tls }),
  bun: await startServer(root, "bench/servers/bun.ts", tls),
};
const rows: string[] = [];
try {
  for (const c of contenders) await runOnce(servers[c.server].pid, servers[c.server].port, c.mode, { connections: 1, streams: 16 }); // warm-up
  for (const shape of shapes) {
    const results = new Map<string, Run[]>();
    for (let round = 0; round < repeat; round++) {
      for (const c of contenders) {
        const run = await runOnce(servers[c.server].pid, servers[c.server].port, c.mode, shape);
        (results.get(c.name) ?? results.set(c.name, []).get(c.name)!).push(run);
        console.log(`${shape.connections}×${shape.streams} ${c.name}: ${run.failed ?? `${Math.round(run.rps)} calls/s, p99 ${run.p99} µs, server ${run.cpuPerCall.toFixed(1)} µs/call, errors ${run.errors}`}`);
      }
    }
    const bun = median(results.get("Bun.serve JSON POST")!);
    for (const c of contenders) {
      const run = median(results.get(c.name)!);
      if (run.failed) {
        rows.push(`| ${shape.connections}×${shape.streams} | ${c.name} | not available: ${run.failed} | | | | | | | |`);
        continue;
      }
      rows.push(
        `| ${shape.connections}×${shape.streams} | ${c.name} | ${Math.round(run.rps).toLocaleString("en-US")} | ${(run.p99 / 1000).toFixed(1)} ms | **${run.cpuPerCall.toFixed(1)}** | ` +
          `${run.loop.toFixed(1)} | ${run.js.toFixed(1)} | ${run.clientCpuPerCall.toFixed(1)} | ${(run.cpuPerCall / bun.cpuPerCall).toFixed(2)}× | ${(run.rps / bun.rps).toFixed(2)}× |`,
      );
    }
  }
} finally {
  for (const server of Object.values(servers)) {
    server.child.kill("SIGTERM");
    await server.child.exited;
  }
}

function median(runs: Run[]): Run {
  return [...runs].sort((a, b) => a.cpuPerCall - b.cpuPerCall)[Math.floor(runs.length / 2)]!;
}

const table = [
  "| calls in flight | server and transport | calls/s | p99 | server CPU µs/call | zig-h3-loop | JS thread | client CPU µs/call | server CPU ÷ Bun JSON | calls/s ÷ Bun JSON |",
  "|---|---|---|---|---|---|---|---|---|---|",
  ...rows,
].join("\n");
console.log(table);
const section = `<!-- rpc:start -->
## zRPC unary calls per transport against a JSON POST to Bun.serve (issue 16)

Generated on ${new Date().toISOString().slice(0, 10)} by \`node_modules/.bin/bun bench/rpc.ts\` (BENCH_DURATION_MS=${duration},
BENCH_REPEAT=${repeat}) on ${cpus().length} × ${cpus()[0]?.model ?? "CPU"}; Bun ${Bun.version}. Servers pinned to CPU 0, the
load generator \`bench/rpcload\` (quic-go's HTTP/3 client, webtransport-go, quic-go's raw QUIC) to CPU 1. Every call
sends \`{"text":"hello"}\` and checks it comes back: over zRPC a MESSAGE frame answered by a MESSAGE and an OK STATUS
(\`bench.v1.Echo/say\`, a unary handler returning its request), as JSON a \`POST /json\` answered with
\`Response.json(await req.json())\`. "C×S" is C connections with S calls in flight on each. Server CPU is every
thread's, per call; each row is the run with the median of ${repeat}.

${table}
<!-- rpc:end -->`;
const path = join(import.meta.dir, "RESULTS.md");
const current = readFileSync(path, "utf8");
writeFileSync(path, current.includes("<!-- rpc:start -->") ? current.replace(/<!-- rpc:start -->[\s\S]*<!-- rpc:end -->/, section) : current.trimEnd() + "\n\n" + section + "\n");
