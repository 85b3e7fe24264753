"""The applet as the daemon's agent (io.github.TrezorBackupGuard.Agent1): the owner's input for
a Model One, asked in the dialogs.

Each method opens a dialog on the Tk thread and awaits its answer on the asyncio thread, so the
bus keeps serving while the owner thinks. A closed dialog answers with an error, which the daemon
takes as "cancel the operation". The answer is returned to the daemon and dropped: it is never
logged, stored or put in an exception.
"""

import asyncio
from concurrent.futures import Future
from typing import TypeVar

from dbus_fast import DBusError
from dbus_fast.annotations import DBusObjectPath, DBusStr, DBusUInt32
from dbus_fast.service import ServiceInterface, dbus_method

from trezor_backupd.bus_names import AGENT_INTERFACE, BUS_NAME

from .dialogs import DialogHost

AGENT_PATH = "/io/github/TrezorBackupGuard/applet/agent"
CANCELLED_ERROR = f"{BUS_NAME}.Agent.Error.Cancelled"

T = TypeVar("T")


def device_id_of(path: str) -> str:
    """The device id at the end of a Device1 object path."""
    return path.rsplit("/", 1)[-1]


class Agent(ServiceInterface):
    """Answers the daemon's questions through the dialogs."""

    def __init__(self, dialogs: DialogHost) -> None:
        super().__init__(AGENT_INTERFACE)
        self.dialogs = dialogs

    async def _answer(self, question: Future[T | None]) -> T:
        answer = await asyncio.wrap_future(question)
        if answer is None:
            raise DBusError(CANCELLED_ERROR, "The owner cancelled")
        return answer

    @dbus_method()
    async def RequestPin(self, device: DBusObjectPath, kind: DBusStr) -> DBusStr:
        return await self._answer(self.dialogs.ask_pin(device_id_of(device)))

    @dbus_method()
    async def RequestWord(self, device: DBusObjectPath, kind: DBusStr) -> DBusStr:
        return await self._answer(self.dialogs.ask_word(device_id_of(device), kind))

    @dbus_method()
    async def RequestWordCount(self, device: DBusObjectPath) -> DBusUInt32:
        return await self._answer(self.dialogs.ask_word_count(device_id_of(device)))

    @dbus_method()
    def Cancel(self, device: DBusObjectPath) -> None:
        self.dialogs.cancel_prompts(device_id_of(device))
