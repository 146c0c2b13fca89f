//! The HTTP/3 layer (h3/layer.zig) driven the way the loop drives it, for
//! tests without sockets: a real quiche client and our server-side
//! connection joined in memory (memory_pair.zig), the layer called at the
//! loop's points (onPacket, beforeSend, applyQueued), and the application
//! played by the test through the two record queues.

const std = @import("std");
const assert = std.debug.assert;
const quiche = @import("../ffi/quiche.zig");
const wire = @import("../queue/wire.zig");
const RecordQueue = @import("../queue/record_queue.zig").RecordQueue;
const Config = @import("../config.zig").Config;
const Stats = @import("../stats.zig").Stats;
const Router = @import("../h3/router.zig").Router;
const Layer = @import("../h3/layer.zig").Layer;
const events = @import("../h3/events.zig");
const Doorbell = events.Doorbell;
const ConnPeer = @import("../h3/conn_state.zig").Peer;
const memory_pair = @import("memory_pair.zig");
const Pair = memory_pair.Pair;

const testing = std.testing;

pub const conn_slot: u32 = 0;
pub const serial: u64 = 1;
pub const read_window_bytes = 4096;
pub const upload_route_id = 7;
pub const hello_route_id = 8;
pub const wt_route_id = 9;
const tick_ns = std.time.ns_per_ms;

/// One event as the application reads it, its payload copied.
pub const Event = struct {
    kind: wire.EventKind,
    flags: u8,
    aux: u16,
    id: u64,
    payload: []u8,
};

/// The client as the transport would report it: 127.0.0.1:4433, IPv4-mapped.
pub const test_peer: ConnPeer = .{ .family = 4, .port = 4433, .address = .{ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1 } };

