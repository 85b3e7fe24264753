"""The Safe 7 simulator (THP) against the recordings of the official firmware 2.10.0.

One test per recording in `tests/vectors/safe7-2.10.0/T3W1/`. Each runs the recorded host
calls through an unmodified trezorlib 0.20.2 (`get_client` over `udp:`, `CodeEntry`,
`request_credential`, `finish`, session calls) against a simulator process, with the
owner's part played over DebugLink as recorded (the decisions that follow each
ButtonRequest, given from trezorlib's button callback; the pairing code read with
`DebugLink.pairing_info`-style DebugLinkGetPairingInfo). Every session message either way
is captured from trezorlib and compared with the recording, in order: the type, the
recorded host fields that are not random, ButtonRequest code/name/pages, Failure code and
text, Success text, the Features summary; so are the handshake results (`trezor_state`)
and the THP ERROR codes. a1 also checks the frames themselves (control bytes, ACKs).

Not replayable as recorded, and what is done instead: the PIN is set with `--pin` (the
simulator has no ChangePin: c3a replays from LockDevice on); the state before a
recording (a paired host, a restart) is made by the same calls, unchecked; the quiz of a
backup asks the simulator's own positions (the words typed are read from its screens).
"""

from __future__ import annotations

import json
import logging
import socket
import struct
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from trezorlib import client, exceptions, messages, protobuf
from trezorlib.thp import exceptions as thp_exceptions
from trezorlib.thp.credentials import StaticCredential
from trezorlib.thp.pairing import CodeEntry
from trezorlib.transport.udp import UdpTransport

import seed_safety
from other_program import quiz_position, write_down
from sim_helpers import HOST, HostPort, Simulator, start_simulator

VECTORS = Path(__file__).resolve().parent / "vectors" / "safe7-2.10.0" / "T3W1"
SECRET = "5a" * 32
DEVICE_ID = "7ED4F891C5F1098B60B881DE"
PIN = "1234"
# The words the recorded device made (e1) and was checked with (d1-d3).
WORDS = "snow require hard delay recall parrot lion team magic scissors twin resemble"
HOST_FIELDS = ("autoconnect", "selected_pairing_method", "type", "skip_backup", "strength")
REPLY_FIELDS = ("code", "name", "pages", "message")
SUMMARY_SKIPPED = ("label",)

Step = dict[str, Any]


def load(name: str) -> dict[str, Any]:
    recording: dict[str, Any] = json.loads((VECTORS / f"{name}.json").read_text())
    return recording


def shown(value: Any) -> Any:
    """A value as the recording writes it: enums as 'Name (number)'."""
    if isinstance(value, Enum):
        return f"{value.name} ({value.value})"
    return value


def recorded_sequence(steps: list[Step]) -> list[tuple[Any, ...]]:
    """What is compared: session messages, handshake results and THP errors, in order."""
    out: list[tuple[Any, ...]] = []
    for step in steps:
        direction = step["dir"]
        if direction in ("host->device", "device->host") and "session" in step:
            out.append(_entry(direction, step["type"], step["fields"], step))
        elif direction == "handshake":
            out.append(("handshake", step["trezor_state"]))
        elif direction == "thp device->host" and "error_code" in step:
            out.append(("thp error", step["error_code"]))
    return out


def _entry(direction: str, type_name: str, fields: dict[str, Any], step: Step) -> tuple[Any, ...]:
    if direction == "host->device":
        kept = {k: v for k, v in fields.items() if k in HOST_FIELDS}
        return (direction, type_name, tuple(sorted(kept.items())))
    if type_name == "Features":
        summary = {k: v for k, v in step["features_summary"].items() if k not in SUMMARY_SKIPPED}
        return (direction, type_name, tuple(sorted(summary.items())))
    kept = {k: v for k, v in fields.items() if k in REPLY_FIELDS}
    return (direction, type_name, tuple(sorted(kept.items())))


