//! The HPACK Huffman code (RFC 7541 Appendix B), which QPACK reuses for
//! string literals (RFC 9204 §4.1.2).
//!
//! Decoding runs for almost every request head, so it never walks the code
//! bit by bit: a table generated at compile time moves a small state machine
//! four bits (one nibble) at a time. The states are the 256 internal nodes of
//! the code tree; every transition says which node comes next, whether a
//! symbol was completed on the way (at most one can be, because the shortest
//! code is five bits) and whether the walk hit EOS (always an error in a
//! string). A second table says in which states the input may end.

const std = @import("std");
const assert = std.debug.assert;

pub const Code = struct {
    /// The code, right-aligned.
    code: u32,
    bits: u5,
};

/// Index 256 is EOS, which only ever appears (in part) as padding.
pub const eos_symbol: u16 = 256;

/// RFC 7541 Appendix B, indexed by symbol.
pub const codes = [257]Code{
    .{ .code = 0x1ff8, .bits = 13 }, .{ .code = 0x7fffd8, .bits = 23 }, .{ .code = 0xfffffe2, .bits = 28 }, .{ .code = 0xfffffe3, .bits = 28 }, // 0x00
    .{ .code = 0xfffffe4, .bits = 28 }, .{ .code = 0xfffffe5, .bits = 28 }, .{ .code = 0xfffffe6, .bits = 28 }, .{ .code = 0xfffffe7, .bits = 28 }, // 0x04
    .{ .code = 0xfffffe8, .bits = 28 }, .{ .code = 0xffffea, .bits = 24 }, .{ .code = 0x3ffffffc, .bits = 30 }, .{ .code = 0xfffffe9, .bits = 28 }, // 0x08
    .{ .code = 0xfffffea, .bits = 28 }, .{ .code = 0x3ffffffd, .bits = 30 }, .{ .code = 0xfffffeb, .bits = 28 }, .{ .code = 0xfffffec, .bits = 28 }, // 0x0c
    .{ .code = 0xfffffed, .bits = 28 }, .{ .code = 0xfffffee, .bits = 28 }, .{ .code = 0xfffffef, .bits = 28 }, .{ .code = 0xffffff0, .bits = 28 }, // 0x10
    .{ .code = 0xffffff1, .bits = 28 }, .{ .code = 0xffffff2, .bits = 28 }, .{ .code = 0x3ffffffe, .bits = 30 }, .{ .code = 0xffffff3, .bits = 28 }, // 0x14
    .{ .code = 0xffffff4, .bits = 28 }, .{ .code = 0xffffff5, .bits = 28 }, .{ .code = 0xffffff6, .bits = 28 }, .{ .code = 0xffffff7, .bits = 28 }, // 0x18
    .{ .code = 0xffffff8, .bits = 28 }, .{ .code = 0xffffff9, .bits = 28 }, .{ .code = 0xffffffa, .bits = 28 }, .{ .code = 0xffffffb, .bits = 28 }, // 0x1c
    .{ .code = 0x14, .bits = 6 }, .{ .code = 0x3f8, .bits = 10 }, .{ .code = 0x3f9, .bits = 10 }, .{ .code = 0xffa, .bits = 12 }, // 0x20
    .{ .code = 0x1ff9, .bits = 13 }, .{ .code = 0x15, .bits = 6 }, .{ .code = 0xf8, .bits = 8 }, .{ .code = 0x7fa, .bits = 11 }, // 0x24
    .{ .code = 0x3fa, .bits = 10 }, .{ .code = 0x3fb, .bits = 10 }, .{ .code = 0xf9, .bits = 8 }, .{ .code = 0x7fb, .bits = 11 }, // 0x28
    .{ .code = 0xfa, .bits = 8 }, .{ .code = 0x16, .bits = 6 }, .{ .code = 0x17, .bits = 6 }, .{ .code = 0x18, .bits = 6 }, // 0x2c
    .{ .code = 0x0, .bits = 5 }, .{ .code = 0x1, .bits = 5 }, .{ .code = 0x2, .bits = 5 }, .{ .code = 0x19, .bits = 6 }, // 0x30
    .{ .code = 0x1a, .bits = 6 }, .{ .code = 0x1b, .bits = 6 }, .{ .code = 0x1c, .bits = 6 }, .{ .code = 0x1d, .bits = 6 }, // 0x34
    .{ .code = 0x1e, .bits = 6 }, .{ .code = 0x1f, .bits = 6 }, .{ .code = 0x5c, .bits = 7 }, .{ .code = 0xfb, .bits = 8 }, // 0x38
    .{ .code = 0x7ffc, .bits = 15 }, .{ .code = 0x20, .bits = 6 }, .{ .code = 0xffb, .bits = 12 }, .{ .code = 0x3fc, .bits = 10 }, // 0x3c
    .{ .code = 0x1ffa, .bits = 13 }, .{ .code = 0x21, .bits = 6 }, .{ .code = 0x5d, .bits = 7 }, .{ .code = 0x5e, .bits = 7 }, // 0x40
    .{ .code = 0x5f, .bits = 7 }, .{ .code = 0x60, .bits = 7 }, .{ .code = 0x61, .bits = 7 }, .{ .code = 0x62, .bits = 7 }, // 0x44
    .{ .code = 0x63, .bits = 7 }, .{ .code = 0x64, .bits = 7 }, .{ .code = 0x65, .bits = 7 }, .{ .code = 0x66, .bits = 7 }, // 0x48
    .{ .code = 0x67, .bits = 7 }, .{ .code = 0x68, .bits = 7 }, .{ .code = 0x69, .bits = 7 }, .{ .code = 0x6a, .bits = 7 }, // 0x4c
    .{ .code = 0x6b, .bits = 7 }, .{ .code = 0x6c, .bits = 7 }, .{ .code = 0x6d, .bits = 7 }, .{ .code = 0x6e, .bits = 7 }, // 0x50
    .{ .code = 0x6f, .bits = 7 }, .{ .code = 0x70, .bits = 7 }, .{ .code = 0x71, .bits = 7 }, .{ .code = 0x72, .bits = 7 }, // 0x54
    .{ .code = 0xfc, .bits = 8 }, .{ .code = 0x73, .bits = 7 }, .{ .code = 0xfd, .bits = 8 }, .{ .code = 0x1ffb, .bits = 13 }, // 0x58
    .{ .code = 0x7fff0, .bits = 19 }, .{ .code = 0x1ffc, .bits = 13 }, .{ .code = 0x3ffc, .bits = 14 }, .{ .code = 0x22, .bits = 6 }, // 0x5c
    .{ .code = 0x7ffd, .bits = 15 }, .{ .code = 0x3, .bits = 5 }, .{ .code = 0x23, .bits = 6 }, .{ .code = 0x4, .bits = 5 }, // 0x60
    .{ .code = 0x24, .bits = 6 }, .{ .code = 0x5, .bits = 5 }, .{ .code = 0x25, .bits = 6 }, .{ .code = 0x26, .bits = 6 }, // 0x64
    .{ .code = 0x27, .bits = 6 }, .{ .code = 0x6, .bits = 5 }, .{ .code = 0x74, .bits = 7 }, .{ .code = 0x75, .bits = 7 }, // 0x68
    .{ .code = 0x28, .bits = 6 }, .{ .code = 0x29, .bits = 6 }, .{ .code = 0x2a, .bits = 6 }, .{ .code = 0x7, .bits = 5 }, // 0x6c
    .{ .code = 0x2b, .bits = 6 }, .{ .code = 0x76, .bits = 7 }, .{ .code = 0x2c, .bits = 6 }, .{ .code = 0x8, .bits = 5 }, // 0x70
    .{ .code = 0x9, .bits = 5 }, .{ .code = 0x2d, .bits = 6 }, .{ .code = 0x77, .bits = 7 }, .{ .code = 0x78, .bits = 7 }, // 0x74
    .{ .code = 0x79, .bits = 7 }, .{ .code = 0x7a, .bits = 7 }, .{ .code = 0x7b, .bits = 7 }, .{ .code = 0x7ffe, .bits = 15 }, // 0x78
    .{ .code = 0x7fc, .bits = 11 }, .{ .code = 0x3ffd, .bits = 14 }, .{ .code = 0x1ffd, .bits = 13 }, .{ .code = 0xffffffc, .bits = 28 }, // 0x7c
    .{ .code = 0xfffe6, .bits = 20 }, .{ .code = 0x3fffd2, .bits = 22 }, .{ .code = 0xfffe7, .bits = 20 }, .{ .code = 0xfffe8, .bits = 20 }, // 0x80
    .{ .code = 0x3fffd3, .bits = 22 }, .{ .code = 0x3fffd4, .bits = 22 }, .{ .code = 0x3fffd5, .bits = 22 }, .{ .code = 0x7fffd9, .bits = 23 }, // 0x84
    .{ .code = 0x3fffd6, .bits = 22 }, .{ .code = 0x7fffda, .bits = 23 }, .{ .code = 0x7fffdb, .bits = 23 }, .{ .code = 0x7fffdc, .bits = 23 }, // 0x88
    .{ .code = 0x7fffdd, .bits = 23 }, .{ .code = 0x7fffde, .bits = 23 }, .{ .code = 0xffffeb, .bits = 24 }, .{ .code = 0x7fffdf, .bits = 23 }, // 0x8c
    .{ .code = 0xffffec, .bits = 24 }, .{ .code = 0xffffed, .bits = 24 }, .{ .code = 0x3fffd7, .bits = 22 }, .{ .code = 0x7fffe0, .bits = 23 }, // 0x90
    .{ .code = 0xffffee, .bits = 24 }, .{ .code = 0x7fffe1, .bits = 23 }, .{ .code = 0x7fffe2, .bits = 23 }, .{ .code = 0x7fffe3, .bits = 23 }, // 0x94
    .{ .code = 0x7fffe4, .bits = 23 }, .{ .code = 0x1fffdc, .bits = 21 }, .{ .code = 0x3fffd8, .bits = 22 }, .{ .code = 0x7fffe5, .bits = 23 }, // 0x98
    .{ .code = 0x3fffd9, .bits = 22 }, .{ .code = 0x7fffe6, .bits = 23 }, .{ .code = 0x7fffe7, .bits = 23 }, .{ .code = 0xffffef, .bits = 24 }, // 0x9c
    .{ .code = 0x3fffda, .bits = 22 }, .{ .code = 0x1fffdd, .bits = 21 }, .{ .code = 0xfffe9, .bits = 20 }, .{ .code = 0x3fffdb, .bits = 22 }, // 0xa0
    .{ .code = 0x3fffdc, .bits = 22 }, .{ .code = 0x7fffe8, .bits = 23 }, .{ .code = 0x7fffe9, .bits = 23 }, .{ .code = 0x1fffde, .bits = 21 }, // 0xa4
    .{ .code = 0x7fffea, .bits = 23 }, .{ .code = 0x3fffdd, .bits = 22 }, .{ .code = 0x3fffde, .bits = 22 }, .{ .code = 0xfffff0, .bits = 24 }, // 0xa8
    .{ .code = 0x1fffdf, .bits = 21 }, .{ .code = 0x3fffdf, .bits = 22 }, .{ .code = 0x7fffeb, .bits = 23 }, .{ .code = 0x7fffec, .bits = 23 }, // 0xac
    .{ .code = 0x1fffe0, .bits = 21 }, .{ .code = 0x1fffe1, .bits = 21 }, .{ .code = 0x3fffe0, .bits = 22 }, .{ .code = 0x1fffe2, .bits = 21 }, // 0xb0
    .{ .code = 0x7fffed, .bits = 23 }, .{ .code = 0x3fffe1, .bits = 22 }, .{ .code = 0x7fffee, .bits = 23 }, .{ .code = 0x7fffef, .bits = 23 }, // 0xb4
    .{ .code = 0xfffea, .bits = 20 }, .{ .code = 0x3fffe2, .bits = 22 }, .{ .code = 0x3fffe3, .bits = 22 }, .{ .code = 0x3fffe4, .bits = 22 }, // 0xb8
    .{ .code = 0x7ffff0, .bits = 23 }, .{ .code = 0x3fffe5, .bits = 22 }, .{ .code = 0x3fffe6, .bits = 22 }, .{ .code = 0x7ffff1, .bits = 23 }, // 0xbc
    .{ .code = 0x3ffffe0, .bits = 26 }, .{ .code = 0x3ffffe1, .bits = 26 }, .{ .code = 0xfffeb, .bits = 20 }, .{ .code = 0x7fff1, .bits = 19 }, // 0xc0
    .{ .code = 0x3fffe7, .bits = 22 }, .{ .code = 0x7ffff2, .bits = 23 }, .{ .code = 0x3fffe8, .bits = 22 }, .{ .code = 0x1ffffec, .bits = 25 }, // 0xc4
    .{ .code = 0x3ffffe2, .bits = 26 }, .{ .code = 0x3ffffe3, .bits = 26 }, .{ .code = 0x3ffffe4, .bits = 26 }, .{ .code = 0x7ffffde, .bits = 27 }, // 0xc8
    .{ .code = 0x7ffffdf, .bits = 27 }, .{ .code = 0x3ffffe5, .bits = 26 }, .{ .code = 0xfffff1, .bits = 24 }, .{ .code = 0x1ffffed, .bits = 25 }, // 0xcc
    .{ .code = 0x7fff2, .bits = 19 }, .{ .code = 0x1fffe3, .bits = 21 }, .{ .code = 0x3ffffe6, .bits = 26 }, .{ .code = 0x7ffffe0, .bits = 27 }, // 0xd0
    .{ .code = 0x7ffffe1, .bits = 27 }, .{ .code = 0x3ffffe7, .bits = 26 }, .{ .code = 0x7ffffe2, .bits = 27 }, .{ .code = 0xfffff2, .bits = 24 }, // 0xd4
    .{ .code = 0x1fffe4, .bits = 21 }, .{ .code = 0x1fffe5, .bits = 21 }, .{ .code = 0x3ffffe8, .bits = 26 }, .{ .code = 0x3ffffe9, .bits = 26 }, // 0xd8
    .{ .code = 0xffffffd, .bits = 28 }, .{ .code = 0x7ffffe3, .bits = 27 }, .{ .code = 0x7ffffe4, .bits = 27 }, .{ .code = 0x7ffffe5, .bits = 27 }, // 0xdc
    .{ .code = 0xfffec, .bits = 20 }, .{ .code = 0xfffff3, .bits = 24 }, .{ .code = 0xfffed, .bits = 20 }, .{ .code = 0x1fffe6, .bits = 21 }, // 0xe0
    .{ .code = 0x3fffe9, .bits = 22 }, .{ .code = 0x1fffe7, .bits = 21 }, .{ .code = 0x1fffe8, .bits = 21 }, .{ .code = 0x7ffff3, .bits = 23 }, // 0xe4
    .{ .code = 0x3fffea, .bits = 22 }, .{ .code = 0x3fffeb, .bits = 22 }, .{ .code = 0x1ffffee, .bits = 25 }, .{ .code = 0x1ffffef, .bits = 25 }, // 0xe8
    .{ .code = 0xfffff4, .bits = 24 }, .{ .code = 0xfffff5, .bits = 24 }, .{ .code = 0x3ffffea, .bits = 26 }, .{ .code = 0x7ffff4, .bits = 23 }, // 0xec
    .{ .code = 0x3ffffeb, .bits = 26 }, .{ .code = 0x7ffffe6, .bits = 27 }, .{ .code = 0x3ffffec, .bits = 26 }, .{ .code = 0x3ffffed, .bits = 26 }, // 0xf0
    .{ .code = 0x7ffffe7, .bits = 27 }, .{ .code = 0x7ffffe8, .bits = 27 }, .{ .code = 0x7ffffe9, .bits = 27 }, .{ .code = 0x7ffffea, .bits = 27 }, // 0xf4
    .{ .code = 0x7ffffeb, .bits = 27 }, .{ .code = 0xffffffe, .bits = 28 }, .{ .code = 0x7ffffec, .bits = 27 }, .{ .code = 0x7ffffed, .bits = 27 }, // 0xf8
    .{ .code = 0x7ffffee, .bits = 27 }, .{ .code = 0x7ffffef, .bits = 27 }, .{ .code = 0x7fffff0, .bits = 27 }, .{ .code = 0x3ffffee, .bits = 26 }, // 0xfc
    .{ .code = 0x3fffffff, .bits = 30 }, // EOS (256)
};

