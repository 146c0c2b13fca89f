// Micro-benchmarks of the JS <-> library boundary (mitata):
//   node_modules/.bin/bun bench/boundary.ts
// next to a plain bun:ffi call that does nothing, so the cost of crossing
// is visible apart from the cost of the work.
import { bench, group, run, summary } from "mitata";
import { ptr, type Pointer } from "bun:ffi";
import { join } from "node:path";
import { native } from "../ts/loader.ts";
import { serve } from "../ts/index.ts";
import { CommandBatch, CommandKind, EventKind, FLAG_FIN, FLAG_QUIET, decodeRequest, padded, type Field } from "../ts/wire.ts";

const lib = native();
const certs = join(import.meta.dir, "..", "certs", "dev");
const server = serve({ port: 0, tls: { cert: join(certs, "cert.pem"), key: join(certs, "key.pem") }, mode: "manual" });
// The Server keeps its handle private; the benchmark needs one for raw calls.
const handle = findHandle();
function findHandle(): Pointer {
  // A second server made through the raw ABI, used only for poll/submit.
  const size = Number(lib.zig_h3_config_size());
  const config = new Uint8Array(size);
  lib.zig_h3_config_init(ptr(config));
  const cert = Buffer.from(join(certs, "cert.pem") + "\0");
  const key = Buffer.from(join(certs, "key.pem") + "\0");
  const view = new DataView(config.buffer);
  view.setBigUint64(8, BigInt(ptr(cert)), true);
  view.setBigUint64(16, BigInt(ptr(key)), true);
  view.setBigUint64(32, 0n, true);
  const out = new BigUint64Array(1);
  lib.zig_h3_server_new(ptr(config), ptr(out));
  const raw = Number(out[0]) as Pointer;
  lib.zig_h3_server_start(raw);
  return raw;
}

// A batch of 1,000 REQUEST events as the library writes them (7 fields).
const EVENTS = 1000;
const fields: Field[] = [[":method", "GET"], [":scheme", "https"], [":authority", "127.0.0.1:4433"], [":path", "/hello"], ["user-agent", "bench"], ["accept", "*/*"], ["accept-encoding", "gzip"]];
const events = Buffer.alloc(1 << 20);
const eventsView = new DataView(events.buffer, events.byteOffset);
let eventBytes = 0;
for (let i = 0; i < EVENTS; i++) {
  const start = eventBytes;
  let at = start + 40;
  for (const [name, value] of fields) {
    eventsView.setUint16(at, name.length, true);
    eventsView.setUint16(at + 2, value.length, true);
    events.write(name, at + 4, "latin1");
    events.write(value, at + 4 + name.length, "latin1");
    at += 4 + name.length + value.length;
  }
  eventsView.setUint32(start, at - start, true);
  eventsView.setUint8(start + 4, EventKind.request);
  eventsView.setUint32(start + 8, i, true);
  eventsView.setUint32(start + 36, fields.length, true);
  eventBytes = start + padded(at - start);
}

const responseFields: Field[] = [["content-type", "text/plain"], ["content-length", "5"], ["cache-control", "no-store"], ["x-request-id", "abc123"], ["server", "zig-quiche-h3"]];
const body = new TextEncoder().encode("hello");
const poll = new Uint8Array(1 << 16);

summary(() => {
  group("crossing", () => {
    bench("bun:ffi no-op call (zig_h3_config_size)", () => lib.zig_h3_config_size());
    bench("zig_h3_poll, empty queue", () => lib.zig_h3_poll(handle, ptr(poll), poll.length));
  });
});

group("events (per event, batch of 1,000)", () => {
  bench("decode REQUEST (7 fields) x1000", () => {
    for (let offset = 0; offset < eventBytes; ) {
      const length = eventsView.getUint32(offset, true);
      decodeRequest(eventsView, events, offset, eventsView.getUint32(offset + 8, true));
      offset += padded(length);
    }
  });
});

group("commands (per response)", () => {
  const batch = new CommandBatch();
  bench("encode HEAD (5 headers) with its body x1000", () => {
    for (let i = 0; i < 1000; i++) batch.fields(CommandKind.head, i, 200, responseFields, FLAG_FIN | FLAG_QUIET, body);
    batch.consume(batch.length);
  });
  bench("encode + zig_h3_submit x1000 (one call)", () => {
    for (let i = 0; i < 1000; i++) batch.fields(CommandKind.head, i, 200, responseFields, FLAG_FIN | FLAG_QUIET, body);
    lib.zig_h3_submit(handle, ptr(batch.view()), batch.length);
    batch.consume(batch.length);
  });
});

await run();
await server.stop();
