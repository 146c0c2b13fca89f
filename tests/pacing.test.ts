// Pacing (issue 15, item 4): quiche's pacer gives every packet a send time
// (send_info.at); with `enablePacing` the library asks the kernel for
// SO_TXTIME and attaches that time to each message (SCM_TXTIME), so the fq
// qdisc holds each packet until then. What a test can observe without fq
// (loopback has no qdisc, and changing one needs privileges) is that the
// kernel took every message with its send time (packets_paced), and that
// the pacer spread the packets out: some send times lay ahead of the moment
// the packet was handed to the kernel (packets_paced_ahead). quiche 0.28
// paces only with BBR ("bbr2", "bbr2_gcongestion"); its cubic and reno
// give every packet "now". The relay adds a 10 ms delay each way, so the
// path has a round-trip time for the pacer to spread a window over.
import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { serve } from "../ts/index.ts";
import { makeCertificate } from "./helpers/certs.ts";
import { lossyRelay } from "./helpers/lossy-relay.ts";

const tls = makeCertificate();
const root = join(import.meta.dir, "..");
const size = 3 * 1024 * 1024;
const payload = new Uint8Array(size).map((_, i) => (i * 7 + (i >>> 10)) & 0xff);
const digest = createHash("sha256").update(payload).digest("hex");

async function bulkTransfer(limits: Record<string, unknown>) {
  await using server = serve({ port: 0, tls, limits, routes: { "/bulk": () => new Response(payload) } });
  const relay = await lossyRelay({ host: "127.0.0.1", port: server.port }, { loss: 0, delayMs: 10, jitterMs: 0 });
  try {
    const spec = { host: "127.0.0.1", port: relay.port, paths: ["/bulk"] };
    const child = Bun.spawn([join(root, ".venv", "bin", "python"), join(root, "tests", "clients", "interop_aioquic.py"), JSON.stringify(spec)], { stdout: "pipe", stderr: "pipe" });
    const [stdout, stderr, exitCode] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
    if (exitCode !== 0) throw new Error(`interop_aioquic.py failed: ${stderr.slice(-2000)}`);
    const [connection] = JSON.parse(stdout).connections;
    expect(connection.error).toBeNull();
    expect(connection.responses).toEqual([{ path: "/bulk", status: 200, length: size, sha256: digest }]);
    const stats = server.stats();
    console.log(`${JSON.stringify(limits)}: ${stats.packets_sent} packets sent, ${stats.packets_paced} with a send time, ${stats.packets_paced_ahead} of them ahead of the moment they were handed over`);
    return stats;
  } finally {
    relay.close();
  }
}

describe("pacing", () => {
  test("on (BBR): every packet carries its send time, and the pacer put some ahead", async () => {
    const stats = await bulkTransfer({ enablePacing: true, ccAlgorithm: "bbr2_gcongestion" });
    expect(stats.send_failures).toBe(0);
    expect(stats.packets_sent).toBeGreaterThan(0);
    expect(stats.packets_paced).toBe(stats.packets_sent);
    expect(stats.packets_paced_ahead).toBeGreaterThan(0);
  }, 60_000);

  test("on (cubic): every packet carries its send time, which quiche 0.28 leaves at now", async () => {
    const stats = await bulkTransfer({ enablePacing: true, ccAlgorithm: "cubic" });
    expect(stats.packets_paced).toBe(stats.packets_sent);
    expect(stats.packets_paced_ahead).toBe(0);
  }, 60_000);

  test("off: no message carries a send time", async () => {
    const stats = await bulkTransfer({ enablePacing: false, ccAlgorithm: "bbr2_gcongestion" });
    expect(stats.packets_sent).toBeGreaterThan(0);
    expect(stats.packets_paced).toBe(0);
    expect(stats.packets_paced_ahead).toBe(0);
  }, 60_000);
});
