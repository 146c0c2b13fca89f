// The public option and result types of serve(), and the counter names.
import type { PemSource } from "./tls.ts";
import type { NativeConfig } from "./config.ts";
import type { ResponseWriter } from "./response-writer.ts";
import type { H3Request, IncomingRequest } from "./web.ts";
import type { Server } from "./server.ts";

export type Handler = (request: H3Request, server: Server) => Response | Promise<Response>;
export type RawHandler = (request: IncomingRequest, response: ResponseWriter) => void | Promise<void>;
/** A route: a handler for any method, handlers by method, or a Response served (cloned) as is. */
export type RouteValue = Handler | Response | Partial<Record<string, Handler>>;

/** A response the library serves by itself, with no JavaScript per request. */
export type StaticValue = string | Uint8Array | { status?: number; headers?: Record<string, string>; body?: string | Uint8Array };

/**
 * How the server learns that the loop thread has events for JS.
 * - "poll" (default): the loop signals an eventfd that the Server reads
 *   through Bun's own I/O, then drains. No foreign thread calls into JS.
 * - "callback": the loop calls a `threadsafe` JSCallback, which Bun
 *   schedules on the JS thread, then drains.
 * - "manual": nothing is automatic; call `server.poll()` from your loop.
 */
export type EventMode = "poll" | "callback" | "manual";

export interface ServeOptions {
  /** UDP port; 0 picks a free one (read it back from `server.port`). Default 4433. */
  port?: number;
  /** Numeric IPv4 or IPv6 address to bind. Default "127.0.0.1". */
  hostname?: string;
  tls: { cert: PemSource; key: PemSource };
  /** Path pattern -> handler (any method) or { GET, POST, ... } handlers. */
  routes?: Record<string, RouteValue>;
  /** Path -> fixed response, answered on the loop thread without calling into JS (GET and HEAD). */
  static?: Record<string, StaticValue>;
  /** Fallback for requests no route matched. Without it they get 404/405. */
  fetch?: Handler;
  /** Called when a handler throws or rejects; may return the response to send (else 500). */
  error?: (error: unknown) => Response | void | Promise<Response | void>;
  /** Default "poll". */
  mode?: EventMode;
  /**
   * A handler that has not produced its response head this long after the
   * request fully arrived (body included) gets a 504; 0 = never. Default 30000.
   */
  handlerTimeoutMs?: number;
  /**
   * QUIC and HTTP/3 datagrams (RFC 9221, RFC 9297). `true` uses queues of
   * 1024 datagrams each way. Default off.
   */
  datagrams?: boolean | { receiveQueueLength?: number; sendQueueLength?: number };
  /** Accept WebTransport sessions (draft-02) on paths given to server.webtransport(). Implies datagrams. */
  webtransport?: boolean;
  /**
   * Library limits and transport settings, by their zig_h3_config names
   * (include/zig_h3.h has each one's default and range). Hardening:
   * `max_connections`, `max_connections_per_ip` (over them a new client gets
   * CONNECTION_REFUSED), `enable_retry` (validate client addresses with a
   * stateless Retry before creating any connection state) and
   * `retry_token_lifetime_ms` (how long a Retry token is accepted, 10 s).
   */
  limits?: NativeConfig;
  /**
   * Receives the library's log lines up to `logLevel`. Default: warnings
   * and errors are printed to stderr.
   */
  log?: (entry: LogEntry) => void;
  /** Default "warn". */
  logLevel?: LogLevel;
}

export const LOG_LEVELS = ["error", "warn", "info", "debug", "trace"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export interface LogEntry {
  level: LogLevel;
  message: string;
  /** 0 when the line is not about one connection. */
  connectionId: number;
}

/** Per-connection counters, in the order of CONN_STATS_FIELDS. */
export type ConnectionStats = Record<(typeof CONN_STATS_FIELDS)[number], number>;

export interface StopOptions {
  /** Send GOAWAY, refuse new requests and let in-flight ones finish. Default false. */
  graceful?: boolean;
  /** How long in-flight requests may take when graceful. Default 10000. */
  timeoutMs?: number;
}

import { CONN_STATS_FIELDS } from "./abi.generated.ts";
export { CONN_STATS_FIELDS };

export { STATS_FIELDS } from "./abi.generated.ts";
