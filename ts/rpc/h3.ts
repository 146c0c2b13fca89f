// zRPC over HTTP/3 requests: `POST /zrpc/<service>/<method>` with
// `content-type: application/zrpc`. The method is in the path, the deadline
// in `zrpc-timeout-ms`, metadata in `zrpc-md-<name>` headers; the request
// body is MESSAGE frames. The response is 200 with MESSAGE frames and a
// final STATUS frame in the body, and the status again in the trailers
// `zrpc-status` and `zrpc-message` (percent-encoded), for clients that read
// trailers. Any other status than 200 means the request never became a
// call (405 not POST, 415 another content type, 400 a malformed timeout).
import { withTrailers } from "../web.ts";
import type { CallHead } from "./frame.ts";
import { CONTENT_TYPE, METADATA_PREFIX, TIMEOUT_HEADER } from "./h3-names.ts";
import { serveCall, type CallIo, type CallOptions } from "./server-call.ts";

/** The HTTP/3 face of an RpcServer: a fetch-style handler for `POST <prefix>/<service>/<method>`. */
export function http3Handler(options: CallOptions, prefix: string): (request: Request) => Response | Promise<Response> {
  return (request) => {
    if (request.method !== "POST") return new Response("zRPC calls are POST requests\n", { status: 405, headers: { allow: "POST" } });
    const type = request.headers.get("content-type") ?? "";
    if (type !== CONTENT_TYPE && !type.startsWith(`${CONTENT_TYPE};`) && !type.startsWith(`${CONTENT_TYPE}+`)) {
      return new Response(`zRPC calls have content-type ${CONTENT_TYPE}\n`, { status: 415 });
    }
    const timeout = request.headers.get(TIMEOUT_HEADER);
    if (timeout !== null && !/^\d{1,10}$/.test(timeout)) return new Response(`${TIMEOUT_HEADER} must be a whole number of milliseconds\n`, { status: 400 });
    const head = headOf(request, prefix);
    const kind = options.registry.find(head.path)?.method.kind;
    return kind === "serverStream" || kind === "bidi" ? streamed(request, head, options) : whole(request, head, options);
  };
}

/** The trailers that carry a call's status. */
function statusTrailers(status: { code: number; message: string; metadata: Record<string, string> }): Record<string, string> {
  return { ...status.metadata, "zrpc-status": String(status.code), "zrpc-message": encodeURIComponent(status.message) };
}

function requestBody(request: Request): ReadableStream<Uint8Array> {
  return request.body ?? new ReadableStream({ start: (controller) => controller.close() });
}

/**
 * A call with one response (unary, client-streaming, or one that fails
 * before its method runs): the answer is made whole, then sent as one
 * in-memory body, which leaves with its head in one command.
 */
async function whole(request: Request, head: CallHead, options: CallOptions): Promise<Response> {
  const parts: Uint8Array[] = [];
  let trailers: Record<string, string> = {};
  const io: CallIo = {
    transport: "h3",
    readable: requestBody(request),
    write: async (bytes) => void parts.push(bytes),
    async finish(status, frame) {
      trailers = statusTrailers(status);
      parts.push(frame);
    },
    reset: () => {},
    peerGone: request.signal,
  };
  await serveCall(io, options, head);
  return withTrailers(new Response(concat(parts), { headers: { "content-type": CONTENT_TYPE } }), trailers);
}

/** A call with a stream of responses: each message leaves as it is written, with the stream's backpressure. */
function streamed(request: Request, head: CallHead, options: CallOptions): Response {
  const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
  const writer = writable.getWriter();
  writer.closed.catch(() => {});
  let trailers: Record<string, string> = { "zrpc-status": "2", "zrpc-message": "the call ended without a status" };
  const io: CallIo = {
    transport: "h3",
    readable: requestBody(request),
    write: (bytes) => writer.write(bytes),
    async finish(status, frame) {
      trailers = statusTrailers(status);
      await writer.write(frame);
      await writer.close();
    },
    // Only called once the caller reset the stream: the library already
    // dropped the request, so ending the body quietly is all that is left
    // (an error here would reach the server's error handler as a failure).
    reset: () => void writer.close().catch(() => {}),
    peerGone: request.signal,
  };
  void serveCall(io, options, head);
  return withTrailers(new Response(readable, { headers: { "content-type": CONTENT_TYPE } }), () => trailers);
}

/** The call's head from the request: path after the prefix, timeout and metadata headers. */
function headOf(request: Request, prefix: string): CallHead {
  const pathname = new URL(request.url).pathname;
  const path = pathname.startsWith(`${prefix}/`) ? decodeURIComponent(pathname.slice(prefix.length + 1)) : "";
  const timeoutMs = Math.min(Number(request.headers.get(TIMEOUT_HEADER) ?? 0), 0xffff_ffff);
  const metadata: Record<string, string> = Object.create(null);
  for (const [name, value] of request.headers) if (name.startsWith(METADATA_PREFIX)) metadata[name.slice(METADATA_PREFIX.length)] = value;
  return { path, timeoutMs, metadata };
}

function concat(parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((total, part) => total + part.byteLength, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}
