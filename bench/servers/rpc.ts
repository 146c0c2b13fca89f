// Contender: zRPC on zig-quiche-h3 (bench/rpc.ts). bench.v1.Echo/say answers
// its request message, over HTTP/3 (POST /zrpc/bench.v1.Echo/say),
// WebTransport (a session at /zrpc) and raw QUIC (ALPN zr/1, a stream per
// call); the shared handler answers everything
// else (POST /json is the same call as plain JSON). Prints "ready <port>".
import { serve } from "../../ts/index.ts";
import { defineService, RpcServer, unary } from "../../ts/rpc/index.ts";
import { route } from "./handlers.ts";

const echo = defineService("bench.v1.Echo", { say: unary((request: unknown) => request) });
const rpc = new RpcServer({ services: [echo] });
const server = serve({
  port: Number(process.env.PORT ?? 0),
  tls: { cert: process.env.CERT!, key: process.env.KEY! },
  webtransport: true,
  handlerTimeoutMs: 0,
  limits: { max_connections: 16384, max_requests: 65536, max_active_requests_per_conn: 0 },
  routes: rpc.routes(),
  quic: rpc.quicProtocols(),
  fetch: (request) => route(request, new URL(request.url).pathname),
});
server.webtransport("/zrpc", rpc.webtransport);
console.log(`ready ${server.port}`);
process.on("SIGTERM", () => void server.stop().then(() => process.exit(0)));
