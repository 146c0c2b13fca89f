//! A request's whole life through the HTTP/3 layer (h3/layer.zig) without
//! sockets: a real quiche client and our server-side connection joined in
//! memory (memory_pair.zig), the layer driven the way the loop drives it
//! (onPacket, beforeSend, applyQueued), and the application played by the
//! test through the two record queues. Head in → REQUEST; body under the
//! per-stream read window → BODY events that stop at the window until a
//! CREDIT; HEAD with body and FIN → bytes the client decodes; completion →
//! COMPLETE; the client's reset of a second request → RESET.

const std = @import("std");
const quiche = @import("../ffi/quiche.zig");
const wire = @import("../queue/wire.zig");
const events = @import("../h3/events.zig");
const frame = @import("../h3/frame.zig");
const request_head = @import("../h3/request_head.zig");
const settings = @import("../h3/settings.zig");
const RequestStream = @import("../h3/request_stream.zig").RequestStream;
const qpack_encoder = @import("../h3/qpack/encoder.zig");
const Decoder = @import("../h3/qpack/decoder.zig").Decoder;
const memory_pair = @import("memory_pair.zig");
const Pair = memory_pair.Pair;
const varint = @import("../dgram/varint.zig");

const testing = std.testing;

const harness_mod = @import("layer_harness.zig");
const Harness = harness_mod.Harness;
const conn_slot = harness_mod.conn_slot;
const serial = harness_mod.serial;
const read_window_bytes = harness_mod.read_window_bytes;
const upload_route_id = harness_mod.upload_route_id;
const send = harness_mod.send;

/// HEADERS with a QPACK section (static table and literals), as a client sends.
fn sendHeaders(conn: *quiche.Conn, stream_id: u64, method: []const u8, path: []const u8, fin: bool) !void {
    var section_buffer: [256]u8 = undefined;
    var section = qpack_encoder.FieldSectionWriter.init(&section_buffer);
    try section.add(":method", method);
    try section.add(":scheme", "https");
    try section.add(":authority", "localhost");
    try section.add(":path", path);
    const block = section.finish();
    var header: [frame.max_header_bytes]u8 = undefined;
    const header_len = frame.writeHeader(&header, frame.Type.headers, block.len);
    try send(conn, stream_id, header[0..header_len], false);
    try send(conn, stream_id, block, fin);
}

fn sendData(conn: *quiche.Conn, stream_id: u64, bytes: []const u8, fin: bool) !void {
    var header: [frame.max_header_bytes]u8 = undefined;
    const header_len = frame.writeHeader(&header, frame.Type.data, bytes.len);
    try send(conn, stream_id, header[0..header_len], false);
    try send(conn, stream_id, bytes, fin);
}

/// A CREDIT command: the application lets `allowed_bytes` of body be delivered.
fn credit(harness: *Harness, id: u64, allowed_bytes: u64) !void {
    var buffer: [wire.header_bytes + 8]u8 = undefined;
    var writer = wire.RecordWriter.init(&buffer, @intFromEnum(wire.CommandKind.credit), 0, 0, id);
    writer.int(u64, allowed_bytes);
    try harness.command(try writer.finish());
}

/// A HEAD command carrying its body and FIN: a whole small response.
fn respond(harness: *Harness, id: u64, status: u16, body: []const u8) !void {
    var buffer: [512]u8 = undefined;
    var writer = wire.RecordWriter.init(&buffer, @intFromEnum(wire.CommandKind.head), wire.flag_fin | wire.flag_body, status, id);
    writer.int(u32, 1);
    writer.field("content-type", "text/plain");
    writer.bytes(body);
    try harness.command(try writer.finish());
}

/// What the client read on a response stream, decoded.
const Response = struct {
    status: []const u8 = "",
    content_type: []const u8 = "",
    body: std.ArrayListUnmanaged(u8) = .empty,
    fin: bool = false,
    strings: [128]u8 = undefined,
    strings_len: usize = 0,

    fn deinit(response: *Response) void {
        response.body.deinit(testing.allocator);
    }

    fn onField(response: *Response, name: []const u8, value: []const u8) void {
        const copy = response.strings[response.strings_len..][0..value.len];
        @memcpy(copy, value);
        response.strings_len += value.len;
        if (std.mem.eql(u8, name, ":status")) response.status = copy;
        if (std.mem.eql(u8, name, "content-type")) response.content_type = copy;
    }
};

