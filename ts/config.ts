// Marshals server options into the C struct zig_h3_config. Every field is
// 8 bytes, in this order (slot 0 holds struct_size and abi_version as two
// u32s), matching include/zig_h3.h; tests/abi.test.ts checks the order.
import { ptr } from "bun:ffi";
import { native } from "./loader.ts";
import { check } from "./errors.ts";

import { CONFIG_FIELDS } from "./abi.generated.ts";
export { CONFIG_FIELDS };

export type ConfigField = (typeof CONFIG_FIELDS)[number];
const STRING_FIELDS = new Set<ConfigField>(["cert_path", "key_path", "bind_address", "cc_algorithm", "qlog_dir", "keylog_path"]);

export type NativeConfig = Partial<Record<ConfigField, string | number | boolean | undefined>>;

/**
 * A filled zig_h3_config. `keepAlive` holds the C strings the struct points
 * at; it must stay reachable until zig_h3_server_new returns (the library
 * copies them).
 */
export interface MarshalledConfig {
  buffer: Uint8Array;
  keepAlive: Uint8Array[];
  /** The effective value of a numeric field (a default when not set). */
  read(field: ConfigField): number;
}

export function marshalConfig(values: NativeConfig): MarshalledConfig {
  const lib = native();
  const size = Number(lib.zig_h3_config_size());
  if (size !== (CONFIG_FIELDS.length + 1) * 8) {
    throw new Error(`zig_h3_config is ${size} bytes in the library but ${(CONFIG_FIELDS.length + 1) * 8} here: library and TypeScript package versions differ`);
  }
  const buffer = new Uint8Array(size);
  check(lib.zig_h3_config_init(ptr(buffer)), "zig_h3_config_init");
  const view = new DataView(buffer.buffer);
  const keepAlive: Uint8Array[] = [];
  CONFIG_FIELDS.forEach((field, index) => {
    const value = values[field];
    if (value === undefined) return;
    const offset = (index + 1) * 8;
    if (STRING_FIELDS.has(field)) {
      if (typeof value !== "string") throw new TypeError(`${field} must be a string`);
      if (value.includes("\0")) throw new TypeError(`${field} must not contain NUL characters`);
      const cstring = new TextEncoder().encode(value + "\0");
      keepAlive.push(cstring);
      view.setBigUint64(offset, BigInt(ptr(cstring)), true);
    } else {
      const number = typeof value === "boolean" ? Number(value) : value;
      if (typeof number !== "number" || !Number.isSafeInteger(number) || number < 0) {
        throw new TypeError(`${field} must be a non-negative integer, got ${String(value)}`);
      }
      view.setBigUint64(offset, BigInt(number), true);
    }
  });
  const read = (field: ConfigField) => Number(view.getBigUint64((CONFIG_FIELDS.indexOf(field) + 1) * 8, true));
  return { buffer, keepAlive, read };
}
