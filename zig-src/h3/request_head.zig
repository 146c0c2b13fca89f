//! Collects a request's header fields, as quiche hands them over one by one,
//! straight into the REQUEST event record, validating each on the way
//! (RFC 9114 4.1.2 and 4.3.1, plus the configured size limits). Pure: it
//! takes a record writer and limits, so it is unit-tested without sockets.

const std = @import("std");
const assert = std.debug.assert;
const settings = @import("settings.zig");
const wire = @import("../queue/wire.zig");

pub const Limits = struct {
    max_header_count: u32,
    max_header_name_length: u32,
    max_header_value_length: u32,
    max_request_headers_size: u32,
    max_path_length: u32,
};

/// Why a head was refused, in the order a response status is chosen.
pub const Rejection = enum {
    /// 431: too many fields or too many bytes.
    too_large,
    /// 414: the path is longer than allowed.
    uri_too_long,
    /// 400: malformed per RFC 9114 4.1.2 (bad name or value characters,
    /// pseudo-header after a regular field, duplicate, unknown or missing
    /// pseudo-header).
    malformed,

    pub fn status(rejection: Rejection) u16 {
        return switch (rejection) {
            .too_large => 431,
            .uri_too_long => 414,
            .malformed => 400,
        };
    }
};

/// Offsets inside a REQUEST event record (see queue/wire.zig).
pub const offset_conn_id = wire.header_bytes;
pub const offset_stream_id = offset_conn_id + 8;
pub const offset_route_id = offset_stream_id + 8;
/// The peer's address: u8 family (4, 6, or 0 unknown), u8 zero, u16 port,
/// 16 address bytes (IPv4 as IPv4-mapped IPv6).
pub const offset_peer = offset_route_id + 4;
pub const peer_bytes = 20;
pub const offset_field_count = offset_peer + peer_bytes;
pub const offset_fields = offset_field_count + 4;

/// REQUEST aux bit: the record ends with the peer's three WebTransport
/// session flow-control limits (see setWebTransportPeer).
pub const wt_limits_trailer: u16 = 0x4000;
pub const wt_limits_trailer_bytes = 24;

/// setWebTransportPeer for a finished REQUEST record of `len` bytes kept in
/// `record` (room for the trailer after it); returns the new length.
pub fn patchWebTransportPeer(record: []u8, len: usize, bits: u16, limits: [3]u64) usize {
    assert(record.len >= len + wt_limits_trailer_bytes);
    assert(bits & wt_limits_trailer == 0);
    var aux = bits;
    var at = len;
    if (bits & settings.WtBits.flow_control != 0) {
        for (limits) |limit| {
            std.mem.writeInt(u64, record[at..][0..8], limit, .little);
            at += 8;
        }
        aux |= wt_limits_trailer;
    }
    std.mem.writeInt(u16, record[6..8], aux, .little);
    std.mem.writeInt(u32, record[0..4], @intCast(at), .little);
    return at;
}

