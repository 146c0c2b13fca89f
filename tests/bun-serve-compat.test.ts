// Bun.serve's habits where they overlap with ours (issue 13, item 3), each
// checked over HTTP/3 with Bun's own fetch: stop() semantics, fetch as the
// fallback for a method a route lacks, the default content type of a
// string body, hostname/port forms, every tls form, reload(),
// requestIP(), timeout(), handler timeouts, the development error page,
// qlogDir, and option checking.
import { afterAll, describe, expect, test } from "bun:test";
import { createPrivateKey } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serve, type LogEntry, type Server } from "../ts/index.ts";
import { makeCertificate } from "./helpers/certs.ts";
import { gtlsclient, h3fetch } from "./helpers/clients.ts";

const tls = makeCertificate();
const servers: Server[] = [];
afterAll(async () => {
  await Promise.all(servers.map((server) => server.stop(true)));
});

function start(options: Omit<Parameters<typeof serve>[0], "tls"> & { tls?: Parameters<typeof serve>[0]["tls"] }): Server {
  const server = serve({ port: 0, tls, ...options });
  servers.push(server);
  return server;
}

/** A promise and the function that settles it. */
function gate<T = void>() {
  let open!: (value: T) => void;
  const opened = new Promise<T>((resolve) => (open = resolve));
  return { opened, open };
}

describe("stop()", () => {
  test("stop() lets an in-flight request finish (GOAWAY), and refuses nothing it already took", async () => {
    const entered = gate();
    const release = gate();
    const server = serve({
      port: 0,
      tls,
      routes: {
        "/slow": async () => {
          entered.open();
          await release.opened;
          return new Response("x".repeat(100_000));
        },
      },
    });
    const response = h3fetch(new URL("/slow", server.url));
    await entered.opened;
    const stopped = server.stop();
    release.open();
    const answer = await response;
    expect(answer.status).toBe(200);
    expect((await answer.text()).length).toBe(100_000);
    await stopped;
  });

  test("stop(true) closes at once: the in-flight request aborts and its signal fires", async () => {
    const entered = gate<AbortSignal>();
    const server = serve({
      port: 0,
      tls,
      routes: {
        "/hang": (req) => {
          entered.open(req.signal);
          return new Promise<Response>(() => {});
        },
      },
    });
    // gtlsclient (ngtcp2), because Bun's fetch reports a closed HTTP/3 connection only after its own 10 s timeout.
    const response = gtlsclient("127.0.0.1", server.port, "/hang");
    const signal = await entered.opened;
    await server.stop(true);
    expect(signal.aborted).toBe(true);
    expect((signal.reason as DOMException).name).toBe("AbortError");
    const result = await response;
    expect(result.status).toBeNull();
    expect(result.body.length).toBe(0);
    expect(result.log).toContain("CONNECTION_CLOSE");
  });

  test("the object form: closeActiveConnections, and the deprecated graceful", async () => {
    for (const options of [{ closeActiveConnections: true }, { graceful: false }]) {
      const entered = gate<AbortSignal>();
      const server = serve({ port: 0, tls, routes: { "/hang": (req) => (entered.open(req.signal), new Promise<Response>(() => {})) } });
      const response = gtlsclient("127.0.0.1", server.port, "/hang");
      const signal = await entered.opened;
      await server.stop(options);
      expect(signal.aborted).toBe(true);
      expect((await response).status).toBeNull();
    }
    expect(() => serve({ port: 0, tls }).stop({ timeoutMs: -1 })).toThrow(TypeError);
  });
});

