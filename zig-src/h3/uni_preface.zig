//! The first bytes of a peer's unidirectional stream: the stream type
//! (RFC 9114 section 6.2), and for a WebTransport stream the session ID
//! after it (draft-ietf-webtrans-http3-02, type 0x54). They may arrive split
//! across chunks, so up to 16 bytes are kept between calls.

const std = @import("std");
const assert = std.debug.assert;
const varint = @import("../dgram/varint.zig");

pub const StreamType = struct {
    pub const control: u64 = 0x00;
    pub const push: u64 = 0x01;
    pub const qpack_encoder: u64 = 0x02;
    pub const qpack_decoder: u64 = 0x03;
    pub const webtransport: u64 = 0x54;
};

pub const Kind = union(enum) {
    control,
    push,
    qpack_encoder,
    qpack_decoder,
    webtransport: u64,
    /// Reserved or unknown: the stream is stopped and ignored.
    unknown: u64,
};

pub const Preface = struct {
    bytes: [16]u8 = undefined,
    len: u8 = 0,

    /// Takes bytes from `input[consumed.*..]` until the preface is complete.
    /// On success `consumed` points just past it; on null all input was kept.
    pub fn feed(preface: *Preface, input: []const u8, consumed: *usize) ?Kind {
        assert(consumed.* <= input.len);
        while (consumed.* < input.len) {
            assert(preface.len < preface.bytes.len);
            preface.bytes[preface.len] = input[consumed.*];
            preface.len += 1;
            consumed.* += 1;
            if (preface.parse()) |kind| return kind;
        }
        return null;
    }

    fn parse(preface: *const Preface) ?Kind {
        const kept = preface.bytes[0..preface.len];
        const stream_type = varint.decode(kept) catch return null;
        if (stream_type.value != StreamType.webtransport) {
            assert(stream_type.length == kept.len);
            return switch (stream_type.value) {
                StreamType.control => .control,
                StreamType.push => .push,
                StreamType.qpack_encoder => .qpack_encoder,
                StreamType.qpack_decoder => .qpack_decoder,
                else => .{ .unknown = stream_type.value },
            };
        }
        const session = varint.decode(kept[stream_type.length..]) catch return null;
        return .{ .webtransport = session.value };
    }
};

const testing = std.testing;

test "stream types, whole and byte by byte" {
    const cases = [_]struct { bytes: []const u8, kind: Kind }{
        .{ .bytes = &.{0x00}, .kind = .control },
        .{ .bytes = &.{0x02}, .kind = .qpack_encoder },
        .{ .bytes = &.{0x03}, .kind = .qpack_decoder },
        .{ .bytes = &.{ 0x40, 0x54, 0x80, 0x00, 0x01, 0x00 }, .kind = .{ .webtransport = 256 } },
        .{ .bytes = &.{ 0x7f, 0xff }, .kind = .{ .unknown = 0x3fff } },
    };
    for (cases) |case| {
        var preface = Preface{};
        var kind: ?Kind = null;
        for (case.bytes, 0..) |_, i| {
            var consumed: usize = 0;
            kind = preface.feed(case.bytes[i..][0..1], &consumed);
            try testing.expectEqual(@as(usize, 1), consumed);
            if (i + 1 < case.bytes.len) try testing.expect(kind == null);
        }
        try testing.expectEqualDeep(case.kind, kind.?);
    }
}

test "bytes after the preface are left to the caller" {
    var preface = Preface{};
    var consumed: usize = 0;
    const input = [_]u8{ 0x00, 0x04, 0x00 };
    try testing.expectEqualDeep(Kind.control, preface.feed(&input, &consumed).?);
    try testing.expectEqual(@as(usize, 1), consumed);
}
