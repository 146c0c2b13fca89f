//! Reading HTTP/3 off QUIC streams, on the loop thread. Every readable
//! stream of a connection is routed by its id: client bidirectional streams
//! carry requests (or WebTransport bidirectional streams), client
//! unidirectional streams announce their type first (control, QPACK encoder
//! and decoder, WebTransport). Request streams are read only while the event
//! queue has room for what one read can produce, which is the request-body
//! backpressure: unread bytes stay in quiche and flow control stops the peer.

const std = @import("std");
const assert = std.debug.assert;
const quiche = @import("../ffi/quiche.zig");
const wire = @import("../queue/wire.zig");
const Layer = @import("layer.zig").Layer;
const events = @import("events.zig");
const frame = @import("frame.zig");
const Code = frame.ErrorCode;
const H3Connection = @import("h3_connection.zig").H3Connection;
const Request = @import("requests.zig").Request;
const control_stream = @import("control_stream.zig");
const priority = @import("priority.zig");
const exchange = @import("exchange.zig");
const wt = @import("wt_streams.zig");
const slow_clients = @import("slow_clients.zig");
const stop_sending = @import("stop_sending.zig");
const raw_connections = @import("raw_connections.zig");

pub const Flow = enum { more, stop };

/// Reads every readable stream of the connection.
pub fn readConnection(layer: *Layer, conn_slot: u32) void {
    const connection = layer.conn(conn_slot);
    const h3 = connection.h3 orelse return;
    const iter = quiche.quiche_conn_readable(connection.quiche_conn) orelse return;
    defer quiche.quiche_stream_iter_free(iter);
    var stream_id: u64 = undefined;
    while (!h3.failed and quiche.quiche_stream_iter_next(iter, &stream_id)) {
        switch (stream_id & 0x3) {
            0, 1 => readSlotStream(layer, conn_slot, stream_id),
            2 => readPeerUni(layer, conn_slot, stream_id),
            else => unreachable, // Our unidirectional streams receive nothing.
        }
    }
    if (h3.blocked.items.len > 0) retryBlocked(layer, conn_slot);
    if (!h3.failed) stop_sending.notice(layer, conn_slot);
    if (connection.protocol == .h3) h3.flushControl(connection.quiche_conn);
}

fn readSlotStream(layer: *Layer, conn_slot: u32, stream_id: u64) void {
    const connection = layer.conn(conn_slot);
    if (connection.streams.get(stream_id)) |slot| return pump(layer, slot);
    if (stream_id & 0x1 == 1) {
        // A stream we opened and already finished with: nothing to read.
        _ = quiche.quiche_conn_stream_shutdown(connection.quiche_conn, stream_id, quiche.shutdown_read, Code.no_error);
        return;
    }
    const h3 = connection.h3.?;
    // A raw stream is announced at once (WT_STREAM): without room for it,
    // it waits unread for the connection's next read.
    if (connection.protocol == .raw and !hasRoom(layer)) return;
    const first = h3.seen_bidi.firstSight(layer.allocator, stream_id) catch
        return h3.fail(connection.quiche_conn, Code.internal_error, "out of memory");
    if (!first) return discard(layer, conn_slot, stream_id);
    const slot = openRequest(layer, conn_slot, stream_id) orelse return;
    if (connection.protocol == .raw and raw_connections.bindBidi(layer, slot) == .stop) return;
    pump(layer, slot);
}

/// Reads and drops what is left on a stream whose slot already ended,
/// without STOP_SENDING (on a CONNECT stream that would abort a session
/// the client is closing cleanly).
fn discard(layer: *Layer, conn_slot: u32, stream_id: u64) void {
    const quiche_conn = layer.conn(conn_slot).quiche_conn;
    var fin = false;
    var error_code: u64 = 0;
    while (quiche.quiche_conn_stream_recv(quiche_conn, stream_id, layer.stream_buffer.ptr, layer.stream_buffer.len, &fin, &error_code) > 0) {}
}

