//! The HTTP/3 exchange on the loop thread: request heads and bodies become
//! events for the application; the application's commands become response
//! heads, bodies and trailers, written as stream capacity allows. Requests
//! the application never sees (404, 405, malformed heads, overload) are
//! answered here.

const std = @import("std");
const assert = std.debug.assert;
const quiche = @import("../ffi/quiche.zig");
const wire = @import("../queue/wire.zig");
const Layer = @import("layer.zig").Layer;
const events = @import("events.zig");
const request_head = @import("request_head.zig");
const RequestHead = request_head.RequestHead;
const H3Connection = @import("h3_connection.zig").H3Connection;
const requests_mod = @import("requests.zig");
const Request = requests_mod.Request;
const Outcome = requests_mod.Outcome;
const Router = @import("router.zig");
const native = @import("native.zig");
const conn_stats = @import("conn_stats.zig");
const output = @import("response_output.zig");
const datagrams = @import("datagrams.zig");
const frame = @import("frame.zig");
const priority = @import("priority.zig");
const stream_input = @import("stream_input.zig");
const wt = @import("wt_streams.zig");
const wt_opens = @import("wt_opens.zig");
const raw_connections = @import("raw_connections.zig");
const slow_clients = @import("slow_clients.zig");

/// Largest BODY command payload the TypeScript side sends; slack for the
/// buffer cap above.
const max_body_record_bytes = 256 * 1024;

const HeadSink = struct {
    head: *RequestHead,
    priority: ?priority.Priority = null,
    /// RFC 8470 5.1: any Early-Data field, whatever its value or count,
    /// counts as `Early-Data: 1`.
    early_data_field: bool = false,

    fn onField(sink: *HeadSink, name: []const u8, value: []const u8) void {
        if (std.mem.eql(u8, name, "priority")) sink.priority = priority.parse(value);
        if (std.mem.eql(u8, name, "early-data")) sink.early_data_field = true;
        sink.head.add(name, value);
    }
};

/// Methods an early request may have without the application's opt-in:
/// RFC 9110's safe methods, which by definition change nothing on the
/// server, so a replay of them is harmless. Idempotent is not enough: a
/// PUT or DELETE replayed after the client's own later write undoes it.
pub fn isSafeMethod(method: []const u8) bool {
    const safe = [_][]const u8{ "GET", "HEAD", "OPTIONS", "TRACE" };
    for (safe) |name| if (std.mem.eql(u8, name, method)) return true;
    return false;
}

pub const SectionResult = enum { done, blocked, failed };

/// Decodes a request's field section and dispatches the request: to the
/// application, a static or native route, or an answer made here.
/// `ends_stream`: the section is the last thing on the stream (its FIN was
/// read with it), so the request has no body.
pub fn decodeHead(layer: *Layer, slot: u32, block: []const u8, ends_stream: bool) SectionResult {
    const request = layer.requests.get(slot);
    const connection = layer.conn(request.conn_slot);
    const h3 = connection.h3.?;
    const config = layer.config;
    var head = RequestHead.init(layer.record_buffer, layer.requests.idOf(slot), connection.serial, request.stream_id, .{
        .max_header_count = config.max_header_count,
        .max_header_name_length = config.max_header_name_length,
        .max_header_value_length = config.max_header_value_length,
        .max_request_headers_size = config.max_request_headers_size,
        .max_path_length = config.max_path_length,
    });
    var sink = HeadSink{ .head = &head };
    const result = h3.decoder.decodeFieldSection(request.stream_id, block, layer.field_scratch, &sink, HeadSink.onField) catch |err| switch (err) {
        error.FieldsTooLarge => {
            rejectOversizedHead(layer, slot);
            return .done;
        },
        error.DecompressionFailed, error.BlockedLimit => {
            h3.fail(connection.quiche_conn, frame.ErrorCode.qpack_decompression_failed, "QPACK decompression failed");
            return .failed;
        },
    };
    if (result == .blocked) return .blocked;
    if (sink.priority) |wanted| {
        request.urgency = wanted.urgency;
        request.incremental = wanted.incremental;
    }
    // Read before the client's Finished: it may be a replay of someone
    // else's 0-RTT flight (RFC 8470 2). A head read after the handshake
    // completed came from the peer that completed it, whatever packet
    // carried it, which is the "wait for the handshake" of RFC 8470 3.
    const early = sink.early_data_field or quiche.quiche_conn_is_in_early_data(connection.quiche_conn);
    onHead(layer, slot, &head, ends_stream, early);
    return .done;
}

