//! A raw QUIC connection through the layer without sockets: a quiche client
//! that speaks "zr/1" instead of h3 (layer_harness.zig). The layer announces
//! it with QUIC_CONN, opens no HTTP/3 stream, hands the client's stream to
//! the application as a WebTransport-kind stream of the pseudo session
//! (WT_STREAM, BODY, BODY_END) whose bytes are all the client's, opens a
//! stream of ours with WT_OPEN that carries no preface, and closes the
//! connection with the application's code and reason.

const std = @import("std");
const quiche = @import("../ffi/quiche.zig");
const wire = @import("../queue/wire.zig");
const harness_mod = @import("layer_harness.zig");
const Harness = harness_mod.Harness;
const conn_slot = harness_mod.conn_slot;
const serial = harness_mod.serial;
const send = harness_mod.send;
const memory_pair = @import("memory_pair.zig");

const testing = std.testing;

fn speakZrpc(config: *quiche.Config) void {
    const alpn = "\x04zr/1";
    _ = quiche.quiche_config_set_application_protos(config, alpn, alpn.len);
}

/// Reads everything the client has on `stream_id` into `out`; returns whether FIN came.
fn clientRead(harness: *Harness, stream_id: u64, out: *std.ArrayListUnmanaged(u8)) !bool {
    var buffer: [4096]u8 = undefined;
    var fin = false;
    while (!fin) {
        var error_code: u64 = 0;
        const read = quiche.quiche_conn_stream_recv(harness.pair.client.conn, stream_id, &buffer, buffer.len, &fin, &error_code);
        if (read < 0) break;
        try out.appendSlice(testing.allocator, buffer[0..@intCast(read)]);
    }
    return fin;
}

fn body(harness: *Harness, id: u64, bytes: []const u8, flags: u8) !void {
    var buffer: [wire.header_bytes + 64]u8 = undefined;
    var writer = wire.RecordWriter.init(&buffer, @intFromEnum(wire.CommandKind.body), flags, 0, id);
    writer.bytes(bytes);
    try harness.command(try writer.finish());
}

fn lastOf(harness: *const Harness, kind: wire.EventKind) harness_mod.Event {
    var found: ?harness_mod.Event = null;
    for (harness.received.items) |event| {
        if (event.kind == kind) found = event;
    }
    return found.?;
}

test "a raw QUIC connection: QUIC_CONN, the client's stream as raw bytes, a stream of ours without preface, CONNECTION_CLOSE with the application's code" {
    const harness = try Harness.createWith(.{ .configure_client = speakZrpc, .configure_server = speakZrpc });
    defer harness.destroy();

    harness.serverTurn();
    _ = try harness.poll();
    const announced = lastOf(harness, .quic_conn);
    try testing.expectEqual(serial, announced.id);
    const session_id = std.mem.readInt(u64, announced.payload[0..8], .little);
    try testing.expect(session_id != 0);
    try testing.expectEqual(@as(u8, 4), announced.payload[8]);
    try testing.expectEqualSlices(u8, &.{ 127, 0, 0, 1 }, announced.payload[24..28]);
    try testing.expectEqualStrings("zr/1", announced.payload[28..]);
    // The pseudo session is no request a graceful stop would wait for.
    try testing.expectEqual(@as(u32, 0), harness.layer.activeRequests());

    // The client's stream: its bytes, unframed, to the application.
    try send(harness.pair.client.conn, 0, "\x01ping, not an HTTP/3 frame", true);
    harness.serverTurn();
    _ = try harness.poll();
    const opened = lastOf(harness, .wt_stream);
    try testing.expectEqual(@as(u16, 1), opened.aux);
    try testing.expectEqual(session_id, std.mem.readInt(u64, opened.payload[0..8], .little));
    try testing.expectEqual(@as(u64, 0), std.mem.readInt(u64, opened.payload[8..16], .little));
    var received: std.ArrayListUnmanaged(u8) = .empty;
    defer received.deinit(testing.allocator);
    try harness.bodyOf(opened.id, &received);
    try testing.expectEqualStrings("\x01ping, not an HTTP/3 frame", received.items);
    try testing.expectEqual(opened.id, lastOf(harness, .body_end).id);

    // Nothing of HTTP/3 reached the client: no control or QPACK stream.
    const readable = quiche.quiche_conn_readable(harness.pair.client.conn).?;
    var any_stream: u64 = undefined;
    try testing.expect(!quiche.quiche_stream_iter_next(readable, &any_stream));
    quiche.quiche_stream_iter_free(readable);

    // The answer on the same stream, then the slot completes.
    try body(harness, opened.id, "pong", wire.flag_fin);
    harness.applyTurn();
    var answer: std.ArrayListUnmanaged(u8) = .empty;
    defer answer.deinit(testing.allocator);
    try testing.expect(try clientRead(harness, 0, &answer));
    try testing.expectEqualStrings("pong", answer.items);
    _ = try harness.poll();
    try testing.expectEqual(opened.id, lastOf(harness, .complete).id);

    // A stream of ours: WT_OPEN on the pseudo session, no preface on the wire.
    var open_buffer: [wire.header_bytes + 8]u8 = undefined;
    var open = wire.RecordWriter.init(&open_buffer, @intFromEnum(wire.CommandKind.wt_open), 0, 1, session_id);
    open.int(u64, 77);
    try harness.command(try open.finish());
    harness.applyTurn();
    _ = try harness.poll();
    const ours = lastOf(harness, .wt_opened);
    try testing.expectEqual(@as(u64, 77), std.mem.readInt(u64, ours.payload[0..8], .little));
    try testing.expectEqual(@as(u64, 1), std.mem.readInt(u64, ours.payload[16..24], .little)); // QUIC stream 1
    try testing.expectEqual(@as(u64, 0), std.mem.readInt(u64, ours.payload[24..32], .little)); // opened
    try body(harness, ours.id, "hello", wire.flag_fin);
    harness.applyTurn();
    answer.clearRetainingCapacity();
    try testing.expect(try clientRead(harness, 1, &answer));
    try testing.expectEqualStrings("hello", answer.items);

    // CONN_CLOSE: an application CONNECTION_CLOSE with its code and reason.
    var close_buffer: [wire.header_bytes + 16]u8 = undefined;
    var close = wire.RecordWriter.init(&close_buffer, @intFromEnum(wire.CommandKind.conn_close), 0, 0, serial);
    close.int(u64, 42);
    close.bytes("bye");
    try harness.command(try close.finish());
    harness.applyTurn();
    var is_app = false;
    var code: u64 = 0;
    var reason: [*]const u8 = undefined;
    var reason_len: usize = 0;
    try testing.expect(quiche.quiche_conn_peer_error(harness.pair.client.conn, &is_app, &code, &reason, &reason_len));
    try testing.expect(is_app);
    try testing.expectEqual(@as(u64, 42), code);
    try testing.expectEqualStrings("bye", reason[0..reason_len]);
}

