"""The one rule for which actions fit a device (trezor_backup_api.actions), and every view that
asks it: change the rule once, and the daemon's refusals, the tray menu, the window's buttons,
the notifications' buttons and the CLI's choices all follow."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest

from trezor_backup_api import actions
from trezor_backup_api.actions import Action, allowed_actions
from trezor_backup_api.client import DaemonClient
from trezor_backup_api.device import DeviceRecord
from trezor_backup_api.names import device_path
from trezor_backup_api.vocabulary import BackupState, OperationKind, Refusal
from trezor_backup_applet.device_mirror import Device
from trezor_backup_applet.main_window import row_of
from trezor_backup_applet.notifications import Notifier
from trezor_backup_applet.snooze import SnoozeStore
from trezor_backup_applet.tray import MenuEntry, menu_entries
from trezor_backupctl.conventions import EXIT_CANCELLED
from trezor_backupctl.operation_commands import run_backup
from trezor_backupctl.terminal_input import TerminalLines
from trezor_backupd.device.operations import _require_allowed
from trezor_backupd.device_values import DeviceStatus, OperationRefused

S = BackupState
A = Action


@pytest.mark.parametrize(
    ("device", "connected", "expected"),
    [
        (Device(id="D", state=S.UNVERIFIED), True, {A.CHECK}),
        (Device(id="D", state=S.CHECK_FAILED), True, {A.CHECK, A.WHAT_TO_DO}),
        (Device(id="D", state=S.BACKUP_FAILED), True, {A.WHAT_TO_DO}),
        (Device(id="D", state=S.BACKUP_REQUIRED), True, {A.BACKUP}),
        (Device(id="D", state=S.EXTRA_BACKUP_UNLOCKED), True, {A.BACKUP}),
        (Device(id="D", state=S.LOCKED, locked=True), True, {A.UNLOCK}),
        (Device(id="D", state=S.UNVERIFIED, locked=True), True, {A.CHECK, A.UNLOCK}),
        (Device(id="at_udp_1", state=S.PAIRING_REQUIRED, model="Safe 7"), True, {A.PAIR}),
        (Device(id="P7", state=S.VERIFIED, model="Safe 7"), True, {A.CHECK, A.FORGET_PAIRING}),
        (Device(id="P7", state=S.UNKNOWN, model="Safe 7"), True, set()),
        (Device(id="D", state=S.UNVERIFIED, operation="check"), True, {A.CANCEL}),
        (Device(id="D", state=S.CHECK_FAILED, operation="check"), True, {A.CANCEL, A.WHAT_TO_DO}),
        (Device(id="D", state=S.UNVERIFIED), False, {A.FORGET}),
        (Device(id="D", state=S.CHECK_FAILED), False, {A.FORGET, A.WHAT_TO_DO}),
        (Device(id="D", state=S.BUSY), True, set()),
        (Device(id="D", state="frobnicated"), True, set()),
    ],
)
def test_the_rule(device: Device, connected: bool, expected: set[Action]) -> None:
    assert allowed_actions(device, connected=connected) == expected


class Recorder:
    """Any view's actions: each call is recorded by name."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def __getattr__(self, name: str) -> Callable[..., None]:
        return lambda device_id="": self.calls.append((name, device_id))


def _tray_item(device: Device, text: str) -> MenuEntry | None:
    entries = menu_entries([device], True, cast(Any, Recorder()))
    return next((e for e in entries if e.text.strip() == text), None)


def _notification_buttons(device: Device, tmp_path: Path, ladder: bool = False) -> list[str]:
    notifier = Notifier(cast(Any, Recorder()), SnoozeStore(tmp_path / "applet.json"))
    sent: list[list[str]] = []

    async def send(*args: Any) -> None:
        sent.append([choice[0] for choice in args[4]])

    notifier._send = send  # type: ignore[method-assign,assignment]
    if ladder:
        asyncio.run(notifier.ladder(device, "Check due", "Check it."))
    else:
        asyncio.run(notifier.remind(device))
    [buttons] = sent
    return buttons


