"""The reminder ladder's steps and words, by the clock: due soon 14 days before, due, overdue
at twice the interval; a Trezor in a drawer is asked to be plugged in; one wake-up at the next
step, none without a passed check."""

from __future__ import annotations

import time

from trezor_backup_applet.device_mirror import Device
from trezor_backup_applet.notifications import REMINDER_SENTENCES
from trezor_backup_applet.reminders import DAY, Step, next_step_time, reminder_of, step_of

CHECKED = 1_700_000_000
DUE = CHECKED + 180 * DAY
OVERDUE = CHECKED + 360 * DAY


def drawer(connected: bool = False, result: str = "passed") -> Device:
    return Device(id="D1", label="Drawer", state="verified", connected=connected,
                  last_check_time=CHECKED, last_check_result=result,
                  check_due_time=DUE, check_overdue_time=OVERDUE)  # fmt: skip


def test_steps_follow_the_clock() -> None:
    device = drawer()
    assert step_of(device, DUE - 15 * DAY) is None
    assert step_of(device, DUE - 14 * DAY) is Step.DUE_SOON
    assert step_of(device, DUE) is Step.DUE
    assert step_of(device, OVERDUE) is Step.OVERDUE
    assert step_of(drawer(result="mismatch"), OVERDUE) is None  # a failure is no reminder
    assert step_of(Device(id="D2"), OVERDUE) is None


def test_words_say_where_the_trezor_is_and_what_to_do() -> None:
    soon = reminder_of(drawer(), DUE - DAY)
    assert soon is not None and soon.title == "Check the backup of Drawer soon"
    assert "plug it in then" in soon.body
    due = reminder_of(drawer(), DUE)
    assert due is not None and due.title == "Plug in Drawer to check its backup"
    plugged = reminder_of(drawer(connected=True), DUE)
    assert plugged is not None and plugged.title == "Time to check the backup of Drawer"
    overdue = reminder_of(drawer(), OVERDUE)
    assert overdue is not None and "more than 360 days ago" in overdue.body
    assert due.key(drawer()) != overdue.key(drawer())


def test_one_wake_up_at_the_next_step() -> None:
    assert next_step_time([drawer()], CHECKED) == DUE - 14 * DAY
    assert next_step_time([drawer()], DUE) == OVERDUE
    assert next_step_time([drawer()], OVERDUE) is None
    assert next_step_time([drawer(result="mismatch")], CHECKED) is None


def test_each_reminder_is_one_sentence_with_the_desktops_date_and_no_address() -> None:
    for device, now in ((drawer(), DUE - DAY), (drawer(), DUE), (drawer(), OVERDUE)):
        reminder = reminder_of(device, now)
        assert reminder is not None
        assert reminder.body.count(". ") == 0 and reminder.body.endswith("."), reminder.body
        assert "http" not in reminder.body
    due = reminder_of(drawer(), DUE)
    # The tests' C locale writes dates in ISO 8601 (i18n.date_format).
    checked = time.strftime("%Y-%m-%d", time.localtime(CHECKED))
    assert due is not None and f"on {checked};" in due.body
    for state, sentence in REMINDER_SENTENCES.items():
        assert sentence.count(". ") == 0 and sentence.endswith(".") and "http" not in sentence, (
            state
        )
