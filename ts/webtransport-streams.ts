// WebTransport streams on the JS side: each stream's Web ReadableStream /
// WritableStream, the per-session sets behind `incomingBidirectionalStreams`
// and `createBidirectionalStream()`, and the table the Server dispatches
// stream events to.
//
// Ids: a WebTransport stream has a library id (from WT_STREAM or WT_OPENED)
// drawn from the same table as request ids; BODY, BODY_END, DRAIN, COMPLETE
// and RESET events and BODY / RESET commands use it as they use a request
// id. The id is dead after COMPLETE (both directions finished) or RESET (the
// stream, its session or its connection went away); later events for it
// cannot arrive and later commands are dropped by the library.
//
// Backpressure:
// * Sending: as ResponseWriter does, bytes submitted minus bytes the library
//   reported handed to QUIC (DRAIN). Past max_pending_response_bytes the last
//   BODY command is flagged NOTIFY and the sink's write() waits for DRAIN, so
//   writer.ready / pipeTo hold a fast writer back instead of buffering.
// * Receiving: as for request bodies, the library produces BODY events only
//   while the event queue has room, and JS copies each chunk into the
//   stream's queue. The record contract has no per-stream read credit, so
//   what bounds memory is a cap on *unread* bytes per stream
//   (max_request_body_size, the bound a request body has): past it the
//   stream is stopped (STOP_SENDING, H3_EXCESSIVE_LOAD) and its readable
//   errors with ERR_WEBTRANSPORT_RECEIVE_OVERFLOW. A reader that keeps up
//   never meets it.
import { MAX_BODY_RECORD_BYTES } from "./response-writer.ts";
import {
  H3_EXCESSIVE_LOAD,
  H3_WEBTRANSPORT_SESSION_GONE,
  WebTransportError,
  peerStreamError,
  sessionGoneError,
  streamErrorCodeOf,
  webtransportCodeToHttp3,
} from "./webtransport-codes.ts";
import { ReceiveWindow, type CreditOutbox } from "./receive-window.ts";
import { EventKind, FLAG_FIN, FLAG_NOTIFY, HEADER_BYTES, WT_OPENED_OK, WT_OPENED_STREAM_LIMIT, readId } from "./wire.ts";
import type { SessionFlow } from "./webtransport-flow.ts";

/** A bidirectional WebTransport stream, as in the W3C API. */
export interface WebTransportBidirectionalStream {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
}

/** The commands WebTransport streams send; implemented by the Server's outbox. */
export interface StreamOutbox extends CreditOutbox {
  /** `flags`: FLAG_FIN ends the sending side, FLAG_NOTIFY asks for a DRAIN. */
  body(id: number, chunk: Uint8Array, flags: number): void;
  /** On a WebTransport stream: RESET_STREAM of the sending side only. */
  reset(id: number, code: bigint): void;
  wtOpen(sessionId: number, bidirectional: boolean, token: number): void;
  wtStopSending(id: number, code: bigint): void;
}

export interface StreamLimits {
  /** Bytes submitted and not yet handed to QUIC before write() waits (max_pending_response_bytes). */
  sendWindow: number;
  /** Unread received bytes a stream may hold before it is stopped (max_request_body_size). */
  receiveLimit: number;
  /** Bytes the library reads ahead of the application (request_read_window_bytes). */
  readWindowBytes: number;
}

const mapped = (reason: unknown) => BigInt(webtransportCodeToHttp3(streamErrorCodeOf(reason)));

/** The largest QUIC application error code (a varint). */
const MAX_QUIC_CODE = (1n << 62n) - 1n;

/**
 * A raw QUIC stream's code for an abort()/cancel() reason: its
 * `streamErrorCode` (a number or bigint, 0..2^62-1) as is, since no HTTP/3
 * layer reserves a range; else 0.
 */
export function quicCodeOf(reason: unknown): bigint {
  if (reason === null || typeof reason !== "object") return 0n;
  const code = (reason as { streamErrorCode?: unknown }).streamErrorCode;
  if (typeof code === "bigint") return code >= 0n && code <= MAX_QUIC_CODE ? code : 0n;
  return typeof code === "number" && Number.isSafeInteger(code) && code >= 0 ? BigInt(code) : 0n;
}

