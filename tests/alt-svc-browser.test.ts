// How a browser finds HTTP/3: Debian's Chromium (headless, playwright-core)
// loads a page over HTTPS/1.1 from the TCP side (ts/http1.ts), reads its
// `alt-svc: h3=":PORT"`, and reloads until the navigation goes over HTTP/3
// (`performance.getEntriesByType("navigation")[0].nextHopProtocol`).
//
// What Chromium needs for that, found here (Chromium 156):
//  1. The certificate trusted. The test certificate is self-signed; it is
//     trusted by its SPKI hash with --ignore-certificate-errors-spki-list
//     (honoured because playwright gives Chromium its own --user-data-dir).
//     That is enough for TCP, and Chromium does accept the alt-svc from that
//     response: it opens QUIC to the port (our server sees the connection).
//  2. But Chromium then refuses the same certificate over QUIC: QUIC only
//     accepts a certificate chaining to a *known* root (one of the public
//     roots Chromium ships), unless the host is listed in
//     --origin-to-force-quic-on (ProofVerifierChromium: result
//     ERR_QUIC_CERT_ROOT_NOT_KNOWN unless ShouldAllowUnknownRootForHost;
//     QuicSessionPool fills that list with the hosts of
//     origins_to_force_quic_on). An SPKI-trusted certificate is not from a
//     known root (by the same rule neither is one from a CA installed
//     locally, e.g. by mkcert; not tried here): the handshake fails with
//     CERTIFICATE_VERIFY_FAILED, alt-svc is marked broken and every load
//     stays on HTTP/1.1. The first test shows that, from the page, the
//     server's counters and Chromium's net-log.
//  3. The strongest setup it allows: the host exempted from the known-root
//     rule without forcing QUIC on our origin, i.e.
//     --origin-to-force-quic-on=127.0.0.1:<another port>. The list is by
//     host, so 127.0.0.1 may use an unknown root, while QUIC is forced only
//     on a port nobody visits; our origin is still discovered through
//     alt-svc. The second test shows the first load on http/1.1 and a
//     reload on h3. (Forcing QUIC on the origin itself would skip TCP and
//     alt-svc altogether, which is what this test is not about.)
//  4. The page is loaded as https://127.0.0.1, not https://localhost:
//     Chromium resolved "localhost" to ::1 first for QUIC and did not fall
//     back to 127.0.0.1 (the QUIC write failed, connection refused), while
//     TCP did. A server meant for "localhost" in a browser should bind
//     hostname "::" (IPv6 and IPv4); the third test does, and it works.
// A certificate from a public CA for a real name needs none of the flags.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { chromium, type Browser, type Page } from "playwright-core";
import { createHash, createPublicKey } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serve, type Server } from "../ts/index.ts";
import { H3Request } from "../ts/request.ts";
import { makeCertificate } from "./helpers/certs.ts";

const CHROMIUM = "/usr/bin/chromium";
// As tests/browser.test.ts: headless as root on a closed network; never --disable-quic.
const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"];
const MAX_LOADS = 20;

const certs = makeCertificate();
/** base64 SHA-256 of the certificate's SubjectPublicKeyInfo, as --ignore-certificate-errors-spki-list wants it. */
const spki = createHash("sha256")
  .update(createPublicKey(readFileSync(certs.cert)).export({ type: "spki", format: "der" }))
  .digest("base64");
const trustFlag = `--ignore-certificate-errors-spki-list=${spki}`;

let server: Server;
const served = { tcp: 0, h3: 0 };
const page = `<!doctype html><html><head><meta charset="utf-8"><title>alt-svc</title><link rel="icon" href="data:,"></head><body>served</body></html>`;
let netlogDir: string;

beforeAll(() => {
  netlogDir = mkdtempSync(join(tmpdir(), "zig-h3-netlog-"));
  server = serve({
    port: 0,
    hostname: "127.0.0.1",
    tls: { cert: certs.cert, key: certs.key },
    routes: {
      "/": (req) => {
        served[req instanceof H3Request ? "h3" : "tcp"]++;
        return new Response(page, { headers: { "content-type": "text/html;charset=utf-8" } });
      },
    },
  });
});

afterAll(async () => {
  await server?.stop(true);
  rmSync(netlogDir, { recursive: true, force: true });
});

const pageUrl = () => `https://127.0.0.1:${server.port}/`;
const nextHop = (p: Page) => p.evaluate(() => (performance.getEntriesByType("navigation")[0] as PerformanceNavigationTiming).nextHopProtocol);

/** Loads the page, then reloads it until a load goes over h3 or `max` loads are done; returns each load's protocol. */
async function loadUntilH3(p: Page, max: number): Promise<string[]> {
  const seen: string[] = [];
  for (let i = 0; i < max; i++) {
    const response = i === 0 ? await p.goto(pageUrl()) : await p.reload();
    expect(response?.status()).toBe(200);
    expect(await p.textContent("body")).toBe("served");
    seen.push(await nextHop(p));
    if (seen.at(-1) === "h3") break;
    // Give the QUIC handshake Chromium started for the alt-svc a moment;
    // only the count of loads is bounded, not the time.
    await Bun.sleep(100);
  }
  return seen;
}

