//! quiche's server side of NAT rebinding as the library relies on it: when
//! the client's address changes mid-transfer and the packets the server
//! had in flight to the old address are lost, the server retransmits them
//! on the new path, and it does so at every rebinding, not only the first.
//!
//! quiche 0.28.0 as published does neither: the old path's outstanding
//! packets are never declared lost (upstream issue cloudflare/quiche#2452),
//! and a server keeps every path a client left, so with the default limit
//! of two paths the second rebinding finds no room and its packets are
//! dropped. third_party/quiche/patch.py fixes both; this test is the
//! witness, with two real quiche connections joined through memory, so
//! which packets are lost is exact. No timer fires here: a retransmission
//! that needed a loss timeout (as with the unpatched crate) never comes.

const std = @import("std");
const quiche = @import("../ffi/quiche.zig");

const memory_pair = @import("memory_pair.zig");

const testing = std.testing;
const Pair = memory_pair.Pair;
const drain = memory_pair.drain;
const send = memory_pair.send;
const freePackets = memory_pair.freePackets;

/// How many PEER_MIGRATED path events the server has queued (drained).
fn peerMigrations(conn: *quiche.Conn) u32 {
    var count: u32 = 0;
    while (quiche.quiche_conn_path_event_next(conn)) |event| {
        defer quiche.quiche_path_event_free(event);
        if (quiche.quiche_path_event_type(event) == .peer_migrated) count += 1;
    }
    return count;
}

/// A NAT in front of the client: the server sees the client at `public`,
/// the client keeps seeing its own address. What the server sends to any
/// other address (an old binding) is dropped, as by a NAT that forgot it.
const Nat = struct {
    public: std.net.Address,

    /// One round trip of everything pending both ways; returns how many of
    /// the server's packets went to an old binding.
    fn exchange(nat: *const Nat, pair: *Pair) u32 {
        var buffer: [1350]u8 = undefined;
        for (0..memory_pair.max_packets_per_turn) |_| {
            var send_info: quiche.SendInfo = undefined;
            const written = quiche.quiche_conn_send(pair.client.conn, &buffer, buffer.len, &send_info);
            if (written < 0) break;
            var recv_info = quiche.RecvInfo{
                .from = @constCast(&nat.public.any),
                .from_len = nat.public.getOsSockLen(),
                .to = &pair.server.address.any,
                .to_len = pair.server.address.getOsSockLen(),
            };
            _ = quiche.quiche_conn_recv(pair.server.conn, &buffer, @intCast(written), &recv_info);
        }
        var dropped: u32 = 0;
        for (0..memory_pair.max_packets_per_turn) |_| {
            var send_info: quiche.SendInfo = undefined;
            const written = quiche.quiche_conn_send(pair.server.conn, &buffer, buffer.len, &send_info);
            if (written < 0) break;
            const to = std.net.Address.initPosix(@ptrCast(@alignCast(&send_info.to)));
            if (!to.eql(nat.public)) {
                dropped += 1;
                continue;
            }
            var recv_info = quiche.RecvInfo{
                .from = &pair.server.address.any,
                .from_len = pair.server.address.getOsSockLen(),
                .to = &pair.client.address.any,
                .to_len = pair.client.address.getOsSockLen(),
            };
            _ = quiche.quiche_conn_recv(pair.client.conn, &buffer, @intCast(written), &recv_info);
        }
        return dropped;
    }
};

test "after each of four NAT rebindings, server data lost in flight to the old binding arrives on the new one" {
    var pair = try Pair.init();
    defer pair.deinit();
    _ = peerMigrations(pair.server.conn);
    var nat = Nat{ .public = pair.client.address };

    // Less than quiche takes in one write with its initial congestion window.
    var payload: [8 * 1024]u8 = undefined;
    for (&payload, 0..) |*byte, i| byte.* = @truncate(i *% 7);

    for (0..4) |rebinding| {
        // The server sends a response on its own stream; every packet of it
        // is lost on the way to the client's current binding.
        const stream_id: u64 = 1 + 4 * @as(u64, rebinding);
        try send(pair.server.conn, stream_id, &payload, true);
        var lost: std.ArrayList([]u8) = .empty;
        defer freePackets(&lost);
        try Pair.hold(&pair.server, &lost, testing.allocator);
        try testing.expect(lost.items.len > 0);

        // The NAT moves the client to a new port; the client's next packet
        // (stream data, so not a probe) comes from there.
        nat.public.setPort(41000 + @as(u16, @intCast(rebinding)));
        try send(pair.client.conn, 4 * @as(u64, rebinding), "after the rebinding", true);

        var received: std.ArrayList(u8) = .empty;
        defer received.deinit(testing.allocator);
        var finished = false;
        var rounds: u32 = 0;
        while (!finished) : (rounds += 1) {
            try testing.expect(rounds < 50);
            _ = nat.exchange(&pair);
            finished = try drain(pair.client.conn, stream_id, &received);
        }
        try testing.expectEqualSlices(u8, &payload, received.items);
        // The new binding is validated (PATH_CHALLENGE answered) and the
        // server tells of one migration.
        var migrations = peerMigrations(pair.server.conn);
        while (migrations == 0) : (rounds += 1) {
            try testing.expect(rounds < 50);
            _ = nat.exchange(&pair);
            migrations += peerMigrations(pair.server.conn);
        }
        try testing.expectEqual(@as(u32, 1), migrations);
    }
}
