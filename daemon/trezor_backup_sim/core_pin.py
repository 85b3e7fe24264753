"""The PIN on core 2.10: unlocking before a workflow, and on the lockscreen.

A core device asks for its PIN on its own keyboard (ButtonRequest PinEntry
`pin_device`), so the host never sees the PIN; a wrong one just shows the keyboard
again. The owner may also unlock from the lockscreen without any host message.
"""

from __future__ import annotations

from collections.abc import Generator

from trezorlib import protobuf

from . import core_screens as screens
from .prompts import Answer, Flow, Prompt, ScreenPrompt, core_cancelled
from .state import Wallet

PinCheck = Generator[Prompt, Answer, list[protobuf.MessageType] | None]


def verify_pin(wallet: Wallet) -> PinCheck:
    """The PIN keyboard until the right PIN; None when right, else the ending Failure."""
    while True:
        entered = yield screens.pin_entry()
        if entered is None:
            return core_cancelled()
        if entered == wallet.pin:
            wallet.unlocked = True
            return None


def unlock(wallet: Wallet) -> PinCheck:
    """core's unlock_device() before a workflow that needs the wallet: PIN if locked."""
    if wallet.unlocked:
        return None
    return (yield from verify_pin(wallet))


def lockscreen(wallet: Wallet) -> Flow:
    """The owner unlocks on the device: a touch wakes the PIN keyboard, then the PIN."""
    yield ScreenPrompt(text_input=True)
    while (yield ScreenPrompt(text_input=True)) != wallet.pin:
        pass
    wallet.unlocked = True
    return []