comptime {
    assert(codes[eos_symbol].bits == 30 and codes[eos_symbol].code == 0x3fffffff);
}

/// The shortest code; a nibble can therefore complete at most one symbol.
const min_code_bits = 5;
/// A string may end with at most seven bits of padding (RFC 7541 §5.2).
const max_padding_bits = 7;

/// Bytes `encode` writes for `src`.
pub fn encodedLength(src: []const u8) usize {
    var total_bits: u64 = 0;
    for (src) |byte| total_bits += codes[byte].bits;
    return @intCast((total_bits + 7) / 8);
}

/// Encodes `src` into `dst` and returns the length written. The last byte is
/// padded with the most significant bits of EOS (all ones). `dst` must hold
/// `encodedLength(src)` bytes.
pub fn encode(src: []const u8, dst: []u8) usize {
    if (std.debug.runtime_safety) assert(dst.len >= encodedLength(src));
    // Bits wait in a 64-bit accumulator and leave 32 at a time. Before each
    // symbol fewer than 32 bits are pending and a code has at most 30, so
    // nothing is lost to the left.
    var pending: u64 = 0;
    var pending_bits: u6 = 0;
    var written: usize = 0;
    for (src) |byte| {
        const code = codes[byte];
        pending = (pending << code.bits) | code.code;
        pending_bits += code.bits;
        if (pending_bits >= 32) {
            pending_bits -= 32;
            std.mem.writeInt(u32, dst[written..][0..4], @truncate(pending >> pending_bits), .big);
            written += 4;
        }
    }
    while (pending_bits >= 8) {
        pending_bits -= 8;
        dst[written] = @truncate(pending >> pending_bits);
        written += 1;
    }
    if (pending_bits > 0) {
        const padding_bits: u6 = 8 - pending_bits;
        const padding = (@as(u64, 1) << padding_bits) - 1;
        dst[written] = @truncate((pending << padding_bits) | padding);
        written += 1;
    }
    return written;
}

