"""Device I/O: find Trezors through trezorlib's transports and read their Features gently.

Everything here is blocking and is meant to run in a worker thread. It knows nothing of
D-Bus or of the backup status model: it answers "which Trezors can be reached, and what do
they report about themselves", and it never holds a device after a call returns.

The status read deliberately avoids trezorlib's ordinary entry point: ``get_client()`` sends
``Cancel`` (in ``protocol_v1.probe``) and ``client.features`` sends ``Initialize``, and each
silently aborts whatever runs on the device (a Cancel during a backup leaves it
``backup_failed`` for good). ``GetFeatures`` alone changes nothing on an idle device, so that
is all we send; but on core firmware even GetFeatures ends a flow that runs on the device, so
*when* to read is the tracker's read policy (device_tracker).
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Iterable
from contextlib import suppress
from dataclasses import dataclass, replace
from enum import StrEnum

from trezorlib import exceptions, mapping, messages, models
from trezorlib.transport import DeviceIsBusy, Timeout, Transport, TransportException
from trezorlib.transport.hid import HidTransport
from trezorlib.transport.udp import UdpTransport
from trezorlib.transport.webusb import WebUsbTransport, is_vendor_class

from trezor_backup_api.i18n import N_, Sentence, paragraph_english

from ..device_values import Paragraph
from ..store.thp_credentials import CredentialStore, NoKeyring, Pairing, SecretServiceUnavailable
from . import v1_framing

LOG = logging.getLogger(__name__)

FEATURES_TIMEOUT_SECONDS = 1.0
"""How long a GetFeatures may take. A device that shows a confirmation on its screen drops
the request without answering; past this we call it in a flow rather than wait."""


class ReadProblem(StrEnum):
    """Why Features could not be read; decides between retrying and reporting."""

    HELD_BY_ANOTHER_APP = "held_by_another_app"
    NO_PERMISSION = "no_permission"
    IN_A_FLOW = "in_a_flow"
    GONE = "gone"
    BAD_REPLY = "bad_reply"
    PAIRING_REQUIRED = "pairing_required"
    KEYRING_UNAVAILABLE = "keyring_unavailable"
    NO_KEYRING = "no_keyring"
    LOCKED_THP = "locked_thp"


_EXPLANATIONS = {
    ReadProblem.HELD_BY_ANOTHER_APP: N_(
        "Another app (Trezor Suite, Trezor Bridge or trezorctl) is using this Trezor. "
        "Its backup status is read as soon as that app lets it go."
    ),
    ReadProblem.NO_PERMISSION: N_(
        "This computer does not let you open the Trezor yet: the udev rules are missing or "
        "not applied. Install them (see 'trezor-backupctl doctor') and plug the Trezor in again: "
        "it is read as soon as you may open it."
    ),
    ReadProblem.IN_A_FLOW: N_(
        "The Trezor is busy or in a flow: another app's flow (a check or a backup) may be "
        "running on it, or it waits for you to confirm something on its screen, so it did "
        "not tell its status. It is not asked again by itself, so as not to disturb that: "
        "it is read again when it is free (when another app lets it go, or when you "
        "refresh)."
    ),
    ReadProblem.GONE: N_("The Trezor went away while its status was being read."),
    ReadProblem.BAD_REPLY: N_("The Trezor answered something this program does not understand."),
    ReadProblem.PAIRING_REQUIRED: N_(
        "This Trezor Safe 7 is not paired with this computer (or it was wiped since): it "
        "tells its backup status only to a computer it was paired with once."
    ),
    ReadProblem.KEYRING_UNAVAILABLE: N_(
        "This Trezor Safe 7 tells its backup status only to a computer it was paired with, "
        "and this computer keeps its pairings in the desktop's keyring, which cannot be used "
        "now: whether it is paired here cannot be told."
    ),
    ReadProblem.NO_KEYRING: N_(
        "This Trezor Safe 7 tells its backup status only to a computer it was paired with, "
        "and this computer keeps its pairings in the desktop's keyring: there is none in "
        "this session, so it is not paired here."
    ),
    ReadProblem.LOCKED_THP: N_(
        "This Trezor Safe 7 is locked: it lets a new connection in only after its PIN, so "
        "its backup status cannot be read now."
    ),
}
"""What each problem means for the owner (msgids: the explanation of a `busy`, `unknown`,
`pairing_required` or `locked` device)."""


class FeaturesReadError(Exception):
    """A status read that did not produce Features. The message never holds device data.

    `detail` is for the log; `why` is a sentence for the owner that the explanation ends
    with (the keyring's, for KEYRING_UNAVAILABLE).
    """

    def __init__(
        self,
        problem: ReadProblem,
        detail: str = "",
        why: Sentence | None = None,
        refused_key: bytes | None = None,
    ) -> None:
        self.problem = problem
        self.detail = detail
        self.why = why
        self.refused_key = refused_key
        """PAIRING_REQUIRED: the static key of the Trezor that refused this computer's
        pairing with it, which can never work again (remove_refused_pairing)."""
        super().__init__(f"{problem.value}: {detail}" if detail else problem.value)

    @property
    def explanation_text(self) -> Paragraph:
        """Sentences for the owner saying what is wrong and what happens next."""
        problem = Sentence(_EXPLANATIONS[self.problem])
        return (problem,) if self.why is None else (problem, self.why)

    @property
    def explanation(self) -> str:
        """The explanation in English."""
        return paragraph_english(self.explanation_text)

    @property
    def worth_retrying_soon(self) -> bool:
        """Whether a quick retry may succeed and cannot harm: the device could not be opened
        (the ACL right after plug-in, a brief hold), so nothing was sent to it.

        A device that does not answer, or answers something other than Features, may show
        a prompt to its owner, or run another app's flow that a second message would end:
        it is never asked again by itself.
        """
        return self.problem in (ReadProblem.NO_PERMISSION, ReadProblem.HELD_BY_ANOTHER_APP)

    @property
    def transient(self) -> bool:
        """Whether the device may be readable later (reported busy till then); a reply that
        cannot be decoded will not change by itself (reported unknown). A well-formed reply
        that is not Features is IN_A_FLOW, transient: it says the device is in a flow, not
        that its firmware is wrong."""
        return self.problem not in (
            ReadProblem.BAD_REPLY,
            ReadProblem.PAIRING_REQUIRED,
            ReadProblem.KEYRING_UNAVAILABLE,
            ReadProblem.NO_KEYRING,
            ReadProblem.LOCKED_THP,
        )


def usb_transports() -> list[Transport]:
    """All Trezors on USB that trezorlib can see: WebUSB, and HID for old Model One firmware.

    Listing opens nothing, so it never disturbs another app using a device, and a Trezor this
    user may not open yet is listed too: its read then names the problem on that Trezor
    alone (trezorlib's own WebUSB listing opens each device for its product string, and one
    it may not open makes the whole listing fail).
    """
    found: list[Transport] = []
    listings: tuple[tuple[type[Transport], Callable[[], Iterable[Transport]]], ...] = (
        (WebUsbTransport, _webusb_transports),
        (HidTransport, HidTransport.enumerate),
    )
    for kind, listing in listings:
        if not kind.ENABLED:
            continue
        try:
            found.extend(listing())
        except Exception as error:
            LOG.warning("Listing %s devices failed: %s", kind.PATH_PREFIX, error)
    return found


def _webusb_transports() -> list[Transport]:
    """The WebUSB Trezors libusb knows, from their descriptors alone (sysfs on Linux)."""
    if WebUsbTransport.context is None:
        WebUsbTransport.enumerate([])  # makes trezorlib's libusb context, lists nothing
    context = WebUsbTransport.context
    assert context is not None
    usb_ids = {usb_id for model in models.ALL_MODELS for usb_id in model.usb_ids}
    return [
        WebUsbTransport(device)
        for device in context.getDeviceIterator(skip_on_error=True)
        if (device.getVendorID(), device.getProductID()) in usb_ids and is_vendor_class(device)
    ]


def emulator_transport(endpoint: str) -> Transport | None:
    """The emulator at ``udp:HOST:PORT`` if something answers its availability probe there.

    The probe is the emulator's own PINGPING/PONGPONG handshake, which changes nothing on the
    device (though the emulator then replies to us: poll rarely, see the README).
    """
    transport = UdpTransport(endpoint.removeprefix(f"{UdpTransport.PATH_PREFIX}:"))
    try:
        transport.open()
        present = transport.is_ready()
    except OSError:
        present = False
    finally:
        transport.close()
    return transport if present else None


def emulator_listening(endpoint: str) -> bool:
    """Whether something still listens at a known emulator endpoint, without a packet.

    On loopback, a UDP port we cannot bind is one a process holds. Any datagram would do
    harm instead: the emulator replies to the last sender, so a probe in the middle of a
    check would steal the device's next answer. Elsewhere we cannot tell, and assume yes.
    """
    host, _, port = endpoint.removeprefix(f"{UdpTransport.PATH_PREFIX}:").rpartition(":")
    if host not in ("localhost", "127.0.0.1"):
        return True
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind(("127.0.0.1", int(port)))
        except OSError:
            return True
    return False


@dataclass(frozen=True)
class StatusRead:
    """What a status read found: the Features, whether they came over THP (a Safe 7, read
    with this computer's credential), and the credential it connected with when its keyring
    item lacks the device id the Trezor reports (kept by an earlier release): whoever
    publishes the read labels it (label_pairing), as a pairing is forgotten by that id."""

    features: messages.Features
    over_thp: bool = False
    unlabelled: Pairing | None = None


def read_status(transport: Transport) -> StatusRead:
    """Send GetFeatures alone and return the reply, opening and closing the device around it.

    Raises FeaturesReadError with a classified problem for everything that can go wrong, so
    callers can decide to retry (busy, no permission yet) or report. A Trezor known to be a
    Safe 7 has its pairings looked up in the keyring first, so that the device is not held
    open while the keyring answers (most of a Safe 7's read; longer while D-Bus starts it).
    Nothing is written to the keyring: whoever publishes the read does that (label_pairing,
    remove_refused_pairing).
    """
    keyring = _KeyringLookup() if transport.get_path() in THP_PATHS else None
    try:
        transport.open()
    except Exception as error:
        _close(transport)  # a failed open may still hold the device (see _close)
        problem = _problem_of_open_error(error, transport)
        detail = "" if problem is ReadProblem.HELD_BY_ANOTHER_APP else type(error).__name__
        raise FeaturesReadError(problem, detail) from error
    try:
        return _get_features(transport, keyring)
    finally:
        _close(transport)


def read_features(transport: Transport) -> messages.Features:
    """The Features of a status read alone (read_status), for tools and tests."""
    return read_status(transport).features


def _close(transport: Transport) -> None:
    """Let go of everything the transport holds, whatever state it is in.

    trezorlib's WebUsbTransport keeps the libusb handle when its claim fails (another app
    holds the Trezor), and its close releases the interface before closing the handle, so a
    failed release (never claimed, or unplugged) leaves the handle, and the node, open: the
    node's late close would then read as another app letting go.
    """
    if isinstance(transport, WebUsbTransport) and transport.handle is not None:
        handle, transport.handle = transport.handle, None
        with suppress(Exception):
            handle.releaseInterface(transport.interface)
        with suppress(Exception):
            handle.close()
    with suppress(Exception):
        transport.close()
    if isinstance(transport, HidTransport):
        # Its close asks the serial number first, which fails on a handle whose open failed
        # (hidapi has freed it then): drop the handle, or the next open would reuse it.
        transport.handle = None


def _get_features(transport: Transport, keyring: _KeyringLookup | None) -> StatusRead:
    codec = mapping.DEFAULT_MAPPING
    try:
        v1_framing.write(transport, *codec.encode(messages.GetFeatures()))
        reply_type, reply_bytes = v1_framing.read(transport, timeout=FEATURES_TIMEOUT_SECONDS)
    except Timeout as error:
        raise FeaturesReadError(ReadProblem.IN_A_FLOW, "no answer") from error
    except exceptions.ProtocolError as error:
        raise FeaturesReadError(ReadProblem.BAD_REPLY, "broken frame") from error
    except (TransportException, OSError) as error:
        raise FeaturesReadError(ReadProblem.GONE, type(error).__name__) from error
    try:
        reply = codec.decode(reply_type, reply_bytes)
    except Exception as error:
        raise FeaturesReadError(
            ReadProblem.BAD_REPLY, f"undecodable message type {reply_type}"
        ) from error
    if isinstance(reply, messages.Failure) and reply.code == messages.FailureType.InvalidProtocol:
        # How a THP device (Safe 7) answers protocol v1, as trezorlib's own probe expects.
        THP_PATHS.add(transport.get_path())
        return _read_over_thp(transport, keyring or _KeyringLookup())
    if not isinstance(reply, messages.Features):
        raise FeaturesReadError(ReadProblem.IN_A_FLOW, _named(reply))
    THP_PATHS.discard(transport.get_path())  # the same port may now hold a protocol-v1 Trezor
    return StatusRead(reply)


def _named(reply: object) -> str:
    """A reply that is not Features, named for the log. A core Trezor in a flow answers
    GetFeatures with a Failure (a dry run past its first screen: ActionCancelled, and the
    flow's own host never hears again), so the Failure's code is named too."""
    if isinstance(reply, messages.Failure) and reply.code is not None:
        return f"got Failure {reply.code.name}"
    return f"got {type(reply).__name__}"


THP_PATHS: set[str] = set()
"""Transport paths of devices that answered protocol v1 as a THP device (a Safe 7) does:
operations on them speak THP (device_ops)."""


class _KeyringLookup:
    """This computer's Safe 7 pairings as the keyring gave them at one moment, or why it
    could not (locked, none): what a THP status read connects with."""

    def __init__(self) -> None:
        self.unusable: SecretServiceUnavailable | None = None
        try:
            self.credentials: list[Pairing] = CredentialStore().credentials()
        except SecretServiceUnavailable as error:
            self.credentials, self.unusable = [], error  # nothing to connect with


def _read_over_thp(transport: Transport, keyring: _KeyringLookup) -> StatusRead:
    """A Safe 7: GetFeatures on a new THP channel with this computer's credential.

    A credential the Trezor refused (it matched the Trezor's static key, yet the handshake
    answered UNPAIRED: damaged, or invalidated) can never work again: the error names the key,
    for remove_refused_pairing. One it accepted is returned as `unlabelled` if its item lacks
    the device id the Trezor reports (kept by an earlier release), for label_pairing. Without
    a keyring no credential is offered, so the Trezor's "not paired" says nothing about a
    pairing kept there (KEYRING_UNAVAILABLE, with the keyring's sentence), except that with
    no keyring at all nothing can have been kept (NO_KEYRING: not paired here).
    """
    from . import thp_session

    credentials, unusable = keyring.credentials, keyring.unusable
    accepted: list[object] = []
    try:
        features = thp_session.read_features(transport, credentials, on_paired=accepted.append)
    except thp_session.NotPaired as error:
        if isinstance(unusable, NoKeyring):
            # Nothing can have been kept: not paired here, and pairing says what is missing.
            raise FeaturesReadError(ReadProblem.NO_KEYRING, why=unusable.sentence) from error
        if unusable is not None:
            raise FeaturesReadError(
                ReadProblem.KEYRING_UNAVAILABLE, why=unusable.sentence
            ) from error
        raise FeaturesReadError(
            ReadProblem.PAIRING_REQUIRED, refused_key=error.refused_key
        ) from error
    except thp_session.DeviceLocked as error:
        raise FeaturesReadError(ReadProblem.LOCKED_THP) from error
    except Timeout as error:
        raise FeaturesReadError(ReadProblem.IN_A_FLOW, "no answer") from error
    except (
        exceptions.TrezorFailure,
        exceptions.Cancelled,
        exceptions.UnexpectedMessageError,
    ) as error:
        # A reply that is not Features, as over protocol v1 (_named): the Trezor is in a flow.
        raise FeaturesReadError(ReadProblem.IN_A_FLOW, type(error).__name__) from error
    except exceptions.ProtocolError as error:
        raise FeaturesReadError(ReadProblem.BAD_REPLY, type(error).__name__) from error
    except (TransportException, OSError) as error:
        raise FeaturesReadError(ReadProblem.GONE, type(error).__name__) from error
    unlabelled = next(
        (
            pairing
            for pairing in credentials
            if pairing in accepted
            and features.device_id
            and pairing.device_id != features.device_id
        ),
        None,
    )
    return StatusRead(features, over_thp=True, unlabelled=unlabelled)


def remove_refused_pairing(trezor_pubkey: bytes) -> None:
    """Remove a pairing the Trezor refused (FeaturesReadError.refused_key); the log names
    neither key nor credential. Blocking."""
    try:
        if CredentialStore().forget(trezor_pubkey):
            LOG.info("The Trezor refused this computer's pairing: the dead pairing was removed")
    except SecretServiceUnavailable as error:
        LOG.warning("A dead pairing could not be removed from the keyring: %s", error)


def label_pairing(pairing: Pairing, device_id: str) -> None:
    """Store the pairing again under the device id its Trezor reports (public): a read found
    it kept without that id (StatusRead.unlabelled). Blocking; a keyring that cannot be used
    is logged, and the next read tries again."""
    try:
        CredentialStore().store(replace(pairing, device_id=device_id))
        LOG.info("The pairing with Trezor %s is now kept under its device id", device_id)
    except SecretServiceUnavailable as error:
        LOG.warning("The pairing with Trezor %s could not be labelled: %s", device_id, error)


def _problem_of_open_error(error: Exception, transport: Transport) -> ReadProblem:
    if isinstance(error, DeviceIsBusy):
        return ReadProblem.HELD_BY_ANOTHER_APP
    if isinstance(error, TransportException):
        return ReadProblem.GONE
    if isinstance(transport, HidTransport) and isinstance(error, OSError):
        return _problem_of_hid_open(transport)
    if isinstance(error, OSError):
        return _problem_of_os_error(error)
    return _problem_of_usb_error(error)


def _problem_of_hid_open(transport: HidTransport) -> ReadProblem:
    """Why hidapi could not open a HID Model One: it says only "open failed".

    Its libusb backend (the ``hid`` module trezorlib imports, pip's and Debian's alike) opens
    the usb_device's node, detaches usbhid and claims the interface; any of these may fail.
    The node tells which: gone with the device, not ours to open (the udev rules), or there
    and openable, so the claim was refused: another program holds the Trezor.
    """
    location = UsbLocation.of_hid_path(transport.get_path())
    node = location.usbfs_node() if location is not None else None
    if node is None:
        return ReadProblem.GONE
    if not os.access(node, os.R_OK | os.W_OK):
        return ReadProblem.NO_PERMISSION
    return ReadProblem.HELD_BY_ANOTHER_APP


def _problem_of_os_error(error: OSError) -> ReadProblem:
    if isinstance(error, PermissionError) or "Cannot open device" in str(error.args[:1]):
        return ReadProblem.NO_PERMISSION
    return ReadProblem.GONE


def _problem_of_usb_error(error: Exception) -> ReadProblem:
    name = type(error).__name__
    if name == "USBErrorAccess":
        return ReadProblem.NO_PERMISSION
    if name == "USBErrorBusy":
        return ReadProblem.HELD_BY_ANOTHER_APP
    return ReadProblem.GONE


@dataclass(frozen=True)
class UsbLocation:
    """Where a USB device sits, as udev reports it; enough to name its trezorlib path."""

    busnum: int
    port_numbers: tuple[int, ...]

    @property
    def webusb_path(self) -> str:
        """The path trezorlib's WebUsbTransport gives this device (``webusb:001:1:4``)."""
        ports = ":".join(str(port) for port in self.port_numbers)
        return f"{WebUsbTransport.PATH_PREFIX}:{self.busnum:03d}:{ports}"

    @property
    def sys_name(self) -> str:
        """The usb_device's name in sysfs and udev (``1-1.4``)."""
        return f"{self.busnum}-{'.'.join(str(port) for port in self.port_numbers)}"

    @property
    def hid_path(self) -> str:
        """The path HidTransport gives a HID Model One here: hidapi's libusb backend names
        an interface ``BUS-PORTS:CONFIG.INTERFACE``, and the Model One talks on interface 0
        of its only configuration (``hid:1-1.4:1.0``)."""
        return f"{HidTransport.PATH_PREFIX}:{self.sys_name}:1.0"

    @classmethod
    def of_hid_path(cls, path: str) -> UsbLocation | None:
        """Where the device of a HidTransport path sits; None for a path that is not
        hidapi's libusb backend's."""
        name = path.removeprefix(f"{HidTransport.PATH_PREFIX}:").partition(":")[0]
        busnum, _, ports = name.partition("-")
        try:
            return cls(int(busnum), tuple(int(port) for port in ports.split(".")))
        except ValueError:
            return None

    def usbfs_node(self) -> str | None:
        """The device's node (``/dev/bus/usb/BBB/DDD``) from sysfs; None once unplugged."""
        device = f"/sys/bus/usb/devices/{self.sys_name}"
        try:
            with open(f"{device}/busnum") as busnum, open(f"{device}/devnum") as devnum:
                return f"/dev/bus/usb/{int(busnum.read()):03d}/{int(devnum.read()):03d}"
        except (OSError, ValueError):
            return None


class TrezorlibIO:
    """The real device layer, as the tracker takes it (device_tracker.DeviceIO): this
    module's functions, so that a test or a tool hands the tracker another one instead."""

    def usb_transports(self) -> list[Transport]:
        return usb_transports()

    def emulator_listening(self, endpoint: str) -> bool:
        return emulator_listening(endpoint)

    def emulator_transport(self, endpoint: str) -> Transport | None:
        return emulator_transport(endpoint)

    def read_status(self, transport: Transport) -> StatusRead:
        return read_status(transport)

    def label_pairing(self, pairing: Pairing, device_id: str) -> None:
        label_pairing(pairing, device_id)

    def remove_refused_pairing(self, trezor_pubkey: bytes) -> None:
        remove_refused_pairing(trezor_pubkey)
