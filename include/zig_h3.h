/*
 * zig_h3.h - C ABI of libzigquicheh3, an HTTP/3 server library (Zig over
 * Cloudflare quiche). ABI version 1.
 *
 * Threads. zig_h3_server_start spawns one loop thread that alone touches
 * QUIC state. The application talks to it through two bounded queues of
 * records (layout below): it drains EVENTS with zig_h3_poll and queues
 * COMMANDS with zig_h3_submit. Nothing the library hands out points at its
 * own memory: zig_h3_poll copies events into the caller's buffer.
 * zig_h3_poll and zig_h3_submit may be called from any thread, but one
 * server's events should be drained by one thread at a time. new / start /
 * stop / free of one server must not run concurrently with each other or
 * with any other call on that server.
 *
 * Waking. The loop signals the eventfd returned by zig_h3_server_event_fd
 * when the event queue goes from empty to non-empty (at most once per
 * batch); read it (8 bytes), then call zig_h3_poll until it returns 0.
 *
 * Errors. Functions return ZIG_H3_OK (0) or a negative ZIG_H3_ERR_* code;
 * functions returning a count return it when >= 0. zig_h3_status_name and
 * zig_h3_status_message describe any code.
 */
#ifndef ZIG_H3_H
#define ZIG_H3_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ZIG_H3_ABI_VERSION 4

/* Status codes (ZIG_H3_OK, ZIG_H3_ERR_*): in the generated block at the end. */

typedef struct zig_h3_server zig_h3_server; /* opaque */

/*
 * Server configuration. Every field after the first slot is 8 bytes (a
 * uint64_t or a pointer), so field i sits at byte offset 8*i. Fill it with
 * zig_h3_config_init, then override. Booleans are 0 or 1. Strings are
 * NUL-terminated and copied by zig_h3_server_new. Defaults in brackets.
 */
