//! Extern declarations for the subset of quiche's C API (quiche.h, 0.28.0)
//! that the library uses. Only the loop thread may call anything here.

const std = @import("std");
const posix = std.posix;

pub const protocol_version: u32 = 0x00000001;
pub const max_conn_id_len: usize = 20;
pub const h3_application_protocol = "\x02h3";

/// quiche_error: transport-level results (negative values).
pub const err_done: isize = -1;
pub const err_buffer_too_short: isize = -2;
pub const err_invalid_state: isize = -6;
pub const err_invalid_stream_state: isize = -7;
pub const err_stream_limit: isize = -12;
pub const err_stream_stopped: isize = -15;
pub const err_stream_reset: isize = -16;


pub const Config = opaque {};
pub const Conn = opaque {};
pub const H3Config = opaque {};
pub const H3Conn = opaque {};
pub const H3Event = opaque {};
pub const StreamIter = opaque {};

pub const H3EventType = enum(c_int) {
    headers = 0,
    data = 1,
    finished = 2,
    goaway = 3,
    reset = 4,
    priority_update = 5,
    _,
};

pub const RecvInfo = extern struct {
    from: *posix.sockaddr,
    from_len: posix.socklen_t,
    to: *posix.sockaddr,
    to_len: posix.socklen_t,
};

pub const SendInfo = extern struct {
    from: posix.sockaddr.storage,
    from_len: posix.socklen_t,
    to: posix.sockaddr.storage,
    to_len: posix.socklen_t,
    at: posix.timespec,
};

pub const H3Header = extern struct {
    name: [*]const u8,
    name_len: usize,
    value: [*]const u8,
    value_len: usize,
};

pub const HeaderCallback = *const fn (
    name: [*]u8,
    name_len: usize,
    value: [*]u8,
    value_len: usize,
    argp: ?*anyopaque,
) callconv(.c) c_int;

pub extern fn quiche_version() [*:0]const u8;
pub extern fn quiche_version_is_supported(version: u32) bool;

pub extern fn quiche_config_new(version: u32) ?*Config;
pub extern fn quiche_config_free(config: *Config) void;
pub extern fn quiche_config_load_cert_chain_from_pem_file(config: *Config, path: [*:0]const u8) c_int;
pub extern fn quiche_config_load_priv_key_from_pem_file(config: *Config, path: [*:0]const u8) c_int;
pub extern fn quiche_config_set_application_protos(config: *Config, protos: [*]const u8, protos_len: usize) c_int;
pub extern fn quiche_config_verify_peer(config: *Config, v: bool) void;
pub extern fn quiche_config_grease(config: *Config, v: bool) void;
pub extern fn quiche_config_log_keys(config: *Config) void;
/// The BoringSSL SSL_CTX of a config (third_party/quiche/patch.py).
pub extern fn quiche_config_ssl_ctx(config: *Config) *anyopaque;
pub extern fn quiche_config_enable_early_data(config: *Config) void;
pub extern fn quiche_config_set_max_idle_timeout(config: *Config, v: u64) void;
pub extern fn quiche_config_set_max_recv_udp_payload_size(config: *Config, v: usize) void;
pub extern fn quiche_config_set_max_send_udp_payload_size(config: *Config, v: usize) void;
pub extern fn quiche_config_set_initial_max_data(config: *Config, v: u64) void;
pub extern fn quiche_config_set_initial_max_stream_data_bidi_local(config: *Config, v: u64) void;
pub extern fn quiche_config_set_initial_max_stream_data_bidi_remote(config: *Config, v: u64) void;
pub extern fn quiche_config_set_initial_max_stream_data_uni(config: *Config, v: u64) void;
pub extern fn quiche_config_set_initial_max_streams_bidi(config: *Config, v: u64) void;
pub extern fn quiche_config_set_initial_max_streams_uni(config: *Config, v: u64) void;
pub extern fn quiche_config_set_disable_active_migration(config: *Config, v: bool) void;
pub extern fn quiche_config_set_cc_algorithm_name(config: *Config, algo: [*:0]const u8) c_int;
pub extern fn quiche_config_enable_pacing(config: *Config, v: bool) void;
pub extern fn quiche_config_enable_dgram(config: *Config, enabled: bool, recv_queue_len: usize, send_queue_len: usize) void;
/// third_party/quiche/patch.py: advertises the reset_stream_at transport
/// parameter (draft-ietf-quic-reliable-stream-reset), accepting RESET_STREAM_AT.
pub extern fn quiche_config_enable_reset_stream_at(config: *Config, v: bool) void;

