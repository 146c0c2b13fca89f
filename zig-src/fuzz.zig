//! Fuzz targets for every parser the library owns that takes outside bytes:
//! command batches (what an application submits), request heads (what a
//! client sends), route patterns and paths, QUIC varints (datagram and
//! capsule prefixes), the record queue and Retry tokens (what a client
//! echoes in its Initial). Each target checks invariants,
//! not just "does not crash".
//!
//! `zig build test` runs a short, deterministic mutation run from the seeds
//! in fuzz/corpus (FUZZ_ITERATIONS per target, default 20,000); a longer run:
//!   FUZZ_ITERATIONS=5000000 .toolchain/zig/ziglang/zig build test
//! The same targets take libFuzzer-style inputs, so a coverage-guided
//! fuzzer can drive `runTarget` directly.

const std = @import("std");
const testing = std.testing;
const wire = @import("queue/wire.zig");
const RecordQueue = @import("queue/record_queue.zig").RecordQueue;
const request_head = @import("h3/request_head.zig");
const router_mod = @import("h3/router.zig");
const varint = @import("dgram/varint.zig");
const retry_token = @import("quic/retry_token.zig");

pub const Target = enum { commands, request_head, router, varint, queue, retry_token };

const corpus = .{
    .commands = &[_][]const u8{@embedFile("fuzz/corpus/commands.bin")},
    .request_head = &[_][]const u8{ @embedFile("fuzz/corpus/request_head.bin"), @embedFile("fuzz/corpus/request_head_connect.bin") },
    .router = &[_][]const u8{ @embedFile("fuzz/corpus/router.bin"), @embedFile("fuzz/corpus/router_wild.bin") },
    .varint = &[_][]const u8{@embedFile("fuzz/corpus/varint.bin")},
    .queue = &[_][]const u8{@embedFile("fuzz/corpus/queue_ops.bin")},
    .retry_token = &[_][]const u8{@embedFile("fuzz/corpus/retry_token.bin")},
};

pub fn runTarget(target: Target, input: []const u8) !void {
    switch (target) {
        .commands => try fuzzCommands(input),
        .request_head => try fuzzRequestHead(input),
        .router => try fuzzRouter(input),
        .varint => try fuzzVarint(input),
        .queue => try fuzzQueue(input),
        .retry_token => try fuzzRetryToken(input),
    }
}

/// Walking a batch always ends, and every record lies inside the batch;
/// field blocks never read outside their record.
fn fuzzCommands(input: []const u8) !void {
    var offset: usize = 0;
    var steps: usize = 0;
    while (wire.nextCommand(input, offset) catch return) |command| {
        steps += 1;
        try testing.expect(steps <= input.len / wire.header_bytes);
        try testing.expect(command.next_offset > offset and command.next_offset <= input.len);
        const start = @intFromPtr(command.record.ptr) - @intFromPtr(input.ptr);
        try testing.expect(start + command.record.len <= input.len);
        const header = wire.readHeader(command.record);
        if (header.kind == @intFromEnum(wire.CommandKind.head) or header.kind == @intFromEnum(wire.CommandKind.trailers)) {
            var fields = wire.fieldBlock(command.record[wire.header_bytes..]) catch {
                offset = command.next_offset;
                continue;
            };
            var count: u32 = 0;
            while (fields.next() catch null) |field| {
                count += 1;
                const name_at = @intFromPtr(field.name.ptr) - @intFromPtr(command.record.ptr);
                const value_at = @intFromPtr(field.value.ptr) - @intFromPtr(command.record.ptr);
                try testing.expect(name_at + field.name.len <= command.record.len);
                try testing.expect(value_at + field.value.len <= command.record.len);
            }
        }
        offset = command.next_offset;
    }
}

