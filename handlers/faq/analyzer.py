"""Turn worker text into search tokens: jieba words, light English stems, synonym groups, bigrams.

Workers write colloquially, mix Chinese and English, misspell and tell stories. Each step
here answers one of those: jieba segments Chinese, the stemmer folds "touched"/"touching",
synonym groups make 拉长 meet 主管 and "boss", a small typo index maps "harrasment" to a word
the content uses, and Chinese character bigrams catch words jieba splits differently.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterable
from typing import NamedTuple

from handlers.faq.segmenter import cut_for_search
from handlers.faq.synonyms import SynonymTable

GROUP_PREFIX = "~"
_CJK_RE = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_CJK_RUN_RE = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
_EN_WORD_RE = re.compile(r"[a-z0-9]+")
_SPACE_RE = re.compile(r"\s+")
_STOP_CHARS = frozenset(
    "的了吗呢啊吧呀嘛么我你他她它们是在有也都就还又和这那个些什怎样会能要想该很太好被把给让对到从说一不没人啥哪里"
    "咋俺咱佢唔嘅喺啲咩俾"
)

ZH_STOPWORDS = frozenset(
    """的 了 吗 呢 啊 吧 呀 嘛 哦 哈 啦 么 嗯 呃 哎 唉 是 我 你 您 他 她 它 我们 你们 他们 她们 咱们 人家
    在 有 也 都 就 还 又 和 跟 与 或 或者 这 那 这个 那个 这些 那些 这样 那样 这种 那种 一个 个 些 一些 一下
    什么 啥 怎么 怎么办 怎样 怎么样 如何 为什么 为啥 可以 可不可以 能 能不能 会 会不会 要 要不要 想 应该 该
    请问 请 一直 老是 总是 很 太 好 被 把 给 让 对 到 从 说 知道 觉得 自己 就是 还是 但是 可是 而且 因为 所以
    如果 要是 然后 的话 之前 之后 已经 没有 不 没 吗 得 地 着 过 上 下 里 里面 中 时候
    事 事情 问题 一 二 两 多
    真的 其实 比较 非常 特别 有点 有些 一点 点 那么 这么 吧 哪 哪里 哪儿 怎 是不是 有没有
    咋 咋样 咋办 咋整 咋弄 咋搞 啥子 俺 俺们 咱 呗 咧 哇 哟 咯 喔 额 怎么弄 怎么搞
    佢 佢哋 唔 嘅 喺 啲 咩 乜 乜嘢 系 点算 点样 咁 俾 嘞 喇 哋""".split()
)
EN_STOPWORDS = frozenset(
    """a an the i im me my mine myself you your yours he him his she her hers it its we us our they them their
    is are was were be been being am do does did doing done to of in on at for with and or but if so that this
    these those what how can could will would should shall may might must there here about from by as
    just get got any some very really too also then than into out up down over again like want wanna
    please pls plz hi hello ok okay dear sir madam yes know tell thing things one much many more
    when where which while whom whose why dont didnt doesnt cant couldnt wont wouldnt isnt arent wasnt
    u ur r ya gonna gotta lol idk thx thanks wat wht abt coz cuz bcz stuff""".split()
)
"""Words that carry no topic; 'no', 'not', 'now' and 'help' stay because they do (consent, danger)."""


class Analysis(NamedTuple):
    """What a text says: its own words, and the concepts (synonym groups) they belong to.

    They are scored as separate fields, so a synonym counts as a hint towards a topic
    without doubling the weight of a word that is both itself and its group.
    """

    words: list[str]
    concepts: list[str]


def normalize(text: str) -> str:
    """Fold full-width letters, case and runs of spaces so that typing habits do not matter."""
    return _SPACE_RE.sub(" ", unicodedata.normalize("NFKC", text).lower().replace("'", "").replace("’", "")).strip()


def detect_language(text: str) -> str:
    """'zh' when Chinese characters outnumber English words (a CJK character is about a word)."""
    normalized = normalize(text)
    cjk = len(_CJK_RE.findall(normalized))
    english = len(_EN_WORD_RE.findall(_CJK_RE.sub(" ", normalized)))
    return "zh" if cjk and cjk >= english else "en"


IRREGULAR: dict[str, str] = {
    "said": "say",
    "saw": "see",
    "seen": "see",
    "told": "tell",
    "lied": "lie",
    "lying": "lie",
    "took": "take",
    "taken": "take",
    "sent": "send",
    "felt": "feel",
    "made": "make",
    "gave": "give",
    "given": "give",
    "got": "get",
    "went": "go",
    "gone": "go",
    "came": "come",
    "left": "leave",
    "kept": "keep",
    "caught": "catch",
    "spoke": "speak",
    "spoken": "speak",
    "knew": "know",
    "known": "know",
    "thought": "think",
    "held": "hold",
    "stole": "steal",
    "stolen": "steal",
    "wrote": "write",
    "written": "write",
    "forgot": "forget",
    "forgotten": "forget",
    "lost": "lose",
    "paid": "pay",
    "men": "man",
    "women": "woman",
    "children": "child",
    "people": "person",
}
"""Irregular English forms the suffix rules cannot fold."""


def stem(word: str) -> str:
    """A deliberately small English stemmer: enough to fold plurals and -ed/-ing, never clever."""
    if word in IRREGULAR:
        return _drop_final_e(IRREGULAR[word])
    if len(word) <= 3 or not word.isalpha():
        return word
    return _drop_final_e(_strip_suffix(word))


def _drop_final_e(base: str) -> str:
    """'fire', 'fired' and 'firing' all become 'fir' (the -ed/-ing rules have already taken the e)."""
    return base[:-1] if base.endswith("e") and len(base) >= 4 else base


def _strip_suffix(word: str) -> str:
    for suffix, replacement in (("ies", "y"), ("sses", "ss"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            if suffix == "s" and word.endswith(("ss", "us", "is")):
                return word
            if suffix == "es" and not word.endswith(("ches", "shes", "xes", "sses")):
                continue
            base = word[: len(word) - len(suffix)] + replacement
            if suffix in ("ing", "ed") and len(base) >= 4 and base[-1] == base[-2] and base[-1] not in "lsz":
                base = base[:-1]
            return base
    return word


def _term(word: str) -> str:
    """A word as ``analyze`` keeps it for phrase matching: stop words as they are, others stemmed."""
    return word if word in EN_STOPWORDS else stem(word)


def _deletions(word: str, depth: int) -> set[str]:
    found = {word}
    frontier = {word}
    for _ in range(depth):
        frontier = {w[:i] + w[i + 1 :] for w in frontier for i in range(len(w))}
        found |= frontier
    return found


FREE_FIRST_LETTER_LENGTH = 8
"""Shorter words are corrected only to words with the same first letter: people seldom mistype the
first letter, and a short real word one letter away from a content word is usually another word
("lunch" is not "punch", "fear" is not "hear")."""


def _max_typos(word: str) -> int:
    """Edits tolerated in a word of this length: none below 4 letters, two from 8."""
    return 0 if len(word) < 4 else 1 if len(word) < 8 else 2


def edit_distance(a: str, b: str) -> int:
    """Damerau-Levenshtein distance (adjacent swaps count as one edit, as in 'reprot')."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, start=1):
        current = [i] + [0] * len(b)
        for j, char_b in enumerate(b, start=1):
            cost = 0 if char_a == char_b else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and char_a == b[j - 2] and a[i - 2] == char_b:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[len(b)]


