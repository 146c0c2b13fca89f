// A flood of full-size Initials with random connection IDs and garbage
// payloads (issue 7, item 2): state stays bounded by max_connections, each
// attempt is freed as soon as its Initial fails to decrypt (none lingers
// until the idle timeout), and a real client is served throughout. A flood
// of *valid* half-open handshakes, which would wait for the idle timeout,
// is not covered yet.
import { expect, test } from "bun:test";
import { serve } from "../ts/index.ts";
import { makeCertificate } from "./helpers/certs.ts";
import { h3fetch } from "./helpers/clients.ts";

const tls = makeCertificate();

function garbageInitial(): Uint8Array {
  const packet = crypto.getRandomValues(new Uint8Array(1200));
  packet[0] = 0xc0 | (packet[0]! & 0x0f); // long header, Initial
  new DataView(packet.buffer).setUint32(1, 1); // QUIC v1
  packet[5] = 8; // DCID length, random DCID follows
  packet[14] = 8; // SCID length
  return packet;
}

test("3,000 garbage Initials: bounded, freed at once, a real client served throughout", async () => {
  await using server = serve({ port: 0, tls, limits: { max_connections: 1000, idle_timeout_ms: 1000 }, routes: { "/hello": () => new Response("ok") } });
  const socket = await Bun.udpSocket({});
  for (let i = 0; i < 3000; i++) {
    socket.send(garbageInitial(), server.port, "127.0.0.1");
    if (i % 200 === 0) await Bun.sleep(2);
  }
  socket.close();
  await Bun.sleep(100);
  const during = server.stats();
  expect(during.connections_active).toBeLessThanOrEqual(1000);
  expect(during.connections_accepted + during.connections_refused).toBeGreaterThan(0);
  // Served while the half-open connections are still there.
  expect(await (await h3fetch(new URL("/hello", server.url))).text()).toBe("ok");
  // Nothing of the flood is left; the healthy client's own connection may
  // still be open until its idle timeout.
  for (let i = 0; i < 100 && server.stats().connections_active > 1; i++) await Bun.sleep(50);
  expect(server.stats().connections_active).toBeLessThanOrEqual(1);
  expect(await (await h3fetch(new URL("/hello", server.url))).text()).toBe("ok");
}, 60_000);
