"""The Safe 7 (THP) through the daemon, on the official firmware and on the simulator side by
side (docs/firmware-facts.md names each test): what a wipe by another program does to the
daemon's pairing, and the daemon's own dry-run check typed on the Trezor.

Each scenario runs twice, `firmware` (the official debug emulator, official_emulators.py) and
`simulator` (trezor-backup-sim): the daemon, the keyring and the owner are the same, and so
must be what they end with; where they differ, the firmware is right.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from trezorlib import device

import seed_safety
from conftest import DaemonFactory
from harness import DEVICE_ID, OwnerRun, ScreenOfTrezor, get_devices, history, running
from official_emulators import SAFE7, EmulatorPool, wire_client
from seed_safety import MNEMONIC12
from sim_helpers import start_simulator
from test_thp_daemon import kept_credentials, keyring, known_ids, pair_through_the_cli, refresh

WHERE = ["firmware", "simulator"]
ZOO12 = " ".join(["zoo"] * 11 + ["wrong"])
"""Another valid 12-word seed (zoo x11 + wrong: a right checksum), not the loaded one."""


@contextmanager
def safe7(
    pool: EmulatorPool, where: str, state: str = "backed_up"
) -> Iterator[tuple[ScreenOfTrezor, str, str]]:
    """A Safe 7 in `state` loaded with MNEMONIC12: its screen, the daemon's `--emulator`
    path, its device id. The simulator advertises the debug build's pairing methods, as the
    emulator does, so another program may skip pairing on both."""
    if where == "firmware":
        emulator = pool.get(SAFE7)
        device_id = emulator.load(state)
        yield emulator, emulator.path, device_id
        return
    with start_simulator("safe7", state, device_id=DEVICE_ID, mnemonic=MNEMONIC12) as sim:
        yield sim, sim.path, DEVICE_ID


@pytest.mark.parametrize("where", WHERE)
def test_a_safe7_wiped_by_another_program_loses_its_pairing_through_the_daemon(
    emulator_pool: EmulatorPool, make_daemon: DaemonFactory, secret_service: Path, where: str
) -> None:
    """Issue 13's wipe rule: a Safe 7 paired and read by the daemon, then wiped over the
    wire by another program while it stays plugged in (recorded f2: the old channel is gone,
    the Trezor's static key is new, the handshake answers UNPAIRED). The daemon's next read
    shows `pairing_required`, the dead pairing leaves the keyring, and the Trezor it was
    stays remembered."""
    store = keyring()
    with safe7(emulator_pool, where) as (screen, path, device_id):
        with running(make_daemon(path)) as daemon:
            output = pair_through_the_cli(screen)
            assert output.startswith("exit 0"), output
            assert kept_credentials(store) == 1
            refresh()  # the read after the pairing may still run when the CLI ends
            [device_read] = get_devices()
            assert (device_read["State"], device_read["Id"]) == ("unverified", device_id)
            # Another program (as the vectors' f2 recorder) on its own THP channel.
            with wire_client(screen.debug_port - 1) as other:
                device.wipe(other.client.get_session(passphrase=None))
            refresh()
            [device_read] = get_devices()
            assert device_read["State"] == "pairing_required", device_read
            assert kept_credentials(store) == 0
            assert device_id in known_ids()
            assert "no longer knows this computer (wiped)" in daemon.log(), daemon.log()
            seed_safety.assert_no_secret(output, daemon.log())


@pytest.mark.parametrize("typed", ["right", "wrong"])
@pytest.mark.parametrize("where", WHERE)
def test_a_safe7_check_typed_on_the_trezor_passes_or_fails(
    emulator_pool: EmulatorPool,
    make_daemon: DaemonFactory,
    secret_service: Path,
    where: str,
    typed: str,
) -> None:
    """Paired, the daemon's own StartCheck over THP (recorded d1, d2): the words typed on
    the Trezor's keyboard; the right ones pass (`verified`), another valid seed is a
    mismatch (`check_failed`)."""
    keyring()
    words = MNEMONIC12 if typed == "right" else ZOO12
    with safe7(emulator_pool, where) as (screen, path, device_id):
        with running(make_daemon(path)):
            assert pair_through_the_cli(screen).startswith("exit 0")
            refresh()
            assert [d["State"] for d in get_devices()] == ["unverified"]
            owner = OwnerRun(screen, "check", "--typed", words, device_id=device_id)
            finished = owner.finished()
            expected = ("passed", "verified") if typed == "right" else ("mismatch", "check_failed")
            [device_read] = get_devices()
            assert (finished["result"], device_read["State"]) == expected, owner.output()
            assert history(device_id) == [("check", expected[0])]
