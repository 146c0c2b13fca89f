//! h3load: a native HTTP/3 load generator on quiche's client API, so the
//! client is not what a benchmark measures. One thread, epoll, one
//! connected UDP socket per connection. Prints one JSON object.
//!
//!   h3load --port P [--host 127.0.0.1] [--path /hello] [--connections C]
//!          [--streams S] [--requests N | --duration-ms D] [--method GET|POST]
//!          [--body-bytes B] [--new-connection-per-request]
//!          [--datagrams N --datagram-size B --window W] [--idle-ms T]
//!
//! --idle-ms T opens the connections, prints "established" on stderr once
//! all are up, then holds them idle for T ms.

const std = @import("std");
const posix = std.posix;
const linux = std.os.linux;
const quiche = @import("quiche");
const batch = @import("batch");

const Options = struct {
    host: []const u8 = "127.0.0.1",
    port: u16 = 4433,
    path: []const u8 = "/hello",
    method: []const u8 = "GET",
    connections: u32 = 1,
    streams: u32 = 1,
    requests: u64 = 0,
    duration_ms: u64 = 0,
    body_bytes: u64 = 0,
    new_connection_per_request: bool = false,
    datagrams: u64 = 0,
    datagram_size: u32 = 64,
    window: u32 = 16,
    idle_ms: u64 = 0,
};

const max_streams_per_connection = 256;
const Stream = struct { id: u64, start_ns: u64, body_left: u64, status: u16 = 0 };

const Conn = struct {
    fd: posix.socket_t,
    quic: *quiche.Conn,
    h3: ?*quiche.H3Conn = null,
    streams: [max_streams_per_connection]Stream = undefined,
    stream_count: u32 = 0,
    deadline_ns: u64 = std.math.maxInt(u64),
    requests_started: u64 = 0,
    closing: bool = false,
    established_counted: bool = false,
};

const Totals = struct {
    started: u64 = 0,
    completed: u64 = 0,
    errors: u64 = 0,
    bytes_received: u64 = 0,
    bytes_sent: u64 = 0,
    handshakes: u64 = 0,
    datagrams_sent: u64 = 0,
    datagrams_echoed: u64 = 0,
    latencies_us: std.ArrayListUnmanaged(u32) = .empty,
};

var options: Options = .{};
var totals: Totals = .{};
var config: *quiche.Config = undefined;
var h3_config: *quiche.H3Config = undefined;
var peer: std.net.Address = undefined;
var buffer: [65536]u8 = undefined;
var start_ns: u64 = 0;
var established_at_ns: u64 = 0;
var stop_issuing = false;
var receive_batch: batch.ReceiveBatch = undefined;

fn nowNs() u64 {
    const ts = posix.clock_gettime(.MONOTONIC) catch unreachable;
    return @as(u64, @intCast(ts.sec)) * std.time.ns_per_s + @as(u64, @intCast(ts.nsec));
}

pub fn main() !void {
    const allocator = std.heap.c_allocator;
    try parseArgs(allocator);
    peer = try std.net.Address.parseIp(options.host, options.port);
    config = try makeConfig();
    h3_config = quiche.quiche_h3_config_new() orelse return error.H3Config;

    receive_batch = try batch.ReceiveBatch.init(allocator, 64, 65536);
    const epoll_fd = try posix.epoll_create1(linux.EPOLL.CLOEXEC);
    const conns = try allocator.alloc(?Conn, options.connections);
    @memset(conns, null);
    start_ns = nowNs();
    for (conns, 0..) |*slot, i| slot.* = try openConnection(epoll_fd, @intCast(i));

    var events: [256]linux.epoll_event = undefined;
    while (true) {
        const now = nowNs();
        if (options.duration_ms > 0 and now - start_ns >= options.duration_ms * std.time.ns_per_ms) stop_issuing = true;
        if (options.idle_ms > 0 and established_at_ns == 0 and allEstablished(conns)) {
            // Announced on stderr, so a watcher can measure the server
            // while every connection is up and idle.
            established_at_ns = now;
            _ = posix.write(2, "established\n") catch {};
        }
        if (options.idle_ms > 0 and established_at_ns > 0 and now - established_at_ns >= options.idle_ms * std.time.ns_per_ms) break;
        if (finished(conns)) break;
        const ready = posix.epoll_wait(epoll_fd, &events, waitMs(conns, now));
        for (events[0..ready]) |event| receive(&conns[event.data.u32].?);
        const after = nowNs();
        for (conns, 0..) |*slot, i| {
            const conn = if (slot.*) |*c| c else continue;
            if (after >= conn.deadline_ns) quiche.quiche_conn_on_timeout(conn.quic);
            drive(conn, allocator);
            flush(conn);
            if (quiche.quiche_conn_is_closed(conn.quic)) {
                posix.close(conn.fd);
                const must_reopen = options.new_connection_per_request and !stop_issuing and !requestsExhausted();
                if (!conn.established_counted) totals.errors += 1;
                quiche.quiche_conn_free(conn.quic);
                if (conn.h3) |h| quiche.quiche_h3_conn_free(h);
                slot.* = if (must_reopen) try openConnection(epoll_fd, @intCast(i)) else null;
            }
        }
    }
    const seconds = @as(f64, @floatFromInt(nowNs() - start_ns)) / std.time.ns_per_s;
    try report(seconds);
}

