"""config.toml edited while the daemon runs: a saved change applies without a restart, a wrong
one is refused where the owner looks (the log, the bus, doctor) and the settings in force stay.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from trezor_backup_api.names import BUS_NAME, ROOT_PATH
from trezor_backup_api.names import MANAGER_INTERFACE as MANAGER

from conftest import DaemonFactory
from harness import (
    DEVICE_ID,
    EVENT_TIMEOUT,
    BusMonitor,
    Daemon,
    SignalMonitor,
    busctl,
    device_path,
    get_devices,
    running,
)
from sim_helpers import start_simulator

MANAGER_CHANGES = (
    f"type='signal',path='{ROOT_PATH}',interface='org.freedesktop.DBus.Properties',"
    "member='PropertiesChanged'"
)


def save(path: Path, text: str) -> None:
    """Save the file the way editors do: a new file renamed over the old one."""
    new = path.with_name(path.name + ".new")
    new.write_text(text)
    new.replace(path)


def doctor(daemon: Daemon) -> str:
    """`trezor-backupctl doctor` of the daemon's user, who has its config file."""
    env = os.environ | {"XDG_CONFIG_HOME": str(daemon.config_dir.parent)}
    return subprocess.run(
        [sys.executable, "-m", "trezor_backupctl", "doctor"],
        capture_output=True, text=True, timeout=EVENT_TIMEOUT, env=env,
    ).stdout  # fmt: skip


def test_an_edited_config_applies_at_once_and_a_wrong_edit_is_refused_visibly(
    make_daemon: DaemonFactory,
) -> None:
    with start_simulator("one", "backed_up", device_id=DEVICE_ID) as sim:
        daemon = make_daemon()  # watches no emulator
        config = daemon.config_dir / "config.toml"
        with running(daemon):
            assert get_devices() == []
            with SignalMonitor() as signals:
                save(config, f'emulators = ["{sim.path}"]\nemulator_poll_seconds = 3600\n')
                signals.wait_signal("DeviceAdded", device_path())
            applied = doctor(daemon)
            with BusMonitor(MANAGER_CHANGES) as changes:
                save(config, f'emulators = ["{sim.path}"]\nrecheck_intervall_days = 30\n')
                changes.wait_for(lambda line: "ConfigProblem" in line)
            problem = busctl("get-property", BUS_NAME, ROOT_PATH, MANAGER, "ConfigProblem")
            refused = doctor(daemon)
            # The settings in force stay: the emulator is still watched.
            assert [d["Id"] for d in get_devices()] == [DEVICE_ID]
    assert f"OK   config in use: the running daemon applies {config} as it is now" in applied, (
        applied
    )
    expected = (
        f"{config}, line 2: recheck_intervall_days is not a setting "
        "(did you mean recheck_interval_days?)"
    )
    assert problem == {"type": "s", "data": expected}
    assert (
        "FAIL config in use: the running daemon refused the file as it is now and keeps its "
        f"earlier settings: {expected}"
    ) in refused
    assert expected in daemon.log()
