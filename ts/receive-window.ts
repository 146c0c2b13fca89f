// The application's side of a body's read window. The library reads a
// request (or WebTransport stream) body from QUIC only as far as the
// application allowed with CREDIT commands, starting at
// request_read_window_bytes; past that, QUIC flow control holds the peer
// back. As the application consumes bytes, this grants a window past what
// it consumed, at most once per half window so credit costs few commands.

/** Where CREDIT commands go. */
export interface CreditOutbox {
  /** Lets the library deliver body bytes up to `allowedBytes` (absolute). */
  credit(id: number, allowedBytes: number): void;
}

export class ReceiveWindow {
  readonly #id: number;
  readonly #outbox: CreditOutbox;
  /** request_read_window_bytes. */
  readonly windowBytes: number;
  #grantedBytes: number;
  #receivedBytes = 0;

  constructor(id: number, outbox: CreditOutbox, windowBytes: number) {
    if (!(windowBytes > 0)) throw new RangeError("a read window must be positive");
    this.#id = id;
    this.#outbox = outbox;
    this.windowBytes = windowBytes;
    this.#grantedBytes = windowBytes; // The library starts every body with one window.
  }

  /** A chunk of `bytes` arrived for the application. */
  received(bytes: number) {
    this.#receivedBytes += bytes;
  }

  /** `unreadBytes` of what arrived are still queued for the application. */
  consumed(unreadBytes: number) {
    const consumedBytes = this.#receivedBytes - unreadBytes;
    if (consumedBytes + this.windowBytes - this.#grantedBytes < this.windowBytes / 2) return;
    this.#grantedBytes = consumedBytes + this.windowBytes;
    this.#outbox.credit(this.#id, this.#grantedBytes);
  }
}
