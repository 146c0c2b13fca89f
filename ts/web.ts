// The Web Response face of a request: trailers attached to a Response, and
// sending the Response a handler returns. (The Request side is
// ts/request.ts over ts/incoming.ts.)
import type { ResponseWriter } from "./response-writer.ts";
export type { IncomingRequest, BodySink } from "./incoming.ts";
export { H3Request } from "./request.ts";

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

const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"]);

/**
 * Streams a Response out through the writer, body chunks awaited for
 * backpressure. A body that arrives as one chunk (a string, ArrayBuffer
 * view or Blob body does) leaves with its head in one command: the chunk is
 * held until the next read shows whether another follows.
 */
export async function sendResponse(writer: ResponseWriter, response: Response, isHead: boolean): Promise<void> {
  writer.status(response.status)._headers(response.headers, HOP_BY_HOP);
  const trailers = trailersByResponse.get(response);
  const body = isHead ? null : response.body;
  if (body !== null && trailers === undefined) return sendBody(writer, body);
  if (body !== null) await sendBody(writer, body, false);
  if (trailers === undefined) return writer.end();
  const source = typeof trailers === "function" ? trailers() : trailers;
  writer.trailers(await source);
}

/**
 * Whether `read` settles within two microtasks. A body Bun holds in memory
 * (string, ArrayBuffer view, Blob, file) answers its next read within one;
 * a stream that waits on the application (events, a timer) does not, and
 * its chunk must not wait for the next one.
 */
async function settlesSoon(read: Promise<unknown>): Promise<boolean> {
  await null;
  await null;
  return Bun.peek.status(read) !== "pending";
}

/** Writes a body stream; the last chunk goes with end() unless `end` is false. */
async function sendBody(writer: ResponseWriter, body: ReadableStream<Uint8Array>, end = true): Promise<void> {
  const reader = body.getReader();
  try {
    let held: Uint8Array | undefined;
    while (true) {
      const read = reader.read();
      if (held !== undefined && !(await settlesSoon(read))) {
        await writer.write(held);
        held = undefined;
      }
      const { done, value } = await read;
      if (done) break;
      if (held !== undefined) await writer.write(held);
      held = value;
    }
    if (!end) {
      if (held !== undefined) await writer.write(held);
      return;
    }
    writer.end(held);
  } catch (error) {
    reader.cancel(error).catch(() => {});
    throw error;
  }
}
