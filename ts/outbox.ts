// Commands from JS to the loop thread: encoded into one batch and handed
// over with one zig_h3_submit per microtask (one wake of the loop per
// batch). What a full command queue cannot take is retried shortly.
import { ptr, type Pointer } from "bun:ffi";
import type { Native } from "./loader.ts";
import { check } from "./errors.ts";
import { CommandBatch, CommandKind, FLAG_FIN, type Field } from "./wire.ts";
import type { Outbox } from "./response-writer.ts";
import type { DatagramOutbox } from "./datagrams.ts";
import type { StreamOutbox } from "./webtransport-streams.ts";
import type { CreditOutbox } from "./receive-window.ts";

export class CommandOutbox implements Outbox, DatagramOutbox, StreamOutbox, CreditOutbox {
  readonly #lib: Native;
  readonly #handle: () => Pointer | null;
  #commands = new CommandBatch();
  #flushScheduled = false;
  #retryTimer: Timer | null = null;

  constructor(lib: Native, handle: () => Pointer | null) {
    this.#lib = lib;
    this.#handle = handle;
  }

  get pending(): number {
    return this.#commands.length;
  }

  connStats(connectionId: number) {
    this.#commands.connStats(connectionId);
    this.#scheduleFlush();
  }

  head(id: number, status: number, fields: Field[], flags: number, body: Uint8Array | null = null) {
    this.#commands.fields(CommandKind.head, id, status, fields, flags, body);
    this.#scheduleFlush();
  }
  body(id: number, chunk: Uint8Array, flags: number) {
    this.#commands.body(id, chunk, flags);
    this.#scheduleFlush();
  }
  trailers(id: number, fields: Field[], flags: number) {
    this.#commands.fields(CommandKind.trailers, id, 0, fields, flags | FLAG_FIN);
    this.#scheduleFlush();
  }
  reset(id: number, code: bigint) {
    this.#commands.reset(id, code);
    this.#scheduleFlush();
  }
  quicDatagram(connectionId: number, data: Uint8Array, notify: boolean) {
    this.#commands.datagram(CommandKind.quicDatagram, connectionId, data, notify);
    this.#scheduleFlush();
  }
  h3Datagram(requestId: number, data: Uint8Array, notify: boolean) {
    this.#commands.datagram(CommandKind.h3Datagram, requestId, data, notify);
    this.#scheduleFlush();
  }

  wtOpen(sessionId: number, bidirectional: boolean, token: number) {
    this.#commands.wtOpen(sessionId, bidirectional, token);
    this.#scheduleFlush();
  }
  credit(id: number, allowedBytes: number) {
    this.#commands.credit(id, allowedBytes);
    this.#scheduleFlush();
  }
  wtStopSending(id: number, code: bigint) {
    this.#commands.wtStopSending(id, code);
    this.#scheduleFlush();
  }

  connClose(connectionId: number, code: bigint, reason: Uint8Array) {
    this.#commands.connClose(connectionId, code, reason);
    this.#scheduleFlush();
  }
  streamPriority(id: number, urgency: number, incremental: boolean) {
    this.#commands.streamPriority(id, urgency, incremental);
    this.#scheduleFlush();
  }

  #scheduleFlush() {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    queueMicrotask(() => this.flush());
  }

  /** One zig_h3_submit per batch; what a full queue could not take is retried shortly. */
  flush() {
    this.#flushScheduled = false;
    const handle = this.#handle();
    if (handle === null || this.#commands.length === 0) return;
    const taken = check(Number(this.#lib.zig_h3_submit(handle, ptr(this.#commands.view()), this.#commands.length)), "zig_h3_submit");
    this.#commands.consume(taken);
    if (this.#commands.length > 0 && this.#retryTimer === null) {
      this.#retryTimer = setTimeout(() => {
        this.#retryTimer = null;
        this.flush();
      }, 1);
    }
  }

  /** Stops retrying; called when the server is freed. */
  close() {
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
  }
}
