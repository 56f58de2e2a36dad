"""The custom menu: seven click buttons keyed by the stable choice ids, within WeChat's limits,
installed through the API on the fake WeChat (which applies WeChat's own menu checks)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.channels.wechat.menu import MenuError, build_menu, create_menu, menu_keys, menu_problems, publish_menu
from bot.config import ConfigError, load_config
from bot.core import Core
from handlers.commands import MENU_CHOICES
from storage.crypto import Crypto, KeyRing
from tests.wechat_fake import FakeWeChat
from tests.wechat_fake.harness import Replica, fake_clock, replica

from .conftest import Clock

MENU = "/cgi-bin/menu/create"


@pytest.fixture
def wechat(clock: Clock) -> Iterator[FakeWeChat]:
    with FakeWeChat(clock=fake_clock(clock)) as fake:
        yield fake


@pytest.fixture
async def bot(tmp_path: Path, keyring: KeyRing, wechat: FakeWeChat, clock: Clock) -> AsyncIterator[Replica]:
    async with replica(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite3'}", Crypto(keyring), wechat, clock) as built:
        yield built


def test_the_menu_has_the_seven_choices_as_click_keys() -> None:
    menu = build_menu()
    assert sorted(menu_keys(menu)) == sorted(MENU_CHOICES) and len(menu_keys(menu)) == 7
    labels = {button["key"]: button["name"] for button in menu["button"] if "key" in button}
    labels |= {sub["key"]: sub["name"] for button in menu["button"] for sub in button.get("sub_button", [])}
    assert labels == {
        "report": "举报",
        "status": "查询",
        "faq": "问答",
        "quiz": "测验",
        "remind": "提醒",
        "language": "语言",
        "help": "帮助",
    }
    assert [button["name"] for button in menu["button"]] == ["举报", "查询", "更多"]
    assert menu_problems(menu, MENU_CHOICES) == []


async def test_create_menu_installs_it(bot: Replica, wechat: FakeWeChat) -> None:
    installed = await create_menu(bot.api)
    assert wechat.menus() == [installed] == [build_menu()]


@pytest.mark.parametrize(
    ("menu", "problem"),
    [
        ({"button": [{"type": "click", "name": f"b{n}", "key": f"k{n}"} for n in range(4)]}, "1-3 top-level"),
        ({"button": [{"type": "click", "name": "举报举报举报举报举报", "key": "report"}]}, "1-16 bytes"),
        ({"button": [{"name": "更多", "sub_button": [{"type": "click", "name": "x", "key": "k"}] * 6}]}, "sub-buttons"),
        ({"button": [{"type": "click", "name": "x", "key": "k" * 129}]}, "key must be"),
        ({"button": [{"type": "view", "name": "x", "url": "http://example.org"}]}, "type must be 'click'"),
    ],
)
async def test_a_bad_menu_is_refused_before_wechat_is_asked(
    bot: Replica, wechat: FakeWeChat, menu: dict[str, object], problem: str
) -> None:
    with pytest.raises(MenuError, match=problem):
        await create_menu(bot.api, menu)
    assert wechat.calls(MENU) == []


def test_a_missing_choice_is_named() -> None:
    menu = build_menu()
    menu["button"][2]["sub_button"].pop()  # no 帮助
    assert menu_problems(menu, MENU_CHOICES) == ["no button for the choice 'help'"]


async def test_publish_menu_from_config(runtime: Core, wechat: FakeWeChat) -> None:
    env = {
        "HAPBOT_WECHAT_APP_ID": wechat.app_id,
        "HAPBOT_WECHAT_APP_SECRET": wechat.app_secret,
        "HAPBOT_WECHAT_API_BASE_URL": wechat.base_url + "/",
    }
    section = load_config(None, env).wechat
    await publish_menu(runtime, section)
    assert wechat.menus() == [build_menu()] and wechat.token_calls == 1
    with pytest.raises(ConfigError, match="api_base_url"):
        load_config(None, {"HAPBOT_WECHAT_API_BASE_URL": "api.weixin.qq.com"})
