//! Interop: decodes the QPACK Offline Interop files that other
//! implementations' encoders produced (github.com/qpackers/qifs, MIT
//! licensed) and compares every header list with the source .qif file.
//!
//! The files are not part of this repository (and CI may not download
//! them), so this is its own build step, not part of `zig build test`; it
//! fails when QPACK_QIFS_DIR does not name a checkout of qpackers/qifs:
//!   git clone https://github.com/qpackers/qifs /tmp/qifs
//!   QPACK_QIFS_DIR=/tmp/qifs .toolchain/zig/ziglang/zig build qifs
//!
//! It decodes every `encoded/qpack-05/<implementation>/<name>.out.<table
//! capacity>.<blocked streams>.<ack mode>` whose `qifs/<name>.qif` is at most
//! `max_qif_bytes` (the netbsd and netbsd-hq sets), from every
//! implementation there (f5, ls-qpack, nghttp3, proxygen, qthingey, quinn).
//! (`examples/examples.out.*` has no matching .qif: it encodes the RFC's
//! Appendix B fields, while draft-examples.qif holds an older draft's.)
//! An encoded file is a sequence of [stream ID: u64 big endian][length: u32
//! big endian][bytes]; stream 0 is the encoder stream, and header blocks may
//! arrive before the inserts they need, so blocked sections are retried
//! after each encoder stream record, as a connection would. The files
//! predate RFC 9204's zero initial table capacity, so the test first feeds
//! the Set Dynamic Table Capacity instruction an RFC encoder would send.

const std = @import("std");
const assert = std.debug.assert;
const testing = std.testing;
const Decoder = @import("decoder.zig").Decoder;
const encoder_instruction = @import("encoder_instruction.zig");

const prefix_int_max_bytes = @import("prefix_int.zig").max_encoded_bytes;

const Field = struct { name: []const u8, value: []const u8 };
const HeaderList = []const Field;

/// Keeps the run to the small sets (the Facebook sets are 200-350 KB each).
const max_qif_bytes = 64 * 1024;
const max_encoded_bytes = 1024 * 1024;

/// The header lists of a .qif file: "name<TAB>value" lines, lists separated
/// by blank lines, '#' lines are comments.
fn parseQif(arena: std.mem.Allocator, text: []const u8) ![]HeaderList {
    var lists: std.ArrayListUnmanaged(HeaderList) = .empty;
    var current: std.ArrayListUnmanaged(Field) = .empty;
    var lines = std.mem.splitScalar(u8, text, '\n');
    while (lines.next()) |raw_line| {
        const line = std.mem.trimEnd(u8, raw_line, "\r");
        if (line.len > 0 and line[0] == '#') continue;
        if (line.len == 0) {
            if (current.items.len > 0) {
                try lists.append(arena, try current.toOwnedSlice(arena));
            }
            continue;
        }
        const tab = std.mem.indexOfScalar(u8, line, '\t') orelse return error.BadQifLine;
        try current.append(arena, .{ .name = line[0..tab], .value = line[tab + 1 ..] });
    }
    if (current.items.len > 0) try lists.append(arena, try current.toOwnedSlice(arena));
    return lists.toOwnedSlice(arena);
}

const DecodedSection = struct { stream_id: u64, fields: HeaderList };

const Collector = struct {
    arena: std.mem.Allocator,
    fields: std.ArrayListUnmanaged(Field) = .empty,
    out_of_memory: bool = false,

    fn onField(self: *Collector, name: []const u8, value: []const u8) void {
        const field = Field{
            .name = self.arena.dupe(u8, name) catch return self.fail(),
            .value = self.arena.dupe(u8, value) catch return self.fail(),
        };
        self.fields.append(self.arena, field) catch return self.fail();
    }

    fn fail(self: *Collector) void {
        self.out_of_memory = true;
    }
};

const Block = struct { stream_id: u64, bytes: []const u8 };

const EncodedSettings = struct { table_capacity: u32, blocked_streams: u16 };

