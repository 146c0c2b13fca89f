// HTTPS/1.1 beside HTTP/3 (ts/http1.ts): the same handlers answer on the
// TCP port of the same number, every TCP response carries alt-svc, and the
// TCP side starts, reloads and stops with the server.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { serve, type Server } from "../ts/index.ts";
import { makeCertificate } from "./helpers/certs.ts";
import { h3fetch } from "./helpers/clients.ts";

const certs = makeCertificate();
const tls = { cert: certs.cert, key: certs.key };
const insecure = { tls: { rejectUnauthorized: false } } as RequestInit;

/** HTTPS/1.1 with Bun's fetch (Bun's client speaks HTTP/1.1 over TCP). */
const tcpFetch = (url: string | URL, init: RequestInit = {}) => fetch(url, { ...init, ...insecure, keepalive: false } as RequestInit);
const altSvc = (port: number) => `h3=":${port}"; ma=86400`;

/** The errno of a plain TCP connect to the port, or "connected". */
async function tcpConnect(port: number): Promise<string> {
  try {
    const socket = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } });
    socket.end();
    return "connected";
  } catch (error) {
    return (error as { code?: string }).code ?? String(error);
  }
}

/** `curl --http1.1 -k`: the status line, the headers (lowercased names) and the body. */
async function curl(url: string, method = "GET") {
  const child = Bun.spawn(["curl", "--http1.1", "-k", "-s", "-S", "-i", "-X", method, url], { stdout: "pipe", stderr: "pipe" });
  const [output, exitCode] = await Promise.all([new Response(child.stdout).text(), child.exited]);
  const split = output.indexOf("\r\n\r\n");
  const head = output.slice(0, split);
  const body = output.slice(split + 4);
  const lines = head.split("\r\n");
  const headers = new Map(lines.slice(1).map((line) => [line.slice(0, line.indexOf(":")).toLowerCase(), line.slice(line.indexOf(":") + 1).trim()]));
  return { exitCode, statusLine: lines[0], headers, body };
}

