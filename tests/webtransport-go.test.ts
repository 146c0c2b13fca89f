// WebTransport against clients of two drafts, on one running server:
// webtransport-go v0.10.0 (draft-02 SETTINGS, :protocol "webtransport") and
// v0.13.0 (draft-16: SETTINGS_WT_ENABLED, :protocol "webtransport-h3",
// reset_stream_at required, session flow control). Both run the same
// scenarios (tests/clients/webtransport-go/scenarios.go); the v0.13 client
// also checks session flow control against a server with small limits.
// The clients are built with `go build` from the Go module proxy's pinned
// versions (go.sum), once per source change (cached by content hash).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serve, type Server, type WebTransportSession } from "../ts/index.ts";
import { SessionFlow, WT_FLOW_CONTROL_ERROR, WT_MAX_DATA, WT_MAX_STREAMS_BIDI, WT_STREAMS_BLOCKED_UNI, encodeCapsule } from "../ts/webtransport-flow.ts";
import { WebTransportStreams, type StreamOutbox } from "../ts/webtransport-streams.ts";
import { draftOf, parseProtocolList, serializeProtocol } from "../ts/webtransport.ts";
import { WT_BITS } from "../ts/wire.ts";
import { makeCertificate } from "./helpers/certs.ts";

const clientsDir = join(import.meta.dir, "clients", "webtransport-go");
const VERSIONS = ["v10", "v13"] as const;
type Version = (typeof VERSIONS)[number];
const binaries: Partial<Record<Version, string>> = {};

/** Builds a client, or reuses the binary built from the same sources. */
function buildClient(version: Version): string {
  const hash = createHash("sha256");
  for (const file of [join(clientsDir, "scenarios.go"), join(clientsDir, version, "dial.go"), join(clientsDir, version, "go.mod"), join(clientsDir, version, "go.sum")]) hash.update(readFileSync(file));
  const dir = join(tmpdir(), "zig-h3-wtgo");
  mkdirSync(dir, { recursive: true });
  const binary = join(dir, `${version}-${hash.digest("hex").slice(0, 16)}`);
  if (existsSync(binary)) return binary;
  const built = Bun.spawnSync(["go", "build", "-mod=readonly", "-o", binary, "."], { cwd: join(clientsDir, version), env: { ...process.env, GOFLAGS: "-buildvcs=false" } });
  if (built.exitCode !== 0) throw new Error(`go build ${version} failed: ${built.stderr.toString()}`);
  return binary;
}

interface Outcome {
  scenario: string;
  protocol?: string;
  error?: string;
  [key: string]: unknown;
}

async function runClient(version: Version, port: number, path: string, scenario: string, extra: string[] = []): Promise<Outcome> {
  const child = Bun.spawn([binaries[version]!, "-url", `https://127.0.0.1:${port}${path}`, "-scenario", scenario, ...extra], { stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text()]);
  await child.exited;
  const line = stdout.trim().split("\n").pop() ?? "";
  try {
    return JSON.parse(line) as Outcome;
  } catch {
    throw new Error(`client ${version} ${scenario} printed ${JSON.stringify(stdout)}; stderr ${stderr}`);
  }
}

/** Go's scenarios.go pattern(seed, n). */
function pattern(seed: number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (seed * 7 + i) & 0xff;
  return out;
}

async function readAll(readable: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(readable).arrayBuffer());
}

async function writeAll(writable: WritableStream<Uint8Array>, bytes: Uint8Array) {
  const writer = writable.getWriter();
  await writer.write(bytes);
  await writer.close();
}

/** What the server saw of each session, by path, for the test to check. */
interface Seen {
  draft: string;
  protocols: readonly string[];
  session: WebTransportSession;
}

