// Fuzz targets for the parsers on the TypeScript side (issue 7, item 4):
// the capsule reader of WebTransport CONNECT streams, QUIC varints (capsule
// prefixes and sizes), the WebTransport error-code mapping, and event
// records. Deterministic mutations of seeds (FUZZ_ITERATIONS per target,
// default 20,000); each target checks invariants, not just "no throw". The
// Zig parsers have their own targets (zig-src/fuzz.zig, zig-src/fuzz_h3.zig).
import { expect, test } from "bun:test";
import { CapsuleReader, CapsuleTooLarge, type Capsule } from "../ts/capsules.ts";
import { decodeVarint, encodeVarint, varintLength } from "../ts/varint.ts";
import { encodeCloseCapsule } from "../ts/webtransport.ts";
import { http3ToWebtransportCode, webtransportCodeToHttp3 } from "../ts/webtransport-codes.ts";
import { REQUEST_FIELD_COUNT_AT, REQUEST_FIELDS_AT, decodeFields, decodeRequest, readId, WT_BITS } from "../ts/wire.ts";

const iterations = Number(process.env.FUZZ_ITERATIONS ?? 20_000);

/** xorshift32: the same inputs on every run. */
function prng(seed: number) {
  let state = seed || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296;
  };
}

function mutate(random: () => number, seed: Uint8Array): Uint8Array {
  let bytes = Array.from(seed);
  const rounds = 1 + Math.floor(random() * 4);
  for (let r = 0; r < rounds; r++) {
    const at = Math.floor(random() * (bytes.length + 1));
    switch (Math.floor(random() * 5)) {
      case 0: if (bytes.length) bytes[at % bytes.length]! ^= 1 << Math.floor(random() * 8); break;
      case 1: bytes.splice(at, 0, Math.floor(random() * 256)); break;
      case 2: bytes.splice(at, 1); break;
      case 3: bytes = bytes.slice(0, at); break;
      default: for (let i = 0; i < 8 && random() < 0.7; i++) bytes.push(Math.floor(random() * 256));
    }
  }
  return new Uint8Array(bytes);
}

function run(seeds: Uint8Array[], seed: number, target: (input: Uint8Array, random: () => number) => void) {
  const random = prng(seed);
  for (const s of seeds) target(s, random);
  for (let i = 0; i < iterations; i++) target(mutate(random, seeds[i % seeds.length]!), random);
}

function readAll(input: Uint8Array, cuts: number[], max: number): { capsules: [number, number[]][]; error: boolean; pending: number } {
  const reader = new CapsuleReader(max);
  const capsules: [number, number[]][] = [];
  let at = 0;
  try {
    for (const cut of [...cuts, input.length]) {
      const got: Capsule[] = reader.push(input.subarray(at, Math.max(at, cut)));
      for (const c of got) {
        expect(c.value.length).toBeLessThanOrEqual(max);
        capsules.push([c.type, Array.from(c.value)]);
      }
      at = Math.max(at, cut);
    }
  } catch (error) {
    expect(error).toBeInstanceOf(CapsuleTooLarge);
    return { capsules, error: true, pending: 0 };
  }
  return { capsules, error: false, pending: reader.pendingBytes };
}

test("fuzz: capsule reader gives the same capsules however the stream is cut", () => {
  const close = encodeCloseCapsule(4242, new TextEncoder().encode("client done"));
  const datagram = new Uint8Array([0x00, 0x03, 1, 2, 3]);
  const unknown = new Uint8Array([0x40, 0x78, 0x01, 0x00]);
  const seeds = [close, datagram, new Uint8Array([...datagram, ...unknown, ...close])];
  run(seeds, 0xca95, (input, random) => {
    const whole = readAll(input, [], 64);
    const cuts = Array.from({ length: Math.floor(random() * 5) }, () => Math.floor(random() * (input.length + 1))).sort((a, b) => a - b);
    const chunked = readAll(input, cuts, 64);
    // An oversized capsule is found whenever its header is complete, so
    // both readings fail, or both agree capsule for capsule.
    expect(chunked.error).toBe(whole.error);
    if (!whole.error) {
      expect(chunked.capsules).toEqual(whole.capsules);
      expect(chunked.pending).toBe(whole.pending);
      const consumed = whole.capsules.reduce((n, [type, value]) => n + varintLength(type) + varintLength(value.length) + value.length, 0);
      expect(consumed + whole.pending).toBeLessThanOrEqual(input.length);
    }
  });
});

