//! The HTTP/3 state of one QUIC connection, on the loop thread: our three
//! unidirectional streams (control with SETTINGS, QPACK encoder, QPACK
//! decoder), the peer's, what the peer's SETTINGS said, the QPACK decoder
//! with its dynamic table, and the ids of the streams we open for
//! WebTransport. Created once the handshake completes.
//!
//! Every connection gets one, idle or not, so it is one small allocation
//! (`max_struct_bytes`) until the peer uses what needs more: the QPACK
//! dynamic table and the decoder stream buffer are allocated when the peer
//! first uses them (qpack/decoder.zig), a control frame longer than 64
//! bytes borrows a buffer while it is read (control_stream.zig), and the
//! stream sets and queues below grow from empty. Our own SETTINGS go
//! straight to QUIC; only what QUIC cannot take yet is kept.

const std = @import("std");
const assert = std.debug.assert;
const quiche = @import("../ffi/quiche.zig");
const frame = @import("frame.zig");
const settings = @import("settings.zig");
const ControlStream = @import("control_stream.zig").ControlStream;
const uni_preface = @import("uni_preface.zig");
const qpack = @import("qpack/decoder.zig");
const SeenStreams = @import("stream_ids.zig").SeenStreams;
const WaitingOpen = @import("wt_opens.zig").WaitingOpen;
const Code = frame.ErrorCode;

/// Server-initiated unidirectional stream ids (RFC 9000 section 2.1).
pub const control_stream_id: u64 = 3;
pub const encoder_stream_id: u64 = 7;
pub const decoder_stream_id: u64 = 11;
const first_free_uni_id: u64 = 15;
/// A raw QUIC connection has no control or QPACK streams.
pub const first_raw_uni_id: u64 = 3;
const first_bidi_id: u64 = 1;

/// Peer unidirectional streams whose type is still arriving; more at once
/// than this is H3_EXCESSIVE_LOAD (a real client opens three or four).
pub const max_pending_prefaces = 16;

pub const PendingPreface = struct { stream_id: u64, preface: uni_preface.Preface };

/// What one connection's HTTP/3 state may take before its peer sends
/// anything: the struct itself, with everything in it inline. Most of it is
/// the preface trackers (16 x 32 bytes), kept inline because a peer that
/// opens unidirectional streams needs them at once.
pub const max_struct_bytes = 1280;

