"""Typed outbox messages: each kind encodes to a versioned object and decodes back; anything else
is refused with the reason it is counted under, without repeating a value; reprs hide text,
chat addresses and case references; a new kind is a dataclass and one registry line."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

import pytest

from storage.messages import (
    MESSAGE_KINDS,
    AdminNotice,
    CaseAlert,
    DeadlineAlert,
    Delivery,
    ImageDelivery,
    MalformedMessage,
    Message,
    MessageError,
    NoticePush,
    ReminderPush,
    ReporterNotice,
    UnknownKind,
    UnsupportedVersion,
    _registry,
    decode,
    encode,
)

SECRET = "SECRET-4b1d 主管"
EXAMPLES: tuple[Message, ...] = (
    CaseAlert("north", "HAP-7K3M9Q", "verbal", "danger_now", "board"),
    ReporterNotice(f"wechat:o-{SECRET}", "north", "checkin"),
    AdminNotice("telegram:-100777", f"FAQ edit refused: {SECRET}"),
    Delivery("telegram:5001", f"您有一条新消息 {SECRET}"),
    NoticePush(f"wechat:o-{SECRET}", f"你的举报有一条新消息 {SECRET}"),
    ReminderPush("drill:main", "telegram:5001", f"培训提醒：{SECRET}", "tmpl-1", "培训提醒", "quiz:x", "开始测验"),
    ImageDelivery(f"wecom:{SECRET}", "iVBORw0KGgo=", f"每周汇总 {SECRET}"),
    DeadlineAlert("north", "HAP-7K3M9Q", "feedback", "missed", "2027-01-15", "board"),
)


def test_every_kind_is_in_the_examples() -> None:
    assert sorted(example.kind for example in EXAMPLES) == sorted(MESSAGE_KINDS)


@pytest.mark.parametrize("message", EXAMPLES, ids=lambda message: message.kind)
def test_each_kind_encodes_with_a_version_and_decodes_back(message: Message) -> None:
    encoded = encode(message)
    assert encoded["v"] == message.version
    assert decode(message.kind, encoded) == message
    assert type(decode(message.kind, encoded)) is type(message)


@pytest.mark.parametrize("message", EXAMPLES, ids=lambda message: message.kind)
def test_reprs_hide_text_addresses_and_references(message: Message) -> None:
    shown = repr(message)
    assert SECRET not in shown and "HAP-7K3M9Q" not in shown and "5001" not in shown and "-100777" not in shown
    assert shown.startswith(type(message).__name__)


def test_a_reporter_notice_of_version_one_is_about_a_new_message() -> None:
    """Notices queued before ``about`` existed still decode (the HR reply notice they were)."""
    assert decode("reporter_notice", {"v": 1, "contact": "telegram:1", "site": "north"}) == ReporterNotice(
        "telegram:1", "north", "message"
    )
    with pytest.raises(MalformedMessage):
        decode("reporter_notice", {"v": 2, "contact": "telegram:1", "site": "north", "about": "gossip"})


def test_payload_without_a_version_is_read_as_version_one() -> None:
    assert decode("deliver", {"chat": "telegram:1", "text": "hi"}) == Delivery("telegram:1", "hi")


@pytest.mark.parametrize(
    ("kind", "payload", "error"),
    [
        ("quiz_reminder_v9", {"v": 1}, UnknownKind),
        ("deliver", ["telegram:1", SECRET], MalformedMessage),
        ("deliver", {"v": "1", "chat": "telegram:1", "text": SECRET}, MalformedMessage),
        ("deliver", {"v": True, "chat": "telegram:1", "text": SECRET}, MalformedMessage),
        ("deliver", {"v": 2, "chat": "telegram:1", "text": SECRET}, UnsupportedVersion),
        ("deliver", {"v": 0, "chat": "telegram:1", "text": SECRET}, UnsupportedVersion),
        ("deliver", {"v": 1, "chat": "telegram:1"}, MalformedMessage),
        ("deliver", {"v": 1, "chat": "telegram:1", "text": "hi", SECRET: 1}, MalformedMessage),
        ("deliver", {"v": 1, "chat": 5001, "text": SECRET}, MalformedMessage),
        ("admin_notice", {"v": 1, "chat": "telegram:1", "text": None}, MalformedMessage),
        ("case_alert", {**encode(EXAMPLES[0]), "audience": "everyone"}, MalformedMessage),
        ("case_alert", {**encode(EXAMPLES[0]), "reference": 7}, MalformedMessage),
    ],
)
def test_anything_else_is_refused_with_its_reason_and_no_value(kind: str, payload: object, error: type) -> None:
    with pytest.raises(error) as raised:
        decode(kind, payload)
    assert isinstance(raised.value, MessageError) and isinstance(raised.value, ValueError)
    assert raised.value.reason in {"unknown_kind", "unknown_version", "bad_payload"}
    assert SECRET not in str(raised.value) and "everyone" not in str(raised.value)


def test_a_message_of_the_wrong_type_cannot_be_built() -> None:
    with pytest.raises(MalformedMessage):
        Delivery("telegram:1", None)  # type: ignore[arg-type]
    with pytest.raises(MalformedMessage):
        CaseAlert("north", "HAP-1", "verbal", "normal", "everyone")  # type: ignore[arg-type]


def test_messages_are_frozen_values() -> None:
    message = Delivery("telegram:1", "hi")
    with pytest.raises(AttributeError):
        message.text = "changed"  # type: ignore[misc]
    assert message == Delivery("telegram:1", "hi") and len({message, Delivery("telegram:1", "hi")}) == 1


@dataclass(frozen=True, repr=False)
class QuizReminder(Message):
    """What a coming kind looks like: a dataclass and one registry line."""

    kind: ClassVar[str] = "quiz_reminder"

    contact: str
    quiz: Literal["rights", "safety"]
    day: int
    repeat: bool


def test_a_new_kind_is_a_dataclass_and_a_registry_line() -> None:
    registry = _registry((*MESSAGE_KINDS.values(), QuizReminder))
    assert registry["quiz_reminder"] is QuizReminder
    reminder = QuizReminder("telegram:1", "rights", 3, False)
    assert encode(reminder) == {"v": 1, "contact": "telegram:1", "quiz": "rights", "day": 3, "repeat": False}
    with pytest.raises(MalformedMessage):
        QuizReminder("telegram:1", "rights", True, False)  # type: ignore[arg-type]  # a bool is not a day
    with pytest.raises(UnknownKind):
        decode("quiz_reminder", encode(reminder))  # not in this code's registry


def test_the_registry_refuses_a_duplicate_kind_and_unsupported_field_types() -> None:
    @dataclass(frozen=True, repr=False)
    class Twice(Message):
        kind: ClassVar[str] = "deliver"

    @dataclass(frozen=True, repr=False)
    class Fractional(Message):
        kind: ClassVar[str] = "fractional"
        amount: float

    with pytest.raises(TypeError, match="used twice"):
        _registry((Delivery, Twice))
    with pytest.raises(TypeError, match=r"fractional\.amount"):
        _registry((Fractional,))
