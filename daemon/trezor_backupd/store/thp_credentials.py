"""THP pairing credentials of Safe 7s, kept in the session's Secret Service (gnome-keyring).

A credential (`host_privkey`, `trezor_pubkey`, `credential`) is this computer's identity
towards one Trezor: whoever holds it connects to that Trezor without a code (an autoconnect
credential without a confirmation either) and can then ask it for what any paired app can.
So it is kept only where the desktop keeps secrets, through `secretstorage`, one item per
Trezor keyed by the Trezor's static public key (public: trezorlib needs it to pick the
credential), the two secret parts in the item's secret. Never in the history database, a log,
a D-Bus property or an error text. When there is no Secret Service, or its keyring is locked,
nothing is stored anywhere else: pairing is refused with a sentence saying why. The sentences
end in "try again", as they reach a pairing, a read, an unpair and a ForgetDevice alike.

Blocking (the Secret Service is a D-Bus round trip): call from a worker thread.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from trezor_backup_api.i18n import N_, Sentence

LOG = logging.getLogger(__name__)

APPLICATION = "io.github.TrezorBackupGuard"
KIND = "thp-credential"
ITEM_LABEL = "Trezor Backup Guard: pairing with a Trezor Safe 7"


class SecretServiceUnavailable(Exception):
    """No usable Secret Service: a keyring that may hold pairings is locked, refused access,
    or failed while in use. `sentence` is for the owner (the text is its English); it names
    no secret."""

    def __init__(self, sentence: Sentence) -> None:
        super().__init__(sentence.english())
        self.sentence = sentence


class NoKeyring(SecretServiceUnavailable):
    """There is no keyring at all (no Secret Service on the bus, nor one it could start; or
    no default keyring): nothing reachable can hold a pairing, so there is nothing to unlock
    or to remove either. One that fails to start or to answer is not this."""


_SERVICE_UNKNOWN = "org.freedesktop.DBus.Error.ServiceUnknown"


_LOCKED = Sentence(
    N_(
        "The desktop's keyring is locked: unlock it (log in again, or open it in the keyring "
        "manager), then try again."
    )
)
_IS_LOCKED = "org.freedesktop.Secret.Error.IsLocked"
"""The Secret Service's error for an item whose keyring was locked after it was found."""


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
        """The default collection, unlocked, on a connection of its own.

        Every failure of the Secret Service, while opening it or inside the with-block (the
        keyring locked or gnome-keyring gone in between, an item deleted meanwhile), comes
        out as SecretServiceUnavailable: callers handle that one exception, and no
        secretstorage or D-Bus error text (which might quote an item) reaches them.
        """
        try:
            import secretstorage
            from jeepney.wrappers import DBusErrorResponse
            from secretstorage import exceptions as secret_errors
        except ImportError as error:  # a broken installation, not a missing keyring
            raise SecretServiceUnavailable(
                Sentence(
                    N_(
                        "The Python package secretstorage is missing: Safe 7 pairings can only "
                        "be kept in the desktop's keyring through it (Debian: "
                        "python3-secretstorage)."
                    )
                )
            ) from error
        try:
            connection = secretstorage.dbus_init()
        except Exception as error:
            raise SecretServiceUnavailable(
                Sentence(
                    N_(
                        "There is no session bus to reach the desktop's keyring on, where "
                        "Safe 7 pairings are kept: try again in a desktop session."
                    )
                )
            ) from error
        try:
            collection = self._unlocked_default(connection)
            try:
                yield collection
            except (secret_errors.SecretStorageException, DBusErrorResponse, OSError) as error:
                if isinstance(error, secret_errors.LockedException) or (
                    isinstance(error, DBusErrorResponse) and error.name == _IS_LOCKED
                ):
                    raise SecretServiceUnavailable(_LOCKED) from error
                raise SecretServiceUnavailable(
                    Sentence(
                        N_("The desktop's keyring failed while in use ({error}): try again."),
                        {"error": type(error).__name__},
                    )
                ) from error
        finally:
            connection.close()

    def _unlocked_default(self, connection: Any) -> Any:
        """The "default" collection: NoKeyring when there is none, SecretServiceUnavailable
        when it stays locked (it is unlocked only when this store may prompt)."""
        import secretstorage
        from jeepney.wrappers import DBusErrorResponse
        from secretstorage import exceptions as secret_errors

        did_not_answer = Sentence(
            N_("The desktop's keyring did not answer: try again in a moment.")
        )
        try:
            collection = secretstorage.Collection(connection)  # the "default" alias
            if collection.is_locked() and self._may_prompt:
                collection.unlock(timeout=UNLOCK_PROMPT_SECONDS)
            if collection.is_locked():
                raise SecretServiceUnavailable(_LOCKED)
        except secret_errors.SecretServiceNotAvailableException as error:
            if getattr(error.__cause__, "name", "") != _SERVICE_UNKNOWN:
                # It exists but failed to start or to answer (a keyring still starting at
                # login): a pairing may well be kept there.
                raise SecretServiceUnavailable(did_not_answer) from error
            raise NoKeyring(
                Sentence(
                    N_(
                        "No keyring (Secret Service: gnome-keyring or KWallet) runs in this "
                        "session, and Safe 7 pairings are kept only there: start one (e.g. "
                        "install gnome-keyring), then try again."
                    )
                )
            ) from error
        except secret_errors.PromptDismissedException as error:
            raise SecretServiceUnavailable(
                Sentence(
                    N_(
                        "The desktop's keyring stayed locked (its prompt was closed): unlock "
                        "it, then try again."
                    )
                )
            ) from error
        except secret_errors.ItemNotFoundException as error:
            raise NoKeyring(
                Sentence(
                    N_(
                        "The desktop's keyring service has no default keyring, where pairings "
                        "are kept: create one (Passwords and Keys, or KWallet Manager), then "
                        "try again."
                    )
                )
            ) from error
        except TimeoutError as error:
            raise SecretServiceUnavailable(
                Sentence(
                    N_(
                        "The desktop's keyring stayed locked: unlock it when it asks, then try "
                        "again."
                    )
                )
            ) from error
        except secret_errors.SecretStorageException as error:
            raise SecretServiceUnavailable(
                Sentence(
                    N_("The desktop's keyring refused access ({error}): try again."),
                    {"error": type(error).__name__},
                )
            ) from error
        except DBusErrorResponse as error:  # e.g. Spawn.ChildExited: it could not start
            raise SecretServiceUnavailable(did_not_answer) from error
        return collection

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
