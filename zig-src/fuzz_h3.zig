//! Fuzz targets for the HTTP/3 layer's parsers: request-stream frames,
//! the control stream (SETTINGS, GOAWAY, PRIORITY_UPDATE), unidirectional
//! stream prefaces, SETTINGS payloads, and QPACK (Huffman strings, field
//! sections, encoder-stream instructions; qpack/fuzz_targets.zig). The
//! stream parsers get the strongest invariant there is for them: bytes cut
//! into chunks at any points parse exactly as the same bytes whole.
//!
//! Same driver as fuzz.zig (seeds in fuzz/corpus, FUZZ_ITERATIONS
//! mutations per target in every `zig build test`).

const std = @import("std");
const testing = std.testing;
const fuzz = @import("fuzz.zig");
const frame = @import("h3/frame.zig");
const settings = @import("h3/settings.zig");
const ControlStream = @import("h3/control_stream.zig").ControlStream;
const RequestStream = @import("h3/request_stream.zig").RequestStream;
const uni_preface = @import("h3/uni_preface.zig");
const qpack_fuzz = @import("h3/qpack/fuzz_targets.zig");

pub const Target = enum { request_stream, control_stream, uni_preface, settings, huffman, field_section, encoder_stream };

const corpus = .{
    .request_stream = &[_][]const u8{ @embedFile("fuzz/corpus/h3_request_stream.bin"), @embedFile("fuzz/corpus/h3_request_stream_wt.bin") },
    .control_stream = &[_][]const u8{@embedFile("fuzz/corpus/h3_control_stream.bin")},
    .uni_preface = &[_][]const u8{@embedFile("fuzz/corpus/uni_preface.bin")},
    .settings = &[_][]const u8{@embedFile("fuzz/corpus/h3_settings.bin")},
    .huffman = &[_][]const u8{ @embedFile("h3/qpack/corpus/huffman_www_example_com.bin"), @embedFile("h3/qpack/corpus/huffman_date.bin"), @embedFile("h3/qpack/corpus/huffman_cookie.bin") },
    .field_section = &[_][]const u8{ @embedFile("h3/qpack/corpus/field_section_b1.bin"), @embedFile("h3/qpack/corpus/field_section_b2.bin"), @embedFile("h3/qpack/corpus/field_section_b4.bin"), @embedFile("h3/qpack/corpus/field_section_request.bin") },
    .encoder_stream = &[_][]const u8{ @embedFile("h3/qpack/corpus/encoder_stream_rfc9204_b.bin"), @embedFile("h3/qpack/corpus/encoder_stream_huffman.bin") },
};

pub fn runTarget(target: Target, input: []const u8) !void {
    switch (target) {
        .request_stream => try fuzzRequestStream(input),
        .control_stream => try fuzzControlStream(input),
        .uni_preface => try fuzzUniPreface(input),
        .settings => fuzzSettings(input),
        .huffman => try qpack_fuzz.fuzzHuffman(input),
        .field_section => try qpack_fuzz.fuzzFieldSection(input),
        .encoder_stream => try qpack_fuzz.fuzzEncoderStream(input),
    }
}

/// Chunk boundaries taken from the input itself, so mutations move them.
fn chunkLengths(input: []const u8, index: usize) usize {
    if (input.len == 0) return 1;
    return 1 + input[index % input.len] % 7;
}

/// What a request stream produced, with body bytes joined so that chunking
/// (which splits DATA payloads differently) does not show.
const StreamLog = struct {
    bytes: std.ArrayListUnmanaged(u8) = .empty,
    in_body: bool = false,
    failed: ?anyerror = null,

    fn deinit(log: *StreamLog) void {
        log.bytes.deinit(testing.allocator);
    }

    fn record(log: *StreamLog, tag: u8, payload: []const u8, body: bool) !void {
        if (!body or !log.in_body) try log.bytes.append(testing.allocator, tag);
        log.in_body = body;
        try log.bytes.appendSlice(testing.allocator, payload);
    }
};

fn feedRequestStream(input: []const u8, chunked: bool, log: *StreamLog) !void {
    var stream = RequestStream{};
    defer stream.deinit(testing.allocator);
    var at: usize = 0;
    var chunk_index: usize = 0;
    while (at < input.len and log.failed == null) : (chunk_index += 1) {
        const len = if (chunked) @min(chunkLengths(input, chunk_index), input.len - at) else input.len;
        const chunk = input[at..][0..len];
        at += len;
        var consumed: usize = 0;
        while (true) {
            const item = stream.next(testing.allocator, chunk, &consumed, 64) catch |err| {
                log.failed = err;
                break;
            } orelse break;
            switch (item) {
                .headers => |block| try log.record('H', block, false),
                .trailers => |block| try log.record('T', block, false),
                .data, .raw => |bytes| try log.record('D', bytes, true),
                .oversized_headers => try log.record('O', "", false),
                .webtransport => |session| try log.record('W', std.mem.asBytes(&session), false),
            }
        }
        if (log.failed == null) try testing.expectEqual(chunk.len, consumed);
    }
}

