// Native and static routes, driven from C through include/zig_h3.h, with
// Bun's HTTP/3 fetch as the client.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { makeCertificate } from "./helpers/certs.ts";
import { aioquicRaw, h3fetch } from "./helpers/clients.ts";

const root = join(import.meta.dir, "..");
const binary = join(tmpdir(), `zig-h3-native-server-${process.pid}`);
let child: ReturnType<typeof Bun.spawn<"pipe", "pipe", "pipe">>;
let port = 0;
const stdoutLines: string[] = [];

beforeAll(async () => {
  const compile = Bun.spawnSync([
    "cc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-I", join(root, "include"),
    join(root, "tests", "c", "native_server.c"), "-o", binary,
    "-L", join(root, "zig-out", "lib"), "-lzigquicheh3", `-Wl,-rpath,${join(root, "zig-out", "lib")}`,
  ]);
  expect(compile.stderr.toString()).toBe("");
  expect(compile.exitCode).toBe(0);
  const { cert, key } = makeCertificate();
  child = Bun.spawn([binary, cert, key], { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
  const reader = child.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) text += new TextDecoder().decode((await reader.read()).value);
  port = Number(text.trim());
  void (async () => {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      stdoutLines.push(new TextDecoder().decode(value));
    }
  })();
});

afterAll(async () => {
  child.stdin.end();
  expect(await child.exited).toBe(0);
  expect(await new Response(child.stderr).text()).toBe("");
  expect(stdoutLines.join("")).toBe("stopped\n");
});

test("a native C route answers on the loop thread", async () => {
  const response = await h3fetch(`https://127.0.0.1:${port}/native/a?b=c`);
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toBe("text/plain");
  expect(await response.text()).toMatch(/^native GET \/native\/a\?b=c fields=\d+\n$/);
});

test("a native route that does not answer gives 500", async () => {
  const response = await h3fetch(`https://127.0.0.1:${port}/silent`);
  expect(response.status).toBe(500);
  expect(await response.text()).toBe("Internal Server Error\n");
});

test("a static route is served by the library", async () => {
  const response = await h3fetch(`https://127.0.0.1:${port}/static`);
  expect(response.status).toBe(203);
  expect(response.headers.get("x-static")).toBe("yes");
  expect(await response.text()).toBe("static body");
});

test("an early POST (marked Early-Data by an intermediary) gets 425 before a native route runs; unmarked it is answered", async () => {
  const post = (extra: [string, string][]) => ({
    headers: [[":method", "POST"], [":scheme", "https"], [":authority", "localhost"], [":path", "/native-post"], ...extra] as [string, string][],
    body: 2,
  });
  const [early, plain] = await aioquicRaw(port, [post([["early-data", "1"]]), post([])]);
  expect(early!.status).toBe(425);
  expect(early!.body).toBe("Too Early\n");
  expect(plain!.status).toBe(200);
  expect(plain!.body).toMatch(/^native POST \/native-post fields=\d+\n$/);
});
