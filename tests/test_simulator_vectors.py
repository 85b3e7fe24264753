"""The simulator against transcripts recorded from the real Model One firmware 1.14.2.

Each transcript is replayed step by step against a simulator process over UDP with
unmodified trezorlib: host messages are sent with their recorded bytes, device
replies must match in type and in the exact set of fields on the wire. Where the
real device chose at random (word order, PIN matrix, matrix-input cells) the host's
answer is computed from the simulator's own DebugLinkState, the way the recorder
computed it.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mnemonic import Mnemonic
from trezorlib import messages
from trezorlib.client import AppManifest, get_client
from trezorlib.mapping import DEFAULT_MAPPING
from trezorlib.transport import get_transport

from trezor_backup_sim import matrix

from sim_helpers import (
    ABANDON24,
    HostPort,
    Simulator,
    finish_matrix_dry_run,
    host_ports,
    matrix_key_for,
    matrix_label_covers,
    press_matrix_key,
    read_matrix_screen,
    start_matrix_dry_run,
    start_scrambled_dry_run,
    start_simulator,
    type_requested_word,
    wire_field_numbers,
    wire_fields,
)

VECTORS = Path(__file__).resolve().parent / "vectors" / "model-one-1.14.2"
"""The founders' recordings of the real firmware, copied into the tree byte for byte."""
DEVICE_ID = "AE3C744E355C817510C0EABF"
MNEMONIC12 = "alcohol woman abuse must during monitor noble actual mixed trade anger aisle"
ZOO24 = " ".join(["zoo"] * 23 + ["vote"])
ALL12 = " ".join(["all"] * 12)
BAD_CHECKSUM24 = " ".join(["abandon"] * 24)
RECORDED_PIN = "1234"
ENGLISH = Mnemonic("english")
# `recovery.c:202:` and the like: the debug build's prefix in front of Failure texts.
_DEBUG_PREFIX = re.compile(r"^[\w.]+:\d+:")

Step = dict[str, Any]


def load(name: str) -> dict[str, Any]:
    """A transcript by file stem; missing recordings fail the test, never skip it."""
    path = VECTORS / f"{name}.json"
    assert path.exists(), f"recorded vectors not found: {path}"
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def expected_fields(step: Step) -> dict[str, Any]:
    """Recorded fields with the debug-build prefix removed from Failure texts."""
    fields = dict(step["fields"])
    if step["type"] == "Failure" and "message" in fields:
        fields["message"] = _DEBUG_PREFIX.sub("", fields["message"])
    return fields