/// Reads the client's side of `stream_id` and decodes HEADERS and DATA
/// with our own frame grammar and QPACK decoder (a response has the same
/// frame grammar as a request).
fn readResponse(conn: *quiche.Conn, stream_id: u64, response: *Response) !void {
    var raw: std.ArrayListUnmanaged(u8) = .empty;
    defer raw.deinit(testing.allocator);
    var buffer: [4096]u8 = undefined;
    for (0..memory_pair.max_packets_per_turn) |_| {
        var fin = false;
        var error_code: u64 = 0;
        const read = quiche.quiche_conn_stream_recv(conn, stream_id, &buffer, buffer.len, &fin, &error_code);
        if (read < 0) break;
        try raw.appendSlice(testing.allocator, buffer[0..@intCast(read)]);
        response.fin = fin;
        if (fin) break;
    }
    var grammar: RequestStream = .{};
    defer grammar.deinit(testing.allocator);
    var decoder = Decoder.init(testing.allocator, 0, 0);
    defer decoder.deinit();
    var scratch: [1024]u8 = undefined;
    var consumed: usize = 0;
    while (try grammar.next(testing.allocator, raw.items, &consumed, 4096)) |item| switch (item) {
        .headers => |block| try testing.expectEqual(.done, try decoder.decodeFieldSection(stream_id, block, &scratch, response, Response.onField)),
        .data => |bytes| try response.body.appendSlice(testing.allocator, bytes),
        else => return error.UnexpectedItem,
    };
    try grammar.checkEnd();
}