pub extern fn quiche_header_info(
    buf: [*]const u8,
    buf_len: usize,
    dcil: usize,
    version: *u32,
    type: *u8,
    scid: [*]u8,
    scid_len: *usize,
    dcid: [*]u8,
    dcid_len: *usize,
    token: [*]u8,
    token_len: *usize,
) c_int;

pub extern fn quiche_accept(
    scid: [*]const u8,
    scid_len: usize,
    odcid: ?[*]const u8,
    odcid_len: usize,
    local: *const posix.sockaddr,
    local_len: posix.socklen_t,
    peer: *const posix.sockaddr,
    peer_len: posix.socklen_t,
    config: *Config,
) ?*Conn;

pub extern fn quiche_negotiate_version(
    scid: [*]const u8,
    scid_len: usize,
    dcid: [*]const u8,
    dcid_len: usize,
    out: [*]u8,
    out_len: usize,
) isize;

pub extern fn quiche_retry(
    scid: [*]const u8,
    scid_len: usize,
    dcid: [*]const u8,
    dcid_len: usize,
    new_scid: [*]const u8,
    new_scid_len: usize,
    token: [*]const u8,
    token_len: usize,
    version: u32,
    out: [*]u8,
    out_len: usize,
) isize;

pub extern fn quiche_conn_recv(conn: *Conn, buf: [*]u8, buf_len: usize, info: *const RecvInfo) isize;
pub extern fn quiche_conn_send(conn: *Conn, out: [*]u8, out_len: usize, out_info: *SendInfo) isize;
pub extern fn quiche_conn_timeout_as_nanos(conn: *const Conn) u64;
pub extern fn quiche_conn_on_timeout(conn: *Conn) void;
pub extern fn quiche_conn_close(conn: *Conn, app: bool, err: u64, reason: [*]const u8, reason_len: usize) c_int;
pub extern fn quiche_conn_is_established(conn: *const Conn) bool;
pub extern fn quiche_conn_is_in_early_data(conn: *const Conn) bool;
pub extern fn quiche_conn_is_resumed(conn: *const Conn) bool;
pub extern fn quiche_conn_application_proto(conn: *const Conn, out: *[*]const u8, out_len: *usize) void;
pub extern fn quiche_conn_session(conn: *const Conn, out: *[*]const u8, out_len: *usize) void;
pub extern fn quiche_conn_set_session(conn: *Conn, buf: [*]const u8, buf_len: usize) c_int;
pub extern fn quiche_conn_is_closed(conn: *const Conn) bool;
pub extern fn quiche_conn_is_draining(conn: *const Conn) bool;
pub extern fn quiche_conn_set_qlog_path(conn: *Conn, path: [*:0]const u8, title: [*:0]const u8, desc: [*:0]const u8) bool;
pub extern fn quiche_conn_set_keylog_path(conn: *Conn, path: [*:0]const u8) bool;
pub extern fn quiche_conn_stream_shutdown(conn: *Conn, stream_id: u64, direction: c_int, err: u64) c_int;
/// third_party/quiche/patch.py (RESET_STREAM_AT): whether the peer advertised
/// reset_stream_at, i.e. whether quiche_conn_stream_reset_at may be used.
pub extern fn quiche_conn_peer_supports_reset_stream_at(conn: *const Conn) bool;
/// Resets the sending side like stream_shutdown(write) but with
/// RESET_STREAM_AT: the first `reliable_size` bytes written are still
/// delivered, then the peer sees the reset with `err`. err_invalid_state when
/// the peer did not advertise it, err_invalid_stream_state when
/// `reliable_size` exceeds the bytes written, err_done when already reset.
pub extern fn quiche_conn_stream_reset_at(conn: *Conn, stream_id: u64, err: u64, reliable_size: u64) c_int;
/// Tests only: sends a RESET_STREAM_AT with these fields, unchecked.
pub extern fn quiche_conn_send_reset_stream_at_for_testing(conn: *Conn, stream_id: u64, err: u64, final_size: u64, reliable_size: u64) c_int;
pub extern fn quiche_conn_free(conn: *Conn) void;
pub extern fn quiche_conn_stream_recv(conn: *Conn, stream_id: u64, out: [*]u8, buf_len: usize, fin: *bool, out_error_code: *u64) isize;
pub extern fn quiche_conn_stream_send(conn: *Conn, stream_id: u64, buf: [*]const u8, buf_len: usize, fin: bool, out_error_code: *u64) isize;
pub extern fn quiche_conn_stream_finished(conn: *const Conn, stream_id: u64) bool;
pub extern fn quiche_conn_stream_readable(conn: *const Conn, stream_id: u64) bool;
pub extern fn quiche_conn_stream_priority(conn: *Conn, stream_id: u64, urgency: u8, incremental: bool) c_int;
pub extern fn quiche_conn_stream_capacity(conn: *Conn, stream_id: u64) isize;
pub extern fn quiche_conn_stream_writable(conn: *Conn, stream_id: u64, len: usize) c_int;
pub extern fn quiche_conn_readable(conn: *const Conn) ?*StreamIter;
pub extern fn quiche_conn_peer_streams_left_bidi(conn: *const Conn) u64;
pub extern fn quiche_conn_peer_streams_left_uni(conn: *const Conn) u64;
pub extern fn quiche_stream_iter_next(iter: *StreamIter, stream_id: *u64) bool;
pub extern fn quiche_stream_iter_free(iter: *StreamIter) void;

