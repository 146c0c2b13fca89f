//! HTTP/3 frames (RFC 9114 section 7): type and length varints, then the
//! payload. `FrameReader` walks a stream's bytes as they arrive, in chunks
//! cut anywhere, and hands out frame starts and payload pieces without
//! copying; what a frame means is the caller's business (control_stream.zig,
//! request_stream.zig). Encoders write frames into caller buffers.

const std = @import("std");
const assert = std.debug.assert;
const varint = @import("../dgram/varint.zig");

pub const Type = struct {
    pub const data: u64 = 0x00;
    pub const headers: u64 = 0x01;
    pub const cancel_push: u64 = 0x03;
    pub const settings: u64 = 0x04;
    pub const push_promise: u64 = 0x05;
    pub const goaway: u64 = 0x07;
    pub const max_push_id: u64 = 0x0d;
    pub const priority_update_request: u64 = 0x0f0700;
    pub const priority_update_push: u64 = 0x0f0701;
    /// WebTransport bidirectional stream signal (draft-02): in the position
    /// of a frame type on a client bidirectional stream, followed by the
    /// session ID where a length would be.
    pub const webtransport_stream: u64 = 0x41;

    /// HTTP/2 frame types with no HTTP/3 meaning; receiving one is
    /// H3_FRAME_UNEXPECTED (RFC 9114 section 7.2.8).
    pub fn isHttp2Only(frame_type: u64) bool {
        return switch (frame_type) {
            0x02, 0x06, 0x08, 0x09 => true,
            else => false,
        };
    }
};

/// HTTP/3 error codes (RFC 9114 section 8.1, RFC 9204 section 6).
pub const ErrorCode = struct {
    pub const no_error: u64 = 0x100;
    pub const general_protocol_error: u64 = 0x101;
    pub const internal_error: u64 = 0x102;
    pub const stream_creation_error: u64 = 0x103;
    pub const closed_critical_stream: u64 = 0x104;
    pub const frame_unexpected: u64 = 0x105;
    pub const frame_error: u64 = 0x106;
    pub const excessive_load: u64 = 0x107;
    pub const id_error: u64 = 0x108;
    pub const settings_error: u64 = 0x109;
    pub const missing_settings: u64 = 0x10a;
    pub const request_rejected: u64 = 0x10b;
    pub const request_cancelled: u64 = 0x10c;
    pub const request_incomplete: u64 = 0x10d;
    pub const message_error: u64 = 0x10e;
    pub const connect_error: u64 = 0x10f;
    pub const version_fallback: u64 = 0x110;
    pub const qpack_decompression_failed: u64 = 0x200;
    pub const qpack_encoder_stream_error: u64 = 0x201;
    pub const qpack_decoder_stream_error: u64 = 0x202;
    pub const datagram_error: u64 = 0x33;
};

/// The longest frame header: two 8-byte varints.
pub const max_header_bytes = 16;

pub const Piece = union(enum) {
    /// A frame begins; `length` payload bytes follow (possibly zero).
    start: struct { frame_type: u64, length: u64 },
    /// Part of the current frame's payload, in order. `last` marks the piece
    /// that completes the frame.
    payload: struct { frame_type: u64, bytes: []const u8, last: bool },
};

pub const FrameReader = struct {
    /// Bytes of a frame header split across chunks.
    partial: [max_header_bytes]u8 = undefined,
    partial_len: u8 = 0,
    in_payload: bool = false,
    frame_type: u64 = 0,
    remaining: u64 = 0,

    /// Returns the next piece of `input[consumed.*..]` and advances
    /// `consumed`, or null when the rest of `input` was absorbed (a partial
    /// frame header) or used up. Zero-length frames produce only `start`.
    pub fn next(reader: *FrameReader, input: []const u8, consumed: *usize) ?Piece {
        assert(consumed.* <= input.len);
        if (reader.in_payload) return reader.nextPayload(input, consumed);
        return reader.nextStart(input, consumed);
    }

    /// True between frames: no header half read, no payload owed.
    pub fn atFrameBoundary(reader: *const FrameReader) bool {
        return !reader.in_payload and reader.partial_len == 0;
    }

    fn nextPayload(reader: *FrameReader, input: []const u8, consumed: *usize) ?Piece {
        assert(reader.remaining > 0);
        const available = input.len - consumed.*;
        if (available == 0) return null;
        const take: usize = @intCast(@min(reader.remaining, available));
        const bytes = input[consumed.*..][0..take];
        consumed.* += take;
        reader.remaining -= take;
        const last = reader.remaining == 0;
        if (last) reader.in_payload = false;
        return .{ .payload = .{ .frame_type = reader.frame_type, .bytes = bytes, .last = last } };
    }

    /// Reads a frame header, joining it with bytes kept from earlier chunks.
    fn nextStart(reader: *FrameReader, input: []const u8, consumed: *usize) ?Piece {
        const rest = input[consumed.*..];
        if (rest.len == 0) return null;
        var joined: [max_header_bytes]u8 = undefined;
        const kept = reader.partial_len;
        @memcpy(joined[0..kept], reader.partial[0..kept]);
        const added = @min(rest.len, max_header_bytes - kept);
        @memcpy(joined[kept..][0..added], rest[0..added]);
        const header = joined[0 .. kept + added];
        const frame_type = varint.decode(header) catch return reader.keepPartial(rest, consumed);
        const length = varint.decode(header[frame_type.length..]) catch return reader.keepPartial(rest, consumed);
        const header_len = frame_type.length + length.length;
        assert(header_len > kept);
        consumed.* += header_len - kept;
        reader.partial_len = 0;
        reader.frame_type = frame_type.value;
        reader.remaining = length.value;
        reader.in_payload = length.value > 0;
        return .{ .start = .{ .frame_type = frame_type.value, .length = length.value } };
    }

    fn keepPartial(reader: *FrameReader, rest: []const u8, consumed: *usize) ?Piece {
        // A header is at most 16 bytes, so what is kept always fits.
        assert(reader.partial_len + rest.len < max_header_bytes);
        @memcpy(reader.partial[reader.partial_len..][0..rest.len], rest);
        reader.partial_len += @intCast(rest.len);
        consumed.* += rest.len;
        return null;
    }
};

