// The WebTransport drafts no available client speaks natively, on the wire:
// aioquic (a stack we did not write) announcing only draft-07's
// SETTINGS_WEBTRANSPORT_MAX_SESSIONS or draft-13/14's SETTINGS_WT_MAX_SESSIONS
// (what Safari 26.4+ sends) opens a session, echoes a stream, and the handler
// sees the draft. Draft-02 (Chromium, webtransport-go v0.10) and draft-16
// (webtransport-go v0.13) have their own clients: tests/browser.test.ts and
// tests/webtransport-go.test.ts.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { serve, type Server, type WebTransportSession } from "../ts/index.ts";
import { makeCertificate } from "./helpers/certs.ts";

const root = join(import.meta.dir, "..");
let server: Server;
const drafts: WebTransportSession["draft"][] = [];

beforeAll(() => {
  server = serve({ port: 0, http1: false, tls: makeCertificate(), webtransport: true });
  server.webtransport("/echo", (session) => {
    drafts.push(session.draft);
    // The incoming streams error when the client goes away without closing.
    void (async () => {
      for await (const { readable, writable } of session.incomingBidirectionalStreams) readable.pipeTo(writable).catch(() => {});
    })().catch(() => {});
  });
});
afterAll(() => server?.stop(true));

async function aioquicEcho(dialect: string | undefined): Promise<Record<string, unknown>> {
  const env: Record<string, string | undefined> = { ...process.env, WT_DIALECT: dialect };
  const child = Bun.spawn([join(root, ".venv", "bin", "python"), join(root, "tests", "clients", "wt_streams.py"), "127.0.0.1", String(server.port), "/echo", "bidi-echo", "4096"], {
    env,
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, exitCode] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  if (exitCode !== 0) throw new Error(`wt_streams.py (${dialect ?? "draft-02"}) failed (${exitCode}): ${stderr.slice(-2000)}`);
  return JSON.parse(stdout);
}

for (const [dialect, draft] of [
  [undefined, "draft-02"],
  ["draft07", "draft-07"],
  ["draft13", "draft-13/14"],
] as const) {
  test(`a ${draft} client (aioquic announcing only that draft's setting) is accepted and echoed, and the handler sees ${draft}`, async () => {
    const before = drafts.length;
    const result = await aioquicEcho(dialect);
    expect(result).toEqual({ mode: "bidi-echo", status: 200, sent: 4096, received: 4096, equal: true, session_id: true });
    expect(drafts.slice(before)).toEqual([draft]);
  }, 60_000);
}
