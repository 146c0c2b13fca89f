// WebTransport streams: the error-code mapping and the JS stream machinery
// fed with synthetic events (no library), then end to end with aioquic
// against examples/webtransport.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { WebTransportError, http3ToWebtransportCode, serve, webtransportCodeToHttp3, type Server, type WebTransportSession } from "../ts/index.ts";
import { H3_EXCESSIVE_LOAD, H3_WEBTRANSPORT_SESSION_GONE, WEBTRANSPORT_CODE_FIRST, WEBTRANSPORT_CODE_LAST, streamErrorCodeOf } from "../ts/webtransport-codes.ts";
import { WebTransportStreams, type StreamOutbox } from "../ts/webtransport-streams.ts";
import { CommandBatch, CommandKind, EventKind, FLAG_FIN, FLAG_NOTIFY } from "../ts/wire.ts";
import { MAX_BODY_RECORD_BYTES } from "../ts/response-writer.ts";
import { patternBytes, startWebTransportExample, type WebTransportExample } from "../examples/webtransport/server.ts";
import { makeCertificate } from "./helpers/certs.ts";

const root = join(import.meta.dir, "..");
const FIRST = 0x52e4a40fa8db;

describe("WebTransport error codes <-> HTTP/3 codes", () => {
  test("edges map as draft-02 and Chromium do", () => {
    expect(webtransportCodeToHttp3(0)).toBe(FIRST);
    expect(webtransportCodeToHttp3(0x1d)).toBe(FIRST + 0x1d);
    // 0x1e is the first code after a skipped (reserved) one.
    expect(webtransportCodeToHttp3(0x1e)).toBe(FIRST + 0x1f);
    expect(webtransportCodeToHttp3(0xffffffff)).toBe(0x52e5ac983162);
    expect(WEBTRANSPORT_CODE_FIRST).toBe(FIRST);
    expect(WEBTRANSPORT_CODE_LAST).toBe(webtransportCodeToHttp3(0xffffffff));
    expect(WEBTRANSPORT_CODE_LAST).toBeLessThan(Number.MAX_SAFE_INTEGER);
  });

  test("the reverse of every edge, from a Number and from a BigInt", () => {
    for (const code of [0, 1, 0x1d, 0x1e, 0x1f, 0x3b, 0x3c, 0x3d, 255, 0xffff, 0xfffffffe, 0xffffffff]) {
      const h3 = webtransportCodeToHttp3(code);
      expect(http3ToWebtransportCode(h3)).toBe(code);
      expect(http3ToWebtransportCode(BigInt(h3))).toBe(code);
    }
  });

  test("reserved codes in the range, and codes outside it, carry no WebTransport code", () => {
    // FIRST + 0x1e is the first reserved (0x1f * N + 0x21) code of the range.
    expect((FIRST + 0x1e - 0x21) % 0x1f).toBe(0);
    expect(http3ToWebtransportCode(FIRST + 0x1e)).toBeNull();
    expect(http3ToWebtransportCode(FIRST + 0x1e + 0x1f)).toBeNull();
    expect(http3ToWebtransportCode(FIRST - 1)).toBeNull();
    expect(http3ToWebtransportCode(WEBTRANSPORT_CODE_LAST + 1)).toBeNull();
    expect(http3ToWebtransportCode(0x10c)).toBeNull();
    expect(http3ToWebtransportCode(0)).toBeNull();
    expect(http3ToWebtransportCode((1n << 62n) - 1n)).toBeNull();
  });

  test("the map is a bijection onto the non-reserved codes (a dense sweep of the first 10,000 HTTP/3 codes)", () => {
    let next = 0;
    for (let h3 = FIRST; h3 < FIRST + 10_000; h3++) {
      const code = http3ToWebtransportCode(h3);
      if ((h3 - 0x21) % 0x1f === 0) {
        expect(code).toBeNull();
        continue;
      }
      expect(code).toBe(next);
      expect(webtransportCodeToHttp3(next)).toBe(h3);
      next++;
    }
  });

  test("codes outside 32 bits are refused; abort reasons without a valid streamErrorCode mean 0", () => {
    expect(() => webtransportCodeToHttp3(-1)).toThrow(RangeError);
    expect(() => webtransportCodeToHttp3(0x100000000)).toThrow(RangeError);
    expect(() => webtransportCodeToHttp3(1.5)).toThrow(RangeError);
    expect(streamErrorCodeOf(new WebTransportError("x", { streamErrorCode: 42 }))).toBe(42);
    expect(streamErrorCodeOf({ streamErrorCode: 0xffffffff })).toBe(0xffffffff);
    for (const reason of [undefined, null, 7, "7", new Error("x"), { streamErrorCode: -1 }, { streamErrorCode: 2 ** 32 }, { streamErrorCode: "3" }]) {
      expect(streamErrorCodeOf(reason)).toBe(0);
    }
    const error = new WebTransportError("hello", { streamErrorCode: 3 });
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({ name: "WebTransportError", code: "ERR_WEBTRANSPORT_APPLICATION", source: "stream", streamErrorCode: 3 });
    expect(() => new WebTransportError("", { streamErrorCode: -2 })).toThrow(RangeError);
    // Chromium's constructor form: one dictionary.
    expect(new WebTransportError({ message: "m", streamErrorCode: 9 })).toMatchObject({ message: "m (ERR_WEBTRANSPORT_APPLICATION)", streamErrorCode: 9 });
  });
});

