//! Field line representations (RFC 9204 §4.5.2-§4.5.6), the body of an
//! encoded field section. Parsing is pure and copies nothing; the decoder
//! resolves the indices against the static and dynamic tables.

const std = @import("std");
const assert = std.debug.assert;
const prefix_int = @import("prefix_int.zig");
const string_literal = @import("string_literal.zig");
const StringLiteral = string_literal.StringLiteral;

/// Where a line's entry (or just its name) comes from.
pub const Reference = union(enum) {
    static_index: u64,
    /// Relative to the Base, counting down: absolute = Base - 1 - index.
    relative_index: u64,
    /// After the Base, counting up: absolute = Base + index.
    post_base_index: u64,
};

pub const FieldLine = union(enum) {
    /// Indexed Field Line (static or dynamic) and its post-base form.
    indexed: Reference,
    /// Literal Field Line with Name Reference and its post-base form.
    name_reference: struct { name: Reference, value: StringLiteral, never_index: bool },
    /// Literal Field Line with Literal Name.
    literal_name: struct { name: StringLiteral, value: StringLiteral, never_index: bool },
};

pub const Parsed = struct {
    line: FieldLine,
    /// Bytes the line took.
    len: usize,
};

pub fn parse(bytes: []const u8) prefix_int.DecodeError!Parsed {
    if (bytes.len == 0) return error.Incomplete;
    const first = bytes[0];
    if (first & 0x80 != 0) return parseIndexed(bytes);
    if (first & 0x40 != 0) return parseNameReference(bytes);
    if (first & 0x20 != 0) return parseLiteralName(bytes);
    if (first & 0x10 != 0) return parseIndexedPostBase(bytes);
    return parseNameReferencePostBase(bytes);
}

/// 1 T Index(6+)
fn parseIndexed(bytes: []const u8) prefix_int.DecodeError!Parsed {
    const index = try prefix_int.decode(bytes, 6);
    const reference: Reference = if (bytes[0] & 0x40 != 0)
        .{ .static_index = index.value }
    else
        .{ .relative_index = index.value };
    return .{ .line = .{ .indexed = reference }, .len = index.len };
}

/// 0 0 0 1 Index(4+)
fn parseIndexedPostBase(bytes: []const u8) prefix_int.DecodeError!Parsed {
    const index = try prefix_int.decode(bytes, 4);
    return .{ .line = .{ .indexed = .{ .post_base_index = index.value } }, .len = index.len };
}

/// 0 1 N T NameIndex(4+) then the value (H, 7+).
fn parseNameReference(bytes: []const u8) prefix_int.DecodeError!Parsed {
    const index = try prefix_int.decode(bytes, 4);
    const value = try string_literal.parse(bytes[index.len..], 7);
    const name: Reference = if (bytes[0] & 0x10 != 0)
        .{ .static_index = index.value }
    else
        .{ .relative_index = index.value };
    return .{
        .line = .{ .name_reference = .{
            .name = name,
            .value = value.literal,
            .never_index = bytes[0] & 0x20 != 0,
        } },
        .len = index.len + value.len,
    };
}

/// 0 0 0 0 N NameIndex(3+) then the value (H, 7+).
fn parseNameReferencePostBase(bytes: []const u8) prefix_int.DecodeError!Parsed {
    const index = try prefix_int.decode(bytes, 3);
    const value = try string_literal.parse(bytes[index.len..], 7);
    return .{
        .line = .{ .name_reference = .{
            .name = .{ .post_base_index = index.value },
            .value = value.literal,
            .never_index = bytes[0] & 0x08 != 0,
        } },
        .len = index.len + value.len,
    };
}

/// 0 0 1 N H NameLength(3+) name, then the value (H, 7+).
fn parseLiteralName(bytes: []const u8) prefix_int.DecodeError!Parsed {
    const name = try string_literal.parse(bytes, 3);
    const value = try string_literal.parse(bytes[name.len..], 7);
    return .{
        .line = .{ .literal_name = .{
            .name = name.literal,
            .value = value.literal,
            .never_index = bytes[0] & 0x10 != 0,
        } },
        .len = name.len + value.len,
    };
}

