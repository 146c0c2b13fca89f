// One zRPC call on the server without a network: serveCall over a
// transport stand-in whose writes complete only when the test lets them,
// as a stream's writes do when the peer stops reading.
import { describe, expect, test } from "bun:test";
import { defineService, encodeFrame, encodeHead, FrameDecoder, FrameType, decodeStatus, serverStream, unary } from "../ts/rpc/index.ts";
import { serveCall, type CallIo } from "../ts/rpc/server-call.ts";
import { ServiceRegistry } from "../ts/rpc/service.ts";

let produced = 0;
const counter = defineService("t.Counter", {
  badTrailer: unary((_request: unknown, context) => {
    try {
      context.setTrailer("Bad Name", "x");
    } catch (error) {
      return (error as Error).name;
    }
    return "accepted";
  }),
  count: serverStream(async function* (request: { n: number }) {
    for (let i = 0; i < request.n; i++) {
      produced++;
      yield i;
    }
  }),
});

/** A request stream holding the call's HEADERS and one message, then FIN. */
function requestOf(path: string, message: unknown): ReadableStream<Uint8Array> {
  const head = encodeFrame(FrameType.headers, encodeHead({ path, timeoutMs: 0, metadata: {} }));
  const body = encodeFrame(FrameType.message, new TextEncoder().encode(JSON.stringify(message)));
  return new ReadableStream({ start: (c) => (c.enqueue(new Uint8Array([...head, ...body])), c.close()) });
}

describe("serveCall", () => {
  test("a server stream of 10,000 messages runs only as far as the transport took its writes", async () => {
    produced = 0;
    const written: Uint8Array[] = [];
    let release: (() => void) | null = null;
    let finished: Uint8Array | null = null;
    const io: CallIo = {
      transport: "quic",
      readable: requestOf("t.Counter/count", { n: 10_000 }),
      // Each write waits until the test releases it: a transport whose peer is not reading.
      write: (bytes) => new Promise<void>((resolve) => (release = () => (written.push(bytes), resolve()))),
      finish: async (_status, frame) => void (finished = frame),
      reset: () => {},
      peerGone: new AbortController().signal,
    };
    const call = serveCall(io, { registry: new ServiceRegistry([counter]), maxMessageBytes: 1 << 20, maxTimeoutMs: 0 });
    for (let i = 0; i < 20; i++) await Bun.sleep(0);
    // One message is being written and the handler waits on it: nothing more was produced.
    expect(produced).toBe(1);
    expect(written.length).toBe(0);
    for (let step = 1; step <= 10_000; step++) {
      while (release === null) await Bun.sleep(0);
      const next: () => void = release;
      release = null;
      next();
      // Never more than one message ahead of what the transport took.
      expect(produced - written.length).toBeLessThanOrEqual(1);
    }
    await call;
    expect(written.length).toBe(10_000);
    const frames = written.flatMap((bytes) => new FrameDecoder(1024).push(bytes));
    expect(frames.map((f) => Number(new TextDecoder().decode(f.payload)))).toEqual(Array.from({ length: 10_000 }, (_, i) => i));
    expect(decodeStatus(new FrameDecoder(1024).push(finished!)[0]!.payload)).toEqual({ code: 0, message: "", metadata: {} });
  });

  test("a trailer name that cannot go on the wire is refused where the handler sets it", async () => {
    const written: Uint8Array[] = [];
    let status: { code: number } | null = null;
    const io: CallIo = {
      transport: "h3",
      readable: requestOf("t.Counter/badTrailer", {}),
      write: async (bytes) => void written.push(bytes),
      finish: async (s) => void (status = s),
      reset: () => {},
      peerGone: new AbortController().signal,
    };
    await serveCall(io, { registry: new ServiceRegistry([counter]), maxMessageBytes: 1 << 20, maxTimeoutMs: 0 });
    expect(status).toMatchObject({ code: 0 });
    expect(new TextDecoder().decode(new FrameDecoder(1024).push(written[0]!)[0]!.payload)).toBe('"TypeError"');
  });
});
