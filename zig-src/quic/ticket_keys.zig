//! Session ticket keys with rotation. BoringSSL's own setter
//! (SSL_CTX_set_tlsext_ticket_keys, all quiche offers) keeps one key and
//! forgets the previous one, so a rotation would send every client holding
//! a ticket back to a full handshake, and 0-RTT with it. Installed as the
//! SSL_CTX's ticket key callback instead, this seals new tickets with the
//! current key and still opens tickets sealed with the previous one
//! (renewing them under the current key), so a rotation loses no
//! resumption as long as it happens at most once per ticket lifetime.
//!
//! The ticket format is BoringSSL's own (key name, IV, AES-128-CBC
//! ciphertext, HMAC-SHA256), and a key is the same 48 bytes as
//! SSL_CTX_set_tlsext_ticket_keys takes (and Node's `ticketKeys`): 16 bytes
//! key name, 16 bytes HMAC secret, 16 bytes AES-128 key. So a server using
//! this callback and one given the same key through BoringSSL's setter open
//! each other's tickets.
//!
//! The callback runs on the loop thread (inside quiche_conn_recv); `rotate`
//! is called from the application's thread, so the keys are read and
//! replaced under a mutex (held for a 96-byte copy).

const std = @import("std");
const assert = std.debug.assert;
const ssl = @import("../ffi/boringssl.zig");

pub const key_bytes = 48;
const name_bytes = 16;
const secret_bytes = 16;
const iv_bytes = 16;

pub const Key = struct {
    name: [name_bytes]u8,
    hmac_secret: [secret_bytes]u8,
    aes_key: [secret_bytes]u8,

    pub fn fromBytes(bytes: *const [key_bytes]u8) Key {
        return .{ .name = bytes[0..16].*, .hmac_secret = bytes[16..32].*, .aes_key = bytes[32..48].* };
    }
};

pub const TicketKeys = struct {
    mutex: std.Thread.Mutex = .{},
    current: Key,
    previous: ?Key = null,

    pub fn init(bytes: *const [key_bytes]u8) TicketKeys {
        return .{ .current = Key.fromBytes(bytes) };
    }

    /// The new key seals from now on; the current one still opens the
    /// tickets it sealed; the previous one is forgotten. Rotating to the
    /// current key again changes nothing (so a fleet may repeat a rotation).
    pub fn rotate(keys: *TicketKeys, bytes: *const [key_bytes]u8) void {
        const next = Key.fromBytes(bytes);
        keys.mutex.lock();
        defer keys.mutex.unlock();
        if (std.mem.eql(u8, &next.name, &keys.current.name) and
            std.mem.eql(u8, &next.hmac_secret, &keys.current.hmac_secret) and
            std.mem.eql(u8, &next.aes_key, &keys.current.aes_key)) return;
        keys.previous = keys.current;
        keys.current = next;
    }

    fn sealing(keys: *TicketKeys) Key {
        keys.mutex.lock();
        defer keys.mutex.unlock();
        return keys.current;
    }

    const Found = struct { key: Key, renew: bool };

    fn opening(keys: *TicketKeys, name: *const [name_bytes]u8) ?Found {
        keys.mutex.lock();
        defer keys.mutex.unlock();
        if (std.mem.eql(u8, name, &keys.current.name)) return .{ .key = keys.current, .renew = false };
        if (keys.previous) |previous| {
            if (std.mem.eql(u8, name, &previous.name)) return .{ .key = previous, .renew = true };
        }
        return null;
    }
};

/// The SSL_CTX ex_data slot that points at a context's TicketKeys.
var ex_index: c_int = -1;
var ex_index_once = std.once(allocateExIndex);

fn allocateExIndex() void {
    ex_index = ssl.SSL_CTX_get_ex_new_index(0, null, null, null, null);
}

pub const InstallError = error{TicketKeyCallbackFailed};

/// Makes `keys` the ticket keys of `ctx`. `keys` must outlive the context
/// (the server owns both and frees the context first).
pub fn install(ctx: *ssl.SSL_CTX, keys: *TicketKeys) InstallError!void {
    ex_index_once.call();
    if (ex_index < 0) return error.TicketKeyCallbackFailed;
    if (ssl.SSL_CTX_set_ex_data(ctx, ex_index, keys) != 1) return error.TicketKeyCallbackFailed;
    if (ssl.SSL_CTX_set_tlsext_ticket_key_cb(ctx, callback) != 1) return error.TicketKeyCallbackFailed;
}

fn callback(
    connection: *ssl.SSL,
    key_name: [*]u8,
    iv: [*]u8,
    cipher_ctx: *ssl.EVP_CIPHER_CTX,
    hmac_ctx: *ssl.HMAC_CTX,
    encrypt: c_int,
) callconv(.c) c_int {
    assert(encrypt == 0 or encrypt == 1);
    const data = ssl.SSL_CTX_get_ex_data(ssl.SSL_get_SSL_CTX(connection), ex_index) orelse return -1;
    const keys: *TicketKeys = @ptrCast(@alignCast(data));
    if (encrypt == 1) {
        const key = keys.sealing();
        @memcpy(key_name[0..name_bytes], &key.name);
        if (ssl.RAND_bytes(iv, iv_bytes) != 1) return -1;
        if (ssl.EVP_EncryptInit_ex(cipher_ctx, ssl.EVP_aes_128_cbc(), null, &key.aes_key, iv) != 1) return -1;
        if (ssl.HMAC_Init_ex(hmac_ctx, &key.hmac_secret, secret_bytes, ssl.EVP_sha256(), null) != 1) return -1;
        return 1;
    }
    // A ticket from another key (another fleet, or older than the previous
    // rotation) is ignored: the client gets a full handshake.
    const found = keys.opening(key_name[0..name_bytes]) orelse return 0;
    if (ssl.EVP_DecryptInit_ex(cipher_ctx, ssl.EVP_aes_128_cbc(), null, &found.key.aes_key, iv) != 1) return -1;
    if (ssl.HMAC_Init_ex(hmac_ctx, &found.key.hmac_secret, secret_bytes, ssl.EVP_sha256(), null) != 1) return -1;
    return if (found.renew) 2 else 1;
}

test "rotate keeps exactly one previous key, and repeating a rotation changes nothing" {
    const k1 = [_]u8{1} ** key_bytes;
    const k2 = [_]u8{2} ** key_bytes;
    const k3 = [_]u8{3} ** key_bytes;
    var keys = TicketKeys.init(&k1);
    try std.testing.expect(keys.opening(&k1[0..16].*) != null);
    keys.rotate(&k2);
    keys.rotate(&k2);
    try std.testing.expectEqual(false, keys.opening(&k2[0..16].*).?.renew);
    try std.testing.expectEqual(true, keys.opening(&k1[0..16].*).?.renew);
    keys.rotate(&k3);
    try std.testing.expect(keys.opening(&k1[0..16].*) == null);
    try std.testing.expectEqual(true, keys.opening(&k2[0..16].*).?.renew);
    try std.testing.expectEqualSlices(u8, &k3[0..16].*, &keys.sealing().name);
}