/// Indexed Field Line, static table.
pub fn writeIndexedStatic(dst: []u8, index: u8) error{NoSpace}!usize {
    return prefix_int.encode(dst, index, 6, 0xc0);
}

/// Literal Field Line with Name Reference, static table, N=0.
pub fn writeStaticNameReference(dst: []u8, name_index: u8, value: []const u8) error{NoSpace}!usize {
    const index_len = try prefix_int.encode(dst, name_index, 4, 0x50);
    return index_len + try string_literal.encode(dst[index_len..], value, 7, 0);
}

/// Literal Field Line with Literal Name, N=0.
pub fn writeLiteralName(dst: []u8, name: []const u8, value: []const u8) error{NoSpace}!usize {
    const name_len = try string_literal.encode(dst, name, 3, 0x20);
    return name_len + try string_literal.encode(dst[name_len..], value, 7, 0);
}

const testing = std.testing;

test "each representation parses with its flags" {
    // c1: Indexed, static 1.
    try testing.expectEqual(@as(u64, 1), (try parse(&.{0xc1})).line.indexed.static_index);
    // 81: Indexed, dynamic relative 1.
    try testing.expectEqual(@as(u64, 1), (try parse(&.{0x81})).line.indexed.relative_index);
    // 11: Indexed post-base 1.
    try testing.expectEqual(@as(u64, 1), (try parse(&.{0x11})).line.indexed.post_base_index);

    // 51 0b "/index.html": name reference, static 1 (RFC 9204 B.1).
    const b1 = [_]u8{ 0x51, 0x0b } ++ "/index.html".*;
    const with_name = (try parse(&b1)).line.name_reference;
    try testing.expectEqual(@as(u64, 1), with_name.name.static_index);
    try testing.expectEqualStrings("/index.html", with_name.value.bytes);
    try testing.expect(!with_name.never_index);

    // 6f 00 01 'x': N=1, T=0, dynamic relative index 15 (prefix 15 + 0).
    const never = (try parse(&.{ 0x6f, 0x00, 0x01, 'x' })).line.name_reference;
    try testing.expectEqual(@as(u64, 15), never.name.relative_index);
    try testing.expect(never.never_index);

    // 0a 01 'y': post-base name reference 2, N=1.
    const post_base = (try parse(&.{ 0x0a, 0x01, 'y' })).line.name_reference;
    try testing.expectEqual(@as(u64, 2), post_base.name.post_base_index);
    try testing.expect(post_base.never_index);

    // 32 'a' 'b' 01 'c': literal name, N=1, raw.
    const literal = (try parse(&.{ 0x32, 'a', 'b', 0x01, 'c' })).line.literal_name;
    try testing.expectEqualStrings("ab", literal.name.bytes);
    try testing.expectEqualStrings("c", literal.value.bytes);
    try testing.expect(literal.never_index and !literal.name.huffman);
}

test "writers produce what the parser reads" {
    var buffer: [64]u8 = undefined;
    var len = try writeIndexedStatic(&buffer, 98);
    try testing.expectEqual(@as(u64, 98), (try parse(buffer[0..len])).line.indexed.static_index);
    len = try writeStaticNameReference(&buffer, 1, "/index.html");
    try testing.expectEqual(len, (try parse(buffer[0..len])).len);
    len = try writeLiteralName(&buffer, "x-custom", "hello");
    const parsed = (try parse(buffer[0..len])).line.literal_name;
    try testing.expect(parsed.name.huffman);
}

test "a truncated line is Incomplete" {
    const line = [_]u8{ 0x32, 'a', 'b', 0x01, 'c' };
    for (0..line.len) |len| try testing.expectError(error.Incomplete, parse(line[0..len]));
}