describe("record contract", () => {
  test("event and command kinds agree with zig-src/queue/wire.zig", () => {
    const zig = readFileSync(join(root, "zig-src", "queue", "wire.zig"), "utf8");
    const enumValues = (name: string) => {
      const body = zig.slice(zig.indexOf(`pub const ${name} = enum(u8) {`), zig.indexOf("};", zig.indexOf(`pub const ${name} = enum(u8) {`)));
      return Object.fromEntries([...body.matchAll(/^\s*(\w+) = (\d+),/gm)].map((m) => [m[1]!.replace(/_(\w)/g, (_, c: string) => c.toUpperCase()), Number(m[2])]));
    };
    expect(enumValues("EventKind")).toEqual({ ...EventKind });
    expect(enumValues("CommandKind")).toEqual({ ...CommandKind });
  });

  test("WT_OPEN and WT_STOP_SENDING records", () => {
    const batch = new CommandBatch();
    batch.wtOpen(0x1_0000_0005, true, 77);
    batch.wtStopSending(0x2_0000_0009, BigInt(webtransportCodeToHttp3(42)));
    const bytes = batch.view();
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    expect(bytes.length).toBe(48);
    expect([view.getUint32(0, true), view.getUint8(4), view.getUint8(5), view.getUint16(6, true), view.getBigUint64(8, true), view.getBigUint64(16, true)]).toEqual([
      24,
      CommandKind.wtOpen,
      0,
      1,
      0x1_0000_0005n,
      77n,
    ]);
    expect([view.getUint32(24, true), view.getUint8(28), view.getUint16(30, true), view.getBigUint64(32, true), view.getBigUint64(40, true)]).toEqual([
      24,
      CommandKind.wtStopSending,
      0,
      0x2_0000_0009n,
      BigInt(FIRST + 42 + 1),
    ]);
  });
});

type Command =
  | { kind: "body"; id: number; bytes: number[]; fin: boolean; notify: boolean }
  | { kind: "reset"; id: number; code: bigint }
  | { kind: "open"; session: number; bidirectional: boolean; token: number }
  | { kind: "stop"; id: number; code: bigint }
  | { kind: "credit"; id: number; allowed: number };

function recorder(): StreamOutbox & { commands: Command[]; take(): Command[] } {
  const commands: Command[] = [];
  return {
    commands,
    take: () => commands.splice(0),
    body: (id, chunk, flags) => void commands.push({ kind: "body", id, bytes: [...chunk.subarray(0, 8)], fin: (flags & FLAG_FIN) !== 0, notify: (flags & FLAG_NOTIFY) !== 0 }),
    reset: (id, code) => commands.push({ kind: "reset", id, code }),
    wtOpen: (session, bidirectional, token) => commands.push({ kind: "open", session, bidirectional, token }),
    wtStopSending: (id, code) => commands.push({ kind: "stop", id, code }),
    credit: (id, allowed) => void commands.push({ kind: "credit", id, allowed }),
  };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));
const h3 = (code: number) => BigInt(webtransportCodeToHttp3(code));
const caught = (promise: Promise<unknown>) => promise.then(() => null, (error: WebTransportError) => error);

