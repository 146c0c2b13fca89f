// WebTransport session flow control (draft-ietf-webtrans-http3-16 section
// 5): per session, the stream bytes and the streams of each kind one side
// may send or open, raised by capsules on the CONNECT stream. It is on for
// a session when both sides announced it (SETTINGS_WT_INITIAL_MAX_* with a
// non-zero value: ours from `limits.wtInitialMax*`, the client's in its
// SETTINGS) and the client speaks draft-15/16; drafts -07 to -14 tie it to
// more than one session per connection, which we never announce.
//
// Capsules are parsed on the JavaScript side (ts/webtransport.ts), so the
// accounting lives here too, in one place:
//   incoming: a stream the peer opens past our WT_MAX_STREAMS, or stream
//     bytes past our WT_MAX_DATA, is a session error WT_FLOW_CONTROL_ERROR
//     (the CONNECT stream is reset with that code). Stream limits are
//     granted again (WT_MAX_STREAMS) as the peer's streams end, data
//     (WT_MAX_DATA) as the application reads (or discards) what arrived:
//     once less than half the window is left, the limit moves to what was
//     consumed plus the window. A handler that does not read holds the
//     whole session's peer to the window.
//   outgoing: a create past the peer's WT_MAX_STREAMS waits (and sends
//     WT_STREAMS_BLOCKED), a write past its WT_MAX_DATA waits (and sends
//     WT_DATA_BLOCKED), until the peer raises the limit.
import { encodeVarint, decodeVarint, varintLength } from "./varint.ts";

export const WT_MAX_DATA = 0x190b4d3d;
export const WT_MAX_STREAMS_BIDI = 0x190b4d3f;
export const WT_MAX_STREAMS_UNI = 0x190b4d40;
export const WT_DATA_BLOCKED = 0x190b4d41;
export const WT_STREAMS_BLOCKED_BIDI = 0x190b4d43;
export const WT_STREAMS_BLOCKED_UNI = 0x190b4d44;
/** WT_FLOW_CONTROL_ERROR: the HTTP/3 code a session is reset with when its peer passes a limit. */
export const WT_FLOW_CONTROL_ERROR = 0x045d4487;
/** The largest stream count a WT_MAX_STREAMS may carry. */
const MAX_STREAMS = 2 ** 60;

export interface FlowLimits {
  maxData: number;
  maxStreamsBidi: number;
  maxStreamsUni: number;
}

/** Counts of what a session's flow control did, for tests and metrics. */
export interface FlowStats {
  maxDataSent: number;
  maxStreamsSent: number;
  blockedSent: number;
  maxDataReceived: number;
  maxStreamsReceived: number;
}

interface Direction {
  limit: number;
  used: number;
}

export function encodeCapsule(type: number, value: number): Uint8Array {
  const valueLength = varintLength(value);
  const out = new Uint8Array(varintLength(type) + varintLength(valueLength) + valueLength);
  let at = encodeVarint(type, out, 0);
  at += encodeVarint(valueLength, out, at);
  encodeVarint(value, out, at);
  return out;
}

export class SessionFlow {
  readonly stats: FlowStats = { maxDataSent: 0, maxStreamsSent: 0, blockedSent: 0, maxDataReceived: 0, maxStreamsReceived: 0 };
  readonly #ours: FlowLimits;
  readonly #send: (capsule: Uint8Array) => void;
  // What the peer may do (our limits) and has done.
  readonly #inData: Direction;
  readonly #inBidi: Direction;
  readonly #inUni: Direction;
  #inBidiEnded = 0;
  #consumed = 0;
  #inUniEnded = 0;
  // What we may do (the peer's limits) and have done.
  readonly #outData: Direction;
  readonly #outBidi: Direction;
  readonly #outUni: Direction;
  #dataBlockedAt = -1;
  #bidiBlockedAt = -1;
  #uniBlockedAt = -1;
  #dataWaiters: (() => void)[] = [];
  #bidiWaiters: (() => void)[] = [];
  #uniWaiters: (() => void)[] = [];

  constructor(ours: FlowLimits, peer: FlowLimits, send: (capsule: Uint8Array) => void) {
    this.#ours = ours;
    this.#send = send;
    this.#inData = { limit: ours.maxData, used: 0 };
    this.#inBidi = { limit: ours.maxStreamsBidi, used: 0 };
    this.#inUni = { limit: ours.maxStreamsUni, used: 0 };
    this.#outData = { limit: peer.maxData, used: 0 };
    this.#outBidi = { limit: peer.maxStreamsBidi, used: 0 };
    this.#outUni = { limit: peer.maxStreamsUni, used: 0 };
  }

  /** The peer opened a stream: false when that passes our limit (a session error). */
  incomingOpened(bidirectional: boolean): boolean {
    const direction = bidirectional ? this.#inBidi : this.#inUni;
    direction.used++;
    return direction.used <= direction.limit;
  }

  /** A stream the peer opened ended: its place is granted again. */
  incomingEnded(bidirectional: boolean) {
    const initial = bidirectional ? this.#ours.maxStreamsBidi : this.#ours.maxStreamsUni;
    const ended = bidirectional ? ++this.#inBidiEnded : ++this.#inUniEnded;
    const direction = bidirectional ? this.#inBidi : this.#inUni;
    const limit = Math.min(ended + initial, MAX_STREAMS);
    if (limit <= direction.limit) return;
    direction.limit = limit;
    this.stats.maxStreamsSent++;
    this.#send(encodeCapsule(bidirectional ? WT_MAX_STREAMS_BIDI : WT_MAX_STREAMS_UNI, limit));
  }

  /** Stream bytes from the peer: false when they pass our limit (a session error). */
  received(bytes: number): boolean {
    const data = this.#inData;
    data.used += bytes;
    return data.used <= data.limit;
  }

