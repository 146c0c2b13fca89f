// Address validation (issue 7, item 1; RFC 9000 8.1, RFC 9001 5.8).
//
// With enable_retry, three clients we did not write (Bun's fetch, ngtcp2's
// gtlsclient, aioquic) complete a handshake through a stateless Retry; each
// of them checks the original_destination_connection_id and
// retry_source_connection_id transport parameters, so a 200 also proves
// those. Bad tokens, crafted with aioquic, are dropped without a byte in
// reply and counted, and a healthy client is served right after each.
//
// Amplification: a client that sends one Initial and never acknowledges
// anything receives at most three times what it sent (retry off), or exactly
// one Retry (retry on).
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serve, type Server } from "../ts/index.ts";
import { makeCertificate } from "./helpers/certs.ts";
import { aioquicRaw, gtlsclient, h3fetch } from "./helpers/clients.ts";

const tls = makeCertificate();
const root = join(import.meta.dir, "..");
const python = join(root, ".venv", "bin", "python");
const body = "hello through a Retry\n";
const routes = { "/hello": () => new Response(body) };

async function runPython<T>(script: string, args: (string | number)[]): Promise<T> {
  const child = Bun.spawn([python, join(root, "tests", "clients", script), ...args.map(String)], { stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, exitCode] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  if (exitCode !== 0) throw new Error(`${script} failed (${exitCode}): ${stderr.slice(-2000)}`);
  return JSON.parse(stdout) as T;
}

async function expectHealthy(server: Server) {
  const response = await h3fetch(new URL("/hello", server.url), { signal: AbortSignal.timeout(10_000) });
  expect(response.status).toBe(200);
  expect(await response.text()).toBe(body);
}

describe("with enable_retry", () => {
  test("Bun fetch, gtlsclient and aioquic each get 200 after one Retry", async () => {
    await using server = serve({ port: 0, tls, limits: { enable_retry: true }, routes });
    const clients: [string, () => Promise<{ status: number | null; body: string }>][] = [
      ["bun fetch", async () => {
        const response = await h3fetch(new URL("/hello", server.url), { signal: AbortSignal.timeout(10_000) });
        return { status: response.status, body: await response.text() };
      }],
      ["gtlsclient", async () => {
        const result = await gtlsclient("127.0.0.1", server.port, "/hello");
        return { status: result.status, body: new TextDecoder().decode(result.body) };
      }],
      ["aioquic", async () => {
        const [result] = await aioquicRaw(server.port, [{ headers: [[":method", "GET"], [":scheme", "https"], [":authority", "localhost"], [":path", "/hello"]] }]);
        return { status: result!.status, body: result!.body };
      }],
    ];
    for (const [name, fetchOnce] of clients) {
      const before = server.stats();
      const result = await fetchOnce();
      const after = server.stats();
      expect({ name, ...result }).toEqual({ name, status: 200, body });
      // One connection, created only after at least one Retry (a client
      // whose ClientHello spans two Initials gets a Retry for each).
      expect(after.connections_accepted - before.connections_accepted).toBe(1);
      expect(after.retries_sent - before.retries_sent).toBeGreaterThanOrEqual(1);
    }
    const stats = server.stats();
    expect(stats.retries_sent).toBeGreaterThanOrEqual(stats.connections_accepted);
    expect(stats.connections_accepted).toBe(3);
    expect(stats.retry_tokens_rejected).toBe(0);
  }, 60_000);

  type Attempt = { label: string; sent_datagrams: number; received_bytes: number };

  // Each mode runs a real Retry round trip first, then sends what its name
  // says; "control" attempts resend the genuine token Initial, which proves
  // the token itself was good and only the change made it fail.
  test.each([
    ["replayed from another source port", "replayed", { "other port": "reject", "same port": "control" }],
    ["with one bit flipped", "flipped", { "flipped bit": "reject", unmodified: "control" }],
    ["with a forged tag", "forged", { forged: "reject" }],
    ["truncated", "truncated", { truncated: "reject" }],
  ] as const)("a token %s is dropped without reply and counted; a healthy client is served right after", async (_name, mode, expected) => {
    const logs: string[] = [];
    await using server = serve({ port: 0, tls, limits: { enable_retry: true }, routes, logLevel: "info", log: (entry) => logs.push(entry.message) });
    const attempts = await runPython<Attempt[]>("retry_tokens.py", ["127.0.0.1", server.port, mode, 500]);
    expect(Object.fromEntries(attempts.map((a) => [a.label, a.received_bytes > 0 ? "control" : "reject"]))).toEqual(expected);
    const rejectedDatagrams = attempts.filter((a) => a.received_bytes === 0).reduce((n, a) => n + a.sent_datagrams, 0);
    expect(rejectedDatagrams).toBeGreaterThan(0);
    expect(server.stats().retry_tokens_rejected).toBe(rejectedDatagrams);
    const reason = mode === "truncated" ? "malformed" : "forged, or presented from another address";
    expect(logs.filter((line) => line.startsWith("retry token rejected"))).toEqual(Array(rejectedDatagrams).fill(`retry token rejected: ${reason}`));
    await expectHealthy(server);
  }, 60_000);

  test("an expired token is dropped without reply and counted; a healthy client is served right after", async () => {
    const logs: string[] = [];
    await using server = serve({ port: 0, tls, limits: { enable_retry: true, retry_token_lifetime_ms: 1000 }, routes, logLevel: "info", log: (entry) => logs.push(entry.message) });
    const [attempt] = await runPython<Attempt[]>("retry_tokens.py", ["127.0.0.1", server.port, "expired", 500, 2000]);
    expect(attempt!.received_bytes).toBe(0);
    expect(server.stats().retry_tokens_rejected).toBe(attempt!.sent_datagrams);
    expect(logs.filter((line) => line.startsWith("retry token rejected"))).toEqual(Array(attempt!.sent_datagrams).fill("retry token rejected: expired"));
    expect(server.stats().connections_accepted).toBe(0);
    await expectHealthy(server);
  }, 60_000);
});

/**
 * A certificate larger than three full Initials, so the server's first
 * flight cannot fit under the amplification limit and the limit, not the
 * flight's size, is what the silent client sees.
 */
function largeCertificate(): { cert: string; key: string; derBytes: number } {
  const dir = mkdtempSync(join(tmpdir(), "zig-h3-large-cert-"));
  const names = ["DNS:localhost", "IP:127.0.0.1", ...Array.from({ length: 200 }, (_, i) => `DNS:host-${i}.amplification.test`)];
  const result = Bun.spawnSync([
    "openssl", "req", "-x509", "-newkey", "rsa:4096", "-sha256", "-nodes", "-days", "2",
    "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem"), "-subj", "/CN=localhost", "-addext", `subjectAltName=${names.join(",")}`,
  ]);
  if (result.exitCode !== 0) throw new Error(`openssl failed: ${result.stderr.toString()}`);
  const pem = readFileSync(join(dir, "cert.pem"), "utf8");
  const derBytes = Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ""), "base64").length;
  return { cert: join(dir, "cert.pem"), key: join(dir, "key.pem"), derBytes };
}

