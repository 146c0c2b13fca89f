//! The C view of the configuration (zig_h3_config in include/zig_h3.h).
//! Every field is 8 bytes (a uint64_t or a pointer), so the layout is the
//! field index times 8 on every 64-bit platform, which keeps the TypeScript
//! and C sides trivially in step. `struct_size` versions the struct: fields
//! added later go at the end, and a caller built against an older header
//! gets defaults for them.

const std = @import("std");
const config_docs = @import("../config_docs.zig");
const Config = @import("../config.zig").Config;
const LogLevel = @import("../config.zig").LogLevel;

pub const abi_version: u32 = 4;

pub const ConfigC = extern struct {
    struct_size: u32,
    abi_version: u32,
    cert_path: ?[*:0]const u8,
    key_path: ?[*:0]const u8,
    bind_address: ?[*:0]const u8,
    port: u64,
    idle_timeout_ms: u64,
    initial_max_data: u64,
    initial_max_stream_data_bidi_local: u64,
    initial_max_stream_data_bidi_remote: u64,
    initial_max_stream_data_uni: u64,
    initial_max_streams_bidi: u64,
    initial_max_streams_uni: u64,
    max_recv_udp_payload_size: u64,
    max_send_udp_payload_size: u64,
    disable_active_migration: u64,
    enable_pacing: u64,
    cc_algorithm: ?[*:0]const u8,
    enable_dgram: u64,
    dgram_recv_queue_len: u64,
    dgram_send_queue_len: u64,
    grease: u64,
    max_connections: u64,
    max_requests: u64,
    event_queue_bytes: u64,
    command_queue_bytes: u64,
    recv_batch_packets: u64,
    body_chunk_bytes: u64,
    max_request_headers_size: u64,
    max_request_body_size: u64,
    max_path_length: u64,
    max_header_count: u64,
    max_header_name_length: u64,
    max_header_value_length: u64,
    max_active_requests_per_conn: u64,
    max_pending_response_bytes: u64,
    qlog_dir: ?[*:0]const u8,
    keylog_path: ?[*:0]const u8,
    log_level: u64,
    // Added in ABI version 1 after the fields above; older callers get the
    // default through struct_size.
    enable_webtransport: u64,
    max_connections_per_ip: u64,
    qpack_max_table_capacity: u64,
    qpack_blocked_streams: u64,
    max_webtransport_streams_per_session: u64,
    request_head_timeout_ms: u64,
    min_request_body_bytes_per_s: u64,
    request_body_rate_window_ms: u64,
    enable_retry: u64,
    retry_token_lifetime_ms: u64,
    request_read_window_bytes: u64,
    wt_initial_max_data_bytes: u64,
    wt_initial_max_streams_bidi: u64,
    wt_initial_max_streams_uni: u64,
    quic_lb_server_id_hex: ?[*:0]const u8,
    quic_lb_nonce_len: u64,
    quic_lb_config_rotation: u64,
    quic_lb_key_hex: ?[*:0]const u8,
    // Added in ABI version 3: resumption and 0-RTT, then workers on one port.
    ticket_key_hex: ?[*:0]const u8,
    enable_early_data: u64,
    early_data_allow_unsafe: u64,
    socket_fd: u64,
    worker_steering: u64,
    worker_id: u64,
    retry_key_hex: ?[*:0]const u8,
    // Added in ABI version 4: raw QUIC connections by ALPN.
    application_protos: ?[*:0]const u8,

    comptime {
        const fields = @typeInfo(ConfigC).@"struct".fields;
        // The first two u32s share slot 0; every other field is one slot.
        std.debug.assert(@sizeOf(ConfigC) == (fields.len - 1) * 8);
        for (fields[2..], 1..) |field, slot| std.debug.assert(@offsetOf(ConfigC, field.name) == slot * 8);
    }

    /// Defaults, with paths null (they are required).
    pub fn defaults() ConfigC {
        const d = Config{ .cert_path = "", .key_path = "" };
        var c: ConfigC = undefined;
        c.struct_size = @sizeOf(ConfigC);
        c.abi_version = abi_version;
        c.cert_path = null;
        c.key_path = null;
        c.bind_address = d.bind_address.ptr;
        c.cc_algorithm = d.cc_algorithm.ptr;
        c.qlog_dir = null;
        c.keylog_path = null;
        c.quic_lb_server_id_hex = null;
        c.quic_lb_key_hex = null;
        c.ticket_key_hex = null;
        c.retry_key_hex = null;
        c.application_protos = null;
        c.log_level = @intFromEnum(d.log_level);
        c.port = d.port;
        inline for (@typeInfo(ConfigC).@"struct".fields) |field| {
            if (comptime !isPlainNumber(field)) continue;
            const value = @field(d, field.name);
            @field(c, field.name) = if (@TypeOf(value) == bool) @intFromBool(value) else value;
        }
        return c;
    }

    pub const Error = error{ AbiMismatch, InvalidArgument };

    /// Reads the caller's struct (which may be shorter or longer than ours)
    /// into a Config. Strings are borrowed; Server.create copies them.
    pub fn toConfig(c_config: *const anyopaque) Error!Config {
        const header: *const [2]u32 = @ptrCast(@alignCast(c_config));
        const struct_size = header[0];
        if (struct_size < @offsetOf(ConfigC, "log_level") + 8) return error.AbiMismatch;
        var c = defaults();
        const copy_len = @min(struct_size, @sizeOf(ConfigC));
        @memcpy(std.mem.asBytes(&c)[0..copy_len], @as([*]const u8, @ptrCast(c_config))[0..copy_len]);

        var config = Config{
            .cert_path = std.mem.span(c.cert_path orelse ""),
            .key_path = std.mem.span(c.key_path orelse ""),
            .bind_address = std.mem.span(c.bind_address orelse return error.InvalidArgument),
            .cc_algorithm = std.mem.span(c.cc_algorithm orelse return error.InvalidArgument),
            .qlog_dir = if (c.qlog_dir) |p| std.mem.span(p) else null,
            .keylog_path = if (c.keylog_path) |p| std.mem.span(p) else null,
            .quic_lb_server_id_hex = if (c.quic_lb_server_id_hex) |p| std.mem.span(p) else null,
            .quic_lb_key_hex = if (c.quic_lb_key_hex) |p| std.mem.span(p) else null,
            .ticket_key_hex = if (c.ticket_key_hex) |p| std.mem.span(p) else null,
            .retry_key_hex = if (c.retry_key_hex) |p| std.mem.span(p) else null,
            .application_protos = if (c.application_protos) |p| std.mem.span(p) else null,
            .log_level = std.meta.intToEnum(LogLevel, std.math.cast(u8, c.log_level) orelse return error.InvalidArgument) catch return error.InvalidArgument,
            .port = std.math.cast(u16, c.port) orelse return error.InvalidArgument,
        };
        inline for (@typeInfo(ConfigC).@"struct".fields) |field| {
            if (comptime !isPlainNumber(field)) continue;
            const T = @TypeOf(@field(config, field.name));
            const value = @field(c, field.name);
            @field(config, field.name) = if (T == bool)
                (if (value > 1) return error.InvalidArgument else value == 1)
            else
                std.math.cast(T, value) orelse return error.InvalidArgument;
        }
        return config;
    }
};

