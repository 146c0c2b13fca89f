//! The classic BPF program a reuseport group runs for every UDP datagram to
//! pick the socket (the worker) that gets it (SO_ATTACH_REUSEPORT_CBPF; no
//! privileges or toolchain needed). The kernel has pulled the UDP header,
//! so offset 0 is the QUIC packet's first byte. The program returns an
//! index into the group's sockets; an index past the last socket makes the
//! kernel fall back to its hash of the 4-tuple.
//!
//! * Short header (first bit clear): the destination connection ID starts
//!   at byte 1 and is one of ours; its worker byte (`worker_offset`) maps
//!   to the socket of that worker, draining or not. Unknown ids fall back.
//! * Handshake: the DCID (length at byte 5, bytes from 6) is ours; the same.
//! * Initial and 0-RTT: the DCID is the client's random choice, except
//!   after a Retry, when it is the connection ID the Retry named (ours). A
//!   DCID of our length whose worker byte names an accepting worker goes
//!   there (so a client's Initial after a Retry reaches the worker that
//!   minted the token); any other goes to an accepting worker chosen by the
//!   DCID's last byte. Every packet of one connection attempt carries the
//!   same DCID, so they all reach one worker, and a draining worker (a
//!   rolling restart) gets no new connection. The kernel's own hash cannot
//!   give that: it may pick a draining socket.
//! * Anything too short to read, or a Retry: fallback.
//!
//! Classic BPF ends the program returning 0 on a load past the packet,
//! which is a valid socket index, so every load is preceded by a length
//! check. Pure: build() fills a caller buffer, and the tests run the
//! program in a small interpreter of the same instruction subset.

const std = @import("std");
const assert = std.debug.assert;

/// struct sock_filter.
pub const Instruction = @import("udp.zig").SockFilter;

/// The group's sockets in the kernel's order (index = position): each
/// socket's worker, and whether it takes new connections.
pub const Member = struct {
    worker_id: u8,
    /// Takes new connections (implies mapped).
    accepting: bool,
    /// False: no packet is steered here by its id (the kernel's hash
    /// takes them); the socket keeps its index.
    mapped: bool = true,
};

/// Where the worker byte is in our connection IDs (quic/worker_cid.zig).
pub const Target = struct {
    worker_offset: u8,
    cid_len: u8,
};

/// An index no group has: the kernel then uses its 4-tuple hash.
pub const fallback_index: u32 = 0xffff_ffff;
/// The kernel's limit on a classic BPF program (BPF_MAXINSNS).
pub const instructions_max = 4096;

// Classic BPF opcodes (linux/filter.h).
const ld_w_len: u16 = 0x00 | 0x00 | 0x80;
const ld_b_abs: u16 = 0x00 | 0x10 | 0x20;
const ld_b_ind: u16 = 0x00 | 0x10 | 0x40;
const alu_add_k: u16 = 0x04 | 0x00;
const alu_and_k: u16 = 0x04 | 0x50;
const alu_mod_k: u16 = 0x04 | 0x90;
const jmp_ja: u16 = 0x05 | 0x00;
const jmp_jeq_k: u16 = 0x05 | 0x10;
const jmp_jgt_x: u16 = 0x05 | 0x20 | 0x08;
const jmp_jge_k: u16 = 0x05 | 0x30;
const jmp_jset_k: u16 = 0x05 | 0x40;
const ret_k: u16 = 0x06;
const misc_tax: u16 = 0x07;

const long_header_bit = 0x80;
const long_type_mask = 0x30;
const long_type_handshake = 0x20;
const long_type_retry = 0x30;
/// Long header: version (4) after the first byte, then the DCID length.
const long_dcid_len_offset = 5;
const long_dcid_offset = 6;

/// Instructions build() may need for `members` sockets.
pub fn instructionsFor(members: usize) usize {
    return 48 + 8 * members;
}

const Label = enum { fallback, long, handshake, pick };

