// The Server: owns one native server handle, the JS side of its queues, and
// the request state for every request the loop thread handed over.
//
// Threading: this object lives on the JS thread and never touches loop
// memory. Events are copied out by zig_h3_poll into #eventBuffer (ours);
// commands are copied in by zig_h3_submit. Request ids stay meaningful
// until a COMPLETE or RESET event, after which the library ignores them.
import { ptr } from "bun:ffi";
import { native, type Native } from "./loader.ts";
import { check, ZigH3Error } from "./errors.ts";
import { marshalConfig, type NativeConfig } from "./config.ts";
import { resolvePem, type PemSource } from "./tls.ts";
import { CommandBatch, CommandKind, EventKind, HEADER_BYTES, decodeRequest, padded, type Field, type RequestEvent } from "./wire.ts";
import { paramExtractor, validateMethod, validatePattern, type CompiledRoute } from "./routes.ts";

export type H3Request = Request & { readonly params: Record<string, string> };
export type Handler = (request: H3Request, server: Server) => Response | Promise<Response>;
export type RouteValue = Handler | Partial<Record<string, Handler>>;

export interface ServeOptions {
  /** UDP port; 0 picks a free one (read it back from `server.port`). Default 4433. */
  port?: number;
  /** Numeric IPv4 or IPv6 address to bind. Default "127.0.0.1". */
  hostname?: string;
  tls: { cert: PemSource; key: PemSource };
  /** Path pattern -> handler (any method) or { GET, POST, ... } handlers. */
  routes?: Record<string, RouteValue>;
  /** Fallback for requests no route matched. Without it they get 404/405. */
  fetch?: Handler;
  /** Called when a handler throws or rejects; may return the response to send (else 500). */
  error?: (error: unknown) => Response | void | Promise<Response | void>;
  /** Library limits and transport settings, by their zig_h3_config names. */
  limits?: NativeConfig;
}

const EVENT_BUFFER_BYTES = 1 << 20;
const MAX_BODY_RECORD_BYTES = 64 * 1024;
const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"]);

interface InFlight {
  event: RequestEvent;
  body?: ReadableStreamDefaultController<Uint8Array>;
  abort: AbortController;
  isHead: boolean;
}

export class Server {
  #lib: Native;
  #handle: number | null;
  #routes: CompiledRoute<Handler>[] = [];
  #errorHook: ServeOptions["error"];
  #inFlight = new Map<bigint, InFlight>();
  #eventBuffer = new Uint8Array(EVENT_BUFFER_BYTES);
  #eventView = new DataView(this.#eventBuffer.buffer);
  #commands = new CommandBatch();
  #flushScheduled = false;
  #doorbell: ReadableStreamDefaultReader<Uint8Array> | null = null;
  #stopped: Promise<void> | null = null;
  readonly port: number;
  readonly hostname: string;

  constructor(options: ServeOptions) {
    if (!options || typeof options !== "object") throw new TypeError("serve() needs an options object");
    if (!options.tls) throw new TypeError("serve() needs tls: { cert, key }");
    const port = options.port ?? 4433;
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new TypeError(`port must be an integer 0..65535, got ${port}`);
    this.hostname = options.hostname ?? "127.0.0.1";
    this.#errorHook = options.error;
    this.#lib = native();

    const pem = resolvePem(options.tls.cert, options.tls.key);
    try {
      const config = marshalConfig({ ...options.limits, cert_path: pem.certPath, key_path: pem.keyPath, bind_address: this.hostname, port });
      const out = new BigUint64Array(1);
      const status = this.#lib.zig_h3_server_new(ptr(config.buffer), ptr(out));
      config.keepAlive.length = 0;
      check(status, describeNewFailure(status, pem.certPath, pem.keyPath, this.hostname, port));
      this.#handle = Number(out[0]);
    } finally {
      pem.cleanup();
    }
    this.port = this.#lib.zig_h3_server_port(this.#handle);

    try {
      for (const [pattern, value] of Object.entries(options.routes ?? {})) this.#addRoutes(pattern, value);
      if (options.fetch) this.#addRoute("*", "/*", options.fetch);
      check(this.#lib.zig_h3_server_start(this.#handle), "zig_h3_server_start");
    } catch (error) {
      this.#lib.zig_h3_server_free(this.#handle);
      this.#handle = null;
      throw error;
    }
    this.#listen();
  }

  get url(): URL {
    const host = this.hostname.includes(":") ? `[${this.hostname}]` : this.hostname;
    return new URL(`https://${host}:${this.port}/`);
  }

  #addRoutes(pattern: string, value: RouteValue) {
    validatePattern(pattern);
    if (typeof value === "function") return this.#addRoute("*", pattern, value);
    if (!value || typeof value !== "object") throw new TypeError(`route ${pattern} must be a handler or an object of method handlers`);
    for (const [method, handler] of Object.entries(value)) {
      if (typeof handler !== "function") throw new TypeError(`route ${method} ${pattern} must be a function`);
      this.#addRoute(method, pattern, handler);
    }
  }

