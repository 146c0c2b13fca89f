// zRPC frames: the one framing every transport carries (raw QUIC streams,
// HTTP/3 request and response bodies, WebTransport streams).
//
//   frame   = type (1 byte) | length (4 bytes, big-endian) | payload (length bytes)
//   type    0x00 MESSAGE   payload: one message, as the codec encoded it
//           0x01 HEADERS   payload: the call's head (client → server, first frame;
//                          raw QUIC and WebTransport only: HTTP/3 has the path and headers)
//           0x02 STATUS    payload: the call's outcome (server → client, last frame)
//   HEADERS = u16 path length | path ("service/method", UTF-8) | u32 timeout in ms (0: none)
//           | metadata
//   STATUS  = u32 status code | u16 message length | message (UTF-8) | metadata
//   metadata = u16 count | count × (u16 name length | name | u16 value length | value),
//              names lower-case ASCII, values UTF-8
//
// A length says how many payload bytes follow; the decoder refuses one past
// its limit before reading the payload, so a peer cannot make it buffer more.
import { RpcError } from "./status.ts";

export const FrameType = { message: 0x00, headers: 0x01, status: 0x02 } as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

/** Bytes before every payload: the type and the length. */
export const FRAME_HEADER_BYTES = 5;

export interface Frame {
  type: FrameType;
  payload: Uint8Array;
}

/** A call's head: which method, how long it may take, and the caller's metadata. */
export interface CallHead {
  /** `service/method`. */
  path: string;
  /** 0 when the caller set no deadline. */
  timeoutMs: number;
  metadata: Record<string, string>;
}

/** A call's outcome: 0 is OK; see status.ts for the others. */
export interface CallStatus {
  code: number;
  message: string;
  metadata: Record<string, string>;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** One frame's bytes: the 5-byte header and the payload. */
export function encodeFrame(type: FrameType, payload: Uint8Array): Uint8Array {
  if (payload.byteLength > 0xffff_ffff) throw new RpcError("RESOURCE_EXHAUSTED", `a frame payload is at most 4 GiB - 1, not ${payload.byteLength} bytes`);
  const out = new Uint8Array(FRAME_HEADER_BYTES + payload.byteLength);
  out[0] = type;
  new DataView(out.buffer).setUint32(1, payload.byteLength);
  out.set(payload, FRAME_HEADER_BYTES);
  return out;
}

export function encodeHead(head: CallHead): Uint8Array {
  const writer = new Writer();
  writer.string16(head.path);
  writer.u32(head.timeoutMs);
  writer.metadata(head.metadata);
  return writer.finish();
}

export function decodeHead(payload: Uint8Array): CallHead {
  const reader = new Reader(payload);
  const head = { path: reader.string16(), timeoutMs: reader.u32(), metadata: reader.metadata() };
  reader.end();
  return head;
}

export function encodeStatus(status: CallStatus): Uint8Array {
  const writer = new Writer();
  writer.u32(status.code);
  writer.string16(status.message);
  writer.metadata(status.metadata);
  return writer.finish();
}

export function decodeStatus(payload: Uint8Array): CallStatus {
  const reader = new Reader(payload);
  const status = { code: reader.u32(), message: reader.string16(), metadata: reader.metadata() };
  reader.end();
  return status;
}

class Writer {
  #parts: Uint8Array[] = [];
  #length = 0;

  u16(value: number) {
    if (!Number.isInteger(value) || value < 0 || value > 0xffff) throw new RpcError("INVALID_ARGUMENT", `${value} does not fit in 16 bits`);
    this.#push(new Uint8Array([value >> 8, value & 0xff]));
  }
  u32(value: number) {
    if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff) throw new RpcError("INVALID_ARGUMENT", `${value} does not fit in 32 bits`);
    const bytes = new Uint8Array(4);
    new DataView(bytes.buffer).setUint32(0, value);
    this.#push(bytes);
  }
  string16(text: string) {
    const bytes = encoder.encode(text);
    this.u16(bytes.byteLength);
    this.#push(bytes);
  }
  metadata(metadata: Record<string, string>) {
    const entries = Object.entries(metadata);
    this.u16(entries.length);
    for (const [name, value] of entries) {
      if (!/^[a-z0-9._-]+$/.test(name)) throw new RpcError("INVALID_ARGUMENT", `metadata name ${JSON.stringify(name)} is not lower-case ASCII letters, digits, '.', '_' or '-'`);
      this.string16(name);
      this.string16(value);
    }
  }
  finish(): Uint8Array {
    const out = new Uint8Array(this.#length);
    let offset = 0;
    for (const part of this.#parts) {
      out.set(part, offset);
      offset += part.byteLength;
    }
    return out;
  }
  #push(bytes: Uint8Array) {
    this.#parts.push(bytes);
    this.#length += bytes.byteLength;
  }
}

