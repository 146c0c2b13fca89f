// Lifecycle (issue 7, item 7): SIGTERM to a running server process drains
// the request in flight (graceful stop with a deadline) and the process
// exits cleanly; a new server binds the same port at once and serves.
import { expect, test } from "bun:test";
import { join } from "node:path";
import { serve } from "../ts/index.ts";
import { makeCertificate } from "./helpers/certs.ts";
import { h3fetch } from "./helpers/clients.ts";

const tls = makeCertificate();

test("SIGTERM drains the in-flight request, then the same port is reused at once", async () => {
  // Find a free UDP port by binding port 0 and releasing it.
  const probe = serve({ port: 0, tls });
  const port = probe.port;
  await probe.stop();

  const child = Bun.spawn([process.execPath, join(import.meta.dir, "..", "examples", "showcase.ts")], {
    env: { ...process.env, PORT: String(port), CERT: tls.cert, KEY: tls.key, MODE: "poll" },
    stdout: "pipe",
    stderr: "pipe",
  });
  const reader = child.stdout.getReader();
  let banner = "";
  while (!banner.includes("listening")) banner += new TextDecoder().decode((await reader.read()).value);

  const inFlight = h3fetch(`https://127.0.0.1:${port}/slow/600`);
  await Bun.sleep(150);
  child.kill("SIGTERM");
  const response = await inFlight;
  expect(response.status).toBe(200);
  expect(await response.text()).toBe("waited 600 ms\n");
  expect(await child.exited).toBe(0);

  await using restarted = serve({ port, tls, routes: { "/hello": () => new Response("back") } });
  expect(restarted.port).toBe(port);
  expect(await (await h3fetch(`https://127.0.0.1:${port}/hello`)).text()).toBe("back");
});
