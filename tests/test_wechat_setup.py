"""The WeChat channel as `hapbot run` builds it: pictures fetched by media id through the API
(with the shared access token) from a fake WeChat, re-encoded and sealed with the case."""

from __future__ import annotations

import httpx

from bot.channels.wechat.setup import build_wechat
from bot.config import Config
from bot.core import Core

from .conftest import Clock
from .flows import reference_in
from .test_images import canaries_in, loaded_jpeg
from .wechat_fake.harness import fake_clock
from .wechat_fake.server import FakeWeChat
from .wechat_harness import AES_KEY, APP_ID, TOKEN, WeChatUser, serving_channel


def with_wechat(config: Config, fake: FakeWeChat) -> Config:
    raw = config.model_dump(mode="python")
    raw["storage"]["url"] = config.storage.url.get_secret_value()
    raw["wechat"] = {
        "enabled": True,
        "token": TOKEN,
        "encoding_aes_key": AES_KEY,
        "app_id": APP_ID,
        "app_secret": fake.app_secret,
        "api_base_url": fake.base_url,
    }
    return Config.model_validate(raw)


async def test_picture_evidence_is_fetched_by_media_id_and_kept_without_metadata(
    runtime: Core, config: Config, clock: Clock
) -> None:
    with FakeWeChat(app_id=APP_ID, clock=fake_clock(clock)) as fake:
        media_id = fake.register_media(loaded_jpeg())
        async with httpx.AsyncClient() as http:
            channel, sinks = await build_wechat(runtime, with_wechat(config, fake), http)
            assert set(sinks) == {"wechat"}
            async with serving_channel(runtime, channel) as server:
                mei = WeChatUser(server)
                await mei.event("subscribe")
                for answer in ("1", "1", "他发了这张图给我"):
                    await mei.say(answer)
                assert "已保存" in await mei.picture(media_id)
                for answer in ("写完了", "3", "跳过", "6", "2", "跳过", "3", "2"):
                    await mei.say(answer)
                reference = reference_in(await mei.say("提交举报"))
        media_calls = fake.calls("/cgi-bin/media/get")
    assert len(media_calls) == 1 and media_calls[0].params.get("media_id") == media_id
    async with runtime.database.transaction(write=False) as session:
        case = await runtime.services.cases.by_reference(session, reference)
        assert case is not None
        files = await runtime.services.evidence.files(session, case.id)
    assert len(files) == 1 and files[0][0] == "image/jpeg" and not canaries_in(files[0][1])