describe("the same handlers over HTTPS/1.1 and HTTP/3", () => {
  let server: Server;
  const seen: { protocol: string; sameServer: boolean }[] = [];

  beforeAll(() => {
    server = serve({
      port: 0,
      tls,
      routes: {
        "/hello": () => new Response("Hello from both\n"),
        "/users/:id/posts/:post": (req) => Response.json({ params: req.params }),
        "/only-get": { GET: () => new Response("got\n") },
        "/json": Response.json({ fixed: true }),
        "/server": (req, s) => {
          seen.push({ protocol: new URL(req.url).protocol, sameServer: s === server });
          return new Response(`port ${s.port}\n`);
        },
        "/throws": () => {
          throw new Error("boom");
        },
        "/own-alt-svc": () => new Response("mine\n", { headers: { "alt-svc": "clear" } }),
        "/proxied": async () => fetch(`${upstream.url}`),
        "/files/*": (req) => new Response(`file ${new URL(req.url).pathname}\n`),
      },
      static: { "/static": "static body\n" },
      fetch: (req) => new Response(`fallback ${req.method} ${new URL(req.url).pathname}\n`, { status: 202 }),
    });
    server.route("GET", "/raw", (_req, res) => res.status(200).header("content-type", "text/plain").end("raw over HTTP/3\n"));
  });
  const upstream = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("from upstream\n", { headers: { "x-upstream": "1" } }) });

  afterAll(async () => {
    await server.stop(true);
    upstream.stop(true);
  });

  test("server.http1 names the TCP port (the UDP port's number) and the alt-svc value; server.url stays https", () => {
    expect(server.http1).toEqual({ port: server.port, altSvc: altSvc(server.port) });
    expect(server.url.protocol).toBe("https:");
  });

  test("Bun's fetch gets the same status, body and content type over TCP as over HTTP/3, and TCP adds alt-svc", async () => {
    const paths = ["/hello", "/users/7/posts/a%20b", "/only-get", "/json", "/static", "/files/x/y.txt", "/nowhere?q=1"];
    for (const path of paths) {
      const url = new URL(path, server.url);
      const [tcp, h3] = await Promise.all([tcpFetch(url), h3fetch(url)]);
      const [tcpBody, h3Body] = await Promise.all([tcp.text(), h3.text()]);
      expect({ path, status: tcp.status, body: tcpBody }).toEqual({ path, status: h3.status, body: h3Body });
      expect(tcp.headers.get("content-type")).toBe(h3.headers.get("content-type"));
      expect(tcp.headers.get("alt-svc")).toBe(altSvc(server.port));
      expect(h3.headers.get("alt-svc")).toBeNull();
    }
  });

  test("route params, a method the route lacks (to fetch), the fallback and a wildcard", async () => {
    const params = await tcpFetch(new URL("/users/7/posts/a%20b", server.url));
    expect(await params.json()).toEqual({ params: { id: "7", post: "a b" } });

    const post = await tcpFetch(new URL("/only-get", server.url), { method: "POST", body: "x" });
    expect([post.status, await post.text()]).toEqual([202, "fallback POST /only-get\n"]);

    const missing = await tcpFetch(new URL("/nowhere", server.url));
    expect([missing.status, await missing.text()]).toEqual([202, "fallback GET /nowhere\n"]);

    // Our router's "/files/*" also takes "/files" itself (Bun's does not):
    // the fallback matches it as the HTTP/3 side does.
    const [tcp, h3] = await Promise.all([tcpFetch(new URL("/files", server.url)), h3fetch(new URL("/files", server.url))]);
    expect([tcp.status, await tcp.text()]).toEqual([h3.status, await h3.text()]);
  });

  test("handlers get our Server as their second argument over both protocols", async () => {
    seen.length = 0;
    const tcp = await tcpFetch(new URL("/server", server.url));
    const h3 = await h3fetch(new URL("/server", server.url));
    expect(await tcp.text()).toBe(`port ${server.port}\n`);
    expect(await h3.text()).toBe(`port ${server.port}\n`);
    expect(seen).toEqual([
      { protocol: "https:", sameServer: true },
      { protocol: "https:", sameServer: true },
    ]);
  });

  test("a throwing handler gets the same 500 over both, with alt-svc over TCP", async () => {
    const [tcp, h3] = await Promise.all([tcpFetch(new URL("/throws", server.url)), h3fetch(new URL("/throws", server.url))]);
    expect([tcp.status, await tcp.text()]).toEqual([500, "Internal Server Error\n"]);
    expect([h3.status, await h3.text()]).toEqual([500, "Internal Server Error\n"]);
    expect(tcp.headers.get("alt-svc")).toBe(altSvc(server.port));
  });

  test("a handler's own alt-svc is kept; a proxied Response gets alt-svc added", async () => {
    const own = await tcpFetch(new URL("/own-alt-svc", server.url));
    expect(own.headers.get("alt-svc")).toBe("clear");
    const proxied = await tcpFetch(new URL("/proxied", server.url));
    expect(await proxied.text()).toBe("from upstream\n");
    expect(proxied.headers.get("x-upstream")).toBe("1");
    expect(proxied.headers.get("alt-svc")).toBe(altSvc(server.port));
  });

  test("a route() (ResponseWriter) path is HTTP/3-only: TCP answers 421 Misdirected Request with alt-svc", async () => {
    const h3 = await h3fetch(new URL("/raw", server.url));
    expect([h3.status, await h3.text()]).toEqual([200, "raw over HTTP/3\n"]);
    const tcp = await tcpFetch(new URL("/raw", server.url));
    expect(tcp.status).toBe(421);
    expect(tcp.headers.get("alt-svc")).toBe(altSvc(server.port));
    expect(await tcp.text()).toBe(`GET /raw is served over HTTP/3 only (alt-svc: ${altSvc(server.port)})\n`);
  });

  test("HEAD of a static route: status and headers, no body", async () => {
    const head = await tcpFetch(new URL("/static", server.url), { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("alt-svc")).toBe(altSvc(server.port));
    expect(await head.text()).toBe("");
  });

  test("server.requestIP() answers for a TCP request too", async () => {
    const probe = serve({ port: 0, tls, fetch: (req, s) => Response.json(s.requestIP(req)) });
    try {
      const [tcp, h3] = await Promise.all([tcpFetch(probe.url).then((r) => r.json()), h3fetch(probe.url).then((r) => r.json())]);
      expect(tcp).toMatchObject({ address: "127.0.0.1", family: "IPv4" });
      expect(h3).toMatchObject({ address: "127.0.0.1", family: "IPv4" });
    } finally {
      await probe.stop(true);
    }
  });

  test("curl --http1.1 -k: HTTP/1.1 status line, the same body as HTTP/3, the exact alt-svc", async () => {
    const url = new URL("/users/42/posts/7", server.url).href;
    const [result, h3] = await Promise.all([curl(url), h3fetch(url).then((r) => r.text())]);
    expect(result.exitCode).toBe(0);
    expect(result.statusLine).toBe("HTTP/1.1 200 OK");
    expect(result.headers.get("alt-svc")).toBe(altSvc(server.port));
    expect(result.body).toBe(h3);
    expect(JSON.parse(result.body)).toEqual({ params: { id: "42", post: "7" } });

    const raw = await curl(new URL("/raw", server.url).href);
    expect(raw.statusLine).toBe("HTTP/1.1 421 Misdirected Request");
    expect(raw.headers.get("alt-svc")).toBe(altSvc(server.port));
  });
});

