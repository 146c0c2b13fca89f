//! Encoder stream instructions (RFC 9204 §4.3): what the peer's encoder
//! sends to change our copy of its dynamic table. Parsing is pure and works
//! on whatever bytes have arrived: `error.Incomplete` means "wait for more".
//! The writers exist for tests, fuzzers and a future dynamic-table encoder.

const std = @import("std");
const assert = std.debug.assert;
const prefix_int = @import("prefix_int.zig");
const string_literal = @import("string_literal.zig");
const StringLiteral = string_literal.StringLiteral;

pub const NameSource = union(enum) {
    /// Insert With Name Reference, T=1.
    static_index: u64,
    /// Insert With Name Reference, T=0: relative to the insert count.
    relative_index: u64,
    /// Insert With Literal Name.
    literal: StringLiteral,
};

pub const Instruction = union(enum) {
    set_capacity: u64,
    insert: struct { name: NameSource, value: StringLiteral },
    /// Relative to the insert count.
    duplicate: u64,
};

pub const Parsed = struct {
    instruction: Instruction,
    /// Bytes the instruction took.
    len: usize,
};

pub fn parse(bytes: []const u8) prefix_int.DecodeError!Parsed {
    if (bytes.len == 0) return error.Incomplete;
    const first = bytes[0];
    if (first & 0x80 != 0) return parseInsertWithNameReference(bytes);
    if (first & 0x40 != 0) return parseInsertWithLiteralName(bytes);
    const integer = try prefix_int.decode(bytes, 5);
    const instruction: Instruction = if (first & 0x20 != 0)
        .{ .set_capacity = integer.value }
    else
        .{ .duplicate = integer.value };
    return .{ .instruction = instruction, .len = integer.len };
}

/// 1 T Index(6+) then the value (H, 7+).
fn parseInsertWithNameReference(bytes: []const u8) prefix_int.DecodeError!Parsed {
    const index = try prefix_int.decode(bytes, 6);
    const value = try string_literal.parse(bytes[index.len..], 7);
    const name: NameSource = if (bytes[0] & 0x40 != 0)
        .{ .static_index = index.value }
    else
        .{ .relative_index = index.value };
    return .{
        .instruction = .{ .insert = .{ .name = name, .value = value.literal } },
        .len = index.len + value.len,
    };
}

/// 0 1 H NameLength(5+) name, then the value (H, 7+).
fn parseInsertWithLiteralName(bytes: []const u8) prefix_int.DecodeError!Parsed {
    const name = try string_literal.parse(bytes, 5);
    const value = try string_literal.parse(bytes[name.len..], 7);
    return .{
        .instruction = .{ .insert = .{ .name = .{ .literal = name.literal }, .value = value.literal } },
        .len = name.len + value.len,
    };
}

/// A lower bound on the length of the instruction that `bytes` begins, for
/// an instruction `parse` found incomplete, from whatever length fields have
/// arrived. It lets the decoder refuse an oversized instruction as soon as
/// its declared lengths show it, instead of buffering up to the limit first.
pub fn lengthLowerBound(bytes: []const u8) u64 {
    const next_byte = @as(u64, bytes.len) + 1;
    if (bytes.len == 0) return 1;
    const first = bytes[0];
    // Set Dynamic Table Capacity and Duplicate are one integer.
    if (first & 0xc0 == 0) return next_byte;
    var value_offset: u64 = 0;
    if (first & 0x80 != 0) {
        const index = prefix_int.decode(bytes, 6) catch return next_byte;
        value_offset = index.len;
    } else {
        const name_len = prefix_int.decode(bytes, 5) catch return next_byte;
        value_offset = name_len.len + name_len.value;
        if (value_offset >= bytes.len) return value_offset + 1;
    }
    const value_len = prefix_int.decode(bytes[@intCast(value_offset)..], 7) catch return next_byte;
    return value_offset + value_len.len + value_len.value;
}

pub fn writeSetCapacity(dst: []u8, capacity_bytes: u64) error{NoSpace}!usize {
    return prefix_int.encode(dst, capacity_bytes, 5, 0x20);
}

pub fn writeDuplicate(dst: []u8, relative_index: u64) error{NoSpace}!usize {
    return prefix_int.encode(dst, relative_index, 5, 0x00);
}

pub const NameReference = union(enum) { static_index: u64, relative_index: u64 };

pub fn writeInsertWithNameReference(dst: []u8, name: NameReference, value: []const u8) error{NoSpace}!usize {
    const index_len = switch (name) {
        .static_index => |index| try prefix_int.encode(dst, index, 6, 0xc0),
        .relative_index => |index| try prefix_int.encode(dst, index, 6, 0x80),
    };
    return index_len + try string_literal.encode(dst[index_len..], value, 7, 0);
}

