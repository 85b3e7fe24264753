"""The one place on a device for an operation of ours, and the lock on talking to it.

While an operation runs, a status read would end it on core firmware (and an emulator would
send its next reply to us): the tracker's read policy asks the slot whether one runs, and a
status read and an operation each hold the slot's lock around their use of the device.
"""

from __future__ import annotations

import threading
from typing import Protocol


class OperationHandle(Protocol):
    """An operation of ours holding a device (see operations). While it runs, the tracker's
    entry for the device owns it: unplugging and the end of the operation go through it."""

    @property
    def kind(self) -> str:
        """ "check", "backup" or "unlock"."""
        ...

    def cancel(self) -> None:
        """Ask the device to abandon the operation (owner's request, or shutdown)."""
        ...

    def device_gone(self) -> None:
        """The device was unplugged: stop waiting for it."""
        ...


class OperationSlot:
    """One device's operation of ours, if one runs, and its I/O lock."""

    def __init__(self) -> None:
        self.running: OperationHandle | None = None
        self.lock = threading.Lock()
        """Held by whoever talks to the device: a status read, or an operation from start to
        end. Cancelling a reader task does not stop its worker thread; this lock does."""

    @property
    def kind(self) -> str:
        """The kind of the operation running, as published ("" for none)."""
        return self.running.kind if self.running is not None else ""

    def begin(self, operation: OperationHandle) -> None:
        self.running = operation

    def end(self, operation: OperationHandle) -> bool:
        """This very operation is over: whether it was the one running here (the device may
        have been plugged in again, with a new operation, before it ended)."""
        if self.running is not operation:
            return False
        self.running = None
        return True
