"""zRPC over raw QUIC (ALPN "zr/1") from aioquic, a QUIC stack we did not
write. Every call is one client bidirectional stream: a HEADERS frame
(method, timeout, metadata), MESSAGE frames, FIN; the server answers
MESSAGE frames and a STATUS frame, then FIN.

usage: zrpc_quic.py HOST PORT calls
  Makes, on one connection and in this order: a unary call; a
  server-streaming call of 10,000 messages; a call whose MESSAGE frame
  claims 0xFFFFFFFF bytes; a truncated frame; an unknown method; a call
  cancelled after its first message (RESET_STREAM and STOP_SENDING with
  0x10c); a call with a 200 ms deadline that never answers; and a last
  unary call. Prints one JSON object with what came back for each.
usage: zrpc_quic.py HOST PORT alpn PROTOCOL
  Connects offering only PROTOCOL; prints the handshake's outcome
  {"alpn": negotiated or null, "error_code": the CONNECTION_CLOSE code,
  "reason": its reason phrase}.
"""
import asyncio
import json
import ssl
import struct
import sys

from aioquic.asyncio import connect
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import ConnectionTerminated, HandshakeCompleted, StreamDataReceived, StreamReset

CANCEL = 0x10C


def frame(kind, payload):
    return struct.pack(">BI", kind, len(payload)) + payload


def metadata(pairs):
    out = struct.pack(">H", len(pairs))
    for name, value in pairs.items():
        name, value = name.encode(), value.encode()
        out += struct.pack(">H", len(name)) + name + struct.pack(">H", len(value)) + value
    return out


def head(path, timeout_ms=0, meta=None):
    path = path.encode()
    return frame(1, struct.pack(">H", len(path)) + path + struct.pack(">I", timeout_ms) + metadata(meta or {}))


def parse_frames(data):
    frames = []
    at = 0
    while at + 5 <= len(data):
        kind, length = struct.unpack(">BI", data[at : at + 5])
        if at + 5 + length > len(data):
            break
        frames.append((kind, data[at + 5 : at + 5 + length]))
        at += 5 + length
    return frames, len(data) - at


def parse_status(payload):
    code, length = struct.unpack(">IH", payload[:6])
    return {"code": code, "message": payload[6 : 6 + length].decode()}


class Client(QuicConnectionProtocol):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.data = {}
        self.ended = {}
        self.resets = {}
        self.waiters = {}
        self.alpn = None
        self.terminated = None

    def open_call(self, payload, end):
        stream_id = self._quic.get_next_available_stream_id()
        self.data[stream_id] = b""
        self.waiters[stream_id] = self._loop.create_future()
        self._quic.send_stream_data(stream_id, payload, end_stream=end)
        self.transmit()
        return stream_id

    async def finish(self, stream_id, timeout=30):
        await asyncio.wait_for(self.waiters[stream_id], timeout)
        frames, leftover = parse_frames(self.data[stream_id])
        status = parse_status(frames[-1][1]) if frames and frames[-1][0] == 2 else None
        return {"frames": frames, "status": status, "leftover": leftover, "reset": self.resets.get(stream_id)}

    def quic_event_received(self, event):
        if isinstance(event, HandshakeCompleted):
            self.alpn = event.alpn_protocol
        elif isinstance(event, ConnectionTerminated):
            self.terminated = {"error_code": event.error_code, "reason": event.reason_phrase}
            for waiter in self.waiters.values():
                if not waiter.done():
                    waiter.set_result(None)
        elif isinstance(event, StreamDataReceived) and event.stream_id in self.data:
            self.data[event.stream_id] += event.data
            waiter = self.waiters[event.stream_id]
            if event.end_stream and not waiter.done():
                waiter.set_result(None)
            elif getattr(self, "watch", None) == event.stream_id and not waiter.done():
                waiter.set_result(None)
        elif isinstance(event, StreamReset) and event.stream_id in self.data:
            self.resets[event.stream_id] = event.error_code
            waiter = self.waiters[event.stream_id]
            if not waiter.done():
                waiter.set_result(None)


def unary_result(result):
    messages = [json.loads(payload) for kind, payload in result["frames"] if kind == 0]
    return {"messages": messages, "status": result["status"], "reset": result["reset"]}


async def calls(client):
    out = {}
    sid = client.open_call(head("test.v1.Echo/say", 0, {"x-user": "quinn"}) + frame(0, b'{"text":"over raw QUIC"}'), True)
    out["unary"] = unary_result(await client.finish(sid))

    sid = client.open_call(head("test.v1.Echo/count") + frame(0, b'{"n":10000}'), True)
    result = await client.finish(sid, 60)
    indexes = [json.loads(payload)["i"] for kind, payload in result["frames"] if kind == 0]
    out["stream"] = {"count": len(indexes), "in_order": indexes == list(range(len(indexes))), "status": result["status"]}

    # A MESSAGE frame whose length is past any limit: refused from its header.
    sid = client.open_call(head("test.v1.Echo/say") + struct.pack(">BI", 0, 0xFFFFFFFF), False)
    out["too_long"] = unary_result(await client.finish(sid))

    sid = client.open_call(head("test.v1.Echo/say") + struct.pack(">BI", 0, 10) + b"abc", True)
    out["truncated"] = unary_result(await client.finish(sid))

    sid = client.open_call(head("test.v1.Echo/nope") + frame(0, b"{}"), True)
    out["unknown"] = unary_result(await client.finish(sid))

    # Cancel after the first message: reset our side, stop theirs.
    sid = client.open_call(head("test.v1.Echo/hangStream") + frame(0, b"{}"), True)
    client.watch = sid
    while True:
        await asyncio.wait_for(client.waiters[sid], 10)
        frames, _ = parse_frames(client.data[sid])
        if frames:
            break
        client.waiters[sid] = client._loop.create_future()
    client.watch = None
    out["cancel_first"] = json.loads(frames[0][1])
    client._quic.reset_stream(sid, CANCEL)
    client._quic.stop_stream(sid, CANCEL)
    client.transmit()

    sid = client.open_call(head("test.v1.Echo/hang", 200) + frame(0, b"{}"), True)
    out["deadline"] = unary_result(await client.finish(sid))

    sid = client.open_call(head("test.v1.Echo/say") + frame(0, b'{"text":"still here"}'), True)
    out["after"] = unary_result(await client.finish(sid))
    out["terminated"] = client.terminated
    return out


async def main():
    host, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    protocols = [sys.argv[4]] if mode == "alpn" else ["zr/1"]
    configuration = QuicConfiguration(is_client=True, alpn_protocols=protocols, verify_mode=ssl.CERT_NONE, server_name="localhost", idle_timeout=20)
    holder = {}

    def create(*args, **kwargs):
        holder["client"] = Client(*args, **kwargs)
        return holder["client"]

    try:
        async with connect(host, port, configuration=configuration, create_protocol=create) as client:
            if mode == "alpn":
                print(json.dumps({"alpn": client.alpn, "error_code": None, "reason": None}))
                return
            print(json.dumps(await calls(client)))
    except ConnectionError:
        terminated = holder["client"].terminated or {"error_code": None, "reason": None}
        print(json.dumps({"alpn": None, **terminated}))


asyncio.run(main())
