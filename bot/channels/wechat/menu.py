"""The official account's custom menu: the same seven choices as every other channel.

Each button is a ``click`` button whose key is a stable choice id (``report``, ``status``, ...),
so a tap arrives as a ``CLICK`` event that the channel turns into the same choice a Telegram
button or a typed number would be. Labels are the Chinese command words a worker can also type.

WeChat allows three top-level buttons of at most 16 bytes and five sub-buttons of at most 60
bytes each, keys of at most 128 bytes: the two things a worker needs most are top-level, the rest
sit under 更多 ("more"). :func:`menu_problems` checks those limits before WeChat is asked, so a bad
edit fails in ``hapbot wechat menu`` with a readable message instead of an errcode.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from bot.channels.tls import http_client

if TYPE_CHECKING:
    from bot.config import WechatSection
    from bot.core import Core

TOP_LEVEL: tuple[tuple[str, str], ...] = (("report", "举报"), ("status", "查询"))
MORE_LABEL = "更多"
MORE: tuple[tuple[str, str], ...] = (
    ("faq", "问答"), ("quiz", "测验"), ("remind", "提醒"), ("language", "语言"), ("help", "帮助")
)
MAX_BUTTONS = 3
MAX_SUB_BUTTONS = 5
MAX_NAME_BYTES = 16
MAX_SUB_NAME_BYTES = 60
MAX_KEY_BYTES = 128


class MenuError(ValueError):
    """The menu breaks one of WeChat's limits; the message lists every problem."""


class MenuCreator(Protocol):
    """What :func:`create_menu` needs of :class:`~bot.channels.wechat.api.WeChatApi`."""

    async def create_menu(self, menu: Mapping[str, Any]) -> None: ...


def _click(choice_id: str, label: str) -> dict[str, str]:
    return {"type": "click", "name": label, "key": choice_id}


def build_menu() -> dict[str, Any]:
    """The menu JSON for ``/cgi-bin/menu/create``."""
    buttons: list[dict[str, Any]] = [_click(choice_id, label) for choice_id, label in TOP_LEVEL]
    buttons.append({"name": MORE_LABEL, "sub_button": [_click(choice_id, label) for choice_id, label in MORE]})
    return {"button": buttons}


def menu_keys(menu: Mapping[str, Any]) -> list[str]:
    """Every click key of a menu, in display order."""
    keys: list[str] = []
    for button in menu.get("button", []):
        keys.extend(sub["key"] for sub in button.get("sub_button", []) if "key" in sub)
        if "key" in button:
            keys.append(button["key"])
    return keys


def _check_button(button: Mapping[str, Any], where: str, max_name: int) -> list[str]:
    problems = []
    name = button.get("name")
    if not isinstance(name, str) or not name or len(name.encode()) > max_name:
        problems.append(f"{where}: name must be 1-{max_name} bytes")
    if "sub_button" not in button:
        key = button.get("key")
        if button.get("type") != "click":
            problems.append(f"{where}: type must be 'click'")
        if not isinstance(key, str) or not key or len(key.encode()) > MAX_KEY_BYTES:
            problems.append(f"{where}: key must be 1-{MAX_KEY_BYTES} bytes")
    return problems


def menu_problems(menu: Mapping[str, Any], choices: Sequence[str] = ()) -> list[str]:
    """Everything WeChat would refuse in ``menu``, plus any of ``choices`` that has no button."""
    buttons = menu.get("button")
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= MAX_BUTTONS:
        return [f"button: 1-{MAX_BUTTONS} top-level buttons are allowed"]
    problems: list[str] = []
    for index, button in enumerate(buttons, start=1):
        problems += _check_button(button, f"button {index}", MAX_NAME_BYTES)
        subs = button.get("sub_button")
        if subs is None:
            continue
        if not isinstance(subs, list) or not 1 <= len(subs) <= MAX_SUB_BUTTONS:
            problems.append(f"button {index}: 1-{MAX_SUB_BUTTONS} sub-buttons are allowed")
            continue
        for sub_index, sub in enumerate(subs, start=1):
            problems += _check_button(sub, f"button {index}.{sub_index}", MAX_SUB_NAME_BYTES)
    if not problems:
        missing = [choice for choice in choices if choice not in menu_keys(menu)]
        problems += [f"no button for the choice {choice!r}" for choice in missing]
    return problems


async def create_menu(api: MenuCreator, menu: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Checks and installs ``menu`` (default :func:`build_menu`) as the account's custom menu."""
    chosen = dict(menu) if menu is not None else build_menu()
    problems = menu_problems(chosen)
    if problems:
        raise MenuError("the WeChat menu is invalid:\n  " + "\n  ".join(problems))
    await api.create_menu(chosen)
    return chosen


async def publish_menu(runtime: Core, section: WechatSection) -> dict[str, Any]:
    """``hapbot wechat menu``: installs :func:`build_menu` on the configured official account,
    using (and if need be refreshing) the access token shared with the running bot."""
    from bot.channels.wechat.api import build_api

    async with http_client() as http:
        api = build_api(runtime.database, runtime.crypto, section, http, runtime.services.clock)
        try:
            return await create_menu(api)
        finally:
            api.close()
