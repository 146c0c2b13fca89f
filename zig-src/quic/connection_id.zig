//! A QUIC connection ID held by value (at most 20 bytes, RFC 9000 17.2).

const std = @import("std");

pub const max_len = 20;
/// Length of the connection IDs this server chooses for itself.
pub const local_len = 16;

pub const ConnectionId = struct {
    len: u8 = 0,
    bytes: [max_len]u8 = [_]u8{0} ** max_len,

    comptime {
        std.debug.assert(@sizeOf(ConnectionId) == 21);
    }

    pub fn from(data: []const u8) ConnectionId {
        std.debug.assert(data.len <= max_len);
        var cid = ConnectionId{ .len = @intCast(data.len) };
        @memcpy(cid.bytes[0..data.len], data);
        return cid;
    }

    pub fn random() ConnectionId {
        var cid = ConnectionId{ .len = local_len };
        std.crypto.random.bytes(cid.bytes[0..local_len]);
        return cid;
    }

    pub fn slice(cid: *const ConnectionId) []const u8 {
        return cid.bytes[0..cid.len];
    }

    pub fn eql(a: *const ConnectionId, b: *const ConnectionId) bool {
        return std.mem.eql(u8, a.slice(), b.slice());
    }
};
