//! The frame grammar of a client bidirectional stream (RFC 9114 section
//! 4.1): HEADERS, any number of DATA, optionally trailing HEADERS, with
//! unknown frame types skipped anywhere. A stream that starts with the
//! WebTransport signal (0x41 + session ID) carries raw bytes after it.
//! Items come out one at a time so the caller can stop between them (a
//! QPACK-blocked head, a full event queue) and keep the rest of its input.

const std = @import("std");
const assert = std.debug.assert;
const frame = @import("frame.zig");

pub const Item = union(enum) {
    /// The request's field section, complete. Valid until the next call.
    headers: []const u8,
    /// The trailer field section, complete. Valid until the next call.
    trailers: []const u8,
    data: []const u8,
    /// The HEADERS payload passed `max_field_block_bytes`; it is skipped.
    oversized_headers,
    /// The stream is a WebTransport stream of this session; what follows
    /// comes as `raw`.
    webtransport: u64,
    raw: []const u8,
};

pub const Error = error{ FrameUnexpected, FrameError, OutOfMemory };

pub const Phase = enum(u8) { start, body, after_trailers, raw };

pub const RequestStream = struct {
    reader: frame.FrameReader = .{},
    phase: Phase = .start,
    /// A HEADERS payload split across chunks.
    block: std.ArrayListUnmanaged(u8) = .empty,
    /// The current frame is skipped (unknown type or oversized section).
    skipping: bool = false,
    /// `block` was handed out and is cleared on the next call.
    block_returned: bool = false,

    pub fn deinit(stream: *RequestStream, allocator: std.mem.Allocator) void {
        stream.block.deinit(allocator);
    }

    pub fn next(stream: *RequestStream, allocator: std.mem.Allocator, input: []const u8, consumed: *usize, max_field_block_bytes: usize) Error!?Item {
        if (stream.block_returned) {
            stream.block.clearRetainingCapacity();
            stream.block_returned = false;
        }
        if (stream.phase == .raw) return raw(input, consumed);
        while (stream.reader.next(input, consumed)) |piece| {
            const item = switch (piece) {
                .start => |start| try stream.onStart(start.frame_type, start.length, max_field_block_bytes),
                .payload => |payload| try stream.onPayload(allocator, payload.frame_type, payload.bytes, payload.last),
            };
            if (item) |found| return found;
            if (stream.phase == .raw) return raw(input, consumed);
        }
        return null;
    }

    /// The peer ended the stream: a frame cut short is H3_FRAME_ERROR.
    pub fn checkEnd(stream: *const RequestStream) Error!void {
        if (stream.phase != .raw and !stream.reader.atFrameBoundary()) return error.FrameError;
    }

    fn raw(input: []const u8, consumed: *usize) ?Item {
        if (consumed.* == input.len) return null;
        const bytes = input[consumed.*..];
        consumed.* = input.len;
        return .{ .raw = bytes };
    }

    fn onStart(stream: *RequestStream, frame_type: u64, length: u64, max_field_block_bytes: usize) Error!?Item {
        stream.skipping = false;
        switch (frame_type) {
            frame.Type.headers => {
                if (stream.phase == .after_trailers) return error.FrameUnexpected;
                if (length > max_field_block_bytes) {
                    stream.skipping = true;
                    if (stream.phase == .start) stream.phase = .body;
                    return .oversized_headers;
                }
                if (length == 0) return error.FrameError; // A field section has at least its prefix.
                return null;
            },
            frame.Type.data => {
                if (stream.phase != .body) return error.FrameUnexpected;
                return null;
            },
            frame.Type.webtransport_stream => {
                if (stream.phase != .start) return skip(stream);
                // The "length" position holds the session ID.
                stream.reader = .{};
                stream.phase = .raw;
                return .{ .webtransport = length };
            },
            frame.Type.settings, frame.Type.goaway, frame.Type.max_push_id, frame.Type.cancel_push, frame.Type.push_promise, frame.Type.priority_update_request, frame.Type.priority_update_push => return error.FrameUnexpected,
            else => {
                if (frame.Type.isHttp2Only(frame_type)) return error.FrameUnexpected;
                return skip(stream);
            },
        }
    }

    fn skip(stream: *RequestStream) ?Item {
        stream.skipping = true;
        return null;
    }

    fn onPayload(stream: *RequestStream, allocator: std.mem.Allocator, frame_type: u64, bytes: []const u8, last: bool) Error!?Item {
        if (stream.skipping) return null;
        switch (frame_type) {
            frame.Type.data => return .{ .data = bytes },
            frame.Type.headers => {
                const block = if (last and stream.block.items.len == 0) bytes else blk: {
                    try stream.block.appendSlice(allocator, bytes);
                    if (!last) return null;
                    stream.block_returned = true;
                    break :blk stream.block.items;
                };
                if (stream.phase == .start) {
                    stream.phase = .body;
                    return .{ .headers = block };
                }
                stream.phase = .after_trailers;
                return .{ .trailers = block };
            },
            else => unreachable, // Other types are skipped or refused at their start.
        }
    }
};