/// A field section over the limits: 431, without decoding the rest.
pub fn rejectOversizedHead(layer: *Layer, slot: u32) void {
    const request = layer.requests.get(slot);
    if (request.headReceived()) return; // Oversized trailers are dropped.
    request.inbound.transition(.body);
    layer.stats.requests_received.inc();
    layer.log(.info, layer.conn(request.conn_slot).serial, "request on stream {d} refused with 431 (field section too large)", .{request.stream_id});
    respondInternal(layer, slot, 431);
}

fn onHead(layer: *Layer, slot: u32, head: *RequestHead, ends_stream: bool, early: bool) void {
    const request = layer.requests.get(slot);
    const connection = layer.conn(request.conn_slot);
    const stream_id = request.stream_id;
    request.inbound.transition(.body);
    layer.stats.requests_received.inc();
    const config = layer.config;
    const over_connection_cap = config.max_active_requests_per_conn > 0 and
        connection.streams.count() > config.max_active_requests_per_conn;
    const rejection = head.finish();
    request.is_head = if (head.method) |method| std.mem.eql(u8, method, "HEAD") else false;
    request.is_connect = if (head.method) |method| std.mem.eql(u8, method, "CONNECT") else false;
    if (rejection) |reason| {
        layer.log(.info, connection.serial, "request on stream {d} refused with {d} ({s})", .{ stream_id, reason.status(), @tagName(reason) });
        return respondInternal(layer, slot, reason.status());
    }
    if (over_connection_cap) return respondInternal(layer, slot, 503);
    if ((head.content_length orelse 0) > config.max_request_body_size) return respondInternal(layer, slot, 413);
    if (early) {
        layer.stats.requests_early_data.inc();
        // Before routing, so static and native routes obey it too; the
        // client retries after its handshake (RFC 8470 4.2).
        if (!config.early_data_allow_unsafe and !isSafeMethod(head.method.?)) {
            layer.stats.requests_too_early.inc();
            layer.log(.info, connection.serial, "early request on stream {d} refused with 425 ({s} is not a safe method)", .{ stream_id, head.method.? });
            return respondInternal(layer, slot, 425);
        }
        head.setEarly();
    }

    layer.router_mutex.lock();
    const match = layer.router.match(head.method.?, head.path orelse "");
    layer.router_mutex.unlock();
    const found = switch (match) {
        .found => |found| found,
        .not_found => return respondInternal(layer, slot, 404),
        .method_not_allowed => return respondInternal(layer, slot, 405),
    };
    switch (found.target) {
        .app => {},
        .static => |response| return respondStatic(layer, slot, response),
        .native => |handler| return native.dispatch(layer, slot, head, handler),
    }
    head.setRoute(found.id);
    head.setPeer(connection.peer.family, connection.peer.port, connection.peer.address);
    datagrams.updateInfo(layer, connection);
    const h3 = connection.h3.?;
    if (request.is_connect and head.protocol != null and !h3.settings_received) {
        // An extended CONNECT before the client's SETTINGS: which
        // WebTransport draft it speaks, and its session flow-control
        // limits, are in them, so the request waits for them (it was sent
        // after them, on another stream).
        if (park(layer, slot, head.record(), ends_stream)) return;
    }
    if (request.is_connect and h3.settings_received) {
        const peer = &h3.peer;
        head.setWebTransportPeer(peer.wtBits(), .{ peer.wt_initial_max_data, peer.wt_initial_max_streams_bidi, peer.wt_initial_max_streams_uni });
    }
    deliverHead(layer, slot, head.record(), ends_stream);
}

