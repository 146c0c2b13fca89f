// Contender: zig-quiche-h3. MODE=callback|poll|manual runs the JS handler
// (Web Request/Response; manual polls from a 1 ms interval, as an
// application driving its own loop would); MODE=raw answers /hello and
// /baseline2 through the low-level route() API (no Web objects); MODE=native
// serves /hello and /baseline2 (always "2": the benchmarks only ask for
// a=1&b=1) as static routes (no JS per request). Every other path runs the
// JS handler in every mode.
// Prints "ready <port>" when listening.
import { serve, type EventMode } from "../../ts/index.ts";
import { baselineSum, route } from "./handlers.ts";
import { startMemoryProbe } from "./memory-probe.ts";

const mode = process.env.MODE ?? "poll";
const native = mode === "native";
const raw = mode === "raw";
const server = serve({
  port: Number(process.env.PORT ?? 0),
  tls: { cert: process.env.CERT!, key: process.env.KEY! },
  mode: native || raw ? "poll" : (mode as EventMode),
  datagrams: true,
  handlerTimeoutMs: 0,
  limits: { max_connections: 16384, max_requests: 65536, max_active_requests_per_conn: 0 },
  static: native
    ? {
        "/hello": { headers: { "content-type": "text/plain" }, body: "hello" },
        "/baseline2": { headers: { "content-type": "text/plain" }, body: "2" },
      }
    : undefined,
  fetch: (request) => route(request, new URL(request.url).pathname),
});
if (mode === "manual") setInterval(() => server.poll(), 1);
if (raw) {
  server.route("GET", "/hello", (_req, res) => res.header("content-type", "text/plain").end("hello"));
  server.route("GET", "/baseline2", (req, res) => res.header("content-type", "text/plain").end(baselineSum(req.url)));
}
server.onDatagram((connection, data) => {
  try {
    connection.sendDatagram(data);
  } catch {
    // A full queue drops the echo; the load generator counts it as lost.
  }
});
// Diagnostics for bench/soak-long.ts (PROBE=1): where the memory is.
if (process.env.MEMORY_PROBE) startMemoryProbe(server, process.env.MEMORY_PROBE, Number(process.env.MEMORY_PROBE_MS ?? 10_000));
console.log(`ready ${server.port}`);
process.on("SIGTERM", () => void server.stop().then(() => process.exit(0)));
