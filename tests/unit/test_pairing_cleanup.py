"""When a Safe 7's pairing leaves the keyring, with the device layer scripted (scripted_devices)
and the keyring a recording callable: a wipe while plugged in (the tracker's rule: the same
node, read paired, now "not paired"), Device1.ForgetPairing's checks, and ForgetDevice of a
remembered Safe 7 (KnownDevices, with a real history file). The end-to-end tests
(test_thp_daemon.py) run the same code with the simulator and a real gnome-keyring."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from scripted_devices import Bench, Device, busy, features, run
from trezorlib import messages

from trezor_backup_api.i18n import Sentence
from trezor_backup_api.vocabulary import OperationKind, Outcome, Refusal
from trezor_backupd.device.device_io import FeaturesReadError, ReadProblem, UsbLocation
from trezor_backupd.device.device_tracker import DeviceTracker
from trezor_backupd.device.udev_watch import TrezorUsbEvent
from trezor_backupd.device_values import (
    CheckVerdict,
    DeviceListener,
    OperationRefused,
    TrackedDevice,
)
from trezor_backupd.store.config import Config
from trezor_backupd.store.history import HistoryStore
from trezor_backupd.store.known_devices import KnownDevices
from trezor_backupd.store.thp_credentials import NoKeyring, Pairing, SecretServiceUnavailable

NODE = "webusb:001:1"
SAFE7 = "7777"
NO_KEYRING = "No keyring runs in this session."


class Keyring:
    """The injected "forget the pairing of this device id": records, or raises `problem`
    (a locked keyring by default: `available` False); `holds` says whether it has one."""

    def __init__(self) -> None:
        self.forgotten: list[str] = []
        self.available = True
        self.problem: SecretServiceUnavailable = SecretServiceUnavailable(Sentence(NO_KEYRING))
        self.holds = True
        self.entered = threading.Event()
        self.release: threading.Event | None = None
        """When set, forgetting waits for it (worker thread), after `entered`."""

    def forget_device(self, device_id: str) -> bool:
        self.entered.set()
        if self.release is not None:
            self.release.wait(5)
        if not self.available:
            raise self.problem
        self.forgotten.append(device_id)
        return self.holds


@pytest.fixture
def keyring() -> Keyring:
    return Keyring()


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch, keyring: Keyring) -> Iterator[Bench]:
    """The scripted tracker, with the keyring callable; NODE speaks THP (a Safe 7)."""
    bench = Bench(monkeypatch)
    bench.thp_paths.add(NODE)
    bench.tracker = DeviceTracker(
        Config(),
        bench,  # type: ignore[arg-type]  # the HistoryStore methods the tracker calls
        bench,
        clock=lambda: bench.now,
        node_watch=bench.node_watch,
        forget_pairing=keyring.forget_device,
        device_io=bench,
    )
    yield bench


def paired() -> messages.Features:
    return features(SAFE7, model="Safe 7", internal_model="T3W1", label="Safe 7 on the desk")


NOT_PAIRED = busy(ReadProblem.PAIRING_REQUIRED)


def test_a_safe7_that_forgets_this_computer_on_the_same_node_was_wiped(
    bench: Bench, keyring: Keyring
) -> None:
    bench.devices.append(Device(NODE, paired(), NOT_PAIRED))

    async def scenario() -> None:
        await bench.tracker.settle()
        assert bench.states() == {SAFE7: "unverified"}
        await bench.tracker.refresh()  # wiped meanwhile, still plugged in
        assert keyring.forgotten == [SAFE7]
        assert bench.states() == {"at_webusb_001_1": "pairing_required"}
        await bench.tracker.refresh()  # nothing more to forget
        assert keyring.forgotten == [SAFE7]
        bench.tracker.close()

    run(scenario)


def test_after_an_unplug_not_paired_says_nothing_about_a_wipe(
    bench: Bench, keyring: Keyring
) -> None:
    """Another Trezor may be plugged in where the paired one was: its pairing stays."""
    location = UsbLocation(busnum=1, port_numbers=(1,))
    bench.devices.append(Device(NODE, paired()))

    async def scenario() -> None:
        await bench.tracker.settle()
        bench.devices.clear()
        bench.tracker.usb_event(TrezorUsbEvent("remove", location, webusb=True))
        bench.devices.append(Device(NODE, NOT_PAIRED))
        bench.tracker.usb_event(TrezorUsbEvent("add", location, webusb=True))
        await bench.tracker.settle()
        assert bench.states() == {"at_webusb_001_1": "pairing_required"}
        assert keyring.forgotten == []
        bench.tracker.close()

    run(scenario)


def test_without_a_keyring_not_paired_is_no_wipe_and_no_call_to_pair(
    bench: Bench, keyring: Keyring
) -> None:
    """No credential was offered: the Trezor's "not paired" says nothing about the keyring's.
    Whether it is paired here cannot be told (`unknown`, not `pairing_required`, which would
    send its owner to pair it again); the way out is the keyring."""
    locked = "The desktop's keyring is locked: unlock it, then try again."
    without = FeaturesReadError(ReadProblem.KEYRING_UNAVAILABLE, why=Sentence(locked))
    bench.devices.append(Device(NODE, paired(), without))

    async def scenario() -> None:
        await bench.tracker.settle()
        await bench.tracker.refresh()
        [device] = bench.tracker.devices()
        status = device.status
        assert (status.state.value, status.model) == ("unknown", "Safe 7")
        assert status.explanation.endswith(locked)
        assert status.next_step.startswith("Unlock your desktop's keyring")
        assert "trezor-backupctl status --refresh" in status.next_step
        assert keyring.forgotten == []
        bench.tracker.close()

    run(scenario)


def test_with_no_keyring_at_all_it_is_not_paired_here_and_no_wipe(
    bench: Bench, keyring: Keyring
) -> None:
    """No keyring exists, so no pairing can be kept: `pairing_required` (pairing then says
    what is missing), and still no wipe is read into it."""
    none = "No keyring (Secret Service: gnome-keyring or KWallet) runs in this session."
    bench.devices.append(
        Device(NODE, paired(), FeaturesReadError(ReadProblem.NO_KEYRING, why=Sentence(none)))
    )

    async def scenario() -> None:
        await bench.tracker.settle()
        await bench.tracker.refresh()
        [device] = bench.tracker.devices()
        assert device.status.state.value == "pairing_required"
        assert "there is none in this session" in device.status.explanation
        assert device.status.explanation.endswith(none)
        assert keyring.forgotten == []
        bench.tracker.close()

    run(scenario)


def test_a_failed_removal_after_a_wipe_still_shows_pairing_required(
    bench: Bench, keyring: Keyring
) -> None:
    bench.devices.append(Device(NODE, paired(), NOT_PAIRED))
    keyring.available = False

    async def scenario() -> None:
        await bench.tracker.settle()
        await bench.tracker.refresh()
        assert bench.states() == {"at_webusb_001_1": "pairing_required"}
        bench.tracker.close()

    run(scenario)


class Handle:
    """An operation as the tracker sees it."""

    kind = "check"

    def cancel(self) -> None:
        pass

    def device_gone(self) -> None:
        pass


def test_forget_pairing_removes_it_and_shows_pairing_required_without_a_read(
    bench: Bench, keyring: Keyring
) -> None:
    device = Device(NODE, paired())
    bench.devices.append(device)

    async def scenario() -> None:
        await bench.tracker.settle()
        await bench.tracker.forget_pairing(SAFE7)
        assert keyring.forgotten == [SAFE7]
        # Still this Trezor (its node never went away): one row, under its own id and name.
        assert bench.states() == {SAFE7: "pairing_required"}
        [shown] = bench.tracker.devices()
        assert (shown.status.model, shown.status.label) == ("Safe 7", "Safe 7 on the desk")
        assert device.reads == 1
        with pytest.raises(OperationRefused) as again:
            await bench.tracker.forget_pairing(SAFE7)
        assert again.value.reason is Refusal.NOT_POSSIBLE
        assert again.value.message == (
            "This Trezor is not paired with this computer: there is no pairing to forget."
        )
        bench.tracker.close()

    run(scenario)


def test_a_safe7_locked_since_its_paired_read_keeps_its_id_and_its_facts(
    bench: Bench, keyring: Keyring
) -> None:
    """It locked itself while plugged in (auto-lock): the next read (a refresh) is refused
    with DEVICE_LOCKED, yet it is the Trezor read on this node, so it stays one row under its
    id, with the state of its last unlocked read, as a locked Safe 5 does. After an unplug
    nobody can tell which Trezor a locked one is: `locked`, under its place."""
    location = UsbLocation(busnum=1, port_numbers=(1,))
    bench.devices.append(Device(NODE, paired(), busy(ReadProblem.LOCKED_THP)))

    async def scenario() -> None:
        await bench.tracker.settle()
        await bench.tracker.refresh()
        [device] = bench.tracker.devices()
        assert (device.id, device.status.state.value) == (SAFE7, "unverified")
        assert device.status.locked and "it is locked now" in device.status.explanation
        bench.devices.clear()
        bench.tracker.usb_event(TrezorUsbEvent("remove", location, webusb=True))
        bench.devices.append(Device(NODE, busy(ReadProblem.LOCKED_THP)))
        bench.tracker.usb_event(TrezorUsbEvent("add", location, webusb=True))
        await bench.tracker.settle()
        assert bench.states() == {"at_webusb_001_1": "locked"}
        assert keyring.forgotten == []
        bench.tracker.close()

    run(scenario)


def test_locked_after_its_pairing_was_forgotten_or_another_app_used_it_tells_nothing(
    bench: Bench, keyring: Keyring
) -> None:
    """No facts of an earlier read are shown for a Safe 7 that may not be that wallet any
    more: unpaired here (a wipe could no longer be seen), or used by another app (which may
    have wiped it and set up a new wallet with a PIN) and locked before it was read again."""
    bench.devices += [
        Device(NODE, paired(), busy(ReadProblem.LOCKED_THP)),
        Device("webusb:001:2", features("8888", model="Safe 7", internal_model="T3W1"),
               busy(ReadProblem.LOCKED_THP)),
    ]  # fmt: skip
    bench.thp_paths.add("webusb:001:2")  # a second Safe 7
    bench.verdicts["8888"] = CheckVerdict(bench.now, Outcome.PASSED)

    async def scenario() -> None:
        await bench.tracker.settle()
        await bench.tracker.forget_pairing(SAFE7)
        await bench.tracker.refresh()
        bench.tracker.node_released("webusb:001:2")
        await bench.tracker.settle()
        shown = {d.transport_path: d for d in bench.tracker.devices()}
        unpaired, used = shown[NODE], shown["webusb:001:2"]
        assert (unpaired.id, unpaired.status.state.value) == (SAFE7, "locked")
        assert unpaired.status.facts is None and unpaired.status.last_check is None
        assert (used.id, used.status.state.value) == ("at_webusb_001_2", "locked")
        assert used.status.last_check is None
        with pytest.raises(OperationRefused) as refused:
            await bench.tracker.forget_pairing(SAFE7)
        assert refused.value.message.startswith("This Trezor is locked and has not said")
        bench.tracker.close()

    run(scenario)


def test_forget_pairing_is_refused_with_a_reason(bench: Bench, keyring: Keyring) -> None:
    bench.devices += [Device(NODE, paired()), Device("webusb:001:2", features("5555"))]

    async def scenario() -> None:
        await bench.tracker.settle()

        async def reason(device_id: str) -> tuple[Refusal, str]:
            with pytest.raises(OperationRefused) as refused:
                await bench.tracker.forget_pairing(device_id)
            return refused.value.reason, refused.value.message

        assert (await reason("NOPE"))[0] is Refusal.NO_SUCH_DEVICE
        assert await reason("5555") == (
            Refusal.NOT_POSSIBLE,
            "Only a Trezor Safe 7 is paired with a computer, and this is a Trezor Safe 5: "
            "there is no pairing to forget.",
        )
        check = Handle()
        bench.tracker.begin_operation(SAFE7, check)
        assert (await reason(SAFE7))[0] is Refusal.BUSY
        bench.tracker.finish_operation(check)
        keyring.available = False
        assert await reason(SAFE7) == (Refusal.NO_SECRET_SERVICE, NO_KEYRING)
        assert bench.states()[SAFE7] == "unverified"  # nothing changed
        assert keyring.forgotten == []
        bench.tracker.close()

    run(scenario)


def test_forget_pairing_that_removed_nothing_is_refused(bench: Bench, keyring: Keyring) -> None:
    """An item without the Trezor's device id (an earlier release's) is not found by it:
    "forgotten" would be untrue while the credential still connects."""
    bench.devices.append(Device(NODE, paired()))
    keyring.holds = False

    async def scenario() -> None:
        await bench.tracker.settle()
        with pytest.raises(OperationRefused) as refused:
            await bench.tracker.forget_pairing(SAFE7)
        assert refused.value.reason is Refusal.NOT_POSSIBLE
        assert "nothing was removed" in refused.value.message
        assert bench.states() == {SAFE7: "unverified"}
        bench.tracker.close()

    run(scenario)


def test_no_operation_starts_while_a_pairing_is_being_forgotten(
    bench: Bench, keyring: Keyring
) -> None:
    """Started between ForgetPairing's check and its removal, an operation would hold the
    device for minutes and the ForgetPairing caller would wait for it past its timeout."""
    bench.devices.append(Device(NODE, paired()))
    keyring.release = threading.Event()

    async def scenario() -> None:
        await bench.tracker.settle()
        forgetting = asyncio.create_task(bench.tracker.forget_pairing(SAFE7))
        await asyncio.to_thread(keyring.entered.wait, 5)
        with pytest.raises(OperationRefused) as refused:
            bench.tracker.begin_operation(SAFE7, Handle())
        assert refused.value.reason is Refusal.BUSY
        with pytest.raises(OperationRefused) as twice:
            await bench.tracker.forget_pairing(SAFE7)
        assert twice.value.reason is Refusal.BUSY
        assert keyring.release is not None
        keyring.release.set()
        await forgetting
        assert bench.states() == {SAFE7: "pairing_required"}
        assert bench.tracker.operation_of(SAFE7) is None
        bench.tracker.close()

    run(scenario)


class Nobody:
    """A DeviceListener that hears and does nothing (the bus, in the daemon)."""

    def device_added(self, device: TrackedDevice) -> None:
        pass

    def device_changed(self, device: TrackedDevice) -> None:
        pass

    def device_removed(self, device: TrackedDevice) -> None:
        pass


def test_forgetting_a_remembered_safe7_removes_its_pairing_first(
    tmp_path: Path, keyring: Keyring
) -> None:
    history = HistoryStore(tmp_path)
    seen = datetime(2026, 6, 1, tzinfo=UTC)
    history.remember_device(SAFE7, "Safe 7", "T3W1", "Mine", seen)
    history.remember_device("5555", "Safe 5", "T3T1", "Other", seen)
    history.record(SAFE7, OperationKind.CHECK, "passed", seen)
    listener: DeviceListener = Nobody()
    known = KnownDevices(listener, history, Config(), forget_pairing=keyring.forget_device)

    async def scenario() -> None:
        keyring.available = False
        with pytest.raises(OperationRefused) as refused:
            await known.forget(SAFE7)
        assert refused.value.reason is Refusal.NO_SECRET_SERVICE
        assert NO_KEYRING in refused.value.message
        assert [k.device_id for k in history.known_devices()] == [SAFE7, "5555"]  # kept
        assert await known.forget("5555")  # not a Safe 7: the keyring is not asked
        keyring.available = True
        assert await known.forget(SAFE7)
        assert keyring.forgotten == [SAFE7]
        assert history.known_devices() == [] and history.events(SAFE7) == []
        assert not await known.forget(SAFE7)
        assert keyring.forgotten == [SAFE7]

    run(scenario)
    history.close()


def test_with_no_keyring_at_all_a_remembered_safe7_is_forgotten(
    tmp_path: Path, keyring: Keyring
) -> None:
    """No Secret Service (or no default keyring): no pairing can be stored there, so there is
    none to remove, and refusing would leave the record for ever."""
    history = HistoryStore(tmp_path)
    history.remember_device(SAFE7, "Safe 7", "T3W1", "Mine", datetime(2026, 6, 1, tzinfo=UTC))
    known = KnownDevices(Nobody(), history, Config(), forget_pairing=keyring.forget_device)
    keyring.available = False
    keyring.problem = NoKeyring(Sentence(NO_KEYRING))

    async def scenario() -> None:
        assert await known.forget(SAFE7)
        assert history.known_devices() == []

    run(scenario)
    history.close()


def test_a_pairing_kept_without_its_device_id_is_labelled_before_the_read_is_shown(
    bench: Bench, keyring: Keyring
) -> None:
    """The status read itself writes nothing to the keyring: the tracker labels the pairing
    it connected with (kept by an earlier release without the device id) before the read is
    published, so that ForgetPairing, which forgets by that id, finds it."""
    kept = Pairing(b"trezor", b"host", b"credential", device_id="")
    bench.unlabelled[NODE] = kept
    bench.devices.append(Device(NODE, paired()))
    labelled_when_shown: list[int] = []
    bench.device_added = lambda device: labelled_when_shown.append(len(bench.labelled))  # type: ignore[method-assign]

    async def scenario() -> None:
        await bench.tracker.settle()
        assert bench.labelled == [(kept, SAFE7)]
        assert labelled_when_shown == [1]
        await bench.tracker.forget_pairing(SAFE7)
        assert keyring.forgotten == [SAFE7]
        bench.tracker.close()

    run(scenario)


def test_a_pairing_the_trezor_refused_is_removed_before_the_read_is_shown(
    bench: Bench, keyring: Keyring
) -> None:
    """The read names the refused key; the tracker removes that pairing, then publishes."""
    refused = FeaturesReadError(ReadProblem.PAIRING_REQUIRED, refused_key=b"trezor")
    bench.devices.append(Device(NODE, refused))
    removed_when_shown: list[int] = []
    bench.device_added = lambda device: removed_when_shown.append(len(bench.refused))  # type: ignore[method-assign]

    async def scenario() -> None:
        await bench.tracker.settle()
        assert bench.refused == [b"trezor"] and removed_when_shown == [1]
        assert bench.states() == {"at_webusb_001_1": "pairing_required"}
        assert keyring.forgotten == []  # never read paired here: no wipe to see
        bench.tracker.close()

    run(scenario)
