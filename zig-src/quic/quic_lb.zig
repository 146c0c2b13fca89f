//! Routable connection IDs for a fleet behind a QUIC-LB-aware layer-4
//! load balancer (draft-ietf-quic-load-balancers-21). A connection ID is
//!
//!     First Octet (8) = Config Rotation (3) | Length of the rest (5)
//!     Server ID (server_id_len bytes) | Nonce (nonce_len bytes)
//!
//! in plaintext, or with a 16-byte key, the server ID and nonce encrypted:
//! one AES-128-ECB block when they are exactly 16 bytes together, otherwise
//! a four-pass Feistel network with AES-128-ECB as its round function. The
//! first octet is never encrypted, and always self-encodes the length of
//! the rest (as the draft's test vectors do).
//!
//! Pure functions over caller buffers; nothing is allocated. docs/QUIC-LB.md
//! says how a fleet is deployed with it.

const std = @import("std");
const assert = std.debug.assert;
const Aes128 = std.crypto.core.aes.Aes128;

/// Bounds of the draft (section "Configuration Agent Actions"): a server ID
/// of at least one byte, a nonce of at least four, both together at most
/// 19 so the connection ID fits QUIC v1's 20 bytes.
pub const server_id_len_min = 1;
pub const nonce_len_min = 4;
pub const plaintext_len_max = 19;
pub const server_id_len_max = plaintext_len_max - nonce_len_min;
pub const nonce_len_max = plaintext_len_max - server_id_len_min;
pub const cid_len_max = 1 + plaintext_len_max;
/// 0b111 is reserved for unroutable connection IDs.
pub const config_rotation_max = 6;
pub const key_len = 16;

const block_len = 16;
/// Half of the largest plaintext, rounded up.
const half_len_max = (plaintext_len_max + 1) / 2;

pub const Config = struct {
    config_rotation: u8,
    server_id: [server_id_len_max]u8 = [_]u8{0} ** server_id_len_max,
    server_id_len: u8,
    nonce_len: u8,
    /// Null: plaintext connection IDs (the balancer and any observer can
    /// read the server ID).
    key: ?[key_len]u8 = null,

    pub const Error = error{QuicLbConfigInvalid};

    /// Builds a config from the server ID's bytes (big-endian, as they
    /// appear in the connection ID).
    pub fn init(config_rotation: u8, server_id: []const u8, nonce_len: u8, key: ?[key_len]u8) Error!Config {
        var config = Config{
            .config_rotation = config_rotation,
            .server_id_len = std.math.cast(u8, server_id.len) orelse return error.QuicLbConfigInvalid,
            .nonce_len = nonce_len,
            .key = key,
        };
        if (server_id.len > server_id_len_max) return error.QuicLbConfigInvalid;
        @memcpy(config.server_id[0..server_id.len], server_id);
        try config.validate();
        return config;
    }

    pub fn validate(config: *const Config) Error!void {
        if (config.config_rotation > config_rotation_max) return error.QuicLbConfigInvalid;
        if (config.server_id_len < server_id_len_min or config.server_id_len > server_id_len_max) return error.QuicLbConfigInvalid;
        if (config.nonce_len < nonce_len_min or config.nonce_len > nonce_len_max) return error.QuicLbConfigInvalid;
        if (config.plaintextLen() > plaintext_len_max) return error.QuicLbConfigInvalid;
    }

    pub fn plaintextLen(config: *const Config) u8 {
        return config.server_id_len + config.nonce_len;
    }

    /// Length of every connection ID this config produces.
    pub fn cidLen(config: *const Config) u8 {
        return 1 + config.plaintextLen();
    }

    pub fn serverId(config: *const Config) []const u8 {
        return config.server_id[0..config.server_id_len];
    }

    fn firstOctet(config: *const Config) u8 {
        return (config.config_rotation << 5) | config.plaintextLen();
    }
};

/// Writes the connection ID for `nonce` (exactly nonce_len bytes) into
/// `out` and returns it (cidLen() bytes).
pub fn encode(config: *const Config, nonce: []const u8, out: []u8) []u8 {
    config.validate() catch unreachable;
    assert(nonce.len == config.nonce_len);
    const cid_len = config.cidLen();
    assert(out.len >= cid_len);
    const plaintext_len = config.plaintextLen();
    const cid = out[0..cid_len];
    cid[0] = config.firstOctet();
    @memcpy(cid[1..][0..config.server_id_len], config.serverId());
    @memcpy(cid[1 + config.server_id_len ..][0..nonce.len], nonce);
    if (config.key) |key| {
        const body = cid[1..][0..plaintext_len];
        if (plaintext_len == block_len) {
            const aes = Aes128.initEnc(key);
            var block: [block_len]u8 = body[0..block_len].*;
            aes.encrypt(&block, &block);
            @memcpy(body, &block);
        } else {
            feistelEncrypt(key, body);
        }
    }
    return cid;
}