/** One server for every client and scenario. */
function scenarioServer(limits: Record<string, number> = {}): { server: Server; seen: Seen[] } {
  const seen: Seen[] = [];
  const server = serve({ port: 0, tls: makeCertificate(), webtransport: true, limits });
  const note = (session: WebTransportSession) => {
    seen.push({ draft: session.draft, protocols: session.protocols, session });
    if (session.protocols.includes("chat-v2")) session.selectProtocol("chat-v2");
  };
  const echoBidi = (session: WebTransportSession) =>
    void (async () => {
      for await (const stream of session.incomingBidirectionalStreams) void stream.readable.pipeTo(stream.writable).catch(() => {});
    })().catch(() => {});
  server.webtransport("/echo", (session) => {
    note(session);
    session.onDatagram((data) => {
      try {
        session.sendDatagram(data.slice().reverse());
      } catch {
        // Gone.
      }
    });
    echoBidi(session);
    void (async () => {
      for await (const readable of session.incomingUnidirectionalStreams) {
        const bytes = await readAll(readable);
        await writeAll(await session.createUnidirectionalStream(), bytes);
      }
    })().catch(() => {});
  });
  server.webtransport("/server-streams", (session) => {
    note(session);
    void (async () => {
      const bidi = await session.createBidirectionalStream();
      await writeAll(bidi.writable, new TextEncoder().encode("hello from server"));
      const reply = new TextDecoder().decode(await readAll(bidi.readable));
      await writeAll(await session.createUnidirectionalStream(), new TextEncoder().encode("uni from server"));
      await writeAll(await session.createUnidirectionalStream(), new TextEncoder().encode(reply));
    })().catch(() => {});
  });
  server.webtransport("/resets", (session) => {
    note(session);
    void (async () => {
      const streams = session.incomingBidirectionalStreams.getReader();
      const first = (await streams.read()).value!;
      const reader = first.readable.getReader();
      let got = 0;
      while (got < 8) got += (await reader.read()).value?.length ?? 8;
      // Our side reset with 7, theirs stopped with 8.
      await first.writable.abort({ streamErrorCode: 7 });
      await reader.cancel({ streamErrorCode: 8 });
      const second = (await streams.read()).value!;
      const code = await readAll(second.readable).then(
        () => "no reset",
        (error: { streamErrorCode?: number }) => `code=${error.streamErrorCode}`,
      );
      await writeAll(await session.createUnidirectionalStream(), new TextEncoder().encode(code));
    })().catch(() => {});
  });
  server.webtransport("/server-resets", (session) => {
    note(session);
    void (async () => {
      // The client's control stream: "ready", then "ok" after each "data i"
      // it read, whereupon that stream is reset with code 5.
      const control = (await session.incomingBidirectionalStreams.getReader().read()).value!.readable.getReader();
      let heard = "";
      const hear = async (text: string) => {
        while (!heard.includes(text)) heard += new TextDecoder().decode((await control.read()).value);
        heard = heard.slice(heard.indexOf(text) + text.length);
      };
      await hear("ready");
      for (let i = 0; i < 10; i++) {
        const writer = (await session.createUnidirectionalStream()).getWriter();
        await writer.write(new TextEncoder().encode(`data ${i}`));
        await hear("ok");
        await writer.abort({ streamErrorCode: 5 });
      }
    })().catch(() => {});
  });
  server.webtransport("/close", (session) => {
    note(session);
    void (async () => {
      const reader = session.incomingBidirectionalStreams.getReader();
      await reader.read();
      session.close(42, "bye");
    })().catch(() => {});
  });
  server.webtransport("/client-close", (session) => void note(session));
  server.webtransport("/download", (session) => {
    note(session);
    void (async () => writeAll(await session.createUnidirectionalStream(), pattern(4, 256 * 1024)))().catch(() => {});
  });
  server.webtransport("/server-opens-many", (session) => {
    note(session);
    void (async () => {
      // All six asked at once: past the client's limit of 2 the creates
      // wait, in order, for its WT_MAX_STREAMS.
      const creates = Array.from({ length: 6 }, () => session.createBidirectionalStream());
      for (const [i, create] of creates.entries()) {
        const stream = await create;
        void readAll(stream.readable).catch(() => {});
        await writeAll(stream.writable, new TextEncoder().encode(`stream ${i}`));
      }
    })().catch(() => {});
  });
  return { server, seen };
}

const EXPECTED_DRAFT: Record<Version, string> = { v10: "draft-02", v13: "draft-15/16" };

