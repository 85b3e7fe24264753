"""Device I/O where no real part can run: a USB device held by another app or closed to us
by missing udev rules, and a device that answers with the wrong message. (Everything that
a simulator can do is tested against the simulator instead.)"""

from __future__ import annotations

import pytest
from trezorlib import mapping, messages, protocol_v1
from trezorlib.transport import DeviceIsBusy, Timeout, Transport
from trezorlib.transport.webusb import dev_to_str

from trezor_backupd.device.device_io import (
    FeaturesReadError,
    ReadProblem,
    UsbLocation,
    read_features,
)


class ScriptedTransport(Transport):
    """A transport that fails to open as told, or replies with one scripted message."""

    PATH_PREFIX = "scripted"
    CHUNK_SIZE = 64
    ENABLED = True

    def __init__(self, open_error: Exception | None = None, reply: object = None) -> None:
        self.open_error = open_error
        self.written: list[bytes] = []
        self.reply_chunks: list[bytes] = []
        self.opened = False
        if reply is not None:
            self.reply_chunks = _chunks(reply)

    def get_path(self) -> str:
        return "scripted:1"

    def find_debug(self) -> Transport:
        raise NotImplementedError

    def _open(self) -> None:
        if self.open_error is not None:
            raise self.open_error
        self.opened = True

    def _close(self) -> None:
        self.opened = False

    def is_open(self) -> bool:
        return self.opened

    def write_chunk(self, chunk: bytes, /) -> None:
        self.written.append(chunk)

    def read_chunk(self, *, timeout: float | None = None) -> bytes:
        if not self.reply_chunks:
            raise Timeout("nothing to read")
        return self.reply_chunks.pop(0)


def _chunks(message: object) -> list[bytes]:
    sink = ScriptedTransport()
    protocol_v1.write(sink, *mapping.DEFAULT_MAPPING.encode(message))  # type: ignore[arg-type]
    return sink.written


def test_a_device_held_by_another_app_is_busy_and_worth_retrying() -> None:
    with pytest.raises(FeaturesReadError) as caught:
        read_features(ScriptedTransport(open_error=DeviceIsBusy("held")))
    assert caught.value.problem is ReadProblem.HELD_BY_ANOTHER_APP
    assert caught.value.transient
    assert "Trezor Suite" in caught.value.explanation


def test_missing_udev_rules_are_named_as_the_cause() -> None:
    with pytest.raises(FeaturesReadError) as caught:
        read_features(ScriptedTransport(open_error=OSError("Cannot open device", "udev?")))
    assert caught.value.problem is ReadProblem.NO_PERMISSION
    assert "udev rules" in caught.value.explanation


def test_only_get_features_is_sent_and_the_device_is_closed_after() -> None:
    features = messages.Features(vendor="trezor.io", major_version=1, minor_version=14,
                                 patch_version=2, model="1")  # fmt: skip
    transport = ScriptedTransport(reply=features)
    assert read_features(transport).model == "1"
    sent_type = int.from_bytes(transport.written[0][3:5], "big")
    assert [sent_type] == [messages.MessageType.GetFeatures]
    assert len(transport.written) == 1
    assert not transport.is_open()


@pytest.mark.parametrize(
    "reply",
    [
        # What core 2.10.0 answers in a dry run past its first screen (test_official_firmware).
        messages.Failure(code=messages.FailureType.ActionCancelled, message="Cancelled"),
        messages.Failure(code=messages.FailureType.UnexpectedMessage),
        messages.Success(message="?"),
        messages.ButtonRequest(code=messages.ButtonRequestType.Other),
    ],
)
def test_a_reply_that_is_not_features_says_busy_or_in_a_flow(reply: object) -> None:
    """A well-formed reply of another kind is the device in a flow, not broken firmware."""
    transport = ScriptedTransport(reply=reply)
    with pytest.raises(FeaturesReadError) as caught:
        read_features(transport)
    assert caught.value.problem is ReadProblem.IN_A_FLOW
    assert caught.value.transient
    assert not caught.value.worth_retrying_soon  # a second message could end that flow
    assert "another app's flow" in caught.value.explanation
    assert "firmware" not in caught.value.explanation
    assert type(reply).__name__ in str(caught.value)
    assert not transport.is_open()


def test_silence_says_busy_or_in_a_flow() -> None:
    with pytest.raises(FeaturesReadError) as caught:
        read_features(ScriptedTransport())
    assert caught.value.problem is ReadProblem.IN_A_FLOW
    assert caught.value.transient
    assert "confirm" in caught.value.explanation


def test_only_a_reply_that_cannot_be_decoded_is_not_understood() -> None:
    transport = ScriptedTransport()
    transport.reply_chunks = [b"?##" + (0xFFFE).to_bytes(2, "big") + bytes(4) + bytes(55)]
    with pytest.raises(FeaturesReadError) as caught:
        read_features(transport)
    assert caught.value.problem is ReadProblem.BAD_REPLY
    assert not caught.value.transient
    assert not transport.is_open()


class _UsbDevice:
    """The two usb1.USBDevice getters trezorlib uses to name a WebUSB path."""

    def getBusNumber(self) -> int:
        return 3

    def getPortNumberList(self) -> list[int]:
        return [1, 4, 2]


def test_udev_location_names_the_same_path_as_trezorlib() -> None:
    location = UsbLocation(busnum=3, port_numbers=(1, 4, 2))
    assert location.webusb_path == f"webusb:{dev_to_str(_UsbDevice())}"
