//! Extern declarations for the extra C functions of our Rust shim crate
//! (third_party/quiche/src/lib.rs), which wrap quiche's public Rust API where
//! quiche's own C FFI has no equivalent.

const quiche = @import("quiche.zig");

pub const ok: c_int = 0;
pub const err_invalid_argument: c_int = -1;
pub const err_setting_rejected: c_int = -2;

pub extern fn zqh3_h3_config_set_additional_settings(
    config: *quiche.H3Config,
    ids: ?[*]const u64,
    values: ?[*]const u64,
    len: usize,
) c_int;

const std = @import("std");
const testing = std.testing;

test "extra HTTP/3 SETTINGS are accepted, reserved or duplicated ones refused" {
    const config = quiche.quiche_h3_config_new().?;
    defer quiche.quiche_h3_config_free(config);
    // ENABLE_WEBTRANSPORT (draft-02) and WEBTRANSPORT_MAX_SESSIONS.
    const ids = [_]u64{ 0x2b603742, 0xc671706a };
    const values = [_]u64{ 1, 1 };
    try testing.expectEqual(ok, zqh3_h3_config_set_additional_settings(config, &ids, &values, ids.len));
    try testing.expectEqual(ok, zqh3_h3_config_set_additional_settings(config, null, null, 0));
    const duplicated = [_]u64{ 0x2b603742, 0x2b603742 };
    try testing.expectEqual(err_setting_rejected, zqh3_h3_config_set_additional_settings(config, &duplicated, &values, 2));
    // H3_DATAGRAM (0x33) is managed by quiche itself.
    const reserved = [_]u64{0x33};
    try testing.expectEqual(err_setting_rejected, zqh3_h3_config_set_additional_settings(config, &reserved, &values, 1));
    try testing.expectEqual(err_invalid_argument, zqh3_h3_config_set_additional_settings(config, null, null, 1));
}