typedef struct zig_h3_config {
    uint32_t struct_size;  /* sizeof(zig_h3_config), set by zig_h3_config_init */
    uint32_t abi_version;  /* ZIG_H3_ABI_VERSION */
    const char *cert_path; /* PEM certificate chain (required) */
    const char *key_path;  /* PEM private key (required) */
    const char *bind_address; /* numeric IPv4/IPv6 ["127.0.0.1"] */
    uint64_t port;         /* UDP port; 0 = ephemeral, see zig_h3_server_port [4433] */
    /* QUIC transport */
    uint64_t idle_timeout_ms;                     /* [30000] */
    uint64_t initial_max_data;                    /* [16 MiB] */
    uint64_t initial_max_stream_data_bidi_local;  /* [1 MiB] */
    uint64_t initial_max_stream_data_bidi_remote; /* [1 MiB] */
    uint64_t initial_max_stream_data_uni;         /* [1 MiB] */
    uint64_t initial_max_streams_bidi;            /* [256] */
    uint64_t initial_max_streams_uni;             /* [16] */
    uint64_t max_recv_udp_payload_size;           /* 1200..65527 [1500] */
    uint64_t max_send_udp_payload_size;           /* 1200..65527 [1350] */
    uint64_t disable_active_migration;            /* [1] */
    uint64_t enable_pacing;                       /* [1] */
    const char *cc_algorithm;                     /* "reno" | "cubic" | "bbr2" ["cubic"] */
    uint64_t enable_dgram;                        /* [0] */
    uint64_t dgram_recv_queue_len;                /* 1..65536 when enabled [0] */
    uint64_t dgram_send_queue_len;                /* 1..65536 when enabled [0] */
    uint64_t grease;                              /* [1] */
    /* Capacity bounds of the library's own structures */
    uint64_t max_connections;     /* [4096] */
    uint64_t max_requests;        /* live requests, all connections [16384] */
    uint64_t event_queue_bytes;   /* [4 MiB] */
    uint64_t command_queue_bytes; /* [4 MiB] */
    uint64_t recv_batch_packets;  /* packets read per wake-up [64] */
    uint64_t body_chunk_bytes;    /* largest BODY event payload [64 KiB] */
    /* HTTP limits */
    uint64_t max_request_headers_size;     /* name+value+32 per field; over it: 431 [16384] */
    uint64_t max_request_body_size;        /* [100 MiB] */
    uint64_t max_path_length;              /* over it: 414 [2048] */
    uint64_t max_header_count;             /* over it: 431 [100] */
    uint64_t max_header_name_length;       /* over it: 431 [256] */
    uint64_t max_header_value_length;      /* over it: 431 [8192] */
    uint64_t max_active_requests_per_conn; /* 0 = no cap [0] */
    uint64_t max_pending_response_bytes;   /* [1 MiB] */
    /* Diagnostics */
    const char *qlog_dir;    /* one qlog file per connection, or NULL [NULL] */
    const char *keylog_path; /* TLS key log (SSLKEYLOGFILE format), or NULL [NULL] */
    uint64_t log_level;      /* 0 error .. 4 trace [1] */
    /* Added within ABI version 1; older callers get the default. */
    uint64_t enable_webtransport; /* draft-02 SETTINGS + extended CONNECT; needs enable_dgram [0] */
    uint64_t max_connections_per_ip; /* live connections per peer IP; 0 = no cap [0]. Over this or
                                        max_connections a new client gets CONNECTION_CLOSE with
                                        CONNECTION_REFUSED (0x2); existing connections are untouched. */
    uint64_t qpack_max_table_capacity; /* QPACK dynamic table the peer may fill for its requests,
                                          bytes [4096], 0 .. 1 MiB */
    uint64_t qpack_blocked_streams; /* request streams that may wait on QPACK inserts [16], 0 .. 1024;
                                       more is QPACK_DECOMPRESSION_FAILED */
    uint64_t max_webtransport_streams_per_session; /* open WebTransport streams per session, both
                                                       directions [256], 1 .. 65536; over it a peer's
                                                       stream is reset with
                                                       WEBTRANSPORT_BUFFERED_STREAM_REJECTED */
    uint64_t request_head_timeout_ms; /* a request stream must deliver its field section within this
                                         [10000]; 0 = no limit. Else reset with
                                         H3_REQUEST_INCOMPLETE (0x10d), counted in requests_timed_out */
    uint64_t min_request_body_bytes_per_s; /* slowest accepted request body [0 = no minimum]; slower is
                                              reset with H3_REQUEST_INCOMPLETE and counted */
    uint64_t request_body_rate_window_ms; /* window the body rate is measured over [10000], >= 100 */
    uint64_t enable_retry;           /* stateless Retry (RFC 9000 8.1.2) [0]. A client's first Initial
                                        gets a Retry with a token bound to its IP, port and original
                                        DCID, MACed (HMAC-SHA256) under a per-server random key; only
                                        an Initial echoing a valid token creates a connection. Initials
                                        with a malformed, forged, expired or moved token are dropped
                                        (stats: retries_sent, retry_tokens_rejected). The caps apply
                                        to validated clients. */
    uint64_t retry_token_lifetime_ms; /* a Retry token is valid this long after it was issued;
                                        1..600000 [10000] */
    uint64_t request_read_window_bytes; /* request and WebTransport stream body bytes read from QUIC
                                           ahead of the application's CREDIT [1 MiB],
                                           body_chunk_bytes..1 GiB. Past it the stream is not read
                                           and QUIC flow control holds the peer back */
    uint64_t wt_initial_max_data_bytes; /* WebTransport session flow control with draft-15/16
                                           peers that use it: stream bytes a peer may send on one
                                           session before WT_MAX_DATA grants more [4 MiB],
                                           0..2^40; 0 = no session flow control */
    uint64_t wt_initial_max_streams_bidi; /* bidirectional streams a peer may open in one session,
                                             granted again as they end (WT_MAX_STREAMS) [128],
                                             0..65536; at most max_webtransport_streams_per_session
                                             is announced */
    uint64_t wt_initial_max_streams_uni; /* unidirectional streams, likewise [128] */
    const char *quic_lb_server_id_hex; /* QUIC-LB (draft-ietf-quic-load-balancers, docs/QUIC-LB.md):
                                          this machine's server ID in hex, 1..15 bytes [NULL]. Set,
                                          every connection ID the server chooses is first octet
                                          (config rotation | length), server ID, nonce; NULL: random
                                          16-byte connection IDs */
    uint64_t quic_lb_nonce_len;      /* QUIC-LB nonce bytes [8], 4..18; server ID + nonce <= 19 */
    uint64_t quic_lb_config_rotation; /* QUIC-LB config rotation codepoint [0], 0..6 */
    const char *quic_lb_key_hex;     /* QUIC-LB 16-byte AES-128 key, 32 hex digits [NULL = plaintext
                                        connection IDs]; needs quic_lb_server_id_hex */
    /* Added in ABI version 3: session resumption and 0-RTT (docs/ZERO-RTT.md). */
    const char *ticket_key_hex;      /* TLS session ticket key, 48 bytes as 96 hex digits (16 key name,
                                        16 HMAC secret, 16 AES-128 key) [NULL = a random key of this
                                        server's own]; servers given the same key resume each other's
                                        sessions. Another length: ZIG_H3_ERR_TICKET_KEY_INVALID */
    uint64_t enable_early_data;      /* accept 0-RTT from resumed clients [0]; a request read before
                                        the handshake completed has ZIG_H3_FLAG_EARLY */
    uint64_t early_data_allow_unsafe; /* early requests whose method is not GET, HEAD, OPTIONS or TRACE
                                         reach the application [0 = answered 425 Too Early] */
    uint64_t socket_fd;              /* workers: a bound UDP socket to serve on (from
                                        zig_h3_steering_add; the steering object owns it) instead
                                        of binding bind_address:port [0 = bind one's own] */
    uint64_t worker_steering;        /* workers: stamp worker_id into every connection ID the
                                        server chooses (byte 0, or the first QUIC-LB nonce byte) [0] */
    uint64_t worker_id;              /* workers: this worker's id, 0..255 [0] */
    const char *retry_key_hex;       /* Retry token key, 32 bytes as 64 hex digits, shared by
                                        servers that must accept each other's tokens [NULL =
                                        random per server] */
    /* Added in ABI version 4: raw QUIC connections. */
    const char *application_protos;  /* application protocols (ALPN ids) negotiated besides h3,
                                        comma-separated, at most 16, each 1..255 printable ASCII
                                        bytes, never "h3" (e.g. "zr/1") [NULL = h3 only]. A
                                        connection that negotiates one is raw QUIC (QUIC_CONN); a
                                        client offering none of them nor h3 is refused in the
                                        handshake with the TLS alert no_application_protocol
                                        (CRYPTO_ERROR 0x178) */
} zig_h3_config;