beforeAll(() => {
  for (const version of VERSIONS) binaries[version] = buildClient(version);
}, 600_000);

describe("webtransport-go v0.10 (draft-02) and v0.13 (draft-16) against one server", () => {
  let server: Server;
  let seen: Seen[];
  beforeAll(() => ({ server, seen } = scenarioServer()));
  // Go clients that exit leave their connections to the idle timeout: no
  // graceful wait for them.
  afterAll(() => server?.stop(true));

  for (const version of VERSIONS) {
    describe(version, () => {
      test("the session is accepted; the handler sees the draft and the offered protocols, and its choice reaches the client", async () => {
        const before = seen.length;
        const result = await runClient(version, server.port, "/echo", "datagrams", ["-protocols", "chat-v1,chat-v2"]);
        expect(result).toEqual({ scenario: "datagrams", protocol: "chat-v2", echoed: 10 });
        expect(seen.length).toBe(before + 1);
        expect(seen[before]!.draft).toBe(EXPECTED_DRAFT[version]);
        expect(seen[before]!.protocols).toEqual(["chat-v1", "chat-v2"]);
        expect(seen[before]!.session.protocol).toBe("chat-v2");
        // Flow control is on only with a draft-16 client that announces it.
        expect(seen[before]!.session.flowControlled).toBe(false);
      }, 60_000);

      test("a 1 MiB bidirectional stream is echoed byte for byte", async () => {
        expect(await runClient(version, server.port, "/echo", "bidi")).toEqual({ scenario: "bidi", protocol: "", bytes: 1 << 20, equal: true });
      }, 60_000);

      test("a unidirectional stream out, and the server's unidirectional answer back", async () => {
        expect(await runClient(version, server.port, "/echo", "uni")).toEqual({ scenario: "uni", protocol: "", bytes: 100_000, equal: true });
      }, 60_000);

      test("streams the server opens: bidirectional (answered) and unidirectional", async () => {
        expect(await runClient(version, server.port, "/server-streams", "server-streams")).toEqual({
          scenario: "server-streams",
          protocol: "",
          bidi: "hello from server",
          uni: "uni from server",
          serverRead: "reply to hello from server",
        });
      }, 60_000);

      test("100 concurrent bidirectional streams, each echoed", async () => {
        expect(await runClient(version, server.port, "/echo", "concurrent")).toEqual({ scenario: "concurrent", protocol: "", ok: 100 });
      }, 60_000);

      test("resets with codes both ways: RESET_STREAM 7 and STOP_SENDING 8 from the server, the client's reset 9 seen by it", async () => {
        expect(await runClient(version, server.port, "/resets", "resets")).toEqual({ scenario: "resets", protocol: "", readError: 7, writeError: 8, serverSaw: "code=9" });
      }, 60_000);

      test("streams the server resets (RESET_STREAM_AT keeping their header) end with the code after their bytes", async () => {
        const before = server.stats().wt_resets_at;
        expect(await runClient(version, server.port, "/server-resets", "server-resets")).toEqual({
          scenario: "server-resets",
          protocol: "",
          data: Array.from({ length: 10 }, (_, i) => `data ${i}`),
          codes: Array(10).fill(5),
        });
        expect(server.stats().wt_resets_at - before).toBe(10);
      }, 60_000);

      test("the server closes the session with a code and a reason", async () => {
        expect(await runClient(version, server.port, "/close", "server-close")).toEqual({ scenario: "server-close", protocol: "", code: 42, reason: "bye", remote: true });
      }, 60_000);

      test("the client closes the session with a code and a reason", async () => {
        const before = seen.length;
        expect(await runClient(version, server.port, "/client-close", "client-close")).toEqual({ scenario: "client-close", protocol: "" });
        const closed = await seen[before]!.session.closed;
        // v0.10's Dialer closes the QUIC connection the moment the session
        // ends, racing its own CLOSE_WEBTRANSPORT_SESSION capsule: the server
        // sees the code when the capsule wins, else the session cut off. The
        // v0.13 client keeps its connection (NewClientConn), so the capsule
        // always arrives.
        if (version === "v13" || closed.closeCode !== 0) expect(closed).toEqual({ closeCode: 43, reason: "client bye" });
        else expect(closed).toEqual({ closeCode: 0, reason: "" });
      }, 60_000);
    });
  }
});

