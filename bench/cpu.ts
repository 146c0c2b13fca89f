// bench/cpu (issue 12): server CPU per request, split by thread, on
// HttpArena's baseline-h3 workload (GET /baseline2?a=1&b=1) and on bulk
// downloads of one 64 MiB body and bulk uploads to a handler that streams
// the request body, for each of our modes and Bun.serve({ http3:
// true }) in the same run. Request rates alone hide where the time goes: our
// loop thread and the JS thread share one core here, and a run the load
// generator limited looks like a slow server. So every run reads each server
// thread's CPU time from /proc before and after, and the load generator's
// own CPU time, and reports both per request.
//
// Servers run pinned to CPU 0 (harness.ts), load generators to CPU 1. Two
// load generators: ours (zig-out/bin/h3load, on quiche) and quic-go's
// (bench/quicgo, built here), which nobody in this project wrote.
// BENCH_DURATION_MS (default 4000) and BENCH_REPEAT (default 3) set the
// length and number of runs. Writes the tables between the cpu markers in
// bench/RESULTS.md.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { startServer } from "./harness.ts";
import { busyShare, foreignShare, irqTimeAccounted, snapshot } from "./machine.ts";
import { GROUPS, sample, spent, type Split } from "./threads.ts";

const root = join(import.meta.dir, "..");
const duration = Number(process.env.BENCH_DURATION_MS ?? 4000);
const repeat = Number(process.env.BENCH_REPEAT ?? 3);
const tls = { CERT: join(root, "certs", "dev", "cert.pem"), KEY: join(root, "certs", "dev", "key.pem") };
const h3load = join(root, "zig-out", "bin", "h3load");
const quicgoDir = join(import.meta.dir, "quicgo");
const quicgo = join(quicgoDir, "quicgo");
// Time for a server to finish what a run left it (closing connections,
// freeing requests) before its threads are read again.
const SETTLE_MS = 200;
const GIB = 2 ** 30;
// A download that stops halfway would otherwise hold the run until an idle
// timeout (Bun.serve did, serving Bun.file to h3load): past this a run is
// stopped and reported as stalled. A healthy 512 MiB run takes 2-12 s here.
const BULK_LIMIT_MS = Number(process.env.BENCH_BULK_LIMIT_MS ?? 25_000);
// The size of every bulk body, as bench/servers/handlers.ts serves it.
const BULK_BYTES = 64 * 2 ** 20;

for (const [path, build] of [
  [h3load, ".toolchain/zig/ziglang/zig build loadgen"],
  [join(root, "zig-out", "lib", "libzigquicheh3.so"), ".toolchain/zig/ziglang/zig build -Doptimize=ReleaseSafe"],
]) {
  if (!existsSync(path!)) throw new Error(`${path} is missing: run ${build}`);
}
// go build is a no-op when nothing changed; versions come from go.mod/go.sum.
const built = Bun.spawnSync(["go", "build", "-o", quicgo, "."], { cwd: quicgoDir, stderr: "inherit" });
if (built.exitCode !== 0) throw new Error("go build in bench/quicgo failed");

interface Contender { name: string; script: string; env: Record<string, string>; bulk: boolean; tree?: string }
// "ours raw route" and "ours native/static" answer /baseline2 without Web
// objects; for any other path they run the same JS handler as "ours poll",
// so they take no part in the bulk downloads.
const contenders: Contender[] = [
  { name: "ours poll", script: "bench/servers/ours.ts", env: { MODE: "poll" }, bulk: true },
  { name: "ours callback", script: "bench/servers/ours.ts", env: { MODE: "callback" }, bulk: true },
  { name: "ours raw route", script: "bench/servers/ours.ts", env: { MODE: "raw" }, bulk: false },
  { name: "ours native/static", script: "bench/servers/ours.ts", env: { MODE: "native" }, bulk: false },
  { name: "Bun.serve h3", script: "bench/servers/bun.ts", env: {}, bulk: true },
];
const BUN = "Bun.serve h3";
// BENCH_BEFORE=<another checkout, built>: an A/B run on this machine. Its
// poll-mode server joins the contenders as "ours poll (before)" and the
// table goes between the cpu-ab markers instead of replacing the main one.
const before = process.env.BENCH_BEFORE;
if (before) contenders.splice(1, 0, { name: "ours poll (before)", script: "bench/servers/ours.ts", env: { MODE: "poll" }, bulk: true, tree: before });
const markers = before ? ["<!-- cpu-ab:start -->", "<!-- cpu-ab:end -->"] : ["<!-- cpu:start -->", "<!-- cpu:end -->"];

