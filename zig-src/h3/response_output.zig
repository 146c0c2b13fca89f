//! The response side of the exchange: response heads, bodies and trailers
//! the application (or the library) queued are written into quiche as
//! stream capacity allows, DRAIN tells a waiting writer it may continue,
//! and a response fully handed over ends its request.

const std = @import("std");
const quiche = @import("../ffi/quiche.zig");
const wire = @import("../queue/wire.zig");
const Engine = @import("../quic/engine.zig").Engine;
const exchange = @import("exchange.zig");

pub fn queueOutput(engine: *Engine, slot: u32) void {
    const request = engine.requests.get(slot);
    engine.markDirty(request.conn_slot);
    if (request.in_output_list) return;
    const connection = engine.connections.get(request.conn_slot);
    connection.output.append(engine.allocator, engine.requests.idOf(slot)) catch return exchange.failRequest(engine, slot);
    request.in_output_list = true;
}

/// Writes pending response bytes of every request of this connection that
/// has some, keeping in the list those still blocked on stream capacity.
pub fn flushOutput(engine: *Engine, conn_slot: u32) void {
    const connection = engine.connections.get(conn_slot);
    var index: usize = 0;
    while (index < connection.output.items.len) {
        const id = connection.output.items[index];
        const slot = engine.requests.slotOf(id) orelse {
            _ = connection.output.swapRemove(index);
            continue;
        };
        switch (writeResponse(engine, slot)) {
            .blocked, .waiting => {
                signalDrainIfLow(engine, slot);
                index += 1;
            },
            .finished => {
                _ = connection.output.swapRemove(index);
                engine.requests.get(slot).in_output_list = false;
                completeResponse(engine, slot);
            },
            .failed => {
                _ = connection.output.swapRemove(index);
                engine.requests.get(slot).in_output_list = false;
                exchange.failRequest(engine, slot);
            },
        }
    }
}

const WriteResult = enum { blocked, waiting, finished, failed };

/// Advances one response: head, then body, then trailers or FIN.
fn writeResponse(engine: *Engine, slot: u32) WriteResult {
    const request = engine.requests.get(slot);
    const connection = engine.connections.get(request.conn_slot);
    const h3_conn = connection.h3_conn orelse return .failed;
    if (!request.head_sent) {
        const head = request.head orelse return .waiting;
        const fin = request.end_requested and request.pendingBody().len == 0 and request.trailers == null;
        const count = encodeFields(engine, head[2..], std.mem.readInt(u16, head[0..2], .little)) orelse return .failed;
        const rc = quiche.quiche_h3_send_response(h3_conn, connection.quiche_conn, request.stream_id, engine.response_fields.ptr, count, fin);
        if (rc == quiche.h3_err_stream_blocked) return .blocked;
        if (rc < 0) return .failed;
        request.head_sent = true;
        engine.allocator.free(head);
        request.head = null;
        if (fin) return .finished;
    }
    while (request.pendingBody().len > 0) {
        const pending = request.pendingBody();
        const fin = request.end_requested and request.trailers == null;
        const written = quiche.quiche_h3_send_body(h3_conn, connection.quiche_conn, request.stream_id, pending.ptr, pending.len, fin);
        if (written == quiche.h3_err_done or written == quiche.h3_err_stream_blocked) return .blocked;
        if (written < 0) return .failed;
        request.body_offset += @intCast(written);
        request.sent_body_bytes += @intCast(written);
        if (request.body_offset == request.body.items.len) {
            request.body.clearRetainingCapacity();
            request.body_offset = 0;
            if (fin) return .finished;
        } else return .blocked;
    }
    if (!request.end_requested) return .waiting;
    if (request.trailers) |trailers| {
        const count = encodeFields(engine, trailers, null) orelse return .failed;
        const rc = quiche.quiche_h3_send_additional_headers(h3_conn, connection.quiche_conn, request.stream_id, engine.response_fields.ptr, count, true, true);
        if (rc == quiche.h3_err_stream_blocked) return .blocked;
        if (rc < 0) return .failed;
        return .finished;
    }
    const written = quiche.quiche_h3_send_body(h3_conn, connection.quiche_conn, request.stream_id, "", 0, true);
    if (written == quiche.h3_err_done or written == quiche.h3_err_stream_blocked) return .blocked;
    if (written < 0) return .failed;
    return .finished;
}

/// Tells a waiting application it may write more: the library now holds at
/// most half of max_pending_response_bytes for this response.
fn signalDrainIfLow(engine: *Engine, slot: u32) void {
    const request = engine.requests.get(slot);
    if (!request.drain_wanted) return;
    if (request.pendingBody().len > engine.config.max_pending_response_bytes / 2) return;
    request.drain_wanted = false;
    exchange.pushControl(engine, .drain, engine.requests.idOf(slot), request.sent_body_bytes);
}

/// Points engine.response_fields at a u32-counted field block, prefixed by
/// `:status` when a status is given. The block outlives the quiche call.
fn encodeFields(engine: *Engine, block: []const u8, status: ?u16) ?usize {
    var fields = wire.fieldBlock(block) catch return null;
    var count: usize = 0;
    const status_text = struct {
        var buffer: [3]u8 = undefined;
    };
    if (status) |code| {
        if (code < 100 or code > 999) return null;
        _ = std.fmt.bufPrint(&status_text.buffer, "{d}", .{code}) catch return null;
        engine.response_fields[0] = .{ .name = ":status", .name_len = 7, .value = &status_text.buffer, .value_len = 3 };
        count = 1;
    }
    while (fields.next() catch return null) |field| {
        if (count == engine.response_fields.len) return null;
        engine.response_fields[count] = .{ .name = field.name.ptr, .name_len = field.name.len, .value = field.value.ptr, .value_len = field.value.len };
        count += 1;
    }
    return count;
}

/// The whole response reached quiche. If the client is still sending a
/// body nobody will read, stop it (RFC 9114 4.1: H3_NO_ERROR). Not on a
/// CONNECT stream: after a WebTransport CLOSE_WEBTRANSPORT_SESSION the
/// client closes its half itself, and STOP_SENDING would abort the session
/// it is closing cleanly. Its remaining bytes are read and discarded.
fn completeResponse(engine: *Engine, slot: u32) void {
    const request = engine.requests.get(slot);
    if (!request.request_finished and !request.is_connect) {
        const quiche_conn = engine.connections.get(request.conn_slot).quiche_conn;
        _ = quiche.quiche_conn_stream_shutdown(quiche_conn, request.stream_id, quiche.shutdown_read, quiche.h3_no_error);
    }
    exchange.finishRequest(engine, slot, .complete, 0);
}
