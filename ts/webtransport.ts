// WebTransport sessions over the extended CONNECT of a request stream, in
// every dialect a client may speak (draft-02 as Chromium 156, -07, -13/14 as
// Safari, -15/16 as webtransport-go v0.12+): `session.draft` says which,
// from the client's SETTINGS and `:protocol`. The session ID is the CONNECT
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
import { SessionFlow, WT_FLOW_CONTROL_ERROR, type FlowLimits, type FlowStats } from "./webtransport-flow.ts";
import { WT_BITS } from "./wire.ts";

/**
 * The WebTransport over HTTP/3 draft a session's client speaks, from its
 * SETTINGS and `:protocol`: "draft-02" (SETTINGS_ENABLE_WEBTRANSPORT, e.g.
 * Chromium; also clients whose SETTINGS say nothing newer), "draft-07"
 * (SETTINGS_WEBTRANSPORT_MAX_SESSIONS, drafts -07 to -12), "draft-13/14"
 * (SETTINGS_WT_MAX_SESSIONS, e.g. Safari 26.4+), "draft-15/16"
 * (SETTINGS_WT_ENABLED or `:protocol` "webtransport-h3").
 */
export type WebTransportDraft = "draft-02" | "draft-07" | "draft-13/14" | "draft-15/16";

/** What the server knows of a CONNECT's client when the session starts. */
export interface SessionDialect {
  /** The CONNECT's `:protocol`. */
  protocol: string | undefined;
  /** WT_BITS of the client's SETTINGS (0: they had not arrived). */
  wtBits: number;
  /** The client's session flow-control limits, when it announced them. */
  peerLimits: FlowLimits | null;
  /** Ours (limits.wtInitialMax*); all 0 turns session flow control off. */
  ourLimits: FlowLimits;
}

/** The draft of a client (see WebTransportDraft). */
export function draftOf(protocol: string | undefined, wtBits: number, draft02Header: boolean): WebTransportDraft {
  if (protocol === "webtransport-h3") return "draft-15/16";
  if (draft02Header) return "draft-02";
  if (wtBits & WT_BITS.wtEnabled) return "draft-15/16";
  if (wtBits & WT_BITS.wtMaxSessions) return "draft-13/14";
  if (wtBits & WT_BITS.webtransportMaxSessions) return "draft-07";
  return "draft-02";
}

/**
 * Parses a Structured Field List of Strings (RFC 8941), as
 * WT-Available-Protocols is; parameters are ignored. Anything else (a token,
 * a number, a malformed member) makes the whole field invalid: [].
 */
export function parseProtocolList(field: string | null): string[] {
  if (field === null) return [];
  const out: string[] = [];
  let at = 0;
  const skip = () => {
    while (at < field.length && (field[at] === " " || field[at] === "\t")) at++;
  };
  skip();
  if (at === field.length) return [];
  while (at < field.length) {
    if (field[at] !== '"') return [];
    at++;
    let value = "";
    for (;;) {
      if (at >= field.length) return [];
      const c = field[at++]!;
      const code = c.charCodeAt(0);
      if (c === "\\") {
        const next = field[at++];
        if (next !== '"' && next !== "\\") return [];
        value += next;
      } else if (c === '"') break;
      else if (code < 0x20 || code > 0x7e) return [];
      else value += c;
    }
    // Parameters (;key or ;key=value) are allowed and ignored.
    while (field[at] === ";") {
      at++;
      while (at < field.length && field[at] !== "," && field[at] !== ";") at++;
    }
    out.push(value);
    skip();
    if (at === field.length) break;
    if (field[at] !== ",") return [];
    at++;
    skip();
    if (at === field.length) return [];
  }
  return out;
}