/* "zig-quiche-h3/<version> quiche/<version>"; static, never NULL. */
const char *zig_h3_version(void);

/* "ZIG_H3_ERR_..." / a sentence, for any code (unknown codes included); static. */
const char *zig_h3_status_name(int status);
const char *zig_h3_status_message(int status);

/* sizeof(zig_h3_config) as this library knows it. */
size_t zig_h3_config_size(void);

/* Fills *config with defaults. Errors: INVALID_ARGUMENT (NULL). */
int zig_h3_config_init(zig_h3_config *config);

/*
 * Validates the config, loads certificate and key, binds the UDP socket and
 * allocates every bounded structure; no thread yet. On success *out is the
 * server (free it with zig_h3_server_free); on error *out is NULL.
 * Errors: INVALID_ARGUMENT, ABI_MISMATCH, CONFIG_INVALID,
 * CC_ALGORITHM_INVALID, CERT_NOT_FOUND, CERT_INVALID, KEY_NOT_FOUND,
 * KEY_INVALID, ADDRESS_INVALID, ADDRESS_IN_USE, ADDRESS_NOT_AVAILABLE,
 * PERMISSION_DENIED, SOCKET_FAILED, OUT_OF_MEMORY, QUICHE_FAILED.
 */
int zig_h3_server_new(const zig_h3_config *config, zig_h3_server **out);

/* Stops the server if running, closes its fds and frees it. The handle is
 * invalid afterwards. Errors: INVALID_ARGUMENT (NULL). */
int zig_h3_server_free(zig_h3_server *server);

/* Spawns the loop thread. Once only. Errors: INVALID_ARGUMENT,
 * INVALID_STATE (already started or stopped), THREAD_FAILED. */
int zig_h3_server_start(zig_h3_server *server);

/* Closes every connection (CONNECTION_CLOSE, H3_NO_ERROR), ends their
 * requests with RESET events and joins the loop thread. Idempotent.
 * Errors: INVALID_ARGUMENT. */
int zig_h3_server_stop(zig_h3_server *server);

/*
 * Graceful stop, non-blocking: every connection gets GOAWAY, new request
 * streams are refused (H3_REQUEST_REJECTED), and in-flight requests may
 * finish until timeout_ms passes. Keep draining events and answering them;
 * a SHUTDOWN event marks the end, after which zig_h3_server_stop returns at
 * once. Errors: INVALID_ARGUMENT, INVALID_STATE (not running).
 */
int zig_h3_server_shutdown(zig_h3_server *server, uint64_t timeout_ms);

/*
 * Rotates the session ticket key of a server created with ticket_key_hex,
 * from any thread while it exists: key (48 bytes: 16 key name, 16 HMAC
 * secret, 16 AES-128 key) seals new tickets; the key it replaces still opens
 * the tickets it sealed (renewed under the new key); the one before is
 * forgotten, so its tickets get a full handshake. Errors: INVALID_ARGUMENT,
 * TICKET_KEY_INVALID (key_len != 48), INVALID_STATE (no ticket_key_hex, or
 * stopped).
 */
int zig_h3_server_set_ticket_key(zig_h3_server *server, const uint8_t *key, size_t key_len);

/*
 * Callback mode: instead of signalling the eventfd, the loop thread calls
 * doorbell(user) when the event queue goes from empty to non-empty (at most
 * once per batch). It runs on the loop thread: it must only schedule a
 * zig_h3_poll elsewhere, never call back into the server. NULL restores the
 * eventfd. Before or after zig_h3_server_start (switching lets an
 * application stop its event loop from being held by the eventfd); a ring
 * under way may still call the previous doorbell, which must stay valid
 * until the server is stopped. After a switch, drain once with zig_h3_poll:
 * events queued before it rang the previous doorbell.
 * Errors: INVALID_ARGUMENT, INVALID_STATE (stopped).
 */
typedef void (*zig_h3_doorbell_fn)(void *user);
int zig_h3_server_set_doorbell(zig_h3_server *server, zig_h3_doorbell_fn doorbell, void *user);

/* The bound UDP port (useful with port 0), or INVALID_ARGUMENT. */
int zig_h3_server_port(const zig_h3_server *server);

