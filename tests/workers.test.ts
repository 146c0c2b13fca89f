// Workers on one port (serve({ workers: 2 }), docs/WORKERS.md), end to end
// with two clients we did not write: quic-go (tests/clients/workers-go) and
// aioquic (tests/clients/workers_load.py). The app (tests/workers-app.ts)
// answers every request with the id of the worker that served it, and its
// main thread answers commands (stats, workers, restart) on stdin.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeCertificate } from "./helpers/certs.ts";
import { serve, ZigH3Error } from "../ts/index.ts";

const root = join(import.meta.dir, "..");
const python = join(root, ".venv", "bin", "python");
const goDir = join(import.meta.dir, "clients", "workers-go");

/** Builds the quic-go client, or reuses the binary built from the same sources. */
function buildGoClient(): string {
  const hash = createHash("sha256");
  for (const file of ["main.go", "go.mod", "go.sum"]) hash.update(readFileSync(join(goDir, file)));
  const dir = join(tmpdir(), "zig-h3-workers-go");
  mkdirSync(dir, { recursive: true });
  const binary = join(dir, `workers-go-${hash.digest("hex").slice(0, 16)}`);
  if (existsSync(binary)) return binary;
  const built = Bun.spawnSync(["go", "build", "-mod=readonly", "-o", binary, "."], { cwd: goDir, env: { ...process.env, GOFLAGS: "-buildvcs=false" } });
  if (built.exitCode !== 0) throw new Error(`go build workers-go failed: ${built.stderr.toString()}`);
  return binary;
}

type Stats = Record<string, number> & { workers: Record<string, number>[] };
interface WorkerStatus {
  slot: number;
  id: number;
  state: string;
}

/** The app in its own process, driven line by line. */
class App {
  #child: ReturnType<typeof spawnApp>;
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #buffered = "";
  port = 0;

  constructor(env: Record<string, string>) {
    this.#child = spawnApp(env);
    this.#reader = this.#child.stdout.getReader();
  }

  async #line(): Promise<any> {
    while (!this.#buffered.includes("\n")) {
      const { value, done } = await this.#reader.read();
      if (done) throw new Error(`app exited: ${await new Response(this.#child.stderr).text()}`);
      this.#buffered += new TextDecoder().decode(value);
    }
    const at = this.#buffered.indexOf("\n");
    const line = this.#buffered.slice(0, at);
    this.#buffered = this.#buffered.slice(at + 1);
    return JSON.parse(line);
  }

  async start() {
    const hello = await this.#line();
    this.port = hello.port;
    return hello;
  }

  async command(text: string): Promise<any> {
    this.#child.stdin.write(text + "\n");
    this.#child.stdin.flush();
    return this.#line();
  }

  stats(): Promise<Stats> {
    return this.command("stats");
  }

  workers(): Promise<WorkerStatus[]> {
    return this.command("workers");
  }

  async stop() {
    const result = await this.command("stop");
    await this.#child.exited;
    return result;
  }
}

function spawnApp(env: Record<string, string>) {
  return Bun.spawn([process.execPath, join(import.meta.dir, "workers-app.ts")], {
    env: { ...process.env, ...env },
    stdin: "pipe",
    stdout: "pipe",
    stderr: "pipe",
  });
}

interface GoResult {
  connections: { workers: string[]; local_ports: number[] }[];
  requests: number;
  failed: number;
  retried: number;
  errors: string[];
  retry_causes: string[];
}

function startQuicGo(binary: string, port: number, args: string[]) {
  const child = Bun.spawn([binary, "-port", String(port), ...args], { stdout: "pipe", stderr: "pipe" });
  const output = Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  const result = async (): Promise<GoResult> => {
    const [out, err, code] = await output;
    if (code !== 0) throw new Error(`workers-go failed: ${err}`);
    return JSON.parse(out);
  };
  return {
    result,
    /** Ends a -duration-ms run now and returns what it saw. */
    finish: () => {
      child.kill("SIGTERM");
      return result();
    },
  };
}

