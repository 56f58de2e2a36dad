"""One name per concept: what the bot says uses the glossary in faq/README.md, nothing else.

A worker told to enter her 回执 in one message and her 查询码 in the next may think she has two
codes, or lost one. The glossary applies to everything the bot says: FAQ titles and answers (the
workers' own words in ``questions``, ``keywords`` and ``synonyms.yaml`` may say anything), quiz
banks, and the Chinese message catalog.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from babel.messages.pofile import read_po

from faq import CONTENT_DIR

ROOT = Path(__file__).resolve().parents[1]
CATALOG = ROOT / "handlers" / "locale" / "zh" / "LC_MESSAGES" / "hapbot.po"

OTHER_NAMES: dict[str, dict[str, str]] = {
    "zh": {
        r"回执": "查询码",
        r"收据": "查询码",
        r"凭证码": "查询码",
        r"举报编号": "案件编号",
        r"HR": "人事部",
        r"人事(?!部)": "人事部",
        r"处理人员": "人事部",
        r"倡导委员会|监督委员会": "{advocacy_board_name} (员工关爱委员会 by default)",
    },
    "en": {
        r"(?i)query code|receipt code|tracking code": "receipt",
        r"(?i)case number|report number": "case reference",
        r"(?i)personnel": "HR",
    },
}
"""Names that must not appear (regular expression) -> the glossary's name for that concept."""

BOARD_NAMES = ("员工关爱委员会", "倡导委员会")
"""FAQ answers name the board through {advocacy_board_name}, so each site can use its own name."""


def faq_texts() -> Iterator[tuple[str, str, str]]:
    """(where, language, text) for every title and answer of entries and site overrides."""
    for path in sorted(CONTENT_DIR.rglob("*.yaml")):
        if path.name == "synonyms.yaml" or "quizzes" in path.parts:
            continue
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for field in ("title", "answer"):
            for lang, text in (data.get(field) or {}).items():
                yield f"{path.relative_to(CONTENT_DIR)} {field}", lang, str(text)


def _strings(node: object) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)


def quiz_texts() -> Iterator[tuple[str, str, str]]:
    """Every string of the quiz banks (faq/quizzes/, if present); the language is guessed from the text."""
    for path in sorted((CONTENT_DIR / "quizzes").rglob("*.yaml")):
        for text in _strings(yaml.safe_load(path.read_text(encoding="utf-8"))):
            lang = "zh" if re.search(r"[\u3400-\u9fff]", text) else "en"
            yield str(path.relative_to(CONTENT_DIR)), lang, text


def catalog_texts() -> Iterator[tuple[str, str, str]]:
    with CATALOG.open("rb") as handle:
        catalog = read_po(handle)
    for message in catalog:
        if message.id and isinstance(message.string, str) and message.string:
            yield f"hapbot.po msgstr for {message.id!r}", "zh", message.string


def offences(texts: Iterator[tuple[str, str, str]]) -> list[str]:
    found = []
    for where, lang, text in texts:
        for pattern, name in OTHER_NAMES.get(lang, {}).items():
            for match in re.finditer(pattern, text):
                found.append(f"{where} ({lang}): '{match.group(0)}' should be '{name}'")
    return found


@pytest.mark.parametrize("source", [faq_texts, quiz_texts, catalog_texts], ids=["faq", "quizzes", "catalog"])
def test_only_glossary_names(source: object) -> None:
    assert callable(source)
    assert offences(source()) == []


def test_faq_answers_name_the_board_through_the_site_fact() -> None:
    hard_coded = [where for where, _, text in faq_texts() if any(name in text for name in BOARD_NAMES)]
    assert hard_coded == []


def test_the_check_catches_another_name() -> None:
    bad = [("x.yaml answer", "zh", "请输入你的回执，或者问HR和人事"), ("y.yaml answer", "en", "your case number")]
    assert len(offences(iter(bad))) == 4


def test_readme_states_the_glossary() -> None:
    readme = (CONTENT_DIR / "README.md").read_text(encoding="utf-8")
    for name in ("查询码", "案件编号", "人事部", "{advocacy_board_name}", "receipt", "case reference"):
        assert name in readme


LAW_CITATION = {"zh": re.compile(r"第\d+条"), "en": re.compile(r"\bArt\. \d+")}
LEGAL_NOTE = {
    "zh": re.compile(r"(?:以上|以下)是法律信息，不是法律意见。"),
    "en": re.compile(r"This is information, not legal advice\."),
}


@pytest.mark.parametrize("path", sorted((CONTENT_DIR / "entries").glob("*.yaml")), ids=lambda p: p.stem)
def test_an_answer_that_cites_an_article_carries_the_legal_information_note(path: Path) -> None:
    """faq/README.md: cite laws exactly and add the note, so a citation is never read as advice."""
    answers = yaml.safe_load(path.read_text(encoding="utf-8"))["answer"]
    for lang, citation in LAW_CITATION.items():
        if citation.search(answers[lang]):
            assert LEGAL_NOTE[lang].search(answers[lang]), (path.stem, lang)
