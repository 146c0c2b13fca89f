// Every code block of README.md, run in a new user's app (the packed
// tarballs installed offline into a `bun init` app; tests/helpers/scratch-app.ts),
// importing "zig-quiche-h3" as a user does. The README's conventions:
// - ```sh blocks run line by line in the app, as a user would type them.
//   `bun add zig-quiche-h3` installs the tarballs instead (the package is
//   not on the registry from this tree); `bun run <file>` starts a server
//   that keeps running, so it is started in the background and waited for
//   until it prints its first line. A `# → text` line is what the command
//   before it prints.
// - ```ts <file> blocks are files the next blocks use.
// - ```ts blocks are programs: each must exit with 0 and print exactly the
//   lines its `// → text` comments show, in order.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { bun, installedApp, root, scratchApp, type ScratchApp } from "./helpers/scratch-app.ts";

interface Block {
  language: string;
  file: string | null;
  code: string;
  line: number;
}

const readme = readFileSync(join(root, "README.md"), "utf8");
const blocks: Block[] = [...readme.matchAll(/^```(\w+)[ \t]*([^\n]*)\n([\s\S]*?)^```$/gm)].map((match) => ({
  language: match[1]!,
  file: match[2]!.trim() || null,
  code: match[3]!,
  line: readme.slice(0, match.index).split("\n").length,
}));
const background: Subprocess[] = [];
/** Packing, `bun init` and installing take several seconds on a loaded machine. */
const SETUP_TIMEOUT_MS = 180_000;
const BLOCK_TIMEOUT_MS = 60_000;

// Each test file has its own module state, so this file makes its own app.
beforeAll(() => void scratchApp(), SETUP_TIMEOUT_MS);

afterAll(async () => {
  for (const child of background) child.kill("SIGTERM");
  await Promise.all(background.map((child) => child.exited));
});

/** The lines a block says it prints (`// → x` in TS, `# → x` in shell). */
function expectedLines(code: string, marker: RegExp): string[] {
  return [...code.matchAll(marker)].map((match) => match[1]!);
}

/** Starts `bun run <file>` in the background; resolves with its first line. */
async function startServer(app: ScratchApp, argv: string[]): Promise<string> {
  const child = Bun.spawn(argv, { cwd: app.dir, env: app.env, stdout: "pipe", stderr: "pipe" });
  background.push(child);
  const reader = child.stdout.getReader();
  let out = "";
  while (!out.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`${argv.join(" ")} exited: ${await new Response(child.stderr).text()}`);
    out += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  return out.split("\n")[0]!;
}

async function runShell(app: ScratchApp, code: string) {
  const lines = code.split("\n");
  for (let index = 0; index < lines.length; index++) {
    const command = lines[index]!.replace(/\s+#(?! →).*$/, "").trim();
    if (!command || command.startsWith("#")) continue;
    const printed: string[] = [];
    for (let next = index + 1; lines[next]?.startsWith("# → "); next++) printed.push(lines[next]!.slice("# → ".length));
    if (command === "bun add zig-quiche-h3") {
      installedApp();
      continue;
    }
    const server = /^bun run (\S+)$/.exec(command);
    if (server) {
      expect(await startServer(app, [bun, "run", server[1]!])).toStartWith("Listening on https://");
      continue;
    }
    const result = app.run(["bash", "-c", command]);
    if (result.code !== 0) throw new Error(`\`${command}\` failed (${result.code}): ${result.err}`);
    if (printed.length) expect(result.out.trimEnd().split("\n")).toEqual(printed);
  }
}

async function runProgram(app: ScratchApp, block: Block) {
  const path = join(app.dir, `readme-line-${block.line}.ts`);
  writeFileSync(path, block.code);
  const child = Bun.spawn([bun, path], { cwd: app.dir, env: app.env, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  if (code !== 0) throw new Error(`README block at line ${block.line} exited with ${code}:\n${err}`);
  expect(out.trimEnd().split("\n")).toEqual(expectedLines(block.code, /\/\/ → (.*)$/gm));
}

describe("README.md", () => {
  test("has code blocks of the kinds this test runs, and every program shows what it prints", () => {
    expect(blocks.length).toBeGreaterThanOrEqual(8);
    for (const block of blocks) {
      expect(["sh", "ts"]).toContain(block.language);
      if (block.language === "ts" && !block.file) expect(expectedLines(block.code, /\/\/ → (.*)$/gm).length).toBeGreaterThan(0);
    }
  });

  // One test per block, in README order: later blocks use what earlier ones
  // made (the installed package, the certificate, server.ts).
  for (const block of blocks) {
    const title = `${block.language}${block.file ? ` ${block.file}` : ""} block at line ${block.line}: ${block.code.split("\n")[0]}`;
    test(title, async () => {
      const app = scratchApp();
      if (block.language === "sh") return runShell(app, block.code);
      if (block.file) return writeFileSync(join(app.dir, block.file), block.code);
      return runProgram(app, block);
    }, BLOCK_TIMEOUT_MS);
  }

  test("every README program typechecks in the app with bun init's tsconfig", () => {
    const app = installedApp();
    const files = blocks.filter((block) => block.language === "ts").map((block) => block.file ?? `readme-line-${block.line}.ts`);
    const typecheck = app.run([join(app.dir, "node_modules", ".bin", "tsc"), "--noEmit", "-p", "."]);
    const errors = (typecheck.out + typecheck.err).split("\n").filter((line) => files.some((file) => line.startsWith(file)));
    expect(errors).toEqual([]);
    expect(typecheck.code).toBe(0);
  }, BLOCK_TIMEOUT_MS);
});
