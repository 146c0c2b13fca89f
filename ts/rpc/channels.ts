// Client channels: how an RpcClient's calls travel. Web APIs only, so a
// page can bundle them.
import type { CallStreams, RpcChannel } from "./client.ts";
import { encodeFrame, encodeHead, FrameType, type CallHead } from "./frame.ts";
import { CONTENT_TYPE, METADATA_PREFIX, TIMEOUT_HEADER } from "./h3-names.ts";
import { CANCEL_STREAM_ERROR_CODE } from "./status.ts";

/** The part of the W3C WebTransport API a channel needs. */
export interface WebTransportLike {
  createBidirectionalStream(): Promise<{ readable: ReadableStream<Uint8Array>; writable: WritableStream<Uint8Array> }>;
}

/**
 * Calls over a WebTransport session (a browser's `new WebTransport(url)` to
 * the server's zRPC session path): one bidirectional stream per call, its
 * first frame the call's HEADERS.
 */
export function webTransportChannel(session: WebTransportLike): RpcChannel {
  return {
    async open(head, requestBytes) {
      const stream = await session.createBidirectionalStream();
      const writer = stream.writable.getWriter();
      const headFrame = encodeFrame(FrameType.headers, encodeHead(head));
      // The head and a whole request leave together, then the FIN.
      void writer.write(requestBytes ? concat(headFrame, requestBytes) : headFrame).catch(() => {});
      if (requestBytes) void writer.close().catch(() => {});
      writer.releaseLock();
      return {
        readable: stream.readable,
        writable: requestBytes ? closedSink() : stream.writable,
        cancel() {
          const reason = cancelReason();
          stream.writable.abort(reason).catch(() => {});
          stream.readable.cancel(reason).catch(() => {});
        },
      };
    },
  };
}

/**
 * Calls as HTTP requests (`POST <base>/<service>/<method>`), through `fetch`:
 * Bun's fetch over HTTP/3 with `init = { protocol: "http3" }`, or a
 * browser's. Client-streaming and bidirectional calls need a fetch that
 * streams request bodies (`duplex: "half"`).
 */
export function fetchChannel(base: string | URL, init: RequestInit & Record<string, unknown> = {}): RpcChannel {
  const root = String(base).replace(/\/+$/, "");
  return {
    async open(head, requestBytes, signal) {
      const headers = new Headers(init.headers);
      headers.set("content-type", CONTENT_TYPE);
      if (head.timeoutMs > 0) headers.set(TIMEOUT_HEADER, String(head.timeoutMs));
      for (const [name, value] of Object.entries(head.metadata)) headers.set(METADATA_PREFIX + name, value);
      const url = `${root}/${head.path.split("/").map(encodeURIComponent).join("/")}`;
      const pipe = requestBytes ? null : new TransformStream<Uint8Array, Uint8Array>();
      const call = new AbortController();
      signal.addEventListener("abort", () => call.abort(signal.reason), { once: true });
      // Not awaited: fetch settles when the response head arrives, and a
      // server may send it only after the requests (a client-streaming
      // call answers at the end), so the requests must flow first.
      const response = fetch(url, { ...init, method: "POST", headers, body: requestBytes ?? pipe!.readable, signal: call.signal, ...(pipe ? { duplex: "half" } : {}) } as RequestInit);
      response.catch(() => {}); // Read through `readable`.
      return {
        readable: responseBody(response),
        writable: pipe ? pipe.writable : closedSink(),
        cancel: () => call.abort(cancelReason()),
      };
    },
  };
}

/** The response's body as a stream that waits for the response; a status other than 200 is an error. */
function responseBody(response: Promise<Response>): ReadableStream<Uint8Array> {
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        if (!reader) {
          const head = await response;
          if (head.status !== 200 || !head.body) throw new Error(`HTTP ${head.status}: ${(await head.text().catch(() => "")).trim()}`);
          reader = head.body.getReader();
          // Errors reach the caller through read(); Bun reports a closed
          // promise nobody awaits as unhandled.
          reader.closed.catch(() => {});
        }
        const { done, value } = await reader.read();
        if (done) controller.close();
        else controller.enqueue(value);
      },
      cancel: (reason) => reader?.cancel(reason),
    },
    { highWaterMark: 0 },
  );
}

/**
 * The reason a cancelled call's streams are aborted with: a browser turns a
 * WebTransportError's streamErrorCode into the RESET_STREAM/STOP_SENDING
 * code (Chromium's constructor takes one init dictionary); elsewhere a plain
 * object with the code is what the server's own streams read.
 */
function cancelReason(): unknown {
  const Err = (globalThis as unknown as { WebTransportError?: new (init: { message: string; streamErrorCode: number }) => Error }).WebTransportError;
  if (Err) {
    try {
      return new Err({ message: "zRPC call cancelled", streamErrorCode: CANCEL_STREAM_ERROR_CODE });
    } catch {
      // A constructor of the later (message, options) form.
    }
  }
  return { streamErrorCode: CANCEL_STREAM_ERROR_CODE };
}

/** A sink that takes nothing: the request was sent whole. */
function closedSink(): WritableStream<Uint8Array> {
  const sink = new WritableStream<Uint8Array>();
  void sink.close();
  return sink;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.byteLength + b.byteLength);
  out.set(a);
  out.set(b, a.byteLength);
  return out;
}

export type { CallHead, CallStreams };
