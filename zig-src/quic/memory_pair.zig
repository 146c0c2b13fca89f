//! Two real quiche connections joined through memory (no sockets), so
//! that tests decide the order of packets, and drop some, exactly rather
//! than by racing. Used by the transport tests of the crate patch
//! (third_party/quiche/patch.py): fin_delivery_test.zig,
//! reset_stream_at_test.zig and migration_test.zig; and request_life_test.zig, which drives the HTTP/3
//! layer against a quiche client through it.

const std = @import("std");
const quiche = @import("../ffi/quiche.zig");

const testing = std.testing;
const packet_bytes = 1350;
/// More packets than one exchange in these tests ever produces.
pub const max_packets_per_turn = 1000;

pub const Endpoint = struct {
    conn: *quiche.Conn,
    address: std.net.Address,
};

/// Both ends of one QUIC connection, and the packets between them.
pub const Pair = struct {
    client: Endpoint,
    server: Endpoint,
    client_config: *quiche.Config,
    server_config: *quiche.Config,

    pub fn init() !Pair {
        return initWith(.{});
    }

    pub const Options = struct {
        /// Called on each side's config before the handshake.
        configure_client: ?*const fn (*quiche.Config) void = null,
        configure_server: ?*const fn (*quiche.Config) void = null,
        /// The server's config, made elsewhere (the pair frees it);
        /// configure_server is not called on it.
        server_config: ?*quiche.Config = null,
        /// A session the client resumes (quiche_conn_session of an earlier
        /// connection), offering its ticket.
        client_session: ?[]const u8 = null,
    };

    pub fn initWith(options: Options) !Pair {
        const cert_dir = try certificateDir();
        const client_config = try newConfig();
        errdefer quiche.quiche_config_free(client_config);
        quiche.quiche_config_verify_peer(client_config, false);
        if (options.configure_client) |configure| configure(client_config);
        const server_config = options.server_config orelse try newConfig();
        errdefer quiche.quiche_config_free(server_config);
        if (options.server_config == null) {
            if (options.configure_server) |configure| configure(server_config);
            try testing.expectEqual(@as(c_int, 0), quiche.quiche_config_load_cert_chain_from_pem_file(server_config, cert_dir.cert));
            try testing.expectEqual(@as(c_int, 0), quiche.quiche_config_load_priv_key_from_pem_file(server_config, cert_dir.key));
        }

        const client_address = try std.net.Address.parseIp4("127.0.0.1", 40001);
        const server_address = try std.net.Address.parseIp4("127.0.0.1", 40002);
        const client_scid = [_]u8{0xc1} ** 16;
        const server_scid = [_]u8{0x5e} ** 16;
        const client_conn = quiche.quiche_connect("localhost", &client_scid, client_scid.len, &client_address.any, client_address.getOsSockLen(), &server_address.any, server_address.getOsSockLen(), client_config) orelse return error.ConnectFailed;
        if (options.client_session) |session| {
            if (quiche.quiche_conn_set_session(client_conn, session.ptr, session.len) != 0) return error.SessionRejected;
        }
        const server_conn = quiche.quiche_accept(&server_scid, server_scid.len, null, 0, &server_address.any, server_address.getOsSockLen(), &client_address.any, client_address.getOsSockLen(), server_config) orelse return error.AcceptFailed;
        var pair = Pair{
            .client = .{ .conn = client_conn, .address = client_address },
            .server = .{ .conn = server_conn, .address = server_address },
            .client_config = client_config,
            .server_config = server_config,
        };
        var rounds: u32 = 0;
        while (!quiche.quiche_conn_is_established(client_conn) or !quiche.quiche_conn_is_established(server_conn)) : (rounds += 1) {
            try testing.expect(rounds < 20);
            _ = pair.exchange();
        }
        _ = pair.exchange();
        return pair;
    }

    pub fn deinit(pair: *Pair) void {
        quiche.quiche_conn_free(pair.client.conn);
        quiche.quiche_conn_free(pair.server.conn);
        quiche.quiche_config_free(pair.client_config);
        quiche.quiche_config_free(pair.server_config);
    }

    /// The client's session (with the server's latest ticket), copied.
    pub fn clientSession(pair: *const Pair, allocator: std.mem.Allocator) ![]u8 {
        var bytes: [*]const u8 = undefined;
        var len: usize = 0;
        quiche.quiche_conn_session(pair.client.conn, &bytes, &len);
        if (len == 0) return error.NoSession;
        return allocator.dupe(u8, bytes[0..len]);
    }

    /// Moves every packet `from` has to send into `to`; returns how many.
    pub fn deliver(from: *Endpoint, to: *Endpoint) u32 {
        var count: u32 = 0;
        var buffer: [packet_bytes]u8 = undefined;
        while (count < max_packets_per_turn) : (count += 1) {
            var send_info: quiche.SendInfo = undefined;
            const written = quiche.quiche_conn_send(from.conn, &buffer, buffer.len, &send_info);
            if (written < 0) break;
            var recv_info = quiche.RecvInfo{
                .from = &from.address.any,
                .from_len = from.address.getOsSockLen(),
                .to = &to.address.any,
                .to_len = to.address.getOsSockLen(),
            };
            _ = quiche.quiche_conn_recv(to.conn, &buffer, @intCast(written), &recv_info);
        }
        return count;
    }

    /// Takes the packets `from` has to send without delivering them.
    pub fn hold(from: *Endpoint, out: *std.ArrayList([]u8), allocator: std.mem.Allocator) !void {
        var buffer: [packet_bytes]u8 = undefined;
        for (0..max_packets_per_turn) |_| {
            var send_info: quiche.SendInfo = undefined;
            const written = quiche.quiche_conn_send(from.conn, &buffer, buffer.len, &send_info);
            if (written < 0) return;
            try out.append(allocator, try allocator.dupe(u8, buffer[0..@intCast(written)]));
        }
        return error.TooManyPackets;
    }

    pub fn receive(to: *Endpoint, from: *const Endpoint, packet: []u8) void {
        var recv_info = quiche.RecvInfo{
            .from = @constCast(&from.address.any),
            .from_len = from.address.getOsSockLen(),
            .to = &to.address.any,
            .to_len = to.address.getOsSockLen(),
        };
        _ = quiche.quiche_conn_recv(to.conn, packet.ptr, packet.len, &recv_info);
    }

    /// One round trip of everything pending both ways.
    pub fn exchange(pair: *Pair) u32 {
        return deliver(&pair.client, &pair.server) + deliver(&pair.server, &pair.client);
    }
};

