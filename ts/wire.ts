// Encoding of commands and decoding of events: the record layout of
// zig-src/queue/wire.zig. Every record: u32 length | u8 kind | u8 flags |
// u16 aux | u64 id, then a payload; records are padded to 8 bytes.

export const HEADER_BYTES = 16;
// Kinds and flags come from their Zig declarations (zig build gen).
export { CommandKind, EventKind, FLAG_BODY, FLAG_EARLY, FLAG_FIN, FLAG_NOTIFY, FLAG_QUIET } from "./abi.generated.ts";
import { CommandKind, FLAG_BODY, FLAG_EARLY, FLAG_FIN, FLAG_NOTIFY } from "./abi.generated.ts";

/** WT_OPENED status: the stream was opened. */
export const WT_OPENED_OK = 0;
/** WT_OPENED status: the session is gone. */
export const WT_OPENED_SESSION_GONE = 1;
/** WT_OPENED status: the session's stream limit is reached. */
export const WT_OPENED_STREAM_LIMIT = 2;

export const padded = (length: number) => (length + 7) & ~7;

export type Field = [name: string, value: string];

/**
 * Reads a u64 id (request, connection or stream) as a Number. The library
 * keeps request ids below 2^53 (generations wrap at 2^21), and connection and
 * stream ids cannot reach it, so this is exact and costs no BigInt.
 */
export function readId(view: DataView, at: number): number {
  return view.getUint32(at, true) + view.getUint32(at + 4, true) * 4294967296;
}

/** Where a REQUEST record's peer address, field count and fields start (zig-src/h3/request_head.zig). */
export const REQUEST_PEER_AT = 36;
export const REQUEST_FIELD_COUNT_AT = 56;
export const REQUEST_FIELDS_AT = 60;

/** The client's address as a REQUEST event carries it (see decodePeer). */
export interface PeerAddress {
  /** 4, 6, or 0 when the library did not know it. */
  family: number;
  port: number;
  /** The IPv4 address as a u32 (family 4). */
  v4: number;
  /** The IPv6 address's 16 bytes (family 6), else null. */
  v6: Uint8Array | null;
}

export interface RequestEvent {
  id: number;
  connectionId: number;
  streamId: number;
  routeId: number;
  /** The field section ended the stream: no body, and no BODY_END follows. */
  ended: boolean;
  /** The request may be a replay: read in 0-RTT, or it carried Early-Data (RFC 8470). */
  early: boolean;
  method: string;
  /** `:path` (path and query, as sent); "/" when absent (CONNECT). */
  path: string;
  authority: string;
  /** `:protocol` (extended CONNECT), or undefined. */
  protocol: string | undefined;
  /** The whole field block as one Latin-1 string (see decodeFields). */
  block: string;
  /** Where in `block` the regular (non-pseudo) fields start, and how many there are. */
  regularAt: number;
  regularCount: number;
  /** The client's address when its connection was accepted. */
  peer: PeerAddress;
  /**
   * CONNECT only: which WebTransport SETTINGS the client sent (WT_BITS; 0
   * when its SETTINGS had not arrived), and its session flow-control
   * limits when it announced them.
   */
  wtBits: number;
  wtPeerLimits: WtPeerLimits | null;
}

/** Bits of a REQUEST's aux: the WebTransport SETTINGS the client sent (zig-src/h3/settings.zig WtBits). */
export const WT_BITS = {
  enableWebtransport: 1,
  webtransportMaxSessions: 2,
  wtMaxSessions: 4,
  wtEnabled: 8,
  flowControl: 16,
  limitsTrailer: 0x4000,
  settingsReceived: 0x8000,
} as const;

/** A client's SETTINGS_WT_INITIAL_MAX_DATA / _STREAMS_BIDI / _STREAMS_UNI. */
export interface WtPeerLimits {
  maxData: number;
  maxStreamsBidi: number;
  maxStreamsUni: number;
}

