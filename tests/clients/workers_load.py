"""aioquic HTTP/3 load for tests/workers.test.ts: N connections at once, R
GETs on each one after another. Each response body is the id of the worker
that served it. Prints JSON: {"connections": [{"workers": [...],
"server_cid": hex}], "failed": n, "errors": [...]}. A connection that
cannot be established or a request that does not get a 200 counts as
failed.

usage: workers_load.py HOST PORT CONNECTIONS REQUESTS PATH
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


class Client(QuicConnectionProtocol):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.h3 = H3Connection(self._quic)
        self.pending = {}

    def quic_event_received(self, event):
        for h3_event in self.h3.handle_event(event):
            entry = self.pending.get(getattr(h3_event, "stream_id", None))
            if entry is None:
                continue
            if isinstance(h3_event, HeadersReceived):
                entry["status"] = int(dict(h3_event.headers)[b":status"])
            elif isinstance(h3_event, DataReceived):
                entry["body"] += h3_event.data
            if getattr(h3_event, "stream_ended", False) and not entry["done"].done():
                entry["done"].set_result(None)

    async def get(self, path):
        stream_id = self._quic.get_next_available_stream_id()
        entry = {"status": None, "body": b"", "done": asyncio.get_event_loop().create_future()}
        self.pending[stream_id] = entry
        self.h3.send_headers(stream_id, [(b":method", b"GET"), (b":scheme", b"https"), (b":authority", b"localhost"), (b":path", path.encode())], end_stream=True)
        self.transmit()
        await asyncio.wait_for(entry["done"], timeout=15)
        del self.pending[stream_id]
        return entry["status"], entry["body"].decode()


async def one(host, port, requests, path, errors):
    configuration = QuicConfiguration(is_client=True, alpn_protocols=H3_ALPN, verify_mode=ssl.CERT_NONE)
    record = {"workers": [], "server_cid": None}
    failed = 0
    try:
        async with connect(host, port, configuration=configuration, create_protocol=Client, wait_connected=True) as client:
            record["server_cid"] = client._quic._peer_cid.cid.hex()
            for _ in range(requests):
                status, body = await client.get(path)
                if status != 200:
                    failed += 1
                    errors.append(f"status {status}")
                    continue
                record["workers"].append(body)
    except Exception as error:  # noqa: BLE001 - every failure is reported
        failed += requests - len(record["workers"])
        errors.append(repr(error))
    return record, failed


async def main(host, port, connections, requests, path):
    errors = []
    results = await asyncio.gather(*[one(host, port, requests, path, errors) for _ in range(connections)])
    print(json.dumps({
        "connections": [record for record, _ in results if record["workers"]],
        "failed": sum(failed for _, failed in results),
        "errors": errors[:20],
    }))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]))
