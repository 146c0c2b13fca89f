// The HTTP/3 mapping's names, shared by the server (rpc/h3.ts) and the
// fetch channel (rpc/channels.ts, which a page bundles without the server).

/** A zRPC request's and response's content type. */
export const CONTENT_TYPE = "application/zrpc";
/** The call's deadline in whole milliseconds. */
export const TIMEOUT_HEADER = "zrpc-timeout-ms";
/** Metadata `name` travels as the header `zrpc-md-name`. */
export const METADATA_PREFIX = "zrpc-md-";