type Client = "h3load" | "quic-go";
const BASELINE = "/baseline2?a=1&b=1";
const BULK_REQUESTS = 8;

/** `upload`: the bytes that count are the ones the client sent (a POST body), not received. */
interface Workload { name: string; client: Client; args: string[]; bulk: boolean; limitMs: number; upload?: boolean }
const rateArgs = (client: Client, connections: number, streams: number) =>
  client === "h3load"
    ? ["--path", BASELINE, "--connections", String(connections), "--streams", String(streams), "--duration-ms", String(duration)]
    : ["-path", BASELINE, "-connections", String(connections), "-streams", String(streams), "-duration-ms", String(duration)];
const bulkArgs = (client: Client, path: string) =>
  client === "h3load" ? ["--path", path, "--connections", "1", "--streams", "1", "--requests", String(BULK_REQUESTS)] : ["-path", path, "-requests", String(BULK_REQUESTS)];

const workloads: Workload[] = [
  { name: "baseline-h3 1×64", client: "h3load", args: rateArgs("h3load", 1, 64), bulk: false, limitMs: duration + 20_000 },
  { name: "baseline-h3 16×64", client: "h3load", args: rateArgs("h3load", 16, 64), bulk: false, limitMs: duration + 20_000 },
  { name: "baseline-h3 1×64", client: "quic-go", args: rateArgs("quic-go", 1, 64), bulk: false, limitMs: duration + 20_000 },
];
for (const [body, path] of [["Uint8Array", "/bulk/u8"], ["Blob", "/bulk/blob"], ["Bun.file", "/bulk/file"]] as const) {
  for (const client of ["h3load", "quic-go"] as const) {
    workloads.push({ name: `${BULK_REQUESTS} × 64 MiB ${body}`, client, args: bulkArgs(client, path), bulk: true, limitMs: BULK_LIMIT_MS });
  }
}
// Uploads: POST /upload reads `req.body` to its end and answers its length.
const uploadArgs = (client: Client) =>
  client === "h3load"
    ? ["--method", "POST", "--path", "/upload", "--body-bytes", String(BULK_BYTES), "--connections", "1", "--streams", "1", "--requests", String(BULK_REQUESTS)]
    : ["-path", "/upload", "-requests", String(BULK_REQUESTS), "-upload-bytes", String(BULK_BYTES)];
for (const client of ["h3load", "quic-go"] as const) {
  workloads.push({ name: `${BULK_REQUESTS} × 64 MiB upload`, client, args: uploadArgs(client), bulk: true, limitMs: BULK_LIMIT_MS, upload: true });
}
// BENCH_ONLY=<text>: only the workloads whose name contains it (a quick look
// at one workload: the tables are printed, bench/RESULTS.md is not touched).
const only = process.env.BENCH_ONLY;
if (only) workloads.splice(0, workloads.length, ...workloads.filter((w) => w.name.includes(only)));

interface Run {
  requests: number;
  errors: number;
  rps: number;
  p99_us: number;
  bytes: number;
  gbps: number;
  wallSeconds: number;
  server: { total: number; split: Split; threads: Record<string, number> };
  clientCpu: number;
  /** Set when the run did not do all its work: "stalled" (stopped at the limit) or "N MiB short". */
  failure?: string;
}

let runningClient: ReturnType<typeof Bun.spawn> | undefined;

/**
 * Runs one load generator pinned to CPU 1, stopped after `limitMs` (then
 * `result` is null). h3load's CPU time comes from wait4's rusage, quic-go
 * reports its own (from the rusage too when it was stopped).
 */
async function runClient(client: Client, port: number, args: string[], limitMs: number) {
  const argv = client === "h3load" ? [h3load, "--port", String(port), ...args] : [quicgo, "-port", String(port), ...args];
  const child = Bun.spawn(["taskset", "-c", "1", ...argv], { stdout: "pipe", stderr: "pipe" });
  runningClient = child;
  let stopped = false;
  const limit = setTimeout(() => {
    stopped = true;
    child.kill("SIGKILL");
  }, limitMs);
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  clearTimeout(limit);
  runningClient = undefined;
  const rusageCpu = Number(child.resourceUsage()!.cpuTime.total) / 1e6;
  if (stopped) return { result: null, cpu: rusageCpu };
  if (code !== 0) throw new Error(`${client} ${args.join(" ")} failed (${code}): ${stderr}`);
  const result = JSON.parse(stdout) as Record<string, number>;
  return { result, cpu: client === "h3load" ? rusageCpu : result.cpu_seconds! };
}