class Capture(logging.Handler):
    """The session messages trezorlib sends and receives (its own debug log records)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.sequence: list[tuple[Any, ...]] = []
        self.summary_keys: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        msg = getattr(record, "protobuf", None)
        if msg is None:
            return
        text = record.getMessage()
        direction = "host->device" if text.startswith("sending") else "device->host"
        self.add(direction, msg)

    def add(self, direction: str, msg: protobuf.MessageType) -> None:
        name = type(msg).__name__
        if isinstance(msg, messages.Features):
            fields = {
                k: (shown(getattr(msg, k)) if getattr(msg, k) is not None else None)
                for k in self.summary_keys
            }
            self.sequence.append((direction, name, tuple(sorted(fields.items()))))
            return
        names = HOST_FIELDS if direction == "host->device" else REPLY_FIELDS
        kept = {k: shown(getattr(msg, k, None)) for k in names}
        kept = {k: v for k, v in kept.items() if v is not None}
        if isinstance(msg, messages.ButtonAck | messages.ThpEndRequest):
            kept = {}
        self.sequence.append((direction, name, tuple(sorted(kept.items()))))


class Replay:
    """One recording against one simulator: trezorlib on the wire, the owner on DebugLink."""

    def __init__(self, sim: Simulator, name: str) -> None:
        self.sim = sim
        self.recording = load(name)
        self.steps: list[Step] = self.recording["messages"]
        manifest = self.recording["app_manifest"]
        self.app_name, self.host_name = manifest["app_name"], manifest["host_name"]
        self.debug = HostPort(sim.debug_port)
        self.capture = Capture()
        self.capture.summary_keys = sorted(
            {
                key
                for step in self.steps
                if step.get("type") == "Features"
                for key in step["features_summary"]
                if key not in SUMMARY_SKIPPED
            }
        )
        self.groups = self._decision_groups()
        self.recording_on = False
        self.written: list[str] = []
        """The words the simulator's backup shows, written down as the recorder did."""

    def _decision_groups(self) -> list[list[Step]]:
        """The owner's DebugLink actions after each ButtonRequest, in order."""
        groups: list[list[Step]] = []
        current: list[Step] | None = None
        for step in self.steps:
            if step["dir"] == "device->host" and step.get("type") == "ButtonRequest":
                current = []
                groups.append(current)
            elif step["dir"] == "device->host":
                current = None
            elif current is not None and (
                step["dir"] == "debuglink"
                or (step["dir"] == "note" and step["text"].startswith("quiz asks"))
            ):
                current.append(step)
        return groups

    def on_button(self, request: messages.ButtonRequest) -> None:
        """trezorlib acknowledged a ButtonRequest: the owner does what the recording did."""
        if not self.recording_on:
            self.decide(messages.DebugLinkDecision(button=messages.DebugButton.YES))
            return
        quiz = False
        if request.name in ("backup_words", "share_words"):
            self.written = write_down(self.debug, self.written)
        for step in self.groups.pop(0):
            if step["dir"] == "note":
                quiz = True
                continue
            action = step["action"]
            if action == "input":
                word = step["arg"]
                if quiz:
                    state = self.debug.call(messages.DebugLinkGetState())
                    assert isinstance(state, messages.DebugLinkState)
                    position = quiz_position(state)
                    assert position is not None, "no quiz on the simulator's screen"
                    word, quiz = self.written[position - 1], False
                self.decide(messages.DebugLinkDecision(input=word))
            elif action == "click_ok":
                self.decide(messages.DebugLinkDecision(swipe=messages.DebugSwipeDirection.UP))
            else:
                yes = action == "press_yes"
                button = messages.DebugButton.YES if yes else messages.DebugButton.NO
                self.decide(messages.DebugLinkDecision(button=button))

    def decide(self, decision: messages.DebugLinkDecision) -> None:
        self.debug.send(decision)
        self.debug.call(messages.DebugLinkGetState())

    def client(self, credentials: list[StaticCredential] | None = None) -> Any:
        app = client.AppManifest(
            app_name=self.app_name,
            host_name=self.host_name,
            credentials=credentials or [],
            button_callback=self.on_button,
        )
        transport = UdpTransport(f"{HOST}:{self.sim.port}")
        new = client.get_client(app, transport)
        if self.recording_on and new.is_connected():
            self.handshake(new)
        return new

    def handshake(self, thp: Any) -> None:
        state = thp.channel.pairing_state
        self.capture.sequence.append(("handshake", f"{state.name} ({state.value.hex()})"))

    def pair(self, thp: Any, code: str | None = None) -> CodeEntry:
        method = CodeEntry(thp.pairing)
        right = self.code(thp)
        method.send_code(code or right)
        return method

    def code(self, thp: Any) -> str:
        cid = thp.channel.channel_id.to_bytes(2, "big")
        info = self.debug.call(messages.DebugLinkGetPairingInfo(channel_id=cid))
        assert isinstance(info, messages.DebugLinkPairingInfo)
        code = f"{info.code_entry_code:06}"
        seed_safety.typed(code)
        return code

    def paired_credential(self, autoconnect: bool = False) -> StaticCredential:
        """Setup, unchecked: pair a new host (and upgrade it to autoconnect)."""
        thp: Any = self.client()
        self.pair(thp)
        credential = thp.pairing.request_credential(autoconnect=False)
        thp.pairing.finish()
        if autoconnect:
            self.restart()
            again: Any = self.client([credential])
            credential = again.pairing.request_credential(autoconnect=True)
            again.pairing.finish()
        seed_safety.binary_secrets(credential.host_privkey, credential.credential)
        assert isinstance(credential, StaticCredential)
        return credential

    def restart(self) -> None:
        """The emulator restarted (storage kept); a PIN-protected one takes its boot PIN."""
        answer = self.sim.control("power-cycle")
        if answer == "boot-locked":
            seed_safety.typed(PIN)
            answer = self.sim.control(f"pin {PIN}")
        assert answer == self.sim.ready_line

    def call(self, thp: Any, msg: protobuf.MessageType) -> protobuf.MessageType:
        """`ThpSession(client, 0).call(msg)`, as the recorder called it."""
        with run_session(thp) as session:
            reply: protobuf.MessageType = session.call(msg)
        return reply

    def start(self) -> None:
        """From here on everything is compared with the recording."""
        self.capture.sequence.clear()
        self.recording_on = True

    def check(self) -> None:
        assert self.capture.sequence == recorded_sequence(self.steps)


