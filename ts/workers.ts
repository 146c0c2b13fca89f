// Workers on one UDP port (docs/WORKERS.md). serve({ workers: N }) on the
// main thread makes a Supervisor: it owns the port's SO_REUSEPORT group and
// the kernel program that steers each datagram to the worker whose id its
// destination connection ID carries (zig_h3_steering_*), and runs N Bun
// Workers on the application's own entry script, as Node's cluster does
// with processes. In a worker the same serve() call sees the grant in
// `workerData` and serves on the socket it was given.
//
// Why threads in one process: steering needs one owner that knows which
// socket sits at which index of the group (closing a socket moves the last
// one into its place), and that owner must outlive every worker. Separate
// processes with `reusePort` would each bind their own socket with nobody
// knowing the order, and the kernel's 4-tuple hash sends a client whose
// address changed to another process, which has no state for it.
import { Worker, workerData, parentPort } from "node:worker_threads";
import { randomBytes } from "node:crypto";
import { ptr, type Pointer } from "bun:ffi";
import { native, type Native } from "./loader.ts";
import { check, ZigH3Error } from "./errors.ts";
import { marshalConfig, resolveLimits } from "./config.ts";
import { bindAddress, resolvePort } from "./serve-options.ts";
import { STATS_FIELDS, type ServeOptions, type StopOptions } from "./options.ts";

/** The most workers one port may have (zig-src/config.zig workers_max). */
export const WORKERS_MAX = 64;
const MARK = "zig-quiche-h3:worker";

/** Library counters by name (see STATS_FIELDS). */
export type Stats = Record<(typeof STATS_FIELDS)[number], number>;

/**
 * What a worker was given (its `workerData`). `shared` carries its stats
 * to the supervisor: see WorkerStatsCell.
 */
interface WorkerGrant {
  mark: typeof MARK;
  socketFd: number;
  workerId: number;
  slot: number;
  /**
   * Keys every worker must share, passed on to each worker's config
   * (WorkerBinding.config): the Retry token key, so a token verifies on any
   * worker, and the session ticket key, so a session resumes (with 0-RTT,
   * when the app enables it) on any worker.
   */
  retryKeyHex: string;
  ticketKeyHex: string;
  shared: SharedArrayBuffer;
}

/** The worker's identity, as `workerInfo()` returns it. */
export interface WorkerInfo {
  /** The byte its connection IDs carry (a replacement gets a new one). */
  id: number;
  /** Its position 0..workers-1 (a replacement keeps it). */
  slot: number;
}

/** In a worker started by serve({ workers }): its id and slot; null elsewhere. */
export function workerInfo(): WorkerInfo | null {
  const grant = currentGrant();
  return grant ? { id: grant.workerId, slot: grant.slot } : null;
}

function currentGrant(): WorkerGrant | null {
  const data = workerData as Partial<WorkerGrant> | null | undefined;
  return data && typeof data === "object" && data.mark === MARK ? (data as WorkerGrant) : null;
}

/**
 * One worker's stats, readable by the supervisor's thread while the worker
 * serves: a lock, the server handle (the supervisor reads the library's
 * atomic counters through it), and the final values written just before
 * the worker frees its server, so the handle is never read after the free.
 * Int32 0: lock (0 free, 1 held); Int32 1: state; u64 at 8: handle; u64s
 * from 16: the final counters.
 */
class WorkerStatsCell {
  static bytes(): number {
    return 16 + 8 * STATS_FIELDS.length;
  }
  #ints: Int32Array;
  #words: BigUint64Array;

  constructor(readonly shared: SharedArrayBuffer) {
    this.#ints = new Int32Array(shared, 0, 2);
    this.#words = new BigUint64Array(shared, 8, 1 + STATS_FIELDS.length);
  }

  #locked<T>(body: () => T): T {
    // Held for one FFI call or one copy: spinning is shorter than parking.
    while (Atomics.compareExchange(this.#ints, 0, 0, 1) !== 0);
    try {
      return body();
    } finally {
      Atomics.store(this.#ints, 0, 0);
    }
  }

  publish(handle: Pointer) {
    this.#locked(() => {
      this.#words[0] = BigInt(handle);
      this.#ints[1] = CellState.live;
    });
  }