/// Writes a frame header; returns its length.
pub fn writeHeader(out: []u8, frame_type: u64, length: u64) usize {
    assert(out.len >= max_header_bytes);
    var at = varint.encode(frame_type, out) catch unreachable;
    at += varint.encode(length, out[at..]) catch unreachable;
    return at;
}

pub fn headerLength(frame_type: u64, length: u64) usize {
    return varint.encodedLength(frame_type) + varint.encodedLength(length);
}

/// A frame whose payload is one varint (GOAWAY, MAX_PUSH_ID, CANCEL_PUSH).
pub fn writeVarintFrame(out: []u8, frame_type: u64, value: u64) usize {
    const payload_len = varint.encodedLength(value);
    assert(out.len >= max_header_bytes + payload_len);
    const at = writeHeader(out, frame_type, payload_len);
    return at + (varint.encode(value, out[at..]) catch unreachable);
}

/// Reads the single varint payload of GOAWAY, MAX_PUSH_ID or CANCEL_PUSH;
/// anything else in the payload is H3_FRAME_ERROR.
pub fn readVarintPayload(payload: []const u8) error{FrameError}!u64 {
    const decoded = varint.decode(payload) catch return error.FrameError;
    if (decoded.length != payload.len) return error.FrameError;
    return decoded.value;
}

const testing = std.testing;

fn collect(reader: *FrameReader, input: []const u8, out: *std.ArrayListUnmanaged(u8), starts: *std.ArrayListUnmanaged(u64)) !void {
    var consumed: usize = 0;
    while (reader.next(input, &consumed)) |piece| switch (piece) {
        .start => |start| try starts.append(testing.allocator, start.frame_type),
        .payload => |payload| try out.appendSlice(testing.allocator, payload.bytes),
    };
    try testing.expectEqual(input.len, consumed);
}

test "frames split at every byte read the same as whole" {
    var stream: [64]u8 = undefined;
    var at: usize = 0;
    at += writeHeader(stream[at..], Type.headers, 3);
    @memcpy(stream[at..][0..3], "abc");
    at += 3;
    at += writeHeader(stream[at..], 0x21 + 0x1f * 1000, 0); // a reserved type, empty
    at += writeHeader(stream[at..], Type.data, 5);
    @memcpy(stream[at..][0..5], "hello");
    at += 5;
    const whole = stream[0..at];
    var split: usize = 0;
    while (split <= whole.len) : (split += 1) {
        var reader = FrameReader{};
        var payload: std.ArrayListUnmanaged(u8) = .empty;
        defer payload.deinit(testing.allocator);
        var starts: std.ArrayListUnmanaged(u64) = .empty;
        defer starts.deinit(testing.allocator);
        try collect(&reader, whole[0..split], &payload, &starts);
        try collect(&reader, whole[split..], &payload, &starts);
        try testing.expectEqualStrings("abchello", payload.items);
        try testing.expectEqualSlices(u64, &.{ Type.headers, 0x21 + 0x1f * 1000, Type.data }, starts.items);
        try testing.expect(reader.atFrameBoundary());
    }
}

test "varint frames round trip and reject trailing bytes" {
    var out: [32]u8 = undefined;
    const len = writeVarintFrame(&out, Type.goaway, 1_000_000);
    var reader = FrameReader{};
    var consumed: usize = 0;
    const start = reader.next(out[0..len], &consumed).?.start;
    try testing.expectEqual(Type.goaway, start.frame_type);
    const payload = reader.next(out[0..len], &consumed).?.payload;
    try testing.expect(payload.last);
    try testing.expectEqual(@as(u64, 1_000_000), try readVarintPayload(payload.bytes));
    try testing.expectError(error.FrameError, readVarintPayload(&.{ 0x01, 0x02 }));
    try testing.expectError(error.FrameError, readVarintPayload(&.{}));
}