/// Input: fields as [u8 name length][name][u8 value length][value]. An
/// accepted head has a method and its record decodes back to its fields.
fn fuzzRequestHead(input: []const u8) !void {
    var buffer: [2048]u8 = undefined;
    var head = request_head.RequestHead.init(&buffer, 1, 2, 3, .{
        .max_header_count = 16,
        .max_header_name_length = 64,
        .max_header_value_length = 256,
        .max_request_headers_size = 1024,
        .max_path_length = 128,
    });
    var at: usize = 0;
    var added: u32 = 0;
    while (at < input.len) {
        const name_len = input[at];
        if (at + 1 + name_len >= input.len) break;
        const name = input[at + 1 ..][0..name_len];
        const value_len = input[at + 1 + name_len];
        const value_start = at + 2 + name_len;
        const value = input[value_start..][0..@min(value_len, input.len - value_start)];
        head.add(name, value);
        added += 1;
        at = value_start + value.len;
    }
    if (head.finish()) |_| return;
    try testing.expect(head.method != null and head.method.?.len > 0);
    const record = head.record();
    try testing.expectEqual(@as(u32, @intCast(record.len)), wire.readHeader(record).length);
    var fields = try wire.fieldBlock(record[request_head.offset_field_count..]);
    var decoded: u32 = 0;
    while (try fields.next()) |_| decoded += 1;
    try testing.expectEqual(added, decoded);
}

/// Input: pattern, a zero byte, path. Registering never crashes; a pattern
/// without parameters or wildcards that registers matches itself.
fn fuzzRouter(input: []const u8) !void {
    const split = std.mem.indexOfScalar(u8, input, 0) orelse input.len;
    const pattern = input[0..split];
    const path = if (split < input.len) input[split + 1 ..] else "";
    var router = router_mod.Router{};
    defer router.deinit(testing.allocator);
    router.add(testing.allocator, "GET", pattern, 1) catch |err| switch (err) {
        error.OutOfMemory => return err,
        else => {
            _ = router.match("GET", path);
            return;
        },
    };
    _ = router.match("GET", path);
    _ = router.match("POST", path);
    const literal = std.mem.indexOfAny(u8, pattern, ":*") == null;
    if (literal and std.mem.indexOfScalar(u8, pattern, '?') == null) {
        try testing.expectEqual(@as(u32, 1), router.match("GET", pattern).found.id);
    }
}

/// Decoding never reads past the input; what decodes re-encodes to a value
/// that decodes the same.
fn fuzzVarint(input: []const u8) !void {
    var at: usize = 0;
    while (at < input.len) {
        const decoded = varint.decode(input[at..]) catch return;
        try testing.expect(decoded.length >= 1 and at + decoded.length <= input.len);
        var out: [8]u8 = undefined;
        const written = try varint.encode(decoded.value, &out);
        try testing.expectEqual(decoded.value, (try varint.decode(out[0..written])).value);
        at += decoded.length;
    }
}

/// Input bytes drive pushes (record sizes) and drains (reader buffer
/// sizes): records come out whole, in order, never lost or split.
fn fuzzQueue(input: []const u8) !void {
    var queue = try RecordQueue.init(testing.allocator, 256);
    defer queue.deinit(testing.allocator);
    var scratch: [256]u8 = undefined;
    var out: [256]u8 = undefined;
    var next_push: u64 = 0;
    var next_pop: u64 = 0;
    for (input) |byte| {
        if (byte & 1 == 0) {
            const body = (byte >> 1) % 100;
            var writer = wire.RecordWriter.init(&scratch, 2, 0, 0, next_push);
            for (0..body) |i| writer.int(u8, @truncate(next_push + i));
            if (queue.push(writer.finish() catch unreachable)) |_| next_push += 1 else |_| {}
        } else {
            const drained = queue.drain(out[0 .. 16 + (byte >> 1)]);
            var offset: usize = 0;
            while (offset < drained.bytes) {
                const header = wire.readHeader(out[offset..]);
                try testing.expectEqual(next_pop, header.id);
                for (out[offset + 16 .. offset + header.length], 0..) |b, i| try testing.expectEqual(@as(u8, @truncate(next_pop + i)), b);
                next_pop += 1;
                offset += wire.paddedLength(header.length);
            }
        }
    }
    try testing.expect(next_pop <= next_push);
}

/// The peer, key and clock the retry_token seed was minted for (at
/// 4,999,000 ms, so it is one second old at `fuzz_now_ms`).
const fuzz_token_key: retry_token.Key = @splat(0x4b);
const fuzz_token_peer = retry_token.address(.{ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1 }, 4433);
const fuzz_retry_scid = [_]u8{0xa5} ** 16;
const fuzz_now_ms: u64 = 5_000_000;