const TransitionFlags = packed struct(u8) {
    emits: bool = false,
    /// The walk reached EOS: the input is invalid wherever it is.
    fails: bool = false,
    unused: u6 = 0,
};

/// One move of the decoding state machine, packed so that a step is a
/// single 32-bit load.
const Transition = packed struct(u32) {
    /// The internal node reached after the nibble (0 is the root).
    next_state: u8,
    /// Valid when `flags.emits`.
    symbol: u8,
    flags: TransitionFlags,
    unused: u8 = 0,
};

const state_count = 256;
const nibble_count = 16;

const DecodeTables = struct {
    transitions: [state_count][nibble_count]Transition,
    /// States on the all-ones path at most seven bits deep: the input may
    /// end there, the bits since the last symbol being valid padding.
    accepting_states: [state_count]bool,
};

/// A child in the code tree: an internal node or a leaf (a symbol).
const Child = union(enum) {
    none,
    node: u8,
    leaf: u16,
};

const Tree = struct {
    children: [state_count][2]Child,
    node_count: usize,
};

fn buildTree() Tree {
    var tree = Tree{
        .children = [_][2]Child{.{ .none, .none }} ** state_count,
        .node_count = 1,
    };
    for (codes, 0..) |code, symbol| {
        var node: u8 = 0;
        var bit_index: u5 = code.bits;
        while (bit_index > 1) {
            bit_index -= 1;
            const bit = (code.code >> bit_index) & 1;
            switch (tree.children[node][bit]) {
                .node => |next| node = next,
                .none => {
                    const next: u8 = @intCast(tree.node_count);
                    tree.node_count += 1;
                    tree.children[node][bit] = .{ .node = next };
                    node = next;
                },
                .leaf => unreachable, // The code is prefix-free.
            }
        }
        const last_bit = code.code & 1;
        assert(tree.children[node][last_bit] == .none);
        tree.children[node][last_bit] = .{ .leaf = @intCast(symbol) };
    }
    // A complete prefix code over 257 symbols has exactly 256 internal nodes.
    assert(tree.node_count == state_count);
    return tree;
}

