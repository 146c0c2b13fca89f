//! Workers on one UDP port: the reuseport group of their sockets and the
//! steering program that picks a socket for each datagram by the worker id
//! in its destination connection ID (net/steering_program.zig). One object
//! per port, owned by the supervisor (ts/workers.ts), because only the
//! owner of every socket knows the group's order: the kernel indexes the
//! group by join order, and closing a socket moves the last one into its
//! place. Every change re-attaches the program in an order that never
//! sends a packet to a socket that does not hold its connection:
//!
//! * add: the program learns the new worker's id first (its index is past
//!   the group's end until the bind, so the kernel's hash covers that
//!   instant), then the socket binds, then the worker starts accepting.
//! * drain: the worker stops getting new connections; its own keep coming.
//! * remove: the moving last socket is unmapped (hash) for the instant of
//!   the close, then mapped at its new index.
//!
//! Not thread-safe: the supervisor calls it from its one thread.

const std = @import("std");
const assert = std.debug.assert;
const posix = std.posix;
const config_mod = @import("config.zig");
const Config = config_mod.Config;
const Socket = @import("net/udp.zig").Socket;
const steering_program = @import("net/steering_program.zig");
const quic_lb = @import("quic/quic_lb.zig");
const worker_cid = @import("quic/worker_cid.zig");

pub const Error = error{
    BindAddressInvalid,
    LimitOutOfRange,
    WorkersNeedPlaintextCids,
    AddressInUse,
    AddressNotAvailable,
    PermissionDenied,
    SocketFailed,
    AttachFailed,
    /// A worker id already in the group, or not in it.
    InvalidArgument,
    /// The group is full (config.steering_members_max).
    InvalidState,
};

const socket_buffer_bytes = 4 * 1024 * 1024;
/// F_DUPFD_CLOEXEC (linux/fcntl.h).
const f_dupfd_cloexec = 1030;

