//! Server configuration: every bound of the library (queues, buffers, loops,
//! tables) comes from this one struct. Values arrive from the C ABI
//! (abi/config_c.zig) and are validated here, without I/O.

const std = @import("std");
const config_docs = @import("config_docs.zig");

pub const LogLevel = enum(u8) { err = 0, warn = 1, info = 2, debug = 3, trace = 4 };

pub const Config = struct {
    // Network and TLS.
    cert_path: [:0]const u8,
    key_path: [:0]const u8,
    bind_address: [:0]const u8 = "127.0.0.1",
    port: u16 = 4433,

    // QUIC transport (spec 4.1, stream counts raised so one connection can
    // carry hundreds of concurrent requests without waiting on MAX_STREAMS).
    idle_timeout_ms: u64 = 30_000,
    initial_max_data: u64 = 16 * 1024 * 1024,
    initial_max_stream_data_bidi_local: u64 = 1024 * 1024,
    initial_max_stream_data_bidi_remote: u64 = 1024 * 1024,
    initial_max_stream_data_uni: u64 = 1024 * 1024,
    initial_max_streams_bidi: u64 = 256,
    initial_max_streams_uni: u64 = 16,
    max_recv_udp_payload_size: u64 = 1500,
    max_send_udp_payload_size: u64 = 1350,
    disable_active_migration: bool = true,
    enable_pacing: bool = true,
    cc_algorithm: [:0]const u8 = "cubic",
    enable_dgram: bool = false,
    dgram_recv_queue_len: u64 = 0,
    dgram_send_queue_len: u64 = 0,
    grease: bool = true,
    /// Advertise WebTransport (draft-02 SETTINGS and extended CONNECT).
    /// Needs enable_dgram.
    enable_webtransport: bool = false,

    // Capacity bounds of the library's own structures.
    max_connections: u32 = 4096,
    /// Live connections one peer IP address may hold; 0 = no cap.
    max_connections_per_ip: u32 = 0,

    // Address validation (RFC 9000 8.1).
    /// Answer a client's first Initial with a stateless Retry and accept
    /// only Initials that echo a valid token, so no connection state is
    /// spent on an address that was not shown to receive our packets.
    enable_retry: bool = false,
    /// How long a Retry token stays valid after it was issued. It only has
    /// to outlive one round trip; a short window limits replays from the
    /// same address.
    retry_token_lifetime_ms: u64 = 10_000,
    max_requests: u32 = 16384,
    event_queue_bytes: u32 = 4 * 1024 * 1024,
    command_queue_bytes: u32 = 4 * 1024 * 1024,
    recv_batch_packets: u32 = 64,
    body_chunk_bytes: u32 = 64 * 1024,

    // HTTP limits (spec 4.1 defaults).
    max_request_headers_size: u32 = 16 * 1024,
    max_request_body_size: u64 = 100 * 1024 * 1024,
    max_path_length: u32 = 2048,
    max_header_count: u32 = 100,
    max_header_name_length: u32 = 256,
    max_header_value_length: u32 = 8192,
    max_active_requests_per_conn: u32 = 0,
    max_pending_response_bytes: u32 = 1024 * 1024,
    /// Request (and WebTransport stream) body bytes the library reads from
    /// QUIC ahead of what the application consumed. Past it the stream is
    /// not read, so QUIC flow control holds the client back: a handler that
    /// does not read its body costs at most this much memory (plus quiche's
    /// own stream window). The application grants more as it reads.
    request_read_window_bytes: u32 = 1024 * 1024,

    // HTTP/3 layer (h3/). The QPACK dynamic table we let peers fill for
    // their requests, and how many request streams may wait on it at once.
    qpack_max_table_capacity: u32 = 4096,
    qpack_blocked_streams: u32 = 16,
    /// Streams one WebTransport session may have open at once, both
    /// directions and both initiators counted.
    max_webtransport_streams_per_session: u32 = 256,
    /// WebTransport session flow control (draft-15/16 peers that announce
    /// it too): the stream bytes a peer may send on all streams of one
    /// session before we grant more (WT_MAX_DATA), and the streams of each
    /// kind it may open (WT_MAX_STREAMS; granted again as they end). Sent
    /// as SETTINGS_WT_INITIAL_*; 0 sends none (no session flow control).
    /// The stream counts announced are capped at
    /// max_webtransport_streams_per_session (see announcedStreams).
    wt_initial_max_data_bytes: u64 = 4 * 1024 * 1024,
    wt_initial_max_streams_bidi: u32 = 128,
    wt_initial_max_streams_uni: u32 = 128,

    // Slow clients. A request stream must deliver its whole field section
    // within request_head_timeout_ms of opening (0: no limit); a request
    // body must arrive at min_request_body_bytes_per_s or more, measured
    // over each request_body_rate_window_ms (0: no minimum). Streams the
    // library itself paused (a full event queue) are not held against it.
    request_head_timeout_ms: u64 = 10_000,
    min_request_body_bytes_per_s: u64 = 0,
    request_body_rate_window_ms: u64 = 10_000,

    // Routable connection IDs for a fleet behind a QUIC-LB-aware layer-4
    // load balancer (draft-ietf-quic-load-balancers; quic/quic_lb.zig,
    // docs/QUIC-LB.md). Unset server id: random 16-byte connection IDs.
    /// This machine's server ID, hex (1..15 bytes, e.g. "0a01"); every
    /// connection ID the server chooses carries it.
    quic_lb_server_id_hex: ?[:0]const u8 = null,
    /// Random nonce bytes after the server ID; server ID + nonce <= 19.
    quic_lb_nonce_len: u32 = 8,
    /// Config rotation codepoint (the CID's top 3 bits), 0..6.
    quic_lb_config_rotation: u32 = 0,
    /// The fleet's 16-byte AES-128 key, hex (32 digits); unset: plaintext.
    quic_lb_key_hex: ?[:0]const u8 = null,

    // TLS session resumption and 0-RTT (RFC 8446 4.6.1, RFC 9001 4.6,
    // RFC 8470; docs/ZERO-RTT.md).
    /// The session ticket key, 48 bytes in hex (96 digits): 16 bytes key
    /// name, 16 bytes HMAC secret, 16 bytes AES-128 key, as Node's
    /// `ticketKeys`. Servers given the same key resume each other's
    /// sessions. Unset: BoringSSL's random key for this server alone.
    ticket_key_hex: ?[:0]const u8 = null,
    /// Accept 0-RTT early data from resumed clients.
    enable_early_data: bool = false,
    /// Hand early requests with unsafe methods (POST, PUT, ...) to the
    /// application instead of answering 425 Too Early.
    early_data_allow_unsafe: bool = false,
    // Workers on one port (serve's `workers`; steering.zig, docs/WORKERS.md).
    /// A bound UDP socket to serve on instead of binding bind_address:port
    /// (the worker's socket in its reuseport group, owned and closed by the
    /// steering object). 0: bind one's own.
    socket_fd: u31 = 0,
    /// Stamp `worker_id` into every connection ID this server chooses
    /// (quic/worker_cid.zig), so the group's steering program brings the
    /// connection's packets here whatever the client's address.
    worker_steering: bool = false,
    worker_id: u8 = 0,
    /// The key Retry tokens are authenticated with, hex (32 bytes, 64
    /// digits). Unset: random per server. Workers share one, so a token
    /// verifies on whichever worker the client's next Initial reaches.
    /// (Session ticket keys, when they exist, are shared the same way.)
    retry_key_hex: ?[:0]const u8 = null,

    /// Application protocols (ALPN ids) served as raw QUIC connections
    /// besides h3, comma-separated: at most max_application_protos, each
    /// 1..255 bytes of printable ASCII, never "h3" itself.
    application_protos: ?[:0]const u8 = null,

    // Logging and diagnostics.
    qlog_dir: ?[:0]const u8 = null,
    keylog_path: ?[:0]const u8 = null,
    log_level: LogLevel = .warn,

    /// The WT_INITIAL_MAX_STREAMS we announce for `configured`: never past
    /// the session's hard stream limit, so a granted stream is not refused.
    /// ts/server.ts computes the same for its flow-control accounting.
    pub fn announcedStreams(config: *const Config, configured: u32) u32 {
        return @min(configured, config.max_webtransport_streams_per_session);
    }

    pub const Error = error{
        CertPathMissing,
        KeyPathMissing,
        BindAddressInvalid,
        CcAlgorithmInvalid,
        LimitOutOfRange,
        WebTransportNeedsDatagrams,
        TicketKeyInvalid,
        /// Workers read their id from connection IDs in the kernel, which
        /// cannot decrypt encrypted QUIC-LB connection IDs.
        WorkersNeedPlaintextCids,
        ApplicationProtosInvalid,
    };

    /// The most application protocols one server negotiates besides h3.
    pub const max_application_protos = 16;

    /// The ALPN protocol list in TLS wire format (each id with its length
    /// byte), h3 first: what quiche_config_set_application_protos takes.
    pub fn alpnWire(config: *const Config, out: []u8) Error![]const u8 {
        const h3 = "\x02h3";
        if (out.len < h3.len) return error.ApplicationProtosInvalid;
        @memcpy(out[0..h3.len], h3);
        var len: usize = h3.len;
        const list = config.application_protos orelse return out[0..len];
        var count: usize = 0;
        var names = std.mem.splitScalar(u8, list, ',');
        while (names.next()) |name| {
            count += 1;
            if (count > max_application_protos) return error.ApplicationProtosInvalid;
            if (name.len == 0 or name.len > 255 or std.mem.eql(u8, name, "h3")) return error.ApplicationProtosInvalid;
            for (name) |byte| if (byte <= 0x20 or byte >= 0x7f) return error.ApplicationProtosInvalid;
            if (len + 1 + name.len > out.len) return error.ApplicationProtosInvalid;
            out[len] = @intCast(name.len);
            @memcpy(out[len + 1 ..][0..name.len], name);
            len += 1 + name.len;
        }
        return out[0..len];
    }

    /// Room for the longest list alpnWire accepts.
    pub const max_alpn_wire_bytes = 3 + max_application_protos * 256;

    /// Returns the first violated rule. Bounds are checked so that every
    /// record the loop may produce fits in the queue that carries it.
    pub fn validate(config: *const Config) Error!void {
        if (config.cert_path.len == 0) return error.CertPathMissing;
        if (config.key_path.len == 0) return error.KeyPathMissing;
        _ = parseBindAddress(config.bind_address, config.port) catch return error.BindAddressInvalid;
        if (!isKnownCcAlgorithm(config.cc_algorithm)) return error.CcAlgorithmInvalid;

        try fixedRange(config, "max_recv_udp_payload_size");
        try fixedRange(config, "max_send_udp_payload_size");
        try fixedRange(config, "max_connections");
        try fixedRange(config, "max_requests");
        try fixedRange(config, "recv_batch_packets");
        try fixedRange(config, "body_chunk_bytes");
        try fixedRange(config, "max_header_count");
        try fixedRange(config, "max_header_name_length");
        try fixedRange(config, "max_header_value_length");
        try fixedRange(config, "max_path_length");
        try fixedRange(config, "max_request_headers_size");
        try fixedRange(config, "max_pending_response_bytes");
        // One stream read must fit the window, so a grant always makes progress.
        try inRange(config.request_read_window_bytes, config.body_chunk_bytes, 1 << 30);
        try fixedRange(config, "qpack_max_table_capacity");
        try fixedRange(config, "qpack_blocked_streams");
        try fixedRange(config, "max_webtransport_streams_per_session");
        try fixedRange(config, "wt_initial_max_data_bytes");
        try fixedRange(config, "wt_initial_max_streams_bidi");
        try fixedRange(config, "wt_initial_max_streams_uni");
        try fixedRange(config, "request_head_timeout_ms");
        try fixedRange(config, "request_body_rate_window_ms");
        try fixedRange(config, "retry_token_lifetime_ms");
        try validateQuicLb(config);
        if (config.ticket_key_hex) |hex| _ = parseTicketKey(hex) catch return error.TicketKeyInvalid;
        try config.validateWorkers();
        var alpn: [max_alpn_wire_bytes]u8 = undefined;
        _ = try config.alpnWire(&alpn);
        if (config.enable_dgram) {
            try inRange(config.dgram_recv_queue_len, 1, 1 << 16);
            try inRange(config.dgram_send_queue_len, 1, 1 << 16);
        }
        if (config.enable_webtransport and !config.enable_dgram) return error.WebTransportNeedsDatagrams;

        const largest_event = record_overhead_bytes + @max(
            config.max_request_headers_size + 4 * config.max_header_count,
            config.body_chunk_bytes,
        );
        try inRange(config.event_queue_bytes, 2 * largest_event, 1 << 30);
        try fixedRange(config, "command_queue_bytes");
    }

    /// The settings of workers on one port; also what the steering object
    /// (steering.zig) checks of the config it is made from.
    pub fn validateWorkers(config: *const Config) Error!void {
        if (config.worker_steering and config.quic_lb_key_hex != null) return error.WorkersNeedPlaintextCids;
        if (config.retry_key_hex) |hex| {
            if (hex.len != 2 * retry_key_len) return error.LimitOutOfRange;
            var key: [retry_key_len]u8 = undefined;
            _ = std.fmt.hexToBytes(&key, hex) catch return error.LimitOutOfRange;
        }
    }

    /// Capacity of the connection-ID table: every connection holds up to
    /// cid_keys_per_connection keys, and the table fills at most half.
    pub fn cidTableCapacity(config: *const Config) u32 {
        return std.math.ceilPowerOfTwoAssert(u32, config.max_connections * 2 * cid_keys_per_connection);
    }
};

