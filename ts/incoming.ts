// The library's request, as the REQUEST event left it, with everything a
// small handler does not touch made on first use: the header list, the
// Headers object, the body stream, the AbortSignal and the datagram channel.
// Building all of them eagerly cost more than answering a small request.
import type { RequestDatagrams } from "./datagrams.ts";
import { ReceiveWindow, type CreditOutbox } from "./receive-window.ts";
import { decodeFields, type Field, type PeerAddress, type RequestEvent } from "./wire.ts";

/** The request as the low-level route API sees it. */
export interface IncomingRequest {
  readonly method: string;
  /** Path with query, as sent. */
  readonly path: string;
  readonly url: string;
  readonly headers: Headers;
  readonly params: Record<string, string>;
  /** The body, streamed; `for await (const chunk of req.body)` works. Empty for GET/HEAD. */
  readonly body: ReadableStream<Uint8Array>;
  /** Aborts when the client resets the stream or the server stops. */
  readonly signal: AbortSignal;
  readonly connectionId: number;
  readonly streamId: number;
  /**
   * True when the request may be a replay (RFC 8470): it arrived as 0-RTT
   * early data before the client's handshake completed, or an intermediary
   * marked it `Early-Data: 1`. Only GET, HEAD, OPTIONS and TRACE get here
   * with it set unless `tls.earlyData.allowUnsafeMethods` is on; the
   * others were answered 425 Too Early. See docs/ZERO-RTT.md.
   */
  readonly earlyData: boolean;
  /** HTTP/3 datagrams (RFC 9297) on this request's stream; returns an unsubscribe function. */
  onDatagram(listener: (data: Uint8Array) => void): () => void;
  /** Sends an HTTP/3 datagram on this request's stream. Throws a DatagramError. */
  sendDatagram(data: Uint8Array): void;
}

/** Where a request's body bytes go as they arrive. */
export interface BodySink {
  data(chunk: Uint8Array): void;
  end(): void;
  error(error: Error): void;
}

/** What an Incoming needs from its server, made once per server. */
export interface IncomingContext {
  /** The request's datagram channel, made on first use. */
  datagrams(incoming: Incoming): RequestDatagrams;
  /** Where the body's CREDIT commands go, and request_read_window_bytes. */
  readonly credits: CreditOutbox;
  readonly readWindowBytes: number;
}

export class Incoming implements IncomingRequest, BodySink {
  readonly id: number;
  readonly method: string;
  readonly path: string;
  readonly connectionId: number;
  readonly streamId: number;
  readonly earlyData: boolean;
  /** `:protocol` of an extended CONNECT. */
  readonly protocol: string | undefined;
  /** The client's address (server.requestIP). */
  readonly peer: PeerAddress;
  readonly #authority: string;
  readonly #block: string;
  readonly #regularAt: number;
  readonly #regularCount: number;
  readonly #context: IncomingContext;
  readonly #paramsOf: ((path: string) => Record<string, string>) | null;
  #params: Record<string, string> | null = null;
  #fields: Field[] | null = null;
  #headers: Headers | null = null;
  #body: ReadableStream<Uint8Array> | null = null;
  #controller: ReadableStreamDefaultController<Uint8Array> | null = null;
  #window: ReceiveWindow | null = null;
  #abort: AbortController | null = null;
  #abortReason: Error | null = null;
  #channel: RequestDatagrams | null = null;
  /** The body ended (or there was none); no more data() calls come. */
  ended: boolean;
  #failure: Error | null = null;

  constructor(event: RequestEvent, context: IncomingContext, paramsOf: ((path: string) => Record<string, string>) | null) {
    this.id = event.id;
    this.method = event.method;
    this.path = event.path;
    this.connectionId = event.connectionId;
    this.streamId = event.streamId;
    this.earlyData = event.early;
    this.protocol = event.protocol;
    this.peer = event.peer;
    this.ended = event.ended;
    this.#authority = event.authority;
    this.#block = event.block;
    this.#regularAt = event.regularAt;
    this.#regularCount = event.regularCount;
    this.#context = context;
    this.#paramsOf = paramsOf;
  }

  get url(): string {
    return `https://${this.#authority}${this.path}`;
  }

  get params(): Record<string, string> {
    return (this.#params ??= this.#paramsOf ? this.#paramsOf(this.path) : {});
  }

  /** The regular (non-pseudo) header fields, as received. */
  get fields(): Field[] {
    return (this.#fields ??= decodeFields(this.#block, this.#regularAt, this.#regularCount));
  }

  get headers(): Headers {
    return (this.#headers ??= new Headers(this.fields));
  }

  get hasBody(): boolean {
    return this.method !== "GET" && this.method !== "HEAD";
  }

  get signal(): AbortSignal {
    if (this.#abort === null) {
      this.#abort = new AbortController();
      if (this.#abortReason) this.#abort.abort(this.#abortReason);
    }
    return this.#abort.signal;
  }

  /** The datagram channel was made (a handler subscribed or sent one). */
  get hasDatagrams(): boolean {
    return this.#channel !== null;
  }

  get datagrams(): RequestDatagrams {
    return (this.#channel ??= this.#context.datagrams(this));
  }

  /**
   * The body as it arrives. The stream holds at most one read window of
   * unread bytes (the library sends no more until the application reads),
   * and reading grants the library the next window.
   */
  get body(): ReadableStream<Uint8Array> {
    if (this.#body !== null) return this.#body;
    const window = (this.#window = new ReceiveWindow(this.id, this.#context.credits, this.#context.readWindowBytes));
    this.#body = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          this.#controller = controller;
          if (this.#failure) controller.error(this.#failure);
          else if (this.ended) controller.close();
        },
        // Called as the queue drains: desiredSize is the window minus the unread bytes.
        pull: (controller) => window.consumed(window.windowBytes - (controller.desiredSize ?? 0)),
        // The handler wants no more of the body. What still arrives is
        // dropped (a cancelled stream's controller throws on enqueue); no
        // more credit is granted, so QUIC flow control holds the client
        // until the response completes and the library stops the request
        // stream (STOP_SENDING with H3_NO_ERROR).
        cancel: () => {
          this.#controller = null;
        },
      },
      { highWaterMark: window.windowBytes, size: (chunk) => chunk?.byteLength ?? 0 },
    );
    return this.#body;
  }

  /** @internal `clone()` tees the body: this request keeps one branch. */
  replaceBody(stream: ReadableStream<Uint8Array>) {
    this.#body = stream;
  }

  onDatagram(listener: (data: Uint8Array) => void): () => void {
    return this.datagrams.subscribe(listener);
  }

  sendDatagram(data: Uint8Array): void {
    this.datagrams.send(data);
  }

  /** @internal BodySink: chunks create the stream, so none is lost. */
  data(chunk: Uint8Array) {
    void this.body;
    this.#window!.received(chunk.byteLength);
    this.#controller?.enqueue(chunk);
  }

  /** @internal */
  end() {
    this.ended = true;
    this.#controller?.close();
  }

  /** @internal BodySink: the body will not complete. */
  error(error: Error) {
    this.#failure = error;
    this.#controller?.error(error);
  }

  /** @internal The request is gone (reset, server stopped, timed out): its signal aborts. */
  abort(reason: Error) {
    if (this.#abortReason) return;
    this.#abortReason = reason;
    this.#abort?.abort(reason);
  }
}
