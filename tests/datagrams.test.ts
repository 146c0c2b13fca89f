// QUIC datagrams, HTTP/3 datagrams and WebTransport sessions at protocol
// level with aioquic, and the datagram API's errors.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { DatagramError, serve, type Server, type WebTransportCloseInfo } from "../ts/index.ts";
import { makeCertificate } from "./helpers/certs.ts";
import { aioquicRaw, h3fetch } from "./helpers/clients.ts";

const tls = makeCertificate();
const root = join(import.meta.dir, "..");

async function aioquicDatagrams(port: number, ...args: string[]): Promise<Record<string, unknown>> {
  const child = Bun.spawn([join(root, ".venv", "bin", "python"), join(root, "tests", "clients", "h3_datagrams.py"), "127.0.0.1", String(port), ...args], { stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, exitCode] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  if (exitCode !== 0) throw new Error(`h3_datagrams.py ${args.join(" ")} failed: ${stderr.slice(-1500)}`);
  return JSON.parse(stdout);
}

describe("with datagrams and WebTransport", () => {
  let server: Server;
  const sessionsClosed: WebTransportCloseInfo[] = [];
  const sendErrors: string[] = [];

  beforeAll(() => {
    server = serve({ port: 0, tls, webtransport: true });
    server.onDatagram((connection, data) => connection.sendDatagram(data));
    server.route("GET", "/dgram", async (req, res) => {
      req.onDatagram((data) => res.sendDatagram(data));
      try {
        res.sendDatagram(new Uint8Array(70_000));
      } catch (error) {
        sendErrors.push((error as DatagramError).code);
      }
      res.sendHead();
      for await (const _ of req.body);
      res.end();
    });
    server.webtransport("/wt", (session) => {
      session.onDatagram((data) => {
        if (new TextDecoder().decode(data) === "close-me") session.close(7, "bye from server");
        else session.sendDatagram(data);
      });
      void session.closed.then((info) => sessionsClosed.push(info));
    });
    server.webtransport("/private", () => new Response("no", { status: 403 }));
    server.route("GET", "/done", (_req, res) => res.end("done"));
  });
  afterAll(() => server.stop());

  test("connection-scoped QUIC datagrams are echoed (peer without HTTP/3 datagrams)", async () => {
    expect(await aioquicDatagrams(server.port, "quic-echo", "200")).toEqual({ mode: "quic-echo", echoed: 200 });
  });

  test("HTTP/3 datagrams on /dgram are echoed on their request stream", async () => {
    expect(await aioquicDatagrams(server.port, "h3-echo", "/dgram", "200")).toEqual({ mode: "h3-echo", status: 200, echoed: 200 });
    expect(sendErrors).toContain("ERR_DATAGRAM_TOO_LARGE");
  });

  test("a WebTransport session echoes datagrams; the client's close reaches closed", async () => {
    const before = sessionsClosed.length;
    expect(await aioquicDatagrams(server.port, "wt-echo", "/wt", "200")).toEqual({ mode: "wt-echo", status: 200, echoed: 200 });
    for (let i = 0; i < 100 && sessionsClosed.length === before; i++) await Bun.sleep(10);
    expect(sessionsClosed.at(-1)).toEqual({ closeCode: 4242, reason: "client done" });
  });

  test("closing from the server sends CLOSE_WEBTRANSPORT_SESSION with code and reason, then FIN", async () => {
    expect(await aioquicDatagrams(server.port, "wt-server-close", "/wt")).toEqual({
      mode: "wt-server-close",
      status: 200,
      capsule: { type: 0x2843, code: 7, reason: "bye from server" },
      fin: true,
    });
  });

  test("unregistered WebTransport paths get 404, a rejecting handler its status", async () => {
    expect(await aioquicDatagrams(server.port, "wt-status", "/nowhere")).toMatchObject({ status: 404 });
    expect(await aioquicDatagrams(server.port, "wt-status", "/private")).toMatchObject({ status: 403 });
  });

  test("a session whose CONNECT stream just ends (FIN) closes cleanly on both sides", async () => {
    const before = sessionsClosed.length;
    expect(await aioquicDatagrams(server.port, "wt-fin", "/wt")).toEqual({ mode: "wt-fin", status: 200, server_fin: true });
    for (let i = 0; i < 100 && sessionsClosed.length === before; i++) await Bun.sleep(10);
    expect(sessionsClosed.at(-1)).toEqual({ closeCode: 0, reason: "" });
  });

  test("datagrams for a finished stream are dropped and counted", async () => {
    const dropped = server.stats().datagrams_received_dropped;
    // The client waits 2 s for each echo that (rightly) never comes.
    expect(await aioquicDatagrams(server.port, "h3-echo", "/done", "2")).toEqual({ mode: "h3-echo", status: 200, echoed: 0 });
    expect(server.stats().datagrams_received_dropped - dropped).toBe(2);
  }, 30_000);

  test("a connection closed mid-session resolves the server's closed", async () => {
    const before = sessionsClosed.length;
    await aioquicDatagrams(server.port, "wt-drop", "/wt");
    for (let i = 0; i < 100 && sessionsClosed.length === before; i++) await Bun.sleep(10);
    expect(sessionsClosed.at(-1)).toEqual({ closeCode: 0, reason: "" });
  });

  test("a CONNECT to a session path with another :protocol gets 400; a classic CONNECT 404", async () => {
    const [wrongProtocol, classic] = await aioquicRaw(server.port, [
      { headers: [[":method", "CONNECT"], [":protocol", "websocket"], [":scheme", "https"], [":authority", "localhost"], [":path", "/wt"]] },
      { headers: [[":method", "CONNECT"], [":authority", "localhost:443"]] },
    ]);
    expect(wrongProtocol!.status).toBe(400);
    expect(wrongProtocol!.body).toBe("WebTransport needs :protocol webtransport or webtransport-h3\n");
    expect(classic!.status).toBe(404);
  });

  test("nothing is left behind: no live request, datagram counters consistent", async () => {
    for (let i = 0; i < 100 && server.stats().requests_active > 0; i++) await Bun.sleep(10);
    const stats = server.stats();
    expect(stats.requests_active).toBe(0);
    expect(server.pendingRequests).toBe(0);
    expect(stats.datagrams_received).toBeGreaterThanOrEqual(600);
    expect(stats.datagrams_sent).toBeGreaterThanOrEqual(600);
  });
});

describe("datagram API errors", () => {
  test("datagrams disabled: sending throws ERR_DATAGRAMS_DISABLED, onDatagram and webtransport() refuse", async () => {
    let code = "";
    const server = serve({
      port: 0,
      tls,
      routes: {
        "/try": (req) => {
          try {
            req.sendDatagram(new Uint8Array(10));
          } catch (error) {
            code = (error as DatagramError).code;
          }
          return new Response("ok");
        },
      },
    });
    try {
      expect(await (await h3fetch(new URL("/try", server.url))).text()).toBe("ok");
      expect(code).toBe("ERR_DATAGRAMS_DISABLED");
      expect(() => server.onDatagram(() => {})).toThrow(DatagramError);
      expect(() => server.webtransport("/wt", () => {})).toThrow(/webtransport: true/);
    } finally {
      await server.stop();
    }
  });

  test("a peer that did not enable HTTP/3 datagrams: ERR_DATAGRAMS_NOT_NEGOTIATED", async () => {
    let code = "";
    const server = serve({
      port: 0,
      tls,
      datagrams: true,
      routes: {
        "/try": (req) => {
          try {
            req.sendDatagram(new Uint8Array(10));
          } catch (error) {
            code = (error as DatagramError).code;
          }
          return new Response("ok");
        },
      },
    });
    try {
      // Bun's fetch does not enable HTTP/3 datagrams.
      expect(await (await h3fetch(new URL("/try", server.url))).text()).toBe("ok");
      expect(code).toBe("ERR_DATAGRAMS_NOT_NEGOTIATED");
    } finally {
      await server.stop();
    }
  });

  test("a full send queue throws ERR_DATAGRAM_WOULD_BLOCK and datagramsWritable() resolves later", async () => {
    const outcome = { wouldBlock: false, resumed: false, sent: 0 };
    const server = serve({ port: 0, tls, datagrams: { sendQueueLength: 4 } });
    server.onDatagram(async (connection) => {
      if (outcome.sent > 0) return;
      try {
        for (let i = 0; i < 100; i++, outcome.sent++) connection.sendDatagram(new Uint8Array(100));
      } catch (error) {
        outcome.wouldBlock = (error as DatagramError).code === "ERR_DATAGRAM_WOULD_BLOCK";
        await connection.datagramsWritable();
        connection.sendDatagram(new Uint8Array(100));
        outcome.resumed = true;
      }
    });
    try {
      await aioquicDatagrams(server.port, "quic-echo", "3");
      for (let i = 0; i < 100 && !outcome.resumed; i++) await Bun.sleep(10);
      expect(outcome).toEqual({ wouldBlock: true, resumed: true, sent: 4 });
    } finally {
      await server.stop();
    }
  });
});
