//! The peer's STOP_SENDING, heard at once. A stream with nothing to write
//! still learns that its peer no longer reads, not only at its next write:
//! when quiche counts a new STOP_SENDING on the connection, the send side of
//! every stream still sending is probed (an empty write reports
//! StreamStopped with the peer's code). A WebTransport stream's sending side
//! ends (its receiving side goes on); a request is cancelled as a whole
//! (RFC 9114 4.1.2: a client that no longer wants the response), so the
//! application's signal aborts; Bun's fetch cancels an aborted request this
//! way. Streams found stopped are handled after the walk (ending a slot
//! changes the map); past `max_stopped_per_flush` the rest wait for the
//! next flush, which probes again.

const quiche = @import("../ffi/quiche.zig");
const Layer = @import("layer.zig").Layer;
const exchange = @import("exchange.zig");
const wt = @import("wt_streams.zig");

const max_stopped_per_flush = 16;

pub fn notice(layer: *Layer, conn_slot: u32) void {
    const connection = layer.conn(conn_slot);
    var stats: quiche.Stats = undefined;
    quiche.quiche_conn_stats(connection.quiche_conn, &stats);
    if (stats.stopped_stream_count_remote == connection.stop_sending_seen) return;
    var stopped: [max_stopped_per_flush]struct { slot: u32, code: u64 } = undefined;
    var stopped_len: usize = 0;
    var complete = true;
    var it = connection.streams.valueIterator();
    while (it.next()) |slot| {
        const request = layer.requests.get(slot.*);
        if (request.writeDone()) continue;
        var error_code: u64 = 0;
        const probe = quiche.quiche_conn_stream_send(connection.quiche_conn, request.stream_id, "", 0, false, &error_code);
        if (probe != quiche.err_stream_stopped) continue;
        if (stopped_len == stopped.len) {
            complete = false;
            break;
        }
        stopped[stopped_len] = .{ .slot = slot.*, .code = error_code };
        stopped_len += 1;
    }
    if (complete) connection.stop_sending_seen = stats.stopped_stream_count_remote;
    for (stopped[0..stopped_len]) |found| {
        switch (layer.requests.get(found.slot).kind) {
            .webtransport => _ = wt.onStopSending(layer, found.slot, found.code),
            .request => exchange.resetStream(layer, found.slot, found.code),
        }
    }
}
