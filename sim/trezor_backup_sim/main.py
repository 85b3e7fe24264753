"""Command line of `trezor-backup-sim`: which device to play, then the event loop.

Readiness is announced with one `ready udp:HOST:PORT` line on stdout (see
`event_loop`), so tests and scripts wait for it instead of sleeping.
"""

from __future__ import annotations

import argparse
import logging
import random
import re
import secrets
import sys

from mnemonic import Mnemonic
from trezorlib import messages

from .device import Device
from .event_loop import CONTROL_HELP, EventLoop
from .faults import Fault
from .models import DEFAULT_AUTO_LOCK_DELAY_MS, MODELS, BackupState, Model
from .owner_actions import ACTIONS, run_action
from .seed_words import SLIP39_WORD_COUNTS, master_secret
from .state import Wallet
from .thp_link import DEBUG_PAIRING_METHODS, PRODUCTION_PAIRING_METHODS

LOG = logging.getLogger("trezor_backup_sim")

HOST = "127.0.0.1"
DEFAULT_PORT = 21324
DEFAULT_MNEMONIC = " ".join(["abandon"] * 23 + ["art"])


def _pin(value: str) -> str:
    """A PIN as the Model One accepts it: 1 to 50 digits 1-9."""
    if not re.fullmatch(r"[1-9]{1,50}", value):
        raise argparse.ArgumentTypeError("a PIN is 1 to 50 digits from 1 to 9")
    return value


def _mnemonic(value: str) -> str:
    """A BIP-39 English mnemonic with a valid checksum, whitespace normalized."""
    words = " ".join(value.split())
    if len(words.split()) not in (12, 18, 24) or not Mnemonic("english").check(words):
        raise argparse.ArgumentTypeError("not a valid 12/18/24-word BIP-39 mnemonic")
    return words


def _slip39_share(value: str) -> str:
    """One SLIP-39 share (20 or 33 words) that restores a secret on its own."""
    words = " ".join(value.split())
    if len(words.split()) not in SLIP39_WORD_COUNTS or master_secret(words) is None:
        raise argparse.ArgumentTypeError("not a single SLIP-39 share of 20 or 33 words")
    return words


def _device_id(value: str) -> str:
    """24 hex digits, reported upper-case like the firmware does."""
    if not re.fullmatch(r"[0-9A-Fa-f]{24}", value):
        raise argparse.ArgumentTypeError("a device id is 24 hex digits")
    return value.upper()


def _thp_secret(value: str) -> bytes:
    """32 bytes in hex: the Safe 7's device secret (its THP identity)."""
    if not re.fullmatch(r"[0-9A-Fa-f]{64}", value):
        raise argparse.ArgumentTypeError("a THP device secret is 64 hex digits")
    return bytes.fromhex(value)


def _seconds(value: str) -> float:
    """A positive delay in seconds."""
    seconds = float(value)
    if not seconds > 0:
        raise argparse.ArgumentTypeError("a delay is a positive number of seconds")
    return seconds


def _port(value: str) -> int:
    """A wire port that leaves room for the DebugLink port above it."""
    port = int(value)
    if not 1 <= port <= 65534:
        raise argparse.ArgumentTypeError("the port must be 1..65534 (DebugLink uses port+1)")
    return port


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The CLI; argparse reports bad arguments and exits with status 2."""
    parser = argparse.ArgumentParser(
        prog="trezor-backup-sim",
        description="Simulated Trezor on UDP (wire port P, DebugLink port P+1).",
        epilog=CONTROL_HELP
        + """
the owner on a core device (DebugLink port, no host message, nothing sent to the host):
  unlock on the lockscreen: any DebugLinkDecision (e.g. press_yes) wakes the PIN
      keyboard, then DebugLinkDecision(input=PIN) (trezorlib DebugLink.input("1234"))
  finish a dry run left running: DebugLinkDecision(input="12") for the word count,
      press_yes, then one input per word, press_yes on the result

the default seed (--mnemonic): "abandon" 23 times, then "art" (the BIP-39 test vector); type it
  in a check to pass, any other valid seed to see it fail

acting as the owner from another terminal (see trezor-backup-sim press --help):
  trezor-backup-sim press yes|no [--port P]   press a button on the Trezor's screen
  trezor-backup-sim type TEXT [--port P]      type on a Model T/Safe (word count, word, PIN)
  trezor-backup-sim screen [--port P]         what the screen asks for or shows
