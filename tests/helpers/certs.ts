// A fresh development certificate per test process, made by the same script
// the setup uses, so tests never depend on certs/dev/.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = join(import.meta.dir, "..", "..");

export function makeCertificate(): { cert: string; key: string; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), "zig-h3-test-cert-"));
  const result = Bun.spawnSync([join(root, "scripts", "gen-dev-cert.sh"), dir]);
  if (result.exitCode !== 0) throw new Error(`gen-dev-cert.sh failed: ${result.stderr.toString()}`);
  return { cert: join(dir, "cert.pem"), key: join(dir, "key.pem"), dir };
}
