// GET /hello end to end, from two HTTP/3 stacks we did not write.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { serve, type Server } from "../ts/index.ts";
import { makeCertificate } from "./helpers/certs.ts";
import { gtlsclient, h3fetch } from "./helpers/clients.ts";

const tls = makeCertificate();
let server: Server;

beforeAll(() => {
  server = serve({
    port: 0,
    tls,
    routes: {
      "/hello": { GET: () => new Response("Hello, HTTP/3!\n", { headers: { "content-type": "text/plain" } }) },
    },
  });
});
afterAll(() => server.stop());

describe("GET /hello", () => {
  test("port 0 binds an ephemeral port that can be read back", () => {
    expect(server.port).toBeGreaterThan(0);
    expect(server.port).toBeLessThan(65536);
  });

  test("Bun fetch over HTTP/3 gets 200 and the exact body", async () => {
    const response = await h3fetch(new URL("/hello", server.url));
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/plain");
    expect(await response.text()).toBe("Hello, HTTP/3!\n");
  });

  test("gtlsclient (ngtcp2 + nghttp3) gets 200 and the exact body", async () => {
    const result = await gtlsclient("127.0.0.1", server.port, "/hello");
    expect(result.status).toBe(200);
    expect(result.headers).toContainEqual(["content-type", "text/plain"]);
    expect(new TextDecoder().decode(result.body)).toBe("Hello, HTTP/3!\n");
    // The server closes the stream cleanly: H3_NO_ERROR (256) on stream 0.
    expect(result.log).toContain("HTTP stream 0 closed with error code 256");
  });

  test("unknown paths get 404 and wrong methods 405 from the native router", async () => {
    const missing = await h3fetch(new URL("/nope", server.url));
    expect(missing.status).toBe(404);
    expect(await missing.text()).toBe("Not Found\n");
    const wrongMethod = await h3fetch(new URL("/hello", server.url), { method: "DELETE" });
    expect(wrongMethod.status).toBe(405);
    await wrongMethod.arrayBuffer();
  });

  test("static routes are served by the library, Response routes through JS", async () => {
    server.static("/health", { status: 200, headers: { "x-kind": "static" }, body: "healthy\n" });
    const health = await h3fetch(new URL("/health", server.url));
    expect(health.status).toBe(200);
    expect(health.headers.get("x-kind")).toBe("static");
    expect(await health.text()).toBe("healthy\n");
    const head = await h3fetch(new URL("/health", server.url), { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe("");
    expect(() => server.static("/bad", { status: 42 })).toThrow(TypeError);
  });

  test("counters show the requests served", () => {
    const stats = server.stats();
    expect(stats.connections_accepted).toBeGreaterThanOrEqual(2);
    expect(stats.requests_received).toBeGreaterThanOrEqual(4);
    expect(stats.responses_completed).toBe(stats.requests_received);
  });
});
