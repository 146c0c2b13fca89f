// WebTransport and HTTP/3 datagram echo, with a page to try it from Chromium.
//   PORT (4433), HOST (127.0.0.1), CERT/KEY (certs/dev/).
//
//   /       the page (index.html), served by the same server: over HTTPS/1.1
//           on the TCP port of the same number (http1, on by default) for a
//           browser's first visit, and over HTTP/3 too. The page trusts the
//           certificate for WebTransport by its hash (serverCertificateHashes);
//           for the page itself Chromium needs the certificate trusted, e.g.
//           --ignore-certificate-errors-spki-list=<the SPKI hash printed at
//           start>, or a click through the warning.
//   /wt     WebTransport: every datagram is echoed; the datagram "close"
//           makes the server close the session with code 4000, "closed by request".
//           Streams:
//           * every bidirectional stream the client opens is echoed (its
//             readable piped into its writable; a reset or STOP_SENDING
//             travels through the pipe with its code);
//           * a unidirectional stream from the client is read to its end,
//             then, if its bytes are one of these commands (ASCII):
//               "uni N"    the server opens a unidirectional stream with
//                          patternBytes(N) and closes it;
//               "bidi N"   the server opens a bidirectional stream, sends
//                          patternBytes(N) and FIN, reads the client's reply
//                          to its end and records whether it equals them;
//               "reset C"  the server opens a bidirectional stream, sends
//                          "reset C\n", waits for the client's first bytes,
//                          then resets its sending side with code C;
//               "stop C"   the same with "stop C\n", then STOP_SENDING with C;
//             anything else is sent back on a new unidirectional stream
//             from the server, byte for byte.
//   /dgram  GET kept open: its HTTP/3 datagrams are echoed.
import { join } from "node:path";
import { readFileSync } from "node:fs";
import { createPublicKey } from "node:crypto";
import { serve, WebTransportError, type Server, type ServeOptions, type WebTransportBidirectionalStream, type WebTransportSession } from "../../ts/index.ts";

/** What the server saw on its streams, for tests and for the curious. */
export interface StreamRecord {
  /** Bidirectional streams the client opened that were echoed to their end. */
  echoed: number;
  /** Bytes echoed on those streams. */
  echoedBytes: number;
  /** Client-opened streams whose echo ended in an error: its code and the peer's WebTransport code. */
  errors: { code: string; streamErrorCode: number | null }[];
  /** Unidirectional streams from the client that were not commands: their length and SHA-256. */
  uniReceived: { bytes: number; sha256: string }[];
  /** Replies to "bidi N": the bytes the client sent back and whether they equal patternBytes(N). */
  bidiReplies: { bytes: number; equal: boolean }[];
  /** Server-opened streams that failed (a create rejected, a write errored). */
  serverErrors: string[];
}

export interface WebTransportExample {
  h3: Server;
  /** The page, on the same server (HTTPS/1.1 over TCP for a browser's first load). */
  pageUrl: string;
  /** SHA-256 of the certificate's DER (hex), for serverCertificateHashes. */
  certificateHash: string;
  /** SHA-256 of the certificate's public key (base64), for Chromium's --ignore-certificate-errors-spki-list. */
  certificateSpki: string;
  sessionsClosed: { closeCode: number; reason: string }[];
  streams: StreamRecord;
  stop(): Promise<void>;
}

/** The payload of "uni N" and "bidi N": byte i is (i * 251 + (i >> 8) * 7 + 13) mod 256; the page computes the same. */
export function patternBytes(n: number): Uint8Array {
  const bytes = new Uint8Array(n);
  for (let i = 0; i < n; i++) bytes[i] = (i * 251 + (i >> 8) * 7 + 13) & 0xff;
  return bytes;
}

/** Reads a stream to its end (at most `limit` bytes) into one array. */
export async function readAll(readable: ReadableStream<Uint8Array>, limit = 64 << 20): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of readable) {
    total += chunk.length;
    if (total > limit) throw new RangeError(`more than ${limit} bytes`);
    chunks.push(chunk);
  }
  const all = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    all.set(chunk, at);
    at += chunk.length;
  }
  return all;
}

const equalBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && Buffer.compare(a, b) === 0;

async function echoStream(stream: WebTransportBidirectionalStream, record: StreamRecord) {
  let bytes = 0;
  const counter = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      bytes += chunk.length;
      controller.enqueue(chunk);
    },
  });
  try {
    await stream.readable.pipeThrough(counter).pipeTo(stream.writable);
    record.echoed++;
    record.echoedBytes += bytes;
  } catch (error) {
    const e = error as WebTransportError;
    record.errors.push({ code: e.code ?? String(error), streamErrorCode: e.streamErrorCode ?? null });
  }
}

