"""WebTransport streams at protocol level with aioquic (a stack we did not
write), against the stream protocol of examples/webtransport/server.ts on
PATH. Opens one session, runs one MODE, prints one JSON object.

usage: wt_streams.py HOST PORT PATH MODE [ARG]
  bidi-echo N     opens a bidirectional stream, sends N seeded random bytes
                  and FIN, reads the echo to its FIN
  uni-echo N      opens a unidirectional stream with N random bytes; the server
                  sends them back on a unidirectional stream of its own
  server-uni N    sends "uni N"; reads the server's unidirectional stream
  server-bidi N   sends "bidi N"; reads the server's bidirectional stream to
                  its FIN, then sends the bytes back with FIN
  reset C         bidirectional stream: "hello", waits for the echo, then
                  RESET_STREAM with WebTransport code C; reports the reset the
                  server passes back
  server-reset C  sends "reset C"; reports the server's RESET_STREAM (and
                  STOP_SENDING) on the stream it opened
  server-stop C   sends "stop C"; reports the server's STOP_SENDING
  server-close    opens a bidirectional stream, sends "hello", waits for the
                  echo, then sends the datagram "close" (the server closes the
                  session with 4000); reports the stream's reset and the capsule
  session-close   opens a bidirectional stream, sends "hello" (no FIN), waits
                  for the echo, then closes the session (capsule + FIN);
                  reports whether the server reset the stream
  many K N        K bidirectional streams at once, stream i echoing N + i bytes
  stop C          bidirectional stream: "hello", waits for the echo, then
                  STOP_SENDING with WebTransport code C; reports the
                  RESET_STREAM it gets, then sends "world" and reports the
                  STOP_SENDING the echo passes back
  uni-stopped N   opens a unidirectional stream with N bytes and FIN; reports
                  the server's STOP_SENDING
  fc-streams N    draft-16 client (SETTINGS_WT_ENABLED, WT_INITIAL_*, :protocol
                  webtransport-h3) that ignores the server's WT_MAX_STREAMS:
                  opens N unidirectional streams (a byte each, no FIN);
                  reports how the server ended the session (its CONNECT
                  stream's RESET_STREAM and STOP_SENDING codes)
  fc-data N       likewise, ignoring WT_MAX_DATA: N bytes on one
                  unidirectional stream (no FIN)
  limit K U [extra]  (a test server's /limit) opens K bidirectional and U
                  unidirectional streams, one byte each and no FIN; sends the
                  datagram "try K+U"; prints the server's JSON answer; with
                  "extra", then opens one more bidirectional stream and
                  reports how it was refused

HTTP/3 codes of WebTransport codes: 0x52e4a40fa8db + n + n // 0x1e.
"""
import asyncio
import hashlib
import json
import os
import random
import ssl
import struct
import sys

from aioquic.asyncio import connect
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.buffer import Buffer
from aioquic.h3.connection import H3_ALPN, FrameType, H3Connection, H3Stream
from aioquic.h3.events import DatagramReceived, DataReceived, HeadersReceived, WebTransportStreamDataReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import StopSendingReceived, StreamReset

from capsules import capsule

CLOSE_WEBTRANSPORT_SESSION = 0x2843
FIRST = 0x52E4A40FA8DB


def wt_to_h3(n):
    return FIRST + n + n // 0x1E


def h3_to_wt(h3):
    if h3 < FIRST or h3 > wt_to_h3(0xFFFFFFFF):
        return None
    d = h3 - FIRST
    if d % 0x1F == 0x1E:
        return None
    return d - d // 0x1F


_PERIOD = bytes((i * 251 + (i >> 8) * 7 + 13) & 0xFF for i in range(65536))


