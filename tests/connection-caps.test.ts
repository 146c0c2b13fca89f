// Connection caps (issue 7, item 1): a new connection over max_connections
// or max_connections_per_ip is refused with CONNECTION_REFUSED (0x2) while
// the existing ones keep working. Client: aioquic. With enable_retry the
// caps apply to clients that answered the Retry, and the refusal is sealed
// with the Initial keys of the connection ID the Retry gave them.
import { expect, test } from "bun:test";
import { join } from "node:path";
import { serve } from "../ts/index.ts";
import { makeCertificate } from "./helpers/certs.ts";

const tls = makeCertificate();
const root = join(import.meta.dir, "..");
type Outcome = { accepted: boolean; close_code: number | null; status: number | null };

async function connectMany(port: number, count: number): Promise<Outcome[]> {
  const child = Bun.spawn([join(root, ".venv", "bin", "python"), join(root, "tests", "clients", "connect_many.py"), "127.0.0.1", String(port), String(count), "/hello"], { stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, exitCode] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  if (exitCode !== 0) throw new Error(`connect_many.py failed: ${stderr.slice(-1500)}`);
  return JSON.parse(stdout);
}

test.each([
  ["max_connections", { max_connections: 3 }],
  ["max_connections_per_ip", { max_connections_per_ip: 3 }],
  ["max_connections with enable_retry", { max_connections: 3, enable_retry: true }],
  ["max_connections_per_ip with enable_retry", { max_connections_per_ip: 3, enable_retry: true }],
])("over %s, new connections get CONNECTION_REFUSED and the others keep working", async (_name, limits) => {
  const server = serve({ port: 0, tls, limits, routes: { "/hello": () => new Response("ok") } });
  try {
    const outcomes = await connectMany(server.port, 5);
    const accepted = outcomes.filter((o) => o.accepted);
    const refused = outcomes.filter((o) => !o.accepted);
    expect(accepted.length).toBe(3);
    expect(accepted.map((o) => o.status)).toEqual([200, 200, 200]);
    expect(refused.map((o) => o.close_code)).toEqual([0x2, 0x2]);
    expect(server.stats().connections_refused).toBe(2);
    if ("enable_retry" in limits) expect(server.stats().retries_sent).toBeGreaterThanOrEqual(5);
  } finally {
    await server.stop();
  }
});
