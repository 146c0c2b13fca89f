// A server in a process with nothing else to do must serve in every mode
// (found by bench/compare: Bun's threadsafe JSCallback only runs while the
// event loop is alive, which the callback-mode server must ensure itself).
import { expect, test } from "bun:test";
import { join } from "node:path";
import { makeCertificate } from "./helpers/certs.ts";
import { h3fetch } from "./helpers/clients.ts";

const tls = makeCertificate();

test.each(["poll", "callback"])("an otherwise idle %s-mode server process answers", async (mode) => {
  const script = `import { serve } from ${JSON.stringify(join(import.meta.dir, "..", "ts", "index.ts"))};
const server = serve({ port: 0, mode: ${JSON.stringify(mode)}, tls: ${JSON.stringify({ cert: tls.cert, key: tls.key })}, routes: { "/hello": () => new Response("idle ok") } });
console.log(server.port);
process.on("SIGTERM", () => server.stop().then(() => process.exit(0)));`;
  const child = Bun.spawn([process.execPath, "-e", script], { stdout: "pipe", stderr: "pipe" });
  try {
    const reader = child.stdout.getReader();
    const port = Number(new TextDecoder().decode((await reader.read()).value).trim());
    expect(port).toBeGreaterThan(0);
    await Bun.sleep(200); // Let the child go idle.
    const response = await h3fetch(`https://127.0.0.1:${port}/hello`, { signal: AbortSignal.timeout(5000) });
    expect(await response.text()).toBe("idle ok");
  } finally {
    child.kill("SIGTERM");
    expect(await child.exited).toBe(0);
  }
});