def pattern(n):
    # Byte i is (i * 251 + (i >> 8) * 7 + 13) mod 256, which repeats every 65536 bytes.
    return (_PERIOD * (n // 65536 + 1))[:n]


# Draft-16 SETTINGS (fc-* modes): SETTINGS_WT_ENABLED and session flow
# control's initial limits, so that the server turns session flow control on.
DRAFT16 = False


class Draft16H3Connection(H3Connection):
    def _get_local_settings(self):
        settings = super()._get_local_settings()
        settings.update({0x2C7CF000: 1, 0x2B61: 1 << 20, 0x2B64: 16, 0x2B65: 16})
        return settings


# WT_DIALECT=draft07 or draft13 (environment): announce only that draft's
# WebTransport setting instead of aioquic's draft-02 SETTINGS_ENABLE_WEBTRANSPORT,
# as a client of that draft would (draft-07: SETTINGS_WEBTRANSPORT_MAX_SESSIONS
# 0xc671706a; draft-13/14, Safari: SETTINGS_WT_MAX_SESSIONS 0x14e9cd29).
DIALECT_SETTINGS = {"draft07": 0xC671706A, "draft13": 0x14E9CD29}


class DialectH3Connection(H3Connection):
    def _get_local_settings(self):
        settings = super()._get_local_settings()
        settings.pop(0x2B603742, None)
        settings[DIALECT_SETTINGS[os.environ["WT_DIALECT"]]] = 1
        return settings


class Client(QuicConnectionProtocol):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        connection = Draft16H3Connection if DRAFT16 else DialectH3Connection if os.environ.get("WT_DIALECT") else H3Connection
        self.h3 = connection(self._quic, enable_webtransport=True)
        self.status = {}
        self.data = {}  # WebTransport stream id -> bytearray
        self.ended = set()
        self.session_of = {}
        self.resets = {}  # stream id -> HTTP/3 code of the peer's RESET_STREAM
        self.stops = {}  # stream id -> HTTP/3 code of the peer's STOP_SENDING
        self.order = []  # WebTransport streams in the order their first bytes came
        self.datagrams = []
        self.session_data = {}  # CONNECT stream id -> its DATA (capsules)
        self.changed = asyncio.Event()

    def quic_event_received(self, event):
        if isinstance(event, StreamReset):
            self.resets[event.stream_id] = event.error_code
            self.changed.set()
        elif isinstance(event, StopSendingReceived):
            self.stops[event.stream_id] = event.error_code
            self.changed.set()
        for h3_event in self.h3.handle_event(event):
            if isinstance(h3_event, HeadersReceived):
                self.status.setdefault(h3_event.stream_id, int(dict(h3_event.headers)[b":status"]))
            elif isinstance(h3_event, WebTransportStreamDataReceived):
                if h3_event.stream_id not in self.data:
                    self.order.append(h3_event.stream_id)
                    self.data[h3_event.stream_id] = bytearray()
                self.data[h3_event.stream_id] += h3_event.data
                self.session_of[h3_event.stream_id] = h3_event.session_id
                if h3_event.stream_ended:
                    self.ended.add(h3_event.stream_id)
            elif isinstance(h3_event, DatagramReceived):
                self.datagrams.append(h3_event.data)
            elif isinstance(h3_event, DataReceived):
                self.session_data[h3_event.stream_id] = self.session_data.get(h3_event.stream_id, b"") + h3_event.data
                if h3_event.stream_ended:
                    self.ended.add(h3_event.stream_id)
        self.changed.set()

    async def until(self, predicate, timeout=20):
        async def wait():
            while not predicate():
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(wait(), timeout)

    def open_session(self, path):
        stream_id = self._quic.get_next_available_stream_id()
        self.h3.send_headers(
            stream_id,
            [(b":method", b"CONNECT"), (b":protocol", b"webtransport-h3" if DRAFT16 else b"webtransport"), (b":scheme", b"https"), (b":authority", b"localhost"), (b":path", path.encode())],
            end_stream=False,
        )
        self.transmit()
        return stream_id

    def stream(self, session, unidirectional=False):
        stream_id = self.h3.create_webtransport_stream(session, is_unidirectional=unidirectional)
        if not unidirectional:
            # aioquic sends the 0x41 preface but does not remember that the
            # stream is a WebTransport one, so it would parse the server's raw
            # reply bytes as HTTP/3 frames. Record what its own parser records
            # for a peer's 0x41 stream.
            stream = H3Stream(stream_id)
            stream.frame_type = FrameType.WEBTRANSPORT_STREAM
            stream.session_id = session
            self.h3._stream[stream_id] = stream
        return stream_id

    def send(self, stream_id, data, fin=False):
        self._quic.send_stream_data(stream_id, data, end_stream=fin)
        self.transmit()

    def server_streams(self, kind):
        # Server-initiated: id % 4 == 1 bidirectional, 3 unidirectional.
        return [s for s in self.order if s % 4 == kind]


async def hello_stream(client, session):
    """Opens a bidirectional stream, sends "hello" and waits for its echo."""
    sid = client.stream(session)
    client.send(sid, b"hello")
    await client.until(lambda: client.data.get(sid, b"") == b"hello")
    return sid


async def run(client, path, mode, args):
    result = {"mode": mode}
    await asyncio.sleep(0.2)  # the server's SETTINGS first
    session = client.open_session(path)
    await client.until(lambda: session in client.status)
    result["status"] = client.status[session]
    rng = random.Random(1234)

    if mode == "bidi-echo":
        n = int(args[0])
        data = rng.randbytes(n)
        sid = client.stream(session)
        for at in range(0, n, 65536):
            client.send(sid, data[at : at + 65536])
        client.send(sid, b"", fin=True)
        await client.until(lambda: sid in client.ended or sid in client.resets, timeout=60)
        echoed = client.data.get(sid, b"")
        result.update(sent=n, received=len(echoed), equal=echoed == data, session_id=client.session_of.get(sid) == session)
    elif mode == "many":
        k, n = int(args[0]), int(args[1])
        payloads = {}
        for i in range(k):
            sid = client.stream(session)
            payloads[sid] = rng.randbytes(n + i)
            client.send(sid, payloads[sid], fin=True)
        await client.until(lambda: all(s in client.ended or s in client.resets for s in payloads), timeout=60)
        result.update(streams=k, matched=sum(1 for s, p in payloads.items() if client.data.get(s) == p))
    elif mode == "uni-echo":
        n = int(args[0])
        data = rng.randbytes(n)
        sid = client.stream(session, unidirectional=True)
        client.send(sid, data, fin=True)
        await client.until(lambda: any(s in client.ended for s in client.server_streams(3)), timeout=60)
        back = client.data[client.server_streams(3)[0]]
        result.update(sent=n, received=len(back), equal=back == data, sha256=hashlib.sha256(data).hexdigest())
    elif mode == "server-uni":
        n = int(args[0])
        client.send(client.stream(session, unidirectional=True), b"uni %d" % n, fin=True)
        await client.until(lambda: any(s in client.ended for s in client.server_streams(3)))
        sid = client.server_streams(3)[0]
        got = bytes(client.data[sid])
        result.update(received=len(got), equal=got == pattern(n), session_id=client.session_of[sid] == session)
    elif mode == "server-bidi":
        n = int(args[0])
        client.send(client.stream(session, unidirectional=True), b"bidi %d" % n, fin=True)
        await client.until(lambda: any(s in client.ended for s in client.server_streams(1)))
        sid = client.server_streams(1)[0]
        got = bytes(client.data[sid])
        result.update(received=len(got), equal=got == pattern(n), session_id=client.session_of[sid] == session)
        client.send(sid, got, fin=True)
        await asyncio.sleep(0.3)
    elif mode == "reset":
        code = int(args[0])
        sid = await hello_stream(client, session)
        client._quic.reset_stream(sid, wt_to_h3(code))
        client.transmit()
        await client.until(lambda: sid in client.resets)
        result.update(echoed="hello", server_reset=client.resets[sid], server_reset_code=h3_to_wt(client.resets[sid]))
    elif mode in ("server-reset", "server-stop"):
        code = int(args[0])
        verb = mode.split("-")[1]
        client.send(client.stream(session, unidirectional=True), b"%s %d" % (verb.encode(), code), fin=True)
        await client.until(lambda: any(client.data[s].endswith(b"\n") for s in client.server_streams(1)))
        sid = client.server_streams(1)[0]
        result["line"] = bytes(client.data[sid]).decode()
        client.send(sid, b"ready")
        if verb == "reset":
            await client.until(lambda: sid in client.resets)
            result.update(reset=client.resets[sid], reset_code=h3_to_wt(client.resets[sid]))
        else:
            await client.until(lambda: sid in client.stops)
            result.update(stop=client.stops[sid], stop_code=h3_to_wt(client.stops[sid]))
            await client.until(lambda: sid in client.ended or sid in client.resets)
            result.update(fin_after_stop=sid in client.ended)
    elif mode == "server-close":
        sid = await hello_stream(client, session)
        client.h3.send_datagram(session, b"close")
        client.transmit()
        await client.until(lambda: sid in client.resets and session in client.ended)
        session_data = client.session_data.get(session, b"")
        buf = Buffer(data=session_data)
        kind, length = buf.pull_uint_var(), buf.pull_uint_var()
        value = buf.pull_bytes(length)
        result.update(stream_reset=client.resets[sid], capsule={"type": kind, "code": struct.unpack("!I", value[:4])[0], "reason": value[4:].decode()})
    elif mode == "session-close":
        sid = await hello_stream(client, session)
        client.h3.send_data(session, capsule(CLOSE_WEBTRANSPORT_SESSION, struct.pack("!I", 9) + b"done"), end_stream=True)
        client.transmit()
        await client.until(lambda: sid in client.resets or sid in client.ended)
        result.update(stream_reset=client.resets.get(sid), stream_ended=sid in client.ended)
    elif mode == "stop":
        code = int(args[0])
        sid = await hello_stream(client, session)
        client._quic.stop_stream(sid, wt_to_h3(code))
        client.transmit()
        # QUIC answers STOP_SENDING with RESET_STREAM carrying the same code.
        await client.until(lambda: sid in client.resets)
        result.update(reset=client.resets[sid], reset_code=h3_to_wt(client.resets[sid]))
        # The echo, with nothing to write, still learns of the STOP_SENDING
        # at once; its pipe then cancels the readable with the same code.
        await client.until(lambda: sid in client.stops)
        result.update(stop=client.stops[sid], stop_code=h3_to_wt(client.stops[sid]))
    elif mode == "uni-stopped":
        n = int(args[0])
        sid = client.stream(session, unidirectional=True)
        client.send(sid, rng.randbytes(n), fin=True)
        await client.until(lambda: sid in client.stops)
        result.update(stop=client.stops[sid])
    elif mode == "wait-close":
        # Asks the server (datagram) to open streams past our credit, which
        # we never raise; the server then closes the session.
        client.h3.send_datagram(session, b"go")
        client.transmit()
        await client.until(lambda: session in client.ended, timeout=60)
        result.update(session_ended=True)
    elif mode in ("fc-streams", "fc-data"):
        n = int(args[0])
        if mode == "fc-streams":
            for i in range(n):
                client.send(client.stream(session, unidirectional=True), b"x")
        else:
            sid = client.stream(session, unidirectional=True)
            for at in range(0, n, 16384):
                client.send(sid, pattern(min(16384, n - at)))
        await client.until(lambda: session in client.resets and session in client.stops)
        result.update(session_reset=client.resets[session], session_stop=client.stops[session])
    elif mode == "limit":
        k, u = int(args[0]), int(args[1])
        for i in range(k):
            client.send(client.stream(session), b"x")
        for i in range(u):
            client.send(client.stream(session, unidirectional=True), b"x")
        client.h3.send_datagram(session, b"try %d" % (k + u))
        client.transmit()
        await client.until(lambda: client.datagrams)
        result["server"] = json.loads(client.datagrams[0])
        if len(args) < 3 or args[2] != "extra":
            return result
        extra = client.stream(session)
        client.send(extra, b"x")
        await client.until(lambda: extra in client.resets and extra in client.stops)
        result.update(extra_reset=client.resets[extra], extra_stop=client.stops[extra])
    else:
        raise SystemExit(f"unknown mode {mode}")
    return result


async def main(host, port, path, mode, args):
    global DRAFT16
    DRAFT16 = mode.startswith("fc-")
    configuration = QuicConfiguration(is_client=True, alpn_protocols=H3_ALPN, verify_mode=ssl.CERT_NONE, max_datagram_frame_size=65536)
    async with connect(host, port, configuration=configuration, create_protocol=Client) as client:
        result = await run(client, path, mode, args)
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5:]))