fn requestsExhausted() bool {
    return options.requests > 0 and totals.started >= options.requests;
}

fn allEstablished(conns: []?Conn) bool {
    for (conns) |slot| if (slot) |c| if (!quiche.quiche_conn_is_established(c.quic)) return false;
    return true;
}

fn finished(conns: []?Conn) bool {
    if (options.idle_ms > 0) return false;
    for (conns) |slot| if (slot) |c| {
        if (options.datagrams > 0) {
            if (totals.datagrams_sent < options.datagrams or (totals.datagrams_echoed < totals.datagrams_sent and nowNs() - lastDatagramNs < std.time.ns_per_s)) return false;
            continue;
        }
        if (c.stream_count > 0) return false;
        if (!stop_issuing and !requestsExhausted()) return false;
    };
    return true;
}

fn waitMs(conns: []?Conn, now: u64) i32 {
    var next: u64 = std.math.maxInt(u64);
    for (conns) |slot| if (slot) |c| {
        next = @min(next, c.deadline_ns);
    };
    if (next <= now) return 0;
    return @intCast(@min((next - now) / std.time.ns_per_ms + 1, 100));
}

fn makeConfig() !*quiche.Config {
    const c = quiche.quiche_config_new(quiche.protocol_version) orelse return error.Config;
    _ = quiche.quiche_config_set_application_protos(c, quiche.h3_application_protocol, quiche.h3_application_protocol.len);
    quiche.quiche_config_verify_peer(c, false);
    quiche.quiche_config_set_max_idle_timeout(c, 30_000);
    quiche.quiche_config_set_max_recv_udp_payload_size(c, 65527);
    quiche.quiche_config_set_max_send_udp_payload_size(c, 1350);
    quiche.quiche_config_set_initial_max_data(c, 1 << 30);
    quiche.quiche_config_set_initial_max_stream_data_bidi_local(c, 64 << 20);
    quiche.quiche_config_set_initial_max_stream_data_bidi_remote(c, 64 << 20);
    quiche.quiche_config_set_initial_max_stream_data_uni(c, 1 << 20);
    quiche.quiche_config_set_initial_max_streams_bidi(c, 1024);
    quiche.quiche_config_set_initial_max_streams_uni(c, 100);
    quiche.quiche_config_set_disable_active_migration(c, true);
    if (options.datagrams > 0) quiche.quiche_config_enable_dgram(c, true, 4096, 4096);
    return c;
}

