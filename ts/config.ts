// Marshals server options into the C struct zig_h3_config. Every field is
// 8 bytes, in this order (slot 0 holds struct_size and abi_version as two
// u32s), matching include/zig_h3.h; tests/abi.test.ts checks the order.
import { ptr } from "bun:ffi";
import { native } from "./loader.ts";
import { check } from "./errors.ts";

import { CONFIG_FIELDS, CONFIG_FIELD_OPTIONS, LIMITS, type LimitOptions, type SnakeCaseLimitOptions } from "./abi.generated.ts";
export { CONFIG_FIELDS, LIMITS };
export type { LimitOptions, SnakeCaseLimitOptions };

/** A zig_h3_config field name. */
export type ConfigField = (typeof CONFIG_FIELDS)[number];
const STRING_FIELDS = new Set<ConfigField>(["cert_path", "key_path", "bind_address", "cc_algorithm", "qlog_dir", "keylog_path", "quic_lb_server_id_hex", "quic_lb_key_hex", "ticket_key_hex", "retry_key_hex", "application_protos"]);

/** zig_h3_config values by field name, as marshalConfig takes them. */
export type NativeConfig = Partial<Record<ConfigField, string | number | boolean | undefined>>;

/** The `limits` option: camelCase names, or (deprecated) their zig_h3_config names. */
export type Limits = LimitOptions & SnakeCaseLimitOptions;

type LimitName = keyof typeof LIMITS;
const LIMIT_NAMES = Object.keys(LIMITS) as LimitName[];
const CAMEL_BY_FIELD = new Map<string, LimitName>(LIMIT_NAMES.map((name) => [LIMITS[name].field, name]));
const OTHER_OPTIONS: Record<string, string> = CONFIG_FIELD_OPTIONS;
const CAMEL_OTHER_OPTIONS = new Map(Object.entries(OTHER_OPTIONS).map(([field, option]) => [camelCase(field), option]));

/**
 * Checks the `limits` option and maps it to zig_h3_config fields. An
 * unknown key is a TypeError naming it and the nearest valid key; a value
 * of the wrong type or outside the field's fixed range (LIMITS, generated
 * from zig-src/config_docs.zig) is a TypeError or RangeError naming it.
 */
export function resolveLimits(limits: unknown): NativeConfig {
  if (limits === undefined || limits === null) return {};
  if (typeof limits !== "object" || Array.isArray(limits)) throw new TypeError("limits must be an object");
  const config: NativeConfig = {};
  for (const [key, value] of Object.entries(limits)) {
    if (value === undefined) continue;
    const name = key in LIMITS ? (key as LimitName) : CAMEL_BY_FIELD.get(key);
    if (name === undefined) {
      const option = OTHER_OPTIONS[key] ?? CAMEL_OTHER_OPTIONS.get(key);
      if (option !== undefined) throw new TypeError(`limits.${key} is not a limit: set it with the "${option}" option of serve()`);
      throw new TypeError(`unknown limit "${key}"; did you mean "${nearestName(key, LIMIT_NAMES)}"?`);
    }
    const spec = LIMITS[name];
    if (config[spec.field] !== undefined) throw new TypeError(`limits.${name} is given twice (as "${name}" and "${spec.field}")`);
    config[spec.field] = checkLimit(key, spec.field, value, spec.min, spec.max);
  }
  return config;
}

function checkLimit(key: string, field: ConfigField, value: unknown, min: number | null, max: number | null): string | number | boolean {
  if (STRING_FIELDS.has(field)) {
    if (typeof value !== "string") throw new TypeError(`limits.${key} must be a string, got ${typeof value}`);
    return value;
  }
  if (typeof value === "boolean") return value;
  if (typeof value !== "number" || !Number.isSafeInteger(value)) throw new TypeError(`limits.${key} must be an integer, got ${String(value)}`);
  const low = min ?? 0;
  if (value < low || (max !== null && value > max)) {
    throw new RangeError(`limits.${key} must be ${max === null ? `at least ${low}` : `in ${low}..${max}`}, got ${value}`);
  }
  return value;
}

function camelCase(name: string): string {
  return name.replace(/_([a-z])/g, (_, letter: string) => letter.toUpperCase());
}

/** Lowercase words of a camelCase or snake_case name. */
function words(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((word) => word.length > 0);
}

/** Levenshtein distance. */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/**
 * The candidate nearest to `name`: fewest of its words missing (so
 * "max_body" finds "maxRequestBodySize"), then the smallest edit distance
 * between the names with case and separators ignored.
 */
export function nearestName(name: string, candidates: readonly string[]): string {
  const wanted = words(name);
  const flat = wanted.join("");
  let best = candidates[0]!;
  let bestScore = [Infinity, Infinity];
  for (const candidate of candidates) {
    const theirs = words(candidate);
    const missing = wanted.filter((word) => !theirs.includes(word)).length;
    const distance = editDistance(flat, theirs.join(""));
    if (missing < bestScore[0]! || (missing === bestScore[0] && distance < bestScore[1]!)) {
      best = candidate;
      bestScore = [missing, distance];
    }
  }
  return best;
}

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

/** Fills a zig_h3_config (library defaults for what `values` leaves out). */
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
