"""End to end: the daemon as a subprocess on a private bus, devices from the simulator over
UDP (unmodified trezorlib underneath), hotplug through umockdev, and what a user or a script
sees through busctl, gdbus and trezor-backupctl."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from importlib import resources

import pytest
from trezorlib import mapping, messages, protocol_v1
from trezorlib.transport.udp import UdpTransport

from trezor_backupd.history import EventKind, HistoryStore

from conftest import DaemonFactory
from harness import (
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
from sim_helpers import free_port_pair, run_dry_run, start_simulator

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
    with start_simulator("one", sim_state) as sim, running(make_daemon(sim.endpoint)):
        [device] = get_devices()
        assert device["State"] == expected
        assert device["Model"] == "One"
        assert device["Transport"] == sim.endpoint
        assert device["Explanation"]

        status = ctl("status", "--json")
        assert status.returncode == 0, status.stderr
        [row] = json.loads(status.stdout)["devices"]
        assert (row["id"], row["state"], row["model"]) == (device["Id"], expected, "One")

        table = ctl("status")
        assert table.returncode == 0
        assert device["Id"] in table.stdout and expected in table.stdout


@pytest.mark.parametrize(
    ("model", "name", "internal"),
    [("t", "T", "T2T1"), ("safe3", "Safe 3", "T2B1"), ("safe5", "Safe 5", "T3T1")],
)
def test_core_models_are_named_and_classified(
    make_daemon: DaemonFactory, model: str, name: str, internal: str
) -> None:
    with (
        start_simulator(model, "backup_required", label="Savings") as sim,
        running(make_daemon(sim.endpoint)),
    ):
        [device] = get_devices()
        assert (device["Model"], device["InternalModel"]) == (name, internal)
        assert device["State"] == "backup_required"
        assert device["Label"] == "Savings"
        assert device["BackupType"] == "Bip39"
        assert device["FirmwareVersion"].startswith("2.")


def test_gdbus_sees_the_same_state(make_daemon: DaemonFactory) -> None:
    with start_simulator("one", "backup_failed") as sim, running(make_daemon(sim.endpoint)):
        out = subprocess.run(
            ["gdbus", "call", "--session", "--dest", BUS_NAME, "--object-path", ROOT_PATH,
             "--method", f"{MANAGER}.GetDevices"],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        assert "'State': <'backup_failed'>" in out


def test_bootloader_mode_is_reported_as_such(make_daemon: DaemonFactory) -> None:
    with (
        start_simulator("t", "backed_up", bootloader=True) as sim,
        running(make_daemon(sim.endpoint)),
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
            with start_simulator("one", "backup_required", port=port, device_id="C0FFEE0000000001"):
                syspath = usb.plug()
                added = watch.next_event("added")
                assert added["device"]["state"] == "backup_required"
                path = f"{ROOT_PATH}/devices/C0FFEE0000000001"
                assert added["path"] == path
                monitor.wait_signal("DeviceAdded", path)
                assert [d["Id"] for d in get_devices()] == ["C0FFEE0000000001"]
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
        start_simulator("one", "backup_required", device_id="AAAA000000000001") as first,
        start_simulator("safe5", "backed_up", device_id="BBBB000000000002") as second,
        running(make_daemon(first.endpoint, second.endpoint)),
    ):
        states = {d["Id"]: d["State"] for d in get_devices()}
        assert states == {"AAAA000000000001": "backup_required", "BBBB000000000002": "unverified"}
        watch = Watch()
        try:
            first_syspath = usb.plug(serial="AAAA")
            usb.plug(serial="BBBB")
            first.stop()
            usb.unplug(first_syspath)
            removed = watch.next_event("removed")
            assert removed["path"].endswith("/AAAA000000000001")
            assert [d["Id"] for d in get_devices()] == ["BBBB000000000002"]
        finally:
            watch.stop()


def _call(transport: UdpTransport, message: messages.MessageType) -> object:
    protocol_v1.write(transport, *mapping.DEFAULT_MAPPING.encode(message))
    return mapping.DEFAULT_MAPPING.decode(*protocol_v1.read(transport, timeout=5))


def test_a_device_waiting_for_a_confirmation_is_busy_until_released(
    make_daemon: DaemonFactory,
) -> None:
    with start_simulator("one", "backed_up") as sim:
        other_app = UdpTransport(f"127.0.0.1:{sim.port}")
        other_app.open()
        try:
            prompt = _call(other_app, messages.Ping(message="hold", button_protection=True))
            assert isinstance(prompt, messages.ButtonRequest)
            with running(make_daemon(sim.endpoint)):
                [device] = get_devices()
                assert device["State"] == "busy"
                assert "confirm" in device["Explanation"]
                watch = Watch()
                try:
                    done = _call(other_app, messages.ButtonAck())
                    assert isinstance(done, messages.Success)
                    watch.next_event("changed", lambda e: e["device"]["state"] == "unverified")
                finally:
                    watch.stop()
        finally:
            other_app.close()


def test_reading_status_does_not_disturb_a_dry_run_in_progress(
    make_daemon: DaemonFactory,
) -> None:
    """The daemon's read sends GetFeatures alone: no Cancel, no Initialize."""
    with start_simulator("one", "backed_up") as sim:
        with run_dry_run(sim) as dry_run:
            daemon = make_daemon(sim.endpoint)
            with running(daemon):
                [device] = get_devices()
                assert device["State"] == "unverified"
            result = dry_run.finish()
        assert isinstance(result, messages.Success)
        assert "matches" in (result.message or "")
        for word in set(sim.mnemonic.split()):
            assert word not in daemon.log()


