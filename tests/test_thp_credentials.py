"""Safe 7 pairing credentials in a real Secret Service (gnome-keyring on the test bus): one
item per Trezor, labelled with its device id, forgotten by its key or by its id."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path

import pytest
import secretstorage
from trezorlib.transport.udp import UdpTransport

from trezor_backup_api.vocabulary import Outcome
from trezor_backupd.device.device_ops import DeviceOperation
from trezor_backupd.device_values import Progress
from trezor_backupd.store.thp_credentials import (
    CredentialStore,
    NoKeyring,
    Pairing,
    SecretServiceUnavailable,
)

import seed_safety
from harness import BusMonitor, custom_bus
from keyring_helpers import SECRETS, gnome_keyring, lock_login_keyring, unlock_login_keyring
from test_problems_named import ActivatingBus


def _pairing(trezor_pubkey: bytes, device_id: str) -> Pairing:
    pairing = Pairing(
        trezor_pubkey=trezor_pubkey,
        host_privkey=secrets.token_bytes(32),
        credential=secrets.token_bytes(68),
        device_id=device_id,
    )
    seed_safety.binary_secrets(pairing.host_privkey, pairing.credential)
    return pairing


def test_credentials_are_kept_per_trezor_and_forgotten(secret_service: Path) -> None:
    store = CredentialStore()
    store.check_available()
    for earlier in store.credentials():  # other tests' pairings
        store.forget(earlier.trezor_pubkey)
    first, second = _pairing(b"\x01" * 32, "AAAA"), _pairing(b"\x02" * 32, "BBBB")
    store.store(first)
    store.store(second)
    # A new pairing of the same Trezor replaces the old one, whatever id it reported.
    newer = _pairing(b"\x01" * 32, "CCCC")
    store.store(newer)
    kept = {c.trezor_pubkey: c for c in store.credentials()}
    assert sorted(kept) == [b"\x01" * 32, b"\x02" * 32]
    # Compared, never shown (and the repr leaves out the secret parts).
    assert kept[b"\x01" * 32] == newer, "not replaced"
    assert kept[b"\x02" * 32] == second, "second credential changed"
    assert newer.host_privkey.hex() not in repr(newer) and newer.credential.hex() not in repr(newer)
    assert not store.forget_device("AAAA"), "the replaced pairing's id still names an item"
    assert store.forget_device("CCCC") and not store.forget_device("CCCC")
    assert [c.device_id for c in store.credentials()] == ["BBBB"]
    assert not store.forget_device(""), "an empty id names no Trezor"
    assert store.forget(b"\x02" * 32) and not store.forget(b"\x02" * 32)
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
            store.store(_pairing(b"\x03" * 32, "DDDD"))
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
    assert result.message.startswith("This Trezor cannot be paired now. No keyring"), result
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


def _secret_service(method: str, *arguments: str) -> None:
    subprocess.run(
        ["gdbus", "call", "--session", "--dest", SECRETS, "--object-path",
         "/org/freedesktop/secrets", "--method", f"org.freedesktop.Secret.Service.{method}",
         *arguments],
        check=True, capture_output=True,
    )  # fmt: skip


def _keyring_calls(read: Callable[[], object]) -> list[str]:
    """What `read` asked the Secret Service to do beyond reading (Unlock, CreateCollection),
    seen on the bus, then the sentence it was refused with."""
    service = "interface='org.freedesktop.Secret.Service'"
    with BusMonitor(f"type='method_call',{service}") as monitor:
        with pytest.raises(SecretServiceUnavailable) as refused:
            read()
        _secret_service("ReadAlias", "end-of-read")  # every earlier call is printed before it
        monitor.wait_for(lambda line: "end-of-read" in line)
    seen = " ".join(monitor.reader.seen)
    asked = [member for member in ("Unlock", "CreateCollection") if f"member={member}" in seen]
    return [*asked, str(refused.value)]


def test_a_status_read_neither_prompts_nor_creates_a_keyring(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read at plug-in must not pop up a keyring dialog nobody asked for (and wait on it):
    a locked keyring and a missing one are each a sentence, with no Unlock or CreateCollection
    sent to the Secret Service."""
    with custom_bus(tmp_path, f"unix:path={tmp_path}/bus") as address:
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
        with gnome_keyring(tmp_path / "new-home", address):  # never logged in: no keyring
            assert _keyring_calls(CredentialStore().credentials) == [
                "The desktop's keyring service has no default keyring, where pairings are kept: "
                "create one (Passwords and Keys, or KWallet Manager), then try again."
            ]
        with gnome_keyring(tmp_path / "login-home", address, "test-password"):
            lock_login_keyring()
            [sentence] = _keyring_calls(CredentialStore().credentials)
            assert sentence.startswith("The desktop's keyring is locked: unlock it")


