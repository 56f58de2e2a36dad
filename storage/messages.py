"""What the outbox carries: one frozen dataclass per kind of push work, in one module.

A message's ``kind`` is stored in plain text beside its sealed payload, so a job selects its rows
without opening any. :func:`encode` turns a message into the JSON object that is sealed,
``{"v": <version>, <field>: <value>, ...}``; :func:`decode` turns one back and checks every field.
Anything it cannot trust raises a :class:`MessageError` whose ``reason`` names the delivery counter
it bumps: a kind this code does not know (``unknown_kind``), a payload version it cannot read
(``unknown_version``), a missing, extra or mistyped field (``bad_payload``). The outbox sets such a
row aside; it never reaches a sender.

Like ``handlers.events``, every ``repr`` hides message text, chat addresses and case references, so
a stray log line or traceback carries none of them.

A new kind (a quiz reminder, a case deadline, a broadcast) is a frozen dataclass here that
subclasses :class:`Message` with its own ``kind``, plus one line in :data:`MESSAGE_TYPES`. Fields
may be ``str``, ``int``, ``bool`` or a ``Literal`` of strings. A kind whose payload changes shape
bumps ``version`` and overrides :meth:`Message.upgrade` to read the payloads already stored.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, get_args, get_origin, get_type_hints

VERSION_KEY = "v"
UNVERSIONED = 1
"""Payloads written before they carried a version number have the fields of version 1."""
MAX_KIND_LENGTH = 32  # the width of ``outbox.kind``

AlertAudience = Literal["hr", "board"]
NoticeAbout = Literal["message", "acknowledged", "checkin"]
DeadlineName = Literal["acknowledge", "feedback", "resolve"]
DeadlineStage = Literal["reminder", "missed"]


class MessageError(ValueError):
    """A message this code cannot use. ``reason`` is the counter it bumps; the text names the kind
    and the field, never a value."""

    reason: ClassVar[str] = "bad_payload"


class UnknownKind(MessageError):
    """The kind is not one this code knows (written by newer code, or by a removed feature)."""

    reason = "unknown_kind"


class UnsupportedVersion(MessageError):
    """The payload's version is not one this code can read (written by newer code)."""

    reason = "unknown_version"


class MalformedMessage(MessageError):
    """A field is missing, unexpected or of the wrong type."""

    reason = "bad_payload"


@dataclass(frozen=True, repr=False)
class Message:
    """Base of every outbox message: ``kind`` names it in the outbox row, ``version`` the shape of
    its payload. Field types are checked when a message is built, so one that exists is well formed."""

    kind: ClassVar[str]
    version: ClassVar[int] = 1

    def __post_init__(self) -> None:
        for name, accepts in _schema(type(self)):
            if not accepts(getattr(self, name)):
                raise MalformedMessage(f"{self.kind}.{name} has the wrong type or value")

    @classmethod
    def upgrade(cls, version: int, fields: dict[str, object]) -> dict[str, object]:
        """The current fields from a payload of ``version``; by default only the current version reads."""
        if version != cls.version:
            raise UnsupportedVersion(f"{cls.kind} payload version {version}; this code reads {cls.version}")
        return fields

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


@dataclass(frozen=True, repr=False)
class CaseAlert(Message):
    """A content-free alert about a case for the site's HR or advocacy-board chats: nothing here may
    reveal the report or the reporter. The alert router turns it into one :class:`Delivery` per chat."""

    kind: ClassVar[str] = "case_alert"

    site: str
    reference: str
    category: str
    urgency: str
    audience: AlertAudience

    def __repr__(self) -> str:
        return f"CaseAlert(site={self.site!r}, audience={self.audience!r})"


@dataclass(frozen=True, repr=False)
class ReporterNotice(Message):
    """A neutral notice for the reporter at ``contact`` (``channel:chat``): pushed now or held for
    their next message, as the channel's push window allows. ``about`` picks its neutral words: a
    new message from HR, the case acknowledged, or a check-in after the case closed."""

    kind: ClassVar[str] = "reporter_notice"
    version: ClassVar[int] = 2

    contact: str
    site: str
    about: NoticeAbout = "message"

    @classmethod
    def upgrade(cls, version: int, fields: dict[str, object]) -> dict[str, object]:
        """Version 1 had no ``about``: every notice was about a new message."""
        if version == 1:
            return {**fields, "about": "message"}
        return super().upgrade(version, fields)

    def __repr__(self) -> str:
        return f"ReporterNotice(channel={self.contact.partition(':')[0]!r}, site={self.site!r})"


@dataclass(frozen=True, repr=False)
class AdminNotice(Message):
    """A notice for an admin chat (``platform:chat``), such as a refused FAQ edit."""

    kind: ClassVar[str] = "admin_notice"

    chat: str
    text: str

    def __repr__(self) -> str:
        return f"AdminNotice(chars={len(self.text)})"


@dataclass(frozen=True, repr=False)
class Delivery(Message):
    """One text for one chat (``platform:chat``): what the sender sends; everything else becomes these."""

    kind: ClassVar[str] = "deliver"

    chat: str
    text: str

    @property
    def platform(self) -> str:
        return self.chat.partition(":")[0]

    def __repr__(self) -> str:
        return f"Delivery(platform={self.platform!r}, chars={len(self.text)})"


@dataclass(frozen=True, repr=False)
class NoticePush(Delivery):
    """A reporter notice pushed now: sent as a :class:`Delivery`, but when the platform refuses it
    as outside its push window (the worker's 48 hours on WeChat ran out while it waited or was
    retried), the sender holds the notice for her next message instead of dropping it, so she still
    learns that HR answered."""

    kind: ClassVar[str] = "notice_push"

    def __repr__(self) -> str:
        return f"NoticePush(platform={self.platform!r}, chars={len(self.text)})"