pub fn writeInsertWithLiteralName(dst: []u8, name: []const u8, value: []const u8) error{NoSpace}!usize {
    const name_len = try string_literal.encode(dst, name, 5, 0x40);
    return name_len + try string_literal.encode(dst[name_len..], value, 7, 0);
}

const testing = std.testing;

fn hex(comptime text: []const u8) [text.len / 2]u8 {
    var bytes: [text.len / 2]u8 = undefined;
    _ = std.fmt.hexToBytes(&bytes, text) catch unreachable;
    return bytes;
}

test "RFC 9204 B.2 encoder stream instructions parse" {
    const stream = hex("3fbd01" ++ "c00f7777772e6578616d706c652e636f6d" ++ "c10c2f73616d706c652f70617468");
    const first = try parse(&stream);
    try testing.expectEqual(@as(u64, 220), first.instruction.set_capacity);
    try testing.expectEqual(@as(usize, 3), first.len);

    const second = try parse(stream[first.len..]);
    try testing.expectEqual(@as(u64, 0), second.instruction.insert.name.static_index);
    try testing.expectEqualStrings("www.example.com", second.instruction.insert.value.bytes);

    const third = try parse(stream[first.len + second.len ..]);
    try testing.expectEqual(@as(u64, 1), third.instruction.insert.name.static_index);
    try testing.expectEqualStrings("/sample/path", third.instruction.insert.value.bytes);
    try testing.expectEqual(stream.len, first.len + second.len + third.len);
}

test "RFC 9204 B.3-B.5 literal name, duplicate and dynamic name reference" {
    const literal = hex("4a637573746f6d2d6b65790c637573746f6d2d76616c7565");
    const parsed = try parse(&literal);
    try testing.expectEqualStrings("custom-key", parsed.instruction.insert.name.literal.bytes);
    try testing.expectEqualStrings("custom-value", parsed.instruction.insert.value.bytes);
    try testing.expectEqual(literal.len, parsed.len);

    try testing.expectEqual(@as(u64, 2), (try parse(&.{0x02})).instruction.duplicate);

    const dynamic = hex("810d637573746f6d2d76616c756532");
    const reference = try parse(&dynamic);
    try testing.expectEqual(@as(u64, 1), reference.instruction.insert.name.relative_index);
    try testing.expectEqualStrings("custom-value2", reference.instruction.insert.value.bytes);
}

test "every prefix of an instruction is Incomplete" {
    const literal = hex("4a637573746f6d2d6b65790c637573746f6d2d76616c7565");
    for (0..literal.len) |len| {
        try testing.expectError(error.Incomplete, parse(literal[0..len]));
    }
}

test "the length lower bound grows with the declared lengths" {
    const literal = hex("4a637573746f6d2d6b65790c637573746f6d2d76616c7565");
    for (0..literal.len) |len| {
        const bound = lengthLowerBound(literal[0..len]);
        try testing.expect(bound > len and bound <= literal.len);
    }
    // Once the name length is known, the bound includes the name.
    try testing.expectEqual(@as(u64, 12), lengthLowerBound(literal[0..1]));
    // Once the value length is known, it is exact.
    try testing.expectEqual(@as(u64, literal.len), lengthLowerBound(literal[0..12]));
    // A declared length of about a megabyte shows at once.
    try testing.expect(lengthLowerBound(&hex("5fe1ff3f")) > 1_000_000);
}

test "writers produce what the parser reads" {
    var buffer: [64]u8 = undefined;
    var len = try writeSetCapacity(&buffer, 220);
    try testing.expectEqualSlices(u8, &hex("3fbd01"), buffer[0..len]);
    len = try writeDuplicate(&buffer, 2);
    try testing.expectEqualSlices(u8, &.{0x02}, buffer[0..len]);
    len = try writeInsertWithNameReference(&buffer, .{ .relative_index = 1 }, "v");
    try testing.expectEqual(@as(u64, 1), (try parse(buffer[0..len])).instruction.insert.name.relative_index);
    len = try writeInsertWithNameReference(&buffer, .{ .static_index = 98 }, "sameorigin");
    try testing.expectEqual(@as(u64, 98), (try parse(buffer[0..len])).instruction.insert.name.static_index);
    len = try writeInsertWithLiteralName(&buffer, "custom-key", "custom-value");
    const parsed = try parse(buffer[0..len]);
    try testing.expect(parsed.instruction.insert.name.literal.huffman);
    try testing.expectEqual(len, parsed.len);
    try testing.expectError(error.NoSpace, writeInsertWithLiteralName(buffer[0..5], "custom-key", "x"));
}
