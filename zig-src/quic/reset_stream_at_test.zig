//! RESET_STREAM_AT (draft-ietf-quic-reliable-stream-reset) as the library
//! relies on it: a stream reset that still delivers its first bytes. The
//! current WebTransport draft resets streams this way so that a reset
//! stream still carries its stream type and session ID, and draft-16
//! clients refuse a server without the `reset_stream_at` transport
//! parameter.
//!
//! quiche 0.28.0 has no such thing; third_party/quiche/patch.py (applied
//! by scripts/build-quiche.sh) adds it, and this test is the witness. Like
//! fin_delivery_test.zig it drives two real quiche connections through
//! memory (memory_pair.zig), so which packet arrives, and which is lost, is
//! exact rather than a race.

const std = @import("std");
const quiche = @import("../ffi/quiche.zig");
const memory_pair = @import("memory_pair.zig");

const testing = std.testing;
const Pair = memory_pair.Pair;
const send = memory_pair.send;
const freePackets = memory_pair.freePackets;

/// The client's first unidirectional stream.
const uni_stream: u64 = 2;
const error_code: u64 = 0x52e4a40fa8db;
/// RFC 9000 transport error codes.
const final_size_error: u64 = 0x6;
const frame_encoding_error: u64 = 0x7;

fn enableResetStreamAt(config: *quiche.Config) void {
    quiche.quiche_config_enable_reset_stream_at(config, true);
}

fn bothEnabled() !Pair {
    return Pair.initWith(.{ .configure_client = enableResetStreamAt, .configure_server = enableResetStreamAt });
}

/// `len` bytes that differ from one offset to the next.
fn pattern(comptime len: usize) [len]u8 {
    var bytes: [len]u8 = undefined;
    for (&bytes, 0..) |*byte, i| byte.* = @truncate(i *% 7 +% i / 251);
    return bytes;
}

/// What a receiver read on a stream.
const Received = struct {
    bytes: std.ArrayList(u8) = .empty,
    fin: bool = false,
    /// The error code of the reset, once stream_recv reported it.
    reset: ?u64 = null,

    fn deinit(received: *Received) void {
        received.bytes.deinit(testing.allocator);
    }

    /// Reads everything readable now, up to the FIN or the reset.
    fn read(received: *Received, conn: *quiche.Conn, stream_id: u64) !void {
        var buffer: [4096]u8 = undefined;
        for (0..memory_pair.max_packets_per_turn) |_| {
            var fin = false;
            var code: u64 = 0;
            const result = quiche.quiche_conn_stream_recv(conn, stream_id, &buffer, buffer.len, &fin, &code);
            if (result == quiche.err_stream_reset) {
                received.reset = code;
                return;
            }
            if (result < 0) return;
            try received.bytes.appendSlice(testing.allocator, buffer[0..@intCast(result)]);
            if (fin) {
                received.fin = true;
                return;
            }
        }
        return error.TooManyReads;
    }
};

fn stats(conn: *quiche.Conn) quiche.Stats {
    var out: quiche.Stats = undefined;
    quiche.quiche_conn_stats(conn, &out);
    return out;
}

/// Waits out `conn`'s loss timer (quiche's clock is the real one), then
/// lets both sides send what they have.
fn afterTimeout(pair: *Pair, conn: *quiche.Conn) !void {
    const timeout_ns = quiche.quiche_conn_timeout_as_nanos(conn);
    try testing.expect(timeout_ns < 5 * std.time.ns_per_s);
    std.Thread.sleep(timeout_ns);
    quiche.quiche_conn_on_timeout(conn);
    _ = pair.exchange();
}

/// A stream both sides have forgotten: the sending side once the reset and
/// the reliable bytes were acknowledged, the receiving side once the
/// application read the reset.
fn expectCollected(pair: *Pair, stream_id: u64) !void {
    _ = pair.exchange();
    _ = pair.exchange();
    try testing.expectEqual(quiche.err_invalid_stream_state, quiche.quiche_conn_stream_capacity(pair.client.conn, stream_id));
    var buffer: [16]u8 = undefined;
    var fin = false;
    var code: u64 = 0;
    try testing.expectEqual(quiche.err_invalid_stream_state, quiche.quiche_conn_stream_recv(pair.server.conn, stream_id, &buffer, buffer.len, &fin, &code));
}

