"""WeChat messages to neutral events, and neutral replies to WeChat text.

WeChat passive replies carry one text message of at most 2,048 bytes and no buttons, so choices
become numbered lines (answered by number or by text) and long answers are split on reply
boundaries: what does not fit the passive reply follows as customer-service messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from wechatpy import parse_message
from wechatpy.events import ClickEvent, ScanEvent, SubscribeEvent, SubscribeScanEvent, UnsubscribeEvent
from wechatpy.messages import ImageMessage, TextMessage, VoiceMessage

from bot.channels.rendering import render_numbered
from bot.channels.text import MAX_TEXT_BYTES, split_text
from handlers.events import Attachment, Channel, Incoming, Reply, utf8_safe
from storage.crypto import Crypto, Purpose

IGNORED = "ignored"
UNSUBSCRIBED = "unsubscribed"


@dataclass(frozen=True, repr=False)
class WeChatEvent:
    """What the channel needs about one WeChat message; ``kind`` is "message", "ignored" or "unsubscribed"."""

    kind: str
    platform_id: str
    openid: str
    account: str
    incoming: Incoming | None
    media_id: str | None = None

    def __repr__(self) -> str:
        return f"WeChatEvent(kind={self.kind!r})"


class WeChatAdapter:
    def __init__(self, crypto: Crypto, known_sites: Sequence[str]) -> None:
        self._crypto = crypto
        self._sites = frozenset(known_sites)

    def user_key(self, openid: str) -> str:
        return self._crypto.pseudonym(Purpose.CONVERSATION, f"{Channel.WECHAT.value}:{openid}")

    def to_event(self, xml: str) -> WeChatEvent:
        message = parse_message(xml)
        openid = str(message.source)
        account = str(message.target)
        created = int(message.create_time.timestamp()) if message.create_time else 0
        if message.type == "event":
            platform_id = f"event:{openid}:{created}:{message.event}"
        else:
            platform_id = f"msg:{message.id}"

        def event(kind: str = "message", media_id: str | None = None, **fields: object) -> WeChatEvent:
            incoming = None
            if kind == "message":
                incoming = Incoming(
                    channel=Channel.WECHAT,
                    user_key=self.user_key(openid),
                    chat=openid,
                    received_at=datetime.now(UTC),
                    **fields,  # type: ignore[arg-type]
                )
            return WeChatEvent(kind, platform_id, openid, account, incoming, media_id)

        if isinstance(message, TextMessage):
            return event(text=utf8_safe(str(message.content or "")))
        if isinstance(message, VoiceMessage):
            recognised = utf8_safe(message.recognition or "").strip()
            if recognised:
                return event(text=recognised)  # WeChat's own transcript; the audio is never fetched
            return event(attachments=(Attachment("voice", ""),))
        if isinstance(message, ImageMessage):
            return event(media_id=str(message.media_id), attachments=())
        if isinstance(message, SubscribeScanEvent | ScanEvent):
            scene = str(message.scene_id or "").removeprefix("qrscene_")
            # A candidate QR code (scene cand-<site>) says so in the text, as a Telegram deep link does.
            text = f"/start {scene}" if scene.startswith("cand-") else "/start"
            return event(text=text, site=self._site(scene))
        if isinstance(message, SubscribeEvent):
            return event(text="/start")
        if isinstance(message, UnsubscribeEvent):
            return event(UNSUBSCRIBED)
        if isinstance(message, ClickEvent):
            return event(choice=utf8_safe(str(message.key or "")))
        if message.type == "event":
            return event(IGNORED)  # menu VIEW, location reports, template results…
        return event(attachments=(Attachment("other", ""),))

    def _site(self, scene: str) -> str | None:
        scene = scene.removeprefix("qrscene_").removeprefix("site-").removeprefix("cand-")
        return scene if scene in self._sites else None

    @staticmethod
    def with_attachment(event: WeChatEvent, ref: str | None) -> WeChatEvent:
        assert event.incoming is not None
        attachments = (Attachment("image", ref or ""),)  # "" = a picture not kept
        incoming = Incoming(
            channel=event.incoming.channel,
            user_key=event.incoming.user_key,
            chat=event.incoming.chat,
            received_at=event.incoming.received_at,
            attachments=attachments,
            message_key=event.incoming.message_key,
        )
        return WeChatEvent(event.kind, event.platform_id, event.openid, event.account, incoming, event.media_id)


def render(reply: Reply) -> str:
    return render_numbered(reply)


def fits(text: str) -> bool:
    return len(text.encode()) <= MAX_TEXT_BYTES


def pack(replies: Sequence[Reply]) -> tuple[str, list[str]]:
    """The passive reply (in order, within 2,048 bytes) and the texts left over for later.

    A reply carrying a receipt always goes in the passive reply, whole: it is never stored to be
    sent later, and never cut.
    """
    passive: list[str] = []
    rest: list[str] = []
    for reply in replies:
        text = render(reply)
        if reply.carries_receipt:
            if rest or not fits("\n\n".join([*passive, text])):
                rest = [*passive, *rest]
                passive = []
            passive.append(text)
            continue
        candidate = "\n\n".join([*passive, text])
        if not rest and fits(candidate):
            passive.append(text)
        else:
            rest.extend(split_text(text))
    if not passive and rest:
        passive = [rest.pop(0)]
    return "\n\n".join(passive), rest
