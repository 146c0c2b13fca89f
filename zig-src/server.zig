//! Server lifecycle: everything that can fail (config, TLS files, socket
//! bind) fails in `create`, so the application gets a precise error before
//! any thread exists. `start` spawns the loop thread; `stop` joins it.
//! State transitions are serialised by the application (the C ABI documents
//! that create/start/stop/destroy of one server are not called concurrently).

const std = @import("std");
const assert = std.debug.assert;
const posix = std.posix;
const linux = std.os.linux;
const quiche = @import("ffi/quiche.zig");
const config_mod = @import("config.zig");
const Config = config_mod.Config;
const Stats = @import("stats.zig").Stats;
const Socket = @import("net/udp.zig").Socket;
const Poller = @import("net/poller.zig").Poller;
const Router = @import("h3/router.zig");
const RecordQueue = @import("queue/record_queue.zig").RecordQueue;
const wire = @import("queue/wire.zig");
const Engine = @import("quic/engine.zig").Engine;
const ticket_keys = @import("quic/ticket_keys.zig");
const TicketKeys = ticket_keys.TicketKeys;
const paths = @import("quic/paths.zig");

pub const CreateError = Config.Error || error{
    OutOfMemory,
    QuicheConfigFailed,
    CertNotFound,
    CertInvalid,
    KeyNotFound,
    KeyInvalid,
    AddressInUse,
    AddressNotAvailable,
    PermissionDenied,
    SocketFailed,
    TicketKeyCallbackFailed,
};

pub const State = enum { created, running, stopped };