describe("streams fed with synthetic events", () => {
  const SESSION = 0x1_0000_0001;

  function setup(limits: { sendWindow: number; receiveLimit: number; readWindowBytes?: number } = { sendWindow: 1000, receiveLimit: 5000 }) {
    const outbox = recorder();
    const table = new WebTransportStreams(outbox, { readWindowBytes: 1 << 20, ...limits });
    const session = table.attach(SESSION);
    return { outbox, table, session };
  }

  test("an incoming bidirectional stream: bytes in order, FIN closes; writes become BODY, close sends FIN", async () => {
    const { outbox, table, session } = setup();
    table.onIncoming(11, true, SESSION);
    const reader = session.incomingBidirectionalStreams.getReader();
    const { value: stream } = await reader.read();
    table.onBody(11, () => new Uint8Array([1, 2]));
    table.onBody(11, () => new Uint8Array([3]));
    table.onBodyEnd(11);
    const chunks: number[] = [];
    for await (const chunk of stream!.readable) chunks.push(...chunk);
    expect(chunks).toEqual([1, 2, 3]);
    const writer = stream!.writable.getWriter();
    await writer.write(new Uint8Array([9, 8, 7]));
    await writer.close();
    expect(outbox.take()).toEqual([
      { kind: "body", id: 11, bytes: [9, 8, 7], fin: false, notify: false },
      { kind: "body", id: 11, bytes: [], fin: true, notify: false },
    ]);
    expect(table.size).toBe(1);
    table.onComplete(11);
    expect(table.size).toBe(0);
    expect(session.size).toBe(0);
  });

  test("write() waits past the send window (NOTIFY on the record that crosses it) until DRAIN", async () => {
    const { outbox, table, session } = setup({ sendWindow: 100_000, receiveLimit: 5000 });
    table.onIncoming(12, true, SESSION);
    const { value: stream } = await session.incomingBidirectionalStreams.getReader().read();
    const writer = stream!.writable.getWriter();
    await writer.write(new Uint8Array(60_000));
    let second = false;
    const pending = writer.write(new Uint8Array(MAX_BODY_RECORD_BYTES + 10).fill(7)).then(() => (second = true));
    await tick();
    expect(second).toBe(false);
    expect(writer.desiredSize).toBe(0);
    // 60,000 + 65,536 crosses the window: that record asks for DRAIN, the last 10 bytes wait.
    expect(outbox.take().map((c) => c.kind === "body" && [c.bytes.length, c.notify])).toEqual([
      [8, false],
      [8, true],
    ]);
    table.onDrain(12, 10_000); // still over the window
    await tick();
    expect(second).toBe(false);
    expect(outbox.take()).toEqual([]);
    table.onDrain(12, 60_000);
    await pending;
    expect(second).toBe(true);
    expect(outbox.take()).toEqual([{ kind: "body", id: 12, bytes: [7, 7, 7, 7, 7, 7, 7, 7], fin: false, notify: false }]);
  });

  test("one large write is submitted a window at a time", async () => {
    const { outbox, table, session } = setup({ sendWindow: 100_000, receiveLimit: 5000 });
    table.onIncoming(18, true, SESSION);
    const reader = session.incomingBidirectionalStreams.getReader();
    const writer = (await reader.read()).value!.writable.getWriter();
    let done = false;
    const written = writer.write(new Uint8Array(1_000_000)).then(() => (done = true));
    let submitted = 0;
    let drained = 0;
    for (let round = 0; !done && round < 100; round++) {
      await tick();
      const records = outbox.take();
      submitted += records.length;
      // Never more than the window plus one record beyond what QUIC took.
      expect(Math.min(submitted * MAX_BODY_RECORD_BYTES, 1_000_000) - drained).toBeLessThanOrEqual(100_000 + MAX_BODY_RECORD_BYTES);
      drained = Math.min(submitted * MAX_BODY_RECORD_BYTES, 1_000_000);
      table.onDrain(18, drained);
    }
    await written;
    expect(submitted).toBe(Math.ceil(1_000_000 / MAX_BODY_RECORD_BYTES));
  });

  test("abort() while a write waits for DRAIN resets at once with the mapped code", async () => {
    const { outbox, table, session } = setup();
    table.onIncoming(13, false, SESSION); // ignored by the bidirectional reader below
    const opened = session.createBidirectionalStream();
    const open = outbox.take()[0] as { token: number; session: number; bidirectional: boolean };
    expect(open).toMatchObject({ kind: "open", session: SESSION, bidirectional: true });
    table.onOpened(21, true, open.token, 0);
    const stream = await opened;
    const writer = stream.writable.getWriter();
    const parked = caught(writer.write(new Uint8Array(5000)));
    await tick();
    const aborted = writer.abort(new WebTransportError("bye", { streamErrorCode: 0x1e }));
    await aborted;
    expect((await parked)?.streamErrorCode).toBe(0x1e);
    expect(outbox.take().filter((c) => c.kind === "reset")).toEqual([{ kind: "reset", id: 21, code: BigInt(FIRST + 0x1f) }]);
  });

  test("cancel() on a readable sends STOP_SENDING with the mapped code (0 without a WebTransport code)", async () => {
    const { outbox, table, session } = setup();
    table.onIncoming(14, false, SESSION);
    table.onIncoming(15, false, SESSION);
    const reader = session.incomingUnidirectionalStreams.getReader();
    const first = (await reader.read()).value!;
    const second = (await reader.read()).value!;
    await first.cancel({ streamErrorCode: 5 });
    await second.cancel("no code");
    expect(outbox.take()).toEqual([
      { kind: "stop", id: 14, code: h3(5) },
      { kind: "stop", id: 15, code: h3(0) },
    ]);
  });

  test("the peer's RESET_STREAM errors the readable, its STOP_SENDING the writable, each with the peer's code", async () => {
    const { table, session } = setup();
    table.onIncoming(16, true, SESSION);
    const { value: stream } = await session.incomingBidirectionalStreams.getReader().read();
    table.onBody(16, () => new Uint8Array([1]));
    table.onPeerReset(16, h3(4242));
    const readError = await caught(stream!.readable.getReader().read());
    expect(readError).toMatchObject({ name: "WebTransportError", code: "ERR_WEBTRANSPORT_STREAM_RESET", source: "stream", streamErrorCode: 4242, http3ErrorCode: h3(4242) });
    table.onStopSending(16, 0x10cn); // not a WebTransport code
    const writeError = await caught(stream!.writable.getWriter().write(new Uint8Array([1])));
    expect(writeError).toMatchObject({ code: "ERR_WEBTRANSPORT_STOP_SENDING", streamErrorCode: null, http3ErrorCode: 0x10cn });
  });

  test("WT_OPENED failures reject with typed errors; a late success for a gone session is refused on the wire", async () => {
    const { outbox, table, session } = setup();
    const limited = caught(session.createUnidirectionalStream());
    const gone = caught(session.createBidirectionalStream());
    const [a, b] = outbox.take() as { token: number }[];
    table.onOpened(0, false, a!.token, 2);
    table.onOpened(0, true, b!.token, 1);
    expect(await limited).toMatchObject({ code: "ERR_WEBTRANSPORT_STREAM_LIMIT", source: "session" });
    expect(await gone).toMatchObject({ code: "ERR_WEBTRANSPORT_SESSION_GONE", source: "session" });

    const late = caught(session.createBidirectionalStream());
    const [c] = outbox.take() as { token: number }[];
    session.end(new WebTransportError("closed", { code: "ERR_WEBTRANSPORT_SESSION_GONE", source: "session" }), true);
    expect(await late).toMatchObject({ code: "ERR_WEBTRANSPORT_SESSION_GONE" });
    table.onOpened(31, true, c!.token, 0);
    expect(outbox.take()).toEqual([
      { kind: "stop", id: 31, code: BigInt(H3_WEBTRANSPORT_SESSION_GONE) },
      { kind: "reset", id: 31, code: BigInt(H3_WEBTRANSPORT_SESSION_GONE) },
    ]);
    expect(await caught(session.createUnidirectionalStream())).toMatchObject({ code: "ERR_WEBTRANSPORT_SESSION_GONE" });
    expect(table.size).toBe(0);
    expect(table.sessions).toBe(0);
  });

  test("ending the session errors its open streams at once and closes the incoming streams", async () => {
    const { outbox, table, session } = setup();
    table.onIncoming(41, true, SESSION);
    table.onIncoming(42, false, SESSION);
    const bidi = (await session.incomingBidirectionalStreams.getReader().read()).value!;
    const uniReader = session.incomingUnidirectionalStreams.getReader();
    const uni = (await uniReader.read()).value!;
    const pendingRead = caught(uni.getReader().read());
    table.onSessionGone(SESSION);
    expect(await pendingRead).toMatchObject({ code: "ERR_WEBTRANSPORT_SESSION_GONE", source: "session" });
    expect(await caught(bidi.writable.getWriter().write(new Uint8Array([1])))).toMatchObject({ code: "ERR_WEBTRANSPORT_SESSION_GONE" });
    expect(await caught(uniReader.read())).toMatchObject({ code: "ERR_WEBTRANSPORT_SESSION_GONE" });
    expect(outbox.take()).toEqual([]); // the library resets them on the wire
    expect(table.size).toBe(0);
    // A stream the peer opened just before it learned: refused.
    table.onIncoming(43, true, SESSION);
    expect(outbox.take().map((c) => c.kind)).toEqual(["stop", "reset"]);
  });

  test("a clean session close closes the incoming-stream readables; RESET of one stream errors both of its sides", async () => {
    const { table, session } = setup();
    table.onIncoming(51, true, SESSION);
    const reader = session.incomingBidirectionalStreams.getReader();
    const stream = (await reader.read()).value!;
    table.onReset(51, 0x10cn);
    expect(await caught(stream.readable.getReader().read())).toMatchObject({ code: "ERR_WEBTRANSPORT_SESSION_GONE", http3ErrorCode: 0x10cn });
    expect(await caught(stream.writable.getWriter().ready)).toMatchObject({ code: "ERR_WEBTRANSPORT_SESSION_GONE" });
    session.end(new WebTransportError("closed", { code: "ERR_WEBTRANSPORT_SESSION_GONE", source: "session" }), true);
    expect(await reader.read()).toEqual({ done: true, value: undefined });
  });

  test("unread bytes past the receive bound stop the stream (H3_EXCESSIVE_LOAD) and error its readable", async () => {
    const { outbox, table, session } = setup({ sendWindow: 1000, receiveLimit: 2500 });
    table.onIncoming(61, false, SESSION);
    const readable = (await session.incomingUnidirectionalStreams.getReader().read()).value!;
    const reader = readable.getReader();
    table.onBody(61, () => new Uint8Array(1000));
    table.onBody(61, () => new Uint8Array(1000));
    expect((await reader.read()).value!.length).toBe(1000); // reading frees room
    table.onBody(61, () => new Uint8Array(1500));
    expect(outbox.take()).toEqual([]); // 2500 unread: at the bound
    table.onBody(61, () => new Uint8Array(1));
    expect(outbox.take()).toEqual([{ kind: "stop", id: 61, code: BigInt(H3_EXCESSIVE_LOAD) }]);
    expect(await caught(reader.read())).toMatchObject({ code: "ERR_WEBTRANSPORT_RECEIVE_OVERFLOW" });
  });

  test("reading grants the library the next read window (CREDIT), once per half window", async () => {
    const { outbox, table, session } = setup({ sendWindow: 1000, receiveLimit: 1 << 20, readWindowBytes: 4000 });
    table.onIncoming(63, false, SESSION);
    const readable = (await session.incomingUnidirectionalStreams.getReader().read()).value!;
    const reader = readable.getReader();
    for (let i = 0; i < 4; i++) table.onBody(63, () => new Uint8Array(1000)); // The whole first window, unread.
    expect(outbox.take()).toEqual([]);
    expect((await reader.read()).value!.length).toBe(1000);
    expect(outbox.take()).toEqual([]); // 1000 consumed: less than half a window.
    expect((await reader.read()).value!.length).toBe(1000);
    expect(outbox.take()).toEqual([{ kind: "credit", id: 63, allowed: 6000 }]); // 2000 consumed + one window.
    await reader.read();
    await reader.read();
    expect(outbox.take()).toEqual([{ kind: "credit", id: 63, allowed: 8000 }]);
  });

  test("a chunk that is not bytes errors the writable and resets the stream", async () => {
    const { outbox, table, session } = setup();
    table.onIncoming(71, true, SESSION);
    const incoming = session.incomingBidirectionalStreams.getReader();
    const stream = (await incoming.read()).value!;
    const writer = stream.writable.getWriter();
    expect(await caught(writer.write("text" as unknown as Uint8Array))).toBeInstanceOf(TypeError);
    expect(outbox.take()).toEqual([{ kind: "reset", id: 71, code: h3(0) }]);
    // ArrayBuffers and other views are bytes.
    table.onIncoming(72, true, SESSION);
    const next = (await incoming.read()).value!.writable.getWriter();
    await next.write(new Uint16Array([0x0201]).buffer as unknown as Uint8Array);
    await next.write(new DataView(new Uint8Array([3, 4, 5]).buffer, 1) as unknown as Uint8Array);
    expect(outbox.take()).toEqual([
      { kind: "body", id: 72, bytes: [1, 2], fin: false, notify: false },
      { kind: "body", id: 72, bytes: [4, 5], fin: false, notify: false },
    ]);
  });

  test("raw WT_* event records decode as wire.zig lays them out", async () => {
    const { outbox, table, session } = setup();
    const record = (kind: number, aux: number, id: number, ...payload: bigint[]) => {
      const view = new DataView(new ArrayBuffer(8 + 16 + payload.length * 8));
      view.setUint32(8, 16 + payload.length * 8, true);
      view.setUint8(12, kind);
      view.setUint16(14, aux, true);
      view.setBigUint64(16, BigInt(id), true);
      payload.forEach((value, i) => view.setBigUint64(24 + i * 8, value, true));
      return view;
    };
    // At offset 8, as records sit inside a drained batch.
    table.onEvent(record(EventKind.wtStream, 1, 0x3_0000_0091, BigInt(SESSION), 4n), 8, 0x3_0000_0091);
    const stream = (await session.incomingBidirectionalStreams.getReader().read()).value!;
    table.onEvent(record(EventKind.wtPeerReset, 0, 0x3_0000_0091, h3(9)), 8, 0x3_0000_0091);
    expect(await caught(stream.readable.getReader().read())).toMatchObject({ streamErrorCode: 9 });
    table.onEvent(record(EventKind.wtStopSending, 0, 0x3_0000_0091, h3(10)), 8, 0x3_0000_0091);
    expect(await caught(stream.writable.getWriter().ready)).toMatchObject({ streamErrorCode: 10 });

    const uni = session.createUnidirectionalStream();
    const { token } = outbox.take()[0] as { token: number };
    table.onEvent(record(EventKind.wtOpened, 0, 0x4_0000_0092, BigInt(token), BigInt(SESSION), 15n, 0n), 8, 0x4_0000_0092);
    const writer = (await uni).getWriter();
    await writer.write(new Uint8Array([1]));
    expect(outbox.take()).toEqual([{ kind: "body", id: 0x4_0000_0092, bytes: [1], fin: false, notify: false }]);
    const refused = caught(session.createBidirectionalStream());
    const second = outbox.take()[0] as { token: number };
    table.onEvent(record(EventKind.wtOpened, 1, 0, BigInt(second.token), BigInt(SESSION), 0n, 2n), 8, 0);
    expect(await refused).toMatchObject({ code: "ERR_WEBTRANSPORT_STREAM_LIMIT" });
  });

  test("server stop ends every session and rejects pending creates", async () => {
    const { table, session } = setup();
    const other = table.attach(SESSION + 1);
    const pending = caught(other.createBidirectionalStream());
    table.onIncoming(81, false, SESSION);
    const readable = (await session.incomingUnidirectionalStreams.getReader().read()).value!;
    table.stop();
    expect(await pending).toMatchObject({ code: "ERR_WEBTRANSPORT_SESSION_GONE" });
    expect(await caught(readable.getReader().read())).toMatchObject({ code: "ERR_WEBTRANSPORT_SESSION_GONE" });
    expect(table.size).toBe(0);
    expect(table.sessions).toBe(0);
  });
});