const testing = std.testing;

const Collected = struct {
    headers: std.ArrayListUnmanaged(u8) = .empty,
    data: std.ArrayListUnmanaged(u8) = .empty,
    trailers: usize = 0,
    fn deinit(collected: *Collected) void {
        collected.headers.deinit(testing.allocator);
        collected.data.deinit(testing.allocator);
    }
};

fn feed(stream: *RequestStream, input: []const u8, collected: *Collected) Error!void {
    var consumed: usize = 0;
    while (try stream.next(testing.allocator, input, &consumed, 1024)) |item| switch (item) {
        .headers => |block| try collected.headers.appendSlice(testing.allocator, block),
        .trailers => collected.trailers += 1,
        .data, .raw => |bytes| try collected.data.appendSlice(testing.allocator, bytes),
        .oversized_headers, .webtransport => {},
    };
}

test "headers, data around an unknown frame, trailers; split anywhere" {
    var buffer: [128]u8 = undefined;
    var len: usize = 0;
    len += frame.writeHeader(buffer[len..], frame.Type.headers, 4);
    @memcpy(buffer[len..][0..4], "HEAD");
    len += 4;
    len += frame.writeHeader(buffer[len..], frame.Type.data, 3);
    @memcpy(buffer[len..][0..3], "abc");
    len += 3;
    len += frame.writeHeader(buffer[len..], 0x21, 2);
    len += 2;
    len += frame.writeHeader(buffer[len..], frame.Type.data, 2);
    @memcpy(buffer[len..][0..2], "de");
    len += 2;
    len += frame.writeHeader(buffer[len..], frame.Type.headers, 2);
    len += 2;
    for (0..len + 1) |split| {
        var stream = RequestStream{};
        defer stream.deinit(testing.allocator);
        var collected = Collected{};
        defer collected.deinit();
        try feed(&stream, buffer[0..split], &collected);
        try feed(&stream, buffer[split..len], &collected);
        try testing.expectEqualStrings("HEAD", collected.headers.items);
        try testing.expectEqualStrings("abcde", collected.data.items);
        try testing.expectEqual(@as(usize, 1), collected.trailers);
        try stream.checkEnd();
    }
}

test "grammar violations" {
    const cases = [_]struct { bytes: []const u8, expected: Error }{
        .{ .bytes = &.{ 0x00, 0x01, 0x61 }, .expected = error.FrameUnexpected }, // DATA first
        .{ .bytes = &.{ 0x04, 0x00 }, .expected = error.FrameUnexpected }, // SETTINGS
        .{ .bytes = &.{ 0x07, 0x01, 0x00 }, .expected = error.FrameUnexpected }, // GOAWAY
        .{ .bytes = &.{ 0x06, 0x00 }, .expected = error.FrameUnexpected }, // HTTP/2 PING
        .{ .bytes = &.{ 0x01, 0x00 }, .expected = error.FrameError }, // empty HEADERS
        .{ .bytes = &.{ 0x01, 0x01, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x61 }, .expected = error.FrameUnexpected }, // DATA after trailers
    };
    for (cases) |case| {
        var stream = RequestStream{};
        defer stream.deinit(testing.allocator);
        var collected = Collected{};
        defer collected.deinit();
        try testing.expectError(case.expected, feed(&stream, case.bytes, &collected));
    }
}

test "a WebTransport stream turns raw after its signal; truncated frames fail at the end" {
    var stream = RequestStream{};
    defer stream.deinit(testing.allocator);
    var consumed: usize = 0;
    const input = [_]u8{ 0x40, 0x41, 0x04, 'x', 'y' };
    try testing.expectEqual(@as(u64, 4), (try stream.next(testing.allocator, &input, &consumed, 1024)).?.webtransport);
    try testing.expectEqualStrings("xy", (try stream.next(testing.allocator, &input, &consumed, 1024)).?.raw);
    try stream.checkEnd();

    var cut = RequestStream{};
    defer cut.deinit(testing.allocator);
    var collected = Collected{};
    defer collected.deinit();
    try feed(&cut, &.{ 0x01, 0x05, 0x00 }, &collected);
    try testing.expectError(error.FrameError, cut.checkEnd());
}
