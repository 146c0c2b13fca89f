//! The HTTP/3 layer of the server: every connection's HTTP/3 state, the
//! request table, and the application's two queues, driven by the loop
//! (quic/engine.zig) in nghttp3's shape: the loop hands it connections,
//! stream readiness, the clock and the command queue; it hands back events
//! and stream writes into quiche. It never calls the loop, except through
//! `Host`, to ask that a connection be flushed. So this directory imports
//! nothing of quic/, and a request's whole life can be tested without
//! sockets (quic/request_life_test.zig).
//!
//! Functions of h3/ take `*Layer` for what they need: config limits,
//! stats, the event sink (h3/events.zig), the request table, scratch
//! buffers and each connection's `ConnState`. The time is what the loop
//! passed to the entry point that is running (`now_ns`); h3/ code never
//! reads the clock.

const std = @import("std");
const assert = std.debug.assert;
const quiche = @import("../ffi/quiche.zig");
const Config = @import("../config.zig").Config;
const LogLevel = @import("../config.zig").LogLevel;
const Stats = @import("../stats.zig").Stats;
const RecordQueue = @import("../queue/record_queue.zig").RecordQueue;
const RequestTable = @import("requests.zig").RequestTable;
const Router = @import("router.zig").Router;
const DeadlineRing = @import("deadline_ring.zig").DeadlineRing;
const H3Connection = @import("h3_connection.zig").H3Connection;
const ConnState = @import("conn_state.zig").ConnState;
const ConnPeer = @import("conn_state.zig").Peer;
const settings = @import("settings.zig");
const frame = @import("frame.zig");
const events = @import("events.zig");
const exchange = @import("exchange.zig");
const stream_input = @import("stream_input.zig");
const response_output = @import("response_output.zig");
const wt_opens = @import("wt_opens.zig");
const slow_clients = @import("slow_clients.zig");
const datagrams = @import("datagrams.zig");
const raw_connections = @import("raw_connections.zig");

/// The session count we announce to clients of drafts -07 to -14
/// (SETTINGS_WEBTRANSPORT_MAX_SESSIONS, SETTINGS_WT_MAX_SESSIONS). Above 1
/// those drafts oblige both sides to session flow control, which we keep
/// only for draft-15/16 peers; draft-02 clients, which have no such
/// setting, may still open more sessions on one connection.
pub const webtransport_max_sessions = 1;

/// What the layer asks of whoever drives it. One call: the connection in
/// `conn_slot` has something to send, so flush it this iteration.
pub const Host = struct {
    context: *anyopaque,
    mark_dirty: *const fn (context: *anyopaque, conn_slot: u32) void,
};

