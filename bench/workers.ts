// bench/workers (issue 15): serve({ workers: 2 }) against one worker on this
// machine, on HttpArena's baseline-h3 workload (GET /baseline2?a=1&b=1,
// answered by a JS handler), with quic-go's load generator (bench/quicgo).
// For each server: requests per second, p99 latency, the server's CPU time
// per request from /proc/PID/task/*/stat (each thread, grouped: the loop
// threads, the JS threads, the rest), and how many connections each worker
// got (the supervisor's stats().workers), and how many requests each loop
// wake-up and each JS drain of the event queue carried. Bun.serve({ http3: true }) runs
// the same load in the same run for reference.
//
// Nothing is pinned by default: the point of workers is to use more than one
// core, so the servers and the load generator share the machine's cores;
// CPU per request is the figure that does not depend on who got which core.
// BENCH_DURATION_MS (default 4000), BENCH_REPEAT (default 3),
// BENCH_CONNECTIONS (default 64), BENCH_STREAMS (default 8). Each row is
// the run with the median server CPU per request. Prints a Markdown table;
// bench/RESULTS.md has the one recorded.
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { sample, spent } from "./threads.ts";

const root = join(import.meta.dir, "..");
const duration = Number(process.env.BENCH_DURATION_MS ?? 4000);
const repeat = Number(process.env.BENCH_REPEAT ?? 3);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 64);
const streams = Number(process.env.BENCH_STREAMS ?? 8);
const tls = { CERT: join(root, "certs", "dev", "cert.pem"), KEY: join(root, "certs", "dev", "key.pem") };
const quicgoDir = join(import.meta.dir, "quicgo");
const quicgo = join(quicgoDir, "quicgo");
const bun = join(root, "node_modules", ".bin", "bun");
const SETTLE_MS = 300;
// BENCH_PIN=1: servers on CPU 0, the load generator on CPU 1. Two workers
// then share one core: what splitting costs without running in parallel.
const pin = process.env.BENCH_PIN === "1";
const serverPrefix = pin ? ["taskset", "-c", "0"] : [];
const loadPrefix = pin ? ["taskset", "-c", "1"] : [];
const before = loadavg();

const built = Bun.spawnSync(["go", "build", "-o", quicgo, "."], { cwd: quicgoDir, stderr: "inherit" });
if (built.exitCode !== 0) throw new Error("go build in bench/quicgo failed");

interface Contender {
  name: string;
  script: string;
  env: Record<string, string>;
  workers: number;
}

const CONTENDERS: Contender[] = [
  { name: "zig-quiche-h3, 1 worker", script: "bench/servers/workers.ts", env: { WORKERS: "1" }, workers: 1 },
  { name: "zig-quiche-h3, 2 workers", script: "bench/servers/workers.ts", env: { WORKERS: "2" }, workers: 2 },
  { name: "Bun.serve h3 (reference)", script: "bench/servers/bun.ts", env: {}, workers: 0 },
];

class ServerProcess {
  child: ReturnType<typeof spawn>;
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #buffered = "";
  port = 0;

  constructor(contender: Contender) {
    this.child = spawn(contender);
    this.#reader = this.child.stdout.getReader();
  }

  async line(): Promise<string> {
    while (!this.#buffered.includes("\n")) {
      const { value, done } = await this.#reader.read();
      if (done) throw new Error("server exited");
      this.#buffered += new TextDecoder().decode(value);
    }
    const at = this.#buffered.indexOf("\n");
    const line = this.#buffered.slice(0, at);
    this.#buffered = this.#buffered.slice(at + 1);
    return line;
  }

  async start() {
    this.port = Number(/ready (\d+)/.exec(await this.line())?.[1]);
  }

  async stats(): Promise<Record<string, number> & { workers: Record<string, number>[] }> {
    this.child.stdin.write("stats\n");
    this.child.stdin.flush();
    return JSON.parse(await this.line());
  }
}

function spawn(contender: Contender) {
  return Bun.spawn([...serverPrefix, bun, join(root, contender.script)], { env: { ...process.env, ...tls, ...contender.env }, stdin: "pipe", stdout: "pipe", stderr: "inherit" });
}