  #addRoute(method: string, pattern: string, handler: Handler) {
    validateMethod(method);
    const id = this.#routes.length;
    check(this.#lib.zig_h3_route(this.#handle, Buffer.from(method + "\0"), Buffer.from(pattern + "\0"), id), `route ${method} ${pattern}`);
    this.#routes.push({ id, method, pattern, handler, params: paramExtractor(pattern) });
  }

  /** Waits on the library's eventfd doorbell through Bun's own I/O. */
  #listen() {
    const fd = this.#lib.zig_h3_server_event_fd(this.#handle);
    const reader = Bun.file(fd).stream().getReader();
    this.#doorbell = reader;
    const pump = async () => {
      while (this.#handle !== null) {
        const { done } = await reader.read();
        if (done || this.#handle === null) return;
        this.poll();
      }
    };
    pump().catch(() => {});
  }

  /**
   * Drains every queued event and dispatches it; returns how many were
   * handled. Called for you when the doorbell rings; call it yourself to
   * drive the server from your own loop.
   */
  poll(): number {
    if (this.#handle === null) return 0;
    let handled = 0;
    while (true) {
      const bytes = this.#lib.zig_h3_poll(this.#handle, ptr(this.#eventBuffer), this.#eventBuffer.length);
      check(bytes, "zig_h3_poll");
      if (bytes === 0) break;
      let offset = 0;
      while (offset < bytes) {
        const length = this.#eventView.getUint32(offset, true);
        this.#dispatch(offset, length);
        offset += padded(length);
        handled++;
      }
    }
    return handled;
  }

  #dispatch(offset: number, length: number) {
    const view = this.#eventView;
    const kind = view.getUint8(offset + 4);
    const id = view.getBigUint64(offset + 8, true);
    switch (kind) {
      case EventKind.request:
        return this.#onRequest(decodeRequest(view, this.#eventBuffer, offset, id));
      case EventKind.body: {
        // The event buffer is reused on the next poll: the chunk is copied.
        const chunk = this.#eventBuffer.slice(offset + HEADER_BYTES, offset + length);
        this.#inFlight.get(id)?.body?.enqueue(chunk);
        return;
      }
      case EventKind.bodyEnd: {
        const state = this.#inFlight.get(id);
        state?.body?.close();
        if (state) state.body = undefined;
        return;
      }
      case EventKind.reset: {
        const state = this.#inFlight.get(id);
        if (!state) return;
        this.#inFlight.delete(id);
        const reason = new DOMException("The client reset the request stream", "AbortError");
        state.body?.error(reason);
        state.abort.abort(reason);
        return;
      }
      case EventKind.complete:
        this.#inFlight.delete(id);
        return;
    }
  }

