// C arrays of zig_h3_field for the library's static routes.
import { ptr } from "bun:ffi";

/** zig_h3_field structs ({ name, name_len, value, value_len }) over one byte buffer. */
export function encodeFieldArray(fields: [string, string][]): { structs: BigUint64Array; bytes: Uint8Array; count: number } {
  const encoder = new TextEncoder();
  const encoded = fields.map(([name, value]) => [encoder.encode(name.toLowerCase()), encoder.encode(value)] as const);
  const bytes = new Uint8Array(Math.max(1, encoded.reduce((n, [a, b]) => n + a.length + b.length, 0)));
  const structs = new BigUint64Array(Math.max(1, encoded.length * 4));
  const base = BigInt(ptr(bytes));
  let offset = 0;
  encoded.forEach(([name, value], i) => {
    bytes.set(name, offset);
    structs.set([base + BigInt(offset), BigInt(name.length), base + BigInt(offset + name.length), BigInt(value.length)], i * 4);
    bytes.set(value, offset + name.length);
    offset += name.length + value.length;
  });
  return { structs, bytes, count: encoded.length };
}
