"""The performance benchmark of trezor-backupd: `bench/run [--quick] [--only usb]` from the
project root.

Runs everything on this machine against real parts: a private dbus-daemon, the daemon as a
subprocess, umockdev for udev events, the project's simulator for the devices, and for the
real USB path the tests' USB bridge (libusb and usbdevfs ioctls, the reports forwarded to the
simulator). Prints one table with each figure beside its target and writes bench/results.json;
`--only usb` runs the USB path alone and replaces only its figures there. The method behind
every row is described in docs/performance.md.

Whatever it started (buses, daemons, simulators, the umockdev testbed) is stopped and removed
however the run ends: finished, failed, Ctrl-C, SIGTERM or SIGHUP. The helpers run in process
groups of their own, so a Ctrl-C reaches only the benchmark, which then stops them in order.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import secrets
import selectors
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
PYTHON = VENV_BIN / "python"
HOST = "127.0.0.1"
TIMEOUT = 20.0
NO_POLL = "emulator_poll_seconds = 3600\n"
SIM_ARGV = [str(PYTHON), "-m", "trezor_backup_sim", "--model", "one", "--state", "backed_up"]
CORE_MODELS = ("safe5", "safe7")
USB_CYCLES = 50
"""Plug cycles through the USB bridge in a full run (a quick one: 20); about 50 ms each."""


class Started:
    """Everything the benchmark started, with how to stop it; stopped newest first at exit.

    Every stop is idempotent: the measurements stop what they started as they go, and what an
    error or a signal left running is stopped here.
    """

    def __init__(self) -> None:
        self._stops: list[Callable[[], object]] = []

    def add(self, stop: Callable[[], object]) -> None:
        self._stops.append(stop)

    def stop_all(self) -> None:
        while self._stops:
            stop = self._stops.pop()
            try:
                stop()
            except Exception as error:  # keep stopping the rest
                print(f"bench: cleaning up: {error!r}", file=sys.stderr)


STARTED = Started()


def popen(argv: list[str], **options: Any) -> subprocess.Popen[Any]:
    """A helper process in a process group of its own (a Ctrl-C at the terminal reaches only
    the benchmark), stopped at exit if nothing stopped it earlier."""
    process: subprocess.Popen[Any] = subprocess.Popen(argv, process_group=0, **options)
    STARTED.add(lambda: stop_process(process))
    return process


def stop_process(process: subprocess.Popen[Any], signum: int = signal.SIGTERM) -> int:
    """Signal the process, wait for it (SIGKILL after TIMEOUT); its exit code."""
    if process.poll() is None:
        process.send_signal(signum)
        try:
            process.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


def raise_system_exit(signum: int, _frame: object) -> None:
    """SIGTERM and SIGHUP end the run like Ctrl-C does: through every finally and stop_all."""
    raise SystemExit(128 + signum)


def ensure_environment() -> None:
    """Re-execute under the project's venv and umockdev-wrapper unless already there."""
    preload = "umockdev" in os.environ.get("LD_PRELOAD", "")
    if preload and Path(sys.executable).parent == VENV_BIN:
        return
    if not PYTHON.exists():
        sys.exit("bench: .venv is missing; run `make test` or `make demo` once first")
    wrapper = shutil.which("umockdev-wrapper")
    if wrapper is None:
        sys.exit("bench: umockdev-wrapper not found (apt-get install umockdev)")
    argv = [str(PYTHON), str(Path(__file__).resolve()), *sys.argv[1:]]
    if not preload:
        argv = [wrapper, *argv]
    os.execv(argv[0], argv)


ensure_environment()

import gi  # noqa: E402

gi.require_version("UMockdev", "1.0")
from dbus_fast import Message, MessageType  # noqa: E402
from dbus_fast.aio import MessageBus  # noqa: E402
from gi.repository import UMockdev  # noqa: E402

from trezor_backup_api.client import bus_call, call  # noqa: E402
from trezor_backup_api.names import (  # noqa: E402
    BUS_NAME,
    DBUS_NAME,
    DBUS_PATH,
    DEVICE_INTERFACE,
    DEVICES_PATH,
    MANAGER_INTERFACE,
    PROPERTIES_INTERFACE,
    ROOT_PATH,
)
from trezor_backupd.device import device_io, thp_session  # noqa: E402
from trezor_backupd.store.thp_credentials import CredentialStore  # noqa: E402

sys.path.insert(0, str(ROOT / "tests"))
from trezorlib import messages  # noqa: E402
from trezorlib.transport.udp import UdpTransport  # noqa: E402

from harness import UsbTestbed, add_node_device  # noqa: E402
from keyring_helpers import gnome_keyring  # noqa: E402
from sim_helpers import HostPort, free_port_pair  # noqa: E402
from usb_bridge import BridgedTrezor, UsbBridge  # noqa: E402

# ---- statistics ---------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile, linear between closest ranks."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * p / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary(values_s: list[float]) -> dict[str, float]:
    """Median, p95, p99, min and max of durations given in seconds, in milliseconds."""
    ms = [v * 1000 for v in values_s]
    return {
        "n": len(ms),
        "median_ms": statistics.median(ms),
        "p95_ms": percentile(ms, 95),
        "p99_ms": percentile(ms, 99),
        "min_ms": min(ms),
        "max_ms": max(ms),
    }


# ---- the parts ----------------------------------------------------------------------------


def clean_env() -> dict[str, str]:
    """The environment of a user's shell: no umockdev preload."""
    env = dict(os.environ)
    for name in ("LD_PRELOAD", "UMOCKDEV_DIR"):
        env.pop(name, None)
    return env


