// The QUIC interop runner's cases (issue 15, item 4), each run with the
// clients that can exercise it: aioquic (tests/clients/interop_aioquic.py)
// and quic-go (tests/clients/interop-go, built in beforeAll from the Go
// module proxy's pinned versions). Every case fetches bodies the test knows
// (/bytes/N: N bytes of a fixed pattern) and compares the SHA-256 and
// length each client computed with its own, so the bytes, not just the
// status, are checked. docs/INTEROP.md has the table: which client covers
// which case, and which case no available client can exercise.
//
// Rebinding goes through tests/helpers/nat-relay.ts, a NAT that changes its
// source port or address when the bytes relayed to the client pass a
// threshold and drops what the server still sends to the old binding.
import { beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serve, type Server } from "../ts/index.ts";
import { makeCertificate } from "./helpers/certs.ts";
import { natRelay, type RebindKind } from "./helpers/nat-relay.ts";

const tls = makeCertificate();
const root = join(import.meta.dir, "..");
const python = join(root, ".venv", "bin", "python");
const goSources = join(import.meta.dir, "clients", "interop-go");
let goClient = "";

/** Builds the quic-go client, or reuses the binary built from the same sources. */
function buildGoClient(): string {
  const hash = createHash("sha256");
  for (const file of ["main.go", "go.mod", "go.sum"]) hash.update(readFileSync(join(goSources, file)));
  const dir = join(tmpdir(), "zig-h3-interop-go");
  mkdirSync(dir, { recursive: true });
  const binary = join(dir, `interop-go-${hash.digest("hex").slice(0, 16)}`);
  if (existsSync(binary)) return binary;
  const built = Bun.spawnSync(["go", "build", "-mod=readonly", "-o", binary, "."], { cwd: goSources, env: { ...process.env, GOFLAGS: "-buildvcs=false" } });
  if (built.exitCode !== 0) throw new Error(`go build failed: ${built.stderr.toString()}`);
  return binary;
}

beforeAll(() => {
  goClient = buildGoClient();
}, 300_000);

const bodies = new Map<number, Uint8Array<ArrayBuffer>>();
/** What /bytes/N answers: N bytes of a pattern that does not repeat every 256. */
function body(n: number): Uint8Array<ArrayBuffer> {
  let bytes = bodies.get(n);
  if (!bytes) {
    bytes = new Uint8Array(n);
    for (let i = 0; i < n; i++) bytes[i] = (i * 31 + (i >>> 8)) & 0xff;
    bodies.set(n, bytes);
  }
  return bytes;
}

/** What a client must report for `paths`, computed here from the bytes. */
function expected(paths: string[]) {
  return paths.map((path) => {
    const bytes = body(Number(path.split("/").pop()));
    return { path, status: 200, length: bytes.length, sha256: createHash("sha256").update(bytes).digest("hex") };
  });
}

function startServer(limits: Record<string, unknown> = {}): Server {
  return serve({
    port: 0,
    tls,
    limits,
    routes: {
      "/bytes/:n": (request) => new Response(body(Number(request.params.n))),
      // The client's address as the server sees it now (requestIP).
      "/ip": (request, server) => new Response(server.requestIP(request)?.address ?? "none"),
    },
  });
}

interface Connection {
  cipher: string | null;
  cid_rotations?: number;
  responses: { path: string; status: number | null; length: number; sha256: string }[];
  /** aioquic's requests made after `responses` were complete (spec.after). */
  after?: { path: string; status: number | null; text: string }[];
  migrated: boolean;
  local_addresses: unknown[];
  error?: string | null;
  key_updates?: number;
  server_key_phases?: number[];
}

async function output(child: Bun.Subprocess<"ignore", "pipe", "pipe">, name: string): Promise<Connection[]> {
  const [stdout, stderr, exitCode] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  if (exitCode !== 0) throw new Error(`${name} failed (${exitCode}): ${stderr.slice(-2000)}`);
  return (JSON.parse(stdout) as { connections: Connection[] }).connections;
}

/** Runs tests/clients/interop_aioquic.py (see its docstring for `spec`). */
function aioquic(port: number, spec: Record<string, unknown>): Promise<Connection[]> {
  const child = Bun.spawn([python, join(root, "tests", "clients", "interop_aioquic.py"), JSON.stringify({ host: "127.0.0.1", port, ...spec })], { stdout: "pipe", stderr: "pipe" });
  return output(child, "interop_aioquic.py");
}

