//! Batched UDP I/O: recvmmsg and sendmmsg, so the loop makes one system call
//! per batch of packets instead of one per packet (the kernel's share was
//! nearly half of the loop thread's time before). Every buffer is allocated
//! once, sized from the config; nothing is allocated per packet.

const std = @import("std");
const assert = std.debug.assert;
const posix = std.posix;
const linux = std.os.linux;

pub const ReceiveBatch = struct {
    storage: []u8,
    slot_bytes: usize,
    headers: []linux.mmsghdr,
    iovecs: []posix.iovec,
    peers: []posix.sockaddr.storage,
    count: usize = 0,

    /// `slot_bytes` is one more than the largest datagram accepted, so a
    /// larger one shows up as truncated and is dropped.
    pub fn init(allocator: std.mem.Allocator, capacity: usize, slot_bytes: usize) !ReceiveBatch {
        assert(capacity > 0 and slot_bytes > 0);
        const storage = try allocator.alloc(u8, capacity * slot_bytes);
        errdefer allocator.free(storage);
        const headers = try allocator.alloc(linux.mmsghdr, capacity);
        errdefer allocator.free(headers);
        const iovecs = try allocator.alloc(posix.iovec, capacity);
        errdefer allocator.free(iovecs);
        const peers = try allocator.alloc(posix.sockaddr.storage, capacity);
        return .{ .storage = storage, .slot_bytes = slot_bytes, .headers = headers, .iovecs = iovecs, .peers = peers };
    }

    pub fn deinit(batch: *ReceiveBatch, allocator: std.mem.Allocator) void {
        allocator.free(batch.storage);
        allocator.free(batch.headers);
        allocator.free(batch.iovecs);
        allocator.free(batch.peers);
        batch.* = undefined;
    }

    /// Reads up to the batch's capacity of datagrams without blocking;
    /// returns how many arrived (0 when none was waiting).
    pub fn receive(batch: *ReceiveBatch, fd: posix.socket_t) usize {
        for (batch.headers, 0..) |*header, i| {
            batch.iovecs[i] = .{ .base = batch.storage[i * batch.slot_bytes ..].ptr, .len = batch.slot_bytes };
            header.* = .{
                .hdr = .{
                    .name = @ptrCast(&batch.peers[i]),
                    .namelen = @sizeOf(posix.sockaddr.storage),
                    .iov = batch.iovecs[i..].ptr,
                    .iovlen = 1,
                    .control = null,
                    .controllen = 0,
                    .flags = 0,
                },
                .len = 0,
            };
        }
        const rc = linux.recvmmsg(fd, batch.headers.ptr, @intCast(batch.headers.len), linux.MSG.DONTWAIT, null);
        batch.count = switch (linux.E.init(rc)) {
            .SUCCESS => rc,
            else => 0,
        };
        return batch.count;
    }

    pub const Datagram = struct { data: []u8, peer: *posix.sockaddr.storage, peer_len: posix.socklen_t, truncated: bool };

    pub fn datagram(batch: *ReceiveBatch, index: usize) Datagram {
        assert(index < batch.count);
        const header = &batch.headers[index];
        return .{
            .data = batch.storage[index * batch.slot_bytes ..][0..header.len],
            .peer = &batch.peers[index],
            .peer_len = header.hdr.namelen,
            .truncated = header.hdr.flags & linux.MSG.TRUNC != 0 or header.len >= batch.slot_bytes,
        };
    }
};

