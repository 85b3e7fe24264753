"""Device operations the owner asks for: the dry-run check, creating the backup, unlocking.

Blocking trezorlib workflows, run on a worker thread from start to end, with the device held
only for that long. Like trezorlib's own `recover()`, host input arrives through a
callback interface (HostInput), so the same workflow serves a D-Bus agent, a test or anything
else; this module knows nothing of D-Bus.

Seed safety: what HostInput returns (words, PIN positions, matrix digits) is handed to
trezorlib for the device and dropped. It is never logged, kept, or put in a result or an
exception message; results carry only the device's own texts and our sentences, which are
i18n.Sentence msgids (marked with N_) with arguments that are never what the host typed.
"""

from __future__ import annotations

import enum
import logging
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from trezorlib import exceptions, mapping, messages
from trezorlib.transport import DeviceIsBusy, Timeout, Transport, TransportException

from trezor_backup_api.i18n import N_, Sentence, paragraph_english
from trezor_backup_api.vocabulary import Outcome, Stage

from ..device_values import OperationResult, Paragraph, Progress
from .device_io import THP_PATHS

if TYPE_CHECKING:
    from trezorlib.client import Session

    from ..store.thp_credentials import SecretServiceUnavailable

    AnySession = Session[Any, Any]

LOG = logging.getLogger(__name__)
T = TypeVar("T")

APP_NAME = "Trezor Backup Guard"
LEGACY_MODEL = "1"


class HostInput(Protocol):
    """Answers the device's questions for the host (a Model One asks the computer)."""

    def pin(self, kind: str) -> str:
        """The PIN as matrix positions; kind is "current"."""
        ...

    def word(self, kind: str) -> str:
        """A BIP-39 word ("plain") or a matrix position ("matrix9", "matrix6")."""
        ...

    def word_count(self) -> int:
        """How many words the written backup has: 12, 18 or 24."""
        ...

    def pairing_code(self) -> str:
        """The 6-digit code a Safe 7 shows while pairing."""
        ...


class HostCancelled(exceptions.Cancelled):
    """The host gave no answer (the owner cancelled, the agent failed or left).

    `unanswered`: nobody answered in time, which the owner is told instead of "cancelled".
    """

    def __init__(self, *, unanswered: bool = False) -> None:
        super().__init__()
        self.unanswered = unanswered


_FIRMWARE_PREFIX = re.compile(r"^[\w.]+:\d+:")
"""Debug firmware puts `recovery.c:202:` in front of Failure texts; release firmware does not."""

_PIN_NOT_ACCEPTED = N_("The PIN was not accepted: the Trezor refused the operation.")

_CHECK_FAILURES: list[tuple[str, Outcome, str]] = [
    (
        "does not match",
        Outcome.MISMATCH,
        N_(
            "The words you entered are a valid seed, but not the one in this Trezor: your "
            "written backup does not restore this wallet. Do not send funds to it."
        ),
    ),
    (
        "Invalid seed",
        Outcome.INVALID_WORDS,
        N_(
            "The words you entered do not form a valid seed (the checksum is wrong): a word is "
            "missing, wrong or out of order. Check your written backup and try again."
        ),
    ),
    (
        "not found in a wordlist",
        Outcome.INVALID_WORDS,
        N_("A word you entered is not in the BIP-39 word list. Check your written backup."),
    ),
]
"""A check's Failure text from the firmware -> the verdict and what it means (msgid)."""

_CHECKING_WORDS = {
    12: N_("Checking a 12-word backup: follow your Trezor."),
    18: N_("Checking an 18-word backup: follow your Trezor."),
    24: N_("Checking a 24-word backup: follow your Trezor."),
}
"""A Model One check's start, per word count (a msgid each, so no language has to agree a
number it does not see)."""


def _said(outcome: Outcome, msgid: str) -> OperationResult:
    """An ending told in one sentence without arguments (a msgid marked with N_)."""
    return OperationResult(outcome, (Sentence(msgid),))


