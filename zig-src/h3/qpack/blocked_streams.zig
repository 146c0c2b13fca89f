//! The streams whose field section waits for dynamic table inserts that have
//! not arrived yet (RFC 9204 §2.1.2). We promised the peer to tolerate at
//! most SETTINGS_QPACK_BLOCKED_STREAMS of them, so the set is a fixed array
//! of that size, allocated once; it is searched linearly because it is small
//! and almost always empty.

const std = @import("std");
const assert = std.debug.assert;

pub const BlockedStreams = struct {
    stream_ids: []u64,
    count: usize = 0,

    /// A set with room for nothing, allocating nothing: what the decoder
    /// keeps until a field section first waits for inserts.
    pub const empty: BlockedStreams = .{ .stream_ids = &.{} };

    pub fn init(allocator: std.mem.Allocator, max_blocked_streams: u16) error{OutOfMemory}!BlockedStreams {
        return .{ .stream_ids = try allocator.alloc(u64, max_blocked_streams) };
    }

    pub fn deinit(self: *BlockedStreams, allocator: std.mem.Allocator) void {
        allocator.free(self.stream_ids);
        self.* = undefined;
    }

    pub fn contains(self: *const BlockedStreams, stream_id: u64) bool {
        for (self.stream_ids[0..self.count]) |blocked_id| {
            if (blocked_id == stream_id) return true;
        }
        return false;
    }

    /// Adds a stream that is not in the set yet.
    pub fn add(self: *BlockedStreams, stream_id: u64) error{Full}!void {
        assert(!self.contains(stream_id));
        if (self.count == self.stream_ids.len) return error.Full;
        self.stream_ids[self.count] = stream_id;
        self.count += 1;
    }

    /// Removes the stream if present; order is not kept.
    pub fn remove(self: *BlockedStreams, stream_id: u64) void {
        for (self.stream_ids[0..self.count], 0..) |blocked_id, index| {
            if (blocked_id != stream_id) continue;
            self.count -= 1;
            self.stream_ids[index] = self.stream_ids[self.count];
            return;
        }
    }
};

const testing = std.testing;

test "add, contains, remove and the limit" {
    var blocked = try BlockedStreams.init(testing.allocator, 2);
    defer blocked.deinit(testing.allocator);
    try blocked.add(4);
    try blocked.add(8);
    try testing.expectError(error.Full, blocked.add(12));
    try testing.expect(blocked.contains(4) and blocked.contains(8));
    blocked.remove(4);
    try testing.expect(!blocked.contains(4) and blocked.contains(8));
    blocked.remove(4); // Absent: nothing happens.
    try testing.expectEqual(@as(usize, 1), blocked.count);
    try blocked.add(12);
    try testing.expect(blocked.contains(12));
}

test "a limit of zero blocks nothing" {
    var blocked = try BlockedStreams.init(testing.allocator, 0);
    defer blocked.deinit(testing.allocator);
    try testing.expectError(error.Full, blocked.add(0));
}
