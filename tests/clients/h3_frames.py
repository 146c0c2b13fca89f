"""Sends HTTP/3 frame sequences the protocol forbids, with aioquic at the
frame level, and reports how the server closed the connection.

usage: h3_frames.py HOST PORT MODE
  data-before-headers   a DATA frame first on a request stream
  second-settings       a second SETTINGS frame on the control stream
  data-on-control       a DATA frame on the control stream
Raw modes (the client opens its unidirectional streams itself, without an
H3Connection, so the first frame on its control stream is ours to choose):
  oversized-settings    a SETTINGS frame far above any sane size
  missing-settings      a control stream that starts with GOAWAY
  duplicate-setting     a setting identifier twice
  http2-setting         an HTTP/2-only setting identifier (0x2)
  second-control        two control streams
  push-stream           a push stream from a client
  close-control         the control stream closed (FIN)
  qpack-bad-static-index a request whose field section names static
                        table entry 100 (there are 99)
  qpack-encoder-garbage an encoder stream with an insert past the table
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


RAW_MODES = {
    "oversized-settings",
    "missing-settings",
    "duplicate-setting",
    "http2-setting",
    "second-control",
    "push-stream",
    "close-control",
    "qpack-bad-static-index",
    "qpack-encoder-garbage",
}


def varint(value):
    if value < 0x40:
        return bytes([value])
    if value < 0x4000:
        return (0x4000 | value).to_bytes(2, "big")
    if value < 0x40000000:
        return (0x80000000 | value).to_bytes(4, "big")
    return (0xC000000000000000 | value).to_bytes(8, "big")


def settings_payload(pairs):
    return b"".join(varint(k) + varint(v) for k, v in pairs)


def raw_streams(mode):
    """(stream type, bytes, fin) for each client unidirectional stream."""
    good_settings = encode_frame(FrameType.SETTINGS, settings_payload([(0x1, 0), (0x7, 0)]))
    if mode == "oversized-settings":
        return [(0x0, encode_frame(FrameType.SETTINGS, settings_payload((0x21 + 0x1F * i, i) for i in range(2000))), False)]
    if mode == "missing-settings":
        return [(0x0, encode_frame(FrameType.GOAWAY, varint(0)), False)]
    if mode == "duplicate-setting":
        return [(0x0, encode_frame(FrameType.SETTINGS, settings_payload([(0x1, 0), (0x1, 0)])), False)]
    if mode == "http2-setting":
        return [(0x0, encode_frame(FrameType.SETTINGS, settings_payload([(0x2, 1)])), False)]
    if mode == "second-control":
        return [(0x0, good_settings, False), (0x0, good_settings, False)]
    if mode == "push-stream":
        return [(0x0, good_settings, False), (0x1, varint(0), False)]
    if mode == "close-control":
        return [(0x0, good_settings, True)]
    if mode == "qpack-encoder-garbage":
        # Insert With Literal Name (01xxxxxx) of a 5,000-byte name: past the
        # 4,096-byte table the server announced.
        name = b"x" * 5000
        return [(0x0, good_settings, False), (0x2, bytes([0x40 | 0x1F]) + varint_prefix(len(name) - 0x1F) + name + b"\x00", False)]
    return [(0x0, good_settings, False)]


def varint_prefix(rest):
    """The continuation bytes of an HPACK-style prefix integer."""
    out = b""
    while rest >= 0x80:
        out += bytes([(rest & 0x7F) | 0x80])
        rest >>= 7
    return out + bytes([rest])


class Client(QuicConnectionProtocol):
    def __init__(self, *args, raw=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.h3 = None if raw else H3Connection(self._quic)
        self.closed = asyncio.get_event_loop().create_future()

    def quic_event_received(self, event):
        if isinstance(event, ConnectionTerminated) and not self.closed.done():
            self.closed.set_result((event.error_code, event.reason_phrase))
        if self.h3 is None:
            return
        try:
            self.h3.handle_event(event)
        except Exception:
            pass


async def main(host, port, mode):
    configuration = QuicConfiguration(is_client=True, alpn_protocols=H3_ALPN, verify_mode=ssl.CERT_NONE)
    raw = mode in RAW_MODES

    def create_protocol(*args, **kwargs):
        return Client(*args, raw=raw, **kwargs)

    async with connect(host, port, configuration=configuration, create_protocol=create_protocol) as client:
        client.transmit()
        await asyncio.sleep(0.2)  # our SETTINGS are sent with the first flight
        quic = client._quic
        if raw:
            for stream_type, data, fin in raw_streams(mode):
                stream_id = quic.get_next_available_stream_id(is_unidirectional=True)
                quic.send_stream_data(stream_id, varint(stream_type) + data, end_stream=fin)
            if mode == "qpack-bad-static-index":
                # Section prefix 0, 0; Indexed Field Line, static, index
                # 63 + 37 = 100.
                stream_id = quic.get_next_available_stream_id()
                quic.send_stream_data(stream_id, encode_frame(FrameType.HEADERS, bytes([0x00, 0x00, 0xFF, 0x25])), end_stream=True)
        elif mode == "data-before-headers":
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
