// Errors the library reports, typed by a string code (the header's name).
import { native } from "./loader.ts";
import type { StatusName } from "./abi.generated.ts";

export type { StatusName };

/**
 * Codes of errors the TypeScript package raises before there is a library
 * to ask (finding and loading libzigquicheh3.so); their `status` is 0.
 */
export type PackageErrorCode =
  | "ZIG_H3_ERR_LIBRARY_NOT_FOUND"
  | "ZIG_H3_ERR_PLATFORM_UNSUPPORTED"
  | "ZIG_H3_ERR_LIBRARY_VERSION"
  | "ZIG_H3_ERR_LIBRARY_LOAD";

/** An error of the library or of loading it, with a string `code` to switch on. */
export class ZigH3Error extends Error {
  /** The header's status name, e.g. "ZIG_H3_ERR_ADDRESS_IN_USE", or a PackageErrorCode. */
  readonly code: StatusName | PackageErrorCode;
  /** The numeric status the C ABI returned (0 for a PackageErrorCode). */
  readonly status: number;

  /**
   * From a status the C ABI returned (the library names it), or from a
   * PackageErrorCode, which needs no library.
   */
  constructor(status: number | PackageErrorCode, context: string) {
    if (typeof status === "string") {
      super(`${context} (${status})`);
      this.code = status;
      this.status = 0;
    } else {
      const lib = native();
      const code = String(lib.zig_h3_status_name(status)) as StatusName;
      super(`${context}: ${String(lib.zig_h3_status_message(status))} (${code})`);
      this.code = code;
      this.status = status;
    }
    this.name = "ZigH3Error";
  }
}

/** Throws a ZigH3Error for a negative status, returns the value otherwise. */
export function check(status: number, context: string): number {
  if (status < 0) throw new ZigH3Error(status, context);
  return status;
}