test("fuzz: varints decode within their input and re-encode to the same value", () => {
  const seeds = [new Uint8Array([0x25]), new Uint8Array([0x7b, 0xbd]), new Uint8Array([0x9d, 0x7f, 0x3e, 0x7d]), new Uint8Array([0xc2, 0x19, 0x7c, 0x5e, 0xff, 0x14, 0xe8, 0x8c])];
  run(seeds, 0x7a41, (input) => {
    let at = 0;
    while (at < input.length) {
      const decoded = decodeVarint(input, at);
      if (!decoded) break;
      const [value, length] = decoded;
      expect(at + length).toBeLessThanOrEqual(input.length);
      if (value <= Number.MAX_SAFE_INTEGER) {
        const out = new Uint8Array(8);
        const written = encodeVarint(value, out, 0);
        expect(decodeVarint(out, 0)).toEqual([value, written]);
      }
      at += length;
    }
  });
});

test("fuzz: WebTransport codes map to HTTP/3 and back, and nothing else maps", () => {
  const random = prng(0x3b7);
  for (let i = 0; i < iterations; i++) {
    const code = Math.floor(random() * 4294967296);
    const h3 = webtransportCodeToHttp3(code);
    expect(http3ToWebtransportCode(h3)).toBe(code);
    // A neighbour either maps to a neighbouring code or is reserved.
    const next = http3ToWebtransportCode(h3 + 1);
    if (next !== null) expect(next).toBe(code + 1);
  }
});

test("fuzz: REQUEST event records decode back to the fields they were built from", () => {
  const random = prng(0x4e7);
  const buffer = Buffer.alloc(64 * 1024);
  const view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  for (let i = 0; i < iterations / 10; i++) {
    // Records sit at 8-byte aligned offsets in the event buffer.
    const offset = 8 * Math.floor(random() * 64);
    const fields: [string, string][] = Array.from({ length: Math.floor(random() * 12) }, () => [latin1(random, 1 + Math.floor(random() * 20)), latin1(random, Math.floor(random() * 300))]);
    let at = offset + REQUEST_FIELDS_AT;
    for (const [name, value] of fields) {
      view.setUint16(at, name.length, true);
      view.setUint16(at + 2, value.length, true);
      at += 4 + buffer.write(name + value, at + 4, "latin1");
    }
    const id = Math.floor(random() * 2 ** 53);
    // Half of them a CONNECT's: aux says the client announced session flow
    // control, and its three limits follow the field block.
    const limits = random() < 0.5 ? { maxData: Math.floor(random() * 2 ** 40), maxStreamsBidi: Math.floor(random() * 1000), maxStreamsUni: Math.floor(random() * 1000) } : null;
    view.setUint8(offset + 4, 1);
    view.setUint8(offset + 5, 0);
    view.setUint16(offset + 6, limits ? WT_BITS.settingsReceived | WT_BITS.wtEnabled | WT_BITS.flowControl | WT_BITS.limitsTrailer : 0, true);
    if (limits) {
      view.setBigUint64(at, BigInt(limits.maxData), true);
      view.setBigUint64(at + 8, BigInt(limits.maxStreamsBidi), true);
      view.setBigUint64(at + 16, BigInt(limits.maxStreamsUni), true);
      at += 24;
    }
    view.setUint32(offset, at - offset, true);
    view.setUint32(offset + 8, id % 2 ** 32, true);
    view.setUint32(offset + 12, Math.floor(id / 2 ** 32), true);
    view.setBigUint64(offset + 16, 7n, true);
    view.setBigUint64(offset + 24, BigInt(4 * i), true);
    view.setUint32(offset + 32, 3, true);
    view.setUint32(offset + REQUEST_FIELD_COUNT_AT, fields.length, true);
    const event = decodeRequest(view, buffer, offset, readId(view, offset + 8));
    expect({ id: event.id, connectionId: event.connectionId, streamId: event.streamId, routeId: event.routeId }).toEqual({ id, connectionId: 7, streamId: 4 * i, routeId: 3 });
    expect(event.wtPeerLimits).toEqual(limits);
    // The leading pseudo-header fields are read at once, the rest on demand;
    // together they are every field, in order.
    const pseudo = fields.length - event.regularCount;
    expect(fields.slice(0, pseudo).every(([name]) => name.startsWith(":"))).toBe(true);
    expect(pseudo === fields.length || !fields[pseudo]![0].startsWith(":")).toBe(true);
    expect(decodeFields(event.block, 0, fields.length)).toEqual(fields);
    expect(decodeFields(event.block, event.regularAt, event.regularCount)).toEqual(fields.slice(pseudo));
    const method = fields.slice(0, pseudo).findLast(([name]) => name === ":method");
    expect(event.method).toBe(method ? method[1] : "GET");
  }
});

function latin1(random: () => number, length: number): string {
  return String.fromCharCode(...Array.from({ length }, () => Math.floor(random() * 256)));
}