pub const Server = struct {
    allocator: std.mem.Allocator,
    /// Owns the copies of every string in `config`.
    arena: std.heap.ArenaAllocator,
    config: Config,
    quiche_config: *quiche.Config,
    /// The session ticket keys when the application gave one (ticket_key_hex);
    /// null: BoringSSL's own random key. Installed on quiche_config's SSL_CTX,
    /// which it outlives.
    ticket_keys: ?TicketKeys = null,
    socket: Socket,
    poller: Poller,
    doorbell_fd: i32,
    router: Router.Router = .{},
    /// Routes may be added while the loop runs; the loop takes this lock
    /// only around one match.
    router_mutex: std.Thread.Mutex = .{},
    doorbell_callback: ?Engine.Doorbell = null,
    /// Guards doorbell_callback, which may change while the loop runs.
    doorbell_mutex: std.Thread.Mutex = .{},
    shutdown_deadline_ns: std.atomic.Value(u64) = .init(0),
    events: RecordQueue,
    commands: RecordQueue,
    stats: Stats = .{},
    stop_requested: std.atomic.Value(bool) = .init(false),
    engine: Engine,
    thread: ?std.Thread = null,
    state: State = .created,

    pub fn create(allocator: std.mem.Allocator, config_in: Config) CreateError!*Server {
        try config_in.validate();
        const server = try allocator.create(Server);
        errdefer allocator.destroy(server);
        server.* = .{
            .allocator = allocator,
            .arena = .init(allocator),
            .config = undefined,
            .quiche_config = undefined,
            .socket = undefined,
            .poller = undefined,
            .doorbell_fd = -1,
            .events = undefined,
            .commands = undefined,
            .engine = undefined,
        };
        errdefer server.arena.deinit();
        server.config = try copyConfig(server.arena.allocator(), config_in);
        const config = &server.config;

        if (config_mod.ticketKey(config)) |key| {
            var bytes = key;
            defer std.crypto.secureZero(u8, &bytes);
            server.ticket_keys = TicketKeys.init(&bytes);
        }
        server.quiche_config = try makeQuicheConfig(config, if (server.ticket_keys) |*keys| keys else null);
        errdefer quiche.quiche_config_free(server.quiche_config);
        // From here the key lives in ticket_keys alone, not in a string too.
        if (config.ticket_key_hex) |hex| {
            std.crypto.secureZero(u8, @constCast(hex));
            config.ticket_key_hex = null;
        }

        if (config.socket_fd != 0) {
            // A worker: serve on the socket the steering object bound for it.
            server.socket = try Socket.adopt(config.socket_fd);
        } else {
            const address = config_mod.parseBindAddress(config.bind_address, config.port) catch return error.BindAddressInvalid;
            server.socket = try Socket.bind(address, 4 * 1024 * 1024);
        }
        errdefer server.socket.close();
        server.poller = Poller.init() catch return error.SocketFailed;
        errdefer server.poller.deinit();
        server.doorbell_fd = posix.eventfd(0, linux.EFD.NONBLOCK | linux.EFD.CLOEXEC) catch return error.SocketFailed;
        errdefer posix.close(server.doorbell_fd);

        server.events = try RecordQueue.init(allocator, std.mem.alignForward(usize, config.event_queue_bytes, wire.alignment));
        errdefer server.events.deinit(allocator);
        server.commands = try RecordQueue.init(allocator, std.mem.alignForward(usize, config.command_queue_bytes, wire.alignment));
        errdefer server.commands.deinit(allocator);
        try server.engine.init(allocator, .{
            .config = config,
            .quiche_config = server.quiche_config,
            .socket = &server.socket,
            .poller = &server.poller,
            .router = &server.router,
            .events = &server.events,
            .commands = &server.commands,
            .doorbell_fd = server.doorbell_fd,
            .stop_requested = &server.stop_requested,
            .stats = &server.stats,
            .router_mutex = &server.router_mutex,
            .doorbell_callback = &server.doorbell_callback,
            .doorbell_mutex = &server.doorbell_mutex,
            .shutdown_deadline_ns = &server.shutdown_deadline_ns,
        });
        return server;
    }

    /// Stops the loop if it runs, then frees everything `create` made.
    pub fn destroy(server: *Server) void {
        server.stop();
        const allocator = server.allocator;
        server.engine.deinit();
        server.events.deinit(allocator);
        server.commands.deinit(allocator);
        server.router.deinit(allocator);
        posix.close(server.doorbell_fd);
        server.poller.deinit();
        server.socket.close();
        quiche.quiche_config_free(server.quiche_config);
        if (server.ticket_keys) |*keys| std.crypto.secureZero(u8, std.mem.asBytes(keys));
        server.arena.deinit();
        allocator.destroy(server);
    }

    pub fn port(server: *const Server) u16 {
        return server.socket.local.getPort();
    }

    /// Routes may be added before or while the loop runs.
    pub fn addRoute(server: *Server, method: []const u8, pattern: []const u8, route_id: u32, target: Router.Target) !void {
        if (server.state == .stopped) return error.InvalidState;
        server.router_mutex.lock();
        defer server.router_mutex.unlock();
        try server.router.addTarget(server.allocator, method, pattern, route_id, target);
    }

    /// Callback mode: the loop calls `doorbell` instead of signalling the
    /// eventfd (null: the eventfd again). Also while the loop runs: a ring
    /// already under way may still call the previous doorbell, so it must
    /// stay callable until the server is stopped.
    pub fn setDoorbell(server: *Server, doorbell: ?Engine.Doorbell) !void {
        if (server.state == .stopped) return error.InvalidState;
        server.doorbell_mutex.lock();
        defer server.doorbell_mutex.unlock();
        server.doorbell_callback = doorbell;
    }

    /// Asks the loop to drain gracefully within `timeout_ms` and returns at
    /// once; the loop announces the end with a SHUTDOWN event, after which
    /// `stop` joins it without delay.
    pub fn shutdown(server: *Server, timeout_ms: u64) !void {
        if (server.state != .running) return error.InvalidState;
        const deadline = @import("quic/engine.zig").nowNs() +| timeout_ms *| std.time.ns_per_ms;
        server.shutdown_deadline_ns.store(@max(deadline, 1), .release);
        server.poller.wake();
    }

    /// Rotates the session ticket key (any thread, any state but stopped):
    /// `key` seals new tickets, the key it replaces still opens the tickets
    /// it sealed, the one before is forgotten. Only for a server created
    /// with a ticket key: BoringSSL's own key rotates by itself.
    pub fn setTicketKey(server: *Server, key: []const u8) error{ InvalidState, TicketKeyInvalid }!void {
        if (server.state == .stopped) return error.InvalidState;
        const keys = if (server.ticket_keys) |*keys| keys else return error.InvalidState;
        if (key.len != ticket_keys.key_bytes) return error.TicketKeyInvalid;
        keys.rotate(key[0..ticket_keys.key_bytes]);
    }

    pub fn start(server: *Server) !void {
        if (server.state != .created) return error.InvalidState;
        const thread = try std.Thread.spawn(.{}, Engine.run, .{&server.engine});
        // A name makes the loop thread visible in /proc, top and gdb.
        thread.setName("zig-h3-loop") catch {};
        server.thread = thread;
        server.state = .running;
    }

    /// Immediate stop: every connection is closed with H3_NO_ERROR and the
    /// loop thread is joined. Idempotent.
    pub fn stop(server: *Server) void {
        if (server.state != .running) {
            if (server.state == .created) server.state = .stopped;
            return;
        }
        server.stop_requested.store(true, .release);
        server.poller.wake();
        server.thread.?.join();
        server.thread = null;
        server.state = .stopped;
    }

    /// Copies whole event records into `out`. Safe from any one thread
    /// (normally the application's). Wakes the loop when it had paused a
    /// request body because the queue was full.
    pub fn poll(server: *Server, out: []u8) error{BufferTooSmall}!usize {
        const drained = server.events.drain(out);
        if (drained.bytes > 0) server.stats.event_drains.inc();
        if (drained.producer_was_refused) server.poller.wake();
        if (drained.bytes == 0 and server.events.nextRecordLength() > out.len) return error.BufferTooSmall;
        return drained.bytes;
    }

    /// Validates and queues a batch of command records; returns how many
    /// bytes were taken (whole records), fewer than given when the queue
    /// filled up. Wakes the loop once per batch.
    pub fn submit(server: *Server, batch: []const u8) error{MalformedCommand}!usize {
        var offset: usize = 0;
        var wake = false;
        while (wire.nextCommand(batch, offset) catch return error.MalformedCommand) |command| {
            const was_empty = server.commands.push(command.record) catch break;
            wake = wake or was_empty;
            offset = command.next_offset;
        }
        if (wake) server.poller.wake();
        return offset;
    }
};

