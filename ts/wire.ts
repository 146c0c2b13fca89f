// Encoding of commands and decoding of events: the record layout of
// zig-src/queue/wire.zig. Every record: u32 length | u8 kind | u8 flags |
// u16 aux | u64 id, then a payload; records are padded to 8 bytes.

export const HEADER_BYTES = 16;
export const FLAG_FIN = 1;
export const FLAG_NOTIFY = 2;

export const EventKind = {
  request: 1,
  body: 2,
  bodyEnd: 3,
  reset: 4,
  complete: 5,
  drain: 6,
  shutdown: 7,
  connStats: 8,
  log: 9,
  connInfo: 10,
  quicDatagram: 11,
  h3Datagram: 12,
  datagramCredit: 13,
  connClosed: 14,
} as const;
export const CommandKind = { head: 1, body: 2, trailers: 3, reset: 4, connStats: 5, quicDatagram: 6, h3Datagram: 7 } as const;

const encoder = new TextEncoder();

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

export interface RequestEvent {
  id: number;
  connectionId: number;
  streamId: number;
  routeId: number;
  fields: Field[];
}

/**
 * Reads the header fields of a REQUEST event's payload. Field bytes are
 * decoded as Latin-1: header names and values are ByteStrings in the Fetch
 * API, which is also what Bun.serve hands out.
 */
export function decodeRequest(view: DataView, bytes: Buffer, offset: number, id: number): RequestEvent {
  const connectionId = readId(view, offset + 16);
  const streamId = readId(view, offset + 24);
  const routeId = view.getUint32(offset + 32, true);
  const count = view.getUint32(offset + 36, true);
  const fields: Field[] = new Array(count);
  let at = offset + 40;
  for (let i = 0; i < count; i++) {
    const nameLength = view.getUint16(at, true);
    const valueLength = view.getUint16(at + 2, true);
    at += 4;
    const name = bytes.toString("latin1", at, at + nameLength);
    at += nameLength;
    const value = bytes.toString("latin1", at, at + valueLength);
    at += valueLength;
    fields[i] = [name, value];
  }
  return { id, connectionId, streamId, routeId, fields };
}

/**
 * Accumulates command records for one zig_h3_submit call. Grows as needed;
 * `take` hands back the bytes and starts a new batch.
 */
export class CommandBatch {
  #bytes = new Uint8Array(64 * 1024);
  #view = new DataView(this.#bytes.buffer);
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
      const grown = new Uint8Array(capacity);
      grown.set(this.#bytes.subarray(0, start));
      this.#bytes = grown;
      this.#view = new DataView(grown.buffer);
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


  /** HEAD (status + fields) or TRAILERS (fields). */
  fields(kind: number, id: number, status: number, fields: Field[], fin: boolean) {
    const encoded = fields.map(([name, value]) => [encoder.encode(name), encoder.encode(value)] as const);
    let size = HEADER_BYTES + 4;
    for (const [name, value] of encoded) {
      if (name.length > 0xffff || value.length > 0xffff) throw new TypeError(`header field too long: ${fields[0]?.[0]}`);
      size += 4 + name.length + value.length;
    }
    const at = this.#reserve(size);
    this.#header(at, size, kind, fin ? FLAG_FIN : 0, status, id);
    this.#view.setUint32(at + HEADER_BYTES, encoded.length, true);
    let cursor = at + HEADER_BYTES + 4;
    for (const [name, value] of encoded) {
      this.#view.setUint16(cursor, name.length, true);
      this.#view.setUint16(cursor + 2, value.length, true);
      this.#bytes.set(name, cursor + 4);
      this.#bytes.set(value, cursor + 4 + name.length);
      cursor += 4 + name.length + value.length;
    }
  }

  body(id: number, chunk: Uint8Array, fin: boolean, notify = false) {
    const size = HEADER_BYTES + chunk.length;
    const at = this.#reserve(size);
    this.#header(at, size, CommandKind.body, (fin ? FLAG_FIN : 0) | (notify ? FLAG_NOTIFY : 0), 0, id);
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
    const at = this.#reserve(HEADER_BYTES + 8);
    this.#header(at, HEADER_BYTES + 8, CommandKind.reset, 0, 0, id);
    this.#view.setBigUint64(at + HEADER_BYTES, code, true);
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
