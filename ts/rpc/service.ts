// Services: named methods of four kinds, each a plain function of messages.
import { jsonCodec, type Codec } from "./codec.ts";

/** The transport a call arrived on. */
export type RpcTransport = "quic" | "h3" | "webtransport";

/** What a handler knows about its call besides the messages. */
export interface CallContext {
  /** `service/method`. */
  readonly path: string;
  /** The caller's metadata (names lower-case). */
  readonly metadata: Readonly<Record<string, string>>;
  /** When the call must end (ms since the epoch, as `Date.now()`), or null for no deadline. */
  readonly deadline: number | null;
  /** Aborts when the caller cancels, the deadline passes or the server stops; `signal.reason` is an RpcError. */
  readonly signal: AbortSignal;
  readonly transport: RpcTransport;
  /** Adds trailing metadata, sent with the status at the end of the call. */
  setTrailer(name: string, value: string): void;
}

/** One request, one response. */
export type UnaryHandler<I, O> = (request: I, context: CallContext) => O | Promise<O>;
/** One request, a stream of responses (an async generator is the natural form). */
export type ServerStreamHandler<I, O> = (request: I, context: CallContext) => AsyncIterable<O> | Iterable<O>;
/** A stream of requests, one response. */
export type ClientStreamHandler<I, O> = (requests: AsyncIterable<I>, context: CallContext) => O | Promise<O>;
/** Both ways at once: responses may go out while requests still come in. */
export type BidiHandler<I, O> = (requests: AsyncIterable<I>, context: CallContext) => AsyncIterable<O> | Iterable<O>;

export type MethodDefinition =
  | { kind: "unary"; handler: UnaryHandler<any, any> }
  | { kind: "serverStream"; handler: ServerStreamHandler<any, any> }
  | { kind: "clientStream"; handler: ClientStreamHandler<any, any> }
  | { kind: "bidi"; handler: BidiHandler<any, any> };

export type MethodKind = MethodDefinition["kind"];

/** A unary method: `(request, context) => response`. */
export const unary = <I = any, O = any>(handler: UnaryHandler<I, O>): MethodDefinition => ({ kind: "unary", handler });
/** A server-streaming method: `async function* (request, context) { yield … }`. */
export const serverStream = <I = any, O = any>(handler: ServerStreamHandler<I, O>): MethodDefinition => ({ kind: "serverStream", handler });
/** A client-streaming method: `async (requests, context) => response`. */
export const clientStream = <I = any, O = any>(handler: ClientStreamHandler<I, O>): MethodDefinition => ({ kind: "clientStream", handler });
/** A bidirectional method: `async function* (requests, context) { for await (…) yield … }`. */
export const bidi = <I = any, O = any>(handler: BidiHandler<I, O>): MethodDefinition => ({ kind: "bidi", handler });

export interface Service {
  readonly name: string;
  readonly methods: Readonly<Record<string, MethodDefinition>>;
  /** How this service's messages are encoded (both ends must agree). */
  readonly codec: Codec<any>;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_.]*$/;

/**
 * Defines a service: `defineService("echo.v1.Echo", { say: unary((m) => m) })`.
 * Names are letters, digits, `_` and `.` (the path is `service/method`).
 * JSON is the default codec.
 */
export function defineService(name: string, methods: Record<string, MethodDefinition>, options: { codec?: Codec<any> } = {}): Service {
  if (!NAME.test(name)) throw new TypeError(`service name ${JSON.stringify(name)} must match ${NAME}`);
  for (const [method, definition] of Object.entries(methods)) {
    if (!NAME.test(method) || method.includes(".")) throw new TypeError(`method name ${JSON.stringify(method)} must be letters, digits and _`);
    if (typeof definition?.handler !== "function") throw new TypeError(`method ${name}/${method} needs unary(), serverStream(), clientStream() or bidi()`);
  }
  return Object.freeze({ name, methods: Object.freeze({ ...methods }), codec: options.codec ?? jsonCodec });
}

/** Looks methods up by `service/method`. */
export class ServiceRegistry {
  readonly #methods = new Map<string, { service: Service; method: MethodDefinition }>();

  constructor(services: readonly Service[]) {
    for (const service of services) {
      for (const [name, method] of Object.entries(service.methods)) {
        const path = `${service.name}/${name}`;
        if (this.#methods.has(path)) throw new TypeError(`${path} is defined twice`);
        this.#methods.set(path, { service, method });
      }
    }
  }

  find(path: string) {
    return this.#methods.get(path);
  }
}
