//! Extern declarations for the few BoringSSL functions the library calls
//! itself (quiche links BoringSSL statically into the same library). Only
//! the session ticket key callback uses them (quic/ticket_keys.zig); the
//! SSL_CTX comes from quiche_config_ssl_ctx (third_party/quiche/patch.py).

pub const SSL = opaque {};
pub const SSL_CTX = opaque {};
pub const EVP_CIPHER_CTX = opaque {};
pub const EVP_CIPHER = opaque {};
pub const HMAC_CTX = opaque {};
pub const EVP_MD = opaque {};

/// SSL_CTX_set_tlsext_ticket_key_cb's callback (ssl.h): with `encrypt`
/// 1, write the key name and a random IV and initialise both contexts for
/// sealing; with 0, find the key named `key_name` and initialise them for
/// opening. Returns 1 (done), 2 (opened; seal a new ticket with the current
/// key), 0 (no such key: the ticket is ignored) or a negative error.
pub const TicketKeyCallback = *const fn (
    ssl: *SSL,
    key_name: [*]u8,
    iv: [*]u8,
    cipher_ctx: *EVP_CIPHER_CTX,
    hmac_ctx: *HMAC_CTX,
    encrypt: c_int,
) callconv(.c) c_int;

pub extern fn SSL_CTX_set_tlsext_ticket_key_cb(ctx: *SSL_CTX, callback: TicketKeyCallback) c_int;
pub extern fn SSL_CTX_get_ex_new_index(argl: c_long, argp: ?*anyopaque, unused: ?*anyopaque, dup_unused: ?*anyopaque, free_func: ?*anyopaque) c_int;
pub extern fn SSL_CTX_set_ex_data(ctx: *SSL_CTX, index: c_int, data: ?*anyopaque) c_int;
pub extern fn SSL_CTX_get_ex_data(ctx: *const SSL_CTX, index: c_int) ?*anyopaque;
pub extern fn SSL_get_SSL_CTX(ssl: *const SSL) *SSL_CTX;
pub extern fn EVP_aes_128_cbc() *const EVP_CIPHER;
pub extern fn EVP_sha256() *const EVP_MD;
pub extern fn EVP_EncryptInit_ex(ctx: *EVP_CIPHER_CTX, cipher: *const EVP_CIPHER, engine: ?*anyopaque, key: [*]const u8, iv: [*]const u8) c_int;
pub extern fn EVP_DecryptInit_ex(ctx: *EVP_CIPHER_CTX, cipher: *const EVP_CIPHER, engine: ?*anyopaque, key: [*]const u8, iv: [*]const u8) c_int;
pub extern fn HMAC_Init_ex(ctx: *HMAC_CTX, key: [*]const u8, key_len: usize, md: *const EVP_MD, engine: ?*anyopaque) c_int;
pub extern fn RAND_bytes(buf: [*]u8, len: usize) c_int;