/** The error a peer's RESET_STREAM or STOP_SENDING on a raw QUIC stream produces: its code as sent. */
function quicPeerError(kind: "reset" | "stop", code: bigint): WebTransportError {
  const what = kind === "reset" ? "the peer reset the stream" : "the peer stopped reading the stream";
  return new WebTransportError(`${what} with code ${code}`, {
    code: kind === "reset" ? "ERR_WEBTRANSPORT_STREAM_RESET" : "ERR_WEBTRANSPORT_STOP_SENDING",
    source: "stream",
    streamErrorCode: code <= 0xffffffffn ? Number(code) : null,
    http3ErrorCode: code,
  });
}
const EMPTY = new Uint8Array(0);

function toBytes(chunk: unknown): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk;
  if (ArrayBuffer.isView(chunk)) return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (chunk instanceof ArrayBuffer) return new Uint8Array(chunk);
  throw new TypeError("a WebTransport stream chunk must be a Uint8Array, another ArrayBufferView or an ArrayBuffer");
}

/** The sending side of a stream: a WritableStream whose writes become BODY commands. */
class SendSide {
  readonly writable: WritableStream<Uint8Array>;
  readonly #id: number;
  readonly #outbox: StreamOutbox;
  readonly #window: number;
  readonly #session: SessionStreams;
  #controller!: WritableStreamDefaultController;
  #open = true;
  #submitted = 0;
  #sent = 0;
  /** The sink's write() in flight, waiting for DRAIN (WritableStream writes one at a time). */
  #waiter: { resolve: () => void; reject: (error: unknown) => void } | null = null;