  retire(lib: Native, handle: Pointer) {
    const values = new BigUint64Array(STATS_FIELDS.length);
    this.#locked(() => {
      lib.zig_h3_server_stats(handle, ptr(values), values.length);
      this.#words.set(values, 1);
      this.#words[0] = 0n;
      this.#ints[1] = CellState.retired;
    });
  }

  /**
   * For a worker thread that died with its server still running: the
   * server's handle (now the caller's to stop and free), after its counters
   * were kept. Null when the worker had freed it.
   */
  takeOrphan(lib: Native): Pointer | null {
    let handle: Pointer | null = null;
    this.#locked(() => {
      if (this.#ints[1] !== CellState.live) return;
      handle = Number(this.#words[0]) as Pointer;
      const values = new BigUint64Array(STATS_FIELDS.length);
      lib.zig_h3_server_stats(handle, ptr(values), values.length);
      this.#words.set(values, 1);
      this.#words[0] = 0n;
      this.#ints[1] = CellState.retired;
    });
    return handle;
  }

  read(lib: Native): Stats {
    const values = new BigUint64Array(STATS_FIELDS.length);
    this.#locked(() => {
      if (this.#ints[1] === CellState.live) lib.zig_h3_server_stats(Number(this.#words[0]) as Pointer, ptr(values), values.length);
      else if (this.#ints[1] === CellState.retired) values.set(this.#words.subarray(1));
    });
    return Object.fromEntries(STATS_FIELDS.map((name, i) => [name, Number(values[i])])) as Stats;
  }
}

const enum CellState {
  starting = 0,
  live = 1,
  retired = 2,
}

/**
 * What a worker's Server needs from its grant (used by ts/server.ts): the
 * config fields that make it a worker, and the stats cell to publish to.
 */
export interface WorkerBinding {
  config: { socket_fd: number; worker_steering: boolean; worker_id: number; retry_key_hex: string; ticket_key_hex: string };
  published(handle: Pointer): void;
  releasing(lib: Native, handle: Pointer): void;
}

/** In a worker of ours: its binding; else null. */
export function workerBinding(): WorkerBinding | null {
  const grant = currentGrant();
  if (!grant) return null;
  const cell = new WorkerStatsCell(grant.shared);
  return {
    config: { socket_fd: grant.socketFd, worker_steering: true, worker_id: grant.workerId, retry_key_hex: grant.retryKeyHex, ticket_key_hex: grant.ticketKeyHex },
    published: (handle) => cell.publish(handle),
    releasing: (lib, handle) => cell.retire(lib, handle),
  };
}

/** Messages between the supervisor and a worker. */
type ToWorker = { type: "stop"; closeActiveConnections: boolean; timeoutMs: number };
type FromWorker = { type: "ready"; port: number } | { type: "stopped" } | { type: "failed"; message: string };

/**
 * The worker side of the protocol: tells the supervisor the server runs,
 * and stops it when asked. `server` is the worker's own Server.
 */
export function serveAsWorker(server: { port: number; stop(options: StopOptions): Promise<void> }) {
  const port = parentPort;
  if (!port) return;
  const onMessage = (message: ToWorker) => {
    if (message?.type !== "stop") return;
    port.off("message", onMessage);
    server.stop({ closeActiveConnections: message.closeActiveConnections, timeoutMs: message.timeoutMs }).then(
      () => port.postMessage({ type: "stopped" } satisfies FromWorker),
      (error: unknown) => port.postMessage({ type: "failed", message: String(error) } satisfies FromWorker),
    );
  };
  port.on("message", onMessage);
  port.postMessage({ type: "ready", port: server.port } satisfies FromWorker);
}

