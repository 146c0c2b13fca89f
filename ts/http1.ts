// HTTP/1.1 over TLS beside HTTP/3, as `Bun.serve({ http3: true })` does it
// the other way round: the same port number on TCP, the same handlers, and
// an `alt-svc: h3=":PORT"; ma=86400` header on every TCP response, which is
// how a browser learns that HTTP/3 is there at all (RFC 7838; no browser
// opens QUIC to an origin it has not heard of over TCP first).
//
// Underneath is Bun's own server (Bun.serve): its `routes` take the same
// patterns as ours (`/users/:id`, a trailing `/*`) and give `req.params`, so
// the user's `routes` and `fetch` are passed through, each handler wrapped so
// that it receives OUR Server as its second argument (as over HTTP/3) and its
// Response leaves with `alt-svc`. What maps how:
//   - a handler, or `{ GET, POST, ... }` handlers: Bun routes, wrapped;
//   - a Response value in `routes`, and `static` values: Bun's static routes
//     (answered by Bun without JavaScript), `alt-svc` set once up front;
//   - `fetch`: Bun's fetch, behind the same fallback order as over HTTP/3
//     (a route Bun did not match but our router would, e.g. "/a/*" for
//     "/a"; then `fetch`; then 405 when a route has the path but not the
//     method; then 404);
//   - `route()` (ResponseWriter) and `webtransport()` are HTTP/3 only: a TCP
//     request that only a `route()` handler would take gets 421 Misdirected
//     Request with `alt-svc` (RFC 9110 15.5.20: the client may retry "via an
//     alternative service"). `fetch` does not answer for them, so a path
//     never has two different answers depending on the protocol;
//   - `error` and `development`: as over HTTP/3 (a throwing handler gets the
//     error hook's Response, the development page or a plain 500, all with
//     `alt-svc`);
//   - HTTP/3-only parts of a request (`req.connectionId`, `req.streamId`,
//     datagrams) and trailers (`withTrailers`) do not exist over HTTP/1.1:
//     a TCP request is Bun's own Request (`req instanceof H3Request` is
//     false) and trailers are dropped.
// A handler that sets `alt-svc` itself keeps its own value.
import type { Server as BunServer, BunFile } from "bun";
import { readFileSync } from "node:fs";
import { patternMatches } from "./routes.ts";
import type { PemSource, TlsOptions } from "./tls.ts";
import type { Handler, RouteValue, ServeOptions, StaticValue } from "./options.ts";
import type { Server } from "./server.ts";

/** How long a browser may remember the HTTP/3 alternative: one day, as Bun.serve. Unit: s. */
export const ALT_SVC_MAX_AGE = 86400;

/** The `alt-svc` value every TCP response carries: HTTP/3 on the same port number of the same host. */
export function altSvcValue(port: number): string {
  return `h3=":${port}"; ma=${ALT_SVC_MAX_AGE}`;
}

/** Bun.serve could not bind the TCP port (taken by another process). */
export class Http1PortTakenError extends Error {
  /** Always "EADDRINUSE". */
  readonly code = "EADDRINUSE";
  constructor(host: string, port: number, cause: unknown) {
    super(`cannot listen on TCP ${host}:${port} for HTTP/1.1 beside HTTP/3 (the port is taken); free it, or pass http1: false to serve HTTP/3 only`, { cause });
    this.name = "Http1PortTakenError";
  }
}

/** What the TCP side of a server shows (`server.http1`). */
export interface Http1Info {
  /** The TCP port: always the server's (UDP) port number. */
  port: number;
  /** The `alt-svc` header value sent with every TCP response. */
  altSvc: string;
}