class Replay:
    """Plays the host side of a transcript and checks every device reply."""

    def __init__(self, simulator: Simulator, typed_seed: str | None = None) -> None:
        self.simulator = simulator
        self.typed_words = typed_seed.split() if typed_seed else []
        self.ports: dict[str, HostPort] = {}
        self.state: messages.DebugLinkState | None = None
        self.positions: list[int] = []
        self.word_count = 0
        # After a wipe the real device drew a new id from its reseeded RNG; ours differs.
        self.wiped = False
        self._open()

    def _open(self) -> None:
        """New sockets (new source ports), like a host reconnecting."""
        for port in self.ports.values():
            port.close()
        self.ports = {
            "wire": HostPort(self.simulator.port),
            "debuglink": HostPort(self.simulator.debug_port),
        }

    def close(self) -> None:
        """Close both sockets."""
        for port in self.ports.values():
            port.close()

    def run(self, steps: list[Step]) -> None:
        """Replay all steps in order."""
        previous_debug_step: Step | None = None
        for index, step in enumerate(steps):
            where = f"step {index}: {json.dumps(step)[:300]}"
            if "dir" not in step:
                if step.get("note", "").startswith("host closed both UDP sockets"):
                    self._open()
                continue
            port = self.ports[step["channel"]]
            if step["dir"] == "host->device":
                self._send(port, step, previous_debug_step)
            else:
                self._check_reply(port, step, where)
                if step.get("type") == "DebugLinkState":
                    previous_debug_step = step

    def _send(self, port: HostPort, step: Step, debug_step: Step | None) -> None:
        """Send the recorded bytes, or the answer computed from our own state."""
        if step.get("raw"):
            port.send_raw(bytes.fromhex(step["datagram_hex"]))
            return
        payload = bytes.fromhex(step["payload_hex"])
        derived = (debug_step or {}).get("derived", {})
        if step["type"] == "WordAck" and "host_decision" in derived and self.typed_words:
            assert self.state is not None
            position = self.state.recovery_word_pos or 0
            word = self.typed_words[position - 1] if position else self.state.recovery_fake_word
            assert word is not None
            payload = DEFAULT_MAPPING.encode(messages.WordAck(word=word))[1]
        elif step["type"] == "WordAck" and "target_label" in derived:
            # Matrix input: press wherever *our* screen shows what the recorder chose.
            assert self.state is not None
            screen = read_matrix_screen(self.state)
            assert screen is not None
            key = min(k for k, label in screen.keys.items() if label == derived["target_label"])
            payload = DEFAULT_MAPPING.encode(messages.WordAck(word=key))[1]
        elif step["type"] == "PinMatrixAck" and "pin" in derived:
            assert self.state is not None and self.state.matrix is not None
            keys = "".join(str(self.state.matrix.index(d) + 1) for d in derived["pin"])
            payload = DEFAULT_MAPPING.encode(messages.PinMatrixAck(pin=keys))[1]
        elif step["type"] == "RecoveryDevice":
            self.positions = []
            self.word_count = step["fields"].get("word_count", 12)
        elif step["type"] == "WipeDevice":
            self.wiped = True
        port.send_payload(step["wire_type"], payload)

    def _check_reply(self, port: HostPort, step: Step, where: str) -> None:
        """The device's next datagram/message on this port must match the step."""
        if step.get("raw"):
            assert port.receive_raw().hex() == step["datagram_hex"], where
            return
        if step["type"] is None:
            assert port.is_silent(), where
            return
        wire_type, payload = port.receive()
        assert wire_type == step["wire_type"], where
        if step["type"] == "DebugLinkState":
            self._check_debug_state(wire_type, payload, step, where)
            return
        actual = wire_fields(wire_type, payload)
        expected = expected_fields(step)
        if "session_id" in expected:
            assert len(str(actual.pop("session_id", ""))) == 64, where
            expected.pop("session_id")
        if self.wiped and "device_id" in expected:
            device_id = str(actual.pop("device_id", ""))
            assert re.fullmatch("[0-9A-F]{24}", device_id) and device_id != DEVICE_ID, where
            expected.pop("device_id")
        assert actual == expected, where
        if step["type"] == "ButtonRequest" and self.positions:
            # A scrambled dry run asked every real position exactly once.
            assert sorted(p for p in self.positions if p) == list(range(1, self.word_count + 1)), (
                where
            )
            self.positions = []

    def _check_debug_state(self, wire_type: int, payload: bytes, step: Step, where: str) -> None:
        """Random choices differ from the recording; their shape must not."""
        state = DEFAULT_MAPPING.decode(wire_type, payload)
        assert isinstance(state, messages.DebugLinkState)
        self.state = state
        recorded = step["fields"]
        if "screen_matrix_by_digit" in step.get("derived", {}):
            self._check_matrix_screen(state, step, where)
        elif "recovery_word_pos" in recorded:
            position = state.recovery_word_pos or 0
            assert (position > 0) == (recorded["recovery_word_pos"] > 0), where
            assert (state.recovery_fake_word == "") == (recorded["recovery_fake_word"] == ""), where
            if "host_decision" in step.get("derived", {}):
                self.positions.append(position)
        if "matrix" in recorded:
            assert sorted(state.matrix or "") == list("123456789"), where
        if "reset_word" in recorded:
            assert state.reset_word == recorded["reset_word"], where

    @staticmethod
    def _check_matrix_screen(state: messages.DebugLinkState, step: Step, where: str) -> None:
        """The same choices as the recorder read off the OLED; only their cells differ.

        `recovery_fake_word` is not compared: in matrix mode the device leaves a stale
        value from an earlier scrambled session there (the recorder's was "glow").
        """
        derived = step["derived"]
        assert (state.recovery_word_pos or 0) == step["fields"]["recovery_word_pos"] == 0, where
        screen = read_matrix_screen(state)
        assert screen is not None, where
        assert screen.request.name == derived["request_type"], where
        assert (screen.word, screen.level) == (derived["word_index"], derived["level"]), where
        recorded = list(derived["screen_matrix_by_digit"].values())
        ours = list(screen.keys.values())
        if screen.request == messages.WordRequestType.Matrix9:
            assert sorted(ours) == sorted(recorded), where
        else:
            # 2x3: the middle column repeats the right one, so only the words compare.
            assert set(ours) - {"-"} == set(recorded) - {"-"}, where