/// Hands a request head to the application.
fn deliverHead(layer: *Layer, slot: u32, record: []u8, ends_stream: bool) void {
    const request = layer.requests.get(slot);
    assert(!request.wt_parked);
    // A bodiless request is one record: the REQUEST says the stream ended,
    // and the FIN that follows it in this read finds the request finished
    // already, so no BODY_END is pushed.
    if (ends_stream) record[5] |= wire.flag_fin;
    if (!events.pushData(layer, record)) return respondInternal(layer, slot, 503);
    request.visibility.transition(.visible);
    request.read_allowed_bytes = request.received_body_bytes + layer.config.request_read_window_bytes;
    if (ends_stream) {
        request.inbound.transition(.finished);
    } else if (!request.is_connect) {
        slow_clients.armBody(layer, slot, layer.now_ns);
    }
}

/// Keeps an extended CONNECT's REQUEST record until the client's SETTINGS
/// arrive (dispatchParked); its stream is not read meanwhile. False when
/// it cannot wait (too many waiting, or no memory): it goes on without.
fn park(layer: *Layer, slot: u32, record: []const u8, ends_stream: bool) bool {
    const request = layer.requests.get(slot);
    const h3 = layer.conn(request.conn_slot).h3.?;
    if (h3.parked_connects.items.len >= H3Connection.max_parked_connects) return false;
    const copy = layer.allocator.alloc(u8, record.len + request_head.wt_limits_trailer_bytes) catch return false;
    @memcpy(copy[0..record.len], record);
    h3.parked_connects.append(layer.allocator, .{
        .request_id = layer.requests.idOf(slot),
        .record = copy,
        .len = @intCast(record.len),
        .ends_stream = ends_stream,
    }) catch {
        layer.allocator.free(copy);
        return false;
    };
    request.wt_parked = true;
    return true;
}

/// The client's SETTINGS came: the extended CONNECTs that waited for them
/// go to the application, with its WebTransport bits, and their streams
/// are read again.
pub fn dispatchParked(layer: *Layer, conn_slot: u32) void {
    const h3 = layer.conn(conn_slot).h3 orelse return;
    assert(h3.settings_received);
    const peer = &h3.peer;
    var parked = h3.parked_connects;
    h3.parked_connects = .empty;
    defer parked.deinit(layer.allocator);
    for (parked.items) |waiting| {
        defer layer.allocator.free(waiting.record);
        const slot = layer.requests.slotOf(waiting.request_id) orelse continue;
        const request = layer.requests.get(slot);
        if (!request.wt_parked) continue;
        request.wt_parked = false;
        const len = request_head.patchWebTransportPeer(waiting.record, waiting.len, peer.wtBits(), .{ peer.wt_initial_max_data, peer.wt_initial_max_streams_bidi, peer.wt_initial_max_streams_uni });
        deliverHead(layer, slot, waiting.record[0..len], waiting.ends_stream);
        if (layer.requests.slotOf(waiting.request_id) != null) stream_input.pump(layer, slot);
    }
}

/// No request slot is free: refuse the stream so the client may retry
/// elsewhere (RFC 9114 8.1, H3_REQUEST_REJECTED).
pub fn refuseStream(layer: *Layer, conn_slot: u32, stream_id: u64) void {
    const quiche_conn = layer.conn(conn_slot).quiche_conn;
    _ = quiche.quiche_conn_stream_shutdown(quiche_conn, stream_id, quiche.shutdown_read, frame.ErrorCode.request_rejected);
    _ = quiche.quiche_conn_stream_shutdown(quiche_conn, stream_id, quiche.shutdown_write, frame.ErrorCode.request_rejected);
}