def _step(stage: Stage, msgid: str) -> Progress:
    """A step told in one sentence without arguments (a msgid marked with N_)."""
    return Progress(stage, Sentence(msgid))


class _Phase(enum.Enum):
    """Where an operation is; it decides what a cancel from another thread does."""

    OPENING = enum.auto()
    """Not talking yet (or pairing): a cancel is only noted, and the start sees it."""
    TALKING = enum.auto()
    """A protocol v1 workflow runs: a cancel is written to the device."""
    TALKING_THP = enum.auto()
    """A Safe 7's workflow runs over THP, where a second writer would break the channel's
    ACK sequence: the owner cancels on the Trezor, where every THP flow can be cancelled."""
    ASKING_HOST = enum.auto()
    """A question is with the host: the host-input bridge answers a cancel."""
    CLOSED = enum.auto()
    """The workflow ended: a late Cancel must not reach whatever talks to the device next
    (on a backup it would be fatal)."""


class _Stop(enum.IntEnum):
    """Why an operation stops early; a later reason outweighs an earlier, lower one."""

    NONE = 0
    CANCELLED = 1
    UNANSWERED = 2
    """A question to the host went unanswered until its time ran out."""
    DISCONNECTED = 3


class DeviceOperation:
    """One check or backup on one device. Cancel and disconnect may come from any thread."""

    def __init__(
        self,
        transport: Transport,
        device_access: Callable[[], AbstractContextManager[None]],
        host: HostInput,
        on_progress: Callable[[Progress], None],
    ) -> None:
        self._transport = transport
        self._device_access = device_access  # excludes status reads of the same device
        self._host = host
        self._on_progress = on_progress
        self._lock = threading.Lock()
        self._phase = _Phase.OPENING
        self._stop = _Stop.NONE
        self._words_seen = 0
        self._grid = _GridWordCounter()
        self._check_left_on_device = False
        """A core dry run got past its confirmation: the device keeps it until it ends."""

    # ---- control from other threads ------------------------------------------------------

    def cancel(self) -> None:
        """Ask the device to abandon the operation (it answers ActionCancelled).

        Cancel is only written while this operation talks to the device over protocol v1
        (see _Phase for the other phases).
        """
        from trezorlib import protocol_v1

        with self._lock:
            self._stopping(_Stop.CANCELLED)
            if self._phase is not _Phase.TALKING:
                return
            try:
                cancel = mapping.DEFAULT_MAPPING.encode(messages.Cancel())
                protocol_v1.write(self._transport, *cancel)
            except Exception as error:  # the device may already be gone
                LOG.info("Could not send Cancel: %s", type(error).__name__)

    def disconnect(self) -> None:
        """The device was unplugged: stop waiting for it."""
        with self._lock:
            self._stopping(_Stop.DISCONNECTED)
        self._transport.close()

    def _stopping(self, stop: _Stop) -> None:
        self._stop = max(self._stop, stop)

    # ---- the workflows (worker thread) ---------------------------------------------------

    def check(self, word_count: int | None) -> OperationResult:
        """A dry-run recovery: the device compares the typed seed with its own."""
        return self._run(lambda session: self._check(session, word_count), check=True)

    def backup(self) -> OperationResult:
        """BackupDevice: the device shows the words for the owner to write down."""

        def run(session: AnySession) -> OperationResult:
            from trezorlib import device

            extra = session.features.backup_availability == messages.BackupAvailability.Available
            self._on_progress(_step(Stage.STARTED, N_("Follow the instructions on your Trezor.")))
            device.backup(session)
            if extra:
                return _said(
                    Outcome.COMPLETED,
                    N_(
                        "The multi-share backup is created. Your earlier share still restores "
                        "this wallet as well: keep it as safe as the new shares, or destroy it."
                    ),
                )
            return _said(
                Outcome.COMPLETED,
                N_(
                    "The backup is created. Now check it: a dry-run check proves the words you "
                    "wrote restore this wallet."
                ),
            )

        return self._run(run, check=False)

    def unlock(self) -> OperationResult:
        """Ask for the PIN as trezorlib's ensure_unlocked does: ApplyFlags(0) needs the PIN
        but derives no seed (recorded, e2a); the device then reports every backup field."""

        def run(session: AnySession) -> OperationResult:
            # The PIN is asked for when the Trezor shows its keyboard (ButtonRequest
            # pin_device, or the Model One's matrix): say so then, not before, or the owner
            # could type it into the lock screen instead.
            self._on_progress(_step(Stage.STARTED, N_("Unlocking: the Trezor asks for its PIN.")))
            session.ensure_unlocked()
            return _said(Outcome.COMPLETED, N_("The Trezor is unlocked."))

        return self._run(run, check=False)

    def pair(self) -> OperationResult:
        """A Safe 7: CodeEntry pairing, then an autoconnect credential into the keyring.

        The keyring is checked first: without one, nothing is asked of the Trezor. What is
        kept is only the final autoconnect credential; every failure keeps nothing.
        """
        from ..store.thp_credentials import CredentialStore, SecretServiceUnavailable
        from . import thp_session

        store = CredentialStore(may_prompt=True)
        try:
            store.check_available()
        except SecretServiceUnavailable as error:
            return self._result_of(_keyring_refused(error), _PAIRING_FAILED)

        def code() -> str:
            self._on_progress(
                _step(Stage.PAIRING_CODE, N_("Type the 6-digit code your Trezor shows."))
            )
            return self._ask(self._host.pairing_code)

        def button(request: messages.ButtonRequest) -> None:
            self._on_progress(_PAIRING_PHASES.get(request.name or "", _ANY_CONFIRMATION))

        try:
            with self._device_access(), self._transport:
                with self._lock:
                    if self._stop is not _Stop.NONE:
                        return self._ended_early()
                try:
                    pairing = thp_session.pair(self._transport, code, button)
                except thp_session.PairingFailed as failure:
                    raise _Refused(failure.sentence) from failure
            store.store(pairing)
        except SecretServiceUnavailable as error:
            return self._result_of(_keyring_refused(error), _PAIRING_FAILED)
        except Exception as error:  # nothing was stored
            return self._result_of(error, _PAIRING_FAILED)
        return _said(
            Outcome.COMPLETED,
            N_("Paired: this computer now reads the Trezor's backup status without asking you."),
        )

    def _check(self, session: AnySession, word_count: int | None) -> OperationResult:
        from trezorlib import device

        # trezorlib's workflow decorator hides recover()'s signature from mypy.
        recover: Callable[..., None] = device.recover
        legacy = session.features.model == LEGACY_MODEL
        if legacy:
            count = word_count or self._ask(self._host.word_count)
            if count not in (12, 18, 24):
                return _said(Outcome.ERROR, N_("The word count must be 12, 18 or 24."))
            # 12 and 18 words need the matrix input: the firmware's strict safety checks
            # refuse scrambled words for them, and we never relax safety checks.
            method = (
                messages.RecoveryDeviceInputMethod.ScrambledWords
                if count == 24
                else messages.RecoveryDeviceInputMethod.Matrix
            )
            self._on_progress(_step(Stage.STARTED, _CHECKING_WORDS[count]))
            recover(
                session,
                word_count=count,
                input_method=method,
                input_callback=self._word,
                type=messages.RecoveryType.DryRun,
            )
        else:
            self._on_progress(_step(Stage.STARTED, N_("Follow the backup check on your Trezor.")))
            recover(session, type=messages.RecoveryType.DryRun)
        return OperationResult(Outcome.PASSED, _passed_message(session.features))

    def _run(
        self, workflow: Callable[[AnySession], OperationResult], check: bool
    ) -> OperationResult:
        # trezorlib's client (and its THP stack) is loaded when the owner first asks for an
        # operation, not at daemon start: see device_io._get_features.
        from trezorlib.client import AppManifest

        app = AppManifest(APP_NAME, button_callback=self._button, pin_callback=self._pin)
        try:
            with self._device_access(), self._transport:
                thp = self._transport.get_path() in THP_PATHS
                with self._session(app, thp) as session:
                    with self._lock:
                        if self._stop is not _Stop.NONE:
                            return self._ended_early()
                        self._phase = _Phase.TALKING_THP if thp else _Phase.TALKING
                    try:
                        return workflow(session)
                    finally:
                        with self._lock:
                            self._phase = _Phase.CLOSED
        except Exception as error:  # any I/O error ends the operation
            return self._result_of(error, _OPERATION_FAILED, check=check)

    def _result_of(self, error: Exception, failed: str, check: bool = False) -> OperationResult:
        """What an error that ended an operation or a pairing means for the owner; `failed`
        is the sentence (a msgid naming the `{error}`) for an error nobody expected."""
        match error:
            case _Refused():
                return OperationResult(Outcome.REFUSED, error.text)
            case DeviceIsBusy():
                return _said(
                    Outcome.REFUSED,
                    N_(
                        "Another app (Trezor Suite, Trezor Bridge or trezorctl) is using the "
                        "Trezor: close it and try again."
                    ),
                )
            case exceptions.Cancelled():
                return self._ended_early()
            case exceptions.OutdatedFirmwareError():
                return _said(
                    Outcome.REFUSED,
                    N_(
                        "The Trezor's firmware is too old for this: update it in Trezor Suite "
                        "first."
                    ),
                )
            case exceptions.PinException():
                return _said(Outcome.REFUSED, _PIN_NOT_ACCEPTED)
            case exceptions.TrezorFailure():
                return self._failure(error, check)
            case TransportException() | OSError():
                # The link broke mid-way: the device was unplugged or its emulator ended.
                with self._lock:
                    self._stopping(_Stop.DISCONNECTED)
                return self._ended_early()
        if self._stop is _Stop.DISCONNECTED:
            return self._ended_early()
        sentence = Sentence(failed, {"error": type(error).__name__})
        LOG.warning("%s", sentence.english())
        return OperationResult(Outcome.ERROR, (sentence,))

    @contextmanager
    def _session(self, app: Any, thp: bool) -> Iterator[AnySession]:
        """Session 0 of the device: protocol v1, or THP for a Safe 7 (with the keyring's
        credential; a locked one shows its PIN keyboard while the connection waits, and the
        owner is told when it does, not before: typed into the lock screen, the PIN would
        go nowhere)."""
        if not thp:
            from trezorlib.protocol_v1 import TrezorClientV1

            # Not get_client(): its protocol probe sends Cancel, which ends an unlocked
            # extra backup (recorded, e5c) before it can be made. The status read has
            # shown that the device speaks protocol v1. What the probe also does, without
            # sending anything, is kept: drop late replies, or every answer would be
            # one message behind.
            _drop_stale_replies(self._transport)
            client = TrezorClientV1(app, self._transport, model=None, mapping=None)
            yield client.get_session(passphrase=None)
            return
        from ..store.thp_credentials import CredentialStore, SecretServiceUnavailable
        from . import thp_session

        try:
            credentials = list(CredentialStore(may_prompt=True).credentials())
        except SecretServiceUnavailable as error:
            raise _Refused(error.sentence) from error
        try:
            with thp_session.connected(
                self._transport,
                credentials,
                unlock=True,
                button_callback=self._button,
                on_pin_keyboard=lambda: self._on_progress(
                    _step(Stage.PIN, N_("Enter your PIN on your Trezor to unlock it."))
                ),
            ) as thp_client:
                yield thp_session.session_of(thp_client)
        except thp_session.NotPaired as error:
            raise _Refused(
                Sentence(
                    N_(
                        "This Trezor is not paired with this computer (or no longer: it was "
                        "wiped, or the keyring lost the pairing): pair it again (Pair with "
                        "this computer in the applet, or trezor-backupctl pair)."
                    )
                )
            ) from error

    def _ended_early(self) -> OperationResult:
        """Cancelled or unplugged; a core check stays open on the device (recorded, e4a/e4b)."""
        if self._stop is _Stop.DISCONNECTED:
            if self._check_left_on_device:
                return _said(
                    Outcome.DISCONNECTED,
                    N_(
                        "The Trezor was disconnected during the check, but it keeps the check "
                        "open: plugged in again (after its PIN, if it has one), it asks for the "
                        "number of words of your backup. Finish the check there, or start it "
                        "here again to continue."
                    ),
                )
            return _said(
                Outcome.DISCONNECTED,
                N_("The Trezor was disconnected before the operation ended."),
            )
        if self._check_left_on_device:
            return _said(
                Outcome.CANCELLED,
                N_(
                    "The check was stopped here, but the Trezor keeps it open and asks for the "
                    "number of words of your backup. Finish the check there, or start it here "
                    "again to continue."
                ),
            )
        if self._stop is _Stop.UNANSWERED:
            return _said(
                Outcome.CANCELLED,
                N_(
                    "No answer came from this computer in time, so the operation was "
                    "cancelled. Start it again when you are ready."
                ),
            )
        return _said(Outcome.CANCELLED, N_("The operation was cancelled."))

    def _failure(self, failure: exceptions.TrezorFailure, check: bool) -> OperationResult:
        if failure.code == messages.FailureType.PinInvalid:
            # A core Trezor's own PIN check ends the flow on a wrong PIN (2.10.0, after
            # its `warning_wrong_pin` screen); the Model One's comes as PinException.
            return _said(Outcome.REFUSED, _PIN_NOT_ACCEPTED)
        text = _FIRMWARE_PREFIX.sub("", failure.message or "").strip()
        if check:
            for needle, outcome, meaning in _CHECK_FAILURES:
                if needle in text:
                    return _said(outcome, meaning)
        reason = text or (failure.code.name if failure.code is not None else "")
        if not reason:
            return _said(Outcome.REFUSED, N_("The Trezor refused: no reason given"))
        # The firmware's own words (or its code): an argument, as no catalogue translates it.
        refused = Sentence(N_("The Trezor refused: {reason}"), {"reason": reason})
        return OperationResult(Outcome.REFUSED, (refused,))

    # ---- callbacks from trezorlib (worker thread) ----------------------------------------

    def _ask(self, question: Callable[[], T]) -> T:
        """Ask the host, unless a cancel came first; a cancel during the question wins."""
        with self._lock:
            if self._stop is not _Stop.NONE:
                raise HostCancelled
            phase, self._phase = self._phase, _Phase.ASKING_HOST
        try:
            answer = question()
        except HostCancelled as cancelled:
            if cancelled.unanswered:
                with self._lock:
                    self._stopping(_Stop.UNANSWERED)
            raise
        finally:
            with self._lock:
                self._phase = phase
        if self._stop is not _Stop.NONE:
            raise HostCancelled
        return answer

    def _pin(self, request: messages.PinMatrixRequest) -> str:
        self._on_progress(
            _step(
                Stage.PIN, N_("Enter your PIN on the computer, using the matrix your Trezor shows.")
            )
        )
        return self._ask(lambda: self._host.pin("current"))

    def _word(self, kind: messages.WordRequestType) -> str:
        if kind == messages.WordRequestType.Plain:
            self._words_seen += 1
            self._on_progress(
                Progress(
                    Stage.WORD_ENTRY,
                    Sentence(
                        N_(
                            "Type the word your Trezor shows, on the computer (request "
                            "{request_number}; it mixes in words that are not yours on purpose)."
                        ),
                        {"request_number": str(self._words_seen)},
                    ),
                )
            )
            return self._ask(lambda: self._host.word(kind.name.lower()))
        self._on_progress(
            Progress(
                Stage.WORD_ENTRY,
                Sentence(
                    N_(
                        "Word {word_number}: choose on the computer's grid the position of "
                        "your word's choice on the Trezor's screen."
                    ),
                    {"word_number": str(self._grid.word_number)},
                ),
            )
        )
        answer = self._ask(lambda: self._host.word(kind.name.lower()))
        self._grid.answered(kind, back=answer == "\b")
        return answer

    def _button(self, request: messages.ButtonRequest) -> None:
        if request.name in _OPEN_CHECK_SCREENS:
            self._check_left_on_device = True
        self._on_progress(self._button_progress(request))

    def _button_progress(self, request: messages.ButtonRequest) -> Progress:
        """Turn a ButtonRequest into a sentence the owner can act on.

        Core firmware names each screen (recorded on 2.10.0: `backup_intro`, `share_words`,
        `confirm_seedcheck`, ...), so its phases are named from that; the Model One names
        none and is told apart by the request code.
        """
        named = _PHASES.get(request.name or "")
        if named is not None:
            return named
        kind = messages.ButtonRequestType
        code = request.code
        if code == kind.ConfirmWord:
            self._words_seen += 1
            return Progress(
                Stage.SHOW_WORDS,
                Sentence(
                    N_(
                        "Screen {screen_number}: write down the word your Trezor shows (it "
                        "shows every word twice: write them all, then check them), then "
                        "confirm on the device."
                    ),
                    {"screen_number": str(self._words_seen)},
                ),
            )
        if code == kind.MnemonicInput:
            return _step(Stage.ENTER_WORDS, N_("Enter the words of your backup on your Trezor."))
        if code == kind.MnemonicWordCount:
            return _step(
                Stage.WORD_COUNT, N_("Select the number of words of your backup on your Trezor.")
            )
        if code == kind.PinEntry:
            return _step(Stage.PIN, N_("Enter your PIN on your Trezor."))
        if code == kind.ProtectCall:
            return _step(Stage.CONFIRM, N_("Confirm on your Trezor that you want to continue."))
        if code == kind.RecoveryHomepage:
            return _step(Stage.CONFIRM, N_("Confirm on your Trezor to start entering your words."))
        if code in (kind.Other, kind.Success, kind.Warning):
            return _step(Stage.RESULT, N_("Read the result on your Trezor and confirm it there."))
        return _step(
            Stage.CONFIRM, N_("The Trezor is asking you to confirm something: look at its screen.")
        )


