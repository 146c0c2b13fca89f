//! One QUIC connection as the transport sees it, and the fixed pool of
//! them. Its HTTP/3 state is the HTTP/3 layer's (h3/conn_state.zig), kept
//! under the same slot number. The pool is allocated at start-up
//! (max_connections slots) so accepting a connection allocates only inside
//! quiche.

const std = @import("std");
const assert = std.debug.assert;
const posix = std.posix;
const quiche = @import("../ffi/quiche.zig");
const ConnectionId = @import("connection_id.zig").ConnectionId;

pub const Connection = struct {
    quiche_conn: *quiche.Conn,
    /// Our own CID and the client's original DCID, both keys in the CID
    /// table. After a Retry the client never sends to its original DCID
    /// again, and `odcid` repeats `scid` (one key).
    scid: ConnectionId,
    odcid: ConnectionId,
    /// Number the application sees; never reused within a server's life.
    serial: u64,
    dirty: bool = false,
    /// The peer's address, as counted for max_connections_per_ip.
    peer_key: [16]u8 = @splat(0),

    /// The HTTP/3 layer's part of the connection (h3/conn_state.zig) must
    /// have been closed first: it refers to the quiche connection.
    pub fn deinit(connection: *Connection) void {
        quiche.quiche_conn_free(connection.quiche_conn);
        connection.* = undefined;
    }
};

pub const ConnectionPool = struct {
    slots: []?Connection,
    free_slots: []u32,
    free_len: u32,

    pub fn init(allocator: std.mem.Allocator, capacity: u32) !ConnectionPool {
        const slots = try allocator.alloc(?Connection, capacity);
        errdefer allocator.free(slots);
        const free_slots = try allocator.alloc(u32, capacity);
        @memset(slots, null);
        for (free_slots, 0..) |*slot, i| slot.* = @intCast(capacity - 1 - i);
        return .{ .slots = slots, .free_slots = free_slots, .free_len = capacity };
    }

    /// Every connection must have been removed (and freed) first.
    pub fn deinit(pool: *ConnectionPool, allocator: std.mem.Allocator) void {
        assert(pool.free_len == pool.slots.len);
        allocator.free(pool.slots);
        allocator.free(pool.free_slots);
        pool.* = undefined;
    }

    pub fn liveCount(pool: *const ConnectionPool) u32 {
        return @as(u32, @intCast(pool.slots.len)) - pool.free_len;
    }

    pub fn insert(pool: *ConnectionPool, connection: Connection) ?u32 {
        if (pool.free_len == 0) return null;
        pool.free_len -= 1;
        const slot = pool.free_slots[pool.free_len];
        assert(pool.slots[slot] == null);
        pool.slots[slot] = connection;
        return slot;
    }

    pub fn get(pool: *ConnectionPool, slot: u32) *Connection {
        return &(pool.slots[slot].?);
    }

    pub fn remove(pool: *ConnectionPool, slot: u32) void {
        assert(pool.slots[slot] != null);
        pool.slots[slot] = null;
        pool.free_slots[pool.free_len] = slot;
        pool.free_len += 1;
    }
};
