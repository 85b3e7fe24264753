"""Protocol v1 framing and protobuf decoding with the firmware's error behaviour.

trezorlib encodes and decodes the messages, but it is lenient where the firmware is
not (it happily decodes a truncated field), so payloads are first walked the way
nanopb walks them, to produce the same Failure text the device sends.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from trezorlib import mapping, protobuf

CHUNK_SIZE = 64
FIRST_MAGIC = b"?##"
NEXT_MAGIC = b"?"
HEADER = struct.Struct(">HL")
# MSG_IN_ENCODED_SIZE of the legacy firmware: larger declared lengths are refused.
MAX_MESSAGE_SIZE = 16 * 1024

MAPPING = mapping.DEFAULT_MAPPING


class DecodeError(Exception):
    """A payload the firmware's decoder rejects; the text is nanopb's error string."""


def encode_chunks(msg: protobuf.MessageType) -> list[bytes]:
    """Split a message into 64-byte chunks exactly like the firmware's writer."""
    wire_type, payload = MAPPING.encode(msg)
    data = b"##" + HEADER.pack(wire_type, len(payload)) + payload
    step = CHUNK_SIZE - 1
    return [
        (NEXT_MAGIC + data[i : i + step]).ljust(CHUNK_SIZE, b"\0")
        for i in range(0, len(data), step)
    ]


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    """One base-128 varint; raises with nanopb's wording on truncation/overflow."""
    value = 0
    for shift in range(0, 70, 7):
        if pos >= len(data):
            raise DecodeError("end-of-stream")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
    raise DecodeError("varint overflow")


def _check_wire_format(data: bytes) -> None:
    """Walk the protobuf fields like nanopb does, without interpreting them."""
    pos = 0
    while pos < len(data):
        key, pos = _read_varint(data, pos)
        wtype = key & 7
        if wtype == 0:
            _, pos = _read_varint(data, pos)
        elif wtype == 2:
            size, pos = _read_varint(data, pos)
            if pos + size > len(data):
                raise DecodeError("end-of-stream")
            pos += size
        elif wtype in (1, 5):
            pos += 8 if wtype == 1 else 4
            if pos > len(data):
                raise DecodeError("end-of-stream")
        else:
            raise DecodeError("invalid wire_type")


def decode(wire_type: int, payload: bytes) -> protobuf.MessageType:
    """Decode a payload of a known type, or raise DecodeError with the device's text."""
    _check_wire_format(payload)
    try:
        msg = MAPPING.decode(wire_type, payload)
    except ValueError as exc:
        raise DecodeError("wrong wire_type") from exc
    _truncate_at_nul(msg)
    return msg


def _truncate_at_nul(msg: protobuf.MessageType) -> None:
    """The firmware keeps strings as C strings: everything after a NUL is lost."""
    for field in msg.FIELDS.values():
        value = getattr(msg, field.name)
        if isinstance(value, str):
            setattr(msg, field.name, value.split("\0", 1)[0])


def message_class(wire_type: int) -> type[protobuf.MessageType] | None:
    """The trezorlib class of a wire type, None when the type does not exist."""
    return MAPPING.type_to_class.get(wire_type)


@dataclass(frozen=True)
class Header:
    """The fields of a first chunk after the `?##` magic."""

    wire_type: int
    length: int


def parse_header(chunk: bytes) -> Header | None:
    """The header of a first chunk, None when it does not start with `?##`."""
    if not chunk.startswith(FIRST_MAGIC):
        return None
    wire_type, length = HEADER.unpack_from(chunk, len(FIRST_MAGIC))
    return Header(wire_type, length)


FIRST_PAYLOAD_OFFSET = len(FIRST_MAGIC) + HEADER.size
