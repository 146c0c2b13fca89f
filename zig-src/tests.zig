//! Root of `zig build test`: every module with unit tests is listed here.
test {
    _ = @import("config.zig");
    _ = @import("quic/cid_table.zig");
    _ = @import("quic/timer_heap.zig");
    _ = @import("h3/router.zig");
    _ = @import("h3/request_head.zig");
    _ = @import("h3/requests.zig");
    _ = @import("h3/request_state.zig");
    _ = @import("queue/wire.zig");
    _ = @import("queue/record_queue.zig");
    _ = @import("abi/config_c.zig");
    _ = @import("abi/status.zig");
    _ = @import("dgram/varint.zig");
    _ = @import("net/batch.zig");
    _ = @import("quic/peer_counts.zig");
    _ = @import("quic/refusal.zig");
    _ = @import("h3/frame.zig");
    _ = @import("h3/settings.zig");
    _ = @import("h3/control_stream.zig");
    _ = @import("h3/request_stream.zig");
    _ = @import("h3/uni_preface.zig");
    _ = @import("h3/priority.zig");
    _ = @import("h3/deadline_ring.zig");
    _ = @import("h3/stream_ids.zig");
    _ = @import("h3/h3_connection.zig");
    _ = @import("h3/qpack/tests.zig");
    _ = @import("quic/quic_lb.zig");
    _ = @import("quic/retry_token.zig");
    _ = @import("quic/address_validation.zig");
    _ = @import("quic/fin_delivery_test.zig");
    _ = @import("quic/request_life_test.zig");
    _ = @import("quic/reset_stream_at_test.zig");
    _ = @import("server.zig");
    _ = @import("fuzz.zig");
    _ = @import("fuzz_h3.zig");
    _ = @import("layers_test.zig");
}
