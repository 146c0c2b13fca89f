"""RFC 9297 capsules as the test clients send them: type, length, value."""
from aioquic.buffer import Buffer


def capsule(kind, value):
    buf = Buffer(capacity=16 + len(value))
    buf.push_uint_var(kind)
    buf.push_uint_var(len(value))
    buf.push_bytes(value)
    return buf.data