/* The doorbell eventfd (owned by the server; do not close it), or
 * INVALID_ARGUMENT. */
int zig_h3_server_event_fd(const zig_h3_server *server);

/*
 * Routes METHOD (uppercase, or "*" for any) + PATTERN to route_id, which
 * REQUEST events carry. Patterns: exact segments, ":name" for one segment,
 * a final "*" for the rest. First registered wins; a GET route also answers
 * HEAD. Unmatched paths get 404, matched paths with another method 405,
 * from the loop thread. Allowed before and after zig_h3_server_start (not
 * after stop).
 * Errors: INVALID_ARGUMENT, INVALID_STATE, ROUTE_INVALID, ROUTE_DUPLICATE,
 * TOO_MANY_ROUTES, OUT_OF_MEMORY.
 */
int zig_h3_route(zig_h3_server *server, const char *method, const char *pattern, uint32_t route_id);

/* A header field; names are lowercase, neither is NUL-terminated. */
typedef struct zig_h3_field {
    const uint8_t *name;
    size_t name_len;
    const uint8_t *value;
    size_t value_len;
} zig_h3_field;

/* A request as a native route sees it. Valid only during the callback. */
typedef struct zig_h3_request {
    const uint8_t *method;
    size_t method_len;
    const uint8_t *path; /* with query string */
    size_t path_len;
    const uint8_t *authority;
    size_t authority_len;
    const zig_h3_field *fields; /* all fields as received, pseudo-headers first */
    size_t field_count;
    uint64_t conn_id;
    uint64_t stream_id;
} zig_h3_request;

typedef struct zig_h3_response zig_h3_response; /* valid only during the callback */

/* Runs on the loop thread: no queue, no other thread. It must answer with
 * zig_h3_response_send before returning (else the client gets 500), and
 * must not block. The request body, if any, is discarded. */
typedef void (*zig_h3_request_cb)(void *user, const zig_h3_request *request, zig_h3_response *response);

/*
 * Routes METHOD + PATTERN (as zig_h3_route) to a synchronous C handler on
 * the loop thread. Errors: as zig_h3_route, and INVALID_ARGUMENT for a NULL
 * handler.
 */
int zig_h3_route_native(zig_h3_server *server, const char *method, const char *pattern, uint32_t route_id,
                        zig_h3_request_cb handler, void *user);

/*
 * Routes METHOD + PATTERN to a fixed response the loop sends by itself
 * (status, fields, body are copied). Errors: as zig_h3_route, and
 * INVALID_ARGUMENT for a status outside 200..999, more than 256 fields, an
 * empty or too long field, or NULL with a non-zero length.
 */
int zig_h3_route_static(zig_h3_server *server, const char *method, const char *pattern, uint32_t route_id,
                        uint16_t status, const zig_h3_field *fields, size_t field_count,
                        const uint8_t *body, size_t body_len);

/*
 * Answers a native route's request (status, fields and body are copied).
 * Only during the callback, once. Errors: INVALID_ARGUMENT (bad status,
 * more than 256 fields, a field over 65535 bytes, NULL with a length),
 * INVALID_STATE (already answered), OUT_OF_MEMORY.
 */
int zig_h3_response_send(zig_h3_response *response, uint16_t status, const zig_h3_field *fields, size_t field_count,
                         const uint8_t *body, size_t body_len);

/*
 * Copies whole event records into buffer (each padded to 8 bytes) and
 * returns the number of bytes written, 0 when no event is queued.
 * Errors: INVALID_ARGUMENT, BUFFER_TOO_SMALL (the next record is larger
 * than capacity; 1 MiB always suffices with default limits).
 */
int64_t zig_h3_poll(zig_h3_server *server, uint8_t *buffer, size_t capacity);

/*
 * Queues command records (each padded to 8 bytes, the last may be unpadded)
 * and wakes the loop once. Returns how many bytes were taken: whole records,
 * fewer than len when the command queue is full (resubmit the rest later).
 * Commands naming a request that already ended are ignored (counted in
 * stale_commands): that is the normal race with a client reset.
 * Errors: INVALID_ARGUMENT, MALFORMED_COMMAND (bad length or kind).
 */
int64_t zig_h3_submit(zig_h3_server *server, const uint8_t *batch, size_t len);

/*
 * Copies up to count counters into out, at the indices ZIG_H3_STAT_*
 * (ZIG_H3_STAT_COUNT of them; the generated block at the end). Returns how many
 * counters exist (out may be NULL to ask). Errors: INVALID_ARGUMENT.
 */
int zig_h3_server_stats(const zig_h3_server *server, uint64_t *out, size_t count);

