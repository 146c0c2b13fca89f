// The one handler every contender runs, so only the server differs:
//   GET  /hello              -> "hello" (5 bytes)
//   GET  /baseline2?a=1&b=1  -> a + b as text (HttpArena's baseline-h3 workload)
//   GET  /bytes/:n           -> n bytes, streamed in 64 KiB chunks of one reused buffer
//   GET  /bulk/u8            -> one preallocated 64 MiB Uint8Array as the whole body
//   GET  /bulk/blob          -> the same 64 MiB as a Blob
//   GET  /bulk/file          -> Bun.file() of a 64 MiB file in the temp directory
//   POST /upload             -> the body is read and discarded; answers its length
//   POST /json               -> the JSON body parsed and sent back (bench/rpc.ts's JSON call)
import { renameSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const CHUNK = new Uint8Array(64 * 1024).fill(120);

// The bulk body is filled, not left zero: untouched pages of a fresh
// allocation all map the kernel's one zero page, which stays in cache and
// would make copying it look cheaper than copying real data.
export const BULK_BYTES = 64 * 1024 * 1024;
const BULK = new Uint8Array(BULK_BYTES).fill(120);
const BULK_FILE = join(tmpdir(), `zig-quiche-h3-bench-${BULK_BYTES}.bin`);
ensureBulkFile();

/** Writes the bulk file once; a private name renamed into place, so servers starting together never see half a file. */
function ensureBulkFile() {
  try {
    if (statSync(BULK_FILE).size === BULK_BYTES) return;
  } catch {
    // Missing: written below.
  }
  const partial = `${BULK_FILE}.${process.pid}`;
  writeFileSync(partial, BULK);
  renameSync(partial, BULK_FILE);
}

export function hello(): Response {
  return new Response("hello", { headers: { "content-type": "text/plain" } });
}

/** HttpArena's baseline-h3 answer: the sum of the query parameters a and b. */
export function baselineSum(url: string): string {
  const q = new URL(url).searchParams;
  return String(+q.get("a")! + +q.get("b")!);
}

export function baseline2(request: Request): Response {
  return new Response(baselineSum(request.url), { headers: { "content-type": "text/plain" } });
}

export function bytes(n: number): Response {
  let left = n;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (left <= 0) return controller.close();
      const size = Math.min(left, CHUNK.length);
      left -= size;
      controller.enqueue(size === CHUNK.length ? CHUNK : CHUNK.subarray(0, size));
    },
  });
  return new Response(body, { headers: { "content-type": "application/octet-stream", "content-length": String(n) } });
}

// The three ways an application hands Bun a whole body it already has. The
// Blob is made per request, as an application would write it.
export function bulk(kind: string): Response {
  if (kind === "u8") return new Response(BULK);
  if (kind === "blob") return new Response(new Blob([BULK]));
  if (kind === "file") return new Response(Bun.file(BULK_FILE));
  return new Response("not found", { status: 404 });
}

export async function upload(request: Request): Promise<Response> {
  let length = 0;
  for await (const chunk of request.body!) length += chunk.length;
  return new Response(String(length));
}

export function route(request: Request, path: string): Response | Promise<Response> {
  if (path === "/hello") return hello();
  if (path === "/baseline2") return baseline2(request);
  if (path.startsWith("/bytes/")) return bytes(Number(path.slice(7)));
  if (path.startsWith("/bulk/")) return bulk(path.slice(6));
  if (path === "/upload" && request.method === "POST") return upload(request);
  if (path === "/json" && request.method === "POST") return request.json().then((value) => Response.json(value));
  return new Response("not found", { status: 404 });
}