pub const RequestHead = struct {
    writer: wire.RecordWriter,
    limits: Limits,
    field_count: u32 = 0,
    /// RFC 9110 style size: name + value + 32 per field.
    section_bytes: u64 = 0,
    seen_regular_field: bool = false,
    rejection: ?Rejection = null,
    method: ?[]const u8 = null,
    path: ?[]const u8 = null,
    scheme: ?[]const u8 = null,
    authority: ?[]const u8 = null,
    protocol: ?[]const u8 = null,
    /// Declared body length, when a valid content-length was sent.
    content_length: ?u64 = null,

    pub fn init(buffer: []u8, request_id: u64, conn_id: u64, stream_id: u64, limits: Limits) RequestHead {
        var writer = wire.RecordWriter.init(buffer, @intFromEnum(wire.EventKind.request), 0, 0, request_id);
        writer.int(u64, conn_id);
        writer.int(u64, stream_id);
        writer.int(u32, 0); // route id, patched by setRoute
        writer.bytes(&([_]u8{0} ** peer_bytes)); // peer, patched by setPeer
        writer.int(u32, 0); // field count, patched by finish
        return .{ .writer = writer, .limits = limits };
    }

    /// Takes one field. After the first rejection the rest are ignored.
    pub fn add(head: *RequestHead, name: []const u8, value: []const u8) void {
        if (head.rejection != null) return;
        head.field_count += 1;
        head.section_bytes += name.len + value.len + 32;
        if (head.field_count > head.limits.max_header_count or
            head.section_bytes > head.limits.max_request_headers_size or
            name.len > head.limits.max_header_name_length or
            value.len > head.limits.max_header_value_length)
        {
            head.rejection = .too_large;
            return;
        }
        if (!validValue(value) or !validName(name)) {
            head.rejection = .malformed;
            return;
        }
        const start = head.writer.len + 4 + name.len;
        head.writer.field(name, value);
        if (head.writer.overflow) {
            head.rejection = .too_large;
            return;
        }
        const stored_value = head.writer.buffer[start..][0..value.len];
        if (name[0] == ':') {
            head.addPseudo(name, stored_value);
        } else {
            head.seen_regular_field = true;
            if (std.mem.eql(u8, name, "content-length")) head.content_length = std.fmt.parseInt(u64, value, 10) catch null;
        }
    }

    fn addPseudo(head: *RequestHead, name: []const u8, value: []const u8) void {
        if (head.seen_regular_field) {
            head.rejection = .malformed;
            return;
        }
        const slot: *?[]const u8 = if (std.mem.eql(u8, name, ":method"))
            &head.method
        else if (std.mem.eql(u8, name, ":path"))
            &head.path
        else if (std.mem.eql(u8, name, ":scheme"))
            &head.scheme
        else if (std.mem.eql(u8, name, ":authority"))
            &head.authority
        else if (std.mem.eql(u8, name, ":protocol"))
            &head.protocol
        else {
            head.rejection = .malformed;
            return;
        };
        if (slot.* != null) {
            head.rejection = .malformed;
            return;
        }
        slot.* = value;
    }

    /// Checks the pseudo-header set as a whole (RFC 9114 4.3.1, RFC 9220).
    pub fn finish(head: *RequestHead) ?Rejection {
        if (head.rejection) |rejection| return rejection;
        const method = head.method orelse return .malformed;
        if (method.len == 0) return .malformed;
        for (method) |c| if (!isTokenChar(c)) return .malformed;
        const is_connect = std.mem.eql(u8, method, "CONNECT");
        if (is_connect and head.protocol == null) {
            if (head.scheme != null or head.path != null or head.authority == null) return .malformed;
        } else {
            if (head.protocol != null and !is_connect) return .malformed;
            const scheme = head.scheme orelse return .malformed;
            const path = head.path orelse return .malformed;
            if (scheme.len == 0 or path.len == 0) return .malformed;
            if (path[0] != '/' and !std.mem.eql(u8, path, "*")) return .malformed;
            if (path.len > head.limits.max_path_length) return .uri_too_long;
        }
        std.mem.writeInt(u32, head.writer.buffer[offset_field_count..][0..4], head.field_count, .little);
        return null;
    }

    /// The request may be a replay (wire.flag_early).
    pub fn setEarly(head: *RequestHead) void {
        head.writer.buffer[5] |= wire.flag_early;
    }

    pub fn setRoute(head: *RequestHead, route_id: u32) void {
        std.mem.writeInt(u32, head.writer.buffer[offset_route_id..][0..4], route_id, .little);
    }

    /// Records the connection's peer address (see offset_peer).
    pub fn setPeer(head: *RequestHead, family: u8, port: u16, address: [16]u8) void {
        const peer = head.writer.buffer[offset_peer..][0..peer_bytes];
        peer[0] = family;
        peer[1] = 0;
        std.mem.writeInt(u16, peer[2..4], port, .little);
        @memcpy(peer[4..20], &address);
    }

    /// A CONNECT's connection: which WebTransport SETTINGS its peer sent
    /// (settings.WtBits, in aux) and, when the peer announced session flow
    /// control, its initial limits as three u64 after the field block
    /// (max data bytes, max streams bidi, max streams uni; aux bit
    /// wt_limits_trailer). Without room for them the bit stays clear.
    pub fn setWebTransportPeer(head: *RequestHead, bits: u16, limits: [3]u64) void {
        assert(bits & wt_limits_trailer == 0);
        var aux = bits;
        if (bits & settings.WtBits.flow_control != 0 and head.writer.len + wt_limits_trailer_bytes <= head.writer.buffer.len) {
            for (limits) |limit| head.writer.int(u64, limit);
            assert(!head.writer.overflow);
            aux |= wt_limits_trailer;
        }
        std.mem.writeInt(u16, head.writer.buffer[6..8], aux, .little);
    }

    pub fn record(head: *RequestHead) []u8 {
        return head.writer.finish() catch unreachable; // overflow was turned into a rejection.
    }
};