fn openConnection(epoll_fd: i32, index: u32) !Conn {
    const fd = try posix.socket(peer.any.family, posix.SOCK.DGRAM | posix.SOCK.NONBLOCK | posix.SOCK.CLOEXEC, 0);
    // As root, RCVBUFFORCE passes rmem_max: a load generator that drops
    // packets would measure itself.
    const size = std.mem.toBytes(@as(c_int, 16 << 20));
    posix.setsockopt(fd, posix.SOL.SOCKET, posix.SO.RCVBUFFORCE, &size) catch
        posix.setsockopt(fd, posix.SOL.SOCKET, posix.SO.RCVBUF, &size) catch {};
    try posix.connect(fd, &peer.any, peer.getOsSockLen());
    var local: std.net.Address = undefined;
    var local_len: posix.socklen_t = @sizeOf(std.net.Address);
    try posix.getsockname(fd, &local.any, &local_len);
    var scid: [16]u8 = undefined;
    std.crypto.random.bytes(&scid);
    const quic = quiche.quiche_connect("localhost", &scid, scid.len, &local.any, local_len, &peer.any, peer.getOsSockLen(), config) orelse return error.Connect;
    var event = linux.epoll_event{ .events = linux.EPOLL.IN, .data = .{ .u32 = index } };
    try posix.epoll_ctl(epoll_fd, linux.EPOLL.CTL_ADD, fd, &event);
    var conn = Conn{ .fd = fd, .quic = quic };
    flush(&conn);
    return conn;
}

fn receive(conn: *Conn) void {
    var local: std.net.Address = undefined;
    var local_len: posix.socklen_t = @sizeOf(std.net.Address);
    posix.getsockname(conn.fd, &local.any, &local_len) catch return;
    const info = quiche.RecvInfo{ .from = @constCast(&peer.any), .from_len = peer.getOsSockLen(), .to = &local.any, .to_len = local_len };
    while (true) {
        const count = receive_batch.receive(conn.fd);
        if (count == 0) return;
        for (0..count) |i| {
            const datagram = receive_batch.datagram(i);
            _ = quiche.quiche_conn_recv(conn.quic, datagram.data.ptr, datagram.data.len, &info);
        }
        // Process what arrived before reading more, as a real client would.
        if (count < receive_batch.headers.len) return;
    }
}

var lastDatagramNs: u64 = 0;

fn drive(conn: *Conn, allocator: std.mem.Allocator) void {
    if (!quiche.quiche_conn_is_established(conn.quic)) return;
    if (!conn.established_counted) {
        conn.established_counted = true;
        totals.handshakes += 1;
    }
    if (options.idle_ms > 0) return;
    if (options.datagrams > 0) return driveDatagrams(conn);
    if (conn.h3 == null) conn.h3 = quiche.quiche_h3_conn_new_with_transport(conn.quic, h3_config) orelse return;
    pollH3(conn, allocator);
    sendBodies(conn);
    startRequests(conn);
}

fn driveDatagrams(conn: *Conn) void {
    while (true) {
        const n = quiche.quiche_conn_dgram_recv(conn.quic, &buffer, buffer.len);
        if (n < 0) break;
        totals.datagrams_echoed += 1;
        lastDatagramNs = nowNs();
    }
    var payload: [65536]u8 = undefined;
    while (totals.datagrams_sent < options.datagrams and totals.datagrams_sent - totals.datagrams_echoed < options.window) {
        std.mem.writeInt(u64, payload[0..8], totals.datagrams_sent, .little);
        if (quiche.quiche_conn_dgram_send(conn.quic, &payload, @max(8, options.datagram_size)) < 0) break;
        totals.datagrams_sent += 1;
        lastDatagramNs = nowNs();
    }
}

fn pollH3(conn: *Conn, allocator: std.mem.Allocator) void {
    while (true) {
        var event: ?*quiche.H3Event = null;
        const stream = quiche.quiche_h3_conn_poll(conn.h3.?, conn.quic, &event);
        if (stream < 0) return;
        defer quiche.quiche_h3_event_free(event.?);
        const id: u64 = @intCast(stream);
        switch (quiche.quiche_h3_event_type(event.?)) {
            .headers => if (findStream(conn, id)) |s| {
                _ = quiche.quiche_h3_event_for_each_header(event.?, readStatus, s);
            },
            .data => while (true) {
                const n = quiche.quiche_h3_recv_body(conn.h3.?, conn.quic, id, &buffer, buffer.len);
                if (n <= 0) break;
                totals.bytes_received += @intCast(n);
            },
            .finished => complete(conn, id, allocator),
            .reset => fail(conn, id),
            else => {},
        }
    }
}