/*
 * Workers on one UDP port (docs/WORKERS.md). A steering object owns the
 * SO_REUSEPORT group of the workers' sockets and the classic BPF program
 * that sends each datagram to the socket of the worker whose id its
 * destination connection ID carries. Only the owner of every socket knows
 * the group's order, so one thread (the supervisor) makes all calls on it.
 *
 * zig_h3_steering_new reads bind_address, port and the quic_lb_* fields of
 * config (the workers get the same ones with worker_steering = 1); it binds
 * nothing yet. Errors: INVALID_ARGUMENT, ABI_MISMATCH, ADDRESS_INVALID,
 * CONFIG_INVALID (a QUIC-LB key: the kernel cannot read encrypted IDs),
 * OUT_OF_MEMORY. zig_h3_steering_free closes every socket; the workers
 * must have stopped.
 */
typedef struct zig_h3_steering zig_h3_steering;
int zig_h3_steering_new(const zig_h3_config *config, zig_h3_steering **out);
int zig_h3_steering_free(zig_h3_steering *steering);
/*
 * Binds a socket for worker_id (0..255, unique in the group) and returns
 * its fd (>= 1; pass it as socket_fd with worker_id), still owned by the
 * steering object. The worker takes new connections at once. Errors:
 * INVALID_ARGUMENT (id in use), INVALID_STATE (group full),
 * ADDRESS_IN_USE, ADDRESS_NOT_AVAILABLE, PERMISSION_DENIED, SOCKET_FAILED.
 */
int zig_h3_steering_add(zig_h3_steering *steering, uint32_t worker_id);
/* The worker gets no new connections; its own still reach it. */
int zig_h3_steering_drain(zig_h3_steering *steering, uint32_t worker_id);
/* Closes the worker's socket; its server must have stopped. */
int zig_h3_steering_remove(zig_h3_steering *steering, uint32_t worker_id);
/* The port the group shares (known after the first add). */
int zig_h3_steering_port(const zig_h3_steering *steering);