fn copyConfig(arena: std.mem.Allocator, config: Config) !Config {
    var copy = config;
    copy.cert_path = try arena.dupeZ(u8, config.cert_path);
    copy.key_path = try arena.dupeZ(u8, config.key_path);
    copy.bind_address = try arena.dupeZ(u8, config.bind_address);
    copy.cc_algorithm = try arena.dupeZ(u8, config.cc_algorithm);
    if (config.qlog_dir) |dir| copy.qlog_dir = try arena.dupeZ(u8, dir);
    if (config.keylog_path) |path| copy.keylog_path = try arena.dupeZ(u8, path);
    if (config.quic_lb_server_id_hex) |hex| copy.quic_lb_server_id_hex = try arena.dupeZ(u8, hex);
    if (config.quic_lb_key_hex) |hex| copy.quic_lb_key_hex = try arena.dupeZ(u8, hex);
    if (config.ticket_key_hex) |hex| copy.ticket_key_hex = try arena.dupeZ(u8, hex);
    if (config.retry_key_hex) |hex| copy.retry_key_hex = try arena.dupeZ(u8, hex);
    if (config.application_protos) |list| copy.application_protos = try arena.dupeZ(u8, list);
    return copy;
}

pub fn makeQuicheConfig(config: *const Config, keys: ?*TicketKeys) CreateError!*quiche.Config {
    const quiche_config = quiche.quiche_config_new(quiche.protocol_version) orelse return error.QuicheConfigFailed;
    errdefer quiche.quiche_config_free(quiche_config);
    std.fs.cwd().access(config.cert_path, .{}) catch return error.CertNotFound;
    if (quiche.quiche_config_load_cert_chain_from_pem_file(quiche_config, config.cert_path.ptr) != 0) return error.CertInvalid;
    std.fs.cwd().access(config.key_path, .{}) catch return error.KeyNotFound;
    if (quiche.quiche_config_load_priv_key_from_pem_file(quiche_config, config.key_path.ptr) != 0) return error.KeyInvalid;
    // h3 and the application's raw QUIC protocols. quiche picks the first
    // of the client's list that is ours; when none is, BoringSSL ends the
    // handshake with the no_application_protocol alert (QUIC requires ALPN).
    var alpn_buffer: [Config.max_alpn_wire_bytes]u8 = undefined;
    const alpn = config.alpnWire(&alpn_buffer) catch return error.QuicheConfigFailed;
    if (quiche.quiche_config_set_application_protos(quiche_config, alpn.ptr, alpn.len) != 0) return error.QuicheConfigFailed;
    if (quiche.quiche_config_set_cc_algorithm_name(quiche_config, config.cc_algorithm.ptr) != 0) return error.CcAlgorithmInvalid;
    quiche.quiche_config_verify_peer(quiche_config, false);
    quiche.quiche_config_grease(quiche_config, config.grease);
    quiche.quiche_config_set_max_idle_timeout(quiche_config, config.idle_timeout_ms);
    quiche.quiche_config_set_max_recv_udp_payload_size(quiche_config, config.max_recv_udp_payload_size);
    quiche.quiche_config_set_max_send_udp_payload_size(quiche_config, config.max_send_udp_payload_size);
    quiche.quiche_config_set_initial_max_data(quiche_config, config.initial_max_data);
    quiche.quiche_config_set_initial_max_stream_data_bidi_local(quiche_config, config.initial_max_stream_data_bidi_local);
    quiche.quiche_config_set_initial_max_stream_data_bidi_remote(quiche_config, config.initial_max_stream_data_bidi_remote);
    quiche.quiche_config_set_initial_max_stream_data_uni(quiche_config, config.initial_max_stream_data_uni);
    quiche.quiche_config_set_initial_max_streams_bidi(quiche_config, config.initial_max_streams_bidi);
    quiche.quiche_config_set_initial_max_streams_uni(quiche_config, config.initial_max_streams_uni);
    quiche.quiche_config_set_disable_active_migration(quiche_config, config.disable_active_migration);
    quiche.quiche_config_set_active_connection_id_limit(quiche_config, paths.active_connection_id_limit);
    quiche.quiche_config_enable_pacing(quiche_config, config.enable_pacing);
    if (config.enable_dgram) quiche.quiche_config_enable_dgram(quiche_config, true, config.dgram_recv_queue_len, config.dgram_send_queue_len);
    // RESET_STREAM_AT (third_party/quiche/patch.py): draft-16 WebTransport
    // clients require the transport parameter, and reset their streams this way.
    if (config.enable_webtransport) quiche.quiche_config_enable_reset_stream_at(quiche_config, true);
    if (config.keylog_path != null) quiche.quiche_config_log_keys(quiche_config);
    try configureResumption(quiche_config, config, keys);
    return quiche_config;
}

