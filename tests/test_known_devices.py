"""Remembered devices on the bus: Manager1.GetKnownDevices and ForgetDevice, with the daemon as
a subprocess, simulated Trezors and its real history file.

Proves: a Trezor read once is listed after it is gone (under a daemon restarted without it),
with its label, when it was last seen, its last check and the dates its next check is due and
overdue; a connected one cannot be forgotten; forgetting an unplugged one removes its record
and its history; nothing listed comes from the seed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from trezor_backup_api.vocabulary import OperationKind
from trezor_backupd.store.history import HistoryStore

import seed_safety
from conftest import DaemonFactory
from harness import BUS_NAME, MANAGER, ROOT_PATH, BusctlError, busctl, get_devices, running
from sim_helpers import start_simulator

DRAWER = "D0000000000000000000000A"
DESK = "D0000000000000000000000B"
INTERVAL = timedelta(days=180)  # the default re-check interval


def known_devices() -> dict[str, dict[str, Any]]:
    reply = busctl("call", BUS_NAME, ROOT_PATH, MANAGER, "GetKnownDevices")
    listed = [{k: v["data"] for k, v in device.items()} for device in reply["data"][0]]
    return {device["Id"]: device for device in listed}


def forget(device_id: str) -> None:
    busctl("call", BUS_NAME, ROOT_PATH, MANAGER, "ForgetDevice", "s", device_id)


def test_a_trezor_read_once_is_remembered_until_forgotten(make_daemon: DaemonFactory) -> None:
    with start_simulator("one", "backed_up", device_id=DRAWER, label="Drawer") as drawer:
        daemon = make_daemon(drawer.path)
        with running(daemon):
            assert [d["Id"] for d in get_devices()] == [DRAWER]
            [first] = known_devices().values()
            assert first["Connected"] and first["Label"] == "Drawer" and first["Model"] == "One"
            assert first["CheckDueTime"] == 0  # never checked here: nothing is due
    checked = datetime.now(UTC).replace(microsecond=0) - timedelta(days=3)
    history = HistoryStore(daemon.state_dir)
    history.record(DRAWER, OperationKind.CHECK, "passed", checked)
    history.close()
    with start_simulator("t", "backed_up", device_id=DESK, label="Desk") as desk:
        daemon.emulators = [desk.path]
        with running(daemon):
            assert [d["Id"] for d in get_devices()] == [DESK]
            known = known_devices()
            assert set(known) == {DRAWER, DESK}
            away = known[DRAWER]
            assert not away["Connected"] and known[DESK]["Connected"]
            assert away["Label"] == "Drawer" and away["LastSeen"] >= first["LastSeen"]
            assert (away["LastCheckTime"], away["LastCheckResult"]) == (
                int(checked.timestamp()), "passed"
            )  # fmt: skip
            assert away["CheckDueTime"] == int((checked + INTERVAL).timestamp())
            assert away["CheckOverdueTime"] == int((checked + 2 * INTERVAL).timestamp())
            with pytest.raises(BusctlError, match="unplug it first"):
                forget(DESK)
            forget(DRAWER)
            assert set(known_devices()) == {DESK}
            history_reply = busctl("call", BUS_NAME, ROOT_PATH, MANAGER, "GetHistory", "s", DRAWER)
            assert history_reply["data"][0] == []
            with pytest.raises(BusctlError, match="is remembered"):
                forget(DRAWER)
    seed_safety.assert_no_secret(daemon.log())