/** Runs the quic-go client with `args` (see tests/clients/interop-go/main.go). */
function quicGo(port: number, paths: string[], args: string[] = [], env: Record<string, string> = {}): Promise<Connection[]> {
  const child = Bun.spawn([goClient, "-addr", `127.0.0.1:${port}`, "-paths", paths.join(","), ...args], { stdout: "pipe", stderr: "pipe", env: { ...process.env, ...env } });
  return output(child, "interop-go");
}

/** The events of every qlog file quic-go wrote into `dir` (JSON-SEQ). */
function qlogEvents(dir: string): { name: string; data: Record<string, any> }[] {
  const events = [];
  for (const file of readdirSync(dir)) {
    for (const record of readFileSync(join(dir, file), "utf8").split("\x1e")) {
      if (record.trim() === "") continue;
      const event = JSON.parse(record);
      if (typeof event.name === "string") events.push(event);
    }
  }
  return events;
}

const MiB = 1 << 20;

describe("handshake", () => {
  const paths = ["/bytes/1024"];
  test("aioquic", async () => {
    await using server = startServer();
    const [connection] = await aioquic(server.port, { paths });
    expect(connection!.error).toBeNull();
    expect(connection!.responses).toEqual(expected(paths));
    expect(server.stats().connections_accepted).toBe(1);
  }, 60_000);
  test("quic-go", async () => {
    await using server = startServer();
    const [connection] = await quicGo(server.port, paths);
    expect(connection!.error).toBeUndefined();
    expect(connection!.responses).toEqual(expected(paths));
    expect(server.stats().connections_accepted).toBe(1);
  }, 60_000);
});

describe("transfer: several files at once on one connection, one of 5 MiB", () => {
  const paths = ["/bytes/1000", "/bytes/65536", "/bytes/1048577", `/bytes/${5 * MiB}`];
  test("aioquic", async () => {
    await using server = startServer();
    const [connection] = await aioquic(server.port, { paths });
    expect(connection!.error).toBeNull();
    expect(connection!.responses).toEqual(expected(paths));
    expect(server.stats().connections_accepted).toBe(1);
  }, 60_000);
  test("quic-go", async () => {
    await using server = startServer();
    const [connection] = await quicGo(server.port, paths);
    expect(connection!.error).toBeUndefined();
    expect(connection!.responses).toEqual(expected(paths));
    expect(server.stats().connections_accepted).toBe(1);
  }, 60_000);
});

// tests/retry.test.ts has the same case with Bun's fetch, gtlsclient and
// aioquic, and the bad-token and amplification cases.
describe("retry: a stateless Retry before the connection, then a transfer", () => {
  const paths = ["/bytes/1000", `/bytes/${2 * MiB}`];
  for (const client of ["aioquic", "quic-go"] as const) {
    test(client, async () => {
      await using server = startServer({ enableRetry: true });
      const [connection] = client === "aioquic" ? await aioquic(server.port, { paths }) : await quicGo(server.port, paths);
      expect(connection!.error ?? null).toBeNull();
      expect(connection!.responses).toEqual(expected(paths));
      const stats = server.stats();
      expect(stats.connections_accepted).toBe(1);
      expect(stats.retries_sent).toBeGreaterThanOrEqual(1);
      expect(stats.retry_tokens_rejected).toBe(0);
    }, 60_000);
  }
});

describe("http3: twelve requests in parallel on one connection", () => {
  const paths = Array.from({ length: 12 }, (_, i) => `/bytes/${1000 + i * 4099}`);
  for (const client of ["aioquic", "quic-go"] as const) {
    test(client, async () => {
      await using server = startServer();
      const [connection] = client === "aioquic" ? await aioquic(server.port, { paths }) : await quicGo(server.port, paths);
      expect(connection!.error ?? null).toBeNull();
      expect(connection!.responses).toEqual(expected(paths));
      const stats = server.stats();
      expect(stats.connections_accepted).toBe(1);
      expect(stats.requests_received).toBe(paths.length);
    }, 60_000);
  }
});

describe("multiconnect: ten handshakes one after another", () => {
  const paths = ["/bytes/2048"];
  for (const client of ["aioquic", "quic-go"] as const) {
    test(client, async () => {
      await using server = startServer();
      const connections = client === "aioquic" ? await aioquic(server.port, { paths, connections: 10 }) : await quicGo(server.port, paths, ["-connections", "10"]);
      expect(connections).toHaveLength(10);
      for (const connection of connections) {
        expect(connection.error ?? null).toBeNull();
        expect(connection.responses).toEqual(expected(paths));
      }
      expect(server.stats().connections_accepted).toBe(10);
    }, 120_000);
  }
});

