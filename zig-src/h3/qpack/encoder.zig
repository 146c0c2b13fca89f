//! Our QPACK encoder: static table and literals only. We never insert into
//! the peer's dynamic table, so every section has Required Insert Count 0
//! and Base 0 (the prefix 0x00 0x00), nothing can block at the peer, and
//! there is no encoder stream state to keep (RFC 9204 §2.1).
//!
//! For each field: an exact static match is an Indexed Field Line; a static
//! name match is a Literal Field Line with Name Reference; anything else is
//! a Literal Field Line with Literal Name. Strings are Huffman-coded only
//! when that is strictly shorter.

const std = @import("std");
const assert = std.debug.assert;
const prefix_int = @import("prefix_int.zig");
const static_table = @import("static_table.zig");
const string_literal = @import("string_literal.zig");
const field_line = @import("field_line.zig");

/// Required Insert Count 0, Base 0.
pub const section_prefix_bytes = [2]u8{ 0x00, 0x00 };

/// An upper bound on the bytes `FieldSectionWriter.add` writes for one field,
/// so callers can size buffers: the literal-name form with raw strings is the
/// longest any field can take (a name reference replaces a name of at least
/// three bytes by at most two, and Huffman is only used when shorter).
pub fn maxEncodedLength(name_len: usize, value_len: usize) usize {
    return string_literal.maxEncodedLength(name_len, 3) + string_literal.maxEncodedLength(value_len, 7);
}

comptime {
    // The name-reference forms must stay within the bound: a two-byte index
    // against the shortest static name ("age", "etag", ... at least 3 bytes)
    // plus its literal-name prefix byte.
    var shortest_name: usize = std.math.maxInt(usize);
    for (static_table.entries) |entry| shortest_name = @min(shortest_name, entry.name.len);
    assert(prefix_int.encodedLength(static_table.entry_count - 1, 4) <= shortest_name + 1);
}

pub const FieldSectionWriter = struct {
    dst: []u8,
    len: usize,

    /// Starts a section in `dst`, which must hold at least the two prefix
    /// bytes.
    pub fn init(dst: []u8) FieldSectionWriter {
        assert(dst.len >= section_prefix_bytes.len);
        @memcpy(dst[0..section_prefix_bytes.len], &section_prefix_bytes);
        return .{ .dst = dst, .len = section_prefix_bytes.len };
    }

    /// Appends one field. Names must be lowercase (HTTP/3 forbids
    /// uppercase names on the wire; the caller lowercases them). On NoSpace
    /// nothing of the field is kept, so the section is still valid.
    pub fn add(self: *FieldSectionWriter, name: []const u8, value: []const u8) error{NoSpace}!void {
        if (std.debug.runtime_safety) assertLowercase(name);
        const rest = self.dst[self.len..];
        const written = if (static_table.find(name, value)) |match|
            if (match.value_matches)
                try field_line.writeIndexedStatic(rest, match.index)
            else
                try field_line.writeStaticNameReference(rest, match.index, value)
        else
            try field_line.writeLiteralName(rest, name, value);
        assert(written <= maxEncodedLength(name.len, value.len));
        self.len += written;
    }

    /// The encoded section so far: the HEADERS frame payload.
    pub fn finish(self: *FieldSectionWriter) []u8 {
        assert(self.len >= section_prefix_bytes.len and self.len <= self.dst.len);
        return self.dst[0..self.len];
    }

    fn assertLowercase(name: []const u8) void {
        for (name) |char| assert(!std.ascii.isUpper(char));
    }
};

const testing = std.testing;
const Decoder = @import("decoder.zig").Decoder;
const FieldList = @import("test_fields.zig").FieldList;
const TestField = @import("test_fields.zig").Field;

fn expectRoundtrip(fields: []const TestField) !void {
    var buffer: [4096]u8 = undefined;
    var writer = FieldSectionWriter.init(&buffer);
    var bound: usize = section_prefix_bytes.len;
    for (fields) |field| {
        try writer.add(field.name, field.value);
        bound += maxEncodedLength(field.name.len, field.value.len);
    }
    const section = writer.finish();
    try testing.expect(section.len <= bound);

    var decoder = Decoder.init(testing.allocator, 0, 0);
    defer decoder.deinit();
    var decoded = FieldList{};
    var scratch: [1024]u8 = undefined;
    const status = try decoder.decodeFieldSection(0, section, &scratch, &decoded, FieldList.onField);
    try testing.expectEqual(.done, status);
    try decoded.expectEqual(fields);
    try testing.expectEqual(@as(usize, 0), decoder.pendingDecoderStream().len);
}