describe("without fetch, with the error hook and development", () => {
  test("405 for a path a route has without the method, 404 elsewhere: the same over both protocols", async () => {
    const server = serve({ port: 0, tls, routes: { "/only-get": { GET: () => new Response("got\n") } } });
    try {
      for (const [method, path, status] of [
        ["POST", "/only-get", 405],
        ["GET", "/nowhere", 404],
      ] as const) {
        const url = new URL(path, server.url);
        const [tcp, h3] = await Promise.all([tcpFetch(url, { method }), h3fetch(url, { method })]);
        expect([tcp.status, await tcp.text()]).toEqual([status, await h3.text()]);
        expect(h3.status).toBe(status);
        expect(tcp.headers.get("alt-svc")).toBe(altSvc(server.port));
      }
    } finally {
      await server.stop(true);
    }
  });

  test("the error hook's Response and the development page answer TCP requests too", async () => {
    const errors: string[] = [];
    const hooked = serve({
      port: 0,
      tls,
      routes: { "/throws": () => Promise.reject(new Error("async boom")) },
      error: (error) => {
        errors.push((error as Error).message);
        return new Response("handled\n", { status: 503 });
      },
    });
    const dev = serve({ port: 0, tls, development: true, routes: { "/throws": () => { throw new Error("dev <boom>"); } } });
    try {
      const tcp = await tcpFetch(new URL("/throws", hooked.url));
      expect([tcp.status, await tcp.text(), tcp.headers.get("alt-svc")]).toEqual([503, "handled\n", altSvc(hooked.port)]);
      const h3 = await h3fetch(new URL("/throws", hooked.url));
      expect([h3.status, await h3.text()]).toEqual([503, "handled\n"]);
      expect(errors).toEqual(["async boom", "async boom"]);

      const page = await tcpFetch(new URL("/throws", dev.url));
      expect(page.status).toBe(500);
      expect(page.headers.get("content-type")).toBe("text/html;charset=utf-8");
      const html = await page.text();
      expect(html).toContain("Error: dev &lt;boom&gt;");
      expect(html).toContain("<code>GET /throws</code>");
    } finally {
      await hooked.stop(true);
      await dev.stop(true);
    }
  });
});

describe("handler timeout over TCP", () => {
  test("a handler past handlerTimeoutMs gets 504 over TCP as over HTTP/3; error and log hear of it", async () => {
    const errors: string[] = [];
    const logs: string[] = [];
    let release!: () => void;
    const never = new Promise<Response>((resolve) => (release = () => resolve(new Response("too late\n"))));
    const server = serve({
      port: 0,
      tls,
      handlerTimeoutMs: 200,
      routes: { "/stuck": () => never },
      error: (error) => void errors.push((error as { code?: string }).code ?? String(error)),
      log: (entry) => void logs.push(`${entry.level}: ${entry.message}`),
    });
    try {
      const [tcp, h3] = await Promise.all([tcpFetch(new URL("/stuck", server.url)), h3fetch(new URL("/stuck", server.url))]);
      expect([tcp.status, await tcp.text(), tcp.headers.get("alt-svc")]).toEqual([504, "Gateway Timeout\n", altSvc(server.port)]);
      expect([h3.status, await h3.text()]).toEqual([504, "Gateway Timeout\n"]);
      expect(errors).toEqual(["ERR_HANDLER_TIMEOUT", "ERR_HANDLER_TIMEOUT"]);
      expect(logs).toEqual(Array(2).fill("warn: handler for GET /stuck did not respond within 200 ms: sent 504"));
    } finally {
      release();
      await server.stop(true);
    }
  });
});

