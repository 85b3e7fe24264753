"""The simulator against transcripts recorded from the official core firmware 2.10.0.

One test per recording per model (`tests/vectors/core-2.10.0/<MODEL>/*.json`: Model T
T2T1, Safe 5 T3T1, Safe 3 T3B1 and T2B1). Each replays the host side against one
simulator process per model, shared by the module and reset between recordings with
the `wipe` control line: host messages with their recorded fields, DebugLink actions
as the DebugLinkDecision trezorlib 0.20.2 sends for them (each followed by a
DebugLinkGetState, as trezorlib's DebugLink waits), power cycles with the
`power-cycle` control line (storage kept, RAM dropped; a PIN-protected core device
then binds no port until `pin PIN`). Every device reply is compared: type, every
Features field and which fields are absent, ButtonRequest code/name/pages, Failure
code and text, Success text, and silence where the recording got no reply.

Not compared, because the real device chose at random: `device_id` after a wipe and
`session_id` (only their shape is checked), the words of a seed made from entropy
and the positions its quiz asks (the replay types the simulator's own words where
the recording typed the real device's, read over DebugLink as the recorder read
them from the screen: the words screen, and the quiz's "Select word N of M"). Screens
(`dir: screen`) are not compared: the simulator draws only those two.

Round-1 recordings (a*-d*) continue from one another without a recorded setup, and
e5a-e5e continue from e5: `PREDECESSORS` replays (and checks) those first.
"""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from contextlib import ExitStack
from enum import IntEnum
from pathlib import Path
from typing import Any

import pytest
from trezorlib import messages, protobuf
from trezorlib.mapping import DEFAULT_MAPPING

from other_program import quiz_position, write_down
from sim_helpers import HOST, HostPort, Simulator, start_simulator, wire_field_numbers