/// The server side: the layer with its queues, config and router, and the
/// client's quiche connection at the other end of the pair. Heap-allocated,
/// because the layer points into it.
pub const Harness = struct {
    pair: Pair,
    config: Config,
    stats: Stats = .{},
    router: Router = .{},
    router_mutex: std.Thread.Mutex = .{},
    doorbell_mutex: std.Thread.Mutex = .{},
    events: RecordQueue,
    commands: RecordQueue,
    doorbell: ?Doorbell,
    doorbell_rings: u32 = 0,
    dirty_marks: u32 = 0,
    layer: Layer,
    now_ns: u64 = std.time.ns_per_s,
    drain_buffer: []u8,
    received: std.ArrayListUnmanaged(Event) = .empty,

    pub fn create() !*Harness {
        return createWith(.{});
    }

    /// `pair`: options of the in-memory pair (e.g. the ALPN both sides speak).
    pub fn createWith(pair_options: Pair.Options) !*Harness {
        const allocator = testing.allocator;
        const harness = try allocator.create(Harness);
        errdefer allocator.destroy(harness);
        harness.* = .{
            .pair = try Pair.initWith(pair_options),
            .config = .{
                .cert_path = "certs/dev/cert.pem",
                .key_path = "certs/dev/key.pem",
                .max_connections = 4,
                .max_requests = 8,
                .event_queue_bytes = 256 * 1024,
                .command_queue_bytes = 64 * 1024,
                .body_chunk_bytes = 2048,
                .request_read_window_bytes = read_window_bytes,
            },
            .events = undefined,
            .commands = undefined,
            .doorbell = .{ .function = ring, .user = harness },
            .layer = undefined,
            .drain_buffer = undefined,
        };
        errdefer harness.pair.deinit();
        try harness.config.validate();
        harness.events = try RecordQueue.init(allocator, harness.config.event_queue_bytes);
        errdefer harness.events.deinit(allocator);
        harness.commands = try RecordQueue.init(allocator, harness.config.command_queue_bytes);
        errdefer harness.commands.deinit(allocator);
        harness.drain_buffer = try allocator.alloc(u8, harness.config.event_queue_bytes);
        errdefer allocator.free(harness.drain_buffer);
        try harness.router.add(allocator, "POST", "/upload", upload_route_id);
        try harness.router.add(allocator, "GET", "/hello", hello_route_id);
        try harness.router.add(allocator, "CONNECT", "/wt", wt_route_id);
        try harness.layer.init(allocator, .{
            .config = &harness.config,
            .stats = &harness.stats,
            .router = &harness.router,
            .router_mutex = &harness.router_mutex,
            .events = &harness.events,
            .commands = &harness.commands,
            .doorbell_fd = -1,
            .doorbell_callback = &harness.doorbell,
            .doorbell_mutex = &harness.doorbell_mutex,
            .host = .{ .context = harness, .mark_dirty = markDirty },
        });
        harness.layer.openConnection(conn_slot, harness.pair.server.conn, serial, test_peer);
        return harness;
    }

    pub fn destroy(harness: *Harness) void {
        const allocator = testing.allocator;
        harness.layer.closeConnection(conn_slot);
        harness.layer.deinit();
        for (harness.received.items) |event| allocator.free(event.payload);
        harness.received.deinit(allocator);
        allocator.free(harness.drain_buffer);
        harness.router.deinit(allocator);
        harness.events.deinit(allocator);
        harness.commands.deinit(allocator);
        harness.pair.deinit();
        allocator.destroy(harness);
    }

    fn ring(user: ?*anyopaque) callconv(.c) void {
        const harness: *Harness = @ptrCast(@alignCast(user.?));
        harness.doorbell_rings += 1;
    }

    fn markDirty(context: *anyopaque, slot: u32) void {
        const harness: *Harness = @ptrCast(@alignCast(context));
        assert(slot == conn_slot);
        harness.dirty_marks += 1;
    }

    pub fn tick(harness: *Harness) u64 {
        harness.now_ns += tick_ns;
        return harness.now_ns;
    }

    /// What the loop does when packets arrive and the connection is then
    /// flushed: the client's packets in, the layer reads and writes, the
    /// server's packets out to the client.
    pub fn serverTurn(harness: *Harness) void {
        _ = Pair.deliver(&harness.pair.client, &harness.pair.server);
        harness.layer.onPacket(conn_slot, harness.tick());
        harness.layer.ringDoorbellIfDue();
        harness.layer.beforeSend(conn_slot, harness.tick());
        harness.layer.afterSend(conn_slot);
        harness.layer.ringDoorbellIfDue();
        _ = harness.pair.exchange();
    }

    /// What the loop does with queued commands, then the flush.
    pub fn applyTurn(harness: *Harness) void {
        // The test's few commands fit one drain: none is left for later.
        std.debug.assert(!harness.layer.applyQueued(harness.tick()));
        harness.layer.beforeSend(conn_slot, harness.tick());
        harness.layer.ringDoorbellIfDue();
        _ = harness.pair.exchange();
    }

    /// Reads every queued event (as zig_h3_poll would) into `received`;
    /// returns how many arrived.
    pub fn poll(harness: *Harness) !usize {
        const drained = harness.events.drain(harness.drain_buffer);
        var offset: usize = 0;
        var records: usize = 0;
        while (offset < drained.bytes) : (records += 1) {
            const header = wire.readHeader(harness.drain_buffer[offset..]);
            const payload = harness.drain_buffer[offset + wire.header_bytes .. offset + header.length];
            try harness.received.append(testing.allocator, .{
                .kind = try std.meta.intToEnum(wire.EventKind, header.kind),
                .flags = header.flags,
                .aux = header.aux,
                .id = header.id,
                .payload = try testing.allocator.dupe(u8, payload),
            });
            offset += wire.paddedLength(header.length);
        }
        return records;
    }

    pub fn command(harness: *Harness, record: []const u8) !void {
        _ = try harness.commands.push(record);
    }

    pub fn countOf(harness: *const Harness, kind: wire.EventKind) usize {
        var total: usize = 0;
        for (harness.received.items) |event| total += @intFromBool(event.kind == kind);
        return total;
    }

    /// The body bytes of every BODY event for `id` so far.
    pub fn bodyOf(harness: *const Harness, id: u64, out: *std.ArrayListUnmanaged(u8)) !void {
        out.clearRetainingCapacity();
        for (harness.received.items) |event| {
            if (event.kind == .body and event.id == id) try out.appendSlice(testing.allocator, event.payload);
        }
    }
};

pub fn send(conn: *quiche.Conn, stream_id: u64, bytes: []const u8, fin: bool) !void {
    var error_code: u64 = 0;
    const written = quiche.quiche_conn_stream_send(conn, stream_id, bytes.ptr, bytes.len, fin, &error_code);
    try testing.expectEqual(@as(isize, @intCast(bytes.len)), written);
}