test "a request's whole life through the HTTP/3 layer, without sockets" {
    const harness = try Harness.create();
    defer harness.destroy();
    const layer = &harness.layer;

    // The handshake completed in memory: the first packet starts HTTP/3.
    harness.serverTurn();
    try testing.expect(layer.conn(conn_slot).h3 != null);
    try testing.expectEqual(@as(usize, 0), try harness.poll());

    // HEADERS in → one REQUEST out, not ended (a body follows).
    const upload_stream: u64 = 0;
    try sendHeaders(harness.pair.client.conn, upload_stream, "POST", "/upload", false);
    const rings_before = harness.doorbell_rings;
    harness.serverTurn();
    try testing.expectEqual(@as(usize, 1), try harness.poll());
    const request = harness.received.items[0];
    try testing.expectEqual(wire.EventKind.request, request.kind);
    try testing.expectEqual(@as(u8, 0), request.flags & wire.flag_fin);
    const record_offset = wire.header_bytes;
    try testing.expectEqual(serial, std.mem.readInt(u64, request.payload[request_head.offset_conn_id - record_offset ..][0..8], .little));
    try testing.expectEqual(upload_stream, std.mem.readInt(u64, request.payload[request_head.offset_stream_id - record_offset ..][0..8], .little));
    try testing.expectEqual(@as(u32, upload_route_id), std.mem.readInt(u32, request.payload[request_head.offset_route_id - record_offset ..][0..4], .little));
    var fields = try wire.fieldBlock(request.payload[request_head.offset_field_count - record_offset ..]);
    try testing.expectEqualStrings(":method", (try fields.next()).?.name);
    try testing.expect(std.mem.indexOf(u8, request.payload, "/upload") != null);
    // One ring for the batch, at the loop's ring point (events.ringIfDue).
    try testing.expectEqual(rings_before + 1, harness.doorbell_rings);
    const id = request.id;

    // The body, 10,000 bytes with FIN, all sent at once. The layer reads
    // only the read window; the rest stays in quiche.
    var upload: [10_000]u8 = undefined;
    for (&upload, 0..) |*byte, i| byte.* = @truncate(i *% 7 +% 3);
    try sendData(harness.pair.client.conn, upload_stream, &upload, true);
    harness.serverTurn();
    _ = try harness.poll();
    var body: std.ArrayListUnmanaged(u8) = .empty;
    defer body.deinit(testing.allocator);
    try harness.bodyOf(id, &body);
    try testing.expectEqual(@as(usize, read_window_bytes), body.items.len);
    try testing.expectEqualSlices(u8, upload[0..read_window_bytes], body.items);
    try testing.expectEqual(@as(usize, 0), harness.countOf(.body_end));
    // More packets change nothing while the application grants nothing.
    harness.serverTurn();
    try testing.expectEqual(@as(usize, 0), try harness.poll());

    // A CREDIT moves the window: exactly up to the new allowance.
    try credit(harness, id, 2 * read_window_bytes);
    harness.applyTurn();
    _ = try harness.poll();
    try harness.bodyOf(id, &body);
    try testing.expectEqual(@as(usize, 2 * read_window_bytes), body.items.len);
    try testing.expectEqual(@as(usize, 0), harness.countOf(.body_end));

    // Credit past the end: the rest of the body, then BODY_END.
    try credit(harness, id, 1 << 20);
    harness.applyTurn();
    _ = try harness.poll();
    try harness.bodyOf(id, &body);
    try testing.expectEqualSlices(u8, &upload, body.items);
    try testing.expectEqual(@as(usize, 1), harness.countOf(.body_end));
    try testing.expectEqual(wire.EventKind.body_end, harness.received.items[harness.received.items.len - 1].kind);

    // The response: one HEAD command with its body and FIN. The client
    // decodes the status, a field and the body, and the stream's FIN; the
    // application hears COMPLETE.
    const dirty_before = harness.dirty_marks;
    try respond(harness, id, 200, "received 10000 bytes\n");
    harness.applyTurn();
    try testing.expect(harness.dirty_marks > dirty_before);
    var response: Response = .{};
    defer response.deinit();
    try readResponse(harness.pair.client.conn, upload_stream, &response);
    try testing.expectEqualStrings("200", response.status);
    try testing.expectEqualStrings("text/plain", response.content_type);
    try testing.expectEqualStrings("received 10000 bytes\n", response.body.items);
    try testing.expect(response.fin);
    try testing.expectEqual(@as(usize, 1), try harness.poll());
    const complete = harness.received.items[harness.received.items.len - 1];
    try testing.expectEqual(wire.EventKind.complete, complete.kind);
    try testing.expectEqual(id, complete.id);
    try testing.expectEqual(@as(?u32, null), layer.requests.slotOf(id));

    // A second request, reset by the client before any answer: the
    // application hears RESET, and a late command for it is stale.
    const reset_stream: u64 = 4;
    try sendHeaders(harness.pair.client.conn, reset_stream, "GET", "/hello", false);
    harness.serverTurn();
    try testing.expectEqual(@as(usize, 1), try harness.poll());
    const second = harness.received.items[harness.received.items.len - 1];
    try testing.expectEqual(wire.EventKind.request, second.kind);
    try testing.expect(second.id != id);
    try testing.expectEqual(@as(c_int, 0), quiche.quiche_conn_stream_shutdown(harness.pair.client.conn, reset_stream, quiche.shutdown_write, frame.ErrorCode.request_cancelled));
    harness.serverTurn();
    try testing.expectEqual(@as(usize, 1), try harness.poll());
    const reset = harness.received.items[harness.received.items.len - 1];
    try testing.expectEqual(wire.EventKind.reset, reset.kind);
    try testing.expectEqual(second.id, reset.id);
    try testing.expectEqual(frame.ErrorCode.request_cancelled, std.mem.readInt(u64, reset.payload[0..8], .little));
    const stale_before = harness.stats.stale_commands.get();
    try respond(harness, second.id, 200, "too late");
    harness.applyTurn();
    try testing.expectEqual(stale_before + 1, harness.stats.stale_commands.get());

    // The whole story, counted: nothing else was said.
    try testing.expectEqual(@as(usize, 2), harness.countOf(.request));
    try testing.expectEqual(@as(usize, 1), harness.countOf(.body_end));
    try testing.expectEqual(@as(usize, 1), harness.countOf(.complete));
    try testing.expectEqual(@as(usize, 1), harness.countOf(.reset));
    const body_events = harness.countOf(.body);
    try testing.expect(body_events >= 3);
    try testing.expectEqual(harness.received.items.len, 2 + body_events + 1 + 1 + 1);
    try testing.expectEqual(@as(u32, 0), layer.activeRequests());
    try testing.expectEqual(@as(u64, 1), harness.stats.responses_completed.get());
    try testing.expectEqual(@as(u64, 1), harness.stats.requests_reset.get());
}

