//! QUIC DATAGRAM and HTTP/3 DATAGRAM (RFC 9297) on the loop thread.
//!
//! Received datagrams are HTTP/3 datagrams when the peer enabled them in its
//! SETTINGS: the payload starts with the quarter stream ID of the request
//! (or WebTransport session) it belongs to, and goes to that request as an
//! H3_DATAGRAM event. From peers that did not, they are connection-scoped
//! QUIC datagrams (QUIC_DATAGRAM events). Datagrams for unknown or finished
//! streams, or that do not fit the event queue, are dropped and counted:
//! datagrams are unreliable by design, and nothing here may block.

const std = @import("std");
const quiche = @import("../ffi/quiche.zig");
const wire = @import("../queue/wire.zig");
const varint = @import("varint.zig");
const Engine = @import("../quic/engine.zig").Engine;
const Connection = @import("../quic/connection.zig").Connection;

const info_quic_usable: u8 = 1;
const info_h3_by_peer: u8 = 2;

fn h3EnabledByPeer(connection: *Connection) bool {
    const h3 = connection.h3 orelse return false;
    return h3.datagramsEnabledByPeer();
}

/// Drains quiche's receive queue for this connection (bounded by its length).
/// The CONN_INFO event goes first, so the application knows what it may
/// send before it sees a datagram it may want to answer.
pub fn receive(engine: *Engine, conn_slot: u32) void {
    if (!engine.config.enable_dgram) return;
    const connection = engine.connections.get(conn_slot);
    updateInfo(engine, connection);
    var count: u64 = 0;
    while (count < engine.config.dgram_recv_queue_len) : (count += 1) {
        const space = engine.record_buffer[wire.header_bytes..];
        const received = quiche.quiche_conn_dgram_recv(connection.quiche_conn, space.ptr, space.len);
        if (received < 0) return;
        engine.stats.datagrams_received.inc();
        const data = space[0..@intCast(received)];
        const delivered = if (h3EnabledByPeer(connection)) deliverH3(engine, connection, data) else deliverQuic(engine, connection, data);
        if (!delivered) engine.stats.datagrams_received_dropped.inc();
    }
}

fn deliverQuic(engine: *Engine, connection: *Connection, data: []u8) bool {
    return pushRecord(engine, .quic_datagram, connection.serial, data.len);
}

fn deliverH3(engine: *Engine, connection: *Connection, data: []u8) bool {
    const prefix = varint.decode(data) catch return false;
    if (prefix.value > varint.max_value / 4) return false;
    const slot = connection.streams.get(prefix.value * 4) orelse return false;
    if (!engine.requests.get(slot).visible_to_app) return false;
    const payload_len = data.len - prefix.length;
    std.mem.copyForwards(u8, data[0..payload_len], data[prefix.length..]);
    return pushRecord(engine, .h3_datagram, engine.requests.idOf(slot), payload_len);
}

/// The payload is already in place after the header in record_buffer.
fn pushRecord(engine: *Engine, kind: wire.EventKind, id: u64, payload_len: usize) bool {
    var writer = wire.RecordWriter.init(engine.record_buffer, @intFromEnum(kind), 0, 0, id);
    writer.len += payload_len;
    const record = writer.finish() catch return false;
    if (!engine.events.hasRoomFor(record.len, engine.controlReserve())) return false;
    if (engine.events.push(record) catch return false) engine.ringDoorbell();
    return true;
}

/// A QUIC_DATAGRAM command: id is the connection id.
pub fn sendQuic(engine: *Engine, header: wire.Header, payload: []const u8) void {
    const conn_slot = engine.serials.get(header.id) orelse {
        engine.stats.stale_commands.inc();
        return;
    };
    send(engine, conn_slot, header.flags, &.{}, payload);
}

/// An H3_DATAGRAM command: id is the request id; the quarter stream ID of
/// its stream goes in front.
pub fn sendH3(engine: *Engine, header: wire.Header, payload: []const u8) void {
    const slot = engine.requests.slotOf(header.id) orelse {
        engine.stats.stale_commands.inc();
        return;
    };
    const request = engine.requests.get(slot);
    var prefix: [8]u8 = undefined;
    const prefix_len = varint.encode(request.stream_id / 4, &prefix) catch unreachable;
    send(engine, request.conn_slot, header.flags, prefix[0..prefix_len], payload);
}