/// CID table keys one connection may hold at once: the client's original
/// DCID and our active connection IDs, of which a peer may hold
/// cid_keys_per_connection - 1 (our active_connection_id_limit; quic/paths.zig).
pub const cid_keys_per_connection = 3;
/// Bytes of a Retry token key (HMAC-SHA256, quic/retry_token.zig).
pub const retry_key_len = 32;
/// Workers one steering object (one port) can hold: the supervisor's
/// `workers` plus one replacement during a rolling restart must fit, and
/// worker ids are one byte.
pub const workers_max = 64;
pub const steering_members_max = 2 * workers_max;

/// The shared Retry key, or null (random per server). Call after validate().
pub fn retryKey(config: *const Config) ?[retry_key_len]u8 {
    const text = config.retry_key_hex orelse return null;
    var key: [retry_key_len]u8 = undefined;
    _ = std.fmt.hexToBytes(&key, text) catch unreachable;
    return key;
}

/// Bounds of draft-ietf-quic-load-balancers (quic/quic_lb.zig holds the
/// same): a server ID of 1..15 bytes, a nonce of 4..18, at most 19 together.
pub const quic_lb_server_id_len_max = 15;
pub const quic_lb_plaintext_len_max = 19;
pub const quic_lb_key_len = 16;

/// The QUIC-LB server ID's bytes, into `out`; null when QUIC-LB is off.
/// Call after validate().
pub fn quicLbServerId(config: *const Config, out: *[quic_lb_server_id_len_max]u8) ?[]u8 {
    const text = config.quic_lb_server_id_hex orelse return null;
    return std.fmt.hexToBytes(out, text) catch unreachable;
}

