//! Unit tests of the QPACK decoder (decoder.zig): RFC 9204 Appendix B,
//! blocked sections, encoder-stream errors and the lazily allocated state.

const std = @import("std");
const decoder_mod = @import("decoder.zig");
const Decoder = decoder_mod.Decoder;
const Field = decoder_mod.Field;
const SectionStatus = decoder_mod.SectionStatus;
const field_line = @import("field_line.zig");
const testing = std.testing;
const FieldList = @import("test_fields.zig").FieldList;

fn hex(comptime text: []const u8) [text.len / 2]u8 {
    var bytes: [text.len / 2]u8 = undefined;
    _ = std.fmt.hexToBytes(&bytes, text) catch unreachable;
    return bytes;
}

fn expectDecoded(decoder: *Decoder, stream_id: u64, block: []const u8, expected: []const Field) !void {
    var fields = FieldList{};
    var scratch: [256]u8 = undefined;
    const status = try decoder.decodeFieldSection(stream_id, block, &scratch, &fields, FieldList.onField);
    try testing.expectEqual(SectionStatus.done, status);
    var expected_fields: [16]@import("test_fields.zig").Field = undefined;
    for (expected, 0..) |field, index| expected_fields[index] = .{ .name = field.name, .value = field.value };
    try fields.expectEqual(expected_fields[0..expected.len]);
}

fn expectPending(decoder: *Decoder, expected: []const u8) !void {
    try testing.expectEqualSlices(u8, expected, decoder.pendingDecoderStream());
    decoder.consumeDecoderStream(expected.len);
}

fn expectEntry(decoder: *const Decoder, absolute_index: u64, name: []const u8, value: []const u8) !void {
    const entry = decoder.table.get(absolute_index) orelse return error.TestExpectedEntry;
    try testing.expectEqualStrings(name, entry.name);
    try testing.expectEqualStrings(value, entry.value);
}

// The encoder stream bytes of RFC 9204 Appendix B.2-B.5.
const b2_encoder_stream = hex("3fbd01" ++ "c00f7777772e6578616d706c652e636f6d" ++ "c10c2f73616d706c652f70617468");
const b3_encoder_stream = hex("4a637573746f6d2d6b65790c637573746f6d2d76616c7565");
const b4_encoder_stream = hex("02");
const b5_encoder_stream = hex("810d637573746f6d2d76616c756532");

test "RFC 9204 Appendix B.1-B.5, with the decoder stream bytes" {
    // The examples' SETTINGS_QPACK_MAX_TABLE_CAPACITY is 220 (MaxEntries 6).
    var decoder = Decoder.init(testing.allocator, 220, 100);
    defer decoder.deinit();

    // B.1: a literal with a static name reference; no dynamic state.
    try expectDecoded(&decoder, 0, &hex("0000510b2f696e6465782e68746d6c"), &.{
        .{ .name = ":path", .value = "/index.html" },
    });
    try expectPending(&decoder, "");

    // B.2: two inserts, then a section on stream 4 with post-base indices.
    // Our decoder reports the inserts at once (02); the acknowledgment that
    // follows covers them, so the increment is folded into it and the stream
    // carries exactly the RFC's `84`.
    try decoder.onEncoderStream(&b2_encoder_stream);
    try testing.expectEqual(@as(u32, 106), decoder.table.size_bytes);
    try testing.expectEqualSlices(u8, &.{0x02}, decoder.pendingDecoderStream());
    try expectDecoded(&decoder, 4, &hex("03811011"), &.{
        .{ .name = ":authority", .value = "www.example.com" },
        .{ .name = ":path", .value = "/sample/path" },
    });
    try expectPending(&decoder, &.{0x84});

    // B.3: a speculative insert, acknowledged by Insert Count Increment (1).
    try decoder.onEncoderStream(&b3_encoder_stream);
    try testing.expectEqual(@as(u32, 160), decoder.table.size_bytes);
    try expectEntry(&decoder, 2, "custom-key", "custom-value");
    try expectPending(&decoder, &.{0x01});

    // B.4: Duplicate, then stream 8 references it. The RFC's decoder sends
    // no increment for the duplicate and cancels stream 8 rather than
    // acknowledging it; ours reports the insert (01), replaces that by the
    // Section Acknowledgment for stream 8 (88) once the section is decoded,
    // and a cancellation of stream 8 is exactly the RFC's `48`.
    try decoder.onEncoderStream(&b4_encoder_stream);
    try testing.expectEqual(@as(u32, 217), decoder.table.size_bytes);
    try expectEntry(&decoder, 3, ":authority", "www.example.com");
    try testing.expectEqualSlices(u8, &.{0x01}, decoder.pendingDecoderStream());
    try expectDecoded(&decoder, 8, &hex("050080c181"), &.{
        .{ .name = ":authority", .value = "www.example.com" },
        .{ .name = ":path", .value = "/" },
        .{ .name = "custom-key", .value = "custom-value" },
    });
    try expectPending(&decoder, &.{0x88});
    decoder.cancelStream(8);
    try expectPending(&decoder, &.{0x48});

    // B.5: insert with a dynamic name reference evicts entry 0.
    try decoder.onEncoderStream(&b5_encoder_stream);
    try testing.expectEqual(@as(u32, 215), decoder.table.size_bytes);
    try testing.expectEqual(@as(u64, 5), decoder.insertCount());
    try testing.expect(decoder.table.get(0) == null);
    try expectEntry(&decoder, 1, ":path", "/sample/path");
    try expectEntry(&decoder, 2, "custom-key", "custom-value");
    try expectEntry(&decoder, 3, ":authority", "www.example.com");
    try expectEntry(&decoder, 4, "custom-key", "custom-value2");
    try expectPending(&decoder, &.{0x01});
}

