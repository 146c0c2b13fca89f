"""Connects with aioquic (a QUIC stack we did not write), sends COUNT GET
requests for PATH, and prints the connection IDs the server chose for
itself as aioquic saw them: the one in use (the source CID of the
server's long-header packets, or a Retry's) and any more it issued.

Prints JSON: {"statuses": [...], "bodies": [...], "server_cids": ["hex", ...]}.

usage: quic_lb_cids.py HOST PORT PATH COUNT
"""
import asyncio
import json
import ssl
import sys

from aioquic.asyncio.client import connect
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.h3.connection import H3_ALPN, H3Connection
from aioquic.h3.events import DataReceived, HeadersReceived
from aioquic.quic.configuration import QuicConfiguration


class Client(QuicConnectionProtocol):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.h3 = H3Connection(self._quic)
        self.responses = {}
        self.done = {}

    def quic_event_received(self, event):
        for h3_event in self.h3.handle_event(event):
            if not isinstance(h3_event, (HeadersReceived, DataReceived)):
                continue
            response = self.responses.setdefault(h3_event.stream_id, {"status": None, "body": b""})
            if isinstance(h3_event, HeadersReceived):
                for name, value in h3_event.headers:
                    if name == b":status":
                        response["status"] = int(value)
            else:
                response["body"] += h3_event.data
            if h3_event.stream_ended and h3_event.stream_id in self.done:
                self.done[h3_event.stream_id].set_result(None)

    async def get(self, path):
        stream_id = self._quic.get_next_available_stream_id()
        self.done[stream_id] = asyncio.get_running_loop().create_future()
        headers = [(b":method", b"GET"), (b":scheme", b"https"), (b":authority", b"localhost"), (b":path", path.encode())]
        self.h3.send_headers(stream_id, headers, end_stream=True)
        self.transmit()
        await asyncio.wait_for(self.done[stream_id], 10)
        return self.responses[stream_id]


async def main(host, port, path, count):
    configuration = QuicConfiguration(is_client=True, alpn_protocols=H3_ALPN, verify_mode=ssl.CERT_NONE)
    async with connect(host, port, configuration=configuration, create_protocol=Client) as client:
        responses = [await client.get(path) for _ in range(count)]
        quic = client._quic
        server_cids = [quic._peer_cid.cid.hex()] + [c.cid.hex() for c in quic._peer_cid_available]
    print(json.dumps({
        "statuses": [r["status"] for r in responses],
        "bodies": [r["body"].decode() for r in responses],
        "server_cids": server_cids,
    }))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])))