fn readStatus(name: [*]u8, name_len: usize, value: [*]u8, value_len: usize, argp: ?*anyopaque) callconv(.c) c_int {
    const stream: *Stream = @ptrCast(@alignCast(argp.?));
    if (std.mem.eql(u8, name[0..name_len], ":status")) stream.status = std.fmt.parseInt(u16, value[0..value_len], 10) catch 0;
    return 0;
}

fn findStream(conn: *Conn, id: u64) ?*Stream {
    for (conn.streams[0..conn.stream_count]) |*s| if (s.id == id) return s;
    return null;
}

fn removeStream(conn: *Conn, id: u64) ?Stream {
    for (conn.streams[0..conn.stream_count], 0..) |s, i| if (s.id == id) {
        conn.stream_count -= 1;
        conn.streams[i] = conn.streams[conn.stream_count];
        return s;
    };
    return null;
}

fn complete(conn: *Conn, id: u64, allocator: std.mem.Allocator) void {
    const stream = removeStream(conn, id) orelse return;
    if (stream.status != 200) {
        totals.errors += 1;
    } else {
        totals.completed += 1;
        const us = (nowNs() - stream.start_ns) / std.time.ns_per_us;
        totals.latencies_us.append(allocator, @intCast(@min(us, std.math.maxInt(u32)))) catch {};
    }
    if (options.new_connection_per_request) {
        const reason = "done";
        _ = quiche.quiche_conn_close(conn.quic, true, 0x100, reason, reason.len);
    }
}

fn fail(conn: *Conn, id: u64) void {
    if (removeStream(conn, id) != null) totals.errors += 1;
}

fn startRequests(conn: *Conn) void {
    const limit = if (options.new_connection_per_request) 1 else options.streams;
    while (conn.stream_count < limit and !stop_issuing and !requestsExhausted()) {
        if (options.new_connection_per_request and conn.requests_started > 0) return;
        var length_text: [24]u8 = undefined;
        const length = std.fmt.bufPrint(&length_text, "{d}", .{options.body_bytes}) catch unreachable;
        const headers = [_]quiche.H3Header{
            header(":method", options.method),
            header(":scheme", "https"),
            header(":authority", "localhost"),
            header(":path", options.path),
            header("user-agent", "h3load"),
            header("content-length", length),
        };
        const count: usize = if (options.body_bytes > 0) 6 else 5;
        const id = quiche.quiche_h3_send_request(conn.h3.?, conn.quic, &headers, count, options.body_bytes == 0);
        if (id < 0) return;
        conn.streams[conn.stream_count] = .{ .id = @intCast(id), .start_ns = nowNs(), .body_left = options.body_bytes };
        conn.stream_count += 1;
        conn.requests_started += 1;
        totals.started += 1;
    }
}

fn header(name: []const u8, value: []const u8) quiche.H3Header {
    return .{ .name = name.ptr, .name_len = name.len, .value = value.ptr, .value_len = value.len };
}

var zeros: [64 * 1024]u8 = [_]u8{0} ** (64 * 1024);

fn sendBodies(conn: *Conn) void {
    for (conn.streams[0..conn.stream_count]) |*s| {
        while (s.body_left > 0) {
            const chunk = @min(s.body_left, zeros.len);
            const n = quiche.quiche_h3_send_body(conn.h3.?, conn.quic, s.id, &zeros, chunk, chunk == s.body_left);
            if (n <= 0) break;
            s.body_left -= @intCast(n);
            totals.bytes_sent += @intCast(n);
            if (@as(u64, @intCast(n)) < chunk) break;
        }
    }
}

fn flush(conn: *Conn) void {
    var send_info: quiche.SendInfo = undefined;
    var packets: u32 = 0;
    while (packets < 1024) : (packets += 1) {
        const n = quiche.quiche_conn_send(conn.quic, &buffer, buffer.len, &send_info);
        if (n < 0) break;
        _ = posix.send(conn.fd, buffer[0..@intCast(n)], 0) catch {};
    }
    const timeout = quiche.quiche_conn_timeout_as_nanos(conn.quic);
    conn.deadline_ns = if (timeout == std.math.maxInt(u64)) std.math.maxInt(u64) else nowNs() +| timeout;
}