describe("the TCP side's life", () => {
  test("http1: false: no TCP socket (connection refused), HTTP/3 still serves", async () => {
    const server = serve({ port: 0, tls, http1: false, fetch: () => new Response("h3 only\n") });
    try {
      expect(server.http1).toBeNull();
      expect(await tcpConnect(server.port)).toBe("ECONNREFUSED");
      expect(await (await h3fetch(server.url)).text()).toBe("h3 only\n");
    } finally {
      await server.stop(true);
    }
  });

  test("http1 must be a boolean", () => {
    expect(() => serve({ port: 0, tls, http1: "yes" as never })).toThrow(TypeError);
  });

  test("stop() lets an in-flight TCP request finish, then the TCP port refuses; stop(true) closes TCP too", async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let arrived!: () => void;
    const started = new Promise<void>((resolve) => (arrived = resolve));
    const server = serve({
      port: 0,
      tls,
      routes: {
        "/slow": async () => {
          arrived();
          await held;
          return new Response("finished\n");
        },
      },
    });
    const port = server.port;
    expect(await tcpConnect(port)).toBe("connected");
    const inFlight = tcpFetch(new URL("/slow", server.url));
    await started;
    const stopped = server.stop();
    release();
    const response = await inFlight;
    expect([response.status, await response.text()]).toEqual([200, "finished\n"]);
    await stopped;
    expect(await tcpConnect(port)).toBe("ECONNREFUSED");

    const other = serve({ port: 0, tls, fetch: () => new Response("x") });
    expect(await tcpConnect(other.port)).toBe("connected");
    await other.stop(true);
    expect(await tcpConnect(other.port)).toBe("ECONNREFUSED");
  });

  test("reload() and static() while running change what TCP serves as well", async () => {
    const server = serve({ port: 0, tls, routes: { "/v": () => new Response("one\n") } });
    try {
      server.reload({ routes: { "/v": () => new Response("two\n"), "/new/:x": (req) => new Response(`new ${req.params.x}\n`) }, fetch: () => new Response("fetch\n") });
      server.static("/added", "added\n");
      for (const path of ["/v", "/new/9", "/added", "/else"]) {
        const url = new URL(path, server.url);
        const [tcp, h3] = await Promise.all([tcpFetch(url), h3fetch(url)]);
        expect({ path, body: await tcp.text() }).toEqual({ path, body: await h3.text() });
        expect(tcp.headers.get("alt-svc")).toBe(altSvc(server.port));
      }
      expect(await (await tcpFetch(new URL("/v", server.url))).text()).toBe("two\n");
    } finally {
      await server.stop(true);
    }
  });

  test("a port taken on TCP: a clear error naming http1: false; http1: false then starts", async () => {
    const blocker = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    try {
      let caught: unknown;
      try {
        serve({ port: blocker.port, tls, fetch: () => new Response("x") });
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(Error);
      expect((caught as { code?: string }).code).toBe("EADDRINUSE");
      expect((caught as Error).message).toContain("http1: false");
      // The UDP port was released again: the same number serves HTTP/3 only.
      const server = serve({ port: blocker.port, tls, http1: false, fetch: () => new Response("udp\n") });
      expect(await (await h3fetch(server.url)).text()).toBe("udp\n");
      await server.stop(true);
    } finally {
      blocker.stop(true);
    }
  });

  test("port 0: when the number the library picked for UDP is taken on TCP, serve() tries a new UDP port", async () => {
    // Bun.serve stands in for another process holding the TCP port: its
    // first call fails as a taken port does.
    const original = Bun.serve;
    const ports: number[] = [];
    (Bun as { serve: unknown }).serve = (options: { port: number }) => {
      ports.push(options.port);
      if (ports.length === 1) throw Object.assign(new Error(`Failed to start server. Is port ${options.port} in use?`), { code: "EADDRINUSE" });
      return original(options as never);
    };
    let server: Server | undefined;
    try {
      server = serve({ port: 0, tls, fetch: () => new Response("second try\n") });
    } finally {
      (Bun as { serve: unknown }).serve = original;
    }
    try {
      expect(ports.length).toBe(2);
      expect(ports[1]).toBe(server.port);
      expect(await (await tcpFetch(server.url)).text()).toBe("second try\n");
      expect(await (await h3fetch(server.url)).text()).toBe("second try\n");
    } finally {
      await server.stop(true);
    }
  });

  test("tls given as PEM text and as Buffers serves TCP as well", async () => {
    const pem = { cert: readFileSync(certs.cert, "utf8"), key: readFileSync(certs.key, "utf8") };
    for (const given of [pem, { cert: Buffer.from(pem.cert), key: Buffer.from(pem.key) }]) {
      const server = serve({ port: 0, tls: given, fetch: () => new Response("pem\n") });
      try {
        expect(await (await tcpFetch(server.url)).text()).toBe("pem\n");
      } finally {
        await server.stop(true);
      }
    }
  });
});
