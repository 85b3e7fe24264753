"""The applet's dialogs as the daemon's agent: the owner's input for a Model One, and the
code a Safe 7 shows while it pairs.

Each request opens a dialog on the GTK thread (dialogs.DialogHost) and awaits its answer on
the asyncio thread, so the bus keeps serving while the owner thinks. A closed dialog is
`AgentCancelled`, which the daemon takes as "cancel the operation". Who may ask at all is
decided before a dialog opens, by trezor_backup_api's `AgentExport`; the answer is returned
to the daemon and dropped.
"""

import asyncio
from collections.abc import Callable
from concurrent.futures import Future
from typing import TypeVar

from trezor_backup_api.agent import AgentCancelled
from trezor_backup_api.names import device_id_of

from .dialogs import DialogHost

T = TypeVar("T")


class DialogAgent:
    """A `PairingAgent` (trezor_backup_api.agent) that asks the owner in the dialogs."""

    def __init__(self, dialogs: DialogHost, name_of: Callable[[str], str]) -> None:
        """`name_of` gives what the owner calls a device (by id): every prompt names it."""
        self.dialogs = dialogs
        self.name_of = name_of

    @staticmethod
    async def _answer(question: Future[T | None]) -> T:
        answer = await asyncio.wrap_future(question)
        if answer is None:
            raise AgentCancelled("The owner cancelled")
        return answer

    async def request_pin(self, device: str, kind: str) -> str:
        device_id = device_id_of(device)
        return await self._answer(self.dialogs.ask_pin(device_id, self.name_of(device_id)))

    async def request_word(self, device: str, kind: str) -> str:
        device_id = device_id_of(device)
        return await self._answer(self.dialogs.ask_word(device_id, self.name_of(device_id), kind))

    async def request_word_count(self, device: str) -> int:
        device_id = device_id_of(device)
        return await self._answer(self.dialogs.ask_word_count(device_id, self.name_of(device_id)))

    async def request_pairing_code(self, device: str) -> str:
        device_id = device_id_of(device)
        return await self._answer(self.dialogs.ask_pairing_code(device_id, self.name_of(device_id)))

    def cancel(self, device: str) -> None:
        self.dialogs.cancel_prompts(device_id_of(device))
