#!/usr/bin/env bun
// The package's command line, for what a user does once per machine:
//   bunx zig-quiche-h3 cert [dir]   a development certificate for localhost
//   bunx zig-quiche-h3 build        the library from source (no prebuilt package)
//   bunx zig-quiche-h3 version      which library the loader finds
import { join } from "node:path";

const root = join(import.meta.dir, "..");
const [command = "help", ...rest] = process.argv.slice(2);

function run(argv: string[]): number {
  return Bun.spawnSync(argv, { stdio: ["inherit", "inherit", "inherit"] }).exitCode ?? 1;
}

switch (command) {
  case "cert": {
    // ECDSA P-256 for localhost, 127.0.0.1 and ::1, valid 10 days (browsers
    // accept serverCertificateHashes only for <= 14 days); needs openssl.
    const dir = rest[0] ?? "certs";
    const code = run(["bash", join(root, "scripts", "gen-dev-cert.sh"), dir]);
    if (code === 0) console.log(`tls: { cert: Bun.file("${dir}/cert.pem"), key: Bun.file("${dir}/key.pem") }`);
    process.exit(code);
  }
  case "build":
    process.exit(run(["bash", join(root, "scripts", "build.sh")]));
  case "version": {
    const { version } = await import("./loader.ts");
    console.log(version());
    break;
  }
  default:
    console.log("usage: bunx zig-quiche-h3 cert [dir] | build | version");
    process.exit(command === "help" || command === "--help" ? 0 : 2);
}
