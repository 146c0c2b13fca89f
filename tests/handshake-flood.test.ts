// Handshake floods (issue 7, items 1 and 2): state and memory stay bounded
// and a real client is served throughout.
//
// * 3,000 full-size Initials with garbage payloads: each attempt is freed as
//   soon as its Initial fails to decrypt (none lingers until the idle
//   timeout).
// * 3,000 valid half-open handshakes (aioquic builds a real ClientHello for
//   each, then never speaks again): connections stay under the caps, the
//   excess is refused with CONNECTION_REFUSED, the half-open connections are
//   freed by the idle timeout, and the server's RSS (a server in a child
//   process, read from /proc) stays under a bound derived from the size of a
//   half-open connection.
// * The same flood with enable_retry: every flooder gets one Retry and the
//   server keeps nothing for it, so connections and RSS stay flat.
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { serve } from "../ts/index.ts";
import { makeCertificate } from "./helpers/certs.ts";
import { gtlsclient, h3fetch } from "./helpers/clients.ts";

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

const root = join(import.meta.dir, "..");
type Stats = ReturnType<Awaited<ReturnType<typeof serve>>["stats"]>;

/**
 * What a half-open connection (quiche's connection, BoringSSL's handshake
 * state, the server's first flight kept for retransmission) may cost in
 * RSS. Measured at 33-38 KiB (the figure this test prints); the budget
 * leaves room for allocator slack. 3,000 of them would be about 100 MiB, so a
 * flood that escaped the cap would break the bound below.
 */
const half_open_budget_kib = 64;
/**
 * Growth allowed when no connection state may be made at all: the child's
 * JS heap and allocator noise (an idle child grows by under 0.2 MiB in
 * 25 s once its stats path is warm). Less than 3 % of what state for the
 * 3,000 flooders would take.
 */
const flat_budget_kib = 2 * 1024;

async function* lines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const chunk of stream) {
    buffer += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buffer.indexOf("\n")) >= 0) {
      yield buffer.slice(0, end);
      buffer = buffer.slice(end + 1);
    }
  }
}

/**
 * A server in a child process, so its RSS is its own. It prints its stats
 * every 50 ms; each line also samples the child's VmRSS, so the peak of
 * both is tracked while the test does other things.
 */
class ServerProcess {
  port = 0;
  latest: Stats | null = null;
  maxActive = 0;
  peakRssKiB = 0;
  #child: ReturnType<typeof Bun.spawn> & { stdout: ReadableStream<Uint8Array> };

  constructor(limits: Record<string, number | boolean>) {
    const script = `import { serve } from ${JSON.stringify(join(root, "ts", "index.ts"))};
const server = serve({ port: 0, logLevel: "error", tls: ${JSON.stringify({ cert: tls.cert, key: tls.key })}, limits: ${JSON.stringify(limits)}, routes: { "/hello": () => new Response("ok") } });
// Tier the stats path up in the JIT now: done lazily, it grows RSS by a
// few MiB mid-test and would read as flood.
for (let i = 0; i < 20000; i++) JSON.stringify(server.stats());
console.log(server.port);
setInterval(() => console.log(JSON.stringify(server.stats())), 50);
process.on("SIGTERM", () => server.stop().then(() => process.exit(0)));`;
    this.#child = Bun.spawn([process.execPath, "-e", script], { stdout: "pipe", stderr: "inherit" });
  }

