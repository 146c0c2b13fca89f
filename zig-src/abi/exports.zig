//! The exported zig_h3_* functions, and nothing else. Each checks its
//! arguments, calls into the library, and turns every error into a status
//! code (abi/status.zig). Documented, with their codes, in include/zig_h3.h.

const std = @import("std");
const builtin = @import("builtin");
const Server = @import("../server.zig").Server;
const Steering = @import("../steering.zig").Steering;
const Stats = @import("../stats.zig").Stats;
const quiche = @import("../ffi/quiche.zig");
const status_mod = @import("status.zig");
const Status = status_mod.Status;
const ConfigC = @import("config_c.zig").ConfigC;
const router = @import("../h3/router.zig");
const native = @import("../h3/native.zig");

pub const library_version = "0.1.0";

var version_buffer: [64:0]u8 = undefined;
var version_once = std.once(makeVersion);

fn makeVersion() void {
    const text = std.fmt.bufPrintZ(&version_buffer, "zig-quiche-h3/{s} quiche/{s}", .{ library_version, std.mem.span(quiche.quiche_version()) }) catch "zig-quiche-h3";
    _ = text;
}

/// "zig-quiche-h3/<version> quiche/<version>", static.
export fn zig_h3_version() callconv(.c) [*:0]const u8 {
    version_once.call();
    return &version_buffer;
}

export fn zig_h3_status_name(code: c_int) callconv(.c) [*:0]const u8 {
    const status = std.meta.intToEnum(Status, code) catch return "ZIG_H3_ERR_UNKNOWN";
    return status.name();
}

export fn zig_h3_status_message(code: c_int) callconv(.c) [*:0]const u8 {
    const status = std.meta.intToEnum(Status, code) catch return "unknown status code";
    return status.message();
}

export fn zig_h3_config_size() callconv(.c) usize {
    return @sizeOf(ConfigC);
}

export fn zig_h3_config_init(config: ?*ConfigC) callconv(.c) c_int {
    const out = config orelse return Status.invalid_argument.code();
    out.* = ConfigC.defaults();
    return Status.ok.code();
}

export fn zig_h3_server_new(config: ?*const anyopaque, out: ?*?*Server) callconv(.c) c_int {
    const result = out orelse return Status.invalid_argument.code();
    result.* = null;
    const c_config = config orelse return Status.invalid_argument.code();
    const zig_config = ConfigC.toConfig(c_config) catch |err| return switch (err) {
        error.AbiMismatch => Status.abi_mismatch.code(),
        error.InvalidArgument => Status.invalid_argument.code(),
    };
    const server = Server.create(std.heap.c_allocator, zig_config) catch |err| return status_mod.fromCreateError(err).code();
    result.* = server;
    return Status.ok.code();
}

export fn zig_h3_server_free(server: ?*Server) callconv(.c) c_int {
    const s = server orelse return Status.invalid_argument.code();
    s.destroy();
    return Status.ok.code();
}

export fn zig_h3_server_start(server: ?*Server) callconv(.c) c_int {
    const s = server orelse return Status.invalid_argument.code();
    s.start() catch |err| return switch (err) {
        error.InvalidState => Status.invalid_state.code(),
        else => Status.thread_failed.code(),
    };
    return Status.ok.code();
}

export fn zig_h3_server_stop(server: ?*Server) callconv(.c) c_int {
    const s = server orelse return Status.invalid_argument.code();
    s.stop();
    return Status.ok.code();
}

export fn zig_h3_server_shutdown(server: ?*Server, timeout_ms: u64) callconv(.c) c_int {
    const s = server orelse return Status.invalid_argument.code();
    s.shutdown(timeout_ms) catch return Status.invalid_state.code();
    return Status.ok.code();
}

export fn zig_h3_server_set_ticket_key(server: ?*Server, key: ?[*]const u8, key_len: usize) callconv(.c) c_int {
    const s = server orelse return Status.invalid_argument.code();
    const bytes = key orelse return Status.invalid_argument.code();
    s.setTicketKey(bytes[0..key_len]) catch |err| return switch (err) {
        error.InvalidState => Status.invalid_state.code(),
        error.TicketKeyInvalid => Status.ticket_key_invalid.code(),
    };
    return Status.ok.code();
}

