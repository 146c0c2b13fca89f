//! Request slots. A request id is `generation << 32 | slot`: the generation
//! changes every time a slot is reused, so an id the application still holds
//! after the request ended simply stops resolving instead of reaching another
//! request. This is what lets the application hold handles without ever
//! holding loop memory.
//!
//! Generations count from 1 to 2^21 - 1 and wrap, so every id is below 2^53
//! and JavaScript handles it as an exact Number (no BigInt per event). A
//! stale id could only alias after its slot was reused two million times
//! while the application still held it.

const std = @import("std");
const assert = std.debug.assert;
const RequestStream = @import("request_stream.zig").RequestStream;
const request_state = @import("request_state.zig");
pub const Inbound = request_state.Inbound;
pub const Outbound = request_state.Outbound;
pub const Visibility = request_state.Visibility;

pub const Outcome = enum { complete, reset };

pub const generation_limit: u32 = 1 << 21;

pub const Request = struct {
    generation: u32 = 0,
    active: bool = false,
    conn_slot: u32 = 0,
    stream_id: u64 = 0,
    /// The lifecycles (h3/request_state.zig): the peer's side, ours, and
    /// what the application knows. Changed only through `transition`.
    inbound: Inbound = .head,
    outbound: Outbound = .head_pending,
    visibility: Visibility = .hidden,
    /// Encoded response head not yet handed to quiche: u16 status, then a
    /// u32-counted field block (queue/wire.zig).
    head: ?[]u8 = null,
    body: std.ArrayListUnmanaged(u8) = .empty,
    body_offset: usize = 0,
    trailers: ?[]u8 = null,
    body_paused: bool = false,
    in_output_list: bool = false,
    received_body_bytes: u64 = 0,
    /// Body bytes the application allows to be delivered (its CREDIT);
    /// the stream is not read past it. Unlimited until the request reaches
    /// the application (the head must be read first).
    read_allowed_bytes: u64 = std.math.maxInt(u64),
    /// Reading stopped because the credit ran out; a CREDIT resumes it.
    credit_paused: bool = false,
    /// Response body bytes handed to quiche, reported in DRAIN events.
    sent_body_bytes: u64 = 0,
    /// The application waits for a DRAIN event.
    drain_wanted: bool = false,
    /// A HEAD request: responses the library makes carry no body.
    is_head: bool = false,
    /// A CONNECT request (a WebTransport session or a tunnel): its peer
    /// closes its own half, so reading is never stopped early.
    is_connect: bool = false,

    /// What the slot carries: an HTTP request/response, or a WebTransport
    /// stream bound to the session in `wt_session`.
    kind: Kind = .request,
    /// The session's request id (WebTransport streams only).
    wt_session: u64 = 0,
    /// WebTransport streams of this session still open (sessions only).
    wt_stream_count: u32 = 0,
    /// The pseudo session of a raw QUIC connection (h3/raw_connections.zig):
    /// no stream of its own; every stream of the connection is bound to it.
    raw_session: bool = false,
    /// Bytes of our own WebTransport stream's preface (stream type and
    /// session ID) that a reset keeps delivered with RESET_STREAM_AT; 0 for
    /// streams the peer opened, whose sending side starts with data.
    wt_preface_bytes: u8 = 0,
    /// An extended CONNECT waiting for the client's SETTINGS (its head is
    /// kept in the connection's parked_connects; its stream is not read).
    wt_parked: bool = false,
    /// RFC 9218 urgency and incremental flag for the response.
    urgency: u8 = 3,
    incremental: bool = false,
    /// The frame grammar state of the incoming side.
    input: RequestStream = .{},
    /// Input read from QUIC but not processed yet: the bytes after a field
    /// section that waits for QPACK encoder-stream inserts. At most one
    /// read chunk, because a blocked stream is not read further.
    held: std.ArrayListUnmanaged(u8) = .empty,
    held_fin: bool = false,
    /// The section in input.block waits for dynamic table inserts.
    qpack_blocked: bool = false,
    /// The blocked section is the trailer section.
    blocked_trailers: bool = false,
    /// Framed bytes (HEADERS, trailers, a WebTransport stream preface) not
    /// yet accepted by QUIC, from `frame_out_offset` on.
    frame_out: std.ArrayListUnmanaged(u8) = .empty,
    frame_out_offset: usize = 0,
    /// `frame_out` ends the stream: FIN goes with its last byte.
    frame_out_fin: bool = false,

    pub const Kind = enum(u8) { request, webtransport };

    /// A REQUEST (or WT_STREAM, WT_OPENED) event was queued and the
    /// application has not forgotten it: it must hear how it ends.
    pub fn visibleToApp(request: *const Request) bool {
        return request.visibility == .visible;
    }

    /// The request's field section was decoded (or it has none).
    pub fn headReceived(request: *const Request) bool {
        return request.inbound != .head;
    }

    /// Nothing more is read from the peer's side.
    pub fn requestFinished(request: *const Request) bool {
        return request.inbound == .finished;
    }

    /// Our sending side is done: the whole response reached QUIC (a
    /// CONNECT stream then waits for the client's side to end before its
    /// slot is freed), or it was reset, or never existed.
    /// A session's 2xx head went out, or is queued to go with the next
    /// flush: the application accepted it (a WT_OPEN right after the HEAD
    /// command, in the same batch, finds it queued).
    pub fn acceptedHead(request: *const Request) bool {
        if (request.outbound.headSent()) return true;
        const head = request.head orelse return false;
        const status = std.mem.readInt(u16, head[0..2], .little);
        return status >= 200 and status < 300;
    }

    pub fn writeDone(request: *const Request) bool {
        return request.outbound == .done;
    }

    pub fn pendingFrames(request: *const Request) []const u8 {
        return request.frame_out.items[request.frame_out_offset..];
    }

    pub fn pendingBody(request: *const Request) []const u8 {
        return request.body.items[request.body_offset..];
    }

    /// Appends response body bytes. The consumed prefix is dropped once it
    /// is at least half of the buffer, so the buffer stays within twice
    /// what is pending however long the response streams (amortised O(1)).
    pub fn appendBody(request: *Request, allocator: std.mem.Allocator, bytes: []const u8) !void {
        if (request.body_offset > 0 and request.body_offset * 2 >= request.body.items.len) {
            const pending = request.body.items.len - request.body_offset;
            std.mem.copyForwards(u8, request.body.items[0..pending], request.body.items[request.body_offset..]);
            request.body.shrinkRetainingCapacity(pending);
            request.body_offset = 0;
        }
        try request.body.appendSlice(allocator, bytes);
    }

    fn freeOwned(request: *Request, allocator: std.mem.Allocator) void {
        if (request.head) |head| allocator.free(head);
        if (request.trailers) |trailers| allocator.free(trailers);
        request.body.deinit(allocator);
        request.input.deinit(allocator);
        request.held.deinit(allocator);
        request.frame_out.deinit(allocator);
    }
};

