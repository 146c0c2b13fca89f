//! The QPACK decoder (RFC 9204 §2.2 and §4): takes the peer's encoder
//! stream, decodes field sections from request streams, and produces the
//! bytes for our decoder stream. It does no I/O; the connection feeds it
//! bytes and drains `pendingDecoderStream`.
//!
//! The dynamic state is allocated once, sized by what we advertised
//! (SETTINGS_QPACK_MAX_TABLE_CAPACITY and SETTINGS_QPACK_BLOCKED_STREAMS):
//! the dynamic table, a buffer for one encoder instruction split across
//! reads (max capacity + 64 bytes: no valid insert needs more), a buffer
//! for the decoded strings of one insert, the outgoing decoder stream
//! buffer (4 KiB) and the blocked-stream set. It is allocated the first
//! time the peer needs it, not at init: when its encoder stream carries a
//! byte, when a field section waits for inserts, or when a stream is
//! cancelled. Until then a decoder takes no memory beyond its struct, so an
//! idle connection, or one whose peer encodes with the static table only
//! (quiche's encoder, for one), pays nothing for a table it never fills.
//! Decoding a field section allocates nothing: raw strings are handed out
//! as slices of the block or of the tables, and Huffman strings are decoded
//! into the caller's scratch buffer, reused for every field line.

const std = @import("std");
const assert = std.debug.assert;
const static_table = @import("static_table.zig");
const dynamic_table = @import("dynamic_table.zig");
const DynamicTable = dynamic_table.DynamicTable;
const section_prefix = @import("section_prefix.zig");
const field_line = @import("field_line.zig");
const string_literal = @import("string_literal.zig");
const encoder_instruction = @import("encoder_instruction.zig");
const DecoderStreamBuffer = @import("decoder_stream_buffer.zig").DecoderStreamBuffer;
const BlockedStreams = @import("blocked_streams.zig").BlockedStreams;
const decoder_stream_capacity_bytes = @import("decoder_stream_buffer.zig").capacity_bytes;

pub const Field = struct { name: []const u8, value: []const u8 };

pub const SectionStatus = enum { done, blocked };

pub const EncoderStreamError = error{ EncoderStreamError, OutOfMemory };
pub const FieldSectionError = error{ DecompressionFailed, FieldsTooLarge, BlockedLimit };

/// What a buffered encoder instruction may take beyond the table's maximum
/// capacity: its instruction byte and length integers. An insert's name and
/// value take at most capacity - 32 bytes, so a sane encoder never needs more.
pub const instruction_overhead_bytes = 64;

