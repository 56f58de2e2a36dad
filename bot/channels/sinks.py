"""What the outbox sender needs from a platform: one ``send`` and a few typed failures.

A sink turns its platform's errors into these, so the sender decides retry, drop or follow
without knowing any platform. Any other exception from a sink is treated as transient (retried
with backoff): losing an HR alert to an unexpected error is worse than retrying it.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable


class Sink(Protocol):
    """Sends plain text to one chat of a platform; ``chat_id`` is the part after ``platform:``."""

    async def send(self, chat_id: str, text: str) -> None: ...


@runtime_checkable
class ImageSink(Sink, Protocol):
    """A sink that can also send a picture (PNG bytes) with a short caption, such as the weekly
    digest's chart; the sender drops an image for a platform whose sink cannot, counted as ``no_images``."""

    async def send_image(self, chat_id: str, image: bytes, caption: str) -> None: ...


class DeliveryError(Exception):
    """Base of the failures a sink reports; messages never carry message text or chat ids."""


class RetryLater(DeliveryError):
    """The platform said wait (Telegram 429): nothing may go to this chat for ``seconds``.
    ``everywhere`` says the limit is the bot's as a whole, not this chat's."""

    def __init__(self, seconds: float, *, everywhere: bool = False) -> None:
        super().__init__(f"retry after {seconds:g} s")
        self.seconds = float(seconds)
        self.everywhere = everywhere


OUTSIDE_WINDOW = "outside_window"
"""The reason of a :class:`PermanentFailure` when the platform refuses a push because the worker's
push window has closed (WeChat's 48 hours): a held notice may still reach her at her next message."""


class PermanentFailure(DeliveryError):
    """This chat will never take the message (blocked, chat not found...): drop it and count ``reason``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ChatMoved(DeliveryError):
    """The chat has a new id (a Telegram group upgraded to a supergroup): send there instead."""

    def __init__(self, new_chat_id: str) -> None:
        super().__init__("chat moved")
        self.new_chat_id = str(new_chat_id)


class TransientFailure(DeliveryError):
    """A network error or time-out: the send may work later; retry with backoff."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
