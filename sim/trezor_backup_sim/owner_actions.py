"""`trezor-backup-sim press yes|no`, `type TEXT` and `screen`: the owner's hands and eyes on a
running simulator, from another terminal, so that a person can take a check or a backup
through to the end.

They talk to the simulator's DebugLink port (the wire port + 1), as trezorlib's DebugLink
does with the official emulator; nothing reaches the wire port, so the host's flow is not
disturbed.
"""

from __future__ import annotations

import argparse
import os
import sys

from trezorlib import messages, protocol_v1
from trezorlib.debuglink import LayoutContent
from trezorlib.mapping import DEFAULT_MAPPING
from trezorlib.transport.udp import UdpTransport

from .state import LegacyScreen

HOST = "127.0.0.1"
ACTIONS = ("press", "type", "screen")
ANSWER_TIMEOUT_SECONDS = 2.0
NOTHING_TO_TYPE = "asks for nothing to be typed: confirm or cancel with press yes|no"

EPILOG = """\
what each model asks of its owner:
  Model One  words and PIN are typed into trezor-backupctl (or the applet), not on the
             Trezor: `screen` shows which word of the seed it asks for (or the made-up word
             to type), during a backup the word it shows, then the check's result
             screen and the home screen once the flow has ended; `press yes` confirms
             each screen
  T, Safe    everything happens on the Trezor: `press yes` confirms, `type 24` picks the
             word count, `type WORD` enters each word of the seed, `type PIN` unlocks
  Safe 7     pairing (--model safe7): `press yes` allows it, `screen` shows the code to
             type into the computer, `press yes` twice allows connecting without asking
"""


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="trezor-backup-sim",
        description="Act on a running trezor-backup-sim as its owner would.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="action", required=True)
    press = actions.add_parser("press", help="press a button on the Trezor's screen")
    press.add_argument("button", choices=["yes", "no"])
    typed = actions.add_parser("type", help="type on the Trezor (a word, a word count, a PIN)")
    typed.add_argument("text")
    actions.add_parser("screen", help="show what the Trezor's screen asks or shows")
    for action in actions.choices.values():
        action.add_argument(
            "--port",
            type=int,
            default=int(os.environ.get("TREZOR_SIM_PORT", "21324")),
            help="the simulator's wire port, as given to it (default: $TREZOR_SIM_PORT or "
            "21324); its DebugLink port is the next one",
        )
    return parser.parse_args(argv)


def _state(transport: UdpTransport) -> messages.DebugLinkState:
    """The DebugLink state with the current layout, which names a Model One's result and home
    screens (LegacyScreen) where the word fields have gone stale."""
    request = messages.DebugLinkGetState(wait_layout=messages.DebugWaitType.CURRENT_LAYOUT)
    protocol_v1.write(transport, *DEFAULT_MAPPING.encode(request))
    reply = DEFAULT_MAPPING.decode(*protocol_v1.read(transport, timeout=ANSWER_TIMEOUT_SECONDS))
    assert isinstance(reply, messages.DebugLinkState)
    return reply


def _pairing_code(transport: UdpTransport) -> str | None:
    """The code a Safe 7 shows while pairing (its DebugLinkGetPairingInfo), else None (the
    other models answer that they know no such message)."""
    protocol_v1.write(transport, *DEFAULT_MAPPING.encode(messages.DebugLinkGetPairingInfo()))
    reply = DEFAULT_MAPPING.decode(*protocol_v1.read(transport, timeout=ANSWER_TIMEOUT_SECONDS))
    if isinstance(reply, messages.DebugLinkPairingInfo) and reply.code_entry_code is not None:
        code = f"{reply.code_entry_code:06}"
        return f"{code[:3]} {code[3:]}"
    return None


def describe(state: messages.DebugLinkState) -> str:
    """What the screen asks for or shows, in the owner's words."""
    if state.tokens == [LegacyScreen.RESULT]:
        return "shows the result of the backup check: read it, then press yes"
    if state.tokens == [LegacyScreen.HOME]:
        return "shows its home screen: no check or backup is running on it (any has ended)"
    screen = LayoutContent(state.tokens)
    if screen.main_component() == "Frame":  # a core backup's words or quiz (core_screens)
        shown = " ".join(part for part in (screen.title(), screen.screen_content()) if part)
        return f"shows: {shown.replace(chr(10), ' ')} (`type WORD` answers a quiz)"
    if state.reset_word:
        return f"shows word {state.reset_word_pos or '?'} of the new backup: {state.reset_word}"
    if state.recovery_word_pos:
        return f"asks for word {state.recovery_word_pos} of your recovery seed"
    if state.recovery_fake_word:
        return f"asks for the word {state.recovery_fake_word!r} (a made-up one: type it as shown)"
    if state.matrix:
        return f"shows the PIN grid (keypad layout 7 8 9 / 4 5 6 / 1 2 3): {state.matrix}"
    return NOTHING_TO_TYPE


def run_action(argv: list[str]) -> int:
    args = parse_args(argv)
    transport = UdpTransport(f"{HOST}:{args.port + 1}")
    transport.open()
    try:
        try:
            state = _state(transport)  # also proves a simulator is there
        except Exception:  # timeout or a reply that is not DebugLinkState
            print(
                f"trezor-backup-sim: no simulator answers on DebugLink port {args.port + 1} "
                f"(wire port {args.port}); start one, or give its --port",
                file=sys.stderr,
            )
            return 1
        if args.action == "screen":
            shown = describe(state)
            code = _pairing_code(transport) if shown == NOTHING_TO_TYPE else None
            if code is not None:
                print(f"The Trezor shows the pairing code {code}: type it into the computer.")
            else:
                print(f"The Trezor {shown}.")
            return 0
        if args.action == "press":
            button = messages.DebugButton.YES if args.button == "yes" else messages.DebugButton.NO
            decision = messages.DebugLinkDecision(button=button)
        else:
            decision = messages.DebugLinkDecision(input=args.text)
        protocol_v1.write(transport, *DEFAULT_MAPPING.encode(decision))
        return 0
    finally:
        transport.close()
