// The JS side of the route table: what each route id the library's router
// reports stands for (a Web handler, a low-level handler, a WebTransport
// handler, or a route the library answers itself), the `fetch` fallback,
// and reload(), which swaps handlers without the library forgetting
// patterns (its router cannot remove one).
import type { Handler, RawHandler, RouteValue } from "./options.ts";
import type { WebTransportHandler } from "./webtransport.ts";
import { paramExtractor, patternMatches, validateMethod, validatePattern } from "./routes.ts";

export interface Route {
  id: number;
  /** False once `reload()` dropped it (the library still matches it; JS re-matches). */
  active: boolean;
  method: string;
  pattern: string;
  /** Registered from `routes` (replaced by reload), not by route() or webtransport(). */
  fromOptions: boolean;
  web?: Handler;
  raw?: RawHandler;
  webtransport?: WebTransportHandler;
  /** Null when the pattern has no `:param`. */
  params: ((path: string) => Record<string, string>) | null;
}

/** How routes reach the library's router (the server's handle). */
export interface RouteRegistrar {
  route(method: string, pattern: string, id: number): void;
  staticRoute(method: string, pattern: string, id: number, status: number, headers: Headers, body: Uint8Array): void;
}

const NOT_FOUND = () => new Response("Not Found\n", { status: 404, headers: { "content-type": "text/plain" } });

export class RouteTable {
  readonly #registrar: RouteRegistrar;
  /** By id: the library reports the id of the route it matched. */
  #routes: Route[] = [];
  /** The `fetch` fallback (replaced by reload); the "/*" route calls it. */
  #fetch: Handler | undefined;
  /** The library routes "/*" to `fetch` (registered once, with the first fetch). */
  #fetchRouteAdded = false;

  constructor(registrar: RouteRegistrar) {
    this.#registrar = registrar;
  }

  /**
   * The route for a request the library matched to `id`. A route reload()
   * dropped is matched again in JS: the first active handler route in
   * registration order, else the fetch fallback.
   */
  resolve(id: number, method: string, path: string): Route | undefined {
    const route = this.#routes[id];
    if (route === undefined || route.active) return route;
    return this.#rematch(method, path) ?? this.#routes.find((r) => r.active && r.pattern === "/*" && !r.fromOptions && r.web);
  }

  /** Registers a handler route (method "*" for any). */
  add(method: string, pattern: string, handlers: Pick<Route, "web" | "raw" | "webtransport">, fromOptions = false) {
    const id = this.#routes.length;
    this.#registrar.route(method, pattern, id);
    this.#routes.push({ id, active: true, method, pattern, fromOptions, ...handlers, params: pattern.includes("/:") ? paramExtractor(pattern) : null });
  }

  /** A route the library answers itself, from bytes it keeps: no JavaScript per request. */
  addStatic(method: string, pattern: string, status: number, headers: Headers, body: Uint8Array) {
    const id = this.#routes.length;
    this.#registrar.staticRoute(method, pattern, id, status, headers, body);
    this.#routes.push({ id, active: true, method, pattern, fromOptions: false, params: null });
  }

  /** One entry of the `routes` option. */
  addOption(pattern: string, value: RouteValue) {
    const entries = routeEntries(pattern, value);
    if (entries instanceof Response) return this.#addResponse(pattern, entries);
    for (const [method, handler] of entries) this.add(method, pattern, { web: handler }, true);
  }

  /**
   * A Response value in `routes`, as in Bun.serve: when Bun holds its body
   * in memory (a string, bytes, a Blob, JSON) the library serves it itself,
   * for every method, with Bun's default content type; its bytes are taken
   * now, synchronously (Bun.peek of an already settled read). A body Bun
   * does not hold (a stream, a file) is served from a clone per request.
   */
  #addResponse(pattern: string, response: Response) {
    const bytes = Bun.peek(response.clone().arrayBuffer());
    const blob = Bun.peek(response.clone().blob());
    if (!(bytes instanceof ArrayBuffer) || !(blob instanceof Blob)) {
      return this.add("*", pattern, { web: () => response.clone() });
    }
    const headers = new Headers(response.headers);
    if (!headers.has("content-type") && bytes.byteLength > 0 && blob.type) headers.set("content-type", blob.type);
    this.addStatic("*", pattern, response.status, headers, new Uint8Array(bytes));
  }

  /** Sets the `fetch` fallback; the library's "/*" route to it is registered with the first one. */
  setFetch(fetch: Handler | undefined) {
    if (fetch !== undefined && typeof fetch !== "function") throw new TypeError("fetch must be a function");
    this.#fetch = fetch;
    if (fetch === undefined || this.#fetchRouteAdded) return;
    this.add("*", "/*", { web: (request, server) => (this.#fetch ?? NOT_FOUND)(request, server) });
    this.#fetchRouteAdded = true;
  }

  /**
   * reload()'s new `routes`: the whole table is checked before anything
   * changes; routes from the options that the new table lacks stop
   * answering (re-matched in JS), those it keeps get their new handlers,
   * new patterns are registered. Response values are served through
   * JavaScript (a clone per request).
   */
  reload(routes: Record<string, RouteValue>) {
    const table: [string, string, Handler][] = [];
    for (const [pattern, value] of Object.entries(routes)) {
      const entries = routeEntries(pattern, value);
      if (entries instanceof Response) table.push(["*", pattern, () => entries.clone()]);
      else for (const [method, handler] of entries) table.push([method, pattern, handler]);
    }
    const existing = new Map<string, Route>();
    for (const route of this.#routes) {
      if (!route.fromOptions) continue;
      route.active = false;
      existing.set(`${route.method} ${route.pattern}`, route);
    }
    for (const [method, pattern, handler] of table) {
      const route = existing.get(`${method} ${pattern}`);
      if (route) {
        route.web = handler;
        route.active = true;
      } else this.add(method, pattern, { web: handler }, true);
    }
  }

  #rematch(method: string, path: string): Route | undefined {
    const pathOnly = path.split("?", 1)[0]!;
    for (const route of this.#routes) {
      if (!route.active || !route.fromOptions || !route.web) continue;
      if (route.method !== "*" && route.method !== method && !(method === "HEAD" && route.method === "GET")) continue;
      if (patternMatches(route.pattern, pathOnly)) return route;
    }
    return undefined;
  }
}

/** The handler routes of one `routes` entry, checked, as [method, handler] pairs (a Response value is returned as is). */
function routeEntries(pattern: string, value: RouteValue): [string, Handler][] | Response {
  validatePattern(pattern);
  if (typeof value === "function") return [["*", value]];
  if (value instanceof Response) return value;
  if (!value || typeof value !== "object") throw new TypeError(`route ${pattern} must be a handler or an object of method handlers`);
  return Object.entries(value).map(([method, handler]) => {
    if (typeof handler !== "function") throw new TypeError(`route ${method} ${pattern} must be a function`);
    return [validateMethod(method), handler];
  });
}