/// A forward-only assembler: conditional jumps skip one instruction (an
/// unconditional `ja` to a label), so no conditional offset passes 255.
const Assembler = struct {
    out: []Instruction,
    len: usize = 0,
    fixups: [16]struct { at: usize, label: Label } = undefined,
    fixup_count: usize = 0,
    labels: std.EnumArray(Label, ?usize) = .initFill(null),

    fn emit(asm_: *Assembler, code: u16, jt: u8, jf: u8, k: u32) void {
        asm_.out[asm_.len] = .{ .code = code, .jt = jt, .jf = jf, .k = k };
        asm_.len += 1;
    }

    fn jump(asm_: *Assembler, label: Label) void {
        asm_.fixups[asm_.fixup_count] = .{ .at = asm_.len, .label = label };
        asm_.fixup_count += 1;
        asm_.emit(jmp_ja, 0, 0, 0);
    }

    /// if (A <op> k) goto label
    fn jumpIf(asm_: *Assembler, code: u16, k: u32, label: Label) void {
        asm_.emit(code, 0, 1, k);
        asm_.jump(label);
    }

    /// if (!(A <op> k)) goto label
    fn jumpUnless(asm_: *Assembler, code: u16, k: u32, label: Label) void {
        asm_.emit(code, 1, 0, k);
        asm_.jump(label);
    }

    fn mark(asm_: *Assembler, label: Label) void {
        assert(asm_.labels.get(label) == null);
        asm_.labels.set(label, asm_.len);
    }

    /// A == key → return index, for each pair; falls through otherwise.
    fn chain(asm_: *Assembler, key: u32, index: u32) void {
        asm_.emit(jmp_jeq_k, 0, 1, key);
        asm_.emit(ret_k, 0, 0, index);
    }

    fn finish(asm_: *Assembler) []Instruction {
        for (asm_.fixups[0..asm_.fixup_count]) |fixup| {
            const target = asm_.labels.get(fixup.label).?;
            assert(target > fixup.at);
            asm_.out[fixup.at].k = @intCast(target - fixup.at - 1);
        }
        return asm_.out[0..asm_.len];
    }
};