pub const CertificateDir = struct { cert: [*:0]const u8, key: [*:0]const u8 };

/// The development certificate (scripts/gen-dev-cert.sh makes it when missing).
pub fn certificateDir() !CertificateDir {
    const result = try std.process.Child.run(.{ .allocator = testing.allocator, .argv = &.{"scripts/gen-dev-cert.sh"} });
    defer testing.allocator.free(result.stdout);
    defer testing.allocator.free(result.stderr);
    try testing.expectEqual(std.process.Child.Term{ .Exited = 0 }, result.term);
    return .{ .cert = "certs/dev/cert.pem", .key = "certs/dev/key.pem" };
}

fn newConfig() !*quiche.Config {
    const config = quiche.quiche_config_new(quiche.protocol_version) orelse return error.ConfigFailed;
    // h3: the layer tests drive HTTP/3, and a connection that negotiates
    // anything else is a raw QUIC connection (h3/raw_connections.zig).
    const protos = "\x02h3";
    _ = quiche.quiche_config_set_application_protos(config, protos, protos.len);
    quiche.quiche_config_set_max_idle_timeout(config, 30_000);
    quiche.quiche_config_set_initial_max_data(config, 1 << 20);
    quiche.quiche_config_set_initial_max_stream_data_bidi_local(config, 1 << 18);
    quiche.quiche_config_set_initial_max_stream_data_bidi_remote(config, 1 << 18);
    quiche.quiche_config_set_initial_max_stream_data_uni(config, 1 << 18);
    quiche.quiche_config_set_initial_max_streams_bidi(config, 16);
    quiche.quiche_config_set_initial_max_streams_uni(config, 16);
    return config;
}

/// Reads what `conn` has on `stream_id`; returns the bytes and whether FIN came.
pub fn drain(conn: *quiche.Conn, stream_id: u64, out: *std.ArrayList(u8)) !bool {
    var buffer: [4096]u8 = undefined;
    for (0..max_packets_per_turn) |_| {
        var fin = false;
        var error_code: u64 = 0;
        const read = quiche.quiche_conn_stream_recv(conn, stream_id, &buffer, buffer.len, &fin, &error_code);
        if (read < 0) return false;
        try out.appendSlice(testing.allocator, buffer[0..@intCast(read)]);
        if (fin) return true;
    }
    return error.TooManyReads;
}

pub fn send(conn: *quiche.Conn, stream_id: u64, bytes: []const u8, fin: bool) !void {
    var error_code: u64 = 0;
    const written = quiche.quiche_conn_stream_send(conn, stream_id, bytes.ptr, bytes.len, fin, &error_code);
    try testing.expectEqual(@as(isize, @intCast(bytes.len)), written);
}

pub fn freePackets(packets: *std.ArrayList([]u8)) void {
    for (packets.items) |packet| testing.allocator.free(packet);
    packets.deinit(testing.allocator);
}
