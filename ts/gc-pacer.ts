// Asks JavaScriptCore for a collection in proportion to the garbage the
// request path leaves, because nothing else does so reliably.
//
// Every request leaves native memory that only a collection frees: Bun's
// Request and Response objects, their Headers, the Response body's stream
// source and reader, the copied body chunks, promises. Measured (bench/
// RESULTS.md, "30-minute soak per event mode"): about 3–4.5 KiB per small
// GET and 20–50 KiB per 64 KiB upload, nearly all of it outside what
// JavaScriptCore counts when it decides to collect. JSC collects on its own
// after allocating in proportion to the live heap (twice it, for a small
// heap), so a process that holds a large buffer (the bench server's 64 MiB
// bulk body) waits that much longer; Bun's GC timer collects every second
// only while the count of JSC's heap blocks changes and backs off to every
// 30 s once it is steady, as it is under steady load. Between two collections
// that far apart, 200 requests/s left 50–55 MB of garbage: the RSS peaks of
// the soak. Counting the garbage here and asking for an asynchronous
// collection (`Bun.gc(false)`: JSC runs it concurrently, and a request made
// while one is pending adds nothing) once a budget of it accumulated bounds
// that, at a cost of one young-generation collection per budget.
//
// Young-generation collections leave what was still in flight when they
// ran: promoted, it waits for a full collection, which JSC schedules by the
// old generation's size, so under the same load the soak's RSS still crept
// 15–20 MB (+12 %) over 3–4 minutes between full collections. Every
// FULL_EVERY-th collection it asks for is therefore a full, synchronous one
// (`Bun.gc(true)`: 2–10 ms here), at most once per FULL_MIN_INTERVAL_MS so
// that a server at tens of thousands of requests/s pays it at most that
// often.

/** What one request is counted as, besides its body bytes: Bun's Request, Response, Headers, stream and promises. */
export const REQUEST_GARBAGE_BYTES = 4096;
/** Garbage allowed to accumulate between two requested collections. */
export const GC_BUDGET_BYTES = 8 << 20;
/** Every this many requested collections, one is full (if FULL_MIN_INTERVAL_MS passed). */
export const FULL_EVERY = 8;
/** The least time between two full collections the pacer asks for. */
export const FULL_MIN_INTERVAL_MS = 5_000;

/** How the pacer collects: `full` is a synchronous full collection, else an asynchronous one. */
export type Collect = (full: boolean) => void;

export class GcPacer {
  readonly #budgetBytes: number;
  readonly #collect: Collect;
  readonly #nowMs: () => number;
  #owedBytes = 0;
  #lastFullMs: number;
  /** Collections requested so far, and how many of them were full (tests count them). */
  collections = 0;
  fullCollections = 0;

  constructor(budgetBytes: number = GC_BUDGET_BYTES, collect: Collect = (full) => void Bun.gc(full), nowMs: () => number = () => performance.now()) {
    if (!(budgetBytes > 0)) throw new RangeError("a garbage budget must be positive");
    this.#budgetBytes = budgetBytes;
    this.#collect = collect;
    this.#nowMs = nowMs;
    this.#lastFullMs = nowMs();
  }

  /** The request path left about `bytes` of garbage; collects once the budget is spent. */
  add(bytes: number) {
    this.#owedBytes += bytes;
    if (this.#owedBytes < this.#budgetBytes) return;
    this.#owedBytes = 0;
    this.collections++;
    let full = false;
    if (this.collections % FULL_EVERY === 0) {
      const now = this.#nowMs();
      full = now - this.#lastFullMs >= FULL_MIN_INTERVAL_MS;
      if (full) this.#lastFullMs = now;
    }
    if (full) this.fullCollections++;
    this.#collect(full);
  }
}
