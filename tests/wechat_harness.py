"""Acts as the WeChat server: builds, encrypts and signs callbacks with wechatpy's own crypto, and
decrypts and verifies every reply, against the bot's real web app over HTTP."""

from __future__ import annotations

import itertools
import secrets
import xml.etree.ElementTree as ElementTree
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto

from bot.channels.wechat.callback import CallbackVerifier, sha1_signature
from bot.channels.wechat.channel import MediaStore, WeChatChannel
from bot.core import Core
from bot.web.app import build_web_app
from bot.web.server import serving

TOKEN = "hapbotTestToken2026"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # 43 characters, as WeChat issues them
APP_ID = "wx1234567890abcdef"
ACCOUNT = "gh_hapbot_test"
_ids = itertools.count(7_300_000_000_000_000_001)


def message_xml(openid: str, created: int, msg_type: str, **fields: str) -> str:
    parts = [
        f"<ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>",
        f"<FromUserName><![CDATA[{openid}]]></FromUserName>",
        f"<CreateTime>{created}</CreateTime>",
        f"<MsgType><![CDATA[{msg_type}]]></MsgType>",
    ]
    parts += [f"<{name}><![CDATA[{value}]]></{name}>" if name != "MsgId" else f"<MsgId>{value}</MsgId>"
              for name, value in fields.items()]
    return "<xml>" + "".join(parts) + "</xml>"


class WeChatServer:
    """The WeChat side of the callback."""

    def __init__(self, client: httpx.AsyncClient, url: str, runtime: Core) -> None:
        self.client = client
        self.url = url
        self.runtime = runtime
        self.crypto = WeChatCrypto(TOKEN, AES_KEY, APP_ID)

    def now(self) -> int:
        return int(self.runtime.services.clock().timestamp())

    def signed_query(self, body_encrypt: str | None, *, timestamp: int | None = None, nonce: str | None = None,
                     token: str = TOKEN) -> dict[str, str]:
        ts = str(self.now() if timestamp is None else timestamp)
        nonce = nonce or secrets.token_hex(5)
        query = {"timestamp": ts, "nonce": nonce, "signature": sha1_signature(token, ts, nonce), "openid": "x"}
        if body_encrypt is not None:
            query.update(encrypt_type="aes", msg_signature=sha1_signature(token, ts, nonce, body_encrypt))
        return query

    def encrypt(self, xml: str, timestamp: str, nonce: str, crypto: WeChatCrypto | None = None) -> tuple[str, str]:
        """(request body, its Encrypt value) as WeChat sends them in safe mode."""
        envelope = (crypto or self.crypto).encrypt_message(xml, nonce, timestamp)
        encrypted = ElementTree.fromstring(envelope).findtext("Encrypt") or ""
        body = f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
        return body, encrypted

    async def post_xml(self, xml: str, **overrides: Any) -> httpx.Response:
        ts = str(self.now())
        nonce = secrets.token_hex(5)
        body, encrypted = self.encrypt(xml, ts, nonce)
        query = self.signed_query(encrypted, timestamp=int(ts), nonce=nonce)
        query.update(overrides.pop("query", {}))
        return await self.client.post(self.url, params=query, content=overrides.pop("body", body.encode()))

    def decrypt_reply(self, response: httpx.Response) -> str:
        """Verifies the reply's signature and decrypts it; '' for 'success'."""
        assert response.status_code == 200, response.text
        if response.text in ("success", ""):
            return ""
        root = ElementTree.fromstring(response.text)
        signature, ts, nonce = (root.findtext(k) or "" for k in ("MsgSignature", "TimeStamp", "Nonce"))
        xml = self.crypto.decrypt_message(response.text, signature, ts, nonce)
        reply = parse_message(xml)
        assert reply is not None
        return str(ElementTree.fromstring(xml).findtext("Content") or "")


class WeChatUser:
    """A follower of the official account."""

    def __init__(self, server: WeChatServer, openid: str | None = None) -> None:
        self.server = server
        self.openid = openid or "o" + secrets.token_urlsafe(20)[:27]
        self.last = ""

    async def send_xml(self, msg_type: str, **fields: str) -> str:
        xml = message_xml(self.openid, self.server.now(), msg_type, **fields)
        self.last = self.server.decrypt_reply(await self.server.post_xml(xml))
        return self.last

    async def say(self, text: str) -> str:
        return await self.send_xml("text", Content=text, MsgId=str(next(_ids)))

    async def event(self, event: str, key: str = "") -> str:
        fields = {"Event": event}
        if key:
            fields["EventKey"] = key
        return await self.send_xml("event", **fields)

    async def voice(self, recognition: str) -> str:
        return await self.send_xml("voice", MediaId="voice-media", Format="amr", Recognition=recognition,
                                   MsgId=str(next(_ids)))

    async def picture(self, media_id: str) -> str:
        return await self.send_xml("image", PicUrl="http://mmbiz.example.invalid/secret-pic-url", MediaId=media_id,
                                   MsgId=str(next(_ids)))


@asynccontextmanager
async def serving_channel(runtime: Core, channel: WeChatChannel) -> AsyncIterator[WeChatServer]:
    async with serving(build_web_app([channel.route()]), "127.0.0.1", 0) as port, httpx.AsyncClient() as client:
        yield WeChatServer(client, f"http://127.0.0.1:{port}/wechat", runtime)
    await channel.close()


@asynccontextmanager
async def wechat_server(
    runtime: Core, *, store_media: MediaStore | None = None, passive_seconds: float = 4.0
) -> AsyncIterator[tuple[WeChatServer, WeChatChannel]]:
    verifier = CallbackVerifier(TOKEN, AES_KEY, APP_ID, runtime.services.clock)
    channel = WeChatChannel(
        runtime.dispatcher,
        runtime.database,
        runtime.services,
        verifier,
        store_media=store_media,
        passive_seconds=passive_seconds,
    )
    async with serving(build_web_app([channel.route()]), "127.0.0.1", 0) as port, httpx.AsyncClient() as client:
        yield WeChatServer(client, f"http://127.0.0.1:{port}/wechat", runtime), channel
    await channel.close()
