// The request path asks for collections in proportion to the garbage it
// leaves (ts/gc-pacer.ts). Without that, a server under steady load whose
// JS heap held a large buffer went 20–30 s between collections and its RSS
// rose by 50–55 MB of dead Request/Response/body memory each time (the
// 30-minute soak in bench/RESULTS.md). These tests count, not time: the
// collections requested for a known number of requests and body bytes, and
// that nothing the library keeps holds a finished request alive.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { serve, type Server } from "../ts/index.ts";
import { FULL_EVERY, FULL_MIN_INTERVAL_MS, GC_BUDGET_BYTES, GcPacer, REQUEST_GARBAGE_BYTES } from "../ts/gc-pacer.ts";
import { makeCertificate } from "./helpers/certs.ts";
import { h3fetch } from "./helpers/clients.ts";

describe("GcPacer", () => {
  test("one collection each time the budget is spent, then the count starts over", () => {
    let collections = 0;
    const pacer = new GcPacer(100, () => collections++);
    for (let i = 0; i < 3; i++) pacer.add(30);
    expect(collections).toBe(0);
    pacer.add(10);
    expect(collections).toBe(1);
    pacer.add(99);
    expect(collections).toBe(1);
    // One large chunk is one request for a collection, not one per budget.
    pacer.add(1000);
    expect(collections).toBe(2);
    expect(pacer.collections).toBe(2);
  });

  test("every FULL_EVERY-th collection is full, unless the last full one is more recent than FULL_MIN_INTERVAL_MS", () => {
    let nowMs = 0;
    const kinds: boolean[] = [];
    const pacer = new GcPacer(10, (full) => kinds.push(full), () => nowMs);
    // The clock stands still: no full collection, however many are asked for.
    for (let i = 0; i < 2 * FULL_EVERY; i++) pacer.add(10);
    expect(kinds.filter(Boolean).length).toBe(0);
    nowMs += FULL_MIN_INTERVAL_MS;
    for (let i = 0; i < FULL_EVERY; i++) pacer.add(10);
    expect(kinds.slice(-FULL_EVERY)).toEqual([...Array(FULL_EVERY - 1).fill(false), true]);
    // Just after it, the next FULL_EVERY-th is young-generation again.
    nowMs += FULL_MIN_INTERVAL_MS - 1;
    for (let i = 0; i < FULL_EVERY; i++) pacer.add(10);
    expect(kinds.slice(-FULL_EVERY).every((full) => !full)).toBe(true);
    expect(pacer.fullCollections).toBe(1);
    expect(pacer.collections).toBe(4 * FULL_EVERY);
  });

  test("a budget that is not positive is refused", () => {
    expect(() => new GcPacer(0)).toThrow(RangeError);
    expect(() => new GcPacer(Number.NaN)).toThrow(RangeError);
  });
});

describe("collections as requests are served (Bun's fetch over HTTP/3)", () => {
  const tls = makeCertificate();
  let server: Server;
  const gc = Bun.gc;
  let asyncCollections = 0;
  /** A WeakRef to every Request a handler got. */
  const handled: WeakRef<Request>[] = [];

  beforeAll(() => {
    // Counts the collections the library asks for (Bun.gc(false)); still collects.
    Bun.gc = (force?: boolean) => {
      if (!force) asyncCollections++;
      return gc(force ?? false);
    };
    server = serve({
      port: 0,
      tls,
      http1: false,
      routes: {
        "/hello": {
          GET: (request) => {
            handled.push(new WeakRef(request));
            return new Response("hello");
          },
        },
        "/upload": {
          POST: async (request) => {
            handled.push(new WeakRef(request));
            let length = 0;
            for await (const chunk of request.body!) length += chunk.byteLength;
            return new Response(String(length));
          },
        },
      },
    });
  });
  afterAll(async () => {
    await server.stop(true);
    Bun.gc = gc;
  });

  test("uploads: at least one collection per budget of body bytes", async () => {
    const body = new Uint8Array(1 << 20).fill(7);
    const uploads = 20;
    const before = asyncCollections;
    for (let i = 0; i < uploads; i += 4) {
      const answers = await Promise.all(
        [0, 1, 2, 3].map(() => h3fetch(new URL("/upload", server.url), { method: "POST", body }).then(async (r) => [r.status, await r.text()])),
      );
      expect(answers).toEqual([0, 1, 2, 3].map(() => [200, String(body.length)]));
    }
    // 20 MiB of body bytes against an 8 MiB budget: two collections at least.
    expect(asyncCollections - before).toBeGreaterThanOrEqual(Math.floor((uploads * body.length) / GC_BUDGET_BYTES));
    expect(server.pendingRequests).toBe(0);
  });

  test("small requests: one collection per budget of requests", async () => {
    const requests = Math.ceil(GC_BUDGET_BYTES / REQUEST_GARBAGE_BYTES) + 8;
    const before = asyncCollections;
    let ok = 0;
    for (let i = 0; i < requests; i += 64) {
      const batch = Math.min(64, requests - i);
      const texts = await Promise.all(Array.from({ length: batch }, () => h3fetch(new URL("/hello", server.url)).then((r) => r.text())));
      ok += texts.filter((text) => text === "hello").length;
    }
    expect(ok).toBe(requests);
    expect(asyncCollections - before).toBeGreaterThanOrEqual(1);
    expect(server.pendingRequests).toBe(0);
  });

  test("nothing the library keeps holds a finished request: a full collection frees them all", async () => {
    expect(handled.length).toBeGreaterThan(2000);
    // WeakRef targets live until the current job ends.
    await Bun.sleep(0);
    gc(true);
    const alive = handled.filter((ref) => ref.deref() !== undefined).length;
    // The collector scans the stack conservatively, so a stray pointer may keep one or two.
    expect(alive).toBeLessThanOrEqual(4);
  });
});
