"""The daemon's owner-facing texts are sentences a client can translate (docs/dbus-api.md,
Languages): each msgid is marked for the catalogue and formats with exactly the arguments the
daemon passes, and the English properties, signals and errors are those sentences joined."""

from __future__ import annotations

from dbus_fast import Message, MessageType

from trezor_backup_api.i18n import paragraph_english, sentences_from_bus
from trezor_backup_api.names import error_name
from trezor_backup_api.vocabulary import BackupState, Outcome, Refusal, Stage
from trezor_backupd.bus.dbus_service import (
    SentencedError,
    device_property_values,
    on_bus,
)
from trezor_backupd.device_values import OperationResult, Progress, TrackedDevice

from daemon_sentences import (
    composed_refusals,
    composed_sentences,
    composed_statuses,
    daemon_sentences,
    marked_msgids,
    placeholders,
)


def test_every_composed_sentence_is_marked_and_gets_exactly_its_arguments() -> None:
    for sentence in composed_sentences():
        assert sentence.msgid in marked_msgids(), sentence.msgid
        assert set(sentence.args) == placeholders(sentence.msgid), sentence
        assert sentence.english() and sentence.translated()


def test_every_marked_msgid_is_among_the_daemon_sentences_and_formats() -> None:
    sentences = daemon_sentences()
    assert {sentence.msgid for sentence in sentences} == marked_msgids()
    for sentence in sentences:
        assert set(sentence.args) == placeholders(sentence.msgid), sentence
        assert "{" not in sentence.english(), sentence


def test_every_state_is_explained_in_sentences() -> None:
    statuses = composed_statuses()
    assert {shown.state for shown in statuses} == set(BackupState)
    for shown in statuses:
        assert shown.explanation_text, shown.state


def test_the_english_properties_are_the_sentences_joined() -> None:
    """`Explanation` and `NextStep` stay what scripts read; their *Text twins say the same."""
    for shown in composed_statuses():
        values = device_property_values(TrackedDevice("E0", "udp:127.0.0.1:21324", shown))
        for plain, text in (("Explanation", "ExplanationText"), ("NextStep", "NextStepText")):
            assert values[plain] == paragraph_english(sentences_from_bus(values[text]))
        assert values["Explanation"] == shown.explanation
        assert values["NextStep"] == shown.next_step


def test_a_dated_sentence_names_its_date_as_a_date_argument() -> None:
    dated = [s for s in composed_sentences() if any(k.endswith("date") for k in s.args)]
    assert dated
    for sentence in dated:
        assert all(sentence.args[k][:4].isdigit() for k in sentence.args if k.endswith("date"))


def test_results_and_steps_are_their_sentences_in_english() -> None:
    [first, second] = [s for s in daemon_sentences() if not s.args][:2]
    assert OperationResult(Outcome.PASSED, (first, second)).message == (
        f"{first.english()} {second.english()}"
    )
    assert Progress(Stage.CONFIRM, first).message == first.english()


def test_a_refusal_is_sent_as_its_english_then_its_sentences() -> None:
    call = Message(destination=":1.9", path="/", member="StartBackup", serial=7)
    call.sender = ":1.5"
    for refusal in composed_refusals():
        error = SentencedError(error_name(refusal.reason), *refusal.text)
        reply = error._as_message(call)
        assert reply.message_type is MessageType.ERROR and reply.reply_serial == 7
        assert reply.error_name == error_name(Refusal.NOT_POSSIBLE)
        assert reply.signature == "sa(ssa{ss})"
        assert reply.body == [refusal.message, on_bus(refusal.text)]
        assert sentences_from_bus(reply.body[1]) == refusal.text
