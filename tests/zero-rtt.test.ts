// Session resumption and 0-RTT (RFC 8470), end to end with two clients we
// did not write: aioquic (tests/clients/zero_rtt.py: stores the ticket of a
// first connection, then sends its requests in the 0-RTT packets of a
// second one, all in the ClientHello's datagram so the server's verdict
// does not depend on timing) and quic-go's http3.Transport with a
// tls.ClientSessionCache and http3.MethodGet0RTT
// (tests/clients/quicgo-0rtt: it reads nothing until its request left in
// 0-RTT packets, for the same reason). The server reads the streams of a
// connection in 0-RTT datagram by datagram, so a request sent as early
// data is always read before the client's Finished. Also: servers sharing `tls.ticketKeys`
// resume each other's tickets, servers with different keys fall back to a
// full handshake, and keys of the wrong length are refused.
import { afterEach, beforeAll, describe, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serve, ZigH3Error, type Server, type TlsOptions } from "../ts/index.ts";
import { makeCertificate } from "./helpers/certs.ts";
import { aioquicRaw } from "./helpers/clients.ts";

const root = join(import.meta.dir, "..");
const certificate = makeCertificate();
const KEY = randomBytes(48);
const OTHER_KEY = randomBytes(48);
// RFC 9001 4.6.1: a ticket that allows 0-RTT in QUIC says 0xffffffff.
const QUIC_MAX_EARLY_DATA = 0xffffffff;

let servers: Server[] = [];
/** What the application's handler saw, in order. */
let seen: { method: string; earlyData: boolean; body: string }[] = [];

afterEach(() => {
  for (const server of servers) server.stop(true);
  servers = [];
  seen = [];
});

function start(tls: Partial<TlsOptions> = {}): Server {
  const server = serve({
    port: 0,
    http1: false,
    tls: { cert: certificate.cert, key: certificate.key, ...tls },
    routes: {
      // Served by the library from bytes it holds, for every method.
      "/static": new Response("static body"),
    },
    async fetch(req) {
      const body = await req.text();
      seen.push({ method: req.method, earlyData: req.earlyData, body });
      return Response.json({ method: req.method, earlyData: req.earlyData, body });
    },
  });
  servers.push(server);
  return server;
}

interface Answer {
  status: number | null;
  body: string;
  reset: number | null;
}
interface AioquicOutcome {
  first: Answer;
  ticket: { max_early_data_size: number | null } | null;
  second: {
    resumed: boolean;
    early_data_accepted: boolean;
    sent_in_0rtt: boolean;
    first_flight_datagrams: number;
    results: (Answer & { left_in_0rtt: boolean })[];
  };
}
interface Spec {
  method: string;
  path: string;
  body?: string;
}

/** aioquic: GET / on `first` (keeping the ticket), then `specs` in 0-RTT on `second`. */
async function aioquic(first: Server, second: Server, specs: Spec[]): Promise<AioquicOutcome> {
  const child = Bun.spawn(
    [join(root, ".venv", "bin", "python"), join(root, "tests", "clients", "zero_rtt.py"), "127.0.0.1", String(first.port), String(second.port), JSON.stringify(specs)],
    { stdout: "pipe", stderr: "pipe" },
  );
  const [stdout, stderr, exitCode] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  if (exitCode !== 0) throw new Error(`zero_rtt.py failed (${exitCode}): ${stderr.slice(-2000)}`);
  return JSON.parse(stdout);
}

const GET = { method: "GET", path: "/echo" };
const POST = { method: "POST", path: "/echo", body: "order #1" };
const POST_STATIC = { method: "POST", path: "/static", body: "x" };
const GET_STATIC = { method: "GET", path: "/static" };

function json(answer: Answer): unknown {
  return JSON.parse(answer.body);
}

/** The resumption counters of a server. */
function counters(server: Server) {
  const stats = server.stats();
  return {
    resumed: stats.connections_resumed,
    earlyConnections: stats.connections_early_data,
    earlyRequests: stats.requests_early_data,
    tooEarly: stats.requests_too_early,
  };
}