pub const Layer = struct {
    allocator: std.mem.Allocator,
    config: *const Config,
    stats: *Stats,
    router: *const Router,
    router_mutex: *std.Thread.Mutex,
    events: *RecordQueue,
    commands: *RecordQueue,
    doorbell_fd: i32,
    doorbell_callback: *const ?events.Doorbell,
    /// Guards doorbell_callback, which the application may switch while the
    /// loop runs (an unref'd poll-mode server moves to a JSCallback).
    doorbell_mutex: *std.Thread.Mutex,
    host: Host,
    /// The loop's clock reading passed to the entry point now running.
    now_ns: u64,
    /// Graceful shutdown (RFC 9114 5.2, two GOAWAYs): `announced` sent
    /// GOAWAY with the largest stream ID, so clients stop opening requests
    /// while those already on the way are still processed; `final`, at
    /// least a round trip later, names the first stream not processed, and
    /// new request streams are refused from then on.
    drain_phase: DrainPhase,
    /// When the current drain phase may end (monotonic ns): one grace
    /// (drainGraceNs) after it started, so requests a client sent before it
    /// saw the GOAWAY arrive, and are processed or refused (retryable),
    /// rather than cut by the connection's close.
    drain_phase_end_ns: u64,
    /// A push this iteration found the event queue empty: the doorbell
    /// rings at the loop's next ring point (ringDoorbellIfDue), not at the
    /// push (events.zig says why).
    doorbell_due: bool = false,

    /// Per transport connection slot: the HTTP/3 part of that connection.
    conns: []?ConnState,
    /// Raw QUIC connections open now: each holds a pseudo session's request
    /// slot, which is not a request a graceful stop waits for.
    raw_sessions: u32 = 0,
    /// Connection id (serial) -> slot, for commands that name a connection.
    serials: std.AutoHashMapUnmanaged(u64, u32),
    requests: RequestTable,
    paused_bodies: std.ArrayListUnmanaged(u64),
    /// Slow-client checks (h3/slow_clients.zig).
    head_deadlines: DeadlineRing,
    body_deadlines: DeadlineRing,
    pending_control: std.ArrayListUnmanaged(events.PendingControl),

    /// One event record: a request head or a body chunk.
    record_buffer: []u8,
    command_buffer: []u8,
    /// One stream read: at most body_chunk_bytes, so its body fits one
    /// BODY record.
    stream_buffer: []u8,
    /// Decoded field strings on input; encoded field sections on output.
    field_scratch: []u8,
    /// Room for one outgoing datagram with its quarter stream ID.
    datagram_buffer: []u8,

    pub const Deps = struct {
        config: *const Config,
        stats: *Stats,
        router: *const Router,
        router_mutex: *std.Thread.Mutex,
        events: *RecordQueue,
        commands: *RecordQueue,
        doorbell_fd: i32,
        doorbell_callback: *const ?events.Doorbell,
        doorbell_mutex: *std.Thread.Mutex,
        host: Host,
    };

    /// Initialises in place: `host` may point at the struct that holds it.
    pub fn init(layer: *Layer, allocator: std.mem.Allocator, deps: Deps) !void {
        const config = deps.config;
        assert(config.max_connections > 0 and config.max_requests > 0);
        layer.allocator = allocator;
        inline for (@typeInfo(Deps).@"struct".fields) |field| @field(layer, field.name) = @field(deps, field.name);
        layer.now_ns = 0;
        layer.drain_phase = .serving;
        layer.drain_phase_end_ns = 0;
        layer.doorbell_due = false;
        layer.raw_sessions = 0;
        layer.pending_control = .empty;

        layer.conns = try allocator.alloc(?ConnState, config.max_connections);
        errdefer allocator.free(layer.conns);
        @memset(layer.conns, null);
        layer.serials = .empty;
        try layer.serials.ensureTotalCapacity(allocator, config.max_connections);
        errdefer layer.serials.deinit(allocator);
        layer.requests = try RequestTable.init(allocator, config.max_requests);
        errdefer layer.requests.deinit(allocator);
        layer.paused_bodies = try .initCapacity(allocator, config.max_requests);
        errdefer layer.paused_bodies.deinit(allocator);
        layer.head_deadlines = try DeadlineRing.init(allocator, config.max_requests);
        errdefer layer.head_deadlines.deinit(allocator);
        layer.body_deadlines = try DeadlineRing.init(allocator, config.max_requests);
        errdefer layer.body_deadlines.deinit(allocator);

        layer.record_buffer = try allocator.alloc(u8, largestEventRecord(config));
        errdefer allocator.free(layer.record_buffer);
        layer.command_buffer = try allocator.alloc(u8, config.command_queue_bytes);
        errdefer allocator.free(layer.command_buffer);
        layer.stream_buffer = try allocator.alloc(u8, config.body_chunk_bytes);
        errdefer allocator.free(layer.stream_buffer);
        layer.field_scratch = try allocator.alloc(u8, fieldScratchBytes(config));
        errdefer allocator.free(layer.field_scratch);
        layer.datagram_buffer = try allocator.alloc(u8, 65536);
    }

    /// Every connection must have been closed (`closeConnection`) first.
    pub fn deinit(layer: *Layer) void {
        const allocator = layer.allocator;
        for (layer.conns) |maybe| assert(maybe == null);
        allocator.free(layer.conns);
        layer.serials.deinit(allocator);
        layer.requests.deinit(allocator);
        layer.paused_bodies.deinit(allocator);
        layer.head_deadlines.deinit(allocator);
        layer.body_deadlines.deinit(allocator);
        layer.pending_control.deinit(allocator);
        allocator.free(layer.record_buffer);
        allocator.free(layer.command_buffer);
        allocator.free(layer.stream_buffer);
        allocator.free(layer.field_scratch);
        allocator.free(layer.datagram_buffer);
        layer.* = undefined;
    }

    /// Room for a decoded request head's strings, and for an encoded
    /// response head: the command queue bounds what an application sends.
    fn fieldScratchBytes(config: *const Config) usize {
        return @max(2 * @as(usize, config.max_request_headers_size), 256 * 1024);
    }

    pub fn largestEventRecord(config: *const Config) usize {
        const head = 48 + @as(usize, config.max_request_headers_size) + 4 * @as(usize, config.max_header_count);
        return @max(head, 16 + @as(usize, config.body_chunk_bytes));
    }

    pub fn conn(layer: *Layer, conn_slot: u32) *ConnState {
        return &(layer.conns[conn_slot].?);
    }

    pub fn markDirty(layer: *Layer, conn_slot: u32) void {
        assert(layer.conns[conn_slot] != null);
        layer.host.mark_dirty(layer.host.context, conn_slot);
    }

    pub fn controlReserve(layer: *const Layer) usize {
        return events.controlReserve(layer);
    }

    pub fn log(layer: *Layer, level: LogLevel, conn_id: u64, comptime format: []const u8, args: anytype) void {
        events.log(layer, level, conn_id, format, args);
    }

    /// Takes the loop's clock reading for the entry point now running.
    fn setClock(layer: *Layer, now_ns: u64) void {
        assert(now_ns >= layer.now_ns); // The loop's clock is monotonic.
        layer.now_ns = now_ns;
    }

    // Entry points: what the loop calls, in the order of one iteration.

    /// A connection was accepted into the transport's `conn_slot`.
    pub fn openConnection(layer: *Layer, conn_slot: u32, quiche_conn: *quiche.Conn, serial: u64, peer: ConnPeer) void {
        assert(layer.conns[conn_slot] == null);
        assert(serial != 0);
        assert(peer.family == 4 or peer.family == 6);
        layer.conns[conn_slot] = .{ .quiche_conn = quiche_conn, .serial = serial, .peer = peer };
        // max_connections entries were reserved at init.
        layer.serials.putAssumeCapacity(serial, conn_slot);
    }

    /// The connection moved to a new, validated client address: requests
    /// from now on report it.
    pub fn setPeer(layer: *Layer, conn_slot: u32, peer: ConnPeer) void {
        assert(peer.family == 4 or peer.family == 6);
        layer.conn(conn_slot).peer = peer;
    }

    /// The transport fed the connection a packet: start HTTP/3 once the
    /// handshake allows it, and hand on received datagrams. While the
    /// connection is in 0-RTT, its streams are read at once rather than
    /// with the rest of the batch (beforeSend): a request is early when its
    /// HEADERS came before the client's Finished (exchange.decodeHead), and
    /// the Finished may be the next datagram of the same batch.
    pub fn onPacket(layer: *Layer, conn_slot: u32, now_ns: u64) void {
        const state = layer.conn(conn_slot);
        if (state.protocol == .pending and
            (quiche.quiche_conn_is_established(state.quiche_conn) or quiche.quiche_conn_is_in_early_data(state.quiche_conn)))
        {
            // Both are known once the ClientHello is processed: BoringSSL
            // has then accepted the ticket and decided on the early data.
            if (quiche.quiche_conn_is_resumed(state.quiche_conn)) layer.stats.connections_resumed.inc();
            if (quiche.quiche_conn_is_in_early_data(state.quiche_conn)) layer.stats.connections_early_data.inc();
            if (raw_connections.negotiatedH3(state.quiche_conn)) {
                state.protocol = .h3;
                layer.openH3(state);
            } else {
                raw_connections.open(layer, conn_slot);
            }
        }
        if (state.h3 != null and quiche.quiche_conn_is_in_early_data(state.quiche_conn)) {
            layer.setClock(now_ns);
            stream_input.readConnection(layer, conn_slot);
        }
        datagrams.receive(layer, conn_slot);
    }

    /// Before the transport writes the connection's packets: read every
    /// readable stream, open waiting WebTransport streams, and write the
    /// response bytes stream capacity allows.
    pub fn beforeSend(layer: *Layer, conn_slot: u32, now_ns: u64) void {
        layer.setClock(now_ns);
        stream_input.readConnection(layer, conn_slot);
        wt_opens.openWaiting(layer, conn_slot);
        response_output.flushOutput(layer, conn_slot);
    }

    /// After the transport wrote the connection's packets.
    pub fn afterSend(layer: *Layer, conn_slot: u32) void {
        datagrams.afterFlush(layer, conn_slot);
    }

    /// The transport is about to free the connection: its requests end as
    /// reset, the application hears CONN_CLOSED, and its state is freed.
    pub fn closeConnection(layer: *Layer, conn_slot: u32) void {
        exchange.abortConnectionRequests(layer, conn_slot);
        raw_connections.close(layer, conn_slot);
        const state = layer.conn(conn_slot);
        if (state.announced) {
            if (state.protocol == .raw) raw_connections.announceClosed(layer, state) else events.pushControl(layer, .conn_closed, state.serial, null);
        }
        _ = layer.serials.remove(state.serial);
        state.deinit(layer.allocator);
        layer.conns[conn_slot] = null;
    }

    /// Once per iteration: control records that waited, the application's
    /// commands, then request bodies paused by a full event queue. Returns
    /// whether commands remain queued, so the loop does not wait for a
    /// wake-up that will not come (the queue never went empty).
    pub fn applyQueued(layer: *Layer, now_ns: u64) bool {
        layer.setClock(now_ns);
        events.flushPendingControl(layer);
        const more_commands = exchange.applyCommands(layer);
        exchange.resumePausedBodies(layer);
        return more_commands;
    }

    /// Resets requests whose head or body is too slow (h3/slow_clients.zig).
    pub fn sweep(layer: *Layer, now_ns: u64) void {
        layer.setClock(now_ns);
        slow_clients.sweep(layer, now_ns);
    }

    /// The earliest slow-client deadline, for the loop's wait.
    pub fn nextDeadline(layer: *const Layer) ?u64 {
        return slow_clients.nextDeadline(layer);
    }

    pub const DrainPhase = enum { serving, announced, final };

    pub fn draining(layer: *const Layer) bool {
        return layer.drain_phase != .serving;
    }

    /// Graceful shutdown, first step: GOAWAY with the largest stream ID on
    /// every connection (requests keep being served).
    pub fn startDraining(layer: *Layer, now_ns: u64) void {
        assert(layer.drain_phase == .serving);
        layer.drain_phase = .announced;
        layer.drain_phase_end_ns = now_ns +| layer.drainGraceNs();
        exchange.sendGoaways(layer, .announce);
    }

    /// Second step, once the first one's grace passed: GOAWAY naming the
    /// first unprocessed stream; new request streams are refused.
    pub fn finalizeDraining(layer: *Layer, now_ns: u64) void {
        assert(layer.drain_phase == .announced);
        layer.drain_phase = .final;
        layer.drain_phase_end_ns = now_ns +| layer.drainGraceNs();
        exchange.sendGoaways(layer, .final);
    }

    /// Bounds of the grace between the drain steps. The floor covers a
    /// client that is slow to act on what it received (a busy machine);
    /// the ceiling keeps one very slow path from holding a restart up.
    const drain_grace_min_ns = 25 * std.time.ns_per_ms;
    const drain_grace_max_ns = 1000 * std.time.ns_per_ms;

    /// Two round trips of the slowest connection (RTT plus four deviations,
    /// quiche's estimate), within the bounds above.
    fn drainGraceNs(layer: *const Layer) u64 {
        var slowest_ns: u64 = 0;
        for (layer.conns) |*maybe| {
            const connection = if (maybe.*) |*c| c else continue;
            var path: quiche.PathStats = std.mem.zeroes(quiche.PathStats);
            if (quiche.quiche_conn_path_stats(connection.quiche_conn, 0, &path) != 0) continue;
            slowest_ns = @max(slowest_ns, path.rtt +| 4 *| path.rttvar);
        }
        return std.math.clamp(2 *| slowest_ns, drain_grace_min_ns, drain_grace_max_ns);
    }

    pub fn activeRequests(layer: *const Layer) u32 {
        return layer.requests.activeCount() - layer.raw_sessions;
    }

    pub fn announceShutdown(layer: *Layer) void {
        events.pushControl(layer, .shutdown, 0, null);
    }

    /// Rings the application's doorbell if a record went into an empty
    /// event queue since the last ring. The loop calls it after reading
    /// its packets and at the end of every iteration.
    pub fn ringDoorbellIfDue(layer: *Layer) void {
        events.ringIfDue(layer);
    }

    /// Pushes control records that found the queue full (after the loop
    /// closed every connection on stop).
    pub fn flushPendingControl(layer: *Layer) void {
        events.flushPendingControl(layer);
    }

    /// Starts HTTP/3 on a connection whose handshake completed: our control
    /// stream with SETTINGS and the QPACK streams.
    fn openH3(layer: *Layer, state: *ConnState) void {
        const ours = layer.h3Settings();
        const h3 = H3Connection.create(layer.allocator, ours) catch {
            const reason = "h3 setup failed";
            _ = quiche.quiche_conn_close(state.quiche_conn, true, frame.ErrorCode.internal_error, reason, reason.len);
            return;
        };
        state.h3 = h3;
        h3.open(layer.allocator, state.quiche_conn, ours) catch
            h3.fail(state.quiche_conn, frame.ErrorCode.internal_error, "h3 setup failed");
    }

    pub fn h3Settings(layer: *const Layer) settings.Ours {
        const config = layer.config;
        return .{
            .qpack_max_table_capacity = config.qpack_max_table_capacity,
            .qpack_blocked_streams = config.qpack_blocked_streams,
            .max_field_section_size = config.max_request_headers_size,
            .datagrams = config.enable_dgram,
            .webtransport = config.enable_webtransport,
            .webtransport_max_sessions = webtransport_max_sessions,
            .wt_initial_max_data_bytes = config.wt_initial_max_data_bytes,
            .wt_initial_max_streams_uni = config.announcedStreams(config.wt_initial_max_streams_uni),
            .wt_initial_max_streams_bidi = config.announcedStreams(config.wt_initial_max_streams_bidi),
        };
    }
};