  constructor(id: number, outbox: StreamOutbox, window: number, session: SessionStreams) {
    this.#id = id;
    this.#outbox = outbox;
    this.#window = window;
    this.#session = session;
    this.writable = new WritableStream<Uint8Array>({
      start: (controller) => {
        this.#controller = controller;
        // abort() waits for the write in flight; one parked on DRAIN would
        // hold it forever on a stalled peer, so the signal releases it.
        controller.signal.addEventListener("abort", () => this.#abort(controller.signal.reason));
      },
      write: (chunk) => this.#write(chunk),
      close: () => this.#close(),
      abort: (reason) => this.#abort(reason),
    });
  }

  get open(): boolean {
    return this.#open;
  }

  #write(chunk: unknown): Promise<void> | void {
    let bytes: Uint8Array;
    try {
      bytes = toBytes(chunk);
    } catch (error) {
      // A rejected write errors the WritableStream without calling abort:
      // reset here so the library does not hold the stream open.
      this.#abort(error);
      throw error;
    }
    if (!this.#open || bytes.length === 0) return;
    return this.#send(bytes, 0);
  }

  /**
   * Submits `bytes` from `at` in records, and past the window waits for
   * DRAIN before the rest: the library resets a stream whose buffer grows
   * far past the window, so one large write must not land at once.
   */
  #send(bytes: Uint8Array, at: number): Promise<void> | void {
    while (at < bytes.length) {
      let end = Math.min(at + MAX_BODY_RECORD_BYTES, bytes.length);
      // Session flow control: past the peer's WT_MAX_DATA the rest waits
      // for it to grant more (the write stays pending, so the chunk is ours).
      const flow = this.#session.flow;
      if (flow) {
        const credit = flow.sendCredit;
        if (credit === 0) return flow.waitData().then(() => (this.#open && !this.#session.ended ? this.#send(bytes, at) : undefined));
        end = Math.min(end, at + credit);
        flow.sent(end - at);
      }
      this.#submitted += end - at;
      const over = this.#overWindow();
      this.#outbox.body(this.#id, bytes.subarray(at, end), over ? FLAG_NOTIFY : 0);
      at = end;
      if (!over) continue;
      // The caller may reuse its chunk once write() resolves, not before;
      // the rest is copied anyway, as the records were.
      const rest = at < bytes.length ? bytes.slice(at) : null;
      const drained = new Promise<void>((resolve, reject) => (this.#waiter = { resolve, reject }));
      return rest ? drained.then(() => (this.#open ? this.#send(rest, 0) : undefined)) : drained;
    }
  }

  #close() {
    if (!this.#open) return;
    this.#open = false;
    this.#outbox.body(this.#id, EMPTY, FLAG_FIN);
  }

  #abort(reason: unknown) {
    if (this.#open) {
      this.#open = false;
      this.#outbox.reset(this.#id, this.#session.codeOf(reason));
    }
    this.#release(reason);
  }

  #overWindow(): boolean {
    return this.#submitted - this.#sent > this.#window;
  }

  #release(error: unknown) {
    const waiter = this.#waiter;
    this.#waiter = null;
    if (!waiter) return;
    if (error === null) waiter.resolve();
    else waiter.reject(error);
  }

  /** The library handed `sentTotal` bytes of this stream to QUIC. */
  onDrain(sentTotal: number) {
    this.#sent = Math.max(this.#sent, sentTotal);
    if (!this.#overWindow()) this.#release(null);
  }

  /** Both directions finished: nothing is left to wait for. */
  onComplete() {
    this.#release(null);
  }

  /** STOP_SENDING from the peer, or the stream/session is gone: the writable errors (no command; the library already reset it). */
  fail(error: WebTransportError) {
    if (!this.#open) return this.#release(error);
    this.#open = false;
    this.#controller.error(error);
    this.#release(error);
  }
}

/** The receiving side of a stream: BODY events feed a ReadableStream. */
class ReceiveSide {
  readonly readable: ReadableStream<Uint8Array>;
  readonly #id: number;
  readonly #outbox: StreamOutbox;
  readonly #limit: number;
  readonly #window: ReceiveWindow;
  readonly #session: SessionStreams;
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  #open = true;
  /** Bytes received, and how many of them the application consumed (session flow control). */
  #received = 0;
  #consumed = 0;

  constructor(id: number, outbox: StreamOutbox, limit: number, readWindowBytes: number, session: SessionStreams) {
    this.#id = id;
    this.#outbox = outbox;
    this.#limit = limit;
    this.#session = session;
    const window = (this.#window = new ReceiveWindow(id, outbox, readWindowBytes));
    // High-water mark one read window, sized in bytes: desiredSize is the
    // window minus the unread bytes, and pull() runs as the reader drains
    // the queue, granting the library the next window.
    this.readable = new ReadableStream<Uint8Array>(
      {
        start: (controller) => void (this.#controller = controller),
        pull: (controller) => {
          if (!this.#open) return;
          const unread = this.#unread(controller);
          window.consumed(unread);
          this.#consume(this.#received - unread);
        },
        cancel: (reason) => {
          this.#consume(this.#received);
          if (!this.#open) return;
          this.#open = false;
          this.#outbox.wtStopSending(this.#id, this.#session.codeOf(reason));
        },
      },
      { highWaterMark: readWindowBytes, size: (chunk) => chunk?.byteLength ?? 0 },
    );
  }

  /** Session flow control: `total` bytes of this stream are consumed. */
  #consume(total: number) {
    if (total <= this.#consumed) return;
    this.#session.flow?.consumed(total - this.#consumed);
    this.#consumed = total;
  }

  #unread(controller: ReadableStreamDefaultController<Uint8Array>): number {
    return this.#window.windowBytes - (controller.desiredSize ?? 0);
  }

  get open(): boolean {
    return this.#open;
  }

  /** `chunk` must be the reader's own copy. */
  onBody(chunk: Uint8Array) {
    if (!this.#open) return this.#session.flow?.consumed(chunk.byteLength);
    this.#received += chunk.byteLength;
    this.#window.received(chunk.byteLength);
    this.#controller.enqueue(chunk);
    // The library sends no more than the window, so this guards against a
    // library that did not honour it rather than against the peer.
    if (this.#unread(this.#controller) <= this.#limit) return;
    this.#outbox.wtStopSending(this.#id, BigInt(H3_EXCESSIVE_LOAD));
    this.fail(new WebTransportError(`more than ${this.#limit} unread bytes on a WebTransport stream; it was stopped`, { code: "ERR_WEBTRANSPORT_RECEIVE_OVERFLOW" }));
  }

  onEnd() {
    if (!this.#open) return;
    this.#open = false;
    // No pull() follows a close: the stream's bytes count as consumed now
    // (what is still queued is bounded by its read window).
    this.#consume(this.#received);
    this.#controller.close();
  }

  fail(error: WebTransportError) {
    if (!this.#open) return;
    this.#open = false;
    // Erroring drops the queue: those bytes will never be read.
    this.#consume(this.#received);
    this.#controller.error(error);
  }
}

/** One WebTransport stream: a library id and one or two sides. */
class Stream {
  readonly id: number;
  readonly session: SessionStreams;
  readonly send: SendSide | null;
  readonly receive: ReceiveSide | null;
  /** The peer opened it (its end frees a place under our WT_MAX_STREAMS). */
  readonly incoming: boolean;

  constructor(id: number, session: SessionStreams, send: SendSide | null, receive: ReceiveSide | null, incoming: boolean) {
    this.id = id;
    this.session = session;
    this.send = send;
    this.receive = receive;
    this.incoming = incoming;
  }

  #pair: WebTransportBidirectionalStream | null = null;

  /** The same object every time, so it can name the stream (setPriority). */
  get bidirectional(): WebTransportBidirectionalStream {
    return (this.#pair ??= { readable: this.receive!.readable, writable: this.send!.writable });
  }

  fail(error: WebTransportError) {
    this.send?.fail(error);
    this.receive?.fail(error);
  }
}

interface PendingOpen {
  token: number;
  session: SessionStreams;
  bidirectional: boolean;
  resolve: (stream: Stream) => void;
  reject: (error: WebTransportError) => void;
}

/**
 * The streams of one session. Lives from the CONNECT request until the
 * session ends; then every stream still open errors (ERR_WEBTRANSPORT_SESSION_GONE),
 * pending creates reject, and the incoming-stream streams close (clean
 * close) or error (the session was cut off).
 */
export class SessionStreams {
  /** The session's library id: the CONNECT request's id. */
  readonly id: number;
  readonly incomingBidirectionalStreams: ReadableStream<WebTransportBidirectionalStream>;
  readonly incomingUnidirectionalStreams: ReadableStream<ReadableStream<Uint8Array>>;
  readonly #table: WebTransportStreams;
  readonly #streams = new Set<Stream>();
  readonly #pending = new Set<PendingOpen>();
  #incomingBidi!: ReadableStreamDefaultController<WebTransportBidirectionalStream>;
  #incomingUni!: ReadableStreamDefaultController<ReadableStream<Uint8Array>>;
  #bidiWanted = true;
  #uniWanted = true;
  #ended: WebTransportError | null = null;
  /** Called before a stream is opened from this side (the session accepts itself). */
  onOpen: () => void = () => {};
  /** Session flow control (draft-15/16 peers that announced it), else null. */
  flow: SessionFlow | null = null;
  /** The peer passed a flow-control limit: the session ends with WT_FLOW_CONTROL_ERROR. */
  onFlowError: (message: string) => void = () => {};
  /**
   * The pseudo session of a raw QUIC connection: stream error codes cross
   * as they are (QUIC application codes), not mapped into HTTP/3's
   * WebTransport range.
   */
  readonly raw: boolean;

  constructor(id: number, table: WebTransportStreams, raw = false) {
    this.id = id;
    this.#table = table;
    this.raw = raw;
    // Incoming streams are queued however many arrive: the library's
    // per-session stream limit bounds them.
    this.incomingBidirectionalStreams = new ReadableStream({
      start: (controller) => void (this.#incomingBidi = controller),
      cancel: () => void (this.#bidiWanted = false),
    });
    this.incomingUnidirectionalStreams = new ReadableStream({
      start: (controller) => void (this.#incomingUni = controller),
      cancel: () => void (this.#uniWanted = false),
    });
  }

  get ended(): boolean {
    return this.#ended !== null;
  }

  /** @internal The wire code of an abort()/cancel() reason on a stream of this session. */
  codeOf(reason: unknown): bigint {
    return this.raw ? quicCodeOf(reason) : mapped(reason);
  }

  /** @internal The error of the peer's RESET_STREAM or STOP_SENDING with `code` on a stream of this session. */
  peerError(kind: "reset" | "stop", code: bigint): WebTransportError {
    return this.raw ? quicPeerError(kind, code) : peerStreamError(kind, code);
  }

  /** The library id of a stream of this session (its bidirectional pair, readable or writable), while it lives. */
  streamId(stream: object): number | undefined {
    return this.#table.idOf(stream);
  }

  /** Streams of this session whose library id is still live. */
  get size(): number {
    return this.#streams.size;
  }

  createBidirectionalStream(): Promise<WebTransportBidirectionalStream> {
    return this.#open(true).then((stream) => stream.bidirectional);
  }

  createUnidirectionalStream(): Promise<WritableStream<Uint8Array>> {
    return this.#open(false).then((stream) => stream.send!.writable);
  }

  #open(bidirectional: boolean): Promise<Stream> {
    if (this.#ended) return Promise.reject(this.#ended);
    this.onOpen();
    return new Promise((resolve, reject) => {
      const pending: PendingOpen = { token: 0, session: this, bidirectional, resolve, reject };
      this.#pending.add(pending);
      const flow = this.flow;
      if (!flow) return this.#table.open(pending);
      // Past the peer's WT_MAX_STREAMS the create waits for a grant, in order.
      if (flow.canOpen(bidirectional)) {
        flow.opened(bidirectional);
        return this.#table.open(pending);
      }
      void flow.waitOpen(bidirectional).then(() => {
        if (!this.#ended && this.#pending.has(pending)) this.#table.open(pending);
      });
    });
  }

  /** @internal WT_OPENED answered a create. */
  settle(pending: PendingOpen) {
    this.#pending.delete(pending);
  }

  /** @internal A stream of this session got its id. */
  add(stream: Stream, incoming: boolean): boolean {
    if (incoming) {
      if (this.#ended) return false;
      if (this.flow && !this.flow.incomingOpened(stream.send !== null)) {
        this.onFlowError(`the client opened more ${stream.send ? "bidirectional" : "unidirectional"} streams than WT_MAX_STREAMS allowed`);
        return false;
      }
      const wanted = stream.send ? this.#bidiWanted : this.#uniWanted;
      if (!wanted) {
        // Refused by the application: its place is free again.
        this.flow?.incomingEnded(stream.send !== null);
        return false;
      }
    }
    this.#streams.add(stream);
    if (!incoming) return true;
    if (stream.send) this.#incomingBidi.enqueue(stream.bidirectional);
    else this.#incomingUni.enqueue(stream.receive!.readable);
    return true;
  }

  /** @internal The stream's id died. */
  remove(stream: Stream) {
    if (!this.#streams.delete(stream)) return;
    if (stream.incoming && !this.#ended) this.flow?.incomingEnded(stream.send !== null);
  }

  /**
   * @internal The session ended: every open stream errors with `error` at
   * once (the library resets them on the wire), pending creates reject.
   */
  end(error: WebTransportError, clean: boolean) {
    if (this.#ended) return;
    this.#ended = error;
    this.flow?.end();
    for (const pending of this.#pending) {
      this.#table.forget(pending);
      pending.reject(error);
    }
    this.#pending.clear();
    for (const stream of this.#streams) {
      stream.fail(error);
      this.#table.drop(stream);
    }
    this.#streams.clear();
    for (const controller of [this.#incomingBidi, this.#incomingUni] as ReadableStreamDefaultController<unknown>[]) {
      try {
        if (clean) controller.close();
        else controller.error(error);
      } catch {
        // Cancelled by the application.
      }
    }
    this.#table.detach(this);
  }
}

/**
 * Every WebTransport stream of a Server, by library id, and every session's
 * stream set, by its CONNECT request id. The Server forwards stream events
 * here.
 */
export class WebTransportStreams {
  readonly #outbox: StreamOutbox;
  readonly #limits: StreamLimits;
  readonly #streams = new Map<number, Stream>();
  readonly #sessions = new Map<number, SessionStreams>();
  readonly #opens = new Map<number, PendingOpen>();
  /** Streams by the objects the application holds (for setPriority). */
  readonly #byObject = new WeakMap<object, Stream>();
  #nextToken = 1;

  constructor(outbox: StreamOutbox, limits: StreamLimits) {
    this.#outbox = outbox;
    this.#limits = limits;
  }

  /** Live stream ids. */
  get size(): number {
    return this.#streams.size;
  }

  /** Sessions whose streams are tracked. */
  get sessions(): number {
    return this.#sessions.size;
  }

  /** The stream set of a new session (`sessionId`: the CONNECT request's id, or a raw QUIC connection's pseudo session). */
  attach(sessionId: number, raw = false): SessionStreams {
    const session = new SessionStreams(sessionId, this, raw);
    this.#sessions.set(sessionId, session);
    return session;
  }

  has(id: number): boolean {
    return this.#streams.has(id);
  }

  /** @internal */
  detach(session: SessionStreams) {
    if (this.#sessions.get(session.id) === session) this.#sessions.delete(session.id);
  }

  /** @internal */
  open(pending: PendingOpen) {
    pending.token = this.#nextToken++;
    this.#opens.set(pending.token, pending);
    this.#outbox.wtOpen(pending.session.id, pending.bidirectional, pending.token);
  }

  /** @internal A pending create was rejected locally; its WT_OPENED will find no token. */
  forget(pending: PendingOpen) {
    this.#opens.delete(pending.token);
  }

  /** @internal */
  drop(stream: Stream) {
    this.#streams.delete(stream.id);
  }

  /** The live stream whose readable, writable or bidirectional pair this is. */
  idOf(stream: object): number | undefined {
    const found = this.#byObject.get(stream);
    return found !== undefined && this.#streams.get(found.id) === found ? found.id : undefined;
  }

  #make(id: number, session: SessionStreams, bidirectional: boolean, incoming: boolean): Stream {
    const send = bidirectional || !incoming ? new SendSide(id, this.#outbox, this.#limits.sendWindow, session) : null;
    const receive = bidirectional || incoming ? new ReceiveSide(id, this.#outbox, this.#limits.receiveLimit, this.#limits.readWindowBytes, session) : null;
    const stream = new Stream(id, session, send, receive, incoming);
    if (send) this.#byObject.set(send.writable, stream);
    if (receive) this.#byObject.set(receive.readable, stream);
    if (send && receive) this.#byObject.set(stream.bidirectional, stream);
    return stream;
  }

  /** Stops and resets a stream nobody will read or write. */
  #refuse(id: number, bidirectional: boolean, incoming: boolean) {
    const code = BigInt(H3_WEBTRANSPORT_SESSION_GONE);
    if (bidirectional || incoming) this.#outbox.wtStopSending(id, code);
    if (bidirectional || !incoming) this.#outbox.reset(id, code);
  }

  /** Decodes and handles a WT_STREAM, WT_OPENED, WT_PEER_RESET or WT_STOP_SENDING record at `offset`. */
  onEvent(view: DataView, offset: number, id: number) {
    const bidirectional = view.getUint16(offset + 6, true) === 1;
    const payload = offset + HEADER_BYTES;
    switch (view.getUint8(offset + 4)) {
      case EventKind.wtStream: // u64 session id, u64 QUIC stream id
        return this.onIncoming(id, bidirectional, readId(view, payload));
      case EventKind.wtOpened: // u64 token, u64 session id, u64 QUIC stream id, u64 status
        return this.onOpened(id, bidirectional, readId(view, payload), Number(view.getBigUint64(payload + 24, true)));
      case EventKind.wtPeerReset: // u64 HTTP/3 code
        return this.onPeerReset(id, view.getBigUint64(payload, true));
      case EventKind.wtStopSending: // u64 HTTP/3 code
        return this.onStopSending(id, view.getBigUint64(payload, true));
    }
  }

  /** WT_STREAM: the peer opened stream `id` on session `sessionId`. */
  onIncoming(id: number, bidirectional: boolean, sessionId: number) {
    const session = this.#sessions.get(sessionId);
    const stream = session ? this.#make(id, session, bidirectional, true) : null;
    if (!session || !stream || !session.add(stream, true)) return this.#refuse(id, bidirectional, true);
    this.#streams.set(id, stream);
  }

  /** WT_OPENED: the answer to the WT_OPEN command with `token`. */
  onOpened(id: number, bidirectional: boolean, token: number, status: number) {
    const pending = this.#opens.get(token);
    this.#opens.delete(token);
    if (!pending) {
      // Its session ended while the command was on its way.
      if (id !== 0 && status === WT_OPENED_OK) this.#refuse(id, bidirectional, false);
      return;
    }
    pending.session.settle(pending);
    if (status !== WT_OPENED_OK || id === 0) {
      return pending.reject(
        status === WT_OPENED_STREAM_LIMIT
          ? new WebTransportError("the session's stream limit is reached", { code: "ERR_WEBTRANSPORT_STREAM_LIMIT", source: "session" })
          : sessionGoneError(),
      );
    }
    const stream = this.#make(id, pending.session, bidirectional, false);
    pending.session.add(stream, false);
    this.#streams.set(id, stream);
    pending.resolve(stream);
  }

  /** BODY on a stream id; `chunk` is the caller's copy. False when the id is not a WebTransport stream. */
  onBody(id: number, chunk: () => Uint8Array): boolean {
    const stream = this.#streams.get(id);
    if (!stream) return false;
    const bytes = chunk();
    const flow = stream.session.flow;
    if (flow && !flow.received(bytes.byteLength)) {
      stream.session.onFlowError("the client sent more stream bytes than WT_MAX_DATA allowed");
      return true;
    }
    stream.receive?.onBody(bytes);
    return true;
  }

  onBodyEnd(id: number) {
    this.#streams.get(id)?.receive?.onEnd();
  }

  onDrain(id: number, sentTotal: number) {
    this.#streams.get(id)?.send?.onDrain(sentTotal);
  }

  /** WT_PEER_RESET: the peer reset its sending side. */
  onPeerReset(id: number, http3: bigint) {
    const stream = this.#streams.get(id);
    stream?.receive?.fail(stream.session.peerError("reset", http3));
  }

  /** WT_STOP_SENDING: the peer stopped reading; the library already reset our sending side. */
  onStopSending(id: number, http3: bigint) {
    const stream = this.#streams.get(id);
    stream?.send?.fail(stream.session.peerError("stop", http3));
  }

  /** COMPLETE: both directions finished; the id is dead. */
  onComplete(id: number) {
    const stream = this.#streams.get(id);
    if (!stream) return;
    this.#streams.delete(id);
    stream.session.remove(stream);
    stream.send?.onComplete();
    // Both directions finished: nothing is left to read or write.
    stream.receive?.onEnd();
    stream.send?.fail(sessionGoneError("the WebTransport stream is finished"));
  }

  /** RESET: the stream went away abruptly (its session or connection closed); the id is dead. */
  onReset(id: number, http3: bigint) {
    const stream = this.#streams.get(id);
    if (!stream) return;
    this.#streams.delete(id);
    stream.session.remove(stream);
    stream.fail(sessionGoneError("the WebTransport stream was reset with its session or connection", http3));
  }

  /** A session's CONNECT request ended (COMPLETE or RESET): its streams end if the session did not already. */
  onSessionGone(sessionId: number) {
    if (this.#sessions.size === 0) return;
    this.#sessions.get(sessionId)?.end(sessionGoneError(), false);
  }

  /** The server stopped: every session's streams end. */
  stop() {
    const error = sessionGoneError("the server stopped");
    for (const session of [...this.#sessions.values()]) session.end(error, false);
    for (const pending of this.#opens.values()) pending.reject(error);
    this.#opens.clear();
    for (const stream of this.#streams.values()) stream.fail(error);
    this.#streams.clear();
  }
}
