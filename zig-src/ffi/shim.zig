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
