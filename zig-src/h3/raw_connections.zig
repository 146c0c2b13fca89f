//! Raw QUIC connections: a connection whose handshake negotiated one of the
//! application's own protocols (config.application_protos, e.g. "zr/1")
//! instead of h3. The application owns the whole connection; HTTP/3 opens
//! no control or QPACK streams on it and parses nothing.
//!
//! So that streams keep everything WebTransport streams have (Web Streams
//! with backpressure, the read credit, RESET_STREAM and STOP_SENDING with
//! codes, opens that wait for the peer's MAX_STREAMS), a raw connection is
//! one pseudo session: a request slot with no stream of its own
//! (`raw_session`), announced by a QUIC_CONN event. Every stream the peer
//! opens becomes a WebTransport-kind slot bound to it from its first byte
//! (no preface: the stream's bytes are all the application's), announced
//! by WT_STREAM; the application opens streams with WT_OPEN naming the
//! pseudo session, written without a preface. Datagrams are the
//! connection's QUIC_DATAGRAM events (the peer sends no SETTINGS, so it
//! never enables HTTP/3 datagrams). The pseudo session ends with the
//! connection, after its streams (closeConnection).

const std = @import("std");
const assert = std.debug.assert;
const quiche = @import("../ffi/quiche.zig");
const wire = @import("../queue/wire.zig");
const Layer = @import("layer.zig").Layer;
const ConnState = @import("conn_state.zig").ConnState;
const h3_connection = @import("h3_connection.zig");
const H3Connection = h3_connection.H3Connection;
const events = @import("events.zig");
const stream_input = @import("stream_input.zig");
const wt = @import("wt_streams.zig");

/// QUIC's CONNECTION_REFUSED transport error: the server could not take the
/// connection on (no request slot, or no room to announce it).
const connection_refused: u64 = 0x2;
/// The longest close reason a CONN_CLOSED event carries.
pub const max_close_reason_bytes = 1024;

/// The ALPN the handshake chose is h3 (or none, which quiche never lets
/// through a completed handshake).
pub fn negotiatedH3(quiche_conn: *quiche.Conn) bool {
    const alpn = applicationProto(quiche_conn);
    return alpn.len == 0 or std.mem.eql(u8, alpn, "h3");
}

fn applicationProto(quiche_conn: *quiche.Conn) []const u8 {
    var ptr: [*]const u8 = undefined;
    var len: usize = 0;
    quiche.quiche_conn_application_proto(quiche_conn, &ptr, &len);
    return if (len == 0) "" else ptr[0..len];
}

/// The handshake chose an application protocol: the stream bookkeeping,
/// the pseudo session, and the QUIC_CONN event. A connection that cannot
/// be announced is closed with CONNECTION_REFUSED.
pub fn open(layer: *Layer, conn_slot: u32) void {
    const state = layer.conn(conn_slot);
    assert(state.h3 == null and state.protocol == .pending);
    state.protocol = .raw;
    const h3 = H3Connection.create(layer.allocator, layer.h3Settings()) catch return refuse(state, "out of memory");
    // No control or QPACK streams: our unidirectional streams start at 3.
    h3.next_uni_id = h3_connection.first_raw_uni_id;
    state.h3 = h3;
    const slot = layer.requests.acquire(conn_slot, no_stream) orelse return refuse(state, "no request slot");
    const session = layer.requests.get(slot);
    session.raw_session = true;
    session.inbound.transition(.body);
    session.outbound.sendHead();
    state.raw_session = layer.requests.idOf(slot);
    layer.raw_sessions += 1;
    if (!announce(layer, state)) {
        release(layer, state);
        return refuse(state, "event queue full");
    }
    state.announced = true;
}

/// The pseudo session's stream id: no QUIC stream has it (ids are 62-bit).
const no_stream: u64 = std.math.maxInt(u64);

fn refuse(state: *ConnState, reason: []const u8) void {
    _ = quiche.quiche_conn_close(state.quiche_conn, false, connection_refused, reason.ptr, reason.len);
}

/// QUIC_CONN: id = connection id; payload: u64 pseudo session id, the peer
/// (20 bytes as in REQUEST), the ALPN. It may use the control reserve, as
/// the application must hear of a connection whose streams follow.
fn announce(layer: *Layer, state: *ConnState) bool {
    var buffer: [wire.header_bytes + 8 + 20 + 256]u8 = undefined;
    var writer = wire.RecordWriter.init(&buffer, @intFromEnum(wire.EventKind.quic_conn), 0, 0, state.serial);
    writer.int(u64, state.raw_session);
    writer.bytes(&.{ state.peer.family, 0 });
    writer.int(u16, state.peer.port);
    writer.bytes(&state.peer.address);
    writer.bytes(applicationProto(state.quiche_conn));
    const record = writer.finish() catch unreachable; // An ALPN id is at most 255 bytes.
    events.pushRecord(layer, record) catch return false;
    return true;
}

/// Before the connection's state is freed, after its streams ended: the
/// pseudo session's slot is released (it was never visible as a request).
pub fn close(layer: *Layer, conn_slot: u32) void {
    const state = layer.conn(conn_slot);
    if (state.raw_session == 0) return;
    release(layer, state);
}

fn release(layer: *Layer, state: *ConnState) void {
    const slot = layer.requests.slotOf(state.raw_session).?;
    assert(layer.requests.get(slot).raw_session);
    layer.requests.release(layer.allocator, slot);
    state.raw_session = 0;
    layer.raw_sessions -= 1;
}

/// The live pseudo session of the connection in `conn_slot`.
fn sessionSlot(layer: *Layer, conn_slot: u32) ?u32 {
    return layer.requests.slotOf(layer.conn(conn_slot).raw_session);
}

