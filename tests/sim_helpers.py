"""Start the device simulator as a real process and talk to it like a host does.

`start_simulator()` is meant for any test that needs a Trezor: it picks free ports,
waits for the simulator's `ready` line (no sleeps) and always terminates and reaps
the process. `Simulator.control()` sends it a control line (`power-cycle`, `pin
1234`, `wipe`: see `trezor-backup-sim --help`). `HostPort` speaks protocol v1
through unmodified trezorlib.

The dry-run helpers play the host's (or the user's) part: `finish_dry_run()` types
the words a scrambled-words check asks for, `finish_matrix_dry_run()` presses the
keypad positions of a Model One matrix check. Both only use what a debug host can
read over DebugLink, so they work against any process running the simulator.
"""

from __future__ import annotations

import json
import selectors
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from trezorlib import messages, protobuf, protocol_v1
from trezorlib.mapping import DEFAULT_MAPPING
from trezorlib.transport import Transport
from trezorlib.transport.udp import UdpTransport

from trezor_backupd.device.device_io import UsbLocation

HOST = "127.0.0.1"
ABANDON24 = " ".join(["abandon"] * 23 + ["art"])
"""The simulated Model One's default seed (the BIP-39 zero-entropy vector)."""
READY_TIMEOUT = 10.0
REPLY_TIMEOUT = 5.0
# How long "no reply" is waited for: the simulator answers in microseconds.
SILENCE_TIMEOUT = 0.3


@dataclass(frozen=True)
class Simulator:
    """A running simulator process and where it listens."""

    process: subprocess.Popen[str]
    port: int

    def control(self, line: str, timeout: float = READY_TIMEOUT) -> str:
        """Send one control line on the simulator's stdin; return its answer line.

        "power-cycle" answers "ready udp:..." (ports open again) or "boot-locked"
        (a PIN-protected core device: no port until "pin PIN" answers "ready ...").
        """
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        return _wait_for_line(self.process, timeout)

    @property
    def ready_line(self) -> str:
        """What the simulator prints once its ports are bound."""
        return f"ready udp:{HOST}:{self.port}"

    @property
    def path(self) -> str:
        """The trezorlib transport path of the wire port."""
        return f"udp:{HOST}:{self.port}"

    @property
    def debug_port(self) -> int:
        """The DebugLink port."""
        return self.port + 1


def free_port_pair(taken: set[int] | None = None) -> int:
    """A loopback UDP port P with P+1 free too (as the simulator needs both); with `taken`,
    not among or next to the ports in it, which it then holds as well (for several at once)."""
    taken = set() if taken is None else taken
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as first:
            first.bind((HOST, 0))
            port = int(first.getsockname()[1])
            if port >= 65534 or {port - 1, port, port + 1} & taken:
                continue
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as second:
                try:
                    second.bind((HOST, port + 1))
                except OSError:
                    continue
            taken.update({port, port + 1})
            return port
    raise RuntimeError("no free pair of UDP ports")


def simulator_command(
    model: str,
    state: str,
    port: int,
    *,
    label: str | None = None,
    pin: str | None = None,
    mnemonic: str | None = None,
    device_id: str | None = None,
    bootloader: bool = False,
    fault: str | None = None,
    locked: bool = False,
    boot_locked: bool = False,
    auto_lock_seconds: float | None = None,
    slip39_share: str | None = None,
    passphrase: bool = False,
    thp_secret: str | None = None,
    pairing_methods: str | None = None,
) -> list[str]:
    """The argv that starts the simulator with these options."""
    argv = [sys.executable, "-m", "trezor_backup_sim", "--model", model, "--state", state]
    argv += ["--port", str(port)]
    for flag, value in (
        ("--label", label),
        ("--pin", pin),
        ("--mnemonic", mnemonic),
        ("--device-id", device_id),
        ("--slip39-share", slip39_share),
        ("--thp-secret", thp_secret),
        ("--pairing-methods", pairing_methods),
    ):
        if value is not None:
            argv += [flag, value]
    for flag, enabled in (
        ("--bootloader", bootloader),
        ("--locked", locked),
        ("--boot-locked", boot_locked),
        ("--passphrase", passphrase),
    ):
        if enabled:
            argv.append(flag)
    if fault is not None:
        argv += ["--fault", fault]
    if auto_lock_seconds is not None:
        argv += ["--auto-lock-seconds", str(auto_lock_seconds)]
    return argv