/// "<name>.out.<capacity>.<blocked>.<ack mode>" → the settings, or null for
/// files of another shape.
fn parseEncodedName(file_name: []const u8) ?struct { qif_name: []const u8, settings: EncodedSettings } {
    const marker = ".out.";
    const marker_at = std.mem.indexOf(u8, file_name, marker) orelse return null;
    var parts = std.mem.splitScalar(u8, file_name[marker_at + marker.len ..], '.');
    const capacity = std.fmt.parseInt(u32, parts.next() orelse return null, 10) catch return null;
    const blocked = std.fmt.parseInt(u16, parts.next() orelse return null, 10) catch return null;
    const ack_mode = parts.next() orelse return null;
    if (ack_mode.len != 1 or parts.next() != null) return null;
    return .{ .qif_name = file_name[0..marker_at], .settings = .{ .table_capacity = capacity, .blocked_streams = blocked } };
}

fn decodeEncodedFile(arena: std.mem.Allocator, encoded: []const u8, settings: EncodedSettings) ![]DecodedSection {
    var decoder = Decoder.init(testing.allocator, settings.table_capacity, settings.blocked_streams);
    defer decoder.deinit();
    // These files predate RFC 9204, when the table started at the maximum
    // capacity; most encoders here therefore never send Set Dynamic Table
    // Capacity. The RFC starts it at 0 (§3.2.3), so the instruction an RFC
    // encoder would send first is fed first (harmless for the encoders
    // that do send it).
    if (settings.table_capacity > 0) {
        var instruction: [prefix_int_max_bytes]u8 = undefined;
        const len = try encoder_instruction.writeSetCapacity(&instruction, settings.table_capacity);
        try decoder.onEncoderStream(instruction[0..len]);
    }
    var waiting: std.ArrayListUnmanaged(Block) = .empty;
    var decoded: std.ArrayListUnmanaged(DecodedSection) = .empty;
    var offset: usize = 0;
    while (offset < encoded.len) {
        if (encoded.len - offset < 12) return error.TruncatedRecord;
        const stream_id = std.mem.readInt(u64, encoded[offset..][0..8], .big);
        const len = std.mem.readInt(u32, encoded[offset + 8 ..][0..4], .big);
        offset += 12;
        if (encoded.len - offset < len) return error.TruncatedRecord;
        const bytes = encoded[offset..][0..len];
        offset += len;
        if (stream_id == 0) {
            try decoder.onEncoderStream(bytes);
            try retryWaiting(arena, &decoder, &waiting, &decoded);
        } else if (!try decodeBlock(arena, &decoder, .{ .stream_id = stream_id, .bytes = bytes }, &decoded)) {
            try waiting.append(arena, .{ .stream_id = stream_id, .bytes = bytes });
        }
        // The connection would write these; they must stay bounded.
        decoder.consumeDecoderStream(decoder.pendingDecoderStream().len);
    }
    try testing.expectEqual(@as(usize, 0), waiting.items.len);
    try testing.expectEqual(@as(usize, 0), decoder.blockedStreamCount());
    std.mem.sort(DecodedSection, decoded.items, {}, struct {
        fn lessThan(_: void, a: DecodedSection, b: DecodedSection) bool {
            return a.stream_id < b.stream_id;
        }
    }.lessThan);
    return decoded.items;
}

fn retryWaiting(
    arena: std.mem.Allocator,
    decoder: *Decoder,
    waiting: *std.ArrayListUnmanaged(Block),
    decoded: *std.ArrayListUnmanaged(DecodedSection),
) !void {
    var index: usize = 0;
    while (index < waiting.items.len) {
        if (try decodeBlock(arena, decoder, waiting.items[index], decoded)) {
            _ = waiting.orderedRemove(index);
        } else {
            index += 1;
        }
    }
}

/// True when the block decoded, false when it is blocked.
fn decodeBlock(arena: std.mem.Allocator, decoder: *Decoder, block: Block, decoded: *std.ArrayListUnmanaged(DecodedSection)) !bool {
    var collector = Collector{ .arena = arena };
    var scratch: [8192]u8 = undefined;
    const status = try decoder.decodeFieldSection(block.stream_id, block.bytes, &scratch, &collector, Collector.onField);
    if (status == .blocked) {
        try testing.expectEqual(@as(usize, 0), collector.fields.items.len);
        return false;
    }
    try testing.expect(!collector.out_of_memory);
    try decoded.append(arena, .{ .stream_id = block.stream_id, .fields = collector.fields.items });
    return true;
}

