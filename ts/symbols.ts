// The FFI symbol table: one entry per zig_h3_* export, with the types of
// include/zig_h3.h. tests/abi.test.ts checks this table, the header and the
// library's exports agree.
import { FFIType } from "bun:ffi";

export const symbols = {
  zig_h3_version: { args: [], returns: FFIType.cstring },
  zig_h3_status_name: { args: [FFIType.i32], returns: FFIType.cstring },
  zig_h3_status_message: { args: [FFIType.i32], returns: FFIType.cstring },
  zig_h3_config_size: { args: [], returns: FFIType.u64_fast },
  zig_h3_config_init: { args: [FFIType.ptr], returns: FFIType.i32 },
  zig_h3_server_new: { args: [FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
  zig_h3_server_free: { args: [FFIType.ptr], returns: FFIType.i32 },
  zig_h3_server_start: { args: [FFIType.ptr], returns: FFIType.i32 },
  zig_h3_server_stop: { args: [FFIType.ptr], returns: FFIType.i32 },
  zig_h3_server_shutdown: { args: [FFIType.ptr, FFIType.u64], returns: FFIType.i32 },
  zig_h3_server_set_ticket_key: { args: [FFIType.ptr, FFIType.ptr, FFIType.u64], returns: FFIType.i32 },
  zig_h3_server_set_doorbell: { args: [FFIType.ptr, FFIType.function, FFIType.ptr], returns: FFIType.i32 },
  zig_h3_server_port: { args: [FFIType.ptr], returns: FFIType.i32 },
  zig_h3_server_event_fd: { args: [FFIType.ptr], returns: FFIType.i32 },
  zig_h3_route: { args: [FFIType.ptr, FFIType.cstring, FFIType.cstring, FFIType.u32], returns: FFIType.i32 },
  zig_h3_route_native: { args: [FFIType.ptr, FFIType.cstring, FFIType.cstring, FFIType.u32, FFIType.function, FFIType.ptr], returns: FFIType.i32 },
  zig_h3_route_static: {
    args: [FFIType.ptr, FFIType.cstring, FFIType.cstring, FFIType.u32, FFIType.u16, FFIType.ptr, FFIType.u64, FFIType.ptr, FFIType.u64],
    returns: FFIType.i32,
  },
  zig_h3_response_send: { args: [FFIType.ptr, FFIType.u16, FFIType.ptr, FFIType.u64, FFIType.ptr, FFIType.u64], returns: FFIType.i32 },
  zig_h3_poll: { args: [FFIType.ptr, FFIType.ptr, FFIType.u64], returns: FFIType.i64_fast },
  zig_h3_submit: { args: [FFIType.ptr, FFIType.ptr, FFIType.u64], returns: FFIType.i64_fast },
  zig_h3_server_stats: { args: [FFIType.ptr, FFIType.ptr, FFIType.u64], returns: FFIType.i32 },
  zig_h3_steering_new: { args: [FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
  zig_h3_steering_free: { args: [FFIType.ptr], returns: FFIType.i32 },
  zig_h3_steering_add: { args: [FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
  zig_h3_steering_drain: { args: [FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
  zig_h3_steering_remove: { args: [FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
  zig_h3_steering_port: { args: [FFIType.ptr], returns: FFIType.i32 },
} as const;
