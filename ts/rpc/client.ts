// The zRPC client: the same calls over any channel (WebTransport in a
// browser or elsewhere, HTTP/3 through fetch). Platform-neutral: it uses
// only Web APIs, so a page can bundle it.
import { jsonCodec, type Codec } from "./codec.ts";
import { decodeStatus, encodeFrame, FrameDecoder, FrameType, type CallHead } from "./frame.ts";
import { raceAbort } from "./abort.ts";
import { RpcError, RpcStatus } from "./status.ts";

/** One call's two byte streams, as a channel opened them. */
export interface CallStreams {
  /** Request frames go here; closing it ends the requests (FIN). */
  writable: WritableStream<Uint8Array>;
  /** Response frames come from here. */
  readable: ReadableStream<Uint8Array>;
  /** Resets the call's stream both ways (RESET_STREAM and STOP_SENDING). */
  cancel(): void;
}

/** How calls travel: see webTransportChannel() and fetchChannel() in rpc/channels.ts. */
export interface RpcChannel {
  /**
   * Opens a call. `requestBytes` is the whole request (its frames) when the
   * caller knows it up front (unary and server-streaming calls), else null
   * and the frames come through `writable`.
   */
  open(head: CallHead, requestBytes: Uint8Array | null, signal: AbortSignal): Promise<CallStreams>;
}

export interface CallOptions {
  /**
   * The call's deadline, sent to the server, which ends the call with
   * DEADLINE_EXCEEDED when it passes. The caller also gives up on its own,
   * LOCAL_DEADLINE_GRACE_MS plus a tenth later, so a server that cannot
   * answer still does not hold the call.
   */
  timeoutMs?: number;
  /** Metadata sent with the call: lower-case names. */
  metadata?: Record<string, string>;
  /** Cancels the call (CANCELLED; the stream is reset both ways). */
  signal?: AbortSignal;
}

export interface RpcClientOptions {
  /** Must match the service's codec. Default JSON. */
  codec?: Codec<any>;
  /** The largest response message accepted, in bytes. Default 4 MiB. */
  maxMessageBytes?: number;
}

/** How much longer than its deadline a caller waits for the server's own DEADLINE_EXCEEDED before it cancels the call itself. */
export const LOCAL_DEADLINE_GRACE_MS = 250;

/** Calls methods by their path, `service/method`. */
export class RpcClient {
  readonly #channel: RpcChannel;
  readonly #codec: Codec<any>;
  readonly #maxMessageBytes: number;

  constructor(channel: RpcChannel, options: RpcClientOptions = {}) {
    this.#channel = channel;
    this.#codec = options.codec ?? jsonCodec;
    this.#maxMessageBytes = options.maxMessageBytes ?? 4 * 1024 * 1024;
  }

