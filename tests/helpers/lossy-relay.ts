// A user-space lossy network between a client and a server: every datagram
// either way is dropped with probability `loss`, else delayed by `delayMs`
// plus up to `jitterMs` (which also reorders). This kernel has no netem
// (CONFIG_NET_SCH_NETEM is not set), so the relay stands in for it. The
// drop decisions come from a seeded generator, so a run is repeatable.

export interface LossyRelay {
  port: number;
  forwarded: number;
  dropped: number;
  close(): void;
}

export async function lossyRelay(target: { host: string; port: number }, options: { loss: number; delayMs: number; jitterMs: number; seed?: number }): Promise<LossyRelay> {
  let state = options.seed ?? 0x2545f491;
  const random = () => {
    // xorshift32
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296;
  };
  const relay: LossyRelay = { port: 0, forwarded: 0, dropped: 0, close: () => {} };
  const pass = (send: () => void) => {
    if (random() < options.loss) {
      relay.dropped++;
      return;
    }
    relay.forwarded++;
    setTimeout(send, options.delayMs + random() * options.jitterMs);
  };
  /** The part of a Bun UDP socket the relay uses. */
  type Udp = { send(data: Uint8Array, port: number, address: string): boolean; close(): void };
  const upstreams = new Map<string, Udp>();
  const front: Udp & { port: number } = await Bun.udpSocket({
    hostname: "127.0.0.1",
    socket: {
      data(_socket, data, port, address) {
        const packet = new Uint8Array(data); // the socket's buffer is reused
        const key = `${address}:${port}`;
        const forward = (upstream: Udp) => pass(() => void upstream.send(packet, target.port, target.host));
        const existing = upstreams.get(key);
        if (existing) return forward(existing);
        void Bun.udpSocket({
          socket: {
            data(_up, reply) {
              const back = new Uint8Array(reply);
              pass(() => void front.send(back, port, address));
            },
          },
        }).then((upstream) => {
          upstreams.set(key, upstream as unknown as Udp);
          forward(upstream as unknown as Udp);
        });
      },
    },
  });
  relay.port = front.port;
  relay.close = () => {
    front.close();
    for (const upstream of upstreams.values()) upstream.close();
  };
  return relay;
}
