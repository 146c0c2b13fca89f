// Accepts a certificate and key in every form Bun.serve's `tls` does (a
// path, PEM text, a Buffer or Uint8Array of PEM, a BunFile, or an array of
// these), decrypts a key with its passphrase, and gives the library paths
// (quiche loads PEM from files): files as they are, anything else written
// to a private temporary directory removed once the server has loaded them.
import { createPrivateKey } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BunFile } from "bun";

/** A certificate or key: a file path, PEM text, PEM bytes (Buffer, Uint8Array) or Bun.file(path). */
export type PemSource = string | BunFile | Uint8Array;

/** The `tls` option of serve(), as Bun.serve's (the parts HTTP/3 uses). */
export interface TlsOptions {
  /**
   * The certificate chain: one PemSource, or an array whose PEM blocks are
   * joined in order (leaf first, then intermediates). A string containing
   * "-----BEGIN" is PEM text, any other string a file path.
   */
  cert: PemSource | PemSource[];
  /** The private key (PEM; PKCS#8, PKCS#1 or SEC1): one PemSource, or an array of exactly one. */
  key: PemSource | PemSource[];
  /** Decrypts an encrypted private key (done in JS with node:crypto; the library gets the plain key in a private temporary file). */
  passphrase?: string;
  /**
   * Accepted for Bun.serve compatibility and checked, but unused: Bun uses
   * it to verify client certificates, and this server does not request
   * client certificates (`requestCert: true` is a TypeError).
   */
  ca?: PemSource | PemSource[];
  /** Not supported: must be absent or false. */
  requestCert?: false;
  /**
   * The session ticket key, as Node's `tls` option of the same name: 48
   * bytes (16 bytes key name, 16 bytes HMAC secret, 16 bytes AES-128 key).
   * Every server given the same bytes (the workers of one process, or a
   * fleet behind one name) resumes sessions the others issued. Without it
   * each server seals tickets with a random key of its own, so resumption
   * works against that server only. Rotate with `server.setTicketKeys()`:
   * the replaced key still opens its tickets, the one before falls back to
   * a full handshake (nothing fails). Another length is a ZigH3Error with
   * code "ZIG_H3_ERR_TICKET_KEY_INVALID". Ignored by the HTTP/1.1 fallback,
   * whose TLS is Bun's. See docs/ZERO-RTT.md.
   */
  ticketKeys?: Uint8Array;
  /**
   * 0-RTT (TLS early data) for resumed clients: their first requests
   * arrive without waiting a round trip, but may be replayed by an
   * attacker (docs/ZERO-RTT.md). Off by default. `true`: early requests
   * with a safe method (GET, HEAD, OPTIONS, TRACE) reach the handler with
   * `req.earlyData` true; others are answered `425 Too Early` by the
   * library (static and native routes too) and the client sends them again
   * after its handshake (RFC 8470). `{ allowUnsafeMethods: true }` hands
   * every early request to the handler, which must then refuse (425) what
   * it cannot run twice.
   */
  earlyData?: boolean | EarlyDataOptions;
}

/** The object form of `tls.earlyData` (0-RTT on). */
export interface EarlyDataOptions {
  /**
   * Early requests with methods other than GET, HEAD, OPTIONS and TRACE
   * reach the handler (`req.earlyData` true) instead of getting 425 Too
   * Early from the library. Also applies to requests an intermediary
   * marked `Early-Data: 1`.
   * @default false
   */
  allowUnsafeMethods?: boolean;
}

/** The zig_h3_config fields `tls.ticketKeys` and `tls.earlyData` set. */
export interface SessionConfig {
  ticket_key_hex?: string;
  enable_early_data?: boolean;
  early_data_allow_unsafe?: boolean;
}

/**
 * Checks `tls.ticketKeys` and `tls.earlyData`. The key's length is left to
 * the library (ZIG_H3_ERR_TICKET_KEY_INVALID), so C and TypeScript users
 * meet the same rule.
 */