fn expectSameLists(expected: []const HeaderList, decoded: []const DecodedSection) !void {
    try testing.expectEqual(expected.len, decoded.len);
    for (expected, decoded) |want, got| {
        try testing.expectEqual(want.len, got.fields.len);
        for (want, got.fields) |want_field, got_field| {
            try testing.expectEqualStrings(want_field.name, got_field.name);
            try testing.expectEqualStrings(want_field.value, got_field.value);
        }
    }
}

/// Decodes the implementation's files; returns how many were checked.
fn checkImplementationDir(arena: std.mem.Allocator, root: std.fs.Dir, implementation: []const u8) !usize {
    var checked_count: usize = 0;
    const encoded_path = try std.fmt.allocPrint(arena, "encoded/qpack-05/{s}", .{implementation});
    var dir = try root.openDir(encoded_path, .{ .iterate = true });
    defer dir.close();
    var iterator = dir.iterate();
    while (try iterator.next()) |entry| {
        if (entry.kind != .file) continue;
        const parsed = parseEncodedName(entry.name) orelse continue;
        const qif_path = try std.fmt.allocPrint(arena, "qifs/{s}.qif", .{parsed.qif_name});
        const qif_text = root.readFileAlloc(arena, qif_path, max_qif_bytes) catch |err| switch (err) {
            error.FileTooBig, error.FileNotFound => continue,
            else => return err,
        };
        const expected = try parseQif(arena, qif_text);
        const encoded = try dir.readFileAlloc(arena, entry.name, max_encoded_bytes);
        const decoded = decodeEncodedFile(arena, encoded, parsed.settings) catch |err| {
            std.debug.print("qifs: {s}/{s} failed: {s}\n", .{ implementation, entry.name, @errorName(err) });
            return err;
        };
        expectSameLists(expected, decoded) catch |err| {
            std.debug.print("qifs: {s}/{s} differs from {s}\n", .{ implementation, entry.name, qif_path });
            return err;
        };
        checked_count += 1;
    }
    return checked_count;
}

test "qifs interop: other encoders' output decodes to the source header lists" {
    const root_path = std.posix.getenv("QPACK_QIFS_DIR") orelse {
        std.debug.print("QPACK_QIFS_DIR must name a checkout of github.com/qpackers/qifs\n", .{});
        return error.QifsDirNotSet;
    };
    var root = try std.fs.cwd().openDir(root_path, .{});
    defer root.close();
    var arena_state = std.heap.ArenaAllocator.init(testing.allocator);
    defer arena_state.deinit();
    const arena = arena_state.allocator();

    var encoded_root = try root.openDir("encoded/qpack-05", .{ .iterate = true });
    defer encoded_root.close();
    var checked_count: usize = 0;
    var implementation_count: usize = 0;
    var iterator = encoded_root.iterate();
    while (try iterator.next()) |entry| {
        if (entry.kind != .directory) continue;
        const checked_here = try checkImplementationDir(arena, root, entry.name);
        checked_count += checked_here;
        if (checked_here > 0) implementation_count += 1;
    }
    std.debug.print("qifs: {d} encoded files from {d} implementations decoded and matched\n", .{ checked_count, implementation_count });
    try testing.expect(checked_count > 0);
}

test "qif parsing" {
    var arena_state = std.heap.ArenaAllocator.init(testing.allocator);
    defer arena_state.deinit();
    const lists = try parseQif(arena_state.allocator(), "# stream 4\n:path\t/index.html\n\n# c\n:authority\twww.ietf.org\nx\ta\tb\n");
    try testing.expectEqual(@as(usize, 2), lists.len);
    try testing.expectEqualStrings("/index.html", lists[0][0].value);
    try testing.expectEqualStrings("a\tb", lists[1][1].value);
    const parsed = parseEncodedName("netbsd.out.4096.100.0").?;
    try testing.expectEqualStrings("netbsd", parsed.qif_name);
    try testing.expectEqual(@as(u32, 4096), parsed.settings.table_capacity);
    try testing.expectEqual(@as(u16, 100), parsed.settings.blocked_streams);
    try testing.expect(parseEncodedName("netbsd.out.4096.100.0-aggr") == null);
}
