"""Talking to a Safe 7 over THP: the status read, pairing, and a session for an operation.

Blocking trezorlib calls for a worker thread, like device_io and device_ops. A Safe 7
answers protocol v1 with `Failure(InvalidProtocol)`; from then on it is spoken to through
trezorlib's `TrezorClientThp` (not `get_client()`, whose probe sends a v1 Cancel first).

Recorded on the official firmware 2.10.0 (tests/vectors/safe7-2.10.0):
- A host without a matching credential gets `trezor_state` UNPAIRED and can do nothing but
  pair (any other message fails): the status is `pairing_required`.
- CodeEntry pairing: the owner confirms "Allow ... to pair" on the Trezor, it shows a 6-digit
  code, the host sends it back (CPace); a wrong code fails with "Unexpected Code Entry Tag".
- A plain credential makes the Trezor ask "Allow ... to connect?" at each new connection, so
  the daemon keeps only an **autoconnect** credential, asked for on a second connection right
  after the pairing (the owner confirms on the Trezor; a first channel of the same host still
  open spares the connection dialog). Until that succeeds nothing is stored.
- A locked Trezor refuses a new connection (DEVICE_LOCKED) unless the host asks to unlock,
  which shows the PIN keyboard: a status read never asks, only `Unlock()` does.
- A wipe gives the Trezor a new static key: old credentials match nothing (UNPAIRED). A
  credential that matches the Trezor's static key but has a damaged MAC completes the
  handshake as UNPAIRED too, with no error (f1): NotPaired then names the key it matched.

Nothing secret (code, credential, host key) is logged, kept in a result or put into an
exception text here; the credential goes from the pairing straight into the keyring.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, cast

from trezorlib import exceptions, messages
from trezorlib.thp import control_byte
from trezorlib.thp.credentials import find_credential
from trezorlib.transport import Transport

from trezor_backup_api.i18n import N_, Sentence

from ..store.thp_credentials import Pairing

if TYPE_CHECKING:
    from trezorlib.thp.client import TrezorClientThp
    from trezorlib.thp.credentials import Credential

LOG = logging.getLogger(__name__)

APP_NAME = "Trezor Backup Guard"
READ_TIMEOUT_SECONDS = 5.0
"""How long one reply of a status read may take. trezorlib waits forever by default; a status
read (allocation, handshake, ThpEndRequest with an autoconnect credential, GetFeatures) needs
nothing from the owner, so a Trezor silent for this long is not answering."""


class NotPaired(Exception):
    """The Trezor does not know this computer (never paired, wiped, or a damaged credential).

    `refused_key` is the Trezor static key of the credential that was offered and refused
    (it matched this Trezor, yet the handshake answered UNPAIRED: a dead credential); None
    when none matched (never paired here, or wiped: a new static key). Public, and kept
    out of the text all the same.
    """

    def __init__(self, refused_key: bytes | None = None) -> None:
        super().__init__()
        self.refused_key = refused_key


class DeviceLocked(Exception):
    """The Trezor is locked and refused a new connection (THP DEVICE_LOCKED)."""


def _client(
    transport: Transport,
    credentials: Sequence[Credential],
    button_callback: Callable[[messages.ButtonRequest], None] | None = None,
) -> TrezorClientThp:
    from trezorlib.client import AppManifest
    from trezorlib.thp.client import TrezorClientThp

    app = AppManifest(APP_NAME, credentials=list(credentials), button_callback=button_callback)
    return TrezorClientThp(app, transport, mapping=None, model=None)


@contextmanager
def connected(
    transport: Transport,
    credentials: Sequence[Credential],
    *,
    unlock: bool = False,
    button_callback: Callable[[messages.ButtonRequest], None] | None = None,
    on_pin_keyboard: Callable[[], None] | None = None,
) -> Iterator[TrezorClientThp]:
    """A paired, connected client: raises NotPaired, or DeviceLocked unless `unlock`.

    With `unlock` a locked Trezor shows its PIN keyboard and the handshake waits for it;
    `on_pin_keyboard` hears when the request that shows it has gone out (no message tells
    the host: the Trezor answers only once the PIN is in).
    """
    if unlock and on_pin_keyboard is not None:
        transport = cast(Transport, _UnlockWatch(transport, on_pin_keyboard))
    client = _client(transport, credentials, button_callback)
    if not client.is_connected():
        if not unlock:
            raise DeviceLocked
        client.connect()
    if not client.pairing.is_paired():
        refused = _offered(client, credentials)
        raise NotPaired(refused.trezor_pubkey if refused is not None else None)
    client.pairing.finish()  # ThpEndRequest: silent for an autoconnect credential
    yield client


def _offered(client: TrezorClientThp, credentials: Sequence[Credential]) -> Credential | None:
    """The credential the handshake offered: the one matching the Trezor's static key."""
    keys = client.channel.trezor_public_keys
    return find_credential(credentials, keys) if keys is not None else None