@contextmanager
def replay(name: str, state: str = "blank", **options: Any) -> Iterator[Replay]:
    logger = logging.getLogger("trezorlib.thp.client")
    with start_simulator("safe7", state, thp_secret=SECRET, device_id=DEVICE_ID, **options) as sim:
        run = Replay(sim, name)
        old_level = logger.level
        logger.setLevel(logging.DEBUG)
        logger.addHandler(run.capture)
        try:
            yield run
        finally:
            logger.removeHandler(run.capture)
            logger.setLevel(old_level)
            run.debug.close()


def test_a1_unpaired_host_gets_device_properties_and_nothing_else() -> None:
    with replay("a1_unpaired_allocation_handshake") as run:
        run.start()
        thp: Any = run.client()
        assert thp.channel.device_properties.pairing_methods == [2, 1, 4, 3]
        assert thp.channel.channel_id == 0x81F6
        with run_session(thp) as session:
            reply = session.call_raw(messages.GetFeatures())
        assert isinstance(reply, messages.Failure)
        run.check()


def run_session(thp: Any) -> Any:
    from trezorlib.thp.client import ThpSession

    return ThpSession(thp, 0)


def test_a1_frames_and_acks_are_as_recorded() -> None:
    """Allocation, handshake init: the device ACKs first, then answers (seq bits, lengths)."""
    with start_simulator("safe7", "blank", thp_secret=SECRET) as sim:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.settimeout(2)
        sock.connect((HOST, sim.port))
        try:
            sock.send(_packet(0x40, 0xFFFF, b"N" * 8))
            ctrl, cid, data = _read_frame(sock)
            assert (ctrl, cid, data[:8]) == (0x41, 0xFFFF, b"N" * 8)
            channel = int.from_bytes(data[8:10], "big")
            assert channel == 0x81F6
            assert data[10:].hex() == "0a04543357311000180220002802280128042803"
            host_key = X25519PrivateKey.generate().public_key().public_bytes_raw()
            sock.send(_packet(0x08, channel, host_key + b"\x00"))
            assert _read_frame(sock)[:2] == (0x20, channel)  # ACK0 first
            ctrl, _, data = _read_frame(sock)
            assert (ctrl, len(data)) == (0x01, 96)  # HANDSHAKE_INIT_RES seq0 ack0
            sock.send(_packet(0x20, 0x1234, b""))
            assert _read_frame(sock) == (0x42, 0x1234, b"\x02")  # UNALLOCATED_CHANNEL
            sock.send(b"?##\x00\x14\x00\x00\x00\x00".ljust(64, b"\0"))  # protocol v1 Cancel
            assert sock.recv(64)[:11] == b"?##\x00\x03\x00\x00\x00\x14\x08\x11"
        finally:
            sock.close()


def _packet(ctrl: int, cid: int, data: bytes) -> bytes:
    head = struct.pack(">BHH", ctrl, cid, len(data) + 4) + data
    return (head + zlib.crc32(head).to_bytes(4, "big")).ljust(64, b"\0")


