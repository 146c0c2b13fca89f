// Contender: zig-quiche-h3 with serve({ workers: WORKERS }) (docs/WORKERS.md),
// the same JS handler as bench/servers/ours.ts in every worker. The main
// thread prints "ready <port>" once every worker serves, then answers
// "stats" on stdin with one JSON line (the supervisor's stats()).
import { serve, Supervisor } from "../../ts/index.ts";
import { route } from "./handlers.ts";

const server = serve({
  port: Number(process.env.PORT ?? 0),
  workers: Number(process.env.WORKERS ?? 2),
  tls: { cert: process.env.CERT!, key: process.env.KEY! },
  http1: false,
  handlerTimeoutMs: 0,
  limits: { maxConnections: 16384, maxRequests: 65536 },
  fetch: (request) => route(request, new URL(request.url).pathname),
});

if (server instanceof Supervisor) {
  await server.ready;
  console.log(`ready ${server.port}`);
  for await (const line of console) {
    if (line.trim() === "stats") console.log(JSON.stringify(server.stats()));
  }
}
