// Clients we did not write: Bun's own HTTP/3 fetch and ngtcp2's gtlsclient.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export function h3fetch(url: string | URL, init: RequestInit = {}): Promise<Response> {
  return fetch(url, { ...init, protocol: "http3", tls: { rejectUnauthorized: false } } as RequestInit);
}

export interface GtlsResult {
  exitCode: number;
  status: number | null;
  headers: [string, string][];
  trailers: [string, string][];
  body: Uint8Array;
  log: string;
}

/** Fetches one URL with gtlsclient (ngtcp2 + nghttp3 + GnuTLS) and parses what it printed. */
export async function gtlsclient(host: string, port: number, path: string): Promise<GtlsResult> {
  const downloads = mkdtempSync(join(tmpdir(), "gtls-"));
  try {
    const child = Bun.spawn(
      ["gtlsclient", "--exit-on-all-streams-close", "--no-quic-dump", `--download=${downloads}`, host, String(port), `https://${host}:${port}${path}`],
      { stdout: "pipe", stderr: "pipe" },
    );
    const timer = setTimeout(() => child.kill(), 20_000);
    const [stdout, stderr, exitCode] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
    clearTimeout(timer);
    const log = stdout + stderr;
    const headers: [string, string][] = [];
    const trailers: [string, string][] = [];
    let status: number | null = null;
    let inTrailers = false;
    for (const line of log.split("\n")) {
      if (line === "http: stream 0x0 trailers started") inTrailers = true;
      const match = /^http: stream 0x0 \[([^:\]]*|:[^:\]]+): ([^\]]*)\]$/.exec(line);
      if (!match) continue;
      if (match[1] === ":status") status = Number(match[2]);
      else (inTrailers ? trailers : headers).push([match[1]!, match[2]!]);
    }
    const file = join(downloads, path.split("/").pop() || "index.html");
    let body = new Uint8Array(0);
    try {
      body = new Uint8Array(readFileSync(file));
    } catch {
      // No body was downloaded; the caller's assertions will say so.
    }
    return { exitCode, status, headers, trailers, body, log };
  } finally {
    rmSync(downloads, { recursive: true, force: true });
  }
}

export interface RawResult {
  status: number | null;
  headers: [string, string][];
  trailers: [string, string][];
  body: string;
  /** HTTP/3 error code of a RESET_STREAM from the server, if any. */
  reset: number | null;
  /** The server sent STOP_SENDING (told us to stop uploading). */
  stop_sending: boolean;
}

export interface RawRequest {
  headers: [string, string][];
  /** Bytes of request body to send (zeros). */
  body?: number;
  /** Leave the request's sending side open after the body (no FIN). */
  open?: boolean;
}

/** Sends requests exactly as given (malformed ones too) with aioquic, concurrently on one connection. */
export async function aioquicRaw(port: number, requests: RawRequest[]): Promise<RawResult[]> {
  const root = join(import.meta.dir, "..", "..");
  const child = Bun.spawn([join(root, ".venv", "bin", "python"), join(root, "tests", "clients", "h3_raw.py"), "127.0.0.1", String(port), JSON.stringify(requests)], {
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, exitCode] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  if (exitCode !== 0) throw new Error(`h3_raw.py failed (${exitCode}): ${stderr.slice(-2000)}`);
  return JSON.parse(stdout);
}
