"""Safe 7 pairing credentials in a real Secret Service (gnome-keyring on the test bus)."""

from __future__ import annotations

import secrets
import socket
from contextlib import nullcontext
from pathlib import Path

import pytest
from trezorlib.thp.credentials import StaticCredential
from trezorlib.transport.udp import UdpTransport

from trezor_backup_api.vocabulary import Outcome
from trezor_backupd.device_ops import DeviceOperation
from trezor_backupd.device_values import Progress
from trezor_backupd.thp_credentials import CredentialStore, SecretServiceUnavailable

import seed_safety
from harness import custom_bus


def _credential(trezor_pubkey: bytes) -> StaticCredential:
    credential = StaticCredential(
        trezor_pubkey=trezor_pubkey,
        host_privkey=secrets.token_bytes(32),
        credential=secrets.token_bytes(68),
    )
    seed_safety.binary_secrets(credential.host_privkey, credential.credential)
    return credential


def test_credentials_are_kept_per_trezor_and_forgotten(secret_service: Path) -> None:
    store = CredentialStore()
    store.check_available()
    for earlier in store.credentials():  # other tests' pairings
        store.forget(earlier.trezor_pubkey)
    first, second = _credential(b"\x01" * 32), _credential(b"\x02" * 32)
    store.store(first)
    store.store(second)
    newer = _credential(b"\x01" * 32)
    store.store(newer)  # a new pairing of the same Trezor replaces the old credential
    kept = {c.trezor_pubkey: c for c in store.credentials()}
    # Compared, never shown: a failing assert would print the secrets.
    assert sorted(kept) == [b"\x01" * 32, b"\x02" * 32]
    assert kept[b"\x01" * 32] is not None and kept[b"\x01" * 32] == newer, "not replaced"
    assert kept[b"\x02" * 32] == second, "second credential changed"
    store.forget(b"\x01" * 32)
    store.forget(b"\x02" * 32)
    assert not store.credentials(), "credentials left after forget"


def test_without_a_secret_service_nothing_is_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bus where nothing provides org.freedesktop.secrets: a sentence, and no fallback."""
    with custom_bus(tmp_path, f"unix:path={tmp_path}/bus") as address:
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
        store = CredentialStore()
        with pytest.raises(SecretServiceUnavailable, match="No keyring"):
            store.check_available()
        with pytest.raises(SecretServiceUnavailable):
            store.store(_credential(b"\x03" * 32))
    assert [p.name for p in tmp_path.iterdir() if p.name != "bus"] == ["bus.conf"]


def test_pairing_without_a_secret_service_is_refused_before_the_trezor_is_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Device1.Pair()'s workflow: the keyring is checked first; the Trezor hears nothing."""
    trezor = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    trezor.bind(("127.0.0.1", 0))
    trezor.settimeout(0.2)
    port = trezor.getsockname()[1]
    progress: list[Progress] = []
    with custom_bus(tmp_path, f"unix:path={tmp_path}/bus") as address:
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
        work = DeviceOperation(
            UdpTransport(f"127.0.0.1:{port}"), nullcontext, _NoHost(), progress.append
        )
        result = work.pair()
    assert result.outcome == Outcome.REFUSED
    assert "No keyring" in result.message and "cannot be paired" in result.message
    assert progress == []
    with pytest.raises(TimeoutError):
        trezor.recv(64)
    trezor.close()


class _NoHost:
    """Host input that must not be asked."""

    def pin(self, kind: str) -> str:
        raise AssertionError("asked for a PIN")

    def word(self, kind: str) -> str:
        raise AssertionError("asked for a word")

    def word_count(self) -> int:
        raise AssertionError("asked for a word count")

    def pairing_code(self) -> str:
        raise AssertionError("asked for a pairing code")
