"""Safe 7 pairing credentials in a real Secret Service (gnome-keyring on the test bus)."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from trezorlib.thp.credentials import StaticCredential

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
