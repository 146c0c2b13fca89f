// The smallest server: GET /hello over HTTP/3, and over HTTPS/1.1 on the TCP
// port of the same number (http1, on by default: what a browser reaches
// first; its responses carry alt-svc: h3=":PORT", which leads it to HTTP/3).
//   PORT (default 4433), HOST (default 127.0.0.1), CERT/KEY (default: the
//   development pair made by scripts/setup.sh in certs/dev/).
import { join } from "node:path";
import { serve } from "../ts/index.ts";

const devCerts = join(import.meta.dir, "..", "certs", "dev");
const server = serve({
  port: Number(process.env.PORT ?? 4433),
  hostname: process.env.HOST ?? "127.0.0.1",
  tls: {
    cert: process.env.CERT ?? join(devCerts, "cert.pem"),
    key: process.env.KEY ?? join(devCerts, "key.pem"),
  },
  routes: {
    "/hello": {
      GET: () => new Response("Hello, HTTP/3!\n", { headers: { "content-type": "text/plain" } }),
    },
  },
});

const url = new URL("/hello", server.url);
console.log(`HTTP/3 server listening on ${url}`);
console.log(
  `Query it: node_modules/.bin/bun -e 'const r = await fetch("${url}", { protocol: "http3", tls: { rejectUnauthorized: false } }); console.log(r.status, await r.text())'`,
);
if (server.http1) console.log(`Over HTTPS/1.1 (TCP port ${server.http1.port}): curl -k -i ${url}  (see the alt-svc header)`);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, async () => {
    await server.stop();
    process.exit(0);
  });
}