  /** The application read (or dropped) `bytes` of what arrived: the window moves on. */
  consumed(bytes: number) {
    if (bytes <= 0) return;
    this.#consumed += bytes;
    const data = this.#inData;
    if (data.limit - this.#consumed >= this.#ours.maxData / 2) return;
    data.limit = this.#consumed + this.#ours.maxData;
    this.stats.maxDataSent++;
    this.#send(encodeCapsule(WT_MAX_DATA, data.limit));
  }

  /** Whether a stream of this kind may be opened now (and the earlier waiters went first). */
  canOpen(bidirectional: boolean): boolean {
    const direction = bidirectional ? this.#outBidi : this.#outUni;
    const waiters = bidirectional ? this.#bidiWaiters : this.#uniWaiters;
    return waiters.length === 0 && direction.used < direction.limit;
  }

  /** Counts a stream we open when canOpen said yes (waitOpen counts the stream it lets through itself). */
  opened(bidirectional: boolean) {
    const direction = bidirectional ? this.#outBidi : this.#outUni;
    direction.used++;
  }

  /** Resolves, the stream already counted, once the peer's limit lets one more of this kind open (or the session ended); says WT_STREAMS_BLOCKED. */
  waitOpen(bidirectional: boolean): Promise<void> {
    const direction = bidirectional ? this.#outBidi : this.#outUni;
    if (bidirectional ? this.#bidiBlockedAt !== direction.limit : this.#uniBlockedAt !== direction.limit) {
      if (bidirectional) this.#bidiBlockedAt = direction.limit;
      else this.#uniBlockedAt = direction.limit;
      this.stats.blockedSent++;
      this.#send(encodeCapsule(bidirectional ? WT_STREAMS_BLOCKED_BIDI : WT_STREAMS_BLOCKED_UNI, direction.limit));
    }
    return new Promise((resolve) => (bidirectional ? this.#bidiWaiters : this.#uniWaiters).push(resolve));
  }

  /** Bytes we may still send on the session's streams. */
  get sendCredit(): number {
    return this.#outData.limit - this.#outData.used;
  }

  /** Counts bytes we send (at most sendCredit). */
  sent(bytes: number) {
    if (bytes > this.sendCredit) throw new RangeError("sent past the peer's WT_MAX_DATA");
    this.#outData.used += bytes;
  }

  /** Resolves once the peer raises WT_MAX_DATA; says WT_DATA_BLOCKED once per limit. */
  waitData(): Promise<void> {
    if (this.#dataBlockedAt !== this.#outData.limit) {
      this.#dataBlockedAt = this.#outData.limit;
      this.stats.blockedSent++;
      this.#send(encodeCapsule(WT_DATA_BLOCKED, this.#outData.limit));
    }
    return new Promise((resolve) => this.#dataWaiters.push(resolve));
  }

  /**
   * A capsule from the peer. Returns an error message when it breaks the
   * rules (a malformed value, a stream limit over 2^60), else null. Limits
   * that do not increase are ignored, as QUIC's MAX_DATA and MAX_STREAMS.
   */
  onCapsule(type: number, value: Uint8Array): string | null {
    if (type !== WT_MAX_DATA && type !== WT_MAX_STREAMS_BIDI && type !== WT_MAX_STREAMS_UNI && type !== WT_DATA_BLOCKED && type !== WT_STREAMS_BLOCKED_BIDI && type !== WT_STREAMS_BLOCKED_UNI) return null;
    const decoded = decodeVarint(value, 0);
    if (!decoded || decoded[1] !== value.length) return `a flow-control capsule 0x${type.toString(16)} with a malformed value`;
    const limit = decoded[0];
    switch (type) {
      case WT_MAX_DATA:
        this.stats.maxDataReceived++;
        if (limit > this.#outData.limit) {
          this.#outData.limit = limit;
          this.#wake(this.#dataWaiters);
        }
        return null;
      case WT_MAX_STREAMS_BIDI:
      case WT_MAX_STREAMS_UNI: {
        if (limit > MAX_STREAMS) return "WT_MAX_STREAMS over 2^60";
        this.stats.maxStreamsReceived++;
        const bidirectional = type === WT_MAX_STREAMS_BIDI;
        const direction = bidirectional ? this.#outBidi : this.#outUni;
        if (limit > direction.limit) {
          direction.limit = limit;
          this.#wakeOpens(bidirectional);
        }
        return null;
      }
      default:
        // WT_DATA_BLOCKED and WT_STREAMS_BLOCKED: informational (we grant as
        // streams end and data arrives).
        if ((type === WT_STREAMS_BLOCKED_BIDI || type === WT_STREAMS_BLOCKED_UNI) && limit > MAX_STREAMS) return "WT_STREAMS_BLOCKED over 2^60";
        return null;
    }
  }

  /** The session ended: every waiter is released (its caller finds the session gone). */
  end() {
    this.#wake(this.#dataWaiters);
    for (const waiters of [this.#bidiWaiters, this.#uniWaiters]) this.#wake(waiters);
  }

  /** Creates waiting for stream credit open in order while it lasts. */
  #wakeOpens(bidirectional: boolean) {
    const direction = bidirectional ? this.#outBidi : this.#outUni;
    const waiters = bidirectional ? this.#bidiWaiters : this.#uniWaiters;
    // Each woken create counts its stream through opened() before the next
    // is considered, synchronously, so no more wake than the credit allows.
    while (waiters.length > 0 && direction.used < direction.limit) {
      const resolve = waiters.shift()!;
      direction.used++;
      resolve();
    }
  }

  #wake(waiters: (() => void)[]) {
    const woken = waiters.splice(0);
    for (const resolve of woken) resolve();
  }
}
