export { serve, Server, STATS_FIELDS, CONN_STATS_FIELDS, LOG_LEVELS, type LogEntry, type LogLevel, type ConnectionStats, type ServeOptions, type StopOptions, type EventMode, type Handler, type RawHandler, type RouteValue, type StaticValue } from "./server.ts";
export { ResponseWriter } from "./response-writer.ts";
export { withTrailers, type H3Request, type IncomingRequest, type TrailersSource } from "./web.ts";
export { ZigH3Error } from "./errors.ts";
export { version } from "./loader.ts";
export type { NativeConfig } from "./config.ts";
export { Connection, DatagramError, type DatagramErrorCode } from "./datagrams.ts";
export { WebTransportSession, type WebTransportCloseInfo, type WebTransportHandler } from "./webtransport.ts";