/** A worker as `supervisor.workers` lists it. */
export interface WorkerStatus {
  /** Position 0..workers-1; restartWorker() takes it. */
  slot: number;
  /** The byte its connection IDs carry. */
  id: number;
  /** Bun's threadId of the worker. */
  threadId: number;
  /**
   * "starting" until its server runs, "serving", "draining" during a
   * restart or stop, "exited" when its thread ended on its own (its
   * connections are closed; restartWorker(slot) starts a new one).
   */
  state: "starting" | "serving" | "draining" | "exited";
}

class WorkerHandle {
  readonly worker: Worker;
  readonly cell: WorkerStatsCell;
  state: WorkerStatus["state"] = "starting";
  readonly ready: Promise<void>;
  #stopped: Promise<void> | null = null;
  #onStopped: (() => void) | null = null;
  #onStopFailed: ((error: Error) => void) | null = null;
  exited = false;

  constructor(
    readonly id: number,
    readonly slot: number,
    entry: string,
    grant: WorkerGrant,
    /** Called when the thread ends while serving (not asked to stop). */
    onUnexpectedExit: (handle: WorkerHandle) => void,
  ) {
    this.cell = new WorkerStatsCell(grant.shared);
    this.worker = new Worker(entry, { workerData: grant });
    this.ready = new Promise((resolve, reject) => {
      this.worker.on("message", (message: FromWorker) => {
        if (message.type === "ready") {
          this.state = "serving";
          resolve();
        } else if (message.type === "stopped") this.#onStopped?.();
        else if (message.type === "failed") this.#onStopFailed?.(new Error(message.message));
      });
      this.worker.on("error", (error) => {
        reject(error);
        this.#onStopFailed?.(error as Error);
      });
      this.worker.on("exit", (code) => {
        this.exited = true;
        if (this.state === "serving") onUnexpectedExit(this);
        reject(new Error(`worker ${id} exited with code ${code} before its server started (did the entry script call serve({ workers }) on every thread?)`));
        this.#onStopped?.();
      });
    });
    // A worker that fails is reported through ready; keep the rejection handled.
    this.ready.catch(() => {});
  }

  /** Stops its server (graceful unless told otherwise), then ends the thread. */
  stop(closeActiveConnections: boolean, timeoutMs: number): Promise<void> {
    this.#stopped ??= (async () => {
      this.state = "draining";
      if (!this.exited) {
        const done = new Promise<void>((resolve, reject) => {
          this.#onStopped = resolve;
          this.#onStopFailed = reject;
        });
        this.worker.postMessage({ type: "stop", closeActiveConnections, timeoutMs } satisfies ToWorker);
        await done;
      }
      await this.worker.terminate();
    })();
    return this.#stopped;
  }
}

/**
 * The main thread's side of serve({ workers: N }): the port, its workers,
 * their stats, a rolling restart and stop. Made by serve().
 */
export class Supervisor {
  #lib: Native;
  #steering: Pointer | null;
  #entry: string;
  #retryKeyHex: string;
  #ticketKeyHex: string;
  #slots: WorkerHandle[] = [];
  /** Counters of workers replaced by restartWorker(), so totals never go back. */
  #retired: Stats = Object.fromEntries(STATS_FIELDS.map((name) => [name, 0])) as Stats;
  /** Restarts and stop run one at a time, in call order. */
  #queue: Promise<unknown> = Promise.resolve();
  #stopped: Promise<void> | null = null;
  /** The UDP port every worker serves (useful with port 0). */
  readonly port: number;
  /** The hostname as given. */
  readonly hostname: string;
  /** Resolves once every worker's server runs; rejects if one fails to start. */
  readonly ready: Promise<void>;