def _wait_for_line(process: subprocess.Popen[str], timeout: float) -> str:
    """The first stdout line of `process`, or "" when it exits or times out."""
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            return ""
    return process.stdout.readline().strip()


@contextmanager
def start_simulator(
    model: str = "one", state: str = "backed_up", port: int | None = None, **options: Any
) -> Iterator[Simulator]:
    """Run `trezor-backup-sim` for the duration of the block; ports are free ones.

    `options` are simulator_command's. With `boot_locked` the block starts before any port
    is bound ("boot-locked"); `simulator.control("pin " + pin)` then opens them.
    """
    port = port if port is not None else free_port_pair()
    boot_locked = bool(options.get("boot_locked"))
    argv = simulator_command(model, state, port, **options)
    process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        simulator = Simulator(process, port)
        line = _wait_for_line(process, READY_TIMEOUT)
        if line != ("boot-locked" if boot_locked else simulator.ready_line):
            raise RuntimeError(f"simulator did not get ready: {line!r}")
        yield simulator
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                stream.close()


class SimulatorOnUsb(UdpTransport):
    """A simulator named as the USB Trezor at `location` would be, for code that enumerates
    USB: libusb cannot open a umockdev device, so the daemon's USB enumeration is handed this
    transport instead (the one part of the USB path that cannot run for real here)."""

    def __init__(self, port: int, location: UsbLocation) -> None:
        super().__init__(f"{HOST}:{port}")
        self._location = location

    def get_path(self) -> str:
        return self._location.webusb_path


class HostPort:
    """One simulator port seen from a host: trezorlib's UdpTransport + protocol_v1; or, given
    a transport, the device through it (e.g. WebUSB through the USB bridge)."""

    def __init__(self, port: int | Transport) -> None:
        self.transport = UdpTransport(f"{HOST}:{port}") if isinstance(port, int) else port
        self.transport.open()

    def close(self) -> None:
        """Close the socket."""
        self.transport.close()

    @property
    def socket(self) -> socket.socket:
        """The connected UDP socket, for raw datagrams."""
        assert isinstance(self.transport, UdpTransport) and self.transport.socket is not None
        return self.transport.socket

    def send(self, msg: protobuf.MessageType) -> None:
        """Encode and send a message, chunked like trezorlib does."""
        protocol_v1.write(self.transport, *DEFAULT_MAPPING.encode(msg))

    def send_payload(self, wire_type: int, payload: bytes) -> None:
        """Send an already encoded payload (replays use the recorded bytes)."""
        protocol_v1.write(self.transport, wire_type, payload)

    def send_raw(self, datagram: bytes) -> None:
        """Send one datagram as is."""
        self.socket.send(datagram)

    def receive(self, timeout: float = REPLY_TIMEOUT) -> tuple[int, bytes]:
        """The next message as (wire type, payload)."""
        return protocol_v1.read(self.transport, timeout=timeout)

    def receive_message(self, timeout: float = REPLY_TIMEOUT) -> protobuf.MessageType:
        """The next message, decoded by trezorlib."""
        return DEFAULT_MAPPING.decode(*self.receive(timeout))

    def receive_raw(self, timeout: float = REPLY_TIMEOUT) -> bytes:
        """The next datagram as is."""
        self.socket.settimeout(timeout)
        try:
            return self.socket.recv(1024)
        finally:
            self.socket.settimeout(0.1)

    def is_silent(self, timeout: float = SILENCE_TIMEOUT) -> bool:
        """True when no datagram arrives within `timeout` seconds."""
        self.socket.settimeout(timeout)
        try:
            self.socket.recv(1024)
        except TimeoutError:
            return True
        finally:
            self.socket.settimeout(0.1)
        return False

    def call(self, msg: protobuf.MessageType) -> protobuf.MessageType:
        """Send a message and return the decoded reply."""
        self.send(msg)
        return self.receive_message()


