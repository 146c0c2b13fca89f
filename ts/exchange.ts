// One request/response exchange as the JS side tracks it, from its REQUEST
// event until the library reports it complete or reset, or until its
// response ended quietly (ts/response-writer.ts): the request, the writer of
// its response, and where its body bytes go.
import type { Deadline } from "./deadlines.ts";
import type { BodySink, Incoming } from "./incoming.ts";
import { ResponseWriter, type Outbox, type WriterOwner } from "./response-writer.ts";

export class Exchange implements WriterOwner, Deadline {
  readonly incoming: Incoming;
  readonly writer: ResponseWriter;
  /** Where BODY events go until BODY_END; null when the body ended or nobody takes it. */
  sink: BodySink | null;
  /** A WebTransport session's CONNECT: never forgotten early (its stream carries capsules). */
  webtransport = false;
  /** The server no longer tracks it (ended, reset or forgotten). */
  gone = false;
  /** server.timeout() replaced the server-wide handler deadline: its own timer, or none. */
  ownDeadline: Timer | null | undefined = undefined;
  readonly #registry: Map<number, Exchange>;

  constructor(incoming: Incoming, outbox: Outbox, windowBytes: number, registry: Map<number, Exchange>) {
    this.incoming = incoming;
    this.writer = new ResponseWriter(incoming.id, outbox, windowBytes, incoming, this);
    this.sink = incoming.ended ? null : incoming;
    this.#registry = registry;
  }

  /** Deadline: the handler answered (or the exchange is over), so it cannot time out. */
  get settled(): boolean {
    return this.gone || this.writer.headersSent || this.writer.ended || this.ownDeadline !== undefined;
  }

  /** WriterOwner: nothing more can arrive that the application would want. */
  mayForget(): boolean {
    return this.incoming.ended && !this.incoming.hasDatagrams && !this.webtransport;
  }

  /** WriterOwner: the response ended quietly. */
  forgotten() {
    this.gone = true;
    this.#registry.delete(this.incoming.id);
  }
}
