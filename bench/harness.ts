// What bench/compare and bench/layer share: starting a server script in a
// process pinned to CPU 0, running the load generator pinned to CPU 1, and
// taking the median of repeated rate runs.
import { readFileSync } from "node:fs";
import { join } from "node:path";

const root = join(import.meta.dir, "..");
const loadgen = join(root, "zig-out", "bin", "h3load");
const bun = join(root, "node_modules", ".bin", "bun");

export type Result = Record<string, number>;

export function rssKib(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
}

/** Starts `script` (relative to `tree`, a checkout of this repository) and waits for "ready <port>". */
export async function startServer(tree: string, script: string, env: Record<string, string>) {
  const child = Bun.spawn(["taskset", "-c", "0", bun, join(tree, script)], {
    env: { ...process.env, ...env },
    stdout: "pipe",
    stderr: "inherit",
  });
  const reader = child.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`${script} in ${tree} exited before it was ready`);
    text += new TextDecoder().decode(value);
  }
  const port = Number(/ready (\d+)/.exec(text)?.[1]);
  return { child, port, pid: child.pid };
}

/** Runs h3load; `onEstablished` runs 1 s after it reports every connection up (idle mode). */
export async function runLoad(port: number, args: string[], onEstablished?: () => void): Promise<Result> {
  const child = Bun.spawn(["taskset", "-c", "1", loadgen, "--port", String(port), ...args], { stdout: "pipe", stderr: "pipe" });
  const stderrText = (async () => {
    let text = "";
    for await (const chunk of child.stderr) {
      text += new TextDecoder().decode(chunk);
      if (onEstablished && text.includes("established\n")) {
        const run = onEstablished;
        onEstablished = undefined;
        setTimeout(run, 1000);
      }
    }
    return text;
  })();
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), stderrText, child.exited]);
  if (code !== 0) throw new Error(`h3load ${args.join(" ")} failed (${code}): ${stderr}`);
  return JSON.parse(stdout);
}

/** Median of `repeat` runs by request rate. */
export async function measureRate(port: number, args: string[], repeat: number): Promise<Result> {
  const runs: Result[] = [];
  for (let i = 0; i < repeat; i++) runs.push(await runLoad(port, args));
  runs.sort((a, b) => a.rps! - b.rps!);
  return { ...runs[Math.floor(runs.length / 2)]!, runs: runs.length };
}