fn send(engine: *Engine, conn_slot: u32, flags: u8, prefix: []const u8, payload: []const u8) void {
    const connection = engine.connections.get(conn_slot);
    connection.datagram_commands += 1;
    if (flags & wire.flag_notify != 0) connection.datagram_credit_wanted = true;
    engine.markDirty(conn_slot);
    const datagram = engine.datagram_buffer[0 .. prefix.len + payload.len];
    if (!engine.config.enable_dgram or datagram.len > engine.datagram_buffer.len) {
        engine.stats.datagrams_send_dropped.inc();
        return;
    }
    @memcpy(datagram[0..prefix.len], prefix);
    @memcpy(datagram[prefix.len..], payload);
    // Done (queue full), BufferTooShort (larger than the path allows) and
    // InvalidState (not negotiated) all mean the datagram is dropped.
    if (quiche.quiche_conn_dgram_send(connection.quiche_conn, datagram.ptr, datagram.len) < 0) {
        engine.stats.datagrams_send_dropped.inc();
    } else {
        engine.stats.datagrams_sent.inc();
    }
}

/// After a flush: tells the application what datagrams this connection can
/// carry when that changed, and returns send credit when it was asked for.
pub fn afterFlush(engine: *Engine, conn_slot: u32) void {
    if (!engine.config.enable_dgram) return;
    const connection = engine.connections.get(conn_slot);
    updateInfo(engine, connection);
    if (!connection.datagram_credit_wanted) return;
    const queued: u64 = @intCast(@max(0, quiche.quiche_conn_dgram_send_queue_len(connection.quiche_conn)));
    if (queued > engine.config.dgram_send_queue_len / 2) return;
    var buffer: [wire.header_bytes + 8]u8 = undefined;
    var writer = wire.RecordWriter.init(&buffer, @intFromEnum(wire.EventKind.datagram_credit), 0, 0, connection.serial);
    writer.int(u64, connection.datagram_commands - queued);
    const record = writer.finish() catch unreachable;
    if (!engine.events.hasRoomFor(record.len, engine.controlReserve())) return;
    if (engine.events.push(record) catch return) engine.ringDoorbell();
    connection.datagram_credit_wanted = false;
}

/// Sends CONN_INFO when what this connection can carry changed. Also called
/// before a request is handed to the application.
pub fn updateInfo(engine: *Engine, connection: *Connection) void {
    if (!engine.config.enable_dgram) return;
    const max_writable = quiche.quiche_conn_dgram_max_writable_len(connection.quiche_conn);
    var flags: u8 = 0;
    if (max_writable >= 0) flags |= info_quic_usable;
    if (h3EnabledByPeer(connection)) flags |= info_h3_by_peer;
    const max_datagram: u64 = if (max_writable > 0) @intCast(max_writable) else 0;
    // Announced once even when nothing is usable, so the application can
    // tell "not negotiated" from "no such connection".
    if (!connection.announced or flags != connection.info_flags or max_datagram != connection.info_max_datagram) {
        if (pushInfo(engine, connection, flags, max_datagram)) {
            connection.announced = true;
            connection.info_flags = flags;
            connection.info_max_datagram = max_datagram;
        }
    }
}

fn pushInfo(engine: *Engine, connection: *Connection, flags: u8, max_datagram: u64) bool {
    var buffer: [wire.header_bytes + 8]u8 = undefined;
    var writer = wire.RecordWriter.init(&buffer, @intFromEnum(wire.EventKind.conn_info), flags, 0, connection.serial);
    writer.int(u64, max_datagram);
    const record = writer.finish() catch unreachable;
    if (!engine.events.hasRoomFor(record.len, engine.controlReserve())) return false;
    if (engine.events.push(record) catch return false) engine.ringDoorbell();
    return true;
}