fn validName(name: []const u8) bool {
    if (name.len == 0) return false;
    const body = if (name[0] == ':') name[1..] else name;
    if (body.len == 0) return false;
    for (body) |c| {
        // Field names are lowercase tokens in HTTP/3 (RFC 9114 4.2).
        if (std.ascii.isUpper(c) or !isTokenChar(c)) return false;
    }
    return true;
}

fn validValue(value: []const u8) bool {
    for (value) |c| if (c == 0 or c == '\r' or c == '\n') return false;
    if (value.len > 0 and (value[0] == ' ' or value[0] == '\t' or value[value.len - 1] == ' ' or value[value.len - 1] == '\t')) return false;
    return true;
}

fn isTokenChar(c: u8) bool {
    return switch (c) {
        'a'...'z', 'A'...'Z', '0'...'9', '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~' => true,
        else => false,
    };
}

const testing = std.testing;

const test_limits = Limits{
    .max_header_count = 8,
    .max_header_name_length = 32,
    .max_header_value_length = 64,
    .max_request_headers_size = 512,
    .max_path_length = 32,
};

fn collect(buffer: []u8, fields: []const [2][]const u8) ?Rejection {
    var head = RequestHead.init(buffer, 1, 2, 3, test_limits);
    for (fields) |field| head.add(field[0], field[1]);
    return head.finish();
}

test "a valid GET is recorded with its fields in order" {
    var buffer: [1024]u8 = undefined;
    var head = RequestHead.init(&buffer, 0x100000001, 7, 4, test_limits);
    head.add(":method", "GET");
    head.add(":scheme", "https");
    head.add(":authority", "localhost");
    head.add(":path", "/hello?x=1");
    head.add("user-agent", "t");
    try testing.expect(head.finish() == null);
    head.setRoute(9);
    const record = head.record();
    const header = wire.readHeader(record);
    try testing.expectEqual(@as(u8, @intFromEnum(wire.EventKind.request)), header.kind);
    try testing.expectEqual(@as(u64, 0x100000001), header.id);
    try testing.expectEqual(@as(u64, 7), std.mem.readInt(u64, record[offset_conn_id..][0..8], .little));
    try testing.expectEqual(@as(u64, 4), std.mem.readInt(u64, record[offset_stream_id..][0..8], .little));
    try testing.expectEqual(@as(u32, 9), std.mem.readInt(u32, record[offset_route_id..][0..4], .little));
    var fields = try wire.fieldBlock(record[offset_field_count..]);
    try testing.expectEqualStrings(":method", (try fields.next()).?.name);
    _ = try fields.next();
    _ = try fields.next();
    try testing.expectEqualStrings("/hello?x=1", (try fields.next()).?.value);
    try testing.expectEqualStrings("t", (try fields.next()).?.value);
    try testing.expect((try fields.next()) == null);
    try testing.expectEqualStrings("GET", head.method.?);
    try testing.expectEqualStrings("/hello?x=1", head.path.?);
}