pub const Steering = struct {
    const Member = struct {
        socket: Socket,
        worker_id: u8,
        state: State,
    };
    pub const State = enum { joining, accepting, draining };

    /// In the kernel's group order.
    members: [config_mod.steering_members_max]Member = undefined,
    member_count: usize = 0,
    address: std.net.Address,
    target: steering_program.Target,
    program: [steering_program.instructionsFor(config_mod.steering_members_max)]steering_program.Instruction = undefined,

    /// Checks what the workers' connection IDs will look like (the same
    /// config the workers get) and where to bind; binds nothing yet.
    pub fn init(config: *const Config) Error!Steering {
        var checked = config.*;
        checked.worker_steering = true;
        checked.validateWorkers() catch |err| return switch (err) {
            error.WorkersNeedPlaintextCids => error.WorkersNeedPlaintextCids,
            else => error.LimitOutOfRange,
        };
        const address = config_mod.parseBindAddress(config.bind_address, config.port) catch return error.BindAddressInvalid;
        const lb = try quicLb(config);
        const at = worker_cid.layout(if (lb) |*c| c else null) orelse return error.WorkersNeedPlaintextCids;
        return .{ .address = address, .target = .{ .worker_offset = at.offset, .cid_len = at.cid_len } };
    }

    fn quicLb(config: *const Config) Error!?quic_lb.Config {
        var server_id_buffer: [config_mod.quic_lb_server_id_len_max]u8 = undefined;
        const hex = config.quic_lb_server_id_hex orelse return null;
        if (hex.len == 0 or hex.len % 2 != 0 or hex.len / 2 > server_id_buffer.len) return error.LimitOutOfRange;
        const server_id = std.fmt.hexToBytes(&server_id_buffer, hex) catch return error.LimitOutOfRange;
        const rotation = std.math.cast(u8, config.quic_lb_config_rotation) orelse return error.LimitOutOfRange;
        const nonce_len = std.math.cast(u8, config.quic_lb_nonce_len) orelse return error.LimitOutOfRange;
        return quic_lb.Config.init(rotation, server_id, nonce_len, null) catch error.LimitOutOfRange;
    }

    /// Closes every socket. Workers must have stopped using them.
    pub fn deinit(steering: *Steering) void {
        for (steering.members[0..steering.member_count]) |*member| posix.close(member.socket.fd);
        steering.* = undefined;
    }

    /// The port every socket shares (after the first add).
    pub fn port(steering: *const Steering) u16 {
        return steering.address.getPort();
    }

    /// Binds a socket for a new worker and returns its fd (the steering
    /// object keeps owning it). The worker takes new connections at once.
    pub fn add(steering: *Steering, worker_id: u8) Error!posix.socket_t {
        if (steering.find(worker_id) != null) return error.InvalidArgument;
        if (steering.member_count == steering.members.len) return error.InvalidState;
        const index = steering.member_count;
        steering.members[index] = .{ .socket = undefined, .worker_id = worker_id, .state = .joining };
        steering.member_count += 1;
        // Mapped before it exists: until the bind, its index is past the
        // group's end and the kernel hashes.
        if (index > 0) steering.attach() catch |err| {
            steering.member_count -= 1;
            return err;
        };
        const socket = bindSocket(steering.address) catch |err| {
            steering.member_count -= 1;
            steering.attach() catch {};
            return err;
        };
        steering.members[index].socket = socket;
        if (index == 0) steering.address = socket.local;
        steering.members[index].state = .accepting;
        // Should this attach fail, the previous program maps the worker
        // already (not accepting yet): it still gets its own connections.
        try steering.attach();
        return socket.fd;
    }

    /// The worker keeps its connections but gets no new ones.
    pub fn drain(steering: *Steering, worker_id: u8) Error!void {
        const index = steering.find(worker_id) orelse return error.InvalidArgument;
        assert(steering.members[index].state != .joining);
        steering.members[index].state = .draining;
        try steering.attach();
    }

    /// Closes the worker's socket; the worker must have stopped reading it.
    pub fn remove(steering: *Steering, worker_id: u8) Error!void {
        const index = steering.find(worker_id) orelse return error.InvalidArgument;
        const last = steering.member_count - 1;
        const moved_id = steering.members[last].worker_id;
        // While both sockets are still in the group: the removed worker and
        // the one whose socket the kernel will move into its place are
        // unmapped, so for the instant of the close their packets take the
        // kernel's hash rather than a socket that is closing.
        steering.attachHiding(worker_id, moved_id) catch {};
        posix.close(steering.members[index].socket.fd);
        steering.members[index] = steering.members[last];
        steering.member_count = last;
        if (steering.member_count > 0) try steering.attach();
    }

    /// Worker ids in the group's order (for tests and diagnostics).
    pub fn order(steering: *const Steering, out: []u8) []u8 {
        const count = @min(out.len, steering.member_count);
        for (steering.members[0..count], out[0..count]) |member, *id| id.* = member.worker_id;
        return out[0..count];
    }

    fn find(steering: *const Steering, worker_id: u8) ?usize {
        for (steering.members[0..steering.member_count], 0..) |member, i| if (member.worker_id == worker_id) return i;
        return null;
    }

    fn bindSocket(address: std.net.Address) Error!Socket {
        var socket = Socket.bindWith(address, socket_buffer_bytes, .{ .reuse_port = true }) catch |err| return switch (err) {
            error.AddressInUse => error.AddressInUse,
            error.AddressNotAvailable => error.AddressNotAvailable,
            error.PermissionDenied => error.PermissionDenied,
            error.SocketFailed => error.SocketFailed,
        };
        // A server takes fd 0 as "bind your own": never hand out fd 0.
        if (socket.fd == 0) {
            const moved = posix.fcntl(0, f_dupfd_cloexec, 3) catch {
                socket.close();
                return error.SocketFailed;
            };
            posix.close(0);
            socket.fd = @intCast(moved);
        }
        return socket;
    }

    fn attach(steering: *Steering) Error!void {
        return steering.attachHiding(null, null);
    }

    /// Attaches the program for the current members, through any bound
    /// socket of the group (the program belongs to the group). Members
    /// named in `hidden_*` keep their index but are unmapped.
    fn attachHiding(steering: *Steering, hidden_a: ?u8, hidden_b: ?u8) Error!void {
        var members: [config_mod.steering_members_max]steering_program.Member = undefined;
        var socket: ?*const Socket = null;
        for (steering.members[0..steering.member_count], members[0..steering.member_count]) |*member, *out| {
            const hidden = member.worker_id == hidden_a or member.worker_id == hidden_b;
            out.* = .{ .worker_id = member.worker_id, .accepting = !hidden and member.state == .accepting, .mapped = !hidden };
            if (member.state != .joining and socket == null) socket = &member.socket;
        }
        const program = steering_program.build(steering.target, members[0..steering.member_count], &steering.program);
        const into = socket orelse return;
        into.attachReuseportProgram(program) catch return error.AttachFailed;
    }
};

