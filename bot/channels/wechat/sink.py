"""The outbox sink for WeChat workers: customer-service messages (and template messages for
reminders outside the 48 hours), with WeChat's errors made typed.

A chat id is the worker's OpenID (addresses ``wechat:<openid>``). Customer-service messages only
reach a worker within 48 hours of their last message: outside it (45015) or after an unfollow
(43004) the message is dropped at once, never retried. The primary path for later pushes is
delivery at the worker's next contact, which the channel handles; this sink is the fast path.

A text over 2,048 bytes goes out as several messages, split at line ends and never through a
receipt. If a later part fails transiently, the sink remembers (in this process) how many parts
went out, so the retry does not send the first parts twice.
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from collections.abc import Mapping
from typing import Protocol

from bot.channels.sinks import OUTSIDE_WINDOW, PermanentFailure, TransientFailure
from bot.channels.text import MAX_TEXT_BYTES, split_text
from bot.channels.wechat.errors import (
    CredentialsRejected,
    OutsideWindow,
    RequestRejected,
    TransientApiError,
    Unsubscribed,
)

log = logging.getLogger(__name__)

REMEMBERED_SENDS = 1024


class TextSender(Protocol):
    """What the sink needs of :class:`~bot.channels.wechat.api.WeChatApi`."""

    async def send_text(self, openid: str, text: str) -> None: ...

    async def send_template(
        self, openid: str, template_id: str, data: Mapping[str, Mapping[str, str]], *, url: str | None = None
    ) -> None: ...


class WeChatCustomerServiceSink:
    """Implements :class:`bot.channels.sinks.Sink` for ``wechat:<openid>`` addresses."""

    def __init__(self, api: TextSender, *, limit: int = MAX_TEXT_BYTES) -> None:
        self._api = api
        self._limit = limit
        # sha256(openid, text) -> parts already delivered; bounded, in memory only.
        self._progress: OrderedDict[str, int] = OrderedDict()

    def __repr__(self) -> str:
        return "WeChatCustomerServiceSink()"

    async def send(self, chat_id: str, text: str) -> None:
        parts = split_text(text, self._limit)
        key = hashlib.sha256(f"{chat_id}\0{text}".encode()).hexdigest()
        done = self._progress.pop(key, 0)
        for index in range(done, len(parts)):
            try:
                await self._api.send_text(chat_id, parts[index])
            except OutsideWindow as error:
                raise PermanentFailure(OUTSIDE_WINDOW) from error
            except Unsubscribed as error:
                raise PermanentFailure("unsubscribed") from error
            except RequestRejected as error:
                raise PermanentFailure(error.reason) from error
            except CredentialsRejected as error:
                self._remember(key, index)
                raise TransientFailure("credentials_rejected") from error
            except TransientApiError as error:
                self._remember(key, index)
                raise TransientFailure(error.reason) from error

    async def send_template(self, chat_id: str, template_id: str, title: str, text: str) -> None:
        """A template message (WeChat allows these outside the 48 hours): ``title`` in the template's
        ``first`` field, ``text`` in ``keyword1``, so the template must have both (see README)."""
        data = {"first": {"value": title}, "keyword1": {"value": text}}
        try:
            await self._api.send_template(chat_id, template_id, data)
        except OutsideWindow as error:
            raise PermanentFailure(OUTSIDE_WINDOW) from error
        except Unsubscribed as error:
            raise PermanentFailure("unsubscribed") from error
        except RequestRejected as error:
            raise PermanentFailure(error.reason) from error
        except (CredentialsRejected, TransientApiError) as error:
            raise TransientFailure(error.reason) from error

    def _remember(self, key: str, delivered: int) -> None:
        if delivered == 0:
            return
        self._progress[key] = delivered
        while len(self._progress) > REMEMBERED_SENDS:
            self._progress.popitem(last=False)
