// QUIC variable-length integers (RFC 9000 16), for capsules and sizes.

export function varintLength(value: number): number {
  if (value < 0x40) return 1;
  if (value < 0x4000) return 2;
  if (value < 0x40000000) return 4;
  return 8;
}

export function encodeVarint(value: number, out: Uint8Array, at: number): number {
  const length = varintLength(value);
  let v = BigInt(value) | (BigInt([0, 1, 2, 3][[1, 2, 4, 8].indexOf(length)]!) << BigInt(length * 8 - 2));
  for (let i = length - 1; i >= 0; i--) {
    out[at + i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return length;
}

/** Returns [value, length], or null when `bytes` ends inside the integer. */
export function decodeVarint(bytes: Uint8Array, at: number): [number, number] | null {
  if (at >= bytes.length) return null;
  const length = 1 << (bytes[at]! >> 6);
  if (at + length > bytes.length) return null;
  let value = bytes[at]! & 0x3f;
  for (let i = 1; i < length; i++) value = value * 256 + bytes[at + i]!;
  return [value, length];
}
