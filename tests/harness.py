"""The real parts the end-to-end tests run against: a private session bus, the daemon as a
subprocess, umockdev hotplug, the CLI's `watch` as an event stream, the scripted owner
(owner_agent.py) as a process, and busctl and gdbus calls.

Every wait here is on an event (a line on a pipe, a bus name appearing, a process exiting),
never a fixed sleep.
"""

from __future__ import annotations

import itertools
import json
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol, Self

import seed_safety
from sim_helpers import ABANDON24

BUS_NAME = "io.github.TrezorBackupGuard"
ROOT_PATH = "/io/github/TrezorBackupGuard"
MANAGER = f"{BUS_NAME}.Manager1"
DEVICE = f"{BUS_NAME}.Device1"
AGENT = f"{BUS_NAME}.Agent1"
EVENT_TIMEOUT = 20.0
DEVICE_ID = "0123456789ABCDEF01234567"
"""The id the end-to-end tests give their simulated Trezor."""
OWNER = Path(__file__).with_name("owner_agent.py")
ROGUE = Path(__file__).with_name("rogue_agent_caller.py")


class SessionBus:
    """A private dbus-daemon for one pytest session; its address is exported to children.

    Everything on it is captured for the final seed-safety grep, except the agents'
    replies to the daemon, which carry the owner's answers to the device by design.
    """

    def __init__(self, capture: Path) -> None:
        out = subprocess.run(
            ["dbus-daemon", "--session", "--print-address=1", "--print-pid=1", "--fork"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        self.address, self.pid = out[0], int(out[1])
        self._capture_file = capture.open("w")
        self._monitor = subprocess.Popen(
            ["dbus-monitor", "--address", self.address, "type='signal'", "type='method_call'",
             "type='error'", f"type='method_return',sender='{BUS_NAME}'"],
            stdout=self._capture_file, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        seed_safety.produced("session bus capture", seed_safety.file_text(capture))

    def stop(self) -> None:
        self._monitor.terminate()
        self._monitor.wait()
        self._capture_file.close()
        os.kill(self.pid, signal.SIGTERM)


CUSTOM_BUS_CONFIG = """<busconfig>
  <type>session</type>
  <listen>{listen}</listen>
  {service_dir}
  <auth>EXTERNAL</auth>
  <policy context="default">
    {users}
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


@contextmanager
def custom_bus(
    config_dir: Path, listen: str, any_user: bool = False, service_dir: Path | None = None
) -> Iterator[str]:
    """A dbus-daemon that activates only what `service_dir` holds (by default nothing),
    optionally admitting every local user; yields its address."""
    config = config_dir / "bus.conf"
    users = '<allow user="*"/>' if any_user else ""
    services = f"<servicedir>{service_dir}</servicedir>" if service_dir else ""
    config.write_text(CUSTOM_BUS_CONFIG.format(listen=listen, users=users, service_dir=services))
    address, pid = subprocess.run(
        ["dbus-daemon", f"--config-file={config}", "--print-address=1", "--print-pid=1",
         "--fork"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    try:
        yield address
    finally:
        os.kill(int(pid), signal.SIGTERM)


class LineReader:
    """Reads a child's stdout lines on a thread so tests can wait for one with a timeout."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        assert process.stdout is not None
        stream = process.stdout

        def pump() -> None:
            for line in stream:
                self.lines.put(line.rstrip("\n"))
            self.lines.put(None)

        threading.Thread(target=pump, daemon=True).start()

    def wait_for(self, predicate: Callable[[str], bool], timeout: float = EVENT_TIMEOUT) -> str:
        """The first new line that satisfies predicate; fails when the stream ends or stalls."""
        while True:
            line = self._next(timeout)
            if line is None:
                raise AssertionError(f"stream ended; seen: {self.seen[-10:]}")
            if predicate(line):
                return line

    def until_end(self, timeout: float = EVENT_TIMEOUT) -> Iterator[str]:
        """Each new line until the child closes its output (a CLI that is done); fails when
        no line comes for `timeout`."""
        while (line := self._next(timeout)) is not None:
            yield line

    def _next(self, timeout: float) -> str | None:
        """The next line (kept in `seen`), None at the end of the stream."""
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no line within {timeout} s; seen: {self.seen[-10:]}") from None
        if line is not None:
            self.seen.append(line)
        return line


class Daemon:
    """trezor-backupd as a real subprocess on the private bus."""

    def __init__(self, home: Path, emulators: list[str], extra_env: dict[str, str]) -> None:
        self.home = home
        self.emulators = emulators
        self.extra_env = extra_env
        self.log_path = home / "daemon.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.wrap: list[str] = []
        """A command the daemon runs under (e.g. unshare for a private mount)."""

    @property
    def state_dir(self) -> Path:
        return self.home / "state" / "trezor-backup-guard"

    @property
    def config_dir(self) -> Path:
        return self.home / "config" / "trezor-backup-guard"

    def start(self) -> None:
        args = [*self.wrap, sys.executable, "-m", "trezor_backupd", "--log-level", "debug"]
        for endpoint in self.emulators:
            args += ["--emulator", endpoint]
        env = os.environ | self.extra_env
        env["XDG_STATE_HOME"] = str(self.home / "state")
        env["XDG_CONFIG_HOME"] = str(self.home / "config")
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(args, env=env, stdout=log, stderr=log)
        seed_safety.produced(f"daemon log {self.log_path}", seed_safety.file_text(self.log_path))
        for name in ("history.sqlite3", "history.sqlite3-wal"):
            seed_safety.produced(f"state file {name}", seed_safety.file_text(self.state_dir / name))
        waited = subprocess.run(
            ["gdbus", "wait", "--session", "--timeout", str(int(EVENT_TIMEOUT)), BUS_NAME],
            capture_output=True,
            text=True,
        )
        if waited.returncode != 0 or self.process.poll() is not None:
            raise AssertionError(f"daemon did not come up: {waited.stderr}\n{self.log()}")

    def stop(self) -> int:
        """SIGTERM and wait; returns the exit code (0 for a clean stop)."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=EVENT_TIMEOUT)
        self.process = None
        return code

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class Watch:
    """`trezor-backupctl watch`: one JSON event per line, as a script would read them."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "trezor_backupctl", "watch"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.reader = LineReader(self.process)

    def next_event(
        self, event: str, where: Callable[[dict[str, Any]], bool] = lambda _: True
    ) -> dict[str, Any]:
        """The next event of this kind that matches; earlier non-matching ones are skipped."""

        def matches(line: str) -> bool:
            data = json.loads(line)
            return bool(data.get("event") == event and where(data))

        return dict(json.loads(self.reader.wait_for(matches)))

    def output(self) -> str:
        return "\n".join(self.reader.seen)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=EVENT_TIMEOUT)


NOTIFY_CALLS = "type='method_call',interface='org.freedesktop.Notifications',member='Notify'"
"""The match rule for the Notify calls a notification server receives."""


class BusMonitor:
    """dbus-monitor on the test bus for one match rule: what it prints, from the moment it
    listens until `stop()` (or the end of a `with` block)."""

    def __init__(self, rule: str) -> None:
        self.process = subprocess.Popen(
            ["dbus-monitor", "--session", rule],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.reader = LineReader(self.process)
        # dbus-monitor prints its own NameAcquired/NameLost once it is listening.
        self.reader.wait_for(lambda line: "member=NameLost" in line)

    def wait_for(self, predicate: Callable[[str], bool]) -> str:
        """The first new line that satisfies predicate."""
        return self.reader.wait_for(predicate)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=EVENT_TIMEOUT)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


class SignalMonitor(BusMonitor):
    """The daemon's Manager1 signals, to see DeviceAdded/DeviceRemoved."""

    def __init__(self) -> None:
        super().__init__(f"type='signal',interface='{MANAGER}'")

    def wait_signal(self, member: str, path: str) -> None:
        self.wait_for(lambda line: f"member={member}" in line)
        self.wait_for(lambda line: f'object path "{path}"' in line)


def add_node_device(
    testbed: Any, port: int, product: str = "53c1", vendor: str = "1209", extra: str = ""
) -> tuple[str, str]:
    """A Trezor usb_device at bus 1 `port` in a umockdev testbed, with a device node that
    processes can open and inotify can watch (`add_device` makes none); (syspath, devnode).
    `extra`: more umockdev lines (attributes, descriptors) for the device."""
    devnum = f"{port + 1:03d}"
    syspath = f"/devices/pci0000:00/0000:00:14.0/usb1/1-{port}"
    devnode = f"/dev/bus/usb/001/{devnum}"
    testbed.add_from_string(
        f"P: {syspath}\n"
        f"N: bus/usb/001/{devnum}\n"
        f"E: DEVNAME={devnode}\n"
        "E: SUBSYSTEM=usb\nE: DEVTYPE=usb_device\n"
        f"E: BUSNUM=001\nE: DEVNUM={devnum}\n"
        f"E: PRODUCT={int(vendor, 16):x}/{int(product, 16):x}/100\n"
        f"A: idVendor={vendor}\nA: idProduct={product}\nA: busnum=1\nA: devnum={port + 1}\n" + extra
    )
    return "/sys" + syspath, devnode


class UsbTestbed:
    """Fake Trezor USB devices in a umockdev testbed, seen by the daemon's pyudev monitor."""

    def __init__(self) -> None:
        # Imported here, not at the top: tests/unit load this module too (through conftest)
        # and need no umockdev.
        import gi

        gi.require_version("UMockdev", "1.0")
        from gi.repository import UMockdev

        self.testbed = UMockdev.Testbed.new()
        self._next_port = 1

    @property
    def root_dir(self) -> str:
        return str(self.testbed.get_root_dir())

    def plug(self, vendor: str = "1209", product: str = "53c1", serial: str = "1") -> str:
        """Add a Trezor's usb_device (emits "add"); returns its syspath."""
        port = self._next_port
        self._next_port += 1
        return str(
            self.testbed.add_device(
                "usb",
                f"1-{port}",
                None,
                ["idVendor", vendor, "idProduct", product, "serial", serial, "busnum", "1"],
                [
                    "DEVTYPE", "usb_device",
                    "PRODUCT", f"{int(vendor, 16):x}/{int(product, 16):x}/100",
                    "ID_VENDOR_ID", vendor,
                    "ID_MODEL_ID", product,
                    "ID_SERIAL_SHORT", serial,
                    "BUSNUM", "001",
                    "DEVNUM", f"{port + 1:03d}",
                ],
            )
        )  # fmt: skip

    def plug_with_node(
        self, port: int, product: str = "53c1", vendor: str = "1209"
    ) -> tuple[str, str]:
        """A Trezor usb_device with a device node (see add_node_device); (syspath, devnode)."""
        return add_node_device(self.testbed, port, product, vendor)

    def unplug(self, syspath: str) -> None:
        """Emit "remove" (umockdev's remove_device alone emits nothing), then remove it."""
        self.testbed.uevent(syspath, "remove")
        self.testbed.remove_device(syspath)


def busctl(*args: str) -> Any:
    """`busctl --user --json=short ...` parsed; raises with busctl's message on failure."""
    done = subprocess.run(
        ["busctl", "--user", "--json=short", *args], capture_output=True, text=True
    )
    if done.returncode != 0:
        raise BusctlError(done.stderr.strip())
    return json.loads(done.stdout) if done.stdout.strip() else None


class BusctlError(Exception):
    """A D-Bus call made with busctl failed; the message is busctl's."""


def get_devices() -> list[dict[str, Any]]:
    """Manager1.GetDevices through busctl, as {property: value} dicts."""
    reply = busctl("call", BUS_NAME, ROOT_PATH, MANAGER, "GetDevices")
    return [{k: v["data"] for k, v in device.items()} for device in reply["data"][0]]


def ctl(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run trezor-backupctl and capture what it prints; `env` adds to its environment."""
    return subprocess.run(
        [sys.executable, "-m", "trezor_backupctl", *args],
        capture_output=True,
        text=True,
        timeout=EVENT_TIMEOUT,
        env=None if env is None else os.environ | env,
    )


def refreshed_devices() -> list[dict[str, object]]:
    """`trezor-backupctl status --refresh --json`: the owner asks for a fresh read."""
    done = ctl("status", "--refresh", "--json")
    assert done.returncode == 0, done.stderr
    devices: list[dict[str, object]] = json.loads(done.stdout)["devices"]
    return devices


@contextmanager
def running(daemon: Daemon) -> Iterator[Daemon]:
    """Start the daemon and make sure it stops cleanly afterwards."""
    daemon.start()
    try:
        yield daemon
    finally:
        assert daemon.stop() == 0, daemon.log()


def gdbus(path: str, method: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`gdbus call` on the daemon; tests read its output as a person would."""
    return subprocess.run(
        ["gdbus", "call", "--session", "--dest", BUS_NAME, "--object-path", path,
         "--method", method, *args],
        capture_output=True, text=True, timeout=EVENT_TIMEOUT,
    )  # fmt: skip


def device_path() -> str:
    return f"{ROOT_PATH}/devices/{DEVICE_ID}"


def history(device_id: str = DEVICE_ID) -> list[tuple[str, str]]:
    """Manager1.GetHistory of a Trezor as (kind, result) pairs, oldest first."""
    out = gdbus(ROOT_PATH, f"{MANAGER}.GetHistory", device_id).stdout
    return [
        (kind, result)
        for kind, result in zip(_values(out, "Kind"), _values(out, "Result"), strict=True)
    ]


def _values(gvariant_text: str, key: str) -> list[str]:
    parts = gvariant_text.split(f"'{key}': <'")[1:]
    return [part.split("'", 1)[0] for part in parts]


class ScreenOfTrezor(Protocol):
    """A Trezor whose screen a test reads and presses through DebugLink: the simulator or
    an official firmware emulator."""

    @property
    def debug_port(self) -> int: ...


class OwnerRun:
    """owner_agent.py as a process: its JSON lines, and everything it printed."""

    def __init__(
        self, sim: ScreenOfTrezor, action: str, *args: str, device_id: str = DEVICE_ID
    ) -> None:
        for option, value in itertools.pairwise(args):
            if option in ("--typed", "--pin"):
                seed_safety.typed(value)
        if action == "check":
            seed_safety.typed(ABANDON24)  # the default typed seed
        self.process = subprocess.Popen(
            [sys.executable, str(OWNER), device_id, str(sim.debug_port), action, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.reader = LineReader(self.process)
        seed_safety.produced("owner agent output", self.output)

    def wait_for(self, event: str, **fields: str) -> dict[str, Any]:
        def matches(line: str) -> bool:
            try:
                data = json.loads(line)
            except json.JSONDecodeError:
                return False
            return bool(
                data.get("event") == event and all(data.get(k) == v for k, v in fields.items())
            )

        return dict(json.loads(self.reader.wait_for(matches)))

    def finished(self) -> dict[str, Any]:
        result = self.wait_for("finished")
        assert self.process.wait(timeout=EVENT_TIMEOUT) == 0
        return result

    def output(self) -> str:
        return "\n".join(self.reader.seen)


def rogue_agent_calls(*args: str) -> list[dict[str, Any]]:
    """Run tests/rogue_agent_caller.py (a hostile process asking an agent for words); the JSON
    lines it printed, one per call (and whether it took the daemon's name)."""
    done = subprocess.run(
        [sys.executable, str(ROGUE), *args],
        capture_output=True,
        text=True,
        timeout=EVENT_TIMEOUT * 2,
    )
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]