describe("session flow control with the draft-16 client (webtransport-go v0.13)", () => {
  let server: Server;
  let seen: Seen[];
  beforeAll(() => ({ server, seen } = scenarioServer({ wtInitialMaxStreamsBidi: 4, wtInitialMaxStreamsUni: 2, wtInitialMaxDataBytes: 64 * 1024 })));
  // Go clients that exit leave their connections to the idle timeout: no
  // graceful wait for them.
  afterAll(() => server?.stop(true));
  const last = () => seen[seen.length - 1]!.session;

  test("our WT_MAX_STREAMS is respected: 4 streams open at once, the 5th only after one ended and we granted it", async () => {
    const result = await runClient("v13", server.port, "/echo", "stream-limit", ["-flow-control"]);
    expect(result.opened).toBe(4);
    expect(result.error_at).toContain("too many open streams");
    expect(result.openedAfterOneEnded).toBe(true);
    expect(result.error).toBeUndefined();
    expect(last().flowControlled).toBe(true);
    expect(last().flowStats!.maxStreamsSent).toBeGreaterThanOrEqual(1);
  }, 60_000);

  test("20 streams one after another pass an initial limit of 4 as WT_MAX_STREAMS grants each ended one", async () => {
    const result = await runClient("v13", server.port, "/echo", "sequential-streams", ["-flow-control"]);
    expect(result).toEqual({ scenario: "sequential-streams", protocol: "", ok: 20 });
    expect(last().flowStats!.maxStreamsSent).toBeGreaterThanOrEqual(16);
  }, 60_000);

  test("256 KiB up on one stream passes our 64 KiB WT_MAX_DATA as we grant more", async () => {
    expect(await runClient("v13", server.port, "/echo", "large-upload", ["-flow-control"])).toEqual({ scenario: "large-upload", protocol: "", bytes: 256 * 1024, equal: true });
    expect(last().flowStats!.maxDataSent).toBeGreaterThanOrEqual(3);
  }, 60_000);

  test("256 KiB down against the client's 32 KiB WT_MAX_DATA: the server waits for its grants (WT_DATA_BLOCKED) and never passes them", async () => {
    expect(await runClient("v13", server.port, "/download", "large-download", ["-flow-control"])).toEqual({ scenario: "large-download", protocol: "", bytes: 256 * 1024, equal: true });
    const stats = last().flowStats!;
    expect(stats.blockedSent).toBeGreaterThanOrEqual(1);
    expect(stats.maxDataReceived).toBeGreaterThanOrEqual(7);
  }, 60_000);

  test("6 server-opened streams against the client's WT_MAX_STREAMS of 2: creates wait (WT_STREAMS_BLOCKED) and open as it grants", async () => {
    const result = await runClient("v13", server.port, "/server-opens-many", "server-opens-many", ["-flow-control"]);
    // webtransport-go hands incoming streams over from one goroutine each, so
    // their accept order is its own: the set is what counts.
    expect({ ...result, streams: (result.streams as string[]).toSorted() }).toEqual({
      scenario: "server-opens-many",
      protocol: "",
      streams: ["stream 0", "stream 1", "stream 2", "stream 3", "stream 4", "stream 5"],
    });
    const stats = last().flowStats!;
    expect(stats.blockedSent).toBeGreaterThanOrEqual(1);
    expect(stats.maxStreamsReceived).toBeGreaterThanOrEqual(4);
  }, 60_000);

  test("the v0.10 (draft-02) client on the same server has no session flow control", async () => {
    expect(await runClient("v10", server.port, "/echo", "sequential-streams")).toEqual({ scenario: "sequential-streams", protocol: "", ok: 20 });
    expect(last().draft).toBe("draft-02");
    expect(last().flowControlled).toBe(false);
  }, 60_000);
});