  #onRequest(event: RequestEvent) {
    const route = this.#routes[event.routeId];
    let method = "GET";
    let path = "/";
    let authority = "localhost";
    const headers = new Headers();
    for (const [name, value] of event.fields) {
      if (name === ":method") method = value;
      else if (name === ":path") path = value;
      else if (name === ":authority") authority = value;
      else if (name[0] !== ":") headers.append(name, value);
    }
    const state: InFlight = { event, abort: new AbortController(), isHead: method === "HEAD" };
    this.#inFlight.set(event.id, state);
    const hasBody = method !== "GET" && method !== "HEAD";
    const body = hasBody
      ? new ReadableStream<Uint8Array>({ start: (controller) => void (state.body = controller) })
      : null;
    const request = new Request(`https://${authority}${path}`, { method, headers, body, signal: state.abort.signal }) as H3Request;
    Object.defineProperty(request, "params", { value: route ? route.params(path) : {}, enumerable: true });
    this.#run(state, route?.handler, request);
  }

  async #run(state: InFlight, handler: Handler | undefined, request: H3Request) {
    let response: Response;
    try {
      if (!handler) throw new Error("no handler for route");
      response = await handler(request, this);
      if (!(response instanceof Response)) throw new TypeError("handler must return a Response");
    } catch (error) {
      response = await this.#handlerFailed(error);
    }
    if (!this.#inFlight.has(state.event.id)) return;
    await this.#send(state, response);
  }

  async #handlerFailed(error: unknown): Promise<Response> {
    try {
      const replacement = await this.#errorHook?.(error);
      if (replacement instanceof Response) return replacement;
    } catch {
      // The error hook failing must not take the server down either.
    }
    return new Response("Internal Server Error\n", { status: 500, headers: { "content-type": "text/plain" } });
  }

  async #send(state: InFlight, response: Response) {
    const id = state.event.id;
    const fields: Field[] = [];
    response.headers.forEach((value, name) => {
      if (!HOP_BY_HOP.has(name)) fields.push([name, value]);
    });
    let body = new Uint8Array(0);
    try {
      if (response.body && !state.isHead) body = new Uint8Array(await response.arrayBuffer());
    } catch (error) {
      return this.#reset(id);
    }
    if (!this.#inFlight.has(id)) return;
    if (!response.headers.has("content-length") && !state.isHead) fields.push(["content-length", String(body.length)]);
    this.#commands.fields(CommandKind.head, id, response.status, fields, body.length === 0);
    for (let at = 0; at < body.length; at += MAX_BODY_RECORD_BYTES) {
      const end = Math.min(at + MAX_BODY_RECORD_BYTES, body.length);
      this.#commands.body(id, body.subarray(at, end), end === body.length);
    }
    this.#scheduleFlush();
  }

  #reset(id: bigint) {
    this.#commands.reset(id, 0x102n);
    this.#scheduleFlush();
  }

  #scheduleFlush() {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    queueMicrotask(() => this.#flush());
  }

  /** One zig_h3_submit per batch; what the queue could not take is retried. */
  #flush() {
    this.#flushScheduled = false;
    if (this.#handle === null || this.#commands.length === 0) return;
    const taken = check(this.#lib.zig_h3_submit(this.#handle, ptr(this.#commands.view()), this.#commands.length), "zig_h3_submit");
    this.#commands.consume(taken);
    if (this.#commands.length > 0) setTimeout(() => this.#scheduleFlush(), 1);
  }

  /** Library counters, by name. */
  stats(): Record<string, number> {
    if (this.#handle === null) return {};
    const values = new BigUint64Array(64);
    const count = this.#lib.zig_h3_server_stats(this.#handle, ptr(values), values.length);
    const result: Record<string, number> = {};
    STATS_FIELDS.slice(0, count).forEach((name, i) => (result[name] = Number(values[i])));
    return result;
  }

  /**
   * Stops the server: every connection is closed, in-flight requests see
   * their signal abort, and the native handle is freed. Idempotent.
   */
  stop(): Promise<void> {
    this.#stopped ??= this.#stop();
    return this.#stopped;
  }

  async #stop() {
    const handle = this.#handle;
    if (handle === null) return;
    this.#flush();
    await this.#doorbell?.cancel().catch(() => {});
    check(this.#lib.zig_h3_server_stop(handle), "zig_h3_server_stop");
    this.poll();
    this.#handle = null;
    check(this.#lib.zig_h3_server_free(handle), "zig_h3_server_free");
  }

  async [Symbol.asyncDispose]() {
    await this.stop();
  }
}

export const STATS_FIELDS = [
  "packets_received",
  "packets_sent",
  "packets_invalid",
  "send_failures",
  "version_negotiations",
  "connections_accepted",
  "connections_refused",
  "connections_active",
  "requests_received",
  "requests_active",
  "responses_completed",
  "requests_reset",
  "requests_rejected",
  "stale_commands",
  "event_queue_full",
] as const;

function describeNewFailure(status: number, cert: string, key: string, host: string, port: number): string {
  const name = status < 0 ? String(native().zig_h3_status_name(status)) : "";
  if (name.includes("CERT")) return `cannot load TLS certificate "${cert}"`;
  if (name.includes("KEY")) return `cannot load TLS private key "${key}"`;
  if (name.includes("ADDRESS") || name.includes("PERMISSION") || name.includes("SOCKET")) return `cannot listen on UDP ${host}:${port}`;
  return "cannot create server";
}

/** Starts an HTTP/3 server, in the shape of Bun.serve. */
export function serve(options: ServeOptions): Server {
  return new Server(options);
}

export { ZigH3Error };
