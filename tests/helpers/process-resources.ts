// What this process holds, read from /proc: threads by name and file
// descriptors by kind. The lifecycle test compares these across server
// start/stop cycles and a control run that never starts a server.
import { readFileSync, readdirSync, readlinkSync } from "node:fs";

/** Threads the library starts are all named with this prefix. */
export const LIBRARY_THREAD_PREFIX = "zig-h3-";

/** The names of this process's threads, sorted (Linux keeps 15 characters). */
export function threadNames(): string[] {
  const names: string[] = [];
  for (const task of readdirSync("/proc/self/task")) {
    try {
      names.push(readFileSync(`/proc/self/task/${task}/comm`, "utf8").trim());
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return names.sort();
}

/** The library's own threads (named `zig-h3-*`). */
export const libraryThreads = () => threadNames().filter((name) => name.startsWith(LIBRARY_THREAD_PREFIX));

/** How many threads of each name, leaving out the library's own. */
export function otherThreadCounts(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const name of threadNames()) {
    if (!name.startsWith(LIBRARY_THREAD_PREFIX)) counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return counts;
}

/**
 * The kind of each open file descriptor: `socket`, `anon_inode:[eventfd]`,
 * `anon_inode:[eventpoll]`, `pipe`, or `file` for a path. Inode numbers are
 * dropped so two snapshots compare by kind.
 */
export function fdKinds(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const fd of readdirSync("/proc/self/fd")) {
    let target: string;
    try {
      target = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue; // The descriptor readdir itself used, already closed.
    }
    const kind = target.startsWith("/") ? "file" : target.replace(/:\[\d+\]$/, "");
    counts.set(kind, (counts.get(kind) ?? 0) + 1);
  }
  return counts;
}

/** `after - before` per key, leaving out keys that did not change. */
export function difference(after: Map<string, number>, before: Map<string, number>): Record<string, number> {
  const result: Record<string, number> = {};
  for (const key of new Set([...after.keys(), ...before.keys()])) {
    const delta = (after.get(key) ?? 0) - (before.get(key) ?? 0);
    if (delta !== 0) result[key] = delta;
  }
  return result;
}

/**
 * Names whose count was higher in every one of `withServer` than in any of
 * `control`: threads that exist exactly when a server runs. Engine helpers
 * that come and go on their own (JavaScriptCore's GC and JIT threads) show up
 * in some samples of both runs, so they never qualify; a thread the library
 * started under another name would be in every server sample and no control
 * sample.
 */
export function namesOnlyWithServer(withServer: Map<string, number>[], control: Map<string, number>[]): string[] {
  const names = new Set(withServer.flatMap((sample) => [...sample.keys()]));
  return [...names]
    .filter((name) => {
      const leastWithServer = Math.min(...withServer.map((sample) => sample.get(name) ?? 0));
      const mostInControl = Math.max(...control.map((sample) => sample.get(name) ?? 0));
      return leastWithServer > mostInControl;
    })
    .sort();
}
