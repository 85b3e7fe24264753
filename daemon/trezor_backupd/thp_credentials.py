"""THP pairing credentials of Safe 7s, kept in the session's Secret Service (gnome-keyring).

A credential (`host_privkey`, `trezor_pubkey`, `credential`) is this computer's identity
towards one Trezor: whoever holds it connects to that Trezor without a code (an autoconnect
credential without a confirmation either) and can then ask it for what any paired app can.
So it is kept only where the desktop keeps secrets, through `secretstorage`, one item per
Trezor keyed by the Trezor's static public key (public: trezorlib needs it to pick the
credential), the two secret parts in the item's secret. Never in the history database, a log,
a D-Bus property or an error text. When there is no Secret Service, or its keyring is locked,
nothing is stored anywhere else: pairing is refused with a sentence saying why.

Blocking (the Secret Service is a D-Bus round trip): call from a worker thread.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

LOG = logging.getLogger(__name__)

APPLICATION = "io.github.TrezorBackupGuard"
KIND = "thp-credential"
ITEM_LABEL = "Trezor Backup Guard: pairing with a Trezor Safe 7"


class SecretServiceUnavailable(Exception):
    """No usable Secret Service. The text is a sentence for the owner; it names no secret."""


@dataclass(frozen=True)
class Pairing:
    """One Trezor's credential (trezorlib's `Credential`: it connects with it) and the
    `device_id` the Trezor reported once paired ("" when it did not say).

    The secret parts stay out of the repr, so that no traceback or assertion prints them.
    """

    trezor_pubkey: bytes
    host_privkey: bytes = field(repr=False)
    credential: bytes = field(repr=False)
    device_id: str


UNLOCK_PROMPT_SECONDS = 120.0
"""How long the keyring's unlock prompt may wait for the owner during an operation they
started; without this bound secretstorage would hold the operation's thread for ever."""


class CredentialStore:
    """The Safe 7 credentials of this computer in the session's Secret Service.

    `may_prompt`: the owner asked for something (a pairing, a check): a locked keyring may ask
    them to unlock it. A status read at plug-in or a removal in the background never prompts:
    a dialog nobody asked for, and a read held until someone answers it. Nothing here ever
    creates a keyring: that is the desktop's business (doctor names how).
    """

    def __init__(self, *, may_prompt: bool = False) -> None:
        self._may_prompt = may_prompt

    @contextmanager
    def _collection(self) -> Iterator[Any]:
        """The default collection, unlocked, on a connection of its own."""
        try:
            import secretstorage
            from secretstorage import exceptions as secret_errors
        except ImportError as error:
            raise SecretServiceUnavailable(
                "The Python package secretstorage is missing: pairing credentials can only be "
                "kept in the desktop's keyring through it (Debian: python3-secretstorage)."
            ) from error
        try:
            connection = secretstorage.dbus_init()
        except Exception as error:
            raise SecretServiceUnavailable(
                "There is no session bus to reach a keyring on: pairing credentials can only "
                "be kept in the desktop's keyring (gnome-keyring or KWallet)."
            ) from error
        try:
            try:
                collection = secretstorage.Collection(connection)  # the "default" alias
                if collection.is_locked() and self._may_prompt:
                    collection.unlock(timeout=UNLOCK_PROMPT_SECONDS)
                if collection.is_locked():
                    raise SecretServiceUnavailable(
                        "The desktop's keyring is locked: unlock it (log in again, or open "
                        "it in the keyring manager), then pair again."
                    )
            except secret_errors.SecretServiceNotAvailableException as error:
                raise SecretServiceUnavailable(
                    "No keyring (Secret Service: gnome-keyring or KWallet) runs in this "
                    "session: pairing credentials are kept only there, so the Safe 7 "
                    "cannot be paired. Start one (e.g. install gnome-keyring) and pair again."
                ) from error
            except secret_errors.PromptDismissedException as error:
                raise SecretServiceUnavailable(
                    "The desktop's keyring stayed locked (its prompt was closed): unlock it, "
                    "then try again."
                ) from error
            except secret_errors.ItemNotFoundException as error:
                raise SecretServiceUnavailable(
                    "The desktop's keyring service has no default keyring, where pairings are "
                    "kept: create one (Passwords and Keys, or KWallet Manager), then pair again."
                ) from error
            except TimeoutError as error:
                raise SecretServiceUnavailable(
                    "The desktop's keyring stayed locked: unlock it when it asks, then try again."
                ) from error
            except secret_errors.SecretStorageException as error:
                raise SecretServiceUnavailable(
                    f"The desktop's keyring refused access ({type(error).__name__})."
                ) from error
            yield collection
        finally:
            connection.close()

    def check_available(self) -> None:
        """Raise SecretServiceUnavailable unless a credential could be stored now."""
        with self._collection():
            pass

    def credentials(self) -> list[Pairing]:
        """Every stored pairing (trezorlib picks the one of the Trezor it talks to)."""
        found: list[Pairing] = []
        with self._collection() as collection:
            for item in collection.search_items({"application": APPLICATION, "type": KIND}):
                try:
                    parts = json.loads(item.get_secret())
                    attributes = item.get_attributes()
                    found.append(
                        Pairing(
                            trezor_pubkey=bytes.fromhex(attributes["trezor_pubkey"]),
                            host_privkey=bytes.fromhex(parts["host_privkey"]),
                            credential=bytes.fromhex(parts["credential"]),
                            device_id=attributes.get("device_id", ""),
                        )
                    )
                except (ValueError, KeyError, TypeError):
                    LOG.warning("A damaged pairing credential in the keyring is ignored")
        return found

    def store(self, pairing: Pairing) -> None:
        """Keep the pairing of one Trezor, replacing an older one of the same Trezor."""
        parts = {
            "host_privkey": pairing.host_privkey.hex(),
            "credential": pairing.credential.hex(),
        }
        secret = json.dumps(parts).encode()
        attributes = self._of_trezor(pairing.trezor_pubkey)
        with self._collection() as collection:
            # One item per Trezor: an item of an earlier pairing under another device id
            # (the same key) goes first, as `replace` only matches identical attributes.
            for item in collection.search_items(attributes):
                item.delete()
            if pairing.device_id:
                attributes["device_id"] = pairing.device_id
            collection.create_item(ITEM_LABEL, attributes, secret)

    def forget(self, trezor_pubkey: bytes) -> bool:
        """Drop the pairing of the Trezor with this static key (the Trezor refused it);
        whether there was one."""
        return self._delete(self._of_trezor(trezor_pubkey))

    def forget_device(self, device_id: str) -> bool:
        """Drop the pairing of the Trezor with this device id (it was wiped, or the owner
        unpairs or forgets it); whether there was one."""
        if not device_id:
            return False  # an item without a device id is not this one
        return self._delete({"application": APPLICATION, "type": KIND, "device_id": device_id})

    def _delete(self, attributes: dict[str, str]) -> bool:
        with self._collection() as collection:
            items = list(collection.search_items(attributes))
            for item in items:
                item.delete()
        return bool(items)

    @staticmethod
    def _of_trezor(trezor_pubkey: bytes) -> dict[str, str]:
        return {"application": APPLICATION, "type": KIND, "trezor_pubkey": trezor_pubkey.hex()}