fn acceptingStates(tree: *const Tree) [state_count]bool {
    var accepting = [_]bool{false} ** state_count;
    var node: u8 = 0;
    accepting[node] = true;
    var depth: usize = 0;
    while (depth < max_padding_bits) : (depth += 1) {
        node = tree.children[node][1].node;
        accepting[node] = true;
    }
    return accepting;
}

fn buildDecodeTables() DecodeTables {
    @setEvalBranchQuota(400_000);
    const tree = buildTree();
    const accepting = acceptingStates(&tree);
    var tables = DecodeTables{ .transitions = undefined, .accepting_states = accepting };
    for (0..state_count) |state| {
        for (0..nibble_count) |nibble| {
            var node: u8 = @intCast(state);
            var flags = TransitionFlags{};
            var symbol: u8 = 0;
            var bit_index: u3 = 4;
            while (bit_index > 0) {
                bit_index -= 1;
                const bit = (nibble >> bit_index) & 1;
                switch (tree.children[node][bit]) {
                    .node => |next| node = next,
                    .leaf => |leaf| {
                        if (leaf == eos_symbol) {
                            flags.fails = true;
                            break;
                        }
                        // Five-bit minimum codes: no second symbol fits.
                        assert(!flags.emits);
                        flags.emits = true;
                        symbol = @intCast(leaf);
                        node = 0;
                    },
                    .none => unreachable,
                }
            }
            tables.transitions[state][nibble] = .{ .next_state = node, .symbol = symbol, .flags = flags };
        }
    }
    return tables;
}

