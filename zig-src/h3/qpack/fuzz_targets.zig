//! Fuzz targets for the QPACK package: every function takes arbitrary bytes
//! (libFuzzer style), must never crash or read out of bounds, and checks
//! properties beyond "no crash":
//!   * fuzzHuffman: a string that decodes re-encodes to exactly the input
//!     (the code is canonical and valid padding is unique), and decodes
//!     again to the same bytes.
//!   * fuzzFieldSection: what decodes re-encodes with FieldSectionWriter
//!     and decodes again, with a fresh decoder, to the same fields in the
//!     same order; a blocked section emits no field.
//!   * fuzzEncoderStream: however the stream is cut, the outcome (error or
//!     table contents) is the same as feeding it whole; the table never
//!     exceeds its capacity and the insert count only grows.
//!
//! The test at the bottom runs each target on every seed in corpus/ and on
//! 2,000 deterministic mutations of those seeds (per target, spread evenly
//! over its seeds; FUZZ_ITERATIONS sets another count).

const std = @import("std");
const assert = std.debug.assert;
const testing = std.testing;
const huffman = @import("huffman.zig");
const Decoder = @import("decoder.zig").Decoder;
const encoder = @import("encoder.zig");
const test_fields = @import("test_fields.zig");
const FieldList = test_fields.FieldList;

/// The table capacity the field-section and encoder-stream targets use.
const fuzz_table_capacity_bytes = 4096;
const fuzz_blocked_streams = 16;

/// Small buffers come from the stack so that short inputs (almost all of
/// them) cost no allocation; larger ones fall back to the testing allocator,
/// which still checks for leaks.
const stack_buffer_bytes = 16 * 1024;

pub fn fuzzHuffman(input: []const u8) !void {
    var stack_fallback = std.heap.stackFallback(stack_buffer_bytes, testing.allocator);
    const allocator = stack_fallback.get();
    // Exactly the worst case takes the path that checks space at every
    // symbol; one byte more takes the path that does not. They must agree.
    const exact = try allocator.alloc(u8, huffman.maxDecodedLength(input.len));
    defer allocator.free(exact);
    const roomy = try allocator.alloc(u8, exact.len + 1);
    defer allocator.free(roomy);
    const roomy_result = huffman.decode(input, roomy);
    const decoded_len = huffman.decode(input, exact) catch |err| switch (err) {
        error.InvalidHuffman => return testing.expectError(error.InvalidHuffman, roomy_result),
        error.NoSpace => unreachable, // maxDecodedLength is an upper bound.
    };
    const plain = exact[0..decoded_len];
    try testing.expectEqualSlices(u8, plain, roomy[0..try roomy_result]);

    const encoded = try allocator.alloc(u8, huffman.encodedLength(plain));
    defer allocator.free(encoded);
    const encoded_len = huffman.encode(plain, encoded);
    try testing.expectEqualSlices(u8, input, encoded[0..encoded_len]);

    const again = try allocator.alloc(u8, plain.len);
    defer allocator.free(again);
    const again_len = try huffman.decode(encoded[0..encoded_len], again);
    try testing.expectEqualSlices(u8, plain, again[0..again_len]);
}

pub fn fuzzFieldSection(input: []const u8) !void {
    if (input.len == 0) return;
    const allocator = testing.allocator;
    const encoder_stream_len = @min(@as(usize, input[0]), input.len - 1);
    const encoder_stream = input[1..][0..encoder_stream_len];
    const section = input[1 + encoder_stream_len ..];

    var decoder = Decoder.init(allocator, fuzz_table_capacity_bytes, fuzz_blocked_streams);
    defer decoder.deinit();
    // On an encoder stream error the connection closes, but sections that
    // arrive meanwhile must still decode safely, so carry on.
    decoder.onEncoderStream(encoder_stream) catch {};
    try testing.expect(decoder.table.size_bytes <= decoder.table.capacity_bytes);

    var fields = FieldList{};
    var stack_fallback = std.heap.stackFallback(stack_buffer_bytes, allocator);
    const scratch_allocator = stack_fallback.get();
    const scratch = try scratch_allocator.alloc(u8, 2 * section.len);
    defer scratch_allocator.free(scratch);
    const status = decoder.decodeFieldSection(0, section, scratch, &fields, FieldList.onField) catch return;
    try testing.expect(decoder.pendingDecoderStream().len <= 4096);
    if (status == .blocked) {
        try testing.expectEqual(@as(usize, 0), fields.count);
        try testing.expectEqual(@as(usize, 1), decoder.blockedStreamCount());
        return;
    }
    if (fields.overflowed) return;
    try expectReencodes(fields.items());
}

