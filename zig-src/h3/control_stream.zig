//! The peer's control stream (RFC 9114 section 6.2.1): SETTINGS first and
//! once, then GOAWAY, MAX_PUSH_ID, CANCEL_PUSH and PRIORITY_UPDATE (RFC
//! 9218). Frames are small, so each payload is gathered whole before it is
//! parsed: up to `inline_payload_bytes` inside the struct, up to
//! `max_frame_bytes` in a buffer of the frame's own length allocated for
//! that frame only; a longer one is H3_EXCESSIVE_LOAD. Unknown frame types
//! are skipped whatever their length.

const std = @import("std");
const assert = std.debug.assert;
const frame = @import("frame.zig");
const settings = @import("settings.zig");
const varint = @import("../dgram/varint.zig");
const Code = frame.ErrorCode;

pub const max_frame_bytes = 4096;

/// Control frames clients send fit here: SETTINGS with a few GREASE
/// settings, GOAWAY, PRIORITY_UPDATE with a short Priority field. Gathering
/// them inside the struct costs every connection 64 bytes instead of
/// `max_frame_bytes`, and allocates nothing for the frames that come often;
/// only a rare longer frame borrows a heap buffer while it is read.
pub const inline_payload_bytes = 64;

pub const Event = union(enum) {
    settings: settings.Peer,
    goaway: u64,
    /// RFC 9218: a request stream's new priority, as the Priority field
    /// value ("u=1, i"). The slice lives until the next call.
    priority_update: struct { stream_id: u64, field_value: []const u8 },
};

pub const ControlStream = struct {
    /// For a payload longer than `inline_payload_bytes` only.
    allocator: std.mem.Allocator,
    reader: frame.FrameReader = .{},
    settings_seen: bool = false,
    /// The current frame is being gathered (a known type) or skipped.
    gathering: bool = false,
    inline_payload: [inline_payload_bytes]u8 = undefined,
    /// The payload of a gathered frame longer than `inline_payload_bytes`,
    /// exactly its length. Allocated when the frame starts; freed when the
    /// next frame starts, at the next call (an event's slices live until
    /// then) or at deinit.
    large_payload: []u8 = &.{},
    payload_len: u16 = 0,
    last_goaway: ?u64 = null,

    pub fn init(allocator: std.mem.Allocator) ControlStream {
        return .{ .allocator = allocator };
    }

    pub fn deinit(stream: *ControlStream) void {
        stream.releaseLargePayload();
        stream.* = undefined;
    }

    /// Reads the next event from `input[consumed.*..]`. Returns null when
    /// the input is used up; a connection error returns its code in `failure`.
    pub fn next(stream: *ControlStream, input: []const u8, consumed: *usize, failure: *?u64) ?Event {
        assert(failure.* == null);
        // The last event's slices were valid until this call.
        if (!stream.gathering) stream.releaseLargePayload();
        while (stream.reader.next(input, consumed)) |piece| {
            const event = switch (piece) {
                .start => |start| stream.onStart(start.frame_type, start.length),
                .payload => |payload| stream.onPayload(payload.frame_type, payload.bytes, payload.last),
            } catch |err| {
                failure.* = code(err);
                return null;
            };
            if (event) |found| return found;
        }
        return null;
    }

    const Error = error{ FrameUnexpected, MissingSettings, ExcessiveLoad, FrameError, SettingsError, IdError, OutOfMemory };

    fn code(err: Error) u64 {
        return switch (err) {
            error.FrameUnexpected => Code.frame_unexpected,
            error.MissingSettings => Code.missing_settings,
            error.ExcessiveLoad => Code.excessive_load,
            error.FrameError => Code.frame_error,
            error.SettingsError => Code.settings_error,
            error.IdError => Code.id_error,
            error.OutOfMemory => Code.internal_error,
        };
    }

    /// Where the current frame's payload is gathered.
    fn payloadBuffer(stream: *ControlStream) []u8 {
        assert(stream.large_payload.len == 0 or stream.large_payload.len > inline_payload_bytes);
        return if (stream.large_payload.len > 0) stream.large_payload else &stream.inline_payload;
    }

    fn releaseLargePayload(stream: *ControlStream) void {
        if (stream.large_payload.len == 0) return;
        stream.allocator.free(stream.large_payload);
        stream.large_payload = &.{};
    }

    fn onStart(stream: *ControlStream, frame_type: u64, length: u64) Error!?Event {
        if (!stream.settings_seen and frame_type != frame.Type.settings) return error.MissingSettings;
        stream.gathering = false;
        switch (frame_type) {
            frame.Type.data, frame.Type.headers, frame.Type.push_promise, frame.Type.webtransport_stream => return error.FrameUnexpected,
            frame.Type.settings => if (stream.settings_seen) return error.FrameUnexpected,
            frame.Type.goaway, frame.Type.max_push_id, frame.Type.cancel_push, frame.Type.priority_update_request, frame.Type.priority_update_push => {},
            else => {
                if (frame.Type.isHttp2Only(frame_type)) return error.FrameUnexpected;
                return null; // Unknown and reserved types are skipped.
            },
        }
        if (length > max_frame_bytes) return error.ExcessiveLoad;
        stream.releaseLargePayload();
        if (length > inline_payload_bytes) stream.large_payload = try stream.allocator.alloc(u8, @intCast(length));
        stream.gathering = true;
        stream.payload_len = 0;
        if (length == 0) return stream.complete(frame_type);
        return null;
    }

    fn onPayload(stream: *ControlStream, frame_type: u64, bytes: []const u8, last: bool) Error!?Event {
        if (!stream.gathering) return null;
        const buffer = stream.payloadBuffer();
        assert(stream.payload_len + bytes.len <= buffer.len);
        @memcpy(buffer[stream.payload_len..][0..bytes.len], bytes);
        stream.payload_len += @intCast(bytes.len);
        if (!last) return null;
        return stream.complete(frame_type);
    }

    fn complete(stream: *ControlStream, frame_type: u64) Error!?Event {
        stream.gathering = false;
        const payload = stream.payloadBuffer()[0..stream.payload_len];
        switch (frame_type) {
            frame.Type.settings => {
                stream.settings_seen = true;
                return .{ .settings = try settings.parse(payload) };
            },
            frame.Type.goaway => {
                const id = try frame.readVarintPayload(payload);
                // A client's GOAWAY names push IDs; it may only shrink.
                if (stream.last_goaway) |last| if (id > last) return error.IdError;
                stream.last_goaway = id;
                return .{ .goaway = id };
            },
            frame.Type.max_push_id, frame.Type.cancel_push => {
                // We never push; the values only have to be well formed.
                _ = try frame.readVarintPayload(payload);
                return null;
            },
            frame.Type.priority_update_request => {
                const element = varint.decode(payload) catch return error.FrameError;
                // Only client-initiated bidirectional streams carry requests.
                if (element.value & 0x3 != 0) return error.IdError;
                return .{ .priority_update = .{ .stream_id = element.value, .field_value = payload[element.length..] } };
            },
            frame.Type.priority_update_push => return error.IdError, // No push stream exists.
            else => unreachable, // onStart gathers only the types above.
        }
    }
};

