// Handler deadlines with one timer. Every entry of a server has the same
// timeout, so the order entries are added in is the order they expire in: a
// FIFO and one setTimeout for its head replace a timer per request (which
// cost more than a small handler). Entries whose request finished are
// skipped when they reach the head, and dropped early once they are most of
// the queue, so the queue stays within twice the requests in flight.

/** Something with a deadline that may settle before it. */
export interface Deadline {
  /** True once the request no longer needs its deadline. */
  readonly settled: boolean;
}

export class Deadlines<T extends Deadline> {
  readonly #timeoutMs: number;
  readonly #onExpired: (item: T) => void;
  #items: T[] = [];
  #expiresAt: number[] = [];
  #head = 0;
  /** The queue is compacted when it grows past this many entries. */
  #compactAt = 1024;
  #timer: Timer | null = null;

  constructor(timeoutMs: number, onExpired: (item: T) => void) {
    if (!(timeoutMs > 0)) throw new RangeError("a deadline needs a positive timeout");
    this.#timeoutMs = timeoutMs;
    this.#onExpired = onExpired;
  }

  /** Entries not yet expired or dropped (settled ones included). */
  get size(): number {
    return this.#items.length - this.#head;
  }

  add(item: T) {
    this.#dropSettledHead();
    if (this.#items.length >= this.#compactAt) this.#compact();
    this.#items.push(item);
    this.#expiresAt.push(performance.now() + this.#timeoutMs);
    if (this.#timer === null) this.#arm(this.#timeoutMs);
  }

  /** Stops the timer; nothing expires afterwards. */
  clear() {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#items = [];
    this.#expiresAt = [];
    this.#head = 0;
    this.#compactAt = 1024;
  }

  /**
   * The timer does not hold Bun's process: the server does that while it is
   * referenced (server.unref() lets the process exit with deadlines pending).
   */
  #arm(delayMs: number) {
    this.#timer = setTimeout(() => this.#fire(), Math.max(0, Math.ceil(delayMs)));
    this.#timer.unref();
  }

  #fire() {
    this.#timer = null;
    const now = performance.now();
    while (this.#head < this.#items.length && this.#expiresAt[this.#head]! <= now) {
      const item = this.#items[this.#head]!;
      this.#head++;
      if (!item.settled) this.#onExpired(item);
    }
    this.#dropSettledHead();
    if (this.#head === this.#items.length) return this.clear();
    this.#arm(this.#expiresAt[this.#head]! - now);
  }

  #dropSettledHead() {
    while (this.#head < this.#items.length && this.#items[this.#head]!.settled) this.#head++;
  }

  /**
   * Drops the consumed prefix and settled entries. The next compaction waits
   * until the arrays have doubled past what survived this one, so each costs
   * no more than the adds since the last (amortised O(1) per add).
   */
  #compact() {
    const items: T[] = [];
    const expiresAt: number[] = [];
    for (let i = this.#head; i < this.#items.length; i++) {
      if (this.#items[i]!.settled) continue;
      items.push(this.#items[i]!);
      expiresAt.push(this.#expiresAt[i]!);
    }
    this.#items = items;
    this.#expiresAt = expiresAt;
    this.#head = 0;
    this.#compactAt = 2 * items.length + 1024;
  }
}
