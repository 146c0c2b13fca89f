//! Address validation with a stateless Retry (RFC 9000 8.1.2, RFC 9001
//! 5.8), used when config.enable_retry is set. The engine asks `validate`
//! about every client Initial that names no known connection, before it
//! spends any state on it:
//!
//! * No token: the client gets a Retry carrying a fresh token
//!   (quic/retry_token.zig) and a new connection ID to use, and the server
//!   keeps nothing. A Retry is smaller than the 1200-byte Initial that
//!   caused it, so a spoofed source address cannot be used as an amplifier.
//! * A token that verifies (our key, this IP and port, this DCID, younger
//!   than retry_token_lifetime_ms): the client's original DCID, which
//!   quiche_accept needs to fill original_destination_connection_id and
//!   retry_source_connection_id in our transport parameters.
//! * Any other token: the Initial is dropped and counted, with no reply.
//!   We never send NEW_TOKEN, so the only token a legitimate client can hold
//!   is one of our Retry tokens, and a client that acted on a Retry will not
//!   act on a second one (RFC 9000 17.2.5.2): a reply could help nobody but
//!   would make us a reflector for whoever forged or replayed the token.

const std = @import("std");
const assert = std.debug.assert;
const posix = std.posix;
const quiche = @import("../ffi/quiche.zig");
const Engine = @import("engine.zig").Engine;
const ConnectionId = @import("connection_id.zig").ConnectionId;
const connection_id = @import("connection_id.zig");
const peer_counts = @import("peer_counts.zig");
const retry_token = @import("retry_token.zig");

/// Returns the original DCID when the Initial may create a connection, or
/// null when it was answered with a Retry or dropped.
pub fn validate(
    engine: *Engine,
    token: []const u8,
    version: u32,
    scid: []const u8,
    dcid: []const u8,
    peer: *const posix.sockaddr.storage,
    peer_len: posix.socklen_t,
    now_ms: u64,
) ?ConnectionId {
    assert(engine.config.enable_retry);
    assert(scid.len <= connection_id.max_len and dcid.len <= connection_id.max_len);
    const address = peerAddress(peer);
    if (token.len == 0) {
        sendRetry(engine, version, scid, dcid, &address, peer, peer_len, now_ms);
        return null;
    }
    // The DCID of an Initial that answers our Retry is the connection ID we
    // chose for the Retry, and the token's tag binds it; checking its length
    // first keeps the connection ID we accept with the length we route by.
    if (dcid.len != engine.local_cid_len) {
        reject(engine, "connection ID not ours");
        return null;
    }
    const odcid = retry_token.verify(
        token,
        &engine.retry_key,
        &address,
        dcid,
        now_ms,
        engine.config.retry_token_lifetime_ms,
    ) catch |err| {
        reject(engine, switch (err) {
            error.Malformed => "malformed",
            error.Forged => "forged, or presented from another address",
            error.Expired => "expired",
        });
        return null;
    };
    return ConnectionId.from(odcid);
}

fn reject(engine: *Engine, reason: []const u8) void {
    engine.stats.retry_tokens_rejected.inc();
    engine.log(.info, 0, "retry token rejected: {s}", .{reason});
}

/// Writes and sends a Retry (quiche_retry computes the integrity tag of
/// RFC 9001 5.8). The client will send its next Initial to `retry_scid`,
/// which becomes our connection ID if the token comes back valid.
fn sendRetry(
    engine: *Engine,
    version: u32,
    client_scid: []const u8,
    client_dcid: []const u8,
    address: *const retry_token.Address,
    peer: *const posix.sockaddr.storage,
    peer_len: posix.socklen_t,
    now_ms: u64,
) void {
    const retry_scid = engine.newLocalCid();
    var token_buffer: [retry_token.max_length]u8 = undefined;
    const token = retry_token.mint(&token_buffer, &engine.retry_key, address, client_dcid, retry_scid.slice(), now_ms);
    const written = quiche.quiche_retry(
        client_scid.ptr,
        client_scid.len,
        client_dcid.ptr,
        client_dcid.len,
        &retry_scid.bytes,
        retry_scid.len,
        token.ptr,
        token.len,
        version,
        engine.send_buffer.ptr,
        engine.send_buffer.len,
    );
    if (written <= 0) return;
    const packet = engine.send_buffer[0..@intCast(written)];
    // Never more than we received (RFC 9000 8.1): the Initial was at least
    // 1200 bytes and a Retry is under 150.
    assert(packet.len < 1200);
    engine.stats.retries_sent.inc();
    engine.log(.debug, 0, "retry sent", .{});
    _ = engine.socket.send(packet, peer, peer_len);
}

/// The peer's IP (IPv4-mapped for IPv4) and UDP port, as tokens bind them.
pub fn peerAddress(peer: *const posix.sockaddr.storage) retry_token.Address {
    const family = @as(*const posix.sockaddr, @ptrCast(peer)).family;
    const port_be: u16 = if (family == posix.AF.INET6)
        @as(*const posix.sockaddr.in6, @ptrCast(@alignCast(peer))).port
    else
        @as(*const posix.sockaddr.in, @ptrCast(@alignCast(peer))).port;
    return retry_token.address(peer_counts.keyOf(peer), std.mem.bigToNative(u16, port_be));
}

const testing = std.testing;

test "peer addresses keep the port and tell IPv4 from IPv6" {
    const cases = [_]struct { ip: []const u8, port: u16 }{
        .{ .ip = "10.0.0.1", .port = 1000 },
        .{ .ip = "10.0.0.1", .port = 1001 },
        .{ .ip = "::ffff:10.0.0.2", .port = 1000 },
        .{ .ip = "::1", .port = 1000 },
    };
    var addresses: [cases.len]retry_token.Address = undefined;
    for (cases, &addresses) |case, *out| {
        const parsed = try std.net.Address.parseIp(case.ip, case.port);
        var storage: posix.sockaddr.storage = undefined;
        @memcpy(std.mem.asBytes(&storage)[0..parsed.getOsSockLen()], std.mem.asBytes(&parsed)[0..parsed.getOsSockLen()]);
        out.* = peerAddress(&storage);
        try testing.expectEqual(case.port, std.mem.readInt(u16, out[16..18], .big));
    }
    for (addresses, 0..) |a, i| for (addresses[i + 1 ..]) |b| try testing.expect(!std.mem.eql(u8, &a, &b));
    try testing.expectEqualSlices(u8, &.{ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1 }, addresses[0][0..16]);
}
