"""The Chinese catalog covers every message in ``handlers/`` and ``bot/``, and switching language mid-flow works."""

from __future__ import annotations

import re
import string
from collections.abc import Iterator
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from bot.core import Core
from handlers.conversation import State
from handlers.i18n import load_translators

from .conftest import Worker, conversation_with_account

REPO = Path(__file__).resolve().parents[1]
HANDLERS = REPO / "handlers"
DESK_TEMPLATES = REPO / "bot" / "web" / "desk" / "templates"  # {{ t("…") }} in the HR desk's pages
PO_FILE = HANDLERS / "locale" / "zh" / "LC_MESSAGES" / "hapbot.po"
CJK = re.compile(r"[\u3400-\u9fff]")
# Names that read the same in Chinese; any other translation without a Chinese character is suspect.
SAME_IN_CHINESE = {"English", "Telegram"}
STORY = "My line leader keeps making dirty jokes about me"


def extracted() -> dict[str, list[str]]:
    """Every message marked with ``N_`` or ``t`` in ``handlers/`` and ``bot/`` (the desk's templates
too), with where it is used."""
    found: dict[str, list[str]] = {}
    method_map = [("**.py", "python"), ("web/desk/templates/**.html", "jinja2.ext:babel_extract")]
    for folder in ("handlers", "bot"):
        for filename, lineno, message, _comments, _context in extract_from_dir(
            str(REPO / folder), method_map=method_map, keywords={"N_": None, "t": None}
        ):
            assert isinstance(message, str), f"{filename}:{lineno}: plural or odd message {message!r}"
            found.setdefault(message, []).append(f"{folder}/{filename}:{lineno}")
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(DESK_TEMPLATES), method_map=[("**.html", "jinja2")], keywords={"t": None}
    ):
        assert isinstance(message, str), f"{filename}:{lineno}: plural or odd message {message!r}"
        found.setdefault(message, []).append(f"templates/{filename}:{lineno}")
    return found


@pytest.fixture(scope="module")
def messages() -> dict[str, list[str]]:
    found = extracted()
    assert len(found) > 50, "extraction found almost nothing: did the keywords or the method map break?"
    return found


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    with PO_FILE.open("rb") as handle:
        return read_po(handle, locale="zh")


def real_entries(catalog: Catalog) -> Iterator[tuple[str, str, bool]]:
    for message in catalog:
        if message.id:
            yield str(message.id), str(message.string or ""), bool(message.fuzzy)


def placeholders(text: str) -> set[str]:
    return {name for _literal, name, _spec, _conversion in string.Formatter().parse(text) if name is not None}


def test_every_message_has_a_chinese_translation(messages: dict[str, list[str]], catalog: Catalog) -> None:
    translations = {msgid: (msgstr, fuzzy) for msgid, msgstr, fuzzy in real_entries(catalog)}
    problems = []
    for msgid, where in sorted(messages.items()):
        msgstr, fuzzy = translations.get(msgid, ("", False))
        if msgid not in translations:
            problems.append(f"missing from hapbot.po: {msgid!r} ({where[0]})")
        elif not msgstr.strip():
            problems.append(f"empty translation: {msgid!r} ({where[0]})")
        elif fuzzy:
            problems.append(f"fuzzy (not used at run time): {msgid!r}")
        elif not CJK.search(msgstr) and msgid not in SAME_IN_CHINESE:
            problems.append(f"translation is not Chinese: {msgid!r} -> {msgstr!r}")
    assert not problems, "\n".join(problems)


def test_placeholders_match_between_english_and_chinese(catalog: Catalog) -> None:
    problems = []
    for msgid, msgstr, _fuzzy in real_entries(catalog):
        if not msgstr:
            continue
        try:
            wanted, got = placeholders(msgid), placeholders(msgstr)
        except ValueError as error:
            problems.append(f"{msgid!r}: braces do not parse ({error}) in {msgstr!r}")
            continue
        if wanted != got:
            problems.append(f"{msgid!r}: placeholders {sorted(wanted)} but the translation has {sorted(got)}")
        if "｛" in msgstr or "｝" in msgstr:
            problems.append(f"{msgid!r}: full-width braces in {msgstr!r}")
    assert not problems, "\n".join(problems)


