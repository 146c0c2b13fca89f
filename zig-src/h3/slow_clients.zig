//! Slow clients (issue 7, item 2): a request stream that does not deliver
//! its field section within request_head_timeout_ms, or whose body arrives
//! slower than min_request_body_bytes_per_s over a window, is reset with
//! H3_REQUEST_INCOMPLETE and counted in requests_timed_out. Each check is a
//! deadline ring (one shared timeout each, so entries are already in
//! deadline order); a request holds at most one entry per ring.

const std = @import("std");
const Layer = @import("layer.zig").Layer;
const events = @import("events.zig");
const frame = @import("frame.zig");
const exchange = @import("exchange.zig");
const DeadlineRing = @import("deadline_ring.zig").DeadlineRing;

const ns_per_ms = std.time.ns_per_ms;

/// A request stream opened: its head must complete in time.
pub fn armHead(layer: *Layer, slot: u32, now_ns: u64) void {
    const timeout_ms = layer.config.request_head_timeout_ms;
    if (timeout_ms == 0) return;
    makeRoom(layer, &layer.head_deadlines);
    _ = layer.head_deadlines.push(.{ .id = layer.requests.idOf(slot), .deadline_ns = now_ns + timeout_ms * ns_per_ms });
}

/// A request reached the application with its body still to come.
pub fn armBody(layer: *Layer, slot: u32, now_ns: u64) void {
    if (layer.config.min_request_body_bytes_per_s == 0) return;
    const request = layer.requests.get(slot);
    makeRoom(layer, &layer.body_deadlines);
    _ = layer.body_deadlines.push(.{
        .id = layer.requests.idOf(slot),
        .deadline_ns = now_ns + layer.config.request_body_rate_window_ms * ns_per_ms,
        .mark = request.received_body_bytes,
    });
}

/// Under load most old entries belong to requests that already ended or
/// got their head; dropping those from the front keeps the ring (sized by
/// max_requests) from refusing entries for live requests.
fn makeRoom(layer: *Layer, ring: *DeadlineRing) void {
    while (ring.full()) {
        const slot = layer.requests.slotOf(ring.front().?.id) orelse {
            ring.dropFront();
            continue;
        };
        const request = layer.requests.get(slot);
        const settled = if (ring == &layer.head_deadlines) request.headReceived() else request.requestFinished();
        if (!settled) return;
        ring.dropFront();
    }
}

pub fn sweep(layer: *Layer, now_ns: u64) void {
    while (layer.head_deadlines.popDue(now_ns)) |entry| {
        const slot = layer.requests.slotOf(entry.id) orelse continue;
        const request = layer.requests.get(slot);
        if (request.kind != .request or request.headReceived()) continue;
        timeOut(layer, slot, "field section not complete within request_head_timeout_ms");
    }
    while (layer.body_deadlines.popDue(now_ns)) |entry| {
        const slot = layer.requests.slotOf(entry.id) orelse continue;
        const request = layer.requests.get(slot);
        if (request.requestFinished() or !request.visibleToApp()) continue;
        const received = request.received_body_bytes - entry.mark;
        const required = layer.config.min_request_body_bytes_per_s * layer.config.request_body_rate_window_ms / 1000;
        // A stream we paused ourselves (full event queue, or the
        // application has not read what it was sent) is not slow.
        if (received >= required or request.body_paused or request.credit_paused) {
            armBody(layer, slot, now_ns);
            continue;
        }
        timeOut(layer, slot, "request body slower than min_request_body_bytes_per_s");
    }
}

fn timeOut(layer: *Layer, slot: u32, why: []const u8) void {
    const request = layer.requests.get(slot);
    layer.stats.requests_timed_out.inc();
    layer.log(.info, layer.conn(request.conn_slot).serial, "request on stream {d} reset: {s}", .{ request.stream_id, why });
    exchange.resetStream(layer, slot, frame.ErrorCode.request_incomplete);
}

pub fn nextDeadline(layer: *const Layer) ?u64 {
    const head = layer.head_deadlines.nextDeadline();
    const body = layer.body_deadlines.nextDeadline();
    if (head == null) return body;
    if (body == null) return head;
    return @min(head.?, body.?);
}
