//! Slow clients (issue 7, item 2): a request stream that does not deliver
//! its field section within request_head_timeout_ms, or whose body arrives
//! slower than min_request_body_bytes_per_s over a window, is reset with
//! H3_REQUEST_INCOMPLETE and counted in requests_timed_out. Each check is a
//! deadline ring (one shared timeout each, so entries are already in
//! deadline order); a request holds at most one entry per ring.

const std = @import("std");
const Engine = @import("../quic/engine.zig").Engine;
const frame = @import("frame.zig");
const exchange = @import("exchange.zig");
const DeadlineRing = @import("deadline_ring.zig").DeadlineRing;

const ns_per_ms = std.time.ns_per_ms;

/// A request stream opened: its head must complete in time.
pub fn armHead(engine: *Engine, slot: u32, now_ns: u64) void {
    const timeout_ms = engine.config.request_head_timeout_ms;
    if (timeout_ms == 0) return;
    makeRoom(engine, &engine.head_deadlines);
    _ = engine.head_deadlines.push(.{ .id = engine.requests.idOf(slot), .deadline_ns = now_ns + timeout_ms * ns_per_ms });
}

/// A request reached the application with its body still to come.
pub fn armBody(engine: *Engine, slot: u32, now_ns: u64) void {
    if (engine.config.min_request_body_bytes_per_s == 0) return;
    const request = engine.requests.get(slot);
    makeRoom(engine, &engine.body_deadlines);
    _ = engine.body_deadlines.push(.{
        .id = engine.requests.idOf(slot),
        .deadline_ns = now_ns + engine.config.request_body_rate_window_ms * ns_per_ms,
        .mark = request.received_body_bytes,
    });
}

/// Under load most old entries belong to requests that already ended or
/// got their head; dropping those from the front keeps the ring (sized by
/// max_requests) from refusing entries for live requests.
fn makeRoom(engine: *Engine, ring: *DeadlineRing) void {
    while (ring.full()) {
        const slot = engine.requests.slotOf(ring.front().?.id) orelse {
            ring.dropFront();
            continue;
        };
        const request = engine.requests.get(slot);
        const settled = if (ring == &engine.head_deadlines) request.head_received else request.request_finished;
        if (!settled) return;
        ring.dropFront();
    }
}

pub fn sweep(engine: *Engine, now_ns: u64) void {
    while (engine.head_deadlines.popDue(now_ns)) |entry| {
        const slot = engine.requests.slotOf(entry.id) orelse continue;
        const request = engine.requests.get(slot);
        if (request.kind != .request or request.head_received) continue;
        timeOut(engine, slot, "field section not complete within request_head_timeout_ms");
    }
    while (engine.body_deadlines.popDue(now_ns)) |entry| {
        const slot = engine.requests.slotOf(entry.id) orelse continue;
        const request = engine.requests.get(slot);
        if (request.request_finished or !request.visible_to_app) continue;
        const received = request.received_body_bytes - entry.mark;
        const required = engine.config.min_request_body_bytes_per_s * engine.config.request_body_rate_window_ms / 1000;
        // A stream we paused ourselves (full event queue, or the
        // application has not read what it was sent) is not slow.
        if (received >= required or request.body_paused or request.credit_paused) {
            armBody(engine, slot, now_ns);
            continue;
        }
        timeOut(engine, slot, "request body slower than min_request_body_bytes_per_s");
    }
}

fn timeOut(engine: *Engine, slot: u32, why: []const u8) void {
    const request = engine.requests.get(slot);
    engine.stats.requests_timed_out.inc();
    engine.log(.info, engine.connections.get(request.conn_slot).serial, "request on stream {d} reset: {s}", .{ request.stream_id, why });
    exchange.resetStream(engine, slot, frame.ErrorCode.request_incomplete);
}

pub fn nextDeadline(engine: *const Engine) ?u64 {
    const head = engine.head_deadlines.nextDeadline();
    const body = engine.body_deadlines.nextDeadline();
    if (head == null) return body;
    if (body == null) return head;
    return @min(head.?, body.?);
}