/// Aborts both directions of a stream with `code` and ends its slot.
pub fn resetStream(layer: *Layer, slot: u32, code: u64) void {
    const request = layer.requests.get(slot);
    const quiche_conn = layer.conn(request.conn_slot).quiche_conn;
    _ = quiche.quiche_conn_stream_shutdown(quiche_conn, request.stream_id, quiche.shutdown_read, code);
    if (request.kind == .webtransport and !request.writeDone()) {
        wt.resetWrite(layer, slot, code);
    } else {
        _ = quiche.quiche_conn_stream_shutdown(quiche_conn, request.stream_id, quiche.shutdown_write, code);
    }
    layer.markDirty(request.conn_slot);
    finishRequest(layer, slot, .reset, code);
}

/// Retries paused request bodies after the application drained events.
pub fn resumePausedBodies(layer: *Layer) void {
    // Each paused request is visited once; readBody appends it again at the
    // end if the queue fills once more.
    var visits = layer.paused_bodies.items.len;
    while (visits > 0) : (visits -= 1) {
        const id = layer.paused_bodies.items[0];
        const slot = layer.requests.slotOf(id) orelse {
            _ = layer.paused_bodies.orderedRemove(0);
            continue;
        };
        if (!layer.events.hasRoomFor(wire.header_bytes + layer.config.body_chunk_bytes, layer.controlReserve())) return;
        _ = layer.paused_bodies.orderedRemove(0);
        const request = layer.requests.get(slot);
        request.body_paused = false;
        stream_input.pump(layer, slot);
        layer.markDirty(request.conn_slot);
    }
}

/// The body passed max_request_body_size: the application is told the
/// request is gone (RESET), the client is told to stop sending
/// (STOP_SENDING), and, if no response has started, it gets a 413.
pub fn rejectOversizedBody(layer: *Layer, slot: u32) void {
    const request = layer.requests.get(slot);
    const quiche_conn = layer.conn(request.conn_slot).quiche_conn;
    events.pushControl(layer, .reset, layer.requests.idOf(slot), frame.ErrorCode.request_cancelled);
    request.visibility.transition(.forgotten);
    _ = quiche.quiche_conn_stream_shutdown(quiche_conn, request.stream_id, quiche.shutdown_read, frame.ErrorCode.request_cancelled);
    request.inbound.transition(.finished);
    if (request.outbound.headSent()) return failRequest(layer, slot);
    if (request.head) |head| layer.allocator.free(head);
    request.head = null;
    if (request.trailers) |trailers| layer.allocator.free(trailers);
    request.trailers = null;
    request.body.clearRetainingCapacity();
    request.body_offset = 0;
    // The application's response (if it ended one) is dropped for the 413.
    if (request.outbound == .head_pending_ended) request.outbound.transition(.head_pending);
    respondInternal(layer, slot, 413);
}

pub fn onFinished(layer: *Layer, slot: u32) void {
    const request = layer.requests.get(slot);
    if (request.requestFinished()) return;
    request.inbound.transition(.finished);
    if (request.visibleToApp()) events.pushControl(layer, .body_end, layer.requests.idOf(slot), null);
    // Only a CONNECT stream outlives its response (completeResponse).
    if (request.writeDone()) finishRequest(layer, slot, .complete, 0);
}

pub fn onReset(layer: *Layer, slot: u32) void {
    const request = layer.requests.get(slot);
    const quiche_conn = layer.conn(request.conn_slot).quiche_conn;
    _ = quiche.quiche_conn_stream_shutdown(quiche_conn, request.stream_id, quiche.shutdown_write, frame.ErrorCode.request_cancelled);
    finishRequest(layer, slot, .reset, frame.ErrorCode.request_cancelled);
}

