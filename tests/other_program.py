"""Another program using a simulated core Trezor, as Trezor Suite or trezorctl would: it sends
the flow's messages over its own UDP socket, and an owner at the device answers every screen
through DebugLink. Used in-process by tests, and as a script by tests that need it to be a
process of its own holding the device's node:

    python tests/other_program.py backup|check PORT [--hold DEVNODE] [--words "w1 w2 ..."]
        [--usb]

With --usb the flow goes through the first WebUSB Trezor trezorlib lists (the USB bridge's,
usb_bridge.py), listed, opened and claimed as trezorctl does; DebugLink stays on PORT + 1.

It exits 0 when the flow ended in Success, 1 otherwise (printing what it got instead).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable

from trezorlib import messages, protobuf
from trezorlib.debuglink import LayoutContent
from trezorlib.messages import DebugWaitType
from trezorlib.transport.webusb import WebUsbTransport

from sim_helpers import HostPort

REPLY_TIMEOUT = 20.0
QUIZ_WORDS = 3
"""A core backup checks three of the words it showed, on the device (recorded)."""


def owner_at_device(debug: HostPort, typed: list[str]) -> Callable[[str], None]:
    """What an owner does on a core device's screen, by the screen's recorded name."""
    yes = messages.DebugLinkDecision(button=messages.DebugButton.YES)

    def act(screen: str) -> None:
        if screen == "recovery_word_count":
            debug.send(messages.DebugLinkDecision(input=str(len(typed))))
        elif screen == "mnemonic":
            for word in typed:
                debug.send(messages.DebugLinkDecision(input=word))
        elif screen in ("share_words", "backup_words"):
            written = write_down(debug, typed)
            debug.send(yes)
            answer_quiz(debug, written)
        else:
            debug.send(yes)

    return act


def answer_quiz(debug: HostPort, written: list[str]) -> None:
    """Type back the words a core backup asks for after showing them, from the words the
    owner wrote down (`written`), as the screen asks for them. Nothing when the screen asks
    none yet: a Safe 3 shows its words over three screens, each with its ButtonRequest."""
    for _ in range(QUIZ_WORDS):
        # Waits for the screen the last press led to (core firmware; the simulator answers
        # at once).
        state = debug.call(messages.DebugLinkGetState(wait_layout=DebugWaitType.CURRENT_LAYOUT))
        assert isinstance(state, messages.DebugLinkState), state
        answer = quiz_answer(state, written)
        if answer is None:
            return
        debug.send(messages.DebugLinkDecision(input=answer))


def quiz_answer(state: messages.DebugLinkState, written: list[str]) -> str | None:
    """The word a core backup's quiz asks for, from the words written down; None when the
    screen is no quiz."""
    position = quiz_position(state)
    return None if position is None else written[position - 1]


def quiz_position(state: messages.DebugLinkState) -> int | None:
    """The position a core backup's quiz asks for, None when the screen is no quiz. The
    firmware (2.10.0) names it only on its screen, "Select word 6 of 12:" (the Safe 3 in the
    title), and leaves `reset_word` unset; the simulator draws the same."""
    screen = LayoutContent(state.tokens)
    asked = re.search(r"word (\d+) of", f"{screen.title()}\n{screen.screen_content()}")
    return None if asked is None else int(asked.group(1))


def write_down(debug: HostPort, known: list[str]) -> list[str]:
    """The words an owner has on paper at a core backup's words screen: `known` (the words
    it expects) with the ones the screen shows written over them ("1. wrong 2. town ...";
    the simulator shows them all on one page, the firmware a few a page)."""
    state = debug.call(messages.DebugLinkGetState(wait_layout=DebugWaitType.CURRENT_LAYOUT))
    assert isinstance(state, messages.DebugLinkState), state
    written = dict(enumerate(known, 1))
    shown = re.findall(r"(\d+)\. (\S+)", LayoutContent(state.tokens).screen_content())
    written.update((int(position), word) for position, word in shown)
    return [written.get(position, "") for position in range(1, max(written, default=0) + 1)]


def run_flow(
    wire: HostPort, first: protobuf.MessageType, act: Callable[[str], None]
) -> protobuf.MessageType:
    """Send `first`, acknowledge every screen and let the owner act on it; the result."""
    reply = wire.call(first)
    while isinstance(reply, messages.ButtonRequest):
        wire.send(messages.ButtonAck())
        act(reply.name or "")
        reply = wire.receive_message(timeout=REPLY_TIMEOUT)
    return reply


def check_at_its_words(wire: HostPort, debug: HostPort, typed: list[str]) -> None:
    """Another program's dry run on a core Trezor, left where its owner types the words:
    every screen before acknowledged and answered, the word count and the first three words
    typed. The program then waits for the check's result, as trezorctl would."""
    act = owner_at_device(debug, typed)
    reply = wire.call(messages.RecoveryDevice(type=messages.RecoveryType.DryRun))
    while isinstance(reply, messages.ButtonRequest) and reply.name != "mnemonic":
        wire.send(messages.ButtonAck())
        act(reply.name or "")
        reply = wire.receive_message(timeout=REPLY_TIMEOUT)
    assert isinstance(reply, messages.ButtonRequest), reply
    wire.send(messages.ButtonAck())
    for word in typed[:3]:
        debug.send(messages.DebugLinkDecision(input=word))


FLOWS: dict[str, protobuf.MessageType] = {
    "backup": messages.BackupDevice(),
    "check": messages.RecoveryDevice(type=messages.RecoveryType.DryRun),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("flow", choices=sorted(FLOWS))
    parser.add_argument("port", type=int)
    parser.add_argument("--hold", metavar="DEVNODE", help="keep this node open meanwhile")
    parser.add_argument("--words", default="", help="the words the owner types (check)")
    parser.add_argument("--usb", action="store_true", help="the flow over WebUSB")
    args = parser.parse_args()
    held = os.open(args.hold, os.O_RDWR) if args.hold else None
    wire = HostPort(next(iter(WebUsbTransport.enumerate())) if args.usb else args.port)
    debug = HostPort(args.port + 1)
    try:
        result = run_flow(wire, FLOWS[args.flow], owner_at_device(debug, args.words.split()))
    finally:
        wire.close()
        debug.close()
        if held is not None:
            os.close(held)
    if not isinstance(result, messages.Success):
        print(f"{args.flow} ended with {result}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
