//! Bounded queue of whole records between two threads, one allocation made
//! at start-up. Records are stored contiguously and 8-byte aligned; when one
//! does not fit before the end of the buffer a zero-length wrap marker sends
//! the reader back to the start. Pushing is all-or-nothing, so a reader never
//! sees half a record, and draining copies records out, so the reader owns
//! what it got and the writer may reuse the space at once.
//!
//! A mutex guards the indices: both sides hold it only for a memcpy, and it
//! lets several producer threads share a queue (C users may submit commands
//! from any thread).

const std = @import("std");
const assert = std.debug.assert;
const wire = @import("wire.zig");

pub const RecordQueue = struct {
    buffer: []align(wire.alignment) u8,
    head: usize = 0,
    tail: usize = 0,
    used: usize = 0,
    mutex: std.Thread.Mutex = .{},
    /// Set when a push failed for lack of space and cleared by the next
    /// drain, so the consumer knows to wake a producer that is waiting.
    refused_push: bool = false,

    pub const PushError = error{ QueueFull, RecordTooLarge };

    pub fn init(allocator: std.mem.Allocator, capacity: usize) !RecordQueue {
        assert(capacity % wire.alignment == 0 and capacity >= 64);
        const buffer = try allocator.alignedAlloc(u8, .fromByteUnits(wire.alignment), capacity);
        return .{ .buffer = buffer };
    }

    pub fn deinit(queue: *RecordQueue, allocator: std.mem.Allocator) void {
        allocator.free(queue.buffer);
        queue.* = undefined;
    }

    /// Appends one record. Returns true when the queue was empty before, so
    /// the caller rings the consumer's doorbell exactly once per batch.
    pub fn push(queue: *RecordQueue, record: []const u8) PushError!bool {
        assert(record.len >= wire.header_bytes);
        assert(std.mem.readInt(u32, record[0..4], .little) == record.len);
        const padded = wire.paddedLength(record.len);
        if (padded > queue.buffer.len) return error.RecordTooLarge;

        queue.mutex.lock();
        defer queue.mutex.unlock();
        const was_empty = queue.used == 0;
        if (was_empty) {
            queue.head = 0;
            queue.tail = 0;
        }
        const offset = queue.reserve(padded) orelse {
            queue.refused_push = true;
            return error.QueueFull;
        };
        @memcpy(queue.buffer[offset..][0..record.len], record);
        return was_empty;
    }

    /// Finds room for `padded` bytes, writing a wrap marker when needed.
    fn reserve(queue: *RecordQueue, padded: usize) ?usize {
        const capacity = queue.buffer.len;
        if (queue.used == capacity) return null;
        if (queue.tail >= queue.head) {
            if (capacity - queue.tail >= padded) return queue.take(padded);
            if (queue.head < padded) return null;
            const skipped = capacity - queue.tail;
            if (skipped > 0) std.mem.writeInt(u32, queue.buffer[queue.tail..][0..4], 0, .little);
            queue.used += skipped;
            queue.tail = 0;
            return queue.take(padded);
        }
        if (queue.head - queue.tail >= padded) return queue.take(padded);
        return null;
    }

    fn take(queue: *RecordQueue, padded: usize) usize {
        const offset = queue.tail;
        queue.tail = (queue.tail + padded) % queue.buffer.len;
        queue.used += padded;
        return offset;
    }

    /// True when a record of `length` bytes could be pushed now and still
    /// leave `keep_free` bytes. With a single producer the answer stays true
    /// until that producer pushes, since the consumer only frees space. A
    /// false answer counts as a refused push (see `refused_push`).
    pub fn hasRoomFor(queue: *RecordQueue, length: usize, keep_free: usize) bool {
        const padded = wire.paddedLength(length);
        queue.mutex.lock();
        defer queue.mutex.unlock();
        const capacity = queue.buffer.len;
        const needed = if (queue.used == 0)
            padded
        else if (queue.tail >= queue.head)
            (if (capacity - queue.tail >= padded) padded else if (queue.head >= padded) capacity - queue.tail + padded else capacity + 1)
        else
            (if (queue.head - queue.tail >= padded) padded else capacity + 1);
        const fits = queue.used + needed + keep_free <= capacity;
        if (!fits) queue.refused_push = true;
        return fits;
    }

    pub const Drained = struct { bytes: usize, producer_was_refused: bool };

    /// Copies whole records (each padded to 8 bytes) into `out` until the
    /// next one does not fit or the queue is empty.
    pub fn drain(queue: *RecordQueue, out: []u8) Drained {
        queue.mutex.lock();
        defer queue.mutex.unlock();
        var copied: usize = 0;
        while (queue.used > 0) {
            const length = std.mem.readInt(u32, queue.buffer[queue.head..][0..4], .little);
            if (length == 0) {
                queue.used -= queue.buffer.len - queue.head;
                queue.head = 0;
                continue;
            }
            const padded = wire.paddedLength(length);
            if (copied + padded > out.len) break;
            @memcpy(out[copied..][0..padded], queue.buffer[queue.head..][0..padded]);
            copied += padded;
            queue.head = (queue.head + padded) % queue.buffer.len;
            queue.used -= padded;
        }
        const refused = queue.refused_push;
        queue.refused_push = false;
        return .{ .bytes = copied, .producer_was_refused = refused };
    }

    /// Length of the next record, or 0 when empty; lets a reader with too
    /// small a buffer say how much it needs.
    pub fn nextRecordLength(queue: *RecordQueue) usize {
        queue.mutex.lock();
        defer queue.mutex.unlock();
        if (queue.used == 0) return 0;
        var head = queue.head;
        var length = std.mem.readInt(u32, queue.buffer[head..][0..4], .little);
        if (length == 0) {
            head = 0;
            length = std.mem.readInt(u32, queue.buffer[head..][0..4], .little);
        }
        return wire.paddedLength(length);
    }
};

