// The public option and result types of serve(), and the counter names.
import type { QuicHandler } from "./quic-connection.ts";
import type { TlsOptions } from "./tls.ts";
import type { Limits } from "./config.ts";
import type { ResponseWriter } from "./response-writer.ts";
import type { H3Request, IncomingRequest } from "./web.ts";
import type { Server } from "./server.ts";

/**
 * The parameters of a route pattern, as Bun.serve types them:
 * `"/users/:id/posts/:post"` → `{ id: string; post: string }`, a pattern
 * without `:name` → `{}`, and a pattern only known as `string` →
 * `Record<string, string>`.
 */
export type ExtractRouteParams<T> = string extends T
  ? Record<string, string>
  : T extends `${string}:${infer Param}/${infer Rest}`
    ? { [K in Param]: string } & ExtractRouteParams<Rest>
    : T extends `${string}:${infer Param}`
      ? { [K in Param]: string }
      : {};

/** `ExtractRouteParams<Path>` as one flat object type (what `req.params` shows). */
export type RouteParams<Path extends string> = { [K in keyof ExtractRouteParams<Path> & string]: string };

/**
 * A request handler: gets the request (with `params` typed from the route's
 * pattern) and the server, returns a Response or a Promise of one.
 */
export type Handler<Path extends string = string> = (request: H3Request<RouteParams<Path>>, server: Server) => Response | Promise<Response>;
/** A low-level handler (see `server.route()`): writes the response through `response`. */
export type RawHandler = (request: IncomingRequest, response: ResponseWriter) => void | Promise<void>;
/** HTTP methods a route object may name (any other uppercase method works too). */
export type HTTPMethod = "GET" | "HEAD" | "POST" | "PUT" | "DELETE" | "PATCH" | "OPTIONS";
/** A route: a handler for any method, handlers by method, or a Response served (cloned) as is. */
export type RouteValue<Path extends string = string> = Handler<Path> | Response | Partial<Record<HTTPMethod | (string & {}), Handler<Path>>>;
/** The `routes` option: pattern → route; each handler's `req.params` is typed from its pattern. */
export type Routes<R extends string = string> = { [Path in R]: RouteValue<Path> };

/** A response the library serves by itself, with no JavaScript per request: a body, or status, headers and body. */
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

/**
 * Options of serve(), in the shape of Bun.serve's. `R` is the union of the
 * route patterns, inferred from `routes`, so each handler's `req.params` is
 * typed from its own pattern.
 */
