//! SETTINGS (RFC 9114 section 7.2.4): what we announce and what we learn
//! from the peer. Unknown identifiers are ignored, as the RFC requires;
//! duplicates and HTTP/2-only identifiers are H3_SETTINGS_ERROR.

const std = @import("std");
const assert = std.debug.assert;
const varint = @import("../dgram/varint.zig");
const frame = @import("frame.zig");

pub const Id = struct {
    pub const qpack_max_table_capacity: u64 = 0x01;
    pub const max_field_section_size: u64 = 0x06;
    pub const qpack_blocked_streams: u64 = 0x07;
    pub const enable_connect_protocol: u64 = 0x08;
    pub const h3_datagram: u64 = 0x33;
    /// draft-ietf-webtrans-http3-02, which Chromium 156 speaks.
    pub const enable_webtransport: u64 = 0x2b603742;
    /// Later WebTransport drafts count sessions instead.
    pub const webtransport_max_sessions: u64 = 0xc671706a;
};

/// The most settings a peer may send in one frame; a frame with more is
/// H3_EXCESSIVE_LOAD rather than a reason to allocate.
pub const max_peer_settings = 64;

pub const Peer = struct {
    qpack_max_table_capacity: u64 = 0,
    qpack_blocked_streams: u64 = 0,
    max_field_section_size: ?u64 = null,
    enable_connect_protocol: bool = false,
    h3_datagram: bool = false,
    enable_webtransport: bool = false,
};

pub const ParseError = error{ SettingsError, FrameError, ExcessiveLoad };

pub fn parse(payload: []const u8) ParseError!Peer {
    var peer = Peer{};
    var seen: [max_peer_settings]u64 = undefined;
    var seen_len: usize = 0;
    var at: usize = 0;
    while (at < payload.len) {
        const id = varint.decode(payload[at..]) catch return error.FrameError;
        at += id.length;
        const value = varint.decode(payload[at..]) catch return error.FrameError;
        at += value.length;
        if (seen_len == max_peer_settings) return error.ExcessiveLoad;
        if (std.mem.indexOfScalar(u64, seen[0..seen_len], id.value) != null) return error.SettingsError;
        seen[seen_len] = id.value;
        seen_len += 1;
        try apply(&peer, id.value, value.value);
    }
    return peer;
}

fn apply(peer: *Peer, id: u64, value: u64) ParseError!void {
    switch (id) {
        // HTTP/2's ENABLE_PUSH, MAX_CONCURRENT_STREAMS, INITIAL_WINDOW_SIZE
        // and MAX_FRAME_SIZE are reserved in HTTP/3.
        0x02, 0x03, 0x04, 0x05 => return error.SettingsError,
        Id.qpack_max_table_capacity => peer.qpack_max_table_capacity = value,
        Id.qpack_blocked_streams => peer.qpack_blocked_streams = value,
        Id.max_field_section_size => peer.max_field_section_size = value,
        Id.enable_connect_protocol => peer.enable_connect_protocol = try boolean(value),
        Id.h3_datagram => peer.h3_datagram = try boolean(value),
        Id.enable_webtransport => peer.enable_webtransport = value == 1,
        else => {},
    }
}

fn boolean(value: u64) ParseError!bool {
    return switch (value) {
        0 => false,
        1 => true,
        else => error.SettingsError,
    };
}

pub const Ours = struct {
    qpack_max_table_capacity: u64,
    qpack_blocked_streams: u64,
    max_field_section_size: u64,
    datagrams: bool,
    webtransport: bool,
    webtransport_max_sessions: u64,
};

pub const max_encoded_bytes = 128;

/// Writes our SETTINGS frame. A reserved identifier (0x1f * N + 0x21) is
/// included so peers that choke on unknown settings are found early (RFC
/// 9114 section 7.2.4.1).
pub fn write(out: []u8, ours: Ours) usize {
    assert(out.len >= max_encoded_bytes);
    var payload: [max_encoded_bytes - frame.max_header_bytes]u8 = undefined;
    var len: usize = 0;
    len += pair(payload[len..], Id.qpack_max_table_capacity, ours.qpack_max_table_capacity);
    len += pair(payload[len..], Id.qpack_blocked_streams, ours.qpack_blocked_streams);
    len += pair(payload[len..], Id.max_field_section_size, ours.max_field_section_size);
    if (ours.datagrams) len += pair(payload[len..], Id.h3_datagram, 1);
    if (ours.webtransport) {
        len += pair(payload[len..], Id.enable_connect_protocol, 1);
        len += pair(payload[len..], Id.enable_webtransport, 1);
        len += pair(payload[len..], Id.webtransport_max_sessions, ours.webtransport_max_sessions);
    }
    len += pair(payload[len..], 0x1f * 7 + 0x21, 0);
    const at = frame.writeHeader(out, frame.Type.settings, len);
    @memcpy(out[at..][0..len], payload[0..len]);
    return at + len;
}

fn pair(out: []u8, id: u64, value: u64) usize {
    const at = varint.encode(id, out) catch unreachable;
    return at + (varint.encode(value, out[at..]) catch unreachable);
}

const testing = std.testing;

test "our settings parse back as a peer's" {
    var out: [max_encoded_bytes]u8 = undefined;
    const len = write(&out, .{ .qpack_max_table_capacity = 4096, .qpack_blocked_streams = 16, .max_field_section_size = 65536, .datagrams = true, .webtransport = true, .webtransport_max_sessions = 4 });
    var reader = frame.FrameReader{};
    var consumed: usize = 0;
    const start = reader.next(out[0..len], &consumed).?.start;
    try testing.expectEqual(frame.Type.settings, start.frame_type);
    const peer = try parse(out[consumed..len]);
    try testing.expectEqual(@as(u64, 4096), peer.qpack_max_table_capacity);
    try testing.expectEqual(@as(u64, 16), peer.qpack_blocked_streams);
    try testing.expectEqual(@as(?u64, 65536), peer.max_field_section_size);
    try testing.expect(peer.h3_datagram and peer.enable_connect_protocol and peer.enable_webtransport);
}

test "duplicate, HTTP/2-only and malformed settings are rejected" {
    try testing.expectError(error.SettingsError, parse(&.{ 0x01, 0x00, 0x01, 0x00 }));
    try testing.expectError(error.SettingsError, parse(&.{ 0x02, 0x00 }));
    try testing.expectError(error.SettingsError, parse(&.{ 0x33, 0x02 }));
    try testing.expectError(error.FrameError, parse(&.{0x01}));
    var many: [4 * (max_peer_settings + 1)]u8 = undefined;
    var len: usize = 0;
    for (0..max_peer_settings + 1) |i| len += pair(many[len..], 0x100 + i, 0);
    try testing.expectError(error.ExcessiveLoad, parse(many[0..len]));
    const peer = try parse(&.{ 0x3f, 0x00 }); // unknown identifier: ignored
    try testing.expect(!peer.h3_datagram);
}