describe("routing as in Bun.serve", () => {
  test("a method the route lacks goes to fetch; without fetch it is 405", async () => {
    const withFetch = start({
      routes: { "/item": { GET: () => new Response("route GET") } },
      fetch: (req) => new Response(`fetch ${req.method} ${new URL(req.url).pathname}`),
    });
    const post = await h3fetch(new URL("/item", withFetch.url), { method: "POST", body: "x" });
    expect(post.status).toBe(200);
    expect(await post.text()).toBe("fetch POST /item");
    expect(await (await h3fetch(new URL("/item", withFetch.url))).text()).toBe("route GET");
    const withoutFetch = start({ routes: { "/item": { GET: () => new Response("route GET") } } });
    const refused = await h3fetch(new URL("/item", withoutFetch.url), { method: "POST", body: "x" });
    expect(refused.status).toBe(405);
    await refused.arrayBuffer();
  });

  test("a string body gets text/plain;charset=utf-8 as in Bun.serve; an explicit type, an empty body and a stream keep theirs", async () => {
    const server = start({
      routes: {
        "/string": () => new Response("text"),
        "/typed": () => new Response("<p>", { headers: { "content-type": "text/html" } }),
        "/empty": () => new Response(""),
        "/json": () => Response.json({ a: 1 }),
        "/stream": () =>
          new Response(
            new ReadableStream({
              async pull(controller) {
                await Bun.sleep(1);
                controller.enqueue(new TextEncoder().encode("chunk"));
                controller.close();
              },
            }),
          ),
      },
    });
    const type = async (path: string) => {
      const response = await h3fetch(new URL(path, server.url));
      const body = await response.text();
      return [response.headers.get("content-type"), body];
    };
    expect(await type("/string")).toEqual(["text/plain;charset=utf-8", "text"]);
    expect(await type("/typed")).toEqual(["text/html", "<p>"]);
    expect(await type("/empty")).toEqual([null, ""]);
    expect(await type("/json")).toEqual(["application/json;charset=utf-8", '{"a":1}']);
    expect(await type("/stream")).toEqual([null, "chunk"]);
  });
});

describe("hostname and port", () => {
  const hello = { "/hello": () => new Response("hi") };

  test('hostname "localhost" binds 127.0.0.1 and keeps its name', async () => {
    const server = start({ hostname: "localhost", routes: hello });
    expect(server.hostname).toBe("localhost");
    const response = await h3fetch(`https://127.0.0.1:${server.port}/hello`);
    expect(await response.text()).toBe("hi");
  });

  test('hostname "0.0.0.0" and "::" bind every interface', async () => {
    const any4 = start({ hostname: "0.0.0.0", routes: hello });
    expect(await (await h3fetch(`https://127.0.0.1:${any4.port}/hello`)).text()).toBe("hi");
    const any6 = start({ hostname: "::", routes: hello });
    expect(any6.url.host).toBe(`[::]:${any6.port}`);
    expect(await (await h3fetch(`https://[::1]:${any6.port}/hello`)).text()).toBe("hi");
  });

  test("port takes a numeric string, and PORT / BUN_PORT from the environment", async () => {
    const fromString = start({ port: "0", routes: hello });
    expect(fromString.port).toBeGreaterThan(0);
    const saved = { PORT: process.env.PORT, BUN_PORT: process.env.BUN_PORT };
    try {
      delete process.env.BUN_PORT;
      process.env.PORT = "0";
      const fromEnv = serve({ tls, routes: hello });
      servers.push(fromEnv);
      expect(fromEnv.port).not.toBe(4433);
      expect(await (await h3fetch(new URL("/hello", fromEnv.url))).text()).toBe("hi");
      process.env.BUN_PORT = "not a port";
      expect(() => serve({ tls, routes: hello })).toThrow(new TypeError('port must be an integer 0..65535 or a numeric string, got "not a port"'));
    } finally {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
    expect(() => serve({ port: "44x", tls })).toThrow(TypeError);
  });
});

describe("tls as Bun.serve takes it", () => {
  const certPem = readFileSync(tls.cert, "utf8");
  const keyPem = readFileSync(tls.key, "utf8");
  const hello = { "/hello": () => new Response("hi") };

  test("Buffer, Uint8Array, BunFile and arrays of them", async () => {
    const forms = [
      { cert: Buffer.from(certPem), key: Buffer.from(keyPem) },
      { cert: new TextEncoder().encode(certPem), key: Bun.file(tls.key) },
      { cert: [Bun.file(tls.cert)], key: [keyPem] },
      { cert: [certPem, Buffer.from(certPem)], key: tls.key },
    ];
    for (const form of forms) {
      const server = start({ tls: form, routes: hello });
      expect(await (await h3fetch(new URL("/hello", server.url))).text()).toBe("hi");
      await server.stop(true);
    }
  });

  test("an encrypted key with its passphrase; a wrong passphrase is a TypeError", async () => {
    const encrypted = createPrivateKey(keyPem).export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: "s3cret" }).toString();
    expect(encrypted).toContain("ENCRYPTED PRIVATE KEY");
    const keyFile = join(tls.dir, "encrypted.pem");
    writeFileSync(keyFile, encrypted);
    for (const key of [encrypted, keyFile, Bun.file(keyFile)]) {
      const server = start({ tls: { cert: tls.cert, key, passphrase: "s3cret" }, routes: hello });
      expect(await (await h3fetch(new URL("/hello", server.url))).text()).toBe("hi");
      await server.stop(true);
    }
    expect(() => serve({ port: 0, tls: { cert: tls.cert, key: encrypted, passphrase: "wrong" } })).toThrow(/tls.key cannot be decrypted with tls.passphrase/);
  });

  test("ca is accepted (client certificates are not requested); requestCert is a TypeError", async () => {
    const server = start({ tls: { cert: tls.cert, key: tls.key, ca: [certPem] }, routes: hello });
    expect(await (await h3fetch(new URL("/hello", server.url))).text()).toBe("hi");
    expect(() => serve({ port: 0, tls: { cert: tls.cert, key: tls.key, ca: 42 as never } })).toThrow(/tls.ca must be/);
    expect(() => serve({ port: 0, tls: { cert: tls.cert, key: tls.key, requestCert: true as false } })).toThrow(/tls.requestCert is not supported/);
    expect(() => serve({ port: 0, tls: { cert: tls.cert, key: [tls.key, tls.key] } })).toThrow(/tls.key must be one key/);
  });
});

