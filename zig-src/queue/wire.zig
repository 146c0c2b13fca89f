//! Byte layout of the records that cross between the loop thread and the
//! application: events (loop -> app) and commands (app -> loop). Every record
//! starts with the same 16-byte header, little-endian:
//!
//!   u32 length (whole record, unpadded) | u8 kind | u8 flags | u16 aux | u64 id
//!
//! Records sit 8-byte aligned in the queues; a reader steps by
//! `paddedLength(length)`. The same layout is decoded in ts/wire.ts and
//! documented in include/zig_h3.h. Nothing in a record points at memory:
//! strings and bodies are copied in, so the reader owns what it drained.

const std = @import("std");
const assert = std.debug.assert;

pub const header_bytes = 16;
pub const alignment = 8;

pub const EventKind = enum(u8) {
    /// id = request id; payload: u64 conn_id, u64 stream_id, u32 route_id,
    /// u32 header_count, header block (pseudo-headers included, in wire order).
    /// flags.fin: the field section ended the stream, so the request has no
    /// body and no BODY_END follows (a bodiless request is one record).
    /// flags.early: the request may be a replay (see flag_early).
    request = 1,
    /// id = request id; payload: body bytes.
    body = 2,
    /// id = request id; the request body is complete.
    body_end = 3,
    /// id = request id; the stream was reset or the connection closed before
    /// the response finished. payload: u64 application error code. The id is
    /// dead after this event.
    reset = 4,
    /// id = request id; the response was fully handed to QUIC. The id is dead
    /// after this event.
    complete = 5,
    /// id = request id; payload: u64 response body bytes handed to QUIC so
    /// far. Sent once after a BODY command flagged `flag_notify`, when the
    /// library holds no more than half of max_pending_response_bytes.
    drain = 6,
    /// id = 0; a graceful shutdown finished (every request ended or the
    /// deadline passed) and the loop thread is exiting.
    shutdown = 7,
    /// id = connection id; flags.fin set when the connection was found;
    /// payload: u32 count, then `count` u64 values in the order of
    /// conn_stats.zig's `names`.
    conn_stats = 8,
    /// id = connection id or 0; aux = level (0 error .. 4 trace); payload:
    /// the message, UTF-8.
    log = 9,
    /// id = connection id; flags bit 0: QUIC datagrams usable, bit 1: the
    /// peer enabled HTTP/3 datagrams; payload: u64 largest datagram payload
    /// quiche can send now. Sent when either changes.
    conn_info = 10,
    /// id = connection id; payload: a QUIC datagram from a peer that did
    /// not enable HTTP/3 datagrams.
    quic_datagram = 11,
    /// id = request id; payload: an HTTP/3 datagram for that request stream
    /// (quarter stream ID removed).
    h3_datagram = 12,
    /// id = connection id; payload: u64 datagram commands of this
    /// connection finished so far (sent or dropped). Sent once after a
    /// datagram command flagged `flag_notify`, when quiche's send queue is at
    /// most half full.
    datagram_credit = 13,
    /// id = connection id; the connection is gone. Sent only for
    /// connections a CONN_INFO or QUIC_CONN event announced. For a raw QUIC
    /// connection the payload, when present, says how: u64 error code, u8
    /// origin (0 unknown, e.g. idle timeout; 1 the peer's CONNECTION_CLOSE;
    /// 2 ours), u8 1 when the code is an application code, then the reason.
    conn_closed = 14,
    /// id = WebTransport stream id (a request-table id, like a request's);
    /// aux = 1 bidirectional, 0 unidirectional; payload: u64 session id (the
    /// CONNECT request's id), u64 QUIC stream id. The peer opened a stream
    /// bound to that session. Its bytes arrive as BODY events, its FIN as
    /// BODY_END; the id ends with COMPLETE (both directions finished) or
    /// RESET (the stream, its session or the connection went away).
    wt_stream = 15,
    /// Answer to a WT_OPEN command. id = the new WebTransport stream id, or 0
    /// when it could not be opened; aux = 1 bidirectional, 0 unidirectional;
    /// payload: u64 token (from the command), u64 session id, u64 QUIC stream
    /// id, u64 status (0 opened, 1 session gone, 2 stream limit reached).
    wt_opened = 16,
    /// id = WebTransport stream id; the peer reset its sending side
    /// (RESET_STREAM): no more BODY events. payload: u64 HTTP/3 error code.
    wt_peer_reset = 17,
    /// id = WebTransport stream id; the peer asked us to stop sending
    /// (STOP_SENDING): our sending side was reset with the same code and
    /// further BODY commands are dropped. payload: u64 HTTP/3 error code.
    wt_stop_sending = 18,
    /// id = connection id; a raw QUIC connection (an application ALPN, not
    /// h3) completed its handshake. payload: u64 pseudo session id (streams
    /// of the connection name it in WT_STREAM; WT_OPEN with it opens
    /// streams, which carry no preface), the peer address (20 bytes as in
    /// REQUEST), then the ALPN. Its datagrams are QUIC_DATAGRAM events; it
    /// ends with CONN_CLOSED.
    quic_conn = 19,
};

