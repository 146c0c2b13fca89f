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
    /// SETTINGS_ENABLE_WEBTRANSPORT, draft-ietf-webtrans-http3-02 to -06
    /// (Chromium 156 speaks draft-02).
    pub const enable_webtransport: u64 = 0x2b603742;
    /// SETTINGS_WEBTRANSPORT_MAX_SESSIONS, drafts -07 to -12.
    pub const webtransport_max_sessions: u64 = 0xc671706a;
    /// SETTINGS_WT_MAX_SESSIONS, drafts -13 and -14 (Safari 26.4+ wants >= 1).
    pub const wt_max_sessions: u64 = 0x14e9cd29;
    /// SETTINGS_WT_ENABLED, drafts -15 and -16.
    pub const wt_enabled: u64 = 0x2c7cf000;
    /// Session flow control's initial limits (drafts -13 to -16; the
    /// receiver's per-session limits, in bytes and cumulative streams).
    pub const wt_initial_max_data: u64 = 0x2b61;
    pub const wt_initial_max_streams_uni: u64 = 0x2b64;
    pub const wt_initial_max_streams_bidi: u64 = 0x2b65;
};

/// Which WebTransport SETTINGS the peer sent, as bits: what the
/// application is told about a CONNECT's connection (REQUEST aux).
pub const WtBits = struct {
    pub const enable_webtransport: u16 = 1; // 0x2b603742 = 1
    pub const webtransport_max_sessions: u16 = 2; // 0xc671706a present
    pub const wt_max_sessions: u16 = 4; // 0x14e9cd29 present
    pub const wt_enabled: u16 = 8; // 0x2c7cf000 non-zero
    pub const flow_control: u16 = 16; // any WT_INITIAL_* non-zero
    pub const settings_received: u16 = 0x8000;
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
    /// Whether the draft -07..-12 and -13/-14 session counts were sent (their
    /// values follow; plain fields, so the struct has no padding holes).
    webtransport_max_sessions_sent: bool = false,
    wt_max_sessions_sent: bool = false,
    wt_enabled: bool = false,
    webtransport_max_sessions: u64 = 0,
    wt_max_sessions: u64 = 0,
    wt_initial_max_data: u64 = 0,
    wt_initial_max_streams_uni: u64 = 0,
    wt_initial_max_streams_bidi: u64 = 0,

    /// The WebTransport dialect bits (WtBits) of these settings.
    pub fn wtBits(peer: *const Peer) u16 {
        var bits: u16 = WtBits.settings_received;
        if (peer.enable_webtransport) bits |= WtBits.enable_webtransport;
        if (peer.webtransport_max_sessions_sent) bits |= WtBits.webtransport_max_sessions;
        if (peer.wt_max_sessions_sent) bits |= WtBits.wt_max_sessions;
        if (peer.wt_enabled) bits |= WtBits.wt_enabled;
        if (peer.wt_initial_max_data > 0 or peer.wt_initial_max_streams_uni > 0 or peer.wt_initial_max_streams_bidi > 0) bits |= WtBits.flow_control;
        return bits;
    }
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
        Id.webtransport_max_sessions => {
            peer.webtransport_max_sessions_sent = true;
            peer.webtransport_max_sessions = value;
        },
        Id.wt_max_sessions => {
            peer.wt_max_sessions_sent = true;
            peer.wt_max_sessions = value;
        },
        Id.wt_enabled => peer.wt_enabled = value != 0,
        Id.wt_initial_max_data => peer.wt_initial_max_data = value,
        Id.wt_initial_max_streams_uni => peer.wt_initial_max_streams_uni = value,
        Id.wt_initial_max_streams_bidi => peer.wt_initial_max_streams_bidi = value,
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
    /// What each draft's session-count setting announces. 1: drafts -07
    /// to -14 make session flow control mandatory once both sides allow
    /// more than one session, and that flow control is only kept for
    /// peers of drafts -15/-16 (which announce it with WT_INITIAL_*).
    webtransport_max_sessions: u64,
    /// Session flow control's initial limits (0: the setting is not sent).
    wt_initial_max_data_bytes: u64 = 0,
    wt_initial_max_streams_uni: u64 = 0,
    wt_initial_max_streams_bidi: u64 = 0,
};

pub const max_encoded_bytes = 160;