pub const SendBatch = struct {
    storage: []u8,
    slot_bytes: usize,
    lengths: []usize,
    peers: []posix.sockaddr.storage,
    peer_lens: []posix.socklen_t,
    /// Each packet's send time (CLOCK_MONOTONIC ns) from quiche's pacer.
    send_times_ns: []u64,
    headers: []linux.mmsghdr_const,
    iovecs: []posix.iovec_const,
    controls: []Control,
    count: usize = 0,
    /// UDP generic segmentation offload: a run of equal-size packets to one
    /// peer goes down as one buffer the kernel (or NIC) cuts into packets,
    /// instead of one trip through the UDP stack each. Turned off for good
    /// if the kernel refuses it.
    gso: bool = true,
    /// Attach each message's send time (SCM_TXTIME): set by the owner once
    /// the socket accepted SO_TXTIME (net/udp.zig enableTxtime).
    txtime: bool = false,

    const sol_udp = 17;
    const sol_socket = 1;
    const scm_txtime = 61;
    const udp_segment = 103;
    /// The kernel's limits on one GSO send: 64 segments, and one UDP
    /// datagram's worth of bytes in all (a larger one fails with EMSGSIZE).
    const max_segments = 64;
    const max_gso_bytes = 65000;

    /// A message's control data: a send time, then a GSO segment size,
    /// either of which may be absent (the header points past it).
    const Control = extern struct {
        txtime: TxtimeCmsg,
        segment: SegmentCmsg,

        comptime {
            assert(@offsetOf(Control, "segment") == @sizeOf(TxtimeCmsg));
        }
    };

    /// One cmsghdr carrying a u64 send time, CMSG_SPACE(8) long.
    const TxtimeCmsg = extern struct {
        len: usize,
        level: i32,
        kind: i32,
        time_ns: u64,

        comptime {
            assert(@sizeOf(TxtimeCmsg) == 24);
        }
    };

    /// One cmsghdr carrying a u16 segment size, padded as CMSG_SPACE(2).
    const SegmentCmsg = extern struct {
        len: usize,
        level: i32,
        kind: i32,
        segment_size: u16,
        padding: [6]u8 = .{0} ** 6,

        comptime {
            assert(@sizeOf(SegmentCmsg) == 24);
        }
    };

    pub fn init(allocator: std.mem.Allocator, capacity: usize, slot_bytes: usize) !SendBatch {
        assert(capacity > 0 and slot_bytes > 0);
        const storage = try allocator.alloc(u8, capacity * slot_bytes);
        errdefer allocator.free(storage);
        const lengths = try allocator.alloc(usize, capacity);
        errdefer allocator.free(lengths);
        const peers = try allocator.alloc(posix.sockaddr.storage, capacity);
        errdefer allocator.free(peers);
        const peer_lens = try allocator.alloc(posix.socklen_t, capacity);
        errdefer allocator.free(peer_lens);
        const send_times_ns = try allocator.alloc(u64, capacity);
        errdefer allocator.free(send_times_ns);
        const headers = try allocator.alloc(linux.mmsghdr_const, capacity);
        errdefer allocator.free(headers);
        const iovecs = try allocator.alloc(posix.iovec_const, capacity);
        errdefer allocator.free(iovecs);
        const controls = try allocator.alloc(Control, capacity);
        return .{ .storage = storage, .slot_bytes = slot_bytes, .lengths = lengths, .peers = peers, .peer_lens = peer_lens, .send_times_ns = send_times_ns, .headers = headers, .iovecs = iovecs, .controls = controls };
    }

    pub fn deinit(batch: *SendBatch, allocator: std.mem.Allocator) void {
        allocator.free(batch.storage);
        allocator.free(batch.lengths);
        allocator.free(batch.peers);
        allocator.free(batch.peer_lens);
        allocator.free(batch.send_times_ns);
        allocator.free(batch.headers);
        allocator.free(batch.iovecs);
        allocator.free(batch.controls);
        batch.* = undefined;
    }

    pub fn full(batch: *const SendBatch) bool {
        return batch.count == batch.lengths.len;
    }

    /// The buffer the next packet is written into.
    pub fn next(batch: *SendBatch) []u8 {
        assert(!batch.full());
        return batch.storage[batch.count * batch.slot_bytes ..][0..batch.slot_bytes];
    }

    /// Keeps the packet just written into `next()`, to leave at
    /// `send_time_ns` (CLOCK_MONOTONIC) when the batch paces.
    pub fn commit(batch: *SendBatch, length: usize, peer: *const posix.sockaddr.storage, peer_len: posix.socklen_t, send_time_ns: u64) void {
        assert(!batch.full() and length <= batch.slot_bytes);
        batch.lengths[batch.count] = length;
        batch.send_times_ns[batch.count] = send_time_ns;
        batch.peers[batch.count] = peer.*;
        batch.peer_lens[batch.count] = peer_len;
        batch.count += 1;
    }

    pub const Flushed = struct {
        sent: usize,
        dropped: usize,
        /// Of `sent`, the packets whose message carried a send time.
        paced: usize = 0,
        /// Of `paced`, those whose send time was still ahead at the flush.
        paced_ahead: usize = 0,
        /// The socket's send buffer is full: the unsent packets are still
        /// in the batch; flush again once the socket is writable.
        blocked: bool = false,
    };

    /// Sends every kept packet with one sendmmsg: each message is a run of
    /// packets for one peer, all the same size but the last (GSO), or a
    /// single packet. A full send buffer keeps the rest for later (it is
    /// backpressure, not loss); other refusals drop the message, as the
    /// network might, and quiche's recovery retransmits what it carried.
    pub fn flush(batch: *SendBatch, fd: posix.socket_t) Flushed {
        if (batch.count == 0) return .{ .sent = 0, .dropped = 0 };
        const now_ns = if (batch.txtime) monotonicNs() else 0;
        var messages: usize = 0;
        var first: usize = 0;
        while (first < batch.count) : (messages += 1) {
            const run = batch.runLength(first);
            batch.buildMessage(messages, first, run);
            first += run;
        }
        var sent_packets: usize = 0;
        var ahead: usize = 0;
        var message: usize = 0;
        while (message < messages) {
            const rc = linux.sendmmsg(fd, batch.headers[message..].ptr, @intCast(messages - message), linux.MSG.DONTWAIT);
            const errno = linux.E.init(rc);
            if (errno == .SUCCESS and rc > 0) {
                for (batch.headers[message..][0..rc]) |header| {
                    sent_packets += packetsIn(batch, header);
                    ahead += batch.aheadIn(header, now_ns);
                }
                message += rc;
                continue;
            }
            if (errno == .AGAIN) return batch.keepFrom(message, sent_packets, ahead);
            if (batch.gso and (errno == .IO or errno == .INVAL or errno == .OPNOTSUPP)) {
                // No GSO here: send the rest one packet per message.
                batch.gso = false;
                return batch.resendWithoutGso(fd, message, sent_packets, ahead, now_ns);
            }
            // This message cannot go now: drop it and go on.
            message += 1;
        }
        const dropped = batch.count - sent_packets;
        batch.count = 0;
        return .{ .sent = sent_packets, .dropped = dropped, .paced = if (batch.txtime) sent_packets else 0, .paced_ahead = ahead };
    }

    /// How many packets of a message were to leave after `now_ns` (the
    /// whole message leaves at its first packet's time).
    fn aheadIn(batch: *const SendBatch, header: linux.mmsghdr_const, now_ns: u64) usize {
        if (!batch.txtime) return 0;
        const first = (@intFromPtr(header.hdr.iov) - @intFromPtr(batch.iovecs.ptr)) / @sizeOf(posix.iovec_const);
        assert(first < batch.count);
        return if (batch.send_times_ns[first] > now_ns) header.hdr.iovlen else 0;
    }

    fn monotonicNs() u64 {
        const ts = posix.clock_gettime(.MONOTONIC) catch unreachable;
        return @as(u64, @intCast(ts.sec)) * std.time.ns_per_s + @as(u64, @intCast(ts.nsec));
    }

    /// Moves the packets of messages `message..` to the front of the batch.
    fn keepFrom(batch: *SendBatch, message: usize, sent: usize, ahead: usize) Flushed {
        var first: usize = 0;
        for (batch.headers[0..message]) |header| first += header.hdr.iovlen;
        const kept = batch.count - first;
        for (0..kept) |k| {
            const from = first + k;
            if (from == k) continue;
            @memcpy(batch.storage[k * batch.slot_bytes ..][0..batch.lengths[from]], batch.storage[from * batch.slot_bytes ..][0..batch.lengths[from]]);
            batch.lengths[k] = batch.lengths[from];
            batch.peers[k] = batch.peers[from];
            batch.peer_lens[k] = batch.peer_lens[from];
            batch.send_times_ns[k] = batch.send_times_ns[from];
        }
        batch.count = kept;
        return .{ .sent = sent, .dropped = 0, .blocked = true, .paced = if (batch.txtime) sent else 0, .paced_ahead = ahead };
    }

    fn packetsIn(batch: *const SendBatch, header: linux.mmsghdr_const) usize {
        _ = batch;
        return header.hdr.iovlen;
    }

    /// How many packets from `first` can share one GSO message.
    fn runLength(batch: *const SendBatch, first: usize) usize {
        if (!batch.gso) return 1;
        const size = batch.lengths[first];
        const segments_by_bytes = @max(1, max_gso_bytes / @max(size, 1));
        const limit = @min(max_segments, segments_by_bytes);
        var run: usize = 1;
        while (first + run < batch.count and run < limit) : (run += 1) {
            const i = first + run;
            if (batch.peer_lens[i] != batch.peer_lens[first]) break;
            const len = batch.peer_lens[first];
            if (!std.mem.eql(u8, std.mem.asBytes(&batch.peers[i])[0..len], std.mem.asBytes(&batch.peers[first])[0..len])) break;
            if (batch.lengths[i] > size) break;
            if (batch.lengths[i] < size) {
                run += 1; // A shorter packet may end the run, never sit inside it.
                break;
            }
        }
        return run;
    }

    fn buildMessage(batch: *SendBatch, message: usize, first: usize, run: usize) void {
        for (first..first + run) |i| {
            batch.iovecs[i] = .{ .base = batch.storage[i * batch.slot_bytes ..].ptr, .len = batch.lengths[i] };
        }
        const gso = run > 1;
        const control = &batch.controls[message];
        // A GSO run leaves as one unit at its first packet's time: quiche's
        // pacer releases packets in bursts, and the kernel cannot space the
        // segments of one send apart anyway.
        if (batch.txtime) control.txtime = .{ .len = 16 + 8, .level = sol_socket, .kind = scm_txtime, .time_ns = batch.send_times_ns[first] };
        if (gso) control.segment = .{ .len = 16 + 2, .level = sol_udp, .kind = udp_segment, .segment_size = @intCast(batch.lengths[first]) };
        const start: [*]const u8 = if (batch.txtime) @ptrCast(&control.txtime) else @ptrCast(&control.segment);
        const length = @as(usize, if (batch.txtime) @sizeOf(TxtimeCmsg) else 0) + @as(usize, if (gso) @sizeOf(SegmentCmsg) else 0);
        batch.headers[message] = .{
            .hdr = .{
                .name = @ptrCast(&batch.peers[first]),
                .namelen = batch.peer_lens[first],
                .iov = batch.iovecs[first..].ptr,
                .iovlen = run,
                .control = if (length > 0) start else null,
                .controllen = length,
                .flags = 0,
            },
            .len = 0,
        };
    }

    /// Resends, one packet per message, everything from message `from` on.
    fn resendWithoutGso(batch: *SendBatch, fd: posix.socket_t, from: usize, already_sent: usize, already_ahead: usize, now_ns: u64) Flushed {
        var first_packet: usize = 0;
        for (batch.headers[0..from]) |header| first_packet += header.hdr.iovlen;
        var sent = already_sent;
        var ahead = already_ahead;
        var i = first_packet;
        while (i < batch.count) : (i += 1) {
            batch.buildMessage(0, i, 1);
            const rc = linux.sendmmsg(fd, batch.headers[0..1].ptr, 1, linux.MSG.DONTWAIT);
            if (linux.E.init(rc) == .SUCCESS and rc == 1) {
                sent += 1;
                ahead += batch.aheadIn(batch.headers[0], now_ns);
            }
        }
        const dropped = batch.count - sent;
        batch.count = 0;
        return .{ .sent = sent, .dropped = dropped, .paced = if (batch.txtime) sent else 0, .paced_ahead = ahead };
    }
};

