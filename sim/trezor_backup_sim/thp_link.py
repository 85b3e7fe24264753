"""THP over UDP for the Safe 7: channels, handshake, pairing, then the core device over it.

Behaves like core 2.10.0's `wire/thp/` as recorded on the T3W1 emulator
(`tests/vectors/safe7-2.10.0`): 64-byte packets with a CRC-32, channel allocation on
the broadcast channel (ids from 0x81f6 after each boot), one ACK frame per data frame
(protocol 2.0: no piggybacking; the device's own frames carry ack bit 0), the Noise XX
handshake (`thp_crypto`), `DEVICE_LOCKED` for a locked device unless the host asks to
unlock (then the PIN is typed on the device and the handshake waits), CodeEntry
pairing, credentials and the connection / autoconnect dialogs. Once a channel reaches
encrypted transport its messages go to the same `Device` as the other core models.
DebugLink stays protocol v1 on the next port (`UdpLink`), and answers
`DebugLinkGetPairingInfo` with the code on display.

Modelled without a recording (named guesses): a wrong code or a cancel ends the pairing
on that channel (every later message gets `Failure(UnexpectedMessage)`; the recording
only shows that the host starts over on a new channel); refusing the connection or the
autoconnect dialog answers `Failure(ActionCancelled, "Cancelled")`; NFC and QrCode are
advertised (as the debug emulator does) but selecting them is refused.
"""

from __future__ import annotations

import enum
import hashlib
import io
import logging
import secrets
import struct
import zlib
from collections.abc import Generator
from dataclasses import dataclass, field

from trezorlib import messages, protobuf

from . import codec
from .device import Channel, Device, Reply
from .prompts import Answer, ButtonPrompt, Flow, Prompt, ScreenPrompt, core_cancelled, failure
from .thp_crypto import (
    CipherState,
    CodeEntryCpace,
    DecryptionError,
    Handshake,
    code_entry_code,
    issue_credential,
    public_key,
    static_private_key,
    validate_credential,
)
from .udp_link import PING, PONG, UdpLink

LOG = logging.getLogger(__name__)

_FT = messages.FailureType
_PM = messages.ThpPairingMethod
BROADCAST = 0xFFFF
FIRST_CHANNEL_ID = 0x81F6
_CODEC_V1 = 0x3F
_ALLOCATION_REQ, _ALLOCATION_RES, _ERROR, _PING, _PONG = 0x40, 0x41, 0x42, 0x43, 0x44
_INIT_REQ, _INIT_RES, _COMP_REQ, _COMP_RES, _ENCRYPTED = 0, 1, 2, 3, 4
_CONTINUATION = 0x80
_SEQ_BIT = 0x10
# What a core firmware answers to a protocol-v1 message (interface_context.py).
_INVALID_PROTOCOL = b"?##\x00\x03\x00\x00\x00\x14\x08\x11".ljust(codec.CHUNK_SIZE, b"\0")
_THP_TYPES = frozenset(int(t) for t in messages.ThpMessageType)
# The debug emulator's pairing methods, in its order (recorded a1); production: CodeEntry.
DEBUG_PAIRING_METHODS = (_PM.CodeEntry, _PM.SkipPairing, _PM.NFC, _PM.QrCode)
PRODUCTION_PAIRING_METHODS = (_PM.CodeEntry,)


class ThpError(enum.IntEnum):
    """The codes of a THP ERROR frame."""

    UNALLOCATED_CHANNEL = 2
    DECRYPTION_FAILED = 3
    DEVICE_LOCKED = 5


class Phase(enum.Enum):
    """Where a channel is, after the firmware's ChannelState (TH1, TP0-TP3, TC1, ...)."""

    HANDSHAKE = "TH1"
    PAIRING_REQUEST = "TP0"
    SELECT_METHOD = "TP1"
    CHALLENGE = "TP2"
    CODE_SHOWN = "TP3"
    CREDENTIAL = "TC1"
    TRANSPORT = "ENCRYPTED_TRANSPORT"
    FAILED = "failed"