/// Writes our SETTINGS frame. A reserved identifier (0x1f * N + 0x21) is
/// included so peers that choke on unknown settings are found early (RFC
/// 9114 section 7.2.4.1).
pub fn write(out: []u8, ours: Ours) usize {
    assert(out.len >= max_encoded_bytes);
    assert(ours.wt_initial_max_data_bytes <= varint.max_value);
    assert(ours.wt_initial_max_streams_uni <= 1 << 60 and ours.wt_initial_max_streams_bidi <= 1 << 60);
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
        len += pair(payload[len..], Id.wt_max_sessions, ours.webtransport_max_sessions);
        len += pair(payload[len..], Id.wt_enabled, 1);
        if (ours.wt_initial_max_data_bytes > 0) len += pair(payload[len..], Id.wt_initial_max_data, ours.wt_initial_max_data_bytes);
        if (ours.wt_initial_max_streams_uni > 0) len += pair(payload[len..], Id.wt_initial_max_streams_uni, ours.wt_initial_max_streams_uni);
        if (ours.wt_initial_max_streams_bidi > 0) len += pair(payload[len..], Id.wt_initial_max_streams_bidi, ours.wt_initial_max_streams_bidi);
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

test "every WebTransport dialect is announced at once, in this order" {
    var out: [max_encoded_bytes]u8 = undefined;
    const len = write(&out, .{
        .qpack_max_table_capacity = 0,
        .qpack_blocked_streams = 0,
        .max_field_section_size = 16384,
        .datagrams = true,
        .webtransport = true,
        .webtransport_max_sessions = 1,
        .wt_initial_max_data_bytes = 1 << 20,
        .wt_initial_max_streams_uni = 100,
        .wt_initial_max_streams_bidi = 128,
    });
    var reader = frame.FrameReader{};
    var consumed: usize = 0;
    _ = reader.next(out[0..len], &consumed).?.start;
    const expected = [_][2]u64{
        .{ Id.qpack_max_table_capacity, 0 },
        .{ Id.qpack_blocked_streams, 0 },
        .{ Id.max_field_section_size, 16384 },
        .{ Id.h3_datagram, 1 },
        .{ Id.enable_connect_protocol, 1 },
        .{ 0x2b603742, 1 }, // draft-02 (Chromium)
        .{ 0xc671706a, 1 }, // drafts -07 to -12
        .{ 0x14e9cd29, 1 }, // drafts -13/-14 (Safari)
        .{ 0x2c7cf000, 1 }, // drafts -15/-16
        .{ 0x2b61, 1 << 20 },
        .{ 0x2b64, 100 },
        .{ 0x2b65, 128 },
        .{ 0x1f * 7 + 0x21, 0 }, // reserved, GREASE
    };
    var at = consumed;
    for (expected) |want| {
        const id = try varint.decode(out[at..len]);
        at += id.length;
        const value = try varint.decode(out[at..len]);
        at += value.length;
        try testing.expectEqual(want[0], id.value);
        try testing.expectEqual(want[1], value.value);
    }
    try testing.expectEqual(len, at);
    const peer = try parse(out[consumed..len]);
    try testing.expectEqual(@as(u16, WtBits.settings_received | WtBits.enable_webtransport | WtBits.webtransport_max_sessions | WtBits.wt_max_sessions | WtBits.wt_enabled | WtBits.flow_control), peer.wtBits());
    try testing.expectEqual(@as(u64, 1 << 20), peer.wt_initial_max_data);
    try testing.expectEqual(@as(u64, 128), peer.wt_initial_max_streams_bidi);
}

test "a draft-16 client's settings: WT_ENABLED and flow control, no draft-02 bit" {
    var payload: [32]u8 = undefined;
    var len: usize = 0;
    len += pair(payload[len..], Id.h3_datagram, 1);
    len += pair(payload[len..], Id.wt_enabled, 1);
    len += pair(payload[len..], Id.wt_initial_max_streams_bidi, 3);
    const peer = try parse(payload[0..len]);
    try testing.expectEqual(@as(u16, WtBits.settings_received | WtBits.wt_enabled | WtBits.flow_control), peer.wtBits());
    try testing.expectEqual(@as(u64, 3), peer.wt_initial_max_streams_bidi);
    try testing.expectEqual(@as(u64, 0), peer.wt_initial_max_data);
}
