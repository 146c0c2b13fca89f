"""Opens N QUIC/HTTP/3 connections with aioquic at once, keeps them open, then
sends GET PATH on each one that was accepted. Prints a JSON list, one entry
per connection: {"accepted": bool, "close_code": int|null, "status": int|null}.

usage: connect_many.py HOST PORT N PATH
"""
import asyncio
import json
import ssl
import sys

from aioquic.asyncio import connect
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.h3.connection import H3_ALPN, H3Connection
from aioquic.h3.events import HeadersReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import ConnectionTerminated


class Client(QuicConnectionProtocol):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.h3 = H3Connection(self._quic)
        self.close_code = None
        self.status = asyncio.get_event_loop().create_future()

    def quic_event_received(self, event):
        if isinstance(event, ConnectionTerminated):
            self.close_code = event.error_code
            if not self.status.done():
                self.status.set_result(None)
        for h3_event in self.h3.handle_event(event):
            if isinstance(h3_event, HeadersReceived) and not self.status.done():
                self.status.set_result(int(dict(h3_event.headers)[b":status"]))


async def one(host, port, path, hold):
    configuration = QuicConfiguration(is_client=True, alpn_protocols=H3_ALPN, verify_mode=ssl.CERT_NONE)
    made = []

    def protocol(*args, **kwargs):
        made.append(Client(*args, **kwargs))
        return made[-1]

    try:
        async with connect(host, port, configuration=configuration, create_protocol=protocol, wait_connected=True) as client:
            await hold.wait()
            stream_id = client._quic.get_next_available_stream_id()
            client.h3.send_headers(stream_id, [(b":method", b"GET"), (b":scheme", b"https"), (b":authority", b"localhost"), (b":path", path.encode())], end_stream=True)
            client.transmit()
            status = await asyncio.wait_for(client.status, timeout=5)
            return {"accepted": True, "close_code": client.close_code, "status": status}
    except ConnectionError:
        # The close code arrived with the ConnectionTerminated event.
        return {"accepted": False, "close_code": made[0].close_code if made else None, "status": None}


async def main(host, port, count, path):
    hold = asyncio.Event()
    tasks = [asyncio.create_task(one(host, port, path, hold)) for _ in range(count)]
    await asyncio.sleep(1.0)  # every handshake is done or refused by now
    hold.set()
    print(json.dumps(await asyncio.gather(*tasks)))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]))