def test_no_keyring_at_all_is_told_apart_from_a_locked_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ForgetDevice forgets a Safe 7 when no keyring could hold its pairing (NoKeyring), and
    refuses while one that may hold it is locked."""
    with custom_bus(tmp_path, f"unix:path={tmp_path}/bus") as address:
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
        with pytest.raises(NoKeyring):
            CredentialStore().forget_device("AAAA")  # no Secret Service
        with gnome_keyring(tmp_path / "new-home", address):
            with pytest.raises(NoKeyring):
                CredentialStore().forget_device("AAAA")  # no default keyring
        with gnome_keyring(tmp_path / "login-home", address, "test-password"):
            lock_login_keyring()
            with pytest.raises(SecretServiceUnavailable) as locked:
                CredentialStore().forget_device("AAAA")
            assert not isinstance(locked.value, NoKeyring)


def _read_when(meanwhile: Callable[[], object], monkeypatch: pytest.MonkeyPatch) -> str:
    """The sentence CredentialStore.credentials() is refused with when `meanwhile` happens
    after the keyring was found unlocked, just before an item's secret is read."""
    read_secret = secretstorage.Item.get_secret

    def late(item: secretstorage.Item) -> bytes:
        meanwhile()
        return read_secret(item)

    with monkeypatch.context() as patch:
        patch.setattr(secretstorage.Item, "get_secret", late)
        with pytest.raises(SecretServiceUnavailable) as refused:
            CredentialStore().credentials()
    return str(refused.value)


def test_the_keyring_failing_while_in_use_is_a_sentence_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Locked between the check that it is unlocked and the read of an item, or an item
    deleted meanwhile by another program: SecretServiceUnavailable, the one exception a
    reader handles (a secretstorage exception would end the daemon's read task), with no
    secret in its text."""
    password = "test-password"
    with custom_bus(tmp_path, f"unix:path={tmp_path}/bus") as address:
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
        with gnome_keyring(tmp_path / "home", address, password):
            store = CredentialStore()
            pairing = _pairing(b"\x04" * 32, "EEEE")
            store.store(pairing)
            locked = _read_when(lock_login_keyring, monkeypatch)
            assert locked.startswith("The desktop's keyring is locked: unlock it"), locked
            unlock_login_keyring(password)
            deleted = _read_when(lambda: store.forget(pairing.trezor_pubkey), monkeypatch)
            assert deleted.startswith("The desktop's keyring failed while in use"), deleted
            assert store.credentials() == []
    seed_safety.assert_no_secret(locked, deleted)


def test_a_keyring_that_fails_to_start_is_not_taken_for_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One D-Bus would start but cannot (a keyring still starting, a broken one) may hold a
    pairing: it is "cannot be used now", never NoKeyring, which would show a paired Safe 7 as
    not paired and forget a remembered one's pairing as if none could exist."""
    bus = ActivatingBus(tmp_path)
    try:
        bus.service(SECRETS, "/bin/false")
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", bus.address)
        with pytest.raises(SecretServiceUnavailable) as refused:
            CredentialStore().credentials()
    finally:
        os.kill(bus.pid, signal.SIGTERM)
    assert not isinstance(refused.value, NoKeyring)
    assert str(refused.value) == "The desktop's keyring did not answer: try again in a moment."
