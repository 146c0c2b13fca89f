// zRPC over WebTransport: a session (at `/zrpc` by default) carries many
// calls, each on its own bidirectional stream opened by the client. The
// stream carries the same frames as raw QUIC: HEADERS first (method,
// deadline, metadata), MESSAGE frames both ways, STATUS last from the
// server. Cancelling resets the stream both ways (RESET_STREAM and
// STOP_SENDING with CANCEL_STREAM_ERROR_CODE).
import type { WebTransportBidirectionalStream } from "../webtransport-streams.ts";
import { serveCall, type CallIo, type CallOptions } from "./server-call.ts";
import { CANCEL_STREAM_ERROR_CODE, RpcError } from "./status.ts";

/** The minimum of a session the server needs: its incoming bidirectional streams. */
export interface RpcSession {
  readonly incomingBidirectionalStreams: ReadableStream<WebTransportBidirectionalStream>;
}

/** Serves every call the session's (or raw QUIC connection's) client opens, until it ends. */
export async function serveSession(session: RpcSession, options: CallOptions, transport: CallIo["transport"] = "webtransport"): Promise<void> {
  try {
    for await (const stream of session.incomingBidirectionalStreams) void serveStream(stream, options, transport);
  } catch {
    // The session ended without a clean close: its calls' streams error on their own.
  }
}

/** Serves one call on one bidirectional stream (also how raw QUIC streams are served). */
export function serveStream(stream: WebTransportBidirectionalStream, options: CallOptions, transport: CallIo["transport"] = "webtransport"): Promise<void> {
  const writer = stream.writable.getWriter();
  const gone = new AbortController();
  const cancelled = () => {
    gone.abort();
    return new RpcError("CANCELLED", "the caller stopped reading the call's stream");
  };
  // The peer's STOP_SENDING errors the writable at once, though the
  // handler may not be writing: that is the caller cancelling.
  writer.closed.catch(() => gone.abort());
  const io: CallIo = {
    transport,
    readable: stream.readable,
    write: (bytes) =>
      writer.write(bytes).catch(() => {
        throw cancelled();
      }),
    async finish(_status, frame) {
      await writer.write(frame);
      await writer.close();
    },
    reset() {
      const reason = { streamErrorCode: CANCEL_STREAM_ERROR_CODE };
      writer.abort(reason).catch(() => {});
      stream.readable.cancel(reason).catch(() => {});
    },
    peerGone: gone.signal,
  };
  return serveCall(io, options);
}