def test_no_translation_is_stale(messages: dict[str, list[str]], catalog: Catalog) -> None:
    stale = sorted(msgid for msgid, _msgstr, _fuzzy in real_entries(catalog) if msgid not in messages)
    assert not stale, "in hapbot.po but no longer used in handlers/:\n" + "\n".join(map(repr, stale))


def test_the_catalog_is_what_the_bot_loads() -> None:
    translators = load_translators()
    zh, en = translators["zh"], translators["en"]
    assert zh("Help") == "帮助"
    assert en("Help") == "Help"
    assert CJK.search(zh("Saved ({count} messages). Add more, or choose Done.", count=3))


# --- switching language mid-flow --------------------------------------------------------------------


async def start_report(worker: Worker) -> None:
    await worker.send("/start")
    await worker.choose("report")
    await worker.choose("agree")
    await worker.send(STORY)


async def draft_of(worker: Worker) -> dict[str, object]:
    runtime = worker.runtime
    async with runtime.database.transaction(write=False) as session:
        document = await conversation_with_account(runtime.crypto, session, worker.user_key)
    assert document is not None
    return document


async def test_switching_to_chinese_mid_report_asks_the_next_question_in_chinese(worker: Worker) -> None:
    zh = worker.runtime.services.translators["zh"]
    await start_report(worker)
    await worker.choose("done")
    english_question = worker.last.replies[-1]
    before = await draft_of(worker)

    await worker.send("/language")
    assert [c.id for c in worker.last.replies[-1].choices] == ["zh", "en"]
    await worker.choose("zh")
    assert worker.last.replies[0].text == zh("I will speak English from now on.")
    question = worker.last.replies[-1]
    assert question.text == zh("What kind of harassment was it?")
    assert [c.id for c in question.choices] == [c.id for c in english_question.choices]
    assert [c.label for c in question.choices][:2] == [
        zh("Words: comments, jokes, sounds"),
        zh("Touching or physical acts"),
    ]
    after = await draft_of(worker)
    assert after["draft"] == before["draft"], "switching language changed the draft"
    assert after["state"] == State.REPORT_CATEGORY and after["language"] == "zh"

    await worker.choose("physical")
    assert worker.last.replies[-1].text == zh("When did it happen? (optional)"), "the next question is not in Chinese"


async def test_switching_back_to_english_mid_report_with_the_chinese_word(runtime: Core) -> None:
    worker = Worker(runtime, "zh-worker", language="zh")
    zh = runtime.services.translators["zh"]
    await start_report(worker)
    assert worker.last.replies[-1].text == zh("Saved ({count} messages). Add more, or choose Done.", count=1)
    await worker.send("语言")
    await worker.choose("en")
    assert worker.last.replies[0].text == "I will speak English from now on."
    assert worker.last.replies[-1].text == "Saved (1 messages). Add more, or choose Done."
    assert (await draft_of(worker))["draft"]["what"] == [STORY]  # type: ignore[index]


async def test_asking_for_the_language_twice_mid_report_still_returns_to_the_report(worker: Worker) -> None:
    """A worker who sends /language again while the language question is open must not lose the report."""
    zh = worker.runtime.services.translators["zh"]
    await start_report(worker)
    await worker.choose("done")
    await worker.send("/language")
    await worker.send("/language")
    await worker.choose("zh")
    assert worker.last.replies[-1].text == zh("What kind of harassment was it?"), (
        f"expected the interrupted report question, got {worker.last.replies[-1].text!r}"
    )
    assert (await draft_of(worker))["state"] == State.REPORT_CATEGORY
