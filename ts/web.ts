// The Web Response face of a request: trailers attached to a Response, and
// sending the Response a handler returns. (The Request side is
// ts/request.ts over ts/incoming.ts.)
import type { ResponseWriter } from "./response-writer.ts";
export type { IncomingRequest, BodySink } from "./incoming.ts";
export { H3Request } from "./request.ts";

/** Trailers for withTrailers(): fields, a Promise of them, or a function computing them after the body. */
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

/** The content type Bun.serve gives a string body, and Bun's `Response.blob().type` any in-memory body. */
const DEFAULT_CONTENT_TYPE = "text/plain;charset=utf-8";

/**
 * Streams a Response out through the writer, body chunks awaited for
 * backpressure. A body that arrives as one chunk (a string, ArrayBuffer
 * view or Blob body does) leaves with its head in one command: the chunk is
 * held until the next read shows whether another follows.
 *
 * Content type: a Response whose headers have none (`new Response("text")`:
 * Bun keeps a string body's type out of `headers` and adds it when it
 * sends) gets `text/plain;charset=utf-8` when its body is one non-empty
 * chunk Bun holds in memory, as Bun.serve sends for a string. Bun does not
 * tell a string body from a bytes body, so a Uint8Array body without a
 * content-type gets the same (Bun.serve: application/octet-stream): set it.
 * A streamed body gets none, as in Bun.serve.
 */
export async function sendResponse(writer: ResponseWriter, response: Response, isHead: boolean): Promise<void> {
  writer.status(response.status)._headers(response.headers, HOP_BY_HOP);
  const trailers = trailersByResponse.get(response);
  const body = isHead ? null : response.body;
  const typeless = body !== null && !response.headers.has("content-type");
  if (body !== null && trailers === undefined) return sendBody(writer, body, true, typeless);
  if (body !== null) await sendBody(writer, body, false, typeless);
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

/**
 * Writes a body stream; the last chunk goes with end() unless `end` is
 * false. `typeless`: the response has no content-type, which a body that
 * was one chunk in memory gets (see sendResponse).
 */
async function sendBody(writer: ResponseWriter, body: ReadableStream<Uint8Array>, end = true, typeless = false): Promise<void> {
  const reader = body.getReader();
  try {
    let held: Uint8Array | undefined;
    let wrote = false;
    // Only a body whose first read is at hand (one Bun holds) may get the default type.
    let first = typeless;
    while (true) {
      const read = reader.read();
      if (first) {
        first = false;
        if (!(await settlesSoon(read))) typeless = false;
      }
      if (held !== undefined && !(await settlesSoon(read))) {
        await writer.write(held);
        wrote = true;
        held = undefined;
      }
      const { done, value } = await read;
      if (done) break;
      if (held !== undefined) {
        await writer.write(held);
        wrote = true;
      }
      held = value;
    }
    if (typeless && !wrote && held !== undefined && held.byteLength > 0) writer.header("content-type", DEFAULT_CONTENT_TYPE);
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
