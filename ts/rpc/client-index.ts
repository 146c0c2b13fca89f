// zig-quiche-h3/rpc/client: what a caller needs, with Web APIs only (a
// browser bundles this module; it imports nothing of the server).
export { RpcClient, LOCAL_DEADLINE_GRACE_MS, type RpcChannel, type CallStreams, type CallOptions, type RpcClientOptions } from "./client.ts";
export { webTransportChannel, fetchChannel, type WebTransportLike } from "./channels.ts";
export { jsonCodec, bytesCodec, type Codec } from "./codec.ts";
export { RpcError, RpcStatus, statusName, CANCEL_STREAM_ERROR_CODE, type RpcErrorCode } from "./status.ts";
export { FrameType, FrameDecoder, encodeFrame, encodeHead, decodeHead, encodeStatus, decodeStatus, FRAME_HEADER_BYTES, type Frame, type CallHead, type CallStatus } from "./frame.ts";
export { CONTENT_TYPE, TIMEOUT_HEADER, METADATA_PREFIX } from "./h3-names.ts";