pub const H3Connection = struct {
    decoder: qpack.Decoder,
    peer: settings.Peer = .{},
    settings_received: bool = false,
    control_in: ?u64 = null,
    control: ControlStream,
    encoder_in: ?u64 = null,
    decoder_in: ?u64 = null,
    prefaces: [max_pending_prefaces]PendingPreface = undefined,
    prefaces_len: u8 = 0,
    /// Control stream bytes QUIC has not accepted yet (SETTINGS, GOAWAY);
    /// empty and unallocated while the peer takes our control stream as it
    /// comes, as it does unless it withholds stream credit.
    control_out: std.ArrayListUnmanaged(u8) = .empty,
    next_bidi_id: u64 = first_bidi_id,
    next_uni_id: u64 = first_free_uni_id,
    /// The peer's GOAWAY: it will not send requests on streams >= this.
    peer_goaway: ?u64 = null,
    goaway_sent: bool = false,
    /// A connection error was raised; nothing more is read.
    failed: bool = false,
    /// The peer's streams seen so far, so an ended one is never new again.
    seen_bidi: SeenStreams = .{},
    seen_uni: SeenStreams = .{},
    /// Requests whose field section waits for encoder-stream inserts.
    blocked: std.ArrayListUnmanaged(u64) = .empty,
    /// WebTransport streams the application asked to open, waiting for the
    /// peer's stream credit (at most max_webtransport_streams_per_session).
    waiting_opens: std.ArrayListUnmanaged(WaitingOpen) = .empty,
    /// Extended CONNECTs that came before the peer's SETTINGS, waiting for
    /// them (exchange.park); at most max_parked_connects.
    parked_connects: std.ArrayListUnmanaged(ParkedConnect) = .empty,

    pub const max_parked_connects = 16;

    pub const ParkedConnect = struct {
        request_id: u64,
        /// The REQUEST record (`len` bytes) with room for its WebTransport trailer.
        record: []u8,
        len: u32,
        ends_stream: bool,
    };

    /// One allocation of `@sizeOf(H3Connection)`; see the file comment for
    /// what is allocated later, and when.
    pub fn create(allocator: std.mem.Allocator, ours: settings.Ours) !*H3Connection {
        const h3 = try allocator.create(H3Connection);
        h3.* = .{
            .decoder = qpack.Decoder.init(allocator, @intCast(ours.qpack_max_table_capacity), @intCast(ours.qpack_blocked_streams)),
            .control = ControlStream.init(allocator),
        };
        return h3;
    }

    pub fn destroy(h3: *H3Connection, allocator: std.mem.Allocator) void {
        h3.decoder.deinit();
        h3.control.deinit();
        h3.control_out.deinit(allocator);
        h3.blocked.deinit(allocator);
        h3.waiting_opens.deinit(allocator);
        for (h3.parked_connects.items) |parked| allocator.free(parked.record);
        h3.parked_connects.deinit(allocator);
        h3.seen_bidi.deinit(allocator);
        h3.seen_uni.deinit(allocator);
        allocator.destroy(h3);
    }

    /// Opens our three unidirectional streams: control with SETTINGS, and
    /// the QPACK encoder and decoder streams, each with its type byte.
    pub fn open(h3: *H3Connection, allocator: std.mem.Allocator, conn: *quiche.Conn, ours: settings.Ours) !void {
        assert(h3.control_out.items.len == 0);
        var buffer: [1 + settings.max_encoded_bytes]u8 = undefined;
        buffer[0] = uni_preface.StreamType.control;
        const len = 1 + settings.write(buffer[1..], ours);
        // Control and QPACK streams go first whatever requests are queued.
        for ([_]u64{ control_stream_id, encoder_stream_id, decoder_stream_id }) |id| {
            _ = quiche.quiche_conn_stream_priority(conn, id, 0, false);
        }
        if (!sendAll(conn, encoder_stream_id, &.{uni_preface.StreamType.qpack_encoder})) return error.StreamBlocked;
        if (!sendAll(conn, decoder_stream_id, &.{uni_preface.StreamType.qpack_decoder})) return error.StreamBlocked;
        try h3.writeControl(allocator, conn, buffer[0..len]);
    }

    /// Hands control stream bytes to QUIC, keeping in `control_out` what it
    /// does not take now, behind what is kept already so the order holds.
    fn writeControl(h3: *H3Connection, allocator: std.mem.Allocator, conn: *quiche.Conn, bytes: []const u8) !void {
        const written = if (h3.control_out.items.len == 0) send(conn, control_stream_id, bytes) else 0;
        assert(written <= bytes.len);
        if (written < bytes.len) try h3.control_out.appendSlice(allocator, bytes[written..]);
    }

    /// Writes what it can of the control stream and the decoder stream.
    pub fn flushControl(h3: *H3Connection, conn: *quiche.Conn) void {
        if (h3.control_out.items.len > 0) {
            const written = send(conn, control_stream_id, h3.control_out.items);
            if (written > 0) h3.control_out.replaceRangeAssumeCapacity(0, written, &.{});
        }
        const pending = h3.decoder.pendingDecoderStream();
        if (pending.len > 0) {
            const written = send(conn, decoder_stream_id, pending);
            if (written > 0) h3.decoder.consumeDecoderStream(written);
        }
    }

    /// GOAWAY naming the first request stream we will not process.
    /// `.announce`: a first GOAWAY that still lets requests in (the largest
    /// ID); `.final`: no stream from `first_unprocessed_id` on is processed.
    pub fn sendGoaway(h3: *H3Connection, allocator: std.mem.Allocator, conn: *quiche.Conn, first_unprocessed_id: u64, step: enum { announce, final }) void {
        assert(first_unprocessed_id % 4 == 0);
        var buffer: [frame.max_header_bytes + 8]u8 = undefined;
        const len = frame.writeVarintFrame(&buffer, frame.Type.goaway, first_unprocessed_id);
        h3.writeControl(allocator, conn, buffer[0..len]) catch return;
        if (step == .final) h3.goaway_sent = true;
        h3.flushControl(conn);
    }

    /// Raises a connection error: CONNECTION_CLOSE with an HTTP/3 code.
    pub fn fail(h3: *H3Connection, conn: *quiche.Conn, code: u64, reason: []const u8) void {
        if (h3.failed) return;
        h3.failed = true;
        _ = quiche.quiche_conn_close(conn, true, code, reason.ptr, reason.len);
    }

    pub fn datagramsEnabledByPeer(h3: *const H3Connection) bool {
        return h3.settings_received and h3.peer.h3_datagram;
    }

    /// The preface tracker for a peer unidirectional stream whose type has
    /// not fully arrived, created on first sight. Null when too many are
    /// pending at once.
    pub fn pendingPreface(h3: *H3Connection, stream_id: u64) ?*PendingPreface {
        for (h3.prefaces[0..h3.prefaces_len]) |*pending| {
            if (pending.stream_id == stream_id) return pending;
        }
        if (h3.prefaces_len == max_pending_prefaces) return null;
        h3.prefaces[h3.prefaces_len] = .{ .stream_id = stream_id, .preface = .{} };
        h3.prefaces_len += 1;
        return &h3.prefaces[h3.prefaces_len - 1];
    }

    pub fn prefaceStarted(h3: *const H3Connection, stream_id: u64) bool {
        for (h3.prefaces[0..h3.prefaces_len]) |pending| if (pending.stream_id == stream_id) return true;
        return false;
    }

    pub fn forgetPreface(h3: *H3Connection, stream_id: u64) void {
        for (h3.prefaces[0..h3.prefaces_len], 0..) |pending, i| {
            if (pending.stream_id != stream_id) continue;
            h3.prefaces[i] = h3.prefaces[h3.prefaces_len - 1];
            h3.prefaces_len -= 1;
            return;
        }
    }

    /// Takes the id of the next stream we open for WebTransport.
    pub fn takeStreamId(h3: *H3Connection, bidirectional: bool) u64 {
        const next = if (bidirectional) &h3.next_bidi_id else &h3.next_uni_id;
        const id = next.*;
        next.* += 4;
        return id;
    }

    /// Gives back the id just taken: quiche refused to open that stream.
    pub fn returnStreamId(h3: *H3Connection, bidirectional: bool, stream_id: u64) void {
        const next = if (bidirectional) &h3.next_bidi_id else &h3.next_uni_id;
        assert(next.* == stream_id + 4);
        next.* = stream_id;
    }
};

