"""Rank FAQ entries for a worker's free-text question with BM25 over several weighted fields.

Each field answers a different way of asking: the example questions (scored per question,
best one counts) match how workers phrase things; title and keywords match short topic
words; the answer text catches words nobody thought to list; Chinese character bigrams
survive segmentation differences and some typos. Field scores are added with weights.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import bm25s
import numpy as np
import numpy.typing as npt

from handlers.faq.analyzer import Analyzer, detect_language
from handlers.faq.model import LANGS, PLACEHOLDER_RE, Entry

logging.getLogger("bm25s").setLevel(logging.WARNING)

FIELD_WEIGHTS: Mapping[str, float] = {"questions": 1.0, "keywords": 0.7, "answer": 0.25, "bigrams": 0.35}
MIN_CONFIDENT_SCORE = 6.0
"""Below this the best match shares too few words with the question to answer it outright."""
MIN_CONFIDENT_RATIO = 1.25
"""The best entry must beat the runner-up by this factor, or the worker chooses among the top three."""

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class SearchHit:
    """One ranked entry; ``score`` only compares hits of the same question."""

    entry_id: str
    score: float


def _bm25(documents: list[list[str]]) -> bm25s.BM25:
    retriever = bm25s.BM25(k1=1.2, b=0.75)
    retriever.index(documents, show_progress=False)
    return retriever


class SearchIndex:
    """Immutable per-snapshot index; safe to share between threads once built."""

    def __init__(self, entries: Mapping[str, Entry], analyzer: Analyzer) -> None:
        self._ids: tuple[str, ...] = tuple(sorted(entries))
        self._analyzer = analyzer
        question_docs: list[list[str]] = []
        starts: list[int] = []
        keyword_docs: list[list[str]] = []
        answer_docs: dict[str, list[list[str]]] = {lang: [] for lang in LANGS}
        bigram_docs: list[list[str]] = []
        for entry_id in self._ids:
            entry = entries[entry_id]
            starts.append(len(question_docs))
            questions = [q for lang in LANGS for q in entry.questions.get(lang, ())]
            question_docs.extend(analyzer.analyze(q) for q in questions or [entry.title("zh")])
            short_texts = [entry.titles.get(lang, "") for lang in LANGS]
            short_texts += [k for lang in LANGS for k in entry.keywords.get(lang, ())]
            keyword_docs.append([t for text in short_texts for t in analyzer.analyze(text)])
            for lang in LANGS:
                answer_docs[lang].append(analyzer.analyze(PLACEHOLDER_RE.sub(" ", entry.answer(lang))))
            bigram_docs.append([g for text in short_texts + questions for g in analyzer.bigrams(text)])
        self._starts = np.array(starts, dtype=np.int64)
        vocabulary = {
            t for docs in (question_docs, keyword_docs, *answer_docs.values()) for d in docs for t in d
        }
        self._known = frozenset(vocabulary)
        analyzer.learn_vocabulary(vocabulary)
        self._questions = _bm25(question_docs)
        self._keywords = _bm25(keyword_docs)
        self._answers = {lang: _bm25(docs) for lang, docs in answer_docs.items()}
        self._bigrams = _bm25(bigram_docs)

    def scores(self, question: str, lang: str | None = None) -> FloatArray:
        """Weighted field scores of every entry (in ``self.ids`` order) for ``question``."""
        tokens = self._analyzer.analyze(question, self._known)
        grams = self._analyzer.bigrams(question)
        lang = lang if lang in LANGS else detect_language(question)
        total = np.zeros(len(self._ids), dtype=np.float32)
        if tokens:
            per_question = self._questions.get_scores(tokens)
            total += FIELD_WEIGHTS["questions"] * np.maximum.reduceat(per_question, self._starts)
            total += FIELD_WEIGHTS["keywords"] * self._keywords.get_scores(tokens)
            total += FIELD_WEIGHTS["answer"] * self._answers[lang].get_scores(tokens)
        if grams:
            total += FIELD_WEIGHTS["bigrams"] * self._bigrams.get_scores(grams)
        return total

    @property
    def ids(self) -> tuple[str, ...]:
        """Entry ids in the order of ``scores``."""
        return self._ids

    def search(self, question: str, lang: str | None = None, limit: int = 3) -> list[SearchHit]:
        """The best ``limit`` entries with a positive score, best first."""
        if not question.strip() or not self._ids:
            return []
        scores = self.scores(question, lang)
        order = np.argsort(-scores, kind="stable")[:limit]
        return [SearchHit(self._ids[i], round(float(scores[i]), 3)) for i in order if scores[i] > 0]


def is_confident(hits: Sequence[SearchHit]) -> bool:
    """True when the top hit is strong and clearly ahead, so answering it directly is not a guess."""
    if not hits or hits[0].score < MIN_CONFIDENT_SCORE:
        return False
    return len(hits) < 2 or hits[0].score >= MIN_CONFIDENT_RATIO * hits[1].score
