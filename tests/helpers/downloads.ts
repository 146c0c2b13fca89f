// Checks a /bytes/:n download from the showcase end to end: status, length
// and sha256 against the pattern the server streams.
import { expect } from "bun:test";
import { patternChunks } from "../../examples/showcase.ts";
import { h3fetch } from "./clients.ts";

export async function expectPatternDownload(url: string | URL, size: number): Promise<void> {
  const expected = new Bun.CryptoHasher("sha256");
  for (const chunk of patternChunks(size)) expected.update(chunk);
  const response = await h3fetch(url);
  expect(response.status).toBe(200);
  const hasher = new Bun.CryptoHasher("sha256");
  let received = 0;
  for await (const chunk of response.body!) {
    hasher.update(chunk);
    received += chunk.length;
  }
  expect(received).toBe(size);
  expect(hasher.digest("hex")).toBe(expected.digest("hex"));
}