test "the Appendix B encoder stream gives the same table fed one byte at a time" {
    var decoder = Decoder.init(testing.allocator, 220, 0);
    defer decoder.deinit();
    const stream = b2_encoder_stream ++ b3_encoder_stream ++ b4_encoder_stream ++ b5_encoder_stream;
    for (0..stream.len) |index| try decoder.onEncoderStream(stream[index..][0..1]);
    try testing.expectEqual(@as(u64, 5), decoder.insertCount());
    try testing.expectEqual(@as(u32, 215), decoder.table.size_bytes);
    try expectEntry(&decoder, 4, "custom-key", "custom-value2");
    try expectEntry(&decoder, 1, ":path", "/sample/path");
    // One increment for all five inserts, merged while not taken.
    try expectPending(&decoder, &.{0x05});
}

test "a section waiting for inserts is blocked, then decodes" {
    var decoder = Decoder.init(testing.allocator, 220, 1);
    defer decoder.deinit();
    var fields = FieldList{};
    var scratch: [64]u8 = undefined;
    const block = hex("03811011");
    try testing.expectEqual(SectionStatus.blocked, try decoder.decodeFieldSection(4, &block, &scratch, &fields, FieldList.onField));
    try testing.expectEqual(@as(usize, 0), fields.count);
    try testing.expectEqual(@as(usize, 1), decoder.blockedStreamCount());
    // Asking again while still blocked does not count the stream twice.
    try decoder.onEncoderStream(b2_encoder_stream[0..20]);
    try testing.expectEqual(SectionStatus.blocked, try decoder.decodeFieldSection(4, &block, &scratch, &fields, FieldList.onField));
    try testing.expectEqual(@as(usize, 1), decoder.blockedStreamCount());

    try decoder.onEncoderStream(b2_encoder_stream[20..]);
    try testing.expectEqual(SectionStatus.done, try decoder.decodeFieldSection(4, &block, &scratch, &fields, FieldList.onField));
    try testing.expectEqual(@as(usize, 0), decoder.blockedStreamCount());
    try fields.expectEqual(&.{
        .{ .name = ":authority", .value = "www.example.com" },
        .{ .name = ":path", .value = "/sample/path" },
    });
    try expectPending(&decoder, &.{0x84});
}

test "more blocked streams than advertised is BlockedLimit; cancelling frees a place" {
    var decoder = Decoder.init(testing.allocator, 220, 2);
    defer decoder.deinit();
    var fields = FieldList{};
    var scratch: [64]u8 = undefined;
    const block = hex("03811011");
    try testing.expectEqual(SectionStatus.blocked, try decoder.decodeFieldSection(0, &block, &scratch, &fields, FieldList.onField));
    try testing.expectEqual(SectionStatus.blocked, try decoder.decodeFieldSection(4, &block, &scratch, &fields, FieldList.onField));
    try testing.expectError(error.BlockedLimit, decoder.decodeFieldSection(8, &block, &scratch, &fields, FieldList.onField));
    decoder.cancelStream(0);
    try testing.expectEqual(@as(usize, 1), decoder.blockedStreamCount());
    try expectPending(&decoder, &.{0x40});
    try testing.expectEqual(SectionStatus.blocked, try decoder.decodeFieldSection(8, &block, &scratch, &fields, FieldList.onField));

    var no_blocking = Decoder.init(testing.allocator, 220, 0);
    defer no_blocking.deinit();
    try testing.expectError(error.BlockedLimit, no_blocking.decodeFieldSection(0, &block, &scratch, &fields, FieldList.onField));
}