def test_the_daemon_does_not_hold_the_device(make_daemon: DaemonFactory) -> None:
    with start_simulator("one", "backed_up", label="shared") as sim:
        with running(make_daemon(sim.endpoint)):
            assert [d["State"] for d in get_devices()] == ["unverified"]
            trezorctl = subprocess.run(
                [sys.executable, "-m", "trezorlib.cli.trezorctl", "-p", sim.endpoint,
                 "get-features"],
                capture_output=True, text=True, timeout=60,
            )  # fmt: skip
            assert trezorctl.returncode == 0, trezorctl.stderr
            assert "shared" in trezorctl.stdout


def test_history_is_kept_across_restarts_and_drives_the_state(
    make_daemon: DaemonFactory,
) -> None:
    device_id = "D00D000000000003"
    with start_simulator("one", "backed_up", device_id=device_id) as sim:
        daemon = make_daemon(sim.endpoint)
        with running(daemon):
            assert [d["State"] for d in get_devices()] == ["unverified"]

        checked_at = datetime.now(UTC).replace(microsecond=0) - timedelta(days=3)
        store = HistoryStore(daemon.state_dir)
        store.record(device_id, EventKind.CHECK, "passed", checked_at)
        store.close()
        for _restart in range(2):
            with running(daemon):
                [device] = get_devices()
                assert device["State"] == "verified"
                assert device["LastCheckTime"] == int(checked_at.timestamp())
                assert device["LastCheckResult"] == "passed"

        store = HistoryStore(daemon.state_dir)
        store.record(device_id, EventKind.CHECK, "mismatch", datetime.now(UTC))
        store.close()
        with running(daemon):
            [device] = get_devices()
            assert device["State"] == "check_failed"
            assert "not" in device["Explanation"]


def test_a_check_older_than_the_interval_is_due(make_daemon: DaemonFactory) -> None:
    device_id = "D00D000000000004"
    with start_simulator("one", "backed_up", device_id=device_id) as sim:
        daemon = make_daemon(sim.endpoint, config="recheck_interval_days = 30\n")
        store = HistoryStore(daemon.state_dir)
        store.record(device_id, EventKind.CHECK, "passed", datetime.now(UTC) - timedelta(days=31))
        store.close()
        with running(daemon):
            assert [d["State"] for d in get_devices()] == ["check_due"]


def test_a_corrupt_state_file_is_moved_aside_and_the_daemon_serves(
    make_daemon: DaemonFactory,
) -> None:
    with start_simulator("one", "backed_up") as sim:
        daemon = make_daemon(sim.endpoint)
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

    with start_simulator("one", "backed_up", device_id="E000000000000005") as sim:
        with running(make_daemon(sim.endpoint)):
            assert "org.freedesktop.DBus.Error.InvalidArgs" in gdbus_get_device("../etc")
            missing = gdbus_get_device("F000000000000000")
            assert "io.github.TrezorBackupGuard.Error.NoSuchDevice" in missing
            found = busctl("call", BUS_NAME, ROOT_PATH, MANAGER, "GetDevice", "s",
                           "E000000000000005")  # fmt: skip
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
    assert set(shipped) == {MANAGER, DEVICE}
    with start_simulator("one", "backed_up", device_id="F000000000000006") as sim:
        with running(make_daemon(sim.endpoint)):
            live = _interfaces(busctl_xml(ROOT_PATH)) | _interfaces(
                busctl_xml(f"{ROOT_PATH}/devices/F000000000000006")
            )
    for name, interface in shipped.items():
        assert _shape(interface) == _shape(live[name]), name


def busctl_xml(path: str) -> str:
    return subprocess.run(
        ["busctl", "--user", "introspect", "--xml-interface", BUS_NAME, path],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