test "a body that arrives with its head still stops at the read window" {
    const harness = try Harness.create();
    defer harness.destroy();
    harness.serverTurn();
    // Head and body in the same packets, so the first read (before the
    // request had any credit) takes both: the window still holds, because
    // config validation keeps one read within it.
    var upload: [10_000]u8 = undefined;
    @memset(&upload, 'x');
    try sendHeaders(harness.pair.client.conn, 0, "POST", "/upload", false);
    try sendData(harness.pair.client.conn, 0, &upload, true);
    harness.serverTurn();
    _ = try harness.poll();
    try testing.expectEqual(wire.EventKind.request, harness.received.items[0].kind);
    var body: std.ArrayListUnmanaged(u8) = .empty;
    defer body.deinit(testing.allocator);
    try harness.bodyOf(harness.received.items[0].id, &body);
    try testing.expectEqual(@as(usize, read_window_bytes), body.items.len);
    try testing.expectEqual(@as(usize, 0), harness.countOf(.body_end));
}

test "control records wait in order while the event queue is full, DRAINs coalesce, and the backlog stops at its bound" {
    const harness = try Harness.create();
    defer harness.destroy();
    // Fill the event queue with data records, as a stalled application would.
    var filler: [wire.header_bytes + 1000]u8 = undefined;
    var writer = wire.RecordWriter.init(&filler, @intFromEnum(wire.EventKind.body), 0, 0, 1);
    writer.len += 1000;
    const record = try writer.finish();
    var pushed: usize = 0;
    while (harness.events.push(record)) |_| pushed += 1 else |_| {}
    // Then the smallest records, so not even a control record fits.
    var small: [wire.header_bytes]u8 = undefined;
    var tiny_writer = wire.RecordWriter.init(&small, @intFromEnum(wire.EventKind.body), 0, 0, 1);
    const tiny = try tiny_writer.finish();
    while (harness.events.push(tiny)) |_| pushed += 1 else |_| {}
    try testing.expect(pushed > 0);

    events.pushControl(&harness.layer, .body_end, 7, null);
    events.pushControl(&harness.layer, .drain, 7, 1000);
    events.pushControl(&harness.layer, .drain, 7, 5000);
    events.pushControl(&harness.layer, .complete, 7, null);
    const waiting = harness.layer.pending_control.items;
    try testing.expectEqual(@as(usize, 3), waiting.len);
    try testing.expectEqual(wire.EventKind.body_end, waiting[0].kind);
    try testing.expectEqual(wire.EventKind.drain, waiting[1].kind);
    try testing.expectEqual(@as(?u64, 5000), waiting[1].error_code);
    try testing.expectEqual(wire.EventKind.complete, waiting[2].kind);

    // Past the bound a control record is counted, not kept.
    const bound = events.maxPendingControls(&harness.config);
    var id: u64 = 100;
    while (harness.layer.pending_control.items.len < bound) : (id += 1) events.pushControl(&harness.layer, .complete, id, null);
    const full_before = harness.stats.event_queue_full.get();
    events.pushControl(&harness.layer, .complete, id, null);
    try testing.expectEqual(bound, harness.layer.pending_control.items.len);
    try testing.expectEqual(full_before + 1, harness.stats.event_queue_full.get());

    // The application reads: the waiting records follow the data, in order.
    try testing.expectEqual(pushed, try harness.poll());
    events.flushPendingControl(&harness.layer);
    _ = try harness.poll();
    const read = harness.received.items[pushed..];
    try testing.expectEqual(wire.EventKind.body_end, read[0].kind);
    try testing.expectEqual(wire.EventKind.drain, read[1].kind);
    try testing.expectEqual(@as(u64, 5000), std.mem.readInt(u64, read[1].payload[0..8], .little));
    try testing.expectEqual(wire.EventKind.complete, read[2].kind);
    try testing.expectEqual(@as(u64, 7), read[2].id);
}

