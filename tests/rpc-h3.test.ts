// zRPC over HTTP/3 requests, called with Bun's fetch (a client nobody here
// wrote) through the package's fetchChannel, and with hand-made bodies for
// the malformed cases.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { serve, type Server } from "../ts/index.ts";
import { bytesCodec, encodeFrame, FrameDecoder, FrameType, decodeStatus, fetchChannel, RpcClient, RpcError, RpcServer } from "../ts/rpc/index.ts";
import { makeCertificate } from "./helpers/certs.ts";
import { blobs, echo, seen } from "./helpers/rpc-services.ts";

const tls = makeCertificate();
const h3 = { protocol: "http3", tls: { rejectUnauthorized: false } } as const;
const MAX_MESSAGE = 65 * 1024 * 1024;
let server: Server;
let client: RpcClient;
let base: string;
const errors: unknown[] = [];

beforeAll(() => {
  const rpc = new RpcServer({ services: [echo, blobs], maxMessageBytes: MAX_MESSAGE, onError: (error) => errors.push(error) });
  server = serve({ port: 0, tls, routes: rpc.routes() });
  base = new URL("/zrpc", server.url).href;
  client = new RpcClient(fetchChannel(base, h3));
});
afterAll(() => server.stop(true));

async function rpcError(promise: Promise<unknown>): Promise<RpcError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(RpcError);
    return error as RpcError;
  }
  throw new Error("the call succeeded");
}

/** A raw POST of `body` to a method: the frames and trailers that come back. */
async function rawCall(path: string, body: Uint8Array) {
  const response = await fetch(`${base}/${path}`, { ...h3, method: "POST", headers: { "content-type": "application/zrpc" }, body } as RequestInit);
  const bytes = new Uint8Array(await response.arrayBuffer());
  const frames = new FrameDecoder(1 << 20).push(bytes);
  const status = frames.at(-1)!.type === FrameType.status ? decodeStatus(frames.at(-1)!.payload) : null;
  return { http: response.status, frames, status };
}

