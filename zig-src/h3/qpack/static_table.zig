//! The QPACK static table (RFC 9204 Appendix A): 99 fixed entries that both
//! ends know, indexed from 0.
//!
//! Encoding looks names up for every field it writes, so lookups go through
//! a map built at compile time (name → the group of indices sharing that
//! name) instead of scanning the table; an exact match then compares the
//! value against at most that group (14 entries for `:status`).

const std = @import("std");
const assert = std.debug.assert;

pub const Entry = struct { name: []const u8, value: []const u8 };

pub const entry_count = 99;

pub const entries = [entry_count]Entry{
    .{ .name = ":authority", .value = "" }, // 0
    .{ .name = ":path", .value = "/" },
    .{ .name = "age", .value = "0" },
    .{ .name = "content-disposition", .value = "" },
    .{ .name = "content-length", .value = "0" },
    .{ .name = "cookie", .value = "" },
    .{ .name = "date", .value = "" },
    .{ .name = "etag", .value = "" },
    .{ .name = "if-modified-since", .value = "" },
    .{ .name = "if-none-match", .value = "" },
    .{ .name = "last-modified", .value = "" }, // 10
    .{ .name = "link", .value = "" },
    .{ .name = "location", .value = "" },
    .{ .name = "referer", .value = "" },
    .{ .name = "set-cookie", .value = "" },
    .{ .name = ":method", .value = "CONNECT" },
    .{ .name = ":method", .value = "DELETE" },
    .{ .name = ":method", .value = "GET" },
    .{ .name = ":method", .value = "HEAD" },
    .{ .name = ":method", .value = "OPTIONS" },
    .{ .name = ":method", .value = "POST" }, // 20
    .{ .name = ":method", .value = "PUT" },
    .{ .name = ":scheme", .value = "http" },
    .{ .name = ":scheme", .value = "https" },
    .{ .name = ":status", .value = "103" },
    .{ .name = ":status", .value = "200" },
    .{ .name = ":status", .value = "304" },
    .{ .name = ":status", .value = "404" },
    .{ .name = ":status", .value = "503" },
    .{ .name = "accept", .value = "*/*" },
    .{ .name = "accept", .value = "application/dns-message" }, // 30
    .{ .name = "accept-encoding", .value = "gzip, deflate, br" },
    .{ .name = "accept-ranges", .value = "bytes" },
    .{ .name = "access-control-allow-headers", .value = "cache-control" },
    .{ .name = "access-control-allow-headers", .value = "content-type" },
    .{ .name = "access-control-allow-origin", .value = "*" },
    .{ .name = "cache-control", .value = "max-age=0" },
    .{ .name = "cache-control", .value = "max-age=2592000" },
    .{ .name = "cache-control", .value = "max-age=604800" },
    .{ .name = "cache-control", .value = "no-cache" },
    .{ .name = "cache-control", .value = "no-store" }, // 40
    .{ .name = "cache-control", .value = "public, max-age=31536000" },
    .{ .name = "content-encoding", .value = "br" },
    .{ .name = "content-encoding", .value = "gzip" },
    .{ .name = "content-type", .value = "application/dns-message" },
    .{ .name = "content-type", .value = "application/javascript" },
    .{ .name = "content-type", .value = "application/json" },
    .{ .name = "content-type", .value = "application/x-www-form-urlencoded" },
    .{ .name = "content-type", .value = "image/gif" },
    .{ .name = "content-type", .value = "image/jpeg" },
    .{ .name = "content-type", .value = "image/png" }, // 50
    .{ .name = "content-type", .value = "text/css" },
    .{ .name = "content-type", .value = "text/html; charset=utf-8" },
    .{ .name = "content-type", .value = "text/plain" },
    .{ .name = "content-type", .value = "text/plain;charset=utf-8" },
    .{ .name = "range", .value = "bytes=0-" },
    .{ .name = "strict-transport-security", .value = "max-age=31536000" },
    .{ .name = "strict-transport-security", .value = "max-age=31536000; includesubdomains" },
    .{ .name = "strict-transport-security", .value = "max-age=31536000; includesubdomains; preload" },
    .{ .name = "vary", .value = "accept-encoding" },
    .{ .name = "vary", .value = "origin" }, // 60
    .{ .name = "x-content-type-options", .value = "nosniff" },
    .{ .name = "x-xss-protection", .value = "1; mode=block" },
    .{ .name = ":status", .value = "100" },
    .{ .name = ":status", .value = "204" },
    .{ .name = ":status", .value = "206" },
    .{ .name = ":status", .value = "302" },
    .{ .name = ":status", .value = "400" },
    .{ .name = ":status", .value = "403" },
    .{ .name = ":status", .value = "421" },
    .{ .name = ":status", .value = "425" }, // 70
    .{ .name = ":status", .value = "500" },
    .{ .name = "accept-language", .value = "" },
    .{ .name = "access-control-allow-credentials", .value = "FALSE" },
    .{ .name = "access-control-allow-credentials", .value = "TRUE" },
    .{ .name = "access-control-allow-headers", .value = "*" },
    .{ .name = "access-control-allow-methods", .value = "get" },
    .{ .name = "access-control-allow-methods", .value = "get, post, options" },
    .{ .name = "access-control-allow-methods", .value = "options" },
    .{ .name = "access-control-expose-headers", .value = "content-length" },
    .{ .name = "access-control-request-headers", .value = "content-type" }, // 80
    .{ .name = "access-control-request-method", .value = "get" },
    .{ .name = "access-control-request-method", .value = "post" },
    .{ .name = "alt-svc", .value = "clear" },
    .{ .name = "authorization", .value = "" },
    .{ .name = "content-security-policy", .value = "script-src 'none'; object-src 'none'; base-uri 'none'" },
    .{ .name = "early-data", .value = "1" },
    .{ .name = "expect-ct", .value = "" },
    .{ .name = "forwarded", .value = "" },
    .{ .name = "if-range", .value = "" },
    .{ .name = "origin", .value = "" }, // 90
    .{ .name = "purpose", .value = "prefetch" },
    .{ .name = "server", .value = "" },
    .{ .name = "timing-allow-origin", .value = "*" },
    .{ .name = "upgrade-insecure-requests", .value = "1" },
    .{ .name = "user-agent", .value = "" },
    .{ .name = "x-forwarded-for", .value = "" },
    .{ .name = "x-frame-options", .value = "deny" },
    .{ .name = "x-frame-options", .value = "sameorigin" }, // 98
};

