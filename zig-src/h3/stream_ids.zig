//! Which of the peer's streams of one kind (bidirectional or
//! unidirectional) have been seen. A stream whose slot already ended can
//! still turn up readable in quiche (a late FIN, a RESET_STREAM answering
//! our STOP_SENDING); without this record its id would be taken for a new
//! request and its leftovers parsed as frames. Ids are opened mostly in
//! order, so a floor ("every index below this was seen") plus the few seen
//! above it stays small: at most the peer's stream credit (MAX_STREAMS).

const std = @import("std");
const assert = std.debug.assert;

pub const SeenStreams = struct {
    floor: u64 = 0,
    above: std.AutoHashMapUnmanaged(u64, void) = .empty,

    pub fn deinit(seen: *SeenStreams, allocator: std.mem.Allocator) void {
        seen.above.deinit(allocator);
    }

    /// True the first time `stream_id` is offered, false ever after.
    pub fn firstSight(seen: *SeenStreams, allocator: std.mem.Allocator, stream_id: u64) !bool {
        const index = stream_id >> 2;
        if (index < seen.floor or seen.above.contains(index)) return false;
        if (index != seen.floor) {
            try seen.above.put(allocator, index, {});
            return true;
        }
        seen.floor += 1;
        while (seen.above.remove(seen.floor)) seen.floor += 1;
        return true;
    }
};

const testing = std.testing;

test "each id is new once, in or out of order, and the set drains" {
    var seen = SeenStreams{};
    defer seen.deinit(testing.allocator);
    const order = [_]u64{ 0, 8, 4, 16, 12, 12, 0, 20 };
    const expected = [_]bool{ true, true, true, true, true, false, false, true };
    for (order, expected) |id, first| try testing.expectEqual(first, try seen.firstSight(testing.allocator, id));
    try testing.expectEqual(@as(u64, 6), seen.floor);
    try testing.expectEqual(@as(u32, 0), seen.above.count());
    // Unidirectional ids (2, 6, ...) index the same way.
    var uni = SeenStreams{};
    defer uni.deinit(testing.allocator);
    try testing.expect(try uni.firstSight(testing.allocator, 6));
    try testing.expect(try uni.firstSight(testing.allocator, 2));
    try testing.expect(!(try uni.firstSight(testing.allocator, 6)));
    try testing.expectEqual(@as(u64, 2), uni.floor);
}