describe("server methods", () => {
  test("reload() replaces routes and fetch; a dropped route falls to fetch, a new pattern is served", async () => {
    const server = start({
      routes: { "/a": () => new Response("a1"), "/gone": () => new Response("gone1"), "/users/:id": (req) => new Response(`user ${req.params.id}`) },
      fetch: () => new Response("fetch1"),
    });
    const text = async (path: string) => (await h3fetch(new URL(path, server.url))).text();
    expect(await text("/a")).toBe("a1");
    expect(await text("/gone")).toBe("gone1");
    server.reload({
      routes: { "/a": () => new Response("a2"), "/b": () => new Response("b2"), "/users/:id": { GET: (req) => new Response(`member ${req.params.id}`) }, "/r": new Response("r2") },
      fetch: () => new Response("fetch2"),
    });
    expect(await text("/a")).toBe("a2");
    expect(await text("/b")).toBe("b2");
    expect(await text("/r")).toBe("r2");
    expect(await text("/users/7")).toBe("member 7");
    expect(await text("/gone")).toBe("fetch2");
    expect(await text("/elsewhere")).toBe("fetch2");
    server.reload({ fetch: undefined });
    const missing = await h3fetch(new URL("/gone", server.url));
    expect(missing.status).toBe(404);
    expect(await missing.text()).toBe("Not Found\n");
    expect(() => server.reload({ port: 1 } as never)).toThrow(/reload\(\) cannot change "port"/);
  });

  test("reload() adds fetch to a server that had none", async () => {
    const server = start({ routes: { "/a": { GET: () => new Response("a") } } });
    server.reload({ fetch: (req) => new Response(`late ${req.method}`) });
    expect(await (await h3fetch(new URL("/nowhere", server.url))).text()).toBe("late GET");
    expect(await (await h3fetch(new URL("/a", server.url), { method: "PUT", body: "x" })).text()).toBe("late PUT");
  });

  test("requestIP(req) gives the client's address, family and port (IPv4 and IPv6)", async () => {
    const routes = { "/ip": (req: Request, server: Server) => Response.json(server.requestIP(req)) };
    const v4 = start({ routes });
    const ip4 = await (await h3fetch(new URL("/ip", v4.url))).json();
    expect(ip4.address).toBe("127.0.0.1");
    expect(ip4.family).toBe("IPv4");
    expect(Number.isInteger(ip4.port) && ip4.port > 0 && ip4.port < 65536).toBe(true);
    const v6 = start({ hostname: "::1", routes });
    const ip6 = await (await h3fetch(`https://[::1]:${v6.port}/ip`)).json();
    expect(ip6).toMatchObject({ address: "::1", family: "IPv6" });
    expect(v4.requestIP(new Request("https://example.com/"))).toBeNull();
  });

  test("timeout(req, seconds) overrides handlerTimeoutMs for one request; 0 disables it", async () => {
    const server = start({
      handlerTimeoutMs: 30,
      routes: {
        "/patient": async (req, srv) => {
          srv.timeout(req, 0);
          await Bun.sleep(300);
          return new Response("patient");
        },
        "/impatient": async () => {
          await Bun.sleep(300);
          return new Response("too late");
        },
        "/own": (req, srv) => {
          srv.timeout(req, 0.05);
          return new Promise<Response>(() => {});
        },
      },
      log: () => {},
    });
    const patient = await h3fetch(new URL("/patient", server.url));
    expect([patient.status, await patient.text()]).toEqual([200, "patient"]);
    const impatient = await h3fetch(new URL("/impatient", server.url));
    expect([impatient.status, await impatient.text()]).toEqual([504, "Gateway Timeout\n"]);
    const own = await h3fetch(new URL("/own", server.url));
    expect([own.status, await own.text()]).toEqual([504, "Gateway Timeout\n"]);
  });

  test("a handler timeout aborts req.signal with a TimeoutError, calls error with ERR_HANDLER_TIMEOUT and logs a warning", async () => {
    const aborted = gate<unknown>();
    const errors: unknown[] = [];
    const logs: LogEntry[] = [];
    const server = start({
      handlerTimeoutMs: 50,
      routes: {
        "/stuck": (req) =>
          new Promise<Response>(() => {
            req.signal.addEventListener("abort", () => aborted.open(req.signal.reason));
          }),
      },
      error: (error) => void errors.push(error),
      log: (entry) => void logs.push(entry),
    });
    const response = await h3fetch(new URL("/stuck", server.url));
    expect(response.status).toBe(504);
    expect(await response.text()).toBe("Gateway Timeout\n");
    const reason = (await aborted.opened) as DOMException;
    expect(reason).toBeInstanceOf(DOMException);
    expect(reason.name).toBe("TimeoutError");
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: "ERR_HANDLER_TIMEOUT", request: { method: "GET", path: "/stuck" } });
    expect(logs.filter((entry) => entry.level === "warn" && entry.message.includes("GET /stuck did not respond within 50 ms"))).toHaveLength(1);
  });

  test("development: true answers a thrown error with an HTML page showing the stack; by default a plain 500", async () => {
    const routes = {
      "/boom": () => {
        throw new Error("kaboom <b>&</b>");
      },
    };
    const dev = start({ development: true, routes });
    expect(dev.development).toBe(true);
    const page = await h3fetch(new URL("/boom", dev.url));
    expect(page.status).toBe(500);
    expect(page.headers.get("content-type")).toBe("text/html;charset=utf-8");
    const html = await page.text();
    expect(html).toContain("<h2>Error: kaboom &lt;b&gt;&amp;&lt;/b&gt;</h2>");
    expect(html).toContain("bun-serve-compat.test.ts");
    expect(html).toContain("GET /boom");
    const plain = await h3fetch(new URL("/boom", start({ routes }).url));
    expect([plain.status, plain.headers.get("content-type"), await plain.text()]).toEqual([500, "text/plain", "Internal Server Error\n"]);
  });
});

