// serve()'s options checked and resolved before the server exists: names
// (an unknown one is an error naming the nearest), port, hostname, the
// directories it must create, and the message of a start-up failure.
import { mkdirSync } from "node:fs";
import { native } from "./loader.ts";
import { nearestName } from "./config.ts";

/** The options serve() knows. */
export const OPTION_NAMES = ["port", "hostname", "tls", "routes", "static", "fetch", "error", "development", "mode", "handlerTimeoutMs", "datagrams", "webtransport", "quic", "http1", "limits", "log", "logLevel", "workers"];
/** Bun.serve options this server does not have, and what to do instead. */
const BUN_ONLY_OPTIONS: Record<string, string> = {
  websocket: "WebSockets are not part of HTTP/3 here; use WebTransport (webtransport: true and server.webtransport())",
  unix: "HTTP/3 runs over UDP; give port and hostname",
  reusePort: "use workers: N (one process, N threads on one port, each connection's packets steered to its worker by connection ID; see docs/WORKERS.md)",
  ipv6Only: 'not supported; hostname "::" binds IPv6',
  idleTimeout: "use limits.idleTimeoutMs (milliseconds)",
  maxRequestBodySize: "use limits.maxRequestBodySize",
  id: "not supported",
  lowMemoryMode: "not supported",
  baseURI: "not supported",
  certFile: "use tls: { cert, key }",
  keyFile: "use tls: { cert, key }",
  key: "use tls: { cert, key }",
  cert: "use tls: { cert, key }",
};

/** Rejects option names serve() does not know, rather than ignoring them. */
export function checkOptionNames(options: object) {
  for (const name of Object.keys(options)) {
    if (OPTION_NAMES.includes(name)) continue;
    const instead = BUN_ONLY_OPTIONS[name];
    if (instead !== undefined) throw new TypeError(`serve() option "${name}" (a Bun.serve option) is not supported by zig-quiche-h3: ${instead}`);
    throw new TypeError(`unknown serve() option "${name}"; did you mean "${nearestName(name, OPTION_NAMES)}"?`);
  }
}

/** `port`: a number, a numeric string, or BUN_PORT / PORT from the environment, as in Bun.serve. */
export function resolvePort(port: unknown): number {
  const value = port ?? process.env.BUN_PORT ?? process.env.PORT ?? 4433;
  const number = typeof value === "string" && /^\d+$/.test(value.trim()) ? Number(value.trim()) : value;
  if (typeof number !== "number" || !Number.isInteger(number) || number < 0 || number > 65535) {
    throw new TypeError(`port must be an integer 0..65535 or a numeric string, got ${JSON.stringify(value)}`);
  }
  return number;
}

/** `hostname` to the numeric address the library binds: "localhost" is 127.0.0.1. */
export function bindAddress(hostname: string): string {
  if (typeof hostname !== "string" || hostname.length === 0) throw new TypeError(`hostname must be a non-empty string, got ${JSON.stringify(hostname)}`);
  if (hostname === "localhost") return "127.0.0.1";
  return hostname.startsWith("[") && hostname.endsWith("]") ? hostname.slice(1, -1) : hostname;
}

/** mkdir -p, or a clear error naming the path. */
export function ensureDirectory(path: string, option: string) {
  try {
    mkdirSync(path, { recursive: true });
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new Error(`${option}: cannot create directory "${path}" (${reason})`, { cause: error });
  }
}

/** What a failed zig_h3_server_new was trying to do, for its ZigH3Error. */
export function describeNewFailure(status: number, cert: string, key: string, host: string, port: number, ticketKeyBytes?: number): string {
  const name = status < 0 ? String(native().zig_h3_status_name(status)) : "";
  if (name.includes("TICKET_KEY")) return `tls.ticketKeys has ${ticketKeyBytes ?? 0} bytes`;
  if (name.includes("CERT")) return `cannot load TLS certificate "${cert}"`;
  if (name.includes("KEY")) return `cannot load TLS private key "${key}"`;
  if (name.includes("ADDRESS") || name.includes("PERMISSION") || name.includes("SOCKET")) return `cannot listen on UDP ${host}:${port}`;
  return "cannot create server";
}