/// The QUIC-LB key, or null (plaintext). Call after validate().
pub fn quicLbKey(config: *const Config) ?[quic_lb_key_len]u8 {
    const text = config.quic_lb_key_hex orelse return null;
    var key: [quic_lb_key_len]u8 = undefined;
    _ = std.fmt.hexToBytes(&key, text) catch unreachable;
    return key;
}

/// BoringSSL's ticket key (SSL_CTX_set_tlsext_ticket_keys): key name,
/// HMAC secret and AES-128 key, 16 bytes each.
pub const ticket_key_len = 48;

/// The configured ticket key, or null (BoringSSL's own). Call after validate().
pub fn ticketKey(config: *const Config) ?[ticket_key_len]u8 {
    const text = config.ticket_key_hex orelse return null;
    return parseTicketKey(text) catch unreachable;
}

fn parseTicketKey(text: []const u8) error{TicketKeyInvalid}![ticket_key_len]u8 {
    if (text.len != 2 * ticket_key_len) return error.TicketKeyInvalid;
    var key: [ticket_key_len]u8 = undefined;
    _ = std.fmt.hexToBytes(&key, text) catch return error.TicketKeyInvalid;
    return key;
}

fn validateQuicLb(config: *const Config) Config.Error!void {
    try fixedRange(config, "quic_lb_nonce_len");
    try fixedRange(config, "quic_lb_config_rotation");
    const server_id_hex = config.quic_lb_server_id_hex orelse {
        // A key without a server ID has nothing to encrypt.
        if (config.quic_lb_key_hex != null) return error.LimitOutOfRange;
        return;
    };
    if (server_id_hex.len == 0 or server_id_hex.len % 2 != 0) return error.LimitOutOfRange;
    if (server_id_hex.len / 2 > quic_lb_server_id_len_max) return error.LimitOutOfRange;
    var server_id: [quic_lb_server_id_len_max]u8 = undefined;
    _ = std.fmt.hexToBytes(&server_id, server_id_hex) catch return error.LimitOutOfRange;
    if (server_id_hex.len / 2 + config.quic_lb_nonce_len > quic_lb_plaintext_len_max) return error.LimitOutOfRange;
    if (config.quic_lb_key_hex) |key_hex| {
        if (key_hex.len != 2 * quic_lb_key_len) return error.LimitOutOfRange;
        var key: [quic_lb_key_len]u8 = undefined;
        _ = std.fmt.hexToBytes(&key, key_hex) catch return error.LimitOutOfRange;
    }
}

