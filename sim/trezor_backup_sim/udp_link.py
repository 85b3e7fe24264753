"""The emulator's UDP transport: two loopback ports, 64-byte protocol-v1 chunks.

Behaves like `legacy/emulator/udp.c` + `legacy/firmware/messages.c`: there is no
connection, replies go to the address of the last datagram a port received, every
datagram is handled as exactly 64 bytes (short ones padded with the previous
datagram's bytes, long ones truncated), one reassembly buffer is shared by both
ports, and while the device blocks in a prompt only single-chunk "tiny" messages
are read.
"""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass, field

from trezorlib import messages

from . import codec
from .device import TINY_MESSAGES, Channel, Device, Reply
from .faults import Fault, faulty_chunks

LOG = logging.getLogger(__name__)

PING = b"PINGPING"
PONG = b"PONGPONG"
_Address = tuple[str, int]


@dataclass
class _PartialMessage:
    """A message whose first chunk has arrived but not all its payload."""

    channel: Channel
    wire_type: int
    length: int
    payload: bytearray = field(default_factory=bytearray)


class UdpLink:
    """Binds the wire port P and the DebugLink port P+1 and feeds the device."""

    def __init__(
        self, device: Device, port: int, host: str = "127.0.0.1", fault: Fault | None = None
    ) -> None:
        self._device = device
        self._fault = fault
        self.sockets: dict[Channel, socket.socket] = {}
        for channel, channel_port in ((Channel.WIRE, port), (Channel.DEBUG, port + 1)):
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                sock.bind((host, channel_port))
            except OSError:
                sock.close()
                self.close()
                raise
            sock.setblocking(False)
            self.sockets[channel] = sock
        self._last_sender: dict[Channel, _Address] = {}
        self._buffers = {channel: bytes(codec.CHUNK_SIZE) for channel in Channel}
        self._partial: _PartialMessage | None = None

    def close(self) -> None:
        """Release both ports."""
        for sock in self.sockets.values():
            sock.close()

    def receive(self, channel: Channel) -> None:
        """Read and process one datagram waiting on `channel`'s socket.

        One at a time, so that the event loop can look at the other port in between:
        a host that sends on both ports meant the order it sent in.
        """
        sock = self.sockets[channel]
        try:
            datagram, sender = sock.recvfrom(codec.CHUNK_SIZE)
        except (BlockingIOError, ConnectionRefusedError):
            return  # nothing, or an ICMP error for an earlier reply
        self._last_sender[channel] = sender
        if datagram == PING:
            self._sendto(channel, PONG)
            return
        chunk = datagram + self._buffers[channel][len(datagram) :]
        self._buffers[channel] = chunk
        self._send(self._process(channel, chunk))

    def _process(self, channel: Channel, chunk: bytes) -> list[Reply]:
        """One 64-byte chunk: tiny-mode read, start or continuation of a message."""
        if self._device.reads_only_tiny_messages:
            return self._process_tiny(channel, chunk)
        if self._partial is None:
            header = codec.parse_header(chunk)
            if header is None:
                return []  # no message start: ignored
            if not self._device.is_known(channel, header.wire_type):
                return self._device.unknown_message()
            if header.length > codec.MAX_MESSAGE_SIZE:
                return self._device.transport_failure(
                    messages.FailureType.DataError, "Message too big"
                )
            self._partial = _PartialMessage(channel, header.wire_type, header.length)
            self._partial.payload += chunk[codec.FIRST_PAYLOAD_OFFSET :]
        elif chunk.startswith(codec.NEXT_MAGIC):
            self._partial.payload += chunk[len(codec.NEXT_MAGIC) :]
        else:
            self._partial = None  # a broken continuation resets the reader
            return []
        partial = self._partial
        if len(partial.payload) < partial.length:
            return []
        self._partial = None
        try:
            msg = codec.decode(partial.wire_type, bytes(partial.payload[: partial.length]))
        except codec.DecodeError as exc:
            return self._device.transport_failure(messages.FailureType.DataError, str(exc))
        return self._device.handle(partial.channel, msg)

    def _process_tiny(self, channel: Channel, chunk: bytes) -> list[Reply]:
        """msg_read_tiny: a whole tiny message in one chunk, or nothing."""
        header = codec.parse_header(chunk)
        if header is None or header.length > codec.CHUNK_SIZE - codec.FIRST_PAYLOAD_OFFSET:
            return []
        msg_class = codec.message_class(header.wire_type)
        if msg_class not in TINY_MESSAGES:
            return []
        start = codec.FIRST_PAYLOAD_OFFSET
        try:
            msg = codec.decode(header.wire_type, chunk[start : start + header.length])
        except codec.DecodeError:
            return []
        return self._device.handle(channel, msg)

    def _send(self, replies: list[Reply]) -> None:
        """Send each reply, chunked, to the last sender of its port."""
        for channel, msg in replies:
            LOG.debug("reply on %s: %s", channel.value, type(msg).__name__)
            if self._fault is not None and channel is Channel.WIRE:
                chunks = faulty_chunks(self._fault, msg)
            else:
                chunks = codec.encode_chunks(msg)
            for chunk in chunks:
                self._sendto(channel, chunk)

    def _sendto(self, channel: Channel, data: bytes) -> None:
        """One datagram to the port's last sender; dropped when nobody sent yet."""
        address = self._last_sender.get(channel)
        if address is None:
            return
        try:
            self.sockets[channel].sendto(data, address)
        except OSError as exc:
            LOG.debug("reply to %s lost: %s", address, exc)