const testing = std.testing;

/// A receiving socket on 127.0.0.1 and a sending socket aimed at it, for the tests below.
const Loopback = struct {
    receiver: posix.socket_t,
    sender: posix.socket_t,
    destination: posix.sockaddr.storage,
    destination_len: posix.socklen_t,

    /// `receive_buffer_bytes`: SO_RCVBUF of the receiver, for a test that sends more than the default holds.
    fn open(receive_buffer_bytes: ?c_int) !Loopback {
        const address = try std.net.Address.parseIp("127.0.0.1", 0);
        const receiver = try posix.socket(posix.AF.INET, posix.SOCK.DGRAM | posix.SOCK.NONBLOCK, 0);
        errdefer posix.close(receiver);
        if (receive_buffer_bytes) |bytes| try posix.setsockopt(receiver, posix.SOL.SOCKET, posix.SO.RCVBUF, &std.mem.toBytes(bytes));
        try posix.bind(receiver, &address.any, address.getOsSockLen());
        var bound: std.net.Address = undefined;
        var bound_len: posix.socklen_t = @sizeOf(std.net.Address);
        try posix.getsockname(receiver, &bound.any, &bound_len);
        const sender = try posix.socket(posix.AF.INET, posix.SOCK.DGRAM | posix.SOCK.NONBLOCK, 0);
        var loopback = Loopback{ .receiver = receiver, .sender = sender, .destination = undefined, .destination_len = bound_len };
        @memcpy(std.mem.asBytes(&loopback.destination)[0..bound_len], std.mem.asBytes(&bound.any)[0..bound_len]);
        return loopback;
    }

    fn close(loopback: *Loopback) void {
        posix.close(loopback.sender);
        posix.close(loopback.receiver);
    }
};

