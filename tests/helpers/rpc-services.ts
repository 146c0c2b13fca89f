// The services the zRPC tests call over every transport, and what the
// server side saw (so a test can check the handler's view of a cancel or a
// deadline, not only the caller's).
import { bidi, bytesCodec, clientStream, defineService, RpcError, serverStream, unary } from "../../ts/rpc/index.ts";

export const seen = {
  /** Reasons (RpcError codes) the handlers' signals aborted with, by call path. */
  aborted: [] as { path: string; code: string }[],
  /** Messages the `count` method produced so far (backpressure check). */
  produced: 0,
  transports: new Set<string>(),
};

const settle = (signal: AbortSignal, path: string) =>
  new Promise<never>((_, reject) => {
    signal.addEventListener("abort", () => {
      seen.aborted.push({ path, code: (signal.reason as RpcError).code });
      reject(signal.reason);
    });
  });

export const echo = defineService("test.v1.Echo", {
  say: unary((request: { text: string }, context) => {
    seen.transports.add(context.transport);
    if (context.metadata["x-fail"]) throw new RpcError("PERMISSION_DENIED", `refused: ${context.metadata["x-fail"]}`, { "x-why": "asked to" });
    if (context.metadata["x-crash"]) throw new Error("a bug with a secret inside");
    context.setTrailer("x-length", String(request.text.length));
    return { text: request.text, user: context.metadata["x-user"] ?? null, deadline: context.deadline !== null };
  }),
  count: serverStream(async function* (request: { n: number }, context) {
    seen.produced = 0;
    for (let i = 0; i < request.n; i++) {
      if (context.signal.aborted) return;
      seen.produced++;
      yield { i };
    }
  }),
  sum: clientStream(async (numbers: AsyncIterable<number>) => {
    let total = 0;
    let count = 0;
    for await (const n of numbers) {
      total += n;
      count++;
    }
    return { total, count };
  }),
  chat: bidi(async function* (lines: AsyncIterable<string>) {
    for await (const line of lines) yield line.toUpperCase();
  }),
  hang: unary(async (_request: unknown, context) => settle(context.signal, context.path)),
  hangStream: serverStream(async function* (_request: unknown, context) {
    yield "first";
    await settle(context.signal, context.path);
  }),
});

/** Bytes in, their SHA-256 and length out: the 64 MiB message test. */
export const blobs = defineService(
  "test.v1.Blobs",
  {
    digest: unary((data: Uint8Array) => {
      const hash = new Bun.CryptoHasher("sha256").update(data).digest();
      const out = new Uint8Array(hash.byteLength + 8);
      out.set(hash);
      new DataView(out.buffer).setBigUint64(hash.byteLength, BigInt(data.byteLength));
      return out;
    }),
    echo: unary((data: Uint8Array) => data),
  },
  { codec: bytesCodec },
);