async function wtStreams(port: number, path: string, ...args: string[]): Promise<Record<string, unknown>> {
  const child = Bun.spawn([join(root, ".venv", "bin", "python"), join(root, "tests", "clients", "wt_streams.py"), "127.0.0.1", String(port), path, ...args], {
    stdout: "pipe",
    stderr: "pipe",
  });
  const timer = setTimeout(() => child.kill(), 90_000);
  const [stdout, stderr, exitCode] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  clearTimeout(timer);
  if (exitCode !== 0) throw new Error(`wt_streams.py ${args.join(" ")} failed (${exitCode}): ${stderr.slice(-2000)}`);
  return JSON.parse(stdout);
}

const eventually = async (condition: () => boolean) => {
  for (let i = 0; i < 300 && !condition(); i++) await Bun.sleep(10);
};

describe("aioquic at protocol level, against examples/webtransport", () => {
  let example: WebTransportExample;
  const tls = makeCertificate();

  beforeAll(() => {
    example = startWebTransportExample({ port: 0, cert: tls.cert, key: tls.key });
  });
  afterAll(() => example?.stop());

  test("a client-opened bidirectional stream echoes 1 MiB byte-exact", async () => {
    const before = example.streams.echoedBytes;
    const result = await wtStreams(example.h3.port, "/wt", "bidi-echo", String(1 << 20));
    expect(result).toEqual({ mode: "bidi-echo", status: 200, sent: 1 << 20, received: 1 << 20, equal: true, session_id: true });
    await eventually(() => example.streams.echoedBytes - before === 1 << 20);
    expect(example.streams.echoedBytes - before).toBe(1 << 20);
  }, 90_000);

  test("50 bidirectional streams at once, each echoing its own bytes", async () => {
    expect(await wtStreams(example.h3.port, "/wt", "many", "50", "3000")).toEqual({ mode: "many", status: 200, streams: 50, matched: 50 });
  }, 90_000);

  test("a client-opened unidirectional stream reaches the handler exactly (sent back on a server-opened one)", async () => {
    const result = await wtStreams(example.h3.port, "/wt", "uni-echo", "200000");
    expect(result).toMatchObject({ mode: "uni-echo", status: 200, sent: 200_000, received: 200_000, equal: true });
    expect(example.streams.uniReceived).toContainEqual({ bytes: 200_000, sha256: result.sha256 as string });
  }, 90_000);

  test("server-opened unidirectional and bidirectional streams reach the client", async () => {
    expect(await wtStreams(example.h3.port, "/wt", "server-uni", "100000")).toEqual({ mode: "server-uni", status: 200, received: 100_000, equal: true, session_id: true });
    const replies = example.streams.bidiReplies.length;
    expect(await wtStreams(example.h3.port, "/wt", "server-bidi", "70000")).toEqual({ mode: "server-bidi", status: 200, received: 70_000, equal: true, session_id: true });
    await eventually(() => example.streams.bidiReplies.length > replies);
    expect(example.streams.bidiReplies.at(-1)).toEqual({ bytes: 70_000, equal: true });
  }, 90_000);

  test("8 MiB from one write() reach the client exactly (submitted a window at a time)", async () => {
    expect(await wtStreams(example.h3.port, "/wt", "server-uni", String(8 << 20))).toEqual({ mode: "server-uni", status: 200, received: 8 << 20, equal: true, session_id: true });
  }, 90_000);

  test("resets and STOP_SENDING carry WebTransport codes both ways", async () => {
    const errors = example.streams.errors.length;
    // The client resets with 0x1e (the first code past a reserved one); the echo passes it back.
    expect(await wtStreams(example.h3.port, "/wt", "reset", String(0x1e))).toEqual({ mode: "reset", status: 200, echoed: "hello", server_reset: FIRST + 0x1f, server_reset_code: 0x1e });
    await eventually(() => example.streams.errors.length > errors);
    expect(example.streams.errors.at(-1)).toEqual({ code: "ERR_WEBTRANSPORT_STREAM_RESET", streamErrorCode: 0x1e });
    // The client stops reading with 1234: the echo's writable errors with it and
    // its pipe stops the client's sending side with the same code.
    const before = example.streams.errors.length;
    expect(await wtStreams(example.h3.port, "/wt", "stop", "1234")).toEqual({
      mode: "stop",
      status: 200,
      reset: webtransportCodeToHttp3(1234),
      reset_code: 1234,
      stop: webtransportCodeToHttp3(1234),
      stop_code: 1234,
    });
    await eventually(() => example.streams.errors.length > before);
    expect(example.streams.errors.slice(before)).toEqual([{ code: "ERR_WEBTRANSPORT_STOP_SENDING", streamErrorCode: 1234 }]);
    expect(await wtStreams(example.h3.port, "/wt", "server-reset", "77")).toMatchObject({ line: "reset 77\n", reset: webtransportCodeToHttp3(77), reset_code: 77 });
    expect(await wtStreams(example.h3.port, "/wt", "server-stop", String(0xffffffff))).toMatchObject({
      line: `stop ${0xffffffff}\n`,
      stop: WEBTRANSPORT_CODE_LAST,
      stop_code: 0xffffffff,
      fin_after_stop: true,
    });
  }, 90_000);

  test("closing the session ends its streams on both sides", async () => {
    const errors = example.streams.errors.length;
    const result = await wtStreams(example.h3.port, "/wt", "session-close");
    // The server's echo of the still-open stream errors locally with the session...
    await eventually(() => example.streams.errors.length > errors);
    expect(example.streams.errors.at(-1)).toMatchObject({ code: "ERR_WEBTRANSPORT_SESSION_GONE" });
    // ...and the library resets it on the wire with WEBTRANSPORT_SESSION_GONE.
    expect(result).toEqual({ mode: "session-close", status: 200, stream_reset: H3_WEBTRANSPORT_SESSION_GONE, stream_ended: false });
  }, 90_000);

  test("the server closing the session ends its streams on both sides", async () => {
    const errors = example.streams.errors.length;
    expect(await wtStreams(example.h3.port, "/wt", "server-close")).toEqual({
      mode: "server-close",
      status: 200,
      stream_reset: H3_WEBTRANSPORT_SESSION_GONE,
      capsule: { type: 0x2843, code: 4000, reason: "closed by request" },
    });
    await eventually(() => example.streams.errors.length > errors);
    expect(example.streams.errors.slice(errors)).toEqual([{ code: "ERR_WEBTRANSPORT_SESSION_GONE", streamErrorCode: null }]);
  }, 90_000);

  test("nothing is left behind", async () => {
    await eventually(() => example.h3.stats().requests_active === 0);
    expect(example.h3.stats().requests_active).toBe(0);
    expect(example.h3.pendingRequests).toBe(0);
    expect(example.streams.serverErrors).toEqual([]);
  });
});

