//! N-bit prefix integers (RFC 7541 §5.1), the integer form every QPACK
//! instruction and field line uses (RFC 9204 §4.1.1). The high bits of the
//! first byte belong to the instruction (pattern and flags), so decoding
//! ignores them and encoding takes them as an argument.

const std = @import("std");
const assert = std.debug.assert;

/// QPACK never needs a value above the QUIC variable-length integer range
/// (stream IDs, lengths and indices all fit), so anything larger is refused
/// as an overflow rather than carried around as a huge number.
pub const max_value: u64 = (1 << 62) - 1;

/// A prefix byte plus nine continuation bytes carry 63 value bits, which is
/// more than `max_value` needs; a longer encoding can only be padding with
/// zero continuation groups, which we refuse so that decoding is bounded.
pub const max_encoded_bytes: usize = 10;

comptime {
    // Nine continuation groups of seven bits must be able to hold max_value
    // on top of the smallest prefix (one bit).
    assert((max_encoded_bytes - 1) * 7 >= 62);
}

pub const Decoded = struct {
    value: u64,
    /// Bytes consumed, first byte included.
    len: usize,
};

pub const DecodeError = error{ Incomplete, Overflow };

fn prefixMask(prefix_bits: u4) u8 {
    assert(prefix_bits >= 1 and prefix_bits <= 8);
    return @intCast((@as(u16, 1) << prefix_bits) - 1);
}

/// Reads an integer whose prefix occupies the low `prefix_bits` bits of
/// `bytes[0]`. The caller reads the flags in the high bits itself.
pub fn decode(bytes: []const u8, prefix_bits: u4) DecodeError!Decoded {
    const mask = prefixMask(prefix_bits);
    if (bytes.len == 0) return error.Incomplete;
    const prefix_value = bytes[0] & mask;
    if (prefix_value < mask) return .{ .value = prefix_value, .len = 1 };

    var value: u64 = mask;
    var shift_bits: u6 = 0;
    var index: usize = 1;
    while (index < max_encoded_bytes) : (index += 1) {
        if (index >= bytes.len) return error.Incomplete;
        const byte = bytes[index];
        // shift_bits is at most 56 here, so the group (7 bits) fits in 64
        // bits and the sum cannot wrap: value < 2^62 + 2^63.
        value += @as(u64, byte & 0x7f) << shift_bits;
        if (value > max_value) return error.Overflow;
        if (byte & 0x80 == 0) return .{ .value = value, .len = index + 1 };
        shift_bits += 7;
    }
    return error.Overflow;
}

/// How many bytes `encode` writes for `value`.
pub fn encodedLength(value: u64, prefix_bits: u4) usize {
    const mask = prefixMask(prefix_bits);
    assert(value <= max_value);
    if (value < mask) return 1;
    var rest = value - mask;
    var len: usize = 2;
    while (rest >= 0x80) : (len += 1) {
        assert(len < max_encoded_bytes);
        rest >>= 7;
    }
    return len;
}

/// Writes `value` with `first_byte_flags` in the bits above the prefix.
/// Nothing is written when the encoding does not fit.
pub fn encode(dst: []u8, value: u64, prefix_bits: u4, first_byte_flags: u8) error{NoSpace}!usize {
    const mask = prefixMask(prefix_bits);
    assert(first_byte_flags & mask == 0);
    assert(value <= max_value);
    const len = encodedLength(value, prefix_bits);
    if (dst.len < len) return error.NoSpace;
    if (value < mask) {
        dst[0] = first_byte_flags | @as(u8, @intCast(value));
        return 1;
    }
    dst[0] = first_byte_flags | mask;
    var rest = value - mask;
    var index: usize = 1;
    while (rest >= 0x80) : (index += 1) {
        dst[index] = @as(u8, @truncate(rest)) | 0x80;
        rest >>= 7;
    }
    dst[index] = @intCast(rest);
    assert(index + 1 == len);
    return len;
}

const testing = std.testing;

test "RFC 7541 C.1.1: 10 with a 5-bit prefix" {
    var buffer: [4]u8 = undefined;
    const len = try encode(&buffer, 10, 5, 0);
    try testing.expectEqualSlices(u8, &.{0x0a}, buffer[0..len]);
    const decoded = try decode(&.{0x0a}, 5);
    try testing.expectEqual(@as(u64, 10), decoded.value);
    try testing.expectEqual(@as(usize, 1), decoded.len);
}