describe("chacha20: only ChaCha20-Poly1305 offered", () => {
  const paths = ["/bytes/1000", `/bytes/${MiB}`];
  test("aioquic (cipher_suites=[CHACHA20_POLY1305_SHA256])", async () => {
    await using server = startServer();
    const [connection] = await aioquic(server.port, { paths, cipher: "chacha20" });
    expect(connection!.error).toBeNull();
    expect(connection!.cipher).toBe("CHACHA20_POLY1305_SHA256");
    expect(connection!.responses).toEqual(expected(paths));
  }, 60_000);
  // Go's TLS 1.3 suites cannot be configured; crypto/tls puts ChaCha20
  // first when the CPU has no AES instructions, which GODEBUG=cpu.aes=off
  // makes it believe. Our BoringSSL then follows the client's order.
  test("quic-go (GODEBUG=cpu.aes=off)", async () => {
    await using server = startServer();
    const [connection] = await quicGo(server.port, paths, [], { GODEBUG: "cpu.aes=off" });
    expect(connection!.error).toBeUndefined();
    expect(connection!.cipher).toBe("TLS_CHACHA20_POLY1305_SHA256");
    expect(connection!.responses).toEqual(expected(paths));
  }, 60_000);
});

describe("keyupdate: client-initiated key updates during a transfer", () => {
  test("aioquic: three updates, one per MiB, each followed by the server", async () => {
    await using server = startServer();
    const paths = [`/bytes/${6 * MiB}`];
    const [connection] = await aioquic(server.port, { paths, key_updates: 3, key_update_every: MiB });
    expect(connection!.error).toBeNull();
    expect(connection!.responses).toEqual(expected(paths));
    expect(connection!.key_updates).toBe(3);
    // The key phases of the server's 1-RTT packets: it moved to each new key.
    expect(connection!.server_key_phases).toEqual([0, 1, 0, 1]);
  }, 60_000);
  // quic-go updates its keys by itself after its first 100 packets; its
  // qlog shows the update and the phase of the server's packets after it.
  test("quic-go: its own update after 100 packets, followed by the server", async () => {
    await using server = startServer();
    const paths = [`/bytes/${3 * MiB}`];
    const qlogDir = mkdtempSync(join(tmpdir(), "zig-h3-qlog-"));
    const [connection] = await quicGo(server.port, paths, [], { QLOGDIR: qlogDir });
    expect(connection!.error).toBeUndefined();
    expect(connection!.responses).toEqual(expected(paths));
    const events = qlogEvents(qlogDir);
    const updates = events.filter((e) => e.name === "security:key_updated" && e.data.trigger === "local_update" && e.data.key_type === "server_1rtt_secret");
    expect(updates.map((e) => e.data.key_phase)).toEqual([1]);
    const phases: string[] = [];
    for (const e of events) {
      if (e.name !== "transport:packet_received" || e.data.header?.packet_type !== "1RTT") continue;
      if (phases.at(-1) !== e.data.header.key_phase_bit) phases.push(e.data.header.key_phase_bit);
    }
    expect(phases).toEqual(["0", "1"]);
  }, 60_000);
});

/** A transfer through the NAT relay, rebinding at the given byte counts. */
async function throughNat(client: "aioquic" | "quic-go", rebinds: { bytes: number; kind: RebindKind }[]) {
  await using server = startServer();
  const relay = await natRelay({ host: "127.0.0.1", port: server.port }, { rebindAt: rebinds });
  try {
    const paths = ["/bytes/1000", `/bytes/${4 * MiB}`];
    const [connection] = client === "aioquic" ? await aioquic(relay.port, { paths, after: ["/ip"] }) : await quicGo(relay.port, paths);
    console.log(`${client}: bindings ${relay.bindings.join(" → ")}, ${relay.droppedOnOldBinding} datagrams dropped on old bindings`);
    return { connection: connection!, responses: expected(paths), relay, stats: server.stats() };
  } finally {
    relay.close();
  }
}

// Five rebindings in one transfer: more than the paths a connection may
// hold at once (our active_connection_id_limit, 2), so the server must give
// up the paths the client left.
describe("rebind-port: the client's NAT moves to a new source port, five times, mid-transfer", () => {
  const rebinds = [1, 2, 3, 4, 5].map((half) => ({ bytes: (half * MiB) / 2, kind: "port" as const }));
  for (const client of ["aioquic", "quic-go"] as const) {
    test(client, async () => {
      const { connection, responses, relay, stats } = await throughNat(client, rebinds);
      expect(connection.error ?? null).toBeNull();
      expect(connection.responses).toEqual(responses);
      expect(relay.bindings).toHaveLength(6);
      expect(relay.bindings.every((binding) => binding.startsWith("127.0.0.1:"))).toBe(true);
      // The connection moved to the last binding once it was validated.
      // A binding the NAT gave up before its validation ended counts no
      // migration, so the count may be lower than the rebindings.
      expect(stats.peer_migrations).toBeGreaterThanOrEqual(1);
      expect(stats.peer_migrations).toBeLessThanOrEqual(5);
      expect(stats.connections_accepted).toBe(1);
    }, 60_000);
  }
});