test "malformed heads are 400" {
    var buffer: [1024]u8 = undefined;
    const base = [_][2][]const u8{ .{ ":method", "GET" }, .{ ":scheme", "https" }, .{ ":path", "/" } };
    try testing.expect(collect(&buffer, &base) == null);
    try testing.expectEqual(Rejection.malformed, collect(&buffer, &[_][2][]const u8{ .{ ":scheme", "https" }, .{ ":path", "/" } }).?);
    try testing.expectEqual(Rejection.malformed, collect(&buffer, &[_][2][]const u8{ .{ ":method", "GET" }, .{ ":scheme", "https" } }).?);
    try testing.expectEqual(Rejection.malformed, collect(&buffer, &(base ++ [_][2][]const u8{.{ ":method", "GET" }})).?);
    try testing.expectEqual(Rejection.malformed, collect(&buffer, &(base ++ [_][2][]const u8{.{ ":bogus", "x" }})).?);
    try testing.expectEqual(Rejection.malformed, collect(&buffer, &(base ++ [_][2][]const u8{.{ "X-Upper", "x" }})).?);
    try testing.expectEqual(Rejection.malformed, collect(&buffer, &(base ++ [_][2][]const u8{.{ "bad name", "x" }})).?);
    try testing.expectEqual(Rejection.malformed, collect(&buffer, &(base ++ [_][2][]const u8{.{ "x", "a\r\nb" }})).?);
    try testing.expectEqual(Rejection.malformed, collect(&buffer, &(base ++ [_][2][]const u8{.{ "x", "a\x00b" }})).?);
    try testing.expectEqual(Rejection.malformed, collect(&buffer, &[_][2][]const u8{ .{ ":method", "GET" }, .{ "x", "1" }, .{ ":scheme", "https" }, .{ ":path", "/" } }).?);
    try testing.expectEqual(Rejection.malformed, collect(&buffer, &[_][2][]const u8{ .{ ":method", "GET" }, .{ ":scheme", "https" }, .{ ":path", "nope" } }).?);
}

test "content-length is captured" {
    var buffer: [1024]u8 = undefined;
    var head = RequestHead.init(&buffer, 1, 2, 3, test_limits);
    head.add(":method", "POST");
    head.add(":scheme", "https");
    head.add(":path", "/up");
    head.add("content-length", "12345");
    try testing.expect(head.finish() == null);
    try testing.expectEqual(@as(?u64, 12345), head.content_length);
}

test "CONNECT forms" {
    var buffer: [1024]u8 = undefined;
    try testing.expect(collect(&buffer, &[_][2][]const u8{ .{ ":method", "CONNECT" }, .{ ":authority", "h:1" } }) == null);
    try testing.expectEqual(Rejection.malformed, collect(&buffer, &[_][2][]const u8{ .{ ":method", "CONNECT" }, .{ ":authority", "h:1" }, .{ ":path", "/" } }).?);
    try testing.expect(collect(&buffer, &[_][2][]const u8{ .{ ":method", "CONNECT" }, .{ ":protocol", "webtransport" }, .{ ":scheme", "https" }, .{ ":authority", "h" }, .{ ":path", "/wt" } }) == null);
    try testing.expectEqual(Rejection.malformed, collect(&buffer, &[_][2][]const u8{ .{ ":method", "GET" }, .{ ":protocol", "webtransport" }, .{ ":scheme", "https" }, .{ ":path", "/" } }).?);
}

test "size limits give 431 and 414" {
    var buffer: [1024]u8 = undefined;
    const base = [_][2][]const u8{ .{ ":method", "GET" }, .{ ":scheme", "https" }, .{ ":path", "/" } };
    const long_value = "v" ** 65;
    try testing.expectEqual(Rejection.too_large, collect(&buffer, &(base ++ [_][2][]const u8{.{ "x", long_value }})).?);
    const many = [_][2][]const u8{.{ "x", "1" }} ** 6;
    try testing.expectEqual(Rejection.too_large, collect(&buffer, &(base ++ many)).?);
    try testing.expectEqual(Rejection.uri_too_long, collect(&buffer, &[_][2][]const u8{ .{ ":method", "GET" }, .{ ":scheme", "https" }, .{ ":path", "/" ++ "a" ** 40 } }).?);
    var small: [80]u8 = undefined;
    try testing.expectEqual(Rejection.too_large, collect(&small, &(base ++ [_][2][]const u8{.{ "x", "y" ** 60 }})).?);
}
