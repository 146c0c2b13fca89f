// The Web Request/Response face of a request: building the Request a
// handler receives and streaming the Response it returns.
import type { ResponseWriter } from "./response-writer.ts";
import type { RequestDatagrams } from "./datagrams.ts";

export type TrailersSource = HeadersInit | Promise<HeadersInit> | (() => HeadersInit | Promise<HeadersInit>);

const trailersByResponse = new WeakMap<Response, TrailersSource>();

/**
 * Attaches HTTP/3 trailers to a Response: sent after its body ends. Give a
 * function or a Promise to compute them from the body (a checksum, say);
 * it is awaited after the last body chunk was written. Returns `response`.
 */
export function withTrailers(response: Response, trailers: TrailersSource): Response {
  if (!(response instanceof Response)) throw new TypeError("withTrailers() needs a Response");
  trailersByResponse.set(response, trailers);
  return response;
}

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
  /** HTTP/3 datagrams (RFC 9297) on this request's stream; returns an unsubscribe function. */
  onDatagram(listener: (data: Uint8Array) => void): () => void;
  /** Sends an HTTP/3 datagram on this request's stream. Throws a DatagramError. */
  sendDatagram(data: Uint8Array): void;
}

/** A Web Request plus the route's `params` and the ids of its connection and stream. */
export type H3Request = Request &
  Pick<IncomingRequest, "params" | "connectionId" | "streamId" | "onDatagram" | "sendDatagram">;

/** Where a request's body bytes go as they arrive. */
export interface BodySink {
  data(chunk: Uint8Array): void;
  end(): void;
  error(error: Error): void;
}

/**
 * The library's request. Its body stream and datagram channel are made on
 * first use: most requests (GET) never touch either, and making them costs
 * more than answering a small request.
 */
export class Incoming implements IncomingRequest, BodySink {
  readonly method: string;
  readonly path: string;
  readonly url: string;
  readonly params: Record<string, string>;
  readonly signal: AbortSignal;
  readonly connectionId: number;
  readonly streamId: number;
  /** The regular (non-pseudo) header fields, as received. */
  readonly fields: [string, string][];
  readonly #datagrams: () => RequestDatagrams;
  #headers: Headers | null = null;
  #body: ReadableStream<Uint8Array> | null = null;
  #controller: ReadableStreamDefaultController<Uint8Array> | null = null;
  #ended = false;
  #failure: Error | null = null;

  constructor(fields: {
    method: string;
    path: string;
    url: string;
    fields: [string, string][];
    params: Record<string, string>;
    signal: AbortSignal;
    connectionId: number;
    streamId: number;
    datagrams: () => RequestDatagrams;
  }) {
    this.method = fields.method;
    this.path = fields.path;
    this.url = fields.url;
    this.fields = fields.fields;
    this.params = fields.params;
    this.signal = fields.signal;
    this.connectionId = fields.connectionId;
    this.streamId = fields.streamId;
    this.#datagrams = fields.datagrams;
  }

  /** Made on first access: most handlers never look. */
  get headers(): Headers {
    this.#headers ??= new Headers(this.fields);
    return this.#headers;
  }

  get hasBody(): boolean {
    return this.method !== "GET" && this.method !== "HEAD";
  }

  get body(): ReadableStream<Uint8Array> {
    this.#body ??= new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.#controller = controller;
        if (this.#failure) controller.error(this.#failure);
        else if (this.#ended) controller.close();
      },
    });
    return this.#body;
  }

  onDatagram(listener: (data: Uint8Array) => void): () => void {
    return this.#datagrams().subscribe(listener);
  }

  sendDatagram(data: Uint8Array): void {
    this.#datagrams().send(data);
  }

  /** @internal BodySink: chunks create the stream, so none is lost. */
  data(chunk: Uint8Array) {
    void this.body;
    this.#controller?.enqueue(chunk);
  }

  /** @internal */
  end() {
    this.#ended = true;
    this.#controller?.close();
  }

  /** @internal */
  error(error: Error) {
    this.#failure = error;
    this.#controller?.error(error);
  }
}

export function toWebRequest(incoming: Incoming): H3Request {
  const request = new Request(incoming.url, {
    method: incoming.method,
    headers: incoming.fields,
    body: incoming.hasBody ? incoming.body : null,
    signal: incoming.signal,
  });
  // Plain assignment: much cheaper than defineProperties per request.
  const extended = request as unknown as Record<keyof Omit<H3Request, keyof Request>, unknown>;
  extended.params = incoming.params;
  extended.connectionId = incoming.connectionId;
  extended.streamId = incoming.streamId;
  extended.onDatagram = (listener: (data: Uint8Array) => void) => incoming.onDatagram(listener);
  extended.sendDatagram = (data: Uint8Array) => incoming.sendDatagram(data);
  return request as H3Request;
}

const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"]);

/** Streams a Response out through the writer, body chunks awaited for backpressure. */
export async function sendResponse(writer: ResponseWriter, response: Response, isHead: boolean): Promise<void> {
  writer.status(response.status);
  response.headers.forEach((value, name) => {
    if (!HOP_BY_HOP.has(name)) writer.header(name, value);
  });
  const trailers = trailersByResponse.get(response);
  if (response.body && !isHead) {
    const reader = response.body.getReader();
    try {
      while (true) {
        const { done, value } = await reader.read();
        if (done) break;
        await writer.write(value);
      }
    } catch (error) {
      reader.cancel(error).catch(() => {});
      throw error;
    }
  }
  if (trailers === undefined) return writer.end();
  const source = typeof trailers === "function" ? trailers() : trailers;
  writer.trailers(await source);
}
