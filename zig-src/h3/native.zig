//! Native routes: a C function answers a request synchronously on the loop
//! thread, with no queue and no application thread involved (the fastest
//! path, for C users). The request view and the response handle live on the
//! loop thread's stack and are valid only during the call.

const std = @import("std");
const assert = std.debug.assert;
const wire = @import("../queue/wire.zig");
const Layer = @import("layer.zig").Layer;
const events = @import("events.zig");
const RequestHead = @import("request_head.zig").RequestHead;
const request_head = @import("request_head.zig");
const NativeHandler = @import("router.zig").NativeHandler;
const exchange = @import("exchange.zig");

/// zig_h3_field: same layout as quiche_h3_header.
pub const Field = extern struct {
    name: [*]const u8,
    name_len: usize,
    value: [*]const u8,
    value_len: usize,
};

/// zig_h3_request.
pub const RequestView = extern struct {
    method: [*]const u8,
    method_len: usize,
    path: [*]const u8,
    path_len: usize,
    authority: [*]const u8,
    authority_len: usize,
    fields: [*]const Field,
    field_count: usize,
    conn_id: u64,
    stream_id: u64,

    comptime {
        assert(@sizeOf(RequestView) == 10 * 8);
    }
};

/// zig_h3_response: the handle zig_h3_response_send writes through.
pub const ResponseHandle = struct {
    layer: *Layer,
    slot: u32,
    responded: bool = false,
};

pub const max_native_fields = 256;

pub fn dispatch(layer: *Layer, slot: u32, head: *RequestHead, handler: NativeHandler) void {
    const request = layer.requests.get(slot);
    var fields: [max_native_fields]Field = undefined;
    const record = head.record();
    var it = wire.fieldBlock(record[request_head.offset_field_count..]) catch unreachable;
    var count: usize = 0;
    while (it.next() catch unreachable) |field| {
        if (count == fields.len) break;
        fields[count] = .{ .name = field.name.ptr, .name_len = field.name.len, .value = field.value.ptr, .value_len = field.value.len };
        count += 1;
    }
    const empty: []const u8 = "";
    const path = head.path orelse empty;
    const authority = head.authority orelse empty;
    const view = RequestView{
        .method = head.method.?.ptr,
        .method_len = head.method.?.len,
        .path = path.ptr,
        .path_len = path.len,
        .authority = authority.ptr,
        .authority_len = authority.len,
        .fields = &fields,
        .field_count = count,
        .conn_id = std.mem.readInt(u64, record[request_head.offset_conn_id..][0..8], .little),
        .stream_id = request.stream_id,
    };
    var handle = ResponseHandle{ .layer = layer, .slot = slot };
    handler.function(handler.user, &view, &handle);
    if (!handle.responded) exchange.respondWith(layer, slot, &internal_error_head, "Internal Server Error\n");
}

/// u16 500, u32 0 fields.
const internal_error_head = [_]u8{ 0xf4, 0x01, 0, 0, 0, 0 };

pub const SendError = error{ AlreadyResponded, InvalidStatus, TooManyFields, FieldTooLong, OutOfMemory };

/// Encodes a response head as `Request.head` holds it: u16 status, then a
/// u32-counted field block. The caller frees the result.
pub fn encodeHead(allocator: std.mem.Allocator, status: u16, fields: []const Field) SendError![]u8 {
    if (status < 200 or status > 999) return error.InvalidStatus;
    if (fields.len > max_native_fields) return error.TooManyFields;
    var size: usize = wire.header_bytes + 6;
    for (fields) |field| {
        if (field.name_len == 0 or field.name_len > std.math.maxInt(u16) or field.value_len > std.math.maxInt(u16)) return error.FieldTooLong;
        size += 4 + field.name_len + field.value_len;
    }
    const record = try allocator.alloc(u8, size);
    defer allocator.free(record);
    var writer = wire.RecordWriter.init(record, 0, 0, 0, 0);
    writer.int(u16, status);
    writer.int(u32, @intCast(fields.len));
    for (fields) |field| writer.field(field.name[0..field.name_len], field.value[0..field.value_len]);
    const encoded = writer.finish() catch unreachable; // sized above.
    return allocator.dupe(u8, encoded[wire.header_bytes..]);
}

/// Encodes and queues the response. The request may not survive the call
/// (allocation failure resets it), so nothing is touched afterwards.
pub fn send(handle: *ResponseHandle, status: u16, fields: []const Field, body: []const u8) SendError!void {
    if (handle.responded) return error.AlreadyResponded;
    const allocator = handle.layer.allocator;
    const head = try encodeHead(allocator, status, fields);
    defer allocator.free(head);
    handle.responded = true;
    exchange.respondWith(handle.layer, handle.slot, head, body);
}
