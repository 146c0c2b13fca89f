"""Cancels a zRPC call over HTTP/3 the way the protocol says, with aioquic
(a stack we did not write): POST a server-streaming call, wait for its
first message, then reset the request stream and stop its response
(RESET_STREAM and STOP_SENDING with H3_REQUEST_CANCELLED). Then, on the same
connection, make one unary call and print what came back.

usage: zrpc_h3_cancel.py HOST PORT CANCEL_PATH UNARY_PATH UNARY_JSON
prints: {"first": bytes of the first MESSAGE as text, "after_status": HTTP
status, "after_body": the unary call's response body (hex)}
"""
import asyncio
import json
import ssl
import struct
import sys

from aioquic.asyncio import connect
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.h3.connection import H3_ALPN, H3Connection
from aioquic.h3.events import DataReceived, HeadersReceived
from aioquic.quic.configuration import QuicConfiguration

H3_REQUEST_CANCELLED = 0x10C


def frame(kind, payload):
    return struct.pack(">BI", kind, len(payload)) + payload


class Client(QuicConnectionProtocol):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.h3 = H3Connection(self._quic)
        self.bodies = {}
        self.statuses = {}
        self.waiters = {}

    def post(self, authority, path, body):
        stream_id = self._quic.get_next_available_stream_id()
        headers = [(b":method", b"POST"), (b":scheme", b"https"), (b":authority", authority.encode()), (b":path", path.encode()), (b"content-type", b"application/zrpc")]
        self.h3.send_headers(stream_id, headers)
        self.h3.send_data(stream_id, body, end_stream=True)
        self.bodies[stream_id] = b""
        self.waiters[stream_id] = self._loop.create_future()
        self.transmit()
        return stream_id

    def cancel(self, stream_id):
        self._quic.reset_stream(stream_id, H3_REQUEST_CANCELLED)
        self._quic.stop_stream(stream_id, H3_REQUEST_CANCELLED)
        self.transmit()

    def quic_event_received(self, event):
        for h3_event in self.h3.handle_event(event):
            stream_id = getattr(h3_event, "stream_id", None)
            if stream_id not in self.bodies:
                continue
            if isinstance(h3_event, HeadersReceived) and stream_id not in self.statuses:
                self.statuses[stream_id] = int(dict(h3_event.headers)[b":status"])
            if isinstance(h3_event, DataReceived):
                self.bodies[stream_id] += h3_event.data
            # The watched call wakes its waiter on every piece of data; any
            # other call when its stream ends.
            waiter = self.waiters[stream_id]
            if not waiter.done() and (stream_id == self.watch or getattr(h3_event, "stream_ended", False)):
                waiter.set_result(None)

    watch = None


async def main():
    host, port, cancel_path, unary_path, unary_json = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
    configuration = QuicConfiguration(is_client=True, alpn_protocols=H3_ALPN, verify_mode=ssl.CERT_NONE, server_name="localhost")
    async with connect(host, port, configuration=configuration, create_protocol=Client) as client:
        authority = f"{host}:{port}"
        stream_id = client.post(authority, cancel_path, frame(0, b"{}"))
        client.watch = stream_id
        # The first MESSAGE frame: its header, then its payload.
        while True:
            await asyncio.wait_for(client.waiters[stream_id], 10)
            body = client.bodies[stream_id]
            if len(body) >= 5 and len(body) >= 5 + struct.unpack(">I", body[1:5])[0]:
                break
            client.waiters[stream_id] = asyncio.get_running_loop().create_future()
        first = body[5 : 5 + struct.unpack(">I", body[1:5])[0]].decode()
        client.cancel(stream_id)
        client.watch = None
        after = client.post(authority, unary_path, frame(0, unary_json.encode()))
        await asyncio.wait_for(client.waiters[after], 10)
        print(json.dumps({"first": first, "after_status": client.statuses.get(after), "after_body": client.bodies[after].hex()}))


asyncio.run(main())
