// Per-connection stats, the log hook, qlog and keylog files.
import { expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serve, type LogEntry } from "../ts/index.ts";
import { makeCertificate } from "./helpers/certs.ts";
import { aioquicRaw, h3fetch } from "./helpers/clients.ts";

const tls = makeCertificate();

test("connectionStats reads quiche's counters for a live connection, null for an unknown one", async () => {
  let connectionId = 0;
  let stats: Awaited<ReturnType<typeof server.connectionStats>> = null;
  const server = serve({
    port: 0,
    tls,
    routes: {
      "/me": async (req) => {
        connectionId = req.connectionId;
        stats = await server.connectionStats(req.connectionId);
        return new Response("ok");
      },
    },
  });
  try {
    const response = await h3fetch(new URL("/me", server.url));
    expect(await response.text()).toBe("ok");
    expect(connectionId).toBeGreaterThan(0);
    expect(stats).not.toBeNull();
    expect(stats!.packets_received).toBeGreaterThan(0);
    expect(stats!.bytes_received).toBeGreaterThan(1200);
    expect(stats!.rtt_ns).toBeGreaterThan(0);
    expect(stats!.cwnd_bytes).toBeGreaterThan(0);
    expect(stats!.requests_active).toBe(1);
    expect(await server.connectionStats(999_999)).toBeNull();
  } finally {
    await server.stop();
  }
});

test("the log hook gets the library's lines up to logLevel", async () => {
  const entries: LogEntry[] = [];
  const server = serve({ port: 0, tls, logLevel: "debug", log: (entry) => entries.push(entry), routes: { "/ok": () => new Response("ok") } });
  try {
    const [result] = await aioquicRaw(server.port, [{ headers: [[":method", "GET"], [":scheme", "https"], [":path", "/ok"], ["Bad", "x"]] }]);
    expect(result!.status).toBe(400);
    for (let i = 0; i < 100 && !entries.some((e) => e.message.startsWith("connection closed")); i++) await Bun.sleep(10);
  } finally {
    await server.stop();
  }
  expect(entries).toContainEqual(expect.objectContaining({ level: "debug", message: "connection accepted" }));
  expect(entries).toContainEqual(expect.objectContaining({ level: "info", message: "request on stream 0 refused with 400 (malformed)" }));
  expect(entries.some((e) => e.level === "debug" && e.message.startsWith("connection closed") && e.connectionId > 0)).toBe(true);
});

test("qlog_dir gets one qlog per connection and keylog_path the TLS secrets", async () => {
  const dir = mkdtempSync(join(tmpdir(), "zig-h3-diag-"));
  const keylog = join(dir, "keys.log");
  const server = serve({ port: 0, tls, limits: { qlog_dir: dir, keylog_path: keylog }, routes: { "/ok": () => new Response("ok") } });
  try {
    expect(await (await h3fetch(new URL("/ok", server.url))).text()).toBe("ok");
  } finally {
    await server.stop();
  }
  const qlogs = readdirSync(dir).filter((name) => name.endsWith(".sqlog"));
  expect(qlogs.length).toBe(1);
  const qlog = readFileSync(join(dir, qlogs[0]!), "utf8");
  // JSON-SEQ records, each starting with the RS character.
  const records = qlog.split("\x1e").filter(Boolean).map((record) => JSON.parse(record));
  expect(records[0].serialization_format).toBe("JSON-SEQ");
  expect(records.some((record) => record.name === "quic:packet_received")).toBe(true);
  // HTTP/3 is the library's own layer over quiche's streams, so the qlog
  // shows it as QUIC stream frames: the response on request stream 0 and our
  // control stream (3, where SETTINGS goes).
  const sentOn = (id: number) =>
    records.some((record) => record.name === "quic:packet_sent" && record.data.frames?.some((f: any) => f.frame_type === "stream" && f.stream_id === id));
  expect(sentOn(0)).toBe(true);
  expect(sentOn(3)).toBe(true);
  expect(/^CLIENT_HANDSHAKE_TRAFFIC_SECRET [0-9a-f]+ [0-9a-f]+$/m.test(readFileSync(keylog, "utf8"))).toBe(true);
});