/** Reads a REQUEST record's peer address: a few reads, and a copy only for IPv6. */
export function decodePeer(view: DataView, bytes: Buffer, at: number): PeerAddress {
  const family = view.getUint8(at);
  const port = view.getUint16(at + 2, true);
  if (family === 6) return { family, port, v4: 0, v6: Uint8Array.prototype.slice.call(bytes, at + 4, at + 20) };
  return { family, port, v4: view.getUint32(at + 16, false), v6: null };
}

/** A PeerAddress as Bun's SocketAddress ("127.0.0.1", "::1"; IPv6 in RFC 5952 form). */
export function formatPeer(peer: PeerAddress): { address: string; port: number; family: "IPv4" | "IPv6" } | null {
  if (peer.family === 4) {
    const v = peer.v4;
    return { address: `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`, port: peer.port, family: "IPv4" };
  }
  if (peer.family !== 6 || peer.v6 === null) return null;
  const bytes = peer.v6;
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);
  // The longest run of two or more zero groups becomes "::".
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) [bestStart, bestLength] = [i, j - i];
    i = j;
  }
  const hex = (list: number[]) => list.map((g) => g.toString(16)).join(":");
  let address = bestStart < 0 ? hex(groups) : `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLength))}`;
  // An IPv4-mapped address keeps its dotted tail (::ffff:127.0.0.1).
  if (bestStart === 0 && bestLength === 5 && groups[5] === 0xffff) address = `::ffff:${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`;
  return { address, port: peer.port, family: "IPv6" };
}

const COLON = 58;

/**
 * Reads a REQUEST event. Only the pseudo-header fields (which RFC 9114 puts
 * first, and the library checks) are decoded here; the regular fields stay
 * in `block` until a handler reads `headers` (decodeFields). Field bytes are
 * Latin-1: header names and values are ByteStrings in the Fetch API, which
 * is also what Bun.serve hands out.
 */
export function decodeRequest(view: DataView, bytes: Buffer, offset: number, id: number): RequestEvent {
  const connectionId = readId(view, offset + 16);
  const streamId = readId(view, offset + 24);
  const routeId = view.getUint32(offset + 32, true);
  const count = view.getUint32(offset + REQUEST_FIELD_COUNT_AT, true);
  // One string for the whole block, then substrings (cheap in JSC): far
  // fewer native conversions than two per field.
  const wtBits = view.getUint16(offset + 6, true);
  let end = offset + view.getUint32(offset, true);
  let wtPeerLimits: WtPeerLimits | null = null;
  if ((wtBits & WT_BITS.limitsTrailer) !== 0) {
    end -= 24;
    wtPeerLimits = {
      maxData: Number(view.getBigUint64(end, true)),
      maxStreamsBidi: Number(view.getBigUint64(end + 8, true)),
      maxStreamsUni: Number(view.getBigUint64(end + 16, true)),
    };
  }
  const block = bytes.toString("latin1", offset + REQUEST_FIELDS_AT, end);
  let method = "GET";
  let path = "/";
  let authority = "localhost";
  let protocol: string | undefined;
  let at = 0;
  let index = 0;
  for (; index < count; index++) {
    const nameLength = block.charCodeAt(at) | (block.charCodeAt(at + 1) << 8);
    if (block.charCodeAt(at + 4) !== COLON) break;
    const valueLength = block.charCodeAt(at + 2) | (block.charCodeAt(at + 3) << 8);
    const name = block.substring(at + 4, at + 4 + nameLength);
    const value = block.substring(at + 4 + nameLength, at + 4 + nameLength + valueLength);
    if (name === ":method") method = value;
    else if (name === ":path") path = value;
    else if (name === ":authority") authority = value;
    else if (name === ":protocol") protocol = value;
    at += 4 + nameLength + valueLength;
  }
  const flags = view.getUint8(offset + 5);
  const ended = (flags & FLAG_FIN) !== 0;
  const early = (flags & FLAG_EARLY) !== 0;
  const peer = decodePeer(view, bytes, offset + REQUEST_PEER_AT);
  return { id, connectionId, streamId, routeId, ended, early, method, path, authority, protocol, block, regularAt: at, regularCount: count - index, peer, wtBits, wtPeerLimits };
}