// ---------------------------------------------------------------- tests
// The kernel itself: sockets bound through the steering object receive the
// short-header packets whose connection ID names their worker, also after
// the group's order changed.

const testing = std.testing;
const linux = std.os.linux;

fn testConfig() Config {
    return .{ .cert_path = "unused", .key_path = "unused", .port = 0 };
}

/// Sends a short-header packet naming `worker` from a fresh socket (a new
/// source port each time, as after a NAT rebinding) and returns the fd of
/// the member that received it.
fn deliver(steering: *const Steering, worker: u8) !posix.socket_t {
    const client = try posix.socket(posix.AF.INET, posix.SOCK.DGRAM | posix.SOCK.CLOEXEC, posix.IPPROTO.UDP);
    defer posix.close(client);
    var packet = [_]u8{0x41} ++ [_]u8{0} ** 40;
    std.crypto.random.bytes(packet[1..]);
    packet[1 + steering.target.worker_offset] = worker;
    _ = try posix.sendto(client, &packet, 0, &steering.address.any, steering.address.getOsSockLen());
    var fds: [config_mod.steering_members_max]linux.pollfd = undefined;
    for (steering.members[0..steering.member_count], fds[0..steering.member_count]) |member, *fd| fd.* = .{ .fd = member.socket.fd, .events = linux.POLL.IN, .revents = 0 };
    const ready = try posix.poll(fds[0..steering.member_count], 2000);
    try testing.expectEqual(@as(usize, 1), ready);
    for (fds[0..steering.member_count]) |fd| if (fd.revents & linux.POLL.IN != 0) {
        var buffer: [64]u8 = undefined;
        const n = try posix.recv(fd.fd, &buffer, 0);
        try testing.expectEqualSlices(u8, &packet, buffer[0..n]);
        return fd.fd;
    };
    unreachable;
}

fn fdOf(steering: *const Steering, worker: u8) posix.socket_t {
    return steering.members[steering.find(worker).?].socket.fd;
}

test "the kernel delivers each packet to the socket of the worker its connection ID names" {
    var steering = try Steering.init(&testConfig());
    defer steering.deinit();
    for ([_]u8{ 5, 9, 200 }) |worker| _ = try steering.add(worker);
    try testing.expect(steering.port() != 0);
    for (0..4) |_| for ([_]u8{ 5, 9, 200 }) |worker| {
        try testing.expectEqual(fdOf(&steering, worker), try deliver(&steering, worker));
    };
    // A draining worker keeps its own packets.
    try steering.drain(9);
    try testing.expectEqual(fdOf(&steering, 9), try deliver(&steering, 9));
    // Removing worker 5 (index 0) moves worker 200's socket into index 0;
    // the re-attached program follows it.
    try steering.remove(5);
    var order_buffer: [4]u8 = undefined;
    try testing.expectEqualSlices(u8, &.{ 200, 9 }, steering.order(&order_buffer));
    for (0..4) |_| for ([_]u8{ 9, 200 }) |worker| {
        try testing.expectEqual(fdOf(&steering, worker), try deliver(&steering, worker));
    };
    // A replacement joins at the end and gets its packets at once.
    _ = try steering.add(17);
    try testing.expectEqual(fdOf(&steering, 17), try deliver(&steering, 17));
    try testing.expectEqual(fdOf(&steering, 200), try deliver(&steering, 200));
}

test "steering refuses encrypted QUIC-LB, duplicate and unknown workers" {
    var config = testConfig();
    config.quic_lb_server_id_hex = "0a";
    config.quic_lb_key_hex = "00112233445566778899aabbccddeeff";
    try testing.expectError(error.WorkersNeedPlaintextCids, Steering.init(&config));
    config.quic_lb_key_hex = null;
    var steering = try Steering.init(&config);
    defer steering.deinit();
    try testing.expectEqual(@as(u8, 2), steering.target.worker_offset);
    _ = try steering.add(1);
    try testing.expectError(error.InvalidArgument, steering.add(1));
    try testing.expectError(error.InvalidArgument, steering.remove(2));
}
