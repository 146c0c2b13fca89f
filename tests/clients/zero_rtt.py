"""Session resumption and 0-RTT with aioquic (a QUIC/HTTP/3 stack we did not
write): a first connection to HOST:FIRST_PORT sends GET / and keeps the
session ticket the server issues; a second connection, to HOST:SECOND_PORT,
offers that ticket and sends the given requests at once, before its
handshake completes, so aioquic puts them in 0-RTT packets when the ticket
allows early data. Prints one JSON object.

usage: zero_rtt.py HOST FIRST_PORT SECOND_PORT REQUESTS_JSON
REQUESTS_JSON: [{"method": "GET", "path": "/x", "body": "text"}, ...]
Output: {"first": {"status", "body"}, "ticket": {"max_early_data_size"} | null,
         "second": {"resumed": bool, "early_data_accepted": bool,
                    "sent_in_0rtt": bool, "first_flight_datagrams": int,
                    "results": [{"status", "body", "reset", "left_in_0rtt"}, ...]}}
left_in_0rtt: the request's bytes and FIN were all written into 0-RTT
packets by the first transmit (none held back for later).
first_flight_datagrams: datagrams of that transmit. With one, the server
reads every request before it has even answered the ClientHello, so none can
be read after the client's Finished: what the server says is deterministic.
"""
import asyncio
import json
import ssl
import sys

from aioquic import tls
from aioquic.asyncio import connect
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.h3.connection import H3_ALPN, H3Connection
from aioquic.h3.events import DataReceived, HeadersReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import StreamReset

TIMEOUT_S = 10


class Client(QuicConnectionProtocol):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.h3 = H3Connection(self._quic)
        self.results = {}
        self.waiters = {}
        self.last_transmit_datagrams = 0
        # Counts the datagrams of each transmit.
        datagrams_to_send = self._quic.datagrams_to_send

        def counting(now):
            datagrams = datagrams_to_send(now=now)
            self.last_transmit_datagrams = len(datagrams)
            return datagrams

        self._quic.datagrams_to_send = counting

    def in_0rtt(self):
        """Whether stream data sent now leaves in 0-RTT packets: the 0-RTT
        keys are installed and the 1-RTT ones not yet."""
        cryptos = self._quic._cryptos
        return cryptos[tls.Epoch.ZERO_RTT].send.is_valid() and not cryptos[tls.Epoch.ONE_RTT].send.is_valid()

    def request(self, host, spec):
        stream_id = self._quic.get_next_available_stream_id()
        body = spec.get("body", "").encode()
        headers = [
            (b":method", spec["method"].encode()),
            (b":scheme", b"https"),
            (b":authority", host.encode()),
            (b":path", spec["path"].encode()),
        ] + [(n.encode(), v.encode()) for n, v in spec.get("headers", [])]
        self.h3.send_headers(stream_id, headers, end_stream=not body)
        if body:
            self.h3.send_data(stream_id, body, end_stream=True)
        self.results[stream_id] = {"status": None, "body": b"", "reset": None}
        self.waiters[stream_id] = self._loop.create_future()
        return self.waiters[stream_id]

    def finish(self, stream_id):
        waiter = self.waiters.get(stream_id)
        if waiter and not waiter.done():
            waiter.set_result(self.results[stream_id])

    def quic_event_received(self, event):
        if isinstance(event, StreamReset) and event.stream_id in self.results:
            self.results[event.stream_id]["reset"] = event.error_code
            self.finish(event.stream_id)
            return
        for h3_event in self.h3.handle_event(event):
            result = self.results.get(getattr(h3_event, "stream_id", None))
            if result is None:
                continue
            if isinstance(h3_event, HeadersReceived) and result["status"] is None:
                result["status"] = int(dict(h3_event.headers)[b":status"])
            elif isinstance(h3_event, DataReceived):
                result["body"] += h3_event.data
            if getattr(h3_event, "stream_ended", False):
                self.finish(h3_event.stream_id)


def configuration(ticket=None):
    config = QuicConfiguration(is_client=True, alpn_protocols=H3_ALPN, verify_mode=ssl.CERT_NONE, server_name="localhost")
    config.session_ticket = ticket
    return config


def printable(result):
    return {"status": result["status"], "body": result["body"].decode(errors="replace"), "reset": result["reset"]}


async def main():
    host, first_port, second_port, specs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), json.loads(sys.argv[4])
    tickets = []
    async with connect(host, first_port, configuration=configuration(), create_protocol=Client, session_ticket_handler=tickets.append) as client:
        waiter = client.request(host, {"method": "GET", "path": "/"})
        client.transmit()
        first = await asyncio.wait_for(waiter, TIMEOUT_S)
        # The server sends its tickets right after the handshake; they may
        # trail the response by a packet.
        for _ in range(100):
            if tickets:
                break
            await asyncio.sleep(0.02)
    output = {"first": printable(first), "ticket": None, "second": None}
    if not tickets:
        print(json.dumps(output))
        return
    ticket = tickets[-1]
    output["ticket"] = {"max_early_data_size": ticket.max_early_data_size}
    async with connect(host, second_port, configuration=configuration(ticket), create_protocol=Client, wait_connected=False) as client:
        sent_in_0rtt = client.in_0rtt()
        waiters = [client.request(host, spec) for spec in specs]
        # One transmit for all of them: the ClientHello's datagram carries
        # them in 0-RTT packets. Sent one by one, aioquic's pacer may hold a
        # later one back until the handshake completed, and it would then
        # leave in 1-RTT.
        client.transmit()
        first_flight_datagrams = client.last_transmit_datagrams
        left_in_0rtt = [client.in_0rtt() and client._quic._streams[sid].sender.buffer_is_empty for sid in client.results]
        results = await asyncio.wait_for(asyncio.gather(*waiters), TIMEOUT_S)
        output["second"] = {
            "resumed": client._quic.tls.session_resumed,
            "early_data_accepted": client._quic.tls.early_data_accepted,
            "sent_in_0rtt": sent_in_0rtt,
            "first_flight_datagrams": first_flight_datagrams,
            "results": [dict(printable(r), left_in_0rtt=early) for r, early in zip(results, left_in_0rtt)],
        }
    print(json.dumps(output))


asyncio.run(main())