/*
 * Record layout (little-endian), events and commands alike:
 *   u32 length (whole record, unpadded) | u8 kind | u8 flags | u16 aux | u64 id
 * followed by the payload. A field block is: u32 count, then per field
 * u16 name_len, u16 value_len, name bytes, value bytes.
 *
 * Events (zig_h3_poll); id = request id:
 *   1 REQUEST   u64 conn_id, u64 stream_id, u32 route_id, peer address
 *               (u8 family 4 or 6, u8 0, u16 port, 16 address bytes with
 *               IPv4 as IPv4-mapped IPv6: the client's address when its
 *               connection was accepted), field block
 *               (pseudo-headers first, as received). FIN flag: the field
 *               section ended the stream, so there is no body and no
 *               BODY_END follows (a bodiless request is one record). EARLY
 *               flag: the request may be a replay (RFC 8470): read in 0-RTT
 *               or carrying Early-Data; only safe methods unless
 *               early_data_allow_unsafe (the others got 425). A body over
 *               max_request_body_size ends the request with RESET (the
 *               client gets STOP_SENDING and, if no response started, 413).
 *   2 BODY      body bytes
 *   3 BODY_END  the request body is complete
 *   4 RESET     u64 HTTP/3 error code; the request ended early; id is dead
 *   5 COMPLETE  the response was fully handed to QUIC; id is dead
 *   6 DRAIN     u64 response body bytes handed to QUIC so far; sent once
 *               after a BODY command flagged NOTIFY, when the library holds
 *               at most max_pending_response_bytes / 2 for the response
 *   7 SHUTDOWN  id 0; a graceful shutdown finished, the loop is exiting
 *   8 CONN_STATS id = connection id; FIN flag = found; u32 count, then
 *               count u64 values at the indices ZIG_H3_CONN_STAT_*.
 *   9 LOG       id = connection id or 0; aux = level (0 error .. 4 trace,
 *               up to config.log_level); the message, UTF-8. Dropped
 *               rather than queued when the event queue is full.
 *  10 CONN_INFO id = connection id; flags bit 0: QUIC datagrams usable,
 *               bit 1: the peer enabled HTTP/3 datagrams (then every
 *               datagram carries a quarter stream ID); u64 largest datagram
 *               quiche can send now. Sent when any of it changes.
 *  11 QUIC_DATAGRAM id = connection id; a datagram from a peer without
 *               HTTP/3 datagrams.
 *  12 H3_DATAGRAM id = request id; an HTTP/3 datagram for that request
 *               stream (or WebTransport session), quarter stream ID removed.
 *               Datagrams for unknown or finished streams are dropped and
 *               counted (datagrams_received_dropped).
 *  13 DATAGRAM_CREDIT id = connection id; u64 datagram commands of this
 *               connection finished so far (sent to quiche or dropped); once
 *               after a datagram command flagged NOTIFY, when quiche's send
 *               queue is at most half full.
 *  14 CONN_CLOSED id = connection id; the connection is gone (only for
 *               connections a CONN_INFO or QUIC_CONN event announced). Never
 *               dropped. For a raw QUIC connection, when the queue had room:
 *               u64 error code, u8 origin (0 unknown, e.g. idle timeout;
 *               1 the peer's CONNECTION_CLOSE; 2 ours), u8 1 when the code
 *               is an application code, then the reason (UTF-8).
 *  15 WT_STREAM id = WebTransport stream id (from the request-id space);
 *               aux = 1 bidirectional, 0 unidirectional; u64 session id
 *               (the CONNECT request's id), u64 QUIC stream id. The peer
 *               opened a stream of that session: its bytes arrive as BODY,
 *               its FIN as BODY_END; the id ends with COMPLETE (both
 *               directions finished) or RESET (stream, session or
 *               connection gone).
 *  16 WT_OPENED answer to WT_OPEN; id = the new stream id, or 0; aux as
 *               WT_STREAM; u64 token (from the command), u64 session id,
 *               u64 QUIC stream id, u64 status: 0 opened, 1 session gone,
 *               2 stream limit (max_webtransport_streams_per_session, or
 *               that many opens already wait for the peer's credit).
 *  17 WT_PEER_RESET id = WebTransport stream id; the peer reset its
 *               sending side (RESET_STREAM); u64 HTTP/3 error code.
 *  18 WT_STOP_SENDING id = WebTransport stream id; the peer sent
 *               STOP_SENDING; our sending side was reset with the same
 *               code and later BODY commands are dropped; u64 HTTP/3 code.
 *  19 QUIC_CONN id = connection id; a raw QUIC connection (it negotiated
 *               one of application_protos, not h3) completed its handshake.
 *               u64 pseudo session id, peer address (20 bytes as in
 *               REQUEST), then the ALPN. Nothing of HTTP/3 runs on it: every
 *               stream the client opens is announced by WT_STREAM naming the
 *               pseudo session (its bytes as sent, no preface), WT_OPEN with
 *               the pseudo session id opens streams of ours (no preface on
 *               the wire), its datagrams are QUIC_DATAGRAM events, and it
 *               ends with CONN_CLOSED. Stream error codes are QUIC
 *               application codes.
 *
 * Commands (zig_h3_submit); flags bit 0 = FIN, bit 1 = NOTIFY, bit 2 =
 * BODY, bit 3 = QUIET:
 *   1 HEAD      aux = status; field block (lowercase names, no pseudo-
 *               headers), then with BODY the response body (so a small
 *               response is one command); FIN = nothing follows
 *               QUIET (with FIN, on HEAD, BODY or TRAILERS): the
 *               application forgets the request; no COMPLETE, RESET, DRAIN,
 *               BODY or BODY_END event is sent for it afterwards and later
 *               commands for it count as stale
 *   2 BODY      body bytes; FIN = last chunk; NOTIFY = send DRAIN when
 *               the buffer is low again. A response whose buffer passes
 *               2 * max_pending_response_bytes + 256 KiB is reset.
 *   3 TRAILERS  field block; ends the response
 *   4 RESET     u64 HTTP/3 error code; resets the stream both ways
 *   5 CONN_STATS id = connection id (conn_id of a REQUEST event); answered
 *               by a CONN_STATS event. The only way to read a connection's
 *               quiche counters, which only the loop thread may touch.
 *   6 QUIC_DATAGRAM id = connection id; the datagram. NOTIFY: send
 *               DATAGRAM_CREDIT when the send queue is low again.
 *   7 H3_DATAGRAM id = request id; the datagram (the library adds the
 *               quarter stream ID). NOTIFY as above.
 *               A datagram that is not negotiated, too large, or finds the
 *               send queue full is dropped and counted (datagrams_send_dropped).
 *   8 WT_OPEN   id = session id (the CONNECT request's id); aux = 1
 *               bidirectional, 0 unidirectional; u64 token, echoed by the
 *               WT_OPENED answer. Without the peer's stream credit
 *               (MAX_STREAMS) it waits and is answered once opened.
 *   9 WT_STOP_SENDING id = WebTransport stream id; u64 HTTP/3 error code;
 *               stops reading (STOP_SENDING). On a WebTransport stream,
 *               BODY carries raw bytes (FIN ends the sending side) and
 *               RESET resets only the sending side (RESET_STREAM).
 *  10 CREDIT    id = request or WebTransport stream id; u64 body bytes the
 *               application lets the library deliver, counted from the
 *               start of the body (absolute, so a repeated or late CREDIT is
 *               harmless; smaller values are ignored). The library starts
 *               each body with request_read_window_bytes of credit and
 *               stops reading the stream when it runs out.
 *  11 CONN_CLOSE id = connection id (a raw QUIC connection); u64 application
 *               error code, then the reason (UTF-8, at most 1024 bytes kept):
 *               CONNECTION_CLOSE with an application error.
 *  12 STREAM_PRIORITY id = a raw QUIC or WebTransport stream id; aux =
 *               urgency 0..7; FIN flag = incremental. RFC 9218 priority on
 *               quiche's stream scheduler from the stream's next byte.
 */
/* BEGIN GENERATED by `zig build gen` from zig-src/generate.zig: do not edit. */