test "an extended CONNECT before the client's SETTINGS waits for them, then carries its WebTransport bits and limits" {
    const harness = try Harness.create();
    defer harness.destroy();
    const client = harness.pair.client.conn;
    harness.serverTurn();
    _ = try harness.poll();

    // The CONNECT (draft-16's :protocol) and a capsule after it, before the
    // client's control stream: no REQUEST yet, and the capsule is not read.
    const session_stream: u64 = 0;
    var section_buffer: [256]u8 = undefined;
    var section = qpack_encoder.FieldSectionWriter.init(&section_buffer);
    try section.add(":method", "CONNECT");
    try section.add(":protocol", "webtransport-h3");
    try section.add(":scheme", "https");
    try section.add(":authority", "localhost");
    try section.add(":path", "/wt");
    const block = section.finish();
    var header: [frame.max_header_bytes]u8 = undefined;
    const header_len = frame.writeHeader(&header, frame.Type.headers, block.len);
    try send(client, session_stream, header[0..header_len], false);
    try send(client, session_stream, block, false);
    const capsule = [_]u8{ 0x80, 0x00, 0x28, 0x43, 4, 0, 0, 0, 42 }; // CLOSE_WEBTRANSPORT_SESSION, code 42
    try sendData(client, session_stream, &capsule, false);
    harness.serverTurn();
    try testing.expectEqual(@as(usize, 0), try harness.poll());
    try testing.expectEqual(@as(usize, 1), harness.layer.conn(conn_slot).h3.?.parked_connects.items.len);

    // The control stream with SETTINGS: the REQUEST comes, its aux naming
    // what the client sent, its three limits after the field block; then
    // the capsule as BODY.
    var control: [1 + settings.max_encoded_bytes]u8 = undefined;
    control[0] = 0x00;
    const control_len = 1 + settings.write(control[1..], .{
        .qpack_max_table_capacity = 0,
        .qpack_blocked_streams = 0,
        .max_field_section_size = 16384,
        .datagrams = true,
        .webtransport = true,
        .webtransport_max_sessions = 1,
        .wt_initial_max_data_bytes = 65536,
        .wt_initial_max_streams_uni = 3,
        .wt_initial_max_streams_bidi = 5,
    });
    try send(client, 2, control[0..control_len], false);
    harness.serverTurn();
    _ = try harness.poll();
    try testing.expectEqual(@as(usize, 2), harness.received.items.len);
    const request = harness.received.items[0];
    try testing.expectEqual(wire.EventKind.request, request.kind);
    const W = settings.WtBits;
    try testing.expectEqual(W.settings_received | W.enable_webtransport | W.webtransport_max_sessions | W.wt_max_sessions | W.wt_enabled | W.flow_control | request_head.wt_limits_trailer, request.aux);
    const trailer = request.payload[request.payload.len - 24 ..];
    try testing.expectEqual(@as(u64, 65536), std.mem.readInt(u64, trailer[0..8], .little));
    try testing.expectEqual(@as(u64, 5), std.mem.readInt(u64, trailer[8..16], .little));
    try testing.expectEqual(@as(u64, 3), std.mem.readInt(u64, trailer[16..24], .little));
    try testing.expect(std.mem.indexOf(u8, request.payload, "webtransport-h3") != null);
    const body = harness.received.items[1];
    try testing.expectEqual(wire.EventKind.body, body.kind);
    try testing.expectEqual(request.id, body.id);
    try testing.expectEqualSlices(u8, &capsule, body.payload);
    try testing.expectEqual(@as(usize, 0), harness.layer.conn(conn_slot).h3.?.parked_connects.items.len);
}

