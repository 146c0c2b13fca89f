//! Connection migration, the transport's part (RFC 9000 9). quiche validates
//! a new path (PATH_CHALLENGE / PATH_RESPONSE) and moves a connection to the
//! address its client's non-probing packets come from; the engine routes
//! every packet by its destination connection ID, whatever its source, and
//! answers each on the path quiche names in `send_info.to`. What is left to
//! do here, once per flush of a connection:
//!
//! * Spare connection IDs. A client that migrates on purpose must use a
//!   connection ID it has not used before on the new path (RFC 9000 9.5),
//!   and one that rotates its ID (aioquic's change_connection_id) retires
//!   the old one. So every established connection is given as many IDs as
//!   the peer and our active_connection_id_limit allow; each is a key in
//!   the CID table, and a retired one leaves it.
//! * Path events. quiche queues one per path change and never drops them,
//!   so a client that keeps changing its address would grow that queue:
//!   they are drained here. A completed peer migration is counted, and the
//!   HTTP/3 layer learns the new address (what requestIP reports). The
//!   per-IP connection count stays with the address the connection was
//!   accepted from.

const std = @import("std");
const assert = std.debug.assert;
const posix = std.posix;
const quiche = @import("../ffi/quiche.zig");
const peer_counts = @import("peer_counts.zig");
const Engine = @import("engine.zig").Engine;
const config_mod = @import("../config.zig");
const connection_id = @import("connection_id.zig");

/// Our active_connection_id_limit transport parameter: connection IDs of
/// ours a peer may hold at once. Two, the RFC's minimum, is enough for one
/// migration or rotation at a time (a replacement is issued as soon as the
/// peer retires one); the CID table is sized for it plus the client's
/// original DCID, and retired IDs leave the table before a new one is
/// issued, so that bound holds.
pub const active_connection_id_limit = config_mod.cid_keys_per_connection - 1;

comptime {
    assert(active_connection_id_limit >= 2);
}

/// Path events drained per flush; quiche makes at most a few per packet, so
/// the rest simply wait for the next flush.
const max_events_per_flush = 64;

/// Runs before a connection's packets are written: forgets retired IDs,
/// issues spare ones, and drains path events.
pub fn update(engine: *Engine, slot: u32) void {
    engine.assertLoopThread();
    const conn = engine.connections.get(slot).quiche_conn;
    forgetRetired(engine, conn);
    if (quiche.quiche_conn_is_established(conn)) issueSpare(engine, slot, conn);
    drainEvents(engine, slot, conn);
}

/// Removes every ID of the connection from the CID table (it is being
/// freed); its first ID and the original DCID are the engine's to remove.
pub fn forgetAll(engine: *Engine, conn: *quiche.Conn) void {
    forgetRetired(engine, conn);
    const iter = quiche.quiche_conn_source_ids(conn) orelse return;
    defer quiche.quiche_connection_id_iter_free(iter);
    var bytes: [*]const u8 = undefined;
    var len: usize = 0;
    while (quiche.quiche_connection_id_iter_next(iter, &bytes, &len)) {
        _ = engine.cids.remove(bytes[0..len]);
    }
}

fn forgetRetired(engine: *Engine, conn: *quiche.Conn) void {
    var bytes: [connection_id.max_len]u8 = undefined;
    var len: usize = 0;
    while (quiche.quiche_conn_retired_scid_next_into(conn, &bytes, bytes.len, &len)) {
        _ = engine.cids.remove(bytes[0..len]);
    }
}

fn issueSpare(engine: *Engine, slot: u32, conn: *quiche.Conn) void {
    var issued: u32 = 0;
    while (quiche.quiche_conn_scids_left(conn) > 0) : (issued += 1) {
        // quiche never offers more than our own limit.
        assert(issued < active_connection_id_limit);
        const cid = engine.newLocalCid();
        // The table holds cid_keys_per_connection keys per connection,
        // and retired keys were removed just before.
        engine.cids.put(cid.slice(), slot) catch unreachable;
        // The token would authenticate a stateless reset from us; we send
        // none, so it only has to be unguessable.
        var reset_token: [16]u8 = undefined;
        std.crypto.random.bytes(&reset_token);
        var seq: u64 = 0;
        if (quiche.quiche_conn_new_scid(conn, &cid.bytes, cid.len, &reset_token, false, &seq) != 0) {
            _ = engine.cids.remove(cid.slice());
            return;
        }
        engine.stats.connection_ids_issued.inc();
    }
}

fn drainEvents(engine: *Engine, slot: u32, conn: *quiche.Conn) void {
    var drained: u32 = 0;
    while (drained < max_events_per_flush) : (drained += 1) {
        const event = quiche.quiche_conn_path_event_next(conn) orelse return;
        defer quiche.quiche_path_event_free(event);
        switch (quiche.quiche_path_event_type(event)) {
            .peer_migrated => onPeerMigrated(engine, slot, event),
            .validated => engine.stats.paths_validated.inc(),
            else => {},
        }
    }
}

fn onPeerMigrated(engine: *Engine, slot: u32, event: *const quiche.PathEvent) void {
    engine.stats.peer_migrations.inc();
    var local: posix.sockaddr.storage = undefined;
    var local_len: posix.socklen_t = @sizeOf(posix.sockaddr.storage);
    var peer: posix.sockaddr.storage = undefined;
    var peer_len: posix.socklen_t = @sizeOf(posix.sockaddr.storage);
    quiche.quiche_path_event_peer_migrated(event, &local, &local_len, &peer, &peer_len);
    const address = peer_counts.familyAndPort(&peer);
    engine.http.setPeer(slot, .{ .family = address.family, .port = address.port, .address = peer_counts.keyOf(&peer) });
}