@pytest.fixture
def replay_factory() -> Iterator[Any]:
    """Start a Model One simulator set up like a transcript, and a replayer on it."""
    replays: list[Replay] = []
    contexts: list[Any] = []

    def factory(
        state: str, mnemonic: str, typed_seed: str | None = None, pin: str | None = None
    ) -> Replay:
        context = start_simulator(
            "one", state, label="emu", device_id=DEVICE_ID, mnemonic=mnemonic, pin=pin
        )
        simulator = context.__enter__()
        contexts.append(context)
        replay = Replay(simulator, typed_seed)
        replays.append(replay)
        return replay

    yield factory
    for replay in replays:
        replay.close()
    for context in reversed(contexts):
        context.__exit__(None, None, None)


FEATURE_SETUPS = {
    "features-blank": ("blank", None),
    "features-backed_up": ("backed_up", None),
    "features-needs_backup": ("backup_required", None),
    "features-unfinished_backup": ("backup_failed", None),
    "features-no_backup": ("no_backup", None),
    "features-backed_up+pin": ("backed_up", RECORDED_PIN),
}


@pytest.mark.parametrize("name", sorted(FEATURE_SETUPS))
def test_features_transcripts(name: str, replay_factory: Any) -> None:
    """GetFeatures/Initialize (and lock/unlock) give exactly the recorded Features."""
    state, pin = FEATURE_SETUPS[name]
    replay_factory(state, MNEMONIC12, pin=pin).run(load(name)["steps"])


@pytest.mark.parametrize(
    ("name", "loaded", "typed", "pin"),
    [
        ("dryrun-24-scrambled-correct", ABANDON24, ABANDON24, None),
        ("dryrun-24-scrambled-wrong", ABANDON24, ZOO24, None),
        ("dryrun-24-scrambled-badchecksum", ABANDON24, BAD_CHECKSUM24, None),
        ("dryrun-12-scrambled-strict", MNEMONIC12, MNEMONIC12, None),
        ("dryrun-12-matrix-correct", MNEMONIC12, MNEMONIC12, None),
        ("dryrun-12-matrix-wrong", MNEMONIC12, ALL12, None),
        ("dryrun-24-pin", ABANDON24, ABANDON24, RECORDED_PIN),
        ("dryrun-cancel", ABANDON24, ABANDON24, None),
        ("busy-or-unexpected", ABANDON24, ABANDON24, None),
    ],
)
def test_dry_run_transcripts(
    name: str, loaded: str, typed: str, pin: str | None, replay_factory: Any
) -> None:
    """Dry runs: same requests, codes and texts as the real firmware."""
    replay_factory("backed_up", loaded, typed, pin=pin).run(load(name)["steps"])


@pytest.mark.parametrize(
    ("name", "state"),
    [
        ("backup-needs_backup", "backup_required"),
        ("backup-cancel", "backup_required"),
        ("backup-already", "backed_up"),
    ],
)
def test_backup_transcripts(name: str, state: str, replay_factory: Any) -> None:
    """BackupDevice: 2N ConfirmWord requests, refusals and the unfinished state."""
    replay_factory(state, MNEMONIC12).run(load(name)["steps"])


# -- focused behaviour ---------------------------------------------------------


@pytest.fixture
def simulator() -> Iterator[Simulator]:
    """A backed-up Model One with the 24-word test seed."""
    with start_simulator("one", "backed_up", mnemonic=ABANDON24) as running:
        yield running


def test_pingping_is_answered_on_both_ports(simulator: Simulator) -> None:
    """The availability probe works on the wire and the DebugLink port, exactly."""
    with host_ports(simulator) as (wire, debug):
        for port in (wire, debug):
            port.send_raw(b"PINGPING")
            assert port.receive_raw() == b"PONGPONG"
            port.send_raw(b"PINGPONGX")
            assert port.is_silent()