@dataclass(frozen=True, repr=False)
class ReminderPush(Message):
    """One reminder of an occasion for one worker's chat (``platform:chat``), pushed now: a chat
    message, or on WeChat outside the 48 hours a template message (``template`` is its id, "" for a
    chat message). ``choice`` is what the reminder opens ("" for nothing, else a choice id such as
    ``quiz`` or ``quiz:<id>``), shown as a button labelled ``label`` where the platform has buttons."""

    kind: ClassVar[str] = "reminder"

    occasion: str
    chat: str
    text: str
    template: str = ""
    title: str = ""
    choice: str = ""
    label: str = ""

    @property
    def platform(self) -> str:
        return self.chat.partition(":")[0]

    def __repr__(self) -> str:
        return f"ReminderPush(platform={self.platform!r}, template={bool(self.template)}, chars={len(self.text)})"


@dataclass(frozen=True, repr=False)
class ImageDelivery(Message):
    """One picture for one chat (``platform:chat``), such as the weekly digest's chart: ``image`` is
    the PNG as base64 text (outbox payloads are JSON), ``caption`` a short line shown with it where
    the platform allows. The sender hands it to a sink that can send images."""

    kind: ClassVar[str] = "deliver_image"

    chat: str
    image: str
    caption: str = ""

    @property
    def platform(self) -> str:
        return self.chat.partition(":")[0]

    def __repr__(self) -> str:
        return f"ImageDelivery(platform={self.platform!r}, chars={len(self.image)})"


@dataclass(frozen=True, repr=False)
class DeadlineAlert(Message):
    """A content-free note about a case's deadline for the site's HR or board chats: a reminder
    before it (``stage`` "reminder") or, once missed, the escalation to the board ("missed").
    ``due`` is the deadline's day (ISO date, the deployment's time zone); nothing of the report or the reporter."""

    kind: ClassVar[str] = "deadline_alert"

    site: str
    reference: str
    deadline: DeadlineName
    stage: DeadlineStage
    due: str
    audience: AlertAudience

    def __repr__(self) -> str:
        return f"DeadlineAlert(site={self.site!r}, {self.deadline}, {self.stage}, audience={self.audience!r})"


MESSAGE_TYPES: tuple[type[Message], ...] = (
    CaseAlert,
    ReporterNotice,
    AdminNotice,
    Delivery,
    NoticePush,
    ReminderPush,
    ImageDelivery,
    DeadlineAlert,
)
"""Every kind the outbox may hold; a new kind is one more entry here."""


def _accepts(kind: str, name: str, annotation: Any) -> Callable[[object], bool]:
    if annotation is bool:
        return lambda value: isinstance(value, bool)
    if annotation is int:
        return lambda value: isinstance(value, int) and not isinstance(value, bool)
    if annotation is str:
        return lambda value: isinstance(value, str)
    if get_origin(annotation) is Literal and all(isinstance(option, str) for option in get_args(annotation)):
        options = frozenset(get_args(annotation))
        return lambda value: isinstance(value, str) and value in options
    raise TypeError(f"{kind}.{name}: outbox message fields are str, int, bool or a Literal of strings")


_SCHEMAS: dict[type[Message], tuple[tuple[str, Callable[[object], bool]], ...]] = {}


def _schema(cls: type[Message]) -> tuple[tuple[str, Callable[[object], bool]], ...]:
    """Each field's name and the check of its type, worked out once per message type."""
    schema = _SCHEMAS.get(cls)
    if schema is None:
        hints = get_type_hints(cls)
        schema = tuple((f.name, _accepts(cls.kind, f.name, hints[f.name])) for f in dataclasses.fields(cls))
        _SCHEMAS[cls] = schema
    return schema


def _registry(types: tuple[type[Message], ...]) -> Mapping[str, type[Message]]:
    """Kinds by name; a duplicate or over-long kind, or an unsupported field type, fails at import."""
    registry: dict[str, type[Message]] = {}
    for message_type in types:
        kind = message_type.kind
        if not kind or len(kind) > MAX_KIND_LENGTH or kind in registry:
            raise TypeError(f"outbox message kind {kind!r} is empty, too long or used twice")
        _schema(message_type)
        registry[kind] = message_type
    return registry


MESSAGE_KINDS: Mapping[str, type[Message]] = _registry(MESSAGE_TYPES)


def message_type(kind: str) -> type[Message]:
    """The message type of ``kind``, or :class:`UnknownKind`."""
    found = MESSAGE_KINDS.get(kind)
    if found is None:
        raise UnknownKind("an outbox message of a kind this code does not know")
    return found


def encode(message: Message) -> dict[str, object]:
    """The JSON object sealed into the outbox: the payload version and every field."""
    fields = {field.name: getattr(message, field.name) for field in dataclasses.fields(message)}
    return {VERSION_KEY: message.version, **fields}


def decode(kind: str, payload: object) -> Message:
    """The message of ``kind`` from an opened payload; raises :class:`MessageError` when it cannot."""
    cls = message_type(kind)
    if not isinstance(payload, dict):
        raise MalformedMessage(f"{kind} payload is not an object")
    fields = dict(payload)
    version = fields.pop(VERSION_KEY, UNVERSIONED)
    if not isinstance(version, int) or isinstance(version, bool):
        raise MalformedMessage(f"{kind} payload version is not a number")
    fields = cls.upgrade(version, fields)
    expected = {name for name, _ in _schema(cls)}
    if set(fields) != expected:
        missing, extra = sorted(expected - set(fields)), len(set(fields) - expected)
        raise MalformedMessage(f"{kind} payload fields: missing {missing}, {extra} unexpected")
    return cls(**fields)
