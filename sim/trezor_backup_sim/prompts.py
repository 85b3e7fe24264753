"""What a device flow can ask the host for, and the shape of a flow.

A flow is a generator: it yields a prompt (which the device turns into a
ButtonRequest / PinMatrixRequest / WordRequest and the matching wait), receives the
answer, and finally returns the messages that end it. This keeps each firmware
workflow readable top to bottom, like the firmware's own blocking C code.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass

from trezorlib import messages, protobuf

from .state import Wallet


@dataclass(frozen=True)
class ButtonPrompt:
    """Wait for ButtonAck plus a button decision; the answer is True for YES.

    With `text_input` (core: words, PIN, word count typed on the device) the answer
    is the DebugLinkDecision's `input` text, or None when NO was pressed.
    Core firmware names its ButtonRequests and says how many pages the screen has;
    a screen of several pages is confirmed after the owner paged to its end.
    `interrupt_cancels`: a host message (in place of the ButtonAck, or after it) ends
    the flow as if the owner cancelled, and the message itself is lost (core recovery
    screens).
    `screen`: what the owner reads on it, as the layout token DebugLinkState carries
    (core_screens draws only the screens an owner must read).
    """

    code: messages.ButtonRequestType
    text_input: bool = False
    name: str | None = None
    pages: int | None = None
    interrupt_cancels: bool = False
    screen: str | None = None


@dataclass(frozen=True)
class ScreenPrompt:
    """A core screen that sends the host nothing: only the owner's decision ends it.

    The next word of a mnemonic, the backup quiz, the lockscreen. The answer is as
    for ButtonPrompt, and so is `screen`.
    """

    text_input: bool = False
    interrupt_cancels: bool = False
    screen: str | None = None


@dataclass(frozen=True)
class EntropyPrompt:
    """EntropyRequest: wait for the host's EntropyAck; the answer is its entropy."""


@dataclass(frozen=True)
class PinPrompt:
    """Wait for PinMatrixAck; the answer is the decoded PIN, or None when aborted."""


@dataclass(frozen=True)
class WordPrompt:
    """Ask for one WordAck; the answer is its text. Other messages may come first."""

    type: messages.WordRequestType


Prompt = ButtonPrompt | ScreenPrompt | EntropyPrompt | PinPrompt | WordPrompt
Answer = bool | str | bytes | None
Flow = Generator[Prompt, Answer, list[protobuf.MessageType]]


def failure(code: messages.FailureType, text: str) -> list[protobuf.MessageType]:
    """A flow's final Failure, with the release-firmware text (no `file:line:`)."""
    return [messages.Failure(code=code, message=text)]


def core_cancelled() -> list[protobuf.MessageType]:
    """How a core workflow ends when the owner or the host cancels it."""
    return failure(messages.FailureType.ActionCancelled, "Cancelled")


def success(text: str | None = None) -> list[protobuf.MessageType]:
    """A flow's final Success."""
    return [messages.Success(message=text)]


def require_pin(wallet: Wallet) -> Generator[Prompt, Answer, list[protobuf.MessageType] | None]:
    """Ask for the PIN (unlocking the wallet); None when right, else the ending Failure."""
    entered = yield PinPrompt()
    if entered is None:
        return failure(messages.FailureType.PinCancelled, "PIN cancelled")
    if entered != wallet.pin:
        return failure(messages.FailureType.PinInvalid, "Invalid PIN")
    wallet.unlocked = True
    return None
