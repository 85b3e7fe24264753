"""The daemon's THP layer (thp_session) against the Safe 7 simulator: pair, read, refuse."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from trezorlib import messages
from trezorlib.transport.udp import UdpTransport

from trezor_backupd.device import thp_session
from trezor_backupd.device.device_io import FeaturesReadError, ReadProblem, read_features
from trezor_backupd.store.thp_credentials import CredentialStore

import seed_safety
from sim_helpers import HOST, HostPort, Simulator, start_simulator

SECRET = "6b" * 32
PIN = "4321"


@contextmanager
def safe7(**options: Any) -> Iterator[tuple[Simulator, HostPort]]:
    with start_simulator("safe7", "backed_up", thp_secret=SECRET, **options) as sim:
        debug = HostPort(sim.debug_port)
        try:
            yield sim, debug
        finally:
            debug.close()


def transport(sim: Simulator) -> UdpTransport:
    return UdpTransport(f"{HOST}:{sim.port}")


def owner(debug: HostPort, answers: list[bool]) -> Callable[[messages.ButtonRequest], None]:
    """The owner on the Trezor: answers each confirmation in turn (then yes)."""

    def press(_request: messages.ButtonRequest) -> None:
        yes = answers.pop(0) if answers else True
        button = messages.DebugButton.YES if yes else messages.DebugButton.NO
        debug.send(messages.DebugLinkDecision(button=button))
        debug.call(messages.DebugLinkGetState())

    return press


def shown_code(debug: HostPort, wrong: bool = False) -> Callable[[], str]:
    """What the owner types: the code the Trezor shows (or one off by one)."""

    def read() -> str:
        info = debug.call(messages.DebugLinkGetPairingInfo())
        assert isinstance(info, messages.DebugLinkPairingInfo)
        code = f"{(info.code_entry_code or 0) + wrong:06}"
        seed_safety.typed(code)
        return code

    return read


def test_pairing_gives_an_autoconnect_credential_that_reads_silently() -> None:
    with safe7() as (sim, debug):
        with pytest.raises(thp_session.NotPaired):
            thp_session.read_features(transport(sim), [])
        asked: list[str | None] = []
        press = owner(debug, [])

        def button(request: messages.ButtonRequest) -> None:
            asked.append(request.name)
            press(request)

        credential = thp_session.pair(transport(sim), shown_code(debug), button)
        seed_safety.binary_secrets(credential.host_privkey, credential.credential)
        # The first channel is still open: no connection dialog, only the autoconnect one.
        assert asked == ["thp_pairing_request", "thp_autoconnect_credential_request"]
        assert sim.control("power-cycle") == sim.ready_line
        features = thp_session.read_features(transport(sim), [credential])
        assert (features.model, features.unlocked) == ("Safe 7", True)


def test_a_wrong_code_or_a_refusal_ends_without_a_credential() -> None:
    with safe7() as (sim, debug):
        with pytest.raises(thp_session.PairingFailed, match="did not match"):
            thp_session.pair(transport(sim), shown_code(debug, wrong=True), owner(debug, []))
        with pytest.raises(thp_session.PairingFailed, match="refused on the Trezor"):
            thp_session.pair(transport(sim), shown_code(debug), owner(debug, [False]))
        with pytest.raises(thp_session.PairingFailed, match="without asking was refused"):
            thp_session.pair(transport(sim), shown_code(debug), owner(debug, [True, False]))


def test_a_locked_trezor_is_not_asked_to_unlock_by_a_read() -> None:
    with safe7(pin=PIN) as (sim, debug):
        seed_safety.typed(PIN)
        credential = thp_session.pair(transport(sim), shown_code(debug), owner(debug, []))
        seed_safety.binary_secrets(credential.host_privkey, credential.credential)
        with thp_session.connected(transport(sim), [credential]) as client:
            thp_session.session_of(client).call(messages.LockDevice())
        with pytest.raises(thp_session.DeviceLocked):
            thp_session.read_features(transport(sim), [credential])


def test_the_status_read_pairs_nothing_and_reads_a_paired_trezor(secret_service: Path) -> None:
    """device_io: a Safe 7 answers protocol v1 with InvalidProtocol; then THP, with the
    credential from the keyring; without one it is `pairing_required`, never a dialog."""
    store = CredentialStore()
    with safe7() as (sim, debug):
        with pytest.raises(FeaturesReadError) as caught:
            read_features(transport(sim))
        assert caught.value.problem is ReadProblem.PAIRING_REQUIRED
        assert not caught.value.transient and "paired" in caught.value.explanation
        credential = thp_session.pair(transport(sim), shown_code(debug), owner(debug, []))
        seed_safety.binary_secrets(credential.host_privkey, credential.credential)
        store.store(credential)
        try:
            assert sim.control("power-cycle") == sim.ready_line
            features = read_features(transport(sim))
            assert (features.model, features.initialized) == ("Safe 7", True)
        finally:
            store.forget(credential.trezor_pubkey)


def test_a_silent_trezor_ends_the_status_read_instead_of_hanging_it() -> None:
    """trezorlib waits forever for a reply; the status read gives up (the tracker then
    reports the Trezor as not answering)."""
    from trezorlib.transport import Timeout

    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind((HOST, 0))
    try:
        port = silent.getsockname()[1]
        with pytest.raises(Timeout):
            thp_session.read_features(UdpTransport(f"{HOST}:{port}"), [], timeout=0.3)
    finally:
        silent.close()
