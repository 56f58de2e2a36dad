"""Search quality: the dev-set regression, the anti-fitting rule, and questions written for these tests."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from bot.cli.faq_tools import evaluate, read_cases
from faq import CONTENT_DIR
from handlers.faq.analyzer import detect_language, normalize, stem
from handlers.faq.library import FaqSnapshot, build_snapshot
from handlers.faq.model import LANGS
from handlers.faq.render import MISSING_FACT, render_answer


def _find_dev_file() -> Path:
    """shared/faq-eval/dev.jsonl beside the repository, or beside a folder above it (git worktrees)."""
    candidates = [folder / "shared" / "faq-eval" / "dev.jsonl" for folder in Path(__file__).resolve().parents[1:]]
    return next((path for path in candidates if path.exists()), candidates[1])


DEV_FILE = _find_dev_file()
OWN_FILE = Path(__file__).resolve().parent / "data" / "faq_colloquial.jsonl"
HELDOUT_STYLE_FILE = Path(__file__).resolve().parent / "data" / "faq_heldout_style.jsonl"
"""Worker-style questions kept out of faq/: stories, typos, dialect, mixed zh/en, very short ones."""
OWN_HELDOUT_FILE = Path(__file__).resolve().parent / "data" / "faq_own_heldout.jsonl"
"""A second held-out split, written before the classifier and the content rework and never tuned on."""
FRESH_HELDOUT_FILE = Path(__file__).resolve().parent / "data" / "faq_fresh_heldout.jsonl"
"""A third split, written before the issue-11 round of content and ranking work and never tuned on."""


@pytest.fixture(scope="module")
def snapshot() -> FaqSnapshot:
    built, problems = build_snapshot(CONTENT_DIR)
    assert built is not None, problems
    return built


def trigrams(text: str) -> set[str]:
    """Character trigrams of the lower-cased text with whitespace collapsed (the string itself if short)."""
    text = re.sub(r"\s+", " ", text.lower()).strip()
    return {text} if len(text) < 3 else {text[i : i + 3] for i in range(len(text) - 2)}


def content_phrases() -> list[tuple[str, str]]:
    """Every question and keyword in faq/ (entries, site overrides and synonyms), with its file."""
    phrases: list[tuple[str, str]] = []
    for path in sorted(CONTENT_DIR.rglob("*.yaml")):
        if "quizzes" in path.relative_to(CONTENT_DIR).parts:
            continue  # quiz files: their questions are quiz questions, not ways workers ask the FAQ
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if path.name == "synonyms.yaml":
            phrases += [(path.name, str(w)) for words in data.get("groups", {}).values() for w in words]
            continue
        for field in ("questions", "keywords"):
            for items in (data.get(field) or {}).values():
                phrases += [(path.name, str(item)) for item in items or ()]
    return phrases


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b)


def too_close(texts: list[tuple[str, str]], references: list[str]) -> list[tuple[str, str, float]]:
    """Each (source, text) whose trigram Jaccard similarity with any reference is 0.5 or more."""
    reference_grams = [trigrams(r) for r in references]
    found = []
    for source, text in texts:
        grams = trigrams(text)
        best = max((jaccard(grams, r) for r in reference_grams), default=0.0)
        if best >= 0.5:
            found.append((source, text, round(best, 2)))
    return found


def questions_of(path: Path) -> list[str]:
    return [json.loads(line)["q"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_no_content_phrase_copies_a_dev_question() -> None:
    if not DEV_FILE.exists():
        pytest.skip(f"dev set not found at {DEV_FILE} (shared/ is expected beside the repository)")
    phrases = content_phrases()
    assert len(phrases) > 500
    close = too_close(phrases, questions_of(DEV_FILE))
    assert not close, close


def test_heldout_style_questions_are_not_in_the_content_nor_in_dev() -> None:
    """The held-out-style set only measures generalisation if nothing in faq/ (or dev) copies it."""
    questions = questions_of(HELDOUT_STYLE_FILE)
    assert len(questions) >= 120
    close = too_close([("faq", phrase) for _, phrase in content_phrases()], questions)
    assert not close, close
    if DEV_FILE.exists():
        close = too_close([("heldout", q) for q in questions], questions_of(DEV_FILE))
        assert not close, close


def test_own_heldout_questions_are_not_in_the_content_nor_in_other_sets() -> None:
    questions = questions_of(OWN_HELDOUT_FILE)
    assert len(questions) >= 120
    assert not too_close([("faq", phrase) for _, phrase in content_phrases()], questions)
    others = questions_of(HELDOUT_STYLE_FILE) + questions_of(OWN_FILE)
    if DEV_FILE.exists():
        others += questions_of(DEV_FILE)
    assert not too_close([("own", q) for q in questions], others)


def test_fresh_heldout_questions_are_not_in_the_content() -> None:
    """Some of its questions resemble lines of the other evaluation sets (common questions); none is in faq/."""
    questions = questions_of(FRESH_HELDOUT_FILE)
    assert len(questions) >= 75
    assert not too_close([("faq", phrase) for _, phrase in content_phrases()], questions)


@pytest.mark.parametrize("path", [OWN_HELDOUT_FILE, FRESH_HELDOUT_FILE], ids=["own", "fresh"])
def test_heldout_top1_is_at_least_090_in_each_language(snapshot: FaqSnapshot, path: Path) -> None:
    """Worker questions the content never saw: the first answer is the right topic for 9 in 10."""
    result = evaluate(snapshot, read_cases(path))
    for lang in LANGS:
        scores = result[lang]
        assert isinstance(scores, dict)
        assert scores["top1"] >= 0.90, (lang, result)


def test_word_vectors_load_from_the_installed_wheel_and_place_related_words_together() -> None:
    from handlers.faq.embedding import shared_word_vectors

    vectors = shared_word_vectors().encode(["被报复", "打击报复", "食堂的饭菜", "fired", "dismissed", "lunch", " "])
    assert vectors.shape == (7, 512)
    assert not vectors[6].any()
    unit = vectors[:6] / np.linalg.norm(vectors[:6], axis=1, keepdims=True)
    assert unit[0] @ unit[1] > unit[0] @ unit[2]
    assert unit[3] @ unit[4] > unit[3] @ unit[5]


def test_heldout_style_questions_cover_every_topic_in_both_languages(snapshot: FaqSnapshot) -> None:
    cases = read_cases(HELDOUT_STYLE_FILE)
    for topic in snapshot.entries:
        for lang in LANGS:
            assert sum(c.topic == topic and c.lang == lang for c in cases) >= 3, (topic, lang)


def test_dev_set_regression(snapshot: FaqSnapshot) -> None:
    if not DEV_FILE.exists():
        pytest.skip(f"dev set not found at {DEV_FILE} (shared/ is expected beside the repository)")
    result = evaluate(snapshot, read_cases(DEV_FILE))
    for lang in LANGS:
        scores = result[lang]
        assert isinstance(scores, dict)
        assert scores["top1"] >= 0.90, result
        assert scores["top3"] >= 0.95, result


def test_own_colloquial_questions(snapshot: FaqSnapshot) -> None:
    """Questions written for this test (not in the content, not from dev): zh, en, mixed and typos."""
    result = evaluate(snapshot, read_cases(OWN_FILE))
    for lang in LANGS:
        scores = result[lang]
        assert isinstance(scores, dict)
        assert scores["top1"] >= 0.85, result
        assert scores["top3"] >= 0.95, result


@pytest.mark.parametrize(
    ("question", "topic"),
    [
        ("拉长天天对我咸猪手 他管我排班", "harasser-is-supervisor"),
        ("my 组长 keeps touching me and he decides my overtime", "harasser-is-supervisor"),
        ("车间有人开黄腔 动手动脚", "forms-of-harassment"),
        ("can i reprot anonimously", "anonymous-reporting"),
        ("how to chek my case staus with the receipt", "check-case-status"),
        ("举保 要去哪里", "how-to-report"),
        ("he is waiting outside my dorm and wont let me go, im scared", "emergency"),
        ("宿舍门口有人堵我 我好怕", "emergency"),
        ("有人在wechat上给我发nude照片", "online-harassment"),
        ("I'm a guy and a woman supervisor touched me, does it count", "anyone-can-be-harassed"),
        ("收据码丢了", "check-case-status"),
        ("妇联热线", "support-services"),
    ],
)
def test_colloquial_mixed_and_typo_questions(snapshot: FaqSnapshot, question: str, topic: str) -> None:
    hits = snapshot.search(question)
    assert hits and hits[0].entry_id == topic, hits


@pytest.mark.parametrize(
    "question", ["今天食堂吃什么菜", "asdf qwer zxcv", "hello", "工牌丢了找谁补办", "what time is lunch", ""]
)
def test_weak_or_nonsense_query_is_not_confident(snapshot: FaqSnapshot, question: str) -> None:
    assert not snapshot.is_confident(snapshot.search(question))


@pytest.mark.parametrize(
    ("question", "topic"),
    [
        ("有人一直跟踪我 我现在很危险", "emergency"),
        ("i lost my receipt, how do i check my case status", "check-case-status"),
        ("he hit me", "emergency"),
        ("我被打了 好痛", "emergency"),
    ],
)
def test_clear_question_is_confident(snapshot: FaqSnapshot, question: str, topic: str) -> None:
    hits = snapshot.search(question)
    assert hits[0].entry_id == topic
    assert snapshot.is_confident(hits)


def test_search_returns_at_most_limit_hits_best_first(snapshot: FaqSnapshot) -> None:
    hits = snapshot.search("骚扰 举报 匿名 证据", limit=3)
    assert 1 <= len(hits) <= 3
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_language_detection() -> None:
    assert detect_language("怎么举报") == "zh"
    assert detect_language("how do I report") == "en"
    assert detect_language("我的supervisor一直摸我") == "zh"
    assert detect_language("where to report 骚扰") == "en"


def test_normalize_and_stem() -> None:
    assert normalize("ＨＲ  Ｍａｎａｇｅｒ") == "hr manager"
    assert stem("touched") == stem("touching") == stem("touches") == "touch"
    assert stem("accused") == stem("accuse")
    assert stem("lied") == "lie"


SITE_FACTS = {
    "sz01": {
        "hr_contact": {"zh": "人事部王姐，电话 0755-0000", "en": "Ms Wang in HR, tel 0755-0000"},
        "site_name": {"zh": "深圳一厂", "en": "Shenzhen Plant 1"},
    },
    "dg02": {"hr_contact": {"zh": "人事部李先生", "en": "Mr Li in HR"}},
}


def test_render_fills_placeholders_per_site_and_language(snapshot: FaqSnapshot) -> None:
    entry = snapshot.entries["how-to-report"]
    zh = render_answer(entry, "zh", SITE_FACTS["sz01"])
    en = render_answer(entry, "en", SITE_FACTS["sz01"])
    other = render_answer(entry, "en", SITE_FACTS["dg02"])
    assert "人事部王姐" in zh and "{" not in zh
    assert "Ms Wang in HR" in en and "人事部王姐" not in en
    assert "Mr Li in HR" in other and "Ms Wang" not in other


def test_render_falls_back_instead_of_showing_a_raw_placeholder(snapshot: FaqSnapshot) -> None:
    entry = snapshot.entries["advocacy-board"]
    text = render_answer(entry, "en", {"site_name": {"zh": "深圳一厂"}})
    assert "{" not in text
    assert "深圳一厂" in text
    assert MISSING_FACT["en"] in text


def test_answers_cite_exact_hotlines() -> None:
    text = "\n".join(p.read_text(encoding="utf-8") for p in (CONTENT_DIR / "entries").glob("*.yaml"))
    numbers = set(re.findall(r"(?<![\dA-Z-])\d{3,5}(?![\d-])", text))
    assert numbers <= {"110", "120", "12338", "12333", "1010", "179", "1183", "2022", "2023"}, numbers