/** Decodes `count` fields of a REQUEST block from character `at` on. */
export function decodeFields(block: string, at: number, count: number): Field[] {
  const fields: Field[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const nameLength = block.charCodeAt(at) | (block.charCodeAt(at + 1) << 8);
    const valueLength = block.charCodeAt(at + 2) | (block.charCodeAt(at + 3) << 8);
    at += 4;
    fields[i] = [block.substring(at, at + nameLength), block.substring(at + nameLength, at + nameLength + valueLength)];
    at += nameLength + valueLength;
  }
  return fields;
}

/**
 * Writes a ByteString as Latin-1. Header fields are short: a JIT-compiled
 * loop beats a native call per field; long ones take the native path.
 */
function writeLatin1(bytes: Buffer, text: string, at: number) {
  const length = text.length;
  if (length > 64) {
    bytes.write(text, at, length, "latin1");
    return;
  }
  for (let i = 0; i < length; i++) bytes[at + i] = text.charCodeAt(i);
}

/**
 * Accumulates command records for one zig_h3_submit call. Grows as needed;
 * `take` hands back the bytes and starts a new batch.
 */
export class CommandBatch {
  #bytes = Buffer.alloc(64 * 1024);
  #view = new DataView(this.#bytes.buffer, this.#bytes.byteOffset, this.#bytes.byteLength);
  #length = 0;

  get length(): number {
    return this.#length;
  }

  #reserve(size: number): number {
    const start = this.#length;
    const needed = start + padded(size);
    if (needed > this.#bytes.length) {
      let capacity = this.#bytes.length * 2;
      while (capacity < needed) capacity *= 2;
      const grown = Buffer.alloc(capacity);
      grown.set(this.#bytes.subarray(0, start));
      this.#bytes = grown;
      this.#view = new DataView(grown.buffer, grown.byteOffset, grown.byteLength);
    }
    this.#length = needed;
    return start;
  }

