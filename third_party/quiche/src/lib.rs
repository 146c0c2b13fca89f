//! quiche 0.28.0 as one static library for libzigquicheh3.so.
//!
//! Depending on quiche with its `ffi` feature pulls its whole C API
//! (`quiche_*`, see quiche.h) into this archive; the server uses its QUIC
//! transport, and the load generator (bench/loadgen) its HTTP/3 client.
//! HTTP/3 on the server side is the library's own (zig-src/h3/), so nothing
//! beyond quiche's C API is needed here.

pub use quiche;