async function load(port: number, durationMs: number) {
  const child = Bun.spawn([...loadPrefix, quicgo, "-port", String(port), "-path", "/baseline2?a=1&b=1", "-connections", String(connections), "-streams", String(streams), "-duration-ms", String(durationMs)], {
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  if (code !== 0) throw new Error(`quicgo failed: ${err}`);
  return JSON.parse(out) as { requests: number; errors: number; rps: number; p99_us: number; cpu_seconds: number };
}

/** Thread group of a /proc comm: the loop threads, JS threads (main and workers), the rest. */
function groupOf(comm: string): "loop" | "js" | "other" {
  if (comm === "zig-h3-loop") return "loop";
  if (comm === "bun" || comm.startsWith("Worker") || comm.startsWith("Bun Worker")) return "js";
  return "other";
}

interface Run {
  rps: number;
  p99_us: number;
  errors: number;
  cpu_us_per_request: number;
  loop_us: number;
  js_us: number;
  other_us: number;
  client_cpu_us_per_request: number;
  connections_per_worker: number[];
  /** Requests per loop wake-up and per zig_h3_poll that returned records (over all workers). */
  requests_per_wakeup: number;
  requests_per_drain: number;
  threads: Record<string, number>;
}

/** One measured run of `contender`'s already running server. */
async function measureOnce(contender: Contender, server: ServerProcess): Promise<Run> {
  await Bun.sleep(SETTLE_MS);
  const statsBefore = contender.workers > 0 ? await server.stats() : null;
  const before = sample(server.child.pid);
  const result = await load(server.port, duration);
  await Bun.sleep(SETTLE_MS);
  const after = sample(server.child.pid);
  const statsAfter = contender.workers > 0 ? await server.stats() : null;
  const cpu = spent(before, after);
  const groups = { loop: 0, js: 0, other: 0 };
  for (const [comm, seconds] of Object.entries(cpu.threads)) groups[groupOf(comm)] += seconds;
  const perRequest = (seconds: number) => (seconds / result.requests) * 1e6;
  return {
    rps: result.rps,
    p99_us: result.p99_us,
    errors: result.errors,
    cpu_us_per_request: perRequest(cpu.total),
    loop_us: perRequest(groups.loop),
    js_us: perRequest(groups.js),
    other_us: perRequest(groups.other),
    client_cpu_us_per_request: perRequest(result.cpu_seconds),
    connections_per_worker: statsAfter ? statsAfter.workers.map((w, slot) => w.connections_accepted! - statsBefore!.workers[slot]!.connections_accepted!) : [],
    requests_per_wakeup: statsAfter ? (statsAfter.requests_received! - statsBefore!.requests_received!) / (statsAfter.loop_wakeups! - statsBefore!.loop_wakeups!) : 0,
    requests_per_drain: statsAfter ? (statsAfter.requests_received! - statsBefore!.requests_received!) / (statsAfter.event_drains! - statsBefore!.event_drains!) : 0,
    threads: cpu.threads,
  };
}

// Every server stays up and each repetition runs all of them in turn, so
// whatever else the machine does falls on all of them alike.
const servers = new Map<Contender, ServerProcess>();
for (const contender of CONTENDERS) {
  const server = new ServerProcess(contender);
  await server.start();
  await load(server.port, 1000); // warm-up (JIT, first connections)
  servers.set(contender, server);
}
const allRuns = new Map<Contender, Run[]>(CONTENDERS.map((contender) => [contender, []]));
for (let i = 0; i < repeat; i++) {
  for (const contender of CONTENDERS) allRuns.get(contender)!.push(await measureOnce(contender, servers.get(contender)!));
}
for (const server of servers.values()) {
  server.child.kill();
  await server.child.exited;
}

const fmt = (value: number, digits = 1) => value.toFixed(digits);
const results: [Contender, Run][] = [];
for (const contender of CONTENDERS) {
  const runs = allRuns.get(contender)!;
  runs.sort((a, b) => a.cpu_us_per_request - b.cpu_us_per_request);
  const median = runs[Math.floor(runs.length / 2)]!;
  results.push([contender, median]);
  console.error(`${contender.name}: ${JSON.stringify(runs.map((run) => ({ rps: Math.round(run.rps), cpu: fmt(run.cpu_us_per_request), threads: run.threads })))}`);
}

const lines = [
  `Machine: ${cpus().length} × ${cpus()[0]?.model ?? "CPU"}; quic-go load: ${connections} connections × ${streams} streams, ${duration} ms, the run with the median server CPU per request of ${repeat}${pin ? "; servers pinned to CPU 0, load generator to CPU 1" : "; nothing pinned"}. Load average before: ${before.map((v) => v.toFixed(2)).join(", ")}; after: ${loadavg().map((v) => v.toFixed(2)).join(", ")}.`,
  "",
  "| server | req/s | p99 ms | server CPU µs/req (all runs) | loop threads | JS threads | other | load generator CPU µs/req | connections per worker | requests per loop wake-up | requests per JS drain | errors |",
  "|---|---:|---:|---|---:|---:|---:|---:|---|---:|---:|---:|",
  ...results.map(
    ([contender, run]) =>
      `| ${contender.name} | ${Math.round(run.rps)} | ${fmt(run.p99_us / 1000, 2)} | **${fmt(run.cpu_us_per_request)}** (${allRuns.get(contender)!.map((r) => fmt(r.cpu_us_per_request)).join(", ")}) | ${fmt(run.loop_us)} | ${fmt(run.js_us)} | ${fmt(run.other_us)} | ${fmt(run.client_cpu_us_per_request)} | ${run.connections_per_worker.join(" / ") || "—"} | ${run.requests_per_wakeup ? fmt(run.requests_per_wakeup, 2) : "—"} | ${run.requests_per_drain ? fmt(run.requests_per_drain, 2) : "—"} | ${run.errors} |`,
  ),
];
console.log(lines.join("\n"));
