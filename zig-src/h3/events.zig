//! The HTTP/3 layer's only way out to the application: records pushed into
//! the event queue, with the doorbell rung when the queue went from empty to
//! non-empty, once per batch at the loop's ring points (ringIfDue). Data records (request heads,
//! body chunks, datagrams) leave a reserve free so that control records
//! (BODY_END, COMPLETE, RESET, ...) always fit; those that still find the
//! queue full wait, in order, in `pending_control`.

const std = @import("std");
const wire = @import("../queue/wire.zig");
const LogLevel = @import("../config.zig").LogLevel;
const Config = @import("../config.zig").Config;
const signalEventFd = @import("../net/poller.zig").signalEventFd;
const Layer = @import("layer.zig").Layer;

/// A C function the loop calls instead of signalling the eventfd when
/// the event queue goes from empty to non-empty (callback mode). It runs
/// on the loop thread and must only schedule work, never call back in.
pub const Doorbell = struct {
    function: *const fn (?*anyopaque) callconv(.c) void,
    user: ?*anyopaque,
};

pub const PendingControl = struct { kind: wire.EventKind, id: u64, error_code: ?u64 };

/// Two control records (body end, then complete or reset) of 24 bytes.
pub const control_bytes_per_request = 48;
/// Room for records not tied to a request (SHUTDOWN, CONN_CLOSED, ...).
const control_slack_bytes = 4096;

/// Free space data records must leave in the event queue, so that every
/// live request can still end (BODY_END, then COMPLETE or RESET) however
/// full the queue gets. Sized by the requests live now: a reserve for
/// max_requests would take most of the queue and starve request bodies.
pub fn controlReserve(layer: *const Layer) usize {
    return @as(usize, layer.requests.activeCount()) * control_bytes_per_request + control_slack_bytes;
}

/// Data records (request heads, body chunks) leave room for control records.
pub fn pushData(layer: *Layer, record: []const u8) bool {
    if (!layer.events.hasRoomFor(record.len, controlReserve(layer))) {
        layer.stats.event_queue_full.inc();
        return false;
    }
    _ = pushRecord(layer, record) catch unreachable;
    return true;
}

/// Control records one request can have waiting at once: BODY_END, DRAIN
/// (coalesced, see pushControl), one of the WebTransport stream signals
/// (WT_PEER_RESET, WT_STOP_SENDING) each, then COMPLETE or RESET.
pub const max_pending_controls_per_request = 5;

/// The bound of `pending_control`: every live request's controls, one
/// CONN_CLOSED per connection and the SHUTDOWN.
pub fn maxPendingControls(config: *const Config) usize {
    return @as(usize, config.max_requests) * max_pending_controls_per_request + config.max_connections + 1;
}

/// Control records end a request's story for the application, so they are
/// never dropped while within their bound: data records leave a reserve for
/// them, and should the queue still be full they wait, in order, in
/// `pending_control` for the next iteration. The backlog grows only while
/// the application does not read its events, and stops at
/// maxPendingControls.
pub fn pushControl(layer: *Layer, kind: wire.EventKind, id: u64, error_code: ?u64) void {
    const control = PendingControl{ .kind = kind, .id = id, .error_code = error_code };
    if (layer.pending_control.items.len == 0 and pushControlRecord(layer, control)) return;
    // A DRAIN says how many body bytes left so far; a waiting one for the
    // same request is only updated, so a stalled application does not
    // collect one per flush.
    if (kind == .drain) {
        for (layer.pending_control.items) |*waiting| {
            if (waiting.kind == .drain and waiting.id == id) {
                waiting.error_code = error_code;
                return;
            }
        }
    }
    if (layer.pending_control.items.len >= maxPendingControls(layer.config)) {
        layer.stats.event_queue_full.inc();
        return;
    }
    layer.pending_control.append(layer.allocator, control) catch {
        // Out of memory with a full queue: the application loses the end of
        // this request, which it will see as a request that never ends.
        layer.stats.event_queue_full.inc();
    };
}

