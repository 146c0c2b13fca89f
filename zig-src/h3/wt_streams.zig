//! WebTransport streams (draft-ietf-webtrans-http3-02): bidirectional
//! streams that start with 0x41 + session ID, unidirectional ones with
//! 0x54 + session ID, opened by either side and bound to a session (a
//! CONNECT request the application accepted). Each stream takes a request
//! slot, so its bytes travel as BODY events and commands with the same
//! backpressure as request bodies. A slot ends when both directions are
//! done, or with its session, which resets it.

const std = @import("std");
const assert = std.debug.assert;
const quiche = @import("../ffi/quiche.zig");
const wire = @import("../queue/wire.zig");
const Layer = @import("layer.zig").Layer;
const events = @import("events.zig");
const frame = @import("frame.zig");
const exchange = @import("exchange.zig");
const output = @import("response_output.zig");
const stream_input = @import("stream_input.zig");
const wt_opens = @import("wt_opens.zig");
const Request = @import("requests.zig").Request;

/// WEBTRANSPORT_BUFFERED_STREAM_REJECTED: a stream for a session that does
/// not exist (or is over its stream limit).
pub const buffered_stream_rejected: u64 = 0x3994bd84;
/// WEBTRANSPORT_SESSION_GONE: the stream's session ended.
pub const session_gone: u64 = 0x170d7b68;

/// The live, accepted session whose CONNECT stream is `session_stream_id`.
fn findSession(layer: *Layer, conn_slot: u32, session_stream_id: u64) ?u32 {
    const slot = layer.conn(conn_slot).streams.get(session_stream_id) orelse return null;
    const session = layer.requests.get(slot);
    if (!session.is_connect or !session.acceptedHead() or !session.visibleToApp() or session.kind != .request) return null;
    return slot;
}

/// A peer stream names its session: bind it, or reject it.
pub fn bindIncoming(layer: *Layer, slot: u32, session_stream_id: u64, bidirectional: bool) stream_input.Flow {
    const request = layer.requests.get(slot);
    prepareIncoming(request, bidirectional);
    const session_slot = findSession(layer, request.conn_slot, session_stream_id) orelse return reject(layer, slot);
    const session = layer.requests.get(session_slot);
    if (session.wt_stream_count >= layer.config.max_webtransport_streams_per_session) return reject(layer, slot);
    return bindToSession(layer, slot, session_slot, bidirectional);
}

/// A peer stream becomes a WebTransport-kind slot: it has no head either
/// way, and a peer's unidirectional stream has no sending side.
pub fn prepareIncoming(request: *Request, bidirectional: bool) void {
    request.kind = .webtransport;
    request.inbound.transition(.body);
    if (bidirectional) request.outbound.sendHead() else request.outbound.transition(.done);
}

/// Binds a peer stream to its session (a CONNECT request's, or a raw
/// connection's pseudo session) and announces it with WT_STREAM.
pub fn bindToSession(layer: *Layer, slot: u32, session_slot: u32, bidirectional: bool) stream_input.Flow {
    const request = layer.requests.get(slot);
    assert(request.kind == .webtransport);
    const session = layer.requests.get(session_slot);
    session.wt_stream_count += 1;
    request.wt_session = layer.requests.idOf(session_slot);

    var buffer: [wire.header_bytes + 16]u8 = undefined;
    var writer = wire.RecordWriter.init(&buffer, @intFromEnum(wire.EventKind.wt_stream), 0, @intFromBool(bidirectional), layer.requests.idOf(slot));
    writer.int(u64, request.wt_session);
    writer.int(u64, request.stream_id);
    if (!events.pushData(layer, writer.finish() catch unreachable)) return reject(layer, slot);
    request.visibility.transition(.visible);
    request.read_allowed_bytes = request.received_body_bytes + layer.config.request_read_window_bytes;
    return .more;
}

pub fn reject(layer: *Layer, slot: u32) stream_input.Flow {
    exchange.resetStream(layer, slot, buffered_stream_rejected);
    return .stop;
}

