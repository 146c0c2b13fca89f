//! Retry tokens (RFC 9000 8.1.2-8.1.4): what a server puts in a Retry packet
//! and expects back in the client's next Initial. A client that echoes a
//! valid token has proved that it receives packets at its source address, so
//! the server may spend state (and more than three times the bytes received)
//! on it. The server keeps nothing per Retry: the token carries what the
//! server needs later and is authenticated with HMAC-SHA256 under a key that
//! only this server process knows.
//!
//!   u8 format | u64 issued_ms (big-endian) | u8 odcid_len | odcid | 32-byte tag
//!
//! The tag covers every byte before it and also two things the token does
//! not carry but that must match when it comes back: the client's address
//! (IP and port), and the connection ID the Retry told the client to use
//! (the DCID of its next Initial, which becomes our connection ID). A token
//! replayed from another address, or with a DCID of the client's choosing,
//! therefore fails exactly like a forged one.
//!
//! Pure: the key, the address bytes, the connection IDs and the clock are
//! all arguments; nothing here reads a socket or a clock.

const std = @import("std");
const assert = std.debug.assert;
const HmacSha256 = std.crypto.auth.hmac.sha2.HmacSha256;
const connection_id = @import("connection_id.zig");

pub const key_length = HmacSha256.key_length;
pub const Key = [key_length]u8;
pub const tag_length = HmacSha256.mac_length;

/// The first byte of every token we mint. Tokens are only ever compared
/// against our own format, so this only guards against a future format
/// being read as this one.
pub const format: u8 = 0x52;
const header_length = 1 + 8 + 1;
pub const min_length = header_length + tag_length;
pub const max_length = header_length + connection_id.max_len + tag_length;

/// A peer's address as the token binds it: the IP as IPv4-mapped IPv6 (so
/// both families have one shape), then the UDP port, big-endian.
pub const address_length = 16 + 2;
pub const Address = [address_length]u8;

pub fn address(ip: [16]u8, port: u16) Address {
    var bytes: Address = undefined;
    @memcpy(bytes[0..16], &ip);
    std.mem.writeInt(u16, bytes[16..18], port, .big);
    return bytes;
}

pub const Error = error{
    /// Not a token we could have minted: wrong length or format byte.
    Malformed,
    /// The tag does not match: forged, altered, minted under another key,
    /// or presented from another address or with another DCID.
    Forged,
    /// Authentic, but issued `lifetime_ms` or more before `now_ms` (or
    /// after it, which our monotonic clock cannot produce).
    Expired,
};

/// Writes a token for a client at `peer` whose first Initial was sent to
/// `odcid`, answered by a Retry whose source connection ID is `retry_scid`.
pub fn mint(out: *[max_length]u8, key: *const Key, peer: *const Address, odcid: []const u8, retry_scid: []const u8, now_ms: u64) []const u8 {
    assert(odcid.len <= connection_id.max_len);
    assert(retry_scid.len > 0 and retry_scid.len <= connection_id.max_len);
    out[0] = format;
    std.mem.writeInt(u64, out[1..9], now_ms, .big);
    out[9] = @intCast(odcid.len);
    @memcpy(out[header_length..][0..odcid.len], odcid);
    const body_length = header_length + odcid.len;
    out[body_length..][0..tag_length].* = tag(key, out[0..body_length], peer, retry_scid);
    const length = body_length + tag_length;
    assert(length >= min_length and length <= max_length);
    return out[0..length];
}

/// Checks a token that arrived from `peer` in an Initial sent to
/// `retry_scid` and returns the client's original DCID, a slice of `token`.
/// The tag is checked before the time window, so that only authentic tokens
/// are reported as expired.
pub fn verify(token: []const u8, key: *const Key, peer: *const Address, retry_scid: []const u8, now_ms: u64, lifetime_ms: u64) Error![]const u8 {
    assert(retry_scid.len <= connection_id.max_len);
    assert(lifetime_ms > 0);
    if (token.len < min_length or token.len > max_length) return error.Malformed;
    if (token[0] != format) return error.Malformed;
    const odcid_len = token[9];
    if (odcid_len > connection_id.max_len) return error.Malformed;
    const body_length = header_length + @as(usize, odcid_len);
    if (token.len != body_length + tag_length) return error.Malformed;

    const expected = tag(key, token[0..body_length], peer, retry_scid);
    if (!std.crypto.timing_safe.eql([tag_length]u8, expected, token[body_length..][0..tag_length].*)) {
        return error.Forged;
    }
    const issued_ms = std.mem.readInt(u64, token[1..9], .big);
    if (now_ms < issued_ms or now_ms - issued_ms >= lifetime_ms) return error.Expired;
    return token[header_length..body_length];
}

/// The body's bytes, then the address (fixed length) and the retry SCID
/// after its length, so no two different inputs share an encoding.
fn tag(key: *const Key, body: []const u8, peer: *const Address, retry_scid: []const u8) [tag_length]u8 {
    var mac = HmacSha256.init(key);
    mac.update(body);
    mac.update(peer);
    mac.update(&[1]u8{@intCast(retry_scid.len)});
    mac.update(retry_scid);
    var out: [tag_length]u8 = undefined;
    mac.final(&out);
    return out;
}

const testing = std.testing;

const test_key: Key = @splat(0x4b);
const test_odcid = [_]u8{ 0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08 };
const test_retry_scid = [_]u8{0xa5} ** connection_id.local_len;
const test_ip = [_]u8{ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1 };
const test_now_ms: u64 = 5_000_000;
const test_lifetime_ms: u64 = 10_000;

