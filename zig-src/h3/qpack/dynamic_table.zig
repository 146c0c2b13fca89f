//! The decoder's copy of the peer encoder's dynamic table (RFC 9204 §3.2).
//!
//! Entries are addressed by absolute index (the n-th insertion ever has
//! index n); the oldest are evicted first whenever the sizes (name + value +
//! 32 bytes each) would exceed the capacity. All memory is taken once at
//! init, sized by the maximum capacity we advertised:
//!   * `storage` holds the name and value bytes of live entries as one
//!     contiguous run, oldest first. New bytes go after the newest entry;
//!     when they do not fit before the end, the live run is first moved to
//!     the front. Live bytes plus the new entry never exceed the capacity
//!     minus 32 per entry, so the move always makes room, and its cost (at
//!     most one table's worth of bytes) is paid at most once per table's
//!     worth of inserted bytes.
//!   * `slots` is a ring with room for every entry that can be live at once
//!     (capacity / 32), indexed by absolute index modulo its length.

const std = @import("std");
const assert = std.debug.assert;

/// RFC 9204 §3.2.1: the per-entry overhead counted in a table's size.
pub const entry_overhead_bytes = 32;

pub const Entry = struct { name: []const u8, value: []const u8 };

const Slot = struct {
    offset: u32,
    name_len: u32,
    value_len: u32,
};