@dataclass
class ThpChannel:
    """One allocated channel and everything the firmware caches for it."""

    cid: int
    phase: Phase = Phase.HANDSHAKE
    receive_seq: int = 0
    send_seq: int = 0
    handshake: Handshake | None = None
    unlock_pending: bytes | None = None  # a HANDSHAKE_INIT_REQ waiting for the PIN
    handshake_hash: bytes = b""
    host_static: bytes = b""
    receive: CipherState | None = None
    send: CipherState | None = None
    session: int = 0
    credential: messages.ThpPairingCredential | None = None
    replaces_channel: bool = False
    connection_confirmed: bool = False
    host_name: str | None = None
    app_name: str | None = None
    code_secret: bytes = b""
    code: str | None = None
    cpace: CodeEntryCpace | None = None
    partial: bytearray = field(default_factory=bytearray)
    partial_length: int = 0


def _frame(ctrl: int, cid: int, data: bytes) -> list[bytes]:
    """A THP payload with its CRC, in 64-byte packets (continuations: 0x80 + cid)."""
    head = struct.pack(">BHH", ctrl, cid, len(data) + 4) + data
    whole = head + zlib.crc32(head).to_bytes(4, "big")
    size = codec.CHUNK_SIZE
    packets = [whole[:size]]
    rest = whole[size:]
    step = size - 3
    packets += [
        struct.pack(">BH", _CONTINUATION, cid) + rest[i : i + step]
        for i in range(0, len(rest), step)
    ]
    return [packet.ljust(size, b"\0") for packet in packets]


def _encode(msg: protobuf.MessageType) -> bytes:
    buf = io.BytesIO()
    protobuf.dump_message(buf, msg)
    return buf.getvalue()


def device_properties(internal_model: str, methods: tuple[int, ...]) -> bytes:
    """The ThpDeviceProperties sent at allocation and used as the Noise prologue."""
    props = messages.ThpDeviceProperties(
        internal_model=internal_model,
        model_variant=0,
        protocol_version_major=2,
        protocol_version_minor=0,
        pairing_methods=[_PM(m) for m in methods],
    )
    return _encode(props)