/// Encodes `fields` with our encoder and decodes them with a fresh decoder.
fn expectReencodes(fields: []const test_fields.Field) !void {
    var stack_fallback = std.heap.stackFallback(stack_buffer_bytes, testing.allocator);
    const allocator = stack_fallback.get();
    var bound: usize = encoder.section_prefix_bytes.len;
    for (fields) |field| bound += encoder.maxEncodedLength(field.name.len, field.value.len);
    const buffer = try allocator.alloc(u8, bound);
    defer allocator.free(buffer);
    var writer = encoder.FieldSectionWriter.init(buffer);
    for (fields) |field| {
        // Our encoder requires lowercase names (HTTP/3 does); a peer's
        // uppercase name is the HTTP layer's to reject, not ours to re-send.
        for (field.name) |char| if (std.ascii.isUpper(char)) return;
        try writer.add(field.name, field.value);
    }
    const section = writer.finish();

    var fresh = Decoder.init(testing.allocator, 0, 0);
    defer fresh.deinit();
    var decoded = FieldList{};
    const scratch = try allocator.alloc(u8, section.len * 2);
    defer allocator.free(scratch);
    const status = try fresh.decodeFieldSection(0, section, scratch, &decoded, FieldList.onField);
    try testing.expectEqual(.done, status);
    try decoded.expectEqual(fields);
}

pub fn fuzzEncoderStream(input: []const u8) !void {
    const allocator = testing.allocator;
    var whole = Decoder.init(allocator, fuzz_table_capacity_bytes, 0);
    defer whole.deinit();
    const whole_result = whole.onEncoderStream(input);

    var chunked = Decoder.init(allocator, fuzz_table_capacity_bytes, 0);
    defer chunked.deinit();
    var offset: usize = 0;
    var size_cursor: usize = 0;
    var previous_insert_count: u64 = 0;
    const chunked_result: anyerror!void = while (offset < input.len) {
        // Chunk sizes come from the input itself, so a fuzzer explores cuts.
        const chunk_len = @min(input.len - offset, 1 + input[size_cursor % input.len] % 23);
        size_cursor += 1;
        chunked.onEncoderStream(input[offset..][0..chunk_len]) catch |err| break err;
        offset += chunk_len;
        try testing.expect(chunked.table.size_bytes <= chunked.table.capacity_bytes);
        try testing.expect(chunked.table.capacity_bytes <= fuzz_table_capacity_bytes);
        try testing.expect(chunked.insertCount() >= previous_insert_count);
        previous_insert_count = chunked.insertCount();
    } else {};

    if (whole_result) |_| {
        try chunked_result;
        try expectSameTable(&whole, &chunked);
    } else |_| {
        try testing.expectError(error.EncoderStreamError, chunked_result);
    }
}

fn expectSameTable(a: *const Decoder, b: *const Decoder) !void {
    try testing.expectEqual(a.insertCount(), b.insertCount());
    try testing.expectEqual(a.table.size_bytes, b.table.size_bytes);
    try testing.expectEqual(a.table.capacity_bytes, b.table.capacity_bytes);
    try testing.expectEqual(a.partial_len, b.partial_len);
    var index = a.table.firstLiveIndex();
    while (index < a.insertCount()) : (index += 1) {
        const entry_a = a.table.get(index).?;
        const entry_b = b.table.get(index).?;
        try testing.expectEqualStrings(entry_a.name, entry_b.name);
        try testing.expectEqualStrings(entry_a.value, entry_b.value);
    }
    // Both told the encoder about every insert.
    try testing.expectEqual(a.insertCount(), a.decoder_stream.known_received_count);
    try testing.expectEqual(b.insertCount(), b.decoder_stream.known_received_count);
}

pub const Target = enum { huffman, field_section, encoder_stream };

pub fn runTarget(target: Target, input: []const u8) !void {
    switch (target) {
        .huffman => try fuzzHuffman(input),
        .field_section => try fuzzFieldSection(input),
        .encoder_stream => try fuzzEncoderStream(input),
    }
}

pub const corpus = struct {
    pub const huffman = [_][]const u8{
        @embedFile("corpus/huffman_www_example_com.bin"),
        @embedFile("corpus/huffman_date.bin"),
        @embedFile("corpus/huffman_cookie.bin"),
    };
    pub const field_section = [_][]const u8{
        @embedFile("corpus/field_section_b1.bin"),
        @embedFile("corpus/field_section_b2.bin"),
        @embedFile("corpus/field_section_b4.bin"),
        @embedFile("corpus/field_section_request.bin"),
    };
    pub const encoder_stream = [_][]const u8{
        @embedFile("corpus/encoder_stream_rfc9204_b.bin"),
        @embedFile("corpus/encoder_stream_huffman.bin"),
    };

    pub fn seeds(target: Target) []const []const u8 {
        return switch (target) {
            .huffman => &corpus.huffman,
            .field_section => &corpus.field_section,
            .encoder_stream => &corpus.encoder_stream,
        };
    }
};