/// Session tickets and 0-RTT. BoringSSL issues tickets by default, sealed
/// with a random key of this SSL_CTX (one per server) that it rotates every
/// two days, keeping the previous one. Configured keys replace that
/// (quic/ticket_keys.zig): every server given the same bytes resumes the
/// others' tickets, the application rotates them (`setTicketKey`), and a
/// ticket sealed with any other key falls back to a full handshake.
fn configureResumption(quiche_config: *quiche.Config, config: *const Config, keys: ?*TicketKeys) CreateError!void {
    assert((keys != null) == (config.ticket_key_hex != null));
    if (keys) |configured| try ticket_keys.install(@ptrCast(quiche.quiche_config_ssl_ctx(quiche_config)), configured);
    // Tickets then carry max_early_data, so clients may send 0-RTT with them.
    if (config.enable_early_data) quiche.quiche_config_enable_early_data(quiche_config);
}

// The server's own QUIC configuration, tested here rather than beside the
// patch's tests in quic/: the transport layer must not import the server.
const memory_pair = @import("quic/memory_pair.zig");

fn speakH3(config: *quiche.Config) void {
    const alpn = quiche.h3_application_protocol;
    _ = quiche.quiche_config_set_application_protos(config, alpn, alpn.len);
}

test "the library's server advertises reset_stream_at when WebTransport is enabled, and only then" {
    const cert_dir = try memory_pair.certificateDir();
    for ([_]bool{ false, true }) |webtransport| {
        const config: Config = .{
            .cert_path = std.mem.span(cert_dir.cert),
            .key_path = std.mem.span(cert_dir.key),
            .enable_dgram = webtransport,
            .dgram_recv_queue_len = 16,
            .dgram_send_queue_len = 16,
            .enable_webtransport = webtransport,
        };
        var pair = try memory_pair.Pair.initWith(.{ .configure_client = speakH3, .server_config = try makeQuicheConfig(&config, null) });
        defer pair.deinit();
        try std.testing.expectEqual(webtransport, quiche.quiche_conn_peer_supports_reset_stream_at(pair.client.conn));
    }
}

