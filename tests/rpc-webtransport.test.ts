// zRPC over WebTransport from a real browser: Debian's Chromium, headless,
// driven by playwright-core, running the package's own browser client
// (ts/rpc/client-index.ts, bundled by Bun.build into the page) against a
// session at /zrpc. The page comes from the same server over HTTPS/1.1.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chromium, type Browser, type Page } from "playwright-core";
import { join } from "node:path";
import { serve, type Server } from "../ts/index.ts";
import { RpcServer } from "../ts/rpc/index.ts";
import { certificateHash, certificateSpki } from "../examples/webtransport/server.ts";
import { makeCertificate } from "./helpers/certs.ts";
import { blobs, echo, seen } from "./helpers/rpc-services.ts";

const CHROMIUM = "/usr/bin/chromium";
const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"];
const tls = makeCertificate();
let server: Server;
let browser: Browser;
let page: Page;

/** Runs `body` in the page, where `zrpc` is the bundled client module and `client`/`bytesClient` are connected. */
const inPage = <T>(body: string) => page.evaluate(`(async () => { const { zrpc, client, bytesClient } = window; ${body} })()`) as Promise<T>;

beforeAll(async () => {
  const bundle = await Bun.build({ entrypoints: [join(import.meta.dir, "..", "ts", "rpc", "client-index.ts")], target: "browser", format: "esm" });
  if (!bundle.success) throw new Error(bundle.logs.join("\n"));
  const clientJs = await bundle.outputs[0]!.text();
  const rpc = new RpcServer({ services: [echo, blobs], maxMessageBytes: 65 * 1024 * 1024 });
  server = serve({
    port: 0,
    tls,
    webtransport: true,
    routes: {
      "/": () => new Response(PAGE, { headers: { "content-type": "text/html" } }),
      "/zrpc-client.js": () => new Response(clientJs, { headers: { "content-type": "text/javascript" } }),
    },
  });
  server.webtransport("/zrpc", rpc.webtransport);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: [...FLAGS, `--ignore-certificate-errors-spki-list=${certificateSpki(tls.cert)}`] });
  page = await browser.newPage();
  await page.goto(`https://localhost:${server.port}/`);
  const opened = await page.evaluate(`window.connect(${server.port}, ${JSON.stringify(certificateHash(tls.cert))})`);
  expect(opened).toBe("connected");
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop(true);
});

const PAGE = `<!doctype html><meta charset="utf-8"><title>zRPC</title>
<script type="module">
import * as zrpc from "/zrpc-client.js";
window.zrpc = zrpc;
window.connect = async (port, hashHex) => {
  const value = new Uint8Array(hashHex.match(/../g).map((h) => parseInt(h, 16)));
  const transport = new WebTransport("https://127.0.0.1:" + port + "/zrpc", { serverCertificateHashes: [{ algorithm: "sha-256", value }] });
  await transport.ready;
  window.client = new zrpc.RpcClient(zrpc.webTransportChannel(transport));
  window.bytesClient = new zrpc.RpcClient(zrpc.webTransportChannel(transport), { codec: zrpc.bytesCodec, maxMessageBytes: 65 * 1024 * 1024 });
  return "connected";
};
</script>`;

