// bench/wakes (issue 12): how often our two server threads hand work to each
// other, per request and per GiB of upload, for this tree's library and for
// another build of it (an A/B of one change to the wake-up protocol).
// Context switches are read from /proc/PID/task/*/status
// (voluntary_ctxt_switches: the thread blocked, e.g. waiting for its
// doorbell; nonvoluntary_ctxt_switches: it was preempted, e.g. by the other
// thread it just woke on the same core) next to each thread's CPU time.
// Servers run pinned to CPU 0 and h3load to CPU 1, as in bench/cpu.ts.
//
//   WAKES_BEFORE=/path/to/other/libzigquicheh3.so node_modules/.bin/bun bench/wakes.ts
//
// WAKES_REPEAT (default 3) runs of each workload per library, interleaved;
// the table shows the medians by server CPU. Prints a Markdown table.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { runLoad, startServer } from "./harness.ts";
import { CLK_TCK } from "./threads.ts";

const root = join(import.meta.dir, "..");
const repeat = Number(process.env.WAKES_REPEAT ?? 3);
const tls = { CERT: join(root, "certs", "dev", "cert.pem"), KEY: join(root, "certs", "dev", "key.pem") };
const libraries: [string, string][] = [["this tree", join(root, "zig-out", "lib", "libzigquicheh3.so")]];
if (process.env.WAKES_BEFORE) libraries.unshift(["before", process.env.WAKES_BEFORE]);

interface ThreadCounts { cpu: number; voluntary: number; preempted: number }
type Counts = Record<"loop" | "js", ThreadCounts>;

/** Per-thread CPU seconds and context switches of the loop thread and the JS thread. */
function read(pid: number): Counts {
  const processName = readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  const counts: Counts = { loop: { cpu: 0, voluntary: 0, preempted: 0 }, js: { cpu: 0, voluntary: 0, preempted: 0 } };
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const comm = readFileSync(`/proc/${pid}/task/${tid}/comm`, "utf8").trim();
    const which = comm === "zig-h3-loop" ? "loop" : comm === processName ? "js" : null;
    if (!which) continue;
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const status = readFileSync(`/proc/${pid}/task/${tid}/status`, "utf8");
    counts[which].cpu += (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
    counts[which].voluntary += Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(status)![1]);
    counts[which].preempted += Number(/nonvoluntary_ctxt_switches:\s+(\d+)/.exec(status)![1]);
  }
  return counts;
}

const workloads = [
  { name: "baseline-h3 1×64", unit: "req", args: ["--path", "/baseline2?a=1&b=1", "--connections", "1", "--streams", "64", "--duration-ms", "4000"] },
  { name: "baseline-h3 16×64", unit: "req", args: ["--path", "/baseline2?a=1&b=1", "--connections", "16", "--streams", "64", "--duration-ms", "4000"] },
  { name: "4 × 64 MiB upload", unit: "GiB", args: ["--method", "POST", "--path", "/upload", "--body-bytes", String(64 * 2 ** 20), "--requests", "4"] },
] as const;

const servers = new Map<string, Awaited<ReturnType<typeof startServer>>>();
try {
  for (const [name, lib] of libraries) servers.set(name, await startServer(root, "bench/servers/ours.ts", { MODE: "poll", ZIG_H3_LIB: lib, ...tls }));
  const rows: string[] = [];
  for (const workload of workloads) {
    const runs = new Map<string, { perUnit: number; row: string }[]>();
    for (let round = 0; round < repeat; round++) {
      for (const [name] of libraries) {
        const server = servers.get(name)!;
        await Bun.sleep(200);
        const before = read(server.pid);
        const result = await runLoad(server.port, [...workload.args]);
        await Bun.sleep(200);
        const after = read(server.pid);
        const units = workload.unit === "req" ? result.requests! : (result.bytes_sent! + result.bytes_received!) / 2 ** 30;
        const per = (value: number) => value / units;
        const delta = (thread: "loop" | "js", field: keyof ThreadCounts) => after[thread][field] - before[thread][field];
        const cpu = delta("loop", "cpu") + delta("js", "cpu");
        const scale = workload.unit === "req" ? 1e6 : 1;
        const rate = workload.unit === "req" ? `${Math.round(result.rps!).toLocaleString("en-US")} req/s` : `${result.goodput_gbps!.toFixed(2)} Gbps`;
        const row = `| ${workload.name} | ${name} | ${rate} | **${(per(cpu) * scale).toFixed(workload.unit === "req" ? 1 : 2)}** | ` +
          `${(per(delta("loop", "cpu")) * scale).toFixed(workload.unit === "req" ? 1 : 2)} | ${(per(delta("js", "cpu")) * scale).toFixed(workload.unit === "req" ? 1 : 2)} | ` +
          `${per(delta("loop", "voluntary")).toFixed(3)} | ${per(delta("loop", "preempted")).toFixed(3)} | ` +
          `${per(delta("js", "voluntary")).toFixed(3)} | ${per(delta("js", "preempted")).toFixed(3)} |`;
        console.log(row);
        (runs.get(name) ?? runs.set(name, []).get(name)!).push({ perUnit: per(cpu), row });
      }
    }
    for (const [name] of libraries) {
      const list = runs.get(name)!.sort((a, b) => a.perUnit - b.perUnit);
      rows.push(list[Math.floor(list.length / 2)]!.row);
    }
  }
  console.log(
    [
      "",
      "| workload | library | rate | server CPU (µs/req or s/GiB) | loop | JS | loop blocked /unit | loop preempted /unit | JS blocked /unit | JS preempted /unit |",
      "|---|---|---|---|---|---|---|---|---|---|",
      ...rows,
    ].join("\n"),
  );
} finally {
  for (const server of servers.values()) {
    server.child.kill("SIGTERM");
    await server.child.exited;
  }
}
