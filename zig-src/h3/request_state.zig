//! The lifecycles of a request slot (an HTTP request or a WebTransport
//! stream), as three small state machines instead of a set of booleans
//! whose combinations were checked nowhere: what the peer sends us
//! (`Inbound`), what we send it (`Outbound`), and what the application
//! knows (`Visibility`). Every change goes through `transition`, which
//! asserts the edge is one of those listed, so an impossible sequence (a
//! second head, a response written after its end, a request told to the
//! application twice) stops a debug or ReleaseSafe build at once instead of
//! corrupting a stream.
//!
//! Flags that are not a lifecycle (is_head, is_connect, incremental,
//! body_paused, credit_paused, drain_wanted, ...) stay booleans on Request.

const std = @import("std");
const assert = std.debug.assert;

/// The peer's sending side of the stream.
pub const Inbound = enum(u8) {
    /// The request's field section is still being read.
    head,
    /// The head was decoded (a WebTransport stream has none); body bytes
    /// may follow.
    body,
    /// The peer's side ended (FIN or reset), or we stopped reading it.
    finished,

    pub fn allows(from: Inbound, to: Inbound) bool {
        return switch (from) {
            .head => to == .body,
            .body => to == .finished,
            .finished => false,
        };
    }

    pub fn transition(state: *Inbound, to: Inbound) void {
        assert(state.allows(to));
        state.* = to;
    }
};

/// Our sending side of the stream: the response, or a WebTransport
/// stream's bytes. The application's last command (FIN or trailers) may
/// come before the HEADERS frame is written, so "ended" is recorded on both
/// sides of that write.
pub const Outbound = enum(u8) {
    /// No HEADERS frame written yet; a head and body may be queued.
    head_pending,
    /// As `head_pending`, and the application ended the response: nothing
    /// more will be queued.
    head_pending_ended,
    /// HEADERS written (a WebTransport stream has none); more body may come.
    body,
    /// HEADERS written and the response ended: what is left (body,
    /// trailers, FIN) is queued.
    ending,
    /// The whole response reached QUIC, or our side was reset, or it never
    /// existed (a peer's unidirectional stream).
    done,

    pub fn allows(from: Outbound, to: Outbound) bool {
        return switch (from) {
            // To done: a peer's unidirectional WebTransport stream has no
            // sending side at all.
            .head_pending => to == .head_pending_ended or to == .body or to == .done,
            // Back to head_pending: an oversized request body discards the
            // application's response so that a 413 can be queued instead.
            .head_pending_ended => to == .ending or to == .head_pending,
            // To done: a WebTransport stream's sending side was reset (our
            // RESET, or the peer's STOP_SENDING).
            .body => to == .ending or to == .done,
            .ending => to == .done,
            .done => false,
        };
    }

    pub fn transition(state: *Outbound, to: Outbound) void {
        assert(state.allows(to));
        state.* = to;
    }

    /// The HEADERS frame went out, or none is due.
    pub fn headSent(state: Outbound) bool {
        return switch (state) {
            .head_pending, .head_pending_ended => false,
            .body, .ending, .done => true,
        };
    }

    /// The application's last command came: nothing more may be queued.
    pub fn ended(state: Outbound) bool {
        return switch (state) {
            .head_pending, .body => false,
            .head_pending_ended, .ending, .done => true,
        };
    }

    /// The application ended the response (FIN or trailers).
    pub fn end(state: *Outbound) void {
        state.transition(if (state.headSent()) .ending else .head_pending_ended);
    }

    /// The HEADERS frame was written (or a stream with none was bound).
    pub fn sendHead(state: *Outbound) void {
        state.transition(if (state.ended()) .ending else .body);
    }
};

/// What the application knows of the slot.
pub const Visibility = enum(u8) {
    /// It has not heard of it: its head is being read, or the library
    /// answers it alone (static and native routes, 4xx/5xx).
    hidden,
    /// An event announced it (REQUEST, WT_STREAM, WT_OPENED), so the
    /// application must hear how it ends.
    visible,
    /// The application forgot it (a QUIET end) or was told it is gone (the
    /// RESET of an oversized body): it hears nothing more of it.
    forgotten,

    pub fn allows(from: Visibility, to: Visibility) bool {
        return switch (from) {
            .hidden => to == .visible,
            .visible => to == .forgotten,
            .forgotten => false,
        };
    }

    pub fn transition(state: *Visibility, to: Visibility) void {
        assert(state.allows(to));
        state.* = to;
    }
};

const testing = std.testing;

fn countEdges(comptime State: type) usize {
    var count: usize = 0;
    for (std.enums.values(State)) |from| {
        for (std.enums.values(State)) |to| count += @intFromBool(from.allows(to));
    }
    return count;
}

test "each lifecycle has exactly the edges listed, and no state returns to itself" {
    try testing.expectEqual(@as(usize, 2), countEdges(Inbound));
    try testing.expectEqual(@as(usize, 8), countEdges(Outbound));
    try testing.expectEqual(@as(usize, 2), countEdges(Visibility));
    inline for (.{ Inbound, Outbound, Visibility }) |State| {
        for (std.enums.values(State)) |state| try testing.expect(!state.allows(state));
    }
}

test "a response ended before its head is written ends as it goes out" {
    var state: Outbound = .head_pending;
    state.end();
    try testing.expectEqual(Outbound.head_pending_ended, state);
    try testing.expect(state.ended() and !state.headSent());
    state.sendHead();
    try testing.expectEqual(Outbound.ending, state);
    state.transition(.done);
    try testing.expect(state.ended() and state.headSent());

    var streaming: Outbound = .head_pending;
    streaming.sendHead();
    try testing.expectEqual(Outbound.body, streaming);
    try testing.expect(!streaming.ended());
    streaming.end();
    try testing.expectEqual(Outbound.ending, streaming);
}

test "the terminal states allow nothing" {
    for (std.enums.values(Inbound)) |to| try testing.expect(!Inbound.finished.allows(to));
    for (std.enums.values(Outbound)) |to| try testing.expect(!Outbound.done.allows(to));
    for (std.enums.values(Visibility)) |to| try testing.expect(!Visibility.forgotten.allows(to));
}