/// Numeric fields copied one-to-one between ConfigC and Config; the others
/// (strings, port, log level, the version header) are converted by hand.
fn isPlainNumber(comptime field: std.builtin.Type.StructField) bool {
    return field.type == u64 and !std.mem.eql(u8, field.name, "log_level") and !std.mem.eql(u8, field.name, "port");
}

const testing = std.testing;

test "defaults round-trip into the Zig config" {
    var c = ConfigC.defaults();
    c.cert_path = "c.pem";
    c.key_path = "k.pem";
    const config = try ConfigC.toConfig(&c);
    try testing.expectEqualStrings("c.pem", config.cert_path);
    try testing.expectEqual(@as(u16, 4433), config.port);
    try testing.expectEqual(@as(u64, 30_000), config.idle_timeout_ms);
    try testing.expect(config.enable_pacing);
    try testing.expect(!config.enable_retry);
    try testing.expectEqual(@as(u64, 10_000), config.retry_token_lifetime_ms);
    try config.validate();
}

test "a caller built before the Retry fields gets their defaults" {
    var c = ConfigC.defaults();
    c.cert_path = "c.pem";
    c.key_path = "k.pem";
    c.enable_retry = 1;
    c.retry_token_lifetime_ms = 1;
    c.struct_size = @offsetOf(ConfigC, "enable_retry");
    const config = try ConfigC.toConfig(&c);
    try testing.expect(!config.enable_retry);
    try testing.expectEqual(@as(u64, 10_000), config.retry_token_lifetime_ms);
    c.struct_size = @sizeOf(ConfigC);
    const full = try ConfigC.toConfig(&c);
    try testing.expect(full.enable_retry);
    try testing.expectEqual(@as(u64, 1), full.retry_token_lifetime_ms);
}

test "a caller built before the 0-RTT fields gets resumption with the server's own key and no early data" {
    var c = ConfigC.defaults();
    c.cert_path = "c.pem";
    c.key_path = "k.pem";
    c.ticket_key_hex = "00" ** 48;
    c.enable_early_data = 1;
    c.struct_size = @offsetOf(ConfigC, "ticket_key_hex");
    const config = try ConfigC.toConfig(&c);
    try testing.expectEqual(@as(?[:0]const u8, null), config.ticket_key_hex);
    try testing.expect(!config.enable_early_data);
    c.struct_size = @sizeOf(ConfigC);
    const full = try ConfigC.toConfig(&c);
    try testing.expect(full.enable_early_data);
    try full.validate();
}

test "a ticket key that is not 48 bytes of hex is refused" {
    var c = ConfigC.defaults();
    c.cert_path = "c.pem";
    c.key_path = "k.pem";
    for ([_][*:0]const u8{ "00" ** 47, "00" ** 49, "0" ** 95, "zz" ** 48, "" }) |bad| {
        c.ticket_key_hex = bad;
        const config = try ConfigC.toConfig(&c);
        try testing.expectError(error.TicketKeyInvalid, config.validate());
    }
    c.ticket_key_hex = "aB" ** 48;
    const config = try ConfigC.toConfig(&c);
    try config.validate();
    const key = @import("../config.zig").ticketKey(&config).?;
    try testing.expectEqual(@as(u8, 0xab), key[47]);
}

test "out-of-range and too-short structs are refused" {
    var c = ConfigC.defaults();
    c.port = 70000;
    try testing.expectError(error.InvalidArgument, ConfigC.toConfig(&c));
    c = ConfigC.defaults();
    c.enable_pacing = 2;
    try testing.expectError(error.InvalidArgument, ConfigC.toConfig(&c));
    c = ConfigC.defaults();
    c.struct_size = 16;
    try testing.expectError(error.AbiMismatch, ConfigC.toConfig(&c));
}

comptime {
    @setEvalBranchQuota(100_000);
    // Every C field has a doc in config_docs.zig, in the struct's order.
    const fields = @typeInfo(ConfigC).@"struct".fields[2..];
    std.debug.assert(fields.len == config_docs.docs.len);
    for (fields, config_docs.docs) |field, doc| std.debug.assert(std.mem.eql(u8, field.name, doc.name));
}
