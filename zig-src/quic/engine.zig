//! The loop thread. It alone owns every quiche object; the application
//! reaches it only through the command queue, and hears from it only through
//! the event queue (see docs/ARCHITECTURE.md). One iteration: wait on epoll
//! (socket, wake eventfd) up to the nearest connection timer, read a bounded
//! batch of packets, apply queued commands, fire expired timers, then flush
//! every connection touched in this iteration.
//!
//! The engine is the transport and the driver; HTTP/3 is `http`
//! (h3/layer.zig), which it calls at fixed points of the iteration and
//! hands the clock. The HTTP/3 layer imports nothing from here.

const std = @import("std");
const assert = std.debug.assert;
const posix = std.posix;
const quiche = @import("../ffi/quiche.zig");
const Config = @import("../config.zig").Config;
const Stats = @import("../stats.zig").Stats;
const Socket = @import("../net/udp.zig").Socket;
const Poller = @import("../net/poller.zig").Poller;
const batch = @import("../net/batch.zig");
const signalEventFd = @import("../net/poller.zig").signalEventFd;
const ConnectionId = @import("connection_id.zig").ConnectionId;
const connection_id = @import("connection_id.zig");
const quic_lb = @import("quic_lb.zig");
const worker_cid = @import("worker_cid.zig");
const config_mod = @import("../config.zig");
const CidTable = @import("cid_table.zig").CidTable;
const TimerHeap = @import("timer_heap.zig").TimerHeap;
const peer_counts = @import("peer_counts.zig");
const refusal = @import("refusal.zig");
const address_validation = @import("address_validation.zig");
const paths = @import("paths.zig");
const udp = @import("../net/udp.zig");
const retry_token = @import("retry_token.zig");
const connection_mod = @import("connection.zig");
const Connection = connection_mod.Connection;
const ConnectionPool = connection_mod.ConnectionPool;
const Router = @import("../h3/router.zig").Router;
const RecordQueue = @import("../queue/record_queue.zig").RecordQueue;
const Layer = @import("../h3/layer.zig").Layer;
const h3_events = @import("../h3/events.zig");
const h3_error = @import("../h3/frame.zig").ErrorCode;
const LogLevel = @import("../config.zig").LogLevel;

const socket_tag: u64 = 1;
const packet_type_initial: u8 = 1;
/// Packets written per connection per flush before yielding to others.
const max_packets_per_flush = 256;
/// Packets per sendmmsg.
const send_batch_packets = 64;
/// Upper bound on one epoll wait, so a lost wake-up costs at most this.
const max_wait_ms = 1000;

/// The QUIC-LB config of a validated server config, or null when off.
fn quicLbConfig(config: *const Config) ?quic_lb.Config {
    var server_id: [config_mod.quic_lb_server_id_len_max]u8 = undefined;
    const id = config_mod.quicLbServerId(config, &server_id) orelse return null;
    comptime assert(config_mod.quic_lb_server_id_len_max == quic_lb.server_id_len_max);
    return quic_lb.Config.init(
        @intCast(config.quic_lb_config_rotation),
        id,
        @intCast(config.quic_lb_nonce_len),
        config_mod.quicLbKey(config),
    ) catch unreachable; // Config.validate() checked the same bounds.
}

