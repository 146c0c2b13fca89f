// WebTransport stream error codes and the typed error of WebTransport
// streams and sessions.
//
// A WebTransport application error code is a 32-bit number. On the wire,
// RESET_STREAM and STOP_SENDING of a WebTransport stream carry it mapped
// into a reserved range of HTTP/3 error codes (draft-ietf-webtrans-http3-02
// and later, as Chromium maps it): the range skips every code of the form
// 0x1f * N + 0x21, which HTTP/3 reserves for greasing.

/** The HTTP/3 code of WebTransport code 0. */
export const WEBTRANSPORT_CODE_FIRST = 0x52e4a40fa8db;
/** The HTTP/3 code of WebTransport code 0xffffffff. */
export const WEBTRANSPORT_CODE_LAST = 0x52e5ac983162;
/** HTTP/3 code used when this side refuses a stream of a session that is gone. */
export const H3_WEBTRANSPORT_SESSION_GONE = 0x170d7b68;
/** HTTP/3 code of STOP_SENDING when a stream's unread bytes pass their bound. */
export const H3_EXCESSIVE_LOAD = 0x107;

/**
 * The HTTP/3 error code that carries WebTransport application error code
 * `code` (an integer 0..0xffffffff): 0x52e4a40fa8db + code + floor(code / 0x1e).
 */
export function webtransportCodeToHttp3(code: number): number {
  if (!Number.isInteger(code) || code < 0 || code > 0xffffffff) throw new RangeError(`a WebTransport error code is an integer 0..0xffffffff, got ${code}`);
  return WEBTRANSPORT_CODE_FIRST + code + Math.floor(code / 0x1e);
}

/**
 * The WebTransport application error code an HTTP/3 error code carries, or
 * null when it carries none (outside the range, or one of the reserved
 * codes inside it). Exact for every u64: the range lies below 2^53.
 */
export function http3ToWebtransportCode(h3: number | bigint): number | null {
  if (typeof h3 === "bigint") {
    if (h3 < BigInt(WEBTRANSPORT_CODE_FIRST) || h3 > BigInt(WEBTRANSPORT_CODE_LAST)) return null;
    h3 = Number(h3);
  }
  if (!Number.isInteger(h3) || h3 < WEBTRANSPORT_CODE_FIRST || h3 > WEBTRANSPORT_CODE_LAST) return null;
  const shifted = h3 - WEBTRANSPORT_CODE_FIRST;
  if (shifted % 0x1f === 0x1e) return null;
  return shifted - Math.floor(shifted / 0x1f);
}

/**
 * The WebTransport code an abort()/cancel() reason asks for: its
 * `streamErrorCode` when that is a 32-bit unsigned integer (a
 * WebTransportError, ours or the W3C one, or any object shaped like it),
 * else 0, as the W3C WebTransport spec says.
 */
export function streamErrorCodeOf(reason: unknown): number {
  if (reason === null || typeof reason !== "object") return 0;
  const code = (reason as { streamErrorCode?: unknown }).streamErrorCode;
  return typeof code === "number" && Number.isInteger(code) && code >= 0 && code <= 0xffffffff ? code : 0;
}

export type WebTransportErrorCode =
  /** The session ended (either side closed it, its CONNECT stream or connection went away, or the server stopped). */
  | "ERR_WEBTRANSPORT_SESSION_GONE"
  /** The per-session limit of open streams is reached: createBidirectionalStream()/createUnidirectionalStream() was refused. */
  | "ERR_WEBTRANSPORT_STREAM_LIMIT"
  /** The peer reset its sending side (RESET_STREAM); `streamErrorCode` is its code. Errors a readable. */
  | "ERR_WEBTRANSPORT_STREAM_RESET"
  /** The peer asked us to stop sending (STOP_SENDING); `streamErrorCode` is its code. Errors a writable. */
  | "ERR_WEBTRANSPORT_STOP_SENDING"
  /** More unread bytes than the receive bound (max_request_body_size): the stream was stopped with H3_EXCESSIVE_LOAD. */
  | "ERR_WEBTRANSPORT_RECEIVE_OVERFLOW"
  /** Made by the application (the default of `new WebTransportError()`), e.g. as an abort() reason. */
  | "ERR_WEBTRANSPORT_APPLICATION";

export interface WebTransportErrorInit {
  code?: WebTransportErrorCode;
  source?: "stream" | "session";
  /** A WebTransport application error code, 0..0xffffffff. */
  streamErrorCode?: number | null;
  http3ErrorCode?: bigint | null;
}

/**
 * The error of a WebTransport stream or session. Shaped like the W3C
 * WebTransportError (`source`, `streamErrorCode`; `new
 * WebTransportError(message, { streamErrorCode })` works as an abort()
 * reason), plus a `code` string the caller can switch on, as the other
 * errors of this package have.
 */
export class WebTransportError extends Error {
  readonly code: WebTransportErrorCode;
  /** "stream": this stream was reset or stopped; "session": its session (or connection) ended. */
  readonly source: "stream" | "session";
  /** The peer's WebTransport application error code, or null when the HTTP/3 code carried none. */
  readonly streamErrorCode: number | null;
  /** The HTTP/3 error code as received, when one was. */
  readonly http3ErrorCode: bigint | null;

  /** `new WebTransportError(message, init)`, or Chromium's form `new WebTransportError({ message, ...init })`. */
  constructor(message: string | (WebTransportErrorInit & { message?: string }) = "", init: WebTransportErrorInit = {}) {
    if (typeof message === "object" && message !== null) {
      init = message;
      message = message.message ?? "";
    }
    const code = init.code ?? "ERR_WEBTRANSPORT_APPLICATION";
    super(message ? `${message} (${code})` : code);
    this.name = "WebTransportError";
    this.code = code;
    this.source = init.source ?? "stream";
    const streamErrorCode = init.streamErrorCode ?? null;
    if (streamErrorCode !== null && (!Number.isInteger(streamErrorCode) || streamErrorCode < 0 || streamErrorCode > 0xffffffff)) {
      throw new RangeError(`streamErrorCode must be an integer 0..0xffffffff, got ${streamErrorCode}`);
    }
    this.streamErrorCode = streamErrorCode;
    this.http3ErrorCode = init.http3ErrorCode ?? null;
  }
}

/** The error a peer's RESET_STREAM (readable) or STOP_SENDING (writable) produces. */
export function peerStreamError(kind: "reset" | "stop", http3: bigint): WebTransportError {
  const streamErrorCode = http3ToWebtransportCode(http3);
  const what = kind === "reset" ? "the peer reset the stream" : "the peer stopped reading the stream";
  const detail = streamErrorCode === null ? `HTTP/3 code 0x${http3.toString(16)}` : `code ${streamErrorCode}`;
  return new WebTransportError(`${what} with ${detail}`, {
    code: kind === "reset" ? "ERR_WEBTRANSPORT_STREAM_RESET" : "ERR_WEBTRANSPORT_STOP_SENDING",
    source: "stream",
    streamErrorCode,
    http3ErrorCode: http3,
  });
}

/** The error of streams whose session (or connection, or server) ended. */
export function sessionGoneError(message = "the WebTransport session is gone", http3: bigint | null = null): WebTransportError {
  return new WebTransportError(message, { code: "ERR_WEBTRANSPORT_SESSION_GONE", source: "session", http3ErrorCode: http3 });
}
