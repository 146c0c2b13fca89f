// Raw QUIC connections by ALPN, on the same port as HTTP/3, with clients
// nobody here wrote: aioquic (tests/clients/zrpc_quic.py) and quic-go
// (tests/clients/zrpc-quicgo, built with `go build` from the Go module
// proxy's pinned versions, once per source change) call zRPC over ALPN
// "zr/1"; quic-go also uses raw streams and datagrams of another protocol
// without zRPC; a client offering an unknown ALPN is refused in the
// handshake; Bun's fetch still gets HTTP/3 on the same port.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serve, ZigH3Error, type QuicCloseInfo, type QuicConnection, type Server } from "../ts/index.ts";
import { RpcServer } from "../ts/rpc/index.ts";
import { makeCertificate } from "./helpers/certs.ts";
import { blobs, echo, seen } from "./helpers/rpc-services.ts";

const root = join(import.meta.dir, "..");
const python = join(root, ".venv", "bin", "python");
const encoder = new TextEncoder();
let server: Server;

/** What the raw protocols' handlers saw. */
const raw = {
  connections: [] as { alpn: string; family: string; address: string }[],
  replyOnServerStream: null as string | null,
  uniReceived: [] as string[],
  stats: null as Record<string, number> | null,
  closedByPeer: null as QuicCloseInfo | null,
  closedByUs: null as QuicCloseInfo | null,
  creditReplies: null as string[] | null,
};

async function write(writable: WritableStream<Uint8Array>, text: string) {
  const writer = writable.getWriter();
  await writer.write(encoder.encode(text));
  await writer.close();
}

/** "raw/1": a server-opened stream, an answer to every unidirectional stream, datagrams echoed; "close" on a client stream closes the connection. */
async function rawProtocol(connection: QuicConnection) {
  raw.connections.push({ alpn: connection.alpn, family: connection.remoteAddress.family, address: connection.remoteAddress.address });
  void (async () => {
    for await (const datagram of connection.datagrams) connection.sendDatagram(datagram);
  })().catch(() => {}); // a full send queue drops the echo: the client sends again
  void (async () => {
    for await (const stream of connection.incomingUnidirectionalStreams) {
      const text = await new Response(stream).text();
      raw.uniReceived.push(text);
      await write(await connection.createUnidirectionalStream({ urgency: 2 }), `got: ${text}`);
    }
  })().catch(() => {});
  void (async () => {
    for await (const stream of connection.incomingBidirectionalStreams) {
      if ((await new Response(stream.readable).text()) !== "close") continue;
      raw.stats = await connection.stats();
      connection.close(42, "done by the server");
      raw.closedByUs = await connection.closed;
    }
  })().catch(() => {});
  const stream = await connection.createBidirectionalStream({ urgency: 1, incremental: true });
  connection.setPriority(stream, { urgency: 0 });
  await write(stream.writable, "hello from the server");
  raw.replyOnServerStream = await new Response(stream.readable).text();
}

/** "late/1", whose handler is attached with server.quic(): answers one stream, then waits for the client's close. */
async function lateProtocol(connection: QuicConnection) {
  for await (const stream of connection.incomingBidirectionalStreams) {
    const text = await new Response(stream.readable).text();
    await write(stream.writable, `ok: ${text}`);
    break;
  }
  raw.closedByPeer = await connection.closed;
}

/** "credit/1": three bidirectional streams created at once, for a client that allows one at a time. */
async function creditProtocol(connection: QuicConnection) {
  const replies = [0, 1, 2].map(async (i) => {
    const stream = await connection.createBidirectionalStream();
    await write(stream.writable, `stream ${i}`);
    return new Response(stream.readable).text();
  });
  raw.creditReplies = await Promise.all(replies);
  connection.close(0, "every answer read");
}

beforeAll(() => {
  const rpc = new RpcServer({ services: [echo, blobs], maxMessageBytes: 65 * 1024 * 1024 });
  server = serve({
    port: 0,
    tls: makeCertificate(),
    datagrams: true,
    routes: { ...rpc.routes(), "/hello": () => new Response("h3 still here") },
    quic: { ...rpc.quicProtocols(), "raw/1": rawProtocol, "credit/1": creditProtocol, "late/1": null },
  });
  server.quic("late/1", lateProtocol);
});
afterAll(() => server.stop(true));