pub const Decoder = struct {
    allocator: std.mem.Allocator,
    /// `DynamicTable.empty` until the dynamic state is allocated.
    table: DynamicTable = .empty,
    max_table_capacity_bytes: u32,
    max_blocked_streams: u16,
    /// MaxEntries of RFC 9204 §3.2.3, for decoding Required Insert Counts.
    max_entries: u64,
    /// `BlockedStreams.empty` until the dynamic state is allocated.
    blocked: BlockedStreams = .empty,
    /// The dynamic state was allocated (`allocateDynamicState`); it stays
    /// until deinit.
    dynamic_state_allocated: bool = false,
    /// One allocation holding `partial_instruction`, `insert_scratch` and
    /// the decoder stream buffer's bytes; empty until the dynamic state is
    /// allocated.
    instruction_buffers: []u8 = &.{},
    /// The start of an encoder instruction whose end has not arrived yet.
    partial_instruction: []u8 = &.{},
    partial_len: usize = 0,
    /// Decoded (or copied) name and value of the insert being applied.
    insert_scratch: []u8 = &.{},
    decoder_stream: DecoderStreamBuffer = .{},
    /// After an encoder stream error the connection is closing; any further
    /// encoder stream bytes are refused too.
    encoder_stream_failed: bool = false,

    /// Allocates nothing: see `allocateDynamicState`.
    pub fn init(allocator: std.mem.Allocator, max_table_capacity: u32, max_blocked_streams: u16) Decoder {
        return .{
            .allocator = allocator,
            .max_table_capacity_bytes = max_table_capacity,
            .max_blocked_streams = max_blocked_streams,
            .max_entries = section_prefix.maxEntries(max_table_capacity),
        };
    }

    pub fn deinit(self: *Decoder) void {
        self.table.deinit(self.allocator);
        self.blocked.deinit(self.allocator);
        self.allocator.free(self.instruction_buffers);
        self.* = undefined;
    }

    /// Bytes the dynamic state takes once allocated, for a decoder that
    /// advertised `max_table_capacity` and `max_blocked_streams`.
    pub fn dynamicStateBytes(max_table_capacity: u32, max_blocked_streams: u16) usize {
        return DynamicTable.bytesFor(max_table_capacity) +
            instructionBufferBytes(max_table_capacity) +
            @as(usize, max_blocked_streams) * @sizeOf(u64);
    }

    fn instructionBufferBytes(max_table_capacity: u32) usize {
        return partialInstructionBytes(max_table_capacity) + max_table_capacity + decoder_stream_capacity_bytes;
    }

    fn partialInstructionBytes(max_table_capacity: u32) usize {
        return @as(usize, max_table_capacity) + instruction_overhead_bytes;
    }

    /// Allocates the dynamic table, the instruction buffers, the decoder
    /// stream buffer and the blocked-stream set, sized by what we
    /// advertised, the first time the peer needs any of them. Each call
    /// after the first does nothing.
    fn allocateDynamicState(self: *Decoder) error{OutOfMemory}!void {
        if (self.dynamic_state_allocated) return;
        assert(self.table.storage.len == 0 and self.blocked.stream_ids.len == 0);
        assert(self.instruction_buffers.len == 0 and self.partial_len == 0);
        assert(self.table.insert_count == 0 and self.blocked.count == 0);
        var table = try DynamicTable.init(self.allocator, self.max_table_capacity_bytes);
        errdefer table.deinit(self.allocator);
        var blocked = try BlockedStreams.init(self.allocator, self.max_blocked_streams);
        errdefer blocked.deinit(self.allocator);
        const buffers = try self.allocator.alloc(u8, instructionBufferBytes(self.max_table_capacity_bytes));
        const partial_len = partialInstructionBytes(self.max_table_capacity_bytes);
        const scratch_end = partial_len + self.max_table_capacity_bytes;
        self.table = table;
        self.blocked = blocked;
        self.instruction_buffers = buffers;
        self.partial_instruction = buffers[0..partial_len];
        self.insert_scratch = buffers[partial_len..scratch_end];
        self.decoder_stream.attach(buffers[scratch_end..]);
        assert(buffers.len == scratch_end + decoder_stream_capacity_bytes);
        self.dynamic_state_allocated = true;
    }

    pub fn insertCount(self: *const Decoder) u64 {
        return self.table.insert_count;
    }

    pub fn blockedStreamCount(self: *const Decoder) usize {
        return self.blocked.count;
    }

    /// Bytes to write on our decoder stream, oldest first.
    pub fn pendingDecoderStream(self: *const Decoder) []const u8 {
        return self.decoder_stream.pending();
    }

    /// The caller wrote the first `n` bytes of `pendingDecoderStream()`.
    pub fn consumeDecoderStream(self: *Decoder, n: usize) void {
        self.decoder_stream.consume(n);
    }

    // ---------------------------------------------------------------- encoder stream

    /// Applies the encoder stream bytes that arrived (RFC 9204 §4.3). An
    /// instruction may be split across calls at any byte. New inserts are
    /// reported with one Insert Count Increment per call.
    pub fn onEncoderStream(self: *Decoder, bytes: []const u8) EncoderStreamError!void {
        if (self.encoder_stream_failed) return error.EncoderStreamError;
        if (bytes.len == 0) return;
        // The peer uses its encoder stream: from now on it may insert, and
        // every instruction may arrive split, so the state is needed.
        try self.allocateDynamicState();
        // Inserts applied before an error are real too: sections decoded
        // before the connection closes may reference (and acknowledge) them.
        defer self.decoder_stream.reportInsertCount(self.table.insert_count);
        self.applyEncoderStream(bytes) catch |err| {
            self.encoder_stream_failed = true;
            return err;
        };
    }

    fn applyEncoderStream(self: *Decoder, bytes: []const u8) error{EncoderStreamError}!void {
        var rest = bytes;
        if (self.partial_len > 0) rest = try self.completePartialInstruction(bytes);
        var instruction_count: usize = 0;
        while (rest.len > 0) : (instruction_count += 1) {
            // Every instruction takes at least one byte.
            assert(instruction_count < bytes.len);
            const parsed = encoder_instruction.parse(rest) catch |err| switch (err) {
                error.Incomplete => return self.keepPartialInstruction(rest),
                error.Overflow => return error.EncoderStreamError,
            };
            // The same bound as for a split instruction, so that how the
            // stream happens to be cut never changes the outcome.
            if (parsed.len > self.partial_instruction.len) return error.EncoderStreamError;
            try self.applyInstruction(parsed.instruction);
            rest = rest[parsed.len..];
        }
    }

    fn keepPartialInstruction(self: *Decoder, rest: []const u8) error{EncoderStreamError}!void {
        assert(self.partial_len == 0);
        if (encoder_instruction.lengthLowerBound(rest) > self.partial_instruction.len) return error.EncoderStreamError;
        @memcpy(self.partial_instruction[0..rest.len], rest);
        self.partial_len = rest.len;
    }

    /// Appends to the buffered instruction start and applies the instruction
    /// once whole; returns the bytes after it.
    fn completePartialInstruction(self: *Decoder, bytes: []const u8) error{EncoderStreamError}![]const u8 {
        const buffered_before = self.partial_len;
        const take = @min(bytes.len, self.partial_instruction.len - buffered_before);
        @memcpy(self.partial_instruction[buffered_before..][0..take], bytes[0..take]);
        const buffered = self.partial_instruction[0 .. buffered_before + take];
        const parsed = encoder_instruction.parse(buffered) catch |err| switch (err) {
            error.Incomplete => {
                if (encoder_instruction.lengthLowerBound(buffered) > self.partial_instruction.len) return error.EncoderStreamError;
                assert(take == bytes.len);
                self.partial_len = buffered.len;
                return bytes[bytes.len..];
            },
            error.Overflow => return error.EncoderStreamError,
        };
        // The buffered part alone was incomplete.
        assert(parsed.len > buffered_before);
        self.partial_len = 0;
        try self.applyInstruction(parsed.instruction);
        return bytes[parsed.len - buffered_before ..];
    }

    fn applyInstruction(self: *Decoder, instruction: encoder_instruction.Instruction) error{EncoderStreamError}!void {
        switch (instruction) {
            .set_capacity => |capacity| {
                self.table.setCapacity(capacity) catch return error.EncoderStreamError;
            },
            .insert => |insert| try self.applyInsert(insert.name, insert.value),
            .duplicate => |relative_index| {
                const entry = try self.entryByInsertRelativeIndex(relative_index);
                var scratch_used: usize = 0;
                const name = try self.copyToInsertScratch(&scratch_used, entry.name);
                const value = try self.copyToInsertScratch(&scratch_used, entry.value);
                self.table.insert(name, value) catch return error.EncoderStreamError;
            },
        }
    }

    fn applyInsert(
        self: *Decoder,
        name_source: encoder_instruction.NameSource,
        value_literal: string_literal.StringLiteral,
    ) error{EncoderStreamError}!void {
        var scratch_used: usize = 0;
        const name = switch (name_source) {
            .static_index => |index| (static_table.get(index) orelse return error.EncoderStreamError).name,
            // Copied out: the insert may evict the entry it names.
            .relative_index => |index| try self.copyToInsertScratch(&scratch_used, (try self.entryByInsertRelativeIndex(index)).name),
            .literal => |literal| try self.plainToInsertScratch(&scratch_used, literal),
        };
        const value = try self.plainToInsertScratch(&scratch_used, value_literal);
        self.table.insert(name, value) catch return error.EncoderStreamError;
    }

    /// Encoder instructions index relative to the insert count (§3.2.5).
    fn entryByInsertRelativeIndex(self: *const Decoder, relative_index: u64) error{EncoderStreamError}!dynamic_table.Entry {
        if (relative_index >= self.table.insert_count) return error.EncoderStreamError;
        return self.table.get(self.table.insert_count - 1 - relative_index) orelse
            error.EncoderStreamError;
    }

    /// Scratch overflow means the entry is larger than any table we allow.
    fn copyToInsertScratch(self: *Decoder, scratch_used: *usize, bytes: []const u8) error{EncoderStreamError}![]const u8 {
        if (bytes.len > self.insert_scratch.len - scratch_used.*) return error.EncoderStreamError;
        const copy = self.insert_scratch[scratch_used.*..][0..bytes.len];
        @memcpy(copy, bytes);
        scratch_used.* += bytes.len;
        return copy;
    }

    fn plainToInsertScratch(self: *Decoder, scratch_used: *usize, literal: string_literal.StringLiteral) error{EncoderStreamError}![]const u8 {
        const plain = string_literal.plainBytes(literal, self.insert_scratch[scratch_used.*..]) catch
            return error.EncoderStreamError;
        if (literal.huffman) scratch_used.* += plain.len;
        return plain;
    }

    // ---------------------------------------------------------------- field sections

    /// Decodes one whole encoded field section (the payload of a HEADERS
    /// frame) and calls `onField` for each field, in order. The slices are
    /// valid only during the call. Huffman strings are decoded into
    /// `scratch`, which must hold the largest single field (name + value).
    ///
    /// Returns `.blocked`, without calling `onField`, when the section needs
    /// inserts that have not arrived; call again with the same block and
    /// stream ID after `onEncoderStream`. After an error, `onField` may have
    /// been called for the fields before the bad one; the connection must
    /// then close with QPACK_DECOMPRESSION_FAILED.
    pub fn decodeFieldSection(
        self: *Decoder,
        stream_id: u64,
        block: []const u8,
        scratch: []u8,
        context: anytype,
        comptime onField: fn (@TypeOf(context), name: []const u8, value: []const u8) void,
    ) FieldSectionError!SectionStatus {
        const prefix = section_prefix.parse(block, self.max_entries, self.table.insert_count) catch
            return error.DecompressionFailed;
        if (prefix.required_insert_count > self.table.insert_count) {
            if (!self.blocked.contains(stream_id)) {
                // A section waiting for inserts is the peer's first use of
                // the table when its encoder stream has not arrived yet.
                // Running out of memory here fails the connection as a
                // blocked-stream overflow would: the caller closes it.
                self.allocateDynamicState() catch return error.BlockedLimit;
                self.blocked.add(stream_id) catch return error.BlockedLimit;
            }
            return .blocked;
        }
        self.blocked.remove(stream_id);
        try self.decodeFieldLines(block[prefix.len..], prefix, scratch, context, onField);
        if (prefix.required_insert_count > 0) {
            self.decoder_stream.acknowledgeSection(stream_id, prefix.required_insert_count);
        }
        return .done;
    }

    fn decodeFieldLines(
        self: *const Decoder,
        lines: []const u8,
        prefix: section_prefix.Prefix,
        scratch: []u8,
        context: anytype,
        comptime onField: fn (@TypeOf(context), name: []const u8, value: []const u8) void,
    ) FieldSectionError!void {
        var rest = lines;
        var line_count: usize = 0;
        while (rest.len > 0) : (line_count += 1) {
            // Every line takes at least one byte.
            assert(line_count < lines.len);
            const parsed = field_line.parse(rest) catch return error.DecompressionFailed;
            const field = try self.resolveLine(parsed.line, prefix, scratch);
            onField(context, field.name, field.value);
            rest = rest[parsed.len..];
        }
    }

    fn resolveLine(self: *const Decoder, line: field_line.FieldLine, prefix: section_prefix.Prefix, scratch: []u8) FieldSectionError!Field {
        switch (line) {
            .indexed => |reference| return self.resolveReference(reference, prefix),
            .name_reference => |literal| {
                const name = (try self.resolveReference(literal.name, prefix)).name;
                const value = try plainFieldString(literal.value, scratch);
                return .{ .name = name, .value = value };
            },
            .literal_name => |literal| {
                const name = try plainFieldString(literal.name, scratch);
                const value_scratch = if (literal.name.huffman) scratch[name.len..] else scratch;
                const value = try plainFieldString(literal.value, value_scratch);
                return .{ .name = name, .value = value };
            },
        }
    }

    fn resolveReference(self: *const Decoder, reference: field_line.Reference, prefix: section_prefix.Prefix) FieldSectionError!Field {
        const absolute_index = switch (reference) {
            .static_index => |index| {
                const entry = static_table.get(index) orelse return error.DecompressionFailed;
                return .{ .name = entry.name, .value = entry.value };
            },
            .relative_index => |index| blk: {
                if (index >= prefix.base) return error.DecompressionFailed;
                break :blk prefix.base - 1 - index;
            },
            .post_base_index => |index| std.math.add(u64, prefix.base, index) catch
                return error.DecompressionFailed,
        };
        // A section may only reference entries below its Required Insert
        // Count (RFC 9204 §2.2.3), and they must not be evicted.
        if (absolute_index >= prefix.required_insert_count) return error.DecompressionFailed;
        const entry = self.table.get(absolute_index) orelse return error.DecompressionFailed;
        return .{ .name = entry.name, .value = entry.value };
    }

    fn plainFieldString(literal: string_literal.StringLiteral, scratch: []u8) FieldSectionError![]const u8 {
        return string_literal.plainBytes(literal, scratch) catch |err| switch (err) {
            error.InvalidHuffman => error.DecompressionFailed,
            error.NoSpace => error.FieldsTooLarge,
        };
    }

    /// The stream was reset or abandoned before its field sections were all
    /// decoded (RFC 9204 §4.4.2): it no longer counts as blocked, and the
    /// encoder is told its references from that stream are gone. With no
    /// dynamic table allowed there can be no such references, so nothing is
    /// sent.
    pub fn cancelStream(self: *Decoder, stream_id: u64) void {
        self.blocked.remove(stream_id);
        if (self.max_table_capacity_bytes == 0) return;
        // Without memory the cancellation is dropped and counted, as when
        // the buffer is full: the encoder only keeps entries pinned longer.
        self.allocateDynamicState() catch {};
        self.decoder_stream.cancelStream(stream_id);
    }
};

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