test "sections may still use inserts that preceded an encoder stream error" {
    var decoder = Decoder.init(testing.allocator, 220, 0);
    defer decoder.deinit();
    try testing.expectError(error.EncoderStreamError, decoder.onEncoderStream(&(b2_encoder_stream ++ hex("05"))));
    try testing.expectEqual(@as(u64, 2), decoder.insertCount());
    try expectDecoded(&decoder, 4, &hex("03811011"), &.{
        .{ .name = ":authority", .value = "www.example.com" },
        .{ .name = ":path", .value = "/sample/path" },
    });
    try expectPending(&decoder, &.{0x84});
}

test "a capacity above the advertised maximum is an encoder stream error, and stays one" {
    var decoder = Decoder.init(testing.allocator, 220, 0);
    defer decoder.deinit();
    try decoder.onEncoderStream(&hex("3fbd01")); // 220: allowed.
    try testing.expectError(error.EncoderStreamError, decoder.onEncoderStream(&hex("3fbe01"))); // 221
    try testing.expectError(error.EncoderStreamError, decoder.onEncoderStream(&hex("3fbd01")));
}

test "encoder stream errors: bad references, oversized entries and instructions" {
    const cases = [_][]const u8{
        // Static name index 99 does not exist.
        &hex("3fbd01" ++ "ff2401" ++ "61"),
        // Dynamic name reference into an empty table.
        &hex("3fbd01" ++ "800161"),
        // Duplicate of an entry never inserted.
        &hex("3fbd01" ++ "00"),
        // An entry larger than the capacity (capacity 40, entry 3 + 6 + 32).
        &hex("3f09" ++ "43616263" ++ "06616263646566"),
        // A literal name of 2^20 bytes: beyond any table we allow.
        &hex("3fbd01" ++ "5fe1ff3f"),
        // Huffman value that contains EOS.
        &hex("3fbd01" ++ "c084ffffffff"),
        // A length integer that overflows.
        &hex("3fbd01" ++ "c0ffffffffffffffffffffff01"),
    };
    for (cases) |stream| {
        var decoder = Decoder.init(testing.allocator, 220, 0);
        defer decoder.deinit();
        try testing.expectError(error.EncoderStreamError, decoder.onEncoderStream(stream));
    }
}

test "field section errors: out-of-range static index, evicted and unannounced entries, bad Huffman" {
    var decoder = Decoder.init(testing.allocator, 220, 10);
    defer decoder.deinit();
    try decoder.onEncoderStream(&(b2_encoder_stream ++ b3_encoder_stream ++ b4_encoder_stream ++ b5_encoder_stream));
    var fields = FieldList{};
    var scratch: [64]u8 = undefined;
    const failing = [_][]const u8{
        // Indexed static 99.
        &hex("0000ff24"),
        // Literal with static name reference 99.
        &hex("00005f540161"),
        // Required Insert Count 5, Base 5, relative index 4 = absolute 0:
        // evicted.
        &hex("060084"),
        // Required Insert Count 2 but a reference to absolute 3 (post-base
        // 1 from Base 2): at or above the Required Insert Count.
        &hex("030011"),
        // Relative index past the Base.
        &hex("038180"),
        // Encoded Required Insert Count beyond 2 * MaxEntries.
        &hex("0e00"),
        // Base below zero.
        &hex("0385"),
        // Truncated prefix and truncated line.
        &hex("00"),
        &hex("0000510b2f69"),
        // Huffman value with bad padding ('a' padded with zeros).
        &hex("00005f008118"),
        // Dynamic reference with Required Insert Count 0.
        &hex("000080"),
    };
    for (failing) |block| {
        try testing.expectError(error.DecompressionFailed, decoder.decodeFieldSection(0, block, &scratch, &fields, FieldList.onField));
    }
}