def _read_frame(sock: socket.socket) -> tuple[int, int, bytes]:
    packet = sock.recv(64)
    ctrl, cid, length = struct.unpack(">BHH", packet[:5])
    while len(packet) < 5 + length:
        more = sock.recv(64)
        assert more[:3] == b"\x80" + cid.to_bytes(2, "big")
        packet += more[3:]
    body = packet[: 5 + length]
    assert zlib.crc32(body[:-4]).to_bytes(4, "big") == body[-4:]
    return ctrl, cid, body[5:-4]


def test_b1_code_entry_pairing_then_features() -> None:
    with replay("b1_pairing_code_entry") as run:
        run.start()
        thp: Any = run.client()
        run.pair(thp)
        credential = thp.pairing.request_credential(autoconnect=False)
        seed_safety.binary_secrets(credential.host_privkey, credential.credential)
        thp.pairing.finish()
        assert thp.features.initialized is False
        run.check()


def test_b2_autoconnect_right_after_pairing_is_refused() -> None:
    with replay("b2_autoconnect_credential_directly_after_pairing") as run:
        run.start()
        thp: Any = run.client()
        run.pair(thp)
        with pytest.raises(exceptions.TrezorFailure, match="Cannot ask for autoconnect"):
            thp.pairing.request_credential(autoconnect=True)
        run.check()


def test_b3_a_wrong_code_fails_the_pairing() -> None:
    with replay("b3_pairing_wrong_code") as run:
        run.start()
        thp: Any = run.client()
        method = CodeEntry(thp.pairing)
        right = run.code(thp)
        wrong = f"{(int(right) + 1) % 1_000_000:06}"
        with pytest.raises(exceptions.TrezorFailure, match="Unexpected Code Entry Tag"):
            method.send_code(wrong)
        run.check()
        # Starting over on a new channel works.
        run.recording_on = False
        again: Any = run.client()
        run.pair(again)
        assert again.pairing.is_paired()


def test_b4_pairing_refused_on_the_device() -> None:
    with replay("b4_pairing_rejected_on_device") as run:
        run.start()
        thp: Any = run.client()
        with pytest.raises(exceptions.Cancelled):  # trezorlib's name for ActionCancelled
            CodeEntry(thp.pairing)
        run.check()


def test_b5_autoconnect_credential_needs_two_confirmations() -> None:
    with replay("b5_request_autoconnect_credential") as run:
        plain = run.paired_credential()
        run.restart()
        run.start()
        thp: Any = run.client([plain])
        credential = thp.pairing.request_credential(autoconnect=True)
        seed_safety.binary_secrets(credential.credential)
        thp.pairing.finish()
        thp.features  # noqa: B018 - GetFeatures, as recorded
        run.check()


@pytest.mark.parametrize(
    ("recording", "autoconnect"),
    [
        # c1: an autoconnect credential reconnects silently after a restart;
        ("c1_reconnect_autoconnect_unlocked", True),
        # c2: a plain one makes the Trezor ask "Allow ... to connect?" first.
        ("c2_reconnect_plain_credential", False),
    ],
)
def test_c1_c2_reconnecting_with_a_credential_after_a_restart(
    recording: str, autoconnect: bool
) -> None:
    with replay(recording) as run:
        credential = run.paired_credential(autoconnect=autoconnect)
        run.restart()
        run.start()
        thp: Any = run.client([credential])
        thp.pairing.finish()
        thp.features  # noqa: B018
        run.check()


def test_c3a_locked_device_answers_on_an_open_channel() -> None:
    with replay("c3a_locked_existing_channel_features", "backed_up", pin=PIN) as run:
        credential = run.paired_credential(autoconnect=True)
        thp: Any = run.client([credential])
        thp.pairing.finish()
        start = next(i for i, s in enumerate(run.steps) if s.get("type") == "LockDevice")
        run.steps = run.steps[start:]
        run.start()
        run.call(thp, messages.LockDevice())
        thp.features  # noqa: B018
        run.check()


def test_c3b_locked_device_unlocks_for_a_try_to_unlock_handshake() -> None:
    with replay("c3b_locked_new_connection_unlock", "backed_up", pin=PIN) as run:
        credential = run.paired_credential(autoconnect=True)
        first: Any = run.client([credential])
        first.pairing.finish()
        run.call(first, messages.LockDevice())
        run.start()
        thp: Any = run.client([credential])
        assert not thp.is_connected()
        run.capture.sequence.append(("thp error", "DEVICE_LOCKED (5)"))
        typist = threading.Timer(0.3, run.decide, [messages.DebugLinkDecision(input=PIN)])
        typist.start()
        thp.connect()
        typist.join()
        run.handshake(thp)
        thp.pairing.finish()
        assert thp.features.unlocked is True
        run.check()


