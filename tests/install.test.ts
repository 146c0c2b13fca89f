// A new user's path, as the README tells it: the two tarballs scripts/pack.ts
// makes are installed offline into a fresh `bun init` app, which then
// typechecks with bun init's own tsconfig, gets a development certificate
// from the package's command, starts, and answers Bun's fetch over HTTP/3.
import { beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { h3fetch } from "./helpers/clients.ts";
import { bun, mainTarball, platformTarball, root, scratchApp, type ScratchApp } from "./helpers/scratch-app.ts";

let scratch: ScratchApp;
let app: string;
const run = (argv: string[], env?: Record<string, string>) => scratch.run(argv, env);

// Packing and `bun init` take several seconds on a loaded machine.
beforeAll(() => {
  scratch = scratchApp();
  app = scratch.dir;
}, 180_000);

describe("install from the tarballs, offline", () => {
  test("the platform tarball holds the stripped library, the main one no binary", () => {
    const list = (tarball: string) => Bun.spawnSync(["tar", "tzf", tarball]).stdout.toString().split("\n").filter(Boolean);
    const platformFiles = list(platformTarball);
    expect(platformFiles.sort()).toEqual(["package/LICENSE", "package/README.md", "package/libzigquicheh3.so", "package/package.json"]);
    const mainFiles = list(mainTarball);
    expect(mainFiles).toContain("package/ts/index.ts");
    expect(mainFiles).toContain("package/types/index.d.ts");
    expect(mainFiles).toContain("package/scripts/build.sh");
    expect(mainFiles).toContain("package/LICENSE");
    expect(mainFiles.filter((file) => file.endsWith(".so"))).toEqual([]);
    const manifest = JSON.parse(Bun.spawnSync(["tar", "xzOf", platformTarball, "package/package.json"]).stdout.toString());
    expect({ os: manifest.os, cpu: manifest.cpu, libc: manifest.libc }).toEqual({ os: ["linux"], cpu: ["x64"], libc: ["glibc"] });
    const sections = Bun.spawnSync(["bash", "-c", `tar xzOf ${platformTarball} package/libzigquicheh3.so | readelf -S -W -`]);
    expect(sections.stdout.toString()).not.toContain(".symtab");
  }, 60_000);

  test("bun add of both tarballs needs no registry and no build", () => {
    const added = scratch.install();
    expect(added.code).toBe(0);
    expect(existsSync(join(app, "node_modules", "zig-quiche-h3-linux-x64-gnu", "libzigquicheh3.so"))).toBe(true);
    // Nothing was built inside the package: the library comes from the platform package.
    expect(existsSync(join(app, "node_modules", "zig-quiche-h3", "zig-out"))).toBe(false);
  }, 60_000);

  test("a small app typechecks with bun init's tsconfig: 0 errors", () => {
    writeFileSync(
      join(app, "index.ts"),
      `import { serve, ZigH3Error } from "zig-quiche-h3";

const server = serve({
  port: 0,
  tls: { cert: Bun.file("certs/cert.pem"), key: Bun.file("certs/key.pem") },
  routes: {
    "/": () => new Response("Hello from an app\\n"),
    "/users/:id": (req) => Response.json({ id: req.params.id, via: req.headers.get("user-agent") }),
  },
  error(error) {
    const code: string = error instanceof ZigH3Error ? error.code : "unknown";
    return new Response(code, { status: 500 });
  },
});
console.log(server.url.href);
// The library in use, as the dynamic linker mapped it.
const maps = await Bun.file("/proc/self/maps").text();
console.log(maps.split("\\n").find((line) => line.includes("libzigquicheh3.so"))?.split(/\\s+/).pop());
process.on("SIGTERM", async () => {
  await server.stop();
  process.exit(0);
});
`,
    );
    const typecheck = run([join(app, "node_modules", ".bin", "tsc"), "--noEmit"]);
    expect(typecheck.out + typecheck.err).toBe("");
    expect(typecheck.code).toBe(0);
  }, 60_000);

  test("bunx zig-quiche-h3 cert makes a development certificate", () => {
    const cert = run([bun, "x", "zig-quiche-h3", "cert", "certs"]);
    expect(cert.code).toBe(0);
    expect(cert.out).toContain('tls: { cert: Bun.file("certs/cert.pem"), key: Bun.file("certs/key.pem") }');
    expect(readFileSync(join(app, "certs", "cert.pem"), "utf8")).toStartWith("-----BEGIN CERTIFICATE-----");
  }, 60_000);

  test("the app starts on the prebuilt library and answers fetch over HTTP/3", async () => {
    const child = Bun.spawn([bun, "index.ts"], { cwd: app, stdout: "pipe", stderr: "pipe" });
    try {
      const reader = child.stdout.getReader();
      let out = "";
      while (out.split("\n").length < 3) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`app exited: ${await new Response(child.stderr).text()}`);
        out += new TextDecoder().decode(value);
      }
      const [url, library] = out.split("\n");
      expect(library).toBe(join(app, "node_modules", "zig-quiche-h3-linux-x64-gnu", "libzigquicheh3.so"));
      const hello = await h3fetch(new URL("/", url));
      expect(hello.status).toBe(200);
      expect(await hello.text()).toBe("Hello from an app\n");
      const user = await h3fetch(new URL("/users/42", url), { headers: { "user-agent": "install-test" } });
      expect(await user.json()).toEqual({ id: "42", via: "install-test" });
    } finally {
      child.kill("SIGTERM");
      expect(await child.exited).toBe(0);
    }
  }, 60_000);
});

describe("building from source", () => {
  test("scripts/build.sh shows each step and the total time", () => {
    const build = Bun.spawnSync(["bash", join(root, "scripts", "build.sh")], { cwd: root, env: { ...process.env, NO_COLOR: "1" } });
    const out = build.stdout.toString();
    expect(build.exitCode).toBe(0);
    expect(out).toContain("Building quiche 0.28.0 + BoringSSL with cargo");
    expect(out).toContain("Building libzigquicheh3.so (zig build -Doptimize=ReleaseSafe)");
    expect(out).toMatch(/Built \S+\/zig-out\/lib\/libzigquicheh3\.so in \d+ s/);
  }, 60_000);
});
