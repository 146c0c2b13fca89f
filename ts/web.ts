// The Web Request/Response face of a request: building the Request a
// handler receives and streaming the Response it returns.
import type { ResponseWriter } from "./response-writer.ts";

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
  readonly connectionId: bigint;
  readonly streamId: bigint;
  /** HTTP/3 datagrams (RFC 9297) on this request's stream; returns an unsubscribe function. */
  onDatagram(listener: (data: Uint8Array) => void): () => void;
  /** Sends an HTTP/3 datagram on this request's stream. Throws a DatagramError. */
  sendDatagram(data: Uint8Array): void;
}

/** A Web Request plus the route's `params` and the ids of its connection and stream. */
export type H3Request = Request &
  Pick<IncomingRequest, "params" | "connectionId" | "streamId" | "onDatagram" | "sendDatagram">;

export function toWebRequest(incoming: IncomingRequest): H3Request {
  const hasBody = incoming.method !== "GET" && incoming.method !== "HEAD";
  const request = new Request(incoming.url, {
    method: incoming.method,
    headers: incoming.headers,
    body: hasBody ? incoming.body : null,
    signal: incoming.signal,
  }) as H3Request;
  Object.defineProperties(request, {
    params: { value: incoming.params, enumerable: true },
    connectionId: { value: incoming.connectionId },
    streamId: { value: incoming.streamId },
    onDatagram: { value: incoming.onDatagram },
    sendDatagram: { value: incoming.sendDatagram },
  });
  return request;
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
