"""The Telegram sink: python-telegram-bot's ``Bot.send_message`` with its errors made typed.

PTB raises ``BadRequest`` as a subclass of ``NetworkError``, so the order of the ``except``
clauses matters: a bad request is permanent, a network error is not.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Awaitable, Callable
from datetime import timedelta

import telegram
from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.warnings import PTBDeprecationWarning

from bot.channels.sinks import ChatMoved, PermanentFailure, RetryLater, TransientFailure

log = logging.getLogger(__name__)

MAX_TEXT_UTF16 = 4096  # Telegram's limit for one message, counted in UTF-16 code units
MAX_CAPTION_UTF16 = 1024  # and for a photo's caption


def retry_seconds(error: RetryAfter) -> float:
    """``retry_after`` as seconds, whether PTB gives an int or (with ``PTB_TIMEDELTA``) a timedelta."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value: object = error.retry_after
    if isinstance(value, timedelta):
        return value.total_seconds()
    return float(value) if isinstance(value, int | float) else 1.0


def fit_text(text: str, limit: int = MAX_TEXT_UTF16) -> str:
    """Cut text that Telegram would refuse as too long (admin notices can be), marking the cut."""
    data = text.encode("utf-16-le")
    if len(data) <= limit * 2:
        return text
    # A cut through a surrogate pair leaves half a character, which the decoder drops.
    return data[: (limit - 1) * 2].decode("utf-16-le", errors="ignore") + "…"


def _chat(chat_id: str) -> int | str:
    """Numeric ids as ints; ``@channelname`` stays a string."""
    try:
        return int(chat_id)
    except ValueError:
        return chat_id


class TelegramSink:
    """Sends outbox messages through a PTB ``Bot`` that the caller has initialised and owns.

    The sender runs up to ``concurrency`` sends at once, so the bot's request pool must allow as
    many (PTB's default request allows 256; only its getUpdates request is limited to one).
    ``sign`` (the adapter's ``callback_data``) lets a message carry a button for a worker to tap,
    signed for that worker like every button of the conversation.
    """

    def __init__(self, bot: telegram.Bot, sign: Callable[[int, str], str] | None = None) -> None:
        self._bot = bot
        self._sign = sign

    async def send(self, chat_id: str, text: str) -> None:
        await self._send(chat_id, text, None)

    async def send_choice(self, chat_id: str, text: str, choice_id: str, label: str) -> None:
        """A message with one button that sends ``choice_id`` (a private chat's id is its user's);
        plain text when this sink cannot sign buttons."""
        markup = None
        if self._sign is not None:
            data = self._sign(int(chat_id), choice_id)
            markup = InlineKeyboardMarkup([[InlineKeyboardButton(label, callback_data=data)]])
        await self._send(chat_id, text, markup)

    async def send_image(self, chat_id: str, image: bytes, caption: str) -> None:
        """A photo (``sendPhoto``, uploaded) with its caption cut to Telegram's 1,024."""
        caption = fit_text(caption, MAX_CAPTION_UTF16) if caption else ""
        await self._call(self._bot.send_photo(chat_id=_chat(chat_id), photo=image, caption=caption or None))

    async def _send(self, chat_id: str, text: str, markup: InlineKeyboardMarkup | None) -> None:
        await self._call(self._bot.send_message(chat_id=_chat(chat_id), text=fit_text(text), reply_markup=markup))

    async def _call(self, request: Awaitable[object]) -> None:
        """Awaits one Bot API request, turning its errors into the sender's typed failures."""
        try:
            await request
        except RetryAfter as error:
            raise RetryLater(retry_seconds(error)) from error
        except ChatMigrated as error:
            raise ChatMoved(str(error.new_chat_id)) from error
        except Forbidden as error:
            # "bot is not a member of the group chat" / "bot was kicked": an operator must re-add it.
            text_lower = str(error).lower()
            reason = "not_member" if ("not a member" in text_lower or "kicked" in text_lower) else "blocked"
            raise PermanentFailure(reason) from error
        except BadRequest as error:
            if "chat not found" in str(error).lower():
                raise PermanentFailure("chat_not_found") from error
            raise PermanentFailure("bad_request") from error
        except InvalidToken as error:
            log.error("Telegram refuses the bot token; alerts wait until [telegram] token is fixed")
            raise TransientFailure("invalid_token") from error
        except (TimedOut, NetworkError) as error:
            raise TransientFailure(type(error).__name__) from error
        except TelegramError as error:
            raise TransientFailure(type(error).__name__) from error
