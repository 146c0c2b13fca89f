//! The layers of zig-src import downward only. Each top-level directory (or
//! root file) is a unit with a rank; a file may import files of its own
//! unit freely and of other units only when their rank is lower. So the
//! HTTP/3 layer (h3/) can never reach back into the loop that drives it
//! (quic/engine.zig), and no two directories import each other. The test
//! reads every .zig file under zig-src and fails naming the first import
//! that goes up or sideways, and on a file in a unit not ranked here (a new
//! directory must be given its place).

const std = @import("std");
const testing = std.testing;

/// Higher imports lower. Units of equal rank may not import each other.
const ranks = [_]struct { unit: []const u8, rank: u8 }{
    // Entry points and test roots: nothing imports them.
    .{ .unit = "entry", .rank = 7 },
    .{ .unit = "abi", .rank = 6 },
    .{ .unit = "server.zig", .rank = 5 },
    .{ .unit = "steering.zig", .rank = 5 },
    // The loop: sockets, QUIC transport, and the driver of the HTTP/3 layer.
    .{ .unit = "quic", .rank = 4 },
    // The HTTP/3 layer, driven by the loop through h3/layer.zig.
    .{ .unit = "h3", .rank = 3 },
    .{ .unit = "dgram", .rank = 2 },
    .{ .unit = "queue", .rank = 2 },
    .{ .unit = "net", .rank = 2 },
    .{ .unit = "ffi", .rank = 2 },
    .{ .unit = "config.zig", .rank = 1 },
    .{ .unit = "stats.zig", .rank = 1 },
    // What each config field means, its unit and range: read by config.zig
    // (validation) and generate.zig (docs).
    .{ .unit = "config_docs.zig", .rank = 0 },
};

const entry_files = [_][]const u8{ "lib.zig", "tests.zig", "fuzz.zig", "fuzz_h3.zig", "generate.zig", "layers_test.zig" };

const max_path_bytes = 256;
const max_depth = 16;

/// The unit of a path relative to zig-src: its first directory, or for a
/// root file the file itself (entry points share one unit).
fn unitOf(path: []const u8) []const u8 {
    if (std.mem.indexOfScalar(u8, path, '/')) |slash| return path[0..slash];
    for (entry_files) |entry| if (std.mem.eql(u8, path, entry)) return "entry";
    return path;
}

fn rankOf(unit: []const u8) ?u8 {
    for (ranks) |entry| if (std.mem.eql(u8, entry.unit, unit)) return entry.rank;
    return null;
}

/// Joins `import` (relative to the directory of `from`) into `out`,
/// resolving "." and ".."; null when it leaves zig-src.
fn resolve(out: *[max_path_bytes]u8, from: []const u8, import: []const u8) ?[]const u8 {
    var parts: [max_depth][]const u8 = undefined;
    var len: usize = 0;
    var from_parts = std.mem.tokenizeScalar(u8, std.fs.path.dirnamePosix(from) orelse "", '/');
    while (from_parts.next()) |part| {
        if (len == max_depth) return null;
        parts[len] = part;
        len += 1;
    }
    var import_parts = std.mem.tokenizeScalar(u8, import, '/');
    while (import_parts.next()) |part| {
        if (std.mem.eql(u8, part, ".")) continue;
        if (std.mem.eql(u8, part, "..")) {
            if (len == 0) return null;
            len -= 1;
            continue;
        }
        if (len == max_depth) return null;
        parts[len] = part;
        len += 1;
    }
    var writer = std.Io.Writer.fixed(out);
    for (parts[0..len], 0..) |part, i| {
        if (i > 0) writer.writeByte('/') catch return null;
        writer.writeAll(part) catch return null;
    }
    return writer.buffered();
}

pub const Violation = struct {
    from: []const u8,
    import: []const u8,
    why: []const u8,
};

/// The first import in `source` (the file at `path`, relative to zig-src)
/// that does not go downward, or null.
pub fn firstViolation(path: []const u8, source: []const u8) ?Violation {
    const from_unit = unitOf(path);
    const from_rank = rankOf(from_unit) orelse return .{ .from = path, .import = "", .why = "file in a unit with no rank" };
    const needle = "@import(\"";
    var offset: usize = 0;
    while (std.mem.indexOfPos(u8, source, offset, needle)) |start| {
        const name_start = start + needle.len;
        const name_end = std.mem.indexOfScalarPos(u8, source, name_start, '"') orelse break;
        offset = name_end;
        const import = source[name_start..name_end];
        // Modules by name ("std", "builtin", build-time modules) are not files here.
        if (!std.mem.endsWith(u8, import, ".zig")) continue;
        var buffer: [max_path_bytes]u8 = undefined;
        const target = resolve(&buffer, path, import) orelse return .{ .from = path, .import = import, .why = "import leaves zig-src" };
        const to_unit = unitOf(target);
        if (std.mem.eql(u8, to_unit, from_unit)) continue;
        const to_rank = rankOf(to_unit) orelse return .{ .from = path, .import = import, .why = "import of a unit with no rank" };
        if (to_rank >= from_rank) return .{ .from = path, .import = import, .why = "import goes up or sideways" };
    }
    return null;
}

test "every import in zig-src goes downward" {
    var root = try std.fs.cwd().openDir("zig-src", .{ .iterate = true });
    defer root.close();
    var walker = try root.walk(testing.allocator);
    defer walker.deinit();
    var files: usize = 0;
    var h3_files: usize = 0;
    while (try walker.next()) |entry| {
        if (entry.kind != .file or !std.mem.endsWith(u8, entry.path, ".zig")) continue;
        const source = try root.readFileAlloc(testing.allocator, entry.path, 1 << 20);
        defer testing.allocator.free(source);
        files += 1;
        if (std.mem.startsWith(u8, entry.path, "h3/")) h3_files += 1;
        if (firstViolation(entry.path, source)) |violation| {
            std.debug.print("layering: {s} imports \"{s}\": {s}\n", .{ violation.from, violation.import, violation.why });
            return error.ImportGoesUpward;
        }
    }
    // The walk really saw the tree (run from the repository root).
    try testing.expect(files > 50);
    try testing.expect(h3_files > 20);
}

test "the check catches the HTTP/3 layer importing the loop" {
    const engine_import = "const Engine = @import(\"../quic/engine.zig\").Engine;";
    const violation = firstViolation("h3/exchange.zig", engine_import).?;
    try testing.expectEqualStrings("../quic/engine.zig", violation.import);
    try testing.expect(firstViolation("h3/qpack/decoder.zig", "@import(\"../../quic/connection.zig\")") != null);
    try testing.expect(firstViolation("h3/exchange.zig", "@import(\"../server.zig\")") != null);
    // Sideways between units of one rank, and into an unranked directory.
    try testing.expect(firstViolation("queue/wire.zig", "@import(\"../net/udp.zig\")") != null);
    try testing.expect(firstViolation("newdir/x.zig", "") != null);
    // Downward and within a unit are fine.
    try testing.expectEqual(@as(?Violation, null), firstViolation("quic/engine.zig", "@import(\"../h3/layer.zig\") @import(\"std\")"));
    try testing.expectEqual(@as(?Violation, null), firstViolation("h3/qpack/decoder.zig", "@import(\"../frame.zig\") @import(\"../../config.zig\")"));
}
