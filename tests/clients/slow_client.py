"""A slow HTTP/3 client (aioquic), for the request-head timeout and the
minimum body rate.

usage: slow_client.py HOST PORT MODE COUNT
  partial-head  open COUNT request streams, each with the first bytes of a
                HEADERS frame and nothing more
  slow-body     one POST /upload whose 100,000-byte body trickles 10 bytes
                every 100 ms
Prints {"mode", "resets": [error codes of the server's RESET_STREAMs],
"statuses": [...], "closed": connection close code or null}.
"""
import asyncio
import json
import ssl
import sys

from aioquic.asyncio import connect
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.h3.connection import H3_ALPN, FrameType, H3Connection, encode_frame
from aioquic.h3.events import HeadersReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import ConnectionTerminated, StreamReset


class Client(QuicConnectionProtocol):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.h3 = H3Connection(self._quic)
        self.resets = []
        self.statuses = []
        self.closed = None
        self.changed = asyncio.Event()

    def quic_event_received(self, event):
        if isinstance(event, StreamReset):
            self.resets.append(event.error_code)
        if isinstance(event, ConnectionTerminated):
            self.closed = event.error_code
        for h3_event in self.h3.handle_event(event):
            if isinstance(h3_event, HeadersReceived):
                self.statuses.extend(int(v) for k, v in h3_event.headers if k == b":status")
        self.changed.set()


async def wait_for(client, predicate, seconds):
    loop = asyncio.get_event_loop()
    deadline = loop.time() + seconds
    while not predicate() and loop.time() < deadline:
        client.changed.clear()
        try:
            await asyncio.wait_for(client.changed.wait(), timeout=max(0.01, deadline - loop.time()))
        except asyncio.TimeoutError:
            pass


async def main(host, port, mode, count):
    configuration = QuicConfiguration(is_client=True, alpn_protocols=H3_ALPN, verify_mode=ssl.CERT_NONE, idle_timeout=30)
    async with connect(host, port, configuration=configuration, create_protocol=Client) as client:
        quic = client._quic
        if mode == "partial-head":
            for _ in range(count):
                stream_id = quic.get_next_available_stream_id()
                # A HEADERS frame announcing 50 bytes, of which 2 are sent.
                quic.send_stream_data(stream_id, encode_frame(FrameType.HEADERS, b"\x00" * 50)[:4])
            client.transmit()
            await wait_for(client, lambda: len(client.resets) >= count or client.closed is not None, 20)
        elif mode == "slow-body":
            stream_id = quic.get_next_available_stream_id()
            headers = [(b":method", b"POST"), (b":scheme", b"https"), (b":authority", b"localhost"), (b":path", b"/upload"), (b"content-length", b"100000")]
            client.h3.send_headers(stream_id, headers)
            client.transmit()
            for _ in range(150):
                if client.resets or client.closed is not None:
                    break
                client.h3.send_data(stream_id, b"x" * 10, end_stream=False)
                client.transmit()
                await asyncio.sleep(0.1)
        # Taken before leaving the block, which closes the connection itself.
        result = {"mode": mode, "resets": client.resets, "statuses": client.statuses, "closed": client.closed}
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])))
