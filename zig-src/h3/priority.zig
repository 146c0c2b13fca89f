//! Extensible priorities (RFC 9218): the Priority field value, a Structured
//! Fields dictionary of which we read `u` (urgency 0..7, default 3) and `i`
//! (incremental, default false). Members we do not know, and members with
//! values out of range, are ignored as section 4 asks.

const std = @import("std");

pub const Priority = struct {
    urgency: u8 = 3,
    incremental: bool = false,
};

/// The longest field value read; longer values keep their valid prefix.
pub const max_field_value_bytes = 256;

pub fn parse(field_value: []const u8) Priority {
    var priority = Priority{};
    const value = field_value[0..@min(field_value.len, max_field_value_bytes)];
    var members = std.mem.splitScalar(u8, value, ',');
    while (members.next()) |raw_member| {
        const member = std.mem.trim(u8, raw_member, " \t");
        const eq = std.mem.indexOfScalar(u8, member, '=');
        const key = if (eq) |at| member[0..at] else member;
        const member_value: ?[]const u8 = if (eq) |at| member[at + 1 ..] else null;
        if (std.mem.eql(u8, key, "u")) {
            const text = member_value orelse continue;
            const urgency = std.fmt.parseInt(u8, text, 10) catch continue;
            if (urgency <= 7) priority.urgency = urgency;
        } else if (std.mem.eql(u8, key, "i")) {
            if (member_value) |text| {
                if (std.mem.eql(u8, text, "?1")) priority.incremental = true;
                if (std.mem.eql(u8, text, "?0")) priority.incremental = false;
            } else priority.incremental = true;
        }
    }
    return priority;
}

const testing = std.testing;

test "RFC 9218 examples and defaults" {
    try testing.expectEqual(Priority{ .urgency = 5, .incremental = true }, parse("u=5, i"));
    try testing.expectEqual(Priority{ .urgency = 0, .incremental = false }, parse("u=0"));
    try testing.expectEqual(Priority{ .urgency = 3, .incremental = true }, parse("i=?1"));
    try testing.expectEqual(Priority{}, parse("u=9, i=?0, x=1"));
    try testing.expectEqual(Priority{}, parse(""));
    try testing.expectEqual(Priority{ .urgency = 1 }, parse("u=bad,u=1"));
}