VECTORS = Path(__file__).resolve().parent / "vectors" / "core-2.10.0"
SIMULATOR_MODEL = {"T2T1": "t", "T3T1": "safe5", "T3B1": "safe3-t3b1", "T2B1": "safe3"}
ROUND1 = [
    "a1_features_wiped",
    "a2_setup_skip_backup_then_features",
    "a2b_load_needs_backup_features",
    "a4_setup_no_backup_seedless_features",
    "a4b_backup_on_seedless_device",
    "a5_backup_cancel_after_first_br_then_features",
    "a5b_backup_again_after_cancel",
    "b1_dryrun_correct_words",
    "b2_dryrun_wrong_words",
    "b3_dryrun_on_needs_backup_device",
    "b4_dryrun_on_seedless_device",
    "b5_dryrun_cancel_midway",
    "b6_dryrun_on_wiped_device",
    "c_backup_device_bip39",
    "d1_setup_slip39_single_extendable_skip_backup",
    "d2_backup_slip39_single_share",
    "d3_dryrun_slip39_single_share",
    "d4_dryrun_slip39_device_bip39_words",
]
ROUND2 = [
    "e1a_locked_needs_backup",
    "e1b_locked_backed_up",
    "e1c_locked_seedless",
    "e1d_locked_unfinished_backup",
    "e1e_power_cycle_with_pin_boots_locked",
    "e2a_unlock_applyflags0",
    "e2b_getfeatures_during_pin_prompt",
    "e2c_getfeatures_before_pin_buttonack",
    "e2d_unlock_wrong_pin_then_right",
    "e2e_unlock_on_device_then_features",
    "e3_dryrun_on_locked_device",
    "e4a_dryrun_cancelled_then_features_initialize_resume",
    "e4b_dryrun_cancelled_then_power_cycle",
    "e4c_dryrun_cancelled_then_finished_on_device",
    "e4d_dryrun_cancelled_then_cancel_again",
    "e5_setup_slip39_single_extendable_backed_up",
    "e5a_unlock_repeated_backup",
    "e5b_repeated_backup_groups_1_of_2of3",
    "e5c_unlocked_backup_then_cancel_initialize",
    "e5d_unlocked_backup_then_backup_cancelled",
    "e5e_unlocked_backup_then_power_cycle",
    "e6a_getfeatures_during_backup_before_buttonack",
    "e6b_getfeatures_during_backup_words_on_screen",
    "e6c_getfeatures_during_dryrun_before_first_buttonack",
    "e6d_getfeatures_during_dryrun_word_entry",
    "e6e_ping_during_backup_before_buttonack",
]
# Round 2 was recorded on three models; the T2B1 has round 1 only.
RECORDINGS = {"T2T1": ROUND1 + ROUND2, "T3T1": ROUND1 + ROUND2, "T3B1": ROUND1 + ROUND2}
RECORDINGS["T2B1"] = ROUND1
# What each recording continues from (same device ids in the files): replayed first.
PREDECESSORS = {
    "a4b_backup_on_seedless_device": ["a4_setup_no_backup_seedless_features"],
    "a5_backup_cancel_after_first_br_then_features": ["a2b_load_needs_backup_features"],
    "a5b_backup_again_after_cancel": [
        "a2b_load_needs_backup_features",
        "a5_backup_cancel_after_first_br_then_features",
    ],
    "b1_dryrun_correct_words": ["a2_setup_skip_backup_then_features", "c_backup_device_bip39"],
    "b2_dryrun_wrong_words": ["a2_setup_skip_backup_then_features", "c_backup_device_bip39"],
    "b3_dryrun_on_needs_backup_device": ["a2b_load_needs_backup_features"],
    "b4_dryrun_on_seedless_device": ["a4_setup_no_backup_seedless_features"],
    "b5_dryrun_cancel_midway": ["a2_setup_skip_backup_then_features", "c_backup_device_bip39"],
    "c_backup_device_bip39": ["a2_setup_skip_backup_then_features"],
    "d2_backup_slip39_single_share": ["d1_setup_slip39_single_extendable_skip_backup"],
    "d3_dryrun_slip39_single_share": [
        "d1_setup_slip39_single_extendable_skip_backup",
        "d2_backup_slip39_single_share",
    ],
    "d4_dryrun_slip39_device_bip39_words": [
        "d1_setup_slip39_single_extendable_skip_backup",
        "d2_backup_slip39_single_share",
    ],
}
_E5_CHAIN = ROUND2[ROUND2.index("e5_setup_slip39_single_extendable_backed_up") :][:6]
PREDECESSORS.update({stem: _E5_CHAIN[:i] for i, stem in enumerate(_E5_CHAIN) if i})
# The recorder waited 5 s for replies that never came; the simulator answers in
# microseconds, so a short wait shows the same silence.
SILENCE_TIMEOUT = 0.25
_ENUM_TEXT = re.compile(r"^\w+ \((\d+)\)$")
_SHOWN_WORDS = re.compile(r"^(?:words|share) shown on screen: (.+)$")
SHOWS_WORDS = ("backup_words", "share_words")
"""The screens that show a backup's words (recorded names)."""
_QUIZ = re.compile(r"^quiz asks for word #\d+$")
_DEVICE_ID = re.compile(r"^[0-9A-F]{24}$")
# Fields the real device drew at random (see the module docstring).
_RANDOM_FIELDS = ("device_id", "session_id")

Step = dict[str, Any]


def load(model: str, stem: str) -> list[Step]:
    """A recording's steps; a missing recording fails the test, never skips it."""
    path = VECTORS / model / f"{stem}.json"
    assert path.exists(), f"recording not found: {path}"
    steps: list[Step] = json.loads(path.read_text())["messages"]
    return steps


def recorded_value(field: protobuf.Field, value: Any) -> Any:
    """A recorded field value ("DryRun (1)", hex bytes, nested dicts) as trezorlib wants it."""
    if isinstance(value, list):
        return [recorded_value(field, item) for item in value]
    if isinstance(value, str) and (match := _ENUM_TEXT.match(value)):
        return int(match.group(1))
    if field.proto_type == "bytes":
        return bytes.fromhex(value)
    if isinstance(value, dict):
        return build_message(field.proto_type, value)
    return value


def build_message(type_name: str, fields: dict[str, Any]) -> protobuf.MessageType:
    """The host message of a recorded step."""
    cls: type[protobuf.MessageType] = getattr(messages, type_name)
    by_name = {field.name: field for field in cls.FIELDS.values()}
    return cls(**{name: recorded_value(by_name[name], value) for name, value in fields.items()})


