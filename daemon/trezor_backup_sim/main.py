"""Command line and event loop of `trezor-backup-sim`.

Single-threaded: one selector waits on both UDP ports and on the signal wake-up
socket, so an idle simulator costs nothing and SIGTERM/SIGINT end it at once.
Readiness is announced with one `ready udp:HOST:PORT` line on stdout, so tests and
scripts wait for it instead of sleeping.
"""

from __future__ import annotations

import argparse
import logging
import random
import re
import secrets
import selectors
import signal
import socket
import sys

from mnemonic import Mnemonic

from .device import Channel, Device
from .faults import Fault
from .models import MODELS, BackupState, Model
from .state import Wallet
from .udp_link import UdpLink

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


def _device_id(value: str) -> str:
    """24 hex digits, reported upper-case like the firmware does."""
    if not re.fullmatch(r"[0-9A-Fa-f]{24}", value):
        raise argparse.ArgumentTypeError("a device id is 24 hex digits")
    return value.upper()


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
    )
    parser.add_argument("--model", required=True, choices=[m.value for m in Model])
    parser.add_argument("--state", required=True, choices=[s.value for s in BackupState])
    parser.add_argument("--port", type=_port, default=DEFAULT_PORT)
    parser.add_argument("--label", default="My Trezor")
    parser.add_argument("--pin", type=_pin, help="PIN of the wallet (none by default)")
    parser.add_argument("--mnemonic", type=_mnemonic, default=DEFAULT_MNEMONIC)
    parser.add_argument("--device-id", type=_device_id, help="default: random per run")
    parser.add_argument("--bootloader", action="store_true", help="play the bootloader instead")
    parser.add_argument(
        "--fault",
        choices=[f.value for f in Fault],
        help="play a broken device: every reply on the wire port is replaced (for tests)",
    )
    return parser.parse_args(argv)


def build_device(args: argparse.Namespace) -> Device:
    """The device the arguments describe."""
    wallet = Wallet.create(
        BackupState(args.state),
        device_id=args.device_id or secrets.token_hex(12).upper(),
        label=args.label,
        mnemonic=args.mnemonic,
        pin=args.pin,
    )
    info = MODELS[Model(args.model)]
    return Device(info, wallet, random.Random(), bootloader=args.bootloader)


def serve(link: UdpLink) -> None:
    """Handle datagrams until SIGTERM or SIGINT."""
    wakeup_read, wakeup_write = socket.socketpair()
    wakeup_write.setblocking(False)
    signal.set_wakeup_fd(wakeup_write.fileno())
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda _signum, _frame: None)
    with selectors.DefaultSelector() as selector:
        selector.register(wakeup_read, selectors.EVENT_READ, None)
        for channel, sock in link.sockets.items():
            selector.register(sock, selectors.EVENT_READ, channel)
        while True:
            for key, _ in selector.select():
                if key.data is None:
                    wakeup_read.close()
                    wakeup_write.close()
                    return
                assert isinstance(key.data, Channel)
                link.receive(key.data)


def main(argv: list[str] | None = None) -> None:
    """Entry point of `trezor-backup-sim`."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="trezor-backup-sim: %(message)s")
    device = build_device(args)
    try:
        link = UdpLink(device, args.port, HOST, Fault(args.fault) if args.fault else None)
    except OSError as exc:
        sys.exit(f"trezor-backup-sim: cannot bind {HOST}:{args.port}/{args.port + 1}: {exc}")
    LOG.info("model %s, state %s%s", args.model, args.state, " (bootloader)" * args.bootloader)
    print(f"ready udp:{HOST}:{args.port}", flush=True)
    try:
        serve(link)
    finally:
        link.close()