class SessionBus:
    """A private dbus-daemon; nothing here touches the desktop's session bus.

    Not forked: as a child of ours it can be waited for (no zombie is left behind).
    """

    def __init__(self) -> None:
        self.process = popen(
            ["dbus-daemon", "--session", "--nofork", "--print-address=1"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=clean_env(),
        )
        self.address = read_line(self.process.stdout, TIMEOUT)

    def env(self) -> dict[str, str]:
        return clean_env() | {"DBUS_SESSION_BUS_ADDRESS": self.address}

    def stop(self) -> None:
        stop_process(self.process)


def endpoint(port: int) -> str:
    return f"udp:{HOST}:{port}"


def read_line(stream: Any, timeout: float) -> str:
    with selectors.DefaultSelector() as selector:
        selector.register(stream, selectors.EVENT_READ)
        if not selector.select(timeout):
            raise RuntimeError("no answer from a helper process")
    return str(stream.readline()).strip()


class SimHost:
    """bench/simhost.py: simulated Trezors switched on and off by a bind() or close()."""

    def __init__(self, ports: list[int], models: tuple[str, ...] | None = None) -> None:
        """One device per port: the model at the same index in `models`, or a Model One."""
        models = models or ("one",) * len(ports)
        specs = [
            f"{port}:{secrets.token_hex(12).upper()}:{model}"
            for port, model in zip(ports, models, strict=True)
        ]
        self.ports = ports
        self.process = popen(
            [str(PYTHON), str(Path(__file__).with_name("simhost.py")), *specs],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=clean_env(),
        )
        assert read_line(self.process.stdout, TIMEOUT) == "ready"

    def _command(self, command: str, indexes: list[int]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(f"{command} {','.join(map(str, indexes))}\n")
        self.process.stdin.flush()
        assert read_line(self.process.stdout, TIMEOUT) == "ok"

    def up(self, *indexes: int) -> None:
        self._command("up", list(indexes))

    def down(self, *indexes: int) -> None:
        self._command("down", list(indexes))

    def stop(self) -> None:
        """Quit by closing its input; SIGTERM (then SIGKILL) if it does not."""
        assert self.process.stdin is not None
        with suppress(BrokenPipeError):
            self.process.stdin.close()
        try:
            self.process.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            stop_process(self.process)


@contextmanager
def simulator_processes(ports: list[int]) -> Iterator[list[subprocess.Popen[str]]]:
    """One real `trezor-backup-sim` process per port, started in parallel, ready on return."""
    processes = [
        popen(
            [*SIM_ARGV, "--port", str(port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=clean_env(),
        )
        for port in ports
    ]
    try:
        for process, port in zip(processes, ports, strict=True):
            line = read_line(process.stdout, 60.0)
            if line != f"ready {endpoint(port)}":
                raise RuntimeError(f"simulator on {port} did not start: {line!r}")
        yield processes
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            stop_process(process)


class Testbed:
    """Fake Trezor USB devices in umockdev; adding or removing one emits the udev event.

    umockdev sends each uevent as a datagram to every listener's socket in the testbed (the
    daemon's pyudev monitor, libusb's hotplug thread in the daemon and in this process) and
    aborts this whole process when one of them is full (EAGAIN): a listener holds only
    net.unix.max_dgram_qlen datagrams (10 by default), which a storm on a loaded machine
    exceeds. So after every `burst` events sent without a check, `pace` waits until every
    listener has read all it was sent.
    """

    def __init__(self) -> None:
        self.testbed: Any = UMockdev.Testbed.new()
        self.root_dir = str(self.testbed.get_root_dir())
        STARTED.add(self.close)
        self._next = 1
        qlen = int(Path("/proc/sys/net/unix/max_dgram_qlen").read_text())
        self.burst = max(1, qlen // 2)
        self.unchecked = 0
        self.paced_waits = 0

    def close(self) -> None:
        """Drop the testbed and its directory (the daemons using it are stopped first)."""
        self.testbed = None
        shutil.rmtree(self.root_dir, ignore_errors=True)

    def listeners_behind(self) -> bool:
        """Whether a listener's socket in the testbed has a datagram not read yet."""
        sockets = subprocess.run(
            ["ss", "--unix", "--all", "--no-header"],
            capture_output=True, text=True, check=True, env=clean_env(),
        ).stdout  # fmt: skip
        ours = f"{self.root_dir}/event"
        for line in sockets.splitlines():
            # Netid State Recv-Q Send-Q Local...; Recv-Q of a datagram socket: the next one's size
            fields = line.split()
            if len(fields) > 4 and fields[4].startswith(ours) and int(fields[2]) > 0:
                return True
        return False

    async def pace(self) -> None:
        """Before an event: wait, when `burst` went out unchecked, until every listener is done."""
        if self.unchecked >= self.burst:
            deadline = time.monotonic() + TIMEOUT
            while self.listeners_behind():
                if time.monotonic() > deadline:
                    raise RuntimeError(f"a udev listener read nothing for {TIMEOUT} s")
                self.paced_waits += 1
                await asyncio.sleep(0.002)
            self.unchecked = 0
        self.unchecked += 1

    def add(self, with_location: bool) -> str:
        """A Trezor's usb_device; with_location adds BUSNUM, so the daemon expects a USB path."""
        port = self._next
        self._next += 1
        props = ["DEVTYPE", "usb_device", "PRODUCT", "1209/53c1/100"]
        props += ["ID_VENDOR_ID", "1209", "ID_MODEL_ID", "53c1", "ID_SERIAL_SHORT", str(port)]
        if with_location:
            props += ["BUSNUM", "001", "DEVNUM", f"{port % 250 + 2:03d}"]
        attrs = ["idVendor", "1209", "idProduct", "53c1", "serial", str(port), "busnum", "1"]
        return str(self.testbed.add_device("usb", f"1-{port}", None, attrs, props))

    def remove(self, syspath: str) -> None:
        self.testbed.uevent(syspath, "remove")
        self.testbed.remove_device(syspath)


class Daemon:
    """trezor-backupd as a subprocess with its own home, config and log."""

    def __init__(
        self,
        bus: SessionBus,
        testbed: Testbed | UsbTestbed,
        emulators: list[str],
        config: str,
        command: list[str] | None = None,
    ) -> None:
        """`command` runs instead of `python -m trezor_backupd` (bench/usb_sim_daemon.py)."""
        self.home = Path(tempfile.mkdtemp(prefix="bench-daemon-"))
        STARTED.add(lambda: shutil.rmtree(self.home, ignore_errors=True))
        config_dir = self.home / "config" / "trezor-backup-guard"
        config_dir.mkdir(parents=True)
        if emulators:
            config += "emulators = [" + ", ".join(f'"{e}"' for e in emulators) + "]\n"
        (config_dir / "config.toml").write_text(config)
        env = bus.env() | {
            "LD_PRELOAD": os.environ["LD_PRELOAD"],
            "UMOCKDEV_DIR": testbed.root_dir,
            "XDG_CONFIG_HOME": str(self.home / "config"),
            "XDG_STATE_HOME": str(self.home / "state"),
        }
        self.log_path = self.home / "daemon.log"
        with self.log_path.open("wb") as log:
            self.process = popen(
                [*(command or [str(PYTHON), "-m", "trezor_backupd"]), "--log-level", "info"],
                env=env,
                stdout=log,
                stderr=log,
            )
        waited = subprocess.run(
            ["gdbus", "wait", "--session", "--timeout", str(int(TIMEOUT)), BUS_NAME],
            env=bus.env(),
            capture_output=True,
            text=True,
        )
        if waited.returncode != 0 or self.process.poll() is not None:
            raise RuntimeError(f"daemon did not come up:\n{self.log()}")

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def cpu(self) -> tuple[float, float]:
        """(utime+stime from /proc/PID/stat, on-CPU time summed from every thread's schedstat)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rpartition(")")[2].split()
        ticks = int(fields[11]) + int(fields[12])
        ns = 0
        for task in Path(f"/proc/{self.pid}/task").iterdir():
            with suppress(FileNotFoundError, ProcessLookupError):
                ns += int((task / "schedstat").read_text().split()[0])
        return ticks / os.sysconf("SC_CLK_TCK"), ns / 1e9

    def memory(self) -> dict[str, float]:
        """VmRSS and VmHWM in MiB, and the thread count."""
        values: dict[str, float] = {}
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            name, _, rest = line.partition(":")
            if name in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                values[name + "_mib"] = int(rest.split()[0]) / 1024
            elif name == "Threads":
                values["threads"] = int(rest)
        for line in Path(f"/proc/{self.pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):  # shared library pages divided among their users
                values["Pss_mib"] = int(line.split()[1]) / 1024
        return values

    def stop(self) -> int:
        """SIGTERM, wait, remove its home; the exit code (0 for a clean stop)."""
        code = stop_process(self.process)
        shutil.rmtree(self.home, ignore_errors=True)
        return code


@dataclass
class Client:
    """An in-process dbus-fast client that timestamps Manager1 signals as they arrive."""

    bus: MessageBus
    signals: asyncio.Queue[tuple[str, str, float]] = field(default_factory=asyncio.Queue)

    @classmethod
    async def connect(cls, address: str) -> Client:
        client = cls(await MessageBus(bus_address=address).connect())
        client.bus.add_message_handler(client._on_message)
        await bus_call(client.bus, "AddMatch", [f"type='signal',interface='{MANAGER_INTERFACE}'"])
        return client

    def _on_message(self, message: Message) -> None:
        if message.message_type is MessageType.SIGNAL and message.interface == MANAGER_INTERFACE:
            self.signals.put_nowait((str(message.member), message.body[0], time.perf_counter()))

    async def get_devices(self) -> list[dict[str, Any]]:
        (devices,) = (
            await call(self.bus, BUS_NAME, ROOT_PATH, MANAGER_INTERFACE, "GetDevices")
        ).body
        return [{k: v.value for k, v in device.items()} for device in devices]

    async def child_nodes(self) -> set[str]:
        """The device objects exported, from introspection (a ghost would show here)."""
        introspectable = "org.freedesktop.DBus.Introspectable"
        reply = await call(self.bus, BUS_NAME, DEVICES_PATH, introspectable, "Introspect")
        (xml,) = reply.body
        names = {part.split('"')[1] for part in str(xml).split("<node name=")[1:] if '"' in part}
        return {name for name in names if "/" not in name}  # the children, not the node itself

    async def next_signal(self, timeout: float = TIMEOUT) -> tuple[str, str, float]:
        return await asyncio.wait_for(self.signals.get(), timeout)

    def drain(self) -> list[tuple[str, str, float]]:
        drained = []
        while not self.signals.empty():
            drained.append(self.signals.get_nowait())
        return drained


# ---- the measurements ---------------------------------------------------------------------


def measure_io(port: int, testbed: Testbed, cycles: int) -> dict[str, Any]:
    """The trezorlib I/O a plug-in costs, called directly and in-process, `cycles` times each.

    The same calls the daemon makes on a plug-in: list USB Trezors (libusb, under umockdev with
    one fake device present), probe the new emulator (PINGPING), read Features (GetFeatures
    alone); and on an unplug the "still listening" check of a known emulator.
    """
    syspath = testbed.add(with_location=False)
    timings: dict[str, list[float]] = {"usb_enumerate": [], "emulator_probe": [], "features": []}
    timings["still_listening"] = []
    for _ in range(cycles):
        start = time.perf_counter()
        device_io.usb_transports()
        timings["usb_enumerate"].append(time.perf_counter() - start)
        start = time.perf_counter()
        transport = device_io.emulator_transport(endpoint(port))
        timings["emulator_probe"].append(time.perf_counter() - start)
        assert transport is not None, "the simulator does not answer"
        start = time.perf_counter()
        device_io.read_features(transport)
        timings["features"].append(time.perf_counter() - start)
        start = time.perf_counter()
        device_io.emulator_listening(endpoint(port))
        timings["still_listening"].append(time.perf_counter() - start)
    testbed.remove(syspath)
    return {name: summary(values) for name, values in timings.items()}


async def device_state(client: Client, path: str) -> str:
    """The State property of the device at `path` (outside any timed window)."""
    reply = await call(
        client.bus, BUS_NAME, path, PROPERTIES_INTERFACE, "Get", "ss", [DEVICE_INTERFACE, "State"]
    )
    return str(reply.body[0].value)


async def measure_plug_cycles(
    client: Client, testbed: Testbed, sims: SimHost, cycles: int, index: int = 0
) -> dict[str, Any]:
    """Plug in simulator `index`, wait for DeviceAdded; unplug, wait for DeviceRemoved;
    `cycles` times."""
    plug: list[float] = []
    unplug: list[float] = []
    uevent_call: list[float] = []
    states: set[str] = set()
    client.drain()
    for _ in range(cycles):
        sims.up(index)  # the emulator is listening before udev speaks (not timed)
        start = time.perf_counter()
        syspath = testbed.add(with_location=False)
        uevent_call.append(time.perf_counter() - start)
        member, path, arrived = await client.next_signal()
        assert member == "DeviceAdded", (member, path)
        plug.append(arrived - start)
        # Outside the timed window: the object carries its state already.
        states.add(await device_state(client, path))
        sims.down(index)
        start = time.perf_counter()
        testbed.remove(syspath)
        member, path, arrived = await client.next_signal()
        assert member == "DeviceRemoved", (member, path)
        unplug.append(arrived - start)
    return {
        "plug_to_state": summary(plug),
        "unplug_to_removed": summary(unplug),
        "umockdev_add_call": summary(uevent_call),
        "states_seen": sorted(states),
    }


async def measure_get_devices(client: Client, bus: SessionBus, calls: int, spawns: int) -> Any:
    """GetDevices in-process through dbus-fast, and through busctl (one process per call)."""
    devices = await client.get_devices()
    in_process: list[float] = []
    for _ in range(calls):
        start = time.perf_counter()
        await call(client.bus, BUS_NAME, ROOT_PATH, MANAGER_INTERFACE, "GetDevices")
        in_process.append(time.perf_counter() - start)
    peer: list[float] = []
    for _ in range(min(calls, 500)):
        start = time.perf_counter()
        await bus_call(client.bus, "GetId", [])
        peer.append(time.perf_counter() - start)
    env = bus.env()
    busctl = ["busctl", "--user", "call", BUS_NAME, ROOT_PATH, MANAGER_INTERFACE, "GetDevices"]
    baseline = ["busctl", "--user", "call", DBUS_NAME, DBUS_PATH, DBUS_NAME, "GetId"]
    spawned: list[float] = []
    spawned_baseline: list[float] = []
    for _ in range(spawns):
        for argv, into in ((busctl, spawned), (baseline, spawned_baseline)):
            start = time.perf_counter()
            subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
            into.append(time.perf_counter() - start)
    return {
        "devices": len(devices),
        "dbus_fast": summary(in_process),
        "dbus_fast_bus_daemon_GetId": summary(peer),
        "busctl": summary(spawned),
        "busctl_bus_daemon_GetId": summary(spawned_baseline),
    }


def measure_cli(bus: SessionBus, port: int, runs: int) -> dict[str, Any]:
    """Wall time of `status --json` vs `trezorctl get-features`, alternated, plus baselines."""
    env = bus.env()
    trezorctl = str(VENV_BIN / "trezorctl")
    commands = {
        "status_json": [str(VENV_BIN / "trezor-backupctl"), "status", "--json"],
        "trezorctl_get_features": [trezorctl, "-p", endpoint(port), "get-features"],
        "python_startup": [str(PYTHON), "-c", "pass"],
        "import_backupctl": [str(PYTHON), "-c", "import trezor_backupctl.main"],
        "import_status_needs": [
            str(PYTHON),
            "-c",
            "import trezor_backup_api.blocking_client, trezor_backupctl.json_output",
        ],
        "import_trezorctl": [str(PYTHON), "-c", "import trezorlib.cli.trezorctl"],
    }
    timings: dict[str, list[float]] = {name: [] for name in commands}
    for argv in commands.values():  # untimed: each program's bytecode is compiled once
        subprocess.run(argv, env=env, capture_output=True)
    for _ in range(runs):
        for name, argv in commands.items():
            start = time.perf_counter()
            done = subprocess.run(argv, env=env, capture_output=True, text=True)
            timings[name].append(time.perf_counter() - start)
            if done.returncode != 0:  # a time of a failure would measure nothing
                raise RuntimeError(f"{name} failed: {done.stderr[-500:]}")
            if name == "status_json":
                json.loads(done.stdout)  # it answered, with JSON
    return {name: summary(values) for name, values in timings.items()}


async def measure_client(
    bus: SessionBus, testbed: Testbed, taken: set[int], runs: int
) -> dict[str, Any]:
    """`status --json` beside `trezorctl get-features` (measure_cli), on a daemon of its own
    that has read one Model One, and that daemon's memory then: what a desktop with one
    Trezor plugged in costs."""
    port = free_port_pair(taken)
    sims = SimHost([port])
    daemon = Daemon(bus, testbed, [endpoint(port)], NO_POLL)
    client = await Client.connect(bus.address)
    try:
        sims.up(0)
        syspath = testbed.add(with_location=False)
        member, _path, _arrived = await client.next_signal()
        assert member == "DeviceAdded", member
        result = measure_cli(bus, port, runs)
        result["memory_one_device"] = daemon.memory()
        testbed.remove(syspath)
        return result
    finally:
        client.bus.disconnect()
        daemon.stop()
        sims.stop()


def pair_safe7(port: int) -> None:
    """Pair this computer with the Safe 7 at `port` as `trezor-backupctl pair` does (the
    daemon's thp_session.pair), the owner's part played over DebugLink: every dialog
    confirmed, the code read off the screen. The autoconnect credential goes into the
    keyring on the bus, where the daemon looks for it."""
    screen = HostPort(port + 1)

    def code() -> str:
        info = screen.call(messages.DebugLinkGetPairingInfo())
        assert isinstance(info, messages.DebugLinkPairingInfo) and info.code_entry_code
        return f"{info.code_entry_code:06}"

    def confirm(_request: messages.ButtonRequest) -> None:
        screen.send(messages.DebugLinkDecision(button=messages.DebugButton.YES))

    try:
        CredentialStore().store(thp_session.pair(UdpTransport(f"{HOST}:{port}"), code, confirm))
    finally:
        screen.close()


def measure_core_io(ports: list[int], cycles: int) -> dict[str, Any]:
    """The device I/O of a plug-in of each core model, in-process, `cycles` times each.

    The Safe 5: GetFeatures (device_io.read_features). The Safe 7: the daemon's whole read
    (device_io.read_features: protocol v1 answered with InvalidProtocol, the credentials from
    the keyring, GetFeatures on a new THP channel) and its two parts alone.
    """
    safe5, safe7 = (device_io.emulator_transport(endpoint(port)) for port in ports)
    assert safe5 is not None and safe7 is not None, "a simulator does not answer"
    timings: dict[str, list[float]] = {
        name: [] for name in ("safe5_read", "safe7_read", "safe7_keyring", "safe7_thp")
    }
    for _ in range(cycles):
        start = time.perf_counter()
        device_io.read_features(safe5)
        timings["safe5_read"].append(time.perf_counter() - start)
        start = time.perf_counter()
        device_io.read_features(safe7)
        timings["safe7_read"].append(time.perf_counter() - start)
        start = time.perf_counter()
        credentials = CredentialStore().credentials()
        timings["safe7_keyring"].append(time.perf_counter() - start)
        start = time.perf_counter()
        features = thp_session.read_features(safe7, credentials)
        timings["safe7_thp"].append(time.perf_counter() - start)
        assert features.internal_model == "T3W1", features.internal_model
    return {name: summary(values) for name, values in timings.items()}


async def measure_core_plug_cycles(
    bus: SessionBus, testbed: Testbed, taken: set[int], cycles: int
) -> dict[str, Any]:
    """Plug-in -> state on the bus of a Safe 5 and of a Safe 7 paired beforehand, as the
    Model One's plug cycles (the same daemon, uevent and simulator switching), `cycles` each.

    The Safe 7 is read over THP with its autoconnect credential, from a real Secret Service on
    the bus (gnome-keyring, its login keyring unlocked as at a login). A plug-in that needed a
    confirmation on the Trezor would wait for it until the daemon's read gives up: its state
    would not be `unverified`, which `states_seen` shows.
    """
    ports = [free_port_pair(taken) for _ in CORE_MODELS]
    sims = SimHost(ports, CORE_MODELS)
    home = Path(tempfile.mkdtemp(prefix="bench-keyring-"))
    STARTED.add(lambda: shutil.rmtree(home, ignore_errors=True))
    with ExitStack() as keyring:
        STARTED.add(keyring.close)
        keyring.enter_context(gnome_keyring(home, bus.address, secrets.token_hex(16)))
        sims.up(0, 1)
        pair_safe7(ports[1])
        results: dict[str, Any] = {"io": measure_core_io(ports, cycles)}
        sims.down(0, 1)
        daemon = Daemon(bus, testbed, [endpoint(port) for port in ports], NO_POLL)
        client = await Client.connect(bus.address)
        try:
            for index, model in enumerate(CORE_MODELS):
                results[model] = await measure_plug_cycles(client, testbed, sims, cycles, index)
            results["memory"] = daemon.memory()
        finally:
            client.bus.disconnect()
            daemon.stop()
            sims.stop()
    return results


def start_simulator(port: int, *options: str) -> subprocess.Popen[str]:
    """A core `trezor-backup-sim` process, ready when this returns."""
    argv = [str(PYTHON), "-m", "trezor_backup_sim", "--model", "safe5", "--state", "backed_up"]
    process = popen(
        [*argv, "--port", str(port), *options],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    line = read_line(process.stdout, TIMEOUT)
    if not line.startswith("ready"):
        raise RuntimeError(f"simulator did not get ready: {line!r}")
    return process


async def measure_release(
    bus: SessionBus, testbed: Testbed, taken: set[int], cycles: int
) -> dict[str, Any]:
    """Another program lets go of the device node -> the change it made is on the bus.

    The daemon watches the node with inotify; the program here locks or unlocks the Trezor
    (Locked flips, so every cycle changes a property), then closes the node: t0 at close(),
    t1 when PropertiesChanged arrives. The daemon sees the simulator where the USB device is
    (bench/usb_sim_daemon.py), since libusb cannot open a umockdev device.
    """
    port = free_port_pair(taken)
    pin = "1234"
    sim = start_simulator(port, "--pin", pin)
    _, devnode = add_node_device(testbed.testbed, 200)
    here = str(ROOT / "bench" / "usb_sim_daemon.py")
    daemon = Daemon(bus, testbed, [], NO_POLL, [str(PYTHON), here, str(port), "1", "200"])
    client = await MessageBus(bus_address=bus.address).connect()
    changes: asyncio.Queue[float] = asyncio.Queue()

    def on_message(message: Message) -> None:
        if message.member == "PropertiesChanged" and "Locked" in message.body[1]:
            changes.put_nowait(time.perf_counter())

    client.add_message_handler(on_message)
    rule = f"type='signal',member='PropertiesChanged',path_namespace='{DEVICES_PATH}'"
    await bus_call(client, "AddMatch", [rule])
    wire, debug = HostPort(port), HostPort(port + 1)
    latencies: list[float] = []
    try:
        for cycle in range(cycles):
            held = os.open(devnode, os.O_RDWR)  # Trezor Suite opens the device ...
            if cycle % 2 == 0:
                reply = wire.call(messages.LockDevice())
            else:  # ... unlocks it as trezorlib's ensure_unlocked does, the PIN on the device
                assert isinstance(wire.call(messages.ApplyFlags(flags=0)), messages.ButtonRequest)
                wire.send(messages.ButtonAck())
                debug.send(messages.DebugLinkDecision(input=pin))
                reply = wire.receive_message(TIMEOUT)
            assert isinstance(reply, messages.Success), reply
            started = time.perf_counter()
            os.close(held)  # ... and lets go
            latencies.append(await asyncio.wait_for(changes.get(), TIMEOUT) - started)
        return {"release_to_bus": summary(latencies), "cycles": cycles}
    finally:
        wire.close()
        debug.close()
        client.disconnect()
        daemon.stop()
        stop_process(sim)


def reads_of(trezor: BridgedTrezor) -> list[dict[str, float]]:
    """Every file that claimed the bridged Trezor, from the bridge's record (time.monotonic()):
    when it opened the node, claimed the interface and released it. (A close is recorded
    only at the bridge's next look, so its time is not the close's.)"""
    moments: dict[int, dict[str, float]] = {}
    for event in list(trezor.events):
        if event.what in ("open", "claim", "release"):
            moments.setdefault(event.client, {}).setdefault(event.what, event.when)
    return [m for m in moments.values() if "claim" in m]


def drop_usb_testbed(usb: UsbTestbed) -> None:
    """Drop the USB bridge's testbed (its worker thread answers the bridged nodes) and its
    directory; the daemons on it are stopped first."""
    root = usb.root_dir if hasattr(usb, "testbed") else ""
    with suppress(AttributeError):
        del usb.testbed
    if root:
        shutil.rmtree(root, ignore_errors=True)


async def measure_usb_path(cycles: int, window: float) -> dict[str, Any]:
    """The real USB path (issue 18), beside the UDP figures: the unmodified daemon (udev,
    libusb, usbdevfs ioctls; no emulator configured) and a Safe 5 simulator behind the
    tests' USB bridge (tests/usb_bridge.py), on a testbed and a bus of their own.

    `cycles` plug cycles: t0 just before the bridge adds the Trezor (its uevent), t1 at
    DeviceAdded, as the UDP plug cycles; then an unplug, timed to DeviceRemoved. The bridge
    records when the daemon's file opened the node, claimed the interface and released it:
    claim to release is the hold, the window in which another program's claim would be
    refused (nobody else touches the node here). Then one Trezor stays plugged in and, once
    its read is over, the daemon's CPU and wake-ups are counted over `window` seconds, with
    what the bridge recorded on the Trezor meanwhile (opens, claims, reports). Never during a read:
    the usbfs node is a plain file under umockdev, so libusb spins on it while it waits.
    """
    bus = SessionBus()
    usb = UsbTestbed()
    STARTED.add(lambda: drop_usb_testbed(usb))
    bridge = UsbBridge(usb)
    port = free_port_pair(set())
    sim = start_simulator(port)
    daemon = Daemon(bus, usb, [], NO_POLL)
    client = await Client.connect(bus.address)
    timings: dict[str, list[float]] = {
        name: []
        for name in (
            "plug_to_state",
            "plug_to_claim",
            "hold",
            "open_to_claim",
            "release_to_state",
            "unplug_to_removed",
        )
    }
    states: set[str] = set()
    reads_per_plug: set[int] = set()
    trezors: list[BridgedTrezor] = []

    async def plug() -> BridgedTrezor:
        client.drain()
        start, start_monotonic = time.perf_counter(), time.monotonic()
        trezor = bridge.plug(port)
        trezors.append(trezor)
        member, path, arrived = await client.next_signal()
        assert member == "DeviceAdded", (member, path)
        timings["plug_to_state"].append(arrived - start)
        added_monotonic = time.monotonic() - (time.perf_counter() - arrived)
        trezor.wait_for("release", start_monotonic, TIMEOUT)
        reads = reads_of(trezor)
        reads_per_plug.add(len(reads))
        first = reads[0]
        timings["plug_to_claim"].append(first["claim"] - start_monotonic)
        timings["hold"].append(first["release"] - first["claim"])
        timings["open_to_claim"].append(first["claim"] - first["open"])
        timings["release_to_state"].append(added_monotonic - first["release"])
        states.add(await device_state(client, path))
        return trezor

    try:
        for _ in range(cycles):
            trezor = await plug()
            start = time.perf_counter()
            trezor.unplug()
            member, path, arrived = await client.next_signal()
            assert member == "DeviceRemoved", (member, path)
            timings["unplug_to_removed"].append(arrived - start)
        trezor = await plug()
        time.sleep(1.0)  # the read and its clean-up are over
        touched = len(trezor.events)
        before = activity(daemon.pid)
        time.sleep(window)
        after = activity(daemon.pid)
        touched = len(trezor.events) - touched
        result: dict[str, Any] = {name: summary(values) for name, values in timings.items()}
        result |= {
            "states_seen": sorted(states),
            "reads_per_plug_in": sorted(reads_per_plug),
            "idle": {
                "window_s": window,
                "cpu_ms_per_min": (after[0] - before[0]) * 1000 * 60 / window,
                "wakeups_per_min": (after[1] - before[1]) * 60 / window,
                "bridge_events": touched,
                "memory": daemon.memory(),
            },
            "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "loadavg": os.getloadavg(),
        }
        return result
    finally:
        client.bus.disconnect()
        daemon.stop()
        stop_process(sim)
        bus.stop()
        trezors.clear()
        drop_usb_testbed(usb)


async def measure_many(bus: SessionBus, testbed: Testbed, count: int) -> dict[str, Any]:
    """`count` simulators (real processes) come up, then one udev add: time until all are on."""
    taken: set[int] = set()
    ports = [free_port_pair(taken) for _ in range(count)]
    daemon = Daemon(bus, testbed, [endpoint(p) for p in ports], NO_POLL)
    client = await Client.connect(bus.address)
    try:
        with simulator_processes(ports):
            client.drain()
            start = time.perf_counter()
            syspath = testbed.add(with_location=False)
            arrivals: list[float] = []
            while len(arrivals) < count:
                member, _path, arrived = await client.next_signal()
                assert member == "DeviceAdded"
                arrivals.append(arrived - start)
            devices = await client.get_devices()
            assert len(devices) == count and all(d["State"] for d in devices)
            get_devices: list[float] = []
            for _ in range(500):
                t = time.perf_counter()
                await call(client.bus, BUS_NAME, ROOT_PATH, MANAGER_INTERFACE, "GetDevices")
                get_devices.append(time.perf_counter() - t)
            memory = daemon.memory()
            testbed.remove(syspath)
        return {
            "devices": count,
            "first_ms": arrivals[0] * 1000,
            "all_ms": arrivals[-1] * 1000,
            "get_devices_with_all": summary(get_devices),
            "memory": memory,
        }
    finally:
        client.bus.disconnect()
        daemon.stop()


async def measure_storm(
    bus: SessionBus, testbed: Testbed, events: int, sim_count: int
) -> dict[str, Any]:
    """`events` udev add/remove events as fast as they come, while simulators come and go."""
    taken: set[int] = set()
    ports = [free_port_pair(taken) for _ in range(sim_count)]
    sims = SimHost(ports)
    daemon = Daemon(bus, testbed, [endpoint(p) for p in ports], NO_POLL)
    client = await Client.connect(bus.address)
    rng = random.Random(6)
    up: set[int] = set()
    plugged: list[str] = []
    toggles = 0
    try:
        start = time.perf_counter()
        for _ in range(events):
            if rng.random() < 0.2:  # a device is plugged in or out before this event
                index = rng.randrange(sim_count)
                (sims.down if index in up else sims.up)(index)
                up ^= {index}
                toggles += 1
            await testbed.pace()
            if plugged and (rng.random() < 0.5 or len(plugged) > 20):
                testbed.remove(plugged.pop(rng.randrange(len(plugged))))
            else:
                plugged.append(testbed.add(with_location=rng.random() < 0.5))
            await asyncio.sleep(0)  # let the client read the signals as they come
        end = time.perf_counter()
        expected = set(up)
        # Every signal in order: the device set a client following them would believe in.
        believed: set[str] = set()
        last_arrival = end
        while True:
            try:
                member, path, arrived = await client.next_signal(timeout=2.0)
            except TimeoutError:
                break  # nothing moved for 2 s: settled
            last_arrival = max(last_arrival, arrived)
            (believed.add if member == "DeviceAdded" else believed.discard)(path)
        devices = await client.get_devices()
        nodes = await client.child_nodes()
        ids = {d["Id"] for d in devices}
        by_port = {int(d["Transport"].rpartition(":")[2]): d for d in devices}
        present = {ports.index(p) for p in by_port if p in ports}
        ghosts = sorted(present - expected) + sorted(set(by_port) - set(ports))
        lost = sorted(expected - present)
        unlisted_objects = sorted(nodes - ids)
        signal_view = {path.rpartition("/")[2] for path in believed}
        states = sorted({d["State"] for d in devices})
        for syspath in plugged:
            await testbed.pace()
            testbed.remove(syspath)
        return {
            "events": events,
            "simulator_toggles": toggles,
            "emit_seconds": end - start,
            "paced_burst": testbed.burst,
            "paced_waits": testbed.paced_waits,
            "settled_after_last_event_ms": (last_arrival - end) * 1000,
            "expected_devices": len(expected),
            "on_bus": len(devices),
            "exported_objects": len(nodes),
            "ghosts": ghosts,
            "lost": lost,
            "exported_but_not_listed": unlisted_objects,
            "signals_agree": signal_view == ids,
            "states": states,
            "exact": not ghosts and not lost and not unlisted_objects and signal_view == ids,
            "daemon_alive": daemon.process.poll() is None,
        }
    finally:
        client.bus.disconnect()
        daemon.stop()
        sims.stop()


def measure_idle(
    testbed: Testbed, sims: SimHost, port: int, taken: set[int], window: float
) -> dict[str, Any]:
    """CPU and memory of three idle daemons side by side, each on a bus of its own: none, one
    emulator, and a locked and an unlocked Safe 5 (the default 10 s emulator look-up)."""
    buses = [SessionBus(), SessionBus(), SessionBus()]
    sims.up(0)  # present from the start, as an emulator a developer keeps running
    locked, unlocked = free_port_pair(taken), free_port_pair(taken)
    start_simulator(locked, "--pin", "1234", "--locked")
    start_simulator(unlocked)
    daemons = {
        "no_emulator": Daemon(buses[0], testbed, [], ""),
        "one_emulator_default_poll": Daemon(buses[1], testbed, [endpoint(port)], ""),
        "locked_and_unlocked": Daemon(
            buses[2], testbed, [endpoint(locked), endpoint(unlocked)], ""
        ),
    }
    try:
        time.sleep(1.0)  # start-up is over (coldplug settled, name taken)
        before = {name: d.cpu() for name, d in daemons.items()}
        time.sleep(window)
        after = {name: d.cpu() for name, d in daemons.items()}
        result: dict[str, Any] = {"window_s": window}
        for name, daemon in daemons.items():
            ticks = after[name][0] - before[name][0]
            precise = after[name][1] - before[name][1]
            result[name] = {
                "cpu_ms_per_min_stat": ticks * 1000 * 60 / window,
                "cpu_ms_per_min_schedstat": precise * 1000 * 60 / window,
                "memory": daemon.memory(),
            }
        return result
    finally:
        sims.down(0)
        for daemon in daemons.values():
            daemon.stop()
        for bus in buses:
            bus.stop()


def activity(pid: int) -> tuple[float, int]:
    """On-CPU seconds and wake-ups (voluntary context switches: each is a sleep that ended),
    summed over every thread of the process."""
    ns = switches = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with suppress(FileNotFoundError, ProcessLookupError):
            ns += int((task / "schedstat").read_text().split()[0])
            status = (task / "status").read_text()
            switches += int(status.split("\nvoluntary_ctxt_switches:")[1].split()[0])
    return ns / 1e9, switches


def measure_applet_idle(testbed: Testbed, window: float) -> dict[str, Any]:
    """The tray applet idle beside an idle daemon (no Trezor), on Xvfb with a tray host and a
    bus of their own: each one's on-CPU time and wake-ups over `window` seconds."""
    bus = SessionBus()
    home = Path(tempfile.mkdtemp(prefix="bench-applet-"))
    STARTED.add(lambda: shutil.rmtree(home, ignore_errors=True))
    read_fd, write_fd = os.pipe()
    xvfb = popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "800x600x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,), stderr=subprocess.DEVNULL,
    )  # fmt: skip
    os.close(write_fd)
    with os.fdopen(read_fd) as numbers:
        display = f":{numbers.readline().strip()}"
    env = bus.env() | {
        "DISPLAY": display,
        "PYSTRAY_BACKEND": "gtk",
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_STATE_HOME": str(home / "state"),
    }
    trayer = popen(["trayer", "--edge", "top", "--align", "right", "--SetDockType", "true"],
                   env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    daemon = Daemon(bus, testbed, [], "")
    applet = popen(
        [str(PYTHON), "-m", "trezor_backup_applet", "--autostart", "--log-level", "info"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        while "registered as the daemon's agent" not in read_line(applet.stdout, TIMEOUT):
            pass
        time.sleep(2.0)  # the icon is embedded: start-up is over
        processes = {"applet": applet.pid, "daemon": daemon.pid}
        before = {name: activity(pid) for name, pid in processes.items()}
        time.sleep(window)
        after = {name: activity(pid) for name, pid in processes.items()}
        result: dict[str, Any] = {"window_s": window}
        for name in processes:
            result[name] = {
                "cpu_ms_per_min": (after[name][0] - before[name][0]) * 1000 * 60 / window,
                "wakeups_per_min": (after[name][1] - before[name][1]) * 60 / window,
            }
        return result
    finally:
        stop_process(applet)
        daemon.stop()
        for process in (trayer, xvfb):
            stop_process(process)
        bus.stop()


# ---- report -------------------------------------------------------------------------------


@dataclass
class Row:
    name: str
    value: str
    target: str = ""
    ratio: float | None = None  # value / target: below 1 meets a "less than" target
    met: bool | None = None


def _ms(x: dict[str, float], tail: str = "p95_ms") -> str:
    digits = 3 if x["median_ms"] < 1 else (2 if x["median_ms"] < 20 else 0)
    return f"median {x['median_ms']:.{digits}f}, {tail[:3]} {x[tail]:.{digits}f} ms"


def _below(name: str, value: float, shown: str, limit: float, target: str) -> Row:
    return Row(name, shown, target, value / limit, value < limit)


def _mem(name: str, memory: dict[str, float]) -> Row:
    mb = memory["VmRSS_mib"] * 1.048576
    shown = f"{memory['VmRSS_mib']:.1f} MiB = {mb:.1f} MB (PSS {memory.get('Pss_mib', 0):.1f} MiB)"
    return _below(name, mb, shown, 40, "< 40 MB")


def rows_of(results: dict[str, Any]) -> list[Row]:
    """The table: one row per figure, targets beside the ones the issues set; the steps a
    `--only` run left out of the file are left out of the table."""
    rows = udp_rows(results) if "plug_cycles" in results else []
    rows += client_rows(results["cli"]) if "memory_one_device" in results.get("cli", {}) else []
    rows += many_rows(results["many_devices"]) if "many_devices" in results else []
    return rows + (usb_rows(results["usb_path"]) if "usb_path" in results else [])


def client_rows(c: dict[str, Any]) -> list[Row]:
    """`status --json` against `trezorctl get-features` and against the interpreter's own
    start (issue 20: at least 10x faster than the one, within 4x of the other), and the
    daemon's memory with the one Trezor it read."""
    status, features = c["status_json"]["median_ms"], c["trezorctl_get_features"]["median_ms"]
    python = c["python_startup"]["median_ms"]
    speedup, over_python = features / status, status / python
    c["status_speedup"], c["status_over_python"] = speedup, over_python
    return [
        Row(
            f"trezor-backupctl status --json (n={c['status_json']['n']})", f"median {status:.0f} ms"
        ),
        Row("trezorctl -p udp:... get-features", f"median {features:.0f} ms"),
        Row(
            "status speed-up over get-features",
            f"{speedup:.2f}x",
            ">= 10x",
            10 / speedup,
            speedup >= 10,
        ),
        Row("python -c pass", f"median {python:.0f} ms"),
        _below("status / python -c pass", over_python, f"{over_python:.2f}x", 4, "<= 4x"),
        Row(
            "  scale: import trezor_backupctl.main",
            f"median {c['import_backupctl']['median_ms']:.0f} ms",
        ),
        Row(
            "  scale: import blocking client + json output",
            f"median {c['import_status_needs']['median_ms']:.0f} ms",
        ),
        Row(
            "  scale: import trezorlib.cli.trezorctl",
            f"median {c['import_trezorctl']['median_ms']:.0f} ms",
        ),
        _mem("RSS with 1 device read, after the CLI runs", c["memory_one_device"]),
    ]


def many_rows(m: dict[str, Any]) -> list[Row]:
    """Many Trezors at once: how soon all are on the bus, and the daemon's memory then."""
    return [
        _below(
            f"{m['devices']} devices at once, all on bus",
            m["all_ms"],
            f"{m['all_ms']:.0f} ms (first {m['first_ms']:.0f} ms)",
            1000,
            "< 1000 ms",
        ),
        Row(f"  GetDevices with {m['devices']} devices", _ms(m["get_devices_with_all"], "p99_ms")),
        _mem(f"RSS with {m['devices']} devices", m["memory"]),
    ]


def usb_rows(usb: dict[str, Any]) -> list[Row]:
    """The real USB path: a Safe 5 through the bridge (measure_usb_path)."""
    plug, hold, idle = usb["plug_to_state"], usb["hold"], usb["idle"]
    cpu, wakes = idle["cpu_ms_per_min"], idle["wakeups_per_min"]
    return [
        Row(f"USB: plug-in -> state on bus, Safe 5 (n={plug['n']})", _ms(plug)),
        Row("  plug-in -> the daemon's claim", _ms(usb["plug_to_claim"])),
        Row("  the node open -> the claim", _ms(usb["open_to_claim"])),
        Row("  the read: claim -> release", _ms(hold)),
        Row("  release -> DeviceAdded", _ms(usb["release_to_state"])),
        Row(
            f"USB: hold on the Trezor, claim -> release (n={hold['n']})",
            f"{_ms(hold, 'max_ms')}; reads per plug-in: "
            + ", ".join(map(str, usb["reads_per_plug_in"])),
        ),
        Row("USB: unplug -> DeviceRemoved", _ms(usb["unplug_to_removed"])),
        _below(
            f"USB: idle CPU, a Trezor plugged in and read, {idle['window_s']:.0f} s",
            cpu,
            f"{cpu:.2f} ms/min, {wakes:.1f} wake-ups/min, {idle['bridge_events']} on the Trezor",
            10,
            "< 10 ms/min",
        ),
        _mem("USB: RSS, a Trezor plugged in and read", idle["memory"]),
        Row("USB: states seen", ", ".join(usb["states_seen"])),
    ]


def udp_rows(results: dict[str, Any]) -> list[Row]:
    """The rows of every step but the USB path's."""
    io, plug = results["trezorlib_io"], results["plug_cycles"]
    parts = ("usb_enumerate", "emulator_probe", "features")
    trezorlib_ms = sum(io[k]["median_ms"] for k in parts)
    p = plug["plug_to_state"]
    own_ms = p["median_ms"] - trezorlib_ms
    results["plug_own_ms"] = own_ms
    g, idle, storm = results["get_devices"], results["idle"], results["storm"]
    rows = [
        Row(f"plug-in -> DeviceAdded, state on bus (n={p['n']})", _ms(p)),
        Row(
            "  trezorlib I/O: USB list + probe + GetFeatures",
            f"{trezorlib_ms:.2f} ms = " + " + ".join(f"{io[k]['median_ms']:.2f}" for k in parts),
        ),
        Row(
            "  umockdev emitting the uevent (inside)",
            f"{plug['umockdev_add_call']['median_ms']:.2f} ms",
        ),
        _below(
            "  daemon's own (plug-in - trezorlib I/O)", own_ms, f"{own_ms:.2f} ms", 50, "< 50 ms"
        ),
        Row("unplug -> DeviceRemoved", _ms(plug["unplug_to_removed"])),
        _below(
            f"GetDevices, dbus-fast (n={g['dbus_fast']['n']}, 1 device)",
            g["dbus_fast"]["median_ms"],
            _ms(g["dbus_fast"], "p99_ms"),
            1,
            "< 1 ms median",
        ),
        Row(
            "  scale: dbus-daemon GetId, dbus-fast", _ms(g["dbus_fast_bus_daemon_GetId"], "p99_ms")
        ),
        Row(
            f"GetDevices, busctl (n={g['busctl']['n']}, 1 process each)", _ms(g["busctl"], "p99_ms")
        ),
        Row("  scale: dbus-daemon GetId, busctl", _ms(g["busctl_bus_daemon_GetId"], "p99_ms")),
    ]
    rows += core_plug_rows(
        results, io["usb_enumerate"]["median_ms"] + io["emulator_probe"]["median_ms"]
    )
    release = results["release"]["release_to_bus"]
    rows.append(
        _below(
            f"another app lets go -> its change on the bus (n={release['n']})",
            release["p95_ms"],
            _ms(release),
            2000,
            "< 2 s",
        )
    )
    for name, label in (
        ("no_emulator", "no emulator"),
        ("one_emulator_default_poll", "1 emulator, 10 s poll"),
        ("locked_and_unlocked", "1 locked + 1 unlocked Safe 5"),
    ):
        i = idle[name]
        cpu = i["cpu_ms_per_min_schedstat"]
        shown = f"{cpu:.2f} ms/min (stat ticks: {i['cpu_ms_per_min_stat']:.0f})"
        rows.append(
            _below(f"idle CPU, {label}, {idle['window_s']:.0f} s", cpu, shown, 10, "< 10 ms/min")
        )
    quiet = results["applet_idle"]
    for name, label in (("applet", "applet (tray, no Trezor)"), ("daemon", "  daemon beside it")):
        cpu, wakes = quiet[name]["cpu_ms_per_min"], quiet[name]["wakeups_per_min"]
        shown = f"{cpu:.2f} ms/min, {wakes:.1f} wake-ups/min"
        rows.append(
            _below(f"idle CPU, {label}, {quiet['window_s']:.0f} s", cpu, shown, 10, "< 10 ms/min")
        )
    rows += [
        _mem("RSS idle, no emulator", idle["no_emulator"]["memory"]),
        _mem("RSS idle, 1 emulator", idle["one_emulator_default_poll"]["memory"]),
        _mem("RSS after plug cycles, GetDevices", results["memory_after_plug_cycles"]),
        Row(
            f"storm: {storm['events']} uevents, {storm['simulator_toggles']} (un)plugs",
            f"{storm['on_bus']}/{storm['expected_devices']} on bus, {len(storm['ghosts'])} ghost, "
            f"{len(storm['lost'])} lost, settled +{storm['settled_after_last_event_ms']:.0f} ms",
            "exact",
            None,
            bool(storm["exact"]) and bool(storm["daemon_alive"]),
        ),
    ]
    return rows


def core_plug_rows(results: dict[str, Any], scan_ms: float) -> list[Row]:
    """A Safe 5 and a paired Safe 7: plug-in to state on the bus, the read inside it, and
    whether any Safe 7 plug-in waited for a confirmation on the Trezor. `scan_ms`: USB list
    and emulator probe (measured with the Model One), paid by every plug-in before the read."""
    core = results["core_plug_cycles"]
    io = core["io"]
    keyring, thp = io["safe7_keyring"]["median_ms"], io["safe7_thp"]["median_ms"]
    parts = {
        "safe5": [],
        "safe7": [Row("    of it: keyring lookup + THP read", f"{keyring:.2f} + {thp:.2f} ms")],
    }
    rows = []
    for model, name, read in (
        ("safe5", "Safe 5", "GetFeatures"),
        ("safe7", "paired Safe 7", "v1 probe + keyring + THP"),
    ):
        plug = core[model]["plug_to_state"]
        read_ms = io[f"{model}_read"]["median_ms"]
        own_ms = plug["median_ms"] - scan_ms - read_ms
        rows += [
            Row(f"plug-in -> state on bus, {name} (n={plug['n']})", _ms(plug)),
            Row(f"  {name} read: {read}", f"{read_ms:.2f} ms"),
            *parts[model],
            _below(f"  daemon's own, {name}", own_ms, f"{own_ms:.2f} ms", 50, "< 50 ms"),
        ]
    states = core["safe7"]["states_seen"]
    rows.append(
        Row(
            "  Safe 7 plug-ins with no confirmation asked",
            f"{core['safe7']['plug_to_state']['n']} plug-ins, states seen: {', '.join(states)}",
            "none asked",
            None,
            states == ["unverified"],
        )
    )
    return rows


def print_table(rows: list[Row]) -> str:
    header = ("measurement", "result", "target", "ratio", "")
    table = [header] + [
        (
            r.name,
            r.value,
            r.target,
            f"{r.ratio:.2f}" if r.ratio is not None else "",
            {True: "met", False: "MISSED", None: ""}[r.met],
        )
        for r in rows
    ]
    widths = [max(len(line[i]) for line in table) for i in range(5)]
    lines = []
    for index, line in enumerate(table):
        lines.append(" | ".join(cell.ljust(widths[i]) for i, cell in enumerate(line)).rstrip())
        if index == 0:
            lines.append("-+-".join("-" * w for w in widths))
    text = "\n".join(lines)
    print(text)
    return text


# ---- main ---------------------------------------------------------------------------------


def step(name: str) -> Callable[[], None]:
    start = time.perf_counter()
    print(f"bench: {name} ...", file=sys.stderr, flush=True)

    def done() -> None:
        print(f"bench:   {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)

    return done


async def run_only(name: str, quick: bool) -> dict[str, Any]:
    """The `--only cli` or `--only many` step alone, on a bus and a testbed of its own."""
    bus = SessionBus()
    testbed = Testbed()
    os.environ["DBUS_SESSION_BUS_ADDRESS"] = bus.address
    if name == "cli":
        runs = 5 if quick else 20
        done = step(f"status --json vs trezorctl get-features, {runs} x each")
        result = await measure_client(bus, testbed, set(), runs)
    else:
        done = step("32 devices at once")
        result = await measure_many(bus, testbed, 32)
    done()
    return result


async def run_usb(quick: bool) -> dict[str, Any]:
    """The real USB path's step, on a testbed and a bus of its own."""
    cycles, idle_window = (20, 10.0) if quick else (USB_CYCLES, 60.0)
    done = step(f"USB path: {cycles} plug cycles through the bridge, idle {idle_window:.0f} s")
    started = time.perf_counter()
    result = await measure_usb_path(cycles, idle_window)
    result["seconds"] = time.perf_counter() - started
    done()
    return result


async def run(quick: bool) -> dict[str, Any]:
    cycles, calls, spawns, runs = (20, 200, 20, 5) if quick else (200, 2000, 200, 20)
    idle_window = 10.0 if quick else 60.0
    storm_events = 200 if quick else 1000
    release_cycles = 10 if quick else 50
    results: dict[str, Any] = {
        "quick": quick,
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "kernel": platform.release(),
            "loadavg_at_start": os.getloadavg(),
        },
    }
    # Each part stops what it started as it goes; what an error or a signal leaves running is
    # stopped by STARTED.stop_all (see main). The USB path goes first: its testbed is dropped
    # before the bench's own is made, the one this process's libusb listing looks at.
    results["usb_path"] = await run_usb(quick)
    bus = SessionBus()
    testbed = Testbed()
    os.environ["DBUS_SESSION_BUS_ADDRESS"] = bus.address
    taken: set[int] = set()
    port = free_port_pair(taken)
    sims = SimHost([port])
    done = step(f"trezorlib I/O in-process, {cycles} x each")
    sims.up(0)
    results["trezorlib_io"] = measure_io(port, testbed, cycles)
    sims.down(0)
    done()

    done = step(f"{cycles} plug cycles")
    daemon = Daemon(bus, testbed, [endpoint(port)], NO_POLL)
    client = await Client.connect(bus.address)
    results["plug_cycles"] = await measure_plug_cycles(client, testbed, sims, cycles)
    done()

    done = step(f"GetDevices x {calls}, busctl x {spawns}")
    sims.up(0)
    syspath = testbed.add(with_location=False)
    await client.next_signal()
    results["get_devices"] = await measure_get_devices(client, bus, calls, spawns)
    done()

    results["memory_after_plug_cycles"] = daemon.memory()
    testbed.remove(syspath)
    sims.down(0)
    client.bus.disconnect()
    results["plug_daemon_exit"] = daemon.stop()

    done = step(f"status --json vs trezorctl get-features, {runs} x each")
    results["cli"] = await measure_client(bus, testbed, taken, runs)
    done()

    done = step(f"{cycles} plug cycles each of a Safe 5 and a paired Safe 7")
    results["core_plug_cycles"] = await measure_core_plug_cycles(bus, testbed, taken, cycles)
    done()

    done = step("32 devices at once")
    results["many_devices"] = await measure_many(bus, testbed, 32)
    done()

    done = step(f"storm of {storm_events} udev events")
    results["storm"] = await measure_storm(bus, testbed, storm_events, 4)
    done()

    done = step(f"release of the device -> state on the bus, {release_cycles} x")
    results["release"] = await measure_release(bus, testbed, taken, release_cycles)
    done()

    done = step(f"idle, {idle_window:.0f} s")
    results["idle"] = measure_idle(testbed, sims, port, taken, idle_window)
    done()

    done = step(f"applet idle beside the daemon, {idle_window:.0f} s")
    results["applet_idle"] = measure_applet_idle(testbed, idle_window)
    done()
    sims.stop()
    return results


def main() -> None:
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, raise_system_exit)
    try:
        measure_and_report()
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        raise SystemExit(128 + signal.SIGINT) from None
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)  # a second Ctrl-C must not stop the cleanup
        STARTED.stop_all()


def compiled_programs() -> None:
    """Run every program with its modules compiled, as an installed program is (pip and the
    Debian package compile them at install; __pycache__ is git-ignored). Under
    PYTHONDONTWRITEBYTECODE, which test runs set, each start would compile the project's
    modules again: that costs the CLI more than its own work, and leaves the compiler's
    garbage in every daemon's heap."""
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    sources = [str(ROOT / folder) for folder in ("api", "daemon", "ctl", "sim")]
    subprocess.run([str(PYTHON), "-m", "compileall", "-q", *sources], check=True)


def measure_and_report() -> None:
    parser = argparse.ArgumentParser(prog="bench/run", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="20 cycles and a 10 s idle window: a smoke run"
    )
    parser.add_argument(
        "--only",
        choices=["usb", "cli", "many"],
        help="run one step alone and put its figures into the results file, keeping the "
        "other steps' figures there (usb: the real USB path through the bridge; cli: "
        "status --json against get-features and python, and the daemon's RSS with 1 device; "
        "many: 32 devices at once and the daemon's RSS then)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=ROOT / "bench" / "results.json",
        help="where to write the results (default: bench/results.json)",
    )
    args = parser.parse_args()
    compiled_programs()
    started = time.perf_counter()
    if args.only == "usb":
        results = json.loads(args.output.read_text()) if args.output.exists() else {}
        results["usb_path"] = asyncio.run(run_usb(args.quick))
        results["usb_path"]["quick"] = args.quick
    elif args.only:
        results = json.loads(args.output.read_text()) if args.output.exists() else {}
        key = {"cli": "cli", "many": "many_devices"}[args.only]
        results[key] = asyncio.run(run_only(args.only, args.quick))
        results[key]["quick"] = args.quick
        results[key]["loadavg"] = os.getloadavg()
    else:
        results = asyncio.run(run(args.quick))
        results["total_seconds"] = time.perf_counter() - started
        results["machine"]["loadavg_at_end"] = os.getloadavg()
    rows = rows_of(results)
    results["table"] = print_table(rows).splitlines()
    results["targets"] = [
        {"measurement": r.name.strip(), "result": r.value, "target": r.target, "met": r.met}
        for r in rows
        if r.target
    ]
    temporary = args.output.with_name(args.output.name + ".tmp")
    temporary.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    temporary.replace(args.output)
    print(f"\n{time.perf_counter() - started:.0f} s; written to {args.output}")


if __name__ == "__main__":
    main()