pub const DynamicTable = struct {
    storage: []u8,
    slots: []Slot,
    max_capacity_bytes: u32,
    capacity_bytes: u32 = 0,
    /// The RFC size of the live entries.
    size_bytes: u32 = 0,
    /// Total insertions since the connection began.
    insert_count: u64 = 0,
    live_count: u32 = 0,
    /// Where the oldest live entry's bytes start in `storage`.
    live_start: u32 = 0,
    /// Where the newest live entry's bytes end in `storage`.
    live_end: u32 = 0,

    /// A table that holds nothing and allows no capacity, allocating
    /// nothing: what the decoder keeps until the peer first uses its
    /// encoder stream.
    pub const empty: DynamicTable = .{ .storage = &.{}, .slots = &.{}, .max_capacity_bytes = 0 };

    pub fn init(allocator: std.mem.Allocator, max_capacity_bytes: u32) error{OutOfMemory}!DynamicTable {
        const storage = try allocator.alloc(u8, max_capacity_bytes);
        errdefer allocator.free(storage);
        const slots = try allocator.alloc(Slot, slotCount(max_capacity_bytes));
        return .{ .storage = storage, .slots = slots, .max_capacity_bytes = max_capacity_bytes };
    }

    /// Bytes `init` allocates for a table of `max_capacity_bytes`.
    pub fn bytesFor(max_capacity_bytes: u32) usize {
        return @as(usize, max_capacity_bytes) + slotCount(max_capacity_bytes) * @sizeOf(Slot);
    }

    fn slotCount(max_capacity_bytes: u32) usize {
        return max_capacity_bytes / entry_overhead_bytes;
    }

    pub fn deinit(self: *DynamicTable, allocator: std.mem.Allocator) void {
        allocator.free(self.storage);
        allocator.free(self.slots);
        self.* = undefined;
    }

    /// Set Dynamic Table Capacity (RFC 9204 §4.3.1): evicts until the live
    /// entries fit. Above the maximum we advertised is the peer's error.
    pub fn setCapacity(self: *DynamicTable, capacity_bytes: u64) error{CapacityExceeded}!void {
        if (capacity_bytes > self.max_capacity_bytes) return error.CapacityExceeded;
        self.capacity_bytes = @intCast(capacity_bytes);
        while (self.size_bytes > self.capacity_bytes) self.evictOldest();
        self.assertInvariants();
    }

    pub fn entrySize(name_len: usize, value_len: usize) u64 {
        return @as(u64, name_len) + value_len + entry_overhead_bytes;
    }

    /// Adds an entry, evicting the oldest ones to make room. The name and
    /// value must not point into this table (the decoder copies references
    /// first, because evicting the referenced entry may reuse its bytes).
    pub fn insert(self: *DynamicTable, name: []const u8, value: []const u8) error{EntryTooLarge}!void {
        const size = entrySize(name.len, value.len);
        if (size > self.capacity_bytes) return error.EntryTooLarge;
        assert(!self.overlapsStorage(name) and !self.overlapsStorage(value));
        while (self.size_bytes + size > self.capacity_bytes) self.evictOldest();

        const len: u32 = @intCast(name.len + value.len);
        if (self.live_end + len > self.storage.len) self.moveLiveBytesToFront();
        assert(self.live_end + len <= self.storage.len);
        const offset = self.live_end;
        @memcpy(self.storage[offset..][0..name.len], name);
        @memcpy(self.storage[offset + name.len ..][0..value.len], value);

        self.slots[self.slotIndex(self.insert_count)] = .{
            .offset = offset,
            .name_len = @intCast(name.len),
            .value_len = @intCast(value.len),
        };
        if (self.live_count == 0) self.live_start = offset;
        self.live_end = offset + len;
        self.live_count += 1;
        self.insert_count += 1;
        self.size_bytes += @intCast(size);
        self.assertInvariants();
    }

    /// The entry at `absolute_index`, or null when it was never inserted or
    /// has been evicted. The slices stay valid until the next change.
    pub fn get(self: *const DynamicTable, absolute_index: u64) ?Entry {
        if (absolute_index >= self.insert_count) return null;
        if (absolute_index < self.firstLiveIndex()) return null;
        const slot = self.slots[self.slotIndex(absolute_index)];
        const name = self.storage[slot.offset..][0..slot.name_len];
        const value = self.storage[slot.offset + slot.name_len ..][0..slot.value_len];
        return .{ .name = name, .value = value };
    }

    /// The absolute index of the oldest live entry (equal to
    /// `insert_count` when the table is empty).
    pub fn firstLiveIndex(self: *const DynamicTable) u64 {
        return self.insert_count - self.live_count;
    }

    fn slotIndex(self: *const DynamicTable, absolute_index: u64) usize {
        assert(self.slots.len > 0);
        return @intCast(absolute_index % self.slots.len);
    }

    fn evictOldest(self: *DynamicTable) void {
        assert(self.live_count > 0);
        const slot = self.slots[self.slotIndex(self.firstLiveIndex())];
        self.size_bytes -= @intCast(entrySize(slot.name_len, slot.value_len));
        self.live_count -= 1;
        if (self.live_count == 0) {
            self.live_start = 0;
            self.live_end = 0;
        } else {
            self.live_start = self.slots[self.slotIndex(self.firstLiveIndex())].offset;
        }
    }

    fn moveLiveBytesToFront(self: *DynamicTable) void {
        const shift = self.live_start;
        if (shift == 0) return;
        std.mem.copyForwards(u8, self.storage[0 .. self.live_end - shift], self.storage[shift..self.live_end]);
        var index = self.firstLiveIndex();
        while (index < self.insert_count) : (index += 1) {
            self.slots[self.slotIndex(index)].offset -= shift;
        }
        self.live_start = 0;
        self.live_end -= shift;
    }

    fn overlapsStorage(self: *const DynamicTable, bytes: []const u8) bool {
        if (bytes.len == 0 or self.storage.len == 0) return false;
        const start = @intFromPtr(bytes.ptr);
        const storage_start = @intFromPtr(self.storage.ptr);
        return start < storage_start + self.storage.len and storage_start < start + bytes.len;
    }

    fn assertInvariants(self: *const DynamicTable) void {
        assert(self.capacity_bytes <= self.max_capacity_bytes);
        assert(self.size_bytes <= self.capacity_bytes);
        assert(self.live_count <= self.slots.len);
        assert(self.live_count <= self.insert_count);
        assert(self.live_start <= self.live_end and self.live_end <= self.storage.len);
        // Live bytes form one run without gaps; the overhead is counted in
        // the size but never stored.
        assert(self.live_end - self.live_start + @as(u64, self.live_count) * entry_overhead_bytes == self.size_bytes);
    }
};

