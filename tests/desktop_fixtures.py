"""A desktop for the applet's tests: Xvfb, a tray host (trayer) and a notification server (dunst)
on the tests' private session bus, plus ways to look at them as the owner would (screenshots of
the tray, the server's notification history and its action menu), and where to save
screenshots.

Waits are on events: Xvfb's -displayfd, the tray selection owner, the bus name of the
notification server. The tray is polled only where X offers no event to wait for (a pixel
change), always with a deadline.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageGrab
from Xlib import display as xdisplay

from harness import EVENT_TIMEOUT, SessionBus

SCREENSHOTS_ENV = "TREZOR_BACKUP_SCREENSHOTS"
SCREEN = (800, 600)
TRAY_HEIGHT = 32
# The script dunst runs as its "dmenu" for a notification's action menu: it records the menu
# the server offers and picks the line named in the CHOICE file next to it.
DMENU = """#!/bin/sh
cat > "{dir}/menu.tmp"
grep -m1 -F "$(cat "{dir}/choice.txt")" "{dir}/menu.tmp"
mv "{dir}/menu.tmp" "{dir}/menu.txt"
"""
DUNSTRC = """[global]
    dmenu = {dir}/dmenu.sh
    font = DejaVu Sans 9
    width = 340
    offset = 10x50
    # new_history() counts from a mark: the history must not drop its oldest entries.
    history_length = 1000
"""


@dataclass
class Desktop:
    """The running desktop: its DISPLAY and the helpers tests use on it."""

    display: str
    work: Path

    def env(self) -> dict[str, str]:
        """Environment for a desktop client."""
        return os.environ | {"DISPLAY": self.display}

    def screenshot(self) -> Image.Image:
        """The whole screen."""
        return ImageGrab.grab(xdisplay=self.display).convert("RGB")

    def tray_area(self) -> Image.Image:
        """The panel strip trayer draws at the top of the screen."""
        return self.screenshot().crop((0, 0, SCREEN[0], TRAY_HEIGHT))

    def wait_tray(self, predicate: Callable[[Image.Image], bool], what: str) -> Image.Image:
        """Screenshots of the tray until `predicate` holds (X has no event for "pixels drawn")."""
        deadline = time.monotonic() + EVENT_TIMEOUT
        while True:
            image = self.tray_area()
            if predicate(image):
                return image
            if time.monotonic() > deadline:
                image.save(self.work / "tray-timeout.png")
                raise AssertionError(f"the tray never showed {what}")
            time.sleep(0.05)

    def history(self) -> list[dict[str, Any]]:
        """Every notification dunst has shown, newest first (closing them all first)."""
        subprocess.run(["dunstctl", "close-all"], check=True)
        out = subprocess.run(["dunstctl", "history"], capture_output=True, text=True, check=True)
        return [
            {key: value["data"] for key, value in entry.items()}
            for entry in json.loads(out.stdout)["data"][0]
        ]

    def new_history(self, mark: int) -> list[dict[str, Any]]:
        """The notifications shown since `history()` had `mark` entries, newest first
        (dunst 1.9 cannot clear its history)."""
        shown = self.history()
        return shown[: len(shown) - mark]

    def wait_displayed(self, count: int = 1) -> None:
        """Until dunst shows `count` notifications (it signals nothing we could wait on)."""
        deadline = time.monotonic() + EVENT_TIMEOUT
        while True:
            out = subprocess.run(["dunstctl", "count", "displayed"], capture_output=True,
                                 text=True, check=True).stdout  # fmt: skip
            if int(out.strip() or 0) >= count:
                return
            assert time.monotonic() < deadline, f"dunst never showed {count} notification(s)"
            time.sleep(0.02)

    def choose_action(self, label: str) -> list[str]:
        """Open dunst's action menu on the notification shown and pick `label`; returns the
        menu lines the server offered (one per button: "#Label (summary) [id,key]")."""
        self.wait_displayed()
        (self.work / "choice.txt").write_text(label)
        menu = self.work / "menu.txt"
        menu.unlink(missing_ok=True)
        subprocess.run(["dunstctl", "context"], check=True)
        deadline = time.monotonic() + EVENT_TIMEOUT
        while not menu.exists():
            assert time.monotonic() < deadline, "dunst opened no action menu"
            time.sleep(0.02)
        return menu.read_text().splitlines()


def _wait_tray_owner(display: str) -> None:
    """Until a tray host owns _NET_SYSTEM_TRAY_S0 (trayer's sign that it can embed icons)."""
    connection = xdisplay.Display(display)
    try:
        selection = connection.intern_atom("_NET_SYSTEM_TRAY_S0")
        deadline = time.monotonic() + EVENT_TIMEOUT
        while connection.get_selection_owner(selection) == 0:
            assert time.monotonic() < deadline, "trayer did not take the tray selection"
            time.sleep(0.02)
    finally:
        connection.close()


def _stop(process: subprocess.Popen[Any]) -> None:
    process.terminate()
    process.wait(timeout=EVENT_TIMEOUT)


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the applet tests save their screenshots: the directory named by
    $TREZOR_BACKUP_SCREENSHOTS (`TREZOR_BACKUP_SCREENSHOTS=docs/screenshots make test` refreshes
    the README's), else a temporary one, so a plain test run leaves the tracked files alone."""
    chosen = os.environ.get(SCREENSHOTS_ENV)
    path = Path(chosen).resolve() if chosen else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def desktop(session_bus: SessionBus, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desktop]:
    """Xvfb + trayer + dunst for the whole session; DISPLAY is exported to the tests."""
    work = tmp_path_factory.mktemp("desktop")
    read_fd, write_fd = os.pipe()
    xvfb = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", f"{SCREEN[0]}x{SCREEN[1]}x24",
         "-nolisten", "tcp"],
        pass_fds=(write_fd,), stderr=subprocess.DEVNULL,
    )  # fmt: skip
    os.close(write_fd)
    with os.fdopen(read_fd) as numbers:
        display = f":{numbers.readline().strip()}"
    previous = os.environ.get("DISPLAY")
    os.environ["DISPLAY"] = display
    # GTK's bridge to the accessibility bus would activate an at-spi-bus-launcher on the tests'
    # bus that outlives it; the tests read accessible names from GTK (ATK) itself.
    no_bridge = os.environ.get("NO_AT_BRIDGE")
    os.environ["NO_AT_BRIDGE"] = "1"
    desk = Desktop(display, work)
    trayer = subprocess.Popen(
        ["trayer", "--edge", "top", "--align", "right", "--widthtype", "request",
         "--height", str(TRAY_HEIGHT), "--SetDockType", "true"],
        env=desk.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    (work / "dmenu.sh").write_text(DMENU.format(dir=work))
    (work / "dmenu.sh").chmod(0o755)
    (work / "dunstrc").write_text(DUNSTRC.format(dir=work))
    dunst = subprocess.Popen(
        ["dunst", "-config", str(work / "dunstrc")],
        env=desk.env(), stdout=(work / "dunst.log").open("w"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        _wait_tray_owner(display)
        subprocess.run(["gdbus", "wait", "--session", "--timeout", str(int(EVENT_TIMEOUT)),
                        "org.freedesktop.Notifications"], check=True)  # fmt: skip
        yield desk
    finally:
        for process in (dunst, trayer, xvfb):
            _stop(process)
        if previous is None:
            os.environ.pop("DISPLAY", None)
        else:
            os.environ["DISPLAY"] = previous
        if no_bridge is None:
            os.environ.pop("NO_AT_BRIDGE", None)
        else:
            os.environ["NO_AT_BRIDGE"] = no_bridge
