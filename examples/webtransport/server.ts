// WebTransport and HTTP/3 datagram echo, with a page to try it from Chromium.
//   PORT (4433, HTTP/3), HOST (127.0.0.1), CERT/KEY (certs/dev/),
//   HTTP_PORT (8080, serves index.html over plain HTTP: 127.0.0.1 is a
//   secure context, and the page trusts the certificate by its hash).
//
//   /wt     WebTransport: every datagram is echoed; the datagram "close"
//           makes the server close the session with code 4000, "closed by request".
//   /dgram  GET kept open: its HTTP/3 datagrams are echoed.
import { join } from "node:path";
import { readFileSync } from "node:fs";
import { serve, type Server } from "../../ts/index.ts";

export interface WebTransportExample {
  h3: Server;
  http: ReturnType<typeof Bun.serve>;
  pageUrl: string;
  certificateHash: string;
  sessionsClosed: { closeCode: number; reason: string }[];
  stop(): Promise<void>;
}

/** SHA-256 of the certificate's DER, as serverCertificateHashes wants it (hex). */
export function certificateHash(certPath: string): string {
  const pem = readFileSync(certPath, "utf8");
  const base64 = pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, "").replace(/\s+/g, "");
  return new Bun.CryptoHasher("sha256").update(Buffer.from(base64, "base64")).digest("hex");
}

export function startWebTransportExample(options: { port?: number; hostname?: string; cert: string; key: string; httpPort?: number }): WebTransportExample {
  const sessionsClosed: { closeCode: number; reason: string }[] = [];
  const h3 = serve({ port: options.port ?? 4433, hostname: options.hostname ?? "127.0.0.1", tls: { cert: options.cert, key: options.key }, webtransport: true });

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

  const hash = certificateHash(options.cert);
  const page = readFileSync(join(import.meta.dir, "index.html"), "utf8");
  const http = Bun.serve({
    port: options.httpPort ?? 8080,
    hostname: options.hostname ?? "127.0.0.1",
    fetch: () =>
      new Response(page.replace("__H3_PORT__", String(h3.port)).replace("__CERT_HASH__", hash), {
        headers: { "content-type": "text/html; charset=utf-8" },
      }),
  });
  const pageUrl = `http://${options.hostname ?? "127.0.0.1"}:${http.port}/`;
  return {
    h3,
    http,
    pageUrl,
    certificateHash: hash,
    sessionsClosed,
    async stop() {
      http.stop(true);
      await h3.stop();
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
    httpPort: Number(process.env.HTTP_PORT ?? 8080),
  });
  console.log(`WebTransport on https://${process.env.HOST ?? "127.0.0.1"}:${example.h3.port}/wt`);
  console.log(`Open ${example.pageUrl} in Chromium (certificate sha-256 ${example.certificateHash})`);
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => void example.stop().then(() => process.exit(0)));
}