/// A server config given `key` (and rotated to each of `rotations`), whose
/// keys live in `keys`.
fn configWithTicketKey(cert_dir: memory_pair.CertificateDir, keys: *TicketKeys, key: *const [ticket_keys.key_bytes]u8, rotations: []const [ticket_keys.key_bytes]u8) !*quiche.Config {
    const hex = std.fmt.bytesToHex(key.*, .lower) ++ [_]u8{0};
    const config: Config = .{ .cert_path = std.mem.span(cert_dir.cert), .key_path = std.mem.span(cert_dir.key), .ticket_key_hex = hex[0 .. hex.len - 1 :0] };
    try config.validate();
    keys.* = TicketKeys.init(key);
    for (rotations) |*next| keys.rotate(next);
    return makeQuicheConfig(&config, keys);
}

test "a ticket resumes on every server given the same key, still after one rotation, not after two nor under another key" {
    const allocator = std.testing.allocator;
    const cert_dir = try memory_pair.certificateDir();
    const k1 = [_]u8{0x11} ** ticket_keys.key_bytes;
    const k2 = [_]u8{0x22} ** ticket_keys.key_bytes;
    const k3 = [_]u8{0x33} ** ticket_keys.key_bytes;
    var issuer_keys: TicketKeys = undefined;
    var first = try memory_pair.Pair.initWith(.{ .configure_client = speakH3, .server_config = try configWithTicketKey(cert_dir, &issuer_keys, &k1, &.{}) });
    try std.testing.expect(!quiche.quiche_conn_is_resumed(first.server.conn));
    const session = try first.clientSession(allocator);
    defer allocator.free(session);
    first.deinit();

    const cases = [_]struct { key: *const [ticket_keys.key_bytes]u8, rotations: []const [ticket_keys.key_bytes]u8, resumed: bool }{
        .{ .key = &k1, .rotations = &.{}, .resumed = true }, // another server, same key
        .{ .key = &k1, .rotations = &.{k2}, .resumed = true }, // k1 is the previous key
        .{ .key = &k1, .rotations = &.{ k2, k3 }, .resumed = false }, // k1 was forgotten
        .{ .key = &k3, .rotations = &.{}, .resumed = false }, // another fleet
    };
    for (cases) |case| {
        var keys: TicketKeys = undefined;
        var pair = try memory_pair.Pair.initWith(.{ .configure_client = speakH3, .server_config = try configWithTicketKey(cert_dir, &keys, case.key, case.rotations), .client_session = session });
        defer pair.deinit();
        try std.testing.expectEqual(case.resumed, quiche.quiche_conn_is_resumed(pair.server.conn));
        try std.testing.expectEqual(case.resumed, quiche.quiche_conn_is_resumed(pair.client.conn));
    }
}

test "a client that resumed with the previous key leaves with a ticket sealed with the current one" {
    const allocator = std.testing.allocator;
    const cert_dir = try memory_pair.certificateDir();
    const k1 = [_]u8{0x11} ** ticket_keys.key_bytes;
    const k2 = [_]u8{0x22} ** ticket_keys.key_bytes;
    var keys: [3]TicketKeys = undefined;
    var first = try memory_pair.Pair.initWith(.{ .configure_client = speakH3, .server_config = try configWithTicketKey(cert_dir, &keys[0], &k1, &.{}) });
    const old_session = try first.clientSession(allocator);
    defer allocator.free(old_session);
    first.deinit();

    var rotated = try memory_pair.Pair.initWith(.{ .configure_client = speakH3, .server_config = try configWithTicketKey(cert_dir, &keys[1], &k1, &.{k2}), .client_session = old_session });
    try std.testing.expect(quiche.quiche_conn_is_resumed(rotated.server.conn));
    const new_session = try rotated.clientSession(allocator);
    defer allocator.free(new_session);
    rotated.deinit();
    try std.testing.expect(!std.mem.eql(u8, old_session, new_session));

    // A server that only knows k2 opens it.
    var only_k2 = try memory_pair.Pair.initWith(.{ .configure_client = speakH3, .server_config = try configWithTicketKey(cert_dir, &keys[2], &k2, &.{}), .client_session = new_session });
    defer only_k2.deinit();
    try std.testing.expect(quiche.quiche_conn_is_resumed(only_k2.server.conn));
}
