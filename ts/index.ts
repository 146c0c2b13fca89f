// zig-quiche-h3: an HTTP/3 server for Bun. See README.md.
export { serve, Server, HandlerTimeoutError } from "./server.ts";
export { Supervisor, workerInfo, WORKERS_MAX, type WorkerInfo, type WorkerStatus, type Stats } from "./workers.ts";
export { ZigH3Error, type PackageErrorCode, type StatusName } from "./errors.ts";
export {
  STATS_FIELDS,
  CONN_STATS_FIELDS,
  LOG_LEVELS,
  type ServeOptions,
  type StopOptions,
  type EventMode,
  type Handler,
  type RawHandler,
  type RouteValue,
  type Routes,
  type RouteParams,
  type ExtractRouteParams,
  type HTTPMethod,
  type StaticValue,
  type LogEntry,
  type LogLevel,
  type ConnectionStats,
  type SocketAddress,
  type ReloadOptions,
} from "./options.ts";
export type { TlsOptions, PemSource, EarlyDataOptions } from "./tls.ts";
export { ResponseWriter } from "./response-writer.ts";
export { withTrailers, type H3Request, type IncomingRequest, type TrailersSource } from "./web.ts";
export { version } from "./loader.ts";
export type { Http1Info } from "./http1.ts";
export type { NativeConfig, Limits, LimitOptions, SnakeCaseLimitOptions } from "./config.ts";
export { LIMITS } from "./config.ts";
export { Connection, DatagramError, type DatagramErrorCode } from "./datagrams.ts";
export { WebTransportSession, type WebTransportCloseInfo, type WebTransportHandler, type WebTransportDraft } from "./webtransport.ts";
export type { WebTransportBidirectionalStream } from "./webtransport-streams.ts";
export { QuicConnection, type QuicCloseInfo, type QuicHandler, type QuicStreamPriority } from "./quic-connection.ts";
export {
  WebTransportError,
  webtransportCodeToHttp3,
  http3ToWebtransportCode,
  type WebTransportErrorCode,
  type WebTransportErrorInit,
} from "./webtransport-codes.ts";
