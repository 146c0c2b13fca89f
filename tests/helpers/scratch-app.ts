// A new user's app, made once per test file (bun test gives each file its
// own module state): the two tarballs
// scripts/pack.ts makes, installed offline into a fresh `bun init` app with
// the packages bun init gives (pinned), and a `bun` on PATH as a Bun user
// has. tests/install.test.ts checks each step; tests/readme.test.ts runs
// the README's code blocks in it.
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const root = join(import.meta.dir, "..", "..");
export const bun = process.execPath;
const version = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).version;
export const mainTarball = join(root, "dist", `zig-quiche-h3-${version}.tgz`);
export const platformTarball = join(root, "dist", `zig-quiche-h3-linux-x64-gnu-${version}.tgz`);
// bun init asks for the newest @types/bun and TypeScript; these are the
// versions it gave when this test was written, pinned so that the tests do
// not change under us.
const USER_TYPES = ["@types/bun@1.4.5", "typescript@7.0.2"];
/** Nothing listens on port 9 (discard): any request to the registry fails. */
export const NO_REGISTRY = "http://127.0.0.1:9/";

export interface ScratchApp {
  dir: string;
  /** PATH with `bun` first (the package's command starts with `#!/usr/bin/env bun`). */
  env: Record<string, string>;
  run(argv: string[], env?: Record<string, string>): { code: number; out: string; err: string };
  /** Installs both tarballs with the registry unreachable. */
  install(): { code: number; out: string; err: string };
}

let made: ScratchApp | undefined;
let installed = false;

/** The app after `bun init` (not yet holding zig-quiche-h3); made on first call. */
export function scratchApp(): ScratchApp {
  if (made) return made;
  const packed = Bun.spawnSync([bun, join(root, "scripts", "pack.ts"), "--no-build"], { cwd: root });
  if (packed.exitCode !== 0) throw new Error(`scripts/pack.ts failed: ${packed.stdout}${packed.stderr}`);
  const dir = mkdtempSync(join(tmpdir(), "zig-h3-app-"));
  const binDir = join(dir, ".bin-for-test");
  Bun.spawnSync(["mkdir", "-p", binDir]);
  symlinkSync(bun, join(binDir, "bun"));
  symlinkSync(bun, join(binDir, "bunx"));
  const env = { ...(process.env as Record<string, string>), PATH: `${binDir}:${process.env.PATH}` };
  const run = (argv: string[], extra: Record<string, string> = {}) => {
    const result = Bun.spawnSync(argv, { cwd: dir, env: { ...env, ...extra } });
    return { code: result.exitCode ?? -1, out: result.stdout.toString(), err: result.stderr.toString() };
  };
  for (const argv of [[bun, "init", "-y"], [bun, "add", "-d", "--exact", ...USER_TYPES]]) {
    const step = run(argv);
    if (step.code !== 0) throw new Error(`${argv.slice(1).join(" ")} failed: ${step.err}`);
  }
  process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
  made = {
    dir,
    env,
    run,
    install() {
      const result = run([bun, "add", mainTarball, platformTarball], { BUN_CONFIG_REGISTRY: NO_REGISTRY });
      installed ||= result.code === 0;
      return result;
    },
  };
  return made;
}

/** The app with zig-quiche-h3 installed. */
export function installedApp(): ScratchApp {
  const app = scratchApp();
  if (!installed) {
    const result = app.install();
    if (result.code !== 0) throw new Error(`bun add of the tarballs failed: ${result.err}`);
  }
  return app;
}
