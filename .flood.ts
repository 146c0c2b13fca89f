import { serve } from "./ts/index.ts";
const s = serve({ port: 0, tls: { cert: "certs/dev/cert.pem", key: "certs/dev/key.pem" }, limits: { max_connections: 1000, idle_timeout_ms: 1000 } });
const sock = await Bun.udpSocket({});
for (let i = 0; i < 3000; i++) { const p = crypto.getRandomValues(new Uint8Array(1200)); p[0] = 0xc0; new DataView(p.buffer).setUint32(1, 1); p[5] = 8; p[14] = 8; sock.send(p, s.port, "127.0.0.1"); if (i % 200 === 0) await Bun.sleep(2); }
await Bun.sleep(100); const st = s.stats(); console.log("accepted", st.connections_accepted, "refused", st.connections_refused, "active", st.connections_active, "invalid", st.packets_invalid);
await Bun.sleep(2500); console.log("after idle: active", s.stats().connections_active); await s.stop();
