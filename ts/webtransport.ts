// WebTransport sessions (draft-02, as Chromium 156 speaks it) over the
// extended CONNECT of a request stream. The session ID is the CONNECT
// stream's ID; session datagrams are that stream's HTTP/3 datagrams; the
// stream's DATA carries capsules (RFC 9297), of which
// CLOSE_WEBTRANSPORT_SESSION ends the session with a code and a reason.
//
// Streams (ts/webtransport-streams.ts) are bound to the session: bidirectional
// and unidirectional, opened by either side.
//
// Lifetime: a session is live from the handler call until `closed`
// settles: on close() from either side, when the CONNECT stream ends or is
// reset, or when the connection closes. After that sends throw, every
// stream of the session still open errors with ERR_WEBTRANSPORT_SESSION_GONE
// (the library resets them on the wire), and creating a stream rejects.
import type { ResponseWriter } from "./response-writer.ts";
import type { IncomingRequest } from "./web.ts";
import { DatagramError, type RequestDatagrams } from "./datagrams.ts";
import { encodeVarint, varintLength } from "./varint.ts";
import { CapsuleReader } from "./capsules.ts";
import type { SessionStreams, WebTransportBidirectionalStream } from "./webtransport-streams.ts";
import { sessionGoneError } from "./webtransport-codes.ts";

export const CLOSE_WEBTRANSPORT_SESSION = 0x2843;
const MAX_CLOSE_REASON_BYTES = 1024;
const MAX_CAPSULE_BYTES = 64 * 1024;
const INCOMING_DATAGRAM_QUEUE = 1024;

export interface WebTransportCloseInfo {
  closeCode: number;
  reason: string;
}

/**
 * Decides on a session. The CONNECT request is an IncomingRequest (the
 * Fetch API forbids CONNECT in a Web Request).
 */
export type WebTransportHandler = (session: WebTransportSession, request: IncomingRequest) => void | Response | Promise<void | Response>;

export class WebTransportSession {
  /** The session ID: the stream ID of the CONNECT request. */
  readonly id: number;
  readonly connectionId: number;
  readonly request: IncomingRequest;
  readonly closed: Promise<WebTransportCloseInfo>;
  readonly #writer: ResponseWriter;
  readonly #channel: RequestDatagrams;
  readonly #streams: SessionStreams;
  #settle!: (info: WebTransportCloseInfo) => void;
  #done = false;
  #accepted = false;
  readonly #capsules = new CapsuleReader(MAX_CAPSULE_BYTES);
  #readable: ReadableStream<Uint8Array> | null = null;
  #readableController: ReadableStreamDefaultController<Uint8Array> | null = null;
  #datagramsDropped = 0;