function quicGo(binary: string, port: number, args: string[]): Promise<GoResult> {
  return startQuicGo(binary, port, args).result();
}

interface AioquicResult {
  connections: { workers: string[]; server_cid: string }[];
  failed: number;
  errors: string[];
}

async function aioquic(port: number, connections: number, requests: number): Promise<AioquicResult> {
  const child = Bun.spawn([python, join(import.meta.dir, "clients", "workers_load.py"), "127.0.0.1", String(port), String(connections), String(requests), "/worker"], { stdout: "pipe", stderr: "pipe" });
  const [out, err] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text()]);
  if ((await child.exited) !== 0) throw new Error(`workers_load.py failed: ${err}`);
  return JSON.parse(out);
}

/** Each worker's counter `name` since `before`, by worker id. */
function perWorker(before: Stats, after: Stats, workers: WorkerStatus[], name: string): Map<string, number> {
  return new Map(workers.map((worker) => [String(worker.id), after.workers[worker.slot]![name]! - before.workers[worker.slot]![name]!]));
}

function tally(connections: { workers: string[] }[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const connection of connections) for (const worker of connection.workers) counts.set(worker, (counts.get(worker) ?? 0) + 1);
  return counts;
}

describe("serve({ workers: 2 })", () => {
  const certificate = makeCertificate();
  let goClient: string;
  let app: App;

  beforeAll(async () => {
    goClient = buildGoClient();
    app = new App({ CERT: certificate.cert, KEY: certificate.key, WORKERS: "2" });
    const hello = await app.start();
    expect(hello.workers.map((worker: WorkerStatus) => worker.state)).toEqual(["serving", "serving"]);
  }, 60_000);

  afterAll(async () => {
    await app?.stop();
  });

  test("400 connections from quic-go and aioquic: every request of a connection is served by one worker, and both workers share them", async () => {
    const workers = await app.workers();
    const before = await app.stats();
    const [go, py] = await Promise.all([quicGo(goClient, app.port, ["-connections", "200", "-requests", "3"]), aioquic(app.port, 200, 3)]);
    const after = await app.stats();

    expect(go.errors).toEqual([]);
    expect(go.failed).toBe(0);
    expect(py.errors).toEqual([]);
    expect(py.failed).toBe(0);
    const connections = [...go.connections, ...py.connections];
    expect(connections.length).toBe(400);
    for (const connection of connections) {
      expect(connection.workers.length).toBe(3);
      expect(new Set(connection.workers).size).toBe(1);
    }
    // The connection ID the server gave aioquic carries the worker that
    // served the connection in its first byte.
    for (const connection of py.connections) expect(String(parseInt(connection.server_cid.slice(0, 2), 16))).toBe(connection.workers[0]!);

    // Both workers got connections, and each one's own counters agree with
    // what the clients saw it serve.
    const byConnection = new Map<string, number>();
    for (const connection of connections) byConnection.set(connection.workers[0]!, (byConnection.get(connection.workers[0]!) ?? 0) + 1);
    expect([...byConnection.keys()].sort()).toEqual(workers.map((worker) => String(worker.id)).sort());
    for (const count of byConnection.values()) expect(count).toBeGreaterThan(0);
    expect(perWorker(before, after, workers, "requests_received")).toEqual(tally(connections));
    expect(perWorker(before, after, workers, "connections_accepted")).toEqual(byConnection);
    // The supervisor's total is the sum of its workers.
    expect(after.requests_received! - before.requests_received!).toBe(1200);
    // Every JS drain that counts returned at least one event record.
    const drains = after.event_drains! - before.event_drains!;
    expect(drains).toBeGreaterThan(0);
    expect(drains).toBeLessThanOrEqual(after.events_pushed! - before.events_pushed!);
    expect(after.loop_wakeups! - before.loop_wakeups!).toBeGreaterThan(0);
    expect(after.responses_completed).toBe(after.workers[0]!.responses_completed! + after.workers[1]!.responses_completed!);
  }, 120_000);

  test("a client whose source port changes mid-connection (NAT rebinding) keeps being served by the same worker", async () => {
    const workers = await app.workers();
    const before = await app.stats();
    // 40 connections, each moved to a new UDP socket after its first request:
    // the kernel's 4-tuple hash alone would move about half of them.
    const go = await quicGo(goClient, app.port, ["-connections", "40", "-requests", "3", "-rebind"]);
    const after = await app.stats();

    expect(go.errors).toEqual([]);
    expect(go.failed).toBe(0);
    expect(go.connections.length).toBe(40);
    for (const connection of go.connections) {
      expect(new Set(connection.local_ports).size).toBe(2);
      expect(connection.workers.length).toBe(3);
      expect(new Set(connection.workers).size).toBe(1);
    }
    // No connection was made again: the server followed each one to its new address.
    expect(after.connections_accepted! - before.connections_accepted!).toBe(40);
    expect(perWorker(before, after, workers, "requests_received")).toEqual(tally(go.connections));
  }, 120_000);

  test("a rolling restart of one worker under load: GOAWAY drains it, its replacement takes over, no request fails", async () => {
    const [old0, old1] = await app.workers();
    const before = await app.stats();
    // Requests that take 20 ms keep requests in flight on the restarted
    // worker. The load runs until this test ends it (SIGTERM: no new
    // request starts, those in flight complete).
    const load = startQuicGo(goClient, app.port, ["-connections", "40", "-duration-ms", "120000", "-path", "/slow/20"]);
    const servedSince = async (slot: number) => (await app.stats()).workers[slot]!.requests_received! - before.workers[slot]!.requests_received!;
    // Restart once both workers serve this load...
    while ((await servedSince(0)) < 50 || (await servedSince(1)) < 50) await Bun.sleep(20);
    const restarted = await app.command("restart 0");
    // ...and end it once the replacement has served some of it too.
    const replacementBefore = (await app.stats()).workers[0]!.requests_received!;
    while ((await app.stats()).workers[0]!.requests_received! - replacementBefore < 50) await Bun.sleep(20);
    const go = await load.finish();
    const after = await app.stats();

    const fresh = restarted.workers[0] as WorkerStatus;
    expect(fresh.slot).toBe(0);
    expect(fresh.id).not.toBe(old0!.id);
    expect(fresh.id).not.toBe(old1!.id);
    expect(restarted.workers[1]).toEqual({ ...old1!, threadId: restarted.workers[1].threadId });
    expect(go.errors).toEqual([]);
    expect(go.failed).toBe(0);
    // What the client retried was never processed (quic-go's own retry rule), never cut.
    for (const cause of go.retry_causes) expect(cause).toMatch(/^http3: conn unusable|H3_REQUEST_REJECTED/);
    const served = tally(go.connections);
    expect(served.get(String(old0!.id))).toBeGreaterThan(0);
    expect(served.get(String(fresh.id))).toBeGreaterThan(0);
    expect(served.get(String(old1!.id))).toBeGreaterThan(0);
    for (const connection of go.connections) expect(new Set(connection.workers).size).toBe(1);
    // The totals keep the replaced worker's counts: every request the
    // clients got an answer to was received once.
    expect(after.responses_completed! - before.responses_completed!).toBe(go.requests);
  }, 120_000);
});

