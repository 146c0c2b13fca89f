"""Presents bad Retry tokens to a server that has enable_retry on, with
aioquic (a QUIC stack we did not write) building every packet.

Each attempt starts like a real client: socket A sends aioquic's first
Initial, gets the server's Retry, and hands it to aioquic, which checks the
Retry's integrity tag and builds its next Initial carrying the token, sent
to the connection ID the Retry named. What is then sent, and from where,
depends on MODE:

  replayed   the token Initial, byte for byte, from socket B (same IP, other
             port); then, as a control, from socket A
  flipped    the token Initial with one bit of the token flipped (the packet
             is otherwise unchanged); then, as a control, the unmodified one
  forged     aioquic's Initial after the Retry, but with a made-up token
             (the real token's fields, a random 32-byte tag) from socket A
  truncated  the same, with the real token missing its last 5 bytes
  expired    the token Initial from socket A, but only after WAIT_MS

For each send it listens LISTEN_MS and records how many bytes came back.
Prints a JSON list: [{"label", "sent_datagrams", "received_bytes"}, ...].

usage: retry_tokens.py HOST PORT MODE LISTEN_MS [WAIT_MS]
"""
import json
import os
import socket
import ssl
import sys
import time

from aioquic.h3.connection import H3_ALPN
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import QuicConnection


def new_socket():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    return sock


def new_connection(server):
    configuration = QuicConfiguration(is_client=True, alpn_protocols=H3_ALPN, verify_mode=ssl.CERT_NONE)
    connection = QuicConnection(configuration=configuration)
    connection.connect(server, now=time.time())
    return connection


def receive(sock, listen_ms):
    """Every datagram that arrives within listen_ms."""
    received = []
    deadline = time.monotonic() + listen_ms / 1000
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            received.append(sock.recvfrom(65536)[0])
        except socket.timeout:
            break
    return received


def send(sock, server, datagrams, listen_ms, label):
    for datagram in datagrams:
        sock.sendto(datagram, server)
    received = receive(sock, listen_ms)
    return {"label": label, "sent_datagrams": len(datagrams), "received_bytes": sum(len(d) for d in received)}


def retry_exchange(sock, server):
    """Runs the Retry round trip; returns the aioquic connection, ready to
    send its Initial with the token to the connection ID the Retry named."""
    connection = new_connection(server)
    for datagram, _ in connection.datagrams_to_send(now=time.time()):
        sock.sendto(datagram, server)
    sock.settimeout(5)
    retry = sock.recvfrom(65536)[0]
    connection.receive_datagram(retry, server, now=time.time())
    if connection._retry_count != 1:
        raise SystemExit("the server's first answer was not a valid Retry")
    return connection


def flight(connection):
    return [datagram for datagram, _ in connection.datagrams_to_send(now=time.time())]


def token_offset(datagram):
    """Where the token starts in a long-header Initial (RFC 9000 17.2.2)."""
    at = 5
    at += 1 + datagram[at]  # DCID
    at += 1 + datagram[at]  # SCID
    length_bits = datagram[at] >> 6
    return at + (1 << length_bits)


def main(host, port, mode, listen_ms, wait_ms):
    server = (host, port)
    sock_a = new_socket()
    results = []
    connection = retry_exchange(sock_a, server)
    token = connection._peer_token
    if mode == "forged":
        # Everything as a real client would send it, to the connection ID
        # the Retry named, except the token.
        # The fields are ours to read (the format is public); the tag at
        # the end is what a forger has to guess.
        connection._peer_token = token[:-32] + os.urandom(32)
        results.append(send(sock_a, server, flight(connection), listen_ms, "forged"))
    elif mode == "truncated":
        connection._peer_token = token[:-5]
        results.append(send(sock_a, server, flight(connection), listen_ms, "truncated"))
    else:
        datagrams = flight(connection)
        if mode == "replayed":
            results.append(send(new_socket(), server, datagrams, listen_ms, "other port"))
            results.append(send(sock_a, server, datagrams, listen_ms, "same port"))
        elif mode == "flipped":
            flipped = []
            for datagram in datagrams:
                altered = bytearray(datagram)
                at = token_offset(altered)
                if altered[at : at + len(token)] != token:
                    raise SystemExit("token not found where RFC 9000 17.2.2 puts it")
                altered[at + len(token) // 2] ^= 0x01
                flipped.append(bytes(altered))
            results.append(send(sock_a, server, flipped, listen_ms, "flipped bit"))
            results.append(send(sock_a, server, datagrams, listen_ms, "unmodified"))
        elif mode == "expired":
            time.sleep(wait_ms / 1000)
            results.append(send(sock_a, server, datagrams, listen_ms, "expired"))
        else:
            raise SystemExit(f"unknown mode {mode}")
    print(json.dumps(results))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5]) if len(sys.argv) > 5 else 0)
