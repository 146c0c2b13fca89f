//! WT_OPEN: WebTransport streams the server opens. A create the peer has
//! no stream credit for (its MAX_STREAMS) waits, as the W3C API's
//! createBidirectionalStream()/createUnidirectionalStream() do, and opens
//! once the peer raises the limit; creates of one direction open in the
//! order they were asked. Each waiting create holds a place in its
//! session's stream limit, and at most max_webtransport_streams_per_session
//! wait per connection. Every WT_OPEN is answered by one WT_OPENED: opened,
//! session_gone (the session ended, also while waiting) or stream_limit
//! (the session's limit, or the connection's waiting list, is full).

const std = @import("std");
const assert = std.debug.assert;
const quiche = @import("../ffi/quiche.zig");
const wire = @import("../queue/wire.zig");
const varint = @import("../dgram/varint.zig");
const Layer = @import("layer.zig").Layer;
const events = @import("events.zig");
const frame = @import("frame.zig");
const uni_preface = @import("uni_preface.zig");
const exchange = @import("exchange.zig");
const output = @import("response_output.zig");

pub const OpenStatus = enum(u64) { opened = 0, session_gone = 1, stream_limit = 2 };

/// A create waiting for the peer's stream credit.
pub const WaitingOpen = struct {
    session_id: u64,
    token: u64,
    bidirectional: bool,

    comptime {
        assert(@sizeOf(WaitingOpen) == 24);
    }
};

/// WT_OPEN (header.id: the session's request id, header.aux: 1 for bidi).
pub fn open(layer: *Layer, header: wire.Header, payload: []const u8) void {
    const ask = WaitingOpen{
        .session_id = header.id,
        .token = if (payload.len >= 8) std.mem.readInt(u64, payload[0..8], .little) else 0,
        .bidirectional = header.aux == 1,
    };
    const session_slot = liveSession(layer, ask.session_id) orelse return answer(layer, ask, 0, 0, .session_gone);
    const session = layer.requests.get(session_slot);
    // A raw connection's streams are bounded by QUIC's MAX_STREAMS alone.
    if (!session.raw_session and session.wt_stream_count >= layer.config.max_webtransport_streams_per_session) return answer(layer, ask, 0, 0, .stream_limit);
    const connection = layer.conn(session.conn_slot);
    const h3 = connection.h3.?;
    if (waitingFor(h3.waiting_opens.items, ask.bidirectional) or streamsLeft(connection.quiche_conn, ask.bidirectional) == 0) {
        if (h3.waiting_opens.items.len >= layer.config.max_webtransport_streams_per_session) return answer(layer, ask, 0, 0, .stream_limit);
        h3.waiting_opens.append(layer.allocator, ask) catch return answer(layer, ask, 0, 0, .stream_limit);
        session.wt_stream_count += 1;
        return;
    }
    session.wt_stream_count += 1;
    openNow(layer, session_slot, ask);
}

/// Opens the waiting creates the peer's credit now allows (each flush).
pub fn openWaiting(layer: *Layer, conn_slot: u32) void {
    const connection = layer.conn(conn_slot);
    const h3 = connection.h3 orelse return;
    var index: usize = 0;
    while (index < h3.waiting_opens.items.len) {
        const ask = h3.waiting_opens.items[index];
        if (streamsLeft(connection.quiche_conn, ask.bidirectional) == 0) {
            index += 1;
            continue;
        }
        _ = h3.waiting_opens.orderedRemove(index);
        // A session's end answers its waiting creates (dropWaiting), so a
        // gone session here would be a bookkeeping slip: answered, not fatal.
        const session_slot = liveSession(layer, ask.session_id) orelse {
            answer(layer, ask, 0, 0, .session_gone);
            continue;
        };
        openNow(layer, session_slot, ask);
    }
}

/// The session ended: its waiting creates are answered session_gone.
pub fn dropWaiting(layer: *Layer, conn_slot: u32, session_id: u64) void {
    const h3 = layer.conn(conn_slot).h3 orelse return;
    var index: usize = 0;
    while (index < h3.waiting_opens.items.len) {
        const ask = h3.waiting_opens.items[index];
        if (ask.session_id != session_id) {
            index += 1;
            continue;
        }
        _ = h3.waiting_opens.orderedRemove(index);
        answer(layer, ask, 0, 0, .session_gone);
    }
}

/// The live, accepted session with this request id: not one we already
/// closed (its slot stays until the client's side of the CONNECT ends), or
/// a raw QUIC connection's pseudo session, live as long as its connection.
fn liveSession(layer: *Layer, session_id: u64) ?u32 {
    const slot = layer.requests.slotOf(session_id) orelse return null;
    const session = layer.requests.get(slot);
    if (session.raw_session) return slot;
    if (!session.is_connect or !session.acceptedHead() or session.kind != .request or session.writeDone()) return null;
    return slot;
}