def test_reply_goes_to_the_last_sender(simulator: Simulator) -> None:
    """No connections: whoever sent the last datagram gets the reply."""
    first, second = HostPort(simulator.port), HostPort(simulator.port)
    try:
        _, payload = DEFAULT_MAPPING.encode(messages.Ping(message="x" * 100))
        data = b"##" + (1).to_bytes(2, "big") + len(payload).to_bytes(4, "big") + payload
        first.send_raw(b"?" + data[:63])
        second.send_raw((b"?" + data[63:126]).ljust(64, b"\0"))
        reply = second.receive_message()
        assert isinstance(reply, messages.Success) and reply.message == "x" * 100
        assert first.is_silent()
    finally:
        first.close()
        second.close()


def _start_dry_run(wire: HostPort, debug: HostPort) -> None:
    """Start a 24-word scrambled dry run and type two words."""
    start_scrambled_dry_run(wire)
    for _ in range(2):
        assert isinstance(type_requested_word(wire, debug), messages.WordRequest)


def test_get_features_during_dry_run_leaves_it_running(simulator: Simulator) -> None:
    """Status reads between words are answered and the check goes on."""
    with host_ports(simulator) as (wire, debug):
        _start_dry_run(wire, debug)
        features = wire.call(messages.GetFeatures())
        assert isinstance(features, messages.Features) and features.session_id is None
        assert isinstance(type_requested_word(wire, debug), messages.WordRequest)


def test_initialize_silently_aborts_dry_run(simulator: Simulator) -> None:
    """Initialize answers Features (with a session) and the dry run is gone."""
    with host_ports(simulator) as (wire, debug):
        _start_dry_run(wire, debug)
        features = wire.call(messages.Initialize())
        assert isinstance(features, messages.Features)
        assert features.session_id is not None and len(features.session_id) == 32
        failure = wire.call(messages.WordAck(word="abandon"))
        assert isinstance(failure, messages.Failure)
        assert failure.code == messages.FailureType.UnexpectedMessage
        assert failure.message == "Not in Recovery mode"


def test_cancel_outside_flow_and_during_dry_run(simulator: Simulator) -> None:
    """Cancel always answers ActionCancelled on the Model One, and ends a dry run."""
    with host_ports(simulator) as (wire, debug):
        for _ in range(2):
            failure = wire.call(messages.Cancel())
            assert isinstance(failure, messages.Failure)
            assert failure.code == messages.FailureType.ActionCancelled
            assert failure.message == "Action cancelled by user"
            _start_dry_run(wire, debug)


def _matrix_state(debug: HostPort) -> tuple[messages.DebugLinkState, bytes]:
    """The DebugLinkState, decoded and as the payload that was on the wire."""
    debug.send(messages.DebugLinkGetState())
    wire_type, payload = debug.receive()
    state = DEFAULT_MAPPING.decode(wire_type, payload)
    assert isinstance(state, messages.DebugLinkState)
    return state, payload


_TOKENS_FIELD = 13  # DebugLinkState.tokens; the legacy firmware never sends it


def test_every_wordlist_word_can_be_entered_on_matrix_screens() -> None:
    """Reading the labels like a user leads to each of the 2048 words, one choice a screen."""
    rng = random.Random(7)
    for word in matrix.WORDLIST:
        path: list[int] = []
        for level in range(matrix.LEVELS):
            screen = matrix.MatrixScreen.scramble(1, tuple(path), rng)
            view = read_matrix_screen(messages.DebugLinkState(tokens=[screen.token]))
            assert view is not None and view.level == level
            covering = {
                screen.selected(key)
                for key, label in view.keys.items()
                if matrix_label_covers(label, word, level)
            }
            assert len(covering) == 1, (word, level, view.keys)
            path.append(screen.selected(matrix_key_for(view, word)))
        assert screen.options[path[-1]].label == word


def test_blank_matrix_cell_selects_the_first_choice() -> None:
    """As on the device, a "-" cell is not refused: it picks the screen's first choice."""
    screen = matrix.MatrixScreen.scramble(1, (0, 1), random.Random(1))  # AB-AC: 6 choices
    assert len(screen.options) < 9
    blanks = [key for key, label in zip("123456789", screen.labels, strict=True) if label == "-"]
    assert len(blanks) == 9 - len(screen.options)
    assert all(screen.selected(key) == 0 for key in blanks)