describe("a client past our session flow-control limits (aioquic with draft-16 SETTINGS, ignoring the limits)", () => {
  let server: Server;
  let seen: Seen[];
  beforeAll(() => {
    ({ server, seen } = scenarioServer({ wtInitialMaxStreamsBidi: 4, wtInitialMaxStreamsUni: 2, wtInitialMaxDataBytes: 64 * 1024 }));
    // A handler that reads nothing: received bytes are never consumed.
    server.webtransport("/hold", (session) => void seen.push({ draft: session.draft, protocols: session.protocols, session }));
  });
  // Go clients that exit leave their connections to the idle timeout: no
  // graceful wait for them.
  afterAll(() => server?.stop(true));

  async function aioquic(...args: string[]): Promise<Record<string, unknown>> {
    const root = join(import.meta.dir, "..");
    const child = Bun.spawn([join(root, ".venv", "bin", "python"), join(root, "tests", "clients", "wt_streams.py"), "127.0.0.1", String(server.port), "/hold", ...args], { stdout: "pipe", stderr: "pipe" });
    const [stdout, stderr, exitCode] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
    if (exitCode !== 0) throw new Error(`wt_streams.py ${args.join(" ")} failed (${exitCode}): ${stderr.slice(-2000)}`);
    return JSON.parse(stdout);
  }

  test("a third unidirectional stream past WT_MAX_STREAMS 2 resets the session with WT_FLOW_CONTROL_ERROR", async () => {
    expect(await aioquic("fc-streams", "3")).toEqual({ mode: "fc-streams", status: 200, session_reset: WT_FLOW_CONTROL_ERROR, session_stop: WT_FLOW_CONTROL_ERROR });
    const session = seen[seen.length - 1]!.session;
    expect(session.draft).toBe("draft-15/16");
    expect(session.flowControlled).toBe(true);
    expect(await session.closed).toEqual({ closeCode: 0, reason: "" });
  }, 60_000);

  test("100 KiB past WT_MAX_DATA 64 KiB, none of it read, resets the session with WT_FLOW_CONTROL_ERROR", async () => {
    expect(await aioquic("fc-data", String(100 * 1024))).toEqual({ mode: "fc-data", status: 200, session_reset: WT_FLOW_CONTROL_ERROR, session_stop: WT_FLOW_CONTROL_ERROR });
  }, 60_000);
});