def as_recorded(value: Any) -> Any:
    """A decoded value written the way the recorder wrote it."""
    if isinstance(value, list):
        return [as_recorded(item) for item in value]
    if isinstance(value, IntEnum):
        return f"{value.name} ({value.value})"
    if isinstance(value, bytes):
        return value.hex()
    return value


def reply_fields(wire_type: int, payload: bytes) -> dict[str, Any]:
    """The fields really on the wire, valued as in the recordings."""
    msg = DEFAULT_MAPPING.decode(wire_type, payload)
    numbers = wire_field_numbers(payload)
    return {
        field.name: as_recorded(getattr(msg, field.name))
        for number, field in msg.FIELDS.items()
        if number in numbers
    }


def port_is_bound(port: int) -> bool:
    """Whether some process holds the loopback UDP port."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((HOST, port))
        except OSError:
            return True
    return False


def debuglink_decision(step: Step, typed: str | None) -> messages.DebugLinkDecision:
    """What trezorlib 0.20.2's DebugLink sends for a recorded action."""
    action = step["action"]
    if action == "input":
        return messages.DebugLinkDecision(input=typed)
    if action == "press_yes":
        return messages.DebugLinkDecision(button=messages.DebugButton.YES)
    if action == "press_right":
        return messages.DebugLinkDecision(physical_button=messages.DebugPhysicalButton.RIGHT_BTN)
    if action == "swipe_up":
        return messages.DebugLinkDecision(swipe=messages.DebugSwipeDirection.UP)
    assert action == "click", step
    return messages.DebugLinkDecision(x=120, y=120)


def accepted_words(steps: list[Step]) -> list[str]:
    """Words typed in a recording that the device accepted as its own (else [])."""
    typed: list[str] | None = None
    for step in steps:
        if step["dir"] == "debuglink" and step["action"] == "input" and typed is not None:
            typed.append(step["arg"])
        elif step["dir"] == "device->host":
            name, message = step["fields"].get("name"), step["fields"].get("message")
            if typed and (name == "success_dry_recovery" or message == "Backup unlocked"):
                return typed
            typed = [] if name == "mnemonic" else None
    return []


