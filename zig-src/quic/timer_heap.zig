//! Indexed binary min-heap of connection deadlines. Each connection slot has
//! at most one entry, updated in place when quiche reports a new timeout, so
//! the loop finds the next expiry in O(1) and reschedules in O(log n) without
//! scanning every connection.

const std = @import("std");
const assert = std.debug.assert;

pub const TimerHeap = struct {
    /// Heap of slot numbers ordered by deadline.
    heap: []u32,
    /// Position of each slot in `heap`, or `absent`.
    position: []u32,
    deadline_ns: []u64,
    len: u32 = 0,

    const absent = std.math.maxInt(u32);

    pub fn init(allocator: std.mem.Allocator, slots: u32) !TimerHeap {
        const heap = try allocator.alloc(u32, slots);
        errdefer allocator.free(heap);
        const position = try allocator.alloc(u32, slots);
        errdefer allocator.free(position);
        const deadline_ns = try allocator.alloc(u64, slots);
        @memset(position, absent);
        return .{ .heap = heap, .position = position, .deadline_ns = deadline_ns };
    }

    pub fn deinit(timers: *TimerHeap, allocator: std.mem.Allocator) void {
        allocator.free(timers.heap);
        allocator.free(timers.position);
        allocator.free(timers.deadline_ns);
        timers.* = undefined;
    }

    /// Sets or moves the deadline of `slot`.
    pub fn set(timers: *TimerHeap, slot: u32, deadline_ns: u64) void {
        assert(slot < timers.position.len);
        timers.deadline_ns[slot] = deadline_ns;
        if (timers.position[slot] == absent) {
            timers.heap[timers.len] = slot;
            timers.position[slot] = timers.len;
            timers.len += 1;
        }
        timers.siftUp(timers.position[slot]);
        timers.siftDown(timers.position[slot]);
    }

    pub fn remove(timers: *TimerHeap, slot: u32) void {
        const index = timers.position[slot];
        if (index == absent) return;
        timers.len -= 1;
        timers.position[slot] = absent;
        if (index == timers.len) return;
        const last = timers.heap[timers.len];
        timers.heap[index] = last;
        timers.position[last] = index;
        timers.siftUp(index);
        timers.siftDown(timers.position[last]);
    }

    pub fn peek(timers: *const TimerHeap) ?struct { slot: u32, deadline_ns: u64 } {
        if (timers.len == 0) return null;
        const slot = timers.heap[0];
        return .{ .slot = slot, .deadline_ns = timers.deadline_ns[slot] };
    }

    fn less(timers: *const TimerHeap, a: u32, b: u32) bool {
        return timers.deadline_ns[timers.heap[a]] < timers.deadline_ns[timers.heap[b]];
    }

    fn swap(timers: *TimerHeap, a: u32, b: u32) void {
        std.mem.swap(u32, &timers.heap[a], &timers.heap[b]);
        timers.position[timers.heap[a]] = a;
        timers.position[timers.heap[b]] = b;
    }

    fn siftUp(timers: *TimerHeap, start: u32) void {
        var index = start;
        while (index > 0) {
            const parent = (index - 1) / 2;
            if (!timers.less(index, parent)) break;
            timers.swap(index, parent);
            index = parent;
        }
    }

    fn siftDown(timers: *TimerHeap, start: u32) void {
        var index = start;
        while (true) {
            const left = 2 * index + 1;
            if (left >= timers.len) break;
            var smallest = left;
            if (left + 1 < timers.len and timers.less(left + 1, left)) smallest = left + 1;
            if (!timers.less(smallest, index)) break;
            timers.swap(index, smallest);
            index = smallest;
        }
    }
};

const testing = std.testing;

test "earliest deadline first, with moves and removals" {
    var timers = try TimerHeap.init(testing.allocator, 8);
    defer timers.deinit(testing.allocator);
    try testing.expect(timers.peek() == null);
    timers.set(3, 300);
    timers.set(1, 100);
    timers.set(5, 500);
    try testing.expectEqual(@as(u32, 1), timers.peek().?.slot);
    timers.set(1, 600);
    try testing.expectEqual(@as(u32, 3), timers.peek().?.slot);
    timers.remove(3);
    try testing.expectEqual(@as(u32, 5), timers.peek().?.slot);
    timers.remove(3);
    timers.remove(5);
    try testing.expectEqual(@as(u32, 1), timers.peek().?.slot);
    try testing.expectEqual(@as(u64, 600), timers.peek().?.deadline_ns);
    timers.remove(1);
    try testing.expect(timers.peek() == null);
}

test "random operations agree with a linear scan" {
    var timers = try TimerHeap.init(testing.allocator, 32);
    defer timers.deinit(testing.allocator);
    var model = [_]?u64{null} ** 32;
    var prng = std.Random.DefaultPrng.init(7);
    const random = prng.random();
    var round: usize = 0;
    while (round < 5000) : (round += 1) {
        const slot = random.uintLessThan(u32, 32);
        if (random.boolean()) {
            const deadline = random.uintLessThan(u64, 1000);
            timers.set(slot, deadline);
            model[slot] = deadline;
        } else {
            timers.remove(slot);
            model[slot] = null;
        }
        var min: ?u64 = null;
        for (model) |m| if (m) |d| {
            if (min == null or d < min.?) min = d;
        };
        if (min) |d| try testing.expectEqual(d, timers.peek().?.deadline_ns) else try testing.expect(timers.peek() == null);
    }
}