_OPERATION_FAILED = N_("The operation failed ({error}).")
_PAIRING_FAILED = N_("Pairing failed ({error}).")
"""An operation or a pairing ended by an error nobody expected; `{error}` names its type."""


def _keyring_refused(error: SecretServiceUnavailable) -> _Refused:
    """A pairing with nowhere to keep it: the keyring's sentence, said of a pairing."""
    return _Refused(Sentence(N_("This Trezor cannot be paired now.")), error.sentence)


class _Refused(Exception):
    """The operation cannot go on (not paired here, no keyring, a pairing refused); `text`
    is for the owner."""

    def __init__(self, *text: Sentence) -> None:
        super().__init__(paragraph_english(text))
        self.text: Paragraph = text


_ANY_CONFIRMATION = _step(Stage.CONFIRM, N_("Confirm on your Trezor."))
_PAIRING_PHASES = {
    "thp_pairing_request": _step(
        Stage.CONFIRM, N_("Confirm on your Trezor that this computer may pair with it.")
    ),
    "thp_connection_request": _step(
        Stage.CONFIRM, N_("Confirm on your Trezor that this computer may connect to it.")
    ),
    "thp_autoconnect_credential_request": _step(
        Stage.CONFIRM,
        N_(
            "Confirm on your Trezor that this computer may connect without asking each time: "
            "that is how its backup status is read when you plug it in."
        ),
    ),
}
"""What a Safe 7 asks while pairing (recorded, b1 and b5)."""