pub const RequestTable = struct {
    slots: []Request,
    free_slots: []u32,
    free_len: u32,

    pub fn init(allocator: std.mem.Allocator, capacity: u32) !RequestTable {
        assert(capacity > 0);
        const slots = try allocator.alloc(Request, capacity);
        errdefer allocator.free(slots);
        const free_slots = try allocator.alloc(u32, capacity);
        @memset(slots, .{});
        // Pop order hands out slot 0 first; generations start at 1 so id 0
        // never names a request.
        for (free_slots, 0..) |*slot, i| slot.* = @intCast(capacity - 1 - i);
        return .{ .slots = slots, .free_slots = free_slots, .free_len = capacity };
    }

    pub fn deinit(table: *RequestTable, allocator: std.mem.Allocator) void {
        for (table.slots) |*request| if (request.active) request.freeOwned(allocator);
        allocator.free(table.slots);
        allocator.free(table.free_slots);
        table.* = undefined;
    }

    pub fn activeCount(table: *const RequestTable) u32 {
        return @as(u32, @intCast(table.slots.len)) - table.free_len;
    }

    pub fn acquire(table: *RequestTable, conn_slot: u32, stream_id: u64) ?u32 {
        if (table.free_len == 0) return null;
        table.free_len -= 1;
        const slot = table.free_slots[table.free_len];
        const request = &table.slots[slot];
        assert(!request.active);
        const generation = (request.generation + 1) % generation_limit;
        request.* = .{
            .generation = if (generation == 0) 1 else generation,
            .active = true,
            .conn_slot = conn_slot,
            .stream_id = stream_id,
        };
        return slot;
    }

    pub fn release(table: *RequestTable, allocator: std.mem.Allocator, slot: u32) void {
        const request = &table.slots[slot];
        assert(request.active);
        request.freeOwned(allocator);
        request.* = .{ .generation = request.generation };
        table.free_slots[table.free_len] = slot;
        table.free_len += 1;
    }

    pub fn idOf(table: *const RequestTable, slot: u32) u64 {
        return (@as(u64, table.slots[slot].generation) << 32) | slot;
    }

    /// Resolves an id to its slot only while that request is alive.
    pub fn slotOf(table: *const RequestTable, id: u64) ?u32 {
        const slot: u32 = @truncate(id);
        const generation: u32 = @intCast(id >> 32);
        if (slot >= table.slots.len) return null;
        const request = &table.slots[slot];
        if (!request.active or request.generation != generation) return null;
        return slot;
    }

    pub fn get(table: *RequestTable, slot: u32) *Request {
        assert(table.slots[slot].active);
        return &table.slots[slot];
    }
};

