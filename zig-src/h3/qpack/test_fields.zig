//! Test support: collects the fields a decoder hands out (they are only
//! valid during the callback) into fixed storage, so tests can compare them
//! afterwards. Used only by tests and fuzz targets.

const std = @import("std");
const assert = std.debug.assert;

pub const Field = struct { name: []const u8, value: []const u8 };

pub const FieldList = struct {
    pub const max_field_count = 512;
    pub const max_text_bytes = 64 * 1024;

    text: [max_text_bytes]u8 = undefined,
    text_len: usize = 0,
    fields: [max_field_count]Field = undefined,
    count: usize = 0,
    /// Set when a field did not fit; the list is then incomplete.
    overflowed: bool = false,

    pub fn onField(self: *FieldList, name: []const u8, value: []const u8) void {
        if (self.count == max_field_count or self.text_len + name.len + value.len > max_text_bytes) {
            self.overflowed = true;
            return;
        }
        self.fields[self.count] = .{ .name = self.keep(name), .value = self.keep(value) };
        self.count += 1;
    }

    fn keep(self: *FieldList, bytes: []const u8) []const u8 {
        const kept = self.text[self.text_len..][0..bytes.len];
        @memcpy(kept, bytes);
        self.text_len += bytes.len;
        return kept;
    }

    pub fn items(self: *const FieldList) []const Field {
        return self.fields[0..self.count];
    }

    pub fn clear(self: *FieldList) void {
        self.* = .{};
    }

    pub fn expectEqual(self: *const FieldList, expected: []const Field) !void {
        try std.testing.expect(!self.overflowed);
        try std.testing.expectEqual(expected.len, self.count);
        for (expected, self.items()) |want, got| {
            try std.testing.expectEqualStrings(want.name, got.name);
            try std.testing.expectEqualStrings(want.value, got.value);
        }
    }
};
