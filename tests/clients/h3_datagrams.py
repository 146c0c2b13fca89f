"""Datagram and WebTransport checks with aioquic (a QUIC/HTTP/3 stack we did
not write). Prints one JSON object.

usage: h3_datagrams.py HOST PORT MODE [ARG]
  quic-echo N        N connection-scoped QUIC datagrams (no HTTP/3 datagram
                     SETTING), each awaited before the next
  h3-echo PATH N     GET PATH kept open; N HTTP/3 datagrams on its stream
  wt-echo PATH N     WebTransport session on PATH; N session datagrams; then
                     the client closes with CLOSE_WEBTRANSPORT_SESSION
  wt-status PATH     opens a session and reports only the status
  wt-server-close PATH  sends "close-me"; reports the capsule the server sends
  wt-drop PATH       opens a session, then closes the whole QUIC connection
  wt-fin PATH        opens a session, then ends the CONNECT stream (FIN, no capsule)
"""
import asyncio
import json
import os
import ssl
import struct
import sys

from aioquic.asyncio import connect
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.buffer import Buffer
from aioquic.h3.connection import H3_ALPN, H3Connection
from aioquic.h3.events import DatagramReceived, DataReceived, HeadersReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import DatagramFrameReceived, StreamReset

from capsules import capsule

CLOSE_WEBTRANSPORT_SESSION = 0x2843


class Client(QuicConnectionProtocol):
    def __init__(self, *args, h3_datagrams=True, **kwargs):
        super().__init__(*args, **kwargs)
        # aioquic sends the H3_DATAGRAM SETTING (with ENABLE_WEBTRANSPORT) only
        # when WebTransport is on. Without it the server must treat datagrams
        # as plain, connection-scoped QUIC datagrams.
        self.raw_datagrams = not h3_datagrams
        self.h3 = H3Connection(self._quic, enable_webtransport=h3_datagrams)
        self.queue = asyncio.Queue()
        self.status = {}
        self.data = {}
        self.ended = set()
        self.reset = {}
        self.headers_event = asyncio.Event()

    def quic_event_received(self, event):
        if isinstance(event, DatagramFrameReceived) and self.raw_datagrams:
            self.queue.put_nowait(("quic", event.data))
            return
        if isinstance(event, StreamReset):
            self.reset[event.stream_id] = event.error_code
            self.headers_event.set()
        for h3_event in self.h3.handle_event(event):
            if isinstance(h3_event, HeadersReceived):
                self.status.setdefault(h3_event.stream_id, int(dict(h3_event.headers)[b":status"]))
                self.headers_event.set()
            elif isinstance(h3_event, DataReceived):
                self.data[h3_event.stream_id] = self.data.get(h3_event.stream_id, b"") + h3_event.data
                if h3_event.stream_ended:
                    self.ended.add(h3_event.stream_id)
                    self.headers_event.set()
            elif isinstance(h3_event, DatagramReceived):
                self.queue.put_nowait(("h3", h3_event.stream_id, h3_event.data))

    def open(self, method, path, protocol=None):
        stream_id = self._quic.get_next_available_stream_id()
        headers = [(b":method", method.encode()), (b":scheme", b"https"), (b":authority", b"localhost"), (b":path", path.encode())]
        if protocol:
            headers.insert(1, (b":protocol", protocol.encode()))
        self.h3.send_headers(stream_id, headers, end_stream=False)
        self.transmit()
        return stream_id

    async def wait_status(self, stream_id):
        while stream_id not in self.status and stream_id not in self.reset:
            self.headers_event.clear()
            await self.headers_event.wait()
        return self.status.get(stream_id)

    async def echo(self, count, send, kind):
        matched = 0
        for i in range(count):
            payload = b"dgram-%d-" % i + bytes([i % 256]) * (i % 200)
            send(payload)
            self.transmit()
            try:
                item = await asyncio.wait_for(self.queue.get(), timeout=float(os.environ.get("ECHO_TIMEOUT", "2")))
            except asyncio.TimeoutError:
                continue
            if item[0] == kind and item[-1] == payload:
                matched += 1
        return matched


async def main(host, port, mode, args):
    configuration = QuicConfiguration(is_client=True, alpn_protocols=H3_ALPN, verify_mode=ssl.CERT_NONE, max_datagram_frame_size=65536)
    result = {"mode": mode}

    def make(*a, **k):
        return Client(*a, h3_datagrams=mode != "quic-echo", **k)

    async with connect(host, port, configuration=configuration, create_protocol=make) as client:
        if mode == "quic-echo":
            # Let the handshake and SETTINGS settle before the first datagram.
            await asyncio.sleep(0.2)
            result["echoed"] = await client.echo(int(args[0]), client._quic.send_datagram_frame, "quic")
        elif mode == "h3-echo":
            await asyncio.sleep(0.2)  # the server's SETTINGS must be in before sending
            stream_id = client.open("GET", args[0])
            result["status"] = await client.wait_status(stream_id)
            result["echoed"] = await client.echo(int(args[1]), lambda d: client.h3.send_datagram(stream_id, d), "h3")
            try:
                client.h3.send_data(stream_id, b"", end_stream=True)
                client.transmit()
            except Exception:
                pass  # The server already finished the stream and stopped our sending.
        else:
            await asyncio.sleep(0.2)
            session = client.open("CONNECT", args[0], protocol="webtransport")
            result["status"] = await client.wait_status(session)
            if mode == "wt-echo":
                result["echoed"] = await client.echo(int(args[1]), lambda d: client.h3.send_datagram(session, d), "h3")
                client.h3.send_data(session, capsule(CLOSE_WEBTRANSPORT_SESSION, struct.pack("!I", 4242) + b"client done"), end_stream=True)
                client.transmit()
                await asyncio.sleep(0.3)
            elif mode == "wt-server-close":
                client.h3.send_datagram(session, b"close-me")
                client.transmit()
                while session not in client.ended and session not in client.reset:
                    client.headers_event.clear()
                    await asyncio.wait_for(client.headers_event.wait(), timeout=5)
                data = client.data.get(session, b"")
                buf = Buffer(data=data)
                kind, length = buf.pull_uint_var(), buf.pull_uint_var()
                value = buf.pull_bytes(length)
                result["capsule"] = {"type": kind, "code": struct.unpack("!I", value[:4])[0], "reason": value[4:].decode()}
                result["fin"] = session in client.ended
            elif mode == "wt-fin":
                client.h3.send_data(session, b"", end_stream=True)
                client.transmit()
                await asyncio.sleep(0.3)
                result["server_fin"] = session in client.ended
            elif mode == "wt-drop":
                await asyncio.sleep(0.2)
                client._quic.close(error_code=0x100, reason_phrase="client going away")
                client.transmit()
                await asyncio.sleep(0.2)
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]))
