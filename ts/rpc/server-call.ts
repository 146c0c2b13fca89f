// One call on the server, whatever carried it: read the request messages
// off a byte stream, run the method, write the response messages and the
// status. The transports (rpc/h3.ts, rpc/webtransport.ts) only say where
// the bytes come from and go to.
import type { Codec } from "./codec.ts";
import { decodeHead, encodeFrame, encodeStatus, FrameDecoder, FrameType, type CallHead } from "./frame.ts";
import type { CallContext, MethodDefinition, RpcTransport, ServiceRegistry } from "./service.ts";
import { raceAbort } from "./abort.ts";
import { RpcError, RpcStatus } from "./status.ts";

/** Where one call's bytes come from and go to. */
export interface CallIo {
  readonly transport: RpcTransport;
  /** The request bytes: frames, ended by the peer's FIN. */
  readonly readable: ReadableStream<Uint8Array>;
  /** Sends bytes; resolves when the transport took them (backpressure). */
  write(bytes: Uint8Array): Promise<void>;
  /** Sends the STATUS frame (and whatever else the transport carries a status in), then ends the response. */
  finish(status: { code: number; message: string; metadata: Record<string, string> }, statusFrame: Uint8Array): Promise<void>;
  /** Resets both directions of the stream: the call was cancelled. */
  reset(): void;
  /** Aborts when the peer cancels (reset the stream, left). */
  readonly peerGone: AbortSignal;
}

export interface CallOptions {
  registry: ServiceRegistry;
  /** The largest message accepted, in bytes. */
  maxMessageBytes: number;
  /** Deadlines longer than this (or none) are cut to it; 0: no cap. */
  maxTimeoutMs: number;
  /** Told about handler failures that answered INTERNAL (the message sent says only "internal error"). */
  onError?: (error: unknown, path: string) => void;
}

/**
 * Serves one call. `head` is known for HTTP/3 (path and headers); for raw
 * QUIC and WebTransport it is the first frame of the stream.
 */
export async function serveCall(io: CallIo, options: CallOptions, head: CallHead | null = null): Promise<void> {
  const reader = io.readable.getReader();
  reader.closed.catch(() => {}); // Errors come through read().
  const frames = new FrameReader(reader, options.maxMessageBytes);
  const trailers: Record<string, string> = Object.create(null);
  const aborter = new AbortController();
  let deadlineTimer: ReturnType<typeof setTimeout> | undefined;
  const onPeerGone = () => aborter.abort(new RpcError("CANCELLED", "the caller cancelled the call"));
  io.peerGone.addEventListener("abort", onPeerGone, { once: true });
  try {
    head ??= await frames.head();
    const found = options.registry.find(head.path);
    if (!found) throw new RpcError("UNIMPLEMENTED", `unknown method ${head.path}`);
    const timeoutMs = capTimeout(head.timeoutMs, options.maxTimeoutMs);
    const deadline = timeoutMs > 0 ? Date.now() + timeoutMs : null;
    if (timeoutMs > 0) deadlineTimer = setTimeout(() => aborter.abort(new RpcError("DEADLINE_EXCEEDED", `the deadline of ${timeoutMs} ms passed`)), timeoutMs);
    const context: CallContext = {
      path: head.path,
      metadata: Object.freeze({ ...head.metadata }),
      deadline,
      signal: aborter.signal,
      transport: io.transport,
      setTrailer(name, value) {
        // Checked here, where the handler can see its mistake, rather than
        // when the STATUS frame is encoded after it returned.
        const lower = String(name).toLowerCase();
        if (!METADATA_NAME.test(lower)) throw new TypeError(`trailer name ${JSON.stringify(name)} is not ASCII letters, digits, '.', '_' or '-'`);
        trailers[lower] = String(value);
      },
    };
    const codec = found.service.codec;
    // The handler races the call's signal: a deadline or a cancel ends the
    // call at once, whatever the handler is waiting on.
    await raceAbort(run(found.method, frames.messages(codec, aborter.signal), context, codec, io), aborter.signal);
    await io.finish({ code: RpcStatus.OK, message: "", metadata: trailers }, encodeFrame(FrameType.status, encodeStatus({ code: RpcStatus.OK, message: "", metadata: trailers })));
  } catch (thrown) {
    const error = asRpcError(thrown, head?.path ?? "", options);
    if (io.peerGone.aborted || error.code === "CANCELLED") {
      io.reset();
      return;
    }
    reader.cancel(error).catch(() => {});
    const status = { code: error.status, message: error.message, metadata: { ...trailers, ...error.metadata } };
    await io.finish(status, encodeFrame(FrameType.status, encodeStatus(status))).catch(() => io.reset());
  } finally {
    clearTimeout(deadlineTimer);
    io.peerGone.removeEventListener("abort", onPeerGone);
  }
}