/* Status codes: ZIG_H3_OK (0) or a negative ZIG_H3_ERR_*. */
#define ZIG_H3_OK 0 /* success */
#define ZIG_H3_ERR_INVALID_ARGUMENT -1 /* an argument is null or out of range */
#define ZIG_H3_ERR_ABI_MISMATCH -2 /* the config struct is smaller than this library needs (header/library version mismatch) */
#define ZIG_H3_ERR_OUT_OF_MEMORY -3 /* out of memory */
#define ZIG_H3_ERR_INVALID_STATE -4 /* not allowed in the server's current state */
#define ZIG_H3_ERR_CONFIG_INVALID -5 /* a config value is out of its allowed range */
#define ZIG_H3_ERR_CC_ALGORITHM_INVALID -6 /* unknown congestion control algorithm (use reno, cubic or bbr2) */
#define ZIG_H3_ERR_TICKET_KEY_INVALID -7 /* the TLS session ticket key must be exactly 48 bytes (96 hex digits) */
#define ZIG_H3_ERR_CERT_NOT_FOUND -10 /* certificate file not found or not readable */
#define ZIG_H3_ERR_CERT_INVALID -11 /* certificate file is not a valid PEM certificate chain */
#define ZIG_H3_ERR_KEY_NOT_FOUND -12 /* private key file not found or not readable */
#define ZIG_H3_ERR_KEY_INVALID -13 /* private key file is not a valid PEM private key matching the certificate */
#define ZIG_H3_ERR_ADDRESS_INVALID -20 /* bind address is not a numeric IPv4 or IPv6 address */
#define ZIG_H3_ERR_ADDRESS_IN_USE -21 /* address already in use */
#define ZIG_H3_ERR_ADDRESS_NOT_AVAILABLE -22 /* address not available on this host */
#define ZIG_H3_ERR_PERMISSION_DENIED -23 /* permission denied binding the address */
#define ZIG_H3_ERR_SOCKET_FAILED -24 /* could not create the UDP socket or its event descriptors */
#define ZIG_H3_ERR_ROUTE_INVALID -30 /* route method or pattern is invalid */
#define ZIG_H3_ERR_ROUTE_DUPLICATE -31 /* a route with this method and pattern already exists */
#define ZIG_H3_ERR_TOO_MANY_ROUTES -32 /* too many routes */
#define ZIG_H3_ERR_BUFFER_TOO_SMALL -41 /* buffer too small for the next event */
#define ZIG_H3_ERR_MALFORMED_COMMAND -42 /* malformed command record */
#define ZIG_H3_ERR_THREAD_FAILED -50 /* could not spawn the loop thread */
#define ZIG_H3_ERR_QUICHE_FAILED -51 /* quiche refused its configuration */

/* Event kinds (zig_h3_poll records). */
#define ZIG_H3_EVENT_REQUEST 1
#define ZIG_H3_EVENT_BODY 2
#define ZIG_H3_EVENT_BODY_END 3
#define ZIG_H3_EVENT_RESET 4
#define ZIG_H3_EVENT_COMPLETE 5
#define ZIG_H3_EVENT_DRAIN 6
#define ZIG_H3_EVENT_SHUTDOWN 7
#define ZIG_H3_EVENT_CONN_STATS 8
#define ZIG_H3_EVENT_LOG 9
#define ZIG_H3_EVENT_CONN_INFO 10
#define ZIG_H3_EVENT_QUIC_DATAGRAM 11
#define ZIG_H3_EVENT_H3_DATAGRAM 12
#define ZIG_H3_EVENT_DATAGRAM_CREDIT 13
#define ZIG_H3_EVENT_CONN_CLOSED 14
#define ZIG_H3_EVENT_WT_STREAM 15
#define ZIG_H3_EVENT_WT_OPENED 16
#define ZIG_H3_EVENT_WT_PEER_RESET 17
#define ZIG_H3_EVENT_WT_STOP_SENDING 18
#define ZIG_H3_EVENT_QUIC_CONN 19

/* Command kinds (zig_h3_submit records). */
#define ZIG_H3_COMMAND_HEAD 1
#define ZIG_H3_COMMAND_BODY 2
#define ZIG_H3_COMMAND_TRAILERS 3
#define ZIG_H3_COMMAND_RESET 4
#define ZIG_H3_COMMAND_CONN_STATS 5
#define ZIG_H3_COMMAND_QUIC_DATAGRAM 6
#define ZIG_H3_COMMAND_H3_DATAGRAM 7
#define ZIG_H3_COMMAND_WT_OPEN 8
#define ZIG_H3_COMMAND_WT_STOP_SENDING 9
#define ZIG_H3_COMMAND_CREDIT 10
#define ZIG_H3_COMMAND_CONN_CLOSE 11
#define ZIG_H3_COMMAND_STREAM_PRIORITY 12

/* Record flags. */
#define ZIG_H3_FLAG_FIN 1
#define ZIG_H3_FLAG_NOTIFY 2
#define ZIG_H3_FLAG_BODY 4
#define ZIG_H3_FLAG_QUIET 8
#define ZIG_H3_FLAG_EARLY 16