/// Writes the program for `members` into `out` (at least
/// instructionsFor(members.len) long) and returns it.
pub fn build(target: Target, members: []const Member, out: []Instruction) []Instruction {
    assert(target.worker_offset < target.cid_len);
    assert(target.cid_len <= 20);
    assert(out.len >= instructionsFor(members.len));
    assert(instructionsFor(members.len) <= instructions_max);
    for (members, 0..) |a, i| {
        assert(a.mapped or !a.accepting);
        if (a.mapped) for (members[i + 1 ..]) |b| assert(!b.mapped or a.worker_id != b.worker_id);
    }

    var asm_ = Assembler{ .out = out };
    asm_.emit(ld_w_len, 0, 0, 0);
    asm_.jumpUnless(jmp_jge_k, 1, .fallback);
    asm_.emit(ld_b_abs, 0, 0, 0);
    asm_.jumpIf(jmp_jset_k, long_header_bit, .long);

    // Short header: the DCID starts at byte 1.
    asm_.emit(ld_w_len, 0, 0, 0);
    asm_.jumpUnless(jmp_jge_k, 1 + @as(u32, target.worker_offset) + 1, .fallback);
    asm_.emit(ld_b_abs, 0, 0, 1 + @as(u32, target.worker_offset));
    for (members, 0..) |member, index| if (member.mapped) asm_.chain(member.worker_id, @intCast(index));
    asm_.jump(.fallback);

    asm_.mark(.long);
    asm_.emit(alu_and_k, 0, 0, long_type_mask);
    asm_.jumpIf(jmp_jeq_k, long_type_handshake, .handshake);
    asm_.jumpIf(jmp_jeq_k, long_type_retry, .fallback);
    // Initial or 0-RTT: X = 5 + DCID length, the offset of its last byte.
    asm_.emit(ld_w_len, 0, 0, 0);
    asm_.jumpUnless(jmp_jge_k, long_dcid_offset, .fallback);
    asm_.emit(ld_b_abs, 0, 0, long_dcid_len_offset);
    asm_.jumpIf(jmp_jeq_k, 0, .fallback);
    asm_.emit(alu_add_k, 0, 0, long_dcid_len_offset);
    asm_.emit(misc_tax, 0, 0, 0);
    asm_.emit(ld_w_len, 0, 0, 0);
    asm_.jumpUnless(jmp_jgt_x, 0, .fallback);
    asm_.emit(ld_b_abs, 0, 0, long_dcid_len_offset);
    asm_.jumpUnless(jmp_jeq_k, target.cid_len, .pick);
    asm_.emit(ld_b_abs, 0, 0, long_dcid_offset + @as(u32, target.worker_offset));
    for (members, 0..) |member, index| if (member.accepting) asm_.chain(member.worker_id, @intCast(index));

    asm_.mark(.pick);
    var accepting: u32 = 0;
    for (members) |member| accepting += @intFromBool(member.accepting);
    if (accepting == 0) {
        asm_.jump(.fallback);
    } else {
        asm_.emit(ld_b_ind, 0, 0, 0);
        asm_.emit(alu_mod_k, 0, 0, accepting);
        var rank: u32 = 0;
        for (members, 0..) |member, index| if (member.accepting) {
            asm_.chain(rank, @intCast(index));
            rank += 1;
        };
        asm_.jump(.fallback);
    }

    asm_.mark(.handshake);
    asm_.emit(ld_w_len, 0, 0, 0);
    asm_.jumpUnless(jmp_jge_k, long_dcid_offset + @as(u32, target.cid_len), .fallback);
    asm_.emit(ld_b_abs, 0, 0, long_dcid_len_offset);
    asm_.jumpUnless(jmp_jeq_k, target.cid_len, .fallback);
    asm_.emit(ld_b_abs, 0, 0, long_dcid_offset + @as(u32, target.worker_offset));
    for (members, 0..) |member, index| if (member.mapped) asm_.chain(member.worker_id, @intCast(index));

    asm_.mark(.fallback);
    asm_.emit(ret_k, 0, 0, fallback_index);
    const program = asm_.finish();
    assert(program.len <= instructionsFor(members.len));
    return program;
}

// ---------------------------------------------------------------- tests

const testing = std.testing;

/// Runs `program` over `packet` as the kernel's classic BPF interpreter
/// would, for the instructions build() uses: a load past the end ends the
/// program with 0, as in the kernel.
fn run(program: []const Instruction, packet: []const u8) u32 {
    var a: u32 = 0;
    var x: u32 = 0;
    var pc: usize = 0;
    var steps: usize = 0;
    while (true) : (steps += 1) {
        assert(steps <= program.len); // Forward jumps only: no loops.
        const insn = program[pc];
        pc += 1;
        switch (insn.code) {
            ld_w_len => a = @intCast(packet.len),
            ld_b_abs, ld_b_ind => {
                const at = if (insn.code == ld_b_ind) @as(u64, x) + insn.k else insn.k;
                if (at >= packet.len) return 0;
                a = packet[@intCast(at)];
            },
            alu_add_k => a +%= insn.k,
            alu_and_k => a &= insn.k,
            alu_mod_k => a %= insn.k,
            misc_tax => x = a,
            jmp_ja => pc += insn.k,
            jmp_jeq_k, jmp_jgt_x, jmp_jge_k, jmp_jset_k => {
                const taken = switch (insn.code) {
                    jmp_jeq_k => a == insn.k,
                    jmp_jgt_x => a > x,
                    jmp_jge_k => a >= insn.k,
                    jmp_jset_k => a & insn.k != 0,
                    else => unreachable,
                };
                pc += if (taken) insn.jt else insn.jf;
            },
            ret_k => return insn.k,
            else => unreachable,
        }
    }
}

const random_target = Target{ .worker_offset = 0, .cid_len = 16 };