  /** One request, one response. */
  async unary<I = unknown, O = unknown>(path: string, request: I, options: CallOptions = {}): Promise<O> {
    return only<O>(this.#call(path, [request], true, options));
  }

  /** One request, a stream of responses. */
  serverStream<I = unknown, O = unknown>(path: string, request: I, options: CallOptions = {}): AsyncGenerator<O> {
    return this.#call(path, [request], true, options) as AsyncGenerator<O>;
  }

  /** A stream of requests, one response. */
  async clientStream<I = unknown, O = unknown>(path: string, requests: AsyncIterable<I> | Iterable<I>, options: CallOptions = {}): Promise<O> {
    return only<O>(this.#call(path, requests, false, options));
  }

  /** Both ways at once. */
  bidi<I = unknown, O = unknown>(path: string, requests: AsyncIterable<I> | Iterable<I>, options: CallOptions = {}): AsyncGenerator<O> {
    return this.#call(path, requests, false, options) as AsyncGenerator<O>;
  }

  async *#call(path: string, requests: AsyncIterable<unknown> | Iterable<unknown>, whole: boolean, options: CallOptions): AsyncGenerator<unknown> {
    const aborter = new AbortController();
    const timeoutMs = options.timeoutMs ?? 0;
    // The server's DEADLINE_EXCEEDED comes first when it can answer at all:
    // cancelling at the same instant would reset the stream under it, and
    // the two sides would disagree on how the call ended.
    const localMs = timeoutMs + LOCAL_DEADLINE_GRACE_MS + Math.ceil(timeoutMs / 10);
    const timer = timeoutMs > 0 ? setTimeout(() => aborter.abort(new RpcError("DEADLINE_EXCEEDED", `no answer within ${timeoutMs} ms`)), localMs) : undefined;
    const onCancel = () => aborter.abort(new RpcError("CANCELLED", "the call was cancelled"));
    if (options.signal?.aborted) onCancel();
    options.signal?.addEventListener("abort", onCancel, { once: true });
    const head: CallHead = { path, timeoutMs, metadata: options.metadata ?? {} };
    let streams: CallStreams | undefined;
    let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
    let finished = false;
    try {
      const requestBytes = whole ? encodeFrame(FrameType.message, this.#codec.encode([...(requests as Iterable<unknown>)][0])) : null;
      streams = await raceAbort(this.#channel.open(head, requestBytes, aborter.signal), aborter.signal);
      if (!whole) void this.#sendAll(requests, streams.writable, aborter);
      reader = streams.readable.getReader();
      reader.closed.catch(() => {}); // Errors come through read().
      const decoder = new FrameDecoder(this.#maxMessageBytes);
      for (;;) {
        const { done, value } = await raceAbort(reader.read(), aborter.signal);
        if (done) {
          decoder.end();
          throw new RpcError("UNAVAILABLE", "the call's stream ended without a status");
        }
        for (const frame of decoder.push(value)) {
          if (frame.type === FrameType.message) yield this.#codec.decode(frame.payload);
          else if (frame.type === FrameType.status) {
            const status = decodeStatus(frame.payload);
            // The stream ends right after its STATUS: read to that end, so
            // the channel finishes the call cleanly (a fetch left with its
            // body unread is aborted, not completed).
            const rest = await raceAbort(reader.read(), aborter.signal);
            if (!rest.done) throw new RpcError("INTERNAL", "the server sent bytes after the call's STATUS");
            finished = true;
            if (status.code !== RpcStatus.OK) throw RpcError.fromStatus(status.code, status.message, status.metadata);
            return;
          } else throw new RpcError("INTERNAL", "the server sent a HEADERS frame");
        }
      }
    } catch (error) {
      if (error instanceof RpcError) throw error;
      throw aborter.signal.aborted ? aborter.signal.reason : new RpcError("UNAVAILABLE", `the call failed: ${(error as Error)?.message ?? error}`);
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onCancel);
      // Left early (an error, a break out of the loop, a deadline): the
      // server hears it as a reset of the stream.
      if (!finished) {
        // The channel cancels the readable itself (STOP_SENDING with the
        // cancel code), which it cannot while this reader holds it.
        reader?.releaseLock();
        streams?.cancel();
        if (!aborter.signal.aborted) aborter.abort(new RpcError("CANCELLED", "the call ended early"));
      }
    }
  }

  async #sendAll(requests: AsyncIterable<unknown> | Iterable<unknown>, writable: WritableStream<Uint8Array>, aborter: AbortController) {
    const writer = writable.getWriter();
    try {
      for await (const request of requests) {
        if (aborter.signal.aborted) return;
        await writer.write(encodeFrame(FrameType.message, this.#codec.encode(request)));
      }
      await writer.close();
    } catch (error) {
      if (!aborter.signal.aborted) aborter.abort(error instanceof RpcError ? error : new RpcError("UNAVAILABLE", `sending requests failed: ${(error as Error)?.message ?? error}`));
    }
  }
}

async function only<O>(responses: AsyncGenerator<unknown>): Promise<O> {
  let first: { value: unknown } | undefined;
  for await (const response of responses) {
    if (first) throw new RpcError("INTERNAL", "the server sent more than one response to a single-response call");
    first = { value: response };
  }
  if (!first) throw new RpcError("INTERNAL", "the server sent no response");
  return first.value as O;
}