/// A new client bidirectional stream gets a request slot, or is refused
/// with H3_REQUEST_REJECTED (RFC 9114 section 8.1) so the client may retry.
fn openRequest(layer: *Layer, conn_slot: u32, stream_id: u64) ?u32 {
    const connection = layer.conn(conn_slot);
    connection.max_stream_id_seen = @max(connection.max_stream_id_seen, stream_id);
    if (layer.drain_phase == .final or connection.h3.?.goaway_sent) {
        layer.stats.requests_rejected.inc();
        exchange.refuseStream(layer, conn_slot, stream_id);
        return null;
    }
    const slot = layer.requests.acquire(conn_slot, stream_id) orelse {
        layer.stats.requests_rejected.inc();
        exchange.refuseStream(layer, conn_slot, stream_id);
        return null;
    };
    connection.streams.put(layer.allocator, stream_id, slot) catch {
        layer.requests.release(layer.allocator, slot);
        exchange.refuseStream(layer, conn_slot, stream_id);
        return null;
    };
    layer.stats.requests_active.inc();
    slow_clients.armHead(layer, slot, layer.now_ns);
    return slot;
}

pub fn hasRoom(layer: *Layer) bool {
    return layer.events.hasRoomFor(wire.header_bytes + layer.stream_buffer.len, layer.controlReserve());
}

/// The event queue is full: the stream is not read until the application
/// drains events (resumePausedBodies).
fn pause(layer: *Layer, slot: u32) void {
    const request = layer.requests.get(slot);
    if (request.body_paused) return;
    request.body_paused = true;
    layer.stats.event_queue_full.inc();
    layer.paused_bodies.appendAssumeCapacity(layer.requests.idOf(slot));
}

/// Reads and processes a stream with a slot until quiche has nothing more,
/// the stream ends, or it must wait (full queue, QPACK-blocked section).
pub fn pump(layer: *Layer, slot: u32) void {
    const id = layer.requests.idOf(slot);
    var request = layer.requests.get(slot);
    if (request.body_paused or request.qpack_blocked or request.wt_parked) return;
    if (request.held.items.len > 0 or request.held_fin) {
        if (!hasRoom(layer)) return pause(layer, slot);
        var held = request.held;
        request.held = .empty;
        defer held.deinit(layer.allocator);
        const fin = request.held_fin;
        request.held_fin = false;
        if (process(layer, slot, held.items, fin) == .stop or fin) return;
    }
    while (layer.requests.slotOf(id) != null) {
        if (!hasRoom(layer)) return pause(layer, slot);
        request = layer.requests.get(slot);
        const limit = readLimit(layer, request);
        if (limit == 0) {
            // Out of credit: the bytes stay in quiche, whose flow control
            // stops the peer, until the application grants more.
            request.credit_paused = true;
            return;
        }
        const quiche_conn = layer.conn(request.conn_slot).quiche_conn;
        var fin = false;
        var error_code: u64 = 0;
        const received = quiche.quiche_conn_stream_recv(quiche_conn, request.stream_id, layer.stream_buffer.ptr, limit, &fin, &error_code);
        if (received == quiche.err_stream_reset) return onPeerReset(layer, slot, error_code);
        if (received < 0) return;
        if (process(layer, slot, layer.stream_buffer[0..@intCast(received)], fin) == .stop or fin) return;
    }
}

/// How many bytes the next read may take. Body bytes are at most the raw
/// bytes read, so reading no more than the credit left never delivers
/// past it. Before the application has the request (its head is still being
/// read) and after it forgot it (bytes are discarded) there is no credit.
fn readLimit(layer: *const Layer, request: *const Request) usize {
    if (!request.visibleToApp() or request.requestFinished()) return layer.stream_buffer.len;
    const left = request.read_allowed_bytes -| request.received_body_bytes;
    return @intCast(@min(left, layer.stream_buffer.len));
}

/// Collects the payload bytes of one read into one BODY record; the room
/// for it was checked before the read.
const BodyRecord = struct {
    layer: *Layer,
    slot: u32,
    writer: ?wire.RecordWriter = null,

    fn add(body: *BodyRecord, bytes: []const u8) Flow {
        const layer = body.layer;
        const request = layer.requests.get(body.slot);
        if (!request.visibleToApp() or request.requestFinished() or bytes.len == 0) return .more;
        request.received_body_bytes += bytes.len;
        if (request.kind == .request and request.received_body_bytes > layer.config.max_request_body_size) {
            body.flush();
            exchange.rejectOversizedBody(layer, body.slot);
            return .more;
        }
        if (body.writer == null) body.writer = wire.RecordWriter.init(layer.record_buffer, @intFromEnum(wire.EventKind.body), 0, 0, layer.requests.idOf(body.slot));
        body.writer.?.bytes(bytes);
        return .more;
    }

    fn flush(body: *BodyRecord) void {
        var writer = body.writer orelse return;
        body.writer = null;
        const record = writer.finish() catch unreachable; // A read is at most one chunk.
        events.pushRecord(body.layer, record) catch unreachable; // Room was checked.
        body.layer.stats.body_bytes_delivered.add(record.len - wire.header_bytes);
    }
};