test "a realistic response roundtrips through the decoder" {
    try expectRoundtrip(&.{
        .{ .name = ":status", .value = "200" },
        .{ .name = "content-type", .value = "text/plain" },
        .{ .name = "content-length", .value = "15" },
        .{ .name = "x-request-trace", .value = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01; sampled=yes; region=eu-west" },
    });
}

test "the chosen representations and their bytes" {
    var buffer: [128]u8 = undefined;
    var writer = FieldSectionWriter.init(&buffer);
    try writer.add(":status", "200"); // Indexed static 25: c0 | 25 = d9.
    try writer.add("content-type", "text/plain"); // Indexed static 53: f5.
    try writer.add(":status", "201"); // Name reference static 24: 5f 09 (15 + 9).
    try writer.add("x-a", "b"); // Literal name.
    const section = writer.finish();
    try testing.expectEqualSlices(u8, &.{ 0x00, 0x00, 0xd9, 0xf5 }, section[0..4]);
    try testing.expectEqualSlices(u8, &.{ 0x5f, 0x09 }, section[4..6]);
    // "201" Huffman: 3 bytes raw vs 2 coded.
    try testing.expectEqual(@as(u8, 0x82), section[6]);
    // Literal name "x-a": 3 bytes raw vs 3 coded (not shorter): raw, 0x23.
    try testing.expectEqual(@as(u8, 0x23), section[9]);
    try testing.expectEqualStrings("x-a", section[10..13]);
    try testing.expectEqualSlices(u8, &.{ 0x01, 'b' }, section[13..15]);
    try testing.expectEqual(@as(usize, 15), section.len);
}

test "RFC 9204 B.1's field gets the same name reference, with a shorter Huffman value" {
    var buffer: [32]u8 = undefined;
    var writer = FieldSectionWriter.init(&buffer);
    // "/index.html" Huffman-codes to 8 bytes, so ours uses Huffman where the
    // RFC example uses raw; the name reference is the same (51).
    try writer.add(":path", "/index.html");
    const section = writer.finish();
    try testing.expectEqualSlices(u8, &.{ 0x00, 0x00, 0x51, 0x88 }, section[0..4]);
}

test "NoSpace keeps the section valid and unchanged" {
    var buffer: [16]u8 = undefined;
    var writer = FieldSectionWriter.init(&buffer);
    try writer.add(":status", "200");
    const before = writer.len;
    try testing.expectError(error.NoSpace, writer.add("x-long-header-name", "with a long value"));
    try testing.expectEqual(before, writer.len);
    try testing.expectEqualSlices(u8, &.{ 0x00, 0x00, 0xd9 }, writer.finish());
}

test "fields with every byte value, empty values and long strings roundtrip" {
    var all_bytes: [256]u8 = undefined;
    for (&all_bytes, 0..) |*byte, value| byte.* = @intCast(value);
    const long_value = "v" ** 300;
    try expectRoundtrip(&.{
        .{ .name = ":method", .value = "GET" },
        .{ .name = ":scheme", .value = "https" },
        .{ .name = ":authority", .value = "example.com" },
        .{ .name = ":path", .value = "/" },
        .{ .name = "cookie", .value = "" },
        .{ .name = "x-binary", .value = &all_bytes },
        .{ .name = "x-long", .value = long_value },
        .{ .name = "", .value = "" },
        .{ .name = "user-agent", .value = "zig-quiche-h3 test" },
    });
}

test "maxEncodedLength covers every static name with incompressible values" {
    var buffer: [512]u8 = undefined;
    const value = "\x00\x01\x02\x03";
    for (static_table.entries) |entry| {
        var writer = FieldSectionWriter.init(&buffer);
        try writer.add(entry.name, value);
        try testing.expect(writer.len - 2 <= maxEncodedLength(entry.name.len, value.len));
        writer = FieldSectionWriter.init(&buffer);
        try writer.add(entry.name, entry.value);
        try testing.expect(writer.len - 2 <= maxEncodedLength(entry.name.len, entry.value.len));
    }
}