/** Chromium's net-log events, with their type names. */
function readNetLog(path: string): { type: string; params: Record<string, unknown> }[] {
  const text = readFileSync(path, "utf8");
  let log: { constants: { logEventTypes: Record<string, number> }; events: { type: number; params?: Record<string, unknown> }[] };
  try {
    log = JSON.parse(text);
  } catch {
    // A log cut short lacks its closing brackets.
    log = JSON.parse(text.replace(/,\s*$/, "") + "]}");
  }
  const names = new Map(Object.entries(log.constants.logEventTypes).map(([name, id]) => [id, name]));
  return log.events.map((event) => ({ type: names.get(event.type) ?? String(event.type), params: event.params ?? {} }));
}

async function withBrowser<T>(args: string[], run: (p: Page) => Promise<T>): Promise<T> {
  let browser: Browser | undefined;
  try {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: [...FLAGS, ...args] });
    return await run(await browser.newPage());
  } finally {
    await browser?.close();
  }
}

test("SPKI trust alone: Chromium takes the alt-svc and opens QUIC, then refuses the certificate there (no known root); every load stays http/1.1", async () => {
  const netlog = join(netlogDir, "spki-only.json");
  const before = { ...served, stats: server.stats() };
  const seen = await withBrowser([trustFlag, `--log-net-log=${netlog}`, "--net-log-capture-mode=Everything"], (p) => loadUntilH3(p, 6));
  const stats = server.stats();
  console.log(`SPKI trust only: loads went over ${JSON.stringify(seen)}; QUIC connections the server accepted: ${stats.connections_accepted - before.stats.connections_accepted}, HTTP/3 requests: ${stats.requests_received - before.stats.requests_received}`);

  expect(seen).toEqual(Array(6).fill("http/1.1"));
  expect(served.tcp - before.tcp).toBe(6);
  expect(served.h3 - before.h3).toBe(0);
  // Chromium did come to the UDP port the alt-svc named (a QUIC handshake
  // reached the server) but sent no request over it.
  expect(stats.connections_accepted - before.stats.connections_accepted).toBeGreaterThanOrEqual(1);
  expect(stats.requests_received - before.stats.requests_received).toBe(0);

  const events = readNetLog(netlog);
  const altSvcFound = events.filter((e) => e.type === "HTTP_STREAM_JOB_CONTROLLER_ALT_SVC_FOUND").map((e) => String(e.params.alt_svc));
  expect(altSvcFound.some((value) => value.startsWith(`quic 127.0.0.1:${server.port}`))).toBe(true);
  const closed = events.filter((e) => e.type === "QUIC_SESSION_CLOSED").map((e) => String(e.params.details));
  console.log(`Chromium's net-log: alt-svc found ${JSON.stringify(altSvcFound[0])}; QUIC session closed: ${JSON.stringify(closed[0])}`);
  expect(closed.length).toBeGreaterThanOrEqual(1);
  expect(closed.every((details) => details.includes("CERTIFICATE_VERIFY_FAILED"))).toBe(true);
  // After the failure Chromium marks the alternative broken.
  expect(events.some((e) => e.type === "HTTP_STREAM_JOB_CONTROLLER_ALT_SVC_FOUND" && e.params.is_broken === true)).toBe(true);
}, 120_000);

test("SPKI trust + 127.0.0.1 exempted from the known-root rule (QUIC forced only on another port): the first load is http/1.1, alt-svc moves a reload to h3", async () => {
  const decoy = server.port === 9 ? 10 : 9;
  const flags = [trustFlag, `--origin-to-force-quic-on=127.0.0.1:${decoy}`];
  const before = { ...served, requests: server.stats().requests_received };
  const seen = await withBrowser(flags, (p) => loadUntilH3(p, MAX_LOADS));
  console.log(`Chromium flags: ${flags.join(" ")}; loads went over ${JSON.stringify(seen)}`);

  // Not forced: the first load found the server over TCP...
  expect(seen[0]).toBe("http/1.1");
  // ...and a later one, through the alt-svc, over HTTP/3.
  if (seen.at(-1) !== "h3") throw new Error(`no load went over h3 in ${MAX_LOADS}: ${JSON.stringify(seen)}`);
  expect(served.tcp - before.tcp).toBe(seen.filter((protocol) => protocol === "http/1.1").length);
  expect(served.h3 - before.h3).toBeGreaterThanOrEqual(1);
  expect(server.stats().requests_received - before.requests).toBeGreaterThanOrEqual(1);
}, 120_000);

test('https://localhost with hostname "::" (IPv6 and IPv4): the same discovery; Chromium tries ::1 first for QUIC', async () => {
  const dual = serve({ port: 0, hostname: "::", tls: { cert: certs.cert, key: certs.key }, routes: { "/": () => new Response(page, { headers: { "content-type": "text/html;charset=utf-8" } }) } });
  try {
    const decoy = dual.port === 9 ? 10 : 9;
    const seen = await withBrowser([trustFlag, `--origin-to-force-quic-on=localhost:${decoy}`], async (p) => {
      const protocols: string[] = [];
      for (let i = 0; i < MAX_LOADS; i++) {
        const response = i === 0 ? await p.goto(`https://localhost:${dual.port}/`) : await p.reload();
        expect(response?.status()).toBe(200);
        protocols.push(await nextHop(p));
        if (protocols.at(-1) === "h3") break;
        await Bun.sleep(100);
      }
      return protocols;
    });
    console.log(`https://localhost, server bound to "::": loads went over ${JSON.stringify(seen)}`);
    expect(seen[0]).toBe("http/1.1");
    if (seen.at(-1) !== "h3") throw new Error(`no load went over h3 in ${MAX_LOADS}: ${JSON.stringify(seen)}`);
    expect(dual.stats().requests_received).toBeGreaterThanOrEqual(1);
  } finally {
    await dual.stop(true);
  }
}, 120_000);