fn report(seconds: f64) !void {
    const latencies = totals.latencies_us.items;
    std.mem.sort(u32, latencies, {}, std.sort.asc(u32));
    const pct = struct {
        fn at(values: []const u32, p: f64) u32 {
            if (values.len == 0) return 0;
            const index: usize = @intFromFloat(@floor(p * @as(f64, @floatFromInt(values.len - 1))));
            return values[index];
        }
    }.at;
    var out: [1024]u8 = undefined;
    const text = try std.fmt.bufPrint(&out,
        \\{{"requests":{d},"errors":{d},"seconds":{d:.3},"rps":{d:.0},"p50_us":{d},"p90_us":{d},"p99_us":{d},"max_us":{d},"bytes_received":{d},"bytes_sent":{d},"goodput_gbps":{d:.3},"handshakes":{d},"handshakes_per_s":{d:.0},"datagrams_sent":{d},"datagrams_echoed":{d},"datagrams_per_s":{d:.0}}}
        \\
    , .{
        totals.completed,                                 totals.errors,
        seconds,                                          @as(f64, @floatFromInt(totals.completed)) / seconds,
        pct(latencies, 0.5),                              pct(latencies, 0.9),
        pct(latencies, 0.99),                             if (latencies.len > 0) latencies[latencies.len - 1] else 0,
        totals.bytes_received,                            totals.bytes_sent,
        @as(f64, @floatFromInt((totals.bytes_received + totals.bytes_sent) * 8)) / seconds / 1e9,
        totals.handshakes,                                @as(f64, @floatFromInt(totals.handshakes)) / seconds,
        totals.datagrams_sent,                            totals.datagrams_echoed,
        @as(f64, @floatFromInt(totals.datagrams_echoed)) / seconds,
    });
    _ = try posix.write(1, text);
}

fn parseArgs(allocator: std.mem.Allocator) !void {
    const args = try std.process.argsAlloc(allocator);
    var i: usize = 1;
    while (i < args.len) : (i += 1) {
        const arg = args[i];
        if (std.mem.eql(u8, arg, "--new-connection-per-request")) {
            options.new_connection_per_request = true;
            continue;
        }
        if (i + 1 >= args.len) return error.MissingValue;
        const value = args[i + 1];
        i += 1;
        if (std.mem.eql(u8, arg, "--host")) options.host = value
        else if (std.mem.eql(u8, arg, "--port")) options.port = try std.fmt.parseInt(u16, value, 10)
        else if (std.mem.eql(u8, arg, "--path")) options.path = value
        else if (std.mem.eql(u8, arg, "--method")) options.method = value
        else if (std.mem.eql(u8, arg, "--connections")) options.connections = try std.fmt.parseInt(u32, value, 10)
        else if (std.mem.eql(u8, arg, "--streams")) options.streams = @min(try std.fmt.parseInt(u32, value, 10), max_streams_per_connection)
        else if (std.mem.eql(u8, arg, "--requests")) options.requests = try std.fmt.parseInt(u64, value, 10)
        else if (std.mem.eql(u8, arg, "--duration-ms")) options.duration_ms = try std.fmt.parseInt(u64, value, 10)
        else if (std.mem.eql(u8, arg, "--body-bytes")) options.body_bytes = try std.fmt.parseInt(u64, value, 10)
        else if (std.mem.eql(u8, arg, "--datagrams")) options.datagrams = try std.fmt.parseInt(u64, value, 10)
        else if (std.mem.eql(u8, arg, "--datagram-size")) options.datagram_size = try std.fmt.parseInt(u32, value, 10)
        else if (std.mem.eql(u8, arg, "--window")) options.window = try std.fmt.parseInt(u32, value, 10)
        else if (std.mem.eql(u8, arg, "--idle-ms")) options.idle_ms = try std.fmt.parseInt(u64, value, 10)
        else return error.UnknownArgument;
    }
    if (options.requests == 0 and options.duration_ms == 0 and options.datagrams == 0 and options.idle_ms == 0) options.requests = 1000;
}
