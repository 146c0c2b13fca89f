//! A fixed ring of (request id, deadline) in deadline order, for checks
//! that share one timeout: every entry is pushed with `now + timeout`, and
//! `now` never goes back, so the oldest entry is always due first and the
//! ring needs no heap. Entries whose request ended are skipped when they
//! come due (ids stop resolving), so nothing has to be removed early.

const std = @import("std");
const assert = std.debug.assert;

pub const Entry = struct {
    id: u64,
    deadline_ns: u64,
    /// What the check compares against when it comes due (bytes received
    /// when the window opened, for the body-rate check).
    mark: u64 = 0,
};

pub const DeadlineRing = struct {
    entries: []Entry,
    head: usize = 0,
    len: usize = 0,

    pub fn init(allocator: std.mem.Allocator, capacity: usize) !DeadlineRing {
        assert(capacity > 0);
        return .{ .entries = try allocator.alloc(Entry, capacity) };
    }

    pub fn deinit(ring: *DeadlineRing, allocator: std.mem.Allocator) void {
        allocator.free(ring.entries);
        ring.* = undefined;
    }

    /// False when full: the capacity is max_requests and a request holds
    /// at most one entry per ring, so a full ring means stale entries of
    /// ended requests; the caller then skips the check for this request.
    pub fn push(ring: *DeadlineRing, entry: Entry) bool {
        if (ring.len == ring.entries.len) return false;
        if (ring.len > 0) assert(ring.entries[(ring.head + ring.len - 1) % ring.entries.len].deadline_ns <= entry.deadline_ns);
        ring.entries[(ring.head + ring.len) % ring.entries.len] = entry;
        ring.len += 1;
        return true;
    }

    /// The oldest entry, if it is due at `now_ns`.
    pub fn popDue(ring: *DeadlineRing, now_ns: u64) ?Entry {
        if (ring.len == 0) return null;
        const entry = ring.entries[ring.head];
        if (entry.deadline_ns > now_ns) return null;
        ring.head = (ring.head + 1) % ring.entries.len;
        ring.len -= 1;
        return entry;
    }

    pub fn full(ring: *const DeadlineRing) bool {
        return ring.len == ring.entries.len;
    }

    pub fn front(ring: *const DeadlineRing) ?Entry {
        if (ring.len == 0) return null;
        return ring.entries[ring.head];
    }

    /// Drops the oldest entry before it is due (its check no longer applies).
    pub fn dropFront(ring: *DeadlineRing) void {
        assert(ring.len > 0);
        ring.head = (ring.head + 1) % ring.entries.len;
        ring.len -= 1;
    }

    pub fn nextDeadline(ring: *const DeadlineRing) ?u64 {
        if (ring.len == 0) return null;
        return ring.entries[ring.head].deadline_ns;
    }
};

const testing = std.testing;

test "entries come due in order, wrap around, and refuse past capacity" {
    var ring = try DeadlineRing.init(testing.allocator, 3);
    defer ring.deinit(testing.allocator);
    var now: u64 = 0;
    for (0..10) |round| {
        try testing.expect(ring.push(.{ .id = round, .deadline_ns = now + 5 }));
        now += 2;
        if (ring.len == 3) try testing.expect(!ring.push(.{ .id = 99, .deadline_ns = now + 5 }));
        while (ring.popDue(now)) |entry| try testing.expect(entry.deadline_ns <= now);
    }
    try testing.expect(ring.nextDeadline().? > now);
    try testing.expectEqual(@as(?Entry, null), ring.popDue(now));
}