/// stream_send of as much as QUIC takes now; 0 when blocked or failed.
pub fn send(conn: *quiche.Conn, stream_id: u64, bytes: []const u8) usize {
    var error_code: u64 = 0;
    const written = quiche.quiche_conn_stream_send(conn, stream_id, bytes.ptr, bytes.len, false, &error_code);
    return if (written > 0) @intCast(written) else 0;
}

fn sendAll(conn: *quiche.Conn, stream_id: u64, bytes: []const u8) bool {
    return send(conn, stream_id, bytes) == bytes.len;
}

const testing = std.testing;

test "a new connection's HTTP/3 state is one small allocation until the peer uses the dynamic table" {
    const ours = settings.Ours{
        .qpack_max_table_capacity = 4096,
        .qpack_blocked_streams = 16,
        .max_field_section_size = 16 * 1024,
        .datagrams = true,
        .webtransport = true,
        .webtransport_max_sessions = 16,
    };
    var counting = testing.FailingAllocator.init(testing.allocator, .{});
    const allocator = counting.allocator();
    const h3 = try H3Connection.create(allocator, ours);
    defer h3.destroy(allocator);
    try testing.expectEqual(@as(usize, 1), counting.allocations);
    try testing.expectEqual(@as(usize, @sizeOf(H3Connection)), counting.allocated_bytes);

    // The peer's control stream (SETTINGS as a browser sends them, then a
    // PRIORITY_UPDATE) and a request head encoded with the static table
    // only: still nothing more.
    var control: [256]u8 = undefined;
    var len = settings.write(&control, ours);
    len += frame.writeHeader(control[len..], frame.Type.priority_update_request, 1 + 3);
    @memcpy(control[len..][0..4], &[_]u8{ 0, 'u', '=', '1' });
    len += 4;
    var consumed: usize = 0;
    var failure: ?u64 = null;
    var events: usize = 0;
    while (h3.control.next(control[0..len], &consumed, &failure)) |_| events += 1;
    try testing.expectEqual(@as(?u64, null), failure);
    try testing.expectEqual(@as(usize, 2), events);
    const Ignore = struct {
        fn onField(_: void, _: []const u8, _: []const u8) void {}
    };
    // Required Insert Count 0, Base 0; :method GET, :scheme https, :path /.
    const head = [_]u8{ 0x00, 0x00, 0xd1, 0xd7, 0xc1 };
    var scratch: [64]u8 = undefined;
    try testing.expectEqual(.done, try h3.decoder.decodeFieldSection(0, &head, &scratch, {}, Ignore.onField));
    try testing.expectEqual(@as(usize, 1), counting.allocations);
    try testing.expectEqual(@as(usize, 0), h3.decoder.pendingDecoderStream().len);

    // The peer's encoder stream sets a capacity: now the dynamic state is
    // allocated, sized by what we advertised, and only once.
    try h3.decoder.onEncoderStream(&.{ 0x3f, 0xe1, 0x1f }); // Set Dynamic Table Capacity 4096.
    const dynamic_bytes = qpack.Decoder.dynamicStateBytes(4096, 16);
    try testing.expectEqual(@as(usize, @sizeOf(H3Connection)) + dynamic_bytes, counting.allocated_bytes);
    const allocations = counting.allocations;
    try h3.decoder.onEncoderStream(&.{ 0x3f, 0xe1, 0x1f });
    try testing.expectEqual(allocations, counting.allocations);
}

comptime {
    assert(@sizeOf(H3Connection) <= max_struct_bytes);
    assert(control_stream_id % 4 == 3 and encoder_stream_id % 4 == 3 and decoder_stream_id % 4 == 3);
    assert(Code.stream_creation_error == 0x103);
}