pub const CommandKind = enum(u8) {
    /// id = request id; aux = status; payload: u32 header_count, header
    /// block, then, with flags.body, the whole body (so a small response is
    /// one command). flags.fin: nothing follows. flags.quiet (with fin): the
    /// application forgets the request now, so no COMPLETE, RESET, DRAIN or
    /// BODY event is sent for it afterwards.
    head = 1,
    /// id = request id; payload: body bytes. flags.fin: last body chunk.
    body = 2,
    /// id = request id; payload: u32 header_count, header block. Ends the response.
    trailers = 3,
    /// id = request id; payload: u64 application error code.
    reset = 4,
    /// id = connection id; answered by a CONN_STATS event.
    conn_stats = 5,
    /// id = connection id; payload: the datagram. flags.notify: send a
    /// DATAGRAM_CREDIT event when the send queue is low again.
    quic_datagram = 6,
    /// id = request id; payload: the datagram (the quarter stream ID is
    /// added by the library). flags.notify as above.
    h3_datagram = 7,
    /// id = session id (the CONNECT request's id); aux = 1 bidirectional,
    /// 0 unidirectional; payload: u64 token, echoed in the WT_OPENED answer.
    /// Without the peer's stream credit it waits (answered once opened).
    wt_open = 8,
    /// id = WebTransport stream id; payload: u64 HTTP/3 error code. Stops
    /// reading (STOP_SENDING). On a WebTransport stream the RESET command
    /// resets only the sending side (RESET_STREAM) and BODY carries raw
    /// stream bytes (flags.fin ends the sending side).
    wt_stop_sending = 9,
    /// id = request or WebTransport stream id; payload: u64 body bytes the
    /// application lets the library deliver, counted from the start of the
    /// body. Absolute, so repeats are harmless; smaller values are ignored.
    credit = 10,
    /// id = connection id (a raw QUIC connection); payload: u64 application
    /// error code, then the reason (UTF-8, at most 1024 bytes kept).
    /// CONNECTION_CLOSE with an application error.
    conn_close = 11,
    /// id = a stream id (a raw QUIC or WebTransport stream); aux = urgency
    /// 0..7; flags.fin: incremental. RFC 9218 priority on quiche's stream
    /// scheduler.
    stream_priority = 12,
};

pub const flag_fin: u8 = 1;
/// On a BODY command: send a DRAIN event once the library's buffer for this
/// response is at or below its low watermark.
pub const flag_notify: u8 = 2;
/// On a HEAD command: the bytes after the field block are the body.
pub const flag_body: u8 = 4;
/// On a HEAD or BODY command that carries FIN: the application has
/// forgotten the request; nothing more is reported about it.
pub const flag_quiet: u8 = 8;
/// On a REQUEST event: the request may be a replay (RFC 8470). Its field
/// section was read while the connection was still in 0-RTT, or it carried
/// `Early-Data` (an intermediary forwarded it from early data).
pub const flag_early: u8 = 16;