test "runs of equal-size packets go out as GSO messages and arrive as separate datagrams" {
    var loopback = try Loopback.open(1 << 20);
    defer loopback.close();
    const receiver = loopback.receiver;
    const sender = loopback.sender;
    const destination = loopback.destination;
    const bound_len = loopback.destination_len;

    // 60 full packets (more than one GSO send may hold: 60 × 1350 bytes
    // exceeds a UDP datagram), a short one that ends a run, then 5 more.
    var lengths: [66]usize = undefined;
    for (&lengths, 0..) |*length, i| length.* = if (i == 60) 300 else 1350;
    var batch = try SendBatch.init(testing.allocator, lengths.len, 1350);
    defer batch.deinit(testing.allocator);
    for (lengths, 0..) |length, i| {
        @memset(batch.next()[0..length], @intCast(i));
        batch.commit(length, &destination, bound_len, 0);
    }
    try testing.expectEqual(SendBatch.Flushed{ .sent = lengths.len, .dropped = 0 }, batch.flush(sender));

    var receive_batch = try ReceiveBatch.init(testing.allocator, 64, 1351);
    defer receive_batch.deinit(testing.allocator);
    var received: usize = 0;
    while (received < lengths.len) {
        const count = receive_batch.receive(receiver);
        try testing.expect(count > 0);
        for (0..count) |k| {
            const datagram = receive_batch.datagram(k);
            try testing.expectEqual(lengths[received], datagram.data.len);
            for (datagram.data) |byte| try testing.expectEqual(@as(u8, @intCast(received)), byte);
            received += 1;
        }
    }
}

