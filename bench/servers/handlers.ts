// The one handler every contender runs, so only the server differs:
//   GET  /hello      -> "hello" (5 bytes)
//   GET  /bytes/:n   -> n bytes, streamed in 64 KiB chunks of one reused buffer
//   POST /upload     -> the body is read and discarded; answers its length
const CHUNK = new Uint8Array(64 * 1024).fill(120);

export function hello(): Response {
  return new Response("hello", { headers: { "content-type": "text/plain" } });
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

export async function upload(request: Request): Promise<Response> {
  let length = 0;
  for await (const chunk of request.body!) length += chunk.length;
  return new Response(String(length));
}

export function route(request: Request, path: string): Response | Promise<Response> {
  if (path === "/hello") return hello();
  if (path.startsWith("/bytes/")) return bytes(Number(path.slice(7)));
  if (path === "/upload" && request.method === "POST") return upload(request);
  return new Response("not found", { status: 404 });
}
