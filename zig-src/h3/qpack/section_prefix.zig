//! The encoded field section prefix (RFC 9204 §4.5.1): the Required Insert
//! Count, sent modulo 2 * MaxEntries so that it fits a byte or two, and the
//! Base, sent as a signed delta from it.

const std = @import("std");
const assert = std.debug.assert;
const prefix_int = @import("prefix_int.zig");
const dynamic_table = @import("dynamic_table.zig");

pub const Prefix = struct {
    required_insert_count: u64,
    base: u64,
    /// Bytes the prefix took.
    len: usize,
};

pub const ParseError = error{
    /// The block ends inside the prefix or an integer overflows.
    Malformed,
    /// The values decode to something no valid encoder can send.
    Invalid,
};

/// MaxEntries of RFC 9204 §3.2.3: the most entries a table of the maximum
/// capacity we advertised can hold.
pub fn maxEntries(max_table_capacity_bytes: u64) u64 {
    return max_table_capacity_bytes / dynamic_table.entry_overhead_bytes;
}

/// RFC 9204 §4.5.1.1: recovers the Required Insert Count from its wire form,
/// given how many inserts this decoder has seen so far.
pub fn decodeRequiredInsertCount(encoded: u64, max_entries: u64, total_inserts: u64) error{Invalid}!u64 {
    if (encoded == 0) return 0;
    const full_range = 2 * max_entries;
    if (encoded > full_range) return error.Invalid;
    const max_value = total_inserts + max_entries;
    const max_wrapped = (max_value / full_range) * full_range;
    var required = max_wrapped + encoded - 1;
    if (required > max_value) {
        if (required <= full_range) return error.Invalid;
        required -= full_range;
    }
    // Zero is sent as the encoded value 0, never as a wrapped one.
    if (required == 0) return error.Invalid;
    return required;
}

pub fn encodeRequiredInsertCount(required_insert_count: u64, max_entries: u64) u64 {
    if (required_insert_count == 0) return 0;
    assert(max_entries > 0);
    return required_insert_count % (2 * max_entries) + 1;
}

pub fn parse(block: []const u8, max_entries: u64, total_inserts: u64) ParseError!Prefix {
    const encoded = prefix_int.decode(block, 8) catch return error.Malformed;
    const required = try decodeRequiredInsertCount(encoded.value, max_entries, total_inserts);
    const rest = block[encoded.len..];
    const delta = prefix_int.decode(rest, 7) catch return error.Malformed;
    const negative = rest[0] & 0x80 != 0;
    const base = if (negative) blk: {
        // Base = RIC - DeltaBase - 1 must not go below zero.
        if (delta.value >= required) return error.Invalid;
        break :blk required - delta.value - 1;
    } else required + delta.value;
    return .{ .required_insert_count = required, .base = base, .len = encoded.len + delta.len };
}

/// Writes a prefix. With `required_insert_count` 0 the base must be 0 too.
pub fn encode(dst: []u8, required_insert_count: u64, base: u64, max_entries: u64) error{NoSpace}!usize {
    assert(required_insert_count != 0 or base == 0);
    const encoded = encodeRequiredInsertCount(required_insert_count, max_entries);
    const first_len = try prefix_int.encode(dst, encoded, 8, 0);
    const second_len = if (base >= required_insert_count)
        try prefix_int.encode(dst[first_len..], base - required_insert_count, 7, 0)
    else
        try prefix_int.encode(dst[first_len..], required_insert_count - base - 1, 7, 0x80);
    return first_len + second_len;
}

const testing = std.testing;

test "RFC 9204 Appendix B prefixes" {
    // B.1: no dynamic references.
    const b1 = try parse(&.{ 0x00, 0x00 }, maxEntries(220), 0);
    try testing.expectEqual(@as(u64, 0), b1.required_insert_count);
    try testing.expectEqual(@as(u64, 0), b1.base);
    // B.2: Required Insert Count 2, Base 0 (sign bit set, delta 1).
    const b2 = try parse(&.{ 0x03, 0x81 }, maxEntries(220), 2);
    try testing.expectEqual(@as(u64, 2), b2.required_insert_count);
    try testing.expectEqual(@as(u64, 0), b2.base);
    // B.4: Required Insert Count 4, Base 4.
    const b4 = try parse(&.{ 0x05, 0x00 }, maxEntries(220), 4);
    try testing.expectEqual(@as(u64, 4), b4.required_insert_count);
    try testing.expectEqual(@as(u64, 4), b4.base);

    var buffer: [4]u8 = undefined;
    try testing.expectEqualSlices(u8, &.{ 0x03, 0x81 }, buffer[0..try encode(&buffer, 2, 0, maxEntries(220))]);
    try testing.expectEqualSlices(u8, &.{ 0x05, 0x00 }, buffer[0..try encode(&buffer, 4, 4, maxEntries(220))]);
    try testing.expectEqualSlices(u8, &.{ 0x00, 0x00 }, buffer[0..try encode(&buffer, 0, 0, maxEntries(220))]);
}

test "the wrapped Required Insert Count decodes for every nearby insert count" {
    const max_entries = maxEntries(4096); // 128
    var required: u64 = 1;
    while (required < 1000) : (required += 1) {
        const encoded = encodeRequiredInsertCount(required, max_entries);
        // The decoder may be up to MaxEntries inserts behind (blocked) and,
        // because entry required - 1 must still be live, fewer than
        // MaxEntries ahead; the value is recoverable anywhere in that window
        // (RFC 9204 §4.5.1.1).
        var total_inserts = if (required > max_entries) required - max_entries else 0;
        while (total_inserts < required + max_entries) : (total_inserts += 17) {
            const decoded = decodeRequiredInsertCount(encoded, max_entries, total_inserts) catch |err| {
                // Only possible while the decoder is far behind the start.
                try testing.expect(err == error.Invalid and total_inserts < max_entries);
                continue;
            };
            try testing.expectEqual(required, decoded);
        }
    }
}

test "invalid Required Insert Count encodings" {
    // No dynamic table: any nonzero value is invalid.
    try testing.expectError(error.Invalid, decodeRequiredInsertCount(1, 0, 0));
    // Beyond 2 * MaxEntries.
    try testing.expectError(error.Invalid, decodeRequiredInsertCount(2 * 6 + 1, 6, 0));
    // Decodes above MaxValue but within the first range: impossible.
    try testing.expectError(error.Invalid, decodeRequiredInsertCount(10, 6, 0));
    // Encoded 1 with nothing to wrap around decodes to zero, which has its
    // own encoding.
    try testing.expectError(error.Invalid, decodeRequiredInsertCount(1, 6, 0));
    try testing.expectEqual(@as(u64, 12), try decodeRequiredInsertCount(1, 6, 12));
}

test "a negative Base below zero and truncated prefixes are rejected" {
    try testing.expectError(error.Invalid, parse(&.{ 0x03, 0x82 }, maxEntries(220), 2));
    try testing.expectError(error.Malformed, parse(&.{}, maxEntries(220), 0));
    try testing.expectError(error.Malformed, parse(&.{0x00}, maxEntries(220), 0));
    try testing.expectError(error.Malformed, parse(&.{ 0xff, 0xff }, maxEntries(220), 0));
}