const decode_tables: DecodeTables = blk: {
    @setEvalBranchQuota(1_000_000);
    break :blk buildDecodeTables();
};

comptime {
    for (codes) |code| assert(code.bits >= min_code_bits);
    assert(min_code_bits > 4);
    // 16 KiB: small enough to stay in L1 while a head is decoded.
    assert(@sizeOf(@FieldType(DecodeTables, "transitions")) == state_count * nibble_count * 4);
}

pub const DecodeError = error{ InvalidHuffman, NoSpace };

/// Decodes `src` into `dst` and returns the length written. Fails on EOS,
/// on padding longer than seven bits and on padding that is not all ones
/// (RFC 7541 §5.2), and with NoSpace when `dst` is too small.
pub fn decode(src: []const u8, dst: []u8) DecodeError!usize {
    // Callers usually size the destination for the worst case; then every
    // step may store its symbol unconditionally (one spare byte absorbs the
    // store of a step that completes no symbol) and no step checks space.
    if (dst.len > maxDecodedLength(src.len)) return decodeNibbles(.room_for_all, src, dst);
    return decodeNibbles(.checked, src, dst);
}

const SpaceCheck = enum { room_for_all, checked };

fn decodeNibbles(comptime space_check: SpaceCheck, src: []const u8, dst: []u8) DecodeError!usize {
    if (space_check == .room_for_all) assert(dst.len > maxDecodedLength(src.len));
    var state: u8 = 0;
    var written: usize = 0;
    for (src) |byte| {
        const nibbles = [2]u4{ @intCast(byte >> 4), @truncate(byte) };
        inline for (nibbles) |nibble| {
            const transition = decode_tables.transitions[state][nibble];
            if (transition.flags.fails) return error.InvalidHuffman;
            switch (space_check) {
                .room_for_all => {
                    dst[written] = transition.symbol;
                    written += @intFromBool(transition.flags.emits);
                },
                .checked => if (transition.flags.emits) {
                    if (written == dst.len) return error.NoSpace;
                    dst[written] = transition.symbol;
                    written += 1;
                },
            }
            state = transition.next_state;
        }
    }
    if (!decode_tables.accepting_states[state]) return error.InvalidHuffman;
    return written;
}

