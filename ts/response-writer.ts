// The low-level response: status, headers, awaited writes, trailers.
//
// Lifetime: a ResponseWriter is valid from the handler call until the
// response completes or the client resets the stream (`closed` settles
// then). After end()/trailers() no more writes are accepted; after a reset
// writes reject with an AbortError. Chunks passed to write() are copied
// before it returns, so the caller may reuse them.
//
// A response small enough to go whole (head, body and end in one command)
// and whose request is over for the application (its body ended, no
// datagram channel, nobody awaiting `closed`) is sent "quiet": the library
// reports nothing more about it, which saves the COMPLETE event that was
// most of a small exchange's traffic back to JS.
import { FLAG_FIN, FLAG_NOTIFY, FLAG_QUIET, type Field } from "./wire.ts";

/** What the writer needs from its Server: command encoding and flushing. */
export interface Outbox {
  head(id: number, status: number, fields: Field[], flags: number, body?: Uint8Array | null): void;
  body(id: number, chunk: Uint8Array, flags: number): void;
  trailers(id: number, fields: Field[], flags: number): void;
  reset(id: number, code: bigint): void;
}

/** What the writer asks of the server about its request. */
export interface WriterOwner {
  /** The request is over for the application once its response ends (body read, no datagrams). */
  mayForget(): boolean;
  /** The response ended quietly: the server forgets the request now. */
  forgotten(): void;
}

const EMPTY = new Uint8Array(0);

/** Largest body record sent to the library in one command. */
export const MAX_BODY_RECORD_BYTES = 64 * 1024;
const H3_REQUEST_CANCELLED = 0x10cn;
const encoder = new TextEncoder();

/**
 * The low-level response of `server.route()` handlers: `status()`,
 * `header()`, `await write(chunk)` (backpressure), `end(chunk?)`,
 * `trailers(fields)`, `reset(code)` and the `closed` promise.
 */
export class ResponseWriter {
  readonly #id: number;
  readonly #outbox: Outbox;
  readonly #window: number;
  /** Bytes of large chunks copied here and not yet handed to the library. */
  #backlog = 0;
  /** Ends when every large chunk so far is handed over; later sends follow it. */
  #tail: Promise<void> = Promise.resolve();
  #status = 200;
  #fields: Field[] = [];
  #headSent = false;
  #ended = false;
  #failure: Error | null = null;
  #submitted = 0;
  #sent = 0;
  #waiters: { resolve: () => void; reject: (error: Error) => void }[] = [];
  #outcome: "complete" | "reset" | null = null;
  #closed: Promise<"complete" | "reset"> | null = null;
  #settle: ((outcome: "complete" | "reset") => void) | null = null;
  readonly #owner: WriterOwner | null;
  readonly #datagrams: { sendDatagram(data: Uint8Array): void } | null;

  constructor(id: number, outbox: Outbox, window: number, datagrams: { sendDatagram(data: Uint8Array): void } | null = null, owner: WriterOwner | null = null) {
    this.#id = id;
    this.#outbox = outbox;
    this.#window = window;
    this.#datagrams = datagrams;
    this.#owner = owner;
  }

  /**
   * Settles when the response has been fully handed to QUIC ("complete") or
   * the stream was reset ("reset"). Made when first read: a response nobody
   * awaits can end without the library reporting back.
   */
  get closed(): Promise<"complete" | "reset"> {
    if (this.#closed === null) {
      this.#closed = this.#outcome !== null ? Promise.resolve(this.#outcome) : new Promise((resolve) => (this.#settle = resolve));
    }
    return this.#closed;
  }

