"""The applet as the owner meets it: a real process in a tray (trayer) with a real notification
server (dunst), the daemon as a subprocess and a simulated Trezor.

Proves: the icon is embedded and its pixels follow the state; plugging a device that needs a
backup raises the notification with the right text and buttons, read back from the server; a
button of the notification starts the operation on the daemon; the applet starts before the
daemon and survives its restart (its agent is registered again).

Screenshots (the README's) go where $TREZOR_BACKUP_SCREENSHOTS says, default a temporary
directory: `TREZOR_BACKUP_SCREENSHOTS=docs/screenshots make test` refreshes the tracked ones.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from PIL import Image
from test_ctl_operations import CtlSession

from trezor_backup_applet.icons import _COLOURS, Look

from conftest import DaemonFactory
from desktop_fixtures import SCREEN, TRAY_HEIGHT, Desktop
from harness import (
    DEVICE,
    EVENT_TIMEOUT,
    NOTIFY_CALLS,
    ROOT_PATH,
    BusMonitor,
    Daemon,
    LineReader,
    busctl,
    running,
)
from sim_helpers import start_simulator

DEVICE_ID = "A1B2C3D4E5F60718293A4B5C"
DEVICE_PATH = f"{ROOT_PATH}/devices/{DEVICE_ID}"


def tray_look(image: Image.Image) -> Look | None:
    """Which of the icon's looks the tray shows, by the colour most of its pixels have."""
    counts = dict.fromkeys(Look, 0)
    data = image.convert("RGB").tobytes()
    for r, g, b in zip(data[0::3], data[1::3], data[2::3], strict=True):
        for look, (lr, lg, lb) in _COLOURS.items():
            if abs(r - lr) + abs(g - lg) + abs(b - lb) < 60:
                counts[look] += 1
    look, count = max(counts.items(), key=lambda item: item[1])
    return look if count >= 20 else None


def icon_crop(image: Image.Image) -> Image.Image:
    """The icon itself, cut out of the tray strip (the right end, where trayer puts it)."""
    return image.crop((image.width - 40, 0, image.width, image.height))