def _daemon_refuses(kind: OperationKind, state: BackupState) -> bool:
    status = DeviceStatus(
        state=state,
        explanation_text=(),
        next_step_text=(),
        model="T",
        internal_model="T2T1",
        label="",
        firmware_version="2.8.0",
        backup_type="Bip39",
        dry_run_in_progress=False,
        last_check=None,
    )
    try:
        _require_allowed(kind, "D1", status)
    except OperationRefused as refusal:
        assert refusal.reason is Refusal.NOT_POSSIBLE
        return True
    return False


class WentOn(Exception):
    """The CLI asked the daemon for more than the device list: it did not refuse itself."""


class OneDevice:
    """The part of DaemonClient that a refused `backup` asks: the device list."""

    def __init__(self, record: DeviceRecord) -> None:
        self.record = record

    def __getattr__(self, name: str) -> Any:
        raise WentOn(name)

    async def get_devices(self) -> dict[str, DeviceRecord]:
        return {device_path(self.record.id): self.record}


def _cli_backup(state: BackupState) -> tuple[int | None, str]:
    """`trezor-backupctl backup --yes`: the exit code and error output if the CLI refused it
    itself, (None, "") if it went on to the daemon."""
    client = cast(DaemonClient, OneDevice(DeviceRecord(id="D1", state=state)))
    lines = cast(TerminalLines, None)
    out, err = io.StringIO(), io.StringIO()
    try:
        code = asyncio.run(run_backup(client, None, True, lines, out, err))
    except WentOn:
        return None, ""
    return code, err.getvalue()


def test_changing_the_rule_once_changes_every_view(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    unverified = Device(id="D1", state=S.UNVERIFIED, model="T", label="Mine")
    # As the rule is: every view offers the check of an unverified Trezor.
    item = _tray_item(unverified, "Check backup...")
    assert item is not None and item.enabled
    assert "check" in [name for _, name in row_of(unverified, 0).buttons]
    assert _notification_buttons(unverified, tmp_path / "1")[0] == "check"
    assert _notification_buttons(unverified, tmp_path / "2", ladder=True)[0] == "check"
    assert not _daemon_refuses(OperationKind.CHECK, S.UNVERIFIED)

    # Changed once: no check for an unverified Trezor.
    monkeypatch.setattr(actions, "CHECKABLE", actions.CHECKABLE - {S.UNVERIFIED})
    item = _tray_item(unverified, "Check backup...")
    assert item is not None and not item.enabled
    assert "check" not in [name for _, name in row_of(unverified, 0).buttons]
    assert "check" not in _notification_buttons(unverified, tmp_path / "3")
    assert _notification_buttons(unverified, tmp_path / "4", ladder=True) == ["later"]
    # `trezor-backupctl check` gets the daemon's refusal (NotPossible: exit 3).
    assert _daemon_refuses(OperationKind.CHECK, S.UNVERIFIED)
    assert not _daemon_refuses(OperationKind.CHECK, S.VERIFIED)


def test_the_cli_asks_the_rule_too(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    needs_backup = Device(id="D1", state=S.BACKUP_REQUIRED, model="T")
    assert _cli_backup(S.BACKUP_REQUIRED) == (None, "")
    assert _cli_backup(S.VERIFIED)[0] == EXIT_CANCELLED

    # Changed once: no backup for an extra backup unlocked on the Trezor, nor a first one.
    monkeypatch.setattr(actions, "NEEDS_BACKUP", frozenset())
    code, said = _cli_backup(S.BACKUP_REQUIRED)
    assert code == EXIT_CANCELLED and "needs no backup now" in said
    assert _daemon_refuses(OperationKind.BACKUP, S.BACKUP_REQUIRED)
    item = _tray_item(needs_backup, "Create backup...")
    assert item is not None and not item.enabled
    assert "backup" not in [name for _, name in row_of(needs_backup, 0).buttons]
    assert "backup" not in _notification_buttons(needs_backup, tmp_path)