  #header(at: number, length: number, kind: number, flags: number, aux: number, id: number) {
    this.#view.setUint32(at, length, true);
    this.#view.setUint8(at + 4, kind);
    this.#view.setUint8(at + 5, flags);
    this.#view.setUint16(at + 6, aux, true);
    this.#view.setUint32(at + 8, id % 4294967296, true);
    this.#view.setUint32(at + 12, Math.floor(id / 4294967296), true);
  }


  /**
   * HEAD (status + fields) or TRAILERS (fields). Names and values are
   * ByteStrings (every character below 256, as Headers guarantees and
   * ResponseWriter checks), written as Latin-1: one byte per character.
   */
  fields(kind: number, id: number, status: number, fields: Field[], flags: number, body: Uint8Array | null = null) {
    let size = HEADER_BYTES + 4;
    for (const [name, value] of fields) {
      if (name.length > 0xffff || value.length > 0xffff) throw new TypeError(`header field ${name.slice(0, 40)} is longer than 65535 bytes`);
      size += 4 + name.length + value.length;
    }
    const fieldsEnd = size;
    if (body !== null) size += body.length;
    const at = this.#reserve(size);
    this.#header(at, size, kind, body !== null ? flags | FLAG_BODY : flags, status, id);
    if (body !== null) this.#bytes.set(body, at + fieldsEnd);
    this.#view.setUint32(at + HEADER_BYTES, fields.length, true);
    let cursor = at + HEADER_BYTES + 4;
    for (const [name, value] of fields) {
      this.#view.setUint16(cursor, name.length, true);
      this.#view.setUint16(cursor + 2, value.length, true);
      writeLatin1(this.#bytes, name, cursor + 4);
      writeLatin1(this.#bytes, value, cursor + 4 + name.length);
      cursor += 4 + name.length + value.length;
    }
  }

  body(id: number, chunk: Uint8Array, flags: number) {
    const size = HEADER_BYTES + chunk.length;
    const at = this.#reserve(size);
    this.#header(at, size, CommandKind.body, flags, 0, id);
    this.#bytes.set(chunk, at + HEADER_BYTES);
  }

  /** QUIC_DATAGRAM (id = connection id) or H3_DATAGRAM (id = request id). */
  datagram(kind: number, id: number, data: Uint8Array, notify: boolean) {
    const size = HEADER_BYTES + data.length;
    const at = this.#reserve(size);
    this.#header(at, size, kind, notify ? FLAG_NOTIFY : 0, 0, id);
    this.#bytes.set(data, at + HEADER_BYTES);
  }

  connStats(connectionId: number) {
    const at = this.#reserve(HEADER_BYTES);
    this.#header(at, HEADER_BYTES, CommandKind.connStats, 0, 0, connectionId);
  }

  reset(id: number, code: bigint) {
    this.#u64(CommandKind.reset, 0, id, code);
  }

  /** WT_OPEN: id = session (CONNECT request) id; aux = 1 bidirectional; the token comes back in WT_OPENED. */
  wtOpen(sessionId: number, bidirectional: boolean, token: number) {
    this.#u64(CommandKind.wtOpen, bidirectional ? 1 : 0, sessionId, BigInt(token));
  }

  /** WT_STOP_SENDING: id = WebTransport stream id; the HTTP/3 error code. */
  wtStopSending(id: number, code: bigint) {
    this.#u64(CommandKind.wtStopSending, 0, id, code);
  }

  /** CREDIT: id = request or WebTransport stream id; body bytes the library may deliver (absolute). */
  credit(id: number, allowedBytes: number) {
    const at = this.#reserve(HEADER_BYTES + 8);
    this.#header(at, HEADER_BYTES + 8, CommandKind.credit, 0, 0, id);
    this.#view.setUint32(at + HEADER_BYTES, allowedBytes % 4294967296, true);
    this.#view.setUint32(at + HEADER_BYTES + 4, Math.floor(allowedBytes / 4294967296), true);
  }

  /** CONN_CLOSE: id = raw QUIC connection id; u64 application error code, then the reason (UTF-8). */
  connClose(connectionId: number, code: bigint, reason: Uint8Array) {
    const size = HEADER_BYTES + 8 + reason.length;
    const at = this.#reserve(size);
    this.#header(at, size, CommandKind.connClose, 0, 0, connectionId);
    this.#view.setBigUint64(at + HEADER_BYTES, code, true);
    this.#bytes.set(reason, at + HEADER_BYTES + 8);
  }

  /** STREAM_PRIORITY: id = stream id; aux = urgency 0..7; FIN flag = incremental. */
  streamPriority(id: number, urgency: number, incremental: boolean) {
    const at = this.#reserve(HEADER_BYTES);
    this.#header(at, HEADER_BYTES, CommandKind.streamPriority, incremental ? FLAG_FIN : 0, urgency, id);
  }

  #u64(kind: number, aux: number, id: number, value: bigint) {
    const at = this.#reserve(HEADER_BYTES + 8);
    this.#header(at, HEADER_BYTES + 8, kind, 0, aux, id);
    this.#view.setBigUint64(at + HEADER_BYTES, value, true);
  }

  /** The bytes of the batch so far (a view; valid until the next write). */
  view(): Uint8Array {
    return this.#bytes.subarray(0, this.#length);
  }

  /** Drops the first `count` bytes (whole records already submitted). */
  consume(count: number) {
    this.#bytes.copyWithin(0, count, this.#length);
    this.#length -= count;
  }
}
