// Deno's WebTransport client (Deno 2.9.6 from npm, pinned in package.json):
// another implementation of the W3C API than Chromium's, which speaks draft-07
// (SETTINGS_WEBTRANSPORT_MAX_SESSIONS). It trusts the test certificate by its
// hash, echoes 64 KiB on a bidirectional stream and three datagrams, and the
// handler sees its draft.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { serve, type Server, type WebTransportSession } from "../ts/index.ts";
import { makeCertificate } from "./helpers/certs.ts";

const root = join(import.meta.dir, "..");
let server: Server;
let certificateHash: string;
const sessions: WebTransportSession[] = [];

beforeAll(() => {
  const tls = makeCertificate();
  const der = Bun.spawnSync(["openssl", "x509", "-in", tls.cert, "-outform", "DER"]).stdout;
  certificateHash = new Bun.CryptoHasher("sha256").update(der).digest("hex");
  server = serve({ port: 0, http1: false, tls, webtransport: true });
  server.webtransport("/wt", (session) => {
    sessions.push(session);
    session.onDatagram((data) => session.sendDatagram(data));
    // The incoming streams error when the client goes away without closing.
    void (async () => {
      for await (const { readable, writable } of session.incomingBidirectionalStreams) readable.pipeTo(writable).catch(() => {});
    })().catch(() => {});
  });
});
afterAll(() => server?.stop(true));

test("Deno's WebTransport client: a draft-07 session, a 64 KiB stream echo and three datagrams", async () => {
  const deno = join(root, "node_modules", ".bin", "deno");
  const child = Bun.spawn([deno, "run", "--unstable-net", "--allow-net", join(root, "tests", "clients", "deno_wt.js"), `https://127.0.0.1:${server.port}/wt`, certificateHash], {
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
  });
  const [stdout, stderr, exitCode] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  if (exitCode !== 0) throw new Error(`deno exited with ${exitCode}: ${stderr.slice(-2000)}`);
  expect(JSON.parse(stdout)).toEqual({ bytes: 65536, equal: true, datagrams: ["one", "two", "three"] });
  expect(sessions.map((session) => session.draft)).toEqual(["draft-07"]);
  // Deno 2.9's close({ closeCode: 7, reason }) closes the whole QUIC
  // connection with application error 7 and the reason (our qlog shows the
  // CONNECTION_CLOSE) instead of sending CLOSE_WEBTRANSPORT_SESSION, so the
  // session ends as a connection that went away: no code, no reason.
  expect(await sessions[0]!.closed).toEqual({ closeCode: 0, reason: "" });
}, 60_000);