/** Counts settled creates: "opened", or the rejection's code. */
function summarize(outcomes: PromiseSettledResult<unknown>[]): Record<string, number> {
  const summary: Record<string, number> = {};
  for (const outcome of outcomes) {
    const key = outcome.status === "fulfilled" ? "opened" : String((outcome.reason as WebTransportError).code ?? outcome.reason);
    summary[key] = (summary[key] ?? 0) + 1;
  }
  return summary;
}

/**
 * Holds every incoming stream open; on the datagram "try N" (once N streams
 * arrived) opens unidirectional streams, one byte each, until refused, and
 * answers { incoming, opened, error } with datagrams.
 */
function limitHandler(session: WebTransportSession) {
  const held: unknown[] = [];
  void (async () => {
    for await (const stream of session.incomingBidirectionalStreams) held.push(stream);
  })().catch(() => {});
  void (async () => {
    for await (const stream of session.incomingUnidirectionalStreams) held.push(stream);
  })().catch(() => {});
  session.onDatagram(async (data) => {
    const wanted = Number(/^try (\d+)$/.exec(new TextDecoder().decode(data))?.[1]);
    for (let i = 0; i < 500 && held.length < wanted; i++) await Bun.sleep(10);
    let opened = 0;
    let error = "";
    for (let i = 0; i < 300; i++) {
      try {
        const writer = (await session.createUnidirectionalStream()).getWriter();
        await writer.write(new Uint8Array([1]));
        held.push(writer);
        opened++;
      } catch (failure) {
        error = (failure as WebTransportError).code;
        break;
      }
    }
    answer(session, { incoming: held.length - opened, opened, error });
  });
}

