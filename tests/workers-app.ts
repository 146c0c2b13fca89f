// The application tests/workers.test.ts runs (`bun tests/workers-app.ts`):
// serve({ workers }) on the main thread supervises; each worker thread runs
// this same file, where serve() returns the worker's own server. Every
// response names the worker that served it. The main thread takes
// commands on stdin, one per line, and answers one JSON line on stdout:
//   stats | workers | restart <slot> | stop
// Settings from the environment: CERT, KEY, WORKERS, RETRY=1,
// QUIC_LB_SERVER_ID (plaintext QUIC-LB connection IDs with this server ID),
// EARLY_DATA=1 (0-RTT accepted).
import { serve, Supervisor, workerInfo } from "../ts/index.ts";

const server = serve({
  port: 0,
  workers: Number(process.env.WORKERS ?? 2),
  tls: { cert: process.env.CERT!, key: process.env.KEY!, earlyData: process.env.EARLY_DATA === "1" },
  http1: false,
  limits: {
    enableRetry: process.env.RETRY === "1",
    quicLbServerIdHex: process.env.QUIC_LB_SERVER_ID,
    idleTimeoutMs: 60_000,
  },
  routes: {
    "/": () => new Response(String(workerInfo()!.id)),
    "/worker": () => new Response(String(workerInfo()!.id)),
    // The worker and whether the request came as 0-RTT early data.
    "/early": (req) => new Response(`${workerInfo()!.id} ${req.earlyData}`),
    // Ends this worker's thread (as a fatal error would), after answering.
    "/exit": () => {
      setTimeout(() => process.exit(3), 50);
      return new Response(String(workerInfo()!.id));
    },
    "/slow/:ms": async (req) => {
      await Bun.sleep(Number(req.params.ms));
      return new Response(String(workerInfo()!.id));
    },
  },
});

if (server instanceof Supervisor) {
  const supervisor = server;
  await supervisor.ready;
  const say = (value: unknown) => process.stdout.write(JSON.stringify(value) + "\n");
  say({ port: supervisor.port, workers: supervisor.workers });
  for await (const line of console) {
    const [command, argument] = line.trim().split(/\s+/);
    if (command === "stats") say(supervisor.stats());
    else if (command === "workers") say(supervisor.workers);
    else if (command === "restart") {
      await supervisor.restartWorker(Number(argument));
      say({ restarted: Number(argument), workers: supervisor.workers });
    } else if (command === "stop") {
      await supervisor.stop();
      say({ stopped: true, stats: supervisor.stats() });
      process.exit(0);
    }
  }
}