describe("zRPC over WebTransport (Chromium)", () => {
  test("unary with metadata and a deadline", async () => {
    const reply = await inPage(`return client.unary("test.v1.Echo/say", { text: "from the browser" }, { metadata: { "x-user": "chromium" }, timeoutMs: 5000 });`);
    expect(reply).toEqual({ text: "from the browser", user: "chromium", deadline: true });
    expect(seen.transports.has("webtransport")).toBe(true);
  });

  test("server streaming: 10,000 messages in order", async () => {
    const result = await inPage<{ count: number; ordered: boolean }>(`
      let count = 0, ordered = true;
      for await (const m of client.serverStream("test.v1.Echo/count", { n: 10000 })) { if (m.i !== count) ordered = false; count++; }
      return { count, ordered };`);
    expect(result).toEqual({ count: 10_000, ordered: true });
  }, 60_000);

  test("server streaming holds the handler back while the page does not read (QUIC flow control through Chromium)", async () => {
    await inPage(`window.paused = client.serverStream("test.v1.Echo/count", { n: 10000000 }); return (await window.paused.next()).value;`);
    // The page stops reading. Chromium still takes what its stream buffer
    // holds (about 7 MB here), then flow control stops the server and the
    // handler's writes wait: the count of messages it produced stops moving.
    let producedWhilePaused = -1;
    for (let i = 0; i < 100 && producedWhilePaused !== seen.produced; i++) {
      producedWhilePaused = seen.produced;
      await Bun.sleep(300);
    }
    expect(seen.produced).toBe(producedWhilePaused);
    expect(producedWhilePaused).toBeLessThan(1_000_000);
    // Reading resumes it: the page reads past what was buffered, so the
    // handler must have produced at least that many.
    await inPage(`for (let i = 0; i < 1000000; i++) await window.paused.next(); return true;`);
    expect(seen.produced).toBeGreaterThanOrEqual(1_000_000);
    await inPage(`await window.paused.return(undefined); return true;`);
  }, 120_000);

  test("client streaming and bidirectional calls", async () => {
    const sum = await inPage(`return client.clientStream("test.v1.Echo/sum", Array.from({ length: 1000 }, (_, i) => i));`);
    expect(sum).toEqual({ total: 499_500, count: 1000 });
    const chat = await inPage(`const out = []; for await (const line of client.bidi("test.v1.Echo/chat", ["a", "bc", "déf"])) out.push(line); return out;`);
    expect(chat).toEqual(["A", "BC", "DÉF"]);
  });

  test("errors arrive with their code; an unknown method is UNIMPLEMENTED", async () => {
    const codes = await inPage(`
      const code = (p) => p.then(() => "OK", (e) => e.name + ":" + e.code + ":" + e.message);
      return [await code(client.unary("test.v1.Echo/say", { text: "x" }, { metadata: { "x-fail": "browser" } })), await code(client.unary("test.v1.Echo/nope", {}))];`);
    expect(codes).toEqual(["RpcError:PERMISSION_DENIED:refused: browser", "RpcError:UNIMPLEMENTED:unknown method test.v1.Echo/nope"]);
  });

  test("deadline expiry: DEADLINE_EXCEEDED in the page, the handler's signal aborts with it", async () => {
    seen.aborted.length = 0;
    const code = await inPage(`return client.unary("test.v1.Echo/hang", {}, { timeoutMs: 200 }).then(() => "OK", (e) => e.code);`);
    expect(code).toBe("DEADLINE_EXCEEDED");
    for (let i = 0; i < 200 && seen.aborted.length === 0; i++) await Bun.sleep(10);
    expect(seen.aborted).toContainEqual({ path: "test.v1.Echo/hang", code: "DEADLINE_EXCEEDED" });
  });

  test("cancellation: the page aborts, the stream is reset, the handler's signal aborts with CANCELLED", async () => {
    seen.aborted.length = 0;
    const result = await inPage<{ first: string; code: string }>(`
      const abort = new AbortController();
      const stream = client.serverStream("test.v1.Echo/hangStream", {}, { signal: abort.signal });
      const first = (await stream.next()).value;
      abort.abort();
      const code = await stream.next().then(() => "OK", (e) => e.code);
      return { first, code };`);
    expect(result).toEqual({ first: "first", code: "CANCELLED" });
    for (let i = 0; i < 200 && seen.aborted.length === 0; i++) await Bun.sleep(10);
    expect(seen.aborted).toContainEqual({ path: "test.v1.Echo/hangStream", code: "CANCELLED" });
    // The session goes on serving.
    expect(await inPage(`return client.unary("test.v1.Echo/say", { text: "again" });`)).toMatchObject({ text: "again" });
  });

  test("a 64 MiB message to the server, its SHA-256 back", async () => {
    const result = await inPage<{ hash: string; length: number; expected: string }>(`
      const data = new Uint8Array(64 * 1024 * 1024);
      for (let i = 0; i < data.length; i += 4096) data[i] = (i / 4096) & 255;
      const reply = await bytesClient.unary("test.v1.Blobs/digest", data);
      const expected = Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", data)), (b) => b.toString(16).padStart(2, "0")).join("");
      const hash = Array.from(reply.subarray(0, 32), (b) => b.toString(16).padStart(2, "0")).join("");
      return { hash, length: Number(new DataView(reply.buffer, reply.byteOffset + 32, 8).getBigUint64(0)), expected };`);
    expect(result.length).toBe(64 * 1024 * 1024);
    expect(result.hash).toBe(result.expected);
  }, 120_000);
});