def test_matrix_key_for_refuses_a_word_outside_the_wordlist() -> None:
    """Matrix input cannot enter a word that is not in the wordlist."""
    screen = matrix.MatrixScreen.scramble(1, (), random.Random(0))
    view = read_matrix_screen(messages.DebugLinkState(tokens=[screen.token]))
    assert view is not None
    with pytest.raises(ValueError):
        matrix_key_for(view, "1abc")


@pytest.mark.parametrize(
    ("word_count", "typed", "matches"),
    [(12, MNEMONIC12, True), (18, None, False), (24, ZOO24, False)],
)
def test_matrix_dry_run_word_counts(word_count: int, typed: str | None, matches: bool) -> None:
    """12, 18 and 24 words: four requests a word, then the result, under Strict."""
    loaded = MNEMONIC12 if word_count == 12 else ABANDON24
    typed = typed or ENGLISH.to_mnemonic(bytes(24))  # a valid 18-word seed
    with start_simulator("one", "backed_up", mnemonic=loaded) as running:
        with host_ports(running) as (wire, debug):
            start_matrix_dry_run(wire, word_count)
            requests = [messages.WordRequestType.Matrix9]
            reply = press_matrix_key(wire, debug, typed)
            while isinstance(reply, messages.WordRequest):
                requests.append(reply.type)
                reply = press_matrix_key(wire, debug, typed)
            m9, m6 = messages.WordRequestType.Matrix9, messages.WordRequestType.Matrix6
            assert requests == [m9, m9, m9, m6] * word_count
            assert isinstance(reply, messages.ButtonRequest)
            assert reply.code == messages.ButtonRequestType.Other
            assert read_matrix_screen(_matrix_state(debug)[0]) is None
            debug.send(messages.DebugLinkDecision(button=messages.DebugButton.YES))
            result = wire.call(messages.ButtonAck())
            if matches:
                assert isinstance(result, messages.Success)
            else:
                assert isinstance(result, messages.Failure)
                assert result.message == (
                    "The seed is valid but does not match the one in the device"
                )


def test_matrix_backspace_and_ignored_keys() -> None:
    """Backspace undoes a step (or a whole word); other keys repeat the same screen."""
    with start_simulator("one", "backed_up", mnemonic=MNEMONIC12) as running:
        with host_ports(running) as (wire, debug):
            start_matrix_dry_run(wire)
            for _ in range(5):  # the whole first word, then the first step of the second
                assert isinstance(press_matrix_key(wire, debug, MNEMONIC12), messages.WordRequest)
            for ignored in ("x", "0", ""):
                before, _ = _matrix_state(debug)
                request = wire.call(messages.WordAck(word=ignored))
                assert isinstance(request, messages.WordRequest)
                assert request.type == messages.WordRequestType.Matrix9
                assert _matrix_state(debug)[0].tokens == before.tokens  # not reshuffled
            expected = [(2, 0), (1, 0)]  # back one step, then back to the previous word
            for word, level in expected:
                request = wire.call(messages.WordAck(word="\b"))
                assert isinstance(request, messages.WordRequest)
                screen = read_matrix_screen(_matrix_state(debug)[0])
                assert screen is not None and (screen.word, screen.level) == (word, level)
            result = finish_matrix_dry_run(wire, debug, MNEMONIC12)
            assert isinstance(result, messages.Success)
            assert result.message == "The seed is valid and matches the one in the device"


def test_matrix_screen_only_while_entering(simulator: Simulator) -> None:
    """DebugLinkState.tokens is absent outside matrix entry and gone after an abort."""
    with host_ports(simulator) as (wire, debug):
        assert _TOKENS_FIELD not in wire_field_numbers(_matrix_state(debug)[1])
        start_scrambled_dry_run(wire)
        assert _TOKENS_FIELD not in wire_field_numbers(_matrix_state(debug)[1])
        for abort in (messages.Initialize(), messages.Cancel()):
            start_matrix_dry_run(wire, 24)
            assert _TOKENS_FIELD in wire_field_numbers(_matrix_state(debug)[1])
            wire.call(abort)
            assert _TOKENS_FIELD not in wire_field_numbers(_matrix_state(debug)[1])