fn pushControlRecord(layer: *Layer, control: PendingControl) bool {
    var buffer: [24]u8 = undefined;
    var writer = wire.RecordWriter.init(&buffer, @intFromEnum(control.kind), 0, 0, control.id);
    if (control.error_code) |code| writer.int(u64, code);
    pushRecord(layer, writer.finish() catch unreachable) catch return false;
    return true;
}

/// Pushes control records that found the queue full earlier, oldest first.
pub fn flushPendingControl(layer: *Layer) void {
    var sent: usize = 0;
    for (layer.pending_control.items) |control| {
        if (!pushControlRecord(layer, control)) break;
        sent += 1;
    }
    layer.pending_control.replaceRangeAssumeCapacity(0, sent, &.{});
}

pub fn pushRecord(layer: *Layer, record: []const u8) !void {
    if (try layer.events.push(record)) layer.doorbell_due = true;
    layer.stats.events_pushed.inc();
}

/// Pushes a record that may be dropped (datagrams, connection info): only
/// while the control reserve stays free. Returns whether it was queued.
pub fn pushDroppable(layer: *Layer, record: []const u8) bool {
    if (!layer.events.hasRoomFor(record.len, controlReserve(layer))) return false;
    if (layer.events.push(record) catch return false) layer.doorbell_due = true;
    return true;
}

/// An answer to a command (WT_OPENED): the application waits for it, so it
/// may use the control reserve; only a queue with no room at all drops it.
pub fn pushAnswer(layer: *Layer, record: []const u8) void {
    pushRecord(layer, record) catch {
        layer.stats.event_queue_full.inc();
        log(layer, .warn, 0, "event queue full: a WT_OPENED answer was dropped", .{});
    };
}

/// Queues a LOG event when `level` passes config.log_level. Formatting
/// happens only then, into a stack buffer; a full queue drops the line
/// (logging must never hold up serving).
pub fn log(layer: *Layer, level: LogLevel, conn_id: u64, comptime format: []const u8, args: anytype) void {
    if (@intFromEnum(level) > @intFromEnum(layer.config.log_level)) return;
    var buffer: [wire.header_bytes + 480]u8 = undefined;
    var writer = wire.RecordWriter.init(&buffer, @intFromEnum(wire.EventKind.log), 0, @intFromEnum(level), conn_id);
    const message = std.fmt.bufPrint(buffer[wire.header_bytes..], format, args) catch buffer[wire.header_bytes..];
    writer.len += message.len;
    const record = writer.finish() catch return;
    if (!layer.events.hasRoomFor(record.len, controlReserve(layer))) return;
    const was_empty = layer.events.push(record) catch return;
    layer.stats.events_pushed.inc();
    if (was_empty) layer.doorbell_due = true;
}

/// Rings the doorbell if a push found the event queue empty since the last
/// ring. Pushes only mark the ring due: ringing at the push let the
/// application's thread, once woken, drain the queue between two pushes of
/// the same batch, so the next push found it empty and rang again. With
/// both threads on one core that was a wake and two context switches per
/// record (perf of a 64 MiB upload: 11 % of the loop thread in
/// finish_task_switch under the BODY push). No wake-up is lost: a push that
/// finds the queue non-empty follows one that found it empty, whose ring
/// is due or done, and the application drains until the queue is empty.
pub fn ringIfDue(layer: *Layer) void {
    if (!layer.doorbell_due) return;
    layer.doorbell_due = false;
    ringDoorbell(layer);
}

/// Rings the application's doorbell (the eventfd, or the callback).
fn ringDoorbell(layer: *Layer) void {
    // The application may switch doorbells while the loop runs: the pair is
    // read under its lock, and called after.
    layer.doorbell_mutex.lock();
    const callback = layer.doorbell_callback.*;
    layer.doorbell_mutex.unlock();
    if (callback) |doorbell| return doorbell.function(doorbell.user);
    signalEventFd(layer.doorbell_fd);
}
