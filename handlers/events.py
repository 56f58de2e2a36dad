"""The whole contract between channels and the conversation core.

Channel adapters (``bot/channels``) build an :class:`Incoming` from a platform update and render
:class:`Reply` objects back into platform calls; handlers see nothing else of a platform. Every
type here redacts its sensitive fields in ``repr`` so that a stray log line or a traceback never
carries message text, a pseudonym or a chat address.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import StrEnum
from typing import Literal

from storage.messages import AlertAudience as AlertAudience
from storage.messages import CaseAlert


def utf8_safe(text: str) -> str:
    """``text`` as UTF-8 can carry it: a lone surrogate (from a JSON escape such as ``\\ud800``, or a
    platform's bug) becomes U+FFFD, a surrogate pair the character it stands for.

    Such text would pass every check and then fail when it is sealed for storage; channels clean or
    refuse it at the edge, and :class:`Incoming` cleans whatever still gets through.
    """
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def _clean_strings(instance: object) -> None:
    """Replaces each string field of a frozen dataclass by its :func:`utf8_safe` form."""
    for each in fields(instance):  # type: ignore[arg-type]
        value = getattr(instance, each.name)
        if isinstance(value, str) and not value.isascii():
            object.__setattr__(instance, each.name, utf8_safe(value))


class Channel(StrEnum):
    CONSOLE = "console"
    TELEGRAM = "telegram"
    WECHAT = "wechat"


@dataclass(frozen=True, repr=False)
class Attachment:
    """A file the worker sent; ``ref`` is an opaque platform handle the channel can fetch later."""

    kind: Literal["image", "document", "voice", "other"]
    ref: str
    mime: str | None = None
    recognition: str | None = None

    def __post_init__(self) -> None:
        _clean_strings(self)

    def __repr__(self) -> str:
        return f"Attachment(kind={self.kind!r})"


@dataclass(frozen=True, repr=False)
class Incoming:
    """One normalised message from a worker.

    ``user_key`` is a keyed pseudonym of the platform user id (never the id itself); ``chat`` is the
    address a channel needs to answer or notify later and is stored only encrypted, and only when
    the worker agreed to notifications. ``choice`` is set when the worker picked a choice by id.
    """

    channel: Channel
    user_key: str
    chat: str
    received_at: datetime
    text: str | None = None
    choice: str | None = None
    attachments: tuple[Attachment, ...] = ()
    language_hint: str | None = None
    site: str | None = None
    message_key: str | None = None  # an opaque, keyed id of the platform message (retries share it)

    def __post_init__(self) -> None:
        _clean_strings(self)  # the last line of defence: nothing unstorable reaches the core

    def __repr__(self) -> str:
        return (
            f"Incoming(channel={self.channel.value!r}, has_text={self.text is not None}, "
            f"choice={self.choice!r}, attachments={len(self.attachments)})"
        )


@dataclass(frozen=True)
class Choice:
    """A choice with a stable id (what handlers match) and a translated label (what people see)."""

    id: str
    label: str


@dataclass(frozen=True, repr=False)
class Reply:
    """One message to the worker.

    ``carries_receipt`` marks the reply that shows a report receipt: the channel must confirm its
    delivery (see ``Dispatcher.confirm_delivery``) and may delete it later where the platform allows.
    """

    text: str
    choices: tuple[Choice, ...] = ()
    carries_receipt: bool = False

    def __repr__(self) -> str:
        return f"Reply(chars={len(self.text)}, choices={[c.id for c in self.choices]})"


Alert = CaseAlert
"""A content-free case alert: the outbox's own message type (``storage.messages``), so handlers
queue exactly what the alert router reads."""


@dataclass(frozen=True)
class Outcome:
    """What handling one :class:`Incoming` produced, after its effects were committed."""

    replies: tuple[Reply, ...] = ()
    alerts: tuple[Alert, ...] = field(default_factory=tuple)

    @property
    def needs_delivery_confirmation(self) -> bool:
        return any(reply.carries_receipt for reply in self.replies)