/// An upper bound on the decoded length of `encoded_len` bytes: every symbol
/// takes at least five bits.
pub fn maxDecodedLength(encoded_len: usize) usize {
    return encoded_len * 8 / min_code_bits;
}

const testing = std.testing;

fn expectCodec(plain: []const u8, encoded_hex: []const u8) !void {
    var expected: [128]u8 = undefined;
    const encoded = try std.fmt.hexToBytes(&expected, encoded_hex);
    try testing.expectEqual(encoded.len, encodedLength(plain));
    var buffer: [128]u8 = undefined;
    const len = encode(plain, &buffer);
    try testing.expectEqualSlices(u8, encoded, buffer[0..len]);
    var decoded: [128]u8 = undefined;
    const decoded_len = try decode(encoded, &decoded);
    try testing.expectEqualStrings(plain, decoded[0..decoded_len]);
}

test "RFC 7541 C.4.1-C.4.3 request examples" {
    try expectCodec("www.example.com", "f1e3c2e5f23a6ba0ab90f4ff");
    try expectCodec("no-cache", "a8eb10649cbf");
    try expectCodec("custom-key", "25a849e95ba97d7f");
    try expectCodec("custom-value", "25a849e95bb8e8b4bf");
}

test "RFC 7541 C.6.1-C.6.3 response examples" {
    try expectCodec("302", "6402");
    try expectCodec("private", "aec3771a4b");
    try expectCodec("Mon, 21 Oct 2013 20:13:21 GMT", "d07abe941054d444a8200595040b8166e082a62d1bff");
    try expectCodec("https://www.example.com", "9d29ad171863c78f0b97c8e9ae82ae43d3");
    try expectCodec("307", "640eff");
    try expectCodec("Mon, 21 Oct 2013 20:13:22 GMT", "d07abe941054d444a8200595040b8166e084a62d1bff");
    try expectCodec("gzip", "9bd9ab");
    try expectCodec(
        "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1",
        "94e7821dd7f2e6c7b335dfdfcd5b3960d5af27087f3672c1ab270fb5291f9587316065c003ed4ee5b1063d5007",
    );
}