describe("serve({ workers: 2 }) with Retry", () => {
  const certificate = makeCertificate();
  let app: App;

  beforeAll(async () => {
    app = new App({ CERT: certificate.cert, KEY: certificate.key, WORKERS: "2", RETRY: "1" });
    await app.start();
  }, 60_000);

  afterAll(async () => {
    await app?.stop();
  });

  test("every client's Initial after a Retry reaches a worker that accepts the token and keeps the connection", async () => {
    const workers = await app.workers();
    const before = await app.stats();
    const py = await aioquic(app.port, 100, 2);
    const after = await app.stats();
    expect(py.errors).toEqual([]);
    expect(py.failed).toBe(0);
    expect(py.connections.length).toBe(100);
    for (const connection of py.connections) {
      expect(new Set(connection.workers).size).toBe(1);
      // The connection ID the Retry named (and the connection kept) names
      // the worker that served it.
      expect(String(parseInt(connection.server_cid.slice(0, 2), 16))).toBe(connection.workers[0]!);
    }
    // At least one Retry per connection (a client whose first flight is
    // two Initials gets two).
    expect(after.retries_sent! - before.retries_sent!).toBeGreaterThanOrEqual(100);
    expect(after.retry_tokens_rejected! - before.retry_tokens_rejected!).toBe(0);
    expect(perWorker(before, after, workers, "connections_accepted")).toEqual(
      new Map(workers.map((worker) => [String(worker.id), py.connections.filter((c) => c.workers[0] === String(worker.id)).length])),
    );
  }, 120_000);
});

