// HTTP/3 frame errors (issue 7, item 3): sequences RFC 9114 and RFC 9204
// forbid, sent by aioquic at the frame level (tests/clients/h3_frames.py),
// close the connection with the error code the RFCs name, and a healthy
// client is served right after each.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { serve, type Server } from "../ts/index.ts";
import { makeCertificate } from "./helpers/certs.ts";
import { aioquicRaw, h3fetch } from "./helpers/clients.ts";

const tls = makeCertificate();
const root = join(import.meta.dir, "..");
const H3_STREAM_CREATION_ERROR = 0x103;
const H3_CLOSED_CRITICAL_STREAM = 0x104;
const H3_FRAME_UNEXPECTED = 0x105;
const H3_EXCESSIVE_LOAD = 0x107;
const H3_SETTINGS_ERROR = 0x109;
const H3_MISSING_SETTINGS = 0x10a;
const QPACK_DECOMPRESSION_FAILED = 0x200;
const QPACK_ENCODER_STREAM_ERROR = 0x201;
let server: Server;
beforeAll(() => {
  server = serve({ port: 0, tls, routes: { "/hello": () => new Response("healthy") } });
});
afterAll(() => server.stop());

const cases: [mode: string, code: number][] = [
  ["data-before-headers", H3_FRAME_UNEXPECTED],
  ["second-settings", H3_FRAME_UNEXPECTED],
  ["data-on-control", H3_FRAME_UNEXPECTED],
  ["oversized-settings", H3_EXCESSIVE_LOAD],
  ["missing-settings", H3_MISSING_SETTINGS],
  ["duplicate-setting", H3_SETTINGS_ERROR],
  ["http2-setting", H3_SETTINGS_ERROR],
  ["second-control", H3_STREAM_CREATION_ERROR],
  ["push-stream", H3_STREAM_CREATION_ERROR],
  ["close-control", H3_CLOSED_CRITICAL_STREAM],
  ["qpack-bad-static-index", QPACK_DECOMPRESSION_FAILED],
  ["qpack-encoder-garbage", QPACK_ENCODER_STREAM_ERROR],
];

test.each(cases)("%s closes the connection with error code %i", async (mode, code) => {
  const child = Bun.spawn([join(root, ".venv", "bin", "python"), join(root, "tests", "clients", "h3_frames.py"), "127.0.0.1", String(server.port), mode], {
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, exitCode] = await Promise.all([new Response(child.stdout).text(), child.exited]);
  expect(exitCode).toBe(0);
  expect(JSON.parse(stdout)).toMatchObject({ mode, close_code: code });
  const response = await h3fetch(new URL("/hello", server.url));
  expect(response.status).toBe(200);
  expect(await response.text()).toBe("healthy");
});

// Oversized field sections get 431 on their own stream, not a connection
// error: a section whose decoded fields break the limits is decoded and
// refused; one whose compressed size alone is past twice
// max_request_headers_size is refused unread. The same connection then
// serves a normal request.
test("oversized field sections get 431 and the connection keeps serving", async () => {
  const get = (extra: [string, string][]) => ({ headers: [[":method", "GET"], [":scheme", "https"], [":authority", "localhost"], [":path", "/hello"], ...extra] as [string, string][] });
  const results = await aioquicRaw(server.port, [get([["x-big", "a".repeat(40_000)]]), get([["x-big", "~".repeat(40_000)]]), get([])]);
  expect(results.map((r) => r.status)).toEqual([431, 431, 200]);
  expect(results[2]!.body).toBe("healthy");
});
