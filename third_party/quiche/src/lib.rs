//! quiche 0.28.0 as one static library for libzigquicheh3.so.
//!
//! Depending on quiche with its `ffi` feature pulls its whole C API
//! (`quiche_*`, see quiche.h) into this archive. The functions below add what
//! that C API lacks, as thin wrappers over quiche's public Rust API. They are
//! declared in zig-src/ffi/shim.zig and must never unwind into C.

use std::os::raw::c_int;

/// Status codes of the shim functions, mirrored in zig-src/ffi/shim.zig.
pub const SHIM_OK: c_int = 0;
pub const SHIM_ERR_INVALID_ARGUMENT: c_int = -1;
pub const SHIM_ERR_SETTING_REJECTED: c_int = -2;

/// Sets extra HTTP/3 SETTINGS (identifier, value pairs) that the server sends
/// in its SETTINGS frame, for example the WebTransport settings browsers need.
///
/// `config` must come from `quiche_h3_config_new`. `ids` and `values` must
/// point at `len` readable u64s each (they may be null when `len` is 0).
/// Returns SHIM_ERR_SETTING_REJECTED when quiche refuses the set: a reserved
/// identifier it manages itself, or a duplicated identifier.
#[no_mangle]
pub extern "C" fn zqh3_h3_config_set_additional_settings(
    config: *mut quiche::h3::Config, ids: *const u64, values: *const u64,
    len: usize,
) -> c_int {
    if config.is_null() || (len > 0 && (ids.is_null() || values.is_null())) {
        return SHIM_ERR_INVALID_ARGUMENT;
    }
    let config = unsafe { &mut *config };
    let pairs: Vec<(u64, u64)> = if len == 0 {
        Vec::new()
    } else {
        let ids = unsafe { std::slice::from_raw_parts(ids, len) };
        let values = unsafe { std::slice::from_raw_parts(values, len) };
        ids.iter().copied().zip(values.iter().copied()).collect()
    };
    match config.set_additional_settings(pairs) {
        Ok(()) => SHIM_OK,
        Err(_) => SHIM_ERR_SETTING_REJECTED,
    }
}