STALE_REPLY_SECONDS = 0.1
"""How long a late reply is waited for before an operation starts (as trezorlib's probe)."""


def _drop_stale_replies(transport: Transport) -> None:
    """Read and drop replies still queued for us (one that came after its read timed out);
    at most as many as trezorlib's probe would."""
    from trezorlib import protocol_v1

    for _ in range(10):
        try:
            protocol_v1.read(transport, timeout=STALE_REPLY_SECONDS, _ignore_bad_magic=True)
        except Timeout:
            return


_OPEN_CHECK_SCREENS = frozenset({"recovery_word_count", "recovery", "mnemonic"})
"""Core screens after a dry run's confirmation: from there the device keeps the check open
across Cancel and power cycles (recorded on 2.10.0, b5, e4a-e4b)."""

_PHASES: dict[str, Progress] = {
    "pin_device": _step(Stage.PIN, N_("Enter your PIN on your Trezor.")),
    "confirm_seedcheck": _step(
        Stage.CONFIRM, N_("Confirm on your Trezor that you want to check your backup.")
    ),
    "recovery_word_count": _step(
        Stage.WORD_COUNT, N_("Select the number of words of your backup on your Trezor.")
    ),
    "recovery": _step(Stage.CONFIRM, N_("Confirm on your Trezor to go on with the backup check.")),
    "mnemonic": _step(
        Stage.ENTER_WORDS, N_("Enter the words of your backup on your Trezor, one after another.")
    ),
    "success_dry_recovery": _step(
        Stage.RESULT, N_("Read the result on your Trezor and confirm it.")
    ),
    "warning_dry_recovery": _step(
        Stage.RESULT, N_("Read the result on your Trezor and confirm it.")
    ),
    "backup_intro": _step(Stage.INTRO, N_("Read the introduction to the backup on your Trezor.")),
    "backup_warning": _step(
        Stage.WARNING,
        N_("Read the warning on your Trezor: the words are the only backup of your funds."),
    ),
    "backup_words": _step(
        Stage.SHOW_WORDS, N_("Write down the words your Trezor shows, in order, on paper only.")
    ),
    "share_words": _step(
        Stage.SHOW_WORDS, N_("Write down the words your Trezor shows, in order, on paper only.")
    ),
    "success_share_confirm": _step(
        Stage.WORD_CHECK, N_("The Trezor checked the words you wrote: confirm on it to go on.")
    ),
    "success_backup": _step(Stage.RESULT, N_("The backup is done: confirm on your Trezor.")),
    "confirm_repeated_backup": _step(
        Stage.CONFIRM, N_("Confirm on your Trezor that you want to create a multi-share backup.")
    ),
    "warning_shamir_backup": _step(
        Stage.CONFIRM, N_("Confirm on your Trezor how many shares the new backup has.")
    ),
}
"""Progress per core screen name, as recorded on firmware 2.10.0."""


