//! The response side of the exchange: response heads, bodies and trailers
//! the application (or the library) queued are framed (HEADERS with a
//! QPACK field section, DATA) and written into QUIC streams as capacity
//! allows, DRAIN tells a waiting writer it may continue,
//! and a response fully handed over ends its request.

const std = @import("std");
const quiche = @import("../ffi/quiche.zig");
const wire = @import("../queue/wire.zig");
const Layer = @import("layer.zig").Layer;
const events = @import("events.zig");
const exchange = @import("exchange.zig");
const frame = @import("frame.zig");
const qpack_encoder = @import("qpack/encoder.zig");
const wt = @import("wt_streams.zig");

pub fn queueOutput(layer: *Layer, slot: u32) void {
    const request = layer.requests.get(slot);
    layer.markDirty(request.conn_slot);
    if (request.in_output_list) return;
    const connection = layer.conn(request.conn_slot);
    connection.output.append(layer.allocator, layer.requests.idOf(slot)) catch return exchange.failRequest(layer, slot);
    request.in_output_list = true;
}

/// Writes pending response bytes of every request of this connection that
/// has some, keeping in the list those still blocked on stream capacity.
pub fn flushOutput(layer: *Layer, conn_slot: u32) void {
    const connection = layer.conn(conn_slot);
    var index: usize = 0;
    while (index < connection.output.items.len) {
        const id = connection.output.items[index];
        const slot = layer.requests.slotOf(id) orelse {
            _ = connection.output.swapRemove(index);
            continue;
        };
        switch (writeResponse(layer, slot)) {
            .blocked, .waiting => {
                signalDrainIfLow(layer, slot);
                index += 1;
            },
            .finished => {
                _ = connection.output.swapRemove(index);
                const request = layer.requests.get(slot);
                request.in_output_list = false;
                if (request.kind == .webtransport) wt.onWriteDone(layer, slot) else completeResponse(layer, slot);
            },
            .gone => {
                _ = connection.output.swapRemove(index);
                if (layer.requests.slotOf(id) != null) layer.requests.get(slot).in_output_list = false;
            },
            .failed => {
                _ = connection.output.swapRemove(index);
                layer.requests.get(slot).in_output_list = false;
                exchange.failRequest(layer, slot);
            },
        }
    }
}

pub const WriteResult = enum { blocked, waiting, finished, failed, gone };

/// Responses whose whole body is at most this large leave in one
/// stream write with their HEADERS frame and FIN.
const coalesce_body_bytes = 16 * 1024;

/// Advances one response: HEADERS, then DATA as stream capacity allows,
/// then trailers (HEADERS) or FIN.
fn writeResponse(layer: *Layer, slot: u32) WriteResult {
    const request = layer.requests.get(slot);
    if (request.kind == .webtransport) return wt.writeStream(layer, slot);
    const quiche_conn = layer.conn(request.conn_slot).quiche_conn;
    if (!request.outbound.headSent()) {
        const head = request.head orelse return .waiting;
        appendFieldSection(layer, slot, head[2..], std.mem.readInt(u16, head[0..2], .little)) catch return .failed;
        layer.allocator.free(head);
        request.head = null;
        request.outbound.sendHead();
        _ = quiche.quiche_conn_stream_priority(quiche_conn, request.stream_id, request.urgency, request.incremental);
        if (request.outbound.ended() and request.trailers == null and request.pendingBody().len <= coalesce_body_bytes) {
            appendData(layer, slot) catch return .failed;
            request.frame_out_fin = true;
        }
    }
    switch (flushFrames(layer, slot)) {
        .done => if (request.frame_out_fin) return .finished,
        .blocked => return .blocked,
        .failed => return .failed,
    }
    switch (writeBody(layer, slot)) {
        .finished => return .finished,
        .waiting => {},
        else => |result| return result,
    }
    if (!request.outbound.ended()) return .waiting;
    if (request.trailers) |trailers| {
        appendFieldSection(layer, slot, trailers, null) catch return .failed;
        layer.allocator.free(trailers);
        request.trailers = null;
        request.frame_out_fin = true;
        return switch (flushFrames(layer, slot)) {
            .done => .finished,
            .blocked => .blocked,
            .failed => .failed,
        };
    }
    // A FIN alone: it is delivered even when the body's last bytes were
    // already acknowledged (our quiche fix, third_party/quiche/patch.py).
    var error_code: u64 = 0;
    const written = quiche.quiche_conn_stream_send(quiche_conn, request.stream_id, "", 0, true, &error_code);
    if (written == quiche.err_done) return .blocked;
    if (written < 0) return .failed;
    return .finished;
}

/// Writes pending body bytes as DATA frames sized to the stream's
/// capacity, so each frame is accepted whole and no framed bytes need
/// buffering. FIN rides on the last frame when nothing follows it.
fn writeBody(layer: *Layer, slot: u32) WriteResult {
    const request = layer.requests.get(slot);
    const quiche_conn = layer.conn(request.conn_slot).quiche_conn;
    while (request.pendingBody().len > 0) {
        const pending = request.pendingBody();
        const capacity = quiche.quiche_conn_stream_capacity(quiche_conn, request.stream_id);
        if (capacity < 0) return .failed;
        const room: usize = @intCast(capacity);
        var len = @min(pending.len, room);
        if (len + frame.headerLength(frame.Type.data, len) > room) {
            const header_len = frame.headerLength(frame.Type.data, len);
            if (room <= header_len) return .blocked;
            len = room - header_len;
        }
        const last = request.outbound.ended() and request.trailers == null and len == pending.len;
        var header: [frame.max_header_bytes]u8 = undefined;
        const header_len = frame.writeHeader(&header, frame.Type.data, len);
        var error_code: u64 = 0;
        if (quiche.quiche_conn_stream_send(quiche_conn, request.stream_id, &header, header_len, false, &error_code) != header_len) return .failed;
        if (quiche.quiche_conn_stream_send(quiche_conn, request.stream_id, pending.ptr, len, last, &error_code) != len) return .failed;
        request.body_offset += len;
        request.sent_body_bytes += len;
        if (request.body_offset == request.body.items.len) {
            request.body.clearRetainingCapacity();
            request.body_offset = 0;
            if (last) return .finished;
        }
    }
    return .waiting;
}