pub const shutdown_read: c_int = 0;
pub const shutdown_write: c_int = 1;

pub extern fn quiche_h3_config_new() ?*H3Config;
pub extern fn quiche_h3_config_free(config: *H3Config) void;
pub extern fn quiche_h3_conn_new_with_transport(conn: *Conn, config: *H3Config) ?*H3Conn;
pub extern fn quiche_h3_conn_free(conn: *H3Conn) void;
pub extern fn quiche_h3_conn_poll(conn: *H3Conn, quic_conn: *Conn, ev: *?*H3Event) i64;
pub extern fn quiche_h3_event_type(ev: *H3Event) H3EventType;
pub extern fn quiche_h3_event_for_each_header(ev: *H3Event, cb: HeaderCallback, argp: ?*anyopaque) c_int;
pub extern fn quiche_h3_event_free(ev: *H3Event) void;
pub extern fn quiche_h3_send_body(
    conn: *H3Conn,
    quic_conn: *Conn,
    stream_id: u64,
    body: [*]const u8,
    body_len: usize,
    fin: bool,
) isize;
pub extern fn quiche_h3_recv_body(conn: *H3Conn, quic_conn: *Conn, stream_id: u64, out: [*]u8, out_len: usize) isize;

pub const Stats = extern struct {
    recv: usize,
    sent: usize,
    lost: usize,
    spurious_lost: usize,
    retrans: usize,
    sent_bytes: u64,
    recv_bytes: u64,
    acked_bytes: u64,
    lost_bytes: u64,
    stream_retrans_bytes: u64,
    dgram_recv: usize,
    dgram_sent: usize,
    paths_count: usize,
    reset_stream_count_local: u64,
    stopped_stream_count_local: u64,
    reset_stream_count_remote: u64,
    stopped_stream_count_remote: u64,
    data_blocked_sent_count: u64,
    stream_data_blocked_sent_count: u64,
    data_blocked_recv_count: u64,
    stream_data_blocked_recv_count: u64,
    streams_blocked_bidi_recv_count: u64,
    streams_blocked_uni_recv_count: u64,
    path_challenge_rx_count: u64,
    bytes_in_flight_duration_msec: u64,
    tx_buffered_inconsistent: bool,
};