async function measure(pid: number, port: number, workload: Workload): Promise<Run> {
  const before = sample(pid);
  const started = performance.now();
  const { result, cpu } = await runClient(workload.client, port, workload.args, workload.limitMs);
  const wallSeconds = (performance.now() - started) / 1000;
  await Bun.sleep(SETTLE_MS);
  const server = spent(before, sample(pid));
  if (!result) return { requests: 0, errors: 0, rps: 0, p99_us: 0, bytes: 0, gbps: 0, wallSeconds, server, clientCpu: cpu, failure: "stalled" };
  const bytes = result.bytes ?? (workload.upload ? result.bytes_sent : result.bytes_received) ?? 0;
  // h3load counts a response that ended early as complete: the byte count
  // is the check.
  const missing = workload.bulk ? BULK_REQUESTS * BULK_BYTES - bytes : 0;
  return {
    requests: result.requests!,
    errors: result.errors!,
    rps: result.rps ?? 0,
    p99_us: result.p99_us ?? 0,
    bytes,
    gbps: result.goodput_gbps ?? 0,
    wallSeconds,
    server,
    clientCpu: cpu,
    failure: missing > 0 ? `${(missing / 2 ** 20).toFixed(0)} MiB short` : undefined,
  };
}

/** Server CPU per unit of work: µs per request, or seconds per GiB for bulk. */
const perUnit = (w: Workload, run: Run, seconds: number) => (w.bulk ? seconds / (run.bytes / GIB) : (seconds / run.requests) * 1e6);

// How busy the machine is before anything starts, and from here on how much
// of it other work takes (bench/machine.ts): rates on a shared VM mean
// little without it.
const quiet = snapshot();
await Bun.sleep(1000);
const busyBefore = busyShare(quiet, snapshot());
const loadBefore = loadavg()[0]!;
console.log(`before the run: load average ${loadBefore.toFixed(2)}, busy ${busyBefore.map((b, i) => `CPU ${i} ${(b * 100).toFixed(0)} %`).join(", ")}`);
const runStart = snapshot();

// Every server starts first and stays up (idle, they use no measurable CPU),
// then each repetition runs every contender in turn: on a shared VM whose
// speed drifts over minutes, interleaving keeps the drift out of the ratios.
const servers = new Map<string, Awaited<ReturnType<typeof startServer>>>();
// Servers and the load generator are separate processes: stopped on the
// way out, whatever the way.
async function stopServers() {
  runningClient?.kill("SIGTERM");
  for (const server of servers.values()) {
    server.child.kill("SIGTERM");
    await server.child.exited;
  }
  servers.clear();
}
for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => void stopServers().then(() => process.exit(130)));
try {
  for (const contender of contenders) servers.set(contender.name, await startServer(contender.tree ?? root, contender.script, { ...contender.env, ...tls }));
  // Warm-up, not measured: the first requests on a fresh server pay for JIT
  // compilation, which would land in the first run's JIT/GC column.
  for (const contender of contenders) {
    const { port } = servers.get(contender.name)!;
    await runClient("h3load", port, ["--path", BASELINE, "--connections", "1", "--streams", "64", "--duration-ms", "1000"], 20_000);
    if (contender.bulk) for (const path of ["/bulk/u8", "/bulk/blob", "/bulk/file"]) await runClient("h3load", port, ["--path", path, "--requests", "1"], BULK_LIMIT_MS);
  }

  const results = new Map<string, Run & { failedRuns: number }>();
  for (const workload of workloads) {
    const taking = contenders.filter((c) => !workload.bulk || c.bulk);
    const runs = new Map<string, Run[]>(taking.map((c) => [c.name, []]));
    for (let round = 0; round < repeat; round++) {
      for (const contender of taking) {
        const server = servers.get(contender.name)!;
        await Bun.sleep(200);
        const run = await measure(server.pid, server.port, workload);
        runs.get(contender.name)!.push(run);
        const top = Object.entries(run.server.threads).sort((a, b) => b[1] - a[1]).slice(0, 4);
        console.log(
          `${workload.name} (${workload.client}) ${contender.name}: ${workload.bulk ? `${run.gbps.toFixed(2)} Gbps` : `${Math.round(run.rps)} req/s`}, ` +
            `server ${perUnit(workload, run, run.server.total).toFixed(workload.bulk ? 2 : 1)}${workload.bulk ? " s/GiB" : " µs/req"} ` +
            `(${top.map(([name, s]) => `${name} ${s.toFixed(2)} s`).join(", ")}), client ${perUnit(workload, run, run.clientCpu).toFixed(workload.bulk ? 2 : 1)}, errors ${run.errors}` +
            (run.failure ? `, ${run.failure} after ${run.wallSeconds.toFixed(1)} s` : ""),
        );
      }
    }
    // The run with the median server CPU per unit of work, whole: its rate,
    // latency and thread split all come from the same run, so they add up.
    // Runs that did not finish their work rank last, and the row says how many.
    for (const [name, list] of runs) {
      const rank = (run: Run) => (run.failure ? Infinity : perUnit(workload, run, run.server.total));
      list.sort((a, b) => rank(a) - rank(b));
      results.set(key(workload, name), { ...list[Math.floor(list.length / 2)]!, failedRuns: list.filter((run) => run.failure).length });
    }
  }
  // The servers' own time is not in this process's cutime until they exit.
  const serverTicks = [...servers.values()].reduce((sum, server) => sum + sample(server.pid).processTicks, 0);
  writeResults(results, foreignShare(runStart, snapshot(), serverTicks));
} finally {
  await stopServers();
}

