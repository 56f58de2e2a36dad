"""A typed answer in the worker's own words picks the choice it clearly means.

At a question that only takes a choice, workers type "车间" for "车间或生产线", "是线长" for "是：主管、
经理或人事", "不急" for "不紧急". :func:`keyword_choice` finds, in the typed text, the keywords of each
offered label (its parts between punctuation and "或/和/or/and") and the words a feature registered for
the choice (``Router.accepts_words``), then picks a choice only when the evidence points to it alone:

- a keyword inside a longer one counts once, for the longer ("不是" is not also "是");
- a keyword right after a negation does not count for its choice ("不是线长" is not the supervisor);
- two choices with evidence of their own are ambiguous: the question is asked again.

Pure and channel-free; the caller decides where it applies (never where free text is an answer, so a
question at the menu is never taken for a menu item).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from .commands import normalise

_CJK = re.compile(r"[\u3400-\u9fff]")
_LABEL_BREAK = re.compile(r"[\s,，、:：;；/()（）.。!！?？\-—]+|或者?|以及|和|及|\bor\b|\band\b")
_ENGLISH_WORD = re.compile(r"[a-z0-9]+(?:['-][a-z0-9]+)*")
_STOPWORDS = frozenset(
    "a an the of to in on at by for from with my me i it is am are was be this that these those some "
    "someone something anyone please not do don't".split()
)
_SHORT_WORDS = frozenset({"no", "ok", "hr"})
_NEGATION_ZH = re.compile(r"(?:不|没|没有|非|别|不是)$")
_NEGATION_EN = re.compile(r"\b(?:not|no|never|isn't|wasn't)\s+(?:\w+\s+)?$")
_NEGATIVE_START = re.compile(r"^(?:不|没|非|别|no\b|not\b)")


@dataclass(frozen=True)
class _Hit:
    start: int
    end: int
    choice_id: str

    def inside(self, other: _Hit) -> bool:
        longer = (other.end - other.start) > (self.end - self.start)
        return other.start <= self.start and self.end <= other.end and longer

    def overlaps(self, other: _Hit) -> bool:
        return self.start < other.end and other.start < self.end


def label_keywords(label: str) -> list[str]:
    """A label's keywords: Chinese parts whole, English words without the small ones."""
    keywords: list[str] = []
    for part in _LABEL_BREAK.split(normalise(label)):
        if not part:
            continue
        if _CJK.search(part):
            keywords.append(part)
        else:
            keywords.extend(
                word for word in _ENGLISH_WORD.findall(part)
                if word not in _STOPWORDS and (len(word) >= 3 or word in _SHORT_WORDS)
            )
    return keywords


def _hits(word: str, keyword: str, choice_id: str) -> list[_Hit]:
    """Where ``keyword`` occurs in ``word``; a Chinese answer of two or more characters that is part of
    a Chinese keyword counts too ("车间" for "车间或生产线"), unless only the keyword is negative."""
    found: list[_Hit] = []
    if _CJK.search(keyword):
        start = word.find(keyword)
        while start >= 0:
            found.append(_Hit(start, start + len(keyword), choice_id))
            start = word.find(keyword, start + 1)
        negative_only = bool(_NEGATIVE_START.match(keyword)) and not _NEGATIVE_START.match(word)
        if not found and len(word) >= 2 and _CJK.search(word) and word in keyword and not negative_only:
            found.append(_Hit(0, len(word), choice_id))
    else:
        pattern = rf"(?<![a-z0-9]){re.escape(keyword)}(?![a-z0-9])"
        found.extend(_Hit(m.start(), m.end(), choice_id) for m in re.finditer(pattern, word))
    return found


def _negated(word: str, hit: _Hit, keyword_negative: bool) -> bool:
    if keyword_negative:
        return False
    before = word[: hit.start]
    return bool(_NEGATION_ZH.search(before) or _NEGATION_EN.search(before))


def keyword_choice(
    text: str, offered: list[str], labels: Mapping[str, str], words: Mapping[str, tuple[str, ...]]
) -> str | None:
    """The one offered choice the typed text clearly means by its words, or None (no match, or
    ambiguous)."""
    word = normalise(text)
    if not word:
        return None
    hits: list[_Hit] = []
    for choice_id in offered:
        keywords = {*label_keywords(labels.get(choice_id, "")), *(normalise(w) for w in words.get(choice_id, ()))}
        for keyword in filter(None, keywords):
            negative = bool(_NEGATIVE_START.match(keyword))
            hits.extend(h for h in _hits(word, keyword, choice_id) if not _negated(word, h, negative))
    kept = [h for h in hits if not any(h.inside(other) for other in hits)]
    evidence: dict[str, list[_Hit]] = {}
    for hit in kept:
        evidence.setdefault(hit.choice_id, []).append(hit)
    if not evidence:
        return None
    weight = {choice_id: sum(h.end - h.start for h in spans) for choice_id, spans in evidence.items()}
    best = max(weight, key=lambda choice_id: weight[choice_id])
    for choice_id, spans in evidence.items():
        if choice_id == best:
            continue
        independent = any(not any(s.overlaps(b) for b in evidence[best]) for s in spans)
        if independent or weight[choice_id] >= weight[best]:
            return None
    return best