@contextmanager
def host_ports(simulator: Simulator) -> Iterator[tuple[HostPort, HostPort]]:
    """(wire, debug) host sockets for a running simulator, closed afterwards."""
    wire, debug = HostPort(simulator.port), HostPort(simulator.debug_port)
    try:
        yield wire, debug
    finally:
        wire.close()
        debug.close()


def wire_field_numbers(payload: bytes) -> set[int]:
    """Field numbers present in a protobuf payload (what was really on the wire)."""
    numbers: set[int] = set()
    pos = 0

    def varint() -> int:
        nonlocal pos
        value = shift = 0
        while True:
            byte = payload[pos]
            pos += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return value

    while pos < len(payload):
        key = varint()
        numbers.add(key >> 3)
        wtype = key & 7
        if wtype == 0:
            varint()
        elif wtype == 2:
            length = varint()
            pos += length
        else:
            raise ValueError(f"unexpected wire type {wtype}")
    return numbers


def wire_fields(wire_type: int, payload: bytes) -> dict[str, object]:
    """`protobuf.to_dict` of a payload, limited to the fields that were on the wire."""
    msg = DEFAULT_MAPPING.decode(wire_type, payload)
    present = {msg.FIELDS[n].name for n in wire_field_numbers(payload) if n in msg.FIELDS}
    return {k: v for k, v in protobuf.to_dict(msg).items() if k in present}


def start_scrambled_dry_run(wire: HostPort) -> None:
    """Start a 24-word scrambled-words dry run on a Model One, as a host would."""
    request = wire.call(
        messages.RecoveryDevice(
            type=messages.RecoveryType.DryRun,
            word_count=24,
            input_method=messages.RecoveryDeviceInputMethod.ScrambledWords,
            enforce_wordlist=True,
        )
    )
    assert isinstance(request, messages.WordRequest)


def type_requested_word(
    wire: HostPort, debug: HostPort, mnemonic: str = ABANDON24
) -> protobuf.MessageType:
    """Answer the current WordRequest with the word DebugLink says is asked (real or fake)."""
    state = debug.call(messages.DebugLinkGetState())
    assert isinstance(state, messages.DebugLinkState)
    position = state.recovery_word_pos or 0
    word = mnemonic.split()[position - 1] if position else state.recovery_fake_word
    assert word is not None
    return wire.call(messages.WordAck(word=word))


def finish_dry_run(
    wire: HostPort, debug: HostPort, mnemonic: str = ABANDON24
) -> protobuf.MessageType:
    """Type words until the device stops asking, confirm its result screen, return the result."""
    reply: protobuf.MessageType = messages.WordRequest(type=messages.WordRequestType.Plain)
    while isinstance(reply, messages.WordRequest):
        reply = type_requested_word(wire, debug, mnemonic)
    assert isinstance(reply, messages.ButtonRequest), reply
    debug.send(messages.DebugLinkDecision(button=messages.DebugButton.YES))
    return wire.call(messages.ButtonAck())


# -- Model One matrix input ---------------------------------------------------------

MATRIX_COMPONENT = "RecoveryMatrix"
"""`component` of the simulator's matrix screen token in DebugLinkState.tokens."""


@dataclass(frozen=True)
class MatrixScreen:
    """A matrix screen as the simulator publishes it over DebugLink.

    The real Model One only draws the screen into its OLED buffer
    (`DebugLinkState.layout`); the simulator, whose layout is blank, adds the same
    content as one JSON string in `DebugLinkState.tokens` (a field the legacy
    firmware never sets). See `trezor_backup_sim/matrix.py`.
    """

    request: messages.WordRequestType
    word: int
    """Which word of the seed is being entered, from 1."""
    level: int
    """0..2: the Matrix9 letter-range screens; 3: the Matrix6 screen of words."""
    keys: dict[str, str]
    """Keypad position '1'..'9' (7 8 9 top row) -> what it shows; "-" is a blank cell."""


