"""Floods a server with COUNT valid, half-open QUIC handshakes: each is a
real aioquic client connection whose first flight (a genuine ClientHello in
an Initial) is sent once, after which the client goes silent: it never
acknowledges, never answers a Retry, never sends its Finished.

All first flights are built before any is sent, so the flood itself is one
short burst from one UDP socket bound to BIND_IP (any 127.x.y.z address on
Linux), with a short pause every 50 datagrams so that the server's socket
buffer is not what refuses them.

Then it listens for LISTEN_MS and feeds the first datagram the server sent
to each connection into that connection (aioquic decrypts it; nothing is
ever sent back), to learn what the server said:
  refused   a CONNECTION_CLOSE with CONNECTION_REFUSED (0x2)
  answered  the server started the handshake (its Initial decrypted)
  retried   a Retry packet that aioquic validated (integrity tag, SCID)
  silent    nothing arrived

With --go-on-stdin it prints "ready" once the first flights are built and
sends them only after a line arrives on stdin, so that a second flood can
be timed by the caller without waiting for aioquic's key generation.

Prints "sent <count>" once the burst is out, then a JSON summary:
{"count", "sent_bytes", "refused", "answered", "retried", "silent", "other",
 "received_datagrams", "received_bytes"}.

usage: half_open_flood.py HOST PORT COUNT BIND_IP LISTEN_MS [--go-on-stdin]
"""
import json
import socket
import ssl
import sys
import time

from aioquic import tls
from aioquic.h3.connection import H3_ALPN
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import QuicConnection

CONNECTION_REFUSED = 0x2


def long_header_dcid(datagram):
    """The DCID of a long-header packet (the client's SCID), or None."""
    if len(datagram) < 6 or not datagram[0] & 0x80:
        return None
    length = datagram[5]
    return bytes(datagram[6 : 6 + length])


def main(host, port, count, bind_ip, listen_ms, go_on_stdin):
    server = (host, port)
    configuration = QuicConfiguration(is_client=True, alpn_protocols=H3_ALPN, verify_mode=ssl.CERT_NONE)
    connections = {}
    flights = []
    now = time.time()
    for _ in range(count):
        connection = QuicConnection(configuration=configuration)
        connection.connect(server, now=now)
        connections[connection.host_cid] = connection
        flights.append([data for data, _ in connection.datagrams_to_send(now=now)])

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.bind((bind_ip, 0))
    if go_on_stdin:
        print("ready", flush=True)
        sys.stdin.readline()
    sent_bytes = 0
    sent_datagrams = 0
    for flight in flights:
        for datagram in flight:
            sock.sendto(datagram, server)
            sent_bytes += len(datagram)
            sent_datagrams += 1
            if sent_datagrams % 50 == 0:
                time.sleep(0.002)
    print(f"sent {count}", flush=True)

    first = {}
    received_datagrams = 0
    received_bytes = 0
    deadline = time.monotonic() + listen_ms / 1000
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            datagram, _ = sock.recvfrom(65536)
        except socket.timeout:
            break
        received_datagrams += 1
        received_bytes += len(datagram)
        cid = long_header_dcid(datagram)
        if cid in connections and cid not in first:
            first[cid] = datagram

    outcome = {"refused": 0, "answered": 0, "retried": 0, "silent": 0, "other": 0}
    for cid, connection in connections.items():
        datagram = first.get(cid)
        if datagram is None:
            outcome["silent"] += 1
            continue
        connection.receive_datagram(datagram, server, now=time.time())
        # A received CONNECTION_CLOSE is kept here until aioquic's draining
        # period ends; nothing else has to run for it.
        closed = connection._close_event
        if connection._retry_count == 1:
            outcome["retried"] += 1
        elif closed is not None and closed.error_code == CONNECTION_REFUSED:
            outcome["refused"] += 1
        elif closed is None and connection._spaces[tls.Epoch.INITIAL].largest_received_packet >= 0:
            outcome["answered"] += 1
        else:
            outcome["other"] += 1
    print(json.dumps({"count": count, "sent_bytes": sent_bytes, "sent_datagrams": sent_datagrams, **outcome, "received_datagrams": received_datagrams, "received_bytes": received_bytes}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], int(sys.argv[5]), "--go-on-stdin" in sys.argv[6:])
