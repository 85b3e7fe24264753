"""The reminder ladder: when a Trezor's next backup check comes, even if it stays in a drawer.

From the dates the daemon keeps per device (`CheckDueTime`, `CheckOverdueTime` of
Manager1.GetKnownDevices: the last passed check plus once and twice the re-check interval),
three steps: "due soon" 14 days before the due date, "due", and "overdue" (Daedalus warns at
half a year and notifies at a year; the interval is 180 days by default). Each step is
notified once per device (and not while the device is snoozed); a device that is not plugged
in gets "Plug in <label> to check its backup". Pure functions of a device and the time, so the
applet's clock can be injected in tests.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from trezor_backup_api.i18n import _, local_day, ngettext
from trezor_backup_api.vocabulary import Outcome

from .device_mirror import Device

DAY = 86400
SOON = 14 * DAY


class Step(enum.IntEnum):
    """How near or past the due date a device's next check is."""

    DUE_SOON = 1
    DUE = 2
    OVERDUE = 3


@dataclass(frozen=True)
class Reminder:
    """What to tell the owner about one device's next check."""

    step: Step
    title: str
    body: str

    def key(self, device: Device) -> str:
        """Names this step of this check period, to notify it once ("due@1780000000")."""
        return f"{self.step.name.lower()}@{device.check_due_time}"


def step_of(device: Device, now: float) -> Step | None:
    """The ladder step the device is on now; None before it (or without a passed check)."""
    if not device.check_due_time or device.last_check_result != Outcome.PASSED:
        return None
    if device.check_overdue_time and now >= device.check_overdue_time:
        return Step.OVERDUE
    if now >= device.check_due_time:
        return Step.DUE
    if now >= device.check_due_time - SOON:
        return Step.DUE_SOON
    return None


def reminder_of(device: Device, now: float) -> Reminder | None:
    """The reminder for the device's step, worded for where the device is."""
    step = step_of(device, now)
    if step is None:
        return None
    name = device.name
    last = local_day(device.last_check_time)
    every = max(1, (device.check_due_time - device.last_check_time) // DAY)
    if step is Step.DUE_SOON:
        soon = (
            _(
                "Its next backup check is due on {date}: you can check it now, with your "
                "written recovery words at hand."
            )
            if device.connected
            else _(
                "Its next backup check is due on {date}: plug it in then, with your "
                "written recovery words at hand."
            )
        )
        return Reminder(
            step,
            _("Check the backup of {name} soon").format(name=name),
            soon.format(date=local_day(device.check_due_time)),
        )
    title = (
        _("Time to check the backup of {name}")
        if device.connected
        else _("Plug in {name} to check its backup")
    ).format(name=name)
    body = (
        ngettext(
            "It was last checked on {date}, more than {days} day ago: check that your "
            "written words are still there and readable.",
            "It was last checked on {date}, more than {days} days ago: check that your "
            "written words are still there and readable.",
            2 * every,
        ).format(date=last, days=2 * every)
        if step is Step.OVERDUE
        else ngettext(
            "It was last checked on {date}; a check is due every {days} day.",
            "It was last checked on {date}; a check is due every {days} days.",
            every,
        ).format(date=last, days=every)
    )
    return Reminder(step, title, body)


def next_step_time(devices: Iterable[Device], now: float) -> float | None:
    """When the next device reaches its next step (to wake up then, and only then)."""
    times = [
        moment
        for device in devices
        if device.check_due_time and device.last_check_result == Outcome.PASSED
        for moment in (
            device.check_due_time - SOON,
            device.check_due_time,
            device.check_overdue_time,
        )
        if moment > now
    ]
    return min(times, default=None)