/// The transport error a connection closed with, as its peer heard it.
fn expectClosedWith(closing: *quiche.Conn, peer: *quiche.Conn, code: u64) !void {
    var is_app = true;
    var local_code: u64 = 0;
    var reason: [*]const u8 = undefined;
    var reason_len: usize = 0;
    try testing.expect(quiche.quiche_conn_local_error(closing, &is_app, &local_code, &reason, &reason_len));
    try testing.expect(!is_app);
    try testing.expectEqual(code, local_code);
    var peer_code: u64 = 0;
    try testing.expect(quiche.quiche_conn_peer_error(peer, &is_app, &peer_code, &reason, &reason_len));
    try testing.expect(!is_app);
    try testing.expectEqual(code, peer_code);
}

test "reset_stream_at is advertised only when enabled, and RESET_STREAM_AT sent only to a peer that advertised it" {
    for ([_][2]bool{ .{ false, false }, .{ true, false }, .{ false, true }, .{ true, true } }) |enabled| {
        const client_enabled, const server_enabled = enabled;
        var pair = try Pair.initWith(.{
            .configure_client = if (client_enabled) enableResetStreamAt else null,
            .configure_server = if (server_enabled) enableResetStreamAt else null,
        });
        defer pair.deinit();
        try testing.expectEqual(server_enabled, quiche.quiche_conn_peer_supports_reset_stream_at(pair.client.conn));
        try testing.expectEqual(client_enabled, quiche.quiche_conn_peer_supports_reset_stream_at(pair.server.conn));

        try send(pair.client.conn, uni_stream, "header", false);
        const result = quiche.quiche_conn_stream_reset_at(pair.client.conn, uni_stream, error_code, 3);
        try testing.expectEqual(@as(c_int, if (server_enabled) 0 else @intCast(quiche.err_invalid_state)), result);
    }
}

test "the receiver reads exactly the reliable bytes, then the reset with its code" {
    // Whether the 5000 bytes reached the receiver's buffer before the
    // reset (its application has read none of them), or none had been sent
    // yet (the final size is then the reliable size).
    for ([_]bool{ true, false }) |sent_before_reset| {
        var pair = try bothEnabled();
        defer pair.deinit();
        const bytes = pattern(5000);
        const reliable_size = 1234;

        try send(pair.client.conn, uni_stream, &bytes, false);
        if (sent_before_reset) _ = pair.exchange();
        try testing.expectEqual(@as(c_int, 0), quiche.quiche_conn_stream_reset_at(pair.client.conn, uni_stream, error_code, reliable_size));
        // Another reset of the same stream is refused.
        try testing.expectEqual(@as(c_int, @intCast(quiche.err_done)), quiche.quiche_conn_stream_reset_at(pair.client.conn, uni_stream, error_code, 10));
        _ = pair.exchange();

        var received: Received = .{};
        defer received.deinit();
        try received.read(pair.server.conn, uni_stream);
        try testing.expectEqualSlices(u8, bytes[0..reliable_size], received.bytes.items);
        try testing.expectEqual(@as(?u64, error_code), received.reset);
        try testing.expect(!received.fin);
        try expectCollected(&pair, uni_stream);
    }
}

test "a reliable size above the bytes written is refused; all of them is a reset after the last byte" {
    var pair = try bothEnabled();
    defer pair.deinit();
    try send(pair.client.conn, uni_stream, "hello", false);
    try testing.expectEqual(@as(c_int, @intCast(quiche.err_invalid_stream_state)), quiche.quiche_conn_stream_reset_at(pair.client.conn, uni_stream, error_code, 6));
    try testing.expectEqual(@as(c_int, 0), quiche.quiche_conn_stream_reset_at(pair.client.conn, uni_stream, error_code, 5));
    _ = pair.exchange();

    // Every byte, then the reset rather than a clean end.
    var received: Received = .{};
    defer received.deinit();
    try received.read(pair.server.conn, uni_stream);
    try testing.expectEqualStrings("hello", received.bytes.items);
    try testing.expect(!received.fin);
    try testing.expectEqual(@as(?u64, error_code), received.reset);
    try expectCollected(&pair, uni_stream);
}

