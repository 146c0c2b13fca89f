// zRPC status codes: gRPC's numbers and names, so a status means the same
// to anyone who knows gRPC, carried in the STATUS frame (and, over HTTP/3,
// also in the `zrpc-status` trailer).

/** Status names and their numbers on the wire. */
export const RpcStatus = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

/** A status name other than OK: what `RpcError.code` holds. */
export type RpcErrorCode = Exclude<keyof typeof RpcStatus, "OK">;

const NAMES = new Map<number, RpcErrorCode>(Object.entries(RpcStatus).filter(([name]) => name !== "OK").map(([name, value]) => [value, name as RpcErrorCode]));

/** The name of a status number; numbers no one defined read as UNKNOWN. */
export function statusName(status: number): RpcErrorCode {
  return NAMES.get(status) ?? "UNKNOWN";
}

/**
 * A call that did not succeed: thrown by a handler to answer with that
 * status, and thrown to the caller when the call ends in one.
 * `code` is the status name (`"DEADLINE_EXCEEDED"`), `status` its number.
 */
export class RpcError extends Error {
  override readonly name = "RpcError";
  readonly code: RpcErrorCode;
  readonly status: number;
  /** Trailing metadata the server sent with the status. */
  readonly metadata: Record<string, string>;

  constructor(code: RpcErrorCode, message: string, metadata: Record<string, string> = {}) {
    super(message);
    this.code = code;
    this.status = RpcStatus[code];
    this.metadata = metadata;
  }

  /** The error for a status read off the wire. */
  static fromStatus(status: number, message: string, metadata: Record<string, string> = {}): RpcError {
    return new RpcError(statusName(status), message, metadata);
  }
}

/**
 * The QUIC application error code a cancelled call's stream is reset with
 * (RESET_STREAM and STOP_SENDING), both ways. Over WebTransport it is the
 * stream error code the page sees.
 */
export const CANCEL_STREAM_ERROR_CODE = 0x10c;