/// Feeds one read (or held bytes) through the stream's frame grammar.
pub fn process(layer: *Layer, slot: u32, input: []const u8, fin: bool) Flow {
    const id = layer.requests.idOf(slot);
    const max_block_bytes = maxFieldBlockBytes(layer);
    var body = BodyRecord{ .layer = layer, .slot = slot };
    var consumed: usize = 0;
    while (true) {
        const request = layer.requests.get(slot);
        const item = request.input.next(layer.allocator, input, &consumed, max_block_bytes) catch |err| {
            body.flush();
            return inputError(layer, slot, err);
        } orelse break;
        switch (item) {
            .data, .raw => |bytes| _ = body.add(bytes),
            .headers, .trailers => |block| {
                body.flush();
                const is_trailers = item == .trailers;
                const ends_stream = fin and consumed == input.len;
                if (decodeSection(layer, slot, block, is_trailers, ends_stream) == .stop) {
                    if (layer.requests.slotOf(id) != null and layer.requests.get(slot).qpack_blocked)
                        hold(layer, slot, input[consumed..], fin);
                    return .stop;
                }
                // An extended CONNECT waiting for the client's SETTINGS:
                // what follows its head waits with it.
                if (layer.requests.slotOf(id) != null and layer.requests.get(slot).wt_parked) {
                    hold(layer, slot, input[consumed..], fin);
                    return .stop;
                }
            },
            .oversized_headers => {
                body.flush();
                exchange.rejectOversizedHead(layer, slot);
            },
            .webtransport => |session_stream_id| if (wt.bindIncoming(layer, slot, session_stream_id, true) == .stop) return .stop,
        }
        if (layer.requests.slotOf(id) == null) return .stop;
    }
    body.flush();
    if (layer.requests.slotOf(id) == null) return .stop;
    if (fin) return onInputEnd(layer, slot);
    return .more;
}

/// The compressed size beyond which a field section is refused unread
/// (431); decoded sizes are checked against max_request_headers_size.
fn maxFieldBlockBytes(layer: *const Layer) usize {
    return 2 * @as(usize, layer.config.max_request_headers_size) + 1024;
}

fn decodeSection(layer: *Layer, slot: u32, block: []const u8, is_trailers: bool, ends_stream: bool) Flow {
    const result = if (is_trailers) decodeTrailers(layer, slot, block) else exchange.decodeHead(layer, slot, block, ends_stream);
    switch (result) {
        .done => return .more,
        .blocked => {
            keepBlock(layer, slot, block, is_trailers);
            return .stop;
        },
        .failed => return .stop,
    }
}

/// Trailers are decoded (the dynamic table's state depends on it) and not
/// forwarded.
fn decodeTrailers(layer: *Layer, slot: u32, block: []const u8) exchange.SectionResult {
    const request = layer.requests.get(slot);
    const connection = layer.conn(request.conn_slot);
    const Ignore = struct {
        fn onField(_: void, _: []const u8, _: []const u8) void {}
    };
    const result = connection.h3.?.decoder.decodeFieldSection(request.stream_id, block, layer.field_scratch, {}, Ignore.onField) catch |err| switch (err) {
        error.FieldsTooLarge => return .done,
        error.DecompressionFailed, error.BlockedLimit => {
            connection.h3.?.fail(connection.quiche_conn, Code.qpack_decompression_failed, "QPACK decompression failed");
            return .failed;
        },
    };
    return switch (result) {
        .done => .done,
        .blocked => .blocked,
    };
}

/// The section waits for encoder-stream inserts: keep its bytes.
fn keepBlock(layer: *Layer, slot: u32, block: []const u8, is_trailers: bool) void {
    const request = layer.requests.get(slot);
    const kept = &request.input.block;
    if (block.ptr != kept.items.ptr) {
        kept.clearRetainingCapacity();
        kept.appendSlice(layer.allocator, block) catch return exchange.failRequest(layer, slot);
    }
    request.input.block_returned = false;
    request.qpack_blocked = true;
    request.blocked_trailers = is_trailers;
    const h3 = layer.conn(request.conn_slot).h3.?;
    const id = layer.requests.idOf(slot);
    if (std.mem.indexOfScalar(u64, h3.blocked.items, id) != null) return; // A retry, still blocked.
    h3.blocked.append(layer.allocator, id) catch return exchange.failRequest(layer, slot);
}

