// Errors the library reports, typed by a string code (the header's name).
import { native } from "./loader.ts";
import type { StatusName } from "./abi.generated.ts";

export type { StatusName };

export class ZigH3Error extends Error {
  /** The header's status name, e.g. "ZIG_H3_ERR_ADDRESS_IN_USE". */
  readonly code: StatusName;
  /** The numeric status the C ABI returned. */
  readonly status: number;

  constructor(status: number, context: string) {
    const lib = native();
    const code = String(lib.zig_h3_status_name(status)) as StatusName;
    super(`${context}: ${String(lib.zig_h3_status_message(status))} (${code})`);
    this.name = "ZigH3Error";
    this.code = code;
    this.status = status;
  }
}

/** Throws a ZigH3Error for a negative status, returns the value otherwise. */
export function check(status: number, context: string): number {
  if (status < 0) throw new ZigH3Error(status, context);
  return status;
}