async function onUniStream(session: WebTransportSession, readable: ReadableStream<Uint8Array>, record: StreamRecord) {
  const bytes = await readAll(readable);
  const command = bytes.length <= 32 ? /^(uni|bidi|reset|stop) (\d+)$/.exec(new TextDecoder().decode(bytes)) : null;
  if (!command) {
    record.uniReceived.push({ bytes: bytes.length, sha256: new Bun.CryptoHasher("sha256").update(bytes).digest("hex") });
    const writer = (await session.createUnidirectionalStream()).getWriter();
    await writer.write(bytes);
    return writer.close();
  }
  const [, verb, number] = command;
  const n = Number(number);
  if (verb === "uni") {
    const writer = (await session.createUnidirectionalStream()).getWriter();
    await writer.write(patternBytes(n));
    return writer.close();
  }
  const { readable: reply, writable } = await session.createBidirectionalStream();
  const writer = writable.getWriter();
  if (verb === "bidi") {
    const expected = patternBytes(n);
    await writer.write(expected);
    await writer.close();
    const back = await readAll(reply);
    record.bidiReplies.push({ bytes: back.length, equal: equalBytes(back, expected) });
    return;
  }
  // "reset C" / "stop C": the client must know the stream before it is cut,
  // so the server waits for its first bytes.
  await writer.write(new TextEncoder().encode(`${verb} ${n}\n`));
  const reader = reply.getReader();
  await reader.read();
  const reason = new WebTransportError(`${verb} by request`, { streamErrorCode: n });
  if (verb === "reset") {
    await writer.abort(reason);
    await reader.cancel(reason);
  } else {
    await reader.cancel(reason);
    await writer.close();
  }
}

/** The stream behaviour of /wt (see the top of this file). */
export function serveStreams(session: WebTransportSession, record: StreamRecord) {
  void (async () => {
    for await (const stream of session.incomingBidirectionalStreams) void echoStream(stream, record);
  })().catch(() => {});
  void (async () => {
    for await (const readable of session.incomingUnidirectionalStreams) {
      onUniStream(session, readable, record).catch((error) => record.serverErrors.push(String(error?.code ?? error)));
    }
  })().catch(() => {});
}

/** SHA-256 of the certificate's SubjectPublicKeyInfo (base64), as --ignore-certificate-errors-spki-list wants it. */
export function certificateSpki(certPath: string): string {
  const der = createPublicKey(readFileSync(certPath)).export({ type: "spki", format: "der" });
  return new Bun.CryptoHasher("sha256").update(der).digest("base64");
}

/** SHA-256 of the certificate's DER, as serverCertificateHashes wants it (hex). */
export function certificateHash(certPath: string): string {
  const pem = readFileSync(certPath, "utf8");
  const base64 = pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, "").replace(/\s+/g, "");
  return new Bun.CryptoHasher("sha256").update(Buffer.from(base64, "base64")).digest("hex");
}

export function startWebTransportExample(options: { port?: number; hostname?: string; cert: string; key: string; limits?: ServeOptions["limits"] }): WebTransportExample {
  const sessionsClosed: { closeCode: number; reason: string }[] = [];
  const streams: StreamRecord = { echoed: 0, echoedBytes: 0, errors: [], uniReceived: [], bidiReplies: [], serverErrors: [] };
  const h3 = serve({ port: options.port ?? 4433, hostname: options.hostname ?? "127.0.0.1", tls: { cert: options.cert, key: options.key }, webtransport: true, limits: options.limits });

  h3.webtransport("/wt", (session) => {
    session.onDatagram((data) => {
      if (data.length === 5 && new TextDecoder().decode(data) === "close") return session.close(4000, "closed by request");
      try {
        session.sendDatagram(data);
      } catch {
        // Echo is best effort: a full send queue drops the echo, like the network may.
      }
    });
    void session.closed.then((info) => sessionsClosed.push(info));
    serveStreams(session, streams);
  });

  h3.route("GET", "/dgram", async (req, res) => {
    req.onDatagram((data) => {
      try {
        res.sendDatagram(data);
      } catch {
        // As above.
      }
    });
    res.header("content-type", "text/plain").sendHead();
    for await (const _ of req.body);
    res.end("bye\n");
  });

  // The page, from this server: a static route (answered without
  // JavaScript over both HTTP/3 and HTTPS/1.1), made once the port is known.
  const hash = certificateHash(options.cert);
  const page = readFileSync(join(import.meta.dir, "index.html"), "utf8");
  h3.static("/", {
    headers: { "content-type": "text/html; charset=utf-8" },
    body: page.replace("__H3_PORT__", String(h3.port)).replace("__CERT_HASH__", hash),
  });
  return {
    h3,
    pageUrl: h3.url.href,
    certificateHash: hash,
    certificateSpki: certificateSpki(options.cert),
    sessionsClosed,
    streams,
    async stop() {
      await h3.stop(true);
    },
  };
}

if (import.meta.main) {
  const devCerts = join(import.meta.dir, "..", "..", "certs", "dev");
  const example = startWebTransportExample({
    port: Number(process.env.PORT ?? 4433),
    hostname: process.env.HOST ?? "127.0.0.1",
    cert: process.env.CERT ?? join(devCerts, "cert.pem"),
    key: process.env.KEY ?? join(devCerts, "key.pem"),
  });
  console.log(`WebTransport on https://${process.env.HOST ?? "127.0.0.1"}:${example.h3.port}/wt`);
  console.log(`Open ${example.pageUrl} in Chromium (certificate sha-256 ${example.certificateHash}); to trust the development`);
  console.log(`certificate for the page: chromium --ignore-certificate-errors-spki-list=${example.certificateSpki} ${example.pageUrl}`);
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => void example.stop().then(() => process.exit(0)));
}
