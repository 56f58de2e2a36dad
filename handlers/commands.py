"""Whole-message commands in Chinese and English, and typed answers to numbered choices.

WeChat has no buttons in passive replies and many workers type rather than tap, so a command is
recognised from the whole message (``取消``, ``/cancel``, ``cancel``) and a choice from its number
or its label (:func:`typed_choice`), or from a word of its label or a word workers use for it
(:mod:`handlers.choice_words`).
"""

from __future__ import annotations

import re
import unicodedata

from .events import Channel

MENU_CHOICES = ("report", "status", "faq", "quiz", "remind", "language", "help")
# Channels that show choices as numbered lines, where workers type numbers and words (Telegram has buttons
# and slash commands).
NUMBERED_CHANNELS = frozenset({Channel.CONSOLE, Channel.WECHAT})

_COMMAND_WORDS: dict[str, tuple[str, ...]] = {
    "start": ("/start", "开始", "start"),
    "menu": ("/menu", "菜单", "menu", "主菜单"),
    "help": ("/help", "帮助", "help", "?", "？"),
    "cancel": ("/cancel", "取消", "cancel"),
    "report": ("/report", "举报", "report", "报告", "投诉"),
    "status": ("/status", "查询", "status", "查进度"),
    "faq": ("/faq", "问答", "faq", "常见问题"),
    "quiz": ("/quiz", "测验", "quiz", "培训"),
    "language": ("/language", "语言", "language", "english", "中文"),
    # Training reminders (handlers/reminders.py): on, off, or their settings; stop/退订 turn them off.
    "remind": ("/remind", "提醒", "remind", "reminders", "提醒 开", "提醒开", "提醒 关", "提醒关", "remind on",
               "remind off", "开启提醒", "打开提醒", "关闭提醒", "取消提醒", "stop", "/stop", "退订", "unsubscribe"),
}
_COMMANDS = {word: command for command, words in _COMMAND_WORDS.items() for word in words}

EMERGENCY_WORDS = frozenset(
    {"danger", "sos", "/sos", "help me", "emergency", "110", "120",
     "危险", "救命", "救我", "有危险", "紧急", "我有危险", "报警", "快报警"}
)

_TRAILING = re.compile(r"[\s。.!！,，、~～]+$")


def normalise(text: str) -> str:
    """Fold full-width forms, case and surrounding punctuation so '  取消。' and 'CANCEL' match."""
    folded = unicodedata.normalize("NFKC", text).strip().casefold()
    return _TRAILING.sub("", folded)


def parse_command(text: str) -> tuple[str, str | None] | None:
    """The command a whole message names, with a ``/start`` payload if any; None for other text."""
    word = normalise(text)
    if word.startswith("/"):
        head, _, payload = word.partition(" ")
        head = head.split("@", 1)[0]
        command = _COMMANDS.get(head)
        return (command, payload.strip() or None) if command else None
    command = _COMMANDS.get(word)
    return (command, None) if command else None


def is_emergency(text: str) -> bool:
    return normalise(text) in EMERGENCY_WORDS


_NUMBER_PREFIX = re.compile(r"^(?:我?选择?|第|就|要|是)\s*")
_NUMBER_SUFFIX = re.compile(r"\s*(?:个|项|条|号|种|吧|啦|了|选项)+$")
_CHINESE_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}


def choice_number(word: str) -> int | None:
    """The number a typed answer names: "1", "１", "①" (folded by :func:`normalise`), "一", "第一个",
    "选2", "2号", "十二"; None for anything else."""
    core = _NUMBER_SUFFIX.sub("", _NUMBER_PREFIX.sub("", word))
    if core.isascii() and core.isdigit():
        return int(core)
    if core in _CHINESE_DIGITS:
        return _CHINESE_DIGITS[core]
    tens, ten, ones = core.partition("十")
    if ten and (not tens or tens in _CHINESE_DIGITS) and (not ones or ones in _CHINESE_DIGITS):
        return _CHINESE_DIGITS.get(tens, 1) * 10 + _CHINESE_DIGITS.get(ones, 0)
    return None


def typed_choice(text: str, offered: list[str], labels: dict[str, str], *, numbers: bool) -> str | None:
    """The offered choice a typed message names exactly: its number (1-based, where the channel shows
    numbers, in any form :func:`choice_number` reads), its id or its label."""
    word = normalise(text)
    number = choice_number(word) if numbers else None
    if number is not None:
        return offered[number - 1] if 1 <= number <= len(offered) else None
    for choice_id in offered:
        if word == choice_id or word == normalise(labels.get(choice_id, "")):
            return choice_id
    return None