  /** Use serve({ workers }). */
  constructor(options: ServeOptions<any>, workers: number) {
    if (!Number.isInteger(workers) || workers < 1 || workers > WORKERS_MAX) throw new RangeError(`workers must be an integer 1..${WORKERS_MAX}, got ${String(workers)}`);
    const limits = resolveLimits(options.limits);
    if (limits.quic_lb_key_hex !== undefined) {
      throw new TypeError(
        "workers cannot be used with limits.quicLbKeyHex: the kernel steers packets to workers by reading the worker id in the connection ID, which it cannot do when QUIC-LB encrypts it (use plaintext QUIC-LB, or one server per machine)",
      );
    }
    this.hostname = options.hostname ?? "127.0.0.1";
    const address = bindAddress(this.hostname);
    const port = resolvePort(options.port);
    this.#lib = native();
    // Keys every worker shares: a Retry token verifies, and a session
    // resumes, on any of them. The app's own ticket key if it set one.
    this.#retryKeyHex = typeof limits.retry_key_hex === "string" ? limits.retry_key_hex : randomBytes(32).toString("hex");
    const ticketKeys = options.tls?.ticketKeys;
    this.#ticketKeyHex = ticketKeys instanceof Uint8Array ? Buffer.from(ticketKeys.buffer, ticketKeys.byteOffset, ticketKeys.byteLength).toString("hex") : randomBytes(48).toString("hex");
    this.#entry = Bun.main;
    const config = marshalConfig({ ...limits, bind_address: address, port, worker_steering: true });
    const out = new BigUint64Array(1);
    check(this.#lib.zig_h3_steering_new(ptr(config.buffer), ptr(out)), `workers on ${address}:${port}`);
    this.#steering = Number(out[0]) as Pointer;
    try {
      for (let slot = 0; slot < workers; slot++) this.#slots.push(this.#spawn(slot, slot));
    } catch (error) {
      for (const handle of this.#slots) void handle.worker.terminate();
      this.#lib.zig_h3_steering_free(this.#steering);
      this.#steering = null;
      throw error;
    }
    this.port = this.#lib.zig_h3_steering_port(this.#steering);
    this.ready = Promise.all(this.#slots.map((handle) => handle.ready)).then(() => {});
    this.ready.catch(() => {});
  }

  /** `https://hostname:port/` (IPv6 in brackets). */
  get url(): URL {
    const host = this.hostname.includes(":") ? `[${this.hostname}]` : this.hostname;
    return new URL(`https://${host}:${this.port}/`);
  }

  /** The current workers, by slot. */
  get workers(): WorkerStatus[] {
    return this.#slots.map((handle) => ({ slot: handle.slot, id: handle.id, threadId: handle.worker.threadId, state: handle.state }));
  }

  /** A socket for a new worker, then the worker on it. */
  #spawn(slot: number, id: number): WorkerHandle {
    if (this.#steering === null) throw new ZigH3Error(-4, "worker start after stop");
    const socketFd = check(this.#lib.zig_h3_steering_add(this.#steering, id), `socket for worker ${id}`);
    const grant: WorkerGrant = { mark: MARK, socketFd, workerId: id, slot, retryKeyHex: this.#retryKeyHex, ticketKeyHex: this.#ticketKeyHex, shared: new SharedArrayBuffer(WorkerStatsCell.bytes()) };
    return new WorkerHandle(id, slot, this.#entry, grant, (handle) => this.#reap(handle));
  }

  /**
   * A worker thread that ended on its own (process.exit() in a worker, a
   * fatal error) leaves its server's loop thread running with nobody to
   * answer its requests: stop it from here (the thread that owned it is
   * gone, so no call can race), keep its counters, and close its socket so
   * new connections go to the others.
   */
  #reap(handle: WorkerHandle) {
    handle.state = "exited";
    if (this.#steering === null) return;
    this.#lib.zig_h3_steering_drain(this.#steering, handle.id);
    const orphan = handle.cell.takeOrphan(this.#lib);
    if (orphan !== null) {
      this.#lib.zig_h3_server_stop(orphan);
      this.#lib.zig_h3_server_free(orphan);
    }
    this.#lib.zig_h3_steering_remove(this.#steering, handle.id);
  }

  /** A worker id (a connection-ID byte) no current worker has. */
  #freeId(): number {
    const used = new Set(this.#slots.map((handle) => handle.id));
    let id = (Math.max(...used) + 1) % 256;
    while (used.has(id)) id = (id + 1) % 256;
    return id;
  }

  /**
   * Counters summed over every worker (including those a restart replaced),
   * and each current worker's own in `workers[slot]`. Read directly from
   * the library's atomic counters: no message to the workers.
   */
  stats(): Stats & { workers: Stats[] } {
    const workers = this.#slots.map((handle) => handle.cell.read(this.#lib));
    const total = { ...this.#retired };
    for (const stats of workers) for (const name of STATS_FIELDS) total[name] += stats[name];
    return Object.assign(total, { workers });
  }

  /**
   * Rolling restart of the worker in `slot`: its replacement (a new id)
   * starts and takes new connections first; then the old one gets no new
   * connections, sends GOAWAY on its own, finishes their requests (within
   * `timeoutMs`, default 10000) and ends. Resolves when the old one is gone.
   */
  restartWorker(slot: number, options: { timeoutMs?: number } = {}): Promise<void> {
    if (!Number.isInteger(slot) || slot < 0 || slot >= this.#slots.length) throw new RangeError(`restartWorker() takes a slot 0..${this.#slots.length - 1}, got ${String(slot)}`);
    const timeoutMs = options.timeoutMs ?? 10_000;
    if (!Number.isInteger(timeoutMs) || timeoutMs < 0) throw new TypeError("restartWorker() timeoutMs must be a non-negative integer");
    const run = this.#queue.then(async () => {
      if (this.#stopped) throw new ZigH3Error(-4, "restartWorker after stop");
      const old = this.#slots[slot]!;
      const fresh = this.#spawn(slot, this.#freeId());
      try {
        await fresh.ready;
      } catch (error) {
        await fresh.worker.terminate();
        check(this.#lib.zig_h3_steering_remove(this.#steering, fresh.id), `remove worker ${fresh.id}`);
        throw error;
      }
      this.#slots[slot] = fresh;
      const final = async () => {
        const stats = old.cell.read(this.#lib);
        for (const name of STATS_FIELDS) this.#retired[name] += stats[name];
      };
      // A worker that exited on its own was reaped already (socket closed).
      if (old.state === "exited") return final();
      check(this.#lib.zig_h3_steering_drain(this.#steering, old.id), `drain worker ${old.id}`);
      await old.stop(false, timeoutMs);
      await final();
      check(this.#lib.zig_h3_steering_remove(this.#steering, old.id), `remove worker ${old.id}`);
    });
    this.#queue = run.catch(() => {});
    return run;
  }

  /**
   * Stops every worker with Bun.serve's meaning of the argument (as
   * `Server.stop`): graceful by default (GOAWAY, in-flight requests finish
   * within `timeoutMs`), `true` closes connections at once. Then closes
   * the sockets. Idempotent.
   */
  stop(closeActiveConnections: boolean | StopOptions = false): Promise<void> {
    const options: StopOptions = typeof closeActiveConnections === "boolean" ? { closeActiveConnections } : (closeActiveConnections ?? {});
    const immediate = options.closeActiveConnections ?? (options.graceful === undefined ? false : !options.graceful);
    const timeoutMs = options.timeoutMs ?? 10_000;
    if (!Number.isInteger(timeoutMs) || timeoutMs < 0) throw new TypeError("stop() timeoutMs must be a non-negative integer");
    this.#stopped ??= this.#queue.then(async () => {
      for (const handle of this.#slots) if (this.#steering && handle.state !== "exited") this.#lib.zig_h3_steering_drain(this.#steering, handle.id);
      await Promise.all(this.#slots.map((handle) => handle.stop(immediate, timeoutMs).catch(() => handle.worker.terminate())));
      const final = this.stats();
      for (const name of STATS_FIELDS) this.#retired[name] = final[name];
      this.#slots = [];
      if (this.#steering !== null) this.#lib.zig_h3_steering_free(this.#steering);
      this.#steering = null;
    });
    return this.#stopped;
  }

  /** `await using supervisor = serve({ workers })`: stops at once. */
  async [Symbol.asyncDispose]() {
    await this.stop(true);
  }
}