/// Bytes of framing around every queued event or command (see queue/wire.zig).
pub const record_overhead_bytes: u32 = 32;

/// The field's fixed range, as zig-src/config_docs.zig documents it.
fn fixedRange(config: *const Config, comptime name: []const u8) Config.Error!void {
    const doc = comptime config_docs.of(name);
    return inRange(@field(config, name), doc.min.?, doc.max.?);
}

fn inRange(value: u64, min: u64, max: u64) Config.Error!void {
    if (value < min or value > max) return error.LimitOutOfRange;
}

fn isKnownCcAlgorithm(name: []const u8) bool {
    const known = [_][]const u8{ "reno", "cubic", "bbr2", "bbr2_gcongestion" };
    for (known) |k| if (std.mem.eql(u8, k, name)) return true;
    return false;
}

pub fn parseBindAddress(host: []const u8, port: u16) !std.net.Address {
    return std.net.Address.parseIp(host, port);
}

const testing = std.testing;

fn testConfig() Config {
    return .{ .cert_path = "cert.pem", .key_path = "key.pem" };
}

test "defaults validate" {
    const config = testConfig();
    try config.validate();
    try testing.expectEqual(@as(u32, 32768), config.cidTableCapacity());
}

test "missing paths are rejected" {
    var config = testConfig();
    config.cert_path = "";
    try testing.expectError(error.CertPathMissing, config.validate());
    config = testConfig();
    config.key_path = "";
    try testing.expectError(error.KeyPathMissing, config.validate());
}

