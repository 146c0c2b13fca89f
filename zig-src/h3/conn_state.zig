//! What the HTTP/3 layer keeps about one QUIC connection: its HTTP/3
//! protocol state, the streams that carry requests, the responses waiting
//! for stream capacity, and what the application was told about its
//! datagrams. The transport (quic/connection.zig) keeps the rest, and the
//! two share only the connection's slot number, so neither imports the
//! other's type.

const std = @import("std");
const quiche = @import("../ffi/quiche.zig");
const H3Connection = @import("h3_connection.zig").H3Connection;

/// The client's address, as REQUEST events carry it (the application's
/// requestIP). The transport reads it from the first packet and hands it
/// over in `Layer.openConnection`, and again in `Layer.setPeer` when the
/// connection moved to a new validated address (NAT rebinding, migration).
pub const Peer = struct {
    /// 4 or 6.
    family: u8,
    port: u16,
    /// IPv4 addresses are IPv4-mapped IPv6.
    address: [16]u8,
};

pub const Protocol = enum(u8) { pending, h3, raw };

pub const ConnState = struct {
    /// Owned by the transport, which frees it after `deinit` here.
    quiche_conn: *quiche.Conn,
    /// Number the application sees; never reused within a server's life.
    serial: u64,
    peer: Peer,
    /// HTTP/3 state, created once the handshake completes. A raw QUIC
    /// connection (an application ALPN) has one too, for its stream ids,
    /// the streams seen and the opens waiting for credit, and nothing of
    /// HTTP/3 runs on it (h3/raw_connections.zig).
    h3: ?*H3Connection = null,
    /// What the connection negotiated; `pending` until the handshake.
    protocol: Protocol = .pending,
    /// Raw connections: the request id of the pseudo session every stream
    /// of the connection is bound to (0 for HTTP/3).
    raw_session: u64 = 0,
    /// Request stream id -> request slot.
    streams: std.AutoHashMapUnmanaged(u64, u32) = .empty,
    /// Ids of requests with response bytes waiting for stream capacity.
    output: std.ArrayListUnmanaged(u64) = .empty,
    /// Highest request stream id received, for GOAWAY.
    max_stream_id_seen: u64 = 0,
    /// Datagram commands applied for this connection (queued or dropped).
    datagram_commands: u64 = 0,
    /// The application waits for a DATAGRAM_CREDIT event.
    datagram_credit_wanted: bool = false,
    /// What the last CONN_INFO event said.
    info_flags: u8 = 0,
    info_max_datagram: u64 = 0,
    /// A CONN_INFO event named this connection, so its end is announced.
    announced: bool = false,
    /// quiche's count of STOP_SENDING frames received, as far as they were
    /// handed on to the streams they stopped (stop_sending.zig).
    stop_sending_seen: u64 = 0,

    /// Frees what the HTTP/3 layer allocated; not the quiche connection.
    pub fn deinit(state: *ConnState, allocator: std.mem.Allocator) void {
        if (state.h3) |h3| h3.destroy(allocator);
        state.streams.deinit(allocator);
        state.output.deinit(allocator);
        state.* = undefined;
    }
};