/** Sends `value` as a datagram until the session ends: a datagram may be lost. */
function answer(session: WebTransportSession, value: unknown) {
  const data = new TextEncoder().encode(JSON.stringify(value));
  const send = () => {
    try {
      session.sendDatagram(data);
    } catch {
      // The session ended, or the send queue is full: the next tick retries.
    }
  };
  send();
  const timer = setInterval(send, 50);
  void session.closed.then(() => clearInterval(timer));
}

test("the peer's stream credit: creates past it wait for MAX_STREAMS and then open, also when asked all at once", async () => {
  // The default session limit (256) is above what aioquic allows at first:
  // 128 unidirectional streams, of which our control and QPACK streams take
  // 3. The server asks for 130 at once (one command batch): 125 open at
  // once, 5 wait until aioquic raises its MAX_STREAMS (it doubles the limit
  // once half is used), then open; none is refused or reset.
  await using server = serve({ port: 0, tls: makeCertificate(), webtransport: true });
  server.webtransport("/limit", (session) => {
    session.onDatagram(async () => {
      // Each stream is finished after its byte: aioquic grants one more
      // stream per finished one. A stream the library opened past the
      // peer's credit, or had to reset, would fail its write or close.
      const outcomes = await Promise.allSettled(
        Array.from({ length: 130 }, async () => {
          const writer = (await session.createUnidirectionalStream()).getWriter();
          await writer.write(new Uint8Array([1]));
          await writer.close();
        }),
      );
      answer(session, summarize(outcomes));
    });
  });
  const result = await wtStreams(server.port, "/limit", "limit", "0", "0");
  expect(result).toEqual({ mode: "limit", status: 200, server: { opened: 130 } });
}, 90_000);

