"""Problems named where the owner looks: a config the daemon refuses under D-Bus activation,
an activatable notification server that cannot start, no session bus at all, and a plugged-in
Trezor the user cannot open, as `trezor-backupctl` and `doctor` report them. The bus cases run
on a dbus-daemon of their own whose service directory holds only what the case needs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import EVENT_TIMEOUT, UsbTestbed

BUS_NAME = "io.github.TrezorBackupGuard"
BAD_CONFIG = "# my settings\nnotifications = true\nrecheck_interval_days = 0\n"

BUS_CONFIG = """<busconfig>
  <type>session</type>
  <listen>unix:dir={run}</listen>
  <auth>EXTERNAL</auth>
  <servicedir>{services}</servicedir>
  <policy context="default">
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


class ActivatingBus:
    """A session bus that activates the services written into its service directory."""

    def __init__(self, root: Path) -> None:
        self.services = root / "services"
        self.services.mkdir()
        config = root / "bus.conf"
        config.write_text(BUS_CONFIG.format(run=root, services=self.services))
        self.address, pid = subprocess.run(
            ["dbus-daemon", f"--config-file={config}", "--print-address=1", "--print-pid=1",
             "--fork"],
            capture_output=True, text=True, check=True,
        ).stdout.split()  # fmt: skip
        self.pid = int(pid)

    def service(self, name: str, command: str) -> None:
        """Make `name` activatable, running `command`: known to the bus when this returns."""
        (self.services / f"{name}.service").write_text(
            f"[D-BUS Service]\nName={name}\nExec={command}\n"
        )
        # The bus notices a new file by itself, but only some time later: ReloadConfig
        # reads the service directory before it answers.
        self.run({}, "gdbus", "call", "--session", "--dest", "org.freedesktop.DBus",
                 "--object-path", "/org/freedesktop/DBus",
                 "--method", "org.freedesktop.DBus.ReloadConfig").check_returncode()  # fmt: skip

    def run(self, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            args,
            env=os.environ | {"DBUS_SESSION_BUS_ADDRESS": self.address} | env,
            capture_output=True,
            text=True,
            timeout=EVENT_TIMEOUT,
        )


@pytest.fixture
def bus(tmp_path: Path) -> Iterator[ActivatingBus]:
    bus = ActivatingBus(tmp_path)
    yield bus
    os.kill(bus.pid, signal.SIGTERM)


def ctl(bus: ActivatingBus, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return bus.run(env, sys.executable, "-m", "trezor_backupctl", *args)


def test_a_daemon_refusing_its_config_under_activation_is_named(
    bus: ActivatingBus, tmp_path: Path
) -> None:
    config_home = tmp_path / "config"
    config = config_home / "trezor-backup-guard" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(BAD_CONFIG)
    env = {"XDG_CONFIG_HOME": str(config_home), "XDG_STATE_HOME": str(tmp_path / "state")}
    bus.service(
        BUS_NAME, f"/usr/bin/env XDG_CONFIG_HOME={config_home} {sys.executable} -m trezor_backupd"
    )

    # What the bus itself says: the activated daemon exited with EX_CONFIG.
    ping = bus.run(env, "gdbus", "call", "--session", "--dest", BUS_NAME, "--object-path", "/",
                   "--method", "org.freedesktop.DBus.Peer.Ping")  # fmt: skip
    assert "exited with status 78" in ping.stderr, ping.stderr

    status = ctl(bus, env, "status")
    assert status.returncode == 2
    assert status.stderr.startswith(
        "trezor-backupctl: trezor-backupd cannot start because its config file is wrong: "
        f"{config}, line 3: recheck_interval_days must be a whole number of days"
    ), status.stderr
    assert "Is it running?" not in status.stderr

    doctor = ctl(bus, env, "doctor")
    assert doctor.returncode == 1
    lines = doctor.stdout.splitlines()
    assert f"FAIL config: {config}, line 3: recheck_interval_days must be" in doctor.stdout
    assert any(
        line.startswith("FAIL daemon: not running, and D-Bus cannot start it") for line in lines
    ), doctor.stdout


def test_doctor_names_a_config_without_problems(bus: ActivatingBus, tmp_path: Path) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path / "config"), "XDG_STATE_HOME": str(tmp_path / "state")}
    doctor = ctl(bus, env, "doctor")
    assert (
        f"OK   config: no {tmp_path}/config/trezor-backup-guard/config.toml: the defaults apply"
        in doctor.stdout
    )


def test_an_activatable_notification_server_that_cannot_start_is_not_ok(
    bus: ActivatingBus, tmp_path: Path
) -> None:
    bus.service("org.freedesktop.Notifications", "/bin/false")
    doctor = ctl(bus, {"XDG_STATE_HOME": str(tmp_path / "state")}, "doctor")
    notifications = [line for line in doctor.stdout.splitlines() if "notifications:" in line]
    assert len(notifications) == 1, doctor.stdout
    assert notifications[0].startswith(
        "WARN notifications: no org.freedesktop.Notifications server answers ("
    )
    assert "exited with status 1" in notifications[0]


def test_without_a_session_bus_doctor_says_what_it_could_not_check(tmp_path: Path) -> None:
    env = os.environ | {
        "DBUS_SESSION_BUS_ADDRESS": "",
        "XDG_RUNTIME_DIR": "",
        "XDG_STATE_HOME": str(tmp_path / "state"),
    }
    done = subprocess.run(
        [sys.executable, "-m", "trezor_backupctl", "doctor"],
        env=env, capture_output=True, text=True, timeout=EVENT_TIMEOUT,
    )  # fmt: skip
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    lines = done.stdout.splitlines()
    for check in ("daemon", "tray host", "notifications"):
        assert f"WARN {check}: not checked: there is no session bus" in lines, done.stdout
    assert "OK   history: check and backup results are saved" in lines


def test_doctor_checks_each_plugged_trezor_as_the_user(usb: UsbTestbed) -> None:
    """Two Trezors, one whose node the user may open and one that udev left root-only: one
    line each, run as an ordinary user (root may open anything)."""
    usb.plug_with_node(3)
    usb.plug_with_node(4)
    os.chmod(usb.root_dir, 0o755)
    os.chmod(f"{usb.root_dir}/dev/bus/usb/001/004", 0o666)
    os.chmod(f"{usb.root_dir}/dev/bus/usb/001/005", 0o600)
    with tempfile.TemporaryDirectory() as home:
        os.chmod(home, 0o755)
        done = subprocess.run(
            # CAP_DAC_READ_SEARCH: the checkout (and its venv) may sit in a directory only
            # root may enter, as CI's clone does; it reads files, but writes nothing, so the
            # root-only node stays closed to the user.
            ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
             "--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search",
             sys.executable, "-m", "trezor_backupctl", "doctor"],
            env=os.environ | {"UMOCKDEV_DIR": usb.root_dir, "HOME": home,
                              "XDG_CONFIG_HOME": f"{home}/config", "XDG_STATE_HOME": home},
            capture_output=True, text=True, timeout=EVENT_TIMEOUT,
        )  # fmt: skip
    assert "Traceback" not in done.stderr, done.stderr
    access = [line for line in done.stdout.splitlines() if "device access:" in line]
    assert access == [
        "OK   device access: you can open the Trezor at USB 1-3 (/dev/bus/usb/001/004)",
        "FAIL device access: the Trezor at USB 1-4 (/dev/bus/usb/001/005) cannot be opened by "
        "you: the udev rules are missing or were not applied to it. Fix: install the rules (see "
        "above), then unplug and replug the Trezor",
    ]