pub const Engine = struct {
    allocator: std.mem.Allocator,
    config: *const Config,
    quiche_config: *quiche.Config,
    socket: *const Socket,
    poller: *Poller,
    stop_requested: *std.atomic.Value(bool),
    stats: *Stats,
    /// Set (non-zero, ns on the monotonic clock) by a graceful shutdown
    /// request; read by the loop each iteration.
    shutdown_deadline_ns: *std.atomic.Value(u64),
    /// The socket's send buffer is full; packets wait in send_batch and no
    /// connection writes more until the socket is writable again.
    send_blocked: bool = false,
    /// The last applyQueued left commands queued: poll without waiting.
    commands_pending: bool = false,
    /// The thread running `run`; every function that touches quiche asserts
    /// it runs there (the one rule of docs/ARCHITECTURE.md).
    loop_thread: ?std.Thread.Id = null,

    connections: ConnectionPool,
    cids: CidTable,
    timers: TimerHeap,
    dirty: std.ArrayListUnmanaged(u32),
    dirty_next: std.ArrayListUnmanaged(u32),
    peers: peer_counts.PeerCounts,
    /// Authenticates Retry tokens (enable_retry). Random per server, so a
    /// token is worth nothing to any other server or after a restart.
    retry_key: retry_token.Key,
    /// The QUIC-LB encoding of the connection IDs this server chooses
    /// (quic/quic_lb.zig), or null for random ones.
    quic_lb_config: ?quic_lb.Config = null,
    /// Length of every connection ID this server chooses; the length
    /// short-header packets are parsed with.
    local_cid_len: u8 = connection_id.local_len,
    /// A worker on a shared port: where its id goes in each connection ID
    /// it chooses (quic/worker_cid.zig), so the kernel's steering program
    /// sends the connection's packets here. Null for a lone server.
    worker_layout: ?worker_cid.Layout = null,
    worker_id: u8 = 0,
    next_serial: u64 = 1,
    /// The HTTP/3 layer this loop drives (h3/layer.zig). It calls back
    /// only through `Layer.Host`, to mark a connection dirty.
    http: Layer,

    recv_buffer: []u8,
    send_buffer: []u8,
    receive_batch: batch.ReceiveBatch,
    send_batch: batch.SendBatch,

    pub const Deps = struct {
        config: *const Config,
        quiche_config: *quiche.Config,
        socket: *const Socket,
        poller: *Poller,
        router: *const Router,
        events: *RecordQueue,
        commands: *RecordQueue,
        doorbell_fd: i32,
        stop_requested: *std.atomic.Value(bool),
        stats: *Stats,
        router_mutex: *std.Thread.Mutex,
        doorbell_callback: *const ?Doorbell,
        doorbell_mutex: *std.Thread.Mutex,
        shutdown_deadline_ns: *std.atomic.Value(u64),
    };

    pub const Doorbell = h3_events.Doorbell;

    /// Initialises in place, because the HTTP/3 layer keeps a pointer back
    /// to the engine (its `Host`).
    pub fn init(engine: *Engine, allocator: std.mem.Allocator, deps: Deps) !void {
        const config = deps.config;
        engine.allocator = allocator;
        engine.config = deps.config;
        engine.quiche_config = deps.quiche_config;
        engine.socket = deps.socket;
        engine.poller = deps.poller;
        engine.stop_requested = deps.stop_requested;
        engine.stats = deps.stats;
        engine.shutdown_deadline_ns = deps.shutdown_deadline_ns;
        engine.next_serial = 1;
        engine.send_blocked = false;
        engine.commands_pending = false;
        engine.loop_thread = null;
        // Workers share one key (config.retry_key_hex), so a token verifies
        // on whichever worker the client's next Initial reaches.
        if (config_mod.retryKey(config)) |key| engine.retry_key = key else std.crypto.random.bytes(&engine.retry_key);
        engine.quic_lb_config = quicLbConfig(config);
        engine.local_cid_len = if (engine.quic_lb_config) |*lb| lb.cidLen() else connection_id.local_len;
        engine.worker_id = config.worker_id;
        engine.worker_layout = null;
        if (config.worker_steering) {
            // Config.validate refused encrypted QUIC-LB with workers.
            engine.worker_layout = worker_cid.layout(if (engine.quic_lb_config) |*lb| lb else null).?;
            assert(engine.worker_layout.?.cid_len == engine.local_cid_len);
        }

        engine.connections = try ConnectionPool.init(allocator, config.max_connections);
        errdefer engine.connections.deinit(allocator);
        engine.cids = try CidTable.init(allocator, config.cidTableCapacity());
        errdefer engine.cids.deinit(allocator);
        engine.timers = try TimerHeap.init(allocator, config.max_connections);
        errdefer engine.timers.deinit(allocator);
        engine.dirty = try .initCapacity(allocator, config.max_connections);
        errdefer engine.dirty.deinit(allocator);
        engine.dirty_next = try .initCapacity(allocator, config.max_connections);
        errdefer engine.dirty_next.deinit(allocator);
        engine.peers = try peer_counts.PeerCounts.init(allocator, config.max_connections);
        errdefer engine.peers.deinit(allocator);

        engine.recv_buffer = try allocator.alloc(u8, 65536);
        errdefer allocator.free(engine.recv_buffer);
        engine.send_buffer = try allocator.alloc(u8, config.max_send_udp_payload_size);
        errdefer allocator.free(engine.send_buffer);
        engine.receive_batch = try batch.ReceiveBatch.init(allocator, config.recv_batch_packets, config.max_recv_udp_payload_size + 1);
        errdefer engine.receive_batch.deinit(allocator);
        engine.send_batch = try batch.SendBatch.init(allocator, send_batch_packets, config.max_send_udp_payload_size);
        errdefer engine.send_batch.deinit(allocator);
        // Pacing: quiche's pacer gives every packet a send time; the kernel
        // holds each message until then (SCM_TXTIME) if the socket accepts
        // SO_TXTIME. Without it packets leave as soon as they are written.
        engine.send_batch.txtime = config.enable_pacing and udp.enableTxtime(deps.socket.fd);
        try engine.http.init(allocator, .{
            .config = config,
            .stats = deps.stats,
            .router = deps.router,
            .router_mutex = deps.router_mutex,
            .events = deps.events,
            .commands = deps.commands,
            .doorbell_fd = deps.doorbell_fd,
            .doorbell_callback = deps.doorbell_callback,
            .doorbell_mutex = deps.doorbell_mutex,
            .host = .{ .context = engine, .mark_dirty = markDirtyFromLayer },
        });
    }

    fn markDirtyFromLayer(context: *anyopaque, conn_slot: u32) void {
        const engine: *Engine = @ptrCast(@alignCast(context));
        engine.markDirty(conn_slot);
    }

    /// All connections must have been closed by `run` returning.
    pub fn deinit(engine: *Engine) void {
        const allocator = engine.allocator;
        engine.closeAll();
        engine.connections.deinit(allocator);
        engine.cids.deinit(allocator);
        engine.timers.deinit(allocator);
        engine.http.deinit();
        engine.dirty.deinit(allocator);
        engine.dirty_next.deinit(allocator);
        engine.peers.deinit(allocator);
        allocator.free(engine.recv_buffer);
        allocator.free(engine.send_buffer);
        engine.receive_batch.deinit(allocator);
        engine.send_batch.deinit(allocator);
        engine.* = undefined;
    }

    /// Runs until stop is requested, then closes every connection.
    pub fn run(engine: *Engine) void {
        assert(engine.loop_thread == null);
        engine.loop_thread = std.Thread.getCurrentId();
        defer engine.loop_thread = null;
        engine.poller.watch(engine.socket.fd, socket_tag) catch return;
        var ready: [Poller.max_events]std.os.linux.epoll_event = undefined;
        while (!engine.stop_requested.load(.acquire)) {
            const events = engine.poller.wait(&ready, engine.waitTimeoutMs());
            if (events.len > 0) engine.stats.loop_wakeups.inc();
            for (events) |event| {
                if (event.data.u64 != socket_tag) {
                    engine.poller.consumeWake();
                    continue;
                }
                if (event.events & std.os.linux.EPOLL.IN != 0) engine.receivePackets();
                if (event.events & std.os.linux.EPOLL.OUT != 0) engine.sendBatched();
            }
            // The application starts on what the packets brought while the
            // loop goes on, so its answers may meet applyQueued below.
            engine.http.ringDoorbellIfDue();
            engine.commands_pending = engine.http.applyQueued(nowNs());
            const now_ns = nowNs();
            engine.fireTimers(now_ns);
            engine.http.sweep(now_ns);
            engine.flushDirty();
            const finished = engine.shutdownFinished();
            engine.http.ringDoorbellIfDue();
            if (finished) break;
        }
        engine.closeAll();
        // The RESET events of the requests just cut short, if the queue was
        // full when they were made (what still does not fit, the
        // application's stop() ends itself).
        engine.http.flushPendingControl();
        engine.http.ringDoorbellIfDue();
    }

    /// Graceful shutdown: on the first iteration after it is requested,
    /// every connection gets a GOAWAY that still admits requests, and a
    /// grace later the one naming the first stream not processed (the
    /// two-step shutdown of RFC 9114 5.2, so no request already on its way
    /// is cut). The loop ends a grace after that once no request is live,
    /// or at the deadline, announcing it with a SHUTDOWN event.
    fn shutdownFinished(engine: *Engine) bool {
        const deadline_ns = engine.shutdown_deadline_ns.load(.acquire);
        if (deadline_ns == 0) return false;
        const now_ns = nowNs();
        const http = &engine.http;
        switch (http.drain_phase) {
            .serving => {
                http.startDraining(now_ns);
                return false;
            },
            .announced => {
                if (now_ns < http.drain_phase_end_ns and now_ns < deadline_ns) return false;
                http.finalizeDraining(now_ns);
                return false;
            },
            .final => {},
        }
        if (now_ns < deadline_ns and (now_ns < http.drain_phase_end_ns or http.activeRequests() > 0)) return false;
        http.announceShutdown();
        return true;
    }

    fn waitTimeoutMs(engine: *Engine) i32 {
        // Dirty connections wait for writability when the socket is full.
        if (engine.dirty.items.len > 0 and !engine.send_blocked) return 0;
        // Commands left over by the bounded drain (h3/exchange.zig).
        if (engine.commands_pending) return 0;
        // While draining, wake at least every 10 ms to check the deadline.
        if (engine.http.draining()) return 10;
        const timer: ?u64 = if (engine.timers.peek()) |next| next.deadline_ns else null;
        const slow = engine.http.nextDeadline();
        const deadline_ns = if (timer != null and slow != null) @min(timer.?, slow.?) else (timer orelse slow orelse return max_wait_ms);
        const now = nowNs();
        if (deadline_ns <= now) return 0;
        const wait_ms = (deadline_ns - now + std.time.ns_per_ms - 1) / std.time.ns_per_ms;
        return @intCast(@min(wait_ms, max_wait_ms));
    }

    /// One recvmmsg per wake-up: at most recv_batch_packets datagrams, so a
    /// flood cannot starve timers and commands (epoll is level-triggered
    /// and brings the loop back for the rest).
    fn receivePackets(engine: *Engine) void {
        const count = engine.receive_batch.receive(engine.socket.fd);
        // One clock reading per batch, for what a packet makes the HTTP/3
        // layer do at once (0-RTT requests, see Layer.onPacket).
        const now_ns = nowNs();
        for (0..count) |i| {
            const datagram = engine.receive_batch.datagram(i);
            engine.stats.packets_received.inc();
            if (datagram.truncated) {
                engine.stats.packets_invalid.inc();
                continue;
            }
            engine.processPacket(datagram.data, datagram.peer, datagram.peer_len, now_ns);
        }
    }

    /// A new connection ID for this server: QUIC-LB-encoded with a random
    /// nonce when configured, else random; a worker's carries its id.
    pub fn newLocalCid(engine: *const Engine) ConnectionId {
        var cid = engine.newUnstampedCid();
        if (engine.worker_layout) |at| worker_cid.stamp(&cid, at, engine.worker_id);
        return cid;
    }

    fn newUnstampedCid(engine: *const Engine) ConnectionId {
        const lb = if (engine.quic_lb_config) |*lb| lb else return ConnectionId.random();
        var nonce: [quic_lb.nonce_len_max]u8 = undefined;
        std.crypto.random.bytes(nonce[0..lb.nonce_len]);
        var cid = ConnectionId{ .len = lb.cidLen() };
        const written = quic_lb.encode(lb, nonce[0..lb.nonce_len], &cid.bytes);
        assert(written.len == engine.local_cid_len);
        return cid;
    }

    /// Asserts the caller is the loop thread: only it may touch quiche.
    pub fn assertLoopThread(engine: *const Engine) void {
        assert(engine.loop_thread != null and engine.loop_thread.? == std.Thread.getCurrentId());
    }

    fn processPacket(engine: *Engine, packet: []u8, peer: *posix.sockaddr.storage, peer_len: posix.socklen_t, now_ns: u64) void {
        engine.assertLoopThread();
        var version: u32 = 0;
        var packet_type: u8 = 0;
        var scid: [connection_id.max_len]u8 = undefined;
        var scid_len: usize = scid.len;
        var dcid: [connection_id.max_len]u8 = undefined;
        var dcid_len: usize = dcid.len;
        var token: [256]u8 = undefined;
        var token_len: usize = token.len;
        const rc = quiche.quiche_header_info(packet.ptr, packet.len, engine.local_cid_len, &version, &packet_type, &scid, &scid_len, &dcid, &dcid_len, &token, &token_len);
        if (rc < 0) {
            engine.stats.packets_invalid.inc();
            return;
        }
        const slot = engine.cids.get(dcid[0..dcid_len]) orelse
            engine.accept(packet, version, packet_type, scid[0..scid_len], dcid[0..dcid_len], token[0..token_len], peer, peer_len) orelse return;
        const connection = engine.connections.get(slot);

        const local = &engine.socket.local;
        const recv_info = quiche.RecvInfo{
            .from = @ptrCast(peer),
            .from_len = peer_len,
            .to = @constCast(&local.any),
            .to_len = local.getOsSockLen(),
        };
        if (quiche.quiche_conn_recv(connection.quiche_conn, packet.ptr, packet.len, &recv_info) < 0) {
            engine.stats.packets_invalid.inc();
        }
        engine.http.onPacket(slot, now_ns);
        engine.markDirty(slot);
    }

    /// Creates a connection for a client Initial, answers unknown versions
    /// with version negotiation, and drops everything else. With
    /// enable_retry, an address must be validated by a Retry round trip
    /// first (quic/address_validation.zig); the caps apply after that.
    fn accept(engine: *Engine, packet: []u8, version: u32, packet_type: u8, scid: []const u8, dcid: []const u8, token: []const u8, peer: *posix.sockaddr.storage, peer_len: posix.socklen_t) ?u32 {
        if (packet_type != packet_type_initial) return null;
        if (!quiche.quiche_version_is_supported(version)) {
            engine.negotiateVersion(scid, dcid, peer, peer_len);
            return null;
        }
        // RFC 9000 14.1: a client Initial is padded to at least 1200 bytes.
        if (packet.len < 1200) return null;
        const odcid: ?ConnectionId = if (engine.config.enable_retry)
            address_validation.validate(engine, token, version, scid, dcid, peer, peer_len, nowNs() / std.time.ns_per_ms) orelse return null
        else
            null;
        if (engine.connections.liveCount() >= engine.config.max_connections or
            engine.cids.count + config_mod.cid_keys_per_connection > engine.cids.maxEntries())
        {
            engine.refuse(scid, dcid, peer, peer_len, "max_connections reached");
            return null;
        }
        const peer_key = peer_counts.keyOf(peer);
        const per_ip = engine.config.max_connections_per_ip;
        if (per_ip > 0 and engine.peers.count(peer_key) >= per_ip) {
            engine.refuse(scid, dcid, peer, peer_len, "max_connections_per_ip reached");
            return null;
        }
        // After a Retry the client already sends to the connection ID we
        // chose for it, and never again to its original DCID, so that is the
        // only key the connection needs in the CID table.
        assert(odcid == null or dcid.len == engine.local_cid_len);
        const local_cid = if (odcid != null) ConnectionId.from(dcid) else engine.newLocalCid();
        const alias = if (odcid != null) local_cid else ConnectionId.from(dcid);
        // quiche reads a zero length as "no Retry happened".
        const odcid_slice: []const u8 = if (odcid) |*o| o.slice() else &.{};
        const local = &engine.socket.local;
        const quiche_conn = quiche.quiche_accept(&local_cid.bytes, local_cid.len, odcid_slice.ptr, odcid_slice.len, &local.any, local.getOsSockLen(), @ptrCast(peer), peer_len, engine.quiche_config) orelse {
            engine.stats.packets_invalid.inc();
            return null;
        };
        const serial = engine.next_serial;
        engine.next_serial += 1;
        // The HTTP/3 layer keeps the client's address for REQUEST events.
        const peer_address = peer_counts.familyAndPort(peer);
        const slot = engine.connections.insert(.{
            .quiche_conn = quiche_conn,
            .scid = local_cid,
            .odcid = alias,
            .serial = serial,
            .peer_key = peer_key,
        }).?;
        engine.peers.add(peer_key);
        // Capacity was checked above, so neither put can fail.
        engine.cids.put(local_cid.slice(), slot) catch unreachable;
        engine.cids.put(alias.slice(), slot) catch unreachable;
        engine.http.openConnection(slot, quiche_conn, serial, .{ .family = peer_address.family, .port = peer_address.port, .address = peer_key });
        engine.enableDiagnostics(quiche_conn, serial);
        engine.stats.connections_accepted.inc();
        engine.log(.debug, serial, "connection accepted", .{});
        engine.stats.connections_active.inc();
        return slot;
    }

    /// Answers a client over a connection cap with an Initial carrying
    /// CONNECTION_CLOSE(CONNECTION_REFUSED) (RFC 9000 20.1), so it fails
    /// fast instead of retrying into silence. Stateless (quic/refusal.zig):
    /// nothing is allocated and existing connections are untouched.
    fn refuse(engine: *Engine, client_scid: []const u8, client_dcid: []const u8, peer: *posix.sockaddr.storage, peer_len: posix.socklen_t, reason: []const u8) void {
        engine.stats.connections_refused.inc();
        engine.log(.warn, 0, "connection refused: {s}", .{reason});
        const server_cid = engine.newLocalCid();
        const packet = refusal.write(engine.send_buffer, client_dcid, client_scid, server_cid.slice(), reason) catch return;
        _ = engine.socket.send(packet, peer, peer_len);
    }

    fn negotiateVersion(engine: *Engine, scid: []const u8, dcid: []const u8, peer: *posix.sockaddr.storage, peer_len: posix.socklen_t) void {
        const written = quiche.quiche_negotiate_version(scid.ptr, scid.len, dcid.ptr, dcid.len, engine.send_buffer.ptr, engine.send_buffer.len);
        if (written <= 0) return;
        engine.stats.version_negotiations.inc();
        _ = engine.socket.send(engine.send_buffer[0..@intCast(written)], peer, peer_len);
    }

    fn enableDiagnostics(engine: *Engine, quiche_conn: *quiche.Conn, serial: u64) void {
        if (engine.config.qlog_dir) |dir| {
            var path_buffer: [std.fs.max_path_bytes]u8 = undefined;
            if (std.fmt.bufPrintZ(&path_buffer, "{s}/conn-{d}.sqlog", .{ dir, serial })) |path| {
                _ = quiche.quiche_conn_set_qlog_path(quiche_conn, path.ptr, "zig-quiche-h3", "server connection");
            } else |_| {}
        }
        if (engine.config.keylog_path) |path| {
            _ = quiche.quiche_conn_set_keylog_path(quiche_conn, path.ptr);
        }
    }

    pub fn markDirty(engine: *Engine, slot: u32) void {
        const connection = engine.connections.get(slot);
        if (connection.dirty) return;
        connection.dirty = true;
        engine.dirty.appendAssumeCapacity(slot);
    }

    fn fireTimers(engine: *Engine, now_ns: u64) void {
        while (engine.timers.peek()) |next| {
            if (next.deadline_ns > now_ns) break;
            engine.timers.remove(next.slot);
            quiche.quiche_conn_on_timeout(engine.connections.get(next.slot).quiche_conn);
            engine.markDirty(next.slot);
        }
    }

    /// Flushes every connection touched this iteration. Connections marked
    /// again while flushing (send budget used up) go to the next iteration.
    fn flushDirty(engine: *Engine) void {
        if (engine.send_blocked) return;
        std.mem.swap(std.ArrayListUnmanaged(u32), &engine.dirty, &engine.dirty_next);
        engine.dirty.clearRetainingCapacity();
        for (engine.dirty_next.items) |slot| {
            engine.connections.get(slot).dirty = false;
            engine.flushConnection(slot);
        }
        engine.dirty_next.clearRetainingCapacity();
        engine.sendBatched();
    }

    /// One sendmmsg for every packet written since the last one. A full
    /// socket keeps the rest and asks epoll for writability.
    fn sendBatched(engine: *Engine) void {
        const flushed = engine.send_batch.flush(engine.socket.fd);
        engine.stats.packets_sent.add(flushed.sent);
        engine.stats.send_failures.add(flushed.dropped);
        engine.stats.packets_paced.add(flushed.paced);
        engine.stats.packets_paced_ahead.add(flushed.paced_ahead);
        if (flushed.blocked != engine.send_blocked) {
            engine.send_blocked = flushed.blocked;
            engine.poller.watchWritable(engine.socket.fd, socket_tag, flushed.blocked);
        }
    }

    fn flushConnection(engine: *Engine, slot: u32) void {
        engine.assertLoopThread();
        const connection = engine.connections.get(slot);
        paths.update(engine, slot);
        engine.http.beforeSend(slot, nowNs());
        var packets: u32 = 0;
        while (packets < max_packets_per_flush) : (packets += 1) {
            if (engine.send_batch.full()) engine.sendBatched();
            if (engine.send_blocked) {
                // Resume once the socket drains; the connection stays dirty.
                engine.markDirty(slot);
                break;
            }
            const out = engine.send_batch.next();
            var send_info: quiche.SendInfo = undefined;
            const written = quiche.quiche_conn_send(connection.quiche_conn, out.ptr, out.len, &send_info);
            if (written < 0) break;
            engine.send_batch.commit(@intCast(written), &send_info.to, send_info.to_len, timespecNs(send_info.at));
        } else engine.markDirty(slot);
        engine.http.afterSend(slot);

        if (quiche.quiche_conn_is_closed(connection.quiche_conn)) {
            engine.freeConnection(slot);
            return;
        }
        const timeout_ns = quiche.quiche_conn_timeout_as_nanos(connection.quiche_conn);
        if (timeout_ns == std.math.maxInt(u64)) engine.timers.remove(slot) else engine.timers.set(slot, nowNs() +| timeout_ns);
    }

    fn freeConnection(engine: *Engine, slot: u32) void {
        const connection = engine.connections.get(slot);
        engine.logClose(connection);
        engine.http.closeConnection(slot);
        paths.forgetAll(engine, connection.quiche_conn);
        _ = engine.cids.remove(connection.scid.slice());
        _ = engine.cids.remove(connection.odcid.slice());
        engine.peers.remove(connection.peer_key);
        engine.timers.remove(slot);
        if (connection.dirty) {
            // Keep the dirty list free of dead slots.
            for (engine.dirty.items, 0..) |dirty_slot, i| if (dirty_slot == slot) {
                _ = engine.dirty.swapRemove(i);
                break;
            };
        }
        connection.deinit();
        engine.connections.remove(slot);
        engine.stats.connections_active.dec();
    }

    fn logClose(engine: *Engine, connection: *Connection) void {
        var is_app = false;
        var code: u64 = 0;
        var reason: [*]const u8 = "";
        var reason_len: usize = 0;
        if (quiche.quiche_conn_peer_error(connection.quiche_conn, &is_app, &code, &reason, &reason_len)) {
            engine.log(.debug, connection.serial, "connection closed by peer: {s} error 0x{x} \"{s}\"", .{ if (is_app) "application" else "transport", code, reason[0..@min(reason_len, 200)] });
        } else if (quiche.quiche_conn_local_error(connection.quiche_conn, &is_app, &code, &reason, &reason_len)) {
            engine.log(.debug, connection.serial, "connection closed by us: {s} error 0x{x} \"{s}\"", .{ if (is_app) "application" else "transport", code, reason[0..@min(reason_len, 200)] });
        } else {
            engine.log(.debug, connection.serial, "connection closed (idle timeout or server stop)", .{});
        }
    }

    /// Sends CONNECTION_CLOSE (H3_NO_ERROR) to every peer, best effort, and
    /// frees every connection. Used on stop and on teardown.
    fn closeAll(engine: *Engine) void {
        // Runs on the loop thread when it exits, or on the owner's thread at
        // teardown after the loop thread was joined (or never started).
        assert(engine.loop_thread == null or engine.loop_thread.? == std.Thread.getCurrentId());
        for (engine.connections.slots, 0..) |*maybe, i| {
            const connection = if (maybe.*) |*c| c else continue;
            const reason = "server stopping";
            _ = quiche.quiche_conn_close(connection.quiche_conn, true, h3_error.no_error, reason, reason.len);
            var send_info: quiche.SendInfo = undefined;
            var packets: u32 = 0;
            while (packets < 8) : (packets += 1) {
                const written = quiche.quiche_conn_send(connection.quiche_conn, engine.send_buffer.ptr, engine.send_buffer.len, &send_info);
                if (written < 0) break;
                _ = engine.socket.send(engine.send_buffer[0..@intCast(written)], &send_info.to, send_info.to_len);
            }
            engine.freeConnection(@intCast(i));
        }
    }

    /// Queues a LOG event (h3/events.zig): the event queue is the only
    /// way out to the application.
    pub fn log(engine: *Engine, level: LogLevel, conn_id: u64, comptime format: []const u8, args: anytype) void {
        h3_events.log(&engine.http, level, conn_id, format, args);
    }
};

/// A time on the monotonic clock (quiche's send_info.at) in nanoseconds.
fn timespecNs(ts: posix.timespec) u64 {
    assert(ts.sec >= 0 and ts.nsec >= 0);
    return @as(u64, @intCast(ts.sec)) * std.time.ns_per_s + @as(u64, @intCast(ts.nsec));
}

pub fn nowNs() u64 {
    const ts = posix.clock_gettime(.MONOTONIC) catch unreachable;
    return @as(u64, @intCast(ts.sec)) * std.time.ns_per_s + @as(u64, @intCast(ts.nsec));
}