class CoreReplay:
    """Plays the host (and the owner's DebugLink) side of recordings on one simulator."""

    def __init__(self, simulator: Simulator) -> None:
        self.simulator = simulator
        self.wire, self.debug = self._open()
        self.pin: str | None = None
        # Words the real device showed (noted by the recorder) and how far the
        # current word entry got: those words are typed as the simulator's own.
        self.recorded_words: list[str] = []
        self.entry_position = 0
        self.quiz_pending = False
        # The words the simulator's backup shows, written down as the recorder did.
        self.written: list[str] = []

    def _open(self) -> tuple[HostPort, HostPort]:
        """New host sockets, as after a reconnection."""
        return HostPort(self.simulator.port), HostPort(self.simulator.debug_port)

    def close(self) -> None:
        """Close both sockets."""
        self.wire.close()
        self.debug.close()

    def reopen(self) -> None:
        """Reconnect after the simulator bound its ports again."""
        self.close()
        self.wire, self.debug = self._open()

    def run(self, steps: list[Step]) -> None:
        """Replay all steps in order."""
        self.recorded_words = accepted_words(steps) or self.recorded_words
        for index, step in enumerate(steps):
            where = f"step {index}: {json.dumps(step)[:300]}"
            direction = step["dir"]
            if direction == "note":
                self._note(step["text"], where)
            elif direction == "debuglink":
                self._act(step)
            elif direction == "host->device":
                if step["type"] == "LoadDevice":
                    self.pin = step["fields"].get("pin")
                self.wire.send(build_message(step["type"], step["fields"]))
            elif direction == "device->host":
                self._check_reply(step, where)

    def _note(self, text: str, where: str) -> None:
        """Notes that mark something the replay must do or check."""
        if text.startswith("POWER CYCLE"):
            answer = self.simulator.control("power-cycle")
            if "NOT bound" in text:
                assert answer == "boot-locked", where
                assert not port_is_bound(self.simulator.port), where
            else:
                assert answer == self.simulator.ready_line, where
                self.reopen()
        elif text.startswith("DebugLink UDP port") and text.endswith("bound: False"):
            assert not port_is_bound(self.simulator.debug_port), where
        elif text.startswith("the boot lockscreen cannot be driven"):
            # The recorder wiped its emulator here; the simulator can take the boot
            # PIN, so it does (ports come back), then wipes likewise.
            assert self.simulator.control(f"pin {self.pin}") == self.simulator.ready_line
            assert self.simulator.control("wipe") == self.simulator.ready_line
            self.reopen()
        elif text.startswith("no reply within"):
            assert self.wire.is_silent(SILENCE_TIMEOUT), where
        elif match := _SHOWN_WORDS.match(text):
            self.recorded_words = match.group(1).split()
        elif _QUIZ.match(text):
            self.quiz_pending = True

    def _act(self, step: Step) -> None:
        """A DebugLink action, then the state read trezorlib's DebugLink waits with."""
        typed = step.get("arg")
        if step["action"] == "input":
            typed = self._typed(str(typed))
        self.debug.send(debuglink_decision(step, typed))
        state = self.debug.call(messages.DebugLinkGetState())
        assert isinstance(state, messages.DebugLinkState)

    def _typed(self, recorded: str) -> str:
        """The text to type for a recorded input: the simulator's word where needed."""
        if self.quiz_pending:
            self.quiz_pending = False
            position = quiz_position(self._state())
            assert position is not None, "no quiz on the simulator's screen"
            return self.written[position - 1]
        if recorded.isdigit():  # a word count or a PIN: a word entry starts afresh
            self.entry_position = 0
            return recorded
        position, self.entry_position = self.entry_position, self.entry_position + 1
        words = self.recorded_words
        if position < len(words) and recorded == words[position]:
            secret = self._state().mnemonic_secret or b""
            return secret.decode().split()[position]
        return recorded

    def _state(self) -> messages.DebugLinkState:
        """The simulator's DebugLinkState."""
        state = self.debug.call(messages.DebugLinkGetState())
        assert isinstance(state, messages.DebugLinkState)
        return state

    def _check_reply(self, step: Step, where: str) -> None:
        """The next reply must be the recorded one."""
        wire_type, payload = self.wire.receive()
        reply = DEFAULT_MAPPING.decode(wire_type, payload)
        assert type(reply).__name__ == step["type"], f"{where}\ngot {reply}"
        fields = reply_fields(wire_type, payload)
        expected = dict(step["fields"])
        if step["type"] == "Features":
            self._check_features(step, fields, where)
            return
        if step["type"] == "ButtonRequest" and expected.get("name") == "mnemonic":
            self.entry_position = 0
        if step["type"] == "ButtonRequest" and expected.get("name") in SHOWS_WORDS:
            self.written = write_down(self.debug, self.written)
        assert fields == expected, where

    @staticmethod
    def _check_features(step: Step, fields: dict[str, Any], where: str) -> None:
        """Every field as recorded, the absent ones absent; random ids by shape only."""
        expected = dict(step["fields"])
        present = set(step.get("features_present", expected))
        assert set(fields) == present, f"{where}\nextra {set(fields) - present}, " + (
            f"missing {present - set(fields)}"
        )
        assert not set(fields) & set(step.get("features_absent", ())), where
        if "device_id" in fields:
            assert _DEVICE_ID.match(fields.pop("device_id")), where
        if "session_id" in fields:
            assert len(bytes.fromhex(fields.pop("session_id"))) == 32, where
        for name in _RANDOM_FIELDS:
            expected.pop(name, None)
        assert fields == expected, where


@pytest.fixture(scope="module")
def simulators() -> Iterator[dict[str, Simulator]]:
    """One simulator process per model for the whole module."""
    with ExitStack() as stack:
        yield {
            model: stack.enter_context(start_simulator(simulator_model, "blank"))
            for model, simulator_model in SIMULATOR_MODEL.items()
        }


@pytest.mark.parametrize(
    ("model", "stem"),
    [(model, stem) for model, stems in RECORDINGS.items() for stem in stems],
)
def test_recording(simulators: dict[str, Simulator], model: str, stem: str) -> None:
    """The simulator answers as the real firmware did in this recording."""
    simulator = simulators[model]
    assert simulator.control("wipe") == simulator.ready_line
    replay = CoreReplay(simulator)
    try:
        for earlier in PREDECESSORS.get(stem, []):
            replay.run(load(model, earlier))
        replay.run(load(model, stem))
    finally:
        replay.close()
