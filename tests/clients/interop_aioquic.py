"""An HTTP/3 client for the QUIC interop runner's cases, built on aioquic (a
QUIC/HTTP/3 stack we did not write). It fetches PATHS over one connection
(concurrently), CONNECTIONS times in a row, and reports what it saw; the
test compares the bytes.

usage: interop_aioquic.py SPEC_JSON
SPEC_JSON: {
  "host", "port", "paths": [...],
  "connections": 1,             sequential connections (multiconnect)
  "cipher": null | "chacha20" | "aes128" | "aes256",   offer only this TLS 1.3 suite
  "key_updates": 0,             client-initiated key updates during the transfer
  "key_update_every": 1048576,  received bytes between two key updates
  "migrate": null | "port" | "address",   connection migration (see below)
  "migrate_at": 1048576,        received bytes before migrating
  "after": [],                  paths fetched once the first ones are done
  "cid_rotations": 0,           change_connection_id() calls, same socket,
  "cid_rotate_every": 1048576   one per this many received bytes
}
Prints {"connections": [{"cipher", "responses": [{"path", "status",
"length", "sha256"}], "after": [{"path", "status", "text"}], "key_updates",
"server_key_phases", "migrated", "cid_rotations", "local_addresses",
"error"}]}.

Key update: aioquic's request_key_update(). The next update is requested
only after the server's packets arrived in the current key phase and
another key_update_every bytes followed (so the server has had ACKs for
its new-phase packets, which RFC 9001 6.5 requires before a second
update). "server_key_phases" is the sequence of key phases of the 1-RTT
packets received from the server with repeats collapsed: N updates that
the server followed give N + 1 entries.

Migration: aioquic's change_connection_id() (a connection ID the server
issued and the client has not used), then every later packet leaves from a
new UDP socket, bound to 127.0.0.1 on a new port ("port") or to 127.0.0.2
("address"), and the old socket is closed: the server must validate the new
path and move the connection to it, or the transfer stops.
"""
import asyncio
import hashlib
import json
import ssl
import sys

from aioquic.asyncio import connect
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.h3.connection import H3_ALPN, H3Connection
from aioquic.h3.events import DataReceived, HeadersReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import ConnectionTerminated
from aioquic.tls import CipherSuite, Epoch

CIPHERS = {
    "chacha20": CipherSuite.CHACHA20_POLY1305_SHA256,
    "aes128": CipherSuite.AES_128_GCM_SHA256,
    "aes256": CipherSuite.AES_256_GCM_SHA384,
}


class Forwarder(asyncio.DatagramProtocol):
    """The new socket after a migration: hands what it receives to the
    client's protocol, as the original socket did."""

    def __init__(self, client):
        self.client = client

    def datagram_received(self, data, addr):
        self.client.datagram_received(data, addr)


