// Start/stop hygiene and start-up errors.
import { describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { serve, ZigH3Error } from "../ts/index.ts";
import { makeCertificate } from "./helpers/certs.ts";
import { h3fetch } from "./helpers/clients.ts";
import { difference, fdKinds, libraryThreads, namesOnlyWithServer, otherThreadCounts } from "./helpers/process-resources.ts";

const tls = makeCertificate();
const hello = { "/hello": () => new Response("hi") };

describe("lifecycle", () => {
  // The assertions are about what the library owns: its threads (all named
  // zig-h3-*) and the descriptors it opens (its UDP socket, epoll instance
  // and eventfds). JavaScriptCore starts and ends GC and JIT helpers on its
  // own schedule, under names that change between Bun releases, so instead of
  // listing them the test interleaves cycles that never start a server
  // (the control) and asks which thread names exist exactly when a server
  // runs: a thread the library started under any other name would be one.
  test("20 start/stop cycles leave fds and threads where they started; no thread but zig-h3-* comes with a server", async () => {
    // One warm-up cycle lets Bun create its lazily started I/O threads.
    await serve({ port: 0, tls, routes: hello }).stop();
    await Bun.sleep(50);
    const fdsBefore = fdKinds();
    expect(libraryThreads()).toEqual([]);
    const withServer: Map<string, number>[] = [];
    const control: Map<string, number>[] = [];
    for (let cycle = 0; cycle < 20; cycle++) {
      control.push(otherThreadCounts());
      await Bun.sleep(5);
      control.push(otherThreadCounts());

      const server = serve({ port: 0, tls, routes: hello });
      expect(server.port).toBeGreaterThan(0);
      expect(libraryThreads()).toEqual(["zig-h3-loop"]);
      withServer.push(otherThreadCounts());
      const opened = difference(fdKinds(), fdsBefore);
      // Ours: one UDP socket, one epoll, the loop's wake eventfd and the
      // doorbell eventfd (Bun's reader of the doorbell may hold one more);
      // and Bun's listening TCP socket for HTTP/1.1 (http1, on by default),
      // which stop() must close as well (checked after the cycles).
      expect(opened.socket).toBe(2);
      expect(opened["anon_inode:[eventpoll]"]).toBe(1);
      expect(opened["anon_inode:[eventfd]"]).toBeGreaterThanOrEqual(2);
      await Bun.sleep(5);
      withServer.push(otherThreadCounts());
      await server.stop();
    }
    await Bun.sleep(50);
    expect(difference(fdKinds(), fdsBefore)).toEqual({});
    expect(libraryThreads()).toEqual([]);
    expect(namesOnlyWithServer(withServer, control)).toEqual([]);
  });

  test("the control comparison does find a thread that comes with each server under another name", async () => {
    // The check above, shown to work: a Worker is a thread named otherwise
    // ("Bun Worker" or similar) that exists exactly while its "server" runs.
    const withServer: Map<string, number>[] = [];
    const control: Map<string, number>[] = [];
    for (let cycle = 0; cycle < 3; cycle++) {
      control.push(otherThreadCounts());
      const worker = new Worker(URL.createObjectURL(new Blob(["setInterval(() => {}, 1000);"], { type: "text/javascript" })));
      await new Promise((resolve) => worker.addEventListener("open", resolve, { once: true }));
      withServer.push(otherThreadCounts());
      worker.terminate();
      await Bun.sleep(100);
    }
    expect(namesOnlyWithServer(withServer, control).length).toBeGreaterThan(0);
  });

  test("stop is idempotent and asyncDispose stops", async () => {
    const server = serve({ port: 0, tls, routes: hello });
    await Promise.all([server.stop(), server.stop()]);
    await server.stop();
    {
      await using disposable = serve({ port: 0, tls, routes: hello });
      expect(disposable.port).toBeGreaterThan(0);
    }
  });
});

describe("tls sources", () => {
  test("PEM text and Bun.file work like paths", async () => {
    const pemText = { cert: readFileSync(tls.cert, "utf8"), key: readFileSync(tls.key, "utf8") };
    const bunFiles = { cert: Bun.file(tls.cert), key: Bun.file(tls.key) };
    for (const source of [pemText, bunFiles]) {
      await using server = serve({ port: 0, tls: source, routes: hello });
      const response = await h3fetch(new URL("/hello", server.url));
      expect(await response.text()).toBe("hi");
    }
  });

  test("a wrong tls value is a TypeError", () => {
    expect(() => serve({ port: 0, tls: { cert: 42 as never, key: tls.key }, routes: hello })).toThrow(/tls.cert must be a file path, PEM text, a Buffer\/Uint8Array of PEM or Bun.file/);
  });
});

describe("start-up errors are thrown, not crashes", () => {
  test("missing certificate file", () => {
    const missing = join(tls.dir, "does-not-exist.pem");
    let error: unknown;
    try {
      serve({ port: 0, tls: { cert: missing, key: tls.key }, routes: hello });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ZigH3Error);
    expect((error as ZigH3Error).code).toBe("ZIG_H3_ERR_CERT_NOT_FOUND");
    expect((error as Error).message).toContain(missing);
    expect((error as Error).message).toContain("certificate file not found");
  });

  test("malformed PEM certificate and key", () => {
    const garbage = join(tls.dir, "garbage.pem");
    writeFileSync(garbage, "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n");
    expect(() => serve({ port: 0, tls: { cert: garbage, key: tls.key }, routes: hello })).toThrow(
      expect.objectContaining({ code: "ZIG_H3_ERR_CERT_INVALID" }),
    );
    expect(() => serve({ port: 0, tls: { cert: tls.cert, key: garbage }, routes: hello })).toThrow(
      expect.objectContaining({ code: "ZIG_H3_ERR_KEY_INVALID" }),
    );
  });

  test("port already in use, while the first server keeps serving", async () => {
    const first = serve({ port: 0, tls, routes: hello });
    try {
      let error: unknown;
      try {
        serve({ port: first.port, tls, routes: hello });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ZigH3Error);
      expect((error as ZigH3Error).code).toBe("ZIG_H3_ERR_ADDRESS_IN_USE");
      expect((error as Error).message).toContain(`127.0.0.1:${first.port}`);
      const response = await h3fetch(new URL("/hello", first.url));
      expect(response.status).toBe(200);
      expect(await response.text()).toBe("hi");
    } finally {
      await first.stop();
    }
  });

  test("bad options are TypeErrors with a message", () => {
    expect(() => serve({ port: 70000, tls, routes: hello })).toThrow(TypeError);
    expect(() => serve({ port: 0, tls, routes: { "no-slash": () => new Response() } })).toThrow(/must be a string starting with/);
    expect(() => serve({ port: 0, tls, routes: { "/x": { get: () => new Response() } } })).toThrow(/uppercase HTTP method/);
    expect(() => serve({ port: 0, tls, limits: { max_connections: -1 } })).toThrow(new RangeError("limits.max_connections must be in 1..1048576, got -1"));
  });

  test("a limit out of a range that depends on other limits is a typed library error", () => {
    // serve() checks fixed ranges itself; this one (at least bodyChunkBytes) the library checks.
    expect(() => serve({ port: 0, tls, routes: hello, limits: { requestReadWindowBytes: 1024 } })).toThrow(
      expect.objectContaining({ code: "ZIG_H3_ERR_CONFIG_INVALID" }),
    );
  });
});
