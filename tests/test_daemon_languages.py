"""End to end: the daemon sends every owner-facing text as sentences beside its English
(docs/dbus-api.md, Languages): a client renders them in its own language, and joined in
English they are what scripts read."""

from __future__ import annotations

import asyncio
import gettext
from typing import Any

import pytest
from dbus_fast import Message, MessageType

from trezor_backup_api import i18n
from trezor_backup_api.client import DaemonClient
from trezor_backup_api.daemon_errors import DaemonError
from trezor_backup_api.device import plain
from trezor_backup_api.i18n import paragraph_english, sentences_from_bus
from trezor_backup_api.vocabulary import OperationKind

from conftest import DaemonFactory
from harness import DEVICE_ID, OwnerRun, device_path, running
from sim_helpers import ABANDON24, start_simulator


class Bracketed(gettext.NullTranslations):
    """A catalogue that "translates" every msgid by bracketing it: proof a text was looked up."""

    def gettext(self, message: str) -> str:
        return f"[{message}]"


def test_explanation_text_is_the_explanation_in_sentences(make_daemon: DaemonFactory) -> None:
    async def read() -> list[Any]:
        async with DaemonClient.connect() as client:
            return list((await client.get_devices()).values())

    with start_simulator("one", "backed_up", device_id=DEVICE_ID) as sim:
        with running(make_daemon(sim.path)):
            [record] = asyncio.run(read())
    assert record.state == "unverified"
    assert record.explanation_text and record.next_step_text
    assert paragraph_english(record.explanation_text) == record.explanation
    assert paragraph_english(record.next_step_text) == record.next_step
    assert record.explanation_for_owner() == record.explanation  # English: LC_ALL=C.UTF-8


def test_a_refusal_carries_its_sentences(
    make_daemon: DaemonFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def start_backup() -> DaemonError:
        async with DaemonClient.connect() as client:
            with pytest.raises(DaemonError) as refused:
                await client.start(device_path(), OperationKind.BACKUP)
            return refused.value

    with start_simulator("one", "backed_up", device_id=DEVICE_ID) as sim:
        with running(make_daemon(sim.path)):
            error = asyncio.run(start_backup())
    assert error.short_name == "NotPossible"
    assert error.message.startswith("The Trezor does not need a backup now (it is unverified)")
    assert paragraph_english(error.sentences) == error.message
    assert error.for_owner() == error.message
    monkeypatch.setattr(i18n, "_translations", Bracketed())
    # Translated, the state is named by its words in the owner's language.
    assert error.for_owner() == (
        "[The Trezor does not need a backup now (it is [backup not checked yet]); a backup "
        "can only be created once, right after the wallet is set up.]"
    )


def test_changes_and_endings_come_with_their_sentences(make_daemon: DaemonFactory) -> None:
    """PropertiesChanged carries the *Text twins with their English, and each operation
    signal's sentences come just before it."""

    async def follow_check() -> list[tuple[str, list[Any]]]:
        async with DaemonClient.connect() as client:
            seen: list[tuple[str, list[Any]]] = []
            ended = asyncio.get_running_loop().create_future()

            def on_signal(msg: Message) -> None:
                if msg.message_type is MessageType.SIGNAL and msg.path == device_path():
                    seen.append((msg.member or "", plain(msg.body)))
                    if msg.member == "OperationFinished" and not ended.done():
                        ended.set_result(None)

            client.bus.add_message_handler(on_signal)
            await client.bus.call(
                Message(destination="org.freedesktop.DBus", path="/org/freedesktop/DBus",
                        interface="org.freedesktop.DBus", member="AddMatch", signature="s",
                        body=[f"type='signal',path='{device_path()}'"])
            )  # fmt: skip
            owner = await asyncio.to_thread(OwnerRun, sim, "check")
            assert (await asyncio.to_thread(owner.finished))["result"] == "passed"
            await asyncio.wait_for(ended, 10)
            await asyncio.sleep(0.5)  # the read after the ending
            return seen

    with start_simulator("t", "backed_up", device_id=DEVICE_ID, mnemonic=ABANDON24) as sim:
        with running(make_daemon(sim.path)):
            seen = asyncio.run(follow_check())
    members = [member for member, _ in seen]
    changes = [body[1] for member, body in seen if member == "PropertiesChanged"]
    explained = [changed for changed in changes if "Explanation" in changed]
    assert explained, changes
    for changed in explained:
        english = paragraph_english(sentences_from_bus(changed["ExplanationText"]))
        assert english == changed["Explanation"]
    assert explained[-1]["Explanation"].startswith("Your written backup passed the check on ")
    for member in ("OperationProgress", "OperationFinished"):
        for index, (name, body) in enumerate(seen):
            if name == member:
                twin, text = seen[index - 1]
                assert twin == f"{member}Text" and text[:-1] == body[:-1], (member, seen)
                assert paragraph_english(sentences_from_bus(text[-1])) == body[-1]
    assert "OperationProgressText" in members
    assert members.index("OperationFinishedText") < members.index("OperationFinished")