fn shortPacket(target: Target, worker: u8, random: std.Random, out: []u8) []u8 {
    const packet = out[0 .. 1 + target.cid_len + 20];
    random.bytes(packet);
    packet[0] = 0x40 | (packet[0] & 0x3f);
    packet[1 + target.worker_offset] = worker;
    return packet;
}

fn longPacket(type_bits: u8, dcid: []const u8, random: std.Random, out: []u8) []u8 {
    const packet = out[0..1200];
    random.bytes(packet);
    packet[0] = 0xc0 | type_bits | (packet[0] & 0x0f);
    std.mem.writeInt(u32, packet[1..5], 1, .big);
    packet[5] = @intCast(dcid.len);
    @memcpy(packet[6..][0..dcid.len], dcid);
    return packet;
}

test "short-header packets go to the socket of the worker their DCID names" {
    var prng = std.Random.DefaultPrng.init(1);
    const random = prng.random();
    var buffer: [instructions_max]Instruction = undefined;
    const members = [_]Member{ .{ .worker_id = 7, .accepting = true }, .{ .worker_id = 3, .accepting = false }, .{ .worker_id = 200, .accepting = true } };
    for ([_]Target{ random_target, .{ .worker_offset = 4, .cid_len = 12 } }) |target| {
        const program = build(target, &members, &buffer);
        var packet: [1500]u8 = undefined;
        try testing.expectEqual(@as(u32, 0), run(program, shortPacket(target, 7, random, &packet)));
        try testing.expectEqual(@as(u32, 1), run(program, shortPacket(target, 3, random, &packet)));
        try testing.expectEqual(@as(u32, 2), run(program, shortPacket(target, 200, random, &packet)));
        // A worker the group does not have: the kernel's hash decides.
        try testing.expectEqual(fallback_index, run(program, shortPacket(target, 8, random, &packet)));
        // Too short to hold the worker byte: never a load past the end (which returns 0).
        const short = shortPacket(target, 3, random, &packet);
        try testing.expectEqual(fallback_index, run(program, short[0 .. 1 + target.worker_offset]));
        try testing.expectEqual(@as(u32, 1), run(program, short[0 .. 2 + target.worker_offset]));
    }
    try testing.expectEqual(fallback_index, run(build(random_target, &members, &buffer), &.{}));
}

test "Handshake packets follow the worker byte; Retry and malformed long headers fall back" {
    var prng = std.Random.DefaultPrng.init(2);
    const random = prng.random();
    var buffer: [instructions_max]Instruction = undefined;
    const members = [_]Member{ .{ .worker_id = 1, .accepting = true }, .{ .worker_id = 2, .accepting = false } };
    const program = build(random_target, &members, &buffer);
    var packet: [1500]u8 = undefined;
    var cid: [16]u8 = undefined;
    random.bytes(&cid);
    cid[0] = 2;
    try testing.expectEqual(@as(u32, 1), run(program, longPacket(0x20, &cid, random, &packet)));
    cid[0] = 9;
    try testing.expectEqual(fallback_index, run(program, longPacket(0x20, &cid, random, &packet)));
    // A Handshake DCID of another length is not ours.
    cid[0] = 2;
    try testing.expectEqual(fallback_index, run(program, longPacket(0x20, cid[0..8], random, &packet)));
    try testing.expectEqual(fallback_index, run(program, longPacket(0x30, &cid, random, &packet)));
    // Truncated long headers.
    const handshake = longPacket(0x20, &cid, random, &packet);
    for ([_]usize{ 1, 5, 6, 21 }) |len| try testing.expectEqual(fallback_index, run(program, handshake[0..len]));
    try testing.expectEqual(@as(u32, 1), run(program, handshake[0..22]));
}

