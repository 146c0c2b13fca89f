// Makes the two npm tarballs a user installs, the way esbuild and Biome
// ship native code:
//   dist/zig-quiche-h3-<version>.tgz                   TypeScript, .d.ts, sources
//   dist/zig-quiche-h3-linux-x64-gnu-<version>.tgz     the stripped library
// The main package lists the platform package in optionalDependencies, so a
// package manager installs only the one matching the machine (os, cpu,
// libc fields). Usage: bun scripts/pack.ts [--no-build]
import { $ } from "bun";
import { cpSync, mkdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const root = join(import.meta.dir, "..");
const dist = join(root, "dist");
const pkg = await Bun.file(join(root, "package.json")).json();
// This machine builds one platform; the others need their own builders
// (README, "Platforms").
const platform = { name: "linux-x64-gnu", os: ["linux"], cpu: ["x64"], libc: ["glibc"] };
const platformName = `${pkg.name}-${platform.name}`;
const library = "libzigquicheh3.so";

function stage(name: string): string {
  const dir = join(dist, "npm", name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return dir;
}

function writeJson(path: string, value: unknown) {
  writeFileSync(path, JSON.stringify(value, null, 2) + "\n");
}

/** npm pack into dist/; returns the tarball's path. */
async function pack(dir: string): Promise<string> {
  const name = (await $`npm pack --silent --pack-destination ${dist}`.cwd(dir).text()).trim().split("\n").pop()!;
  return join(dist, name);
}

if (!process.argv.includes("--no-build")) await $`bash ${join(root, "scripts", "build.sh")}`;
mkdirSync(dist, { recursive: true });

// The platform package: the library without its symbol tables (5 MiB
// instead of 13), plus what npm shows on its page.
const platformDir = stage(platformName);
await $`strip --strip-unneeded -o ${join(platformDir, library)} ${join(root, "zig-out", "lib", library)}`;
cpSync(join(root, "LICENSE"), join(platformDir, "LICENSE"));
writeFileSync(
  join(platformDir, "README.md"),
  `# ${platformName}\n\nThe prebuilt \`${library}\` of [${pkg.name}](../${pkg.name}) for ${platform.name} (glibc 2.34 or newer, x86-64-v2). Installed by \`bun add ${pkg.name}\`; not meant to be used alone.\n`,
);
writeJson(join(platformDir, "package.json"), {
  name: platformName,
  version: pkg.version,
  description: `The prebuilt ${library} of ${pkg.name} for ${platform.name}`,
  license: pkg.license,
  os: platform.os,
  cpu: platform.cpu,
  libc: platform.libc,
  files: [library, "README.md", "LICENSE"],
});

// The main package: the TypeScript sources Bun runs, declarations for the
// user's typecheck, and the sources of a build for platforms without a
// prebuilt package.
await $`${join(root, "node_modules", ".bin", "tsc")} -p ${join(root, "tsconfig.types.json")} --outDir ${join(dist, "types")}`;
const mainDir = stage(pkg.name);
const copied = [
  "ts",
  "include",
  "zig-src",
  "build.zig",
  "build.zig.zon",
  "third_party/quiche/Cargo.toml",
  "third_party/quiche/Cargo.lock",
  "third_party/quiche/src",
  "third_party/quiche/patch.py",
  "scripts/build.sh",
  "scripts/build-quiche.sh",
  "scripts/gen-dev-cert.sh",
  "README.md",
  "LICENSE",
];
for (const path of copied) cpSync(join(root, path), join(mainDir, path), { recursive: true });
cpSync(join(dist, "types"), join(mainDir, "types"), { recursive: true });
writeJson(join(mainDir, "package.json"), {
  name: pkg.name,
  version: pkg.version,
  description: pkg.description,
  license: pkg.license,
  keywords: ["http3", "quic", "webtransport", "bun", "quiche", "zig"],
  type: "module",
  os: ["linux"],
  cpu: ["x64"],
  engines: { bun: ">=1.4.0" },
  types: "./types/index.d.ts",
  module: "./ts/index.ts",
  exports: {
    ".": { types: "./types/index.d.ts", default: "./ts/index.ts" },
    "./rpc": { types: "./types/rpc/index.d.ts", default: "./ts/rpc/index.ts" },
    "./rpc/client": { types: "./types/rpc/client-index.d.ts", default: "./ts/rpc/client-index.ts" },
    "./package.json": "./package.json",
  },
  bin: { [pkg.name]: "./ts/cli.ts" },
  optionalDependencies: { [platformName]: pkg.version },
  files: [...copied.filter((path) => path !== "README.md" && path !== "LICENSE"), "types"],
});

for (const tarball of [await pack(mainDir), await pack(platformDir)]) {
  console.log(`${tarball}  ${(statSync(tarball).size / 1024).toFixed(0)} KiB`);
}
