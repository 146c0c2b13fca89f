// Long soak (issue 7, item 6): one server process per MODE (poll,
// callback, manual; default all three at once) under steady load for
// SOAK_MINUTES (default 30). The load comes from a separate process per
// server (Bun's fetch over HTTP/3, so not our code) at RATE requests/s
// (default 200): GET /hello, and every tenth request a 64 KiB POST /upload.
// The server's RSS is sampled every 10 s; after a WARMUP_MINUTES (default 2)
// warm-up, every sample must stay within ±10 % of the first post-warm-up
// sample, and no request may fail. Prints one JSON line per mode and writes
// the table between the soak markers of bench/RESULTS.md.
//
//   node_modules/.bin/bun bench/soak-long.ts
//   SOAK_MINUTES=2 WARMUP_MINUTES=0.5 MODES=poll node_modules/.bin/bun bench/soak-long.ts
//
// PROBE=1 also has each server write where its memory is (JavaScriptCore's
// heap, glibc's and mimalloc's allocations, the library's counters; see
// bench/servers/memory-probe.ts) every 10 s to $TMPDIR/soak-probe-<mode>.jsonl.
import { readFileSync, writeFileSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { rssKib, startServer } from "./harness.ts";

const root = join(import.meta.dir, "..");
const minutes = Number(process.env.SOAK_MINUTES ?? 30);
const warmupMinutes = Number(process.env.WARMUP_MINUTES ?? 2);
const rate = Number(process.env.RATE ?? 200);
const modes = (process.env.MODES ?? "poll,callback,manual").split(",");
const tls = { CERT: join(root, "certs", "dev", "cert.pem"), KEY: join(root, "certs", "dev", "key.pem") };
const bun = join(root, "node_modules", ".bin", "bun");

if (process.env.SOAK_DRIVER) await drive(Number(process.env.SOAK_DRIVER));
else await main();

/** The load: RATE requests/s for SOAK_MINUTES, at most 64 in flight. */
async function drive(port: number) {
  const init = { protocol: "http3", tls: { rejectUnauthorized: false } } as RequestInit;
  const upload = new Uint8Array(64 * 1024).fill(7);
  const end = Date.now() + minutes * 60_000;
  let sent = 0, ok = 0, failed = 0, inFlight = 0;
  const one = async (n: number) => {
    inFlight++;
    try {
      const response = n % 10 === 9
        ? await fetch(`https://127.0.0.1:${port}/upload`, { ...init, method: "POST", body: upload })
        : await fetch(`https://127.0.0.1:${port}/hello`, init);
      const text = await response.text();
      const expected = n % 10 === 9 ? String(upload.length) : "hello";
      if (response.status === 200 && text === expected) ok++;
      else failed++;
    } catch {
      failed++;
    } finally {
      inFlight--;
    }
  };
  const started = Date.now();
  while (Date.now() < end) {
    const due = Math.floor(((Date.now() - started) / 1000) * rate);
    while (sent < due && inFlight < 64) void one(sent++);
    await Bun.sleep(5);
  }
  while (inFlight > 0) await Bun.sleep(10);
  console.log(JSON.stringify({ sent, ok, failed }));
}

async function main() {
  const runs = modes.map(async (mode) => {
    const probe: Record<string, string> = {};
    if (process.env.PROBE === "1") writeFileSync((probe.MEMORY_PROBE = join(tmpdir(), `soak-probe-${process.env.PROBE_TAG ?? ""}${mode}.jsonl`)), "");
    const server = await startServer(root, "bench/servers/ours.ts", { MODE: mode, ...tls, ...probe });
    const driver = Bun.spawn([bun, join(import.meta.dir, "soak-long.ts")], { env: { ...process.env, SOAK_DRIVER: String(server.port) }, stdout: "pipe", stderr: "inherit" });
    const samples: { minute: number; rss_kib: number }[] = [];
    const started = Date.now();
    const timer = setInterval(() => samples.push({ minute: (Date.now() - started) / 60_000, rss_kib: rssKib(server.pid) }), 10_000);
    const load = JSON.parse(await new Response(driver.stdout).text()) as { sent: number; ok: number; failed: number };
    clearInterval(timer);
    server.child.kill("SIGTERM");
    await server.child.exited;
    const steady = samples.filter((s) => s.minute >= warmupMinutes);
    const baseline = steady[0]?.rss_kib ?? 0;
    const low = Math.min(...steady.map((s) => s.rss_kib));
    const high = Math.max(...steady.map((s) => s.rss_kib));
    const result = {
      mode,
      minutes,
      ...load,
      rss_baseline_mb: +(baseline / 1024).toFixed(1),
      rss_min_mb: +(low / 1024).toFixed(1),
      rss_max_mb: +(high / 1024).toFixed(1),
      rss_last_mb: +((steady.at(-1)?.rss_kib ?? 0) / 1024).toFixed(1),
      within_10_percent: steady.length > 0 && low >= baseline * 0.9 && high <= baseline * 1.1,
    };
    console.log(JSON.stringify(result));
    return result;
  });
  const results = await Promise.all(runs);
  const rows = results.map((r) =>
    `| ${r.mode} | ${r.minutes} | ${r.sent.toLocaleString("en-US")} | ${r.failed} | ${r.rss_baseline_mb} | ${r.rss_min_mb} – ${r.rss_max_mb} | ${r.rss_last_mb} | ${r.within_10_percent ? "yes" : "NO"} |`);
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? "CPU"}, ${Math.round(totalmem() / 2 ** 30)} GiB`;
  const section = `<!-- soak:start -->
## ${minutes}-minute soak per event mode (issue 7)

Generated by \`node_modules/.bin/bun bench/soak-long.ts\` on ${new Date().toISOString().slice(0, 10)} (${machine}). The
three servers ran at the same time, each in its own process with its own load process (Bun's fetch over HTTP/3) at
${rate} requests/s: GET /hello, and every tenth request a 64 KiB POST /upload. Server RSS sampled every 10 s; the
baseline is the first sample after a ${warmupMinutes}-minute warm-up.

| mode | minutes | requests | failed | RSS baseline (MB) | RSS range after warm-up (MB) | RSS at end (MB) | within ±10 % |
|---|---|---|---|---|---|---|---|
${rows.join("\n")}
<!-- soak:end -->`;
  const path = join(import.meta.dir, "RESULTS.md");
  const current = readFileSync(path, "utf8");
  writeFileSync(path, current.includes("<!-- soak:start -->") ? current.replace(/<!-- soak:start -->[\s\S]*<!-- soak:end -->/, section) : current.trimEnd() + "\n\n" + section + "\n");
  process.exit(results.every((r) => r.failed === 0 && r.within_10_percent) ? 0 : 1);
}
