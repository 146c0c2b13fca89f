comptime { _ = @import("config.zig"); }
