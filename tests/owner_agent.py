"""A scripted Trezor owner for the end-to-end tests, run as its own process.

It registers as the daemon's agent and does what a person would: reads the simulated
Trezor's screen over DebugLink, answers the computer's questions (PIN positions, words,
word count) and presses or types on the device when the daemon says the device asks.
It prints one JSON line per step (stages and results only, never a word or a PIN) and
exits when the operation ends.

    python owner_agent.py DEVICE_ID DEBUG_PORT check|backup|unlock|answer [--typed WORDS]
        [--pin PIN] [--words N] [--cancel-at STAGE[:N]] [--hold-at STAGE] [--refuse-at METHOD]
        [--vanish-at METHOD] [--stall-at RequestWord] [--decline-at STAGE] [--wrong-pin-at N]
"""

import argparse
import asyncio
import json
import os
import sys
from typing import Any

from dbus_fast import BusType, DBusError, Message, MessageType, Variant
from dbus_fast.aio import MessageBus
from dbus_fast.annotations import DBusObjectPath, DBusStr, DBusUInt32
from dbus_fast.service import ServiceInterface, dbus_method
from trezorlib import messages

from other_program import answer_quiz, write_down
from seed_safety import TYPED_LOG_ENV
from sim_helpers import ABANDON24, HostPort, matrix_key

BUS_NAME = "io.github.TrezorBackupGuard"
ROOT = "/io/github/TrezorBackupGuard"
AGENT_PATH = "/test/owner"


def say(**fields: Any) -> None:
    print(json.dumps(fields), flush=True)


class Owner:
    """The person in front of the simulated device."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.screen = HostPort(args.debug_port)  # DebugLink: what the device shows
        self.typed = args.typed.split()
        self.core_words_typed = 0
        self.questions_answered = 0
        self.pins_typed = 0
        self.stages_seen: dict[str, int] = {}
        self.core = False
        """A Model T or Safe: words are typed and checked on the device itself."""

    def state(self) -> messages.DebugLinkState:
        reply = self.screen.call(messages.DebugLinkGetState())
        assert isinstance(reply, messages.DebugLinkState)
        return reply

    def pin_positions(self) -> str:
        matrix = self.state().matrix or ""
        positions = "".join(str(matrix.index(digit) + 1) for digit in self.args.pin)
        if typed_log := os.environ.get(TYPED_LOG_ENV):  # for the session's final seed search
            with open(typed_log, "a") as log:
                log.write(positions + "\n")
        return positions

    def pin_typed_on_device(self) -> str:
        """The PIN, but a wrong one (every digit one up) on the --wrong-pin-at'th keyboard."""
        if self.pins_typed != self.args.wrong_pin_at:
            return str(self.args.pin)
        return "".join(str(int(digit) % 9 + 1) for digit in self.args.pin)

    def cancels_at(self, stage: str) -> bool:
        """Whether the owner cancels here: --cancel-at STAGE, or STAGE:N (its N-th time)."""
        self.stages_seen[stage] = self.stages_seen.get(stage, 0) + 1
        wanted, _, times = (self.args.cancel_at or "").partition(":")
        return wanted == stage and self.stages_seen[stage] == int(times or 1)

    def requested_word(self, kind: str) -> str:
        if kind in ("matrix9", "matrix6"):
            return matrix_key(self.screen, " ".join(self.typed))
        state = self.state()
        position = state.recovery_word_pos or 0
        return self.typed[position - 1] if position else (state.recovery_fake_word or "")

    def act_on_device(self, stage: str) -> None:
        """Press or type on the device as its screen asks (core models, and confirmations)."""
        decision = messages.DebugLinkDecision(button=messages.DebugButton.YES)
        if self.args.decline_at == stage:  # No (or Cancel) on the Trezor's own screen
            say(event="declining", stage=stage)
            decision = messages.DebugLinkDecision(button=messages.DebugButton.NO)
        elif stage == "pin" and self.args.pin:
            self.pins_typed += 1
            decision = messages.DebugLinkDecision(input=self.pin_typed_on_device())
        elif stage == "word_count":
            decision = messages.DebugLinkDecision(input=str(len(self.typed)))
        elif stage == "enter_words":
            # Core firmware asks once (ButtonRequest "mnemonic") and takes every word on
            # its own screen, as recorded on 2.10.0.
            for word in self.typed[self.core_words_typed :]:
                self.screen.send(messages.DebugLinkDecision(input=word))
            self.core_words_typed = len(self.typed)
            return
        elif stage == "show_words" and self.core:
            written = write_down(self.screen, self.typed)
            self.screen.send(decision)
            answer_quiz(self.screen, written)  # on the device, no request to the host
            return
        elif stage in ("started", "word_entry", "pin"):
            return
        self.screen.send(decision)