/// The server ID `cid` routes to, written into `server_id_out`
/// (server_id_len bytes), or null when `cid` is not of this config (another
/// config rotation or length).
pub fn decode(config: *const Config, cid: []const u8, server_id_out: []u8) ?[]u8 {
    config.validate() catch unreachable;
    assert(server_id_out.len >= config.server_id_len);
    if (cid.len < config.cidLen()) return null;
    if (cid[0] >> 5 != config.config_rotation) return null;
    const plaintext_len = config.plaintextLen();
    var body: [plaintext_len_max]u8 = undefined;
    @memcpy(body[0..plaintext_len], cid[1..][0..plaintext_len]);
    if (config.key) |key| {
        if (plaintext_len == block_len) {
            const aes = Aes128.initDec(key);
            var block: [block_len]u8 = body[0..block_len].*;
            aes.decrypt(&block, &block);
            @memcpy(body[0..block_len], &block);
        } else {
            feistelDecrypt(key, body[0..plaintext_len]);
        }
    }
    const server_id = server_id_out[0..config.server_id_len];
    @memcpy(server_id, body[0..config.server_id_len]);
    return server_id;
}

/// The draft's four-pass Feistel network over `body` (server ID and nonce,
/// any length but 16), in place.
fn feistelEncrypt(key: [key_len]u8, body: []u8) void {
    var halves = Halves.split(body);
    const aes = Aes128.initEnc(key);
    halves.round(&aes, 1, .right);
    halves.round(&aes, 2, .left);
    halves.round(&aes, 3, .right);
    halves.round(&aes, 4, .left);
    halves.join(body);
}

fn feistelDecrypt(key: [key_len]u8, body: []u8) void {
    var halves = Halves.split(body);
    const aes = Aes128.initEnc(key);
    halves.round(&aes, 4, .left);
    halves.round(&aes, 3, .right);
    halves.round(&aes, 2, .left);
    halves.round(&aes, 1, .right);
    halves.join(body);
}

/// left and right of the Feistel network, half_len bytes each; for an odd
/// length they share the middle byte, left keeping its high nibble and
/// right its low nibble.
const Halves = struct {
    left: [half_len_max]u8 = [_]u8{0} ** half_len_max,
    right: [half_len_max]u8 = [_]u8{0} ** half_len_max,
    plaintext_len: u8,
    half_len: u8,

    fn split(body: []const u8) Halves {
        assert(body.len >= server_id_len_min + nonce_len_min and body.len <= plaintext_len_max);
        assert(body.len != block_len);
        const plaintext_len: u8 = @intCast(body.len);
        const half_len: u8 = (plaintext_len + 1) / 2;
        var halves = Halves{ .plaintext_len = plaintext_len, .half_len = half_len };
        @memcpy(halves.left[0..half_len], body[0..half_len]);
        @memcpy(halves.right[0..half_len], body[plaintext_len - half_len ..][0..half_len]);
        halves.clear();
        return halves;
    }

    fn join(halves: *const Halves, body: []u8) void {
        assert(body.len == halves.plaintext_len);
        const half_len = halves.half_len;
        @memcpy(body[0..half_len], halves.left[0..half_len]);
        const right_start = halves.plaintext_len - half_len;
        if (halves.plaintext_len % 2 == 1) {
            // The middle byte: left's high nibble, right's low nibble.
            body[right_start] = halves.left[half_len - 1] | halves.right[0];
            @memcpy(body[right_start + 1 ..][0 .. half_len - 1], halves.right[1..half_len]);
        } else {
            @memcpy(body[right_start..][0..half_len], halves.right[0..half_len]);
        }
    }

    /// For an odd length, clears the nibbles the other half owns.
    fn clear(halves: *Halves) void {
        if (halves.plaintext_len % 2 == 0) return;
        halves.left[halves.half_len - 1] &= 0xf0;
        halves.right[0] &= 0x0f;
    }

    /// target ^= truncate(AES(expand(plaintext_len, pass, other)), half_len)
    fn round(halves: *Halves, aes: *const std.crypto.core.aes.AesEncryptCtx(Aes128), pass: u8, target: enum { left, right }) void {
        assert(pass >= 1 and pass <= 4);
        const half_len = halves.half_len;
        const input = if (target == .right) &halves.left else &halves.right;
        const output = if (target == .right) &halves.right else &halves.left;
        var block = [_]u8{0} ** block_len;
        @memcpy(block[0..half_len], input[0..half_len]);
        block[14] = halves.plaintext_len;
        block[15] = pass;
        aes.encrypt(&block, &block);
        for (output[0..half_len], block[0..half_len]) |*o, b| o.* ^= b;
        halves.clear();
    }
};

const testing = std.testing;

fn hex(comptime text: []const u8) [text.len / 2]u8 {
    var out: [text.len / 2]u8 = undefined;
    _ = std.fmt.hexToBytes(&out, text) catch unreachable;
    return out;
}

