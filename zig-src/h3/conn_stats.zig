//! Per-connection statistics, read on the loop thread (the only one that may
//! touch quiche) in answer to a CONN_STATS command: quiche's connection and
//! active-path counters plus our own.

const std = @import("std");
const quiche = @import("../ffi/quiche.zig");
const ConnState = @import("conn_state.zig").ConnState;

/// Order of the values in a CONN_STATS event; include/zig_h3.h and
/// ts/server.ts list the same names.
pub const names = [_][]const u8{
    "packets_received",   "packets_sent",         "packets_lost",          "packets_retransmitted",
    "bytes_sent",         "bytes_received",       "bytes_acked",           "bytes_lost",
    "stream_retrans_bytes", "paths_count",        "streams_reset_local",   "streams_stopped_local",
    "streams_reset_remote", "streams_stopped_remote", "rtt_ns",            "min_rtt_ns",
    "rttvar_ns",          "cwnd_bytes",           "pmtu_bytes",            "delivery_rate_bytes_per_s",
    "pto_count",          "requests_active",
};

pub fn collect(connection: *ConnState, out: *[names.len]u64) void {
    var stats: quiche.Stats = undefined;
    quiche.quiche_conn_stats(connection.quiche_conn, &stats);
    var path: quiche.PathStats = std.mem.zeroes(quiche.PathStats);
    _ = quiche.quiche_conn_path_stats(connection.quiche_conn, 0, &path);
    out.* = .{
        stats.recv,                   stats.sent,                       stats.lost,                      stats.retrans,
        stats.sent_bytes,             stats.recv_bytes,                 stats.acked_bytes,               stats.lost_bytes,
        stats.stream_retrans_bytes,   stats.paths_count,                stats.reset_stream_count_local,  stats.stopped_stream_count_local,
        stats.reset_stream_count_remote, stats.stopped_stream_count_remote, path.rtt,                    path.min_rtt,
        path.rttvar,                  path.cwnd,                        path.pmtu,                       path.delivery_rate,
        path.total_pto_count,         connection.streams.count(),
    };
}
