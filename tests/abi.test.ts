// The descriptions of the C ABI must agree: include/zig_h3.h, the library's
// dynamic exports, and the TypeScript symbol table, plus the config struct's
// field order and the status codes. The constants (kinds, flags, counters,
// config fields, status codes) are generated for both C and TypeScript from
// their Zig declarations (`zig build gen`; `zig build test` fails when the
// generated files are stale); these tests read what was generated.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { symbols } from "../ts/symbols.ts";
import { CONFIG_FIELDS } from "../ts/config.ts";
import { STATS_FIELDS } from "../ts/server.ts";
import { libraryCandidates, native } from "../ts/loader.ts";
import { CommandKind, EventKind } from "../ts/wire.ts";

const header = readFileSync(join(import.meta.dir, "..", "include", "zig_h3.h"), "utf8");
const headerFunctions = [...header.matchAll(/^[a-z][\w\s*]*?\b(zig_h3_\w+)\(/gm)].map((m) => m[1]!).sort();

function libraryExports(): string[] {
  const path = libraryCandidates().find((p) => Bun.file(p).size > 0)!;
  const result = Bun.spawnSync(["nm", "-D", "--defined-only", path]);
  return result.stdout
    .toString()
    .split("\n")
    .map((line) => line.trim().split(/\s+/)[2])
    .filter((name): name is string => !!name)
    .sort();
}

describe("C ABI agreement", () => {
  test("header, library exports and TS symbol table name the same functions", () => {
    expect(headerFunctions.length).toBeGreaterThanOrEqual(15);
    expect(libraryExports()).toEqual(headerFunctions);
    expect(Object.keys(symbols).sort()).toEqual(headerFunctions);
  });

  test("the config struct's fields are in the same order in the header and in TS", () => {
    const body = header.slice(header.indexOf("typedef struct zig_h3_config {"), header.indexOf("} zig_h3_config;"));
    const fields = [...body.matchAll(/^\s*(?:const char \*|uint64_t |uint32_t )(\w+);/gm)].map((m) => m[1]);
    expect(fields.slice(0, 2)).toEqual(["struct_size", "abi_version"]);
    expect(fields.slice(2)).toEqual([...CONFIG_FIELDS]);
    expect(Number(native().zig_h3_config_size())).toBe((CONFIG_FIELDS.length + 1) * 8);
  });

  test("every status code in the header has that name in the library", () => {
    const codes = [...header.matchAll(/^#define (ZIG_H3_(?:OK|ERR_\w+)) (-?\d+)/gm)];
    expect(codes.length).toBeGreaterThanOrEqual(20);
    for (const [, name, value] of codes) expect(String(native().zig_h3_status_name(Number(value)))).toBe(name!);
    expect(String(native().zig_h3_status_name(-999))).toBe("ZIG_H3_ERR_UNKNOWN");
  });

  test("the stats counters have the same indices in the header and in TS", () => {
    const indices = [...header.matchAll(/^#define ZIG_H3_STAT_(\w+) (\d+)$/gm)].filter((m) => m[1] !== "COUNT");
    expect(indices.map((m) => Number(m[2]))).toEqual(STATS_FIELDS.map((_, i) => i));
    expect(indices.map((m) => m[1]!.toLowerCase())).toEqual([...STATS_FIELDS]);
    expect(header).toContain(`#define ZIG_H3_STAT_COUNT ${STATS_FIELDS.length}\n`);
    expect(native().zig_h3_server_stats(null, null, 0)).toBe(-1);
  });

  test("the event and command kinds in the header are the ones TS speaks", () => {
    const defined = (prefix: string) => Object.fromEntries([...header.matchAll(new RegExp(`^#define ZIG_H3_${prefix}_(\\w+) (\\d+)$`, "gm"))].map((m) => [m[1]!, Number(m[2])]));
    const upper = (kinds: Record<string, number>) => Object.fromEntries(Object.entries(kinds).map(([name, value]) => [name.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase(), value]));
    expect(defined("EVENT")).toEqual(upper(EventKind));
    expect(defined("COMMAND")).toEqual(upper(CommandKind));
    // Each kind is also described in the record comment.
    for (const [name, value] of Object.entries({ ...defined("EVENT"), ...defined("COMMAND") })) expect(header).toMatch(new RegExp(`\\* +${value} ${name}\\b`));
  });

  test("version names the library and the pinned quiche", () => {
    expect(String(native().zig_h3_version())).toBe("zig-quiche-h3/0.1.0 quiche/0.28.0");
  });
});

test("the per-connection stats fields have the same indices in the header and in TS", async () => {
  const { CONN_STATS_FIELDS } = await import("../ts/server.ts");
  const indices = [...header.matchAll(/^#define ZIG_H3_CONN_STAT_(\w+) (\d+)$/gm)].filter((m) => m[1] !== "COUNT");
  expect(indices.map((m) => m[1]!.toLowerCase())).toEqual([...CONN_STATS_FIELDS]);
  expect(indices.map((m) => Number(m[2]))).toEqual(CONN_STATS_FIELDS.map((_, i) => i));
});