const testing = std.testing;

fn makeRecord(buffer: []u8, id: u64, body_len: usize) []u8 {
    var writer = wire.RecordWriter.init(buffer, 2, 0, 0, id);
    var i: usize = 0;
    while (i < body_len) : (i += 1) writer.int(u8, @truncate(id + i));
    return writer.finish() catch unreachable;
}

test "push reports empty-to-non-empty once, drain returns records in order" {
    var queue = try RecordQueue.init(testing.allocator, 256);
    defer queue.deinit(testing.allocator);
    var scratch: [64]u8 = undefined;
    try testing.expect(try queue.push(makeRecord(&scratch, 1, 3)));
    try testing.expect(!try queue.push(makeRecord(&scratch, 2, 9)));
    var out: [256]u8 = undefined;
    const drained = queue.drain(&out);
    try testing.expectEqual(@as(usize, 24 + 32), drained.bytes);
    try testing.expectEqual(@as(u64, 1), wire.readHeader(out[0..]).id);
    try testing.expectEqual(@as(u64, 2), wire.readHeader(out[24..]).id);
    try testing.expect(try queue.push(makeRecord(&scratch, 3, 0)));
}

test "hasRoomFor agrees with push" {
    var queue = try RecordQueue.init(testing.allocator, 128);
    defer queue.deinit(testing.allocator);
    var scratch: [128]u8 = undefined;
    var out: [128]u8 = undefined;
    var prng = std.Random.DefaultPrng.init(11);
    const random = prng.random();
    var round: usize = 0;
    while (round < 5000) : (round += 1) {
        if (random.uintLessThan(u8, 3) > 0) {
            const body = random.uintLessThan(usize, 60);
            const room = queue.hasRoomFor(16 + body, 0);
            const pushed = if (queue.push(makeRecord(&scratch, 1, body))) |_| true else |_| false;
            try testing.expectEqual(room, pushed);
        } else {
            _ = queue.drain(out[0 .. 16 + random.uintLessThan(usize, 112)]);
        }
    }
}

test "full queue refuses, wraps, and never splits or loses a record" {
    var queue = try RecordQueue.init(testing.allocator, 128);
    defer queue.deinit(testing.allocator);
    var scratch: [128]u8 = undefined;
    var out: [128]u8 = undefined;
    var next_push: u64 = 0;
    var next_pop: u64 = 0;
    var prng = std.Random.DefaultPrng.init(3);
    const random = prng.random();
    var round: usize = 0;
    while (round < 10_000) : (round += 1) {
        if (random.boolean()) {
            const body = random.uintLessThan(usize, 40);
            if (queue.push(makeRecord(&scratch, next_push, body))) |_| {
                next_push += 1;
            } else |err| try testing.expectEqual(error.QueueFull, err);
        } else {
            const limit = 16 + random.uintLessThan(usize, 112);
            const drained = queue.drain(out[0..limit]);
            var offset: usize = 0;
            while (offset < drained.bytes) {
                const header = wire.readHeader(out[offset..]);
                try testing.expectEqual(next_pop, header.id);
                var i: usize = 16;
                while (i < header.length) : (i += 1) try testing.expectEqual(@as(u8, @truncate(next_pop + i - 16)), out[offset + i]);
                next_pop += 1;
                offset += wire.paddedLength(header.length);
            }
        }
    }
    var large: [256]u8 = undefined;
    try testing.expectError(error.RecordTooLarge, queue.push(makeRecord(&large, 0, 120)));
}