/** Wraps a paragraph at 110 columns, as the rest of RESULTS.md is. */
function wrap(paragraph: string): string {
  const lines: string[] = [];
  let line = "";
  for (const word of paragraph.split(" ")) {
    if (line && line.length + 1 + word.length > 110) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  return [...lines, line].join("\n");
}

function key(workload: Workload, contender: string): string {
  return `${workload.name} | ${workload.client} | ${contender}`;
}

function percent(part: number, whole: number): string {
  return `${Math.round((part / whole) * 100)} %`;
}

function us(value: number): string {
  return value >= 1000 ? `${(value / 1000).toFixed(1)} ms` : `${Math.round(value)} µs`;
}

type Row = Run & { failedRuns: number };

function table(bulk: boolean, results: Map<string, Row>): string {
  const fmt = (v: number) => (Number.isFinite(v) ? v.toFixed(bulk ? 2 : 1) : "—");
  const header = bulk
    ? ["body", "client", "server", "Gbps", "server CPU s/GiB", ...GROUPS, "client CPU s/GiB", "server core busy", "client core busy", "server CPU ÷ Bun", "Gbps ÷ Bun"]
    : ["workload", "client", "server", "req/s", "p99", "server CPU µs/req", ...GROUPS, "client CPU µs/req", "server core busy", "client core busy", "server CPU ÷ Bun", "req/s ÷ Bun"];
  const lines = [`| ${header.join(" | ")} |`, `|${header.map(() => "---").join("|")}|`];
  for (const workload of workloads.filter((w) => w.bulk === bulk)) {
    const bun = results.get(key(workload, BUN))!;
    for (const contender of contenders) {
      const run = results.get(key(workload, contender.name));
      if (!run) continue;
      let rate = run.failure === "stalled" ? "stalled" : bulk ? run.gbps.toFixed(2) : Math.round(run.rps).toLocaleString("en-US");
      if (run.errors) rate += ` (${run.errors} errors)`;
      if (run.failure && run.failure !== "stalled") rate += ` (${run.failure})`;
      if (run.failedRuns) rate += `; ${run.failedRuns} of ${repeat} runs incomplete`;
      const comparable = !run.failure && !bun.failure;
      const cells = [
        workload.name,
        workload.client,
        contender.name,
        rate,
        ...(bulk ? [] : [us(run.p99_us)]),
        run.failure === "stalled" ? "—" : `**${fmt(perUnit(workload, run, run.server.total))}**`,
        ...GROUPS.map((group) => fmt(perUnit(workload, run, run.server.split[group]))),
        fmt(perUnit(workload, run, run.clientCpu)),
        percent(run.server.total, run.wallSeconds),
        percent(run.clientCpu, run.wallSeconds),
        comparable ? `${(perUnit(workload, run, run.server.total) / perUnit(workload, bun, bun.server.total)).toFixed(2)}×` : "—",
        comparable ? `${(bulk ? run.gbps / bun.gbps : run.rps / bun.rps).toFixed(2)}×` : "—",
      ];
      lines.push(`| ${cells.join(" | ")} |`);
    }
  }
  return lines.join("\n");
}

function writeResults(results: Map<string, Row>, others: { foreign: number; steal: number }) {
  const rate = table(false, results);
  const bulk = table(true, results);
  console.log(`\n${rate}\n\n${bulk}`);
  if (only) return console.log(`BENCH_ONLY=${only}: bench/RESULTS.md left as it was`);
  const minutes = ((performance.now() - runStart.at) / 60000).toFixed(1);
  const busy = busyBefore.map((b, i) => `CPU ${i} ${(b * 100).toFixed(0)} %`).join(", ");
  const share = (v: number) => `${(v * 100).toFixed(0)} %`;
  // Other work on the machine takes cores from both sides and shares their
  // caches: rates drop first, CPU per request less so.
  const wasBusy = others.foreign > 0.05 || others.steal > 0.05 || busyBefore.some((b) => b > 0.1);
  const load = wasBusy
    ? `**The machine was busy with other work during this run**: other processes used ${share(others.foreign)} of its CPU time and the hypervisor stole ${share(others.steal)}, so rates are lower and noisier than on a quiet machine; CPU per request is less affected, but still shares caches and cores.`
    : `The machine was otherwise quiet during the run: other processes used ${share(others.foreign)} of its CPU time, steal ${share(others.steal)}.`;
  const interrupts = irqTimeAccounted
    ? "This kernel keeps interrupt time (packets arriving) apart: it is in no thread's figure."
    : "Interrupt time (packets arriving) counts for whichever thread it interrupted: this kernel has no IRQ time accounting.";
  const about = [
    `Generated on ${new Date().toISOString().slice(0, 10)} in ${minutes} min by the commands below (\`bench/cpu.ts\` builds ` +
      `\`bench/quicgo\` itself with \`go build\`). Machine: ${cpus().length} × ${cpus()[0]?.model ?? "CPU"}, Linux ` +
      `${readFileSync("/proc/sys/kernel/osrelease", "utf8").trim()}; Bun ${Bun.version}. Before the run: load average ` +
      `${loadBefore.toFixed(2)}, busy over one second ${busy}. ${load}`,
    `Method: each server runs in its own process pinned to CPU 0, each load generator pinned to CPU 1 (ours, ` +
      `\`zig-out/bin/h3load\` on quiche, and quic-go's, \`bench/quicgo\`); all servers stay up and every repetition runs ` +
      `each of them in turn. Around every run the benchmark reads utime + stime of each server thread from ` +
      `\`/proc/PID/task/*/stat\` (names from \`comm\`) and divides by the requests served (by the GiB sent, for bulk): ` +
      `"zig-h3-loop" is our network thread, "JS thread" the one named like the process (Bun's main thread, where ` +
      `JavaScript and Bun.serve's own HTTP/3 run), "JIT/GC" JavaScriptCore's helpers (JITWorker, JSCWarmUp, HeapHelper, ` +
      `Heap Collector), "other" the rest (Bun Pool, mi-scavenger, threads that exited mid-run). ${interrupts} The load ` +
      `generator's CPU comes from its rusage. "core busy" is CPU time over the run's wall time: on a quiet machine, near ` +
      `100 % means that side was the limit. Each row is the run with the median server CPU per request (per GiB) of ` +
      `${repeat}, ${duration / 1000} s each for baseline-h3 and ${BULK_REQUESTS} sequential GETs (or POSTs, for uploads) on one connection for bulk, after a ` +
      `warm-up. A bulk run that stops delivering is stopped after ${BULK_LIMIT_MS / 1000} s ("stalled"), one that ends early says how ` +
      `much it missed; such runs rank last for the median and the row counts them. "ours native/static" answers /baseline2 from a static route (no JavaScript per request), "ours raw ` +
      `route" through \`server.route()\` (no Web objects); the others run the shared handler in ` +
      `\`bench/servers/handlers.ts\`. "÷ Bun" compares with Bun.serve in the same workload and client; for CPU, lower is better.`,
  ];
  const section = [
    markers[0],
    before ? `## Before → after on one machine: ${before} against this tree (issue 12)` : "## Server CPU per request, split by thread (issue 12)",
    wrap(about[0]!),
    [
      "```sh",
      ".toolchain/zig/ziglang/zig build -Doptimize=ReleaseSafe",
      ".toolchain/zig/ziglang/zig build loadgen",
      `${before ? `BENCH_BEFORE=${before} ` : ""}BENCH_DURATION_MS=${duration} BENCH_REPEAT=${repeat} node_modules/.bin/bun bench/cpu.ts`,
      "```",
    ].join("\n"),
    wrap(about[1]!),
    rate,
    bulk,
    markers[1],
  ].join("\n\n");
  const resultsPath = join(import.meta.dir, "RESULTS.md");
  const current = readFileSync(resultsPath, "utf8");
  const start = current.indexOf(markers[0]!);
  const end = current.indexOf(markers[1]!);
  const updated = start >= 0 && end > start ? current.slice(0, start) + section + current.slice(end + markers[1]!.length) : current.trimEnd() + "\n\n" + section + "\n";
  writeFileSync(resultsPath, updated);
  console.log(`\nwrote bench/RESULTS.md`);
}
