"""The official firmware on the path an owner's Trezor takes: each model's emulator (see
official_emulators.py) behind the USB bridge (usb_bridge.py), so the daemon and trezorctl
reach it through udev, libusb and usbdevfs ioctls, unmodified and with no `--emulator`.

One emulator runs at a time: the `model` parameter is module-scoped, so pytest runs every
test of one model before starting the next. A state is set up over UDP before the daemon
starts (nothing else may talk to a core firmware meanwhile); DebugLink stays on UDP, as the
owner's hands stay on the Trezor. docs/firmware-facts.md lists what these confirmed.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_usb_path import (
    LET_GO_TO_BUS_SECONDS,
    OTHER_PROGRAM,
    TREZORCTL,
    in_the_way,
    story,
    trezorctl,
)
from trezorlib import messages

from conftest import DaemonFactory
from harness import (
    EVENT_TIMEOUT,
    LineReader,
    OwnerRun,
    UsbTestbed,
    Watch,
    get_devices,
    history,
    running,
)
from official_emulators import (
    CORE_V1,
    LEGACY,
    MODEL_NAMES,
    SAFE7,
    STATES,
    EmulatorPool,
    seed_of,
)
from sim_helpers import HostPort
from test_thp_daemon import keyring, pair_through_the_cli, refresh
from usb_bridge import BridgedTrezor, Event, UsbBridge

TREZORCTL_RUNS = 10
"""trezorctl runs beside the daemon per model (bench/usb_trezorctl runs 200)."""
STATE_PER_MODEL = {
    LEGACY: "backed_up",
    "T2T1": "needs_backup",
    "T2B1": "seedless",
    "T3B1": "unfinished_backup",
    "T3T1": "blank",
}
"""The state each v1 model is plugged in with: every state on one model or another (each
model in every state runs over UDP in test_official_firmware.py)."""


def by_model(*models: str) -> pytest.MarkDecorator:
    """Parametrize over `models`, grouped by model across the module (one emulator each)."""
    return pytest.mark.parametrize("model", models, scope="module")


@pytest.fixture
def bridge(usb: UsbTestbed) -> UsbBridge:
    return UsbBridge(usb)


@by_model(LEGACY, *CORE_V1)
def test_each_model_on_usb_is_shown_with_its_backup_state_and_dropped_on_unplug(
    emulator_pool: EmulatorPool, bridge: UsbBridge, make_daemon: DaemonFactory, model: str
) -> None:
    emulator = emulator_pool.get(model)
    state = STATE_PER_MODEL[model]
    device_id = emulator.load(state)
    with running(make_daemon()):
        watch = Watch()
        try:
            trezor = bridge.plug(emulator.port, serial=device_id)
            added = watch.next_event("added")["device"]
            trezor.unplug()
            removed = watch.next_event("removed")
        finally:
            watch.stop()
    assert (added["model"], added["state"]) == (MODEL_NAMES[model], STATES[state]), added
    assert added["transport"] == trezor.webusb_path
    assert added["id"] == device_id  # a blank Trezor has its id too
    assert removed["path"].endswith(f"/{added['id']}"), removed


@by_model(LEGACY, *CORE_V1)
def test_trezorctl_connects_every_time_beside_the_daemon(
    emulator_pool: EmulatorPool, bridge: UsbBridge, make_daemon: DaemonFactory, model: str
) -> None:
    """trezorctl lists, opens and claims the Trezor while the daemon runs: neither it nor
    the daemon is ever refused (the daemon never claims while trezorctl holds it)."""
    emulator = emulator_pool.get(model)
    device_id = emulator.load(STATE_PER_MODEL[model])
    with running(make_daemon()):
        watch = Watch()
        try:
            trezor = bridge.plug(emulator.port, serial=f"{model}USB")
            watch.next_event("added")
            runs = [trezorctl("get-features") for _ in range(TREZORCTL_RUNS)]
        finally:
            watch.stop()
    failed = [run.stderr.strip()[-300:] for run in runs if run.returncode != 0]
    assert failed == [], f"{len(failed)} of {TREZORCTL_RUNS} refused: {failed[:3]}"
    assert all(f"device_id: '{device_id}'" in run.stdout for run in runs), runs[0].stdout
    assert in_the_way(trezor) == [], story(trezor, in_the_way(trezor))


CONFIRM_ON_TREZOR = "Please confirm action on your Trezor device."


@by_model(SAFE7)
def test_trezorctl_reaches_a_safe7_every_time_beside_the_daemon(
    emulator_pool: EmulatorPool,
    bridge: UsbBridge,
    make_daemon: DaemonFactory,
    secret_service: Path,
    model: str,
) -> None:
    """An unpaired trezorctl opens the Safe 7 beside the daemon, makes its THP channel and
    asks to pair (the Trezor asks its owner, who says no here): never refused. (The daemon
    looks for a pairing in the keyring: without the fixture's, the bus would start one
    that later tests' fixture cannot replace.)"""
    keyring()
    emulator = emulator_pool.get(model)
    emulator.load("backed_up")
    with running(make_daemon()):
        watch = Watch()
        try:
            trezor = bridge.plug(emulator.port, serial=f"{model}USB")
            assert watch.next_event("added")["device"]["state"] == "pairing_required"
            endings = [
                pairing_refused_on_the_trezor(emulator.debug_port) for _ in range(SAFE7_RUNS)
            ]
        finally:
            watch.stop()
    assert endings == ["asked"] * SAFE7_RUNS, endings
    assert in_the_way(trezor) == [], story(trezor, in_the_way(trezor))


SAFE7_RUNS = 5
"""Fewer than the others: each run is a THP handshake and a press on the Trezor."""


def pairing_refused_on_the_trezor(debug_port: int) -> str:
    """`trezorctl -p webusb get-features` on an unpaired Safe 7, the owner pressing No on
    the pairing question: "asked" when the question came, else what trezorctl printed."""
    process = subprocess.Popen(
        [str(TREZORCTL), "-p", "webusb", "get-features"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    reader = LineReader(process)
    screen = HostPort(debug_port)
    try:
        reader.wait_for(lambda line: line == CONFIRM_ON_TREZOR)
        screen.send(messages.DebugLinkDecision(button=messages.DebugButton.NO))
        process.wait(timeout=EVENT_TIMEOUT)
    except AssertionError:
        return "\n".join(reader.seen)
    finally:
        screen.close()
        if process.poll() is None:
            process.kill()
            process.wait()
    return "asked"


def held_by_another(trezor: BridgedTrezor) -> tuple[int, float, float]:
    """The longest claim: the other program's whole flow (a read is a fraction of it)."""
    return max(trezor.holders(), key=lambda span: span[2] - span[1])


def meddled(trezor: BridgedTrezor, span: tuple[int, float, float]) -> list[Event]:
    """What any other file did to the Trezor while `span`'s file held it."""
    holder, since, until = span
    return [
        event
        for event in trezor.events
        if since < event.when < until
        and event.client != holder
        and event.what in ("claim", "refused", "out")
    ]


@pytest.mark.parametrize(("model", "flow"), [("T2T1", "check"), ("T3T1", "backup")], scope="module")
def test_another_programs_flow_over_usb_runs_to_its_end_and_is_read_once_it_lets_go(
    emulator_pool: EmulatorPool,
    bridge: UsbBridge,
    make_daemon: DaemonFactory,
    model: str,
    flow: str,
) -> None:
    """A core firmware ends a flow on any message (recorded e6): another program's whole
    dry run or backup over USB ends in Success beside the daemon, the daemon sends nothing
    while it holds the Trezor, and reads it (the new state on the bus) once it lets go."""
    emulator = emulator_pool.get(model)
    before, after = (
        ("backed_up", "unverified") if flow == "check" else ("needs_backup", "unverified")
    )
    device_id = emulator.load(before)
    with running(make_daemon()):
        watch = Watch()
        try:
            trezor = bridge.plug(emulator.port, serial=device_id)
            assert watch.next_event("added")["device"]["state"] == STATES[before]
            other = subprocess.run(
                [sys.executable, str(OTHER_PROGRAM), flow, str(emulator.port), "--usb",
                 "--words", seed_of(model)],
                capture_output=True, text=True, timeout=FLOW_TIMEOUT,
            )  # fmt: skip
            assert other.returncode == 0, other.stderr
            span = held_by_another(trezor)
            read = trezor.wait_for("claim", span[2], EVENT_TIMEOUT)
            if flow == "backup":
                changed = watch.next_event("changed", lambda e: "state" in e["changed"])
                assert changed["device"]["state"] == after
                shown = time.monotonic()
        finally:
            watch.stop()
    assert meddled(trezor, span) == [], story(trezor, meddled(trezor, span))
    assert in_the_way(trezor) == [], story(trezor, in_the_way(trezor))
    assert read.client != span[0]
    print(f"{model} {flow}: held {span[2] - span[1]:.1f} s, read {read.when - span[2]:.3f} s after")
    assert read.when - span[2] < LET_GO_TO_BUS_SECONDS
    if flow == "backup":
        assert shown - span[2] < LET_GO_TO_BUS_SECONDS


FLOW_TIMEOUT = 120.0
"""A whole backup on the official firmware, on a busy two-core machine."""


@by_model(SAFE7)
def test_a_safe7_on_usb_is_paired_then_read_silently_after_a_replug(
    emulator_pool: EmulatorPool,
    bridge: UsbBridge,
    make_daemon: DaemonFactory,
    secret_service: Path,
    model: str,
) -> None:
    """THP in 64-byte reports through libusb: unpaired it is `pairing_required`; paired
    with the code on its screen, it is read; unplugged and power-cycled (its THP channels
    gone, its pairings kept) and plugged in again, it is read with the autoconnect
    credential straight away."""
    keyring()
    emulator = emulator_pool.get(model)
    device_id = emulator.load("needs_backup")
    with running(make_daemon()):
        watch = Watch()
        try:
            trezor = bridge.plug(emulator.port, serial=device_id)
            added = watch.next_event("added")["device"]
            assert (added["state"], added["model"]) == ("pairing_required", "Safe 7"), added
            output = pair_through_the_cli(emulator)
            assert output.startswith("exit 0"), output
            refresh()
            [device] = get_devices()
            assert (device["State"], device["Id"]) == ("backup_required", device_id)
            trezor.unplug()
            watch.next_event("removed")
            emulator.power_cycle()
            bridge.plug(emulator.port, serial=device_id)
            again = watch.next_event("added")["device"]
        finally:
            watch.stop()
    assert (again["state"], again["id"]) == ("backup_required", device_id), again


@by_model("T3T1")
def test_the_daemons_own_check_over_usb_passes(
    emulator_pool: EmulatorPool, bridge: UsbBridge, make_daemon: DaemonFactory, model: str
) -> None:
    """The daemon's own StartCheck (through the owner's agent) on a core Trezor reached
    through libusb: the words typed on the Trezor, the check `passed` and the Trezor
    `verified`; nobody else touched it meanwhile."""
    emulator = emulator_pool.get(model)
    device_id = emulator.load("backed_up")
    with running(make_daemon()):
        watch = Watch()
        try:
            trezor = bridge.plug(emulator.port, serial=device_id)
            assert watch.next_event("added")["device"]["state"] == "unverified"
        finally:
            watch.stop()
        owner = OwnerRun(emulator, "check", "--typed", seed_of(model), device_id=device_id)
        finished = owner.finished()
        [device] = get_devices()
        assert (finished["result"], device["State"]) == ("passed", "verified"), owner.output()
        assert history(device_id) == [("check", "passed")]
    assert in_the_way(trezor) == [], story(trezor, in_the_way(trezor))
