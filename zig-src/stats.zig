//! Counters the loop thread updates and any thread may read. Relaxed atomics:
//! each counter is independently monotonic (or a gauge), and readers want a
//! recent value, not a consistent snapshot across counters.

const std = @import("std");

pub const Stats = struct {
    packets_received: Counter = .{},
    packets_sent: Counter = .{},
    packets_invalid: Counter = .{},
    send_failures: Counter = .{},
    version_negotiations: Counter = .{},
    connections_accepted: Counter = .{},
    connections_refused: Counter = .{},
    connections_active: Counter = .{},
    requests_received: Counter = .{},
    requests_active: Counter = .{},
    responses_completed: Counter = .{},
    requests_reset: Counter = .{},
    requests_rejected: Counter = .{},
    stale_commands: Counter = .{},
    event_queue_full: Counter = .{},
    datagrams_received: Counter = .{},
    datagrams_sent: Counter = .{},
    datagrams_received_dropped: Counter = .{},
    datagrams_send_dropped: Counter = .{},
    requests_timed_out: Counter = .{},
    /// Retry packets sent (enable_retry): one per client Initial without a token.
    retries_sent: Counter = .{},
    /// Initials dropped because their token was malformed, forged, expired
    /// or presented from another address.
    retry_tokens_rejected: Counter = .{},
    /// Event records pushed to the application, and command records it
    /// submitted that the loop applied: the crossings per exchange.
    events_pushed: Counter = .{},
    commands_applied: Counter = .{},
    /// Request and WebTransport stream body bytes delivered in BODY events
    /// (at most what the application's CREDIT allowed).
    body_bytes_delivered: Counter = .{},
    /// WebTransport streams of ours reset with RESET_STREAM_AT, their
    /// preface kept delivered (peers that support reset_stream_at).
    wt_resets_at: Counter = .{},
    /// Connections that resumed a TLS session (a ticket this server, or
    /// one sharing its ticket key, issued), and those whose 0-RTT data was
    /// accepted.
    connections_resumed: Counter = .{},
    connections_early_data: Counter = .{},
    /// Requests whose field section was read before the handshake
    /// completed (0-RTT) or that carried Early-Data (RFC 8470), and those of
    /// them answered 425 Too Early because their method is not safe.
    requests_early_data: Counter = .{},
    requests_too_early: Counter = .{},
    /// Packets sent with an SCM_TXTIME send time from quiche's pacer
    /// (enable_pacing, and the kernel accepted SO_TXTIME).
    packets_paced: Counter = .{},
    /// Of those, packets whose send time lay ahead of the moment they were
    /// handed to the kernel: the pacer spread them out.
    packets_paced_ahead: Counter = .{},
    /// Spare connection IDs given to peers (NEW_CONNECTION_ID), which a
    /// client needs to migrate or to rotate its connection ID.
    connection_ids_issued: Counter = .{},
    /// New paths quiche validated (PATH_CHALLENGE answered), and
    /// connections that moved to a new client address (NAT rebinding or
    /// migration).
    paths_validated: Counter = .{},
    peer_migrations: Counter = .{},
    /// Loop wake-ups that found a socket or wake event ready, and
    /// zig_h3_poll calls that returned records: requests divided by these
    /// are the batch sizes the per-wake-up costs are spread over.
    loop_wakeups: Counter = .{},
    event_drains: Counter = .{},

    /// Names in field order; the C struct zig_h3_stats has the same fields.
    pub const field_count = @typeInfo(Stats).@"struct".fields.len;

    pub fn snapshot(stats: *const Stats, out: *[field_count]u64) void {
        inline for (@typeInfo(Stats).@"struct".fields, 0..) |field, i| {
            out[i] = @field(stats, field.name).get();
        }
    }
};

pub const Counter = struct {
    value: std.atomic.Value(u64) = .init(0),

    pub fn add(counter: *Counter, n: u64) void {
        _ = counter.value.fetchAdd(n, .monotonic);
    }

    pub fn inc(counter: *Counter) void {
        counter.add(1);
    }

    pub fn dec(counter: *Counter) void {
        _ = counter.value.fetchSub(1, .monotonic);
    }

    pub fn get(counter: *const Counter) u64 {
        return counter.value.load(.monotonic);
    }
};
