"""Builds the WeChat channel and the WeChat / WeCom delivery sinks from the config."""

from __future__ import annotations

import asyncio

import httpx

from bot.channels.images import sanitise_image
from bot.channels.sinks import Sink
from bot.channels.wechat.api import build_api
from bot.channels.wechat.callback import CallbackVerifier
from bot.channels.wechat.channel import WeChatChannel
from bot.channels.wechat.sink import WeChatCustomerServiceSink
from bot.channels.wecom import WeComRobotSink, webhooks_from_config
from bot.config import Config
from bot.core import Core
from storage.evidence import hour_number


def wecom_sinks(config: Config, http: httpx.AsyncClient) -> dict[str, Sink]:
    """The WeCom group robot sink, whenever a site has a robot (with or without an official account)."""
    return {"wecom": WeComRobotSink.from_config(config, http)} if webhooks_from_config(config) else {}


async def build_wechat(
    runtime: Core, config: Config, http: httpx.AsyncClient
) -> tuple[WeChatChannel, dict[str, Sink]]:
    section = config.wechat
    if section.token is None or not section.app_id:
        raise ValueError("[wechat] token and app_id are required")
    api = build_api(runtime.database, runtime.crypto, section, http, runtime.services.clock)
    aes_key = section.encoding_aes_key.get_secret_value() if section.encoding_aes_key else None
    token = section.token.get_secret_value()
    safe = section.mode == "safe"
    verifier = CallbackVerifier(token, aes_key, section.app_id, runtime.services.clock, safe_mode=safe)
    services = runtime.services

    async def store_media(media_id: str) -> str:
        """Fetches a picture by its media id (never its URL), strips it to pixels and seals it."""
        data = await api.download_media(media_id)
        image = await asyncio.to_thread(sanitise_image, data)
        expires = hour_number(services.clock() + services.settings.draft_ttl) + 1
        async with runtime.database.transaction() as session:
            return await services.evidence.store_draft_file(session, image.data, image.mime, expires)

    channel = WeChatChannel(runtime.dispatcher, runtime.database, runtime.services, verifier, store_media=store_media)
    return channel, {"wechat": WeChatCustomerServiceSink(api)}
