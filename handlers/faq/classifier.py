"""A topic classifier trained, at every content load, on the entries' own example questions.

BM25 asks "which single example question shares the rarest words with this one?". A worker's
question often shares a word or two with many topics; what decides is which words are typical
of a topic across all its examples ("报复" and "穿小鞋" for retaliation, "之后" and "流程" for
what happens after a report). A linear classifier learns exactly that: a weight per word,
synonym group, character pair and word-vector direction per topic, fitted on the examples,
titles and keywords so that each topic's own texts score high and the others low.

It is ridge regression solved in closed form (one N x N linear system, N the number of example
texts, about a thousand): numpy only, no iterations, a few hundred milliseconds at load, and
a dot product per question. The query-time products are written as element-wise sums: for a
vector this small, a multi-threaded BLAS call waits for its threads longer than it computes,
which on a busy machine turned into 5-15 ms spikes.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

from handlers.faq.analyzer import Analysis, Analyzer, normalize, stem
from handlers.faq.embedding import TextEncoder
from handlers.faq.model import LANGS, Entry

FloatArray = npt.NDArray[np.float32]

FEATURE_WEIGHTS: Mapping[str, float] = {
    "word": 1.0,
    "concept": 1.0,
    "bigram": 1.0,
    "character": 0.3,
    "english_pair": 0.5,
}
"""Relative weight of each kind of sparse feature before tf-idf.

``english_pair`` is two English words in a row, small words included: "after i report",
"fire me", "find out" say more together than apart (Chinese gets this from character pairs)."""
_ENGLISH_WORD_RE = re.compile(r"[a-z]+")
VECTOR_WEIGHT = 1.5
"""Weight of the word-vector part against the sparse part (each is scaled to length one)."""
RIDGE = 1.0
"""Regularisation: higher trusts single example words less. Chosen by cross-validation over the
entries' own questions (bench/faq_search.py --cv), not on any evaluation set."""


def training_texts(entry: Entry) -> list[str]:
    """The texts that teach the classifier a topic: its questions, titles and keywords."""
    texts = [q for lang in LANGS for q in entry.questions.get(lang, ())]
    texts += [entry.titles[lang] for lang in LANGS if entry.titles.get(lang)]
    texts += [k for lang in LANGS for k in entry.keywords.get(lang, ())]
    return texts


class TopicClassifier:
    """Scores every topic (in ``ids`` order) for a question; immutable once trained."""

    def __init__(
        self,
        ids: Sequence[str],
        entries: Mapping[str, Entry],
        analyzer: Analyzer,
        encoder: TextEncoder | None,
    ) -> None:
        self._analyzer = analyzer
        self._encoder = encoder
        texts: list[str] = []
        labels: list[int] = []
        for index, entry_id in enumerate(ids):
            own = training_texts(entries[entry_id])
            texts += own
            labels += [index] * len(own)
        counted = [self._count(text, analyzer.analyze(text)) for text in texts]
        frequency = Counter(feature for features in counted for feature in features)
        total = len(texts)
        self._vocabulary = {feature: column for column, feature in enumerate(sorted(frequency))}
        self._idf = np.array(
            [math.log((total + 1) / (frequency[f] + 0.5)) for f in sorted(frequency)], dtype=np.float32
        )
        sparse = np.zeros((total, len(self._vocabulary)), dtype=np.float32)
        for row, features in enumerate(counted):
            for feature, value in features.items():
                sparse[row, self._vocabulary[feature]] = value
        sparse *= self._idf
        sparse /= np.maximum(np.linalg.norm(sparse, axis=1, keepdims=True), 1e-9)
        parts = [sparse]
        self._centre = np.zeros(0, dtype=np.float32)
        if encoder is not None:
            vectors = encoder.encode(texts)
            self._centre = vectors.mean(axis=0)
            parts.append(VECTOR_WEIGHT * self._unit_rows(vectors - self._centre))
        design = np.hstack(parts)
        targets = np.full((total, len(ids)), -1.0 / max(len(ids) - 1, 1), dtype=np.float32)
        targets[np.arange(total), labels] = 1.0
        gram = design @ design.T
        gram[np.diag_indices_from(gram)] += RIDGE
        weights = design.T @ np.linalg.solve(gram, targets)
        self._sparse_weights = np.ascontiguousarray(weights[: len(self._vocabulary)])
        self._vector_weights = np.ascontiguousarray(weights[len(self._vocabulary) :])
        self.size = total

    @staticmethod
    def _unit_rows(matrix: FloatArray) -> FloatArray:
        norms = np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-9)
        unit: FloatArray = (matrix / norms).astype(np.float32)
        return unit

    def _count(self, text: str, analysis: Analysis) -> dict[str, float]:
        weights = FEATURE_WEIGHTS
        features: dict[str, float] = defaultdict(float)
        for word in analysis.words:
            features["w:" + word] += weights["word"]
        for concept in analysis.concepts:
            features["c:" + concept] += weights["concept"]
        for gram in self._analyzer.bigrams(text):
            features["b:" + gram] += weights["bigram"]
        for character in self._analyzer.characters(text):
            features["h:" + character] += weights["character"]
        english = [stem(word) for word in _ENGLISH_WORD_RE.findall(normalize(text))]
        for first, second in itertools.pairwise(english):
            features[f"e:{first} {second}"] += weights["english_pair"]
        return features

    def scores(self, question: str, analysis: Analysis) -> FloatArray:
        """Each topic's score for ``question`` (``analysis`` is its analyzer output, typos corrected)."""
        total = np.zeros(self._sparse_weights.shape[1], dtype=np.float32)
        columns: list[int] = []
        values: list[float] = []
        for feature, value in self._count(question, analysis).items():
            column = self._vocabulary.get(feature)
            if column is not None:
                columns.append(column)
                values.append(value)
        if columns:
            weighted = np.asarray(values, dtype=np.float32) * self._idf[columns]
            weighted /= np.linalg.norm(weighted)
            total += (weighted[:, None] * self._sparse_weights[columns]).sum(axis=0)
        if self._encoder is not None:
            vector = self._encoder.encode([question])[0] - self._centre
            norm = float(np.linalg.norm(vector))
            if norm > 0:
                total += (VECTOR_WEIGHT / norm) * (vector[:, None] * self._vector_weights).sum(axis=0)
        return total