test "the empty string encodes to nothing" {
    try testing.expectEqual(@as(usize, 0), encodedLength(""));
    var buffer: [1]u8 = undefined;
    try testing.expectEqual(@as(usize, 0), encode("", &buffer));
    try testing.expectEqual(@as(usize, 0), try decode("", &buffer));
}

test "all 256 byte values roundtrip, alone and together" {
    var plain: [256]u8 = undefined;
    for (&plain, 0..) |*byte, value| byte.* = @intCast(value);
    var encoded: [1024]u8 = undefined;
    var decoded: [256]u8 = undefined;
    for (0..256) |value| {
        const len = encode(plain[value .. value + 1], &encoded);
        const decoded_len = try decode(encoded[0..len], &decoded);
        try testing.expectEqualSlices(u8, plain[value .. value + 1], decoded[0..decoded_len]);
    }
    const len = encode(&plain, &encoded);
    try testing.expectEqual(encodedLength(&plain), len);
    const decoded_len = try decode(encoded[0..len], &decoded);
    try testing.expectEqualSlices(u8, &plain, decoded[0..decoded_len]);
}

test "padding that is not all ones is rejected" {
    // 'a' is 00011 (5 bits); 0x18 = 00011|000 pads with zeros.
    var buffer: [8]u8 = undefined;
    try testing.expectError(error.InvalidHuffman, decode(&.{0x18}, &buffer));
    try testing.expectEqual(@as(usize, 1), try decode(&.{0x1f}, &buffer));
    // 0x1e = 00011|110: the last padding bit is zero.
    try testing.expectError(error.InvalidHuffman, decode(&.{0x1e}, &buffer));
}

test "padding longer than seven bits is rejected" {
    var buffer: [8]u8 = undefined;
    // A lone byte of ones is eight bits of padding.
    try testing.expectError(error.InvalidHuffman, decode(&.{0xff}, &buffer));
    // 'a' (5 bits) followed by 11 bits of ones.
    try testing.expectError(error.InvalidHuffman, decode(&.{ 0x1f, 0xff }, &buffer));
}

test "EOS inside a string is rejected" {
    var buffer: [8]u8 = undefined;
    // 30 ones then two padding ones: the whole of EOS.
    try testing.expectError(error.InvalidHuffman, decode(&.{ 0xff, 0xff, 0xff, 0xff }, &buffer));
    // 'a' then EOS then padding.
    try testing.expectError(error.InvalidHuffman, decode(&.{ 0x1f, 0xff, 0xff, 0xff, 0xfe }, &buffer));
}

test "a destination that is too small is NoSpace" {
    var encoded: [32]u8 = undefined;
    const len = encode("www.example.com", &encoded);
    var small: [14]u8 = undefined;
    try testing.expectError(error.NoSpace, decode(encoded[0..len], &small));
    var exact: [15]u8 = undefined;
    try testing.expectEqual(@as(usize, 15), try decode(encoded[0..len], &exact));
    try testing.expect(maxDecodedLength(len) >= 15);
}