test "bytes below the reliable size are sent again when lost; those above are not" {
    var pair = try bothEnabled();
    defer pair.deinit();
    // As much as the initial congestion window lets the stream buffer.
    const bytes = pattern(12_000);
    const reliable_size = 4321;

    // Every packet carrying the stream's bytes is lost; then the
    // application resets the stream, keeping the first 4321 bytes.
    try send(pair.client.conn, uni_stream, &bytes, false);
    var lost: std.ArrayList([]u8) = .empty;
    defer freePackets(&lost);
    try Pair.hold(&pair.client, &lost, testing.allocator);
    try testing.expect(lost.items.len > 1);
    try testing.expectEqual(@as(c_int, 0), quiche.quiche_conn_stream_reset_at(pair.client.conn, uni_stream, error_code, reliable_size));
    const sent_before = stats(pair.client.conn).sent_bytes;

    var received: Received = .{};
    defer received.deinit();
    var timeouts: u32 = 0;
    while (received.reset == null and timeouts < 8) : (timeouts += 1) {
        _ = pair.exchange();
        try received.read(pair.server.conn, uni_stream);
        if (received.reset == null) try afterTimeout(&pair, pair.client.conn);
    }
    try testing.expectEqualSlices(u8, bytes[0..reliable_size], received.bytes.items);
    try testing.expectEqual(@as(?u64, error_code), received.reset);
    // What went after the reset: the reliable bytes again (twice, should a
    // probe timeout on a busy machine fire before their acknowledgment
    // arrives), the frame, probes and acknowledgments; never the whole
    // stream, which it would be if the 7,679 bytes past the reliable size
    // went again.
    const sent_after = stats(pair.client.conn).sent_bytes - sent_before;
    try testing.expect(sent_after >= reliable_size);
    try testing.expect(sent_after < bytes.len - reliable_size);
    try expectCollected(&pair, uni_stream);
}

test "a lost RESET_STREAM_AT is sent again, with the same outcome" {
    var pair = try bothEnabled();
    defer pair.deinit();
    const bytes = pattern(3000);
    const reliable_size = 700;

    // The bytes arrive and are acknowledged; the packet carrying the
    // RESET_STREAM_AT (the only one) is lost.
    try send(pair.client.conn, uni_stream, &bytes, false);
    _ = pair.exchange();
    _ = pair.exchange();
    try testing.expectEqual(@as(c_int, 0), quiche.quiche_conn_stream_reset_at(pair.client.conn, uni_stream, error_code, reliable_size));
    var lost: std.ArrayList([]u8) = .empty;
    defer freePackets(&lost);
    try Pair.hold(&pair.client, &lost, testing.allocator);
    try testing.expectEqual(@as(usize, 1), lost.items.len);
    _ = pair.exchange();
    try testing.expectEqual(@as(u64, 0), stats(pair.server.conn).reset_stream_count_remote);

    // Only loss recovery can bring the reset now. The receiver's
    // application reads nothing before it has arrived (it would read all
    // 3000 bytes: no reset is known yet).
    // A frame without stream data is not repeated by a PTO probe: it is
    // declared lost once the probe is acknowledged, and sent again then.
    var timeouts: u32 = 0;
    while (timeouts < 8) : (timeouts += 1) {
        _ = pair.exchange();
        if (stats(pair.server.conn).reset_stream_count_remote != 0) break;
        try afterTimeout(&pair, pair.client.conn);
    }
    try testing.expectEqual(@as(u64, 1), stats(pair.server.conn).reset_stream_count_remote);

    var received: Received = .{};
    defer received.deinit();
    try received.read(pair.server.conn, uni_stream);
    try testing.expectEqualSlices(u8, bytes[0..reliable_size], received.bytes.items);
    try testing.expectEqual(@as(?u64, error_code), received.reset);
    try expectCollected(&pair, uni_stream);
}

test "a RESET_STREAM after RESET_STREAM_AT keeps the final size and lowers the reliable size to what was read" {
    var pair = try bothEnabled();
    defer pair.deinit();
    const bytes = pattern(3000);

    try send(pair.client.conn, uni_stream, &bytes, false);
    _ = pair.exchange();
    try testing.expectEqual(@as(c_int, 0), quiche.quiche_conn_stream_reset_at(pair.client.conn, uni_stream, error_code, 2000));
    // The frame arrives; its acknowledgment is not back yet (the sender
    // would forget the stream then).
    _ = Pair.deliver(&pair.client, &pair.server);
    // The receiver reads part of the reliable bytes; then RESET_STREAM
    // (stream_shutdown, write direction) comes with the same final size.
    var buffer: [500]u8 = undefined;
    var fin = false;
    var code: u64 = 0;
    try testing.expectEqual(@as(isize, 500), quiche.quiche_conn_stream_recv(pair.server.conn, uni_stream, &buffer, buffer.len, &fin, &code));
    try testing.expectEqual(@as(c_int, 0), quiche.quiche_conn_stream_shutdown(pair.client.conn, uni_stream, 1, error_code));
    _ = pair.exchange();

    var received: Received = .{};
    defer received.deinit();
    try received.read(pair.server.conn, uni_stream);
    try testing.expectEqual(@as(usize, 0), received.bytes.items.len);
    try testing.expectEqual(@as(?u64, error_code), received.reset);
    try testing.expect(!quiche.quiche_conn_is_closed(pair.server.conn));
    try expectCollected(&pair, uni_stream);
}

