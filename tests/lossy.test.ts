// Lossy networks (issue 7, item 5): transfers through a relay that drops,
// delays (50 ms round trip) and reorders datagrams arrive sha256-exact in
// both directions, nothing deadlocks, and datagram loss tracks the relay's.
// 8 MiB here; `SIZE=67108864 bun test tests/lossy.test.ts` for 64 MiB.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import type { Server } from "../ts/index.ts";
import { startShowcase } from "../examples/showcase.ts";
import { expectPatternDownload } from "./helpers/downloads.ts";
import { makeCertificate } from "./helpers/certs.ts";
import { h3fetch } from "./helpers/clients.ts";
import { lossyRelay, type LossyRelay } from "./helpers/lossy-relay.ts";

const tls = makeCertificate();
const size = Number(process.env.SIZE ?? 8 * 1024 * 1024);
const root = join(import.meta.dir, "..");
let server: Server;
beforeAll(() => {
  server = startShowcase({ port: 0, tls });
});
afterAll(() => server.stop());

for (const loss of [0.01, 0.05]) {
  describe(`${loss * 100} % loss, 50 ms RTT, reordering`, () => {
    let relay: LossyRelay;
    beforeAll(async () => {
      relay = await lossyRelay({ host: "127.0.0.1", port: server.port }, { loss, delayMs: 25, jitterMs: 5, seed: 7 });
    });
    afterAll(() => relay.close());
    const url = (path: string) => `https://127.0.0.1:${relay.port}${path}`;

    // At 5 % loss cubic crawls: half the size keeps the run short.
    const transfer = loss > 0.02 ? size / 2 : size;

    test("a download arrives sha256-exact", async () => {
      const size = transfer;
      await expectPatternDownload(url(`/bytes/${size}`), size);
      expect(relay.dropped).toBeGreaterThan(0);
    }, 300_000);

    test("an upload arrives sha256-exact", async () => {
      const body = new Uint8Array(transfer / 2).map((_, i) => (i * 13) % 256);
      const response = await h3fetch(url("/sha256"), { method: "POST", body });
      expect(response.status).toBe(200);
      expect((await response.text()).trim()).toBe(new Bun.CryptoHasher("sha256").update(body).digest("hex"));
    }, 300_000);

    test("datagram loss tracks the network's", async () => {
      const count = 300;
      const child = Bun.spawn([join(root, ".venv", "bin", "python"), join(root, "tests", "clients", "h3_datagrams.py"), "127.0.0.1", String(relay.port), "quic-echo", String(count)], {
        stdout: "pipe",
        stderr: "pipe",
        // 50 ms round trips: after half a second an echo is lost, not late.
        env: { ...process.env, ECHO_TIMEOUT: "0.5" },
      });
      const [stdout, exitCode] = await Promise.all([new Response(child.stdout).text(), child.exited]);
      expect(exitCode).toBe(0);
      const echoed: number = JSON.parse(stdout).echoed;
      // An echo crosses the relay twice: expected success (1 - loss)^2.
      const expectedRate = (1 - loss) ** 2;
      const rate = echoed / count;
      console.log(`${loss * 100} % loss each way: ${echoed}/${count} echoed (${(rate * 100).toFixed(1)} %, expected ${(expectedRate * 100).toFixed(1)} %)`);
      expect(Math.abs(rate - expectedRate)).toBeLessThan(0.06);
    }, 300_000);
  });
}