test "Initial and 0-RTT packets go to an accepting worker chosen by the DCID, never a draining one" {
    var prng = std.Random.DefaultPrng.init(3);
    const random = prng.random();
    var buffer: [instructions_max]Instruction = undefined;
    const members = [_]Member{
        .{ .worker_id = 10, .accepting = true },
        .{ .worker_id = 11, .accepting = false },
        .{ .worker_id = 12, .accepting = true },
        .{ .worker_id = 13, .accepting = true },
    };
    const program = build(random_target, &members, &buffer);
    var counts = [_]u32{0} ** 4;
    var packet: [1500]u8 = undefined;
    for (0..3000) |i| {
        var dcid: [20]u8 = undefined;
        const len = 8 + i % 13;
        random.bytes(dcid[0..len]);
        const type_bits: u8 = if (i % 2 == 0) 0x00 else 0x10;
        const index = run(program, longPacket(type_bits, dcid[0..len], random, &packet));
        // The same DCID always reaches the same socket: the client's
        // Initials and 0-RTT packets of one attempt stay together.
        try testing.expectEqual(index, run(program, longPacket(type_bits ^ 0x10, dcid[0..len], random, &packet)));
        const accepting = [_]u32{ 0, 2, 3 };
        if (len == 16 and dcid[0] >= 10 and dcid[0] <= 13 and dcid[0] != 11) {
            // Shaped like ours with an accepting worker's byte: that worker.
            try testing.expectEqual(@as(u32, dcid[0] - 10), index);
        } else {
            try testing.expectEqual(accepting[dcid[len - 1] % 3], index);
        }
        counts[index] += 1;
    }
    try testing.expectEqual(@as(u32, 0), counts[1]);
    for ([_]usize{ 0, 2, 3 }) |index| try testing.expect(counts[index] > 800);
    // After a Retry: the DCID is the one the Retry named, with its worker byte.
    var ours: [16]u8 = undefined;
    random.bytes(&ours);
    ours[0] = 13;
    try testing.expectEqual(@as(u32, 3), run(program, longPacket(0x00, &ours, random, &packet)));
    // An empty DCID, or one running past the packet, falls back.
    try testing.expectEqual(fallback_index, run(program, longPacket(0x00, &.{}, random, &packet)));
    const initial = longPacket(0x00, &ours, random, &packet);
    try testing.expectEqual(fallback_index, run(program, initial[0..21]));
}

test "an unmapped socket keeps its index but gets no packet by id" {
    var buffer: [instructions_max]Instruction = undefined;
    const members = [_]Member{ .{ .worker_id = 1, .accepting = true }, .{ .worker_id = 2, .accepting = false, .mapped = false }, .{ .worker_id = 3, .accepting = true } };
    const program = build(random_target, &members, &buffer);
    var prng = std.Random.DefaultPrng.init(6);
    var packet: [1500]u8 = undefined;
    try testing.expectEqual(fallback_index, run(program, shortPacket(random_target, 2, prng.random(), &packet)));
    try testing.expectEqual(@as(u32, 2), run(program, shortPacket(random_target, 3, prng.random(), &packet)));
}

test "no accepting worker: new connections fall back to the kernel's hash" {
    var buffer: [instructions_max]Instruction = undefined;
    const members = [_]Member{.{ .worker_id = 4, .accepting = false }};
    const program = build(random_target, &members, &buffer);
    var prng = std.Random.DefaultPrng.init(4);
    var packet: [1500]u8 = undefined;
    try testing.expectEqual(fallback_index, run(program, longPacket(0x00, &[_]u8{1} ** 8, prng.random(), &packet)));
}

test "the largest group fits the kernel's program limit" {
    var buffer: [instructions_max]Instruction = undefined;
    var members: [256]Member = undefined;
    for (&members, 0..) |*member, i| member.* = .{ .worker_id = @intCast(i), .accepting = i % 2 == 0 };
    const program = build(.{ .worker_offset = 5, .cid_len = 20 }, &members, &buffer);
    try testing.expect(program.len <= instructions_max);
    var prng = std.Random.DefaultPrng.init(5);
    var packet: [1500]u8 = undefined;
    const target = Target{ .worker_offset = 5, .cid_len = 20 };
    for (0..256) |worker| try testing.expectEqual(@as(u32, @intCast(worker)), run(program, shortPacket(target, @intCast(worker), prng.random(), &packet)));
}