class AppletProcess:
    """trezor-backup-applet as the session would start it (with --autostart)."""

    def __init__(
        self,
        daemon: Daemon,
        desk: Desktop,
        bus: str | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        env = desk.env() | {
            "XDG_STATE_HOME": str(daemon.home / "state"),
            "XDG_CONFIG_HOME": str(daemon.home / "config"),
            **(env or {}),
        }
        if bus is not None:
            env["DBUS_SESSION_BUS_ADDRESS"] = bus
        self.process = subprocess.Popen(
            [sys.executable, "-m", "trezor_backup_applet", "--autostart", "--log-level", "debug"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        self.log = LineReader(self.process)

    def stop(self) -> None:
        self.process.terminate()
        assert self.process.wait(timeout=20) == 0, "\n".join(self.log.seen)


@contextmanager
def applet(
    daemon: Daemon, desk: Desktop, bus: str | None = None, env: dict[str, str] | None = None
) -> Iterator[AppletProcess]:
    """The applet for the block; `env` adds to its environment (a language, say)."""
    process = AppletProcess(daemon, desk, bus, env)
    try:
        yield process
    finally:
        process.stop()


class SignalWatch(BusMonitor):
    """The device's signals, to wait for an operation's steps."""

    def __init__(self) -> None:
        super().__init__(f"type='signal',path='{DEVICE_PATH}'")

    def wait(self, member: str, argument: str) -> None:
        self.wait_for(lambda line: f"member={member}" in line)
        self.wait_for(lambda line: f'string "{argument}"' in line)


@dataclass
class Notified:
    """One Notify call as the notification server received it."""

    icon: str
    summary: str
    urgency: int


class NotifyCalls(BusMonitor):
    """The Notify calls the server receives: icon and urgency of each."""

    def __init__(self) -> None:
        super().__init__(NOTIFY_CALLS)

    def next(self) -> Notified:
        self.wait_for(lambda line: "member=Notify" in line)
        strings = [self.wait_for(lambda line: line.strip().startswith(("string", "uint32")))
                   for _ in range(4)]  # fmt: skip
        icon, summary = (line.strip().split(" ", 1)[1].strip('"') for line in strings[2:])
        self.wait_for(lambda line: 'string "urgency"' in line)
        urgency = self.wait_for(lambda line: "variant" in line).split()[-1]
        return Notified(icon, summary, int(urgency))


def operation() -> str:
    return str(busctl("get-property", "io.github.TrezorBackupGuard", DEVICE_PATH, DEVICE,
                      "Operation")["data"])  # fmt: skip


def test_plugging_a_device_without_backup_raises_a_notification_and_turns_the_icon_to_danger(
    make_daemon: DaemonFactory, desktop: Desktop, screenshots: Path
) -> None:
    mark = len(desktop.history())
    with start_simulator("one", "backup_required", device_id=DEVICE_ID, label="My Trezor") as sim,\
            NotifyCalls() as calls:  # fmt: skip
        daemon = make_daemon(sim.path)
        # The applet comes first, as at login: no daemon yet, so the icon vouches for nothing.
        with applet(daemon, desktop) as app:
            offline = desktop.wait_tray(lambda i: tray_look(i) is Look.OFFLINE, "offline")
            icon_crop(offline).save(screenshots / "tray-offline.png")
            with running(daemon):
                danger = desktop.wait_tray(lambda i: tray_look(i) is Look.DANGER, "danger")
                icon_crop(danger).save(screenshots / "tray-danger.png")
                desktop.wait_displayed()
                desktop.screenshot().crop((440, 0, 800, 220)).save(
                    screenshots / "notification-backup-required.png"
                )
                menu = desktop.choose_action("Later")
                app.log.wait_for(lambda line: "snoozed for a day" in line)
                [shown] = desktop.new_history(mark)
                assert shown["summary"] == "My Trezor has no backup"
                assert "never been backed up" in shown["body"]
                assert shown["appname"] == "Trezor Backup Guard"
                # No backup is danger: the danger icon and critical urgency, as the tray shows it.
                sent = calls.next()
                assert (sent.summary, sent.urgency) == ("My Trezor has no backup", 2)
                assert sent.icon.startswith("file://") and sent.icon.endswith("/danger.png")
                # No backup is danger: the danger icon, critical urgency, as the tray shows it.
                labels = [line.split(" (", 1)[0].lstrip("#") for line in menu]
                assert [label for label in labels if label] == ["Create backup", "Later"]
            # A daemon restart is not a plug-in: no second notification, still danger.
            assert "applet.json" in {p.name for p in daemon.state_dir.iterdir()}
            with running(daemon):
                desktop.wait_tray(lambda i: tray_look(i) is Look.DANGER, "danger again")
            assert len(desktop.new_history(mark)) == 1


NOTIFICATION_CALLS = "type='method_call',interface='org.freedesktop.Notifications'"
"""Every call the notification server receives: Notify and CloseNotification."""


def test_a_backup_made_withdraws_no_backup_and_a_restart_repeats_nothing(
    make_daemon: DaemonFactory, desktop: Desktop
) -> None:
    """One notification per Trezor, always current: "has no backup" is a title and one
    sentence with no address; once the backup is made (here from the command line) it is
    closed on the server, the backup's end in its place. Daemon and applet restarted with
    nothing changed: nothing is shown."""
    mark = len(desktop.history())
    with start_simulator("one", "backup_required", device_id=DEVICE_ID,
                         label="My Model One") as sim:  # fmt: skip
        daemon = make_daemon(sim.path)
        with BusMonitor(NOTIFICATION_CALLS) as calls:
            with running(daemon), applet(daemon, desktop):
                calls.wait_for(lambda line: 'string "My Model One has no backup"' in line)
                desktop.wait_displayed()
                cli = CtlSession(sim, "backup", "--yes", press_buttons=True)
                assert cli.run("") == 0
                calls.wait_for(lambda line: "member=CloseNotification" in line)
                calls.wait_for(lambda line: 'string "Backup created"' in line)
                shown = desktop.new_history(mark)
            seen = calls.reader.seen
        # Withdrawn before the backup's end was sent: never two of one Trezor on screen.
        closed = next(i for i, line in enumerate(seen) if "member=CloseNotification" in line)
        created = next(i for i, line in enumerate(seen) if '"Backup created"' in line)
        assert closed < created
        assert [n["summary"] for n in shown] == ["Backup created", "My Model One has no backup"]
        body = shown[1]["body"]
        assert body.count(". ") == 0 and body.endswith(".") and "http" not in body, body
        # The same Trezor, the same state: a restart of both shows nothing.
        mark = len(desktop.history())
        with BusMonitor(NOTIFICATION_CALLS) as calls:
            with running(daemon), applet(daemon, desktop) as app:
                app.log.wait_for(lambda line: f"nothing new to tell of {DEVICE_ID}" in line)
                assert desktop.new_history(mark) == []
            assert not any("member=Notify" in line for line in calls.reader.seen)


def test_check_now_starts_the_check_and_its_end_is_notified(
    make_daemon: DaemonFactory, desktop: Desktop, screenshots: Path
) -> None:
    mark = len(desktop.history())
    with start_simulator("one", "backed_up", device_id=DEVICE_ID, label="My Trezor") as sim:
        daemon = make_daemon(sim.path)
        with running(daemon):
            with applet(daemon, desktop) as app:
                desktop.wait_tray(lambda i: tray_look(i) is Look.ATTENTION, "attention")
                icon_crop(desktop.tray_area()).save(screenshots / "tray-attention.png")
                # A click on the icon opens the window; Escape closes it again.
                subprocess.run(["xdotool", "mousemove", str(SCREEN[0] - 16), "16", "click", "1"],
                               check=True)  # fmt: skip
                window = subprocess.run(
                    ["xdotool", "search", "--sync", "--onlyvisible", "--name",
                     "^Trezor Backup Guard$"],
                    capture_output=True, text=True, check=True, timeout=EVENT_TIMEOUT,
                ).stdout.split()[0]  # fmt: skip
                subprocess.run(["xdotool", "windowfocus", "--sync", window], check=True)
                subprocess.run(["xdotool", "key", "Escape"], check=True)
                # The daemon restarts: the applet registers its agent with the new one.
                assert daemon.stop() == 0
                app.log.wait_for(lambda line: "the daemon left the bus" in line)
                daemon.start()
                app.log.wait_for(lambda line: "registered as the daemon's agent" in line)
                signals = SignalWatch()
                try:
                    menu = desktop.choose_action("Check now")
                    assert any(line.startswith("#Check now") for line in menu), menu
                    # The Model One asks the computer how many words: the dialog is up.
                    signals.wait("PropertiesChanged", "check")
                    assert operation() == "check"
                    busy = desktop.wait_tray(lambda i: tray_look(i) is Look.BUSY, "busy")
                    icon_crop(busy).save(screenshots / "tray-busy.png")
                    busctl("call", "io.github.TrezorBackupGuard", DEVICE_PATH, DEVICE, "Cancel")
                    signals.wait("OperationFinished", "cancelled")
                finally:
                    signals.stop()
                desktop.wait_tray(lambda i: tray_look(i) is Look.ATTENTION, "attention again")
                summaries = [n["summary"] for n in desktop.new_history(mark)]
                assert "Backup check cancelled" in summaries
                assert "Check the backup of My Trezor" in summaries


def test_a_failed_backup_is_notified_with_critical_urgency(
    make_daemon: DaemonFactory, desktop: Desktop
) -> None:
    mark = len(desktop.history())
    with NotifyCalls() as calls:
        with start_simulator("one", "backup_failed", device_id=DEVICE_ID) as sim:
            daemon = make_daemon(sim.path)
            with running(daemon), applet(daemon, desktop):
                calls.wait_for(lambda line: "member=Notify" in line)
                calls.wait_for(lambda line: 'string "urgency"' in line)
                urgency = calls.wait_for(lambda line: "variant" in line)
                assert urgency.split()[-2:] == ["byte", "2"]  # critical
                desktop.wait_displayed()
                desktop.choose_action("Later")
                [shown] = desktop.new_history(mark)
                assert "backup" in shown["summary"].lower()


ACTIVATING_BUS = """<busconfig>
  <type>session</type>
  <listen>unix:dir={dir}</listen>
  <auth>EXTERNAL</auth>
  <servicedir>{dir}/services</servicedir>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""
ACTIVATION = """[D-BUS Service]
Name=io.github.TrezorBackupGuard
Exec={script}
"""


@contextmanager
def activating_bus(daemon: Daemon, work: Path) -> Iterator[str]:
    """A session bus of its own that starts trezor-backupd on demand (D-Bus activation), as an
    installed daemon is started; the daemon it started is stopped at the end."""
    (work / "services").mkdir(parents=True)
    script = work / "trezor-backupd.sh"
    script.write_text(
        f"#!/bin/sh\nexport XDG_STATE_HOME={daemon.home / 'state'} "
        f"XDG_CONFIG_HOME={daemon.home / 'config'}\n"
        f"exec {sys.executable} -m trezor_backupd --log-level debug >>{daemon.log_path} 2>&1\n"
    )
    script.chmod(0o755)
    (work / "services" / "io.github.TrezorBackupGuard.service").write_text(
        ACTIVATION.format(script=script)
    )
    (work / "bus.conf").write_text(ACTIVATING_BUS.format(dir=work))
    address, pid = subprocess.run(
        ["dbus-daemon", f"--config-file={work / 'bus.conf'}", "--print-address=1",
         "--print-pid=1", "--fork"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    try:
        yield address
    finally:
        running_daemon = bus_owner_pid(address)
        if running_daemon:
            stop_pid(running_daemon)
        os.kill(int(pid), signal.SIGTERM)


def bus_owner_pid(address: str) -> int:
    """The process that owns the daemon's name on this bus; 0 when none does."""
    owner = subprocess.run(
        ["gdbus", "call", "--address", address, "--dest", "org.freedesktop.DBus",
         "--object-path", "/org/freedesktop/DBus", "--method",
         "org.freedesktop.DBus.GetConnectionUnixProcessID", "io.github.TrezorBackupGuard"],
        capture_output=True, text=True,
    )  # fmt: skip
    return int(owner.stdout.strip("()\n,").split()[-1]) if owner.returncode == 0 else 0


def stop_pid(pid: int) -> None:
    """SIGTERM a process that is not our child and wait for its end (its pidfd's event)."""
    pidfd = os.pidfd_open(pid)
    try:
        os.kill(pid, signal.SIGTERM)
        ready, _, _ = select.select([pidfd], [], [], 20)
        assert ready, f"process {pid} did not stop"
    finally:
        os.close(pidfd)


def wait_menu(desktop: Desktop) -> Image.Image:
    """The tray menu, once drawn below the tray (a popup has no name to wait for)."""
    deadline = time.monotonic() + EVENT_TIMEOUT
    while True:
        below = desktop.screenshot().crop((SCREEN[0] - 300, TRAY_HEIGHT, SCREEN[0], 160))
        drawn = below.convert("L").point(lambda v: 255 if v > 200 else 0).getbbox()
        if drawn is not None:  # the menu's light background
            return below.crop(drawn)
        assert time.monotonic() < deadline, "no menu opened"
        time.sleep(0.05)


def test_with_the_daemon_away_the_tray_says_so_and_starts_it(
    make_daemon: DaemonFactory, desktop: Desktop, screenshots: Path, tmp_path: Path
) -> None:
    """The applet starts an installed daemon (D-Bus activation); stopped by the owner, the
    daemon stays away and the icon takes its offline look, and the tray menu says so and
    offers "Start the service", which starts it again: the icon turns calm. No notification
    server on this bus: the applet goes on without one."""
    daemon = make_daemon()
    with activating_bus(daemon, tmp_path / "bus") as address:
        with applet(daemon, desktop, address) as app:
            app.log.wait_for(lambda line: "registered as the daemon's agent" in line)
            calm = desktop.wait_tray(lambda i: tray_look(i) is Look.OK, "the calm icon")
            icon_crop(calm).save(screenshots / "tray-ok.png")
            stop_pid(bus_owner_pid(address))
            app.log.wait_for(lambda line: "the daemon left the bus" in line)
            offline = desktop.wait_tray(lambda i: tray_look(i) is Look.OFFLINE, "offline")
            assert tray_look(icon_crop(offline)) is Look.OFFLINE
            subprocess.run(["xdotool", "mousemove", str(SCREEN[0] - 16), "16", "click", "3"],
                           check=True)  # fmt: skip
            menu = wait_menu(desktop)
            menu.save(screenshots / "tray-menu-offline.png")
            # The menu: Open Trezor Backup Guard, the service is not running, Start the service.
            subprocess.run(["xdotool", "key", "Down", "Down", "Down", "Return"], check=True)
            app.log.wait_for(lambda line: "registered as the daemon's agent" in line)
            desktop.wait_tray(lambda i: tray_look(i) is Look.OK, "the calm icon again")
