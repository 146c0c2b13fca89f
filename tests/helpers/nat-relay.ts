// A user-space NAT between one client and a server, as the QUIC interop
// runner's rebinding cases use: the client talks to the relay's front
// socket, and the relay talks to the server from a "public binding" of its
// own. On a rebind the relay moves to a new binding, a new source port on
// 127.0.0.1 ("port") or a new source address, 127.0.0.2 ("address", also
// loopback on Linux), mid-connection and without telling anyone. Like a
// real NAT that forgot the old mapping, it then drops whatever the server
// still sends to an old binding (and counts it), so packets in flight at
// the moment of the rebind are lost and the server must retransmit them
// on the new path. Rebinds happen when the bytes relayed to the client
// pass given thresholds, so a test never waits on a clock.

/** The part of a Bun UDP socket the relay uses. */
type Udp = { port: number; send(data: Uint8Array, port: number, address: string): boolean; close(): void };

export type RebindKind = "port" | "address";

export interface NatRelay {
  /** The front socket's port, where the client sends (127.0.0.1). */
  port: number;
  /** Datagrams relayed client → server and server → client. */
  toServer: number;
  toClient: number;
  /** Payload bytes relayed server → client. */
  bytesToClient: number;
  /** Server datagrams that arrived on a binding given up by a rebind. */
  droppedOnOldBinding: number;
  /** Every binding used, in order: "address:port" as the server saw it. */
  bindings: string[];
  /** Moves to a new binding now. */
  rebind(kind: RebindKind): Promise<void>;
  close(): void;
}

export interface NatRelayOptions {
  /** Rebinds to do once this many bytes went to the client, in order. */
  rebindAt?: { bytes: number; kind: RebindKind }[];
}

export async function natRelay(target: { host: string; port: number }, options: NatRelayOptions = {}): Promise<NatRelay> {
  const schedule = [...(options.rebindAt ?? [])].sort((a, b) => a.bytes - b.bytes);
  let client: { port: number; address: string } | null = null;
  let current: Udp | null = null;
  const sockets: Udp[] = [];
  let rebinding: Promise<void> | null = null;

  const relay: NatRelay = {
    port: 0,
    toServer: 0,
    toClient: 0,
    bytesToClient: 0,
    droppedOnOldBinding: 0,
    bindings: [],
    rebind: (kind) => bind(kind === "address" ? "127.0.0.2" : "127.0.0.1"),
    close: () => {
      front.close();
      for (const socket of sockets) socket.close();
    },
  };

  async function bind(hostname: string): Promise<void> {
    const socket = (await Bun.udpSocket({
      hostname,
      socket: {
        data(_socket, data) {
          // Only the current binding is mapped to the client; the NAT has
          // forgotten the others.
          if (socket !== current) {
            relay.droppedOnOldBinding++;
            return;
          }
          const packet = new Uint8Array(data); // the socket's buffer is reused
          relay.toClient++;
          relay.bytesToClient += packet.length;
          front.send(packet, client!.port, client!.address);
          checkSchedule();
        },
      },
    })) as unknown as Udp;
    sockets.push(socket);
    current = socket;
    relay.bindings.push(`${hostname}:${socket.port}`);
  }

  function checkSchedule() {
    if (rebinding || schedule.length === 0 || relay.bytesToClient < schedule[0]!.bytes) return;
    const next = schedule.shift()!;
    rebinding = relay.rebind(next.kind).finally(() => {
      rebinding = null;
    });
  }

  const front = (await Bun.udpSocket({
    hostname: "127.0.0.1",
    socket: {
      data(_socket, data, port, address) {
        client = { port, address };
        relay.toServer++;
        current!.send(new Uint8Array(data), target.port, target.host);
      },
    },
  })) as unknown as Udp;
  relay.port = front.port;
  await bind("127.0.0.1");
  return relay;
}