/// A client bidirectional stream just got its slot: it is a raw stream of
/// the pseudo session from its first byte.
pub fn bindBidi(layer: *Layer, slot: u32) stream_input.Flow {
    const request = layer.requests.get(slot);
    request.input.phase = .raw;
    wt.prepareIncoming(request, true);
    const session_slot = sessionSlot(layer, request.conn_slot) orelse return wt.reject(layer, slot);
    // RFC 9218's default priority for our side, as for the streams we open.
    const quiche_conn = layer.conn(request.conn_slot).quiche_conn;
    _ = quiche.quiche_conn_stream_priority(quiche_conn, request.stream_id, request.urgency, request.incremental);
    return wt.bindToSession(layer, slot, session_slot, true);
}

/// A client unidirectional stream: a slot bound to the pseudo session, or
/// STOP_SENDING when no slot is free.
pub fn readUni(layer: *Layer, conn_slot: u32, stream_id: u64) void {
    const connection = layer.conn(conn_slot);
    if (connection.streams.get(stream_id)) |slot| return stream_input.pump(layer, slot);
    if (!stream_input.hasRoom(layer)) return; // Read again with the connection's next packet.
    const h3 = connection.h3.?;
    const first = h3.seen_uni.firstSight(layer.allocator, stream_id) catch
        return h3.fail(connection.quiche_conn, connection_refused, "out of memory");
    if (!first) return;
    const slot = layer.requests.acquire(conn_slot, stream_id) orelse {
        layer.stats.requests_rejected.inc();
        _ = quiche.quiche_conn_stream_shutdown(connection.quiche_conn, stream_id, quiche.shutdown_read, wt.buffered_stream_rejected);
        return;
    };
    connection.streams.put(layer.allocator, stream_id, slot) catch {
        layer.requests.release(layer.allocator, slot);
        _ = quiche.quiche_conn_stream_shutdown(connection.quiche_conn, stream_id, quiche.shutdown_read, wt.buffered_stream_rejected);
        return;
    };
    layer.stats.requests_active.inc();
    const request = layer.requests.get(slot);
    request.input.phase = .raw;
    wt.prepareIncoming(request, false);
    const session_slot = sessionSlot(layer, conn_slot) orelse {
        _ = wt.reject(layer, slot);
        return;
    };
    if (wt.bindToSession(layer, slot, session_slot, false) == .stop) return;
    stream_input.pump(layer, slot);
}

/// CONN_CLOSE (id = connection id; payload: u64 application error code,
/// then the reason): CONNECTION_CLOSE with an application error.
pub fn closeCommand(layer: *Layer, header: wire.Header, payload: []const u8) void {
    const conn_slot = layer.serials.get(header.id) orelse return layer.stats.stale_commands.inc();
    const connection = layer.conn(conn_slot);
    // An HTTP/3 connection is closed by the server's own rules (GOAWAY, stop).
    if (connection.protocol != .raw or payload.len < 8) return layer.stats.stale_commands.inc();
    const code = std.mem.readInt(u64, payload[0..8], .little);
    const reason = payload[8..][0..@min(payload.len - 8, max_close_reason_bytes)];
    // quiche refuses codes past 2^62 - 1 and a second close: nothing to do.
    _ = quiche.quiche_conn_close(connection.quiche_conn, true, code, reason.ptr, reason.len);
    layer.markDirty(conn_slot);
}

/// STREAM_PRIORITY (id = stream id; aux = urgency 0..7, flags.fin =
/// incremental): RFC 9218 semantics on quiche's stream scheduler, from the
/// next byte written.
pub fn priorityCommand(layer: *Layer, header: wire.Header) void {
    const slot = layer.requests.slotOf(header.id) orelse return layer.stats.stale_commands.inc();
    const request = layer.requests.get(slot);
    if (request.kind != .webtransport or header.aux > 7) return layer.stats.stale_commands.inc();
    request.urgency = @intCast(header.aux);
    request.incremental = header.flags & wire.flag_fin != 0;
    const quiche_conn = layer.conn(request.conn_slot).quiche_conn;
    _ = quiche.quiche_conn_stream_priority(quiche_conn, request.stream_id, request.urgency, request.incremental);
}

/// The CONN_CLOSED event of a raw connection carries how it closed:
/// u64 code, u8 origin (0 none, 1 the peer, 2 us), u8 is_app, then the
/// reason. Without room it is the plain control record.
pub fn announceClosed(layer: *Layer, state: *ConnState) void {
    var is_app = false;
    var code: u64 = 0;
    var reason_ptr: [*]const u8 = undefined;
    var reason_len: usize = 0;
    var origin: u8 = 0;
    if (quiche.quiche_conn_peer_error(state.quiche_conn, &is_app, &code, &reason_ptr, &reason_len)) {
        origin = 1;
    } else if (quiche.quiche_conn_local_error(state.quiche_conn, &is_app, &code, &reason_ptr, &reason_len)) {
        origin = 2;
    }
    const reason = if (origin == 0 or reason_len == 0) "" else reason_ptr[0..@min(reason_len, max_close_reason_bytes)];
    var buffer: [wire.header_bytes + 10 + max_close_reason_bytes]u8 = undefined;
    var writer = wire.RecordWriter.init(&buffer, @intFromEnum(wire.EventKind.conn_closed), 0, 0, state.serial);
    writer.int(u64, code);
    writer.bytes(&.{ origin, @intFromBool(is_app) });
    writer.bytes(reason);
    const record = writer.finish() catch unreachable;
    if (layer.pending_control.items.len == 0 and events.pushDroppable(layer, record)) return;
    events.pushControl(layer, .conn_closed, state.serial, null);
}

comptime {
    assert(no_stream > (1 << 62));
}
