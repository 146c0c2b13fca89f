// Route params typed from the pattern, as in Bun.serve (issue 13, item 2).
// The checks are types: `tsc -p .` (scripts/test.sh) fails if a
// `@ts-expect-error` below stops being an error or an assignment stops
// compiling. The runtime test shows the same params arrive over HTTP/3.
import { expect, test } from "bun:test";
import { serve, type LimitOptions, type RouteParams, type ServeOptions } from "../ts/index.ts";
import { makeCertificate } from "./helpers/certs.ts";
import { h3fetch } from "./helpers/clients.ts";

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const check = <T extends true>() => {};
check<Equal<RouteParams<"/users/:id">, { id: string }>>();
check<Equal<RouteParams<"/a/:x/b/:y">, { x: string; y: string }>>();
check<Equal<RouteParams<"/plain">, {}>>();
check<Equal<RouteParams<"/files/*">, {}>>();
check<Equal<RouteParams<string>, Record<string, string>>>();

const tls = makeCertificate();

test("req.params is typed from each route's pattern and carries the decoded values", async () => {
  const server = serve({
    port: 0,
    tls,
    routes: {
      "/users/:id": (req) => {
        const id: string = req.params.id;
        // @ts-expect-error: no such parameter in "/users/:id"
        void req.params.name;
        return new Response(`user ${id}`);
      },
      "/orgs/:org/repos/:repo": {
        GET: (req) => new Response(`${req.params.org}/${req.params.repo}`),
      },
      "/plain": (req) => {
        // @ts-expect-error: a pattern without parameters has none
        void req.params.id;
        return new Response("plain");
      },
    },
    fetch: (req) => new Response(`fetch ${Object.keys(req.params).length}`),
  });
  try {
    expect(await (await h3fetch(new URL("/users/a%20b", server.url))).text()).toBe("user a b");
    expect(await (await h3fetch(new URL("/orgs/zig/repos/h3", server.url))).text()).toBe("zig/h3");
    expect(await (await h3fetch(new URL("/plain", server.url))).text()).toBe("plain");
    expect(await (await h3fetch(new URL("/other", server.url))).text()).toBe("fetch 0");
  } finally {
    await server.stop(true);
  }
});

test("limits are typed camelCase options; snake_case still typechecks (deprecated); unknown keys do not", () => {
  const camel: LimitOptions = { maxConnections: 10, idleTimeoutMs: 1000, requestReadWindowBytes: 1 << 20, ccAlgorithm: "bbr2", qlogDir: "qlogs" };
  const options: ServeOptions = { tls, limits: { ...camel, max_request_body_size: 1 } };
  // @ts-expect-error: not a limit
  const wrong: LimitOptions = { max_body: 1 };
  // @ts-expect-error: not a congestion controller
  const badCc: LimitOptions = { ccAlgorithm: "vegas" };
  expect([options.limits?.maxConnections, wrong, badCc].length).toBe(3);
});