/// Ends a request: tells the application (if it knew of it) and frees the
/// slot. After this the request id no longer resolves.
pub fn finishRequest(layer: *Layer, slot: u32, outcome: Outcome, error_code: u64) void {
    const request = layer.requests.get(slot);
    const id = layer.requests.idOf(slot);
    if (request.visibleToApp()) {
        switch (outcome) {
            .complete => events.pushControl(layer, .complete, id, null),
            .reset => events.pushControl(layer, .reset, id, error_code),
        }
    }
    switch (outcome) {
        .complete => layer.stats.responses_completed.inc(),
        .reset => layer.stats.requests_reset.inc(),
    }
    layer.stats.requests_active.dec();
    const connection = layer.conn(request.conn_slot);
    if (request.is_connect and request.wt_stream_count > 0) wt.endSession(layer, slot);
    if (request.kind == .webtransport) wt.onStreamEnded(layer, slot);
    if (request.qpack_blocked or (request.kind == .request and !request.headReceived())) {
        if (connection.h3) |h3| h3.decoder.cancelStream(request.stream_id);
    }
    _ = connection.streams.remove(request.stream_id);
    layer.requests.release(layer.allocator, slot);
}

/// Called before a connection is freed: every request on it ends as reset.
pub fn abortConnectionRequests(layer: *Layer, conn_slot: u32) void {
    const connection = layer.conn(conn_slot);
    while (connection.streams.count() > 0) {
        var it = connection.streams.valueIterator();
        const slot = it.next().?.*;
        finishRequest(layer, slot, .reset, frame.ErrorCode.request_cancelled);
    }
}

/// Queues a ready-made response for a request the application never sees.
fn respondInternal(layer: *Layer, slot: u32, status: u16) void {
    const reason: []const u8 = switch (status) {
        400 => "Bad Request\n",
        404 => "Not Found\n",
        405 => "Method Not Allowed\n",
        413 => "Content Too Large\n",
        414 => "URI Too Long\n",
        425 => "Too Early\n",
        431 => "Request Header Fields Too Large\n",
        503 => "Service Unavailable\n",
        else => "Error\n",
    };
    if (status == 503) layer.stats.requests_rejected.inc();
    var buffer: [128]u8 = undefined;
    var writer = wire.RecordWriter.init(&buffer, 0, 0, 0, 0);
    writer.int(u16, status);
    writer.int(u32, 1);
    writer.field("content-type", "text/plain");
    const encoded = writer.finish() catch unreachable;
    respondWith(layer, slot, encoded[wire.header_bytes..], reason);
}

/// Answers from a static route's bytes; the application never sees it.
fn respondStatic(layer: *Layer, slot: u32, response: Router.StaticResponse) void {
    respondWith(layer, slot, response.head, response.body);
}

/// Queues a complete response (`head` encoded as for `Request.head`) for
/// a request the application does not see. Copies both.
pub fn respondWith(layer: *Layer, slot: u32, head: []const u8, body: []const u8) void {
    const request = layer.requests.get(slot);
    request.head = layer.allocator.dupe(u8, head) catch return failRequest(layer, slot);
    if (!request.is_head) request.appendBody(layer.allocator, body) catch return failRequest(layer, slot);
    request.outbound.end();
    output.queueOutput(layer, slot);
}

/// Allocation failed while building a response: reset the stream rather
/// than leave the client waiting.
pub fn failRequest(layer: *Layer, slot: u32) void {
    const request = layer.requests.get(slot);
    const quiche_conn = layer.conn(request.conn_slot).quiche_conn;
    _ = quiche.quiche_conn_stream_shutdown(quiche_conn, request.stream_id, quiche.shutdown_write, frame.ErrorCode.internal_error);
    _ = quiche.quiche_conn_stream_shutdown(quiche_conn, request.stream_id, quiche.shutdown_read, frame.ErrorCode.internal_error);
    finishRequest(layer, slot, .reset, frame.ErrorCode.internal_error);
}

/// One drain takes all the queue holds (the buffer is as large as the
/// queue), a second what the application added meanwhile; the rest waits
/// for the next iteration, so a producer that never pauses cannot hold the
/// loop away from its sockets and timers.
pub const max_command_drains_per_iteration = 2;