const testing = std.testing;

fn feedAll(stream: *ControlStream, input: []const u8, events: []Event) !struct { count: usize, failure: ?u64 } {
    var consumed: usize = 0;
    var count: usize = 0;
    var failure: ?u64 = null;
    while (stream.next(input, &consumed, &failure)) |event| {
        events[count] = event;
        count += 1;
    }
    return .{ .count = count, .failure = failure };
}

test "settings, then goaway and priority updates" {
    var buffer: [256]u8 = undefined;
    var len = settings.write(&buffer, .{ .qpack_max_table_capacity = 0, .qpack_blocked_streams = 0, .max_field_section_size = 100, .datagrams = true, .webtransport = false, .webtransport_max_sessions = 0 });
    len += frame.writeVarintFrame(buffer[len..], frame.Type.goaway, 8);
    len += frame.writeHeader(buffer[len..], frame.Type.priority_update_request, 1 + 3);
    buffer[len] = 4;
    @memcpy(buffer[len + 1 ..][0..3], "u=1");
    len += 4;
    var stream = ControlStream.init(testing.allocator);
    defer stream.deinit();
    var events: [8]Event = undefined;
    const result = try feedAll(&stream, buffer[0..len], &events);
    try testing.expectEqual(@as(?u64, null), result.failure);
    try testing.expectEqual(@as(usize, 3), result.count);
    try testing.expect(events[0].settings.h3_datagram);
    try testing.expectEqual(@as(u64, 8), events[1].goaway);
    try testing.expectEqual(@as(u64, 4), events[2].priority_update.stream_id);
}