test "a send batch and a receive batch carry datagrams intact over loopback" {
    var loopback = try Loopback.open(null);
    defer loopback.close();
    const receiver = loopback.receiver;
    const sender = loopback.sender;
    const destination = loopback.destination;
    const bound_len = loopback.destination_len;

    var send_batch = try SendBatch.init(testing.allocator, 8, 100);
    defer send_batch.deinit(testing.allocator);
    for (0..8) |i| {
        const slot = send_batch.next();
        @memset(slot[0 .. i + 1], @intCast(i));
        send_batch.commit(i + 1, &destination, bound_len, 0);
    }
    try testing.expect(send_batch.full());
    try testing.expectEqual(SendBatch.Flushed{ .sent = 8, .dropped = 0 }, send_batch.flush(sender));

    var receive_batch = try ReceiveBatch.init(testing.allocator, 16, 64);
    defer receive_batch.deinit(testing.allocator);
    try testing.expectEqual(@as(usize, 8), receive_batch.receive(receiver));
    for (0..8) |i| {
        const datagram = receive_batch.datagram(i);
        try testing.expectEqual(i + 1, datagram.data.len);
        try testing.expect(!datagram.truncated);
        for (datagram.data) |byte| try testing.expectEqual(@as(u8, @intCast(i)), byte);
    }
    try testing.expectEqual(@as(usize, 0), receive_batch.receive(receiver));
}