fn fuzzRequestStream(input: []const u8) !void {
    var whole = StreamLog{};
    defer whole.deinit();
    var chunked = StreamLog{};
    defer chunked.deinit();
    try feedRequestStream(input, false, &whole);
    try feedRequestStream(input, true, &chunked);
    try testing.expectEqual(whole.failed, chunked.failed);
    if (whole.failed == null) try testing.expectEqualSlices(u8, whole.bytes.items, chunked.bytes.items);
}

fn feedControlStream(input: []const u8, chunked: bool, log: *std.ArrayListUnmanaged(u8)) !?u64 {
    var stream = ControlStream.init(testing.allocator);
    defer stream.deinit();
    var at: usize = 0;
    var chunk_index: usize = 0;
    while (at < input.len) : (chunk_index += 1) {
        const len = if (chunked) @min(chunkLengths(input, chunk_index), input.len - at) else input.len;
        const chunk = input[at..][0..len];
        at += len;
        var consumed: usize = 0;
        var failure: ?u64 = null;
        while (stream.next(chunk, &consumed, &failure)) |event| switch (event) {
            .settings => |peer| try log.appendSlice(testing.allocator, std.mem.asBytes(&peer)),
            .goaway => |id| try log.appendSlice(testing.allocator, std.mem.asBytes(&id)),
            .priority_update => |update| {
                try log.appendSlice(testing.allocator, std.mem.asBytes(&update.stream_id));
                try log.appendSlice(testing.allocator, update.field_value);
            },
        };
        if (failure) |code| return code;
        try testing.expectEqual(chunk.len, consumed);
    }
    return null;
}

fn fuzzControlStream(input: []const u8) !void {
    var whole: std.ArrayListUnmanaged(u8) = .empty;
    defer whole.deinit(testing.allocator);
    var chunked: std.ArrayListUnmanaged(u8) = .empty;
    defer chunked.deinit(testing.allocator);
    const whole_failure = try feedControlStream(input, false, &whole);
    const chunked_failure = try feedControlStream(input, true, &chunked);
    try testing.expectEqual(whole_failure, chunked_failure);
    if (whole_failure == null) try testing.expectEqualSlices(u8, whole.items, chunked.items);
}

/// A preface read whole or byte by byte is the same stream type, and it
/// never takes more than 16 bytes.
fn fuzzUniPreface(input: []const u8) !void {
    var whole = uni_preface.Preface{};
    var consumed_whole: usize = 0;
    const kind_whole = whole.feed(input, &consumed_whole);
    try testing.expect(consumed_whole <= 16);
    var bytewise = uni_preface.Preface{};
    var kind_bytewise: ?uni_preface.Kind = null;
    var at: usize = 0;
    while (at < input.len and kind_bytewise == null) : (at += 1) {
        var consumed: usize = 0;
        kind_bytewise = bytewise.feed(input[at..][0..1], &consumed);
    }
    try testing.expectEqualDeep(kind_whole, kind_bytewise);
    if (kind_whole != null) try testing.expectEqual(consumed_whole, at);
}

/// SETTINGS payloads parse or fail cleanly; a success parses the same twice.
fn fuzzSettings(input: []const u8) void {
    const first = settings.parse(input) catch return;
    const second = settings.parse(input) catch unreachable;
    std.debug.assert(std.meta.eql(first, second));
}

fn fuzzTarget(comptime target: Target) !void {
    try fuzz.mutateAndRun(Target, target, @field(corpus, @tagName(target)), 0x4833 ^ @as(u64, @intFromEnum(target)), runTarget);
}

test "fuzz: h3 request stream frames" {
    try fuzzTarget(.request_stream);
}
test "fuzz: h3 control stream" {
    try fuzzTarget(.control_stream);
}
test "fuzz: h3 unidirectional stream prefaces" {
    try fuzzTarget(.uni_preface);
}
test "fuzz: h3 settings" {
    try fuzzTarget(.settings);
}
test "fuzz: qpack huffman" {
    try fuzzTarget(.huffman);
}
test "fuzz: qpack field sections" {
    try fuzzTarget(.field_section);
}
test "fuzz: qpack encoder stream" {
    try fuzzTarget(.encoder_stream);
}
