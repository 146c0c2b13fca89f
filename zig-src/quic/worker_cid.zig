//! Where a worker's id sits in the connection IDs this server chooses, so
//! that the kernel's reuseport steering program (net/steering_program.zig)
//! can send each packet to the worker that holds its connection, whatever
//! the client's address. One byte carries the id:
//!
//! * random connection IDs (no QUIC-LB): byte 0;
//! * plaintext QUIC-LB: the first nonce byte (1 + server ID length), so
//!   the first octet and the server ID stay what the fleet's balancer reads;
//! * encrypted QUIC-LB: nowhere. The kernel cannot decrypt, so workers and a
//!   QUIC-LB key do not go together (Config.validate refuses it).
//!
//! Pure functions; the engine stamps each new connection ID with them.

const std = @import("std");
const assert = std.debug.assert;
const connection_id = @import("connection_id.zig");
const ConnectionId = connection_id.ConnectionId;
const quic_lb = @import("quic_lb.zig");

pub const Layout = struct {
    /// Offset of the worker byte inside the connection ID.
    offset: u8,
    /// Length of every connection ID the server chooses.
    cid_len: u8,
};

/// The layout for a server's connection IDs; null with encrypted QUIC-LB
/// (the worker byte would be hidden from the kernel).
pub fn layout(lb: ?*const quic_lb.Config) ?Layout {
    const config = lb orelse return .{ .offset = 0, .cid_len = connection_id.local_len };
    if (config.key != null) return null;
    const offset = 1 + config.server_id_len;
    assert(offset < config.cidLen());
    return .{ .offset = offset, .cid_len = config.cidLen() };
}

/// Writes `worker_id` into a connection ID of this layout.
pub fn stamp(cid: *ConnectionId, at: Layout, worker_id: u8) void {
    assert(cid.len == at.cid_len);
    assert(at.offset < at.cid_len);
    cid.bytes[at.offset] = worker_id;
}

/// The worker id a connection ID of this layout carries, or null when it is
/// too short to carry one (not ours).
pub fn workerOf(cid: []const u8, at: Layout) ?u8 {
    if (cid.len != at.cid_len) return null;
    return cid[at.offset];
}

const testing = std.testing;

test "random connection IDs carry the worker in byte 0" {
    const at = layout(null).?;
    try testing.expectEqual(Layout{ .offset = 0, .cid_len = 16 }, at);
    for (0..256) |worker| {
        var cid = ConnectionId.random();
        stamp(&cid, at, @intCast(worker));
        try testing.expectEqual(@as(?u8, @intCast(worker)), workerOf(cid.slice(), at));
    }
    try testing.expectEqual(@as(?u8, null), workerOf(&[_]u8{ 1, 2, 3, 4, 5, 6, 7, 8 }, at));
}

test "plaintext QUIC-LB keeps the server ID and carries the worker in the first nonce byte" {
    const lb = try quic_lb.Config.init(2, &.{ 0x0a, 0x01, 0x02 }, 6, null);
    const at = layout(&lb).?;
    try testing.expectEqual(Layout{ .offset = 4, .cid_len = 10 }, at);
    var nonce = [_]u8{ 0x77, 1, 2, 3, 4, 5 };
    nonce[0] = 0x2c; // The engine writes the worker id as nonce byte 0.
    var cid = ConnectionId{ .len = lb.cidLen() };
    _ = quic_lb.encode(&lb, &nonce, &cid.bytes);
    try testing.expectEqual(@as(?u8, 0x2c), workerOf(cid.slice(), at));
    stamp(&cid, at, 0x05);
    // A balancer still reads the server ID, and the worker byte moved.
    var server_id: [quic_lb.server_id_len_max]u8 = undefined;
    try testing.expectEqualSlices(u8, &.{ 0x0a, 0x01, 0x02 }, quic_lb.decode(&lb, cid.slice(), &server_id).?);
    try testing.expectEqual(@as(?u8, 0x05), workerOf(cid.slice(), at));
    try testing.expectEqual(@as(u8, (2 << 5) | 9), cid.bytes[0]);
}

test "encrypted QUIC-LB has no layout: the kernel could not read the worker" {
    const lb = try quic_lb.Config.init(0, &.{0x01}, 8, [_]u8{7} ** quic_lb.key_len);
    try testing.expectEqual(@as(?Layout, null), layout(&lb));
}