describe("session flow control rules (no network)", () => {
  const limits = { maxData: 1000, maxStreamsBidi: 2, maxStreamsUni: 1 };

  test("a peer past our stream or data limit is refused; grants are WT_MAX_STREAMS / WT_MAX_DATA capsules", () => {
    const sent: Uint8Array[] = [];
    const flow = new SessionFlow(limits, limits, (capsule) => sent.push(capsule));
    expect(flow.incomingOpened(true)).toBe(true);
    expect(flow.incomingOpened(true)).toBe(true);
    expect(flow.incomingOpened(true)).toBe(false);
    flow.incomingEnded(true);
    expect([...sent[0]!]).toEqual([...encodeCapsule(WT_MAX_STREAMS_BIDI, 3)]);
    // 0x190b4d3f as a 4-byte varint, length 1, value 3.
    expect([...sent[0]!]).toEqual([0x99, 0x0b, 0x4d, 0x3f, 1, 3]);
    expect(flow.received(600)).toBe(true);
    // Received is not read: no grant yet.
    expect(sent.length).toBe(1);
    flow.consumed(400);
    expect(sent.length).toBe(1);
    // Less than half the window left: the limit moves to consumed + window.
    flow.consumed(200);
    expect([...sent[1]!]).toEqual([...encodeCapsule(WT_MAX_DATA, 1600)]);
    // Past the limit in force (1600, 600 received) is refused; a peer that
    // ignores the limit while nothing is read passes it.
    const strict = new SessionFlow(limits, limits, () => {});
    expect(strict.received(1001)).toBe(false);
    expect(flow.received(1001)).toBe(false);
  });

  test("our sends wait for the peer's limits and say BLOCKED once per limit", async () => {
    const sent: Uint8Array[] = [];
    const flow = new SessionFlow(limits, limits, (capsule) => sent.push(capsule));
    expect(flow.canOpen(false)).toBe(true);
    flow.opened(false);
    expect(flow.canOpen(false)).toBe(false);
    let opened = false;
    const waiting = flow.waitOpen(false).then(() => (opened = true));
    expect([...sent[0]!]).toEqual([...encodeCapsule(WT_STREAMS_BLOCKED_UNI, 1)]);
    expect(flow.onCapsule(0x190b4d40, new Uint8Array([2]))).toBeNull();
    await waiting;
    expect(opened).toBe(true);
    expect(flow.canOpen(false)).toBe(false);
    flow.sent(1000);
    expect(flow.sendCredit).toBe(0);
    // A malformed value (trailing bytes) and a stream limit over 2^60 are errors.
    expect(flow.onCapsule(WT_MAX_DATA, new Uint8Array([5, 0]))).not.toBeNull();
    expect(flow.onCapsule(WT_MAX_STREAMS_BIDI, new Uint8Array([0xd0, 0, 0, 0, 0, 1, 0, 0]))).not.toBeNull();
    // A limit that does not increase is ignored.
    expect(flow.onCapsule(WT_MAX_DATA, new Uint8Array([0x43, 0xe8]))).toBeNull();
    expect(flow.sendCredit).toBe(0);
    expect(flow.onCapsule(WT_MAX_DATA, new Uint8Array([0x47, 0xd0]))).toBeNull();
    expect(flow.sendCredit).toBe(1000);
  });

  test("a peer stream past WT_MAX_STREAMS ends the session with a flow-control error and is refused on the wire", () => {
    const commands: string[] = [];
    const outbox = {
      body: () => {},
      reset: (id: number, code: bigint) => void commands.push(`reset ${id} ${code}`),
      wtOpen: () => {},
      wtStopSending: (id: number, code: bigint) => void commands.push(`stop ${id} ${code}`),
      credit: () => {},
    } as unknown as StreamOutbox;
    const table = new WebTransportStreams(outbox, { sendWindow: 1 << 20, receiveLimit: 1 << 20, readWindowBytes: 1 << 16 });
    const session = table.attach(1);
    session.flow = new SessionFlow(limits, limits, () => {});
    const errors: string[] = [];
    session.onFlowError = (message) => void errors.push(message);
    table.onIncoming(10, false, 1);
    expect(errors).toEqual([]);
    table.onIncoming(11, false, 1);
    expect(errors).toEqual(["the client opened more unidirectional streams than WT_MAX_STREAMS allowed"]);
    expect(commands).toEqual([`stop 11 ${0x170d7b68}`]);
    // Data past WT_MAX_DATA on the first stream is a session error too.
    table.onBody(10, () => new Uint8Array(1001));
    expect(errors.length).toBe(2);
  });

  test("the draft from SETTINGS and :protocol; WT-Available-Protocols as an RFC 8941 list of strings", () => {
    expect(draftOf("webtransport-h3", 0, false)).toBe("draft-15/16");
    expect(draftOf("webtransport", WT_BITS.settingsReceived | WT_BITS.enableWebtransport | WT_BITS.webtransportMaxSessions, true)).toBe("draft-02");
    expect(draftOf("webtransport", WT_BITS.settingsReceived | WT_BITS.wtEnabled, false)).toBe("draft-15/16");
    expect(draftOf("webtransport", WT_BITS.settingsReceived | WT_BITS.wtMaxSessions, false)).toBe("draft-13/14");
    expect(draftOf("webtransport", WT_BITS.settingsReceived | WT_BITS.webtransportMaxSessions, false)).toBe("draft-07");
    expect(draftOf("webtransport", WT_BITS.settingsReceived | WT_BITS.enableWebtransport, false)).toBe("draft-02");
    expect(parseProtocolList('"a", "b";q=1,"c\\"d"')).toEqual(["a", "b", 'c"d']);
    expect(parseProtocolList("a, b")).toEqual([]);
    expect(parseProtocolList('"a",')).toEqual([]);
    expect(parseProtocolList(null)).toEqual([]);
    expect(serializeProtocol('c"d\\')).toBe('"c\\"d\\\\"');
  });
});