test "RFC 7541 C.1.2: 1337 with a 5-bit prefix" {
    var buffer: [4]u8 = undefined;
    const len = try encode(&buffer, 1337, 5, 0);
    try testing.expectEqualSlices(u8, &.{ 0x1f, 0x9a, 0x0a }, buffer[0..len]);
    try testing.expectEqual(@as(usize, 3), encodedLength(1337, 5));
    const decoded = try decode(&.{ 0x1f, 0x9a, 0x0a }, 5);
    try testing.expectEqual(@as(u64, 1337), decoded.value);
    try testing.expectEqual(@as(usize, 3), decoded.len);
}

test "RFC 7541 C.1.3: 42 with an 8-bit prefix" {
    var buffer: [4]u8 = undefined;
    const len = try encode(&buffer, 42, 8, 0);
    try testing.expectEqualSlices(u8, &.{0x2a}, buffer[0..len]);
    const decoded = try decode(&.{0x2a}, 8);
    try testing.expectEqual(@as(u64, 42), decoded.value);
}

test "flags above the prefix are written on encode and ignored on decode" {
    var buffer: [4]u8 = undefined;
    const len = try encode(&buffer, 5, 6, 0xc0);
    try testing.expectEqualSlices(u8, &.{0xc5}, buffer[0..len]);
    const decoded = try decode(&.{0xe5}, 5);
    try testing.expectEqual(@as(u64, 5), decoded.value);
}

test "a value equal to the prefix mask needs a zero continuation byte" {
    var buffer: [4]u8 = undefined;
    const len = try encode(&buffer, 31, 5, 0);
    try testing.expectEqualSlices(u8, &.{ 0x1f, 0x00 }, buffer[0..len]);
    try testing.expectEqual(@as(u64, 31), (try decode(buffer[0..len], 5)).value);
}

test "missing continuation bytes are Incomplete" {
    try testing.expectError(error.Incomplete, decode(&.{}, 5));
    try testing.expectError(error.Incomplete, decode(&.{0x1f}, 5));
    try testing.expectError(error.Incomplete, decode(&.{ 0x1f, 0x9a }, 5));
}

test "values above 2^62-1 and encodings longer than 10 bytes overflow" {
    var buffer: [max_encoded_bytes]u8 = undefined;
    const len = try encode(&buffer, max_value, 1, 0);
    try testing.expectEqual(max_value, (try decode(buffer[0..len], 1)).value);

    // max_value + 1 written by hand: the same groups plus one.
    const too_big = [_]u8{ 0xff, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40 };
    try testing.expectError(error.Overflow, decode(&too_big, 8));

    // Eleven bytes of zero-valued continuation groups.
    const too_long = [_]u8{ 0x1f, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00 };
    try testing.expectError(error.Overflow, decode(&too_long, 5));

    // A huge group early overflows before the input runs out.
    try testing.expectError(error.Overflow, decode(&.{ 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f }, 8));
}

test "NoSpace leaves the destination untouched" {
    var buffer = [_]u8{ 0xaa, 0xaa };
    try testing.expectError(error.NoSpace, encode(&buffer, 1337, 5, 0));
    try testing.expectEqualSlices(u8, &.{ 0xaa, 0xaa }, &buffer);
    try testing.expectError(error.NoSpace, encode(buffer[0..0], 1, 5, 0));
}

test "roundtrip across prefixes and magnitudes" {
    var buffer: [max_encoded_bytes]u8 = undefined;
    var prefix_bits: u4 = 1;
    while (prefix_bits <= 8) : (prefix_bits += 1) {
        var shift: u6 = 0;
        while (shift < 62) : (shift += 1) {
            const base = @as(u64, 1) << shift;
            for ([_]u64{ base - 1, base, base + 1 }) |value| {
                const len = try encode(&buffer, value, prefix_bits, 0);
                try testing.expectEqual(encodedLength(value, prefix_bits), len);
                const decoded = try decode(buffer[0..len], prefix_bits);
                try testing.expectEqual(value, decoded.value);
                try testing.expectEqual(len, decoded.len);
                if (len > 1) try testing.expectError(error.Incomplete, decode(buffer[0 .. len - 1], prefix_bits));
            }
        }
    }
}