export function resolveSession(tls: TlsOptions): SessionConfig {
  const config: SessionConfig = {};
  if (tls.ticketKeys !== undefined) {
    if (!(tls.ticketKeys instanceof Uint8Array)) throw new TypeError("tls.ticketKeys must be a Buffer or Uint8Array of 48 bytes");
    config.ticket_key_hex = Buffer.from(tls.ticketKeys.buffer, tls.ticketKeys.byteOffset, tls.ticketKeys.byteLength).toString("hex");
  }
  const early = tls.earlyData;
  if (early === undefined || early === false) return config;
  if (early === true) return { ...config, enable_early_data: true };
  if (typeof early !== "object" || early === null || Array.isArray(early)) throw new TypeError("tls.earlyData must be a boolean or { allowUnsafeMethods?: boolean }");
  for (const key of Object.keys(early)) {
    if (key !== "allowUnsafeMethods") throw new TypeError(`unknown tls.earlyData option "${key}"; did you mean "allowUnsafeMethods"?`);
  }
  if (early.allowUnsafeMethods !== undefined && typeof early.allowUnsafeMethods !== "boolean") throw new TypeError("tls.earlyData.allowUnsafeMethods must be a boolean");
  return { ...config, enable_early_data: true, early_data_allow_unsafe: early.allowUnsafeMethods === true };
}

/** Paths the library loads, and the cleanup of any temporary copies. */
export interface ResolvedPem {
  certPath: string;
  keyPath: string;
  /** Removes the temporary files made for PEM text; safe to call twice. */
  cleanup(): void;
}

const decoder = new TextDecoder();

function isBunFile(source: unknown): source is BunFile {
  return typeof source === "object" && source !== null && !(source instanceof Uint8Array) && typeof (source as Blob).arrayBuffer === "function" && "name" in source;
}

/** A path when the source is one file as it is, else its PEM text. */
function toPathOrText(source: unknown, what: string): { path: string } | { text: string } {
  if (typeof source === "string") return source.includes("-----BEGIN") ? { text: source } : { path: source };
  if (source instanceof Uint8Array) return { text: decoder.decode(source) };
  if (isBunFile(source) && typeof source.name === "string") return { path: source.name };
  throw new TypeError(`${what} must be a file path, PEM text, a Buffer/Uint8Array of PEM or Bun.file(path) (or an array of them)`);
}

function textOf(source: { path: string } | { text: string }): string {
  return "text" in source ? source.text : readFileSync(source.path, "utf8");
}

/** Resolves `tls` to files the library can load. */
export function resolvePem(tls: TlsOptions): ResolvedPem {
  if (!tls || typeof tls !== "object") throw new TypeError("serve() needs tls: { cert, key }");
  if ((tls as { requestCert?: unknown }).requestCert) throw new TypeError("tls.requestCert is not supported: this server does not request client certificates");
  if (tls.passphrase !== undefined && typeof tls.passphrase !== "string") throw new TypeError("tls.passphrase must be a string");
  for (const ca of tls.ca === undefined ? [] : Array.isArray(tls.ca) ? tls.ca : [tls.ca]) toPathOrText(ca, "tls.ca");
  const certs = (Array.isArray(tls.cert) ? tls.cert : [tls.cert]).map((source) => toPathOrText(source, "tls.cert"));
  const keys = (Array.isArray(tls.key) ? tls.key : [tls.key]).map((source) => toPathOrText(source, "tls.key"));
  if (certs.length === 0) throw new TypeError("tls.cert must not be an empty array");
  if (keys.length !== 1) throw new TypeError(`tls.key must be one key (one certificate chain per server), got ${keys.length}`);
  let directory: string | undefined;
  const write = (name: string, text: string) => {
    directory ??= mkdtempSync(join(tmpdir(), "zig-h3-tls-"));
    const path = join(directory, name);
    writeFileSync(path, text, { mode: 0o600 });
    return path;
  };
  try {
    const cert = certs.length === 1 && "path" in certs[0]! ? certs[0].path : write("cert.pem", certs.map((c) => textOf(c).trimEnd() + "\n").join(""));
    let key = keys[0]!;
    if (tls.passphrase !== undefined) key = { text: decryptKey(textOf(key), tls.passphrase) };
    const keyPath = "path" in key ? key.path : write("key.pem", key.text);
    return {
      certPath: cert,
      keyPath,
      cleanup() {
        if (directory) rmSync(directory, { recursive: true, force: true });
        directory = undefined;
      },
    };
  } catch (error) {
    if (directory) rmSync(directory, { recursive: true, force: true });
    throw error;
  }
}

function decryptKey(pem: string, passphrase: string): string {
  try {
    return createPrivateKey({ key: pem, format: "pem", passphrase }).export({ type: "pkcs8", format: "pem" }).toString();
  } catch (error) {
    throw new TypeError(`tls.key cannot be decrypted with tls.passphrase: ${(error as Error).message}`);
  }
}
