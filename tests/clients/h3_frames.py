"""Sends HTTP/3 frame sequences the protocol forbids, with aioquic at the
frame level, and reports how the server closed the connection.

usage: h3_frames.py HOST PORT MODE
  data-before-headers   a DATA frame first on a request stream
  second-settings       a second SETTINGS frame on the control stream
  data-on-control       a DATA frame on the control stream
Prints {"mode", "close_code", "reason"}.
"""
import asyncio
import json
import ssl
import sys

from aioquic.asyncio import connect
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.h3.connection import H3_ALPN, FrameType, H3Connection, encode_frame, encode_settings
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import ConnectionTerminated


class Client(QuicConnectionProtocol):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.h3 = H3Connection(self._quic)
        self.closed = asyncio.get_event_loop().create_future()

    def quic_event_received(self, event):
        if isinstance(event, ConnectionTerminated) and not self.closed.done():
            self.closed.set_result((event.error_code, event.reason_phrase))
        try:
            self.h3.handle_event(event)
        except Exception:
            pass


async def main(host, port, mode):
    configuration = QuicConfiguration(is_client=True, alpn_protocols=H3_ALPN, verify_mode=ssl.CERT_NONE)
    async with connect(host, port, configuration=configuration, create_protocol=Client) as client:
        client.transmit()
        await asyncio.sleep(0.2)  # our SETTINGS are sent with the first flight
        quic = client._quic
        if mode == "data-before-headers":
            stream_id = quic.get_next_available_stream_id()
            quic.send_stream_data(stream_id, encode_frame(FrameType.DATA, b"payload"), end_stream=True)
        elif mode == "second-settings":
            quic.send_stream_data(client.h3._local_control_stream_id, encode_frame(FrameType.SETTINGS, encode_settings({0x1: 0})))
        elif mode == "data-on-control":
            quic.send_stream_data(client.h3._local_control_stream_id, encode_frame(FrameType.DATA, b"x"))
        client.transmit()
        try:
            code, reason = await asyncio.wait_for(client.closed, timeout=5)
        except asyncio.TimeoutError:
            code, reason = None, None
    print(json.dumps({"mode": mode, "close_code": code, "reason": reason}))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3]))