class OwnerAgent(ServiceInterface):
    def __init__(self, owner: Owner) -> None:
        super().__init__("io.github.TrezorBackupGuard.Agent1")
        self.owner = owner

    def _maybe_misbehave(self, method: str) -> None:
        if self.owner.args.vanish_at == method:
            say(event="vanishing", at=method)
            os._exit(0)
        if self.owner.args.refuse_at == method:
            say(event="refusing", at=method)
            raise DBusError("io.github.TrezorBackupGuard.Agent.Error.Cancelled", "no")

    @dbus_method()
    def RequestPin(self, device: DBusObjectPath, kind: DBusStr) -> DBusStr:
        self._maybe_misbehave("RequestPin")
        say(event="asked", what="pin", kind=kind)
        return self.owner.pin_positions()

    @dbus_method()
    async def RequestWord(self, device: DBusObjectPath, kind: DBusStr) -> DBusStr:
        self._maybe_misbehave("RequestWord")
        if self.owner.args.stall_at == "RequestWord":
            say(event="stalling", at="RequestWord")
            await asyncio.get_running_loop().create_future()
        say(event="asked", what="word", kind=kind)
        self.owner.questions_answered += 1
        return self.owner.requested_word(kind)

    @dbus_method()
    def RequestWordCount(self, device: DBusObjectPath) -> DBusUInt32:
        self._maybe_misbehave("RequestWordCount")
        say(event="asked", what="word_count")
        return len(self.owner.typed)

    @dbus_method()
    def Cancel(self, device: DBusObjectPath) -> None:
        say(event="agent_cancel")


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("device_id")
    parser.add_argument("debug_port", type=int)
    parser.add_argument("action", choices=["check", "backup", "unlock", "answer"])
    parser.add_argument("--typed", default=ABANDON24)
    parser.add_argument("--pin", default="")
    parser.add_argument("--words", type=int)
    parser.add_argument("--cancel-at", help="cancel here at STAGE, or at its N-th time: STAGE:N")
    parser.add_argument("--decline-at", help="at this stage, press No on the Trezor")
    parser.add_argument("--wrong-pin-at", type=int, help="type a wrong PIN on the N-th keyboard")
    parser.add_argument("--hold-at", help="at this stage, do nothing (a slow owner)")
    parser.add_argument("--refuse-at")
    parser.add_argument("--vanish-at")
    parser.add_argument("--stall-at", help="this agent method never answers (an absent owner)")
    args = parser.parse_args()

    owner = Owner(args)
    bus = await MessageBus(bus_type=BusType.SESSION).connect()
    bus.export(AGENT_PATH, OwnerAgent(owner))
    device_path = f"{ROOT}/devices/{args.device_id}"
    finished: asyncio.Future[list[str]] = asyncio.get_running_loop().create_future()
    cancels: set[asyncio.Task[str | None]] = set()

    def on_signal(message: Message) -> None:
        if message.path != device_path or message.message_type is not MessageType.SIGNAL:
            return
        if message.member == "OperationProgress":
            stage = message.body[0]
            say(event="progress", stage=stage)
            if owner.cancels_at(stage):
                cancel = asyncio.ensure_future(call(bus, device_path, "Device1", "Cancel", "", []))
                cancels.add(cancel)
            elif args.hold_at == stage:
                say(event="holding", stage=stage)
            else:
                owner.act_on_device(stage)
        elif message.member == "OperationFinished" and not finished.done():
            if args.action == "answer" and not owner.questions_answered:
                return  # someone else's operation, answered by someone else's agent
            finished.set_result(message.body)

    model = await bus.call(
        Message(
            destination=BUS_NAME,
            path=device_path,
            interface="org.freedesktop.DBus.Properties",
            member="Get",
            signature="ss",
            body=[f"{BUS_NAME}.Device1", "Model"],
        )
    )
    owner.core = model is not None and model.body[0].value != "One"
    bus.add_message_handler(on_signal)
    await call(bus, "/org/freedesktop/DBus", None, "AddMatch", "s",
               [f"type='signal',path='{device_path}'"])  # fmt: skip
    await call(bus, ROOT, "Manager1", "RegisterAgent", "o", [AGENT_PATH])
    if args.action == "answer":  # only answer for operations someone else starts
        say(event="registered")
        kind, result, text = await finished
        say(event="finished", kind=kind, result=result, message=text)
        return 0
    options = {"word_count": Variant("u", args.words)} if args.words else {}
    if args.action == "unlock":
        error = await call(bus, device_path, "Device1", "Unlock", "", [])
    else:
        method = "StartCheck" if args.action == "check" else "StartBackup"
        error = await call(bus, device_path, "Device1", method, "a{sv}", [options])
    if error is not None:
        say(event="start_error", name=error)
        return 1
    say(event="started")
    kind, result, text = await finished
    say(event="finished", kind=kind, result=result, message=text)
    return 0


async def call(
    bus: MessageBus, path: str, interface: str | None, member: str, signature: str, body: list[Any]
) -> str | None:
    """Call the daemon (or the bus); returns the error name, None on success."""
    reply = await bus.call(
        Message(
            destination="org.freedesktop.DBus" if interface is None else BUS_NAME,
            path=path,
            interface="org.freedesktop.DBus" if interface is None else f"{BUS_NAME}.{interface}",
            member=member,
            signature=signature,
            body=body,
        )
    )
    assert reply is not None
    return reply.error_name if reply.message_type is MessageType.ERROR else None


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