/// The indices that share one name, as a run of `group_members`.
const NameGroup = struct {
    /// Where this name's indices start in `group_members`, lowest first.
    first_member: u8,
    member_count: u8,
};

const GroupedIndices = struct {
    /// Every index, grouped by name, each group in ascending order.
    members: [entry_count]u8,
    /// One (name, group) pair per distinct name, for the map.
    pairs: [entry_count]struct { []const u8, NameGroup },
    distinct_name_count: usize,
};

fn groupIndicesByName() GroupedIndices {
    var grouped: GroupedIndices = undefined;
    var member_count: usize = 0;
    grouped.distinct_name_count = 0;
    for (entries, 0..) |entry, index| {
        if (lowestIndexLinear(entry.name).? != index) continue; // Seen already.
        const first_member = member_count;
        for (entries[index..], index..) |other, other_index| {
            if (!std.mem.eql(u8, other.name, entry.name)) continue;
            grouped.members[member_count] = other_index;
            member_count += 1;
        }
        grouped.pairs[grouped.distinct_name_count] = .{ entry.name, .{
            .first_member = first_member,
            .member_count = member_count - first_member,
        } };
        grouped.distinct_name_count += 1;
    }
    assert(member_count == entry_count);
    return grouped;
}

/// Only for building the map at compile time and for checking it in tests.
fn lowestIndexLinear(name: []const u8) ?u8 {
    for (entries, 0..) |entry, index| {
        if (std.mem.eql(u8, entry.name, name)) return @intCast(index);
    }
    return null;
}

const grouped_indices: GroupedIndices = blk: {
    @setEvalBranchQuota(200_000);
    break :blk groupIndicesByName();
};

const group_members = grouped_indices.members;

const name_map = blk: {
    @setEvalBranchQuota(200_000);
    break :blk std.StaticStringMap(NameGroup).initComptime(
        grouped_indices.pairs[0..grouped_indices.distinct_name_count].*,
    );
};

