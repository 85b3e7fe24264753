"""Behaviours earlier work built from memory, run on the official firmware and on the
project's simulator side by side (docs/firmware-facts.md names each test).

Each scenario runs twice, `firmware` (the official debug emulator, official_emulators.py)
and `simulator` (trezor-backup-sim): the daemon and the owner are the same, and so must be
what they end with; where they differ, the firmware is right. One emulator per model is
started and reused; states are set up over the wire.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from test_operations import single_share
from trezorlib import debuglink, device, messages

import seed_safety
from conftest import DaemonFactory
from harness import (
    DEVICE_ID,
    OwnerRun,
    ScreenOfTrezor,
    get_devices,
    history,
    refreshed_devices,
    running,
)
from official_emulators import LEGACY, TEST_PIN, EmulatorPool, seed_of
from other_program import owner_at_device, run_flow
from sim_helpers import HostPort, start_simulator

CORE = "T3T1"
"""The core model these scenarios run on (the Safe 5: its flows are every core model's)."""
SIMULATED = {LEGACY: "one", CORE: "safe5"}
"""The simulator's name for each model."""
SIMULATED_STATE = {"backed_up": "backed_up", "needs_backup": "backup_required"}
WHERE = ["firmware", "simulator"]


@contextmanager
def trezor(
    pool: EmulatorPool,
    where: str,
    model: str,
    state: str,
    pin: str | None = None,
    locked: bool = False,
) -> Iterator[tuple[ScreenOfTrezor, str, str]]:
    """A Trezor of `model` in `state` (with a PIN: `locked` or not): its screen, the
    daemon's `--emulator` path, its device id."""
    if pin is not None:
        seed_safety.typed(pin)
    if where == "firmware":
        emulator = pool.get(model)
        device_id = emulator.load(state, pin=pin, locked=locked)
        yield emulator, emulator.path, device_id
        return
    with start_simulator(
        SIMULATED[model],
        SIMULATED_STATE[state],
        device_id=DEVICE_ID,
        mnemonic=seed_of(model),
        pin=pin,
        locked=locked,
    ) as sim:
        yield sim, sim.path, DEVICE_ID


@pytest.mark.parametrize("where", WHERE)
def test_a_check_declined_on_the_trezor_leaves_the_state_it_found(
    emulator_pool: EmulatorPool, make_daemon: DaemonFactory, where: str
) -> None:
    """No on a core Trezor's first screen ("check your backup?"): the firmware answers
    Failure(ActionCancelled), nothing stays open; the daemon's check is `cancelled` and the
    state is the one it found."""
    with trezor(emulator_pool, where, CORE, "backed_up") as (screen, path, device_id):
        with running(make_daemon(path)):
            owner = OwnerRun(
                screen, "check", "--typed", seed_of(CORE), "--decline-at", "confirm",
                device_id=device_id,
            )  # fmt: skip
            finished = owner.finished()
            assert finished["result"] == "cancelled", owner.output()
            assert "keeps it open" not in finished["message"]
            [device] = get_devices()
            assert (device["State"], device["DryRunInProgress"]) == ("unverified", False)
            assert history(device_id) == [("check", "cancelled")]


@pytest.mark.parametrize("where", WHERE)
def test_no_on_a_model_one_result_screen_keeps_the_verdict(
    emulator_pool: EmulatorPool, make_daemon: DaemonFactory, where: str
) -> None:
    """A Model One's dry run has one screen with buttons, the result, and it is confirm
    only: No there gives the same result as Yes (the PIN and the words are entered on the
    computer, which cancels them)."""
    with trezor(emulator_pool, where, LEGACY, "backed_up") as (screen, path, device_id):
        with running(make_daemon(path)):
            owner = OwnerRun(
                screen, "check", "--typed", seed_of(LEGACY), "--decline-at", "result",
                device_id=device_id,
            )  # fmt: skip
            finished = owner.finished()
            assert '"declining"' in owner.output()
            [device] = get_devices()
            assert (finished["result"], device["State"]) == ("passed", "verified")


@pytest.mark.parametrize("where", WHERE)
def test_a_wrong_pin_in_the_checks_own_pin_check_ends_the_check(
    emulator_pool: EmulatorPool, make_daemon: DaemonFactory, where: str
) -> None:
    """A PIN-protected core Trezor, unlocked, asks its PIN again after "check your
    backup?" (the dry run's own PIN check). A wrong PIN there is not asked again (unlike
    the unlock keyboard): a warning (`warning_wrong_pin`), then Failure(PinInvalid); the
    check is `refused` with the PIN named, nothing stays open and the state stays."""
    with trezor(emulator_pool, where, CORE, "backed_up", pin=TEST_PIN) as (screen, path, dev):
        with running(make_daemon(path)):
            owner = OwnerRun(
                screen, "check", "--typed", seed_of(CORE), "--pin", TEST_PIN,
                "--wrong-pin-at", "1", device_id=dev,
            )  # fmt: skip
            finished = owner.finished()
            assert finished["result"] == "refused", owner.output()
            assert "PIN was not accepted" in finished["message"]
            [device] = get_devices()
            assert (device["State"], device["DryRunInProgress"]) == ("unverified", False)
            assert history(dev) == [("check", "refused")]


@pytest.mark.parametrize("where", WHERE)
def test_cancel_on_the_pin_keyboard_cancels_the_check(
    emulator_pool: EmulatorPool, make_daemon: DaemonFactory, where: str
) -> None:
    """Cancel on the dry run's PIN keyboard: Failure(PinCancelled, "PIN entry cancelled"),
    which trezorlib raises as Cancelled; the check is `cancelled`, nothing stays open and
    the state is the one it found."""
    with trezor(emulator_pool, where, CORE, "backed_up", pin=TEST_PIN) as (screen, path, dev):
        with running(make_daemon(path)):
            owner = OwnerRun(
                screen, "check", "--typed", seed_of(CORE), "--pin", TEST_PIN,
                "--decline-at", "pin", device_id=dev,
            )  # fmt: skip
            finished = owner.finished()
            assert finished["result"] == "cancelled", owner.output()
            assert "keeps it open" not in finished["message"]
            [device] = get_devices()
            assert (device["State"], device["DryRunInProgress"]) == ("unverified", False)
            assert history(dev) == [("check", "cancelled")]


BAD_CHECKSUM12 = " ".join(["abandon"] * 12)
"""Twelve words of the list whose checksum is wrong: no seed at all."""
BAD_CHECKSUM24 = " ".join(["abandon"] * 24)


@pytest.mark.parametrize("where", WHERE)
def test_words_with_a_bad_checksum_are_asked_again_on_a_core_trezor(
    emulator_pool: EmulatorPool, make_daemon: DaemonFactory, where: str
) -> None:
    """Core firmware ends no check on a bad checksum: it warns (`warning_invalid_seed`) and
    asks for the word count again, the dry run still open. So no verdict reaches the
    computer: cancelled there, the check is `cancelled` (kept open on the Trezor) and the
    state stays; `invalid_words` comes only from the Model One."""
    with trezor(emulator_pool, where, CORE, "backed_up") as (screen, path, device_id):
        with running(make_daemon(path)):
            owner = OwnerRun(
                screen, "check", "--typed", BAD_CHECKSUM12, "--cancel-at", "word_count:2",
                device_id=device_id,
            )  # fmt: skip
            finished = owner.finished()
            assert finished["result"] == "cancelled", owner.output()
            assert "keeps it open" in finished["message"]
            [device] = get_devices()
            assert (device["State"], device["DryRunInProgress"]) == ("unverified", True)
            assert history(device_id) == [("check", "cancelled")]


@pytest.mark.parametrize("where", WHERE)
def test_words_with_a_bad_checksum_fail_a_model_one_check(
    emulator_pool: EmulatorPool, make_daemon: DaemonFactory, where: str
) -> None:
    """The Model One takes every word and then refuses them ("Invalid seed"): the check is
    `invalid_words` and the Trezor `check_failed`."""
    with trezor(emulator_pool, where, LEGACY, "backed_up") as (screen, path, device_id):
        with running(make_daemon(path)):
            owner = OwnerRun(screen, "check", "--typed", BAD_CHECKSUM24, device_id=device_id)
            finished = owner.finished()
            [device] = get_devices()
            assert (finished["result"], device["State"]) == ("invalid_words", "check_failed")
            assert history(device_id) == [("check", "invalid_words")]


@pytest.mark.parametrize("where", WHERE)
def test_a_model_one_is_unlocked_with_the_pin_matrix_through_the_agent(
    emulator_pool: EmulatorPool, make_daemon: DaemonFactory, where: str
) -> None:
    """A locked Model One (LockDevice) still tells its backup fields, so its state is read
    while `Locked`; Unlock sends ApplyFlags, the Trezor asks PinMatrixRequest, the owner's
    agent answers with the positions of the digits in the shuffled matrix
    (DebugLinkState.matrix), and the Trezor is unlocked."""
    with trezor(emulator_pool, where, LEGACY, "backed_up", pin=TEST_PIN, locked=True) as (
        screen,
        path,
        device_id,
    ):
        with running(make_daemon(path)):
            [device] = get_devices()
            assert (device["State"], device["Locked"]) == ("unverified", True)
            owner = OwnerRun(screen, "unlock", "--pin", TEST_PIN, device_id=device_id)
            finished = owner.finished()
            assert (finished["kind"], finished["result"]) == ("unlock", "completed"), owner.output()
            assert '"what": "pin"' in owner.output()
            [device] = get_devices()
            assert (device["State"], device["Locked"]) == ("unverified", False)


@contextmanager
def single_share_trezor(
    pool: EmulatorPool, where: str, share: str
) -> Iterator[tuple[ScreenOfTrezor, str, str]]:
    """A core Trezor whose wallet is one extendable SLIP-39 share (a Safe's default)."""
    seed_safety.typed(share)
    if where == "simulator":
        with start_simulator(
            SIMULATED[CORE], "backed_up", device_id=DEVICE_ID, slip39_share=share
        ) as sim:
            yield sim, sim.path, DEVICE_ID
        return
    emulator = pool.get(CORE)
    with emulator.setup_client() as context:
        session = context.client.get_session(passphrase=None)
        if context.features.initialized:
            device.wipe(session)
            context.client.refresh_features()
            session = context.client.get_session(passphrase=None)
        debuglink.load_device(
            session, share, pin=None, passphrase_protection=False, label="emulated share"
        )
        features = context.client.refresh_features()
    assert features.backup_type == messages.BackupType.Slip39_Single_Extendable, features
    assert features.device_id is not None
    yield emulator, emulator.path, features.device_id


@pytest.mark.parametrize("where", WHERE)
def test_an_extra_backup_unlocked_elsewhere_outlives_the_daemons_reads_and_starts_here(
    emulator_pool: EmulatorPool, make_daemon: DaemonFactory, where: str
) -> None:
    """Another program unlocks a repeated backup with the single share (recorded e5a);
    the daemon's reads (GetFeatures) and its own session (Initialize, no Cancel) leave it
    unlocked: StartBackup, with no groups given, gets to the words of the first new share
    (the owner stops there; a Safe 5's 20-word share screens are not read by the owner
    script yet). Cancelled, the unlock is gone (recorded e5d) and nothing failed."""
    share = single_share()
    with single_share_trezor(emulator_pool, where, share) as (screen, path, device_id):
        with running(make_daemon(path)):
            [device] = get_devices()
            assert device["State"] == "unverified"
            wire, debug = HostPort(screen.debug_port - 1), HostPort(screen.debug_port)
            try:
                unlock = messages.RecoveryDevice(type=messages.RecoveryType.UnlockRepeatedBackup)
                unlocked = run_flow(wire, unlock, owner_at_device(debug, share.split()))
            finally:
                wire.close()
                debug.close()
            assert isinstance(unlocked, messages.Success), unlocked
            [read] = refreshed_devices()
            assert read["state"] == "extra_backup_unlocked"
            [read] = refreshed_devices()  # read twice: still there
            assert read["state"] == "extra_backup_unlocked"
            owner = OwnerRun(
                screen, "backup", "--typed", share, "--cancel-at", "show_words",
                device_id=device_id,
            )  # fmt: skip
            finished = owner.finished()
            assert (finished["kind"], finished["result"]) == ("backup", "cancelled"), owner.output()
            [device] = get_devices()
            assert device["State"] == "unverified"
            assert history(device_id) == [("backup", "cancelled")]