class Client(QuicConnectionProtocol):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.h3 = H3Connection(self._quic)
        self.spec = None
        self.responses = {}
        self.waiters = {}
        self.received = 0
        self.key_updates = 0
        self.next_key_update_at = None
        self.server_phases = []
        self.migrated = False
        self.local_addresses = []
        self.terminated = None
        self.phase_hooked = False
        self.cid_rotations = 0

    def start(self, spec):
        self.spec = spec
        if spec.get("key_updates", 0) > 0:
            self.next_key_update_at = spec.get("key_update_every", 1 << 20)
        self.local_addresses.append(self._transport.get_extra_info("sockname")[:2])

    def hook_key_phases(self):
        """Records the key phase of every 1-RTT packet aioquic decrypts."""
        if self.phase_hooked:
            return
        self.phase_hooked = True
        pair = self._quic._cryptos[Epoch.ONE_RTT]
        decrypt = pair.decrypt_packet

        def recording(packet, encrypted_offset, expected_packet_number):
            plain_header, payload, packet_number = decrypt(packet, encrypted_offset, expected_packet_number)
            phase = (plain_header[0] & 4) >> 2
            if not self.server_phases or self.server_phases[-1] != phase:
                self.server_phases.append(phase)
            return plain_header, payload, packet_number

        pair.decrypt_packet = recording

    def request(self, path):
        stream_id = self._quic.get_next_available_stream_id()
        headers = [(b":method", b"GET"), (b":scheme", b"https"), (b":authority", b"localhost"), (b":path", path.encode())]
        self.h3.send_headers(stream_id, headers, end_stream=True)
        self.responses[stream_id] = {"path": path, "status": None, "hash": hashlib.sha256(), "length": 0, "bytes": bytearray()}
        self.waiters[stream_id] = self._loop.create_future()
        self.transmit()
        return self.waiters[stream_id]

    def quic_event_received(self, event):
        if isinstance(event, ConnectionTerminated):
            self.terminated = f"connection closed: error {event.error_code} {event.reason_phrase}"
            for waiter in self.waiters.values():
                if not waiter.done():
                    waiter.set_exception(RuntimeError(self.terminated))
            return
        for h3_event in self.h3.handle_event(event):
            response = self.responses.get(getattr(h3_event, "stream_id", None))
            if response is None:
                continue
            if isinstance(h3_event, HeadersReceived) and response["status"] is None:
                response["status"] = int(dict(h3_event.headers)[b":status"])
            elif isinstance(h3_event, DataReceived):
                response["hash"].update(h3_event.data)
                if response["length"] < 4096:
                    response["bytes"] += h3_event.data[: 4096 - response["length"]]
                response["length"] += len(h3_event.data)
                self.received += len(h3_event.data)
                self.after_data()
            if getattr(h3_event, "stream_ended", False) and not self.waiters[h3_event.stream_id].done():
                self.waiters[h3_event.stream_id].set_result(response)

    def after_data(self):
        if self.next_key_update_at is not None and self.received >= self.next_key_update_at:
            self.maybe_update_key()
        every = self.spec.get("cid_rotate_every", 1 << 20)
        if self.cid_rotations < self.spec.get("cid_rotations", 0) and self.received >= (self.cid_rotations + 1) * every:
            # Only with a spare ID of the server's: aioquic does nothing otherwise.
            if self._quic._peer_cid_available:
                self._quic.change_connection_id()
                self.transmit()
                self.cid_rotations += 1
        if self.spec.get("migrate") and not self.migrated and self.received >= self.spec.get("migrate_at", 1 << 20):
            self.migrated = True
            asyncio.ensure_future(self.migrate(self.spec["migrate"]))

    def maybe_update_key(self):
        self.hook_key_phases()
        pair = self._quic._cryptos[Epoch.ONE_RTT]
        # The server answered the previous update: its packets arrive in
        # the phase we send in.
        if self.server_phases and self.server_phases[-1] != pair.key_phase:
            return
        self._quic.request_key_update()
        self.transmit()
        self.key_updates += 1
        every = self.spec.get("key_update_every", 1 << 20)
        self.next_key_update_at = self.received + every if self.key_updates < self.spec["key_updates"] else None

    async def migrate(self, kind):
        # aioquic's socket is dual-stack and addresses the server as an
        # IPv4-mapped IPv6 address, so the new socket is too.
        host = "::ffff:127.0.0.2" if kind == "address" else "::ffff:127.0.0.1"
        loop = asyncio.get_event_loop()
        transport, _ = await loop.create_datagram_endpoint(lambda: Forwarder(self), local_addr=(host, 0))
        if self.spec.get("change_cid", True):
            self._quic.change_connection_id()
        old = self._transport
        self._transport = transport
        self.local_addresses.append(transport.get_extra_info("sockname")[:2])
        old.close()
        self.transmit()


async def one_connection(spec):
    configuration = QuicConfiguration(is_client=True, alpn_protocols=H3_ALPN, verify_mode=ssl.CERT_NONE)
    if spec.get("cipher"):
        configuration.cipher_suites = [CIPHERS[spec["cipher"]]]
    result = {"responses": [], "after": [], "cipher": None, "key_updates": 0, "server_key_phases": [], "migrated": False, "local_addresses": [], "error": None}
    client = None
    try:
        async with connect(spec["host"], spec["port"], configuration=configuration, create_protocol=Client) as client:
            client.start(spec)
            client.hook_key_phases()
            suite = client._quic.tls.key_schedule.cipher_suite if client._quic.tls.key_schedule else None
            result["cipher"] = suite.name if suite is not None else None
            futures = [client.request(path) for path in spec["paths"]]
            responses = await asyncio.wait_for(asyncio.gather(*futures), timeout=spec.get("timeout", 60))
            result["responses"] = [{"path": r["path"], "status": r["status"], "length": r["length"], "sha256": r["hash"].hexdigest()} for r in responses]
            after = await asyncio.wait_for(asyncio.gather(*[client.request(path) for path in spec.get("after", [])]), timeout=spec.get("timeout", 60))
            result["after"] = [{"path": r["path"], "status": r["status"], "text": r["bytes"].decode("utf-8", "replace")} for r in after]
    except Exception as error:  # reported, and the test fails on it
        result["error"] = f"{type(error).__name__}: {error}"
    if client is not None:
        result.update(cid_rotations=client.cid_rotations, key_updates=client.key_updates, server_key_phases=client.server_phases, migrated=client.migrated, local_addresses=client.local_addresses)
    return result


async def main(spec):
    results = []
    for _ in range(spec.get("connections", 1)):
        results.append(await one_connection(spec))
    print(json.dumps({"connections": results}))


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))
