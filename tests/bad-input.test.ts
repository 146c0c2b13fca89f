// Malformed and oversized requests get their exact status, sent by aioquic
// (which, unlike browsers and curl-like clients, sends what we tell it),
// and the server keeps serving. Run in each event mode.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { serve, type EventMode, type Server } from "../ts/index.ts";
import { makeCertificate } from "./helpers/certs.ts";
import { aioquicRaw, h3fetch, type RawRequest } from "./helpers/clients.ts";

const tls = makeCertificate();
type Fields = [string, string][];
const request = (method: string, path: string, extra: Fields = []): Fields => [
  [":method", method],
  [":scheme", "https"],
  [":authority", "localhost"],
  [":path", path],
  ...extra,
];

for (const mode of ["poll", "callback"] as EventMode[]) {
  describe(`${mode} mode`, () => {
    let server: Server;
    let capped: Server;
    beforeAll(() => {
      const slow = async () => {
        await Bun.sleep(300);
        return new Response("slow");
      };
      capped = serve({ port: 0, tls, mode, limits: { max_active_requests_per_conn: 2 }, routes: { "/slow": slow } });
      server = serve({
        port: 0,
        tls,
        mode,
        limits: { max_request_body_size: 1000 },
        routes: {
          "/ok": () => new Response("ok"),
          "/upload": { POST: async (req) => new Response(`got ${(await req.arrayBuffer()).byteLength}`) },
        },
      });
    });
    afterAll(() => Promise.all([server.stop(), capped.stop()]));

    const cases: [string, RawRequest, number][] = [
      ["a valid request", { headers: request("GET", "/ok") }, 200],
      ["an uppercase header name", { headers: request("GET", "/ok", [["X-Upper", "1"]]) }, 400],
      ["an invalid header name", { headers: request("GET", "/ok", [["bad name", "1"]]) }, 400],
      ["CR/LF in a header value", { headers: request("GET", "/ok", [["x-bad", "a\r\nb"]]) }, 400],
      ["NUL in a header value", { headers: request("GET", "/ok", [["x-bad", "a\0b"]]) }, 400],
      ["a missing :path", { headers: request("GET", "/ok").filter(([name]) => name !== ":path") }, 400],
      ["a missing :method", { headers: request("GET", "/ok").filter(([name]) => name !== ":method") }, 400],
      ["a duplicate :method", { headers: request("GET", "/ok", [[":method", "GET"]]) }, 400],
      ["an unknown pseudo-header", { headers: request("GET", "/ok", [[":bogus", "1"]]) }, 400],
      ["a pseudo-header after a regular one", { headers: [[":method", "GET"], ["x", "1"], [":scheme", "https"], [":path", "/ok"]] }, 400],
      ["too many headers", { headers: request("GET", "/ok", Array.from({ length: 120 }, (_, i) => [`x-h${i}`, "v"] as [string, string])) }, 431],
      ["a header value over the limit", { headers: request("GET", "/ok", [["x-big", "v".repeat(9000)]]) }, 431],
      ["a path over the limit", { headers: request("GET", "/" + "a".repeat(3000)) }, 414],
      // These two keep sending (no FIN): once a client has sent its whole
      // body there is nothing to stop, and quiche rightly sends no
      // STOP_SENDING, so a finished upload would make that check a race.
      ["a declared body over the limit", { headers: request("POST", "/upload", [["content-length", "5000"]]), body: 5000, open: true }, 413],
      ["an undeclared body over the limit", { headers: request("POST", "/upload"), body: 5000, open: true }, 413],
      ["a body within the limit", { headers: request("POST", "/upload"), body: 900 }, 200],
      ["HEAD on an unknown path", { headers: request("HEAD", "/missing") }, 404],
    ];

    test("each bad request gets its exact status on one connection, and the server keeps serving", async () => {
      const results = await aioquicRaw(server.port, cases.map(([, raw]) => raw));
      const statuses = Object.fromEntries(cases.map(([name], i) => [name, results[i]!.status]));
      expect(statuses).toEqual(Object.fromEntries(cases.map(([name, , status]) => [name, status])));
      expect(results[cases.length - 2]!.body).toBe("got 900");
      // A HEAD response carries no body, even when the library makes it.
      expect(results[cases.length - 1]!.body).toBe("");
      expect(results[0]!.body).toBe("ok");
      // A body over the limit is also stopped: the client is told to stop sending.
      expect(results[13]!.stop_sending).toBe(true);
      expect(results[14]!.stop_sending).toBe(true);
      const healthy = await h3fetch(new URL("/ok", server.url));
      expect(healthy.status).toBe(200);
      expect(await healthy.text()).toBe("ok");
    });

    test("the per-connection request cap answers 503 beyond it", async () => {
      const results = await aioquicRaw(capped.port, [0, 1, 2].map(() => ({ headers: request("GET", "/slow") })));
      expect(results.map((r) => r.status).sort()).toEqual([200, 200, 503]);
      expect(results.filter((r) => r.status === 200).map((r) => r.body)).toEqual(["slow", "slow"]);
    });

    test("nothing leaks: every request ended and no handler is left waiting", async () => {
      for (const s of [server, capped]) {
        for (let i = 0; i < 50 && s.stats().requests_active > 0; i++) await Bun.sleep(10);
        expect(s.stats().requests_active).toBe(0);
        expect(s.pendingRequests).toBe(0);
      }
    });
  });
}