describe("zRPC over HTTP/3 (Bun's fetch)", () => {
  test("unary: the response, the caller's metadata, and a deadline the handler sees", async () => {
    const reply = await client.unary("test.v1.Echo/say", { text: "héllo" }, { metadata: { "x-user": "ada" }, timeoutMs: 5000 });
    expect(reply).toEqual({ text: "héllo", user: "ada", deadline: true });
    expect(seen.transports.has("h3")).toBe(true);
  });

  test("the status travels in the trailers too: zrpc-status and zrpc-message", async () => {
    const { http, status } = await rawCall("test.v1.Echo/say", encodeFrame(FrameType.message, new TextEncoder().encode('{"text":"abc"}')));
    expect(http).toBe(200);
    expect(status).toEqual({ code: 0, message: "", metadata: { "x-length": "3" } });
  });

  test("an error the handler throws reaches the caller with its code, message and metadata", async () => {
    const error = await rpcError(client.unary("test.v1.Echo/say", { text: "x" }, { metadata: { "x-fail": "no" } }));
    expect(error.code).toBe("PERMISSION_DENIED");
    expect(error.status).toBe(7);
    expect(error.message).toBe("refused: no");
    expect(error.metadata["x-why"]).toBe("asked to");
  });

  test("a handler's bug is INTERNAL with no detail for the caller; the server's onError gets it", async () => {
    const before = errors.length;
    const error = await rpcError(client.unary("test.v1.Echo/say", { text: "x" }, { metadata: { "x-crash": "1" } }));
    expect(error.code).toBe("INTERNAL");
    expect(error.message).toBe("internal error");
    expect(errors.length).toBe(before + 1);
    expect(String(errors.at(-1))).toContain("a bug with a secret inside");
  });

  test("server streaming: 10,000 messages in order", async () => {
    let expected = 0;
    for await (const message of client.serverStream<{ n: number }, { i: number }>("test.v1.Echo/count", { n: 10_000 })) {
      expect(message.i).toBe(expected++);
    }
    expect(expected).toBe(10_000);
  });

  test("client streaming: 1,000 numbers summed", async () => {
    const numbers = Array.from({ length: 1000 }, (_, i) => i);
    expect(await client.clientStream("test.v1.Echo/sum", numbers)).toEqual({ total: 499_500, count: 1000 });
  });

  test("bidirectional: each line comes back upper-cased", async () => {
    const out: string[] = [];
    for await (const line of client.bidi<string, string>("test.v1.Echo/chat", ["a", "bc", "déf"])) out.push(line);
    expect(out).toEqual(["A", "BC", "DÉF"]);
  });

  test("deadline expiry: DEADLINE_EXCEEDED for the caller, and the handler's signal aborts with it", async () => {
    const error = await rpcError(client.unary("test.v1.Echo/hang", {}, { timeoutMs: 200 }));
    expect(error.code).toBe("DEADLINE_EXCEEDED");
    for (let i = 0; i < 100 && !seen.aborted.some((a) => a.path === "test.v1.Echo/hang"); i++) await Bun.sleep(10);
    expect(seen.aborted).toContainEqual({ path: "test.v1.Echo/hang", code: "DEADLINE_EXCEEDED" });
  });

  test("cancellation (aioquic resets the call's stream): the handler's signal aborts with CANCELLED, the connection goes on", async () => {
    // RESET_STREAM and STOP_SENDING both, as HTTP/3 describes a cancel.
    const python = join(import.meta.dir, "..", ".venv", "bin", "python");
    const child = Bun.spawn([python, join(import.meta.dir, "clients", "zrpc_h3_cancel.py"), "127.0.0.1", String(server.port), "/zrpc/test.v1.Echo/hangStream", "/zrpc/test.v1.Echo/say", '{"text":"next"}'], { stdout: "pipe", stderr: "pipe" });
    const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    const result = JSON.parse(stdout) as { first: string; after_status: number; after_body: string };
    expect(result.first).toBe('"first"');
    for (let i = 0; i < 200 && !seen.aborted.some((a) => a.path === "test.v1.Echo/hangStream"); i++) await Bun.sleep(10);
    expect(seen.aborted).toContainEqual({ path: "test.v1.Echo/hangStream", code: "CANCELLED" });
    expect(result.after_status).toBe(200);
    const frames = new FrameDecoder(1 << 20).push(Buffer.from(result.after_body, "hex"));
    expect(frames.map((f) => f.type)).toEqual([FrameType.message, FrameType.status]);
    expect(JSON.parse(new TextDecoder().decode(frames[0]!.payload))).toMatchObject({ text: "next" });
    expect(decodeStatus(frames[1]!.payload).code).toBe(0);
  });

  test("cancellation from Bun's fetch (an aborted fetch sends STOP_SENDING): CANCELLED on both sides", async () => {
    seen.aborted.length = 0;
    const abort = new AbortController();
    const stream = client.serverStream("test.v1.Echo/hangStream", {}, { signal: abort.signal });
    expect((await stream.next()).value).toBe("first");
    abort.abort();
    expect((await rpcError(stream.next())).code).toBe("CANCELLED");
    for (let i = 0; i < 200 && seen.aborted.length === 0; i++) await Bun.sleep(10);
    expect(seen.aborted).toContainEqual({ path: "test.v1.Echo/hangStream", code: "CANCELLED" });
  });

  test("a 64 MiB message each way, byte-exact", async () => {
    const data = new Uint8Array(64 * 1024 * 1024);
    for (let i = 0; i < data.length; i += 4096) data[i] = (i / 4096) & 0xff;
    const bytesClient = new RpcClient(fetchChannel(base, h3), { codec: bytesCodec, maxMessageBytes: MAX_MESSAGE });
    const back = await bytesClient.unary<Uint8Array, Uint8Array>("test.v1.Blobs/echo", data);
    expect(back.byteLength).toBe(data.byteLength);
    expect(Buffer.compare(back, data)).toBe(0);
  }, 120_000);

  describe("bad input gets a clear RPC error and the connection keeps serving", () => {
    test("a frame length past the limit: RESOURCE_EXHAUSTED", async () => {
      const header = new Uint8Array([0x00, 0xff, 0xff, 0xff, 0xff]);
      const { http, status } = await rawCall("test.v1.Echo/say", header);
      expect(http).toBe(200);
      expect(status?.code).toBe(8);
      expect(status?.message).toContain("past the limit");
    });

    test("a truncated frame: INVALID_ARGUMENT", async () => {
      const frame = encodeFrame(FrameType.message, new TextEncoder().encode('{"text":"abc"}'));
      const { status } = await rawCall("test.v1.Echo/say", frame.subarray(0, frame.byteLength - 3));
      expect(status?.code).toBe(3);
      expect(status?.message).toContain("truncated frame");
    });

    test("an unknown method: UNIMPLEMENTED", async () => {
      const error = await rpcError(client.unary("test.v1.Echo/nope", {}));
      expect(error.code).toBe("UNIMPLEMENTED");
      expect(error.message).toContain("test.v1.Echo/nope");
    });

    test("a message that is not JSON: INVALID_ARGUMENT", async () => {
      const { status } = await rawCall("test.v1.Echo/say", encodeFrame(FrameType.message, new TextEncoder().encode("{nope")));
      expect(status?.code).toBe(3);
      expect(status?.message).toContain("not JSON");
    });

    test("two messages to a unary method: INVALID_ARGUMENT", async () => {
      const one = encodeFrame(FrameType.message, new TextEncoder().encode('{"text":"a"}'));
      const { status } = await rawCall("test.v1.Echo/say", new Uint8Array([...one, ...one]));
      expect(status?.code).toBe(3);
      expect(status?.message).toContain("second");
    });

    test("not POST is 405, another content type 415, a malformed timeout 400", async () => {
      expect((await fetch(`${base}/test.v1.Echo/say`, h3 as RequestInit)).status).toBe(405);
      expect((await fetch(`${base}/test.v1.Echo/say`, { ...h3, method: "POST", body: "{}", headers: { "content-type": "application/json" } } as RequestInit)).status).toBe(415);
      const bad = await fetch(`${base}/test.v1.Echo/say`, { ...h3, method: "POST", body: "", headers: { "content-type": "application/zrpc", "zrpc-timeout-ms": "soon" } } as RequestInit);
      expect(bad.status).toBe(400);
    });

    test("after all of it, the same client's next call works on the same connection", async () => {
      const accepted = server.stats().connections_accepted;
      expect(await client.unary("test.v1.Echo/say", { text: "still here" })).toMatchObject({ text: "still here" });
      expect(server.stats().connections_accepted).toBe(accepted);
    });
  });
});