describe("serve({ workers: 2 }) with 0-RTT", () => {
  const certificate = makeCertificate();
  let app: App;

  beforeAll(async () => {
    app = new App({ CERT: certificate.cert, KEY: certificate.key, WORKERS: "2", EARLY_DATA: "1" });
    await app.start();
  }, 60_000);

  afterAll(async () => {
    await app?.stop();
  });

  test("a session resumes, with its GET in 0-RTT, whichever worker issued the ticket and whichever gets the new connection", async () => {
    // Each run: a first connection keeps a ticket, a second offers it and
    // sends GET /early in its first flight. Which worker each lands on is
    // the steering program's pick from the client's random connection ID,
    // so over 16 runs both the same and different workers come up.
    const pairs = new Set<string>();
    for (let run = 0; run < 16; run++) {
      const python = join(import.meta.dir, "..", ".venv", "bin", "python");
      const child = Bun.spawn([python, join(import.meta.dir, "clients", "zero_rtt.py"), "127.0.0.1", String(app.port), String(app.port), JSON.stringify([{ method: "GET", path: "/early" }])], { stdout: "pipe", stderr: "pipe" });
      const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
      expect(stderr.slice(-500)).toBe("");
      expect(code).toBe(0);
      const outcome = JSON.parse(stdout);
      expect(outcome.second.resumed).toBe(true);
      expect(outcome.second.early_data_accepted).toBe(true);
      const [served, early] = String(outcome.second.results[0].body).split(" ");
      expect(outcome.second.results[0].status).toBe(200);
      expect(early).toBe("true");
      pairs.add(`${outcome.first.body} ${served}`);
    }
    const crossed = [...pairs].filter((pair) => pair.split(" ")[0] !== pair.split(" ")[1]);
    expect(crossed.length).toBeGreaterThan(0);
  }, 120_000);
});

describe("serve({ workers: 2 }) with plaintext QUIC-LB connection IDs", () => {
  const certificate = makeCertificate();
  let app: App;

  beforeAll(async () => {
    app = new App({ CERT: certificate.cert, KEY: certificate.key, WORKERS: "2", QUIC_LB_SERVER_ID: "0a01" });
    await app.start();
  }, 60_000);

  afterAll(async () => {
    await app?.stop();
  });

  test("the connection ID keeps the fleet's server ID and carries the worker in the first nonce byte", async () => {
    const workers = await app.workers();
    const py = await aioquic(app.port, 100, 2);
    expect(py.errors).toEqual([]);
    expect(py.failed).toBe(0);
    expect(py.connections.length).toBe(100);
    const seen = new Set<string>();
    for (const connection of py.connections) {
      expect(new Set(connection.workers).size).toBe(1);
      const cid = Buffer.from(connection.server_cid, "hex");
      // First octet: config rotation 0, length of the rest (2 + 8 = 10).
      expect(cid.length).toBe(11);
      expect(cid[0]).toBe(10);
      expect(cid.subarray(1, 3).toString("hex")).toBe("0a01");
      expect(String(cid[3])).toBe(connection.workers[0]!);
      seen.add(connection.workers[0]!);
    }
    expect([...seen].sort()).toEqual(workers.map((worker) => String(worker.id)).sort());
  }, 120_000);
});