/** A String item (RFC 8941 section 4.1.6): WT-Protocol's value. */
export function serializeProtocol(value: string): string {
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

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
  /** The draft the client speaks (see WebTransportDraft). */
  readonly draft: WebTransportDraft;
  /** The application protocols the client offered (WT-Available-Protocols), in its order of preference. */
  readonly protocols: readonly string[];
  #protocol: string | null = null;
  readonly #flow: SessionFlow | null = null;
  /** Capsules held until the response head is sent. */
  #heldCapsules: Uint8Array[] = [];

  constructor(request: IncomingRequest, writer: ResponseWriter, channel: RequestDatagrams, streams: SessionStreams, dialect: SessionDialect = { protocol: "webtransport", wtBits: 0, peerLimits: null, ourLimits: { maxData: 0, maxStreamsBidi: 0, maxStreamsUni: 0 } }) {
    this.request = request;
    this.id = request.streamId;
    this.connectionId = request.connectionId;
    this.#writer = writer;
    this.#channel = channel;
    this.#streams = streams;
    this.draft = draftOf(dialect.protocol, dialect.wtBits, request.headers.has("sec-webtransport-http3-draft02"));
    this.protocols = Object.freeze(parseProtocolList(request.headers.get("wt-available-protocols")));
    const ours = dialect.ourLimits;
    const oursOn = ours.maxData > 0 || ours.maxStreamsBidi > 0 || ours.maxStreamsUni > 0;
    if (this.draft === "draft-15/16" && oursOn && dialect.peerLimits) {
      this.#flow = new SessionFlow(ours, dialect.peerLimits, (capsule) => this.#sendCapsule(capsule));
      streams.flow = this.#flow;
      streams.onFlowError = (message) => this.#flowError(message);
    }
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

  /**
   * The application protocol chosen with selectProtocol() (sent back as
   * WT-Protocol), else null.
   */
  get protocol(): string | null {
    return this.#protocol;
  }

  /**
   * Chooses one of `protocols` (the client's offer, as the W3C API's
   * `protocols` option makes it): the response carries it in WT-Protocol.
   * Only before the session is accepted (the handler's first stream or
   * its return); throws a TypeError for a protocol the client did not offer.
   */
  selectProtocol(protocol: string) {
    if (!this.protocols.includes(protocol)) throw new TypeError(`the client did not offer the protocol ${JSON.stringify(protocol)}`);
    if (this.#accepted) throw new TypeError("the session is already accepted; choose the protocol before");
    this.#protocol = protocol;
  }

  /** Whether session flow control is on (the client speaks draft-15/16 and both sides announced it). */
  get flowControlled(): boolean {
    return this.#flow !== null;
  }

  /** What session flow control sent and received (null when it is off). */
  get flowStats(): Readonly<FlowStats> | null {
    return this.#flow?.stats ?? null;
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
    this.#writer.status(200);
    // Clients of draft-02 (Chromium) look for this header.
    if (this.draft === "draft-02" || this.draft === "draft-07") this.#writer.header("sec-webtransport-http3-draft", "draft02");
    if (this.#protocol !== null) this.#writer.header("wt-protocol", serializeProtocol(this.#protocol));
    this.#writer.sendHead();
    const held = this.#heldCapsules;
    this.#heldCapsules = [];
    for (const capsule of held) this.#sendCapsule(capsule);
  }

  /** A flow-control capsule: on the CONNECT stream once the head is out. */
  #sendCapsule(capsule: Uint8Array) {
    if (this.#done || this.#writer.ended) return;
    if (!this.#accepted) return void this.#heldCapsules.push(capsule);
    void this.#writer.write(capsule).catch(() => {});
  }

  /** The client passed a session flow-control limit: the session is reset with WT_FLOW_CONTROL_ERROR. */
  #flowError(_message: string) {
    if (this.#done) return;
    this.#writer.reset(BigInt(WT_FLOW_CONTROL_ERROR));
    this.#finish({ closeCode: 0, reason: "" }, false);
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
      // Other capsules (DRAIN_WEBTRANSPORT_SESSION, unknown, and flow
      // control when it is off) are skipped.
      if (capsule.type === CLOSE_WEBTRANSPORT_SESSION) return this.#onPeerClose(capsule.value);
      if (this.#flow && this.#flow.onCapsule(capsule.type, capsule.value) !== null) return this.#flowError("a malformed flow-control capsule");
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
