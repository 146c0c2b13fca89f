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
const varint = @import("../dgram/varint.zig");
const Layer = @import("layer.zig").Layer;
const events = @import("events.zig");
const ConnState = @import("conn_state.zig").ConnState;

const info_quic_usable: u8 = 1;
const info_h3_by_peer: u8 = 2;

fn h3EnabledByPeer(connection: *ConnState) bool {
    const h3 = connection.h3 orelse return false;
    return h3.datagramsEnabledByPeer();
}

/// Drains quiche's receive queue for this connection (bounded by its length).
/// The CONN_INFO event goes first, so the application knows what it may
/// send before it sees a datagram it may want to answer.
pub fn receive(layer: *Layer, conn_slot: u32) void {
    if (!layer.config.enable_dgram) return;
    const connection = layer.conn(conn_slot);
    updateInfo(layer, connection);
    var count: u64 = 0;
    while (count < layer.config.dgram_recv_queue_len) : (count += 1) {
        const space = layer.record_buffer[wire.header_bytes..];
        const received = quiche.quiche_conn_dgram_recv(connection.quiche_conn, space.ptr, space.len);
        if (received < 0) return;
        layer.stats.datagrams_received.inc();
        const data = space[0..@intCast(received)];
        const delivered = if (h3EnabledByPeer(connection)) deliverH3(layer, connection, data) else deliverQuic(layer, connection, data);
        if (!delivered) layer.stats.datagrams_received_dropped.inc();
    }
}

fn deliverQuic(layer: *Layer, connection: *ConnState, data: []u8) bool {
    return pushRecord(layer, .quic_datagram, connection.serial, data.len);
}

fn deliverH3(layer: *Layer, connection: *ConnState, data: []u8) bool {
    const prefix = varint.decode(data) catch return false;
    if (prefix.value > varint.max_value / 4) return false;
    const slot = connection.streams.get(prefix.value * 4) orelse return false;
    if (!layer.requests.get(slot).visibleToApp()) return false;
    const payload_len = data.len - prefix.length;
    std.mem.copyForwards(u8, data[0..payload_len], data[prefix.length..]);
    return pushRecord(layer, .h3_datagram, layer.requests.idOf(slot), payload_len);
}

/// The payload is already in place after the header in record_buffer.
fn pushRecord(layer: *Layer, kind: wire.EventKind, id: u64, payload_len: usize) bool {
    var writer = wire.RecordWriter.init(layer.record_buffer, @intFromEnum(kind), 0, 0, id);
    writer.len += payload_len;
    const record = writer.finish() catch return false;
    return events.pushDroppable(layer, record);
}

/// A QUIC_DATAGRAM command: id is the connection id.
pub fn sendQuic(layer: *Layer, header: wire.Header, payload: []const u8) void {
    const conn_slot = layer.serials.get(header.id) orelse {
        layer.stats.stale_commands.inc();
        return;
    };
    send(layer, conn_slot, header.flags, &.{}, payload);
}

/// An H3_DATAGRAM command: id is the request id; the quarter stream ID of
/// its stream goes in front.
pub fn sendH3(layer: *Layer, header: wire.Header, payload: []const u8) void {
    const slot = layer.requests.slotOf(header.id) orelse {
        layer.stats.stale_commands.inc();
        return;
    };
    const request = layer.requests.get(slot);
    var prefix: [8]u8 = undefined;
    const prefix_len = varint.encode(request.stream_id / 4, &prefix) catch unreachable;
    send(layer, request.conn_slot, header.flags, prefix[0..prefix_len], payload);
}

fn send(layer: *Layer, conn_slot: u32, flags: u8, prefix: []const u8, payload: []const u8) void {
    const connection = layer.conn(conn_slot);
    connection.datagram_commands += 1;
    if (flags & wire.flag_notify != 0) connection.datagram_credit_wanted = true;
    layer.markDirty(conn_slot);
    const datagram = layer.datagram_buffer[0 .. prefix.len + payload.len];
    if (!layer.config.enable_dgram or datagram.len > layer.datagram_buffer.len) {
        layer.stats.datagrams_send_dropped.inc();
        return;
    }
    @memcpy(datagram[0..prefix.len], prefix);
    @memcpy(datagram[prefix.len..], payload);
    // Done (queue full), BufferTooShort (larger than the path allows) and
    // InvalidState (not negotiated) all mean the datagram is dropped.
    if (quiche.quiche_conn_dgram_send(connection.quiche_conn, datagram.ptr, datagram.len) < 0) {
        layer.stats.datagrams_send_dropped.inc();
    } else {
        layer.stats.datagrams_sent.inc();
    }
}

/// After a flush: tells the application what datagrams this connection can
/// carry when that changed, and returns send credit when it was asked for.
pub fn afterFlush(layer: *Layer, conn_slot: u32) void {
    if (!layer.config.enable_dgram) return;
    const connection = layer.conn(conn_slot);
    updateInfo(layer, connection);
    if (!connection.datagram_credit_wanted) return;
    const queued: u64 = @intCast(@max(0, quiche.quiche_conn_dgram_send_queue_len(connection.quiche_conn)));
    if (queued > layer.config.dgram_send_queue_len / 2) return;
    var buffer: [wire.header_bytes + 8]u8 = undefined;
    var writer = wire.RecordWriter.init(&buffer, @intFromEnum(wire.EventKind.datagram_credit), 0, 0, connection.serial);
    writer.int(u64, connection.datagram_commands - queued);
    if (!events.pushDroppable(layer, writer.finish() catch unreachable)) return;
    connection.datagram_credit_wanted = false;
}

/// Sends CONN_INFO when what this connection can carry changed. Also called
/// before a request is handed to the application.
pub fn updateInfo(layer: *Layer, connection: *ConnState) void {
    if (!layer.config.enable_dgram) return;
    const max_writable = quiche.quiche_conn_dgram_max_writable_len(connection.quiche_conn);
    var flags: u8 = 0;
    if (max_writable >= 0) flags |= info_quic_usable;
    if (h3EnabledByPeer(connection)) flags |= info_h3_by_peer;
    const max_datagram: u64 = if (max_writable > 0) @intCast(max_writable) else 0;
    // Announced once even when nothing is usable, so the application can
    // tell "not negotiated" from "no such connection".
    if (!connection.announced or flags != connection.info_flags or max_datagram != connection.info_max_datagram) {
        if (pushInfo(layer, connection, flags, max_datagram)) {
            connection.announced = true;
            connection.info_flags = flags;
            connection.info_max_datagram = max_datagram;
        }
    }
}

fn pushInfo(layer: *Layer, connection: *ConnState, flags: u8, max_datagram: u64) bool {
    var buffer: [wire.header_bytes + 8]u8 = undefined;
    var writer = wire.RecordWriter.init(&buffer, @intFromEnum(wire.EventKind.conn_info), flags, 0, connection.serial);
    writer.int(u64, max_datagram);
    return events.pushDroppable(layer, writer.finish() catch unreachable);
}
