//! A stateless refusal: the Initial packet carrying CONNECTION_CLOSE with
//! CONNECTION_REFUSED (RFC 9000 10.2.3, 20.1) that a server over its
//! connection caps sends instead of accepting. quiche cannot produce it from
//! a client's first Initial alone, and the packet needs nothing but the
//! client's connection IDs: Initial keys derive from the client's DCID
//! (RFC 9001 5.2). Pure: buffers in, bytes out.

const std = @import("std");
const assert = std.debug.assert;
const Hkdf = std.crypto.kdf.hkdf.HkdfSha256;
const Aes128Gcm = std.crypto.aead.aes_gcm.Aes128Gcm;
const Aes128 = std.crypto.core.aes.Aes128;

/// QUIC v1's Initial salt (RFC 9001 5.2).
const initial_salt = [_]u8{ 0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a };
pub const connection_refused: u8 = 0x02;

pub const Keys = struct { key: [16]u8, iv: [12]u8, hp: [16]u8 };

fn expandLabel(comptime length: usize, secret: [32]u8, comptime label: []const u8) [length]u8 {
    const full_label = "tls13 " ++ label;
    var info: [2 + 1 + full_label.len + 1]u8 = undefined;
    std.mem.writeInt(u16, info[0..2], length, .big);
    info[2] = full_label.len;
    @memcpy(info[3..][0..full_label.len], full_label);
    info[3 + full_label.len] = 0; // empty context
    var out: [length]u8 = undefined;
    Hkdf.expand(&out, &info, secret);
    return out;
}

/// The server's Initial keys for a connection whose client chose `client_dcid`.
pub fn serverInitialKeys(client_dcid: []const u8) Keys {
    const initial_secret = Hkdf.extract(&initial_salt, client_dcid);
    const server_secret = expandLabel(32, initial_secret, "server in");
    return .{
        .key = expandLabel(16, server_secret, "quic key"),
        .iv = expandLabel(12, server_secret, "quic iv"),
        .hp = expandLabel(16, server_secret, "quic hp"),
    };
}

/// Writes the refusal into `out` and returns its length. The packet goes to
/// the client: DCID = the client's SCID, SCID = `server_cid`.
pub fn write(out: []u8, client_dcid: []const u8, client_scid: []const u8, server_cid: []const u8, reason: []const u8) error{BufferTooShort}![]u8 {
    assert(client_dcid.len <= 20 and client_scid.len <= 20 and server_cid.len <= 20 and reason.len <= 60);
    // Frames: CONNECTION_CLOSE (0x1c), error code, frame type 0, reason;
    // then PADDING so header protection has its 16-byte sample.
    var frames: [80]u8 = @splat(0);
    frames[0] = 0x1c;
    frames[1] = connection_refused;
    frames[2] = 0;
    frames[3] = @intCast(reason.len);
    @memcpy(frames[4..][0..reason.len], reason);
    const payload_len = @max(4 + reason.len, 20);
    const packet_number_len = 1;
    const length = packet_number_len + payload_len + Aes128Gcm.tag_length; // < 2^14: 2-byte varint
    const header_len = 1 + 4 + 1 + client_scid.len + 1 + server_cid.len + 1 + 2 + packet_number_len;
    if (out.len < header_len + payload_len + Aes128Gcm.tag_length) return error.BufferTooShort;

    var at: usize = 0;
    out[at] = 0xc0 | (packet_number_len - 1); // long header, fixed bit, Initial
    at += 1;
    std.mem.writeInt(u32, out[at..][0..4], 1, .big);
    at += 4;
    out[at] = @intCast(client_scid.len);
    @memcpy(out[at + 1 ..][0..client_scid.len], client_scid);
    at += 1 + client_scid.len;
    out[at] = @intCast(server_cid.len);
    @memcpy(out[at + 1 ..][0..server_cid.len], server_cid);
    at += 1 + server_cid.len;
    out[at] = 0; // token length
    at += 1;
    std.mem.writeInt(u16, out[at..][0..2], @intCast(0x4000 | length), .big);
    at += 2;
    const packet_number_offset = at;
    out[at] = 0; // packet number 0
    at += 1;
    assert(at == header_len);

    const keys = serverInitialKeys(client_dcid);
    const nonce = keys.iv; // iv XOR packet number 0
    var tag: [Aes128Gcm.tag_length]u8 = undefined;
    Aes128Gcm.encrypt(out[at..][0..payload_len], &tag, frames[0..payload_len], out[0..header_len], nonce, keys.key);
    @memcpy(out[at + payload_len ..][0..tag.len], &tag);

    // Header protection (RFC 9001 5.4): the sample starts 4 bytes after the
    // start of the packet number.
    const sample = out[packet_number_offset + 4 ..][0..16];
    var mask: [16]u8 = undefined;
    Aes128.initEnc(keys.hp).encrypt(&mask, sample);
    out[0] ^= mask[0] & 0x0f;
    out[packet_number_offset] ^= mask[1];
    return out[0 .. header_len + payload_len + Aes128Gcm.tag_length];
}