test "bind address must be a numeric IP" {
    var config = testConfig();
    config.bind_address = "localhost";
    try testing.expectError(error.BindAddressInvalid, config.validate());
    config.bind_address = "::1";
    try config.validate();
    config.bind_address = "0.0.0.0";
    try config.validate();
}

test "limits out of range are rejected" {
    var config = testConfig();
    config.max_send_udp_payload_size = 1000;
    try testing.expectError(error.LimitOutOfRange, config.validate());
    config = testConfig();
    config.max_connections = 0;
    try testing.expectError(error.LimitOutOfRange, config.validate());
    config = testConfig();
    config.event_queue_bytes = 1024;
    try testing.expectError(error.LimitOutOfRange, config.validate());
    config = testConfig();
    config.retry_token_lifetime_ms = 0;
    try testing.expectError(error.LimitOutOfRange, config.validate());
    config.retry_token_lifetime_ms = 10 * 60 * 1000 + 1;
    try testing.expectError(error.LimitOutOfRange, config.validate());
    config = testConfig();
    config.enable_dgram = true;
    try testing.expectError(error.LimitOutOfRange, config.validate());
    config.dgram_recv_queue_len = 64;
    config.dgram_send_queue_len = 64;
    try config.validate();
}

test "webtransport needs datagrams" {
    var config = testConfig();
    config.enable_webtransport = true;
    try testing.expectError(error.WebTransportNeedsDatagrams, config.validate());
    config.enable_dgram = true;
    config.dgram_recv_queue_len = 64;
    config.dgram_send_queue_len = 64;
    try config.validate();
}