class ThpLink(UdpLink):
    """The wire port speaks THP; the DebugLink port stays protocol v1 (the base class)."""

    def __init__(
        self,
        device: Device,
        port: int,
        host: str = "127.0.0.1",
        *,
        pairing_methods: tuple[int, ...] = DEBUG_PAIRING_METHODS,
    ) -> None:
        super().__init__(device, port, host)
        assert device.info.internal_model is not None
        self._methods = pairing_methods
        self._properties = device_properties(device.info.internal_model, pairing_methods)
        self._channels: dict[int, ThpChannel] = {}
        self._next_cid = FIRST_CHANNEL_ID
        self._active: ThpChannel | None = None
        self._secret = device.wallet.thp_secret
        self._wire_sender: tuple[str, int] | None = None
        self._reassembling: ThpChannel | None = None
        device.thp_pairing_info = self._pairing_info

    # -- packets -----------------------------------------------------------------

    def receive(self, channel: Channel) -> None:
        """One datagram; DebugLink goes to the protocol-v1 reader of the base class."""
        if channel is Channel.DEBUG:
            super().receive(channel)
            self._after_device()
            return
        try:
            datagram, sender = self.sockets[channel].recvfrom(codec.CHUNK_SIZE)
        except (BlockingIOError, ConnectionRefusedError):
            return
        self._wire_sender = sender
        if datagram == PING:
            self._write(PONG)
            return
        packet = datagram.ljust(codec.CHUNK_SIZE, b"\0")
        self._packet(packet)
        self._after_device()

    def _write(self, data: bytes) -> None:
        if self._wire_sender is None:
            return
        try:
            self.sockets[Channel.WIRE].sendto(data, self._wire_sender)
        except OSError as exc:
            LOG.debug("THP packet lost: %s", exc)

    def _send_frame(self, ctrl: int, cid: int, data: bytes) -> None:
        for packet in _frame(ctrl, cid, data):
            self._write(packet)

    def _packet(self, packet: bytes) -> None:
        """Reassemble (one message at a time, like the firmware's single buffer)."""
        ctrl = packet[0]
        if ctrl == _CODEC_V1:
            if packet[1:3] == b"##":
                self._write(_INVALID_PROTOCOL)
            return
        cid = int.from_bytes(packet[1:3], "big")
        if ctrl & _CONTINUATION:
            channel = self._reassembling
            if channel is None or channel.cid != cid:
                return
            channel.partial += packet[3:]
            self._maybe_complete(channel)
            return
        length = int.from_bytes(packet[3:5], "big")
        if cid == BROADCAST:
            self._broadcast(ctrl, packet[: 5 + length])
            return
        channel = self._channels.get(cid)
        if channel is None:
            self._send_frame(_ERROR, cid, bytes([ThpError.UNALLOCATED_CHANNEL]))
            return
        channel.partial = bytearray(packet[:5]) + packet[5:]
        channel.partial_length = 5 + length
        self._reassembling = channel
        self._maybe_complete(channel)

    def _maybe_complete(self, channel: ThpChannel) -> None:
        if len(channel.partial) < channel.partial_length:
            return
        self._reassembling = None
        whole = bytes(channel.partial[: channel.partial_length])
        channel.partial = bytearray()
        body, crc = whole[:-4], whole[-4:]
        if zlib.crc32(body).to_bytes(4, "big") != crc:
            LOG.debug("THP frame with a bad checksum dropped")
            return
        self._frame_in(channel, body[0], body[5:])

    def _broadcast(self, ctrl: int, whole: bytes) -> None:
        body, crc = whole[:-4], whole[-4:]
        if len(body) != 5 + 8 or zlib.crc32(body).to_bytes(4, "big") != crc:
            return
        nonce = body[5:]
        if ctrl == _PING:
            self._send_frame(_PONG, BROADCAST, nonce)
        elif ctrl == _ALLOCATION_REQ:
            cid = self._next_cid
            self._next_cid = self._next_cid + 1 if self._next_cid < 0xFFEF else FIRST_CHANNEL_ID
            self._channels[cid] = ThpChannel(cid)
            self._send_frame(
                _ALLOCATION_RES, BROADCAST, nonce + cid.to_bytes(2, "big") + self._properties
            )

    def _frame_in(self, channel: ThpChannel, ctrl: int, data: bytes) -> None:
        """A whole frame on an allocated channel: ACKs are noted, data acknowledged first."""
        if ctrl & 0xF7 == 0x20:
            return  # the host's ACK of our last frame: nothing is ever retransmitted here
        if ctrl & 0xE0:
            return  # reserved or broadcast-only control byte on a channel
        seq = 1 if ctrl & _SEQ_BIT else 0
        self._send_frame(0x20 | (seq << 3), channel.cid, b"")
        if seq != channel.receive_seq:
            return  # a retransmission of a frame already handled
        channel.receive_seq ^= 1
        kind = ctrl & 0x07
        if kind == _INIT_REQ and channel.phase is Phase.HANDSHAKE:
            self._handshake_init(channel, data)
        elif kind == _COMP_REQ and channel.phase is Phase.HANDSHAKE:
            self._handshake_complete(channel, data)
        elif kind == _ENCRYPTED and channel.receive is not None:
            self._encrypted(channel, data)

    def _send_data(self, channel: ThpChannel, kind: int, data: bytes) -> None:
        ctrl = kind | (_SEQ_BIT * channel.send_seq)
        channel.send_seq ^= 1
        self._send_frame(ctrl, channel.cid, data)

    def _error(self, channel: ThpChannel, code: ThpError) -> None:
        """A THP ERROR frame; the channel is gone afterwards (firmware `channel.clear()`)."""
        self._send_frame(_ERROR, channel.cid, bytes([code]))
        self._channels.pop(channel.cid, None)

    # -- handshake -----------------------------------------------------------------

    @property
    def _locked(self) -> bool:
        wallet = self._device.wallet
        return wallet.pin is not None and not wallet.unlocked

    def _handshake_init(self, channel: ThpChannel, data: bytes) -> None:
        if len(data) != 33:
            return
        if self._locked:
            if not data[32] & 1:
                self._error(channel, ThpError.DEVICE_LOCKED)
                return
            channel.unlock_pending = data
            self._active = channel
            self._deliver(self._device.start(_unlock_on_device(self._device)))
            return
        self._init_response(channel, data)

    def _init_response(self, channel: ThpChannel, data: bytes) -> None:
        channel.unlock_pending = None
        channel.handshake = Handshake(self._device.wallet.thp_secret)
        try:
            reply = channel.handshake.init_response(self._properties, data[:32], data[32:])
        except ValueError:  # a low-order host key: no shared secret
            self._error(channel, ThpError.DECRYPTION_FAILED)
            return
        self._send_data(channel, _INIT_RES, reply)

    def _handshake_complete(self, channel: ThpChannel, data: bytes) -> None:
        if channel.handshake is None:
            return
        if self._locked:
            self._error(channel, ThpError.DEVICE_LOCKED)
            return
        try:
            result = channel.handshake.complete(data)
            payload = protobuf.load_message(
                io.BytesIO(result.noise_payload), messages.ThpHandshakeCompletionReqNoisePayload
            )
        except (DecryptionError, ValueError):
            self._error(channel, ThpError.DECRYPTION_FAILED)
            return
        channel.handshake = None
        channel.handshake_hash = result.handshake_hash
        channel.host_static = result.host_static_public_key
        channel.receive, channel.send = result.receive, result.send
        state = 0
        if payload.host_pairing_credential is not None:
            channel.credential = validate_credential(
                self._device.wallet.thp_secret,
                channel.host_static,
                payload.host_pairing_credential,
            )
        if channel.credential is not None:
            channel.replaces_channel = any(
                other is not channel
                and other.phase is Phase.TRANSPORT
                and other.host_static == channel.host_static
                for other in self._channels.values()
            )
            state = 2 if channel.replaces_channel else 1
        channel.phase = Phase.CREDENTIAL if state else Phase.PAIRING_REQUEST
        self._send_data(channel, _COMP_RES, channel.send.seal(bytes([state])))

    # -- encrypted messages ------------------------------------------------------------

    def _encrypted(self, channel: ThpChannel, data: bytes) -> None:
        assert channel.receive is not None
        try:
            plaintext = channel.receive.open(data)
        except DecryptionError:
            self._error(channel, ThpError.DECRYPTION_FAILED)
            return
        if len(plaintext) < 3:
            return
        channel.session = plaintext[0]
        wire_type = int.from_bytes(plaintext[1:3], "big")
        self._active = channel
        try:
            msg = codec.decode(wire_type, plaintext[3:])
        except (codec.DecodeError, ValueError) as exc:
            self._deliver(self._device.transport_failure(_FT.DataError, str(exc)))
            return
        to_device = isinstance(msg, messages.ButtonAck) or (
            isinstance(msg, messages.Cancel) and self._device.waits_for_the_owner
        )
        if channel.phase is Phase.TRANSPORT or to_device:
            self._deliver(self._device.handle(Channel.WIRE, msg))
        elif wire_type not in _THP_TYPES:
            # The pairing context knows no such type: its number is the whole text (a1).
            self._reply([messages.Failure(code=_FT.FirmwareError, message=str(wire_type))])
        else:
            self._pairing(channel, msg)

    def send_message(self, channel: ThpChannel, msg: protobuf.MessageType) -> None:
        """One message to the host on `channel`, encrypted, on its current session."""
        assert channel.send is not None
        wire_type, payload = codec.MAPPING.encode(msg)
        header = struct.pack(">BH", channel.session, wire_type)
        self._send_data(channel, _ENCRYPTED, channel.send.seal(header + payload))

    def _reply(self, replies: list[protobuf.MessageType]) -> None:
        self._deliver([(Channel.WIRE, reply) for reply in replies])

    def _deliver(self, replies: list[Reply]) -> None:
        """Device replies: wire ones to the channel that spoke last, DebugLink as v1."""
        for port, msg in replies:
            if port is Channel.DEBUG:
                super()._send([(port, msg)])
            elif self._active is not None and self._active.cid in self._channels:
                self.send_message(self._active, msg)

    def _send(self, replies: list[Reply]) -> None:
        """What the DebugLink reader of the base class hands on: it may end a wire flow."""
        self._deliver(replies)

    def _after_device(self) -> None:
        """After the owner or the host acted: a finished unlock, a wipe."""
        secret = self._device.wallet.thp_secret
        if secret != self._secret:
            # A wipe: new device secret, new static key; every channel is gone (f2).
            self._secret = secret
            self._channels.clear()
            return
        if not self._locked:
            for channel in list(self._channels.values()):
                if channel.unlock_pending is not None:
                    self._init_response(channel, channel.unlock_pending)

    # -- pairing and credentials -----------------------------------------------------

    def _pairing(self, channel: ThpChannel, msg: protobuf.MessageType) -> None:
        """A pairing-phase message (firmware apps/thp/pairing.py)."""
        phase = channel.phase
        if isinstance(msg, messages.Cancel) and phase is not Phase.CREDENTIAL:
            channel.phase = Phase.FAILED if phase is not Phase.PAIRING_REQUEST else phase
            self._reply(core_cancelled())
        elif phase is Phase.PAIRING_REQUEST and isinstance(msg, messages.ThpPairingRequest):
            if not msg.host_name:
                self._reply(failure(_FT.DataError, "Missing host_name."))
            elif not msg.app_name:
                self._reply(failure(_FT.DataError, "Missing app_name."))
            else:
                self._deliver(self._device.start(self._pairing_request(channel, msg)))
        elif phase is Phase.SELECT_METHOD and isinstance(msg, messages.ThpSelectMethod):
            self._select_method(channel, msg.selected_pairing_method)
        elif phase is Phase.CHALLENGE and isinstance(msg, messages.ThpCodeEntryChallenge):
            self._challenge(channel, msg.challenge)
        elif phase is Phase.CODE_SHOWN and isinstance(msg, messages.ThpCodeEntryCpaceHostTag):
            self._host_tag(channel, msg)
        elif phase is Phase.CREDENTIAL:
            self._deliver(self._device.start(self._credential_phase(channel, msg)))
        else:
            self._reply(failure(_FT.UnexpectedMessage, "Unexpected message"))

    def _pairing_request(self, channel: ThpChannel, msg: messages.ThpPairingRequest) -> Flow:
        """'Allow <app> on <host> to pair with this Trezor?' on the device."""
        allowed = yield ButtonPrompt(
            messages.ButtonRequestType.Other, name="thp_pairing_request", pages=1
        )
        if not allowed:
            return core_cancelled()
        channel.host_name, channel.app_name = msg.host_name, msg.app_name
        channel.phase = Phase.SELECT_METHOD
        return [messages.ThpPairingRequestApproved()]

    def _select_method(self, channel: ThpChannel, method: int) -> None:
        if method not in self._methods or method in (_PM.NFC, _PM.QrCode):
            self._reply(failure(_FT.DataError, "Selected pairing method is not supported"))
        elif method == _PM.SkipPairing:
            self._end_pairing(channel)
        else:
            channel.code_secret = secrets.token_bytes(16)
            channel.phase = Phase.CHALLENGE
            commitment = messages.ThpCodeEntryCommitment(commitment=_sha256(channel.code_secret))
            self._reply([commitment])

    def _challenge(self, channel: ThpChannel, challenge: bytes | None) -> None:
        if not challenge:
            self._reply(failure(_FT.DataError, "Invalid message"))
            return
        channel.code = code_entry_code(channel.handshake_hash, channel.code_secret, challenge)
        channel.cpace = CodeEntryCpace(channel.code, channel.handshake_hash)
        channel.phase = Phase.CODE_SHOWN  # "Enter this one-time security code on <host>"
        self._reply(
            [messages.ThpCodeEntryCpaceTrezor(cpace_trezor_public_key=channel.cpace.public_key)]
        )

    def _host_tag(self, channel: ThpChannel, msg: messages.ThpCodeEntryCpaceHostTag) -> None:
        assert channel.cpace is not None
        expected = channel.cpace.expected_tag(msg.cpace_host_public_key or b"")
        channel.code = channel.cpace = None
        if not expected or msg.tag != expected:
            channel.phase = Phase.FAILED
            self._reply(failure(_FT.FirmwareError, "Unexpected Code Entry Tag"))
            return
        channel.phase = Phase.CREDENTIAL
        channel.connection_confirmed = True  # just paired: no connection dialog
        self._reply([messages.ThpCodeEntrySecret(secret=channel.code_secret)])

    def _credential_phase(self, channel: ThpChannel, msg: protobuf.MessageType) -> Flow:
        """Credential requests and ThpEndRequest, after the connection dialog if due."""
        credential = channel.credential
        autoconnect = credential is not None and bool(credential.cred_metadata.autoconnect)
        if not (channel.connection_confirmed or autoconnect or channel.replaces_channel):
            if not (yield _dialog("thp_connection_request")):
                return core_cancelled()
            channel.connection_confirmed = True
        if credential is not None and channel.host_name is None:
            channel.host_name = credential.cred_metadata.host_name
            channel.app_name = credential.cred_metadata.app_name
        if isinstance(msg, messages.ThpEndRequest):
            return self._end_pairing(channel, reply=False)
        if not isinstance(msg, messages.ThpCredentialRequest):
            return failure(_FT.UnexpectedMessage, "Unexpected message")
        if msg.autoconnect:
            if credential is None:
                return failure(_FT.DataError, "Cannot ask for autoconnect credential after pairing")
            if not (yield _dialog("thp_autoconnect_credential_request")):
                return core_cancelled()
        assert channel.host_name is not None and channel.app_name is not None
        metadata = messages.ThpCredentialMetadata(
            host_name=channel.host_name,
            app_name=channel.app_name,
            autoconnect=bool(msg.autoconnect),
        )
        secret = self._device.wallet.thp_secret
        issued = issue_credential(secret, msg.host_static_public_key, metadata)
        trezor_key = public_key(static_private_key(secret))
        return [
            messages.ThpCredentialResponse(trezor_static_public_key=trezor_key, credential=issued)
        ]

    def _end_pairing(
        self, channel: ThpChannel, *, reply: bool = True
    ) -> list[protobuf.MessageType]:
        """ThpEndResponse; older channels of the same host are replaced (closed)."""
        for other in list(self._channels.values()):
            if (
                other is not channel
                and other.host_static == channel.host_static
                and other.phase is Phase.TRANSPORT
            ):
                del self._channels[other.cid]
        channel.phase = Phase.TRANSPORT
        end: list[protobuf.MessageType] = [messages.ThpEndResponse()]
        if reply:
            self._reply(end)
        return end

    def _pairing_info(self, msg: messages.DebugLinkGetPairingInfo) -> messages.DebugLinkPairingInfo:
        """DebugLinkGetPairingInfo (debug firmware): the code the channel's screen shows."""
        wanted = int.from_bytes(msg.channel_id, "big") if msg.channel_id else None
        shown = [c for c in self._channels.values() if c.code is not None]
        channel = next(
            (c for c in shown if c.cid == wanted), shown[-1] if shown and wanted is None else None
        )
        if channel is None:
            return messages.DebugLinkPairingInfo()
        assert channel.code is not None
        return messages.DebugLinkPairingInfo(
            channel_id=channel.cid.to_bytes(2, "big"),
            handshake_hash=channel.handshake_hash,
            code_entry_code=int(channel.code),
        )


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _dialog(name: str) -> ButtonPrompt:
    return ButtonPrompt(messages.ButtonRequestType.Other, name=name, pages=1)


def _unlock_on_device(device: Device) -> Generator[Prompt, Answer, list[protobuf.MessageType]]:
    """The PIN keyboard a `try_to_unlock` handshake shows; the host hears nothing."""
    wallet = device.wallet
    while (yield ScreenPrompt(text_input=True)) != wallet.pin:
        pass
    wallet.unlocked = True
    return []
