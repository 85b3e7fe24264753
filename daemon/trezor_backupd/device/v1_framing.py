"""Protocol v1 framing of one message: all the status read needs of trezorlib's protocol_v1.

Why not trezorlib's protocol_v1 itself: importing it loads trezorlib's client and its whole
THP stack (noise, cryptography: about 8 MiB resident, for the daemon's life), which a daemon
reading a Model One, a Model T or a Safe 3/5 never uses: the read sends one GetFeatures and
reads one reply. The frames are trezorlib's: the first chunk `?##`, the type and length
(big-endian) and the start of the message, the next ones `?` and the rest, each padded to
the transport's chunk size; a transport without chunks takes the message whole.
Operations, which need trezorlib's client anyway, keep using protocol_v1.
"""

from __future__ import annotations

import struct

from trezorlib import exceptions
from trezorlib.transport import Transport

_HEADER = struct.Struct(">HL")


def write(transport: Transport, message_type: int, data: bytes) -> None:
    """Send one message."""
    header = _HEADER.pack(message_type, len(data))
    size = transport.CHUNK_SIZE
    if size is None:
        transport.write_chunk(header + data)
        return
    payload = b"##" + header + data
    for start in range(0, len(payload), size - 1):
        transport.write_chunk((b"?" + payload[start : start + size - 1]).ljust(size, b"\0"))


def read(transport: Transport, timeout: float) -> tuple[int, bytes]:
    """Receive one message: its type and its bytes. Timeout from the transport when a chunk
    does not come in time; ProtocolError for a chunk without its magic."""
    first, more = (b"?##", b"?") if transport.CHUNK_SIZE is not None else (b"", b"")
    chunk = _chunk(transport, first, timeout)
    message_type, length = _HEADER.unpack(chunk[: _HEADER.size])
    data = bytearray(chunk[_HEADER.size :])
    while len(data) < length:
        data += _chunk(transport, more, timeout)
    return message_type, bytes(data[:length])


def _chunk(transport: Transport, magic: bytes, timeout: float) -> bytes:
    chunk = transport.read_chunk(timeout=timeout)
    if not chunk.startswith(magic):
        raise exceptions.ProtocolError(f"Missing chunk magic: {chunk.hex()}")
    return chunk[len(magic) :]
