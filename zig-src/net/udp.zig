//! Non-blocking UDP socket owned by the loop thread.

const std = @import("std");
const posix = std.posix;
const linux = std.os.linux;

/// struct sock_filter (net/steering_program.zig builds them).
pub const SockFilter = extern struct { code: u16, jt: u8, jf: u8, k: u32 };
const SockFprog = extern struct { len: u16, filter: [*]const SockFilter };

pub const BindError = error{ AddressInUse, AddressNotAvailable, PermissionDenied, SocketFailed };

pub const Socket = struct {
    fd: posix.socket_t,
    /// The bound address, with the real port when port 0 was asked for.
    local: std.net.Address,
    /// False for a socket another owner gave us (workers: the steering
    /// object owns every socket of the group and closes it itself, because
    /// closing one reorders the group).
    owned: bool = true,

    pub const Options = struct {
        /// SO_REUSEPORT: several sockets of this process share the port,
        /// and the group's steering program picks one per datagram.
        reuse_port: bool = false,
    };

    pub fn bind(address: std.net.Address, buffer_bytes: u32) BindError!Socket {
        return bindWith(address, buffer_bytes, .{});
    }

    pub fn bindWith(address: std.net.Address, buffer_bytes: u32, options: Options) BindError!Socket {
        const fd = posix.socket(
            address.any.family,
            posix.SOCK.DGRAM | posix.SOCK.NONBLOCK | posix.SOCK.CLOEXEC,
            posix.IPPROTO.UDP,
        ) catch return error.SocketFailed;
        errdefer posix.close(fd);
        // Larger kernel buffers absorb bursts while the loop is busy; failure
        // only costs performance, so it is not an error.
        const size = std.mem.toBytes(@as(c_int, @intCast(buffer_bytes)));
        posix.setsockopt(fd, posix.SOL.SOCKET, posix.SO.RCVBUF, &size) catch {};
        posix.setsockopt(fd, posix.SOL.SOCKET, posix.SO.SNDBUF, &size) catch {};
        if (options.reuse_port) {
            posix.setsockopt(fd, posix.SOL.SOCKET, posix.SO.REUSEPORT, &std.mem.toBytes(@as(c_int, 1))) catch return error.SocketFailed;
        }
        posix.bind(fd, &address.any, address.getOsSockLen()) catch |err| return switch (err) {
            error.AddressInUse => error.AddressInUse,
            error.AddressNotAvailable => error.AddressNotAvailable,
            error.AccessDenied => error.PermissionDenied,
            else => error.SocketFailed,
        };
        var local: std.net.Address = undefined;
        var len: posix.socklen_t = @sizeOf(std.net.Address);
        posix.getsockname(fd, &local.any, &len) catch return error.SocketFailed;
        return .{ .fd = fd, .local = local };
    }

    /// Uses a bound UDP socket someone else owns (and will close).
    pub fn adopt(fd: posix.socket_t) BindError!Socket {
        var local: std.net.Address = undefined;
        var len: posix.socklen_t = @sizeOf(std.net.Address);
        posix.getsockname(fd, &local.any, &len) catch return error.SocketFailed;
        if (local.any.family != posix.AF.INET and local.any.family != posix.AF.INET6) return error.SocketFailed;
        var kind: c_int = 0;
        posix.getsockopt(fd, posix.SOL.SOCKET, posix.SO.TYPE, std.mem.asBytes(&kind)) catch return error.SocketFailed;
        if (kind != posix.SOCK.DGRAM) return error.SocketFailed;
        return .{ .fd = fd, .local = local, .owned = false };
    }

    pub fn close(socket: *Socket) void {
        if (socket.owned) posix.close(socket.fd);
        socket.* = undefined;
    }

    /// Attaches a classic BPF program to the socket's reuseport group
    /// (SO_ATTACH_REUSEPORT_CBPF), replacing the group's previous one.
    pub fn attachReuseportProgram(socket: *const Socket, program: []const SockFilter) error{AttachFailed}!void {
        const fprog = SockFprog{ .len = @intCast(program.len), .filter = program.ptr };
        posix.setsockopt(socket.fd, posix.SOL.SOCKET, posix.SO.ATTACH_REUSEPORT_CBPF, std.mem.asBytes(&fprog)) catch return error.AttachFailed;
    }

    pub const SendResult = enum { sent, would_block, failed };

    /// A packet the kernel refuses is lost like any other UDP loss; quiche's
    /// recovery retransmits what it carried.
    pub fn send(socket: *const Socket, data: []const u8, peer: *const posix.sockaddr.storage, peer_len: posix.socklen_t) SendResult {
        const rc = linux.sendto(socket.fd, data.ptr, data.len, 0, @ptrCast(peer), peer_len);
        return switch (linux.E.init(rc)) {
            .SUCCESS => .sent,
            .AGAIN => .would_block,
            else => .failed,
        };
    }
};

/// SO_TXTIME and its control message SCM_TXTIME (same number), from
/// <linux/net_tstamp.h> and <asm-generic/socket.h>.
pub const so_txtime: u32 = 61;

/// Asks the kernel to take a send time (SCM_TXTIME, CLOCK_MONOTONIC
/// nanoseconds) with each message on `fd`, the clock quiche's pacer uses.
/// The fq qdisc holds each packet until then; without fq the time is
/// accepted and ignored. Returns false when the kernel refuses the option
/// (then no message may carry the time: the kernel would reject it).
pub fn enableTxtime(fd: posix.socket_t) bool {
    const SockTxtime = extern struct { clockid: i32, flags: u32 };
    const value = SockTxtime{ .clockid = @intCast(@intFromEnum(linux.CLOCK.MONOTONIC)), .flags = 0 };
    posix.setsockopt(fd, posix.SOL.SOCKET, so_txtime, std.mem.asBytes(&value)) catch return false;
    return true;
}
