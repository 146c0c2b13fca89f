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

/** What one request is counted as, besides its body bytes: Bun's Request, Response, Headers, stream and promises. */
export const REQUEST_GARBAGE_BYTES = 4096;
/** Garbage allowed to accumulate between two requested collections. */
export const GC_BUDGET_BYTES = 8 << 20;

export class GcPacer {
  readonly #budgetBytes: number;
  readonly #collect: () => void;
  #owedBytes = 0;
  /** Collections requested so far (tests count them). */
  collections = 0;

  constructor(budgetBytes: number = GC_BUDGET_BYTES, collect: () => void = () => void Bun.gc(false)) {
    if (!(budgetBytes > 0)) throw new RangeError("a garbage budget must be positive");
    this.#budgetBytes = budgetBytes;
    this.#collect = collect;
  }

  /** The request path left about `bytes` of garbage; collects once the budget is spent. */
  add(bytes: number) {
    this.#owedBytes += bytes;
    if (this.#owedBytes < this.#budgetBytes) return;
    this.#owedBytes = 0;
    this.collections++;
    this.#collect();
  }
}