class Analyzer:
    """Tokenizer for one content snapshot: knows its synonyms and its English vocabulary."""

    def __init__(self, synonyms: SynonymTable) -> None:
        self._zh_terms: list[tuple[str, str]] = []
        self._en_terms: dict[tuple[str, ...], list[str]] = {}
        self._max_phrase = 1
        for group, members in synonyms.groups.items():
            token = GROUP_PREFIX + group
            for member in members:
                if _CJK_RE.search(member):
                    self._zh_terms.append((member, token))
                else:
                    key = tuple(_term(w) for w in _EN_WORD_RE.findall(normalize(member)))
                    tokens = self._en_terms.setdefault(key, []) if key else None
                    if tokens is not None and token not in tokens:
                        tokens.append(token)
                        self._max_phrase = max(self._max_phrase, len(key))
        self._typo_index: dict[str, list[str]] = {}

    def learn_vocabulary(self, words: Iterable[str]) -> None:
        """Index the content's English words so a misspelt query word can be mapped to one of them."""
        for word in sorted({w for w in words if len(w) >= 4 and w.isalpha()}):
            for variant in _deletions(word, _max_typos(word)):
                self._typo_index.setdefault(variant, []).append(word)

    def english_terms(self) -> set[str]:
        """English words of the synonym groups, so they count as known words too."""
        return {word for key in self._en_terms for word in key}

    def correct(self, word: str, known: frozenset[str] | set[str]) -> str:
        """The content word closest to an unknown English ``word`` (or ``word`` itself).

        Four-letter words are only completed (``chek`` -> ``check``), never changed
        (``dorm`` stays ``dorm``): short real words are too easily turned into other words.
        """
        limit = _max_typos(word)
        if word in known or not limit or not word.isalpha():
            return word
        if len(word) == 4:
            candidates = {c for c in self._typo_index.get(word, ()) if len(c) == 5}
        else:
            candidates = {c for v in _deletions(word, limit) for c in self._typo_index.get(v, ())}
        scored = [
            (distance, candidate[0] != word[0], candidate)
            for candidate in candidates
            if (distance := edit_distance(word, candidate)) <= limit
            and (candidate[0] == word[0] or len(word) >= FREE_FIRST_LETTER_LENGTH)
        ]
        return min(scored)[2] if scored else word

    def analyze(self, text: str, known: frozenset[str] | set[str] | None = None) -> Analysis:
        """Words and synonym groups of ``text``; with ``known``, unknown English words are corrected."""
        normalized = normalize(text)
        tokens: list[str] = []
        english: list[str] = []
        for piece in cut_for_search(normalized):
            if _CJK_RE.search(piece):
                if piece not in ZH_STOPWORDS:
                    tokens.append(piece)
            elif _EN_WORD_RE.fullmatch(piece):
                if piece in EN_STOPWORDS:
                    english.append(piece)
                    continue
                word = stem(piece)
                if known is not None:
                    word = self.correct(word, known)
                english.append(word)
                tokens.append(word)
        return Analysis(tokens, self._groups(normalized, english))

    def _groups(self, normalized: str, english: list[str]) -> list[str]:
        groups = [token for term, token in self._zh_terms if term in normalized]
        for size in range(1, min(self._max_phrase, len(english)) + 1):
            for start in range(len(english) - size + 1):
                groups.extend(self._en_terms.get(tuple(english[start : start + size]), ()))
        return groups

    @staticmethod
    def characters(text: str) -> list[str]:
        """Meaningful single Chinese characters: one mistyped character still leaves the other."""
        return [c for run in _CJK_RUN_RE.findall(normalize(text)) for c in run if c not in _STOP_CHARS]

    @staticmethod
    def bigrams(text: str) -> list[str]:
        """Chinese character bigrams (single characters for one-character runs)."""
        grams: list[str] = []
        for run in _CJK_RUN_RE.findall(normalize(text)):
            if len(run) == 1:
                grams.append(run)
            grams.extend(a + b for a, b in itertools.pairwise(run))
        return grams
