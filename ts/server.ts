// The Server: owns one native server handle, the JS side of its queues, and
// the state of every request the loop thread handed over.
//
// Threading: this object lives on the JS thread and never touches loop
// memory. Events are copied out by zig_h3_poll into #eventBuffer (ours);
// commands are copied in by zig_h3_submit. A request id stays meaningful
// until its COMPLETE or RESET event; after that the library ignores it.
import { JSCallback, ptr, type Pointer } from "bun:ffi";
import { native, type Native } from "./loader.ts";
import { check, ZigH3Error } from "./errors.ts";
import { marshalConfig, resolveLimits, type NativeConfig } from "./config.ts";
import { resolvePem, resolveSession } from "./tls.ts";
import { EventKind, HEADER_BYTES, decodePeer, decodeRequest, formatPeer, padded, readId, type RequestEvent } from "./wire.ts";
import { QuicConnection, checkAlpn, type QuicCloseInfo, type QuicConnectionHost, type QuicHandler } from "./quic-connection.ts";
import { Deadlines } from "./deadlines.ts";
import { Exchange } from "./exchange.ts";
import { Incoming, type IncomingContext, type IncomingRequest } from "./incoming.ts";
import { H3Request } from "./request.ts";
import { validateMethod, validatePattern } from "./routes.ts";
import { CommandOutbox } from "./outbox.ts";
import { encodeFieldArray } from "./fields.ts";
import {
  CONN_STATS_FIELDS,
  LOG_LEVELS,
  STATS_FIELDS,
  type ConnectionStats,
  type EventMode,
  type Handler,
  type LogEntry,
  type RawHandler,
  type ReloadOptions,
  type RouteValue,
  type ServeOptions,
  type SocketAddress,
  type StaticValue,
  type StopOptions,
} from "./options.ts";
import { sendResponse } from "./web.ts";
import { Connection, DatagramError, RequestDatagrams } from "./datagrams.ts";
import { WebTransportSession, type WebTransportHandler } from "./webtransport.ts";
import { WebTransportStreams } from "./webtransport-streams.ts";
import { Http1PortTakenError, Http1Server, type Http1Info } from "./http1.ts";
import { bindAddress, checkOptionNames, describeNewFailure, ensureDirectory, resolvePort } from "./serve-options.ts";
import { errorPage, HandlerTimeoutError } from "./handler-errors.ts";
import { RouteTable } from "./route-table.ts";
import { Supervisor, serveAsWorker, workerBinding, type WorkerBinding } from "./workers.ts";
import { GcPacer, REQUEST_GARBAGE_BYTES } from "./gc-pacer.ts";
export { HandlerTimeoutError };

const EVENT_BUFFER_BYTES = 1 << 20;
const H3_INTERNAL_ERROR = 0x102n;

/**
 * A running HTTP/3 server, made by serve(): its address (`port`,
 * `hostname`, `url`), routes added at run time (`route`, `static`,
 * `webtransport`), raw QUIC handlers (`quic`), Bun.serve's `stop`,
 * `reload`, `requestIP`, `timeout`, `ref` and `unref`, and counters
 * (`stats`, `connectionStats`, `quicConnections`).
 */
