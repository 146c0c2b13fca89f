// How much of the machine other work took while a benchmark ran. On a
// shared 2-CPU VM a build or a CI run next to the benchmark changes its
// figures, so the benchmark measures that instead of assuming it away: the
// CPU time all processes used (/proc/stat), minus what the benchmark's own
// processes used, is someone else's; steal time is the hypervisor's.
import { readFileSync } from "node:fs";

/**
 * Whether the kernel keeps interrupt time apart from the interrupted task's
 * (CONFIG_IRQ_TIME_ACCOUNTING). Without it, the time the kernel spends on
 * packets in interrupt context counts for whichever thread it interrupted.
 */
export const irqTimeAccounted = (() => {
  try {
    return Bun.gunzipSync(readFileSync("/proc/config.gz")).toString().includes("\nCONFIG_IRQ_TIME_ACCOUNTING=y");
  } catch {
    return false; // No config to read: the default of most kernels.
  }
})();

export interface Snapshot {
  /** Per CPU: the ticks process utime and stime also count (irq and softirq only when they land in a process's stime). */
  busy: number[];
  /** Per CPU: all ticks, idle included. */
  total: number[];
  steal: number;
  /** This process's utime + stime + cutime + cstime: itself and the children it waited for. */
  ownTicks: number;
  at: number;
}

export function snapshot(): Snapshot {
  const busy: number[] = [];
  const total: number[] = [];
  let steal = 0;
  for (const line of readFileSync("/proc/stat", "utf8").split("\n")) {
    if (!/^cpu\d/.test(line)) continue;
    // user nice system idle iowait irq softirq steal guest guest_nice
    const f = line.split(/\s+/).slice(1).map(Number);
    busy.push(f[0]! + f[1]! + f[2]! + (irqTimeAccounted ? 0 : f[5]! + f[6]!));
    total.push(f.slice(0, 8).reduce((a, b) => a + b, 0));
    steal += f[7]!;
  }
  const stat = readFileSync("/proc/self/stat", "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ownTicks = Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
  return { busy, total, steal, ownTicks, at: performance.now() };
}

/** Share of each CPU that was busy between two snapshots. */
export function busyShare(before: Snapshot, after: Snapshot): number[] {
  return after.busy.map((busy, cpu) => {
    const total = after.total[cpu]! - before.total[cpu]!;
    return total > 0 ? (busy - before.busy[cpu]!) / total : 0;
  });
}

/**
 * Share of all CPUs that processes other than this one, its children and
 * `extraTicks` (processes still running, such as the servers, whose time is
 * not in cutime yet) used, and the share stolen by the hypervisor.
 */
export function foreignShare(before: Snapshot, after: Snapshot, extraTicks: number): { foreign: number; steal: number } {
  const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
  const total = sum(after.total) - sum(before.total);
  if (total <= 0) return { foreign: 0, steal: 0 };
  const busy = sum(after.busy) - sum(before.busy);
  const ours = after.ownTicks - before.ownTicks + extraTicks;
  return { foreign: Math.max(0, busy - ours) / total, steal: (after.steal - before.steal) / total };
}