/** Reads a HEADERS or STATUS payload; anything short, long or not UTF-8 is a malformed frame. */
class Reader {
  #bytes: Uint8Array;
  #view: DataView;
  #offset = 0;

  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  u16(): number {
    this.#need(2);
    const value = this.#view.getUint16(this.#offset);
    this.#offset += 2;
    return value;
  }
  u32(): number {
    this.#need(4);
    const value = this.#view.getUint32(this.#offset);
    this.#offset += 4;
    return value;
  }
  string16(): string {
    const length = this.u16();
    this.#need(length);
    const slice = this.#bytes.subarray(this.#offset, this.#offset + length);
    this.#offset += length;
    try {
      return decoder.decode(slice);
    } catch {
      throw new RpcError("INVALID_ARGUMENT", "malformed frame: a string is not UTF-8");
    }
  }
  metadata(): Record<string, string> {
    const metadata: Record<string, string> = Object.create(null);
    for (let count = this.u16(); count > 0; count--) metadata[this.string16()] = this.string16();
    return metadata;
  }
  end() {
    if (this.#offset !== this.#bytes.byteLength) throw new RpcError("INVALID_ARGUMENT", `malformed frame: ${this.#bytes.byteLength - this.#offset} bytes past its fields`);
  }
  #need(bytes: number) {
    if (this.#offset + bytes > this.#bytes.byteLength) throw new RpcError("INVALID_ARGUMENT", "malformed frame: its fields run past its length");
  }
}

/**
 * Cuts a byte stream into frames, whatever the chunk boundaries. A length
 * past `maxPayloadBytes` is refused as soon as the header is read
 * (RESOURCE_EXHAUSTED); an unknown type is refused too (INVALID_ARGUMENT).
 * `end()` says whether the stream stopped between frames.
 */
export class FrameDecoder {
  readonly maxPayloadBytes: number;
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;

  constructor(maxPayloadBytes: number) {
    this.maxPayloadBytes = maxPayloadBytes;
  }

  /** Frames completed by `chunk`, in order. */
  push(chunk: Uint8Array): Frame[] {
    if (chunk.byteLength > 0) {
      this.#pending.push(chunk);
      this.#pendingBytes += chunk.byteLength;
    }
    const frames: Frame[] = [];
    while (this.#pendingBytes >= FRAME_HEADER_BYTES) {
      const header = this.#peek(FRAME_HEADER_BYTES);
      const type = header[0]!;
      const length = new DataView(header.buffer, header.byteOffset, FRAME_HEADER_BYTES).getUint32(1);
      if (type !== FrameType.message && type !== FrameType.headers && type !== FrameType.status) {
        throw new RpcError("INVALID_ARGUMENT", `malformed frame: unknown frame type 0x${type.toString(16).padStart(2, "0")}`);
      }
      if (length > this.maxPayloadBytes) {
        throw new RpcError("RESOURCE_EXHAUSTED", `a frame of ${length} bytes is past the limit of ${this.maxPayloadBytes}`);
      }
      if (this.#pendingBytes < FRAME_HEADER_BYTES + length) break;
      const whole = this.#take(FRAME_HEADER_BYTES + length);
      frames.push({ type: type as FrameType, payload: whole.subarray(FRAME_HEADER_BYTES) });
    }
    return frames;
  }

  /** Throws when the stream ended inside a frame. */
  end() {
    if (this.#pendingBytes > 0) throw new RpcError("INVALID_ARGUMENT", `truncated frame: the stream ended ${this.#pendingBytes} bytes into a frame`);
  }

  /** The first `bytes` pending bytes, copied only when they span chunks. */
  #peek(bytes: number): Uint8Array {
    const first = this.#pending[0]!;
    if (first.byteLength >= bytes) return first.subarray(0, bytes);
    this.#pending = [this.#concat(this.#pendingBytes)];
    return this.#pending[0]!.subarray(0, bytes);
  }

  #take(bytes: number): Uint8Array {
    const first = this.#pending[0]!;
    if (first.byteLength < bytes) this.#pending = [this.#concat(this.#pendingBytes)];
    const whole = this.#pending[0]!;
    const taken = whole.subarray(0, bytes);
    if (whole.byteLength === bytes) this.#pending.shift();
    else this.#pending[0] = whole.subarray(bytes);
    this.#pendingBytes -= bytes;
    return taken;
  }

  #concat(total: number): Uint8Array {
    const out = new Uint8Array(total);
    let offset = 0;
    for (const part of this.#pending) {
      out.set(part, offset);
      offset += part.byteLength;
    }
    return out;
  }
}