pub const PathStats = extern struct {
    local_addr: posix.sockaddr.storage,
    local_addr_len: posix.socklen_t,
    peer_addr: posix.sockaddr.storage,
    peer_addr_len: posix.socklen_t,
    validation_state: isize,
    active: bool,
    recv: usize,
    sent: usize,
    lost: usize,
    retrans: usize,
    total_pto_count: usize,
    dgram_recv: usize,
    dgram_sent: usize,
    rtt: u64,
    min_rtt: u64,
    max_rtt: u64,
    rttvar: u64,
    cwnd: usize,
    sent_bytes: u64,
    recv_bytes: u64,
    lost_bytes: u64,
    stream_retrans_bytes: u64,
    pmtu: usize,
    delivery_rate: u64,
    max_bandwidth: u64,
    startup_exit_cwnd: u64,
};

pub extern fn quiche_conn_stats(conn: *const Conn, out: *Stats) void;
pub extern fn quiche_conn_path_stats(conn: *const Conn, idx: usize, out: *PathStats) c_int;
pub extern fn quiche_conn_peer_error(conn: *const Conn, is_app: *bool, error_code: *u64, reason: *[*]const u8, reason_len: *usize) bool;
pub extern fn quiche_conn_local_error(conn: *const Conn, is_app: *bool, error_code: *u64, reason: *[*]const u8, reason_len: *usize) bool;

// Connection IDs and paths (quic/paths.zig): spare connection IDs for a
// peer that migrates, and the path events of passive migration.
pub extern fn quiche_config_set_active_connection_id_limit(config: *Config, v: u64) void;
pub extern fn quiche_conn_scids_left(conn: *Conn) usize;
pub extern fn quiche_conn_new_scid(conn: *Conn, scid: [*]const u8, scid_len: usize, reset_token: *const [16]u8, retire_if_needed: bool, scid_seq: *u64) c_int;
/// Copies the next retired source connection ID into `out` (patch.py: the
/// unpatched quiche_conn_retired_scid_next returns freed memory).
pub extern fn quiche_conn_retired_scid_next_into(conn: *Conn, out: [*]u8, out_cap: usize, out_len: *usize) bool;
pub const ConnectionIdIter = opaque {};
pub extern fn quiche_conn_source_ids(conn: *Conn) ?*ConnectionIdIter;
pub extern fn quiche_connection_id_iter_next(iter: *ConnectionIdIter, out: *[*]const u8, out_len: *usize) bool;
pub extern fn quiche_connection_id_iter_free(iter: *ConnectionIdIter) void;
pub const PathEvent = opaque {};
pub const PathEventType = enum(c_int) {
    new = 0,
    validated = 1,
    failed_validation = 2,
    closed = 3,
    reused_source_connection_id = 4,
    peer_migrated = 5,
    _,
};
pub extern fn quiche_conn_path_event_next(conn: *Conn) ?*PathEvent;
pub extern fn quiche_path_event_type(event: *const PathEvent) PathEventType;
pub extern fn quiche_path_event_free(event: *PathEvent) void;
pub extern fn quiche_path_event_peer_migrated(event: *const PathEvent, local: *posix.sockaddr.storage, local_len: *posix.socklen_t, peer: *posix.sockaddr.storage, peer_len: *posix.socklen_t) void;

pub extern fn quiche_conn_dgram_recv(conn: *Conn, buf: [*]u8, buf_len: usize) isize;
pub extern fn quiche_conn_dgram_send(conn: *Conn, buf: [*]const u8, buf_len: usize) isize;
pub extern fn quiche_conn_dgram_max_writable_len(conn: *const Conn) isize;
pub extern fn quiche_conn_dgram_send_queue_len(conn: *const Conn) isize;

// Client side, used by the load generator (bench/loadgen).
pub extern fn quiche_connect(
    server_name: ?[*:0]const u8,
    scid: [*]const u8,
    scid_len: usize,
    local: *const posix.sockaddr,
    local_len: posix.socklen_t,
    peer: *const posix.sockaddr,
    peer_len: posix.socklen_t,
    config: *Config,
) ?*Conn;
pub extern fn quiche_h3_send_request(conn: *H3Conn, quic_conn: *Conn, headers: [*]const H3Header, headers_len: usize, fin: bool) i64;