fn expectVector(config_rotation: u8, comptime server_id: []const u8, comptime nonce: []const u8, key: ?[key_len]u8, comptime cid: []const u8) !void {
    const config = try Config.init(config_rotation, &hex(server_id), @intCast(nonce.len / 2), key);
    var out: [cid_len_max]u8 = undefined;
    const encoded = encode(&config, &hex(nonce), &out);
    try testing.expectEqualSlices(u8, &hex(cid), encoded);
    var server_id_out: [server_id_len_max]u8 = undefined;
    try testing.expectEqualSlices(u8, &hex(server_id), decode(&config, encoded, &server_id_out).?);
}

// draft-ietf-quic-load-balancers-21, appendix "Load Balancer Test Vectors".
test "QUIC-LB unencrypted test vectors" {
    try expectVector(0, "c4605e", "4504cc4f", null, "07c4605e4504cc4f");
    // The draft's second vector is misprinted (a 9-digit nonce "3487d970b"
    // and a CID "20a350d28b4203487d970b" whose first octet cannot be config
    // rotation 1 with length 10). The well-formed reading: first octet
    // 0b001_01010 = 0x2a, server id 350d28b420, nonce 03487d970b.
    try expectVector(1, "350d28b420", "03487d970b", null, "2a350d28b42003487d970b");
}

const vector_key = hex("8f95f09245765f80256934e50c66207f");

test "QUIC-LB encrypted test vectors" {
    // Four passes, odd length (7).
    try expectVector(0, "ed793a", "ee080dbf", vector_key, "0720b1d07b359d3c");
    // Four passes, server ID longer than the nonce (needs the 4th decryption pass).
    try expectVector(1, "ed793a51d49b8f5fab65", "ee080dbf48", vector_key, "2fcc381bc74cb4fbad2823a3d1f8fed2");
    // Single pass: 16 bytes.
    try expectVector(2, "ed793a51d49b8f5f", "ee080dbf48c0d1e5", vector_key, "504dd2d05a7b0de9b2b9907afb5ecf8cc3");
    // The draft prints this CID with first octet 0x12 (config rotation 0),
    // against its cr_bits column of 3: with rotation 3 the first octet is
    // 0b011_10010 = 0x72; the 18 encrypted bytes are the draft's.
    try expectVector(3, "ed793a51d49b8f5fab", "ee080dbf48c0d1e55d", vector_key, "725779c9cc86beb3a3a4a3ca96fce4bfe0cdbc");
}

test "QUIC-LB four-pass encryption example" {
    // The worked example of section "Encryption Example".
    try expectVector(0, "31441a", "9c69c275", hex("fdf726a9893ec05c0632d3956680baf0"), "0767947d29be054a");
}

test "config bounds follow the draft" {
    try testing.expectError(error.QuicLbConfigInvalid, Config.init(7, &hex("01"), 4, null));
    try testing.expectError(error.QuicLbConfigInvalid, Config.init(0, &.{}, 4, null));
    try testing.expectError(error.QuicLbConfigInvalid, Config.init(0, &hex("01"), 3, null));
    try testing.expectError(error.QuicLbConfigInvalid, Config.init(0, &hex("0102"), 18, null));
    const longest = try Config.init(6, &hex("0102"), 17, null);
    try testing.expectEqual(@as(u8, 20), longest.cidLen());
}

test "decode refuses another config rotation or a short CID" {
    const config = try Config.init(2, &hex("aabb"), 6, null);
    var out: [cid_len_max]u8 = undefined;
    const cid = encode(&config, &hex("010203040506"), &out);
    var server_id: [server_id_len_max]u8 = undefined;
    const other = try Config.init(3, &hex("aabb"), 6, null);
    try testing.expect(decode(&other, cid, &server_id) == null);
    try testing.expect(decode(&config, cid[0 .. cid.len - 1], &server_id) == null);
}

test "property: decode(encode(nonce)) is the server id for every length and mode" {
    var prng = std.Random.DefaultPrng.init(0x5eed_0b1d);
    const random = prng.random();
    var server_id_len: u8 = server_id_len_min;
    while (server_id_len <= server_id_len_max) : (server_id_len += 1) {
        var nonce_len: u8 = nonce_len_min;
        while (server_id_len + nonce_len <= plaintext_len_max) : (nonce_len += 1) {
            for (0..8) |iteration| {
                var server_id: [server_id_len_max]u8 = undefined;
                random.bytes(server_id[0..server_id_len]);
                var key: [key_len]u8 = undefined;
                random.bytes(&key);
                const config = try Config.init(
                    random.uintAtMost(u8, config_rotation_max),
                    server_id[0..server_id_len],
                    nonce_len,
                    if (iteration % 2 == 0) null else key,
                );
                var nonce: [nonce_len_max]u8 = undefined;
                random.bytes(nonce[0..nonce_len]);
                var out: [cid_len_max]u8 = undefined;
                const cid = encode(&config, nonce[0..nonce_len], &out);
                try testing.expectEqual(config.cidLen(), cid.len);
                try testing.expectEqual(config.config_rotation, cid[0] >> 5);
                try testing.expectEqual(config.plaintextLen(), cid[0] & 0x1f);
                var decoded: [server_id_len_max]u8 = undefined;
                try testing.expectEqualSlices(u8, config.serverId(), decode(&config, cid, &decoded).?);
            }
        }
    }
}
