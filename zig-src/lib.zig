//! Root of libzigquicheh3.so. The exported C ABI lives in abi/exports.zig;
//! see include/zig_h3.h for the contract and docs/ARCHITECTURE.md for the
//! thread model.
comptime {
    _ = @import("abi/exports.zig");
}
