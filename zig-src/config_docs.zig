//! What each zig_h3_config field means, its unit and its range, in one place:
//! zig-src/generate.zig writes them into ts/abi.generated.ts (the JSDoc of
//! every `limits` option, and the ranges serve() checks), the defaults come
//! from Config's own default values, and config.zig's validate() takes the
//! fixed ranges from here, so the documented range is the enforced one.
//! Pure data, imported by config.zig below everything else;
//! abi/config_c.zig checks at compile time that it names every C field in
//! order, and generate.zig reads the defaults from Config.

const std = @import("std");

pub const Doc = struct {
    /// The zig_h3_config field.
    name: []const u8,
    /// What it does (one or two sentences).
    text: []const u8,
    /// "ms", "bytes", "count", "bytes/s", or "" (booleans, names, paths).
    unit: []const u8 = "",
    /// Fixed bounds validate() enforces (inclusive), when the range is fixed.
    min: ?u64 = null,
    max: ?u64 = null,
    /// A range that depends on other fields, said in words.
    range_note: []const u8 = "",
    /// Set through another serve() option instead of `limits`.
    option: []const u8 = "",
};

pub const docs = [_]Doc{
    .{ .name = "cert_path", .text = "PEM certificate chain file.", .option = "tls.cert" },
    .{ .name = "key_path", .text = "PEM private key file.", .option = "tls.key" },
    .{ .name = "bind_address", .text = "Numeric IPv4 or IPv6 address to bind.", .option = "hostname" },
    .{ .name = "port", .text = "UDP port; 0 picks a free one.", .option = "port" },
    .{ .name = "idle_timeout_ms", .text = "A connection with no traffic for this long is closed (QUIC max_idle_timeout); 0 = no idle timeout.", .unit = "ms" },
    .{ .name = "initial_max_data", .text = "Connection-level flow-control window: bytes a client may send on all streams before the server grants more.", .unit = "bytes" },
    .{ .name = "initial_max_stream_data_bidi_local", .text = "Flow-control window of bidirectional streams the server opens (WebTransport).", .unit = "bytes" },
    .{ .name = "initial_max_stream_data_bidi_remote", .text = "Flow-control window of bidirectional streams the client opens (each request body).", .unit = "bytes" },
    .{ .name = "initial_max_stream_data_uni", .text = "Flow-control window of unidirectional streams the client opens (control, QPACK, WebTransport).", .unit = "bytes" },
    .{ .name = "initial_max_streams_bidi", .text = "Concurrent request streams a client may open before the server grants more.", .unit = "count" },
    .{ .name = "initial_max_streams_uni", .text = "Concurrent unidirectional streams a client may open.", .unit = "count" },
    .{ .name = "max_recv_udp_payload_size", .text = "Largest UDP payload the server accepts.", .unit = "bytes", .min = 1200, .max = 65527 },
    .{ .name = "max_send_udp_payload_size", .text = "Largest UDP payload the server sends.", .unit = "bytes", .min = 1200, .max = 65527 },
    .{ .name = "disable_active_migration", .text = "Tell clients not to migrate the connection to a new address of their choosing (RFC 9000 disable_active_migration). NAT rebinding is followed either way; see docs/INTEROP.md." },
    .{ .name = "enable_pacing", .text = "Pace outgoing packets: quiche's pacer gives each packet a send time, handed to the kernel with SO_TXTIME, which the fq qdisc honours. quiche 0.28 paces only with ccAlgorithm \"bbr2\"; see docs/INTEROP.md." },
    .{ .name = "cc_algorithm", .text = "Congestion control: \"reno\", \"cubic\", \"bbr2\" or \"bbr2_gcongestion\"." },
    .{ .name = "enable_dgram", .text = "QUIC and HTTP/3 datagrams.", .option = "datagrams" },
    .{ .name = "dgram_recv_queue_len", .text = "Received datagrams queued per connection.", .unit = "count", .range_note = "1 .. 65536 when datagrams are on", .option = "datagrams.receiveQueueLength" },
    .{ .name = "dgram_send_queue_len", .text = "Datagrams queued for sending per connection.", .unit = "count", .range_note = "1 .. 65536 when datagrams are on", .option = "datagrams.sendQueueLength" },
    .{ .name = "grease", .text = "Send GREASE (reserved) values so clients keep tolerating unknown ones." },
    .{ .name = "max_connections", .text = "Live connections; a new client over it gets CONNECTION_CLOSE with CONNECTION_REFUSED.", .unit = "count", .min = 1, .max = 1 << 20 },
    .{ .name = "max_requests", .text = "Live requests (and WebTransport streams) over all connections; a stream past it is refused (H3_REQUEST_REJECTED).", .unit = "count", .min = 1, .max = 1 << 24 },
    .{ .name = "event_queue_bytes", .text = "Size of the queue carrying events (requests, body chunks) from the loop thread to JavaScript.", .unit = "bytes", .max = 1 << 30, .range_note = "at least twice the largest event: 2 × (32 + max(maxRequestHeadersSize + 4 × maxHeaderCount, bodyChunkBytes))" },
    .{ .name = "command_queue_bytes", .text = "Size of the queue carrying commands (responses) from JavaScript to the loop thread.", .unit = "bytes", .min = 64 * 1024, .max = 1 << 30 },
    .{ .name = "recv_batch_packets", .text = "UDP packets read per wake-up of the loop thread (recvmmsg batch).", .unit = "count", .min = 1, .max = 1024 },
    .{ .name = "body_chunk_bytes", .text = "Largest request-body chunk handed to JavaScript at once.", .unit = "bytes", .min = 1024, .max = 1024 * 1024 },
    .{ .name = "max_request_headers_size", .text = "Request field section size (name + value + 32 per field); over it the request gets 431.", .unit = "bytes", .min = 256, .max = 1024 * 1024 },
    .{ .name = "max_request_body_size", .text = "Largest request body; a longer one gets 413 (or a stream reset once the response started).", .unit = "bytes" },
    .{ .name = "max_path_length", .text = "Longest :path; a longer one gets 414.", .unit = "bytes", .min = 1, .max = 65535 },
    .{ .name = "max_header_count", .text = "Most request header fields; more gets 431.", .unit = "count", .min = 1, .max = 4096 },
    .{ .name = "max_header_name_length", .text = "Longest request header name; longer gets 431.", .unit = "bytes", .min = 1, .max = 65535 },
    .{ .name = "max_header_value_length", .text = "Longest request header value; longer gets 431.", .unit = "bytes", .min = 1, .max = 65535 },
    .{ .name = "max_active_requests_per_conn", .text = "Requests one connection may have in flight; more get 503. 0 = no cap.", .unit = "count" },
    .{ .name = "max_pending_response_bytes", .text = "Response bytes the library buffers per request before `write()` waits for the client (backpressure window).", .unit = "bytes", .min = 1024, .max = 1 << 30 },
    .{ .name = "qlog_dir", .text = "Directory for qlog traces, one `conn-<id>.sqlog` file per connection (open them in qvis); created if missing." },
    .{ .name = "keylog_path", .text = "File the TLS secrets are appended to (SSLKEYLOGFILE format, for Wireshark)." },
    .{ .name = "log_level", .text = "Library log level.", .option = "logLevel" },
    .{ .name = "enable_webtransport", .text = "Advertise WebTransport: every draft at once (draft-02 for Chromium, -07, -13/14 for Safari, -15/16); see docs/WEBTRANSPORT.md.", .option = "webtransport" },
    .{ .name = "max_connections_per_ip", .text = "Live connections one client IP address may hold; over it a new client gets CONNECTION_REFUSED. 0 = no cap.", .unit = "count" },
    .{ .name = "qpack_max_table_capacity", .text = "QPACK dynamic table a client may fill for its requests.", .unit = "bytes", .min = 0, .max = 1 << 20 },
    .{ .name = "qpack_blocked_streams", .text = "Request streams that may wait on QPACK inserts at once; more is QPACK_DECOMPRESSION_FAILED.", .unit = "count", .min = 0, .max = 1024 },
    .{ .name = "max_webtransport_streams_per_session", .text = "Open streams per WebTransport session, both directions; over it a client's stream is reset.", .unit = "count", .min = 1, .max = 1 << 16 },
    .{ .name = "request_head_timeout_ms", .text = "A request stream must deliver its whole field section this soon after opening, else it is reset (H3_REQUEST_INCOMPLETE). 0 = no limit.", .unit = "ms", .min = 0, .max = 3_600_000 },
    .{ .name = "min_request_body_bytes_per_s", .text = "Slowest accepted request body, measured over requestBodyRateWindowMs; slower is reset. 0 = no minimum.", .unit = "bytes/s" },
    .{ .name = "request_body_rate_window_ms", .text = "Window the request body rate is measured over.", .unit = "ms", .min = 100, .max = 3_600_000 },
    .{ .name = "enable_retry", .text = "Validate client addresses with a stateless Retry (RFC 9000 8.1.2) before creating any connection state." },
    .{ .name = "retry_token_lifetime_ms", .text = "How long a Retry token is accepted after it was issued.", .unit = "ms", .min = 1, .max = 10 * 60 * 1000 },
    .{ .name = "request_read_window_bytes", .text = "Request body bytes read ahead of what the handler consumed; past it QUIC flow control holds the client back.", .unit = "bytes", .max = 1 << 30, .range_note = "bodyChunkBytes .. 1 GiB" },
    .{ .name = "wt_initial_max_data_bytes", .text = "WebTransport session flow control (draft-15/16 clients that use it): stream bytes a client may send on one session before the server grants more (WT_MAX_DATA); past it the session is closed with WT_FLOW_CONTROL_ERROR. 0 = no session flow control.", .unit = "bytes", .min = 0, .max = 1 << 40 },
    .{ .name = "wt_initial_max_streams_bidi", .text = "WebTransport session flow control: bidirectional streams a client may open in one session, granted again as they end (WT_MAX_STREAMS); at most maxWebtransportStreamsPerSession is announced.", .unit = "count", .min = 0, .max = 1 << 16 },
    .{ .name = "wt_initial_max_streams_uni", .text = "WebTransport session flow control: unidirectional streams a client may open in one session, granted again as they end (WT_MAX_STREAMS).", .unit = "count", .min = 0, .max = 1 << 16 },
    .{ .name = "quic_lb_server_id_hex", .text = "QUIC-LB (draft-ietf-quic-load-balancers): this machine's server ID in hex, 1..15 bytes (e.g. \"0a01\"); every connection ID the server chooses carries it, so a QUIC-LB-aware layer-4 balancer routes the connection here (docs/QUIC-LB.md). Unset: random 16-byte connection IDs." },
    .{ .name = "quic_lb_nonce_len", .text = "QUIC-LB: random nonce bytes after the server ID; server ID + nonce is at most 19 bytes. Used with quicLbServerIdHex.", .unit = "bytes", .min = 4, .max = 18 },
    .{ .name = "quic_lb_config_rotation", .text = "QUIC-LB: the config rotation codepoint written into the top 3 bits of every connection ID (7 is reserved). Used with quicLbServerIdHex.", .min = 0, .max = 6 },
    .{ .name = "quic_lb_key_hex", .text = "QUIC-LB: the fleet's 16-byte AES-128-ECB key in hex (32 digits), shared with the balancer; connection IDs are then encrypted (single pass at 16 bytes, else four-pass Feistel). Unset: plaintext." },
    .{ .name = "ticket_key_hex", .text = "TLS session ticket key, 48 bytes in hex (96 digits: key name, HMAC secret, AES-128 key, as Node's ticketKeys). Servers given the same key resume each other's sessions. Unset: a random key of this server's own.", .option = "tls.ticketKeys" },
    .{ .name = "enable_early_data", .text = "Accept 0-RTT early data from resumed clients (RFC 8470; replayable).", .option = "tls.earlyData" },
    .{ .name = "early_data_allow_unsafe", .text = "Hand early requests with unsafe methods to the application instead of answering 425 Too Early.", .option = "tls.earlyData.allowUnsafeMethods" },
    .{ .name = "socket_fd", .text = "A bound UDP socket to serve on instead of binding hostname:port: a worker's socket in its reuseport group (the supervisor owns and closes it). 0: bind one's own.", .option = "workers" },
    .{ .name = "worker_steering", .text = "Stamp worker_id into every connection ID the server chooses, so the reuseport group's steering program brings the connection's packets to this worker.", .option = "workers" },
    .{ .name = "worker_id", .text = "This worker's id, the byte its connection IDs carry.", .min = 0, .max = 255, .option = "workers" },
    .{ .name = "retry_key_hex", .text = "The key Retry tokens are authenticated with, 32 bytes in hex (64 digits): servers sharing it accept each other's tokens (serve() gives its workers one). Unset: random per server." },
    .{ .name = "application_protos", .text = "Application protocols (ALPN) negotiated besides h3, comma-separated (e.g. \"zr/1\"); a connection that negotiates one is a raw QUIC connection handed to the application whole. A client offering none of them nor h3 is refused with the TLS alert no_application_protocol.", .option = "quic" },
};

/// The doc of `name`; a compile error if there is none.
pub fn of(comptime name: []const u8) Doc {
    @setEvalBranchQuota(100_000);
    inline for (docs) |doc| {
        if (comptime std.mem.eql(u8, doc.name, name)) return doc;
    }
    @compileError("no doc for config field " ++ name);
}
