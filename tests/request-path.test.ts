// The request path crosses the boundary as little as it can: a bodiless
// request is one event, a small response one command, and a request whose
// response ended quietly costs no COMPLETE. The Request a handler gets is a
// real Request whose headers, signal and body are made on first use.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { serve, type H3Request, type Server } from "../ts/index.ts";
import { Deadlines } from "../ts/deadlines.ts";
import { makeCertificate } from "./helpers/certs.ts";
import { aioquicRaw, gtlsclient, h3fetch } from "./helpers/clients.ts";

const tls = makeCertificate();
let server: Server;
let firstSeen!: () => void;
const firstChunkSeen = new Promise<void>((resolve) => (firstSeen = resolve));
const aborts: string[] = [];
let seen: { instance: boolean; method: string; url: string; agent: string | null; bodyNull: boolean; params: Record<string, string> }[] = [];

beforeAll(() => {
  server = serve({
    port: 0,
    tls,
    logLevel: "error",
    routes: {
      "/small": () => new Response("small body"),
      "/users/:id": (req: H3Request) => {
        seen.push({ instance: req instanceof Request, method: req.method, url: req.url, agent: req.headers.get("user-agent"), bodyNull: req.body === null, params: req.params });
        return Response.json({ id: req.params.id });
      },
      "/echo": { POST: async (req: H3Request) => new Response(`${req.headers.get("content-type")}:${await req.text()}`) },
      // Streams until the client goes away; counts the aborts it sees.
      "/until-abort": (req: H3Request) => {
        req.signal.addEventListener("abort", () => aborts.push((req.signal.reason as Error).name));
        return new Response(new ReadableStream({ start: (c) => c.enqueue(new TextEncoder().encode("first")) }));
      },
      // Answers without the body: cancels it before any of it arrived.
      "/refuse": { POST: (req: H3Request) => {
        void req.body!.cancel(new Error("not wanted"));
        return new Response("refused early", { status: 403 });
      } },
      "/json": { POST: async (req: H3Request) => Response.json({ got: await req.json() }) },
      "/clone": { POST: async (req: H3Request) => {
        const copy = req.clone();
        const [mine, theirs] = await Promise.all([req.text(), copy.text()]);
        return new Response(`${mine}|${theirs}|${copy.method}|${copy.headers.get("x-tag")}|${req.bodyUsed}`);
      } },
      "/forward": { POST: async (req: H3Request) => {
        const forwarded = new Request(req.url, req);
        return new Response(`${forwarded.method} ${forwarded.headers.get("x-tag")} ${await forwarded.text()}`);
      } },
      // The second chunk waits until the client has the first: a chunk held
      // back to coalesce with the next one would never arrive.
      "/live": () => new Response(new ReadableStream({
        async start(controller) {
          controller.enqueue(new TextEncoder().encode("first;"));
          await firstChunkSeen;
          controller.enqueue(new TextEncoder().encode("second"));
          controller.close();
        },
      })),
      "/stream": () => new Response(new ReadableStream({
        async pull(controller) {
          for (const part of ["one ", "two ", "three"]) {
            controller.enqueue(new TextEncoder().encode(part));
            await Bun.sleep(5);
          }
          controller.close();
        },
      })),
    },
  });
});

afterAll(() => server.stop());

const counters = () => {
  const { events_pushed, commands_applied, requests_received, responses_completed } = server.stats();
  return { events_pushed, commands_applied, requests_received, responses_completed };
};
const delta = (after: ReturnType<typeof counters>, before: ReturnType<typeof counters>) => ({
  events_pushed: after.events_pushed - before.events_pushed,
  commands_applied: after.commands_applied - before.commands_applied,
  requests_received: after.requests_received - before.requests_received,
  responses_completed: after.responses_completed - before.responses_completed,
});

