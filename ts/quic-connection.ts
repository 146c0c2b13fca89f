// Raw QUIC connections: a connection whose handshake negotiated one of the
// application protocols given to serve({ quic }) (ALPN, e.g. "zr/1") rather
// than h3. The application owns the whole connection: its streams, both
// directions and both initiators, its datagrams and its close.
//
// The library binds every stream of such a connection to one pseudo session
// (zig-src/h3/raw_connections.zig), so the streams are WebTransport streams
// on the JS side (ts/webtransport-streams.ts) with the same Web Streams,
// backpressure, read credit, resets and waits for the peer's MAX_STREAMS;
// only their error codes cross as plain QUIC application codes.
import type { ConnectionStats, SocketAddress } from "./options.ts";
import type { Connection } from "./datagrams.ts";
import { DatagramError } from "./datagrams.ts";
import type { SessionStreams, WebTransportBidirectionalStream } from "./webtransport-streams.ts";
import { sessionGoneError } from "./webtransport-codes.ts";

/** RFC 9218 priority of a stream: `urgency` 0 (first) .. 7 (last), default 3; `incremental` interleaves streams of one urgency. */
export interface QuicStreamPriority {
  urgency?: number;
  incremental?: boolean;
}

/** How a raw QUIC connection ended (`closed`). */
export interface QuicCloseInfo {
  /** The CONNECTION_CLOSE error code (an application code when `applicationClose`); 0 when the connection timed out. */
  closeCode: number;
  /** The CONNECTION_CLOSE reason phrase ("" when none). */
  reason: string;
  /** Who closed it: "peer" (its CONNECTION_CLOSE), "local" (ours: close(), or an error the server raised) or "timeout" (idle timeout, or the server stopped). */
  source: "peer" | "local" | "timeout";
  /** The code is an application error code (CONNECTION_CLOSE type 0x1d), not a QUIC transport error. */
  applicationClose: boolean;
}

/** Handles a raw QUIC connection of one ALPN, from serve({ quic: { [alpn]: handler } }) or server.quic(). */
export type QuicHandler = (connection: QuicConnection) => void | Promise<void>;

/** What a QuicConnection asks of the Server. */
export interface QuicConnectionHost {
  close(connectionId: number, code: bigint, reason: Uint8Array): void;
  setPriority(streamId: number, urgency: number, incremental: boolean): void;
  stats(connectionId: number): Promise<ConnectionStats | null>;
  datagramConnection(connectionId: number): Connection | undefined;
  datagramsEnabled: boolean;
}

const INCOMING_DATAGRAM_QUEUE = 1024;
const MAX_CLOSE_REASON_BYTES = 1024;
const MAX_QUIC_CODE = 2 ** 62 - 1;

/**
 * One raw QUIC connection. Streams are Web Streams of bytes, the same types
 * as WebTransport streams: `incomingBidirectionalStreams` yields
 * `{ readable, writable }` pairs the client opened, and
 * `createBidirectionalStream()` opens one (waiting, as the W3C API does,
 * while the client's MAX_STREAMS allows no more). Aborting a writable sends
 * RESET_STREAM and cancelling a readable STOP_SENDING, with the reason's
 * `streamErrorCode` (0 without one) as the QUIC application error code;
 * the peer's resets error them with a WebTransportError carrying its code.
 */
export class QuicConnection {
  /** The connection id (as in server.connectionStats()). */
  readonly id: number;
  /** The application protocol the handshake chose (e.g. "zr/1"). */
  readonly alpn: string;
  /** The client's address when the handshake completed. */
  readonly remoteAddress: SocketAddress;
  /** Settles once the connection is gone, however it ended. */
  readonly closed: Promise<QuicCloseInfo>;
  readonly #host: QuicConnectionHost;
  readonly #streams: SessionStreams;
  #settle!: (info: QuicCloseInfo) => void;
  #done = false;
  #datagrams: ReadableStream<Uint8Array> | null = null;
  #datagramController: ReadableStreamDefaultController<Uint8Array> | null = null;
  #datagramsDropped = 0;

