"""Telegram updates to neutral events and neutral replies to Telegram calls.

Button data carries the choice id and a short keyed tag over (Telegram user id, choice id), so a
button cannot be forged, nor replayed from one worker's chat into another's; a replayed button of
the worker's own older message names a choice that is no longer offered and the core refuses it.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update

from handlers.events import Attachment, Channel, Incoming, Reply, utf8_safe
from storage.crypto import Crypto, Purpose

CALLBACK_SEPARATOR = "|"
TAG_LENGTH = 10  # base32 characters: 50 bits
MAX_CALLBACK_BYTES = 64  # Telegram's limit on callback_data


class ForgedCallback(Exception):
    """Button data whose tag does not match this user: forged, or replayed from another chat."""


def clean_update(value: Any) -> Any:
    """A raw update (decoded JSON) with every string :func:`~handlers.events.utf8_safe`.

    JSON may escape a lone surrogate (``"\\ud800"``); such a string cannot be journaled (sealing
    encodes UTF-8), and one update that cannot be journaled would stop polling for everyone.
    """
    if isinstance(value, str):
        return utf8_safe(value)
    if isinstance(value, dict):
        return {clean_update(key): clean_update(item) for key, item in value.items()}
    if isinstance(value, list):
        return [clean_update(item) for item in value]
    return value


@dataclass(frozen=True, repr=False)
class TelegramEvent:
    """An Incoming plus what the channel needs around it (which message to clean up, which query to answer)."""

    incoming: Incoming
    user_id: int
    chat_id: int
    message_id: int | None
    callback_query_id: str | None
    photo_file_id: str | None

    def __repr__(self) -> str:
        return f"TelegramEvent({self.incoming!r})"


class TelegramAdapter:
    def __init__(self, crypto: Crypto, known_sites: Sequence[str]) -> None:
        self._crypto = crypto
        self._sites = frozenset(known_sites)

    def user_key(self, user_id: int) -> str:
        return self._crypto.pseudonym(Purpose.CONVERSATION, f"{Channel.TELEGRAM.value}:{user_id}")

    def _tag(self, user_id: int, choice_id: str) -> str:
        return self._crypto.pseudonym(Purpose.CALLBACK, f"{user_id}:{choice_id}")[:TAG_LENGTH]

    def callback_data(self, user_id: int, choice_id: str) -> str:
        data = f"{choice_id}{CALLBACK_SEPARATOR}{self._tag(user_id, choice_id)}"
        if len(data.encode()) > MAX_CALLBACK_BYTES:
            raise ValueError(f"choice id {choice_id!r} is too long for Telegram button data")
        return data

    def verify_callback(self, user_id: int, data: str) -> str:
        """The choice id a button names, or ForgedCallback (also for data we never make: too long,
        not UTF-8 text, a tag that is not ASCII)."""
        if not isinstance(data, str) or utf8_safe(data) != data or len(data.encode()) > MAX_CALLBACK_BYTES:
            raise ForgedCallback
        choice_id, separator, tag = data.rpartition(CALLBACK_SEPARATOR)
        if not separator or not choice_id or not tag.isascii():
            raise ForgedCallback
        if not hmac.compare_digest(tag, self._tag(user_id, choice_id)):
            raise ForgedCallback
        return choice_id

    def keyboard(self, user_id: int, reply: Reply) -> InlineKeyboardMarkup | None:
        if not reply.choices:
            return None
        return InlineKeyboardMarkup(
            [[InlineKeyboardButton(c.label, callback_data=self.callback_data(user_id, c.id))] for c in reply.choices]
        )

    def to_event(self, update: Update, attachment_ref: str | None = None) -> TelegramEvent | None:
        """The event of a private-chat update, or None for anything a worker conversation ignores.

        Raises ForgedCallback for button data that is not this user's.
        """
        if update.callback_query is not None:
            query = update.callback_query
            message = query.message if isinstance(query.message, Message) else None
            if message is None or message.chat.type != "private" or query.data is None:
                return None
            choice = self.verify_callback(query.from_user.id, query.data)
            return self._event(update, query.from_user.id, message.chat.id, None, choice=choice, query_id=query.id,
                               language=query.from_user.language_code)
        message = update.message
        if message is None or message.chat.type != "private" or message.from_user is None:
            return None
        text = message.text if message.text is not None else message.caption
        text = utf8_safe(text) if text is not None else None
        site = None
        if text and text.startswith("/start "):
            # /start <site>, /start site-<site>, or a candidate link /start cand-<site> (the text keeps it)
            payload = text.partition(" ")[2].strip().removeprefix("site-").removeprefix("cand-")
            site = payload if payload in self._sites else None
        attachments: tuple[Attachment, ...] = ()
        photo_id = None
        if message.photo:
            photo_id = message.photo[-1].file_id
        elif message.document is not None and (message.document.mime_type or "").startswith("image/"):
            photo_id = message.document.file_id
        if attachment_ref is not None:
            attachments = (Attachment("image", attachment_ref),)
        elif text is None and photo_id is None:
            # Voice notes, stickers, videos…: the core answers with a clear message.
            attachments = (Attachment("voice" if message.voice is not None else "other", ""),)
        event = self._event(update, message.from_user.id, message.chat.id, message.message_id, text=text,
                            language=message.from_user.language_code, site=site, attachments=attachments)
        return TelegramEvent(event.incoming, event.user_id, event.chat_id, event.message_id, None, photo_id)

    def _event(
        self,
        update: Update,
        user_id: int,
        chat_id: int,
        message_id: int | None,
        *,
        text: str | None = None,
        choice: str | None = None,
        query_id: str | None = None,
        language: str | None = None,
        site: str | None = None,
        attachments: tuple[Attachment, ...] = (),
    ) -> TelegramEvent:
        incoming = Incoming(
            channel=Channel.TELEGRAM,
            user_key=self.user_key(user_id),
            chat=str(chat_id),
            received_at=datetime.now(UTC),
            text=text,
            choice=choice,
            attachments=attachments,
            language_hint=language,
            site=site,
        )
        return TelegramEvent(incoming, user_id, chat_id, message_id, query_id, None)