  #finish(outcome: "complete" | "reset") {
    this.#outcome = outcome;
    this.#settle?.(outcome);
  }

  /** FLAG_QUIET when the request may end without a COMPLETE event. */
  #quietFlag(): number {
    return this.#closed === null && this.#owner !== null && this.#owner.mayForget() ? FLAG_QUIET : 0;
  }

  /** After a quiet end: the response is complete as far as anyone can tell. */
  #forgetIf(flags: number) {
    if ((flags & FLAG_QUIET) === 0) return;
    this.#finish("complete");
    this.#owner!.forgotten();
  }

  /** The status and headers have been handed to the library; status() and header() throw now. */
  get headersSent(): boolean {
    return this.#headSent;
  }

  /** end() or trailers() was called (or the response was reset): no more writes. */
  get ended(): boolean {
    return this.#ended;
  }

  /** Sets the status (200..999; HTTP/3 has no 1xx final status). Before the head is sent. */
  status(code: number): this {
    if (this.#headSent) throw new TypeError("status() after the response head was sent");
    if (!Number.isInteger(code) || code < 200 || code > 999) throw new TypeError(`status must be an integer 200..999, got ${code}`);
    this.#status = code;
    return this;
  }

  /** Adds a response header field (validated; names are lowercased). Before the head is sent. */
  header(name: string, value: string | number): this {
    if (this.#headSent) throw new TypeError("header() after the response head was sent");
    this.#fields.push(validField(name, String(value)));
    return this;
  }

  /**
   * @internal Every field of a Headers object except those in `skip`.
   * Headers has validated and lowercased them already, so they are taken
   * as they are (the per-field checks cost more than a small response).
   */
  _headers(headers: Headers, skip: ReadonlySet<string>): this {
    if (this.#headSent) throw new TypeError("header() after the response head was sent");
    const fields = this.#fields;
    headers.forEach((value, name) => {
      if (!skip.has(name)) fields.push([name, value]);
    });
    return this;
  }

  /**
   * Sends a body chunk. Resolves at once while the library buffers less
   * than its window for this response, else when it has drained.
   */
  write(chunk: Uint8Array | string): Promise<void> {
    const bytes = this.#checkWritable(chunk);
    this.#sendHead(false);
    return this.#sendBody(bytes, false);
  }

  /** Ends the response, optionally with a last chunk. */
  end(chunk?: Uint8Array | string): void {
    const bytes = chunk === undefined ? EMPTY : this.#checkWritable(chunk);
    if (this.#ended) throw new TypeError("end() after the response ended");
    this.#ended = true;
    if (!this.#headSent && bytes.length <= this.#window) {
      // The whole response in one command.
      this.#headSent = true;
      this.#submitted += bytes.length;
      const flags = FLAG_FIN | this.#quietFlag();
      this.#outbox.head(this.#id, this.#status, this.#fields, flags, bytes.length > 0 ? bytes : null);
      return this.#forgetIf(flags);
    }
    this.#sendHead(false);
    if (bytes.length === 0 && this.#backlog === 0 && !this.#overWindow()) {
      const flags = FLAG_FIN | this.#quietFlag();
      this.#outbox.body(this.#id, EMPTY, flags);
      return this.#forgetIf(flags);
    }
    // A reset while a large last chunk waits is reported through the
    // response's outcome, not as an unhandled rejection.
    this.#sendBody(bytes, true).catch(() => {});
  }

  /** Ends the response with a trailer section. */
  trailers(headers: HeadersInit): void {
    if (this.#ended) throw new TypeError("trailers() after the response ended");
    this.#checkNotFailed();
    const fields: Field[] = [];
    new Headers(headers).forEach((value, name) => fields.push(validField(name, value)));
    this.#sendHead(false);
    this.#ended = true;
    if (this.#backlog === 0) return this.#outbox.trailers(this.#id, fields, 0);
    this.#tail = this.#tail.then(() => void (this.#failure ? undefined : this.#outbox.trailers(this.#id, fields, 0)));
  }

  /** Sends an HTTP/3 datagram on this request's stream. Throws a DatagramError. */
  sendDatagram(data: Uint8Array): void {
    if (!this.#datagrams) throw new TypeError("this response has no datagram channel");
    this.#datagrams.sendDatagram(data);
  }

  /** Resets the stream (both directions) with an HTTP/3 error code. */
  reset(code: bigint = H3_REQUEST_CANCELLED): void {
    if (this.#failure) return;
    this.#outbox.reset(this.#id, code);
    this._onReset(new DOMException("The response was reset by the server", "AbortError"));
  }

  #checkNotFailed() {
    if (this.#failure) throw this.#failure;
  }

  #checkWritable(chunk: Uint8Array | string): Uint8Array {
    if (this.#ended) throw new TypeError("write after the response ended");
    this.#checkNotFailed();
    if (typeof chunk === "string") return encoder.encode(chunk);
    if (chunk instanceof Uint8Array) return chunk;
    throw new TypeError("a body chunk must be a Uint8Array or a string");
  }

  /** Sends the head now, leaving the stream open (for CONNECT responses). */
  sendHead(): void {
    this.#checkNotFailed();
    this.#sendHead(false);
  }

  #sendHead(fin: boolean) {
    if (this.#headSent) return;
    this.#headSent = true;
    this.#outbox.head(this.#id, this.#status, this.#fields, fin ? FLAG_FIN : 0);
  }

  #sendBody(bytes: Uint8Array, fin: boolean): Promise<void> {
    if (bytes.length === 0) {
      if (!fin) return Promise.resolve();
      if (this.#backlog === 0) this.#outbox.body(this.#id, bytes, FLAG_FIN);
      else this.#tail = this.#tail.then(() => void (this.#failure ? undefined : this.#outbox.body(this.#id, bytes, FLAG_FIN)));
      return Promise.resolve();
    }
    // The library resets a response whose buffer grows past twice the
    // window, so a chunk that would take it there goes a window at a time
    // (copied: end() returns before it is all handed over), after whatever
    // large chunk is still going out.
    if (this.#backlog > 0 || this.#submitted - this.#sent + bytes.length > 2 * this.#window) {
      const copy = bytes.slice();
      this.#backlog += copy.length;
      const sent = this.#tail.then(() => this.#submit(copy, 0, fin));
      this.#tail = sent.then(
        () => void (this.#backlog -= copy.length),
        () => void (this.#backlog -= copy.length),
      );
      return sent;
    }
    for (let at = 0; at < bytes.length; at += MAX_BODY_RECORD_BYTES) {
      const end = Math.min(at + MAX_BODY_RECORD_BYTES, bytes.length);
      this.#submitted += end - at;
      const last = end === bytes.length;
      this.#outbox.body(this.#id, bytes.subarray(at, end), (fin && last ? FLAG_FIN : 0) | (last && this.#overWindow() ? FLAG_NOTIFY : 0));
    }
    if (!this.#overWindow()) return Promise.resolve();
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /** Submits records from `at`, waiting for DRAIN whenever past the window. */
  async #submit(bytes: Uint8Array, at: number, fin: boolean): Promise<void> {
    while (at < bytes.length) {
      this.#checkNotFailed();
      if (this.#overWindow()) await new Promise<void>((resolve, reject) => this.#waiters.push({ resolve, reject }));
      const end = Math.min(at + MAX_BODY_RECORD_BYTES, bytes.length);
      this.#submitted += end - at;
      this.#outbox.body(this.#id, bytes.subarray(at, end), (fin && end === bytes.length ? FLAG_FIN : 0) | (this.#overWindow() ? FLAG_NOTIFY : 0));
      at = end;
    }
  }

  #overWindow(): boolean {
    return this.#submitted - this.#sent > this.#window;
  }

  /** @internal The library reports how many body bytes reached QUIC. */
  _onDrain(sentTotal: number) {
    this.#sent = Math.max(this.#sent, sentTotal);
    if (this.#overWindow()) return;
    for (const waiter of this.#waiters.splice(0)) waiter.resolve();
  }

  /** @internal */
  _onComplete() {
    this.#ended = true;
    for (const waiter of this.#waiters.splice(0)) waiter.resolve();
    this.#finish("complete");
  }

  /** @internal */
  _onReset(error: Error) {
    if (this.#failure) return;
    this.#failure = error;
    this.#ended = true;
    for (const waiter of this.#waiters.splice(0)) waiter.reject(error);
    this.#finish("reset");
  }
}

function validField(name: string, value: string): Field {
  const lower = name.toLowerCase();
  if (!/^[!#$%&'*+\-.^_`|~0-9a-z]+$/.test(lower)) throw new TypeError(`invalid header name: ${JSON.stringify(name)}`);
  if (/[\r\n\0]/.test(value)) throw new TypeError(`header ${lower} has a CR, LF or NUL in its value`);
  // A ByteString, as in Headers: the library writes it as Latin-1.
  if (/[^\x00-\xff]/.test(value)) throw new TypeError(`header ${lower} has a character above U+00FF in its value`);
  if (value.length > 0xffff) throw new TypeError(`header ${lower} is longer than 65535 bytes`);
  return [lower, value.trim()];
}