/// Applies queued commands in order, at most
/// max_command_drains_per_iteration queue-fulls; returns whether commands
/// remain (the loop then comes back without waiting). Commands naming a
/// request that already ended are counted and dropped: that is the normal
/// race between a client reset and a handler still writing, not an error.
pub fn applyCommands(layer: *Layer) bool {
    assert(layer.command_buffer.len >= layer.config.command_queue_bytes);
    for (0..max_command_drains_per_iteration) |_| {
        const drained = layer.commands.drain(layer.command_buffer);
        if (drained.bytes == 0) return false;
        var offset: usize = 0;
        while (offset < drained.bytes) {
            const record = layer.command_buffer[offset..];
            const header = wire.readHeader(record);
            offset += wire.paddedLength(header.length);
            layer.stats.commands_applied.inc();
            applyCommand(layer, header, record[wire.header_bytes..header.length]);
        }
    }
    return layer.commands.nextRecordLength() > 0;
}

fn applyCommand(layer: *Layer, header: wire.Header, payload: []const u8) void {
    switch (std.meta.intToEnum(wire.CommandKind, header.kind) catch return) {
        .conn_stats => return answerConnStats(layer, header.id),
        .quic_datagram => return datagrams.sendQuic(layer, header, payload),
        .h3_datagram => return datagrams.sendH3(layer, header, payload),
        .wt_open => return wt_opens.open(layer, header, payload),
        .conn_close => return raw_connections.closeCommand(layer, header, payload),
        .stream_priority => return raw_connections.priorityCommand(layer, header),
        .wt_stop_sending => {},
        .head, .body, .trailers, .reset, .credit => {},
    }
    const slot = layer.requests.slotOf(header.id) orelse {
        layer.stats.stale_commands.inc();
        return;
    };
    const request = layer.requests.get(slot);
    if (!request.visibleToApp()) {
        layer.stats.stale_commands.inc();
        return;
    }
    const fin = header.flags & wire.flag_fin != 0;
    const kind = std.meta.intToEnum(wire.CommandKind, header.kind) catch return failRequest(layer, slot);
    const error_code = if (payload.len >= 8) std.mem.readInt(u64, payload[0..8], .little) else frame.ErrorCode.request_cancelled;
    if (kind == .credit) return grantCredit(layer, slot, payload);
    if (request.kind == .webtransport) switch (kind) {
        .wt_stop_sending => return wt.stopSending(layer, slot, error_code),
        .reset => return wt.resetSending(layer, slot, error_code),
        .head, .trailers => return failRequest(layer, slot),
        // The sending side already ended (the peer's STOP_SENDING, or our
        // RESET): bytes the application wrote before it heard are dropped,
        // not a reason to abort the stream's other direction.
        .body => if (request.writeDone()) return layer.stats.stale_commands.inc(),
        else => {},
    };
    switch (kind) {
        .head => {
            if (request.head != null or request.outbound.headSent()) return failRequest(layer, slot);
            const with_body = header.flags & wire.flag_body != 0;
            const block_length = if (with_body) wire.fieldBlockLength(payload) catch return failRequest(layer, slot) else payload.len;
            const head = layer.allocator.alloc(u8, 2 + block_length) catch return failRequest(layer, slot);
            std.mem.writeInt(u16, head[0..2], header.aux, .little);
            @memcpy(head[2..], payload[0..block_length]);
            request.head = head;
            if (with_body and !request.is_head) request.appendBody(layer.allocator, payload[block_length..]) catch return failRequest(layer, slot);
            // A BODY or TRAILERS command may have ended the response already.
            if (fin and !request.outbound.ended()) request.outbound.end();
        },
        .body => {
            if (request.outbound.ended()) return failRequest(layer, slot);
            // An application that ignores DRAIN cannot grow this buffer
            // without bound: past twice the window the response is reset.
            if (request.pendingBody().len + payload.len > 2 * @as(usize, layer.config.max_pending_response_bytes) + max_body_record_bytes)
                return failRequest(layer, slot);
            request.appendBody(layer.allocator, payload) catch return failRequest(layer, slot);
            if (fin) request.outbound.end();
            if (header.flags & wire.flag_notify != 0) request.drain_wanted = true;
        },
        .trailers => {
            if (request.outbound.ended()) return failRequest(layer, slot);
            request.trailers = layer.allocator.dupe(u8, payload) catch return failRequest(layer, slot);
            request.outbound.end();
        },
        .conn_stats, .quic_datagram, .h3_datagram, .wt_open, .credit, .conn_close, .stream_priority => unreachable,
        .wt_stop_sending => return failRequest(layer, slot), // Only WebTransport streams stop reading alone. // handled above, before the request lookup.
        .reset => return resetStream(layer, slot, error_code),
    }
    // The application forgot a request it answered in full: it hears
    // nothing more of it (no COMPLETE, which is most of a small exchange's
    // events), and late commands for it count as stale.
    if (fin and header.flags & wire.flag_quiet != 0) request.visibility.transition(.forgotten);
    output.queueOutput(layer, slot);
}