async function runPython(...args: string[]) {
  const child = Bun.spawn([python, join(root, "tests", "clients", "zrpc_quic.py"), "127.0.0.1", String(server.port), ...args], { stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, exitCode] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  if (exitCode !== 0) throw new Error(`zrpc_quic.py failed (${exitCode}): ${stderr.slice(-2000)}`);
  return JSON.parse(stdout);
}

let goBinary = "";
function buildGo(): string {
  if (goBinary) return goBinary;
  const dir = join(root, "tests", "clients", "zrpc-quicgo");
  const hash = createHash("sha256");
  for (const file of ["main.go", "go.mod", "go.sum"]) hash.update(readFileSync(join(dir, file)));
  const out = join(tmpdir(), "zig-h3-zrpc-quicgo");
  mkdirSync(out, { recursive: true });
  const binary = join(out, hash.digest("hex").slice(0, 16));
  if (!existsSync(binary)) {
    const built = Bun.spawnSync(["go", "build", "-mod=readonly", "-o", binary, "."], { cwd: dir, env: { ...process.env, GOFLAGS: "-buildvcs=false" } });
    if (built.exitCode !== 0) throw new Error(`go build failed: ${built.stderr.toString()}`);
  }
  return (goBinary = binary);
}

async function runGo(...args: string[]) {
  const child = Bun.spawn([buildGo(), "-addr", `127.0.0.1:${server.port}`, ...args], { stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, exitCode] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  if (exitCode !== 0) throw new Error(`zrpc-quicgo failed (${exitCode}): ${stderr.slice(-2000)}`);
  return JSON.parse(stdout);
}

/** Resolves once `check` holds, polling the event loop (what the server saw may trail what the client saw). */
async function until(check: () => boolean) {
  while (!check()) await Bun.sleep(5);
}

describe("zRPC over raw QUIC from aioquic (ALPN zr/1)", () => {
  let result: any;
  beforeAll(async () => {
    seen.aborted.length = 0;
    result = await runPython("calls");
  }, 120_000);

  test("a unary call: the reply, the caller's metadata, status OK", () => {
    expect(result.unary).toEqual({ messages: [{ text: "over raw QUIC", user: "quinn", deadline: false }], status: { code: 0, message: "" }, reset: null });
    expect(seen.transports.has("quic")).toBe(true);
  });

  test("a server-streaming call of 10,000 messages, in order", () => {
    expect(result.stream).toEqual({ count: 10_000, in_order: true, status: { code: 0, message: "" } });
  });

  test("bad frames get a clear status and the connection is kept", () => {
    expect(result.too_long.status.code).toBe(8); // RESOURCE_EXHAUSTED
    expect(result.too_long.status.message).toContain("4294967295");
    expect(result.truncated.status.code).toBe(3); // INVALID_ARGUMENT
    expect(result.truncated.status.message).toContain("truncated frame");
    expect(result.unknown.status).toEqual({ code: 12, message: "unknown method test.v1.Echo/nope" }); // UNIMPLEMENTED
    expect(result.after).toEqual({ messages: [{ text: "still here", user: null, deadline: false }], status: { code: 0, message: "" }, reset: null });
    expect(result.terminated).toBeNull();
  });

  test("a cancelled call (RESET_STREAM + STOP_SENDING) aborts the handler's signal with CANCELLED", async () => {
    expect(result.cancel_first).toBe("first");
    await until(() => seen.aborted.some((entry) => entry.path === "test.v1.Echo/hangStream"));
    expect(seen.aborted).toContainEqual({ path: "test.v1.Echo/hangStream", code: "CANCELLED" });
  });

  test("a deadline: DEADLINE_EXCEEDED for the caller, and the handler's signal aborts", async () => {
    expect(result.deadline.status).toEqual({ code: 4, message: "the deadline of 200 ms passed" });
    await until(() => seen.aborted.some((entry) => entry.path === "test.v1.Echo/hang"));
    expect(seen.aborted).toContainEqual({ path: "test.v1.Echo/hang", code: "DEADLINE_EXCEEDED" });
  });
});

describe("zRPC over raw QUIC from quic-go (ALPN zr/1)", () => {
  test("concurrent unary calls, and a 64 MiB message back byte for byte", async () => {
    const result = await runGo("-mode", "zrpc");
    expect(result.alpn).toBe("zr/1");
    expect(result.unary).toEqual([
      { status: 0, messages: 1, reply: { text: "one", user: null, deadline: false } },
      { status: 0, messages: 1, reply: { text: "two", user: null, deadline: false } },
      { status: 0, messages: 1, reply: { text: "three", user: null, deadline: false } },
    ]);
    expect(result.big).toMatchObject({ status: 0, message: "", sent: 64 * 1024 * 1024, received: 64 * 1024 * 1024, equal: true });
  }, 120_000);
});

describe("raw streams and datagrams from quic-go (ALPN raw/1, no zRPC)", () => {
  let result: any;
  beforeAll(async () => {
    result = await runGo("-mode", "raw", "-alpn", "raw/1");
  }, 120_000);

  test("the handler got the connection with its ALPN and address", () => {
    expect(result.alpn).toBe("raw/1");
    expect(raw.connections).toContainEqual({ alpn: "raw/1", family: "IPv4", address: "127.0.0.1" });
  });

  test("a bidirectional stream the server opened: no preface, the client accepts it and answers on it", async () => {
    expect(result.serverBidi).toBe("hello from the server");
    expect(result.serverStreamId).toBe(1); // the server's first bidirectional stream
    await until(() => raw.replyOnServerStream !== null);
    expect(raw.replyOnServerStream).toBe("answer from quic-go");
  });

  test("unidirectional streams both ways", () => {
    expect(raw.uniReceived).toEqual(["uni from quic-go"]);
    expect(result.serverUni).toBe("got: uni from quic-go");
    expect(result.serverUniStreamId).toBe(3); // no HTTP/3 control or QPACK streams before it
  });

  test("datagrams echoed", () => {
    expect(result.datagrams).toBe(true);
    expect(result.echoed).toEqual(["datagram 0", "datagram 1", "datagram 2", "datagram 3", "datagram 4"]);
  });

  test("close(code, reason) reaches the client as an application CONNECTION_CLOSE; stats() and closed on our side", async () => {
    expect(result).toMatchObject({ closeCode: 42, closeReason: "done by the server", closeRemote: true });
    await until(() => raw.closedByUs !== null);
    expect(raw.closedByUs).toEqual({ closeCode: 42, reason: "done by the server", source: "local", applicationClose: true });
    expect(raw.stats!.packets_received).toBeGreaterThan(0);
    expect(raw.stats!.bytes_received).toBeGreaterThan(0);
  });
});

describe("stream credit from quic-go (ALPN credit/1)", () => {
  test("creates past the client's MAX_STREAMS wait for it, and all three open in order", async () => {
    const result = await runGo("-mode", "credit", "-alpn", "credit/1");
    expect(result).toEqual({ received: ["stream 0", "stream 1", "stream 2"], ids: [1, 5, 9] });
    await until(() => raw.creditReplies !== null);
    expect(raw.creditReplies).toEqual(["ack stream 0", "ack stream 1", "ack stream 2"]);
  }, 60_000);
});

describe("a handler attached with server.quic(), and the client's close", () => {
  test("closed settles with the client's application code and reason", async () => {
    const result = await runGo("-mode", "close", "-alpn", "late/1");
    expect(result.answer).toBe("ok: bye");
    await until(() => raw.closedByPeer !== null);
    expect(raw.closedByPeer).toEqual({ closeCode: 7, reason: "client done", source: "peer", applicationClose: true });
  }, 60_000);

  test("server.quic() refuses a protocol serve() did not declare", () => {
    let error: unknown;
    try {
      server.quic("other/1", () => {});
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ZigH3Error);
    expect((error as ZigH3Error).code).toBe("ZIG_H3_ERR_INVALID_STATE");
  });

  test("serve() checks the protocols it is given", () => {
    const tls = makeCertificate();
    expect(() => serve({ port: 0, tls, http1: false, quic: { h3: () => {} } })).toThrow('"h3" is HTTP/3');
    expect(() => serve({ port: 0, tls, http1: false, quic: { "a,b": () => {} } })).toThrow("without spaces or commas");
    expect(() => serve({ port: 0, tls, http1: false, quic: { "zr/1": "nope" as never } })).toThrow('quic["zr/1"] must be a function or null');
  });
});

describe("ALPN on the shared port", () => {
  test("a client offering only an unknown protocol is refused with the TLS alert no_application_protocol", async () => {
    const result = await runPython("alpn", "nope/1");
    // CRYPTO_ERROR 0x100 + alert 120 (no_application_protocol, RFC 8446 6.2; RFC 9001 4.8).
    expect(result).toEqual({ alpn: null, error_code: 0x178, reason: expect.any(String) });
  }, 60_000);

  test("an h3 client (Bun's fetch) is still served HTTP/3 on the same port", async () => {
    const response = await fetch(new URL("/hello", server.url), { protocol: "http3", tls: { rejectUnauthorized: false } } as RequestInit);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe("h3 still here");
  });
});
