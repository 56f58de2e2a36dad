"""Rank FAQ entries for a worker's free-text question: BM25 over weighted fields, fused with a classifier.

BM25 fields: each answers a different way of asking: the example questions (scored per
question, best one counts) match how workers phrase things; title and keywords match short
topic words; the answer text catches words nobody thought to list; Chinese character bigrams
survive segmentation differences and some typos. Field scores are added with weights.

The topic classifier (``classifier.py``) learns from all of a topic's examples together which
words and word-vector directions are typical of it, so it tells apart topics whose questions
share words ("after I reported" in retaliation and in what-happens-next). The two rankings are
put on one scale (standardised over the entries) and added with ``FUSION_WEIGHTS``.
BM25 also decides whether there is anything to answer at all: a question that shares no word
or character with the content gets no hits, whatever the word vectors say.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import bm25s
import numpy as np
import numpy.typing as npt

from handlers.faq.analyzer import Analysis, Analyzer, detect_language
from handlers.faq.classifier import TopicClassifier
from handlers.faq.embedding import TextEncoder
from handlers.faq.model import LANGS, PLACEHOLDER_RE, Entry

logging.getLogger("bm25s").setLevel(logging.WARNING)

FIELD_WEIGHTS: Mapping[str, float] = {
    "question_words": 1.0,
    "question_concepts": 1.0,
    "short_words": 0.7,
    "short_concepts": 0.4,
    "answer": 0.5,
    "bigrams": 0.8,
    "characters": 0.1,
    "title": 0.25,
    "topic_concepts": 1.0,
}
"""How much each field counts; example questions matter most, synonyms and answer text less.

``topic_concepts`` is the synonym groups of all of an entry's questions and keywords together:
a worker's question rarely shares words with any single example question, but the groups it
touches (supervisor + touch, report + anonymous) say which topic it is about.
"""
FUSION_WEIGHTS: Mapping[str, float] = {"bm25": 0.5, "classifier": 1.0}
"""Weight of each ranking after standardising it over the entries (mean 0, spread 1)."""

MIN_CONFIDENT_EVIDENCE = 10.5
"""BM25 score the best entry needs: below it the question shares too few words to answer outright."""
MIN_CONFIDENT_MARGIN = 1.0
"""The best entry's fused score must lead the runner-up by this, or the worker chooses among the top three.

