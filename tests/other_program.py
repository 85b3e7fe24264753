"""Another program using a simulated core Trezor, as Trezor Suite or trezorctl would: it sends
the flow's messages over its own UDP socket, and an owner at the device answers every screen
through DebugLink. Used in-process by tests, and as a script by tests that need it to be a
process of its own holding the device's node:

    python tests/other_program.py backup|check PORT [--hold DEVNODE] [--words "w1 w2 ..."]

It exits 0 when the flow ended in Success, 1 otherwise (printing what it got instead).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from trezorlib import messages, protobuf

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
            debug.send(yes)
            answer_quiz(debug)
        else:
            debug.send(yes)

    return act


def answer_quiz(debug: HostPort) -> None:
    """Type back the words a core backup asks for after showing them (DebugLinkState says
    which, as trezorlib's own tests read it)."""
    for _ in range(QUIZ_WORDS):
        state = debug.call(messages.DebugLinkGetState())
        assert isinstance(state, messages.DebugLinkState)
        debug.send(messages.DebugLinkDecision(input=state.reset_word))


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
    args = parser.parse_args()
    held = os.open(args.hold, os.O_RDWR) if args.hold else None
    wire, debug = HostPort(args.port), HostPort(args.port + 1)
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