const testing = std.testing;

test "insert, get by absolute index, and evict the oldest" {
    var table = try DynamicTable.init(testing.allocator, 100);
    defer table.deinit(testing.allocator);
    try table.setCapacity(100);
    try table.insert("aaaa", "1"); // 37 bytes
    try table.insert("bbbb", "2"); // 74
    try testing.expectEqual(@as(u32, 74), table.size_bytes);
    try testing.expectEqualStrings("aaaa", table.get(0).?.name);
    try testing.expectEqualStrings("2", table.get(1).?.value);
    try testing.expect(table.get(2) == null);

    try table.insert("cccc", "3"); // 111 > 100: evicts index 0.
    try testing.expectEqual(@as(u64, 3), table.insert_count);
    try testing.expectEqual(@as(u32, 74), table.size_bytes);
    try testing.expect(table.get(0) == null);
    try testing.expectEqualStrings("bbbb", table.get(1).?.name);
    try testing.expectEqualStrings("cccc", table.get(2).?.name);
    try testing.expectEqualStrings("3", table.get(2).?.value);
}

test "lowering the capacity evicts; raising it past the maximum is refused" {
    var table = try DynamicTable.init(testing.allocator, 200);
    defer table.deinit(testing.allocator);
    try table.setCapacity(200);
    try table.insert("aaaa", "1");
    try table.insert("bbbb", "2");
    try table.setCapacity(37);
    try testing.expectEqual(@as(u32, 1), table.live_count);
    try testing.expect(table.get(0) == null);
    try testing.expectEqualStrings("bbbb", table.get(1).?.name);
    try table.setCapacity(0);
    try testing.expectEqual(@as(u32, 0), table.live_count);
    try testing.expectEqual(@as(u32, 0), table.size_bytes);
    try testing.expectError(error.CapacityExceeded, table.setCapacity(201));
}

test "an entry larger than the capacity is refused" {
    var table = try DynamicTable.init(testing.allocator, 64);
    defer table.deinit(testing.allocator);
    try testing.expectError(error.EntryTooLarge, table.insert("a", ""));
    try table.setCapacity(64);
    try table.insert("name", "value-that-fits-exactly-here"); // 4 + 28 + 32 = 64
    try testing.expectError(error.EntryTooLarge, table.insert("name", "value-that-fits-exactly-here!"));
}

test "a table with no capacity holds nothing" {
    var table = try DynamicTable.init(testing.allocator, 0);
    defer table.deinit(testing.allocator);
    try table.setCapacity(0);
    try testing.expectError(error.EntryTooLarge, table.insert("", ""));
    try testing.expect(table.get(0) == null);
}

test "many inserts wrap the storage and keep every live entry intact" {
    var table = try DynamicTable.init(testing.allocator, 300);
    defer table.deinit(testing.allocator);
    try table.setCapacity(300);
    var name_buffer: [16]u8 = undefined;
    var value_buffer: [64]u8 = undefined;
    var prng = std.Random.DefaultPrng.init(7);
    const random = prng.random();
    var round: usize = 0;
    while (round < 2000) : (round += 1) {
        const name = try std.fmt.bufPrint(&name_buffer, "n{d}", .{round});
        const value_len = random.uintAtMost(usize, value_buffer.len);
        @memset(value_buffer[0..value_len], @intCast('a' + round % 26));
        try table.insert(name, value_buffer[0..value_len]);
        try testing.expect(table.size_bytes <= 300);
        // Every live entry still reads back as it was written.
        var index = table.firstLiveIndex();
        while (index < table.insert_count) : (index += 1) {
            const entry = table.get(index).?;
            const expected_name = try std.fmt.bufPrint(&name_buffer, "n{d}", .{index});
            try testing.expectEqualStrings(expected_name, entry.name);
            for (entry.value) |char| try testing.expectEqual(@as(u8, @intCast('a' + index % 26)), char);
        }
    }
    try testing.expectEqual(@as(u64, 2000), table.insert_count);
}