test "requests arriving together ring the doorbell once, even when the application drains between them" {
    const harness = try Harness.create();
    defer harness.destroy();
    harness.serverTurn();
    try testing.expectEqual(@as(usize, 0), try harness.poll());

    // Three requests in one turn: three REQUEST records, one ring.
    for ([_]u64{ 0, 4, 8 }) |stream_id| try sendHeaders(harness.pair.client.conn, stream_id, "GET", "/hello", true);
    const rings_before = harness.doorbell_rings;
    harness.serverTurn();
    try testing.expectEqual(rings_before + 1, harness.doorbell_rings);
    try testing.expectEqual(@as(usize, 3), try harness.poll());

    // The queue was drained: the next record finds it empty and is due a
    // ring, which happens at the ring point, not at the push.
    try sendHeaders(harness.pair.client.conn, 12, "GET", "/hello", true);
    _ = Pair.deliver(&harness.pair.client, &harness.pair.server);
    harness.layer.onPacket(conn_slot, harness.tick());
    harness.layer.beforeSend(conn_slot, harness.tick());
    try testing.expect(harness.events.nextRecordLength() > 0);
    try testing.expectEqual(rings_before + 1, harness.doorbell_rings);
    harness.layer.ringDoorbellIfDue();
    try testing.expectEqual(rings_before + 2, harness.doorbell_rings);
    harness.layer.ringDoorbellIfDue();
    try testing.expectEqual(rings_before + 2, harness.doorbell_rings);
    try testing.expectEqual(@as(usize, 1), try harness.poll());
}

/// The ids of every GOAWAY on the server's control stream (stream 3) the
/// client has read so far, appended to `ids`.
fn readGoaways(conn: *quiche.Conn, seen: *std.ArrayListUnmanaged(u8), ids: *std.ArrayListUnmanaged(u64)) !void {
    var buffer: [4096]u8 = undefined;
    var fin = false;
    var error_code: u64 = 0;
    while (true) {
        const read = quiche.quiche_conn_stream_recv(conn, 3, &buffer, buffer.len, &fin, &error_code);
        if (read <= 0) break;
        try seen.appendSlice(testing.allocator, buffer[0..@intCast(read)]);
    }
    ids.clearRetainingCapacity();
    // The stream type (0x00, control), then frames: type, length, payload.
    var at = (try varint.decode(seen.items)).length;
    while (at < seen.items.len) {
        const kind = try varint.decode(seen.items[at..]);
        const length = try varint.decode(seen.items[at + kind.length ..]);
        const payload_at = at + kind.length + length.length;
        if (payload_at + length.value > seen.items.len) break;
        if (kind.value == frame.Type.goaway) try ids.append(testing.allocator, (try varint.decode(seen.items[payload_at..])).value);
        at = payload_at + @as(usize, @intCast(length.value));
    }
}

test "graceful stop in two GOAWAY steps: requests on their way are served, then new ones refused" {
    const harness = try Harness.create();
    defer harness.destroy();
    harness.serverTurn();
    var seen: std.ArrayListUnmanaged(u8) = .empty;
    defer seen.deinit(testing.allocator);
    var goaways: std.ArrayListUnmanaged(u64) = .empty;
    defer goaways.deinit(testing.allocator);
    try sendHeaders(harness.pair.client.conn, 0, "GET", "/hello", true);
    harness.serverTurn();

    // Step one: GOAWAY with the largest client bidirectional stream ID.
    const started_ns = harness.tick();
    harness.layer.startDraining(started_ns);
    try testing.expect(harness.layer.drain_phase_end_ns >= started_ns + 25 * std.time.ns_per_ms);
    _ = harness.pair.exchange();
    try readGoaways(harness.pair.client.conn, &seen, &goaways);
    try testing.expectEqualSlices(u64, &.{(1 << 62) - 4}, goaways.items);
    // A request the client sent before it saw the GOAWAY is still served.
    try sendHeaders(harness.pair.client.conn, 4, "GET", "/hello", true);
    harness.serverTurn();
    _ = try harness.poll();
    try testing.expectEqual(@as(usize, 2), harness.countOf(.request));

    // Step two, a grace later: the first stream not processed, and refusal.
    harness.layer.finalizeDraining(harness.tick());
    _ = harness.pair.exchange();
    try readGoaways(harness.pair.client.conn, &seen, &goaways);
    try testing.expectEqualSlices(u64, &.{ (1 << 62) - 4, 8 }, goaways.items);
    try sendHeaders(harness.pair.client.conn, 8, "GET", "/hello", true);
    harness.serverTurn();
    _ = try harness.poll();
    try testing.expectEqual(@as(usize, 2), harness.countOf(.request));
    try testing.expectEqual(@as(u64, 1), harness.stats.requests_rejected.get());
}
