//! Live connections per peer IP address, for max_connections_per_ip. One
//! allocation at start-up (room for max_connections addresses), so counting
//! a connection never allocates.

const std = @import("std");
const posix = std.posix;

/// An IPv4 address as IPv4-mapped IPv6, so both families share one key type.
pub const Key = [16]u8;

pub fn keyOf(peer: *const posix.sockaddr.storage) Key {
    var key: Key = @splat(0);
    const family = @as(*const posix.sockaddr, @ptrCast(peer)).family;
    if (family == posix.AF.INET6) {
        const in6: *const posix.sockaddr.in6 = @ptrCast(@alignCast(peer));
        key = in6.addr;
    } else {
        const in4: *const posix.sockaddr.in = @ptrCast(@alignCast(peer));
        key[10] = 0xff;
        key[11] = 0xff;
        @memcpy(key[12..16], std.mem.asBytes(&in4.addr));
    }
    return key;
}

/// The address family (4 or 6) and port of a peer.
pub fn familyAndPort(peer: *const posix.sockaddr.storage) struct { family: u8, port: u16 } {
    const family = @as(*const posix.sockaddr, @ptrCast(peer)).family;
    if (family == posix.AF.INET6) {
        const in6: *const posix.sockaddr.in6 = @ptrCast(@alignCast(peer));
        return .{ .family = 6, .port = std.mem.bigToNative(u16, in6.port) };
    }
    const in4: *const posix.sockaddr.in = @ptrCast(@alignCast(peer));
    return .{ .family = 4, .port = std.mem.bigToNative(u16, in4.port) };
}

pub const PeerCounts = struct {
    map: std.AutoHashMapUnmanaged(Key, u32) = .empty,

    pub fn init(allocator: std.mem.Allocator, capacity: u32) !PeerCounts {
        var counts = PeerCounts{};
        try counts.map.ensureTotalCapacity(allocator, capacity);
        return counts;
    }

    pub fn deinit(counts: *PeerCounts, allocator: std.mem.Allocator) void {
        counts.map.deinit(allocator);
        counts.* = undefined;
    }

    pub fn count(counts: *const PeerCounts, key: Key) u32 {
        return counts.map.get(key) orelse 0;
    }

    /// At most one entry per live connection, so capacity never runs out.
    pub fn add(counts: *PeerCounts, key: Key) void {
        const entry = counts.map.getOrPutAssumeCapacity(key);
        entry.value_ptr.* = if (entry.found_existing) entry.value_ptr.* + 1 else 1;
    }

    pub fn remove(counts: *PeerCounts, key: Key) void {
        const value = counts.map.getPtr(key) orelse return;
        if (value.* <= 1) {
            _ = counts.map.remove(key);
        } else value.* -= 1;
    }
};

const testing = std.testing;

test "counts per address, IPv4 and IPv6 apart, entries freed at zero" {
    var counts = try PeerCounts.init(testing.allocator, 8);
    defer counts.deinit(testing.allocator);
    const a = try std.net.Address.parseIp("10.0.0.1", 1000);
    const b = try std.net.Address.parseIp("10.0.0.1", 2000);
    const c = try std.net.Address.parseIp("::1", 1000);
    var storage: [3]posix.sockaddr.storage = undefined;
    for ([_]std.net.Address{ a, b, c }, 0..) |address, i| @memcpy(std.mem.asBytes(&storage[i])[0..address.getOsSockLen()], std.mem.asBytes(&address)[0..address.getOsSockLen()]);
    const key_a = keyOf(&storage[0]);
    try testing.expectEqualSlices(u8, &key_a, &keyOf(&storage[1])); // same address, other port
    counts.add(key_a);
    counts.add(keyOf(&storage[1]));
    counts.add(keyOf(&storage[2]));
    try testing.expectEqual(@as(u32, 2), counts.count(key_a));
    try testing.expectEqual(@as(u32, 1), counts.count(keyOf(&storage[2])));
    counts.remove(key_a);
    counts.remove(key_a);
    try testing.expectEqual(@as(u32, 0), counts.count(key_a));
    try testing.expectEqual(@as(u32, 1), counts.map.count());
}