const testing = std.testing;

test "a streamed body buffer stays bounded by what is pending" {
    var request = Request{};
    defer request.body.deinit(testing.allocator);
    var chunk: [1000]u8 = undefined;
    var round: usize = 0;
    var expected_next: u8 = 0;
    var written: u8 = 0;
    while (round < 10_000) : (round += 1) {
        for (&chunk) |*b| {
            b.* = written;
            written +%= 1;
        }
        try request.appendBody(testing.allocator, &chunk);
        // Consume all but 1500 bytes, as a partially blocked stream would.
        const pending = request.pendingBody();
        const consume = pending.len -| 1500;
        for (pending[0..consume]) |b| {
            try testing.expectEqual(expected_next, b);
            expected_next +%= 1;
        }
        request.body_offset += consume;
    }
    try testing.expect(request.body.items.len <= 2 * (1500 + chunk.len));
}

test "stale ids stop resolving once a slot is reused" {
    var table = try RequestTable.init(testing.allocator, 2);
    defer table.deinit(testing.allocator);
    const a = table.acquire(1, 0).?;
    const id_a = table.idOf(a);
    try testing.expect(id_a != 0);
    try testing.expectEqual(@as(?u32, a), table.slotOf(id_a));
    const b = table.acquire(1, 4).?;
    try testing.expect(table.acquire(1, 8) == null);
    try table.get(a).body.appendSlice(testing.allocator, "owned bytes are freed on release");
    table.release(testing.allocator, a);
    try testing.expectEqual(@as(?u32, null), table.slotOf(id_a));
    const c = table.acquire(2, 12).?;
    try testing.expectEqual(a, c);
    try testing.expect(table.idOf(c) != id_a);
    try testing.expectEqual(@as(?u32, null), table.slotOf(id_a));
    try testing.expectEqual(@as(?u32, null), table.slotOf(0xFFFF_FFFF_0000_0009));
    try testing.expectEqual(@as(u32, 2), table.activeCount());
    _ = b;
}

test "ids stay below 2^53 across generation wrap-around" {
    var table = try RequestTable.init(testing.allocator, 1);
    defer table.deinit(testing.allocator);
    var round: u32 = 0;
    var previous: u64 = 0;
    while (round < generation_limit + 5) : (round += 1) {
        const slot = table.acquire(0, 0).?;
        const id = table.idOf(slot);
        try testing.expect(id < (1 << 53));
        try testing.expect(id != previous);
        try testing.expect(table.slots[slot].generation != 0);
        previous = id;
        table.release(testing.allocator, slot);
    }
}