def test_c3c_locked_device_refuses_a_new_connection() -> None:
    with replay("c3c_locked_new_connection_no_unlock", "backed_up", pin=PIN, locked=True) as run:
        run.start()
        thp: Any = run.client()
        assert not thp.is_connected()
        run.capture.sequence.append(("thp error", "DEVICE_LOCKED (5)"))
        with pytest.raises(exceptions.DeviceLockedError):
            thp.features  # noqa: B018
        run.check()


def test_c3d_boot_locked_device_binds_no_port() -> None:
    with start_simulator("safe7", "backed_up", pin=PIN, boot_locked=True) as sim:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.connect((HOST, sim.port))
        sock.settimeout(0.5)
        try:
            sock.send(_packet(0x40, 0xFFFF, b"N" * 8))
            with pytest.raises(ConnectionRefusedError):
                sock.recv(64)
        finally:
            sock.close()


def _dry_run(name: str) -> None:
    with replay(name, "backed_up", mnemonic=WORDS) as run:
        credential = run.paired_credential(autoconnect=True)
        thp: Any = run.client([credential])
        thp.pairing.finish()
        seed_safety.typed(WORDS)
        run.start()
        try:
            run.call(thp, messages.RecoveryDevice(type=messages.RecoveryType.DryRun))
        except exceptions.TrezorFailure as failure:
            assert "does not match" in str(failure)
        thp.features  # noqa: B018
        run.check()


def test_d1_dry_run_with_the_right_words() -> None:
    _dry_run("d1_dryrun_correct_words")


def test_d2_dry_run_with_another_seed() -> None:
    _dry_run("d2_dryrun_wrong_words")


def test_d3_dry_run_with_a_bad_checksum_starts_again() -> None:
    _dry_run("d3_dryrun_invalid_then_correct_words")


def test_e0_setup_without_backup_over_thp() -> None:
    with replay("e0_reset_skip_backup") as run:
        credential = run.paired_credential(autoconnect=True)
        thp: Any = run.client([credential])
        thp.pairing.finish()
        run.start()
        with run_session(thp) as session:
            reset = messages.ResetDevice(strength=128, skip_backup=True)
            session.call(reset, expect=messages.EntropyRequest)
            session.call(messages.EntropyAck(entropy=bytes(32)))
        thp.features  # noqa: B018
        run.check()


def test_e1_backup_over_thp() -> None:
    with replay("e1_backup_device_bip39", "backup_required", mnemonic=WORDS) as run:
        credential = run.paired_credential(autoconnect=True)
        thp: Any = run.client([credential])
        thp.pairing.finish()
        seed_safety.typed(WORDS)
        run.start()
        run.call(thp, messages.BackupDevice())
        thp.features  # noqa: B018
        run.check()


def test_f1_a_tampered_credential_is_unpaired() -> None:
    with replay("f1_tampered_credential") as run:
        credential = run.paired_credential()
        mac_flipped = credential.credential[:-1] + bytes([credential.credential[-1] ^ 1])
        seed_safety.binary_secrets(mac_flipped)
        run.start()
        tampered = StaticCredential(credential.trezor_pubkey, credential.host_privkey, mac_flipped)
        thp: Any = run.client([tampered])
        assert not thp.pairing.is_paired()
        run.check()


def test_f2_a_wipe_ends_channels_and_credentials() -> None:
    with replay("f2_wipe_then_reconnect_with_old_credential", "backed_up") as run:
        credential = run.paired_credential(autoconnect=True)
        keep: Any = run.client([credential])  # the open channel the recording had
        keep.pairing.finish()
        run.start()
        thp: Any = run.client([credential])
        thp.pairing.finish()
        run.call(thp, messages.WipeDevice())
        with pytest.raises(thp_exceptions.ThpError) as error:
            run.call(thp, messages.GetFeatures())
        assert error.value.code == thp_exceptions.ThpErrorCode.UNALLOCATED_CHANNEL
        run.capture.sequence.append(("thp error", "UNALLOCATED_CHANNEL (2)"))
        again: Any = run.client([credential])
        assert not again.pairing.is_paired()
        run.check()