/** What the HTTP/3 server hands its TCP side. */
export interface Http1Context {
  /** Passed to every handler as its second argument. */
  server: Server;
  /** The numeric address the UDP socket is bound to; TCP binds the same. */
  address: string;
  port: number;
  tls: TlsOptions;
  /** The current error hook and development flag (reload() may change them). */
  errorHook(): ServeOptions["error"];
  development(): boolean;
  /** The `development: true` page for an error. */
  errorPage(error: unknown, method: string, path: string): string;
  /** A handler that has not answered this long gets 504 (0: never). Unit: ms. */
  handlerTimeoutMs: number;
  /** Workers: every worker's Bun.serve shares the TCP port (SO_REUSEPORT; TCP needs no steering). */
  reusePort?: boolean;
  /** Logs a handler timeout and tells the error hook (as for HTTP/3). */
  timedOut(method: string, path: string, timeoutMs: number): void;
}

/** The handler table both sides serve; `reload()` replaces `routes` and `fetch`. */
export interface Http1Table {
  routes?: Record<string, RouteValue<any>>;
  static?: Record<string, StaticValue>;
  fetch?: Handler;
}

type BunHandler = (request: Request, bun: BunServer<undefined>) => Response | Promise<Response>;
type BunRouteValue = Response | BunHandler | Record<string, BunHandler | Response>;
/** A handler route in registration order, for the fallback's own matching. */
interface TableRoute {
  pattern: string;
  /** "*" for a handler that takes every method. */
  method: string;
  handler: Handler;
}

const PLAIN = "text/plain";

/** A Response with `alt-svc` (unless it has one): set in place, or on a copy when its headers are immutable. */
export function withAltSvc(response: Response, value: string): Response {
  if (response.headers.has("alt-svc")) return response;
  try {
    response.headers.set("alt-svc", value);
    return response;
  } catch {
    const headers = new Headers(response.headers);
    headers.set("alt-svc", value);
    return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
  }
}

const decoder = new TextDecoder();

function isBunFile(source: unknown): source is BunFile {
  return typeof source === "object" && source !== null && !(source instanceof Uint8Array) && typeof (source as Blob).arrayBuffer === "function";
}

/** One PemSource as Bun.serve takes it: Bun.serve reads a string as PEM text, so a path becomes Bun.file(path). */
function bunPem(source: PemSource): string | BunFile | Uint8Array {
  if (typeof source === "string") return source.includes("-----BEGIN") ? source : Bun.file(source);
  return source;
}

/** PEM text of one source, synchronously (for joining a chain given as an array). */
function pemText(source: PemSource): string {
  if (typeof source === "string") return source.includes("-----BEGIN") ? source : readFileSync(source, "utf8");
  if (source instanceof Uint8Array) return decoder.decode(source);
  if (isBunFile(source) && typeof source.name === "string") return readFileSync(source.name, "utf8");
  throw new TypeError("tls: a certificate or key must be a path, PEM text, PEM bytes or Bun.file(path)");
}

/**
 * Our `tls` as Bun.serve's. Our array of certificates is one chain (leaf,
 * then intermediates), which Bun would read as separate chains, so it is
 * joined into one PEM text. `ca` is left out: Bun uses it to verify client
 * certificates, which this server does not request.
 */
export function bunTls(tls: TlsOptions): { cert: string | BunFile | Uint8Array; key: string | BunFile | Uint8Array; passphrase?: string } {
  const cert = Array.isArray(tls.cert) ? tls.cert.map((c) => pemText(c).trimEnd() + "\n").join("") : bunPem(tls.cert);
  const key = Array.isArray(tls.key) ? bunPem(tls.key[0]!) : bunPem(tls.key);
  return tls.passphrase === undefined ? { cert, key } : { cert, key, passphrase: tls.passphrase };
}

/** The TCP side of a Server: Bun.serve with the Server's handlers. */
export class Http1Server {
  readonly port: number;
  readonly altSvc: string;
  #context: Http1Context;
  #bun: BunServer<undefined>;
  #table: Http1Table;
  /** `static` patterns added with server.static() after start. */
  #statics: Record<string, StaticValue>;
  /** Handler routes in registration order (the fallback's own matching, and 405). */
  #handlerRoutes: TableRoute[] = [];
  /** Patterns of every `routes` entry (for 405). */
  #patterns: string[] = [];
  /** `route()` (ResponseWriter) routes: HTTP/3 only, 421 over TCP. */
  #raw: { method: string; pattern: string }[] = [];
  #stopped: Promise<void> | null = null;