describe("rebind-addr: the client's NAT moves to a new source address, then to a new port there, mid-transfer", () => {
  const rebinds = [{ bytes: MiB, kind: "address" as const }, { bytes: 2 * MiB, kind: "address" as const }];
  for (const client of ["aioquic", "quic-go"] as const) {
    test(client, async () => {
      const { connection, responses, relay, stats } = await throughNat(client, rebinds);
      expect(connection.error ?? null).toBeNull();
      expect(connection.responses).toEqual(responses);
      expect(relay.bindings).toHaveLength(3);
      expect(relay.bindings.slice(1).every((binding) => binding.startsWith("127.0.0.2:"))).toBe(true);
      // requestIP follows the connection to its new address.
      if (client === "aioquic") expect(connection.after).toEqual([{ path: "/ip", status: 200, text: "127.0.0.2" }]);
      expect(stats.peer_migrations).toBeGreaterThanOrEqual(1);
      expect(stats.peer_migrations).toBeLessThanOrEqual(2);
      expect(stats.connections_accepted).toBe(1);
    }, 60_000);
  }
});

describe("connectionmigration: the client moves to a new socket on another address (active migration)", () => {
  const paths = ["/bytes/1000", `/bytes/${4 * MiB}`];
  test("aioquic: change_connection_id, then a new socket on 127.0.0.2 (the old one closed)", async () => {
    await using server = startServer({ disableActiveMigration: false });
    const [connection] = await aioquic(server.port, { paths, migrate: "address", migrate_at: MiB, after: ["/ip"] });
    expect(connection!.error).toBeNull();
    expect(connection!.responses).toEqual(expected(paths));
    expect(connection!.after).toEqual([{ path: "/ip", status: 200, text: "127.0.0.2" }]);
    expect(connection!.migrated).toBe(true);
    expect((connection!.local_addresses[1] as [string, number])[0]).toBe("::ffff:127.0.0.2");
    const stats = server.stats();
    expect(stats.peer_migrations).toBe(1);
    expect(stats.paths_validated).toBe(1);
    // The client retired the ID it used before; the server replaced it.
    expect(stats.connection_ids_issued).toBe(2);
  }, 60_000);
  test("aioquic: three connection ID rotations on the same socket, each retired ID replaced", async () => {
    await using server = startServer();
    const [connection] = await aioquic(server.port, { paths, cid_rotations: 3, cid_rotate_every: MiB });
    expect(connection!.error).toBeNull();
    expect(connection!.responses).toEqual(expected(paths));
    expect(connection!.cid_rotations).toBe(3);
    // One spare at the handshake, then a replacement for each retired ID.
    expect(server.stats().connection_ids_issued).toBe(4);
  }, 60_000);
  test("quic-go: AddPath on 127.0.0.2, Probe, Switch", async () => {
    await using server = startServer({ disableActiveMigration: false });
    const [connection] = await quicGo(server.port, paths, ["-migrate", "address", "-migrate-at", String(MiB)]);
    expect(connection!.error).toBeUndefined();
    expect(connection!.responses).toEqual(expected(paths));
    expect(connection!.migrated).toBe(true);
    expect(String(connection!.local_addresses[1])).toStartWith("127.0.0.2:");
    // The loop counts the migration when it drains quiche's path events,
    // which may come after the client has its last byte.
    for (let i = 0; i < 200 && server.stats().peer_migrations === 0; i++) await Bun.sleep(10);
    const stats = server.stats();
    expect(stats.peer_migrations).toBe(1);
    expect(stats.paths_validated).toBeGreaterThanOrEqual(1);
  }, 60_000);
  test("by default the server advertises disable_active_migration, and quic-go does not migrate", async () => {
    await using server = startServer();
    const [connection] = await quicGo(server.port, paths, ["-migrate", "address", "-migrate-at", String(MiB)]);
    expect(connection!.error).toBe("migration: server disabled connection migration");
    expect(connection!.migrated).toBe(false);
    expect(connection!.responses).toEqual(expected(paths));
    expect(server.stats().peer_migrations).toBe(0);
  }, 60_000);
});