def read_features(
    transport: Transport,
    credentials: Sequence[Credential],
    timeout: float = READ_TIMEOUT_SECONDS,
    on_paired: Callable[[Credential], None] | None = None,
) -> messages.Features:
    """GetFeatures over THP (a new channel): raises NotPaired, DeviceLocked, or trezorlib's
    transport Timeout when a reply takes longer than `timeout`.

    `on_paired` hears which of `credentials` the Trezor accepted, once the Features are in:
    the keyring item it came from may lack the device id it is forgotten by.
    """
    patient = cast(Transport, _Impatient(transport, timeout))
    with connected(patient, credentials) as client:
        features: messages.Features = client.features
        if on_paired is not None and (accepted := _offered(client, credentials)) is not None:
            on_paired(accepted)
        return features


class _Wrapped:
    """A transport that is `inner` in everything its subclass does not change."""

    def __init__(self, inner: Transport) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def __enter__(self) -> _Wrapped:
        self._inner.__enter__()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._inner.__exit__(*exc_info)


class _Impatient(_Wrapped):
    """A transport whose reads give up after `seconds` where trezorlib would wait forever."""

    def __init__(self, inner: Transport, seconds: float) -> None:
        super().__init__(inner)
        self._seconds = seconds

    def read_chunk(self, *, timeout: float | None = None) -> bytes:
        return self._inner.read_chunk(timeout=self._seconds if timeout is None else timeout)


_INIT_HEADER = struct.Struct(">BHH")  # control byte, channel id, length (thp_io)
_EPHEMERAL_KEY_LENGTH = 32


class _UnlockWatch(_Wrapped):
    """A transport that calls `on_sent` once a handshake that asks a locked Trezor to
    unlock (`try_to_unlock`, the first payload byte after the host's ephemeral key) has
    been written: from then on the Trezor shows its PIN keyboard."""

    def __init__(self, inner: Transport, on_sent: Callable[[], None]) -> None:
        super().__init__(inner)
        self._on_sent = on_sent

    def write_chunk(self, chunk: bytes, /) -> None:
        self._inner.write_chunk(chunk)
        if len(chunk) <= _INIT_HEADER.size + _EPHEMERAL_KEY_LENGTH:
            return
        control, _channel, _length = _INIT_HEADER.unpack_from(chunk)
        unlock = chunk[_INIT_HEADER.size + _EPHEMERAL_KEY_LENGTH]
        if control & control_byte.DATA_MASK == control_byte.HANDSHAKE_INIT_REQ and unlock & 1:
            self._on_sent()


def session_of(client: TrezorClientThp) -> Any:
    """Session 0 (no passphrase): RecoveryDevice, BackupDevice, as trezorlib's own tools."""
    return client.get_session(passphrase=None)


class PairingFailed(Exception):
    """Pairing ended without a credential; `sentence` is for the owner (the text is its
    English)."""

    def __init__(self, sentence: Sentence) -> None:
        super().__init__(sentence.english())
        self.sentence = sentence


def pair(
    transport: Transport,
    code_entry: Callable[[], str],
    on_button: Callable[[messages.ButtonRequest], None],
) -> Pairing:
    """CodeEntry pairing, then an autoconnect credential: the one thing worth storing, with
    the device id the paired Trezor reports (how a wipe or the owner forgets it later).

    `code_entry` returns the 6 digits the owner read on the Trezor; `on_button` hears each
    confirmation the Trezor asks for (pairing, connection, autoconnect). Raises
    PairingFailed with a sentence for a wrong code or a refusal on the Trezor.
    """
    from trezorlib.thp.pairing import CodeEntry

    first = _client(transport, [], on_button)
    if not first.is_connected():
        first.connect()  # locked: the owner asked to pair, so the PIN keyboard may show
    try:
        method = CodeEntry(first.pairing)  # "Allow ... to pair?" on the Trezor
    except exceptions.Cancelled as error:
        raise PairingFailed(
            Sentence(
                N_(
                    "Pairing was refused on the Trezor: nothing was stored. Run the pairing "
                    "again and confirm on the Trezor to pair."
                )
            )
        ) from error
    code = code_entry()
    try:
        method.send_code(code)
    except (exceptions.TrezorFailure, exceptions.ProtocolError) as error:
        raise PairingFailed(
            Sentence(
                N_(
                    "The code did not match the one on the Trezor: nothing was stored. Run "
                    "the pairing again; the Trezor shows a new code each time."
                )
            )
        ) from error
    plain = first.pairing.request_credential(autoconnect=False)
    first.pairing.finish()
    # A second connection with the plain credential asks for the autoconnect one: the
    # Trezor asks its owner to allow this computer to connect without asking.
    second = _client(transport, [plain], on_button)
    if not second.pairing.is_paired():
        raise PairingFailed(
            Sentence(N_("The Trezor forgot the pairing at once: nothing was stored."))
        )
    try:
        credential = second.pairing.request_credential(autoconnect=True)
    except exceptions.Cancelled as error:
        raise PairingFailed(
            Sentence(
                N_(
                    "Connecting without asking was refused on the Trezor: nothing was stored "
                    "(this program reads the backup status without a confirmation each time, "
                    "so it needs that). Run the pairing again to allow it."
                )
            )
        ) from error
    second.pairing.finish()
    features: messages.Features = second.features  # GetFeatures, on the paired channel
    return Pairing(
        trezor_pubkey=credential.trezor_pubkey,
        host_privkey=credential.host_privkey,
        credential=credential.credential,
        device_id=features.device_id or "",
    )
