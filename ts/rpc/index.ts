// zig-quiche-h3/rpc: zRPC, one framing over HTTP/3 requests, WebTransport
// streams and raw QUIC connections (ALPN "zr/1"). The client
// half (RpcClient, the channels, frames, codecs, status) uses Web APIs only;
// a page imports "zig-quiche-h3/rpc/client".
export { RpcServer, ZRPC_ALPN, type RpcServerOptions } from "./server.ts";
export { defineService, unary, serverStream, clientStream, bidi, type Service, type CallContext, type MethodDefinition, type MethodKind, type RpcTransport } from "./service.ts";
export * from "./client-index.ts";
