// Contender: Bun's own HTTP/3, Bun.serve({ http3: true, http1: false }),
// with the same handler. Prints "ready <port>" when listening.
import { route } from "./handlers.ts";

const server = Bun.serve({
  port: Number(process.env.PORT ?? 0),
  hostname: "127.0.0.1",
  http3: true,
  http1: false,
  tls: { cert: Bun.file(process.env.CERT!), key: Bun.file(process.env.KEY!) },
  fetch: (request) => route(request, new URL(request.url).pathname),
} as Parameters<typeof Bun.serve>[0]);
console.log(`ready ${server.port}`);
process.on("SIGTERM", () => {
  server.stop(true);
  process.exit(0);
});