  constructor(context: Http1Context, table: Http1Table) {
    this.#context = context;
    this.port = context.port;
    this.altSvc = altSvcValue(context.port);
    this.#table = table;
    this.#statics = { ...table.static };
    const routes = this.#build();
    try {
      this.#bun = Bun.serve({
        port: context.port,
        hostname: context.address,
        tls: bunTls(context.tls),
        reusePort: context.reusePort === true,
        // Our development page comes from the wrappers below; Bun's
        // development mode (HTML bundling, HMR) is not involved.
        development: false,
        // Bun closes a connection idle this long, and a request whose
        // handler is still thinking counts as idle: give handlers the time
        // handlerTimeoutMs gives them (its 504 comes from #run), at least
        // Bun's default of 10 s and at most Bun's 255 s.
        idleTimeout: context.handlerTimeoutMs === 0 ? 255 : Math.min(255, Math.max(10, Math.ceil(context.handlerTimeoutMs / 1000) + 1)),
        routes,
        fetch: (request) => this.#fallback(request),
        error: (error) => this.#failed(error, null),
      });
    } catch (error) {
      if ((error as { code?: string }).code === "EADDRINUSE") throw new Http1PortTakenError(context.address, context.port, error);
      throw error;
    }
  }

  /** What `server.http1` shows. */
  get info(): Http1Info {
    return { port: this.port, altSvc: this.altSvc };
  }

  /** server.static() while running: Bun's routes are replaced as a whole. */
  addStatic(pattern: string, value: StaticValue) {
    this.#statics[pattern] = value;
    this.#reloadBun();
  }

  /** server.route(): HTTP/3 only, so TCP answers 421 for it. */
  addRaw(method: string, pattern: string) {
    this.#raw.push({ method, pattern });
  }

  /** server.reload(): new routes and fetch for TCP as well. */
  reload(table: Pick<Http1Table, "routes" | "fetch">) {
    if ("routes" in table) this.#table = { ...this.#table, routes: table.routes };
    if ("fetch" in table) this.#table = { ...this.#table, fetch: table.fetch };
    this.#reloadBun();
  }

  /** The client's address of a TCP request (Bun's requestIP), or null for one that is not ours. */
  requestIP(request: Request) {
    try {
      return this.#bun.requestIP(request);
    } catch {
      return null;
    }
  }

  /** Bun's per-request idle timeout for a TCP request. */
  timeout(request: Request, seconds: number) {
    this.#bun.timeout(request, seconds);
  }

  ref() {
    this.#bun.ref();
  }

  unref() {
    this.#bun.unref();
  }

  /**
   * Stops listening; `closeActiveConnections` cuts requests in flight,
   * otherwise they finish (Bun's stop()). Idempotent.
   */
  stop(closeActiveConnections: boolean): Promise<void> {
    this.#stopped ??= this.#bun.stop(closeActiveConnections);
    if (closeActiveConnections) void this.#bun.stop(true);
    return this.#stopped;
  }

  /**
   * stop() beside the HTTP/3 side: graceful lets TCP requests in flight
   * finish, but no longer than `timeoutMs` (then they are cut, as HTTP/3's).
   */
  async close(graceful: boolean, timeoutMs: number): Promise<void> {
    const stopped = this.stop(!graceful);
    if (graceful) {
      let timer: Timer | undefined;
      const late = await Promise.race([stopped.then(() => false), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), timeoutMs)))]);
      clearTimeout(timer);
      if (late) void this.#bun.stop(true);
    }
    await stopped;
  }

  #reloadBun() {
    this.#bun.reload({ routes: this.#build(), fetch: (request: Request) => this.#fallback(request) } as Parameters<BunServer<undefined>["reload"]>[0]);
  }

  /** Bun's routes object from the table: static values first (as the library registers them first), then `routes`. */
  #build(): Record<string, BunRouteValue> {
    const routes: Record<string, BunRouteValue> = {};
    this.#handlerRoutes = [];
    this.#patterns = [];
    for (const [pattern, value] of Object.entries(this.#statics)) routes[pattern] = { GET: this.#staticResponse(pattern, value) };
    for (const [pattern, value] of Object.entries(this.#table.routes ?? {})) {
      this.#patterns.push(pattern);
      if (value instanceof Response) {
        if (!(pattern in routes)) routes[pattern] = this.#responseRoute(value);
        continue;
      }
      if (typeof value === "function") {
        this.#handlerRoutes.push({ pattern, method: "*", handler: value as Handler });
        // A static value on the same pattern keeps GET; the fallback gives
        // this handler the other methods.
        if (!(pattern in routes)) routes[pattern] = this.#wrap(value as Handler);
        continue;
      }
      const methods: Record<string, BunHandler | Response> = {};
      for (const [method, handler] of Object.entries(value ?? {})) {
        if (handler instanceof Response) {
          methods[method] = this.#responseRoute(handler) as Response | BunHandler;
          continue;
        }
        if (typeof handler !== "function") continue;
        this.#handlerRoutes.push({ pattern, method, handler: handler as Handler });
        methods[method] = this.#wrap(handler as Handler);
      }
      if (!(pattern in routes)) routes[pattern] = methods;
    }
    return routes;
  }

  /** A `static` value as a Response Bun serves itself (GET, and HEAD from it), content type as over HTTP/3. */
  #staticResponse(pattern: string, value: StaticValue): Response {
    const spec = typeof value === "string" || value instanceof Uint8Array ? { body: value } : value;
    const headers = new Headers(spec.headers);
    if (!headers.has("content-type") && typeof spec.body === "string") headers.set("content-type", "text/plain;charset=utf-8");
    headers.set("alt-svc", this.altSvc);
    try {
      return new Response((spec.body ?? null) as BodyInit | null, { status: spec.status ?? 200, headers });
    } catch (error) {
      throw new TypeError(`static route ${pattern}: ${(error as Error).message}`);
    }
  }

  /**
   * A Response value: when Bun holds its body in memory, a copy with
   * `alt-svc` that Bun serves itself; otherwise (a stream, a file) a clone
   * per request, as over HTTP/3.
   */
  #responseRoute(response: Response): Response | BunHandler {
    const bytes = Bun.peek(response.clone().arrayBuffer());
    const blob = Bun.peek(response.clone().blob());
    if (!(bytes instanceof ArrayBuffer) || !(blob instanceof Blob)) return () => withAltSvc(response.clone(), this.altSvc);
    const headers = new Headers(response.headers);
    if (!headers.has("content-type") && bytes.byteLength > 0 && blob.type) headers.set("content-type", blob.type);
    if (!headers.has("alt-svc")) headers.set("alt-svc", this.altSvc);
    return new Response(bytes, { status: response.status, statusText: response.statusText, headers });
  }

  /** A handler as Bun's: our Server as the second argument, `alt-svc` on its Response, failures as over HTTP/3. */
  #wrap(handler: Handler): BunHandler {
    return (request) => this.#run(handler, request);
  }

  #run(handler: Handler, request: Request): Response | Promise<Response> {
    let result: Response | Promise<Response>;
    try {
      result = handler(request as never, this.#context.server);
    } catch (error) {
      return this.#failed(error, request);
    }
    if (result instanceof Response) return withAltSvc(result, this.altSvc);
    const answered = Promise.resolve(result)
      .then((response) => {
        if (!(response instanceof Response)) throw new TypeError("a handler must return a Response");
        return withAltSvc(response, this.altSvc);
      })
      .catch((error) => this.#failed(error, request));
    const timeoutMs = this.#context.handlerTimeoutMs;
    if (timeoutMs === 0) return answered;
    // As over HTTP/3: no response head within handlerTimeoutMs → 504, the
    // timeout logged and passed to `error` (what the handler returns later
    // is dropped). Over TCP the time counts from the request head, since
    // the handler may read the body as it comes.
    let timer: Timer | undefined;
    const late = new Promise<Response>((resolve) => {
      timer = setTimeout(() => {
        this.#context.timedOut(request.method, new URL(request.url).pathname, timeoutMs);
        resolve(this.#plain(504, "Gateway Timeout\n"));
      }, timeoutMs);
    });
    return Promise.race([answered, late]).finally(() => clearTimeout(timer));
  }

  /**
   * Requests no Bun route took, in the order the HTTP/3 side answers them:
   * a handler route our router matches (Bun's "/a/*" does not match "/a",
   * ours does; a pattern that also has a static value), a `route()` route
   * (421), `fetch`, 405 for a path a route has without the method, 404.
   */
  #fallback(request: Request): Response | Promise<Response> {
    const method = request.method;
    const url = request.url;
    const start = url.indexOf("/", url.indexOf("//") + 2);
    const path = start < 0 ? "/" : url.slice(start).split("?", 1)[0]!;
    for (const route of this.#handlerRoutes) {
      if (route.method !== "*" && route.method !== method && !(method === "HEAD" && route.method === "GET")) continue;
      if (!patternMatches(route.pattern, path)) continue;
      setParams(request, route.pattern, path);
      return this.#run(route.handler, request);
    }
    for (const raw of this.#raw) {
      if (raw.method !== "*" && raw.method !== method && !(method === "HEAD" && raw.method === "GET")) continue;
      if (!patternMatches(raw.pattern, path)) continue;
      return this.#plain(421, `${method} ${path} is served over HTTP/3 only (alt-svc: ${this.altSvc})\n`);
    }
    const fetch = this.#table.fetch;
    if (fetch) {
      setParams(request, null, path);
      return this.#run(fetch, request);
    }
    const known = this.#patterns.some((pattern) => patternMatches(pattern, path)) || Object.keys(this.#statics).some((pattern) => patternMatches(pattern, path));
    return known ? this.#plain(405, "Method Not Allowed\n") : this.#plain(404, "Not Found\n");
  }

  #plain(status: number, body: string): Response {
    return new Response(body, { status, headers: { "content-type": PLAIN, "alt-svc": this.altSvc } });
  }

  /** A handler failed: the error hook's Response, else the development page or a plain 500; always with `alt-svc`. */
  async #failed(error: unknown, request: Request | null): Promise<Response> {
    let replacement: Response | void = undefined;
    try {
      replacement = await this.#context.errorHook()?.(error);
    } catch {
      // A failing error hook must not take the server down.
    }
    if (replacement instanceof Response) return withAltSvc(replacement, this.altSvc);
    if (this.#context.development()) {
      const path = request ? new URL(request.url).pathname : "?";
      const page = this.#context.errorPage(error, request?.method ?? "?", path);
      return new Response(page, { status: 500, headers: { "content-type": "text/html;charset=utf-8", "alt-svc": this.altSvc } });
    }
    return this.#plain(500, "Internal Server Error\n");
  }
}

/** `req.params` for a request Bun's router did not match (Bun sets it only for its own routes). */
function setParams(request: Request, pattern: string | null, path: string) {
  const params: Record<string, string> = {};
  if (pattern !== null) {
    const parts = path.split("/");
    pattern.split("/").forEach((segment, i) => {
      if (!segment.startsWith(":")) return;
      const raw = parts[i] ?? "";
      try {
        params[segment.slice(1)] = decodeURIComponent(raw);
      } catch {
        params[segment.slice(1)] = raw;
      }
    });
  }
  try {
    Object.defineProperty(request, "params", { value: params, configurable: true });
  } catch {
    // A Request that refuses the property keeps what Bun gave it.
  }
}
