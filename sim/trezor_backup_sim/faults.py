"""Fault modes: a broken or hostile device, for testing the host's robustness.

A real Trezor never does these; a damaged cable, a counterfeit device or a buggy emulator
might. Each mode replaces every reply on the wire port (PINGPING is still answered, so
the device looks present); DebugLink keeps working.
"""

from __future__ import annotations

import enum
import struct

from trezorlib import messages, protobuf

from . import codec


class Fault(enum.StrEnum):
    GARBAGE = "garbage"  # 64 random-looking bytes without the chunk magic
    TRUNCATED = "truncated"  # the first chunk of the reply, never the rest
    OVERSIZED = "oversized"  # a header that declares a 2 GiB message
    UNKNOWN_TYPE = "unknown_type"  # a message type no firmware has
    WRONG_REPLY = "wrong_reply"  # a well-formed reply of the wrong type
    SILENT = "silent"  # no reply at all


def faulty_chunks(fault: Fault, reply: protobuf.MessageType) -> list[bytes]:
    """What the broken device sends instead of `reply`."""
    size = codec.CHUNK_SIZE
    if fault is Fault.GARBAGE:
        return [bytes((i * 37 + 11) % 256 for i in range(size)).replace(b"?", b"!")]
    if fault is Fault.TRUNCATED:
        chunks = codec.encode_chunks(reply)
        return chunks[:1] if len(chunks) > 1 else [chunks[0][:8].ljust(size, b"\0")]
    if fault is Fault.OVERSIZED:
        return [(b"?##" + struct.pack(">HL", 17, 0x7FFF_FFFF)).ljust(size, b"\0")]
    if fault is Fault.UNKNOWN_TYPE:
        return [(b"?##" + struct.pack(">HL", 0xFFFE, 0)).ljust(size, b"\0")]
    if fault is Fault.WRONG_REPLY:
        return codec.encode_chunks(messages.Success(message="not what you asked for"))
    return []