export class Server {
  #lib: Native;
  #handle: Pointer | null;
  /** What each route id the library reports stands for (ts/route-table.ts). */
  #routes = new RouteTable({
    route: (method, pattern, id) => {
      if (this.#handle === null) throw new ZigH3Error(-4, `route ${method} ${pattern}`);
      check(this.#lib.zig_h3_route(this.#handle, Buffer.from(method + "\0"), Buffer.from(pattern + "\0"), id), `route ${method} ${pattern}`);
    },
    staticRoute: (method, pattern, id, status, headers, body) => {
      if (this.#handle === null) throw new ZigH3Error(-4, `static ${pattern}`);
      const fields = encodeFieldArray([...headers]);
      check(
        this.#lib.zig_h3_route_static(this.#handle, Buffer.from(method + "\0"), Buffer.from(pattern + "\0"), id, status, fields.count ? ptr(fields.structs) : null, fields.count, body.length ? ptr(body) : null, body.length),
        `static ${pattern}`,
      );
    },
  });
  #errorHook: ServeOptions["error"];
  #handlerTimeoutMs: number;
  /** Handlers past handlerTimeoutMs get a 504 (null: no timeout). */
  #deadlines: Deadlines<Exchange> | null = null;
  #window: number;
  /** Exchanges by request id, until COMPLETE/RESET or a quiet end. */
  #live = new Map<number, Exchange>();
  #incomingContext!: IncomingContext;
  /** Events are drained into this Buffer (Latin-1 field decoding)... */
  #eventBuffer = Buffer.alloc(EVENT_BUFFER_BYTES);
  /**
   * ...and copied out through this plain view of the same memory:
   * Buffer#slice returns a view (unlike Uint8Array#slice), and the buffer
   * is overwritten by the next poll, so a Buffer slice would corrupt data.
   */
  #eventBytes = new Uint8Array(this.#eventBuffer.buffer, this.#eventBuffer.byteOffset, this.#eventBuffer.byteLength);
  #eventView = new DataView(this.#eventBuffer.buffer);
  #outbox: CommandOutbox;
  #doorbell: ReadableStreamDefaultReader<Uint8Array> | null = null;
  #callback: JSCallback | null = null;
  /** Keeps Bun's event loop alive in callback mode (see the constructor). */
  #keepAlive: Timer | null = null;
  #shutdownDone: (() => void) | null = null;
  #log: (entry: LogEntry) => void;
  #logLevel: number;
  #statsWaiters = new Map<number, ((stats: ConnectionStats | null) => void)[]>();
  #connections = new Map<number, Connection>();
  #onQuicDatagram: ((connection: Connection, data: Uint8Array) => void) | null = null;
  #datagramsEnabled: boolean;
  #webtransportEnabled: boolean;
  /** Our session flow-control limits (limits.wtInitialMax*), as announced in SETTINGS. */
  #wtLimits = { maxData: 0, maxStreamsBidi: 0, maxStreamsUni: 0 };
  #datagramSendQueue = 0;
  /** WebTransport streams, by library id, and each session's stream set. */
  #streams!: WebTransportStreams;
  /** Raw QUIC handlers by ALPN (null: declared, no handler yet), and the connections open. */
  #quicHandlers = new Map<string, QuicHandler | null>();
  #quic = new Map<number, QuicConnection>();
  #quicHost!: QuicConnectionHost;
  #stopped: Promise<void> | null = null;
  /** In a worker of serve({ workers }): its socket, id and stats cell (ts/workers.ts). */
  #worker: WorkerBinding | null;
  /** Requests collections as the request path leaves garbage (ts/gc-pacer.ts). */
  #gcPacer = new GcPacer();

  #development: boolean;
  /** Whether the server keeps Bun's event loop alive (ref()/unref()). */
  #refed = true;
  /** HTTPS/1.1 on the TCP port of the same number (ts/http1.ts); null with `http1: false`. */
  #http1: Http1Server | null = null;
  /** The UDP port it listens on (useful with port 0). */
  readonly port: number;
  /** The hostname as given ("localhost" stays "localhost"; the socket is bound to 127.0.0.1). */
  readonly hostname: string;
  /** How events reach JS (see EventMode). */
  readonly mode: EventMode;
  /** True when created with `development: true`. */
  get development(): boolean {
    return this.#development;
  }

  /** Use serve(). (`worker` is internal: the grant of a worker thread.) */
  constructor(options: ServeOptions<any>, worker: WorkerBinding | null = null) {
    this.#worker = worker;
    if (!options || typeof options !== "object") throw new TypeError("serve() needs an options object");
    checkOptionNames(options);
    if (!options.tls) throw new TypeError("serve() needs tls: { cert, key }");
    const port = resolvePort(options.port);
    this.mode = options.mode ?? "poll";
    if (!["poll", "callback", "manual"].includes(this.mode)) throw new TypeError(`mode must be "poll", "callback" or "manual", got ${JSON.stringify(this.mode)}`);
    this.#handlerTimeoutMs = options.handlerTimeoutMs ?? 30_000;
    if (!Number.isInteger(this.#handlerTimeoutMs) || this.#handlerTimeoutMs < 0) throw new TypeError("handlerTimeoutMs must be a non-negative integer");
    if (this.#handlerTimeoutMs > 0) this.#deadlines = new Deadlines(this.#handlerTimeoutMs, (exchange) => this.#timedOut(exchange, this.#handlerTimeoutMs));
    this.hostname = options.hostname ?? "127.0.0.1";
    const address = bindAddress(this.hostname);
    if (options.error !== undefined && typeof options.error !== "function") throw new TypeError("error must be a function");
    if (options.fetch !== undefined && typeof options.fetch !== "function") throw new TypeError("fetch must be a function");
    if (options.http1 !== undefined && typeof options.http1 !== "boolean") throw new TypeError("http1 must be a boolean");
    this.#errorHook = options.error;
    this.#development = options.development === true;
    this.#log = options.log ?? ((entry) => console.error(`[zig-quiche-h3] ${entry.level}: ${entry.message}`));
    const logLevel = LOG_LEVELS.indexOf(options.logLevel ?? "warn");
    if (logLevel < 0) throw new TypeError(`logLevel must be one of ${LOG_LEVELS.join(", ")}`);
    this.#logLevel = logLevel;
    const limits = resolveLimits(options.limits);
    if (typeof limits.qlog_dir === "string") ensureDirectory(limits.qlog_dir, "limits.qlogDir");
    this.#lib = native();
    this.#outbox = new CommandOutbox(this.#lib, () => this.#handle);

    this.#webtransportEnabled = options.webtransport === true;
    this.#datagramsEnabled = this.#webtransportEnabled || !!options.datagrams;
    const queues = typeof options.datagrams === "object" ? options.datagrams : {};
    const datagramConfig: NativeConfig = this.#datagramsEnabled
      ? {
          enable_dgram: true,
          dgram_recv_queue_len: queues.receiveQueueLength ?? 1024,
          dgram_send_queue_len: queues.sendQueueLength ?? 1024,
          enable_webtransport: this.#webtransportEnabled,
        }
      : {};

    const quicConfig = this.#declareQuic(options.quic);
    this.#quicHost = {
      close: (id, code, reason) => this.#outbox.connClose(id, code, reason),
      setPriority: (id, urgency, incremental) => this.#outbox.streamPriority(id, urgency, incremental),
      stats: (id) => this.connectionStats(id),
      datagramConnection: (id) => this.#connections.get(id),
      datagramsEnabled: this.#datagramsEnabled,
    };

    const session = resolveSession(options.tls);
    const pem = resolvePem(options.tls);
    try {
      const config = marshalConfig({ log_level: logLevel, ...datagramConfig, ...quicConfig, ...limits, ...session, cert_path: pem.certPath, key_path: pem.keyPath, bind_address: address, port, ...worker?.config });
      this.#datagramSendQueue = config.read("dgram_send_queue_len");
      this.#window = config.read("max_pending_response_bytes");
      const readWindowBytes = config.read("request_read_window_bytes");
      this.#incomingContext = {
        datagrams: (incoming) =>
          new RequestDatagrams(incoming.id, incoming.streamId, () => this.#connections.get(incoming.connectionId), this.#outbox, this.#datagramsEnabled),
        credits: this.#outbox,
        readWindowBytes,
      };
      // As announced: stream counts capped at the session's hard limit (Config.announcedStreams).
      const perSession = config.read("max_webtransport_streams_per_session");
      this.#wtLimits = {
        maxData: config.read("wt_initial_max_data_bytes"),
        maxStreamsBidi: Math.min(config.read("wt_initial_max_streams_bidi"), perSession),
        maxStreamsUni: Math.min(config.read("wt_initial_max_streams_uni"), perSession),
      };
      this.#streams = new WebTransportStreams(this.#outbox, { sendWindow: this.#window, receiveLimit: config.read("max_request_body_size"), readWindowBytes });
      const out = new BigUint64Array(1);
      const status = this.#lib.zig_h3_server_new(ptr(config.buffer), ptr(out));
      check(status, describeNewFailure(status, pem.certPath, pem.keyPath, address, port, options.tls.ticketKeys?.byteLength));
      this.#handle = Number(out[0]) as Pointer;
      worker?.published(this.#handle);
    } finally {
      pem.cleanup();
    }
    this.port = this.#lib.zig_h3_server_port(this.#handle);

    try {
      for (const [pattern, value] of Object.entries(options.static ?? {})) this.static(pattern, value);
      for (const [pattern, value] of Object.entries(options.routes ?? {})) this.#routes.addOption(pattern, value as RouteValue);
      this.#routes.setFetch(options.fetch);
      // TCP binds once UDP has its port (port 0: the library picked it;
      // serve() retries with a new one when that number is taken on TCP).
      if (options.http1 !== false) {
        const context = {
          server: this,
          address,
          port: this.port,
          tls: options.tls,
          errorHook: () => this.#errorHook,
          development: () => this.#development,
          errorPage,
          handlerTimeoutMs: this.#handlerTimeoutMs,
          timedOut: (method: string, path: string, timeoutMs: number) => this.#reportTimeout(new HandlerTimeoutError(method, path, timeoutMs), 0),
          reusePort: worker !== null,
        };
        this.#http1 = new Http1Server(context, { routes: options.routes, static: options.static, fetch: options.fetch });
      }
      if (this.mode === "callback") {
        this.#callback = new JSCallback(() => this.poll(), { args: [], returns: "void", threadsafe: true });
        const doorbell = this.#callback.ptr;
        if (doorbell === null) throw new Error("bun:ffi gave the doorbell JSCallback no function pointer");
        check(this.#lib.zig_h3_server_set_doorbell(this.#handle, doorbell, null), "zig_h3_server_set_doorbell");
      }
      check(this.#lib.zig_h3_server_start(this.#handle), "zig_h3_server_start");
    } catch (error) {
      worker?.releasing(this.#lib, this.#handle);
      this.#lib.zig_h3_server_free(this.#handle);
      this.#handle = null;
      this.#callback?.close();
      void this.#http1?.stop(true);
      this.#http1 = null;
      throw error;
    }
    if (this.mode === "poll") this.#listen();
    // Bun runs a threadsafe JSCallback only while its event loop is alive;
    // a server with nothing else pending would never hear its doorbell. In
    // poll mode the doorbell reader keeps the loop alive; in callback mode
    // this timer does, as a listening socket keeps a Node server alive.
    if (this.mode === "callback") this.#keepAlive = setInterval(() => {}, 1 << 30);
  }

  /** `https://hostname:port/` of this server (IPv6 in brackets). */
  get url(): URL {
    const host = this.hostname.includes(":") ? `[${this.hostname}]` : this.hostname;
    return new URL(`https://${host}:${this.port}/`);
  }

  /**
   * The HTTPS/1.1 side on the TCP port of the same number (`port`, and the
   * `alt-svc` value its responses carry); null with `http1: false`.
   */
  get http1(): Http1Info | null {
    return this.#http1?.info ?? null;
  }

  /**
   * Adds a low-level route, also while the server runs: the handler gets the
   * request and a ResponseWriter (`res.status()`, `res.header()`,
   * `await res.write()`, `res.end()`, `res.trailers()`).
   */
  route(method: string, pattern: string, handler: RawHandler): this {
    if (typeof handler !== "function") throw new TypeError("route() handler must be a function");
    this.#routes.add(validateMethod(method), validatePattern(pattern), { raw: handler });
    // HTTP/3 only: over TCP the path gets 421 with alt-svc (ts/http1.ts).
    this.#http1?.addRaw(method, pattern);
    return this;
  }

  /** Adds a static route (GET, also answering HEAD), also while the server runs. */
  static(pattern: string, value: StaticValue): this {
    validatePattern(pattern);
    const spec = typeof value === "string" || value instanceof Uint8Array ? { body: value } : value;
    if (!spec || typeof spec !== "object") throw new TypeError(`static route ${pattern} must be a string, a Uint8Array or { status, headers, body }`);
    const status = spec.status ?? 200;
    if (!Number.isInteger(status) || status < 200 || status > 999) throw new TypeError(`static route ${pattern}: status must be 200..999`);
    const body = typeof spec.body === "string" ? new TextEncoder().encode(spec.body) : (spec.body ?? new Uint8Array(0));
    const headers = new Headers(spec.headers);
    if (!headers.has("content-type") && typeof spec.body === "string") headers.set("content-type", "text/plain;charset=utf-8");
    this.#routes.addStatic("GET", pattern, status, headers, body);
    this.#http1?.addStatic(pattern, value);
    return this;
  }

  /**
   * Accepts WebTransport sessions on `pattern`. The handler gets the session
   * and the CONNECT request; the session is accepted (200) when the handler
   * returns, or rejected with the status of a Response it returns. Needs
   * `webtransport: true`. Other paths get 404 for WebTransport.
   */
  webtransport(pattern: string, handler: WebTransportHandler): this {
    if (!this.#webtransportEnabled) throw new TypeError("webtransport() needs a server created with webtransport: true");
    if (typeof handler !== "function") throw new TypeError("webtransport() handler must be a function");
    this.#routes.add("CONNECT", validatePattern(pattern), { webtransport: handler });
    return this;
  }

  /** Receives connection-scoped QUIC datagrams (from peers that did not enable HTTP/3 datagrams). */
  onDatagram(listener: ((connection: Connection, data: Uint8Array) => void) | null): this {
    if (listener !== null && typeof listener !== "function") throw new TypeError("onDatagram needs a function or null");
    if (!this.#datagramsEnabled && listener) throw new DatagramError("ERR_DATAGRAMS_DISABLED", "datagrams are off: create the server with datagrams: true");
    this.#onQuicDatagram = listener;
    return this;
  }

  /** Checks serve({ quic }) and gives the library its ALPN list. */
  #declareQuic(quic: ServeOptions["quic"]): NativeConfig {
    if (quic === undefined || quic === null) return {};
    if (typeof quic !== "object" || Array.isArray(quic)) throw new TypeError('quic must be an object { "<alpn>": (connection) => ... }');
    for (const [alpn, handler] of Object.entries(quic)) {
      if (handler !== null && typeof handler !== "function") throw new TypeError(`quic["${alpn}"] must be a function or null`);
      this.#quicHandlers.set(checkAlpn(alpn), handler);
    }
    if (this.#quicHandlers.size > 16) throw new RangeError(`quic declares ${this.#quicHandlers.size} application protocols; at most 16`);
    return this.#quicHandlers.size > 0 ? { application_protos: [...this.#quicHandlers.keys()].join(",") } : {};
  }

  /**
   * Sets the handler of raw QUIC connections that negotiate `alpn`, which
   * serve({ quic }) must have declared (the handshake's protocol list is
   * fixed when the server starts); replaces the handler it had. Throws a
   * ZigH3Error (ZIG_H3_ERR_INVALID_STATE) for an undeclared protocol.
   */
  quic(alpn: string, handler: QuicHandler): this {
    if (typeof handler !== "function") throw new TypeError("quic() handler must be a function");
    if (!this.#quicHandlers.has(alpn)) throw new ZigH3Error(-4, `quic(${JSON.stringify(alpn)}): declare the protocol in serve({ quic: { ${JSON.stringify(alpn)}: null } }) first`);
    this.#quicHandlers.set(alpn, handler);
    return this;
  }

  /** Raw QUIC connections open now. */
  get quicConnections(): number {
    return this.#quic.size;
  }

  /** QUIC_CONN: a raw QUIC connection is up; its handler gets it. */
  #onQuicConnection(view: DataView, offset: number, length: number, id: number) {
    const payload = offset + HEADER_BYTES;
    const sessionId = readId(view, payload);
    const peer = formatPeer(decodePeer(view, this.#eventBuffer, payload + 8));
    const alpn = new TextDecoder().decode(this.#eventBytes.subarray(payload + 28, offset + length));
    const streams = this.#streams.attach(sessionId, true);
    const remote = peer ?? { address: "", port: 0, family: "IPv4" as const };
    const connection = new QuicConnection(id, alpn, remote, streams, this.#quicHost);
    this.#quic.set(id, connection);
    const handler = this.#quicHandlers.get(alpn);
    if (!handler) return connection.close(0, `no handler for ${alpn}`);
    (async () => handler(connection))().catch((error) => {
      void this.#errorHook?.(error);
      connection.close(0, "handler failed");
    });
  }

  /** CONN_CLOSED of a raw QUIC connection: how it ended, when the library could say. */
  #onQuicClosed(connection: QuicConnection, view: DataView, offset: number, length: number) {
    const payload = offset + HEADER_BYTES;
    const info: QuicCloseInfo = { closeCode: 0, reason: "", source: "timeout", applicationClose: false };
    if (length >= HEADER_BYTES + 10) {
      info.closeCode = Number(view.getBigUint64(payload, true));
      const origin = view.getUint8(payload + 8);
      info.source = origin === 1 ? "peer" : origin === 2 ? "local" : "timeout";
      info.applicationClose = view.getUint8(payload + 9) === 1;
      info.reason = new TextDecoder().decode(this.#eventBytes.subarray(payload + 10, offset + length));
    }
    this.#quic.delete(connection.id);
    connection.onClosed(info);
  }

  /** The connection with this id, while it is open and datagrams are on. */
  connection(connectionId: number): Connection | undefined {
    return this.#connections.get(connectionId);
  }

  /** Waits on the library's eventfd doorbell through Bun's own I/O. */
  #listen() {
    const reader = Bun.file(this.#lib.zig_h3_server_event_fd(this.#handle)).stream().getReader();
    this.#doorbell = reader;
    const pump = async () => {
      while (this.#handle !== null && this.#doorbell === reader) {
        const { done } = await reader.read();
        if (done || this.#handle === null || this.#doorbell !== reader) return;
        this.poll();
      }
    };
    pump().catch(() => {});
  }

  /**
   * Drains every queued event and dispatches it; returns how many were
   * handled. Called for you in "poll" and "callback" modes; call it from
   * your own loop in "manual" mode.
   */
  poll(): number {
    if (this.#handle === null) return 0;
    let handled = 0;
    while (true) {
      const bytes = check(Number(this.#lib.zig_h3_poll(this.#handle, ptr(this.#eventBuffer), this.#eventBuffer.length)), "zig_h3_poll");
      if (bytes === 0) break;
      for (let offset = 0; offset < bytes; handled++) {
        const length = this.#eventView.getUint32(offset, true);
        // One event's failure must not lose the events after it in this batch.
        try {
          this.#dispatch(offset, length);
        } catch (error) {
          this.#log({ level: "error", message: `event ${this.#eventView.getUint8(offset + 4)} could not be dispatched: ${(error as Error)?.stack ?? error}`, connectionId: 0 });
        }
        offset += padded(length);
      }
    }
    if (this.#outbox.pending > 0) this.#outbox.flush();
    return handled;
  }

  #dispatch(offset: number, length: number) {
    const view = this.#eventView;
    const id = readId(view, offset + 8);
    switch (view.getUint8(offset + 4)) {
      case EventKind.request:
        return this.#onRequest(decodeRequest(view, this.#eventBuffer, offset, id));
      case EventKind.body: {
        // The event buffer is reused by the next poll, so the chunk is copied.
        this.#gcPacer.add(length - HEADER_BYTES);
        const live = this.#live.get(id);
        if (live) return live.sink?.data(this.#eventBytes.slice(offset + HEADER_BYTES, offset + length));
        return void this.#streams.onBody(id, () => this.#eventBytes.slice(offset + HEADER_BYTES, offset + length));
      }
      case EventKind.bodyEnd: {
        const live = this.#live.get(id);
        if (!live) return this.#streams.onBodyEnd(id);
        // Incoming.end() marks the request ended (a WebTransport session's
        // sink is its own, and its exchange is never forgotten early).
        live.sink?.end();
        live.sink = null;
        // The handler's time starts once the request has fully arrived: a
        // slow upload is not a slow handler.
        this.#deadlines?.add(live);
        return;
      }
      case EventKind.drain: {
        const sent = Number(view.getBigUint64(offset + HEADER_BYTES, true));
        const live = this.#live.get(id);
        return live ? live.writer._onDrain(sent) : this.#streams.onDrain(id, sent);
      }
      case EventKind.complete:
        if (!this.#end(id, null)) this.#streams.onComplete(id);
        return;
      case EventKind.reset:
        if (!this.#end(id, new DOMException("The request stream was reset", "AbortError"))) this.#streams.onReset(id, view.getBigUint64(offset + HEADER_BYTES, true));
        return;
      case EventKind.wtStream:
      case EventKind.wtOpened:
      case EventKind.wtPeerReset:
      case EventKind.wtStopSending:
        return this.#streams.onEvent(view, offset, id);
      case EventKind.shutdown:
        return this.#shutdownDone?.();
      case EventKind.connStats: {
        const found = (view.getUint8(offset + 5) & 1) === 1;
        const stats = Object.fromEntries(
          CONN_STATS_FIELDS.map((name, i) => [name, Number(view.getBigUint64(offset + HEADER_BYTES + 4 + i * 8, true))]),
        ) as ConnectionStats;
        for (const resolve of this.#statsWaiters.get(id) ?? []) resolve(found ? stats : null);
        this.#statsWaiters.delete(id);
        return;
      }
      case EventKind.connInfo: {
        let connection = this.#connections.get(id);
        if (!connection) this.#connections.set(id, (connection = new Connection(id, this.#outbox, this.#datagramSendQueue)));
        return connection.onInfo(view.getUint8(offset + 5), Number(view.getBigUint64(offset + HEADER_BYTES, true)));
      }
      case EventKind.quicConn:
        return this.#onQuicConnection(view, offset, length, id);
      case EventKind.quicDatagram: {
        this.#gcPacer.add(length - HEADER_BYTES);
        const raw = this.#quic.get(id);
        if (raw) return this.#deliver(() => raw.onDatagram(this.#eventBytes.slice(offset + HEADER_BYTES, offset + length)));
        const connection = this.#connections.get(id);
        if (connection && this.#onQuicDatagram) this.#deliver(() => this.#onQuicDatagram!(connection, this.#eventBytes.slice(offset + HEADER_BYTES, offset + length)));
        return;
      }
      case EventKind.h3Datagram: {
        this.#gcPacer.add(length - HEADER_BYTES);
        const live = this.#live.get(id);
        if (live) this.#deliver(() => live.incoming.datagrams.deliver(this.#eventBytes.slice(offset + HEADER_BYTES, offset + length)));
        return;
      }
      case EventKind.datagramCredit:
        return this.#connections.get(id)?.onCredit(Number(view.getBigUint64(offset + HEADER_BYTES, true)));
      case EventKind.connClosed: {
        this.#connections.get(id)?.onClosed();
        this.#connections.delete(id);
        const raw = this.#quic.get(id);
        if (raw) this.#onQuicClosed(raw, view, offset, length);
        return;
      }
      case EventKind.log: {
        const message = new TextDecoder().decode(this.#eventBuffer.subarray(offset + HEADER_BYTES, offset + length));
        const level = LOG_LEVELS[view.getUint16(offset + 6, true)] ?? "trace";
        try {
          this.#log({ level, message, connectionId: id });
        } catch {
          // A throwing log hook must not stop event dispatch.
        }
        return;
      }
    }
  }

  /** Runs a datagram listener; one that throws is reported, not fatal. */
  #deliver(listener: () => void) {
    try {
      listener();
    } catch (error) {
      void this.#errorHook?.(error);
    }
  }

  /** Ends a request; false when `id` is not a live request (it may be a WebTransport stream). */
  #end(id: number, error: DOMException | null): boolean {
    const live = this.#live.get(id);
    if (!live) return false;
    this.#live.delete(id);
    live.gone = true;
    if (live.ownDeadline) clearTimeout(live.ownDeadline);
    if (live.webtransport) this.#streams.onSessionGone(id);
    if (error === null) {
      live.writer._onComplete();
      return true;
    }
    live.sink?.error(error);
    live.incoming.abort(error);
    live.writer._onReset(error);
    return true;
  }

  #onRequest(event: RequestEvent) {
    this.#gcPacer.add(REQUEST_GARBAGE_BYTES);
    const route = this.#routes.resolve(event.routeId, event.method, event.path);
    const incoming = new Incoming(event, this.#incomingContext, route?.params ?? null);
    const exchange = new Exchange(incoming, this.#outbox, this.#window, this.#live);
    this.#live.set(event.id, exchange);
    if (route?.webtransport) {
      exchange.webtransport = true;
      return void this.#runWebTransport(event, exchange, route.webtransport);
    }
    // A bodiless request has fully arrived: its handler's time starts now.
    if (event.ended) this.#deadlines?.add(exchange);
    if (route?.raw) return void this.#runRaw(exchange, route.raw);
    void this.#runWeb(exchange, route?.web);
  }

  async #runWebTransport(event: RequestEvent, live: Exchange, handler: WebTransportHandler) {
    const incoming = live.incoming;
    // "webtransport" up to draft-14, "webtransport-h3" from draft-15.
    if (incoming.protocol !== "webtransport" && incoming.protocol !== "webtransport-h3") {
      live.writer.status(400).header("content-type", "text/plain").end("WebTransport needs :protocol webtransport or webtransport-h3\n");
      return;
    }
    // Streams of the session may arrive before the handler decides: they
    // wait in its incoming streams.
    const dialect = { protocol: incoming.protocol, wtBits: event.wtBits, peerLimits: event.wtPeerLimits, ourLimits: this.#wtLimits };
    const session = new WebTransportSession(incoming, live.writer, incoming.datagrams, this.#streams.attach(event.id), dialect);
    live.sink = { data: (chunk) => session.onStreamData(chunk), end: () => session.onStreamEnd(), error: () => session.onReset() };
    try {
      const rejection = await handler(session, incoming);
      if (rejection instanceof Response) {
        // Opening a stream accepted the session already: close it instead.
        if (live.writer.headersSent) return session.close();
        session.onReset();
        await sendResponse(live.writer, rejection, false);
        return;
      }
      session.accept();
    } catch (error) {
      session.onReset();
      await this.#failed(live, error);
    }
  }

  /**
   * A handler ran past its deadline: 504 now, then its `req.signal` aborts
   * with a TimeoutError, `error` hears an ERR_HANDLER_TIMEOUT and `log` a
   * warning. What the handler sends afterwards is dropped.
   */
  #timedOut(live: Exchange, timeoutMs: number) {
    if (live.writer.headersSent || live.writer.ended) return;
    live.writer.status(504).header("content-type", "text/plain").end("Gateway Timeout\n");
    const incoming = live.incoming;
    incoming.abort(new DOMException(`The handler did not respond within ${timeoutMs} ms`, "TimeoutError"));
    this.#reportTimeout(new HandlerTimeoutError(incoming.method, incoming.path, timeoutMs), incoming.connectionId);
  }

  /** A handler timeout (HTTP/3 or TCP) is logged as a warning and passed to `error`. */
  #reportTimeout(error: HandlerTimeoutError, connectionId: number) {
    if (this.#logLevel >= 1) {
      try {
        this.#log({ level: "warn", message: error.message, connectionId });
      } catch {
        // A throwing log hook must not stop the timeout.
      }
    }
    if (this.#errorHook) {
      try {
        Promise.resolve(this.#errorHook(error)).catch(() => {});
      } catch {
        // Nor a throwing error hook.
      }
    }
  }

  async #runRaw(live: Exchange, handler: RawHandler) {
    try {
      await handler(live.incoming, live.writer);
    } catch (error) {
      await this.#failed(live, error);
    }
  }

  async #runWeb(live: Exchange, handler: Handler | undefined) {
    const incoming = live.incoming;
    let response: Response;
    if (!handler) return void live.writer.status(404).header("content-type", "text/plain").end("Not Found\n");
    try {
      // A handler that answers synchronously is not awaited: that saves a
      // microtask per request.
      const result = handler(new H3Request(incoming), this);
      response = result instanceof Response ? result : await result;
      if (!(response instanceof Response)) throw new TypeError("a handler must return a Response");
    } catch (error) {
      return this.#failed(live, error);
    }
    if (live.writer.headersSent || live.writer.ended) return;
    try {
      await sendResponse(live.writer, response, incoming.method === "HEAD");
    } catch (error) {
      if (!live.writer.ended) await this.#failed(live, error);
    }
  }

  /** A handler failed: 500 (or the error hook's Response) if nothing was sent yet, else a stream reset. */
  async #failed(live: Exchange, error: unknown) {
    let replacement: Response | void = undefined;
    try {
      replacement = await this.#errorHook?.(error);
    } catch {
      // A failing error hook must not take the server down either.
    }
    if (live.writer.ended) return;
    if (live.writer.headersSent) return live.writer.reset(H3_INTERNAL_ERROR);
    if (replacement instanceof Response) {
      return sendResponse(live.writer, replacement, false).catch(() => live.writer.reset(H3_INTERNAL_ERROR));
    }
    if (this.#development) {
      return void live.writer.status(500).header("content-type", "text/html;charset=utf-8").end(errorPage(error, live.incoming.method, live.incoming.path));
    }
    live.writer.status(500).header("content-type", "text/plain").end("Internal Server Error\n");
  }

  /**
   * The client address of a request (its connection's, when it was
   * accepted), as Bun's `server.requestIP(req)`: `{ address, family, port }`,
   * e.g. `{ address: "127.0.0.1", family: "IPv4", port: 51234 }`; null for
   * a Request this server did not make.
   */
  requestIP(request: Request | IncomingRequest): SocketAddress | null {
    const incoming = request instanceof Incoming ? request : H3Request._incomingOf(request);
    if (!incoming) return request instanceof Request ? (this.#http1?.requestIP(request) ?? null) : null;
    return formatPeer(incoming.peer);
  }

  /**
   * Overrides `handlerTimeoutMs` for one request, as Bun's
   * `server.timeout(req, seconds)`: the handler gets `seconds` from now to
   * produce its response head, then the request times out as with
   * `handlerTimeoutMs` (504, `req.signal` aborts, `error` and `log` hear of
   * it). 0 disables the timeout for this request. A request that already
   * answered or ended is left alone.
   */
  timeout(request: Request | IncomingRequest, seconds: number): void {
    if (typeof seconds !== "number" || !(seconds >= 0) || !Number.isFinite(seconds)) throw new TypeError(`timeout() seconds must be a non-negative number, got ${String(seconds)}`);
    const incoming = request instanceof Incoming ? request : H3Request._incomingOf(request);
    // A TCP request: Bun's own timeout (its idle timeout for that request).
    if (!incoming && request instanceof Request) return this.#http1?.timeout(request, seconds);
    const live = incoming ? this.#live.get(incoming.id) : undefined;
    if (!live || live.incoming !== incoming || live.writer.headersSent || live.writer.ended) return;
    if (live.ownDeadline) clearTimeout(live.ownDeadline);
    live.ownDeadline = null;
    if (seconds === 0) return;
    const timeoutMs = Math.round(seconds * 1000);
    live.ownDeadline = setTimeout(() => {
      live.ownDeadline = null;
      if (!live.gone) this.#timedOut(live, timeoutMs);
    }, timeoutMs);
    // Like the server-wide deadlines, it does not hold the process (see ref()).
    live.ownDeadline.unref();
  }

  /**
   * Rotates the session ticket key, as Node's `tlsServer.setTicketKeys()`:
   * `keys` (48 bytes) seals the tickets issued from now on; the key it
   * replaces still opens the tickets it sealed (a client resuming with one
   * gets a new ticket under `keys`); the key before that is forgotten, so
   * its tickets fall back to a full handshake. Rotate each server of a
   * fleet to the same bytes, at most once per ticket lifetime (BoringSSL's
   * is 2 days) if no client should lose its resumption. Only for a server
   * started with `tls.ticketKeys` (else ZIG_H3_ERR_INVALID_STATE: its own
   * random key already rotates every two days); another length is
   * ZIG_H3_ERR_TICKET_KEY_INVALID.
   */
  setTicketKeys(keys: Uint8Array): this {
    if (!(keys instanceof Uint8Array)) throw new TypeError("setTicketKeys() needs a Buffer or Uint8Array of 48 bytes");
    if (this.#handle === null) throw new ZigH3Error(-4, "setTicketKeys");
    // An empty view has no address to hand over; the library sees the length.
    const bytes = keys.byteLength > 0 ? keys : new Uint8Array(1);
    check(this.#lib.zig_h3_server_set_ticket_key(this.#handle, ptr(bytes), keys.byteLength), `setTicketKeys: ${keys.byteLength} bytes`);
    return this;
  }

  /**
   * Replaces the handlers, as Bun's `server.reload()`: `routes` (the whole
   * handler table from serve()'s `routes`), `fetch`, `error` and
   * `development`, each only if given. Requests already running keep their
   * handler. The library's router cannot forget a pattern, so a dropped
   * route stays registered but inactive: its requests are matched again
   * among the active routes in JavaScript, else go to `fetch`, else get
   * 404 (a method a dropped route had, with no `fetch`, still gets 405).
   * Response values in the new table are served through JavaScript (a clone
   * per request); the `static` routes, and Response routes given to serve()
   * (served by the library), stay as they are. Pattern precedence follows
   * first registration.
   */
  reload<R extends string = string>(options: ReloadOptions<R>): this {
    if (this.#handle === null) throw new ZigH3Error(-4, "reload");
    if (!options || typeof options !== "object") throw new TypeError("reload() needs an options object");
    const known = ["routes", "fetch", "error", "development"];
    for (const name of Object.keys(options)) {
      if (!known.includes(name)) throw new TypeError(`reload() cannot change "${name}"; it takes ${known.join(", ")}`);
    }
    if (options.error !== undefined && typeof options.error !== "function") throw new TypeError("error must be a function");
    if (options.fetch !== undefined && typeof options.fetch !== "function") throw new TypeError("fetch must be a function");
    if ("routes" in options) this.#routes.reload((options.routes ?? {}) as Record<string, RouteValue>);
    if ("fetch" in options) this.#routes.setFetch(options.fetch);
    if ("error" in options) this.#errorHook = options.error;
    if ("development" in options) this.#development = options.development === true;
    // TCP: Bun's own server reloads its routes and fetch (error and
    // development are read from here on every failure).
    if ("routes" in options || "fetch" in options) this.#http1?.reload(options);
    return this;
  }

  /**
   * Whether the server keeps Bun's process alive, as Bun's `server.ref()` /
   * `server.unref()`. Default: referenced. Unreferenced, the server still
   * serves while something else keeps the process alive, and the process
   * may exit when nothing else does. In "poll" mode this swaps the eventfd
   * reader for a threadsafe JSCallback doorbell (which does not hold Bun's
   * event loop) and back; in "callback" mode it drops or restores the
   * keep-alive interval; in "manual" mode the server holds nothing anyway.
   */
  ref(): this {
    if (this.#refed || this.#handle === null) return this;
    this.#refed = true;
    this.#http1?.ref();
    if (this.mode === "callback") this.#keepAlive = setInterval(() => {}, 1 << 30);
    if (this.mode === "poll") {
      // A null function restores the eventfd (bun:ffi takes 0 for a null function pointer).
      check(this.#lib.zig_h3_server_set_doorbell(this.#handle, 0 as unknown as Pointer, null), "zig_h3_server_set_doorbell");
      this.#listen();
      // Events queued before the switch rang the callback.
      this.poll();
    }
    return this;
  }

  /** See ref(). */
  unref(): this {
    if (!this.#refed || this.#handle === null) return this;
    this.#refed = false;
    this.#http1?.unref();
    if (this.mode === "callback" && this.#keepAlive) {
      clearInterval(this.#keepAlive);
      this.#keepAlive = null;
    }
    if (this.mode === "poll") {
      this.#callback ??= new JSCallback(() => this.poll(), { args: [], returns: "void", threadsafe: true });
      const doorbellPtr = this.#callback.ptr;
      if (doorbellPtr === null) throw new Error("bun:ffi gave the doorbell JSCallback no function pointer");
      check(this.#lib.zig_h3_server_set_doorbell(this.#handle, doorbellPtr, null), "zig_h3_server_set_doorbell");
      const doorbell = this.#doorbell;
      this.#doorbell = null;
      doorbell?.cancel().catch(() => {});
      // Events queued before the switch signalled the eventfd.
      this.poll();
    }
    return this;
  }

  /** Library counters, by name (see STATS_FIELDS). */
  stats(): Record<(typeof STATS_FIELDS)[number], number> {
    const result = Object.fromEntries(STATS_FIELDS.map((name) => [name, 0])) as Record<(typeof STATS_FIELDS)[number], number>;
    if (this.#handle === null) return result;
    const values = new BigUint64Array(STATS_FIELDS.length);
    this.#lib.zig_h3_server_stats(this.#handle, ptr(values), values.length);
    STATS_FIELDS.forEach((name, i) => (result[name] = Number(values[i])));
    return result;
  }

  /**
   * Counters of one connection (quiche's and the active path's: RTT, cwnd,
   * loss, ...), read by the loop thread; null if it is gone. Connection ids
   * come from `request.connectionId`.
   */
  connectionStats(connectionId: number): Promise<ConnectionStats | null> {
    if (this.#handle === null) return Promise.resolve(null);
    return new Promise((resolve) => {
      const waiters = this.#statsWaiters.get(connectionId);
      if (waiters) return void waiters.push(resolve);
      this.#statsWaiters.set(connectionId, [resolve]);
      this.#outbox.connStats(connectionId);
    });
  }

  /** Requests whose handlers have not finished. */
  get pendingRequests(): number {
    return this.#live.size;
  }

  /**
   * Stops the server, with Bun.serve's meaning of the argument:
   * - `stop()`: graceful. Every connection gets GOAWAY, new requests are
   *   refused, and in-flight ones finish (within `timeoutMs`, default
   *   10000, after which they are cut).
   * - `stop(true)`: close every connection now; in-flight requests abort
   *   (their `req.signal` fires, the client sees the stream end early).
   *
   * The object form: `{ closeActiveConnections?, timeoutMs? }`; the older
   * `{ graceful }` still works (`graceful: false` is `stop(true)`).
   * Before 0.2 the boolean meant the opposite (`stop()` was immediate).
   * Resolves once the loop thread has exited and the handle is freed.
   * Idempotent: later calls return the first call's promise.
   */
  stop(closeActiveConnections: boolean | StopOptions = false): Promise<void> {
    const options: StopOptions = typeof closeActiveConnections === "boolean" ? { closeActiveConnections } : (closeActiveConnections ?? {});
    if (typeof options !== "object") throw new TypeError("stop() takes a boolean or { closeActiveConnections, timeoutMs }");
    const immediate = options.closeActiveConnections ?? (options.graceful === undefined ? false : !options.graceful);
    const timeoutMs = options.timeoutMs ?? 10_000;
    if (!Number.isInteger(timeoutMs) || timeoutMs < 0) throw new TypeError("stop() timeoutMs must be a non-negative integer");
    this.#stopped ??= this.#stop(!immediate, timeoutMs);
    return this.#stopped;
  }

  async #stop(graceful: boolean, timeoutMs: number) {
    const handle = this.#handle;
    if (handle === null) return;
    // TCP stops beside HTTP/3: it refuses new connections now; in-flight
    // requests finish (graceful, within timeoutMs) or are cut.
    const tcpStopped = this.#http1?.close(graceful, timeoutMs);
    this.#outbox.flush();
    if (graceful) {
      const done = new Promise<void>((resolve) => (this.#shutdownDone = resolve));
      check(this.#lib.zig_h3_server_shutdown(handle, timeoutMs), "zig_h3_server_shutdown");
      // In manual mode nobody else drains while we wait.
      const pump = this.mode === "manual" ? setInterval(() => this.poll(), 1) : null;
      await done;
      if (pump) clearInterval(pump);
    }
    await this.#doorbell?.cancel().catch(() => {});
    if (this.#keepAlive) clearInterval(this.#keepAlive);
    this.#deadlines?.clear();
    check(this.#lib.zig_h3_server_stop(handle), "zig_h3_server_stop");
    this.poll(); // The RESET events of requests cut short.
    // Any request still live missed its end (the queue was full as the loop
    // exited): it ends here, so no handler waits forever.
    const stopped = new DOMException("The server stopped", "AbortError");
    for (const id of [...this.#live.keys()]) this.#end(id, stopped);
    this.#streams.stop();
    this.#handle = null;
    for (const waiters of this.#statsWaiters.values()) for (const resolve of waiters) resolve(null);
    this.#statsWaiters.clear();
    for (const connection of this.#connections.values()) connection.onClosed();
    this.#connections.clear();
    for (const connection of this.#quic.values()) connection.onClosed({ closeCode: 0, reason: "the server stopped", source: "timeout", applicationClose: false });
    this.#quic.clear();
    this.#outbox.close();
    // A worker's last counters stay readable by its supervisor.
    this.#worker?.releasing(this.#lib, handle);
    check(this.#lib.zig_h3_server_free(handle), "zig_h3_server_free");
    await tcpStopped;
    if (this.#callback) {
      // The loop thread is joined, so no call can start; let any call Bun
      // already queued run (as a no-op) before the trampoline is freed.
      await Bun.sleep(0);
      this.#callback.close();
    }
  }

  /** `await using server = serve(...)`: stops at once (`stop(true)`), as Bun's Server does. */
  async [Symbol.asyncDispose]() {
    await this.stop(true);
  }
}

/**
 * Starts an HTTP/3 server, in the shape of Bun.serve: binds the UDP port,
 * registers the routes and starts the loop thread before returning. Throws
 * a TypeError or RangeError for a bad option (naming it) and a ZigH3Error
 * when the library cannot start (`code` says why, e.g.
 * "ZIG_H3_ERR_ADDRESS_IN_USE"). Route patterns type each handler's
 * `req.params`: `routes: { "/users/:id": (req) => ... }` gives `req.params.id: string`.
 *
 * With `workers: N`, the main thread gets a `Supervisor` (the port, its N
 * worker threads, their stats, rolling restarts) and each worker thread,
 * running the same script, gets its own `Server` (docs/WORKERS.md).
 */
export function serve<R extends string = string>(options: ServeOptions<R> & { workers: number }): Server | Supervisor;
export function serve<R extends string = string>(options: ServeOptions<R>): Server;
export function serve<R extends string = string>(options: ServeOptions<R>): Server | Supervisor {
  if (options && typeof options === "object" && options.workers !== undefined) {
    checkOptionNames(options);
    const binding = workerBinding();
    // The main thread supervises; each worker thread (the same script)
    // serves on the socket it was given.
    if (binding === null) return new Supervisor(options, options.workers);
    const server = new Server(options, binding);
    serveAsWorker(server);
    return server;
  }
  // With port 0 the library picks a free UDP port, and TCP then needs the
  // same number, which another process may hold: try a few new UDP ports.
  for (let attempt = 1; ; attempt++) {
    try {
      return new Server(options);
    } catch (error) {
      if (!(error instanceof Http1PortTakenError) || attempt >= 8 || resolvePort(options.port) !== 0) throw error;
    }
  }
}

export { STATS_FIELDS, CONN_STATS_FIELDS, LOG_LEVELS, Supervisor };
export type { ServeOptions, StopOptions, EventMode, Handler, RawHandler, RouteValue, StaticValue, LogEntry, ConnectionStats };