""",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--model", required=True, choices=[m.value for m in Model])
    parser.add_argument("--state", required=True, choices=[s.value for s in BackupState])
    parser.add_argument("--port", type=_port, default=DEFAULT_PORT)
    parser.add_argument("--label", default="My Trezor")
    parser.add_argument("--pin", type=_pin, help="PIN of the wallet (none by default)")
    parser.add_argument("--mnemonic", type=_mnemonic, default=DEFAULT_MNEMONIC)
    parser.add_argument("--device-id", type=_device_id, help="default: random per run")
    parser.add_argument(
        "--slip39-share",
        type=_slip39_share,
        metavar="WORDS",
        help="core: the wallet is this single SLIP-39 share (Slip39_Single_Extendable), "
        "instead of --mnemonic",
    )
    parser.add_argument(
        "--passphrase", action="store_true", help="the wallet has passphrase protection on"
    )
    parser.add_argument("--bootloader", action="store_true", help="play the bootloader instead")
    parser.add_argument(
        "--locked",
        action="store_true",
        help="start PIN-protected and locked, but connected (needs --pin)",
    )
    parser.add_argument(
        "--boot-locked",
        action="store_true",
        help="core: start at the boot PIN screen, no port bound until 'pin PIN' on stdin",
    )
    parser.add_argument(
        "--auto-lock-seconds",
        type=_seconds,
        default=DEFAULT_AUTO_LOCK_DELAY_MS / 1000,
        help="idle time after which a PIN-protected device locks itself (default 600)",
    )
    parser.add_argument(
        "--thp-secret",
        type=_thp_secret,
        metavar="HEX",
        help="safe7: the device secret (64 hex digits) its THP static key and credentials "
        "come from; pass the same one to play the same device after a restart "
        "(default: random per run; a wipe makes a new one)",
    )
    parser.add_argument(
        "--pairing-methods",
        choices=["debug", "code-entry"],
        default="debug",
        help="safe7: what the device advertises: 'debug' as the debug emulator "
        "(CodeEntry, SkipPairing, NFC, QrCode; recorded) or 'code-entry' as production "
        "firmware. The pairing code is read with DebugLinkGetPairingInfo "
        "(trezorlib DebugLink.pairing_info) on the DebugLink port",
    )
    parser.add_argument(
        "--fault",
        choices=[f.value for f in Fault],
        help="play a broken device: every reply on the wire port is replaced (for tests)",
    )
    args = parser.parse_args(argv)
    if (args.locked or args.boot_locked) and args.pin is None:
        parser.error("--locked and --boot-locked need --pin")
    if args.boot_locked and not MODELS[Model(args.model)].is_core:
        parser.error("--boot-locked: only core models ask the PIN before USB")
    if args.fault and MODELS[Model(args.model)].thp:
        parser.error("--fault: not for the THP wire of a Safe 7")
    if args.slip39_share and not MODELS[Model(args.model)].is_core:
        parser.error("--slip39-share: the Model One knows only BIP-39")
    return args


def build_device(args: argparse.Namespace) -> Device:
    """The device the arguments describe."""
    wallet = Wallet.create(
        BackupState(args.state),
        device_id=args.device_id or secrets.token_hex(12).upper(),
        label=args.label,
        mnemonic=args.slip39_share or args.mnemonic,
        pin=args.pin,
    )
    if args.slip39_share:
        wallet.backup_type = messages.BackupType.Slip39_Single_Extendable
    wallet.passphrase_protection = args.passphrase
    if args.thp_secret is not None:
        wallet.thp_secret = args.thp_secret
    wallet.unlocked = not (args.locked or args.boot_locked)
    info = MODELS[Model(args.model)]
    return Device(
        info,
        wallet,
        random.Random(),
        bootloader=args.bootloader,
        auto_lock_delay_ms=round(args.auto_lock_seconds * 1000),
    )


def main(argv: list[str] | None = None) -> None:
    """Entry point of `trezor-backup-sim`."""
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in ACTIONS:
        sys.exit(run_action(argv))
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="trezor-backup-sim: %(message)s")
    device = build_device(args)
    LOG.info("model %s, state %s%s", args.model, args.state, " (bootloader)" * args.bootloader)
    loop = EventLoop(
        device,
        HOST,
        args.port,
        Fault(args.fault) if args.fault else None,
        args.auto_lock_seconds,
        boot_locked=args.boot_locked,
        pairing_methods=(
            DEBUG_PAIRING_METHODS if args.pairing_methods == "debug" else PRODUCTION_PAIRING_METHODS
        ),
    )
    loop.run(control_fd=0)
