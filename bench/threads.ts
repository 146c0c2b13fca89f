// CPU time of one process split by thread, from /proc/PID/task/*/stat and
// comm, so a benchmark can say which thread spends a server's CPU: ours has
// its network loop on "zig-h3-loop" next to Bun's JS thread, Bun.serve does
// everything on the JS thread, and both have JavaScriptCore's JIT and GC
// helpers.
import { readdirSync, readFileSync } from "node:fs";

/** Clock ticks per second, the unit of utime and stime in /proc. */
export const CLK_TCK = Number(Bun.spawnSync(["getconf", "CLK_TCK"]).stdout.toString().trim());
if (!(CLK_TCK > 0)) throw new Error("getconf CLK_TCK gave no number");

export const GROUPS = ["zig-h3-loop", "JS thread", "JIT/GC", "other"] as const;
export type Group = (typeof GROUPS)[number];
export type Split = Record<Group, number>;

export interface Sample {
  /** Process name ("bun"): the JS thread is the one named like it. */
  name: string;
  /** User + system ticks of the whole process, threads that already exited included. */
  processTicks: number;
  threads: Map<number, { comm: string; ticks: number }>;
}

/** utime + stime (fields 14 and 15); the name in field 2 may hold spaces and parentheses, so fields are counted after its last ")". */
function ticksOf(stat: string): number {
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

export function sample(pid: number): Sample {
  const threads = new Map<number, { comm: string; ticks: number }>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const ticks = ticksOf(readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8"));
      const comm = readFileSync(`/proc/${pid}/task/${tid}/comm`, "utf8").trim();
      threads.set(Number(tid), { comm, ticks });
    } catch {
      // The thread exited between the listing and the read: the process
      // total still has its time.
    }
  }
  return {
    name: readFileSync(`/proc/${pid}/comm`, "utf8").trim(),
    processTicks: ticksOf(readFileSync(`/proc/${pid}/stat`, "utf8")),
    threads,
  };
}

/** JavaScriptCore's helpers: JITWorker, JSCWarmUp, HeapHelper, "Heap Collector", Wasm workers. */
const ENGINE = /^(JIT|JSC|Heap|Wasm)/;

export function groupOf(comm: string, processName: string): Group {
  if (comm === "zig-h3-loop") return "zig-h3-loop";
  if (comm === processName) return "JS thread";
  if (ENGINE.test(comm)) return "JIT/GC";
  return "other";
}

/**
 * CPU seconds spent between two samples, by group. A thread born in between
 * counts from zero; one that died in between is only in the process total,
 * and what the live threads do not account for goes to "other".
 */
export function spent(before: Sample, after: Sample): { total: number; split: Split; threads: Record<string, number> } {
  const split: Split = { "zig-h3-loop": 0, "JS thread": 0, "JIT/GC": 0, other: 0 };
  const threads: Record<string, number> = {};
  let sum = 0;
  for (const [tid, thread] of after.threads) {
    const ticks = thread.ticks - (before.threads.get(tid)?.ticks ?? 0);
    if (ticks <= 0) continue;
    sum += ticks;
    split[groupOf(thread.comm, after.name)] += ticks / CLK_TCK;
    threads[thread.comm] = (threads[thread.comm] ?? 0) + ticks / CLK_TCK;
  }
  const exited = after.processTicks - before.processTicks - sum;
  if (exited > 0) {
    split.other += exited / CLK_TCK;
    threads["(exited)"] = exited / CLK_TCK;
  }
  const total = GROUPS.reduce((acc, group) => acc + split[group], 0);
  return { total, split, threads };
}
