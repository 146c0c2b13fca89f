//! The bytes waiting to go out on our QPACK decoder stream (RFC 9204 §4.4):
//! Section Acknowledgments, Stream Cancellations and Insert Count
//! Increments, in a fixed buffer that the connection drains as the stream
//! accepts data. The buffer's memory is the decoder's: it hands over
//! `capacity_bytes` only when the peer first needs our decoder stream (it
//! uses the dynamic table, or a stream is cancelled), so that a connection
//! that never does costs nothing here. Until then the buffer has no room.
//!
//! Insert Count Increments are never lost and never redundant: the buffer
//! remembers how many inserts the peer's encoder already knows we received
//! (its Known Received Count, advanced by our increments and by the Required
//! Insert Count of each section we acknowledge). An increment not yet taken
//! by the caller always sits last in the buffer, so a later increment is
//! merged into it and a Section Acknowledgment can replace it when the
//! acknowledgment alone tells the encoder as much (RFC 9204 Appendix B.2
//! shows exactly that: the inserts are acknowledged by `84` alone).
//!
//! When the buffer is full (only when the peer does not let the stream drain
//! for a long time), Section Acknowledgments and Stream Cancellations that
//! do not fit are dropped and counted. That loses nothing that matters for
//! correctness: the Known Received Count is not advanced by a dropped
//! acknowledgment, so the insert count still reaches the encoder by an
//! increment later, and an encoder that misses an acknowledgment or a
//! cancellation only keeps some entries pinned (it compresses worse, it does
//! not decode wrongly). Room for one increment is always kept, and a pending
//! increment is written as soon as room appears.

const std = @import("std");
const assert = std.debug.assert;
const prefix_int = @import("prefix_int.zig");

pub const capacity_bytes = 4096;

/// Room kept free for an Insert Count Increment when other instructions are
/// queued.
const reserved_for_increment_bytes = prefix_int.max_encoded_bytes;

comptime {
    assert(capacity_bytes > 4 * reserved_for_increment_bytes);
}