describe("serve({ workers: 2 }) when a worker thread dies", () => {
  const certificate = makeCertificate();
  let app: App;

  beforeAll(async () => {
    app = new App({ CERT: certificate.cert, KEY: certificate.key, WORKERS: "2" });
    await app.start();
  }, 60_000);

  afterAll(async () => {
    await app?.stop();
  });

  test("its server is stopped and its socket closed, the other worker takes every connection, and restartWorker brings the slot back", async () => {
    const response = await fetch(new URL("/exit", `https://127.0.0.1:${app.port}/`), { protocol: "http3", tls: { rejectUnauthorized: false } } as RequestInit);
    const dead = Number(await response.text());
    let workers = await app.workers();
    while (!workers.some((worker) => worker.state === "exited")) {
      await Bun.sleep(20);
      workers = await app.workers();
    }
    const exited = workers.find((worker) => worker.state === "exited")!;
    expect(exited.id).toBe(dead);
    const survivor = workers.find((worker) => worker.state === "serving")!;

    const alone = await aioquic(app.port, 50, 2);
    expect(alone.errors).toEqual([]);
    expect(alone.failed).toBe(0);
    expect(alone.connections.length).toBe(50);
    for (const connection of alone.connections) expect(connection.workers).toEqual([String(survivor.id), String(survivor.id)]);

    const restarted = await app.command(`restart ${exited.slot}`);
    const fresh = restarted.workers[exited.slot] as WorkerStatus;
    expect(fresh.state).toBe("serving");
    expect(fresh.id).not.toBe(dead);
    const both = await aioquic(app.port, 50, 2);
    expect(both.failed).toBe(0);
    expect(new Set(both.connections.map((connection) => connection.workers[0])).size).toBe(2);
    // The dead worker's counters stay in the totals: the one /exit request
    // plus the 200 requests since.
    const stats = await app.stats();
    expect(stats.requests_received).toBe(201);
  }, 120_000);
});

describe("workers option errors", () => {
  const certificate = makeCertificate();

  test("an encrypted QUIC-LB key is refused with a clear message", () => {
    expect(() => serve({ port: 0, workers: 2, tls: { cert: certificate.cert, key: certificate.key }, limits: { quicLbServerIdHex: "0a", quicLbKeyHex: "00112233445566778899aabbccddeeff" } })).toThrow(
      /workers cannot be used with limits.quicLbKeyHex: the kernel steers packets to workers by reading the worker id/,
    );
  });

  test("a worker count out of range is a RangeError naming it", () => {
    expect(() => serve({ port: 0, workers: 0, tls: { cert: certificate.cert, key: certificate.key } })).toThrow(RangeError);
    expect(() => serve({ port: 0, workers: 65, tls: { cert: certificate.cert, key: certificate.key } })).toThrow("workers must be an integer 1..64, got 65");
  });

  test("a port another process holds is a ZigH3Error with its code", async () => {
    const taken = Bun.spawn(["python3", "-c", "import socket,sys,time; s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind(('127.0.0.1',0)); print(s.getsockname()[1]); sys.stdout.flush(); time.sleep(30)"], { stdout: "pipe" });
    const reader = taken.stdout.getReader();
    const port = Number(new TextDecoder().decode((await reader.read()).value).trim());
    try {
      let error: unknown;
      try {
        serve({ port, workers: 2, tls: { cert: certificate.cert, key: certificate.key } });
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(ZigH3Error);
      expect((error as ZigH3Error).code).toBe("ZIG_H3_ERR_ADDRESS_IN_USE");
    } finally {
      taken.kill();
    }
  });
});