describe("option checking", () => {
  test("an unknown limit names the nearest valid one; a Bun.serve option we lack is named; other unknown options too", () => {
    expect(() => serve({ port: 0, tls, limits: { max_body: 1 } as never })).toThrow(new TypeError('unknown limit "max_body"; did you mean "maxRequestBodySize"?'));
    expect(() => serve({ port: 0, tls, limits: { maxConection: 1 } as never })).toThrow(new TypeError('unknown limit "maxConection"; did you mean "maxConnections"?'));
    expect(() => serve({ port: 0, tls, limits: { logLevel: 1 } as never })).toThrow(/limits.logLevel is not a limit: set it with the "logLevel" option/);
    expect(() => serve({ port: 0, tls, limits: { maxConnections: 0 } })).toThrow(new RangeError("limits.maxConnections must be in 1..1048576, got 0"));
    expect(() => serve({ port: 0, tls, websocket: {} } as never)).toThrow(/serve\(\) option "websocket" \(a Bun.serve option\) is not supported by zig-quiche-h3/);
    expect(() => serve({ port: 0, tls, idleTimeout: 5 } as never)).toThrow(/use limits.idleTimeoutMs/);
    expect(() => serve({ port: 0, tls, fetchh: () => new Response() } as never)).toThrow(new TypeError('unknown serve() option "fetchh"; did you mean "fetch"?'));
  });

  test("camelCase limits take effect, and the deprecated snake_case names still do", async () => {
    for (const limits of [{ maxPathLength: 16 }, { max_path_length: 16 }]) {
      const server = start({ limits, routes: { "/*": () => new Response("ok") } });
      const long = await h3fetch(new URL("/" + "x".repeat(40), server.url));
      expect(long.status).toBe(414);
      await long.arrayBuffer();
      expect((await h3fetch(new URL("/short", server.url))).status).toBe(200);
    }
  });

  test("limits.qlogDir is created when missing and gets one qlog per connection; an impossible one fails naming the path", async () => {
    const root = mkdtempSync(join(tmpdir(), "zig-h3-qlog-"));
    const qlogDir = join(root, "nested", "qlogs");
    const server = start({ limits: { qlogDir }, routes: { "/hello": () => new Response("hi") } });
    expect(existsSync(qlogDir)).toBe(true);
    expect(await (await h3fetch(new URL("/hello", server.url))).text()).toBe("hi");
    await server.stop(true);
    expect(readdirSync(qlogDir).filter((name) => /^conn-\d+\.sqlog$/.test(name)).length).toBeGreaterThanOrEqual(1);
    const file = join(root, "a-file");
    writeFileSync(file, "");
    const impossible = join(file, "qlogs");
    expect(() => serve({ port: 0, tls, limits: { qlogDir: impossible } })).toThrow(`limits.qlogDir: cannot create directory "${impossible}" (ENOTDIR)`);
  });
});