const testing = std.testing;

test "RFC 9001 A.1: server Initial keys" {
    const dcid = [_]u8{ 0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08 };
    const keys = serverInitialKeys(&dcid);
    try testing.expectEqualSlices(u8, &.{ 0xcf, 0x3a, 0x53, 0x31, 0x65, 0x3c, 0x36, 0x4c, 0x88, 0xf0, 0xf3, 0x79, 0xb6, 0x06, 0x7e, 0x37 }, &keys.key);
    try testing.expectEqualSlices(u8, &.{ 0x0a, 0xc1, 0x49, 0x3c, 0xa1, 0x90, 0x58, 0x53, 0xb0, 0xbb, 0xa0, 0x3e }, &keys.iv);
    try testing.expectEqualSlices(u8, &.{ 0xc2, 0x06, 0xb8, 0xd9, 0xb9, 0xf0, 0xf3, 0x76, 0x44, 0x43, 0x0b, 0x49, 0x0e, 0xea, 0xa3, 0x14 }, &keys.hp);
}

test "a refusal decrypts back to CONNECTION_CLOSE(CONNECTION_REFUSED) with its reason" {
    const dcid = [_]u8{ 1, 2, 3, 4, 5, 6, 7, 8 };
    const scid = [_]u8{ 9, 9, 9, 9 };
    const ours = [_]u8{ 7, 7, 7, 7, 7, 7, 7, 7 };
    var buffer: [200]u8 = undefined;
    const packet = try write(&buffer, &dcid, &scid, &ours, "busy");
    // Undo header protection and decrypt, as the client would.
    const keys = serverInitialKeys(&dcid);
    const pn_offset = 1 + 4 + 1 + scid.len + 1 + ours.len + 1 + 2;
    var mask: [16]u8 = undefined;
    Aes128.initEnc(keys.hp).encrypt(&mask, packet[pn_offset + 4 ..][0..16]);
    var header = packet[0 .. pn_offset + 1].*;
    header[0] ^= mask[0] & 0x0f;
    header[pn_offset] ^= mask[1];
    try testing.expectEqual(@as(u8, 0xc0), header[0]);
    try testing.expectEqual(@as(u8, 0), header[pn_offset]);
    try testing.expectEqualSlices(u8, &scid, header[6..][0..scid.len]);
    const ciphertext = packet[pn_offset + 1 .. packet.len - 16];
    var plain: [80]u8 = undefined;
    try Aes128Gcm.decrypt(plain[0..ciphertext.len], ciphertext, packet[packet.len - 16 ..][0..16].*, &header, keys.iv, keys.key);
    try testing.expectEqualSlices(u8, &.{ 0x1c, connection_refused, 0, 4, 'b', 'u', 's', 'y' }, plain[0..8]);
}