fn waitingFor(waiting: []const WaitingOpen, bidirectional: bool) bool {
    for (waiting) |ask| {
        if (ask.bidirectional == bidirectional) return true;
    }
    return false;
}

fn streamsLeft(quiche_conn: *quiche.Conn, bidirectional: bool) u64 {
    return if (bidirectional) quiche.quiche_conn_peer_streams_left_bidi(quiche_conn) else quiche.quiche_conn_peer_streams_left_uni(quiche_conn);
}

/// Opens the stream now: the peer has credit, and the session's stream
/// count already includes it (released again if opening fails).
fn openNow(layer: *Layer, session_slot: u32, ask: WaitingOpen) void {
    const session = layer.requests.get(session_slot);
    assert(session.wt_stream_count > 0);
    const connection = layer.conn(session.conn_slot);
    const quiche_conn = connection.quiche_conn;

    // The preface goes out now: writing creates the stream in quiche, which
    // is what keeps peer_streams_left true for the next WT_OPEN of the same
    // batch, and a stream past the peer's MAX_STREAMS fails here.
    const stream_id = connection.h3.?.takeStreamId(ask.bidirectional);
    var preface: [16]u8 = undefined;
    // A raw connection's streams carry the application's bytes only; the
    // empty write still creates the stream in quiche.
    const preface_len = if (session.raw_session) 0 else encodePreface(&preface, ask.bidirectional, session.stream_id);
    var error_code: u64 = 0;
    const written = quiche.quiche_conn_stream_send(quiche_conn, stream_id, &preface, preface_len, false, &error_code);
    if (written < 0 and written != quiche.err_done) {
        connection.h3.?.returnStreamId(ask.bidirectional, stream_id);
        return refuse(layer, session_slot, ask);
    }
    const sent: usize = if (written > 0) @intCast(written) else 0;
    layer.markDirty(session.conn_slot);
    const slot = layer.requests.acquire(session.conn_slot, stream_id) orelse {
        _ = quiche.quiche_conn_stream_shutdown(quiche_conn, stream_id, quiche.shutdown_write, frame.ErrorCode.request_cancelled);
        return refuse(layer, session_slot, ask);
    };
    connection.streams.put(layer.allocator, stream_id, slot) catch {
        layer.requests.release(layer.allocator, slot);
        _ = quiche.quiche_conn_stream_shutdown(quiche_conn, stream_id, quiche.shutdown_write, frame.ErrorCode.request_cancelled);
        return refuse(layer, session_slot, ask);
    };
    layer.stats.requests_active.inc();
    const request = layer.requests.get(slot);
    request.kind = .webtransport;
    request.wt_session = ask.session_id;
    request.wt_preface_bytes = @intCast(preface_len);
    // No head either way; a unidirectional stream of ours has nothing to read.
    request.inbound.transition(.body);
    if (!ask.bidirectional) request.inbound.transition(.finished);
    request.outbound.sendHead();
    request.visibility.transition(.visible);
    request.read_allowed_bytes = layer.config.request_read_window_bytes;
    request.input.phase = .raw;
    request.frame_out.appendSlice(layer.allocator, preface[sent..preface_len]) catch return exchange.failRequest(layer, slot);
    // A raw QUIC stream starts at RFC 9218's default priority (urgency 3,
    // not incremental) rather than quiche's own, so STREAM_PRIORITY orders
    // it against its siblings as the RFC says.
    if (session.raw_session) _ = quiche.quiche_conn_stream_priority(quiche_conn, stream_id, request.urgency, request.incremental);
    answer(layer, ask, layer.requests.idOf(slot), stream_id, .opened);
    output.queueOutput(layer, slot);
}

fn refuse(layer: *Layer, session_slot: u32, ask: WaitingOpen) void {
    layer.requests.get(session_slot).wt_stream_count -= 1;
    answer(layer, ask, 0, 0, .stream_limit);
}

fn encodePreface(out: *[16]u8, bidirectional: bool, session_stream_id: u64) usize {
    const stream_type = if (bidirectional) frame.Type.webtransport_stream else uni_preface.StreamType.webtransport;
    const len = varint.encode(stream_type, out) catch unreachable;
    return len + (varint.encode(session_stream_id, out[len..]) catch unreachable);
}

fn answer(layer: *Layer, ask: WaitingOpen, stream: u64, stream_id: u64, status: OpenStatus) void {
    var buffer: [wire.header_bytes + 32]u8 = undefined;
    var writer = wire.RecordWriter.init(&buffer, @intFromEnum(wire.EventKind.wt_opened), 0, @intFromBool(ask.bidirectional), stream);
    writer.int(u64, ask.token);
    writer.int(u64, ask.session_id);
    writer.int(u64, stream_id);
    writer.int(u64, @intFromEnum(status));
    events.pushAnswer(layer, writer.finish() catch unreachable);
}