  async start(): Promise<this> {
    const reader = lines(this.#child.stdout);
    this.port = Number((await reader.next()).value);
    expect(this.port).toBeGreaterThan(0);
    (async () => {
      for await (const line of reader) {
        this.latest = JSON.parse(line) as Stats;
        this.maxActive = Math.max(this.maxActive, this.latest.connections_active);
        this.peakRssKiB = Math.max(this.peakRssKiB, this.rssKiB());
      }
    })();
    while (!this.latest) await Bun.sleep(10);
    return this;
  }

  /**
   * Serves one request first, so that what the first request costs the
   * child once (JIT, the JS side of a request) is not counted as flood,
   * then starts tracking the peak from the current RSS.
   */
  async warmBaseline(): Promise<number> {
    await expectServed(this.port);
    await Bun.sleep(300);
    this.peakRssKiB = this.rssKiB();
    this.maxActive = (await this.stats()).connections_active;
    return this.peakRssKiB;
  }

  rssKiB(): number {
    return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${this.#child.pid}/status`, "utf8"))![1]);
  }

  /** Stats printed after this call (so they reflect everything done before it). */
  async stats(): Promise<Stats> {
    const seen = this.latest;
    while (this.latest === seen) await Bun.sleep(5);
    return this.latest!;
  }

  async [Symbol.asyncDispose]() {
    this.#child.kill("SIGTERM");
    await this.#child.exited;
  }
}

type FloodResult = { count: number; sent_bytes: number; refused: number; answered: number; retried: number; silent: number; other: number; received_datagrams: number; received_bytes: number };

/** Runs tests/clients/half_open_flood.py; see there for what each outcome means. */
class Flood {
  #child;
  #lines: AsyncGenerator<string>;

  constructor(port: number, count: number, bindIp: string, listenMs: number, goOnStdin = false) {
    const args = [join(root, ".venv", "bin", "python"), join(root, "tests", "clients", "half_open_flood.py"), "127.0.0.1", String(port), String(count), bindIp, String(listenMs)];
    this.#child = Bun.spawn(goOnStdin ? [...args, "--go-on-stdin"] : args, { stdin: "pipe", stdout: "pipe", stderr: "inherit" });
    this.#lines = lines(this.#child.stdout);
  }

  async expectLine(prefix: string) {
    const { value } = await this.#lines.next();
    expect(value ?? "(flood script ended)").toStartWith(prefix);
  }

  go() {
    this.#child.stdin.write("go\n");
    this.#child.stdin.flush();
  }

  async result(): Promise<FloodResult> {
    const { value } = await this.#lines.next();
    expect(await this.#child.exited).toBe(0);
    return JSON.parse(value!) as FloodResult;
  }
}

/**
 * A healthy client on a connection of its own: gtlsclient is a new process
 * each time, so it cannot reuse a pooled connection (Bun's fetch would),
 * and it closes its connection when it exits.
 */
async function expectServed(port: number) {
  const result = await gtlsclient("127.0.0.1", port, "/hello");
  expect(result.status).toBe(200);
  expect(new TextDecoder().decode(result.body)).toBe("ok");
}

const mib = (kib: number) => `${(kib / 1024).toFixed(1)} MiB`;

test("3,000 valid half-open handshakes: capped, excess refused with CONNECTION_REFUSED, freed by the idle timeout, RSS bounded, a real client served", async () => {
  // The flood comes from 127.0.0.2, the second wave from 127.0.0.3 and the
  // healthy client from 127.0.0.1. The per-IP cap is what keeps room for
  // the healthy client; the second wave then fills the global cap.
  const limits = { max_connections: 1000, max_connections_per_ip: 900, idle_timeout_ms: 8000 };
  await using server = await new ServerProcess(limits).start();
  const before = await server.warmBaseline();

  const flood = new Flood(server.port, 3000, "127.0.0.2", 2000);
  const wave = new Flood(server.port, 300, "127.0.0.3", 1000, true); // builds its flights meanwhile
  await flood.expectLine("sent 3000");
  await expectServed(server.port); // a new connection, while the half-open connections are there
  const first = await flood.result();
  expect(first).toMatchObject({ count: 3000, answered: 900, refused: 2100, silent: 0, retried: 0, other: 0 });
  let stats = await server.stats();
  expect(stats.connections_refused).toBe(2100); // each one seen by aioquic as CONNECTION_REFUSED
  expect(stats.connections_accepted).toBe(1 + 900 + 1); // warm-up, flood, healthy client

  await wave.expectLine("ready");
  wave.go();
  await wave.expectLine("sent 300");
  const second = await wave.result();
  expect(second.silent + second.other + second.retried).toBe(0);
  expect(second.answered + second.refused).toBe(300);
  expect(second.refused).toBeGreaterThan(0);
  stats = await server.stats();
  expect(stats.connections_active).toBe(limits.max_connections); // full, never over
  expect(stats.connections_refused).toBe(2100 + second.refused);
  expect(server.maxActive).toBeLessThanOrEqual(limits.max_connections);
  const peak = server.peakRssKiB;
  const peakActive = server.maxActive;

  // Nobody answers the handshakes, so the idle timeout frees them all.
  for (let i = 0; i < 300 && (await server.stats()).connections_active > 1; i++) await Bun.sleep(100);
  stats = await server.stats();
  expect(stats.connections_active).toBeLessThanOrEqual(1);
  const after = server.rssKiB();
  const bound = before + limits.max_connections * half_open_budget_kib;
  console.log(`half-open flood, retry off: RSS before ${mib(before)}, peak ${mib(peak)} with ${peakActive} connections (${((peak - before) / peakActive).toFixed(1)} KiB each), after ${mib(after)} with ${stats.connections_active}; bound ${mib(bound)}`);
  expect(peak).toBeLessThanOrEqual(bound);
  await expectServed(server.port);

  // Freed memory is reused: a second flood up to the per-IP cap does not
  // raise the peak (a leak per connection would).
  const again = new Flood(server.port, 1000, "127.0.0.2", 1000);
  await again.expectLine("sent 1000");
  expect(await again.result()).toMatchObject({ answered: 900, refused: 100, silent: 0 });
  const peakAgain = server.peakRssKiB;
  console.log(`half-open flood, retry off, second flood after the first was freed: peak ${mib(peakAgain)}`);
  expect(peakAgain).toBeLessThanOrEqual(peak + flat_budget_kib);
}, 90_000);

test("the same flood with enable_retry: one Retry each, no connection state, RSS flat, a real client served", async () => {
  const limits = { max_connections: 1000, enable_retry: true, idle_timeout_ms: 8000 };
  await using server = await new ServerProcess(limits).start();
  const before = await server.warmBaseline();

  const flood = new Flood(server.port, 3000, "127.0.0.2", 2000);
  await flood.expectLine("sent 3000");
  await expectServed(server.port); // a new connection, through its own Retry, during the flood
  const result = await flood.result();
  // aioquic validated every Retry's integrity tag.
  expect(result).toMatchObject({ count: 3000, retried: 3000, answered: 0, refused: 0, silent: 0, other: 0 });
  expect(result.received_bytes).toBeLessThan(result.sent_bytes);
  const stats = await server.stats();
  expect(stats.retries_sent).toBeGreaterThanOrEqual(1 + 3000 + 1);
  expect(stats.connections_accepted).toBe(2); // the warm-up and the healthy client only
  expect(stats.connections_refused).toBe(0);
  expect(stats.retry_tokens_rejected).toBe(0);
  expect(server.maxActive).toBeLessThanOrEqual(1);
  const peak = server.peakRssKiB;
  const after = server.rssKiB();
  const bound = before + flat_budget_kib;
  console.log(`half-open flood, retry on: RSS before ${mib(before)}, peak ${mib(peak)}, after ${mib(after)}; at most ${server.maxActive} connection(s); ${result.received_bytes} bytes of Retry for ${result.sent_bytes} bytes of Initials; bound ${mib(bound)}`);
  expect(peak).toBeLessThanOrEqual(bound);
}, 90_000);
