"""HR alerts to WeCom (WeChat Work) group robots: the outbox sink for ``wecom:<robot>`` chats.

A robot is named by the site whose ``[sites.<site>] wecom_webhook_url`` holds its webhook: the
chat ``wecom:north`` posts to the URL in ``[sites.north]``. Any site's ``hr_chats`` or
``board_chats`` may name any configured robot, but there is one robot per site section, so a
board that needs a WeCom group apart from HR's cannot have one yet (it can use Telegram). The URL
carries the robot's key, which lets anyone post to the group, so it is a ``SecretStr`` and never
appears in logs, reprs or errors; the robot's name does.

WeCom allows 20 messages a minute per robot (the sender's ``RateLimiter.wecom`` keeps to it, keyed
by robot name) and 2,048 bytes of text; alerts are content-free and short, and a longer text is
cut with an ellipsis. Over the limit WeCom answers 45009, which pauses the robot for a minute.

Pictures (the weekly digest's chart) go as WeCom's ``image`` message: the file's bytes as base64
and the MD5 of the bytes (WeCom's own integrity check, not a security measure), JPG or PNG of at
most 2 MB before encoding. A robot has no captions, so the caption is dropped: the digest's text
goes in a message of its own.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Mapping
from typing import Any

import httpx
from pydantic import SecretStr

from bot.channels.sinks import DeliveryError, PermanentFailure, RetryLater, TransientFailure
from bot.channels.text import MAX_TEXT_BYTES, cut_text
from bot.config import Config

log = logging.getLogger(__name__)

FREQUENCY_LIMITED = 45009
RETRY_AFTER_SECONDS = 60.0
INVALID_WEBHOOK = 93000
# The body is wrong (message type, empty or over-long content, bad JSON, an image's type or size):
# resending cannot help.
BAD_REQUEST = frozenset({40005, 40008, 40009, 40058, 44004, 47001})
SEND_TIMEOUT = 10.0
MAX_IMAGE_BYTES = 2 * 1024 * 1024  # before base64


def webhooks_from_config(config: Config) -> dict[str, SecretStr]:
    """Robot name -> webhook URL: every site with a ``wecom_webhook_url``, named by its site id."""
    return {site_id: site.wecom_webhook_url for site_id, site in config.sites.items() if site.wecom_webhook_url}


class WeComRobotSink:
    """Implements :class:`bot.channels.sinks.Sink` for ``wecom:<robot name>`` addresses."""

    def __init__(
        self, http: httpx.AsyncClient, webhooks: Mapping[str, SecretStr | str], *, timeout: float = SEND_TIMEOUT
    ) -> None:
        self._http = http
        self._webhooks = {name: url if isinstance(url, SecretStr) else SecretStr(url) for name, url in webhooks.items()}
        self._timeout = timeout

    @classmethod
    def from_config(cls, config: Config, http: httpx.AsyncClient) -> WeComRobotSink:
        return cls(http, webhooks_from_config(config))

    def __repr__(self) -> str:
        return f"WeComRobotSink(robots={sorted(self._webhooks)!r})"

    async def send(self, chat_id: str, text: str) -> None:
        await self._post(chat_id, {"msgtype": "text", "text": {"content": cut_text(text, MAX_TEXT_BYTES)}})

    async def send_image(self, chat_id: str, image: bytes, caption: str) -> None:
        """An ``image`` message (base64 and MD5 of the PNG or JPG); robots show no caption."""
        if len(image) > MAX_IMAGE_BYTES:
            raise PermanentFailure("image_too_large")
        encoded = base64.b64encode(image).decode("ascii")
        digest = hashlib.md5(image, usedforsecurity=False).hexdigest()
        await self._post(chat_id, {"msgtype": "image", "image": {"base64": encoded, "md5": digest}})

    async def _post(self, chat_id: str, body: dict[str, object]) -> None:
        webhook = self._webhooks.get(chat_id)
        if webhook is None:
            log.error("no [sites.%s] wecom_webhook_url for the chat wecom:%s; its alerts are dropped", chat_id, chat_id)
            raise PermanentFailure("unknown_robot")
        failure: DeliveryError
        try:
            response = await self._http.post(webhook.get_secret_value(), json=body, timeout=self._timeout)
        except httpx.HTTPError as error:
            failure = TransientFailure(f"network_{type(error).__name__}")
        else:
            self._check(chat_id, response)
            return
        raise failure  # outside the except block: httpx's error holds the URL, so it is not chained

    def _check(self, robot: str, response: httpx.Response) -> None:
        """Returns when WeCom took the message; raises the sender's typed failure otherwise."""
        if response.status_code == 429:
            raise RetryLater(RETRY_AFTER_SECONDS)
        if response.status_code != 200:
            raise TransientFailure(f"http_{response.status_code}")
        try:
            payload: Any = response.json()
        except ValueError:
            payload = None
        errcode = payload.get("errcode") if isinstance(payload, dict) else None
        if not isinstance(errcode, int):
            raise TransientFailure("bad_response")
        if errcode == 0:
            return
        if errcode == FREQUENCY_LIMITED:
            raise RetryLater(RETRY_AFTER_SECONDS)
        if 93000 <= errcode < 94000:
            log.error(
                "WeCom refused the robot %r (errcode %d): its webhook was removed or the key is wrong; "
                "update [sites.%s] wecom_webhook_url",
                robot,
                errcode,
                robot,
            )
            raise PermanentFailure("invalid_webhook" if errcode == INVALID_WEBHOOK else "robot_unavailable")
        if errcode in BAD_REQUEST:
            raise PermanentFailure("bad_request")
        raise TransientFailure(f"errcode_{errcode}")
