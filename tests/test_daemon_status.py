"""End to end: the daemon as a subprocess on a private bus, devices from the simulator over
UDP (unmodified trezorlib underneath), hotplug through umockdev, and what a user or a script
sees through busctl, gdbus and trezor-backupctl."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from importlib import resources

import pytest
from trezorlib import messages

from trezor_backup_api.vocabulary import OperationKind
from trezor_backupd.store.history import HistoryStore

from conftest import DaemonFactory
from harness import (
    AGENT,
    BUS_NAME,
    DEVICE,
    MANAGER,
    ROOT_PATH,
    SignalMonitor,
    UsbTestbed,
    Watch,
    busctl,
    ctl,
    get_devices,
    running,
)
from sim_helpers import (
    finish_dry_run,
    free_port_pair,
    host_ports,
    start_scrambled_dry_run,
    start_simulator,
    type_requested_word,
)

STATE_OF_SIMULATED_BACKUP = [
    ("blank", "not_initialized"),
    ("backup_required", "backup_required"),
    ("backup_failed", "backup_failed"),
    ("no_backup", "no_backup"),
    ("backed_up", "unverified"),
]


@pytest.mark.parametrize(("sim_state", "expected"), STATE_OF_SIMULATED_BACKUP)
def test_each_backup_state_is_reported_on_the_bus_and_by_the_cli(
    make_daemon: DaemonFactory, sim_state: str, expected: str
) -> None:
    with start_simulator("one", sim_state) as sim, running(make_daemon(sim.path)):
        [device] = get_devices()
        assert device["State"] == expected
        assert device["Model"] == "One"
        assert device["Transport"] == sim.path
        assert device["Explanation"]

        status = ctl("status", "--json")
        assert status.returncode == 0, status.stderr
        [row] = json.loads(status.stdout)["devices"]
        assert (row["id"], row["state"], row["model"]) == (device["Id"], expected, "One")

        table = ctl("status")
        assert table.returncode == 0
        assert device["Id"] in table.stdout and expected in table.stdout


def test_status_lists_the_most_urgent_trezor_first(make_daemon: DaemonFactory) -> None:
    """The order of the applet's window and tray: a missing backup before an unchecked one,
    whatever their names."""
    with (
        start_simulator("safe5", "backed_up", label="Alpha") as checked,
        start_simulator("one", "backup_required", label="Zed") as unbacked,
        running(make_daemon(checked.path, unbacked.path)),
    ):
        table = ctl("status")
    assert table.returncode == 0, table.stderr
    assert 0 <= table.stdout.index("Zed") < table.stdout.index("Alpha"), table.stdout


@pytest.mark.parametrize(
    ("model", "name", "internal"),
    [("t", "T", "T2T1"), ("safe3", "Safe 3", "T2B1"), ("safe5", "Safe 5", "T3T1")],
)
def test_core_models_are_named_and_classified(
    make_daemon: DaemonFactory, model: str, name: str, internal: str
) -> None:
    with (
        start_simulator(model, "backup_required", label="Savings") as sim,
        running(make_daemon(sim.path)),
    ):
        [device] = get_devices()
        assert (device["Model"], device["InternalModel"]) == (name, internal)
        assert device["State"] == "backup_required"
        assert device["Label"] == "Savings"
        assert device["BackupType"] == "Bip39"
        assert device["FirmwareVersion"].startswith("2.")


def test_gdbus_sees_the_same_state(make_daemon: DaemonFactory) -> None:
    with start_simulator("one", "backup_failed") as sim, running(make_daemon(sim.path)):
        out = subprocess.run(
            ["gdbus", "call", "--session", "--dest", BUS_NAME, "--object-path", ROOT_PATH,
             "--method", f"{MANAGER}.GetDevices"],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        assert "'State': <'backup_failed'>" in out


def test_bootloader_mode_is_reported_as_such(make_daemon: DaemonFactory) -> None:
    with (
        start_simulator("t", "backed_up", bootloader=True) as sim,
        running(make_daemon(sim.path)),
    ):
        [device] = get_devices()
        assert device["State"] == "bootloader"
        assert device["Id"] == "at_udp_127_0_0_1_" + str(sim.port)


def test_usb_plug_and_unplug_add_and_remove_the_device(
    make_daemon: DaemonFactory, usb: UsbTestbed
) -> None:
    port = free_port_pair()
    endpoint = f"udp:127.0.0.1:{port}"
    with running(make_daemon(endpoint)):
        assert get_devices() == []
        monitor = SignalMonitor()
        watch = Watch()
        try:
            with start_simulator(
                "one", "backup_required", port=port, device_id="C0FF00000000EE0000000001"
            ):
                syspath = usb.plug()
                added = watch.next_event("added")
                assert added["device"]["state"] == "backup_required"
                path = f"{ROOT_PATH}/devices/C0FF00000000EE0000000001"
                assert added["path"] == path
                monitor.wait_signal("DeviceAdded", path)
                assert [d["Id"] for d in get_devices()] == ["C0FF00000000EE0000000001"]
            usb.unplug(syspath)
            watch.next_event("removed", lambda e: e["path"] == path)
            monitor.wait_signal("DeviceRemoved", path)
            assert get_devices() == []
        finally:
            watch.stop()
            monitor.stop()


def test_two_devices_at_once_and_unplugging_one(
    make_daemon: DaemonFactory, usb: UsbTestbed
) -> None:
    with (
        start_simulator("safe5", "backed_up", device_id="BBBB00000000000000000002") as second,
        ExitStack() as first_plugged,
    ):
        first = first_plugged.enter_context(
            start_simulator("one", "backup_required", device_id="AAAA00000000000000000001")
        )
        with running(make_daemon(first.path, second.path)):
            states = {d["Id"]: d["State"] for d in get_devices()}
            assert states == {
                "AAAA00000000000000000001": "backup_required",
                "BBBB00000000000000000002": "unverified",
            }
            watch = Watch()
            try:
                for _device in states:  # watch lists what is there once it listens
                    watch.next_event("added")
                first_syspath = usb.plug(serial="AAAA")
                usb.plug(serial="BBBB")
                first_plugged.close()  # the simulator goes away with the USB device
                usb.unplug(first_syspath)
                removed = watch.next_event("removed")
                assert removed["path"].endswith("/AAAA00000000000000000001")
                assert [d["Id"] for d in get_devices()] == ["BBBB00000000000000000002"]
            finally:
                watch.stop()


def test_a_device_that_did_not_answer_is_busy_until_refreshed(
    make_daemon: DaemonFactory,
) -> None:
    """An emulator that did not answer is not asked again by itself (a second message could
    end another program's flow): `status --refresh` reads it once the owner is done."""
    with start_simulator("one", "backed_up") as sim, host_ports(sim) as (other_app, buttons):
        prompt = other_app.call(messages.Ping(message="hold", button_protection=True))
        assert isinstance(prompt, messages.ButtonRequest)
        with running(make_daemon(sim.path)):
            [device] = get_devices()
            assert device["State"] == "busy"
            assert "confirm" in device["Explanation"]
            watch = Watch()
            try:
                watch.next_event("added")
                buttons.send(messages.DebugLinkDecision(button=messages.DebugButton.YES))
                assert isinstance(other_app.call(messages.ButtonAck()), messages.Success)
                refreshed = ctl("status", "--refresh", "--json")
                assert refreshed.returncode == 0, refreshed.stderr
                [after] = json.loads(refreshed.stdout)["devices"]
                assert after["state"] == "unverified"
                # Read at last, it is announced under its own device id.
                watch.next_event("removed", lambda e: e["id"] == device["Id"])
                watch.next_event("added", lambda e: e["device"]["state"] == "unverified")
            finally:
                watch.stop()


def test_reading_status_does_not_disturb_a_dry_run_in_progress(
    make_daemon: DaemonFactory,
) -> None:
    """The daemon's read sends GetFeatures alone: no Cancel, no Initialize."""
    with start_simulator("one", "backed_up") as sim, host_ports(sim) as (wire, debug):
        start_scrambled_dry_run(wire)
        assert isinstance(type_requested_word(wire, debug), messages.WordRequest)
        daemon = make_daemon(sim.path)
        with running(daemon):
            [device] = get_devices()
            assert device["State"] == "unverified"
        result = finish_dry_run(wire, debug)
    assert isinstance(result, messages.Success)
    assert result.message == "The seed is valid and matches the one in the device"
    assert "abandon" not in daemon.log() and " art" not in daemon.log()


def test_the_daemon_does_not_hold_the_device(make_daemon: DaemonFactory) -> None:
    with start_simulator("one", "backed_up", label="shared") as sim:
        with running(make_daemon(sim.path)):
            assert [d["State"] for d in get_devices()] == ["unverified"]
            trezorctl = subprocess.run(
                [sys.executable, "-m", "trezorlib.cli.trezorctl", "-p", sim.path,
                 "get-features"],
                capture_output=True, text=True, timeout=60,
            )  # fmt: skip
            assert trezorctl.returncode == 0, trezorctl.stderr
            assert "shared" in trezorctl.stdout


def test_history_is_kept_across_restarts_and_drives_the_state(
    make_daemon: DaemonFactory,
) -> None:
    device_id = "D00D00000000000000000003"
    with start_simulator("one", "backed_up", device_id=device_id) as sim:
        daemon = make_daemon(sim.path)
        with running(daemon):
            assert [d["State"] for d in get_devices()] == ["unverified"]

        checked_at = datetime.now(UTC).replace(microsecond=0) - timedelta(days=3)
        store = HistoryStore(daemon.state_dir)
        store.record(device_id, OperationKind.CHECK, "passed", checked_at)
        store.close()
        for _restart in range(2):
            with running(daemon):
                [device] = get_devices()
                assert device["State"] == "verified"
                assert device["LastCheckTime"] == int(checked_at.timestamp())
                assert device["LastCheckResult"] == "passed"

        store = HistoryStore(daemon.state_dir)
        store.record(device_id, OperationKind.CHECK, "mismatch", datetime.now(UTC))
        store.close()
        with running(daemon):
            [device] = get_devices()
            assert device["State"] == "check_failed"
            assert "not" in device["Explanation"]


def test_a_check_older_than_the_interval_is_due(make_daemon: DaemonFactory) -> None:
    device_id = "D00D00000000000000000004"
    with start_simulator("one", "backed_up", device_id=device_id) as sim:
        daemon = make_daemon(sim.path, config="recheck_interval_days = 30\n")
        store = HistoryStore(daemon.state_dir)
        store.record(
            device_id, OperationKind.CHECK, "passed", datetime.now(UTC) - timedelta(days=31)
        )
        store.close()
        with running(daemon):
            assert [d["State"] for d in get_devices()] == ["check_due"]


def test_a_corrupt_state_file_is_moved_aside_and_the_daemon_serves(
    make_daemon: DaemonFactory,
) -> None:
    with start_simulator("one", "backed_up") as sim:
        daemon = make_daemon(sim.path)
        daemon.state_dir.mkdir(parents=True)
        (daemon.state_dir / "history.sqlite3").write_bytes(b"not a database\n" * 200)
        with running(daemon):
            assert [d["State"] for d in get_devices()] == ["unverified"]
        aside = list(daemon.state_dir.glob("history.sqlite3.corrupt-*"))
        assert len(aside) == 1
        assert aside[0].name in daemon.log()


def test_get_device_errors_are_named(make_daemon: DaemonFactory) -> None:
    def gdbus_get_device(device_id: str) -> str:
        done = subprocess.run(
            ["gdbus", "call", "--session", "--dest", BUS_NAME, "--object-path", ROOT_PATH,
             "--method", f"{MANAGER}.GetDevice", device_id],
            capture_output=True, text=True,
        )  # fmt: skip
        assert done.returncode != 0
        return done.stderr

    with start_simulator("one", "backed_up", device_id="E00000000000000000000005") as sim:
        with running(make_daemon(sim.path)):
            assert "org.freedesktop.DBus.Error.InvalidArgs" in gdbus_get_device("../etc")
            missing = gdbus_get_device("F00000000000000000000000")
            assert "io.github.TrezorBackupGuard.Error.NoSuchDevice" in missing
            found = busctl("call", BUS_NAME, ROOT_PATH, MANAGER, "GetDevice", "s",
                           "E00000000000000000000005")  # fmt: skip
            assert found["data"][0]["State"]["data"] == "unverified"


def _interfaces(xml: str) -> dict[str, ET.Element]:
    return {node.attrib["name"]: node for node in ET.fromstring(xml).iter("interface")}


def _shape(interface: ET.Element) -> list[tuple[str, ...]]:
    return sorted(
        (member.tag, member.attrib["name"], member.attrib.get("type", ""),
         member.attrib.get("access", ""),
         ",".join(f"{a.attrib.get('direction', 'out')}:{a.attrib['type']}"
                  for a in member.iter("arg")))
        for member in interface
        if member.tag in ("method", "signal", "property")
    )  # fmt: skip


def test_shipped_introspection_matches_what_the_daemon_exports(
    make_daemon: DaemonFactory,
) -> None:
    shipped = _interfaces(
        resources.files("trezor_backupd").joinpath("data", f"{BUS_NAME}.xml").read_text()
    )
    assert set(shipped) == {MANAGER, DEVICE, AGENT}
    del shipped[AGENT]  # served by clients, not by the daemon (tests/owner_agent.py uses it)
    with start_simulator("one", "backed_up", device_id="F00000000000000000000006") as sim:
        with running(make_daemon(sim.path)):
            live = _interfaces(busctl_xml(ROOT_PATH)) | _interfaces(
                busctl_xml(f"{ROOT_PATH}/devices/F00000000000000000000006")
            )
    for name, interface in shipped.items():
        assert _shape(interface) == _shape(live[name]), name


def busctl_xml(path: str) -> str:
    return subprocess.run(
        ["busctl", "--user", "introspect", "--xml-interface", BUS_NAME, path],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