describe("crossings per exchange", () => {
  test("a GET answered with a small body is one event and one command (Bun fetch)", async () => {
    await h3fetch(new URL("/small", server.url)).then((r) => r.text()); // The connection is up.
    const before = counters();
    for (let i = 0; i < 20; i++) {
      const response = await h3fetch(new URL("/small", server.url));
      expect(await response.text()).toBe("small body");
    }
    expect(delta(counters(), before)).toEqual({ events_pushed: 20, commands_applied: 20, requests_received: 20, responses_completed: 20 });
  });

  test("gtlsclient and aioquic get the one-command response whole", async () => {
    const gtls = await gtlsclient("127.0.0.1", server.port, "/small");
    expect(gtls.status).toBe(200);
    expect(new TextDecoder().decode(gtls.body)).toBe("small body");
    const [raw] = await aioquicRaw(server.port, [{ headers: [[":method", "GET"], [":scheme", "https"], [":authority", "127.0.0.1"], [":path", "/small"]] }]);
    expect(raw!.status).toBe(200);
    expect(raw!.body).toBe("small body");
  });

  test("a POST is REQUEST, BODY, BODY_END and one command; no COMPLETE", async () => {
    await h3fetch(new URL("/small", server.url)).then((r) => r.text());
    const before = counters();
    const response = await h3fetch(new URL("/echo", server.url), { method: "POST", body: "abc", headers: { "content-type": "text/x-test" } });
    expect(await response.text()).toBe("text/x-test:abc");
    const crossed = delta(counters(), before);
    expect(crossed.commands_applied).toBe(1);
    expect(crossed.requests_received).toBe(1);
    // REQUEST, then the body (one or more BODY records), then BODY_END.
    expect(crossed.events_pushed).toBeGreaterThanOrEqual(3);
    expect(crossed.events_pushed).toBeLessThanOrEqual(4);
  });
});

describe("Response values in routes", () => {
  test("are served by the library itself, for every method, with Bun's default content type", async () => {
    await using statics = serve({
      port: 0,
      tls,
      routes: {
        "/status": new Response("OK", { headers: { "x-kind": "static" } }),
        "/json": Response.json({ ok: true }),
        "/gone": new Response("gone", { status: 410 }),
      },
    });
    await h3fetch(new URL("/status", statics.url)).then((r) => r.text());
    const before = statics.stats().events_pushed;
    const status = await h3fetch(new URL("/status", statics.url));
    expect([status.status, status.headers.get("content-type"), status.headers.get("x-kind"), await status.text()]).toEqual([200, "text/plain;charset=utf-8", "static", "OK"]);
    const posted = await h3fetch(new URL("/status", statics.url), { method: "POST", body: "x" });
    expect([posted.status, await posted.text()]).toEqual([200, "OK"]);
    const json = await h3fetch(new URL("/json", statics.url));
    expect([json.headers.get("content-type"), await json.json()]).toEqual(["application/json;charset=utf-8", { ok: true }]);
    const gone = await h3fetch(new URL("/gone", statics.url));
    expect([gone.status, await gone.text()]).toEqual([410, "gone"]);
    // No request reached JavaScript.
    expect(statics.stats().events_pushed - before).toBe(0);
  });

  test("a Response whose body is a stream is still served, from a clone per request", async () => {
    await using streamed = serve({
      port: 0,
      tls,
      routes: { "/file": new Response(Bun.file(import.meta.path)) },
    });
    const response = await h3fetch(new URL("/file", streamed.url));
    expect(await response.text()).toBe(await Bun.file(import.meta.path).text());
  });
});

describe("the Request a handler gets", () => {
  test("is a Request with url, method, lazy headers, params and no body for GET", async () => {
    seen = [];
    const response = await h3fetch(new URL("/users/a%20b?x=1", server.url), { headers: { "user-agent": "request-path-test" } });
    expect(await response.json()).toEqual({ id: "a b" });
    expect(seen).toEqual([{ instance: true, method: "GET", url: `https://127.0.0.1:${server.port}/users/a%20b?x=1`, agent: "request-path-test", bodyNull: true, params: { id: "a b" } }]);
  });

  test("json(), clone() and forwarding with new Request(url, req) read the body", async () => {
    const json = await h3fetch(new URL("/json", server.url), { method: "POST", body: JSON.stringify({ n: 7 }) });
    expect(await json.json()).toEqual({ got: { n: 7 } });
    const clone = await h3fetch(new URL("/clone", server.url), { method: "POST", body: "twice", headers: { "x-tag": "t1" } });
    expect(await clone.text()).toBe("twice|twice|POST|t1|true");
    const forward = await h3fetch(new URL("/forward", server.url), { method: "POST", body: "payload", headers: { "x-tag": "t2" } });
    expect(await forward.text()).toBe("POST t2 payload");
  });

  test("a chunk of a live stream goes out before the stream's next chunk exists", async () => {
    const response = await h3fetch(new URL("/live", server.url));
    const reader = response.body!.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toBe("first;");
    firstSeen();
    let rest = "";
    for (let part = await reader.read(); !part.done; part = await reader.read()) rest += new TextDecoder().decode(part.value);
    expect(rest).toBe("second");
  });

  test("a streamed response keeps its chunks and order", async () => {
    const response = await h3fetch(new URL("/stream", server.url));
    expect(await response.text()).toBe("one two three");
  });
});

