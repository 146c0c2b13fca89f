// The server side of zRPC: one set of services, served over every
// transport at once.
import { http3Handler } from "./h3.ts";
import type { CallOptions } from "./server-call.ts";
import { ServiceRegistry, type Service } from "./service.ts";
import { serveSession, type RpcSession } from "./webtransport.ts";

export interface RpcServerOptions {
  services: readonly Service[];
  /** The largest message accepted, in bytes (a larger frame ends the call with RESOURCE_EXHAUSTED). Default 4 MiB. */
  maxMessageBytes?: number;
  /** Every call's deadline is cut to this (a call without one gets it); 0 for no cap. Default 0. */
  maxTimeoutMs?: number;
  /** HTTP/3 path prefix: calls are `POST <prefix>/<service>/<method>`. Default "/zrpc". */
  prefix?: string;
  /** Told about a handler's failure that answered INTERNAL ("internal error" is all the caller sees). */
  onError?: (error: unknown, path: string) => void;
}

/** The ALPN of zRPC over raw QUIC. */
export const ZRPC_ALPN = "zr/1";

/**
 * Serves services over HTTP/3 (`routes()`), WebTransport (`webtransport`)
 * and raw QUIC (`quic`, ALPN "zr/1"):
 *
 * ```ts
 * const rpc = new RpcServer({ services: [echo] });
 * const server = serve({ tls, webtransport: true, routes: rpc.routes(), quic: rpc.quicProtocols() });
 * server.webtransport("/zrpc", rpc.webtransport);
 * ```
 */
export class RpcServer {
  readonly #options: CallOptions;
  readonly #prefix: string;
  /** The HTTP/3 handler: give it to `routes` (see routes()) or call it from `fetch`. */
  readonly fetch: (request: Request) => Response | Promise<Response>;
  /** The WebTransport session handler: `server.webtransport("/zrpc", rpc.webtransport)`. */
  readonly webtransport: (session: RpcSession) => void;
  /**
   * The raw QUIC connection handler (`serve({ quic: { "zr/1": rpc.quic } })`,
   * or quicProtocols()): every bidirectional stream the client opens is one
   * call, with the same frames as over WebTransport.
   */
  readonly quic: (connection: RpcSession) => void;

  constructor(options: RpcServerOptions) {
    const maxMessageBytes = options.maxMessageBytes ?? 4 * 1024 * 1024;
    if (!Number.isInteger(maxMessageBytes) || maxMessageBytes < 1 || maxMessageBytes > 0xffff_ffff) throw new RangeError(`maxMessageBytes must be 1..${0xffff_ffff}, not ${maxMessageBytes}`);
    const maxTimeoutMs = options.maxTimeoutMs ?? 0;
    if (!Number.isInteger(maxTimeoutMs) || maxTimeoutMs < 0) throw new RangeError(`maxTimeoutMs must be a whole number of ms, not ${maxTimeoutMs}`);
    this.#prefix = (options.prefix ?? "/zrpc").replace(/\/+$/, "");
    if (!this.#prefix.startsWith("/")) throw new TypeError(`prefix must start with "/", not ${JSON.stringify(options.prefix)}`);
    this.#options = { registry: new ServiceRegistry(options.services), maxMessageBytes, maxTimeoutMs, onError: options.onError };
    this.fetch = http3Handler(this.#options, this.#prefix);
    this.webtransport = (session) => void serveSession(session, this.#options);
    this.quic = (connection) => void serveSession(connection, this.#options, "quic");
  }

  /** `{ "zr/1": quic }`, to give (or spread into) serve()'s `quic` option. */
  quicProtocols(): Record<string, (connection: RpcSession) => void> {
    return { [ZRPC_ALPN]: this.quic };
  }

  /** `{ "<prefix>/:service/:method": { POST: fetch } }`, to spread into `routes`. */
  routes(): Record<string, { POST: (request: Request) => Response | Promise<Response> }> {
    return { [`${this.#prefix}/:service/:method`]: { POST: this.fetch } };
  }
}