pub const Header = extern struct {
    length: u32,
    kind: u8,
    flags: u8,
    aux: u16,
    id: u64,

    comptime {
        assert(@sizeOf(Header) == header_bytes);
    }
};

pub fn paddedLength(length: usize) usize {
    return std.mem.alignForward(usize, length, alignment);
}

pub fn readHeader(record: []const u8) Header {
    assert(record.len >= header_bytes);
    return .{
        .length = std.mem.readInt(u32, record[0..4], .little),
        .kind = record[4],
        .flags = record[5],
        .aux = std.mem.readInt(u16, record[6..8], .little),
        .id = std.mem.readInt(u64, record[8..16], .little),
    };
}

/// Builds one record in a caller-owned buffer. Writes past the buffer are
/// reported once, by `finish`, so encoders can stay straight-line code.
pub const RecordWriter = struct {
    buffer: []u8,
    len: usize = header_bytes,
    overflow: bool = false,

    pub fn init(buffer: []u8, kind: u8, flags: u8, aux: u16, id: u64) RecordWriter {
        assert(buffer.len >= header_bytes);
        buffer[4] = kind;
        buffer[5] = flags;
        std.mem.writeInt(u16, buffer[6..8], aux, .little);
        std.mem.writeInt(u64, buffer[8..16], id, .little);
        return .{ .buffer = buffer };
    }

    pub fn int(writer: *RecordWriter, comptime T: type, value: T) void {
        const size = @sizeOf(T);
        if (writer.len + size > writer.buffer.len) {
            writer.overflow = true;
            return;
        }
        std.mem.writeInt(T, writer.buffer[writer.len..][0..size], value, .little);
        writer.len += size;
    }

    pub fn bytes(writer: *RecordWriter, data: []const u8) void {
        if (writer.len + data.len > writer.buffer.len) {
            writer.overflow = true;
            return;
        }
        @memcpy(writer.buffer[writer.len..][0..data.len], data);
        writer.len += data.len;
    }

    /// A header field: u16 name length, u16 value length, name, value.
    pub fn field(writer: *RecordWriter, name: []const u8, value: []const u8) void {
        assert(name.len <= std.math.maxInt(u16) and value.len <= std.math.maxInt(u16));
        writer.int(u16, @intCast(name.len));
        writer.int(u16, @intCast(value.len));
        writer.bytes(name);
        writer.bytes(value);
    }

    pub fn finish(writer: *RecordWriter) error{RecordTooLarge}![]u8 {
        if (writer.overflow or writer.len > std.math.maxInt(u32)) return error.RecordTooLarge;
        std.mem.writeInt(u32, writer.buffer[0..4], @intCast(writer.len), .little);
        return writer.buffer[0..writer.len];
    }
};

pub const FieldIterator = struct {
    data: []const u8,
    remaining: u32,

    pub const Field = struct { name: []const u8, value: []const u8 };

    /// Returns error.Malformed when the block is shorter than its count says,
    /// so a bad command can never read outside its record.
    pub fn next(it: *FieldIterator) error{Malformed}!?Field {
        if (it.remaining == 0) return null;
        if (it.data.len < 4) return error.Malformed;
        const name_len = std.mem.readInt(u16, it.data[0..2], .little);
        const value_len = std.mem.readInt(u16, it.data[2..4], .little);
        if (it.data.len < 4 + @as(usize, name_len) + value_len) return error.Malformed;
        const name = it.data[4..][0..name_len];
        const value = it.data[4 + name_len ..][0..value_len];
        it.data = it.data[4 + @as(usize, name_len) + value_len ..];
        it.remaining -= 1;
        return .{ .name = name, .value = value };
    }
};

