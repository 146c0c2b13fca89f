// Hostile datagrams at the packet level (issue 7, item 3): random garbage,
// truncated Initials and unknown QUIC versions. Nothing crashes, unknown
// versions get a Version Negotiation packet (RFC 9000 17.2.1), and a healthy
// client is served right after.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { serve, type Server } from "../ts/index.ts";
import { makeCertificate } from "./helpers/certs.ts";
import { h3fetch } from "./helpers/clients.ts";

const tls = makeCertificate();
let server: Server;
beforeAll(() => {
  server = serve({ port: 0, tls, routes: { "/hello": () => new Response("still here") } });
});
afterAll(() => server.stop());

async function expectHealthy() {
  const response = await h3fetch(new URL("/hello", server.url));
  expect(response.status).toBe(200);
  expect(await response.text()).toBe("still here");
}

/** A long-header packet (first byte, version, DCID, SCID, then zeros), cut to `totalLength`. */
function longHeader(firstByte: number, version: number, dcid: Uint8Array, scid: Uint8Array, totalLength: number): Uint8Array {
  const packet = new Uint8Array(Math.max(totalLength, 7 + dcid.length + scid.length));
  packet[0] = firstByte;
  new DataView(packet.buffer).setUint32(1, version);
  packet[5] = dcid.length;
  packet.set(dcid, 6);
  packet[6 + dcid.length] = scid.length;
  packet.set(scid, 7 + dcid.length);
  return packet.subarray(0, totalLength);
}

test("10,000 random datagrams: nothing crashes, and a real client is served after", async () => {
  const socket = await Bun.udpSocket({});
  const before = server.stats().packets_received;
  for (let i = 0; i < 10_000; i++) {
    const garbage = crypto.getRandomValues(new Uint8Array(1 + Math.floor(Math.random() * 1400)));
    socket.send(garbage, server.port, "127.0.0.1");
    if (i % 500 === 0) await Bun.sleep(1); // let the kernel buffer drain
  }
  socket.close();
  for (let i = 0; i < 100 && server.stats().packets_received - before < 9_000; i++) await Bun.sleep(10);
  expect(server.stats().packets_received - before).toBeGreaterThan(9_000);
  expect(server.stats().connections_active).toBe(0);
  await expectHealthy();
});

test("truncated and undersized Initials are dropped without a connection", async () => {
  const socket = await Bun.udpSocket({});
  const accepted = server.stats().connections_accepted;
  const dcid = crypto.getRandomValues(new Uint8Array(8));
  const scid = crypto.getRandomValues(new Uint8Array(8));
  for (const length of [7, 20, 60, 300, 1199]) socket.send(longHeader(0xc0, 1, dcid, scid, length), server.port, "127.0.0.1");
  // A full-size Initial whose payload is garbage: accepted as a new
  // connection attempt by quiche, which then fails to decrypt it.
  socket.send(longHeader(0xc0, 1, dcid, scid, 1200), server.port, "127.0.0.1");
  await Bun.sleep(200);
  socket.close();
  expect(server.stats().connections_accepted - accepted).toBeLessThanOrEqual(1);
  await expectHealthy();
});

test("an unknown version gets Version Negotiation listing QUIC v1", async () => {
  const replies: Uint8Array[] = [];
  const socket = await Bun.udpSocket({ socket: { data: (_socket, data) => void replies.push(new Uint8Array(data)) } });
  const dcid = crypto.getRandomValues(new Uint8Array(8));
  const scid = crypto.getRandomValues(new Uint8Array(5));
  socket.send(longHeader(0xc0, 0x1a2a3a4a, dcid, scid, 1200), server.port, "127.0.0.1");
  for (let i = 0; i < 100 && replies.length === 0; i++) await Bun.sleep(10);
  socket.close();
  expect(replies.length).toBe(1);
  const reply = replies[0]!;
  const view = new DataView(reply.buffer, reply.byteOffset, reply.byteLength);
  expect(reply[0]! & 0x80).toBe(0x80); // long header
  expect(view.getUint32(1)).toBe(0); // version 0 = Version Negotiation
  // The client's connection IDs come back swapped.
  expect(reply[5]).toBe(scid.length);
  expect([...reply.subarray(6, 6 + scid.length)]).toEqual([...scid]);
  const at = 6 + scid.length;
  expect(reply[at]).toBe(dcid.length);
  expect([...reply.subarray(at + 1, at + 1 + dcid.length)]).toEqual([...dcid]);
  const versions: number[] = [];
  for (let v = at + 1 + dcid.length; v + 4 <= reply.length; v += 4) versions.push(view.getUint32(v));
  expect(versions).toContain(1);
  expect(server.stats().version_negotiations).toBeGreaterThanOrEqual(1);
  await expectHealthy();
});