export interface ServeOptions<R extends string = string> {
  /**
   * UDP port: a number or a numeric string; 0 picks a free one (read it back
   * from `server.port`). Default: `process.env.BUN_PORT`, else
   * `process.env.PORT`, else 4433 (Bun.serve's order, with HTTP/3's usual
   * development port in place of 3000).
   */
  port?: number | string;
  /**
   * Address to bind: a numeric IPv4 or IPv6 address, `"localhost"` (bound as
   * 127.0.0.1; `server.hostname` says "localhost"), `"0.0.0.0"` (every IPv4
   * interface) or `"::"` (every IPv6 interface, and IPv4 where the system
   * maps it). Default "127.0.0.1".
   */
  hostname?: string;
  /** Certificate and key (required: HTTP/3 is always TLS). */
  tls: TlsOptions;
  /**
   * Path pattern → handler (any method), `{ GET, POST, ... }` handlers, or a
   * Response (served by the library itself when Bun holds its body in
   * memory). Patterns: exact segments, `:name` for one segment, a trailing
   * `*`. A method a route lacks goes to `fetch` when there is one, else 405.
   */
  routes?: Routes<R>;
  /** Path -> fixed response, answered on the loop thread without calling into JS (GET and HEAD). */
  static?: Record<string, StaticValue>;
  /**
   * Fallback for requests no route takes: paths no route matches and
   * methods the matching route lacks, as in Bun.serve. Without it those get
   * 404 and 405.
   */
  fetch?: Handler;
  /**
   * Called when a handler throws or rejects, and when a handler times out
   * (an error with `code` "ERR_HANDLER_TIMEOUT"); may return the response
   * to send instead of the 500 (for a timeout the 504 has already gone out
   * and its return value is ignored).
   */
  error?: (error: unknown) => Response | void | Promise<Response | void>;
  /**
   * As in Bun.serve: a handler that throws (with no `error` hook answering)
   * gets a 500 HTML page showing the error and its stack instead of the
   * plain "Internal Server Error". Default false; do not enable it in
   * production.
   */
  development?: boolean;
  /** How the JS thread hears of events (see EventMode). Default "poll". */
  mode?: EventMode;
  /**
   * A handler that has not produced its response head this long after the
   * request fully arrived (body included) gets a 504, its `req.signal`
   * aborts with a "TimeoutError" DOMException, `error` is called with an
   * error whose `code` is "ERR_HANDLER_TIMEOUT", and a warning is logged
   * through `log`. 0 = never. `server.timeout(req, seconds)` overrides it
   * per request. Unit: ms. Default 30000.
   */
  handlerTimeoutMs?: number;
  /**
   * QUIC and HTTP/3 datagrams (RFC 9221, RFC 9297). `true` uses queues of
   * 1024 datagrams each way. Default off.
   */
  datagrams?: boolean | { receiveQueueLength?: number; sendQueueLength?: number };
  /** Accept WebTransport sessions (draft-02) on paths given to server.webtransport(). Implies datagrams. Default false. */
  webtransport?: boolean;
  /**
   * Raw QUIC for your own protocols, on the same port as HTTP/3: each key
   * is an application protocol (ALPN id, e.g. "zr/1", at most 16) the
   * handshake may choose instead of "h3", and its handler gets every such
   * connection as a QuicConnection (its streams, datagrams and close). A
   * value of null declares the protocol and leaves the handler to
   * `server.quic(alpn, handler)`. A client offering none of these nor h3
   * is refused in the handshake (TLS alert no_application_protocol).
   * Datagrams need `datagrams` too. Default none.
   */
  quic?: Record<string, QuicHandler | null>;
  /**
   * Also answer HTTPS/1.1 on the TCP port of the same number, with the same
   * handlers (Bun's own server underneath), adding `alt-svc: h3=":PORT";
   * ma=86400` to every TCP response: the way browsers discover HTTP/3 (as
   * `Bun.serve({ http3: true })`, whose `http1` option this mirrors).
   * `route()` and `webtransport()` stay HTTP/3-only (TCP answers 421 for a
   * `route()` path); trailers and datagrams do not exist over TCP. With
   * port 0, serve() picks a port free on both. Default true; false serves
   * HTTP/3 only (no TCP socket).
   */
  http1?: boolean;
  /**
   * Library limits and transport settings, in camelCase (each documented
   * with its meaning, unit, range and default; generated from
   * zig-src/config_docs.zig). Checked here: an unknown key is a
   * TypeError naming the nearest valid one, a value out of range a
   * RangeError. The zig_h3_config (snake_case) names still work but are
   * deprecated. Hardening: `maxConnections`, `maxConnectionsPerIp`,
   * `enableRetry`, `retryTokenLifetimeMs`. Diagnostics: `qlogDir` (created
   * if missing), `keylogPath`.
   */
  limits?: Limits;
  /**
   * Receives the library's log lines up to `logLevel`, and the server's own
   * warnings (a handler timeout). Default: printed to stderr.
   */
  log?: (entry: LogEntry) => void;
  /** The most detailed level passed to `log`. Default "warn". */
  logLevel?: LogLevel;
  /**
   * Serve on this many threads sharing the port (1..64), as Node's
   * cluster does with processes: on the main thread serve() binds the
   * sockets, attaches the kernel program that steers every packet to the
   * worker holding its connection (by the worker id in the connection ID,
   * so a client whose address changes keeps its worker), starts that many
   * Bun Workers running the same script (`Bun.main`), and returns a
   * `Supervisor` (port, stats() summed and per worker, restartWorker(i),
   * stop()). In each worker the same serve() call returns that worker's own
   * `Server`. Not with `limits.quicLbKeyHex` (the kernel cannot read
   * encrypted connection IDs). See docs/WORKERS.md.
   */
  workers?: number;
}

/** Log levels, from the least to the most detailed. */
export const LOG_LEVELS = ["error", "warn", "info", "debug", "trace"] as const;
/** One of LOG_LEVELS. */
export type LogLevel = (typeof LOG_LEVELS)[number];
/** A line passed to the `log` option. */
export interface LogEntry {
  /** How severe it is. */
  level: LogLevel;
  /** The text, without a trailing newline. */
  message: string;
  /** 0 when the line is not about one connection. */
  connectionId: number;
}

/** Per-connection counters, by the names in CONN_STATS_FIELDS. */
export type ConnectionStats = Record<(typeof CONN_STATS_FIELDS)[number], number>;

/** The object form of `server.stop()`'s argument. */
export interface StopOptions {
  /**
   * true: close every connection now; in-flight requests abort. false (the
   * default, as `stop()`): send GOAWAY, refuse new requests and let
   * in-flight ones finish within `timeoutMs`.
   */
  closeActiveConnections?: boolean;
  /**
   * @deprecated The opposite of `closeActiveConnections`, from before
   * `stop()` became graceful by default: `graceful: false` closes at once.
   */
  graceful?: boolean;
  /** How long in-flight requests may take in a graceful stop; then they are cut. Unit: ms. Default 10000. */
  timeoutMs?: number;
}

/** Where a request came from, as `server.requestIP(req)` gives it (Bun's SocketAddress). */
export interface SocketAddress {
  /** The client's IP address, e.g. "127.0.0.1" or "::1". */
  address: string;
  /** The client's UDP port. */
  port: number;
  /** "IPv4" or "IPv6". */
  family: "IPv4" | "IPv6";
}

/** What `server.reload()` replaces. */
export interface ReloadOptions<R extends string = string> {
  /** The new route table (handler routes are replaced; see `server.reload`). */
  routes?: Routes<R>;
  /** The new fallback; `undefined` removes it. */
  fetch?: Handler;
  /** The new error hook. */
  error?: ServeOptions["error"];
  /** Turns the development error page on or off. */
  development?: boolean;
}

import { CONN_STATS_FIELDS } from "./abi.generated.ts";
export { CONN_STATS_FIELDS };

export { STATS_FIELDS } from "./abi.generated.ts";