test "QUIC-LB settings are validated against the draft's bounds" {
    var config = testConfig();
    config.quic_lb_key_hex = "00112233445566778899aabbccddeeff";
    try testing.expectError(error.LimitOutOfRange, config.validate());
    config.quic_lb_server_id_hex = "0a01";
    try config.validate();
    var server_id: [quic_lb_server_id_len_max]u8 = undefined;
    try testing.expectEqualSlices(u8, &.{ 0x0a, 0x01 }, quicLbServerId(&config, &server_id).?);
    try testing.expectEqual(@as(u8, 0xff), quicLbKey(&config).?[15]);
    config.quic_lb_key_hex = "0011";
    try testing.expectError(error.LimitOutOfRange, config.validate());
    config.quic_lb_key_hex = null;
    config.quic_lb_server_id_hex = "0a0";
    try testing.expectError(error.LimitOutOfRange, config.validate());
    config.quic_lb_server_id_hex = "zz";
    try testing.expectError(error.LimitOutOfRange, config.validate());
    config.quic_lb_server_id_hex = "00112233445566778899aabbccddeeff";
    try testing.expectError(error.LimitOutOfRange, config.validate());
    config.quic_lb_server_id_hex = "0011223344556677";
    config.quic_lb_nonce_len = 11;
    try config.validate();
    config.quic_lb_nonce_len = 12;
    try testing.expectError(error.LimitOutOfRange, config.validate());
    config.quic_lb_nonce_len = 3;
    try testing.expectError(error.LimitOutOfRange, config.validate());
    config.quic_lb_nonce_len = 8;
    config.quic_lb_config_rotation = 7;
    try testing.expectError(error.LimitOutOfRange, config.validate());
}

test "workers need plaintext connection IDs, and a shared retry key is 32 bytes" {
    var config = testConfig();
    config.worker_steering = true;
    config.quic_lb_server_id_hex = "0a01";
    try config.validate();
    config.quic_lb_key_hex = "00112233445566778899aabbccddeeff";
    try testing.expectError(error.WorkersNeedPlaintextCids, config.validate());
    config.worker_steering = false;
    try config.validate();
    config.retry_key_hex = "00" ** 31;
    try testing.expectError(error.LimitOutOfRange, config.validate());
    config.retry_key_hex = "0f" ** 32;
    try config.validate();
    try testing.expectEqual(@as(u8, 0x0f), retryKey(&config).?[31]);
}

test "unknown congestion control is rejected" {
    var config = testConfig();
    config.cc_algorithm = "vegas";
    try testing.expectError(error.CcAlgorithmInvalid, config.validate());
}

test "application protocols: h3 first, then each in TLS wire form; bad lists are refused" {
    var config = testConfig();
    var buffer: [Config.max_alpn_wire_bytes]u8 = undefined;
    try testing.expectEqualStrings("\x02h3", try config.alpnWire(&buffer));
    config.application_protos = "zr/1,raw/1";
    try testing.expectEqualStrings("\x02h3\x04zr/1\x05raw/1", try config.alpnWire(&buffer));
    try config.validate();
    const seventeen = "a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q";
    for ([_][:0]const u8{ "", "h3", "zr/1,h3", "a,,b", "a b", "zr/1,", seventeen, "caf\xc3\xa9" }) |bad| {
        config.application_protos = bad;
        try testing.expectError(error.ApplicationProtosInvalid, config.validate());
    }
    config.application_protos = "a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p";
    try config.validate();
}
