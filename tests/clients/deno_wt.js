// Deno's own WebTransport client (the W3C API, Deno's implementation), run by
// tests/webtransport-deno.test.ts with the deno binary from npm:
//   deno run --unstable-net --allow-net deno_wt.js URL CERT_SHA256_HEX
// Opens a session trusting the certificate by its hash, echoes 64 KiB on a
// bidirectional stream (read back by length: Deno 2.9's writer.close() sends
// no FIN, so the echo cannot end the stream), echoes three datagrams, then
// closes with a code and a reason; prints what it saw as JSON.
const [url, hashHex] = Deno.args;
const hash = new Uint8Array(hashHex.match(/../g).map((byte) => parseInt(byte, 16)));
const transport = new WebTransport(url, { serverCertificateHashes: [{ algorithm: "sha-256", value: hash }] });
await transport.ready;

const sent = new Uint8Array(64 * 1024).map((_, i) => (i * 31 + 7) & 0xff);
const { readable, writable } = await transport.createBidirectionalStream();
const writer = writable.getWriter();
await writer.write(sent);
const received = new Uint8Array(sent.length);
let at = 0;
const reader = readable.getReader();
while (at < sent.length) {
  const { value, done } = await reader.read();
  if (done) break;
  received.set(value.subarray(0, sent.length - at), at);
  at += value.length;
}

const datagrams = transport.datagrams.writable.getWriter();
const incoming = transport.datagrams.readable.getReader();
const echoed = [];
for (const text of ["one", "two", "three"]) {
  await datagrams.write(new TextEncoder().encode(text));
  const { value } = await incoming.read();
  echoed.push(new TextDecoder().decode(value));
}

transport.close({ closeCode: 7, reason: "deno says bye" });
await transport.closed.catch(() => {});
console.log(JSON.stringify({ bytes: at, equal: at === sent.length && received.every((b, i) => b === sent[i]), datagrams: echoed }));
