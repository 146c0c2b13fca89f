// Datagrams on the JS side: per-connection state mirrored from the
// library's CONN_INFO / DATAGRAM_CREDIT / CONN_CLOSED events, so that
// sending can fail synchronously with a precise DatagramError instead of
// being dropped silently on the loop thread.
import { varintLength } from "./varint.ts";

export type DatagramErrorCode =
  | "ERR_DATAGRAMS_DISABLED" // the server was created without datagrams
  | "ERR_DATAGRAMS_NOT_NEGOTIATED" // this peer did not enable them (or not the needed kind)
  | "ERR_DATAGRAM_TOO_LARGE" // larger than the connection can carry now
  | "ERR_DATAGRAM_WOULD_BLOCK" // the send queue is full: await datagramsWritable()
  | "ERR_CONNECTION_CLOSED";

export class DatagramError extends Error {
  readonly code: DatagramErrorCode;
  constructor(code: DatagramErrorCode, message: string) {
    super(`${message} (${code})`);
    this.name = "DatagramError";
    this.code = code;
  }
}

/** How the datagram layer queues commands; implemented by the Server. */
export interface DatagramOutbox {
  quicDatagram(connectionId: number, data: Uint8Array, notify: boolean): void;
  h3Datagram(requestId: number, data: Uint8Array, notify: boolean): void;
}

/**
 * One QUIC connection, as far as datagrams go. Lives from its first
 * CONN_INFO event until CONN_CLOSED; `closed` is then true and sends throw.
 */
export class Connection {
  readonly id: number;
  readonly #outbox: DatagramOutbox;
  readonly #capacity: number;
  #quicUsable = false;
  #h3ByPeer = false;
  #maxDatagram = 0;
  #closed = false;
  #submitted = 0;
  #finished = 0;
  #waiters: (() => void)[] = [];

  constructor(id: number, outbox: DatagramOutbox, capacity: number) {
    this.id = id;
    this.#outbox = outbox;
    this.#capacity = capacity;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Largest datagram payload the connection can carry now (0: none). */
  get maxDatagramSize(): number {
    return this.#quicUsable ? this.#maxDatagram : 0;
  }

  /** The peer enabled HTTP/3 datagrams: datagrams then belong to requests or sessions. */
  get h3Datagrams(): boolean {
    return this.#h3ByPeer;
  }

  /** Sends a connection-scoped QUIC datagram (peers without HTTP/3 datagrams). */
  sendDatagram(data: Uint8Array): void {
    if (this.#h3ByPeer) {
      throw new DatagramError("ERR_DATAGRAMS_NOT_NEGOTIATED", "this peer uses HTTP/3 datagrams: send through its request or WebTransport session");
    }
    this.#outbox.quicDatagram(this.id, checkBytes(data), this.reserve(data.length, 0));
  }

  /** Resolves when a send would not throw ERR_DATAGRAM_WOULD_BLOCK (or the connection closed). */
  datagramsWritable(): Promise<void> {
    if (this.#closed || this.#submitted - this.#finished < this.#capacity) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /**
   * @internal Checks a datagram of `size` bytes (plus `prefix` bytes the
   * library adds) may be sent now, counts it, and says whether to ask for
   * credit.
   */
  reserve(size: number, prefix: number): boolean {
    if (this.#closed) throw new DatagramError("ERR_CONNECTION_CLOSED", "the connection is closed");
    if (!this.#quicUsable) throw new DatagramError("ERR_DATAGRAMS_NOT_NEGOTIATED", "this peer did not enable QUIC datagrams");
    if (size + prefix > this.#maxDatagram) {
      throw new DatagramError("ERR_DATAGRAM_TOO_LARGE", `a ${size}-byte datagram is larger than the ${this.#maxDatagram - prefix} bytes this connection can carry`);
    }
    const inFlight = this.#submitted - this.#finished;
    if (inFlight >= this.#capacity) throw new DatagramError("ERR_DATAGRAM_WOULD_BLOCK", "the datagram send queue is full; await datagramsWritable()");
    this.#submitted++;
    return inFlight + 1 >= this.#capacity / 2;
  }

  /** @internal */
  onInfo(flags: number, maxDatagram: number) {
    this.#quicUsable = (flags & 1) !== 0;
    this.#h3ByPeer = (flags & 2) !== 0;
    this.#maxDatagram = maxDatagram;
  }

  /** @internal */
  onCredit(finished: number) {
    this.#finished = Math.max(this.#finished, finished);
    if (this.#submitted - this.#finished < this.#capacity) for (const resolve of this.#waiters.splice(0)) resolve();
  }

  /** @internal */
  onClosed() {
    this.#closed = true;
    for (const resolve of this.#waiters.splice(0)) resolve();
  }
}

/** The HTTP/3 datagram channel of one request stream (RFC 9297). */
export class RequestDatagrams {
  readonly #requestId: number;
  readonly #streamId: number;
  readonly #connection: () => Connection | undefined;
  readonly #outbox: DatagramOutbox;
  readonly #enabled: boolean;
  #listeners = new Set<(data: Uint8Array) => void>();

  constructor(requestId: number, streamId: number, connection: () => Connection | undefined, outbox: DatagramOutbox, enabled: boolean) {
    this.#requestId = requestId;
    this.#streamId = streamId;
    this.#connection = connection;
    this.#outbox = outbox;
    this.#enabled = enabled;
  }

  /** Largest HTTP/3 datagram payload for this stream now (0: none). */
  get maxDatagramSize(): number {
    const connection = this.#connection();
    if (!connection?.h3Datagrams) return 0;
    return Math.max(0, connection.maxDatagramSize - varintLength(Math.floor(this.#streamId / 4)));
  }

  send(data: Uint8Array): void {
    if (!this.#enabled) throw new DatagramError("ERR_DATAGRAMS_DISABLED", "datagrams are off: create the server with datagrams: true");
    const connection = this.#connection();
    if (!connection || connection.closed) throw new DatagramError("ERR_CONNECTION_CLOSED", "the connection is closed");
    if (!connection.h3Datagrams) throw new DatagramError("ERR_DATAGRAMS_NOT_NEGOTIATED", "this peer did not enable HTTP/3 datagrams");
    const notify = connection.reserve(checkBytes(data).length, varintLength(Math.floor(this.#streamId / 4)));
    this.#outbox.h3Datagram(this.#requestId, data, notify);
  }

  /** Calls `listener` for every datagram on this stream; returns an unsubscribe function. */
  subscribe(listener: (data: Uint8Array) => void): () => void {
    if (typeof listener !== "function") throw new TypeError("onDatagram needs a function");
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** @internal */
  deliver(data: Uint8Array): boolean {
    for (const listener of this.#listeners) listener(data);
    return this.#listeners.size > 0;
  }
}

function checkBytes(data: Uint8Array): Uint8Array {
  if (!(data instanceof Uint8Array)) throw new TypeError("a datagram must be a Uint8Array");
  return data;
}