test("creates waiting for the peer's stream credit reject with ERR_WEBTRANSPORT_SESSION_GONE when the session closes", async () => {
  // aioquic's 128 unidirectional streams minus our 3: 125 open, 5 wait for
  // credit the client never grants (it finishes no stream); the server then
  // closes the session.
  await using server = serve({ port: 0, tls: makeCertificate(), webtransport: true });
  let settled: Promise<PromiseSettledResult<unknown>[]> | undefined;
  server.webtransport("/wait", (session) => {
    session.onDatagram(() => {
      let opened = 0;
      const creates = Array.from({ length: 130 }, async () => {
        const writable = await session.createUnidirectionalStream();
        if (++opened === 125) session.close(4001, "enough");
        return writable;
      });
      settled = Promise.allSettled(creates);
    });
  });
  expect(await wtStreams(server.port, "/wait", "wait-close")).toEqual({ mode: "wait-close", status: 200, session_ended: true });
  expect(summarize(await settled!)).toEqual({ opened: 125, ERR_WEBTRANSPORT_SESSION_GONE: 5 });
  await eventually(() => server.stats().requests_active === 0);
  expect(server.stats().requests_active).toBe(0);
}, 90_000);

test("a stream nobody reads is stopped past max_request_body_size unread bytes (H3_EXCESSIVE_LOAD); its readable then errors", async () => {
  await using server = serve({ port: 0, tls: makeCertificate(), webtransport: true, limits: { max_request_body_size: 100_000 } });
  const readables: ReadableStream<Uint8Array>[] = [];
  server.webtransport("/hold", (session) => {
    void (async () => {
      for await (const readable of session.incomingUnidirectionalStreams) readables.push(readable);
    })().catch(() => {});
  });
  expect(await wtStreams(server.port, "/hold", "uni-stopped", "1000000")).toEqual({ mode: "uni-stopped", status: 200, stop: H3_EXCESSIVE_LOAD });
  expect(readables.length).toBe(1);
  // Reading now gets the error at once: erroring a ReadableStream discards its queue.
  let read = 0;
  const error = await caught(
    (async () => {
      for await (const chunk of readables[0]!) read += chunk.length;
    })(),
  );
  expect(error).toMatchObject({ name: "WebTransportError", code: "ERR_WEBTRANSPORT_RECEIVE_OVERFLOW" });
  expect(read).toBe(0);
}, 90_000);