With these two thresholds, in 5-fold cross-validation over the entries' questions, the search
answers 47% of questions outright and 92% of those answers are right (the BM25-only rule it
replaces: 44% and 91%). A lower evidence threshold answers far more, but also answers
"今天食堂吃什么菜" with the topic that mentions the canteen."""

URGENT_ENTRY_IDS = frozenset({"emergency"})
MIN_URGENT_EVIDENCE = 0.5
URGENT_EVIDENCE_RATIO = 1.25
"""An urgent entry answered on little evidence must also lead the others on BM25 alone by this factor
(so "what time is lunch", read as "punch", does not bring up the police number)."""

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class SearchHit:
    """One ranked entry; ``score`` only compares hits of the same question."""

    entry_id: str
    score: float
    evidence: float = 0.0
    """The entry's plain BM25 score: how many of the question's words the entry shares."""


def _bm25(documents: list[list[str]]) -> bm25s.BM25:
    retriever = bm25s.BM25(k1=1.2, b=0.75)
    retriever.index(documents, show_progress=False)
    return retriever


def _merge(parts: Iterable[Analysis]) -> Analysis:
    words: list[str] = []
    concepts: list[str] = []
    for part in parts:
        words += part.words
        concepts += part.concepts
    return Analysis(words, concepts)


class SearchIndex:
    """Immutable per-snapshot index; safe to share between threads once built."""

    def __init__(self, entries: Mapping[str, Entry], analyzer: Analyzer, encoder: TextEncoder | None = None) -> None:
        """Index ``entries``; with ``encoder`` the classifier also learns from word vectors."""
        self._ids: tuple[str, ...] = tuple(sorted(entries))
        self._analyzer = analyzer
        questions: list[Analysis] = []
        starts: list[int] = []
        short: list[Analysis] = []
        answers: dict[str, list[Analysis]] = {lang: [] for lang in LANGS}
        bigram_docs: list[list[str]] = []
        char_docs: list[list[str]] = []
        title_docs: list[list[str]] = []
        for entry_id in self._ids:
            entry = entries[entry_id]
            starts.append(len(questions))
            texts = [q for lang in LANGS for q in entry.questions.get(lang, ())] or [entry.title("zh")]
            questions.extend(analyzer.analyze(q) for q in texts)
            short_texts = [entry.titles.get(lang, "") for lang in LANGS]
            titles = _merge(analyzer.analyze(text) for text in short_texts)
            title_docs.append(titles.words + titles.concepts)
            short_texts += [k for lang in LANGS for k in entry.keywords.get(lang, ())]
            short.append(_merge(analyzer.analyze(text) for text in short_texts))
            for lang in LANGS:
                answers[lang].append(analyzer.analyze(PLACEHOLDER_RE.sub(" ", entry.answer(lang))))
            bigram_docs.append([g for text in short_texts + texts for g in analyzer.bigrams(text)])
            char_docs.append([c for text in short_texts + texts for c in analyzer.characters(text)])
        self._starts = np.array(starts, dtype=np.int64)
        self._question_count = len(questions)
        vocabulary = {w for docs in (questions, short, *answers.values()) for doc in docs for w in doc.words}
        vocabulary |= analyzer.english_terms()
        self._known = frozenset(vocabulary)
        analyzer.learn_vocabulary(vocabulary)
        self._question_words = _bm25([a.words for a in questions])
        self._question_concepts = _bm25([a.concepts for a in questions])
        self._short_words = _bm25([a.words for a in short])
        self._short_concepts = _bm25([a.concepts for a in short])
        self._answers = {lang: _bm25([a.words + a.concepts for a in docs]) for lang, docs in answers.items()}
        self._bigrams = _bm25(bigram_docs)
        self._characters = _bm25(char_docs)
        self._titles = _bm25(title_docs)
        # One document per entry: the synonym concepts of all its questions plus its keywords.
        ends = [*starts[1:], len(questions)]
        topic_concepts = []
        for index, (start, end) in enumerate(zip(starts, ends, strict=True)):
            concepts = [concept for analysis in questions[start:end] for concept in analysis.concepts]
            topic_concepts.append(concepts + short[index].concepts)
        self._topic_concepts = _bm25(topic_concepts)
        self._classifier = TopicClassifier(self._ids, entries, analyzer, encoder) if self._ids else None

    def scores(self, question: str, lang: str | None = None) -> FloatArray:
        """Fused score of every entry (in ``self.ids`` order) for ``question``."""
        return self._fused(question, lang)[0]

    def _fused(self, question: str, lang: str | None) -> tuple[FloatArray, FloatArray]:
        analysis = self._analyzer.analyze(question, self._known)
        lexical = self._lexical(question, analysis, lang)
        fused = FUSION_WEIGHTS["bm25"] * _standardise(lexical)
        if self._classifier is not None:
            fused += FUSION_WEIGHTS["classifier"] * _standardise(self._classifier.scores(question, analysis))
        return fused, lexical

    def lexical_scores(self, question: str, lang: str | None = None) -> FloatArray:
        """The BM25 part alone (weighted field scores), for comparison and diagnostics."""
        return self._lexical(question, self._analyzer.analyze(question, self._known), lang)

    def _lexical(self, question: str, analysis: Analysis, lang: str | None) -> FloatArray:
        words, concepts = analysis
        grams = self._analyzer.bigrams(question)
        lang = lang if lang in LANGS else detect_language(question)
        weights = FIELD_WEIGHTS
        total = np.zeros(len(self._ids), dtype=np.float32)
        per_question = np.zeros(self._question_count, dtype=np.float32)
        if words:
            per_question += weights["question_words"] * self._question_words.get_scores(words)
            total += weights["short_words"] * self._short_words.get_scores(words)
        if concepts:
            per_question += weights["question_concepts"] * self._question_concepts.get_scores(concepts)
            total += weights["short_concepts"] * self._short_concepts.get_scores(concepts)
        if words or concepts:
            total += np.maximum.reduceat(per_question, self._starts)
            total += weights["answer"] * self._answers[lang].get_scores(words + concepts)
            total += weights["title"] * self._titles.get_scores(words + concepts)
        if concepts and weights["topic_concepts"]:
            total += weights["topic_concepts"] * self._topic_concepts.get_scores(concepts)
        if grams:
            total += weights["bigrams"] * self._bigrams.get_scores(grams)
        characters = self._analyzer.characters(question)
        if characters and weights["characters"]:
            total += weights["characters"] * self._characters.get_scores(characters)
        return total

    @property
    def ids(self) -> tuple[str, ...]:
        """Entry ids in the order of ``scores``."""
        return self._ids

    def search(self, question: str, lang: str | None = None, limit: int = 3) -> list[SearchHit]:
        """The best ``limit`` entries with a positive score, best first."""
        if not question.strip() or not self._ids:
            return []
        fused, lexical = self._fused(question, lang)
        fused = np.where(lexical > 0, fused, -np.inf)
        order = np.argsort(-fused, kind="stable")[:limit]
        return [
            SearchHit(self._ids[i], round(float(fused[i]), 3), round(float(lexical[i]), 3))
            for i in order
            if lexical[i] > 0
        ]


def is_confident(hits: Sequence[SearchHit]) -> bool:
    """True when the top hit is strong and clearly ahead, so answering it directly is not a guess.

    Urgent entries need less evidence: showing the police number to someone who did not need
    it costs little, making someone in danger pick from a list costs a lot.
    """
    if not hits:
        return False
    ahead = len(hits) < 2 or hits[0].score - hits[1].score >= MIN_CONFIDENT_MARGIN
    if hits[0].entry_id in URGENT_ENTRY_IDS:
        lexically_ahead = all(hits[0].evidence >= URGENT_EVIDENCE_RATIO * hit.evidence for hit in hits[1:])
        return ahead and lexically_ahead and hits[0].evidence >= MIN_URGENT_EVIDENCE
    return ahead and hits[0].evidence >= MIN_CONFIDENT_EVIDENCE


def _standardise(scores: FloatArray) -> FloatArray:
    """Scores shifted and scaled to mean 0 and spread 1 over the entries (all 0 if they are equal)."""
    spread = float(scores.std())
    centred: FloatArray = (scores - scores.mean()).astype(np.float32)
    return centred / np.float32(spread) if spread > 0 else centred