/// The largest group (`:status`), which bounds the value comparisons an exact
/// lookup makes.
pub const max_indices_per_name = 14;

comptime {
    for (grouped_indices.pairs[0..grouped_indices.distinct_name_count]) |pair| {
        assert(pair[1].member_count <= max_indices_per_name);
    }
}

/// The index of the entry with exactly this name and value, if any.
pub fn findExact(name: []const u8, value: []const u8) ?u8 {
    const match = find(name, value) orelse return null;
    return if (match.value_matches) match.index else null;
}

pub const Match = struct {
    /// The exact entry when `value_matches`, else the lowest index with
    /// the name.
    index: u8,
    value_matches: bool,
};

/// The best entry for encoding a field, with one map lookup: the exact
/// entry if there is one, else the lowest one with the same name.
pub fn find(name: []const u8, value: []const u8) ?Match {
    const group = name_map.get(name) orelse return null;
    assert(group.member_count >= 1 and group.member_count <= max_indices_per_name);
    const members = group_members[group.first_member..][0..group.member_count];
    for (members) |index| {
        if (std.mem.eql(u8, entries[index].value, value)) return .{ .index = index, .value_matches = true };
    }
    return .{ .index = members[0], .value_matches = false };
}

/// The lowest index of an entry with this name, if any.
pub fn findName(name: []const u8) ?u8 {
    const group = name_map.get(name) orelse return null;
    return group_members[group.first_member];
}

/// The entry at `index`, or null past the end of the table (which a peer's
/// field section or encoder instruction can ask for).
pub fn get(index: u64) ?Entry {
    if (index >= entry_count) return null;
    return entries[@intCast(index)];
}

const testing = std.testing;

test "the table has exactly 99 entries with the RFC's landmarks" {
    try testing.expectEqual(@as(usize, 99), entries.len);
    try testing.expectEqualStrings(":authority", entries[0].name);
    try testing.expectEqualStrings("", entries[0].value);
    try testing.expectEqualStrings(":method", entries[17].name);
    try testing.expectEqualStrings("GET", entries[17].value);
    try testing.expectEqualStrings(":status", entries[25].name);
    try testing.expectEqualStrings("200", entries[25].value);
    try testing.expectEqualStrings("x-frame-options", entries[98].name);
    try testing.expectEqualStrings("sameorigin", entries[98].value);
    try testing.expectEqualStrings("content-security-policy", entries[85].name);
    try testing.expectEqualStrings(":status", entries[71].name);
    try testing.expectEqualStrings("500", entries[71].value);
}

test "every name is lowercase, as HTTP/3 requires on the wire" {
    for (entries) |entry| {
        for (entry.name) |char| try testing.expect(!std.ascii.isUpper(char));
    }
}

test "findExact finds every entry at its own index" {
    for (entries, 0..) |entry, index| {
        try testing.expectEqual(@as(?u8, @intCast(index)), findExact(entry.name, entry.value));
    }
    try testing.expectEqual(@as(?u8, null), findExact(":status", "201"));
    try testing.expectEqual(@as(?u8, null), findExact("x-unknown", ""));
    try testing.expectEqual(@as(?u8, null), findExact(":method", "get"));
}

test "findName returns the lowest index of a name" {
    for (entries) |entry| {
        try testing.expectEqual(lowestIndexLinear(entry.name), findName(entry.name));
    }
    try testing.expectEqual(@as(?u8, 24), findName(":status"));
    try testing.expectEqual(@as(?u8, 33), findName("access-control-allow-headers"));
    try testing.expectEqual(@as(?u8, 44), findName("content-type"));
    try testing.expectEqual(@as(?u8, null), findName("x-custom"));
    try testing.expectEqual(@as(?u8, null), findName(""));
}

test "find prefers the exact entry and falls back to the lowest index of the name" {
    try testing.expectEqual(Match{ .index = 25, .value_matches = true }, find(":status", "200").?);
    try testing.expectEqual(Match{ .index = 24, .value_matches = false }, find(":status", "201").?);
    try testing.expect(find("x-custom", "") == null);
}

test "get refuses indices past the table" {
    try testing.expect(get(98) != null);
    try testing.expect(get(99) == null);
    try testing.expect(get(std.math.maxInt(u64)) == null);
}