/// A peer unidirectional stream typed 0x54: takes a slot and binds it.
pub fn openIncomingUni(layer: *Layer, conn_slot: u32, stream_id: u64, session_stream_id: u64, rest: []const u8, fin: bool) void {
    const connection = layer.conn(conn_slot);
    const slot = layer.requests.acquire(conn_slot, stream_id) orelse {
        _ = quiche.quiche_conn_stream_shutdown(connection.quiche_conn, stream_id, quiche.shutdown_read, buffered_stream_rejected);
        return;
    };
    connection.streams.put(layer.allocator, stream_id, slot) catch {
        layer.requests.release(layer.allocator, slot);
        _ = quiche.quiche_conn_stream_shutdown(connection.quiche_conn, stream_id, quiche.shutdown_read, buffered_stream_rejected);
        return;
    };
    layer.stats.requests_active.inc();
    const request = layer.requests.get(slot);
    // What follows the preface is raw stream bytes.
    request.input.phase = .raw;
    if (bindIncoming(layer, slot, session_stream_id, false) == .stop) return;
    if (stream_input.process(layer, slot, rest, fin) == .stop or fin) return;
    stream_input.pump(layer, slot);
}

pub fn onPeerFin(layer: *Layer, slot: u32) void {
    const request = layer.requests.get(slot);
    finishInbound(request);
    if (request.visibleToApp()) events.pushControl(layer, .body_end, layer.requests.idOf(slot), null);
    maybeComplete(layer, slot);
}

pub fn onPeerReset(layer: *Layer, slot: u32, error_code: u64) void {
    const request = layer.requests.get(slot);
    finishInbound(request);
    if (request.visibleToApp()) events.pushControl(layer, .wt_peer_reset, layer.requests.idOf(slot), error_code);
    maybeComplete(layer, slot);
}

/// Both directions are done: the slot ends with COMPLETE.
pub fn maybeComplete(layer: *Layer, slot: u32) void {
    const request = layer.requests.get(slot);
    if (request.writeDone() and request.requestFinished()) exchange.finishRequest(layer, slot, .complete, 0);
}

/// WT_STOP_SENDING: the application stops reading.
pub fn stopSending(layer: *Layer, slot: u32, error_code: u64) void {
    const request = layer.requests.get(slot);
    if (request.requestFinished()) return;
    const quiche_conn = layer.conn(request.conn_slot).quiche_conn;
    _ = quiche.quiche_conn_stream_shutdown(quiche_conn, request.stream_id, quiche.shutdown_read, error_code);
    request.inbound.transition(.finished);
    layer.markDirty(request.conn_slot);
    maybeComplete(layer, slot);
}

/// RESET on a WebTransport stream: RESET_STREAM on the sending side only.
pub fn resetSending(layer: *Layer, slot: u32, error_code: u64) void {
    const request = layer.requests.get(slot);
    if (request.writeDone()) return;
    resetWrite(layer, slot, error_code);
    dropOutput(request);
    request.outbound.transition(.done);
    layer.markDirty(request.conn_slot);
    maybeComplete(layer, slot);
}

/// Resets our sending side. A stream we opened keeps its preface delivered
/// (RESET_STREAM_AT with the preface as reliable size) when the peer
/// supports reset_stream_at and QUIC took the whole preface, so the peer
/// can still tell which session the reset stream belonged to (draft-16
/// section 4.4); otherwise a plain RESET_STREAM.
pub fn resetWrite(layer: *Layer, slot: u32, error_code: u64) void {
    const request = layer.requests.get(slot);
    assert(request.kind == .webtransport);
    const quiche_conn = layer.conn(request.conn_slot).quiche_conn;
    const preface_bytes: u64 = request.wt_preface_bytes;
    const preface_written = request.frame_out_offset >= request.frame_out.items.len;
    if (preface_bytes > 0 and preface_written and quiche.quiche_conn_peer_supports_reset_stream_at(quiche_conn)) {
        if (quiche.quiche_conn_stream_reset_at(quiche_conn, request.stream_id, error_code, preface_bytes) == 0) {
            layer.stats.wt_resets_at.inc();
            return;
        }
    }
    _ = quiche.quiche_conn_stream_shutdown(quiche_conn, request.stream_id, quiche.shutdown_write, error_code);
}