def _passed_message(features: messages.Features) -> Paragraph:
    """What a passed check proved, and what it did not."""
    slip39 = (features.backup_type or messages.BackupType.Bip39) != messages.BackupType.Bip39
    if slip39:
        proved = Sentence(N_("The shares you entered are correct: they restore this wallet."))
    else:
        proved = Sentence(N_("Your written backup is correct: it restores this wallet."))
    if not features.passphrase_protection:
        return (proved,)
    not_proved = Sentence(
        N_(
            "The check covered the recovery words only: a hidden wallet also needs its "
            "passphrase, which no check can test."
        )
    )
    return (proved, not_proved)


class _GridWordCounter:
    """Which word a Model One grid (matrix) entry is at: every word takes three 3x3 screens
    and one 2x3 screen (recorded); a step back undoes one screen, and at the first screen of
    a word goes back to the start of the previous word (legacy recovery.c). Counts screens,
    never looks at what was chosen."""

    def __init__(self) -> None:
        self._finished = 0
        self._screens_into_word = 0

    @property
    def word_number(self) -> int:
        return self._finished + 1

    def answered(self, kind: messages.WordRequestType, back: bool) -> None:
        if back:
            if self._screens_into_word > 0:
                self._screens_into_word -= 1
            elif self._finished > 0:
                self._finished -= 1
        elif kind == messages.WordRequestType.Matrix6:
            self._finished += 1
            self._screens_into_word = 0
        else:
            self._screens_into_word += 1
