"""Sends the first flight of one real aioquic client connection (a ClientHello
in an Initial, padded to 1200 bytes) from a fresh UDP socket, then never
sends anything again: no ACK, no answer to a Retry, no Finished. For
LISTEN_MS it counts every datagram the server sends to that socket.

Each received datagram is classified by its first byte: a long-header
packet type (initial, 0rtt, handshake, retry) or "short". A Retry is also
handed to aioquic, which accepts it only if its integrity tag (RFC 9001
5.8) and connection IDs check out; aioquic then wants to send a new
Initial with the token, which this script never does.

Prints {"sent_bytes", "sent_datagrams", "received_bytes",
"received_datagrams", "types": [...], "retry_accepted": bool}.

usage: silent_initial.py HOST PORT LISTEN_MS
"""
import json
import socket
import ssl
import sys
import time

from aioquic.h3.connection import H3_ALPN
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import QuicConnection

LONG_TYPES = ["initial", "0rtt", "handshake", "retry"]


def packet_type(datagram):
    if not datagram[0] & 0x80:
        return "short"
    return LONG_TYPES[(datagram[0] & 0x30) >> 4]


def main(host, port, listen_ms):
    server = (host, port)
    configuration = QuicConfiguration(is_client=True, alpn_protocols=H3_ALPN, verify_mode=ssl.CERT_NONE)
    connection = QuicConnection(configuration=configuration)
    connection.connect(server, now=time.time())
    flight = [data for data, _ in connection.datagrams_to_send(now=time.time())]

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    for datagram in flight:
        sock.sendto(datagram, server)

    received = []
    deadline = time.monotonic() + listen_ms / 1000
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            datagram, _ = sock.recvfrom(65536)
        except socket.timeout:
            break
        received.append(datagram)

    retry_accepted = False
    for datagram in received:
        if packet_type(datagram) == "retry":
            connection.receive_datagram(datagram, server, now=time.time())
            retry_accepted = connection._retry_count == 1
    print(json.dumps({
        "sent_bytes": sum(len(d) for d in flight),
        "sent_datagrams": len(flight),
        "received_bytes": sum(len(d) for d in received),
        "received_datagrams": len(received),
        "types": [packet_type(d) for d in received],
        "retry_accepted": retry_accepted,
    }))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