def test_reseeded_matrix_is_deterministic(simulator: Simulator) -> None:
    """DebugLinkReseedRandom makes the scramble repeatable, as on the emulator."""
    with host_ports(simulator) as (wire, debug):
        screens = []
        for _ in range(2):
            debug.call(messages.DebugLinkReseedRandom(value=5))
            start_matrix_dry_run(wire, 24)
            screens.append(_matrix_state(debug)[0].tokens)
        assert screens[0] == screens[1]


def test_tiny_mode_drops_get_features(simulator: Simulator) -> None:
    """While a button is pending, GetFeatures gets no reply at all."""
    with host_ports(simulator) as (wire, debug):
        request = wire.call(messages.Ping(message="hi", button_protection=True))
        assert isinstance(request, messages.ButtonRequest)
        assert request.code == messages.ButtonRequestType.ProtectCall
        wire.send(messages.GetFeatures())
        assert wire.is_silent()
        debug.send(messages.DebugLinkDecision(button=messages.DebugButton.YES))
        assert debug.is_silent()
        reply = wire.call(messages.ButtonAck())
        assert isinstance(reply, messages.Success) and reply.message == "hi"


def test_unmodified_trezorlib_client_reads_features(simulator: Simulator) -> None:
    """trezorlib's ordinary way in (get_transport + get_client) works."""
    transport = get_transport(f"udp:127.0.0.1:{simulator.port}")
    client = get_client(AppManifest(app_name="sim-test"), transport)
    try:
        features = client.features
        assert features.model == "1" and features.initialized is True
        assert features.device_id is not None and len(features.device_id) == 24
    finally:
        transport.close()


@pytest.mark.parametrize(
    ("model", "expected_model", "internal_model"),
    [("t", "T", "T2T1"), ("safe3", "Safe 3", "T2B1"), ("safe5", "Safe 5", "T3T1")],
)
def test_core_features(model: str, expected_model: str, internal_model: str) -> None:
    """Core models report internal_model, backup_type and recovery_status."""
    with start_simulator(model, "backup_required") as running, host_ports(running) as ports:
        wire, _ = ports
        wire.send(messages.GetFeatures())
        fields = wire_fields(*wire.receive())
        assert fields["model"] == expected_model
        assert fields["internal_model"] == internal_model
        assert fields["backup_type"] == "Bip39"
        assert fields["recovery_status"] == "Nothing"
        assert fields["backup_availability"] == "Required"
        assert "recovery_type" not in fields


@pytest.mark.parametrize(
    ("state", "text"),
    [
        ("backup_required", "Cannot do dry-run without backed-up seed"),
        ("backup_failed", "Cannot do dry-run without backed-up seed"),
        ("no_backup", "Dry-run not available for seedless devices"),
    ],
)
def test_core_refuses_dry_run(state: str, text: str) -> None:
    """Core refuses to check a seed that was never backed up."""
    with start_simulator("t", state) as running, host_ports(running) as (wire, _):
        reply = wire.call(messages.RecoveryDevice(type=messages.RecoveryType.DryRun))
        assert isinstance(reply, messages.Failure)
        assert reply.code == messages.FailureType.ProcessError and reply.message == text


def test_simulator_exits_0_on_sigterm() -> None:
    """SIGTERM ends the simulator promptly and cleanly."""
    with start_simulator("one", "blank") as running:
        running.process.terminate()
        assert running.process.wait(timeout=5) == 0


def test_bootloader_features() -> None:
    """In bootloader mode there is no wallet to report."""
    with start_simulator("one", "backed_up", bootloader=True) as running:
        with host_ports(running) as (wire, _):
            wire.send(messages.GetFeatures())
            fields = wire_fields(*wire.receive())
            assert fields["bootloader_mode"] is True
            assert "device_id" not in fields and "initialized" not in fields


@pytest.mark.parametrize(
    "argv",
    [
        ["--model", "two", "--state", "blank"],
        ["--model", "one", "--state", "lost"],
        ["--model", "one", "--state", "blank", "--pin", "1230"],
        ["--model", "one", "--state", "blank", "--mnemonic", "abandon abandon"],
        ["--model", "one", "--state", "blank", "--device-id", "XYZ"],
    ],
)
def test_bad_arguments_exit_2(argv: list[str]) -> None:
    """argparse rejects bad arguments with status 2 and a message."""
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "trezor_backup_sim", *argv],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert "error:" in result.stderr