describe("stream limits", () => {
  const SESSION_LIMIT = 10;
  let server: Server;
  const tls = makeCertificate();

  beforeAll(() => {
    server = serve({ port: 0, tls, webtransport: true, limits: { max_webtransport_streams_per_session: SESSION_LIMIT } });
    server.webtransport("/limit", limitHandler);
  });
  afterAll(() => server?.stop());

  test("the session's limit (max_webtransport_streams_per_session): server-opened streams past it are refused with ERR_WEBTRANSPORT_STREAM_LIMIT", async () => {
    const result = await wtStreams(server.port, "/limit", "limit", "0", "0");
    expect(result).toEqual({ mode: "limit", status: 200, server: { incoming: 0, opened: SESSION_LIMIT, error: "ERR_WEBTRANSPORT_STREAM_LIMIT" } });
  }, 90_000);

  test("the session's limit counts both kinds and both initiators; past it both sides are refused", async () => {
    // 7 + 3 client streams fill the session; the server cannot open one
    // more, and one more from the client is refused on the wire with
    // WEBTRANSPORT_BUFFERED_STREAM_REJECTED both ways.
    const result = await wtStreams(server.port, "/limit", "limit", "7", "3", "extra");
    expect(result).toEqual({
      mode: "limit",
      status: 200,
      server: { incoming: SESSION_LIMIT, opened: 0, error: "ERR_WEBTRANSPORT_STREAM_LIMIT" },
      extra_reset: 0x3994bd84,
      extra_stop: 0x3994bd84,
    });
  }, 90_000);
});

test("patternBytes is the page's pattern", () => {
  expect([...patternBytes(4)]).toEqual([13, 8, 3, 254]);
  expect(patternBytes(300)[256]).toBe((256 * 251 + 7 + 13) & 0xff);
});
