// The request/response engine end to end, in each event mode, through the
// showcase routes, with Bun's HTTP/3 fetch and gtlsclient as clients.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { serve, type EventMode, type Server } from "../ts/index.ts";
import { showcaseOptions, startShowcase } from "../examples/showcase.ts";
import { expectPatternDownload } from "./helpers/downloads.ts";
import { join } from "node:path";
import { makeCertificate } from "./helpers/certs.ts";
import { gtlsclient, h3fetch } from "./helpers/clients.ts";

const tls = makeCertificate();
const sha256 = (data: Uint8Array | string) => new Bun.CryptoHasher("sha256").update(data).digest("hex");

for (const mode of ["poll", "callback"] as EventMode[]) {
  describe(`${mode} mode`, () => {
    let server: Server;
    const errors: unknown[] = [];
    const aborted: string[] = [];
    const url = (path: string) => new URL(path, server.url);

    beforeAll(() => {
      server = startShowcase({
          port: 0,
          tls,
          mode,
          handlerTimeoutMs: 1000,
          error: (error) => void errors.push(error),
          routes: {
            "/upload-watch": {
              POST: async (req) => {
                req.signal.addEventListener("abort", () => aborted.push("signal"));
                try {
                  for await (const _ of req.body!);
                  aborted.push("completed");
                } catch (error) {
                  aborted.push(`body:${(error as Error).name}`);
                }
                return new Response("done");
              },
            },
          },
      });
      server.route("GET", "/raw/:word", async (req, res) => {
        res.status(201).header("x-word", req.params.word!);
        await res.write("a");
        await res.write(new TextEncoder().encode("b"));
        res.trailers({ "x-done": "yes" });
      });
      // Chunks far past the response window in single calls, the last one
      // through end() without awaiting, then nothing else.
      server.route("GET", "/raw-large", (_req, res) => {
        void res.write(patterned(3 * 1024 * 1024, 1));
        res.end(patterned(5 * 1024 * 1024 + 3, 2));
      });
    });
    afterAll(() => server.stop());

    test("GET /hello", async () => {
      const response = await h3fetch(url("/hello"));
      expect(response.status).toBe(200);
      expect(await response.text()).toBe("Hello, HTTP/3!\n");
    });

    test("POST /echo streams the body back byte for byte", async () => {
      const body = new Uint8Array(3 * 1024 * 1024 + 17).map((_, i) => (i * 31) % 256);
      const response = await h3fetch(url("/echo"), { method: "POST", body });
      expect(response.status).toBe(200);
      expect(sha256(new Uint8Array(await response.arrayBuffer()))).toBe(sha256(body));
    }, 120_000);

    test("a 64 MiB upload arrives intact (sha256 checked by the server)", async () => {
      const body = new Uint8Array(64 * 1024 * 1024).map((_, i) => (i * 7 + (i >> 16)) % 256);
      const response = await h3fetch(url("/sha256"), { method: "POST", body });
      expect(response.status).toBe(200);
      expect(response.headers.get("x-body-bytes")).toBe(String(body.length));
      expect((await response.text()).trim()).toBe(sha256(body));
    }, 120_000);

    test("a 256 MiB streamed download arrives intact (sha256 checked by the client)", async () => {
      const size = 256 * 1024 * 1024;
      await expectPatternDownload(url(`/bytes/${size}`), size);
    }, 120_000);

    test("200 concurrent requests on one connection", async () => {
      const before = server.stats().connections_accepted;
      const bodies = await Promise.all(Array.from({ length: 200 }, (_, i) => h3fetch(url(`/bytes/${i}`)).then((r) => r.arrayBuffer())));
      bodies.forEach((body, i) => expect(body.byteLength).toBe(i));
      expect(server.stats().connections_accepted - before).toBeLessThanOrEqual(1);
    });

    test("200 concurrent requests over 20 connections (gtlsclient processes)", async () => {
      const before = server.stats().connections_accepted;
      const results = await Promise.all(
        Array.from({ length: 20 }, async () => {
          const statuses: (number | null)[] = [];
          for (let i = 0; i < 10; i++) statuses.push((await gtlsclient("127.0.0.1", server.port, "/hello")).status);
          return statuses;
        }),
      );
      expect(results.flat().filter((status) => status === 200).length).toBe(200);
      expect(server.stats().connections_accepted - before).toBe(200);
    }, 120_000);

    test("trailers are seen by gtlsclient", async () => {
      const result = await gtlsclient("127.0.0.1", server.port, "/trailers");
      expect(result.status).toBe(200);
      expect(new TextDecoder().decode(result.body)).toBe("ok");
      expect(result.trailers).toEqual([["x-checksum", sha256("ok")]]);
    });

    test("the low-level route API: status, headers, awaited writes, trailers", async () => {
      const result = await gtlsclient("127.0.0.1", server.port, "/raw/hey");
      expect(result.status).toBe(201);
      expect(result.headers).toContainEqual(["x-word", "hey"]);
      expect(new TextDecoder().decode(result.body)).toBe("ab");
      expect(result.trailers).toEqual([["x-done", "yes"]]);
    });

    test("single writes far past the window (3 MiB, then end() with 5 MiB) arrive whole and in order", async () => {
      const response = await h3fetch(url("/raw-large"));
      expect(response.status).toBe(200);
      const body = new Uint8Array(await response.arrayBuffer());
      const expected = new Uint8Array(8 * 1024 * 1024 + 3);
      expected.set(patterned(3 * 1024 * 1024, 1));
      expected.set(patterned(5 * 1024 * 1024 + 3, 2), 3 * 1024 * 1024);
      expect(body.length).toBe(expected.length);
      expect(Bun.hash(body)).toBe(Bun.hash(expected));
    });

    test("a handler that throws gives 500, calls the error hook, and the server keeps serving", async () => {
      const errorsBefore = errors.length;
      const response = await h3fetch(url("/throw"));
      expect(response.status).toBe(500);
      expect(await response.text()).toBe("Internal Server Error\n");
      expect(errors.length).toBe(errorsBefore + 1);
      expect((errors.at(-1) as Error).message).toBe("this handler throws on purpose");
      expect((await h3fetch(url("/hello"))).status).toBe(200);
    });

    test("a handler that never answers in time gives 504", async () => {
      const response = await h3fetch(url("/slow/3000"));
      expect(response.status).toBe(504);
      expect(await response.text()).toBe("Gateway Timeout\n");
    });

    test("QUIC datagrams are echoed (aioquic)", async () => {
      const root = join(import.meta.dir, "..");
      const child = Bun.spawn([join(root, ".venv", "bin", "python"), join(root, "tests", "clients", "h3_datagrams.py"), "127.0.0.1", String(server.port), "quic-echo", "100"], { stdout: "pipe", stderr: "pipe" });
      const [stdout, exitCode] = await Promise.all([new Response(child.stdout).text(), child.exited]);
      expect(exitCode).toBe(0);
      expect(JSON.parse(stdout)).toEqual({ mode: "quic-echo", echoed: 100 });
    });

    test("a client reset mid-upload aborts the body and fires the signal", async () => {
      aborted.length = 0;
      const resetsBefore = server.stats().requests_reset;
      const controller = new AbortController();
      let chunks = 0;
      const body = new ReadableStream<Uint8Array>({
        async pull(stream) {
          if (chunks++ >= 4) {
            await Bun.sleep(50);
            controller.abort();
            return;
          }
          stream.enqueue(new Uint8Array(100_000));
          await Bun.sleep(20);
        },
      });
      await expect(h3fetch(url("/upload-watch"), { method: "POST", body, signal: controller.signal })).rejects.toThrow();
      for (let i = 0; i < 100 && aborted.length < 2; i++) await Bun.sleep(10);
      expect(aborted.sort()).toEqual(["body:AbortError", "signal"]);
      expect(server.stats().requests_reset).toBe(resetsBefore + 1);
    });
  });
}

describe("graceful stop", () => {
  test.each(["poll", "callback", "manual"] as EventMode[])("finishes in-flight requests and refuses new ones (%s mode)", async (mode) => {
    const server = serve(showcaseOptions({ port: 0, tls, mode }));
    const pump = mode === "manual" ? setInterval(() => server.poll(), 1) : null;
    const inFlight = h3fetch(new URL("/slow/400", server.url));
    await Bun.sleep(100);
    const stopping = server.stop({ graceful: true, timeoutMs: 5000 });
    await Bun.sleep(50);
    const refused = await h3fetch(new URL("/hello", server.url)).then(
      (response) => response.status,
      () => "refused",
    );
    const response = await inFlight;
    expect(response.status).toBe(200);
    expect(await response.text()).toBe("waited 400 ms\n");
    await stopping;
    if (pump) clearInterval(pump);
    expect(refused).not.toBe(200);
    expect(server.stats().requests_active).toBe(0);
  });
});

function patterned(length: number, seed: number): Uint8Array {
  return new Uint8Array(length).map((_, i) => (i * seed + (i >> 10)) % 251);
}