/** Every request of the second connection left in 0-RTT packets of the ClientHello's datagram. */
function expectAllInFirstFlight(outcome: AioquicOutcome) {
  expect(outcome.second.sent_in_0rtt).toBe(true);
  expect(outcome.second.first_flight_datagrams).toBe(1);
  for (const result of outcome.second.results) expect(result.left_in_0rtt).toBe(true);
}

describe("aioquic: resumption and 0-RTT against one server", () => {
  test("out of the box (no ticketKeys) a session resumes; with earlyData an early GET reaches the handler as earlyData and early POSTs get 425 from the library, static route included", async () => {
    const server = start({ earlyData: true });
    const outcome = await aioquic(server, server, [GET, POST, POST_STATIC, GET_STATIC]);
    expect(outcome.first.status).toBe(200);
    expect(json(outcome.first)).toEqual({ method: "GET", earlyData: false, body: "" });
    expect(outcome.ticket).toEqual({ max_early_data_size: QUIC_MAX_EARLY_DATA });
    expect(outcome.second.resumed).toBe(true);
    expect(outcome.second.early_data_accepted).toBe(true);
    expectAllInFirstFlight(outcome);
    const [get, post, postStatic, getStatic] = outcome.second.results;
    expect(get!.status).toBe(200);
    expect(json(get!)).toEqual({ method: "GET", earlyData: true, body: "" });
    expect(post!.status).toBe(425);
    expect(post!.body).toBe("Too Early\n");
    expect(postStatic!.status).toBe(425);
    expect(postStatic!.body).toBe("Too Early\n");
    expect(getStatic!.status).toBe(200);
    expect(getStatic!.body).toBe("static body");
    // The handler ran for the two GETs on /echo and never for a POST.
    expect(seen).toEqual([
      { method: "GET", earlyData: false, body: "" },
      { method: "GET", earlyData: true, body: "" },
    ]);
    expect(counters(server)).toEqual({ resumed: 1, earlyConnections: 1, earlyRequests: 4, tooEarly: 2 });
  });

  test("with earlyData.allowUnsafeMethods the early POST and its body reach the handler with earlyData true", async () => {
    const server = start({ earlyData: { allowUnsafeMethods: true } });
    const outcome = await aioquic(server, server, [GET, POST]);
    expect(outcome.second.resumed).toBe(true);
    expect(outcome.second.early_data_accepted).toBe(true);
    expectAllInFirstFlight(outcome);
    const [get, post] = outcome.second.results;
    expect(get!.status).toBe(200);
    expect(json(get!)).toEqual({ method: "GET", earlyData: true, body: "" });
    expect(post!.status).toBe(200);
    expect(json(post!)).toEqual({ method: "POST", earlyData: true, body: "order #1" });
    expect(counters(server)).toEqual({ resumed: 1, earlyConnections: 1, earlyRequests: 2, tooEarly: 0 });
  });

  test("with early data off (the default) tickets allow no 0-RTT: the client resumes, waits for the handshake, and both requests are answered with earlyData false", async () => {
    const server = start();
    const outcome = await aioquic(server, server, [GET, POST]);
    expect(outcome.ticket).toEqual({ max_early_data_size: null });
    expect(outcome.second.resumed).toBe(true);
    expect(outcome.second.sent_in_0rtt).toBe(false);
    expect(outcome.second.early_data_accepted).toBe(false);
    expect(outcome.second.results.map((r) => [r.status, json(r)])).toEqual([
      [200, { method: "GET", earlyData: false, body: "" }],
      [200, { method: "POST", earlyData: false, body: "order #1" }],
    ]);
    expect(counters(server)).toEqual({ resumed: 1, earlyConnections: 0, earlyRequests: 0, tooEarly: 0 });
  });

  test("0-RTT sent to a server with early data off is rejected; the client sends the requests again after the handshake and both are answered with earlyData false", async () => {
    // A ticket that allows 0-RTT (server A) presented to a server sharing
    // its key with early data off (B).
    const a = start({ ticketKeys: KEY, earlyData: true });
    const b = start({ ticketKeys: KEY });
    const outcome = await aioquic(a, b, [GET, POST]);
    expect(outcome.ticket).toEqual({ max_early_data_size: QUIC_MAX_EARLY_DATA });
    expect(outcome.second.resumed).toBe(true);
    expectAllInFirstFlight(outcome);
    expect(outcome.second.early_data_accepted).toBe(false);
    expect(outcome.second.results.map((r) => [r.status, json(r)])).toEqual([
      [200, { method: "GET", earlyData: false, body: "" }],
      [200, { method: "POST", earlyData: false, body: "order #1" }],
    ]);
    expect(counters(b)).toEqual({ resumed: 1, earlyConnections: 0, earlyRequests: 0, tooEarly: 0 });
  });

  test("a request an intermediary marked Early-Data (RFC 8470 5.2) is early too: a POST gets 425, a GET reaches the handler with earlyData true", async () => {
    const server = start();
    const headers = (method: string, path: string, extra: [string, string][]): [string, string][] => [
      [":method", method],
      [":scheme", "https"],
      [":authority", "localhost"],
      [":path", path],
      ...extra,
    ];
    const results = await aioquicRaw(server.port, [
      { headers: headers("POST", "/echo", [["early-data", "1"]]), body: 3 },
      { headers: headers("POST", "/static", [["early-data", "1"]]), body: 3 },
      { headers: headers("GET", "/echo", [["early-data", "1"]]) },
      { headers: headers("POST", "/echo", []), body: 3 },
    ]);
    expect(results.map((r) => r.status)).toEqual([425, 425, 200, 200]);
    expect(results[0]!.body).toBe("Too Early\n");
    expect(JSON.parse(results[2]!.body)).toEqual({ method: "GET", earlyData: true, body: "" });
    expect(JSON.parse(results[3]!.body)).toEqual({ method: "POST", earlyData: false, body: "\0\0\0" });
    expect(counters(server)).toEqual({ resumed: 0, earlyConnections: 0, earlyRequests: 3, tooEarly: 2 });
  });
});