  /** @internal Made by the Server on the library's QUIC_CONN event. */
  constructor(id: number, alpn: string, remoteAddress: SocketAddress, streams: SessionStreams, host: QuicConnectionHost) {
    this.id = id;
    this.alpn = alpn;
    this.remoteAddress = remoteAddress;
    this.#streams = streams;
    this.#host = host;
    this.closed = new Promise((resolve) => (this.#settle = resolve));
  }

  /** Bidirectional streams the client opens, as `{ readable, writable }`. Closes when the connection does. */
  get incomingBidirectionalStreams(): ReadableStream<WebTransportBidirectionalStream> {
    return this.#streams.incomingBidirectionalStreams;
  }

  /** Unidirectional streams the client opens. Closes when the connection does. */
  get incomingUnidirectionalStreams(): ReadableStream<ReadableStream<Uint8Array>> {
    return this.#streams.incomingUnidirectionalStreams;
  }

  /** Opens a bidirectional stream, with an optional RFC 9218 priority; waits while the client's MAX_STREAMS allows no more. */
  async createBidirectionalStream(priority: QuicStreamPriority = {}): Promise<WebTransportBidirectionalStream> {
    const checked = checkPriority(priority);
    const stream = await this.#streams.createBidirectionalStream();
    if (checked) this.setPriority(stream, checked);
    return stream;
  }

  /** Opens a unidirectional stream (its WritableStream), with an optional RFC 9218 priority. */
  async createUnidirectionalStream(priority: QuicStreamPriority = {}): Promise<WritableStream<Uint8Array>> {
    const checked = checkPriority(priority);
    const stream = await this.#streams.createUnidirectionalStream();
    if (checked) this.setPriority(stream, checked);
    return stream;
  }

  /**
   * Changes a stream's RFC 9218 priority on quiche's scheduler, from its next
   * byte on: lower `urgency` goes first; streams of one urgency are sent one
   * after another, or interleaved when `incremental`. `stream` is a pair
   * from this connection, or its writable. A stream that ended is ignored.
   */
  setPriority(stream: WebTransportBidirectionalStream | WritableStream<Uint8Array> | ReadableStream<Uint8Array>, priority: QuicStreamPriority): void {
    const checked = checkPriority(priority) ?? { urgency: 3, incremental: false };
    const id = this.#streams.streamId(stream);
    if (id === undefined) return;
    this.#host.setPriority(id, checked.urgency, checked.incremental);
  }

  /** Largest datagram payload the connection can send now (0: datagrams are off or the client did not enable them). */
  get maxDatagramSize(): number {
    return this.#host.datagramConnection(this.id)?.maxDatagramSize ?? 0;
  }

  /** Incoming datagrams the `datagrams` stream had to drop because nobody read them. */
  get datagramsDropped(): number {
    return this.#datagramsDropped;
  }

  /** Sends a QUIC datagram (RFC 9221). Throws a DatagramError: ERR_DATAGRAMS_DISABLED without serve({ datagrams }), ERR_DATAGRAM_WOULD_BLOCK, ERR_DATAGRAM_TOO_LARGE, ... */
  sendDatagram(data: Uint8Array): void {
    if (!this.#host.datagramsEnabled) throw new DatagramError("ERR_DATAGRAMS_DISABLED", "datagrams are off: create the server with datagrams: true");
    if (this.#done) throw new DatagramError("ERR_CONNECTION_CLOSED", "the connection is closed");
    const connection = this.#host.datagramConnection(this.id);
    if (!connection) throw new DatagramError("ERR_DATAGRAMS_NOT_NEGOTIATED", "this peer did not enable QUIC datagrams");
    connection.sendDatagram(data);
  }

  /** Resolves when sendDatagram() would not throw ERR_DATAGRAM_WOULD_BLOCK (or the connection closed). */
  datagramsWritable(): Promise<void> {
    return this.#host.datagramConnection(this.id)?.datagramsWritable() ?? Promise.resolve();
  }

  /**
   * Incoming datagrams (`for await (const d of connection.datagrams)`).
   * Bounded: while nobody reads, datagrams past 1024 are dropped, as
   * datagrams may be. Closes when the connection does.
   */
  get datagrams(): ReadableStream<Uint8Array> {
    this.#datagrams ??= new ReadableStream<Uint8Array>(
      { start: (controller) => void (this.#datagramController = controller) },
      new CountQueuingStrategy({ highWaterMark: INCOMING_DATAGRAM_QUEUE }),
    );
    if (this.#done) this.#closeDatagrams();
    return this.#datagrams;
  }

  /** The connection's counters (RTT, congestion window, packets, bytes, ...); null once it is gone. */
  stats(): Promise<ConnectionStats | null> {
    return this.#host.stats(this.id);
  }

  /**
   * Closes the connection with CONNECTION_CLOSE carrying application error
   * `code` (0..2^62-1) and `reason` (at most 1024 bytes of UTF-8). Its
   * streams error with ERR_WEBTRANSPORT_SESSION_GONE; `closed` settles.
   */
  close(code = 0, reason = ""): void {
    if (!Number.isSafeInteger(code) || code < 0 || code > MAX_QUIC_CODE) throw new TypeError("code must be an integer 0..2^62-1");
    const bytes = new TextEncoder().encode(reason);
    if (bytes.length > MAX_CLOSE_REASON_BYTES) throw new TypeError(`reason must be at most ${MAX_CLOSE_REASON_BYTES} bytes of UTF-8`);
    if (this.#done) return;
    this.#host.close(this.id, BigInt(code), bytes);
  }

  /** @internal A QUIC datagram from the client. */
  onDatagram(data: Uint8Array) {
    const controller = this.#datagramController;
    if (!controller || this.#done) return;
    if ((controller.desiredSize ?? 0) <= 0) {
      this.#datagramsDropped++;
      return;
    }
    controller.enqueue(data);
  }

  /** @internal CONN_CLOSED: every stream still open errors, the incoming streams close. */
  onClosed(info: QuicCloseInfo) {
    if (this.#done) return;
    this.#done = true;
    this.#closeDatagrams();
    this.#streams.end(sessionGoneError(`the QUIC connection closed (code ${info.closeCode}${info.reason ? `: ${info.reason}` : ""})`), true);
    this.#settle(info);
  }

  #closeDatagrams() {
    try {
      this.#datagramController?.close();
    } catch {
      // Already closed.
    }
  }
}

function checkPriority(priority: QuicStreamPriority | undefined): { urgency: number; incremental: boolean } | null {
  if (priority === undefined || priority === null) return null;
  if (typeof priority !== "object") throw new TypeError("a stream priority must be an object { urgency, incremental }");
  if (priority.urgency === undefined && priority.incremental === undefined) return null;
  const urgency = priority.urgency ?? 3;
  if (!Number.isInteger(urgency) || urgency < 0 || urgency > 7) throw new RangeError(`urgency must be an integer 0..7, got ${urgency}`);
  if (priority.incremental !== undefined && typeof priority.incremental !== "boolean") throw new TypeError("incremental must be a boolean");
  return { urgency, incremental: priority.incremental ?? false };
}

/** Checks the application protocols of serve({ quic }) (ALPN ids: 1..255 printable ASCII bytes, no comma, not "h3"). */
export function checkAlpn(alpn: string): string {
  if (typeof alpn !== "string" || alpn.length === 0 || alpn.length > 255 || !/^[\x21-\x2b\x2d-\x7e]+$/.test(alpn)) {
    throw new TypeError(`a QUIC application protocol (ALPN) must be 1..255 printable ASCII characters without spaces or commas, got ${JSON.stringify(alpn)}`);
  }
  if (alpn === "h3") throw new TypeError('"h3" is HTTP/3, always served: give routes, fetch or webtransport for it');
  return alpn;
}