/// The application consumed body bytes: the stream may be read further. A
/// CREDIT is absolute, so a smaller (late) one changes nothing.
fn grantCredit(layer: *Layer, slot: u32, payload: []const u8) void {
    if (payload.len < 8) return failRequest(layer, slot);
    const request = layer.requests.get(slot);
    const allowed = std.mem.readInt(u64, payload[0..8], .little);
    if (allowed <= request.read_allowed_bytes) return;
    request.read_allowed_bytes = allowed;
    if (!request.credit_paused) return;
    request.credit_paused = false;
    // The reads may end the request (its slot is then freed), never its
    // connection: whatever they queued is flushed with the connection.
    const conn_slot = request.conn_slot;
    stream_input.pump(layer, slot);
    layer.markDirty(conn_slot);
}

/// Starts a graceful shutdown: GOAWAY on every connection, naming the
/// first request stream that will not be processed.
/// The largest client-initiated bidirectional stream ID (RFC 9114 5.2:
/// 2^62 - 4), the first GOAWAY of a graceful shutdown.
const goaway_id_max: u64 = (1 << 62) - 4;

pub fn sendGoaways(layer: *Layer, step: enum { announce, final }) void {
    for (layer.conns, 0..) |*maybe, slot| {
        const connection = if (maybe.*) |*c| c else continue;
        const h3 = connection.h3 orelse continue;
        // A raw QUIC connection has no control stream; the application
        // closes it (its streams are not refused by a GOAWAY).
        if (connection.protocol != .h3) continue;
        const next_id = if (connection.streams.count() == 0 and connection.max_stream_id_seen == 0) 0 else connection.max_stream_id_seen + 4;
        if (step == .announce) {
            h3.sendGoaway(layer.allocator, connection.quiche_conn, goaway_id_max, .announce);
        } else {
            h3.sendGoaway(layer.allocator, connection.quiche_conn, next_id, .final);
        }
        layer.markDirty(@intCast(slot));
    }
}

/// Answers a CONN_STATS command. Connections are found by a scan: stats are
/// an occasional, administrative request, not a per-request cost.
fn answerConnStats(layer: *Layer, conn_id: u64) void {
    var values: [conn_stats.names.len]u64 = @splat(0);
    var found = false;
    for (layer.conns) |*maybe| {
        const connection = if (maybe.*) |*c| c else continue;
        if (connection.serial != conn_id) continue;
        conn_stats.collect(connection, &values);
        found = true;
        break;
    }
    var buffer: [wire.header_bytes + 4 + 8 * conn_stats.names.len]u8 = undefined;
    var writer = wire.RecordWriter.init(&buffer, @intFromEnum(wire.EventKind.conn_stats), if (found) wire.flag_fin else 0, 0, conn_id);
    writer.int(u32, values.len);
    for (values) |value| writer.int(u64, value);
    if (!events.pushData(layer, writer.finish() catch unreachable)) layer.stats.event_queue_full.inc();
}
