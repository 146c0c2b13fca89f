// HTTP/3 frame errors (issue 7, item 3): sequences RFC 9114 forbids, sent by
// aioquic at the frame level, close the connection with H3_FRAME_UNEXPECTED
// (0x105), and a healthy client is served right after each.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { serve, type Server } from "../ts/index.ts";
import { makeCertificate } from "./helpers/certs.ts";
import { h3fetch } from "./helpers/clients.ts";

const tls = makeCertificate();
const root = join(import.meta.dir, "..");
const H3_FRAME_UNEXPECTED = 0x105;
let server: Server;
beforeAll(() => {
  server = serve({ port: 0, tls, routes: { "/hello": () => new Response("healthy") } });
});
afterAll(() => server.stop());

test.each(["data-before-headers", "second-settings", "data-on-control"])("%s closes the connection with H3_FRAME_UNEXPECTED", async (mode) => {
  const child = Bun.spawn([join(root, ".venv", "bin", "python"), join(root, "tests", "clients", "h3_frames.py"), "127.0.0.1", String(server.port), mode], {
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, exitCode] = await Promise.all([new Response(child.stdout).text(), child.exited]);
  expect(exitCode).toBe(0);
  expect(JSON.parse(stdout)).toMatchObject({ mode, close_code: H3_FRAME_UNEXPECTED });
  const response = await h3fetch(new URL("/hello", server.url));
  expect(response.status).toBe(200);
  expect(await response.text()).toBe("healthy");
});