type Silent = { sent_bytes: number; sent_datagrams: number; received_bytes: number; received_datagrams: number; types: string[]; retry_accepted: boolean };

describe("amplification limit (RFC 9000 8.1)", () => {
  const large = largeCertificate();

  test("before validation, a silent client gets at most 3x the bytes it sent (retry off)", async () => {
    await using server = serve({ port: 0, tls: large, routes });
    const silent = await runPython<Silent>("silent_initial.py", ["127.0.0.1", server.port, 3000]);
    console.log(`amplification, retry off: sent ${silent.sent_bytes} bytes in ${silent.sent_datagrams} datagram(s), received ${silent.received_bytes} bytes in ${silent.received_datagrams} (${silent.types.join(", ")}); certificate ${large.derBytes} bytes`);
    // The certificate alone does not fit in 3x: the limit is binding.
    expect(large.derBytes).toBeGreaterThan(3 * silent.sent_bytes);
    expect(silent.sent_bytes).toBeGreaterThanOrEqual(1200);
    expect(silent.received_bytes).toBeGreaterThan(0);
    expect(silent.received_bytes).toBeLessThanOrEqual(3 * silent.sent_bytes);
    // The same certificate completes a handshake for a client that answers.
    await expectHealthy(server);
  }, 60_000);

  test("with retry on, a silent client gets exactly one Retry and nothing else", async () => {
    await using server = serve({ port: 0, tls: large, limits: { enable_retry: true }, routes });
    const silent = await runPython<Silent>("silent_initial.py", ["127.0.0.1", server.port, 3000]);
    console.log(`amplification, retry on: sent ${silent.sent_bytes} bytes in ${silent.sent_datagrams} datagram(s), received ${silent.received_bytes} bytes in ${silent.received_datagrams} (${silent.types.join(", ")})`);
    expect(silent.sent_datagrams).toBe(1);
    expect(silent.types).toEqual(["retry"]);
    expect(silent.retry_accepted).toBe(true); // aioquic checked its integrity tag
    expect(silent.received_bytes).toBeLessThan(silent.sent_bytes);
    const stats = server.stats();
    expect(stats.retries_sent).toBe(1);
    expect(stats.connections_accepted).toBe(0);
    expect(stats.connections_active).toBe(0);
    await expectHealthy(server);
  }, 60_000);
});
