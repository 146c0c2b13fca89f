// A tour of the server, also used by the test suite and outside checks.
//   PORT (4433), HOST (127.0.0.1), CERT/KEY (certs/dev/), MODE (poll | callback | manual)
//
//   GET  /hello          -> "Hello, HTTP/3!\n"
//   POST /echo           -> the request body, streamed back as it arrives
//   GET  /bytes/:n       -> n bytes, byte i = i mod 251, streamed
//   POST /sha256         -> hex sha256 of the request body
//   GET  /trailers       -> body "ok", trailer x-checksum: sha256("ok")
//   GET  /slow/:ms       -> answers after ms milliseconds
//   GET  /throw          -> the handler throws (500)
//   QUIC datagrams       -> echoed (connection-scoped, see startShowcase)
import { join } from "node:path";
import { serve, withTrailers, type EventMode, type ServeOptions, type Server } from "../ts/index.ts";

const PATTERN_PERIOD = 251;

/** The n-byte pattern served by /bytes/:n, in chunks of at most 64 KiB. */
export function* patternChunks(n: number): Generator<Uint8Array> {
  for (let offset = 0; offset < n; ) {
    const size = Math.min(n - offset, 64 * 1024);
    const chunk = new Uint8Array(size);
    for (let i = 0; i < size; i++) chunk[i] = (offset + i) % PATTERN_PERIOD;
    offset += size;
    yield chunk;
  }
}

const sha256Hex = (data: string | Uint8Array) => new Bun.CryptoHasher("sha256").update(data).digest("hex");

export function showcaseOptions(overrides: Partial<ServeOptions> & Pick<ServeOptions, "tls">): ServeOptions {
  return {
    port: 4433,
    datagrams: true,
    ...overrides,
    routes: {
      "/hello": { GET: () => new Response("Hello, HTTP/3!\n", { headers: { "content-type": "text/plain" } }) },
      "/echo": { POST: (req) => new Response(req.body, { headers: { "content-type": req.headers.get("content-type") ?? "application/octet-stream" } }) },
      "/bytes/:n": {
        GET: (req) => {
          const n = Number(req.params.n);
          if (!Number.isSafeInteger(n) || n < 0) return new Response("n must be a non-negative integer\n", { status: 400 });
          const chunks = patternChunks(n);
          const body = new ReadableStream<Uint8Array>({
            pull(controller) {
              const next = chunks.next();
              if (next.done) controller.close();
              else controller.enqueue(next.value);
            },
          });
          return new Response(body, { headers: { "content-type": "application/octet-stream", "content-length": String(n) } });
        },
      },
      "/sha256": {
        POST: async (req) => {
          const hasher = new Bun.CryptoHasher("sha256");
          let bytes = 0;
          for await (const chunk of req.body!) {
            hasher.update(chunk);
            bytes += chunk.length;
          }
          return new Response(hasher.digest("hex") + "\n", { headers: { "content-type": "text/plain", "x-body-bytes": String(bytes) } });
        },
      },
      "/trailers": {
        GET: () => withTrailers(new Response("ok", { headers: { "content-type": "text/plain" } }), { "x-checksum": sha256Hex("ok") }),
      },
      "/slow/:ms": {
        GET: async (req) => {
          await Bun.sleep(Math.min(Number(req.params.ms) || 0, 60_000));
          return new Response(`waited ${req.params.ms} ms\n`, { headers: { "content-type": "text/plain" } });
        },
      },
      "/throw": {
        GET: () => {
          throw new Error("this handler throws on purpose");
        },
      },
      ...overrides.routes,
    },
  };
}

/** Starts the showcase: the routes above plus a QUIC datagram echo. */
export function startShowcase(overrides: Partial<ServeOptions> & Pick<ServeOptions, "tls">): Server {
  const server = serve(showcaseOptions(overrides));
  server.onDatagram((connection, data) => {
    try {
      connection.sendDatagram(data);
    } catch {
      // Echo is best effort: a full queue drops it, as the network may.
    }
  });
  return server;
}

if (import.meta.main) {
  const devCerts = join(import.meta.dir, "..", "certs", "dev");
  const mode = (process.env.MODE ?? "poll") as EventMode;
  const server = startShowcase({
    port: Number(process.env.PORT ?? 4433),
    hostname: process.env.HOST ?? "127.0.0.1",
    tls: { cert: process.env.CERT ?? join(devCerts, "cert.pem"), key: process.env.KEY ?? join(devCerts, "key.pem") },
    mode,
    error: (error) => console.error("handler failed:", error instanceof Error ? error.message : error),
  });
  if (mode === "manual") setInterval(() => server.poll(), 1);
  console.log(`showcase (${mode} mode) listening on ${server.url}`);
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, async () => {
      await server.stop({ graceful: true, timeoutMs: 5000 });
      process.exit(0);
    });
  }
}
