//! One QUIC connection and the fixed pool of them. The pool is allocated at
//! start-up (max_connections slots) so accepting a connection allocates only
//! inside quiche.

const std = @import("std");
const assert = std.debug.assert;
const posix = std.posix;
const quiche = @import("../ffi/quiche.zig");
const ConnectionId = @import("connection_id.zig").ConnectionId;
const H3Connection = @import("../h3/h3_connection.zig").H3Connection;

pub const Connection = struct {
    quiche_conn: *quiche.Conn,
    /// HTTP/3 state, created once the handshake completes.
    h3: ?*H3Connection = null,
    /// Our own CID and the client's original DCID, both keys in the CID
    /// table. After a Retry the client never sends to its original DCID
    /// again, and `odcid` repeats `scid` (one key).
    scid: ConnectionId,
    odcid: ConnectionId,
    /// Number the application sees; never reused within a server's life.
    serial: u64,
    /// Request stream id -> request slot.
    streams: std.AutoHashMapUnmanaged(u64, u32) = .empty,
    /// Ids of requests with response bytes waiting for stream capacity.
    output: std.ArrayListUnmanaged(u64) = .empty,
    dirty: bool = false,
    /// The peer's address, as counted for max_connections_per_ip.
    peer_key: [16]u8 = @splat(0),
    /// The peer's address family (4 or 6) and UDP port when it connected,
    /// for REQUEST events (the application's requestIP).
    peer_family: u8 = 0,
    peer_port: u16 = 0,
    /// Highest request stream id received, for GOAWAY.
    max_stream_id_seen: u64 = 0,
    /// Datagram commands applied for this connection (queued or dropped).
    datagram_commands: u64 = 0,
    /// The application waits for a DATAGRAM_CREDIT event.
    datagram_credit_wanted: bool = false,
    /// What the last CONN_INFO event said.
    info_flags: u8 = 0,
    info_max_datagram: u64 = 0,
    /// A CONN_INFO event named this connection, so its end is announced.
    announced: bool = false,
    /// quiche's count of STOP_SENDING frames received, as far as they were
    /// handed on to WebTransport streams (wt_streams.noticeStopSending).
    stop_sending_seen: u64 = 0,

    pub fn deinit(connection: *Connection, allocator: std.mem.Allocator) void {
        if (connection.h3) |h3| h3.destroy(allocator);
        quiche.quiche_conn_free(connection.quiche_conn);
        connection.streams.deinit(allocator);
        connection.output.deinit(allocator);
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
