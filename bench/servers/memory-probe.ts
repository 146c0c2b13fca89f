// Where a benchmark server's memory is: with MEMORY_PROBE=<file>,
// bench/servers/ours.ts appends one JSON line per MEMORY_PROBE_MS (default
// 10 s) to <file>, so a soak can tell which allocator holds the RSS at a
// peak. Read by bench/soak-long.ts (PROBE=1); never on a request path.
//
// Per sample:
// - rss_kib and the RSS of the mappings by kind (/proc/self/smaps): the
//   [heap] (glibc's main arena, brk), anonymous mappings (glibc's thread
//   arenas and large blocks, mimalloc's segments, JavaScriptCore's heap and
//   libpas) and file mappings;
// - glibc malloc (mallinfo2, summed over every arena): bytes in use, bytes
//   free but kept, and mmapped blocks;
// - mimalloc, Bun's own allocator (bun:jsc memoryUsage: committed bytes);
// - JavaScriptCore (bun:jsc heapStats: heap size, extra memory reported
//   for ArrayBuffers and other native memory, the largest object types)
//   and process.memoryUsage() (arrayBuffers, external);
// - the library's counters (server.stats(): requests_active,
//   body_bytes_delivered, ...) and the server's live exchanges.
import { dlopen, FFIType, ptr } from "bun:ffi";
import { heapStats, memoryUsage as jscMemory } from "bun:jsc";
import { appendFileSync, readFileSync } from "node:fs";

interface ProbedServer {
  stats(): Record<string, number>;
  readonly pendingRequests: number;
}

/** The fields of glibc's struct mallinfo2, in order (all size_t). */
const MALLINFO2 = ["arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost"] as const;

/**
 * glibc's mallinfo2() returns its 80-byte struct by value, which the x86-64
 * and AArch64 C ABIs pass through a hidden pointer in the first argument
 * register (x8 on AArch64, which bun:ffi does not set), so it is declared
 * here as taking that pointer. Null where libc is not glibc or the CPU is
 * not x86-64.
 */
function openMallinfo(): (() => Record<string, number>) | null {
  if (process.platform !== "linux" || process.arch !== "x64") return null;
  try {
    const libc = dlopen("libc.so.6", { mallinfo2: { args: [FFIType.ptr], returns: FFIType.ptr } });
    const out = new BigUint64Array(MALLINFO2.length);
    return () => {
      libc.symbols.mallinfo2(ptr(out));
      return Object.fromEntries(MALLINFO2.map((name, i) => [name, Number(out[i])]));
    };
  } catch {
    return null;
  }
}

/** RSS in KiB of this process's mappings by kind. */
function mappingsKib(): Record<string, number> {
  const totals: Record<string, number> = { heap_kib: 0, anon_kib: 0, file_kib: 0, other_kib: 0, anon_regions: 0 };
  let kind = "other_kib";
  for (const line of readFileSync("/proc/self/smaps", "utf8").split("\n")) {
    const header = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \d+\s*(.*)$/.exec(line);
    if (header) {
      const name = header[1]!;
      kind = name === "[heap]" ? "heap_kib" : name === "" ? "anon_kib" : name.startsWith("/") ? "file_kib" : "other_kib";
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) {
      totals[kind]! += Number(rss[1]);
      if (kind === "anon_kib" && Number(rss[1]) > 0) totals.anon_regions!++;
    }
  }
  return totals;
}

function rssKib(): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync("/proc/self/status", "utf8"))?.[1] ?? 0);
}

/** One sample, as written to the probe file. */
export function sample(server: ProbedServer, mallinfo: (() => Record<string, number>) | null) {
  const heap = heapStats();
  const types = Object.entries(heap.objectTypeCounts as Record<string, number>)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 8);
  const usage = process.memoryUsage();
  const stats = server.stats();
  const mi = jscMemory();
  return {
    t: Date.now(),
    rss_kib: rssKib(),
    ...mappingsKib(),
    glibc: mallinfo ? mallinfo() : null,
    mimalloc_commit: mi.currentCommit,
    jsc_heap: heap.heapSize,
    jsc_heap_capacity: heap.heapCapacity,
    jsc_extra: heap.extraMemorySize,
    jsc_objects: heap.objectCount,
    jsc_types: Object.fromEntries(types),
    array_buffers: usage.arrayBuffers,
    external: usage.external,
    live_exchanges: server.pendingRequests,
    requests_active: stats.requests_active,
    requests_received: stats.requests_received,
    body_bytes_delivered: stats.body_bytes_delivered,
    events_pushed: stats.events_pushed,
    event_queue_full: stats.event_queue_full,
  };
}

/** Starts sampling into `path` every `intervalMs`; the timer does not hold the process. */
export function startMemoryProbe(server: ProbedServer, path: string, intervalMs: number) {
  const mallinfo = openMallinfo();
  const write = () => appendFileSync(path, JSON.stringify(sample(server, mallinfo)) + "\n");
  write();
  setInterval(write, intervalMs).unref();
}
