// The Capsule Protocol (RFC 9297 section 3.2) on a CONNECT stream's data:
// type and length varints, then the value. Capsules arrive in chunks cut
// anywhere; the reader keeps the incomplete tail (at most one capsule of
// `maxCapsuleBytes` plus its header) and hands out whole capsules.
import { decodeVarint } from "./varint.ts";

export interface Capsule {
  type: number;
  /** A view into the reader's buffer, valid until the next push(). */
  value: Uint8Array;
}

export class CapsuleTooLarge extends Error {
  readonly code = "ERR_CAPSULE_TOO_LARGE";
}

export class CapsuleReader {
  #pending = new Uint8Array(0);
  readonly #maxCapsuleBytes: number;

  constructor(maxCapsuleBytes: number) {
    this.#maxCapsuleBytes = maxCapsuleBytes;
  }

  /** Adds a chunk; returns the capsules it completes. Throws CapsuleTooLarge. */
  push(chunk: Uint8Array): Capsule[] {
    const joined = new Uint8Array(this.#pending.length + chunk.length);
    joined.set(this.#pending);
    joined.set(chunk, this.#pending.length);
    const capsules: Capsule[] = [];
    let at = 0;
    while (true) {
      const type = decodeVarint(joined, at);
      if (!type) break;
      const length = decodeVarint(joined, at + type[1]);
      if (!length) break;
      if (length[0] > this.#maxCapsuleBytes) throw new CapsuleTooLarge(`a capsule of ${length[0]} bytes is over the ${this.#maxCapsuleBytes}-byte limit`);
      const start = at + type[1] + length[1];
      if (start + length[0] > joined.length) break;
      capsules.push({ type: type[0], value: joined.subarray(start, start + length[0]) });
      at = start + length[0];
    }
    this.#pending = joined.slice(at);
    return capsules;
  }

  /** Bytes of an incomplete capsule held back. */
  get pendingBytes(): number {
    return this.#pending.length;
  }
}