export fn zig_h3_server_set_doorbell(server: ?*Server, function: ?*const fn (?*anyopaque) callconv(.c) void, user: ?*anyopaque) callconv(.c) c_int {
    const s = server orelse return Status.invalid_argument.code();
    const doorbell: ?@import("../quic/engine.zig").Engine.Doorbell = if (function) |f| .{ .function = f, .user = user } else null;
    s.setDoorbell(doorbell) catch return Status.invalid_state.code();
    return Status.ok.code();
}

export fn zig_h3_server_port(server: ?*const Server) callconv(.c) c_int {
    const s = server orelse return Status.invalid_argument.code();
    return s.port();
}

export fn zig_h3_server_event_fd(server: ?*const Server) callconv(.c) c_int {
    const s = server orelse return Status.invalid_argument.code();
    return s.doorbell_fd;
}

export fn zig_h3_route(server: ?*Server, method: ?[*:0]const u8, pattern: ?[*:0]const u8, route_id: u32) callconv(.c) c_int {
    return addRoute(server, method, pattern, route_id, .app);
}

export fn zig_h3_route_static(
    server: ?*Server,
    method: ?[*:0]const u8,
    pattern: ?[*:0]const u8,
    route_id: u32,
    status: u16,
    fields: ?[*]const native.Field,
    field_count: usize,
    body: ?[*]const u8,
    body_len: usize,
) callconv(.c) c_int {
    const given = Parts.from(fields, field_count, body, body_len) orelse return Status.invalid_argument.code();
    const head = native.encodeHead(std.heap.c_allocator, status, given.fields) catch |err| return sendStatus(err).code();
    defer std.heap.c_allocator.free(head);
    return addRoute(server, method, pattern, route_id, .{ .static = .{ .head = head, .body = given.body } });
}

/// Slices over the (pointer, length) pairs of a C call; null when a
/// pointer is missing for a non-zero length.
const Parts = struct {
    fields: []const native.Field,
    body: []const u8,

    fn from(fields: ?[*]const native.Field, field_count: usize, body: ?[*]const u8, body_len: usize) ?Parts {
        if ((field_count > 0 and fields == null) or (body_len > 0 and body == null)) return null;
        return .{
            .fields = if (fields) |f| f[0..field_count] else &.{},
            .body = if (body) |b| b[0..body_len] else "",
        };
    }
};

fn sendStatus(err: native.SendError) Status {
    return switch (err) {
        error.AlreadyResponded => .invalid_state,
        error.InvalidStatus, error.TooManyFields, error.FieldTooLong => .invalid_argument,
        error.OutOfMemory => .out_of_memory,
    };
}

export fn zig_h3_route_native(
    server: ?*Server,
    method: ?[*:0]const u8,
    pattern: ?[*:0]const u8,
    route_id: u32,
    handler: ?*const fn (?*anyopaque, *const anyopaque, *anyopaque) callconv(.c) void,
    user: ?*anyopaque,
) callconv(.c) c_int {
    const function = handler orelse return Status.invalid_argument.code();
    return addRoute(server, method, pattern, route_id, .{ .native = .{ .function = function, .user = user } });
}

fn addRoute(server: ?*Server, method: ?[*:0]const u8, pattern: ?[*:0]const u8, route_id: u32, target: router.Target) c_int {
    const s = server orelse return Status.invalid_argument.code();
    const m = method orelse return Status.invalid_argument.code();
    const p = pattern orelse return Status.invalid_argument.code();
    s.addRoute(std.mem.span(m), std.mem.span(p), route_id, target) catch |err| return status_mod.fromRouteError(err).code();
    return Status.ok.code();
}