/// WT_OPEN of a unidirectional stream on the pseudo session; returns its id.
fn openUni(harness: *Harness, session_id: u64, token: u64) !u64 {
    var buffer: [wire.header_bytes + 8]u8 = undefined;
    var writer = wire.RecordWriter.init(&buffer, @intFromEnum(wire.CommandKind.wt_open), 0, 0, session_id);
    writer.int(u64, token);
    try harness.command(try writer.finish());
    harness.applyTurn();
    _ = try harness.poll();
    const opened = lastOf(harness, .wt_opened);
    try testing.expectEqual(token, std.mem.readInt(u64, opened.payload[0..8], .little));
    return opened.id;
}

/// Which of two streams the server's first packet carries, after both got
/// `bytes` with FIN in one batch of commands.
fn firstSent(harness: *Harness, first: u64, second: u64, first_quic_id: u64, second_quic_id: u64, urgent: ?u64) !u64 {
    const bytes = [_]u8{0xab} ** 40;
    if (urgent) |id| {
        var buffer: [wire.header_bytes]u8 = undefined;
        var writer = wire.RecordWriter.init(&buffer, @intFromEnum(wire.CommandKind.stream_priority), 0, 0, id);
        try harness.command(try writer.finish());
    }
    for (0..512) |_| {
        try body(harness, first, &bytes, 0);
        try body(harness, second, &bytes, 0);
    }
    try testing.expect(!harness.layer.applyQueued(harness.tick()));
    harness.layer.beforeSend(conn_slot, harness.tick());
    var packets: std.ArrayList([]u8) = .empty;
    defer {
        for (packets.items) |packet| testing.allocator.free(packet);
        packets.deinit(testing.allocator);
    }
    try memory_pair.Pair.hold(&harness.pair.server, &packets, testing.allocator);
    try testing.expect(packets.items.len > 4);
    memory_pair.Pair.receive(&harness.pair.client, &harness.pair.server, packets.items[0]);
    const first_readable = quiche.quiche_conn_stream_readable(harness.pair.client.conn, first_quic_id);
    const second_readable = quiche.quiche_conn_stream_readable(harness.pair.client.conn, second_quic_id);
    try testing.expect(first_readable != second_readable);
    for (packets.items[1..]) |packet| memory_pair.Pair.receive(&harness.pair.client, &harness.pair.server, packet);
    _ = harness.pair.exchange();
    return if (first_readable) first_quic_id else second_quic_id;
}

test "STREAM_PRIORITY: a raw stream given urgency 0 is sent before its sibling at the default urgency 3" {
    const harness = try Harness.createWith(.{ .configure_client = speakZrpc, .configure_server = speakZrpc });
    defer harness.destroy();
    harness.serverTurn();
    _ = try harness.poll();
    const session_id = std.mem.readInt(u64, lastOf(harness, .quic_conn).payload[0..8], .little);

    // Same urgency, not incremental: the older stream goes first.
    const a = try openUni(harness, session_id, 1);
    const b = try openUni(harness, session_id, 2);
    try testing.expectEqual(@as(u64, 3), try firstSent(harness, a, b, 3, 7, null));
    // The younger stream at urgency 0 goes first.
    const c = try openUni(harness, session_id, 3);
    const d = try openUni(harness, session_id, 4);
    try testing.expectEqual(@as(u64, 15), try firstSent(harness, c, d, 11, 15, d));
}