/// The bytes after a blocked section wait with it (at most one read).
fn hold(layer: *Layer, slot: u32, rest: []const u8, fin: bool) void {
    const request = layer.requests.get(slot);
    request.held.appendSlice(layer.allocator, rest) catch return exchange.failRequest(layer, slot);
    request.held_fin = request.held_fin or fin;
}

/// After encoder-stream inserts: decodes the sections that can be now and
/// resumes their streams.
fn retryBlocked(layer: *Layer, conn_slot: u32) void {
    const h3 = layer.conn(conn_slot).h3.?;
    var index: usize = 0;
    while (index < h3.blocked.items.len and !h3.failed) {
        const id = h3.blocked.items[index];
        const slot = layer.requests.slotOf(id) orelse {
            _ = h3.blocked.swapRemove(index);
            continue;
        };
        const request = layer.requests.get(slot);
        request.qpack_blocked = false;
        const block = request.input.block.items;
        request.input.block_returned = true; // cleared on the next read
        // The bytes held after the section (and a FIN) are processed next,
        // so the head never claims the stream ended here.
        const flow = decodeSection(layer, slot, block, request.blocked_trailers, false);
        if (flow == .stop and layer.requests.slotOf(id) != null and layer.requests.get(slot).qpack_blocked) {
            index += 1; // Still waiting for inserts.
            continue;
        }
        _ = h3.blocked.swapRemove(index);
        if (layer.requests.slotOf(id) != null) pump(layer, slot);
    }
}

fn inputError(layer: *Layer, slot: u32, err: anyerror) Flow {
    const request = layer.requests.get(slot);
    const connection = layer.conn(request.conn_slot);
    switch (err) {
        error.FrameUnexpected => connection.h3.?.fail(connection.quiche_conn, Code.frame_unexpected, "unexpected frame on a request stream"),
        error.FrameError => connection.h3.?.fail(connection.quiche_conn, Code.frame_error, "malformed frame on a request stream"),
        else => exchange.failRequest(layer, slot),
    }
    return .stop;
}

/// The peer ended its side of the stream.
fn onInputEnd(layer: *Layer, slot: u32) Flow {
    const request = layer.requests.get(slot);
    const connection = layer.conn(request.conn_slot);
    request.input.checkEnd() catch {
        connection.h3.?.fail(connection.quiche_conn, Code.frame_error, "stream ended inside a frame");
        return .stop;
    };
    switch (request.kind) {
        .webtransport => wt.onPeerFin(layer, slot),
        .request => {
            if (!request.headReceived()) {
                // RFC 9114 section 4.1.2: a request without a field section.
                exchange.resetStream(layer, slot, Code.request_incomplete);
                return .stop;
            }
            exchange.onFinished(layer, slot);
        },
    }
    return .stop;
}

fn onPeerReset(layer: *Layer, slot: u32, error_code: u64) void {
    switch (layer.requests.get(slot).kind) {
        .webtransport => wt.onPeerReset(layer, slot, error_code),
        .request => exchange.onReset(layer, slot),
    }
}