fn dropOutput(request: *Request) void {
    request.body.clearRetainingCapacity();
    request.body_offset = 0;
    request.frame_out.clearRetainingCapacity();
    request.frame_out_offset = 0;
}

/// The peer's side ended, or we stopped reading it. Once is enough: after
/// our STOP_SENDING the peer may still end the stream itself.
fn finishInbound(request: *Request) void {
    if (!request.requestFinished()) request.inbound.transition(.finished);
}

/// Writes a WebTransport stream's preface and raw bytes as QUIC accepts
/// them; FIN follows the application's end.
pub fn writeStream(layer: *Layer, slot: u32) output.WriteResult {
    const request = layer.requests.get(slot);
    if (request.writeDone()) return .gone;
    const quiche_conn = layer.conn(request.conn_slot).quiche_conn;
    switch (output.flushFrames(layer, slot)) {
        .done => {},
        .blocked => return .blocked,
        .failed => return stoppedOrFailed(layer, slot),
    }
    const pending = request.pendingBody();
    // quiche applies FIN only when it takes every byte; a partial write is
    // retried, FIN included, on the next flush.
    const fin = request.outbound.ended();
    if (pending.len == 0 and !fin) return .waiting;
    var error_code: u64 = 0;
    const written = quiche.quiche_conn_stream_send(quiche_conn, request.stream_id, pending.ptr, pending.len, fin, &error_code);
    if (written == quiche.err_done) return .blocked;
    if (written == quiche.err_stream_stopped) return onStopSending(layer, slot, error_code);
    if (written < 0) return .failed;
    request.body_offset += @intCast(written);
    request.sent_body_bytes += @intCast(written);
    if (request.body_offset < request.body.items.len) return .blocked;
    request.body.clearRetainingCapacity();
    request.body_offset = 0;
    return if (fin) .finished else .waiting;
}

fn stoppedOrFailed(layer: *Layer, slot: u32) output.WriteResult {
    const request = layer.requests.get(slot);
    const quiche_conn = layer.conn(request.conn_slot).quiche_conn;
    var error_code: u64 = 0;
    const probe = quiche.quiche_conn_stream_send(quiche_conn, request.stream_id, "", 0, false, &error_code);
    if (probe == quiche.err_stream_stopped) return onStopSending(layer, slot, error_code);
    return .failed;
}

/// The peer sent STOP_SENDING; quiche answered it with RESET_STREAM.
pub fn onStopSending(layer: *Layer, slot: u32, error_code: u64) output.WriteResult {
    const request = layer.requests.get(slot);
    dropOutput(request);
    request.outbound.transition(.done);
    events.pushControl(layer, .wt_stop_sending, layer.requests.idOf(slot), error_code);
    maybeComplete(layer, slot);
    return .gone;
}

/// Our sending side finished (FIN accepted by QUIC).
pub fn onWriteDone(layer: *Layer, slot: u32) void {
    layer.requests.get(slot).outbound.transition(.done);
    maybeComplete(layer, slot);
}

/// The session's CONNECT stream ended: every stream of it is reset.
pub fn endSession(layer: *Layer, session_slot: u32) void {
    const session = layer.requests.get(session_slot);
    const session_id = layer.requests.idOf(session_slot);
    const connection = layer.conn(session.conn_slot);
    wt_opens.dropWaiting(layer, session.conn_slot, session_id);
    while (session.wt_stream_count > 0) {
        var found: ?u32 = null;
        var it = connection.streams.valueIterator();
        while (it.next()) |slot| {
            const stream = layer.requests.get(slot.*);
            if (stream.kind == .webtransport and stream.wt_session == session_id) {
                found = slot.*;
                break;
            }
        }
        const slot = found orelse break;
        exchange.resetStream(layer, slot, session_gone);
    }
    session.wt_stream_count = 0;
}

/// Bookkeeping when a WebTransport stream's slot ends.
pub fn onStreamEnded(layer: *Layer, slot: u32) void {
    const request = layer.requests.get(slot);
    assert(request.kind == .webtransport);
    const session_slot = layer.requests.slotOf(request.wt_session) orelse return;
    const session = layer.requests.get(session_slot);
    if (session.wt_stream_count > 0) session.wt_stream_count -= 1;
}