fn testToken(buffer: *[max_length]u8) []const u8 {
    const peer = address(test_ip, 4433);
    return mint(buffer, &test_key, &peer, &test_odcid, &test_retry_scid, test_now_ms);
}

test "round trip: a fresh token gives back the original DCID" {
    var buffer: [max_length]u8 = undefined;
    const token = testToken(&buffer);
    try testing.expectEqual(@as(usize, header_length + test_odcid.len + tag_length), token.len);
    const peer = address(test_ip, 4433);
    const odcid = try verify(token, &test_key, &peer, &test_retry_scid, test_now_ms, test_lifetime_ms);
    try testing.expectEqualSlices(u8, &test_odcid, odcid);
}

test "round trip with an empty and with a 20-byte original DCID" {
    const peer = address(test_ip, 1);
    const long_odcid = [_]u8{0x11} ** connection_id.max_len;
    for ([_][]const u8{ &.{}, &long_odcid }) |odcid| {
        var buffer: [max_length]u8 = undefined;
        const token = mint(&buffer, &test_key, &peer, odcid, &test_retry_scid, 0);
        try testing.expectEqualSlices(u8, odcid, try verify(token, &test_key, &peer, &test_retry_scid, 0, 1));
    }
}

test "a token expires lifetime_ms after it was issued, and is never valid before" {
    var buffer: [max_length]u8 = undefined;
    const token = testToken(&buffer);
    const peer = address(test_ip, 4433);
    _ = try verify(token, &test_key, &peer, &test_retry_scid, test_now_ms + test_lifetime_ms - 1, test_lifetime_ms);
    try testing.expectError(error.Expired, verify(token, &test_key, &peer, &test_retry_scid, test_now_ms + test_lifetime_ms, test_lifetime_ms));
    try testing.expectError(error.Expired, verify(token, &test_key, &peer, &test_retry_scid, test_now_ms - 1, test_lifetime_ms));
}

test "a token presented from another IP or another port is rejected" {
    var buffer: [max_length]u8 = undefined;
    const token = testToken(&buffer);
    var other_ip = test_ip;
    other_ip[15] = 2;
    try testing.expectError(error.Forged, verify(token, &test_key, &address(other_ip, 4433), &test_retry_scid, test_now_ms, test_lifetime_ms));
    try testing.expectError(error.Forged, verify(token, &test_key, &address(test_ip, 4434), &test_retry_scid, test_now_ms, test_lifetime_ms));
}

test "a token sent to another DCID than the Retry's SCID is rejected" {
    var buffer: [max_length]u8 = undefined;
    const token = testToken(&buffer);
    const peer = address(test_ip, 4433);
    var other_scid = test_retry_scid;
    other_scid[0] ^= 1;
    try testing.expectError(error.Forged, verify(token, &test_key, &peer, &other_scid, test_now_ms, test_lifetime_ms));
    try testing.expectError(error.Forged, verify(token, &test_key, &peer, test_retry_scid[0..8], test_now_ms, test_lifetime_ms));
}

test "every flipped bit is rejected" {
    var buffer: [max_length]u8 = undefined;
    const token = testToken(&buffer);
    const peer = address(test_ip, 4433);
    var altered: [max_length]u8 = undefined;
    for (0..token.len * 8) |bit| {
        @memcpy(altered[0..token.len], token);
        altered[bit / 8] ^= @as(u8, 1) << @intCast(bit % 8);
        if (verify(altered[0..token.len], &test_key, &peer, &test_retry_scid, test_now_ms, test_lifetime_ms)) |_| {
            return error.TestUnexpectedResult;
        } else |err| switch (err) {
            error.Malformed, error.Forged => {},
            // A flipped timestamp bit must fail the tag, not the window.
            error.Expired => return error.TestUnexpectedResult,
        }
    }
}

test "truncated and extended tokens are malformed" {
    var buffer: [max_length]u8 = undefined;
    const token = testToken(&buffer);
    const peer = address(test_ip, 4433);
    for (0..token.len) |length| {
        try testing.expectError(error.Malformed, verify(token[0..length], &test_key, &peer, &test_retry_scid, test_now_ms, test_lifetime_ms));
    }
    var longer: [max_length + 1]u8 = @splat(0);
    @memcpy(longer[0..token.len], token);
    try testing.expectError(error.Malformed, verify(longer[0 .. token.len + 1], &test_key, &peer, &test_retry_scid, test_now_ms, test_lifetime_ms));
    try testing.expectError(error.Malformed, verify(&longer, &test_key, &peer, &test_retry_scid, test_now_ms, test_lifetime_ms));
}

test "a token minted under another key is rejected" {
    var buffer: [max_length]u8 = undefined;
    const token = testToken(&buffer);
    const peer = address(test_ip, 4433);
    var other_key = test_key;
    other_key[31] ^= 0x80;
    try testing.expectError(error.Forged, verify(token, &other_key, &peer, &test_retry_scid, test_now_ms, test_lifetime_ms));
}

test "IPv4-mapped and IPv6 addresses with the same low bytes differ" {
    var ipv6 = test_ip;
    ipv6[10] = 0;
    ipv6[11] = 0;
    try testing.expect(!std.mem.eql(u8, &address(test_ip, 1), &address(ipv6, 1)));
    try testing.expectEqualSlices(u8, &.{ 0x11, 0x5c }, address(test_ip, 4444)[16..18]);
}