describe("handler deadlines", () => {
  test("entries expire in order, settled ones are skipped", async () => {
    const expired: number[] = [];
    let resolveDone: () => void;
    const done = new Promise<void>((resolve) => (resolveDone = resolve));
    const deadlines = new Deadlines<{ settled: boolean; n: number }>(1, (item) => {
      expired.push(item.n);
      if (item.n === 4) resolveDone();
    });
    const items = [1, 2, 3, 4].map((n) => ({ settled: false, n }));
    for (const item of items) deadlines.add(item);
    items[1]!.settled = true;
    await done;
    expect(expired).toEqual([1, 3, 4]);
    expect(deadlines.size).toBe(0);
    deadlines.clear();
  });

  test("the queue stays bounded when requests settle before their deadline", () => {
    const deadlines = new Deadlines<{ settled: boolean }>(60_000, () => {});
    const pending = { settled: false };
    deadlines.add(pending); // One slow request at the head holds nothing else back.
    for (let i = 0; i < 100_000; i++) {
      const item = { settled: false };
      deadlines.add(item);
      item.settled = true;
    }
    expect(deadlines.size).toBeLessThan(3000);
    deadlines.clear();
  });
});

describe("a client that stops reading", () => {
  test("Bun's fetch aborted mid-response (STOP_SENDING): the handler's signal aborts and the request ends", async () => {
    const abort = new AbortController();
    const response = await h3fetch(new URL("/until-abort", server.url), { signal: abort.signal });
    const reader = response.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe("first");
    const before = server.stats().requests_active;
    abort.abort();
    for (let i = 0; i < 200 && aborts.length === 0; i++) await Bun.sleep(10);
    expect(aborts).toEqual(["AbortError"]);
    for (let i = 0; i < 200 && server.stats().requests_active >= before; i++) await Bun.sleep(10);
    expect(server.stats().requests_active).toBe(before - 1);
  });
});

describe("request bodies are read as the handler reads them", () => {
  test("a handler that cancels the body before it arrives answers, and the connection goes on serving", async () => {
    const accepted = server.stats().connections_accepted;
    for (let i = 0; i < 3; i++) {
      const refused = await h3fetch(new URL("/refuse", server.url), { method: "POST", body: new Uint8Array(200_000).fill(1) });
      expect(refused.status).toBe(403);
      expect(await refused.text()).toBe("refused early");
      const echoed = await h3fetch(new URL("/echo", server.url), { method: "POST", body: "after", headers: { "content-type": "text/plain" } });
      expect(await echoed.text()).toBe("text/plain:after");
    }
    expect(server.stats().connections_accepted).toBe(accepted);
  });

  test("an unread 64 MiB upload stops at the read window (QUIC flow control holds the client); reading resumes it", async () => {
    const windowBytes = 256 * 1024;
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let arrived!: () => void;
    const handlerRunning = new Promise<void>((resolve) => (arrived = resolve));
    await using upload = serve({
      port: 0,
      tls,
      logLevel: "error",
      limits: { request_read_window_bytes: windowBytes, body_chunk_bytes: 64 * 1024 },
      routes: {
        "/slow-reader": {
          POST: async (req: H3Request) => {
            arrived();
            await released;
            let length = 0;
            const hash = new Bun.CryptoHasher("sha256");
            for await (const chunk of req.body!) {
              length += chunk.length;
              hash.update(chunk);
            }
            return Response.json({ length, sha256: hash.digest("hex") });
          },
        },
      },
    });
    const total = 64 * 1024 * 1024;
    const chunk = new Uint8Array(1024 * 1024);
    for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 7) & 0xff;
    const expected = new Bun.CryptoHasher("sha256");
    for (let n = 0; n < total / chunk.length; n++) expected.update(chunk);
    let pulled = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (pulled >= total) return controller.close();
        pulled += chunk.length;
        controller.enqueue(chunk);
      },
    });
    const response = h3fetch(new URL("/slow-reader", upload.url), { method: "POST", body, duplex: "half" } as RequestInit);
    await handlerRunning;
    // Wait until the library has delivered its whole window, then a little
    // longer: an unbounded reader would go on delivering meanwhile.
    while (upload.stats().body_bytes_delivered < windowBytes - 64 * 1024) await Bun.sleep(20);
    await Bun.sleep(500);
    const heldBack = upload.stats().body_bytes_delivered;
    expect(heldBack).toBeLessThanOrEqual(windowBytes);
    expect(pulled).toBeLessThan(total); // The client is held back too, not buffered whole somewhere.
    release();
    const answer = await response;
    expect(await answer.json()).toEqual({ length: total, sha256: expected.digest("hex") });
    expect(upload.stats().body_bytes_delivered).toBe(total);
  }, 120_000);
});