export fn zig_h3_response_send(
    response: ?*native.ResponseHandle,
    status: u16,
    fields: ?[*]const native.Field,
    field_count: usize,
    body: ?[*]const u8,
    body_len: usize,
) callconv(.c) c_int {
    const handle = response orelse return Status.invalid_argument.code();
    const given = Parts.from(fields, field_count, body, body_len) orelse return Status.invalid_argument.code();
    native.send(handle, status, given.fields, given.body) catch |err| return sendStatus(err).code();
    return Status.ok.code();
}

export fn zig_h3_poll(server: ?*Server, buffer: ?[*]u8, capacity: usize) callconv(.c) i64 {
    const s = server orelse return Status.invalid_argument.code();
    const out = buffer orelse return Status.invalid_argument.code();
    const bytes = s.poll(out[0..capacity]) catch return Status.buffer_too_small.code();
    return @intCast(bytes);
}

export fn zig_h3_submit(server: ?*Server, batch: ?[*]const u8, len: usize) callconv(.c) i64 {
    const s = server orelse return Status.invalid_argument.code();
    const data = batch orelse return Status.invalid_argument.code();
    const taken = s.submit(data[0..len]) catch return Status.malformed_command.code();
    return @intCast(taken);
}

export fn zig_h3_server_stats(server: ?*const Server, out: ?[*]u64, count: usize) callconv(.c) c_int {
    const s = server orelse return Status.invalid_argument.code();
    var values: [Stats.field_count]u64 = undefined;
    s.stats.snapshot(&values);
    if (out) |o| @memcpy(o[0..@min(count, values.len)], values[0..@min(count, values.len)]);
    return @intCast(values.len);
}

// Workers on one port: the supervisor's reuseport group (steering.zig).

export fn zig_h3_steering_new(config: ?*const anyopaque, out: ?*?*Steering) callconv(.c) c_int {
    const result = out orelse return Status.invalid_argument.code();
    result.* = null;
    const c_config = config orelse return Status.invalid_argument.code();
    const zig_config = ConfigC.toConfig(c_config) catch |err| return switch (err) {
        error.AbiMismatch => Status.abi_mismatch.code(),
        error.InvalidArgument => Status.invalid_argument.code(),
    };
    const steering = std.heap.c_allocator.create(Steering) catch return Status.out_of_memory.code();
    steering.* = Steering.init(&zig_config) catch |err| {
        std.heap.c_allocator.destroy(steering);
        return status_mod.fromSteeringError(err).code();
    };
    result.* = steering;
    return Status.ok.code();
}

export fn zig_h3_steering_free(steering: ?*Steering) callconv(.c) c_int {
    const s = steering orelse return Status.invalid_argument.code();
    s.deinit();
    std.heap.c_allocator.destroy(s);
    return Status.ok.code();
}

/// The new worker's socket fd (>= 1), or a negative status.
export fn zig_h3_steering_add(steering: ?*Steering, worker_id: u32) callconv(.c) c_int {
    const s = steering orelse return Status.invalid_argument.code();
    const id = std.math.cast(u8, worker_id) orelse return Status.invalid_argument.code();
    const fd = s.add(id) catch |err| return status_mod.fromSteeringError(err).code();
    return fd;
}

export fn zig_h3_steering_drain(steering: ?*Steering, worker_id: u32) callconv(.c) c_int {
    const s = steering orelse return Status.invalid_argument.code();
    const id = std.math.cast(u8, worker_id) orelse return Status.invalid_argument.code();
    s.drain(id) catch |err| return status_mod.fromSteeringError(err).code();
    return Status.ok.code();
}

export fn zig_h3_steering_remove(steering: ?*Steering, worker_id: u32) callconv(.c) c_int {
    const s = steering orelse return Status.invalid_argument.code();
    const id = std.math.cast(u8, worker_id) orelse return Status.invalid_argument.code();
    s.remove(id) catch |err| return status_mod.fromSteeringError(err).code();
    return Status.ok.code();
}

export fn zig_h3_steering_port(steering: ?*const Steering) callconv(.c) c_int {
    const s = steering orelse return Status.invalid_argument.code();
    return s.port();
}