test "protocol violations carry their error codes" {
    const cases = [_]struct { bytes: []const u8, expected: u64 }{
        .{ .bytes = &.{ 0x07, 0x01, 0x00 }, .expected = Code.missing_settings },
        .{ .bytes = &.{ 0x04, 0x00, 0x04, 0x00 }, .expected = Code.frame_unexpected },
        .{ .bytes = &.{ 0x04, 0x00, 0x00, 0x00 }, .expected = Code.frame_unexpected },
        .{ .bytes = &.{ 0x04, 0x00, 0x01, 0x00 }, .expected = Code.frame_unexpected },
        .{ .bytes = &.{ 0x04, 0x00, 0x06, 0x00 }, .expected = Code.frame_unexpected },
        .{ .bytes = &.{ 0x04, 0x02, 0x02, 0x00 }, .expected = Code.settings_error },
        .{ .bytes = &.{ 0x04, 0x80, 0x00, 0x40, 0x00 }, .expected = Code.excessive_load },
        .{ .bytes = &.{ 0x04, 0x00, 0x07, 0x02, 0x01, 0x01 }, .expected = Code.frame_error },
        .{ .bytes = &.{ 0x04, 0x00, 0x07, 0x01, 0x04, 0x07, 0x01, 0x08 }, .expected = Code.id_error },
    };
    for (cases) |case| {
        var stream = ControlStream.init(testing.allocator);
        defer stream.deinit();
        var events: [8]Event = undefined;
        const result = try feedAll(&stream, case.bytes, &events);
        try testing.expectEqual(@as(?u64, case.expected), result.failure);
    }
}

test "a payload longer than the inline buffer is gathered on the heap, then freed" {
    // SETTINGS with enough GREASE settings to pass the inline buffer, cut
    // into chunks, then a PRIORITY_UPDATE whose field value spills over too.
    var buffer: [512]u8 = undefined;
    var payload: [200]u8 = undefined;
    var payload_len: usize = 0;
    var grease: u64 = 0;
    while (payload_len < inline_payload_bytes + 32) : (grease += 1) {
        payload_len += try varint.encode(0x1f * grease + 0x21, payload[payload_len..]);
        payload_len += try varint.encode(grease, payload[payload_len..]);
    }
    var len = frame.writeHeader(&buffer, frame.Type.settings, payload_len);
    @memcpy(buffer[len..][0..payload_len], payload[0..payload_len]);
    len += payload_len;
    const field_value = "u=2, i" ++ (", x" ** 30);
    len += frame.writeHeader(buffer[len..], frame.Type.priority_update_request, 1 + field_value.len);
    buffer[len] = 8;
    @memcpy(buffer[len + 1 ..][0..field_value.len], field_value);
    len += 1 + field_value.len;

    var counting = std.testing.FailingAllocator.init(testing.allocator, .{});
    var stream = ControlStream.init(counting.allocator());
    defer stream.deinit();
    var consumed: usize = 0;
    var failure: ?u64 = null;
    var events: usize = 0;
    var offset: usize = 0;
    while (offset < len) : (offset += 7) {
        const chunk = buffer[offset..@min(len, offset + 7)];
        consumed = 0;
        while (stream.next(chunk, &consumed, &failure)) |event| : (events += 1) switch (event) {
            .settings => try testing.expectEqual(@as(usize, 1), counting.allocations),
            .priority_update => |update| {
                try testing.expectEqual(@as(u64, 8), update.stream_id);
                try testing.expectEqualStrings(field_value, update.field_value);
            },
            .goaway => return error.TestUnexpectedEvent,
        };
        try testing.expectEqual(@as(?u64, null), failure);
    }
    // Each buffer lived until the call after its event (the field value
    // was read above), and no longer.
    try testing.expectEqual(@as(usize, 2), events);
    try testing.expectEqual(@as(usize, 2), counting.allocations);
    try testing.expectEqual(@as(usize, 2), counting.deallocations);
    try testing.expectEqual(@as(usize, 0), stream.large_payload.len);
}

test "the frames clients send most allocate nothing" {
    var buffer: [256]u8 = undefined;
    var len = settings.write(&buffer, .{ .qpack_max_table_capacity = 65536, .qpack_blocked_streams = 100, .max_field_section_size = 262144, .datagrams = true, .webtransport = true, .webtransport_max_sessions = 16 });
    len += frame.writeVarintFrame(buffer[len..], frame.Type.goaway, 1 << 40);
    var counting = std.testing.FailingAllocator.init(testing.allocator, .{ .fail_index = 0 });
    var stream = ControlStream.init(counting.allocator());
    defer stream.deinit();
    var events: [4]Event = undefined;
    const result = try feedAll(&stream, buffer[0..len], &events);
    try testing.expectEqual(@as(?u64, null), result.failure);
    try testing.expectEqual(@as(usize, 2), result.count);
    try testing.expectEqual(@as(usize, 0), counting.allocations);
}
