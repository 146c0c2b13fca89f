// Accepts a certificate or key as a path, PEM text, or Bun.file, and gives
// the library a path (quiche loads PEM from files).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BunFile } from "bun";

export type PemSource = string | BunFile;

export interface ResolvedPem {
  certPath: string;
  keyPath: string;
  /** Removes the temporary files made for PEM text; safe to call twice. */
  cleanup(): void;
}

export function resolvePem(cert: PemSource, key: PemSource): ResolvedPem {
  let directory: string | undefined;
  const toPath = (source: PemSource, what: "cert" | "key"): string => {
    if (typeof source === "string") {
      if (!source.includes("-----BEGIN")) return source;
      directory ??= mkdtempSync(join(tmpdir(), "zig-h3-tls-"));
      const path = join(directory, `${what}.pem`);
      writeFileSync(path, source, { mode: 0o600 });
      return path;
    }
    if (source && typeof source === "object" && typeof (source as BunFile).name === "string") {
      return (source as BunFile).name!;
    }
    throw new TypeError(`tls.${what} must be a file path, PEM text or Bun.file(path)`);
  };
  const certPath = toPath(cert, "cert");
  const keyPath = toPath(key, "key");
  return {
    certPath,
    keyPath,
    cleanup() {
      if (directory) rmSync(directory, { recursive: true, force: true });
      directory = undefined;
    },
  };
}