test "a reliable size above the final size closes the connection with FRAME_ENCODING_ERROR" {
    var pair = try bothEnabled();
    defer pair.deinit();
    try send(pair.client.conn, uni_stream, "hello", false);
    _ = pair.exchange();
    try testing.expectEqual(@as(c_int, 0), quiche.quiche_conn_send_reset_stream_at_for_testing(pair.client.conn, uni_stream, error_code, 5, 6));
    _ = pair.exchange();
    _ = pair.exchange();
    try expectClosedWith(pair.server.conn, pair.client.conn, frame_encoding_error);
}

test "RESET_STREAM_AT to a peer that did not advertise reset_stream_at closes the connection with FRAME_ENCODING_ERROR" {
    var pair = try Pair.initWith(.{ .configure_client = enableResetStreamAt });
    defer pair.deinit();
    try send(pair.client.conn, uni_stream, "hello", false);
    _ = pair.exchange();
    // The API refuses; a misbehaving peer sends it anyway.
    try testing.expectEqual(@as(c_int, @intCast(quiche.err_invalid_state)), quiche.quiche_conn_stream_reset_at(pair.client.conn, uni_stream, error_code, 2));
    try testing.expectEqual(@as(c_int, 0), quiche.quiche_conn_send_reset_stream_at_for_testing(pair.client.conn, uni_stream, error_code, 5, 2));
    _ = pair.exchange();
    _ = pair.exchange();
    try expectClosedWith(pair.server.conn, pair.client.conn, frame_encoding_error);
}

test "RESET_STREAM_AT that changes the final size closes the connection with FINAL_SIZE_ERROR" {
    var pair = try bothEnabled();
    defer pair.deinit();
    // The FIN of "hello" arrives (its acknowledgment is not back yet: the
    // sender would forget the stream then); a frame with another final
    // size follows.
    try send(pair.client.conn, uni_stream, "hello", true);
    _ = Pair.deliver(&pair.client, &pair.server);
    try testing.expectEqual(@as(c_int, 0), quiche.quiche_conn_send_reset_stream_at_for_testing(pair.client.conn, uni_stream, error_code, 9, 2));
    _ = pair.exchange();
    _ = pair.exchange();
    try expectClosedWith(pair.server.conn, pair.client.conn, final_size_error);
}

test "the reliable size can be lowered by a later frame, never raised" {
    var pair = try bothEnabled();
    defer pair.deinit();
    const bytes = pattern(3000);
    try send(pair.client.conn, uni_stream, &bytes, false);
    _ = pair.exchange();

    // Three frames as a peer may send them, in three packets: reliable
    // size 2000, then 800, then (as if reordered) 2500.
    var packets: std.ArrayList([]u8) = .empty;
    defer freePackets(&packets);
    try testing.expectEqual(@as(c_int, 0), quiche.quiche_conn_stream_reset_at(pair.client.conn, uni_stream, error_code, 2000));
    try Pair.hold(&pair.client, &packets, testing.allocator);
    try testing.expectEqual(@as(c_int, 0), quiche.quiche_conn_send_reset_stream_at_for_testing(pair.client.conn, uni_stream, error_code, 3000, 800));
    try Pair.hold(&pair.client, &packets, testing.allocator);
    try testing.expectEqual(@as(c_int, 0), quiche.quiche_conn_send_reset_stream_at_for_testing(pair.client.conn, uni_stream, error_code, 3000, 2500));
    try Pair.hold(&pair.client, &packets, testing.allocator);
    try testing.expectEqual(@as(usize, 3), packets.items.len);
    for (packets.items) |packet| Pair.receive(&pair.server, &pair.client, packet);
    try testing.expectEqual(@as(u64, 3), stats(pair.server.conn).reset_stream_count_remote);

    var received: Received = .{};
    defer received.deinit();
    try received.read(pair.server.conn, uni_stream);
    try testing.expectEqualSlices(u8, bytes[0..800], received.bytes.items);
    try testing.expectEqual(@as(?u64, error_code), received.reset);
    _ = pair.exchange();
    try testing.expect(!quiche.quiche_conn_is_closed(pair.server.conn));
}