describe("tls.ticketKeys: servers sharing a key", () => {
  test("a ticket from server A resumes on server B given the same key, and B accepts its 0-RTT GET", async () => {
    const a = start({ ticketKeys: KEY, earlyData: true });
    const b = start({ ticketKeys: KEY, earlyData: true });
    const outcome = await aioquic(a, b, [GET]);
    expect(outcome.second.resumed).toBe(true);
    expect(outcome.second.early_data_accepted).toBe(true);
    expectAllInFirstFlight(outcome);
    expect(json(outcome.second.results[0]!)).toEqual({ method: "GET", earlyData: true, body: "" });
    expect(counters(a)).toEqual({ resumed: 0, earlyConnections: 0, earlyRequests: 0, tooEarly: 0 });
    expect(counters(b)).toEqual({ resumed: 1, earlyConnections: 1, earlyRequests: 1, tooEarly: 0 });
  });

  test("with a different key (another fleet, or after a rotation) the ticket is ignored: a full handshake, the 0-RTT dropped, and the requests still answered", async () => {
    const a = start({ ticketKeys: KEY, earlyData: true });
    const b = start({ ticketKeys: OTHER_KEY, earlyData: true });
    const outcome = await aioquic(a, b, [GET, POST]);
    expectAllInFirstFlight(outcome);
    expect(outcome.second.resumed).toBe(false);
    expect(outcome.second.early_data_accepted).toBe(false);
    expect(outcome.second.results.map((r) => [r.status, json(r)])).toEqual([
      [200, { method: "GET", earlyData: false, body: "" }],
      [200, { method: "POST", earlyData: false, body: "order #1" }],
    ]);
    expect(counters(b)).toEqual({ resumed: 0, earlyConnections: 0, earlyRequests: 0, tooEarly: 0 });
  });

  test("servers without ticketKeys each have a key of their own: B does not resume A's ticket", async () => {
    const a = start({ earlyData: true });
    const b = start({ earlyData: true });
    const outcome = await aioquic(a, b, [GET]);
    expect(outcome.second.resumed).toBe(false);
    expect(outcome.second.results[0]!.status).toBe(200);
    expect(json(outcome.second.results[0]!)).toEqual({ method: "GET", earlyData: false, body: "" });
  });

  test("rotation with server.setTicketKeys(): a ticket sealed with the previous key still resumes, with 0-RTT; after a second rotation it falls back to a full handshake", async () => {
    const NEXT_KEY = randomBytes(48);
    const issuer = start({ ticketKeys: KEY, earlyData: true });
    const rotated = start({ ticketKeys: KEY, earlyData: true });
    expect(rotated.setTicketKeys(NEXT_KEY)).toBe(rotated);
    const once = await aioquic(issuer, rotated, [GET]);
    expect(once.second.resumed).toBe(true);
    expect(once.second.early_data_accepted).toBe(true);
    expectAllInFirstFlight(once);
    expect(json(once.second.results[0]!)).toEqual({ method: "GET", earlyData: true, body: "" });

    rotated.setTicketKeys(OTHER_KEY);
    const twice = await aioquic(issuer, rotated, [GET, POST]);
    expectAllInFirstFlight(twice);
    expect(twice.second.resumed).toBe(false);
    expect(twice.second.early_data_accepted).toBe(false);
    expect(twice.second.results.map((r) => [r.status, json(r)])).toEqual([
      [200, { method: "GET", earlyData: false, body: "" }],
      [200, { method: "POST", earlyData: false, body: "order #1" }],
    ]);
    expect(counters(rotated)).toEqual({ resumed: 1, earlyConnections: 1, earlyRequests: 1, tooEarly: 0 });
  });

  test("setTicketKeys() needs a server started with ticketKeys and a 48-byte key", () => {
    const own = start();
    expect(() => own.setTicketKeys(KEY)).toThrow(expect.objectContaining({ code: "ZIG_H3_ERR_INVALID_STATE" }));
    const keyed = start({ ticketKeys: KEY });
    for (const length of [0, 47, 49]) {
      expect(() => keyed.setTicketKeys(new Uint8Array(length))).toThrow(expect.objectContaining({ code: "ZIG_H3_ERR_TICKET_KEY_INVALID" }));
    }
    expect(() => keyed.setTicketKeys("key" as unknown as Uint8Array)).toThrow(TypeError);
  });

  test("a key that is not 48 bytes is refused with ZIG_H3_ERR_TICKET_KEY_INVALID; a key that is not bytes, or a bad earlyData, is a TypeError", () => {
    for (const length of [0, 16, 32, 47, 49, 80]) {
      let error: unknown;
      try {
        start({ ticketKeys: new Uint8Array(length) });
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(ZigH3Error);
      expect((error as ZigH3Error).code).toBe("ZIG_H3_ERR_TICKET_KEY_INVALID");
      expect((error as ZigH3Error).message).toContain(`tls.ticketKeys has ${length} bytes`);
      expect((error as ZigH3Error).message).toContain("48 bytes");
    }
    // A view into a larger buffer: exactly its 48 bytes are the key.
    const view = new Uint8Array(randomBytes(64).buffer, 8, 48);
    expect(start({ ticketKeys: view }).port).toBeGreaterThan(0);
    expect(() => start({ ticketKeys: "a".repeat(48) as unknown as Uint8Array })).toThrow(TypeError);
    expect(() => start({ earlyData: "yes" as unknown as boolean })).toThrow(TypeError);
    expect(() => start({ earlyData: { allowUnsafe: true } as unknown as boolean })).toThrow('unknown tls.earlyData option "allowUnsafe"; did you mean "allowUnsafeMethods"?');
  });
});

describe("quic-go: http3.Transport with a tls.ClientSessionCache", () => {
  let binary = "";

  beforeAll(() => {
    const dir = join(root, "tests", "clients", "quicgo-0rtt");
    const hash = createHash("sha256");
    for (const file of ["main.go", "go.mod", "go.sum"]) hash.update(readFileSync(join(dir, file)));
    const out = join(tmpdir(), "zig-h3-quicgo-0rtt");
    mkdirSync(out, { recursive: true });
    binary = join(out, hash.digest("hex").slice(0, 16));
    if (existsSync(binary)) return;
    const built = Bun.spawnSync(["go", "build", "-mod=readonly", "-o", binary, "."], { cwd: dir, env: { ...process.env, GOFLAGS: "-buildvcs=false" } });
    if (built.exitCode !== 0) throw new Error(`go build failed: ${built.stderr.toString()}`);
  });

  interface GoResult {
    status: number;
    body: string;
    didResume: boolean;
    used0RTT: boolean;
    /** quic-go wrote the request's last frame into a 0-RTT packet (before it read anything). */
    requestIn0RTT: boolean;
    rejected0RTT: boolean;
    retry?: GoResult;
    error?: string;
  }

  async function quicGo(first: Server, second: Server): Promise<{ first: GoResult; ticket: boolean; second: GoResult }> {
    const child = Bun.spawn([binary, "-first", `https://127.0.0.1:${first.port}/first`, "-second", `https://127.0.0.1:${second.port}/second`], { stdout: "pipe", stderr: "pipe" });
    const [stdout, stderr, exitCode] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
    if (exitCode !== 0) throw new Error(`quicgo-0rtt failed (${exitCode}): ${stderr.slice(-2000)}`);
    return JSON.parse(stdout);
  }

  test("resumption and a 0-RTT GET (http3.MethodGet0RTT) that the handler sees as earlyData", async () => {
    const server = start({ earlyData: true });
    const outcome = await quicGo(server, server);
    expect(outcome.first).toMatchObject({ status: 200, didResume: false, used0RTT: false });
    expect(JSON.parse(outcome.first.body)).toEqual({ method: "GET", earlyData: false, body: "" });
    expect(outcome.ticket).toBe(true);
    expect(outcome.second).toMatchObject({ status: 200, didResume: true, used0RTT: true, requestIn0RTT: true, rejected0RTT: false });
    expect(JSON.parse(outcome.second.body)).toEqual({ method: "GET", earlyData: true, body: "" });
    expect(counters(server)).toEqual({ resumed: 1, earlyConnections: 1, earlyRequests: 1, tooEarly: 0 });
  });

  test("across two servers with the same ticketKeys: resumed with 0-RTT; with different keys the 0-RTT is rejected and a plain GET retried on a new connection succeeds", async () => {
    const a = start({ ticketKeys: KEY, earlyData: true });
    const b = start({ ticketKeys: KEY, earlyData: true });
    const shared = await quicGo(a, b);
    expect(shared.second).toMatchObject({ status: 200, didResume: true, used0RTT: true, requestIn0RTT: true });
    expect(JSON.parse(shared.second.body)).toEqual({ method: "GET", earlyData: true, body: "" });

    const c = start({ ticketKeys: OTHER_KEY, earlyData: true });
    const other = await quicGo(a, c);
    // quic-go reports the refused 0-RTT to the application (Err0RTTRejected)
    // instead of resending; the client's retry is an ordinary GET on a new
    // connection without a ticket.
    expect(other.second).toMatchObject({ rejected0RTT: true, requestIn0RTT: true, didResume: false });
    expect(other.second.retry).toMatchObject({ status: 200, didResume: false, used0RTT: false });
    expect(JSON.parse(other.second.retry!.body)).toEqual({ method: "GET", earlyData: false, body: "" });
    expect(counters(c).earlyRequests).toBe(0);
  });
});