pub const DecoderStreamBuffer = struct {
    /// Empty until the decoder attaches its memory (`attach`); then
    /// `capacity_bytes` long for the buffer's life.
    bytes: []u8 = &.{},
    /// Pending bytes are bytes[start..end].
    start: usize = 0,
    end: usize = 0,
    /// Inserts the encoder knows we received (its Known Received Count as
    /// far as our queued instructions tell it).
    known_received_count: u64 = 0,
    /// Inserts we have received (the decoder's insert count).
    received_count: u64 = 0,
    /// The increment at the end of the pending bytes that the caller has
    /// not begun to take, which may still be rewritten.
    trailing_increment: ?TrailingIncrement = null,
    /// Acknowledgments and cancellations dropped because the buffer was full.
    dropped_instruction_count: u64 = 0,

    const TrailingIncrement = struct { offset: usize, increment: u64 };

    /// Gives the buffer its memory, once. Nothing can be pending before: a
    /// buffer without memory has no room, and the decoder attaches it before
    /// it reports any insert.
    pub fn attach(self: *DecoderStreamBuffer, bytes: []u8) void {
        assert(self.bytes.len == 0);
        assert(bytes.len == capacity_bytes);
        assert(self.start == 0 and self.end == 0 and self.trailing_increment == null);
        assert(self.received_count == 0 and self.known_received_count == 0);
        self.bytes = bytes;
    }

    pub fn pending(self: *const DecoderStreamBuffer) []const u8 {
        return self.bytes[self.start..self.end];
    }

    /// The caller wrote the first `n` pending bytes.
    pub fn consume(self: *DecoderStreamBuffer, n: usize) void {
        assert(n <= self.end - self.start);
        self.start += n;
        if (self.trailing_increment) |trailing| {
            if (trailing.offset < self.start) self.trailing_increment = null;
        }
        if (self.start == self.end) {
            self.start = 0;
            self.end = 0;
        }
        self.flushInsertCount();
    }

    /// The decoder now holds `insert_count` inserts; tell the encoder.
    pub fn reportInsertCount(self: *DecoderStreamBuffer, insert_count: u64) void {
        assert(insert_count >= self.received_count);
        self.received_count = insert_count;
        self.flushInsertCount();
    }

    /// Section Acknowledgment (RFC 9204 §4.4.1) for a decoded section whose
    /// Required Insert Count is `required_insert_count` (nonzero).
    pub fn acknowledgeSection(self: *DecoderStreamBuffer, stream_id: u64, required_insert_count: u64) void {
        assert(required_insert_count > 0 and required_insert_count <= self.received_count);
        self.retractTrailingIncrement();
        if (self.appendInstruction(stream_id, 7, 0x80)) {
            self.known_received_count = @max(self.known_received_count, required_insert_count);
        }
        self.flushInsertCount();
    }

    /// Stream Cancellation (RFC 9204 §4.4.2).
    pub fn cancelStream(self: *DecoderStreamBuffer, stream_id: u64) void {
        self.retractTrailingIncrement();
        _ = self.appendInstruction(stream_id, 6, 0x40);
        self.flushInsertCount();
    }

    /// Writes (or grows) the Insert Count Increment (RFC 9204 §4.4.3) for
    /// inserts the encoder does not know about yet.
    fn flushInsertCount(self: *DecoderStreamBuffer) void {
        if (self.received_count == self.known_received_count) return;
        assert(self.received_count > self.known_received_count);
        self.retractTrailingIncrement();
        const increment = self.received_count - self.known_received_count;
        const len = prefix_int.encodedLength(increment, 6);
        if (!self.makeRoom(len)) return; // Written when the caller drains.
        const offset = self.end;
        self.end += prefix_int.encode(self.bytes[offset..], increment, 6, 0x00) catch unreachable;
        self.known_received_count = self.received_count;
        self.trailing_increment = .{ .offset = offset, .increment = increment };
    }

    /// Takes back an increment the caller has not started to write, so that
    /// what follows can be merged with it.
    fn retractTrailingIncrement(self: *DecoderStreamBuffer) void {
        const trailing = self.trailing_increment orelse return;
        assert(trailing.offset >= self.start and trailing.offset < self.end);
        self.end = trailing.offset;
        self.known_received_count -= trailing.increment;
        self.trailing_increment = null;
    }

    fn appendInstruction(self: *DecoderStreamBuffer, value: u64, prefix_bits: u4, flags: u8) bool {
        assert(self.trailing_increment == null);
        const len = prefix_int.encodedLength(value, prefix_bits);
        if (!self.makeRoom(len + reserved_for_increment_bytes)) {
            self.dropped_instruction_count += 1;
            return false;
        }
        self.end += prefix_int.encode(self.bytes[self.end..], value, prefix_bits, flags) catch unreachable;
        return true;
    }

    /// Ensures `len` free bytes after `end`, moving the pending bytes to the
    /// front if needed.
    fn makeRoom(self: *DecoderStreamBuffer, len: usize) bool {
        assert(self.trailing_increment == null);
        assert(self.bytes.len == 0 or self.bytes.len == capacity_bytes);
        if (self.end - self.start + len > self.bytes.len) return false;
        if (self.end + len > self.bytes.len) {
            const pending_len = self.end - self.start;
            std.mem.copyForwards(u8, self.bytes[0..pending_len], self.bytes[self.start..self.end]);
            self.start = 0;
            self.end = pending_len;
        }
        return true;
    }
};

const testing = std.testing;

test "an acknowledgment replaces a pending increment it covers (RFC 9204 B.2)" {
    var memory: [capacity_bytes]u8 = undefined;
    var buffer = DecoderStreamBuffer{ .bytes = &memory };
    buffer.reportInsertCount(2);
    try testing.expectEqualSlices(u8, &.{0x02}, buffer.pending());
    buffer.acknowledgeSection(4, 2);
    try testing.expectEqualSlices(u8, &.{0x84}, buffer.pending());
}