  constructor(request: IncomingRequest, writer: ResponseWriter, channel: RequestDatagrams, streams: SessionStreams) {
    this.request = request;
    this.id = request.streamId;
    this.connectionId = request.connectionId;
    this.#writer = writer;
    this.#channel = channel;
    this.#streams = streams;
    streams.onOpen = () => this.accept();
    this.closed = new Promise((resolve) => (this.#settle = resolve));
    channel.subscribe((data) => this.#onDatagram(data));
  }

  /**
   * Bidirectional streams the client opens, in the order they arrive. Each
   * is `{ readable, writable }`: the client's bytes (closes at its FIN,
   * errors with a WebTransportError ERR_WEBTRANSPORT_STREAM_RESET carrying
   * `streamErrorCode` when it resets) and ours (`close()` sends FIN,
   * `abort(reason)` resets with `reason.streamErrorCode`, else 0; errors
   * with ERR_WEBTRANSPORT_STOP_SENDING when the client stops reading).
   * `readable.cancel(reason)` sends STOP_SENDING with `reason.streamErrorCode`.
   * Closes when the session closes cleanly, errors when it is cut off.
   */
  get incomingBidirectionalStreams(): ReadableStream<WebTransportBidirectionalStream> {
    return this.#streams.incomingBidirectionalStreams;
  }

  /** Unidirectional streams the client opens: each a ReadableStream of its bytes (as above). */
  get incomingUnidirectionalStreams(): ReadableStream<ReadableStream<Uint8Array>> {
    return this.#streams.incomingUnidirectionalStreams;
  }

  /**
   * Opens a bidirectional stream to the client. While the client grants no
   * QUIC stream credit (MAX_STREAMS) the promise waits, and settles once it
   * does. Rejects with a WebTransportError: ERR_WEBTRANSPORT_SESSION_GONE
   * (the session ended, also while waiting), ERR_WEBTRANSPORT_STREAM_LIMIT
   * (the session's stream limit, max_webtransport_streams_per_session, is
   * reached, or that many creates already wait on the connection).
   * Called from the handler before it returns, it accepts the session first.
   */
  createBidirectionalStream(): Promise<WebTransportBidirectionalStream> {
    return this.#streams.createBidirectionalStream();
  }

  /** Opens a unidirectional stream to the client: its WritableStream. Rejects as createBidirectionalStream(). */
  createUnidirectionalStream(): Promise<WritableStream<Uint8Array>> {
    return this.#streams.createUnidirectionalStream();
  }

  /** Largest datagram payload the session can send now. */
  get maxDatagramSize(): number {
    return this.#channel.maxDatagramSize;
  }

  /** Incoming datagrams the `datagrams` stream had to drop because nobody read them. */
  get datagramsDropped(): number {
    return this.#datagramsDropped;
  }

  /** Sends a datagram to the client. Throws a DatagramError (see its codes). */
  sendDatagram(data: Uint8Array): void {
    if (this.#done) throw new DatagramError("ERR_CONNECTION_CLOSED", "the WebTransport session is closed");
    this.#channel.send(data);
  }

  /** Calls `listener` for every datagram from the client; returns an unsubscribe function. */
  onDatagram(listener: (data: Uint8Array) => void): () => void {
    return this.#channel.subscribe(listener);
  }

  /**
   * Incoming datagrams as a stream (`for await (const d of session.datagrams)`).
   * Bounded: while nobody reads, datagrams past 1024 are dropped, as
   * datagrams may be. Created on first access.
   */
  get datagrams(): ReadableStream<Uint8Array> {
    this.#readable ??= new ReadableStream<Uint8Array>(
      { start: (controller) => void (this.#readableController = controller) },
      new CountQueuingStrategy({ highWaterMark: INCOMING_DATAGRAM_QUEUE }),
    );
    if (this.#done) this.#closeReadable();
    return this.#readable;
  }

  /** Ends the session: CLOSE_WEBTRANSPORT_SESSION with `closeCode` and `reason`, then FIN. */
  close(closeCode = 0, reason = ""): void {
    if (!Number.isInteger(closeCode) || closeCode < 0 || closeCode > 0xffffffff) throw new TypeError("closeCode must be a 32-bit unsigned integer");
    const reasonBytes = new TextEncoder().encode(reason);
    if (reasonBytes.length > MAX_CLOSE_REASON_BYTES) throw new TypeError(`reason must be at most ${MAX_CLOSE_REASON_BYTES} bytes of UTF-8`);
    if (this.#done) return;
    if (!this.#writer.ended) {
      this.#writer.end(encodeCloseCapsule(closeCode, reasonBytes));
    }
    this.#finish({ closeCode, reason }, true);
  }

  /** @internal The handler accepted the session: 200 without FIN. */
  accept() {
    if (this.#accepted || this.#done) return;
    this.#accepted = true;
    this.#writer.status(200).header("sec-webtransport-http3-draft", "draft02");
    this.#writer.sendHead();
  }

  /** @internal Bytes of the CONNECT stream: capsules. */
  onStreamData(chunk: Uint8Array) {
    if (this.#done) return;
    let capsules;
    try {
      capsules = this.#capsules.push(chunk);
    } catch {
      return this.#abort();
    }
    for (const capsule of capsules) {
      // Other capsules (DRAIN_WEBTRANSPORT_SESSION, unknown) are skipped.
      if (capsule.type === CLOSE_WEBTRANSPORT_SESSION) return this.#onPeerClose(capsule.value);
    }
  }

  /** @internal The client ended the CONNECT stream. */
  onStreamEnd() {
    if (!this.#writer.ended) this.#writer.end();
    this.#finish({ closeCode: 0, reason: "" }, true);
  }

  /** @internal The stream was reset or the connection closed (or the handler rejected the session). */
  onReset() {
    this.#finish({ closeCode: 0, reason: "" }, false);
  }

  #onPeerClose(value: Uint8Array) {
    if (value.length < 4) return this.#abort();
    const closeCode = new DataView(value.buffer, value.byteOffset, 4).getUint32(0);
    const reason = new TextDecoder().decode(value.subarray(4, 4 + MAX_CLOSE_REASON_BYTES));
    if (!this.#writer.ended) this.#writer.end();
    this.#finish({ closeCode, reason }, true);
  }

  /** A malformed capsule stream: H3_GENERAL_PROTOCOL_ERROR on the stream. */
  #abort() {
    this.#writer.reset(0x101n);
    this.#finish({ closeCode: 0, reason: "" }, false);
  }

  #onDatagram(data: Uint8Array) {
    const controller = this.#readableController;
    if (!controller || this.#done) return;
    if ((controller.desiredSize ?? 0) <= 0) {
      this.#datagramsDropped++;
      return;
    }
    controller.enqueue(data);
  }

  #finish(info: WebTransportCloseInfo, clean: boolean) {
    if (this.#done) return;
    this.#done = true;
    this.#closeReadable();
    this.#streams.end(sessionGoneError(clean ? `the WebTransport session closed (code ${info.closeCode})` : "the WebTransport session was cut off"), clean);
    this.#settle(info);
  }

  #closeReadable() {
    try {
      this.#readableController?.close();
    } catch {
      // Already closed.
    }
  }
}

export function encodeCloseCapsule(closeCode: number, reason: Uint8Array): Uint8Array {
  const valueLength = 4 + reason.length;
  const capsule = new Uint8Array(varintLength(CLOSE_WEBTRANSPORT_SESSION) + varintLength(valueLength) + valueLength);
  let at = encodeVarint(CLOSE_WEBTRANSPORT_SESSION, capsule, 0);
  at += encodeVarint(valueLength, capsule, at);
  new DataView(capsule.buffer).setUint32(at, closeCode);
  capsule.set(reason, at + 4);
  return capsule;
}
