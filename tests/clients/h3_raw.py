"""Sends HTTP/3 requests exactly as given, malformed ones included, with
aioquic (a QUIC/HTTP/3 stack we did not write), all on one connection and
concurrently, and prints one JSON result per request.

usage: h3_raw.py HOST PORT SPEC_JSON
SPEC_JSON: [{"headers": [[name, value], ...], "body": <bytes of zeros>,
            "open": <true: no FIN after the body>}, ...]
Result: [{"status": int|null, "headers": [[n, v]...], "trailers": [...],
          "body": text, "reset": int|null, "stop_sending": bool}, ...]
"""
import asyncio
import json
import ssl
import sys

from aioquic.asyncio import connect
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.h3.connection import H3_ALPN, H3Connection
from aioquic.h3.events import DataReceived, HeadersReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import StopSendingReceived, StreamReset


class RawClient(QuicConnectionProtocol):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.h3 = H3Connection(self._quic)
        self.results = {}
        self.waiters = {}

    def request(self, headers, body_len, keep_open):
        stream_id = self._quic.get_next_available_stream_id()
        encoded = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in headers]
        self.h3.send_headers(stream_id, encoded, end_stream=body_len == 0 and not keep_open)
        if body_len:
            self.h3.send_data(stream_id, b"\0" * body_len, end_stream=not keep_open)
        self.results[stream_id] = {"status": None, "headers": [], "trailers": [], "body": b"", "reset": None, "stop_sending": False}
        self.waiters[stream_id] = self._loop.create_future()
        self.transmit()
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
        if isinstance(event, StopSendingReceived) and event.stream_id in self.results:
            self.results[event.stream_id]["stop_sending"] = True
        for h3_event in self.h3.handle_event(event):
            result = self.results.get(getattr(h3_event, "stream_id", None))
            if result is None:
                continue
            if isinstance(h3_event, HeadersReceived):
                fields = [(n.decode(), v.decode()) for n, v in h3_event.headers]
                if result["status"] is None:
                    result["status"] = int(dict(fields)[":status"])
                    result["headers"] = [f for f in fields if not f[0].startswith(":")]
                else:
                    result["trailers"] = fields
            elif isinstance(h3_event, DataReceived):
                result["body"] += h3_event.data
            if getattr(h3_event, "stream_ended", False):
                self.finish(h3_event.stream_id)


async def main(host, port, spec):
    configuration = QuicConfiguration(is_client=True, alpn_protocols=H3_ALPN, verify_mode=ssl.CERT_NONE)
    async with connect(host, port, configuration=configuration, create_protocol=RawClient) as client:
        futures = [client.request(r["headers"], r.get("body", 0), r.get("open", False)) for r in spec]
        results = await asyncio.wait_for(asyncio.gather(*futures), timeout=20)
    for result in results:
        result["body"] = result["body"].decode("utf-8", "replace")
    print(json.dumps(results))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])))
