//! String literals (RFC 9204 §4.1.2): an H flag (Huffman or raw) in the bit
//! just above an N-bit prefix integer length, followed by that many bytes.
//! Parsing never copies: a raw string is handed out as a slice of the input,
//! and only a Huffman string is decoded, into a buffer the caller owns.

const std = @import("std");
const assert = std.debug.assert;
const prefix_int = @import("prefix_int.zig");
const huffman = @import("huffman.zig");

pub const StringLiteral = struct {
    huffman: bool,
    /// The bytes as sent (still Huffman-coded when `huffman`).
    bytes: []const u8,
};

pub const Parsed = struct {
    literal: StringLiteral,
    /// Bytes consumed: the length integer and the string.
    len: usize,
};

fn huffmanFlag(prefix_bits: u4) u8 {
    assert(prefix_bits >= 1 and prefix_bits <= 7);
    return @as(u8, 1) << @intCast(prefix_bits);
}

/// Reads a literal whose H flag and length prefix sit in the low
/// `prefix_bits + 1` bits of `bytes[0]`.
pub fn parse(bytes: []const u8, prefix_bits: u4) prefix_int.DecodeError!Parsed {
    const length = try prefix_int.decode(bytes, prefix_bits);
    const rest = bytes[length.len..];
    if (length.value > rest.len) return error.Incomplete;
    const string_len: usize = @intCast(length.value);
    return .{
        .literal = .{
            .huffman = bytes[0] & huffmanFlag(prefix_bits) != 0,
            .bytes = rest[0..string_len],
        },
        .len = length.len + string_len,
    };
}

/// The plain bytes of `literal`: the raw bytes themselves, or the Huffman
/// decoding written to the front of `dst`.
pub fn plainBytes(literal: StringLiteral, dst: []u8) huffman.DecodeError![]const u8 {
    if (!literal.huffman) return literal.bytes;
    const len = try huffman.decode(literal.bytes, dst);
    return dst[0..len];
}

/// Whether `encode` would use the Huffman code: only when strictly shorter.
pub fn prefersHuffman(plain: []const u8) bool {
    return huffman.encodedLength(plain) < plain.len;
}

/// Bytes `encode` writes for `plain`.
pub fn encodedLength(plain: []const u8, prefix_bits: u4) usize {
    const body_len = if (prefersHuffman(plain)) huffman.encodedLength(plain) else plain.len;
    return prefix_int.encodedLength(body_len, prefix_bits) + body_len;
}

/// The most `encode` can write for a string of `plain_len` bytes: Huffman is
/// only used when it is shorter than the raw form.
pub fn maxEncodedLength(plain_len: usize, prefix_bits: u4) usize {
    return prefix_int.encodedLength(plain_len, prefix_bits) + plain_len;
}

/// Writes `plain` with `first_byte_flags` above the H flag, Huffman-coded
/// when that is strictly shorter. Nothing is written when it does not fit.
pub fn encode(dst: []u8, plain: []const u8, prefix_bits: u4, first_byte_flags: u8) error{NoSpace}!usize {
    const flag = huffmanFlag(prefix_bits);
    assert(first_byte_flags & (flag | (flag - 1)) == 0);
    const huffman_len = huffman.encodedLength(plain);
    const use_huffman = huffman_len < plain.len;
    const body_len = if (use_huffman) huffman_len else plain.len;
    const header_len = prefix_int.encodedLength(body_len, prefix_bits);
    if (dst.len < header_len + body_len) return error.NoSpace;
    const flags = first_byte_flags | (if (use_huffman) flag else 0);
    const written = prefix_int.encode(dst, body_len, prefix_bits, flags) catch unreachable;
    assert(written == header_len);
    const body = dst[header_len..][0..body_len];
    if (use_huffman) {
        const huffman_written = huffman.encode(plain, body);
        assert(huffman_written == body_len);
    } else {
        @memcpy(body, plain);
    }
    return header_len + body_len;
}

const testing = std.testing;

test "a raw literal is sliced out of the input" {
    const input = [_]u8{ 0x0b, '/', 'i', 'n', 'd', 'e', 'x', '.', 'h', 't', 'm', 'l', 0xff };
    const parsed = try parse(&input, 7);
    try testing.expect(!parsed.literal.huffman);
    try testing.expectEqualStrings("/index.html", parsed.literal.bytes);
    try testing.expectEqual(@as(usize, 12), parsed.len);
    var scratch: [1]u8 = undefined;
    try testing.expectEqualStrings("/index.html", try plainBytes(parsed.literal, &scratch));
}

test "a Huffman literal is decoded into the scratch buffer" {
    var buffer: [32]u8 = undefined;
    const len = try encode(&buffer, "www.example.com", 7, 0);
    try testing.expectEqual(@as(usize, 13), len);
    try testing.expectEqual(@as(u8, 0x8c), buffer[0]);
    const parsed = try parse(buffer[0..len], 7);
    try testing.expect(parsed.literal.huffman);
    var scratch: [32]u8 = undefined;
    try testing.expectEqualStrings("www.example.com", try plainBytes(parsed.literal, &scratch));
}

test "Huffman is used only when strictly shorter" {
    var buffer: [16]u8 = undefined;
    // "302" codes to 2 bytes: shorter.
    try testing.expectEqual(@as(usize, 3), try encode(&buffer, "302", 7, 0));
    try testing.expect(buffer[0] & 0x80 != 0);
    // A single 'a' codes to one byte: equal, so raw.
    try testing.expectEqual(@as(usize, 2), try encode(&buffer, "a", 7, 0));
    try testing.expectEqual(@as(u8, 0x01), buffer[0]);
    // Control bytes code long: raw.
    try testing.expectEqual(@as(usize, 3), try encode(&buffer, "\x00\x01", 5, 0x40));
    try testing.expectEqual(@as(u8, 0x42), buffer[0]);
    try testing.expect(encodedLength("\x00\x01", 5) <= maxEncodedLength(2, 5));
}

test "a truncated literal is Incomplete" {
    try testing.expectError(error.Incomplete, parse(&.{ 0x03, 'a', 'b' }, 7));
    try testing.expectError(error.Incomplete, parse(&.{}, 7));
    try testing.expectError(error.Incomplete, parse(&.{0x7f}, 7));
}

test "encode reports NoSpace without writing past the buffer" {
    var buffer: [4]u8 = undefined;
    try testing.expectError(error.NoSpace, encode(&buffer, "abcdefgh-raw\x00", 7, 0));
}
