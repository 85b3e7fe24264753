"""The path an owner's Trezor takes: udev, libusb and usbdevfs ioctls, answered by the USB
bridge (usb_bridge.py) from the simulator. The daemon and trezorctl run unmodified, as
processes of their own: nothing replaces their USB enumeration."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import DaemonFactory
from harness import DEVICE_ID, EVENT_TIMEOUT, UsbTestbed, Watch, running
from sim_helpers import start_simulator
from usb_bridge import NO_DAC_OVERRIDE, BridgedTrezor, Event, UsbBridge


@pytest.fixture
def bridge(usb: UsbTestbed) -> UsbBridge:
    return UsbBridge(usb)


def test_a_safe_5_on_usb_is_shown_with_its_backup_state_and_dropped_on_unplug(
    bridge: UsbBridge, make_daemon: DaemonFactory
) -> None:
    with start_simulator("safe5", "backup_required", device_id=DEVICE_ID) as sim:
        with running(make_daemon()):
            watch = Watch()
            try:
                trezor = bridge.plug(sim.port)
                added = watch.next_event("added")
                assert added["device"]["id"] == DEVICE_ID
                assert added["device"]["state"] == "backup_required"
                trezor.unplug()
                removed = watch.next_event("removed")
                assert removed["path"].endswith(f"/{DEVICE_ID}")
            finally:
                watch.stop()


def test_a_trezor_in_its_bootloader_on_usb_is_shown_as_bootloader(
    bridge: UsbBridge, make_daemon: DaemonFactory
) -> None:
    """1209:53c0 through libusb: enumerated, read, `bootloader` (its Features say
    bootloader_mode). Here and not beside the official firmware: no official emulator runs
    a bootloader (../shared/emulators holds firmware only, which never sets it)."""
    with start_simulator("safe5", "backed_up", device_id=DEVICE_ID, bootloader=True) as sim:
        with running(make_daemon()):
            watch = Watch()
            try:
                trezor = bridge.plug(sim.port, serial=DEVICE_ID, bootloader=True)
                added = watch.next_event("added")["device"]
            finally:
                watch.stop()
    assert (added["state"], added["model"]) == ("bootloader", "Safe 5"), added
    assert added["transport"] == trezor.webusb_path


TREZORCTL = Path(sys.executable).with_name("trezorctl")
OTHER_PROGRAM = Path(__file__).with_name("other_program.py")
LET_GO_TO_BUS_SECONDS = 2.0
"""The most a change made by another program may take to reach the bus after it lets go."""
TREZORCTL_RUNS = int(os.environ.get("TREZORCTL_RUNS", "50"))
"""How many times trezorctl connects beside the daemon (bench/usb_trezorctl runs 200)."""


def trezorctl(*args: str) -> subprocess.CompletedProcess[str]:
    """trezorctl as a process of its own, over WebUSB like an owner runs it."""
    return subprocess.run(
        [str(TREZORCTL), "-p", "webusb", *args],
        capture_output=True,
        text=True,
        timeout=EVENT_TIMEOUT,
    )


def in_the_way(trezor: BridgedTrezor) -> list[Event]:
    """Every claim refused because another file held the Trezor: a program refused, or the
    daemon trying while one held it (it opens a node only to claim it; its listing opens
    none). An open alone is no harm: a program that starts while the daemon reads lists the
    devices, and is refused only if it claims before the read is over."""
    return [event for event in trezor.events if event.what == "refused"]


def story(trezor: BridgedTrezor, events: list[Event]) -> str:
    """The bridge's record around `events`, for a failure message: (seconds from the event,
    file, what)."""
    lines = []
    for event in events:
        i = trezor.events.index(event)
        lines.append(
            str(
                [
                    (round(e.when - event.when, 4), e.client, e.what)
                    for e in trezor.events[i - 12 : i + 6]
                ]
            )
        )
    return "\n".join(lines)


def test_trezorctl_connects_every_time_beside_the_daemon(
    bridge: UsbBridge, make_daemon: DaemonFactory
) -> None:
    """trezorctl lists the Trezors (opening and closing each node), then claims its own a
    few milliseconds later: the daemon, which reads a Trezor again once another program
    lets go, must not take that close for letting go, nor read while trezorctl starts again;
    it reads once trezorctl is done."""
    with start_simulator("safe5", "backup_required", device_id=DEVICE_ID) as sim:
        with running(make_daemon()):
            watch = Watch()
            try:
                trezor = bridge.plug(sim.port)
                watch.next_event("added")
                failed = [
                    run.stderr.strip()
                    for run in (trezorctl("get-features") for _ in range(TREZORCTL_RUNS))
                    if run.returncode != 0
                ]
                let_go = max(end for _, _, end in trezor.holders())
                read_after = trezor.wait_for("claim", let_go, EVENT_TIMEOUT).when - let_go
            finally:
                watch.stop()
    assert failed == [], f"{len(failed)} of {TREZORCTL_RUNS} refused: {failed[:3]}"
    assert in_the_way(trezor) == [], story(trezor, in_the_way(trezor))
    print(f"trezorctl beside the daemon: {TREZORCTL_RUNS} of {TREZORCTL_RUNS} connected")
    print(f"the last run let go to the daemon's read: {read_after:.3f} s")
    assert read_after < LET_GO_TO_BUS_SECONDS


def test_a_backup_made_over_usb_by_another_program_is_on_the_bus_once_it_lets_go(
    bridge: UsbBridge, make_daemon: DaemonFactory
) -> None:
    with start_simulator("safe5", "backup_required", device_id=DEVICE_ID) as sim:
        with running(make_daemon()):
            watch = Watch()
            try:
                trezor = bridge.plug(sim.port)
                assert watch.next_event("added")["device"]["state"] == "backup_required"
                subprocess.run(
                    [sys.executable, str(OTHER_PROGRAM), "backup", str(sim.port), "--usb"],
                    check=True,
                    timeout=EVENT_TIMEOUT,
                )
                changed = watch.next_event("changed", lambda e: "state" in e["changed"])
                shown = time.monotonic()
            finally:
                watch.stop()
    assert changed["device"]["state"] == "unverified"
    assert in_the_way(trezor) == []
    backup_held = max(trezor.holders(), key=lambda span: span[2] - span[1])
    print(f"let go to the bus: {shown - backup_held[2]:.3f} s")
    assert shown - backup_held[2] < LET_GO_TO_BUS_SECONDS


OTHER_ID = "FEDCBA9876543210FEDCBA98"


def test_a_trezor_this_user_may_not_open_is_named_and_read_once_allowed(
    bridge: UsbBridge, make_daemon: DaemonFactory
) -> None:
    """Before the udev rules (or logind's ACL) let the user open a Trezor, that Trezor alone
    says so; a second one beside it is read as ever; once allowed, it is read, no replug."""
    with (
        start_simulator("safe5", "backup_required", device_id=DEVICE_ID) as denied_sim,
        start_simulator("one", "backed_up", device_id=OTHER_ID) as other_sim,
    ):
        denied = bridge.plug(denied_sim.port, serial=DEVICE_ID)
        other = bridge.plug(other_sim.port, serial=OTHER_ID)
        denied.let_open(False)
        daemon = make_daemon()
        daemon.wrap = NO_DAC_OVERRIDE
        with running(daemon):
            watch = Watch()
            try:
                shown = {
                    event["device"]["transport"]: event["device"]
                    for event in (watch.next_event("added"), watch.next_event("added"))
                }
                denied.let_open(True)
                allowed_at = time.monotonic()
                watch.next_event("removed")  # it was known by where it is plugged in
                read = watch.next_event("added")["device"]
                read_after = time.monotonic() - allowed_at
            finally:
                watch.stop()
    unreadable, other = shown[denied.webusb_path], shown[other.webusb_path]
    assert unreadable["state"] == "busy"
    assert "udev rules" in unreadable["explanation"]
    assert (other["id"], other["state"]) == (OTHER_ID, "unverified")
    assert (read["id"], read["state"]) == (DEVICE_ID, "backup_required")
    print(f"permission to the bus: {read_after:.3f} s")
    assert read_after < LET_GO_TO_BUS_SECONDS


def holder_program(transport: str = "webusb.WebUsbTransport") -> str:
    """A program that claims the Trezor over `transport` (module.Class of trezorlib.transport)
    and keeps it until a line arrives on its stdin. Over HID, hidapi detaches usbhid to claim
    the interface and gives it back at close."""
    module, kind = transport.split(".")
    return f"""
import sys
from trezorlib.transport.{module} import {kind}
[trezor] = {kind}.enumerate()
trezor.open()
print("holding", flush=True)
sys.stdin.readline()
trezor.close()
"""


def test_a_trezor_another_program_holds_is_busy_and_read_once_it_lets_go(
    bridge: UsbBridge, make_daemon: DaemonFactory
) -> None:
    """The daemon's claim is refused: it keeps nothing open (a handle left open would hide
    the holder's own close), says busy, and reads the Trezor once the holder lets go."""
    with start_simulator("safe5", "backup_required", device_id=DEVICE_ID) as sim:
        trezor = bridge.plug(sim.port)
        holder = subprocess.Popen(
            [sys.executable, "-c", holder_program()],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert holder.stdin is not None and holder.stdout is not None
        assert holder.stdout.readline() == "holding\n"
        daemon = make_daemon()
        with running(daemon):
            watch = Watch()
            try:
                busy = watch.next_event("added")["device"]
                assert daemon.process is not None
                kept_open = node_held_by(daemon.process.pid, trezor.devnode)
                holder.stdin.write("\n")
                holder.stdin.close()
                assert holder.wait(EVENT_TIMEOUT) == 0
                let_go = max(end for _, _, end in trezor.holders())
                read = watch.next_event("added")["device"]
                read_after = time.monotonic() - let_go
            finally:
                watch.stop()
    assert busy["state"] == "busy"
    assert "Another app" in busy["explanation"]
    assert not kept_open
    assert (read["id"], read["state"]) == (DEVICE_ID, "backup_required")
    assert read_after < LET_GO_TO_BUS_SECONDS


def node_held_by(pid: int, devnode: str) -> bool:
    """Whether process `pid` has the (umockdev) device node open."""
    node = os.stat(devnode)
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            held = fd.stat()
        except OSError:
            continue
        if (held.st_dev, held.st_ino) == (node.st_dev, node.st_ino):
            return True
    return False


def test_a_hid_model_one_is_read_on_usb_and_its_kernel_driver_given_back(
    bridge: UsbBridge, make_daemon: DaemonFactory
) -> None:
    """hidapi detaches usbhid to claim the interface and attaches it again when it closes:
    after the daemon's read the kernel driver holds the interface, as before."""
    with start_simulator("one", "backed_up", device_id=DEVICE_ID) as sim:
        with running(make_daemon()):
            watch = Watch()
            try:
                trezor = bridge.plug(sim.port, serial=DEVICE_ID, hid=True)
                added = watch.next_event("added")["device"]
            finally:
                watch.stop()
    assert (added["id"], added["state"], added["transport"]) == (
        DEVICE_ID,
        "unverified",
        trezor.hid_path,
    )
    [(reader, _, let_go)] = trezor.holders()  # notices the closes too
    assert let_go < float("inf")
    story_of_reader = [event.what for event in trezor.events if event.client == reader]
    assert story_of_reader[:3] == ["open", "detach", "claim"], story_of_reader
    assert story_of_reader[-3:] == ["release", "attach", "close"], story_of_reader
    print(f"HID: kernel driver detached for {driver_away(trezor, reader):.4f} s")
    assert trezor.driver_attached


def test_a_hid_model_one_another_program_holds_is_busy_and_read_once_it_lets_go(
    bridge: UsbBridge, make_daemon: DaemonFactory
) -> None:
    """hidapi says only "open failed" when the claim is refused: the daemon tells it from a
    Trezor gone by the node still being there, says busy, keeps the row, and reads the
    Trezor once the holder lets go."""
    with start_simulator("one", "backed_up", device_id=DEVICE_ID) as sim:
        trezor = bridge.plug(sim.port, serial=DEVICE_ID, hid=True)
        holder = subprocess.Popen(
            [sys.executable, "-c", holder_program("hid.HidTransport")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert holder.stdin is not None and holder.stdout is not None
        assert holder.stdout.readline() == "holding\n"
        holder_files = {event.client for event in trezor.events}
        daemon = make_daemon()
        with running(daemon):
            watch = Watch()
            try:
                busy = watch.next_event("added")["device"]
                refused = trezor.wait_for("refused", 0.0, EVENT_TIMEOUT)
                shown_while_held = watch.output()
                holder.stdin.write("\n")
                holder.stdin.close()
                assert holder.wait(EVENT_TIMEOUT) == 0
                let_go = max(end for _, _, end in trezor.holders())
                watch.next_event("removed")  # it was known by where it is plugged in
                read = watch.next_event("added")["device"]
                read_after = time.monotonic() - let_go
            finally:
                watch.stop()
    assert busy["state"] == "busy"
    assert "Another app" in busy["explanation"]
    assert refused.client not in holder_files
    assert '"removed"' not in shown_while_held
    assert (read["id"], read["state"]) == (DEVICE_ID, "unverified")
    assert [e for e in in_the_way(trezor) if e.client in holder_files] == []
    assert trezor.driver_attached
    print(f"HID: let go to the bus: {read_after:.3f} s")
    assert read_after < LET_GO_TO_BUS_SECONDS


def driver_away(trezor: BridgedTrezor, client: int) -> float:
    """How long `client` kept the kernel driver away from the interface."""
    when = {e.what: e.when for e in trezor.events if e.client == client}
    return when["attach"] - when["detach"]


def test_doctor_names_the_trezor_this_user_may_not_open_and_the_fix(bridge: UsbBridge) -> None:
    """What `doctor` checks is what libusb needs: the usbfs node, read-write; nothing is sent
    to the Trezors (their UDP side is a port nobody listens on)."""
    denied = bridge.plug(DISCARD_PORT, serial=DEVICE_ID)
    allowed = bridge.plug(DISCARD_PORT, serial=OTHER_ID, hid=True)
    denied.let_open(False)
    done = subprocess.run(
        [*NO_DAC_OVERRIDE, sys.executable, "-m", "trezor_backupctl", "doctor"],
        env=os.environ | {"UMOCKDEV_DIR": bridge.usb.root_dir},
        capture_output=True,
        text=True,
        timeout=EVENT_TIMEOUT,
    )
    assert "Traceback" not in done.stderr, done.stderr
    access = [line for line in done.stdout.splitlines() if "device access:" in line]
    assert access == [
        f"FAIL device access: the Trezor at USB 1-1 ({denied.devnode}) cannot be opened by "
        "you: the udev rules are missing or were not applied to it. Fix: install the rules (see "
        "above), then unplug and replug the Trezor",
        f"OK   device access: you can open the Trezor at USB 1-2 ({allowed.devnode})",
    ]
    assert done.returncode == 1
    assert [event.what for event in denied.events + allowed.events] == []


DISCARD_PORT = 9
"""A UDP port for Trezors that are never talked to."""