test "a Huffman string larger than the scratch buffer is FieldsTooLarge" {
    var decoder = Decoder.init(testing.allocator, 0, 0);
    defer decoder.deinit();
    var block: [64]u8 = undefined;
    block[0] = 0;
    block[1] = 0;
    const len = try field_line.writeLiteralName(block[2..], "x-custom-header", "www.example.com");
    var fields = FieldList{};
    var small: [20]u8 = undefined;
    try testing.expectError(error.FieldsTooLarge, decoder.decodeFieldSection(0, block[0 .. 2 + len], &small, &fields, FieldList.onField));
    var enough: [30]u8 = undefined;
    fields.clear();
    try testing.expectEqual(SectionStatus.done, try decoder.decodeFieldSection(0, block[0 .. 2 + len], &enough, &fields, FieldList.onField));
    try fields.expectEqual(&.{.{ .name = "x-custom-header", .value = "www.example.com" }});
}

test "never-index flags are accepted and every representation resolves" {
    var decoder = Decoder.init(testing.allocator, 220, 0);
    defer decoder.deinit();
    try decoder.onEncoderStream(&b2_encoder_stream);
    // Required Insert Count 2, Base 1 (sign bit, delta 0):
    //   80       indexed, relative 0 = absolute 0
    //   10       indexed post-base 0 = absolute 1
    //   70 01 78 literal, N=1, name reference relative 0 (:authority) = "x"
    //   08 01 79 literal, N=1, post-base name reference 0 (:path) = "y"
    //   30 ...   literal name, N=1
    const block = hex("0380" ++ "80" ++ "10" ++ "700178" ++ "080179" ++ "3261620163");
    try expectDecoded(&decoder, 0, &block, &.{
        .{ .name = ":authority", .value = "www.example.com" },
        .{ .name = ":path", .value = "/sample/path" },
        .{ .name = ":authority", .value = "x" },
        .{ .name = ":path", .value = "y" },
        .{ .name = "ab", .value = "c" },
    });
}

test "cancelling a stream with no dynamic table sends nothing" {
    var decoder = Decoder.init(testing.allocator, 0, 0);
    defer decoder.deinit();
    decoder.cancelStream(4);
    try expectPending(&decoder, "");
}

test "an empty section decodes to no fields and is not acknowledged" {
    var decoder = Decoder.init(testing.allocator, 0, 0);
    defer decoder.deinit();
    try expectDecoded(&decoder, 0, &.{ 0x00, 0x00 }, &.{});
    try expectPending(&decoder, "");
}

test "the dynamic state is allocated once, on the peer's first use, sized from what we advertised" {
    var counting = testing.FailingAllocator.init(testing.allocator, .{});
    const allocator = counting.allocator();
    var scratch: [64]u8 = undefined;
    var fields = FieldList{};

    // Nothing at init, nor for a static-table section, nor for an empty
    // encoder stream read.
    var decoder = Decoder.init(allocator, 220, 2);
    defer decoder.deinit();
    try expectDecoded(&decoder, 0, &hex("0000510b2f696e6465782e68746d6c"), &.{
        .{ .name = ":path", .value = "/index.html" },
    });
    try decoder.onEncoderStream(&.{});
    try testing.expectEqual(@as(usize, 0), counting.allocations);

    // A section that waits for inserts is a first use too.
    const block = hex("03811011");
    try testing.expectEqual(SectionStatus.blocked, try decoder.decodeFieldSection(4, &block, &scratch, &fields, FieldList.onField));
    try testing.expectEqual(Decoder.dynamicStateBytes(220, 2), counting.allocated_bytes);
    const allocations = counting.allocations;
    try decoder.onEncoderStream(&b2_encoder_stream);
    try testing.expectEqual(SectionStatus.done, try decoder.decodeFieldSection(4, &block, &scratch, &fields, FieldList.onField));
    decoder.cancelStream(8);
    try testing.expectEqual(allocations, counting.allocations);

    // With no dynamic table advertised, a cancellation has nothing to say
    // and allocates nothing; out of memory, the first use fails cleanly.
    var no_table = Decoder.init(allocator, 0, 0);
    defer no_table.deinit();
    no_table.cancelStream(0);
    try testing.expectEqual(allocations, counting.allocations);
    var failing = testing.FailingAllocator.init(testing.allocator, .{ .fail_index = 0 });
    var starved = Decoder.init(failing.allocator(), 220, 2);
    defer starved.deinit();
    try testing.expectError(error.OutOfMemory, starved.onEncoderStream(&b2_encoder_stream));
    try testing.expectError(error.BlockedLimit, starved.decodeFieldSection(4, &block, &scratch, &fields, FieldList.onField));
    starved.cancelStream(4);
    try testing.expectEqual(@as(usize, 0), starved.pendingDecoderStream().len);
    try testing.expectEqual(@as(u64, 1), starved.decoder_stream.dropped_instruction_count);
}