/** What a metadata name may hold on the wire (frame.ts), lower-cased. */
const METADATA_NAME = /^[a-z0-9._-]+$/;

function capTimeout(timeoutMs: number, maxTimeoutMs: number): number {
  if (maxTimeoutMs <= 0) return timeoutMs;
  return timeoutMs === 0 ? maxTimeoutMs : Math.min(timeoutMs, maxTimeoutMs);
}

function asRpcError(thrown: unknown, path: string, options: CallOptions): RpcError {
  if (thrown instanceof RpcError) return thrown;
  options.onError?.(thrown, path);
  return new RpcError("INTERNAL", "internal error");
}

async function run(method: MethodDefinition, requests: AsyncIterable<unknown>, context: CallContext, codec: Codec<any>, io: CallIo): Promise<void> {
  const send = (message: unknown) => io.write(encodeFrame(FrameType.message, codec.encode(message)));
  switch (method.kind) {
    case "unary":
      return send(await method.handler(await single(requests), context));
    case "serverStream":
      return sendAll(method.handler(await single(requests), context), send, context.signal);
    case "clientStream":
      return send(await method.handler(requests, context));
    case "bidi":
      return sendAll(method.handler(requests, context), send, context.signal);
  }
}

/** The one request message of a unary or server-streaming call. */
async function single(requests: AsyncIterable<unknown>): Promise<unknown> {
  let first: { value: unknown } | undefined;
  for await (const request of requests) {
    if (first) throw new RpcError("INVALID_ARGUMENT", "this method takes one request message, and a second came");
    first = { value: request };
  }
  if (!first) throw new RpcError("INVALID_ARGUMENT", "this method takes one request message, and none came");
  return first.value;
}

async function sendAll(responses: AsyncIterable<unknown> | Iterable<unknown>, send: (message: unknown) => Promise<void>, signal: AbortSignal) {
  for await (const response of responses) {
    if (signal.aborted) throw signal.reason;
    await send(response);
  }
}

/** Frames of the request stream: the head (raw QUIC, WebTransport), then messages. */
class FrameReader {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #decoder: FrameDecoder;
  #queued: { type: number; payload: Uint8Array }[] = [];
  #ended = false;

  constructor(reader: ReadableStreamDefaultReader<Uint8Array>, maxMessageBytes: number) {
    this.#reader = reader;
    this.#decoder = new FrameDecoder(maxMessageBytes);
  }

  /** The next frame, or null at the end of the stream (between frames). */
  async next() {
    while (this.#queued.length === 0) {
      if (this.#ended) return null;
      const { done, value } = await this.#reader.read().catch(() => {
        throw new RpcError("CANCELLED", "the caller reset the call's stream");
      });
      if (done) {
        this.#ended = true;
        this.#decoder.end();
      } else this.#queued = this.#decoder.push(value);
    }
    return this.#queued.shift()!;
  }

  async head(): Promise<CallHead> {
    const frame = await this.next();
    if (frame === null) throw new RpcError("INVALID_ARGUMENT", "the stream ended before the call's HEADERS frame");
    if (frame.type !== FrameType.headers) throw new RpcError("INVALID_ARGUMENT", "a call's first frame must be HEADERS");
    return decodeHead(frame.payload);
  }

  async *messages(codec: Codec<any>, signal: AbortSignal): AsyncGenerator<unknown> {
    for (;;) {
      if (signal.aborted) throw signal.reason;
      const frame = await this.next();
      if (frame === null) return;
      if (frame.type !== FrameType.message) throw new RpcError("INVALID_ARGUMENT", `a ${frame.type === FrameType.headers ? "HEADERS" : "STATUS"} frame came where a message was expected`);
      yield codec.decode(frame.payload);
    }
  }
}