const max_mutated_bytes = 2048;

/// One random edit, the kinds a mutation fuzzer makes: flip a bit, set a
/// byte to an interesting value, insert, delete, duplicate a run, truncate.
fn mutate(random: std.Random, buffer: *[max_mutated_bytes]u8, len: usize) usize {
    assert(len <= max_mutated_bytes);
    if (len == 0) {
        buffer[0] = random.int(u8);
        return 1;
    }
    const position = random.uintLessThan(usize, len);
    switch (random.uintLessThan(u8, 6)) {
        0 => buffer[position] ^= @as(u8, 1) << random.int(u3),
        1 => buffer[position] = ([_]u8{ 0x00, 0x01, 0x1f, 0x3f, 0x7f, 0x80, 0xc0, 0xff })[random.uintLessThan(usize, 8)],
        2 => if (len < max_mutated_bytes) {
            std.mem.copyBackwards(u8, buffer[position + 1 .. len + 1], buffer[position..len]);
            buffer[position] = random.int(u8);
            return len + 1;
        },
        3 => {
            std.mem.copyForwards(u8, buffer[position .. len - 1], buffer[position + 1 .. len]);
            return len - 1;
        },
        4 => {
            const run_len = @min(random.uintAtMost(usize, 16), len - position, max_mutated_bytes - len);
            std.mem.copyBackwards(u8, buffer[position + run_len .. len + run_len], buffer[position..len]);
            return len + run_len;
        },
        else => return position + 1,
    }
    return len;
}

fn runMutations(target: Target, seed: []const u8, prng_seed: u64, iterations: usize) !void {
    var prng = std.Random.DefaultPrng.init(prng_seed);
    const random = prng.random();
    var buffer: [max_mutated_bytes]u8 = undefined;
    assert(seed.len <= max_mutated_bytes);
    var len = seed.len;
    @memcpy(buffer[0..len], seed);
    for (0..iterations) |iteration| {
        // Start again from the seed now and then so that mutations stay near
        // valid input instead of drifting into noise.
        if (iteration % 4 == 0) {
            len = seed.len;
            @memcpy(buffer[0..len], seed);
        }
        const edits = 1 + random.uintLessThan(usize, 2);
        for (0..edits) |_| len = mutate(random, &buffer, len);
        try runTarget(target, buffer[0..len]);
    }
}

/// Mutations per target; FUZZ_ITERATIONS (the project's knob for its other
/// fuzz targets) overrides it for a longer run:
///   FUZZ_ITERATIONS=1000000 .toolchain/zig/ziglang/zig test -OReleaseSafe zig-src/h3/qpack/tests.zig
fn mutationsPerTarget() usize {
    const default_mutations = 2000;
    const text = std.posix.getenv("FUZZ_ITERATIONS") orelse return default_mutations;
    return std.fmt.parseInt(usize, text, 10) catch default_mutations;
}

test "fuzz targets on the seed corpus and 2,000 mutations per target" {
    const mutations_per_target = mutationsPerTarget();
    inline for (comptime std.enums.values(Target)) |target| {
        const seeds = corpus.seeds(target);
        const mutations_per_seed = std.math.divCeil(usize, mutations_per_target, seeds.len) catch unreachable;
        for (seeds, 0..) |seed, seed_index| {
            try runTarget(target, seed);
            try runMutations(target, seed, 0x9204_7541 + seed_index, mutations_per_seed);
        }
    }
}

test "the seeds exercise the successful paths" {
    // Each Huffman seed is a valid string.
    for (corpus.huffman) |seed| {
        var out: [256]u8 = undefined;
        _ = try huffman.decode(seed, &out);
    }
    // Each encoder-stream seed applies cleanly and inserts something.
    for (corpus.encoder_stream) |seed| {
        var decoder = Decoder.init(testing.allocator, fuzz_table_capacity_bytes, 0);
        defer decoder.deinit();
        try decoder.onEncoderStream(seed);
        try testing.expect(decoder.insertCount() > 0);
    }
    // Each field-section seed decodes to at least one field.
    for (corpus.field_section) |seed| {
        var decoder = Decoder.init(testing.allocator, fuzz_table_capacity_bytes, fuzz_blocked_streams);
        defer decoder.deinit();
        const encoder_stream_len = seed[0];
        try decoder.onEncoderStream(seed[1..][0..encoder_stream_len]);
        var fields = FieldList{};
        var scratch: [1024]u8 = undefined;
        const status = try decoder.decodeFieldSection(0, seed[1 + encoder_stream_len ..], &scratch, &fields, FieldList.onField);
        try testing.expectEqual(.done, status);
        try testing.expect(fields.count > 0);
    }
}