/// Appends one DATA frame with the whole pending body to frame_out.
fn appendData(layer: *Layer, slot: u32) !void {
    const request = layer.requests.get(slot);
    const pending = request.pendingBody();
    if (pending.len == 0) return;
    var header: [frame.max_header_bytes]u8 = undefined;
    const header_len = frame.writeHeader(&header, frame.Type.data, pending.len);
    try request.frame_out.appendSlice(layer.allocator, header[0..header_len]);
    try request.frame_out.appendSlice(layer.allocator, pending);
    request.sent_body_bytes += pending.len;
    request.body.clearRetainingCapacity();
    request.body_offset = 0;
}

pub const FlushResult = enum { done, blocked, failed };

/// Hands frame_out to QUIC as far as it takes it (with FIN when
/// frame_out_fin is set and the last byte goes).
pub fn flushFrames(layer: *Layer, slot: u32) FlushResult {
    const request = layer.requests.get(slot);
    const pending = request.pendingFrames();
    if (pending.len == 0) return .done;
    const quiche_conn = layer.conn(request.conn_slot).quiche_conn;
    var error_code: u64 = 0;
    const written = quiche.quiche_conn_stream_send(quiche_conn, request.stream_id, pending.ptr, pending.len, request.frame_out_fin, &error_code);
    if (written == quiche.err_done) return .blocked;
    if (written < 0) return .failed;
    request.frame_out_offset += @intCast(written);
    if (request.frame_out_offset < request.frame_out.items.len) return .blocked;
    request.frame_out.clearRetainingCapacity();
    request.frame_out_offset = 0;
    return .done;
}

/// Encodes a u32-counted field block (prefixed by `:status` when a status
/// is given) with QPACK into a HEADERS frame at the end of frame_out.
fn appendFieldSection(layer: *Layer, slot: u32, block: []const u8, status: ?u16) !void {
    const request = layer.requests.get(slot);
    var writer = qpack_encoder.FieldSectionWriter.init(layer.field_scratch);
    if (status) |code| {
        if (code < 100 or code > 999) return error.InvalidStatus;
        var text: [3]u8 = undefined;
        _ = std.fmt.bufPrint(&text, "{d}", .{code}) catch unreachable;
        try writer.add(":status", &text);
    }
    var fields = try wire.fieldBlock(block);
    var name_buffer: [256]u8 = undefined;
    while (try fields.next()) |field| {
        // Field names are lowercase on the wire (RFC 9114 section 4.2).
        if (field.name.len > name_buffer.len) return error.FieldNameTooLong;
        const name = std.ascii.lowerString(name_buffer[0..field.name.len], field.name);
        try writer.add(name, field.value);
    }
    const section = writer.finish();
    var header: [frame.max_header_bytes]u8 = undefined;
    const header_len = frame.writeHeader(&header, frame.Type.headers, section.len);
    try request.frame_out.appendSlice(layer.allocator, header[0..header_len]);
    try request.frame_out.appendSlice(layer.allocator, section);
}

/// Tells a waiting application it may write more: the library now holds at
/// most half of max_pending_response_bytes for this response.
fn signalDrainIfLow(layer: *Layer, slot: u32) void {
    const request = layer.requests.get(slot);
    if (!request.drain_wanted) return;
    if (request.pendingBody().len > layer.config.max_pending_response_bytes / 2) return;
    request.drain_wanted = false;
    events.pushControl(layer, .drain, layer.requests.idOf(slot), request.sent_body_bytes);
}

/// The whole response reached quiche. If the client is still sending a
/// body nobody will read, stop it (RFC 9114 4.1: H3_NO_ERROR). Not on a
/// CONNECT stream: after a WebTransport CLOSE_WEBTRANSPORT_SESSION the
/// client closes its half itself, and STOP_SENDING would abort the session
/// it is closing cleanly. Its remaining bytes are read and discarded.
fn completeResponse(layer: *Layer, slot: u32) void {
    const request = layer.requests.get(slot);
    request.outbound.transition(.done);
    if (!request.requestFinished() and request.is_connect) {
        // The slot stays until the client's side ends too, so the bytes it
        // still sends (its FIN, a close capsule) land on this stream rather
        // than look like a new request. The session's streams end now.
        if (request.wt_stream_count > 0) wt.endSession(layer, slot);
        return;
    }
    if (!request.requestFinished()) {
        const quiche_conn = layer.conn(request.conn_slot).quiche_conn;
        _ = quiche.quiche_conn_stream_shutdown(quiche_conn, request.stream_id, quiche.shutdown_read, frame.ErrorCode.no_error);
    }
    exchange.finishRequest(layer, slot, .complete, 0);
}