test "an acknowledgment keeps the part of an increment it does not cover" {
    var memory: [capacity_bytes]u8 = undefined;
    var buffer = DecoderStreamBuffer{ .bytes = &memory };
    buffer.reportInsertCount(3);
    buffer.acknowledgeSection(4, 2);
    try testing.expectEqualSlices(u8, &.{ 0x84, 0x01 }, buffer.pending());
}

test "increments merge while the caller has not taken them" {
    var memory: [capacity_bytes]u8 = undefined;
    var buffer = DecoderStreamBuffer{ .bytes = &memory };
    buffer.reportInsertCount(1);
    buffer.reportInsertCount(3);
    try testing.expectEqualSlices(u8, &.{0x03}, buffer.pending());
    buffer.consume(1);
    buffer.reportInsertCount(4);
    try testing.expectEqualSlices(u8, &.{0x01}, buffer.pending());
}

test "a partly taken increment is left alone" {
    var memory: [capacity_bytes]u8 = undefined;
    var buffer = DecoderStreamBuffer{ .bytes = &memory };
    buffer.reportInsertCount(100); // Two bytes: 0x3f 0x25.
    try testing.expectEqualSlices(u8, &.{ 0x3f, 0x25 }, buffer.pending());
    buffer.consume(1);
    buffer.reportInsertCount(101);
    try testing.expectEqualSlices(u8, &.{ 0x25, 0x01 }, buffer.pending());
}

test "cancellation (RFC 9204 B.4) and acknowledgment encodings" {
    var memory: [capacity_bytes]u8 = undefined;
    var buffer = DecoderStreamBuffer{ .bytes = &memory };
    buffer.cancelStream(8);
    try testing.expectEqualSlices(u8, &.{0x48}, buffer.pending());
    buffer.consume(1);
    try testing.expectEqual(@as(usize, 0), buffer.pending().len);
}

test "a full buffer drops acknowledgments but never the insert count" {
    var memory: [capacity_bytes]u8 = undefined;
    var buffer = DecoderStreamBuffer{ .bytes = &memory };
    var stream_id: u64 = 0;
    buffer.reportInsertCount(1);
    while (buffer.dropped_instruction_count == 0) : (stream_id += 4) {
        buffer.acknowledgeSection(stream_id, 1);
        try testing.expect(stream_id < 100_000);
    }
    // The insert count was acknowledged by the first section; new inserts
    // still find room.
    buffer.reportInsertCount(5);
    const pending = buffer.pending();
    try testing.expectEqual(@as(u8, 0x04), pending[pending.len - 1]);
    try testing.expect(pending.len <= capacity_bytes);
    // Draining everything makes room again.
    buffer.consume(pending.len);
    buffer.reportInsertCount(6);
    try testing.expectEqualSlices(u8, &.{0x01}, buffer.pending());
}

test "an increment that finds no room is written once the caller drains" {
    var memory: [capacity_bytes]u8 = undefined;
    var buffer = DecoderStreamBuffer{ .bytes = &memory };
    // Fill the buffer completely with cancellations (room for the increment
    // is reserved, so fill that too by hand).
    var stream_id: u64 = 0;
    while (buffer.dropped_instruction_count == 0) : (stream_id += 1) buffer.cancelStream(stream_id);
    buffer.end = capacity_bytes;
    buffer.reportInsertCount(2);
    try testing.expectEqual(@as(usize, capacity_bytes), buffer.pending().len);
    buffer.consume(capacity_bytes);
    try testing.expectEqualSlices(u8, &.{0x02}, buffer.pending());
}

test "a buffer without memory has no room and counts what it drops" {
    var buffer = DecoderStreamBuffer{};
    buffer.cancelStream(4);
    try testing.expectEqual(@as(usize, 0), buffer.pending().len);
    try testing.expectEqual(@as(u64, 1), buffer.dropped_instruction_count);
    var memory: [capacity_bytes]u8 = undefined;
    buffer.attach(&memory);
    buffer.cancelStream(4);
    try testing.expectEqualSlices(u8, &.{0x44}, buffer.pending());
}