/* Indices of zig_h3_server_stats counters. */
#define ZIG_H3_STAT_PACKETS_RECEIVED 0
#define ZIG_H3_STAT_PACKETS_SENT 1
#define ZIG_H3_STAT_PACKETS_INVALID 2
#define ZIG_H3_STAT_SEND_FAILURES 3
#define ZIG_H3_STAT_VERSION_NEGOTIATIONS 4
#define ZIG_H3_STAT_CONNECTIONS_ACCEPTED 5
#define ZIG_H3_STAT_CONNECTIONS_REFUSED 6
#define ZIG_H3_STAT_CONNECTIONS_ACTIVE 7
#define ZIG_H3_STAT_REQUESTS_RECEIVED 8
#define ZIG_H3_STAT_REQUESTS_ACTIVE 9
#define ZIG_H3_STAT_RESPONSES_COMPLETED 10
#define ZIG_H3_STAT_REQUESTS_RESET 11
#define ZIG_H3_STAT_REQUESTS_REJECTED 12
#define ZIG_H3_STAT_STALE_COMMANDS 13
#define ZIG_H3_STAT_EVENT_QUEUE_FULL 14
#define ZIG_H3_STAT_DATAGRAMS_RECEIVED 15
#define ZIG_H3_STAT_DATAGRAMS_SENT 16
#define ZIG_H3_STAT_DATAGRAMS_RECEIVED_DROPPED 17
#define ZIG_H3_STAT_DATAGRAMS_SEND_DROPPED 18
#define ZIG_H3_STAT_REQUESTS_TIMED_OUT 19
#define ZIG_H3_STAT_RETRIES_SENT 20
#define ZIG_H3_STAT_RETRY_TOKENS_REJECTED 21
#define ZIG_H3_STAT_EVENTS_PUSHED 22
#define ZIG_H3_STAT_COMMANDS_APPLIED 23
#define ZIG_H3_STAT_BODY_BYTES_DELIVERED 24
#define ZIG_H3_STAT_WT_RESETS_AT 25
#define ZIG_H3_STAT_CONNECTIONS_RESUMED 26
#define ZIG_H3_STAT_CONNECTIONS_EARLY_DATA 27
#define ZIG_H3_STAT_REQUESTS_EARLY_DATA 28
#define ZIG_H3_STAT_REQUESTS_TOO_EARLY 29
#define ZIG_H3_STAT_PACKETS_PACED 30
#define ZIG_H3_STAT_PACKETS_PACED_AHEAD 31
#define ZIG_H3_STAT_CONNECTION_IDS_ISSUED 32
#define ZIG_H3_STAT_PATHS_VALIDATED 33
#define ZIG_H3_STAT_PEER_MIGRATIONS 34
#define ZIG_H3_STAT_LOOP_WAKEUPS 35
#define ZIG_H3_STAT_EVENT_DRAINS 36
#define ZIG_H3_STAT_COUNT 37

/* Indices of the values of a CONN_STATS event. */
#define ZIG_H3_CONN_STAT_PACKETS_RECEIVED 0
#define ZIG_H3_CONN_STAT_PACKETS_SENT 1
#define ZIG_H3_CONN_STAT_PACKETS_LOST 2
#define ZIG_H3_CONN_STAT_PACKETS_RETRANSMITTED 3
#define ZIG_H3_CONN_STAT_BYTES_SENT 4
#define ZIG_H3_CONN_STAT_BYTES_RECEIVED 5
#define ZIG_H3_CONN_STAT_BYTES_ACKED 6
#define ZIG_H3_CONN_STAT_BYTES_LOST 7
#define ZIG_H3_CONN_STAT_STREAM_RETRANS_BYTES 8
#define ZIG_H3_CONN_STAT_PATHS_COUNT 9
#define ZIG_H3_CONN_STAT_STREAMS_RESET_LOCAL 10
#define ZIG_H3_CONN_STAT_STREAMS_STOPPED_LOCAL 11
#define ZIG_H3_CONN_STAT_STREAMS_RESET_REMOTE 12
#define ZIG_H3_CONN_STAT_STREAMS_STOPPED_REMOTE 13
#define ZIG_H3_CONN_STAT_RTT_NS 14
#define ZIG_H3_CONN_STAT_MIN_RTT_NS 15
#define ZIG_H3_CONN_STAT_RTTVAR_NS 16
#define ZIG_H3_CONN_STAT_CWND_BYTES 17
#define ZIG_H3_CONN_STAT_PMTU_BYTES 18
#define ZIG_H3_CONN_STAT_DELIVERY_RATE_BYTES_PER_S 19
#define ZIG_H3_CONN_STAT_PTO_COUNT 20
#define ZIG_H3_CONN_STAT_REQUESTS_ACTIVE 21
#define ZIG_H3_CONN_STAT_COUNT 22
/* END GENERATED */

#ifdef __cplusplus
}
#endif
#endif /* ZIG_H3_H */
