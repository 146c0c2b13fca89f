//! QUIC variable-length integers (RFC 9000 16), used by HTTP/3 datagrams
//! (the quarter stream ID prefix, RFC 9297 2.1) and capsules.

const std = @import("std");

pub const max_value: u64 = (1 << 62) - 1;

pub fn encodedLength(value: u64) usize {
    std.debug.assert(value <= max_value);
    if (value < 1 << 6) return 1;
    if (value < 1 << 14) return 2;
    if (value < 1 << 30) return 4;
    return 8;
}

/// Writes `value` at the start of `out` and returns the bytes written.
pub fn encode(value: u64, out: []u8) error{BufferTooShort}!usize {
    const length = encodedLength(value);
    if (out.len < length) return error.BufferTooShort;
    const prefix: u64 = switch (length) {
        1 => 0,
        2 => 1,
        4 => 2,
        else => 3,
    };
    var v = value | (prefix << @intCast(length * 8 - 2));
    var i = length;
    while (i > 0) {
        i -= 1;
        out[i] = @truncate(v);
        v >>= 8;
    }
    return length;
}

pub const Decoded = struct { value: u64, length: usize };

pub fn decode(in: []const u8) error{Truncated}!Decoded {
    if (in.len == 0) return error.Truncated;
    const length = @as(usize, 1) << @intCast(in[0] >> 6);
    if (in.len < length) return error.Truncated;
    var value: u64 = in[0] & 0x3f;
    for (in[1..length]) |byte| value = (value << 8) | byte;
    return .{ .value = value, .length = length };
}

const testing = std.testing;

test "RFC 9000 A.1 examples" {
    const cases = [_]struct { bytes: []const u8, value: u64 }{
        .{ .bytes = &.{ 0xc2, 0x19, 0x7c, 0x5e, 0xff, 0x14, 0xe8, 0x8c }, .value = 151288809941952652 },
        .{ .bytes = &.{ 0x9d, 0x7f, 0x3e, 0x7d }, .value = 494878333 },
        .{ .bytes = &.{ 0x7b, 0xbd }, .value = 15293 },
        .{ .bytes = &.{0x25}, .value = 37 },
    };
    for (cases) |case| {
        const decoded = try decode(case.bytes);
        try testing.expectEqual(case.value, decoded.value);
        try testing.expectEqual(case.bytes.len, decoded.length);
        var out: [8]u8 = undefined;
        const written = try encode(case.value, &out);
        try testing.expectEqualSlices(u8, case.bytes, out[0..written]);
    }
    // A two-byte encoding of 37 decodes too (non-minimal is allowed).
    try testing.expectEqual(@as(u64, 37), (try decode(&.{ 0x40, 0x25 })).value);
}

test "truncated input and short buffers are errors" {
    try testing.expectError(error.Truncated, decode(&.{}));
    try testing.expectError(error.Truncated, decode(&.{ 0x9d, 0x7f }));
    var out: [1]u8 = undefined;
    try testing.expectError(error.BufferTooShort, encode(15293, &out));
}

test "round trip across the boundaries" {
    const values = [_]u64{ 0, 63, 64, 16383, 16384, (1 << 30) - 1, 1 << 30, max_value };
    for (values) |value| {
        var out: [8]u8 = undefined;
        const written = try encode(value, &out);
        const decoded = try decode(out[0..written]);
        try testing.expectEqual(value, decoded.value);
        try testing.expectEqual(written, decoded.length);
    }
}