pub const NextCommand = struct { record: []const u8, next_offset: usize };

/// The command record at `offset` of an application's batch, checked
/// (length within the batch, known kind), or null at the end. Records are
/// padded to 8 bytes; the last one may be unpadded.
pub fn nextCommand(batch: []const u8, offset: usize) error{Malformed}!?NextCommand {
    if (offset >= batch.len) return null;
    if (batch.len - offset < header_bytes) return error.Malformed;
    const header = readHeader(batch[offset..]);
    if (header.length < header_bytes or header.length > batch.len - offset) return error.Malformed;
    _ = std.meta.intToEnum(CommandKind, header.kind) catch return error.Malformed;
    return .{ .record = batch[offset..][0..header.length], .next_offset = offset + @min(paddedLength(header.length), batch.len - offset) };
}

/// Reads a `u32 count, fields...` block that fills the rest of a record.
pub fn fieldBlock(payload: []const u8) error{Malformed}!FieldIterator {
    if (payload.len < 4) return error.Malformed;
    return .{ .data = payload[4..], .remaining = std.mem.readInt(u32, payload[0..4], .little) };
}

/// The length of the `u32 count, fields...` block at the start of
/// `payload` (a HEAD command may carry its body after it).
pub fn fieldBlockLength(payload: []const u8) error{Malformed}!usize {
    var fields = try fieldBlock(payload);
    while (try fields.next()) |_| {}
    return payload.len - fields.data.len;
}

const testing = std.testing;

test "record round trip with a field block" {
    var buffer: [128]u8 = undefined;
    var writer = RecordWriter.init(&buffer, @intFromEnum(CommandKind.head), flag_fin, 200, 0xAABB_0000_0001);
    writer.int(u32, 2);
    writer.field("content-type", "text/plain");
    writer.field("x", "");
    const record = try writer.finish();
    const header = readHeader(record);
    try testing.expectEqual(@as(u32, @intCast(record.len)), header.length);
    try testing.expectEqual(@as(u8, 1), header.kind);
    try testing.expectEqual(flag_fin, header.flags);
    try testing.expectEqual(@as(u16, 200), header.aux);
    try testing.expectEqual(@as(u64, 0xAABB_0000_0001), header.id);
    var fields = try fieldBlock(record[header_bytes..]);
    const first = (try fields.next()).?;
    try testing.expectEqualStrings("content-type", first.name);
    try testing.expectEqualStrings("text/plain", first.value);
    const second = (try fields.next()).?;
    try testing.expectEqualStrings("x", second.name);
    try testing.expectEqualStrings("", second.value);
    try testing.expect((try fields.next()) == null);
}

test "a field block's length, with a body after it" {
    var buffer: [128]u8 = undefined;
    var writer = RecordWriter.init(&buffer, @intFromEnum(CommandKind.head), flag_fin | flag_body, 200, 1);
    writer.int(u32, 1);
    writer.field("content-type", "text/plain");
    writer.bytes("hello");
    const record = try writer.finish();
    const payload = record[header_bytes..];
    const block_length = try fieldBlockLength(payload);
    try testing.expectEqual(@as(usize, 4 + 4 + 12 + 10), block_length);
    try testing.expectEqualStrings("hello", payload[block_length..]);
    try testing.expectError(error.Malformed, fieldBlockLength(payload[0..10]));
}

test "overflow is reported, truncated blocks are malformed" {
    var buffer: [20]u8 = undefined;
    var writer = RecordWriter.init(&buffer, 2, 0, 0, 1);
    writer.bytes("0123456789");
    try testing.expectError(error.RecordTooLarge, writer.finish());

    const truncated = [_]u8{ 1, 0, 0, 0, 5, 0, 5, 0, 'a', 'b' };
    var fields = try fieldBlock(&truncated);
    try testing.expectError(error.Malformed, fields.next());
    try testing.expectError(error.Malformed, fieldBlock(&[_]u8{ 1, 0 }));
}