describe("ref() and unref()", () => {
  const index = join(import.meta.dir, "..", "ts", "index.ts");
  const clients = join(import.meta.dir, "helpers", "clients.ts");
  /** Runs a script in a fresh Bun; resolves with its output once it exits by itself. */
  async function run(script: string): Promise<string> {
    const child = Bun.spawn([process.execPath, "-e", script], { stdout: "pipe", stderr: "pipe", env: { ...process.env, CERT: tls.cert, KEY: tls.key } });
    const [stdout, stderr] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
    return stdout + stderr;
  }

  for (const mode of ["poll", "callback"] as const) {
    test(`${mode} mode: an unref'd server still serves while something else holds the process, which then exits without stop()`, async () => {
      const output = await run(`
        import { serve } from ${JSON.stringify(index)};
        import { gtlsclient } from ${JSON.stringify(clients)};
        // gtlsclient, a child process, holds the process while it runs; Bun's
        // own HTTP/3 fetch would hold it for its 30 s connection idle time.
        const server = serve({ port: 0, mode: ${JSON.stringify(mode)}, http1: false, tls: { cert: process.env.CERT, key: process.env.KEY }, routes: { "/": () => new Response("served") } });
        server.unref();
        const result = await gtlsclient("127.0.0.1", server.port, "/");
        console.log(result.status, new TextDecoder().decode(result.body));
      `);
      expect(output.trim()).toBe("200 served");
    });

    test(`${mode} mode: ref() after unref() holds the process again`, async () => {
      // The timer is unref'd: it fires only while something else keeps the process alive.
      const output = await run(`
        import { serve } from ${JSON.stringify(index)};
        const server = serve({ port: 0, mode: ${JSON.stringify(mode)}, tls: { cert: process.env.CERT, key: process.env.KEY } });
        server.unref();
        server.ref();
        setTimeout(() => { console.log("held"); server.stop(true); }, 100).unref();
      `);
      expect(output.trim()).toBe("held");
    });
  }
});
