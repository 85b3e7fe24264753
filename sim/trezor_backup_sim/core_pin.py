"""The PIN on core 2.10: unlocking before a workflow, and on the lockscreen.

A core device asks for its PIN on its own keyboard (ButtonRequest PinEntry
`pin_device`), so the host never sees the PIN. Unlocking, a wrong one just shows the
keyboard again; in the dry run's own PIN check it ends the workflow (both on 2.10.0,
tests/test_official_guesses.py). Cancel on either keyboard ends it with PinCancelled.
The owner may also unlock from the lockscreen without any host message.
"""

from __future__ import annotations

from collections.abc import Generator

from trezorlib import messages, protobuf

from . import core_screens as screens
from .prompts import Answer, Flow, Prompt, ScreenPrompt, failure
from .state import Wallet

PinCheck = Generator[Prompt, Answer, list[protobuf.MessageType] | None]


def verify_pin(wallet: Wallet) -> PinCheck:
    """The PIN keyboard until the right PIN; None when right, else the ending Failure."""
    while True:
        entered = yield screens.pin_entry()
        if entered is None:
            return pin_cancelled()
        if entered == wallet.pin:
            wallet.unlocked = True
            return None


def check_pin(wallet: Wallet) -> PinCheck:
    """A workflow's own PIN check (the dry run's): one try. A wrong PIN shows its warning
    and ends the workflow with Failure(PinInvalid); None when right."""
    entered = yield screens.pin_entry()
    if entered is None:
        return pin_cancelled()
    if entered != wallet.pin:
        yield screens.wrong_pin()
        return failure(messages.FailureType.PinInvalid, "PIN invalid")
    wallet.unlocked = True
    return None


def pin_cancelled() -> list[protobuf.MessageType]:
    """Cancel on a core PIN keyboard."""
    return failure(messages.FailureType.PinCancelled, "PIN entry cancelled")


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