test "with SO_TXTIME on, every message carries its send time and arrives intact (GSO runs and single packets)" {
    const udp = @import("udp.zig");
    var loopback = try Loopback.open(null);
    defer loopback.close();
    const receiver = loopback.receiver;
    const sender = loopback.sender;
    const destination = loopback.destination;
    const bound_len = loopback.destination_len;
    // Linux accepts the option for CLOCK_MONOTONIC without privileges.
    try testing.expect(udp.enableTxtime(sender));

    // Four equal packets (one GSO message), then two shorter ones. The send
    // times are now, as quiche gives them when nothing is held back, except
    // the last packet's, 50 ms ahead (the kernel without fq sends it at
    // once; with fq it would wait).
    const lengths = [_]usize{ 1200, 1200, 1200, 1200, 500, 300 };
    var batch = try SendBatch.init(testing.allocator, lengths.len, 1200);
    defer batch.deinit(testing.allocator);
    batch.txtime = true;
    const ts = try posix.clock_gettime(.MONOTONIC);
    const now_ns = @as(u64, @intCast(ts.sec)) * std.time.ns_per_s + @as(u64, @intCast(ts.nsec));
    for (lengths, 0..) |length, i| {
        @memset(batch.next()[0..length], @intCast(i));
        const ahead_ns: u64 = if (i == lengths.len - 1) 50 * std.time.ns_per_ms else 0;
        batch.commit(length, &destination, bound_len, now_ns + ahead_ns);
    }
    try testing.expectEqual(SendBatch.Flushed{ .sent = lengths.len, .dropped = 0, .paced = lengths.len, .paced_ahead = 1 }, batch.flush(sender));

    var receive_batch = try ReceiveBatch.init(testing.allocator, 16, 1201);
    defer receive_batch.deinit(testing.allocator);
    var received: usize = 0;
    while (received < lengths.len) {
        // Wait for the socket: with the fq qdisc the last packet leaves
        // only at its send time.
        var fds = [_]posix.pollfd{.{ .fd = receiver, .events = posix.POLL.IN, .revents = 0 }};
        try testing.expect(try posix.poll(&fds, 5000) == 1);
        const count = receive_batch.receive(receiver);
        try testing.expect(count > 0);
        for (0..count) |k| {
            const datagram = receive_batch.datagram(k);
            try testing.expectEqual(lengths[received], datagram.data.len);
            for (datagram.data) |byte| try testing.expectEqual(@as(u8, @intCast(received)), byte);
            received += 1;
        }
    }
}
