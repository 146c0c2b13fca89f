//! Runs the tests of every file in the QPACK package:
//!   .toolchain/zig/ziglang/zig test zig-src/h3/qpack/tests.zig
//! The qifs interop test is its own step (`zig build qifs`, see
//! qifs_interop_test.zig): it needs files this repository does not hold.

test {
    _ = @import("prefix_int.zig");
    _ = @import("huffman.zig");
    _ = @import("string_literal.zig");
    _ = @import("static_table.zig");
    _ = @import("dynamic_table.zig");
    _ = @import("section_prefix.zig");
    _ = @import("field_line.zig");
    _ = @import("encoder_instruction.zig");
    _ = @import("decoder_stream_buffer.zig");
    _ = @import("blocked_streams.zig");
    _ = @import("decoder.zig");
    _ = @import("decoder_test.zig");
    _ = @import("encoder.zig");
    _ = @import("fuzz_targets.zig");
}
