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