/// Whatever a client puts in the token field, verification never reads
/// outside it, and only what `mint` itself would write for the same peer
/// and DCID is accepted: a forger's only way in is the HMAC.
fn fuzzRetryToken(input: []const u8) !void {
    const odcid = retry_token.verify(input, &fuzz_token_key, &fuzz_token_peer, &fuzz_retry_scid, fuzz_now_ms, 10_000) catch return;
    try testing.expect(odcid.len <= 20);
    try testing.expect(@intFromPtr(odcid.ptr) >= @intFromPtr(input.ptr) and @intFromPtr(odcid.ptr) + odcid.len <= @intFromPtr(input.ptr) + input.len);
    const issued_ms = std.mem.readInt(u64, input[1..9], .big);
    var minted: [retry_token.max_length]u8 = undefined;
    try testing.expectEqualSlices(u8, retry_token.mint(&minted, &fuzz_token_key, &fuzz_token_peer, odcid, &fuzz_retry_scid, issued_ms), input);
}

pub fn mutate(random: std.Random, seed: []const u8, out: []u8) []u8 {
    var len = @min(seed.len, out.len);
    @memcpy(out[0..len], seed[0..len]);
    const rounds = 1 + random.uintLessThan(u8, 4);
    for (0..rounds) |_| {
        switch (random.uintLessThan(u8, 6)) {
            0 => if (len > 0) {
                out[random.uintLessThan(usize, len)] ^= @as(u8, 1) << random.int(u3);
            },
            1 => if (len > 0) {
                out[random.uintLessThan(usize, len)] = random.int(u8);
            },
            2 => if (len < out.len) {
                const at = random.uintLessThan(usize, len + 1);
                std.mem.copyBackwards(u8, out[at + 1 .. len + 1], out[at..len]);
                out[at] = random.int(u8);
                len += 1;
            },
            3 => if (len > 0) {
                const at = random.uintLessThan(usize, len);
                std.mem.copyForwards(u8, out[at .. len - 1], out[at + 1 .. len]);
                len -= 1;
            },
            4 => len = random.uintLessThan(usize, len + 1),
            else => while (len < out.len and random.boolean()) : (len += 1) {
                out[len] = random.int(u8);
            },
        }
    }
    return out[0..len];
}

pub fn iterations() usize {
    const text = std.posix.getenv("FUZZ_ITERATIONS") orelse return 20_000;
    return std.fmt.parseInt(usize, text, 10) catch 20_000;
}

/// Runs every seed, then FUZZ_ITERATIONS mutations of them, through
/// `run(target, input)`. Shared by fuzz_h3.zig.
pub fn mutateAndRun(comptime T: type, target: T, seeds: []const []const u8, prng_seed: u64, comptime run: anytype) !void {
    for (seeds) |seed| try run(target, seed);
    var prng = std.Random.DefaultPrng.init(prng_seed);
    const random = prng.random();
    var buffer: [4096]u8 = undefined;
    for (0..iterations()) |_| {
        const input = mutate(random, seeds[random.uintLessThan(usize, seeds.len)], &buffer);
        try run(target, input);
    }
}

fn fuzzTarget(comptime target: Target) !void {
    try mutateAndRun(Target, target, @field(corpus, @tagName(target)), 0x5eed ^ @as(u64, @intFromEnum(target)), runTarget);
}

test "fuzz: command batches" {
    try fuzzTarget(.commands);
}
test "fuzz: request heads" {
    try fuzzTarget(.request_head);
}
test "fuzz: router" {
    try fuzzTarget(.router);
}
test "fuzz: varint" {
    try fuzzTarget(.varint);
}
test "fuzz: record queue" {
    try fuzzTarget(.queue);
}
test "fuzz: retry tokens" {
    // The seed must be a valid token, or mutations would start from noise.
    const seed = corpus.retry_token[0];
    _ = try retry_token.verify(seed, &fuzz_token_key, &fuzz_token_peer, &fuzz_retry_scid, fuzz_now_ms, 10_000);
    try fuzzTarget(.retry_token);
}
