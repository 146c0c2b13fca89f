//! Connection table: maps the destination connection ID seen on the wire to a
//! connection slot. Open addressing with linear probing over one allocation
//! made at start-up; no allocation per packet. The hash is keyed with a
//! per-table random seed because clients choose their first DCID and could
//! otherwise aim collisions at us.

const std = @import("std");
const assert = std.debug.assert;
const ConnectionId = @import("connection_id.zig").ConnectionId;

pub const CidTable = struct {
    entries: []Entry,
    count: u32 = 0,
    tombstones: u32 = 0,
    seed: u64,

    const Entry = struct {
        state: State = .empty,
        slot: u32 = 0,
        cid: ConnectionId = .{},
    };
    const State = enum(u8) { empty, used, tombstone };

    pub const Error = error{TableFull};

    /// `capacity` must be a power of two; the table holds at most half of it
    /// so probe sequences stay short.
    pub fn init(allocator: std.mem.Allocator, capacity: u32) !CidTable {
        assert(std.math.isPowerOfTwo(capacity));
        const entries = try allocator.alloc(Entry, capacity);
        @memset(entries, .{});
        return .{ .entries = entries, .seed = std.crypto.random.int(u64) };
    }

    pub fn deinit(table: *CidTable, allocator: std.mem.Allocator) void {
        allocator.free(table.entries);
        table.* = undefined;
    }

    pub fn maxEntries(table: *const CidTable) u32 {
        return @intCast(table.entries.len / 2);
    }

    pub fn get(table: *const CidTable, cid: []const u8) ?u32 {
        const index = table.find(cid) orelse return null;
        return table.entries[index].slot;
    }

    /// Inserts or replaces the mapping for `cid`.
    pub fn put(table: *CidTable, cid: []const u8, slot: u32) Error!void {
        assert(cid.len <= 20);
        if (table.find(cid)) |index| {
            table.entries[index].slot = slot;
            return;
        }
        if (table.count >= table.maxEntries()) return error.TableFull;
        if (table.count + table.tombstones >= table.maxEntries()) table.purgeTombstones();

        const mask = table.entries.len - 1;
        var index = table.hash(cid) & mask;
        var probes: usize = 0;
        while (probes < table.entries.len) : (probes += 1) {
            const entry = &table.entries[index];
            if (entry.state != .used) {
                if (entry.state == .tombstone) table.tombstones -= 1;
                entry.* = .{ .state = .used, .slot = slot, .cid = ConnectionId.from(cid) };
                table.count += 1;
                return;
            }
            index = (index + 1) & mask;
        }
        unreachable; // count < capacity / 2 guarantees a free entry.
    }

    pub fn remove(table: *CidTable, cid: []const u8) bool {
        const index = table.find(cid) orelse return false;
        table.entries[index].state = .tombstone;
        table.count -= 1;
        table.tombstones += 1;
        return true;
    }

    fn find(table: *const CidTable, cid: []const u8) ?usize {
        const mask = table.entries.len - 1;
        var index = table.hash(cid) & mask;
        var probes: usize = 0;
        while (probes < table.entries.len) : (probes += 1) {
            const entry = &table.entries[index];
            switch (entry.state) {
                .empty => return null,
                .used => if (std.mem.eql(u8, entry.cid.slice(), cid)) return index,
                .tombstone => {},
            }
            index = (index + 1) & mask;
        }
        return null;
    }

    fn hash(table: *const CidTable, cid: []const u8) usize {
        return @truncate(std.hash.Wyhash.hash(table.seed, cid));
    }

    /// Re-inserts every live entry in place so that tombstones stop
    /// lengthening probe sequences. Runs at most once per maxEntries/2
    /// removals, so its cost is amortised.
    fn purgeTombstones(table: *CidTable) void {
        for (table.entries) |*entry| {
            if (entry.state == .tombstone) entry.state = .empty;
        }
        table.tombstones = 0;
        // Entries after a cleared tombstone may now be unreachable from
        // their home index; move each to its first free probe position.
        var moved = true;
        while (moved) {
            moved = false;
            const mask = table.entries.len - 1;
            for (table.entries, 0..) |*entry, i| {
                if (entry.state != .used) continue;
                var index = table.hash(entry.cid.slice()) & mask;
                while (index != i) : (index = (index + 1) & mask) {
                    if (table.entries[index].state == .empty) {
                        table.entries[index] = entry.*;
                        entry.state = .empty;
                        moved = true;
                        break;
                    }
                }
            }
        }
    }
};

const testing = std.testing;

test "put, get, replace and remove" {
    var table = try CidTable.init(testing.allocator, 16);
    defer table.deinit(testing.allocator);
    try table.put("abc", 1);
    try table.put("abcd", 2);
    try testing.expectEqual(@as(?u32, 1), table.get("abc"));
    try testing.expectEqual(@as(?u32, 2), table.get("abcd"));
    try testing.expectEqual(@as(?u32, null), table.get("ab"));
    try table.put("abc", 7);
    try testing.expectEqual(@as(?u32, 7), table.get("abc"));
    try testing.expectEqual(@as(u32, 2), table.count);
    try testing.expect(table.remove("abc"));
    try testing.expect(!table.remove("abc"));
    try testing.expectEqual(@as(?u32, null), table.get("abc"));
    try testing.expectEqual(@as(?u32, 2), table.get("abcd"));
}

test "full table refuses and never loops" {
    var table = try CidTable.init(testing.allocator, 8);
    defer table.deinit(testing.allocator);
    var i: u8 = 0;
    while (i < 4) : (i += 1) try table.put(&[_]u8{ i, 1, 2 }, i);
    try testing.expectError(error.TableFull, table.put("zzz", 9));
    try testing.expectEqual(@as(?u32, 3), table.get(&[_]u8{ 3, 1, 2 }));
}

test "churn through many inserts and removals keeps every live key reachable" {
    var table = try CidTable.init(testing.allocator, 64);
    defer table.deinit(testing.allocator);
    var prng = std.Random.DefaultPrng.init(42);
    const random = prng.random();
    var live = [_]?ConnectionId{null} ** 32;
    var round: usize = 0;
    while (round < 20_000) : (round += 1) {
        const i = random.uintLessThan(usize, live.len);
        if (live[i]) |cid| {
            try testing.expect(table.remove(cid.slice()));
            live[i] = null;
        } else {
            var bytes: [16]u8 = undefined;
            random.bytes(&bytes);
            const cid = ConnectionId.from(&bytes);
            try table.put(cid.slice(), @intCast(i));
            live[i] = cid;
        }
        for (live, 0..) |maybe, j| {
            if (maybe) |cid| try testing.expectEqual(@as(?u32, @intCast(j)), table.get(cid.slice()));
        }
    }
}