def read_matrix_screen(state: messages.DebugLinkState) -> MatrixScreen | None:
    """The matrix screen in a DebugLinkState, or None when none is up.

    The tokens are joined first: trezorlib's own `DebugLink` joins them when it
    reads a state, so a host using it gets the same single string.
    """
    joined = "".join(state.tokens)
    if not joined:
        return None
    data: dict[str, Any] = json.loads(joined)
    if data.get("component") != MATRIX_COMPONENT:
        return None
    return MatrixScreen(
        request=messages.WordRequestType[str(data["request"])],
        word=int(data["word"]),
        level=int(data["level"]),
        keys={str(key): str(label) for key, label in data["keys"].items()},
    )


def matrix_label_covers(label: str, word: str, level: int) -> bool:
    """Whether a matrix choice stands for `word`, read the way a user reads the screen.

    Labels: whole words on the last screen; else "S" / "ABU" (a prefix), "A-B" /
    "AB-AC" / "WI-Z" (a range of prefixes), "AL A-C" / "WIN -K" (a prefix, then a
    range of the next letter, where "" before "-" means the prefix itself ends).
    """
    if label == "-":
        return False
    if level == 3:
        return label == word
    upper = word.upper()
    if " " in label:
        prefix, letters = label.split(" ")
        low, high = letters.split("-")
        following = upper[len(prefix) : len(prefix) + 1]
        return upper.startswith(prefix) and low <= following <= high
    if "-" in label:
        low, high = label.split("-")
        return upper[: len(low)] >= low and upper[: len(high)] <= high
    return upper.startswith(label)


def matrix_key_for(screen: MatrixScreen, word: str) -> str:
    """The keypad position ('1'..'9') to press on `screen` to get closer to `word`.

    Raises ValueError for a word no choice covers (not in the BIP-39 wordlist):
    matrix input cannot enter such a word.
    """
    for key in "123456789":
        if matrix_label_covers(screen.keys[key], word, screen.level):
            return key
    raise ValueError("the word is not on this matrix screen (not a wordlist word?)")


def start_matrix_dry_run(wire: HostPort, word_count: int = 12) -> messages.WordRequest:
    """Start a matrix-input dry run on a Model One; returns the first WordRequest."""
    request = wire.call(
        messages.RecoveryDevice(
            type=messages.RecoveryType.DryRun,
            word_count=word_count,
            input_method=messages.RecoveryDeviceInputMethod.Matrix,
            enforce_wordlist=True,
        )
    )
    assert isinstance(request, messages.WordRequest), request
    assert request.type == messages.WordRequestType.Matrix9
    return request


def matrix_key(debug: HostPort, mnemonic: str) -> str:
    """The key to press now to enter `mnemonic`, read over DebugLink only.

    For a host whose WordAck goes another way (e.g. through the daemon's agent):
    the screen says which word of the seed it is at, so no counting is needed.
    """
    state = debug.call(messages.DebugLinkGetState())
    assert isinstance(state, messages.DebugLinkState)
    screen = read_matrix_screen(state)
    assert screen is not None, "no matrix screen is up"
    return matrix_key_for(screen, mnemonic.split()[screen.word - 1])


def press_matrix_key(wire: HostPort, debug: HostPort, mnemonic: str) -> protobuf.MessageType:
    """Answer the current Matrix9/Matrix6 request for the word of `mnemonic` it is at."""
    return wire.call(messages.WordAck(word=matrix_key(debug, mnemonic)))


def finish_matrix_dry_run(wire: HostPort, debug: HostPort, mnemonic: str) -> protobuf.MessageType:
    """Enter `mnemonic` on matrix screens until the device stops asking, confirm, return result.

    Call it after `start_matrix_dry_run()` (or any WordRequest of a matrix check);
    the word to enter next is taken from the screen, so earlier backspaces are fine.
    """
    reply: protobuf.MessageType = messages.WordRequest(type=messages.WordRequestType.Matrix9)
    while isinstance(reply, messages.WordRequest):
        reply = press_matrix_key(wire, debug, mnemonic)
    assert isinstance(reply, messages.ButtonRequest), reply
    debug.send(messages.DebugLinkDecision(button=messages.DebugButton.YES))
    return wire.call(messages.ButtonAck())
