// Routable connection IDs (issue 15, item 2; draft-ietf-quic-load-balancers).
//
// A server configured with a QUIC-LB server ID chooses every connection ID
// of its own as first octet (config rotation | length), server ID, nonce,
// plaintext or encrypted with the fleet's key. aioquic, a client we did not
// write, connects, gets 200s, and prints the connection IDs the server gave
// it; this file decodes them the way a QUIC-LB-aware balancer would (its
// own decoder, not the library's) and finds the configured server ID.
// The draft's test vectors are unit tests in zig-src/quic/quic_lb.zig.
import { describe, expect, test } from "bun:test";
import { createDecipheriv } from "node:crypto";
import { join } from "node:path";
import { serve } from "../ts/index.ts";
import { makeCertificate } from "./helpers/certs.ts";

const tls = makeCertificate();
const root = join(import.meta.dir, "..");
const python = join(root, ".venv", "bin", "python");
const body = "routed\n";
const routes = { "/lb": () => new Response(body) };

interface Seen {
  statuses: number[];
  bodies: string[];
  server_cids: string[];
}

async function aioquicCids(port: number, requests: number): Promise<Seen> {
  const script = join(root, "tests", "clients", "quic_lb_cids.py");
  const child = Bun.spawn([python, script, "127.0.0.1", String(port), "/lb", String(requests)], { stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, exitCode] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  if (exitCode !== 0) throw new Error(`quic_lb_cids.py failed (${exitCode}): ${stderr.slice(-2000)}`);
  return JSON.parse(stdout) as Seen;
}

interface LbConfig {
  configRotation: number;
  serverIdLen: number;
  nonceLen: number;
  keyHex?: string;
}

/**
 * What a QUIC-LB load balancer reads from a connection ID: null when the
 * config rotation bits are not ours. Plaintext, and the single-pass AES
 * case (server ID + nonce = 16 bytes) for encrypted configs.
 */
function balancerServerId(cidHex: string, config: LbConfig): string | null {
  const cid = Buffer.from(cidHex, "hex");
  if (cid.length !== 1 + config.serverIdLen + config.nonceLen) return null;
  if (cid[0]! >> 5 !== config.configRotation) return null;
  let plaintext = cid.subarray(1);
  if (config.keyHex !== undefined) {
    if (plaintext.length !== 16) throw new Error("this decoder only knows the single-pass case");
    const decipher = createDecipheriv("aes-128-ecb", Buffer.from(config.keyHex, "hex"), null);
    decipher.setAutoPadding(false);
    plaintext = Buffer.concat([decipher.update(plaintext), decipher.final()]);
  }
  return plaintext.subarray(0, config.serverIdLen).toString("hex");
}

describe("QUIC-LB connection IDs", () => {
  test("plaintext: every server CID aioquic sees carries the server id and self-encodes its length", async () => {
    const serverIdHex = "0a0b0c";
    const config = { configRotation: 2, serverIdLen: 3, nonceLen: 6 };
    await using server = serve({
      port: 0,
      tls,
      routes,
      limits: { quicLbServerIdHex: serverIdHex, quicLbNonceLen: config.nonceLen, quicLbConfigRotation: config.configRotation },
    });
    const seen = await aioquicCids(server.port, 3);
    expect(seen.statuses).toEqual([200, 200, 200]);
    expect(seen.bodies).toEqual([body, body, body]);
    expect(seen.server_cids.length).toBeGreaterThan(0);
    for (const cid of seen.server_cids) {
      expect(cid.length).toBe(2 * (1 + 3 + 6));
      // First octet: config rotation 2 in the top 3 bits, length 9 below.
      expect(Number.parseInt(cid.slice(0, 2), 16)).toBe((2 << 5) | 9);
      expect(balancerServerId(cid, config)).toBe(serverIdHex);
    }
  });

  test("encrypted (single-pass AES-128-ECB) behind a Retry: the balancer decrypts the server id, a fresh nonce per connection", async () => {
    const serverIdHex = "00000000000000a7";
    const keyHex = "8f95f09245765f80256934e50c66207f";
    const config = { configRotation: 1, serverIdLen: 8, nonceLen: 8, keyHex };
    await using server = serve({
      port: 0,
      tls,
      routes,
      limits: { quicLbServerIdHex: serverIdHex, quicLbNonceLen: 8, quicLbConfigRotation: 1, quicLbKeyHex: keyHex, enableRetry: true },
    });
    const first = await aioquicCids(server.port, 1);
    const second = await aioquicCids(server.port, 1);
    expect(first.statuses).toEqual([200]);
    expect(second.statuses).toEqual([200]);
    expect(server.stats().retries_sent).toBeGreaterThanOrEqual(2);
    for (const cid of [...first.server_cids, ...second.server_cids]) {
      expect(cid.length).toBe(34);
      expect(balancerServerId(cid, config)).toBe(serverIdHex);
      // Encrypted: the server id does not show in the clear.
      expect(cid.slice(2, 18)).not.toBe(serverIdHex);
    }
    expect(first.server_cids[0]).not.toBe(second.server_cids[0]);
  });

  test("settings outside the draft's bounds are refused", () => {
    // Server ID + nonce over 19 bytes; a 3-byte nonce; the reserved codepoint 7;
    // a short key; a key without a server id; a server id that is not hex.
    const bad = [
      { quicLbServerIdHex: "00".repeat(12), quicLbNonceLen: 8 },
      { quicLbServerIdHex: "01", quicLbNonceLen: 3 },
      { quicLbServerIdHex: "01", quicLbConfigRotation: 7 },
      { quicLbServerIdHex: "01", quicLbKeyHex: "0011" },
      { quicLbKeyHex: "00".repeat(16) },
      { quicLbServerIdHex: "0g" },
    ];
    for (const limits of bad) expect(() => serve({ port: 0, tls, routes, limits })).toThrow();
  });
});