/// A client unidirectional stream: its type first, then its role.
fn readPeerUni(layer: *Layer, conn_slot: u32, stream_id: u64) void {
    const connection = layer.conn(conn_slot);
    if (connection.protocol == .raw) return raw_connections.readUni(layer, conn_slot, stream_id);
    const h3 = connection.h3.?;
    if (h3.control_in == stream_id) return readCritical(layer, conn_slot, stream_id, .control);
    if (h3.encoder_in == stream_id) return readCritical(layer, conn_slot, stream_id, .qpack_encoder);
    if (h3.decoder_in == stream_id) return readCritical(layer, conn_slot, stream_id, .qpack_decoder);
    if (connection.streams.get(stream_id)) |slot| return pump(layer, slot);
    if (!hasRoom(layer)) return; // Read again with the connection's next packet.
    if (!h3.prefaceStarted(stream_id)) {
        const first = h3.seen_uni.firstSight(layer.allocator, stream_id) catch
            return h3.fail(connection.quiche_conn, Code.internal_error, "out of memory");
        if (!first) return discard(layer, conn_slot, stream_id);
    }

    const pending = h3.pendingPreface(stream_id) orelse
        return h3.fail(connection.quiche_conn, Code.excessive_load, "too many unidirectional streams without a type");
    var fin = false;
    var error_code: u64 = 0;
    const received = quiche.quiche_conn_stream_recv(connection.quiche_conn, stream_id, layer.stream_buffer.ptr, layer.stream_buffer.len, &fin, &error_code);
    if (received < 0) {
        if (received != quiche.err_done) h3.forgetPreface(stream_id);
        return;
    }
    const input = layer.stream_buffer[0..@intCast(received)];
    var consumed: usize = 0;
    const kind = pending.preface.feed(input, &consumed) orelse {
        if (fin) h3.forgetPreface(stream_id);
        return;
    };
    h3.forgetPreface(stream_id);
    const rest = input[consumed..];
    switch (kind) {
        .control, .qpack_encoder, .qpack_decoder => {
            const role: Critical = switch (kind) {
                .control => .control,
                .qpack_encoder => .qpack_encoder,
                else => .qpack_decoder,
            };
            const claimed = switch (role) {
                .control => &h3.control_in,
                .qpack_encoder => &h3.encoder_in,
                .qpack_decoder => &h3.decoder_in,
            };
            if (claimed.* != null) return h3.fail(connection.quiche_conn, Code.stream_creation_error, "a second critical stream of one type");
            claimed.* = stream_id;
            criticalBytes(layer, conn_slot, role, rest, fin);
            if (!fin) readCritical(layer, conn_slot, stream_id, role);
        },
        .push => h3.fail(connection.quiche_conn, Code.stream_creation_error, "a client opened a push stream"),
        .webtransport => |session_stream_id| wt.openIncomingUni(layer, conn_slot, stream_id, session_stream_id, rest, fin),
        .unknown => _ = quiche.quiche_conn_stream_shutdown(connection.quiche_conn, stream_id, quiche.shutdown_read, Code.stream_creation_error),
    }
}

const Critical = enum { control, qpack_encoder, qpack_decoder };

fn readCritical(layer: *Layer, conn_slot: u32, stream_id: u64, role: Critical) void {
    const connection = layer.conn(conn_slot);
    const h3 = connection.h3.?;
    while (!h3.failed) {
        var fin = false;
        var error_code: u64 = 0;
        const received = quiche.quiche_conn_stream_recv(connection.quiche_conn, stream_id, layer.stream_buffer.ptr, layer.stream_buffer.len, &fin, &error_code);
        if (received == quiche.err_done) return;
        if (received < 0) return h3.fail(connection.quiche_conn, Code.closed_critical_stream, "a critical stream was reset");
        criticalBytes(layer, conn_slot, role, layer.stream_buffer[0..@intCast(received)], fin);
        if (fin) return;
    }
}

fn criticalBytes(layer: *Layer, conn_slot: u32, role: Critical, bytes: []const u8, fin: bool) void {
    const connection = layer.conn(conn_slot);
    const h3 = connection.h3.?;
    switch (role) {
        .control => controlBytes(layer, conn_slot, bytes),
        .qpack_encoder => h3.decoder.onEncoderStream(bytes) catch
            h3.fail(connection.quiche_conn, Code.qpack_encoder_stream_error, "QPACK encoder stream error"),
        // We never insert into the peer's table, so its acknowledgements
        // carry nothing we act on.
        .qpack_decoder => {},
    }
    if (fin) h3.fail(connection.quiche_conn, Code.closed_critical_stream, "a critical stream was closed");
}

fn controlBytes(layer: *Layer, conn_slot: u32, bytes: []const u8) void {
    const connection = layer.conn(conn_slot);
    const h3 = connection.h3.?;
    var consumed: usize = 0;
    var failure: ?u64 = null;
    while (h3.control.next(bytes, &consumed, &failure)) |event| switch (event) {
        .settings => |peer| {
            h3.peer = peer;
            h3.settings_received = true;
            exchange.dispatchParked(layer, conn_slot);
        },
        .goaway => |id| h3.peer_goaway = id,
        .priority_update => |update| reprioritize(layer, conn_slot, update.stream_id, priority.parse(update.field_value)),
    };
    if (failure) |code| h3.fail(connection.quiche_conn, code, "control stream error");
}

/// RFC 9218 PRIORITY_UPDATE: applies to the response from now on.
fn reprioritize(layer: *Layer, conn_slot: u32, stream_id: u64, new: priority.Priority) void {
    const connection = layer.conn(conn_slot);
    const slot = connection.streams.get(stream_id) orelse return;
    const request = layer.requests.get(slot);
    request.urgency = new.urgency;
    request.incremental = new.incremental;
    if (request.outbound.headSent()) _ = quiche.quiche_conn_stream_priority(connection.quiche_conn, stream_id, new.urgency, new.incremental);
}

comptime {
    assert(control_stream.max_frame_bytes <= 1 << 16);
}
