"""A second reading for danger, learned from workers' first messages, for the words the families lack.

The word families of :mod:`handlers.intent_patterns` know how danger is said only as far as someone
wrote it down. Each blind-written set found new ways (cutting, bleach, "the supervisor lock the store
room door, i am inside"), and on text nobody had tuned on the families caught 51-76 % of danger. This
reading learns from every labelled first message in ``handlers/intent_examples`` (about 1,200, Chinese and
English) and is asked only where the families found no danger word at all: a cue they found and
cancelled (a negation, a past time, a question about rules) stays cancelled, so it adds words, never
overrides the grammar around them.

It is a logistic regression over two kinds of features, both cheap: the averaged word vectors of the
FAQ search (``handlers.faq.embedding``: related words lie near each other, in both languages) and the
Chinese characters and character pairs and English words and word pairs of the folded text, hashed.
Training is deterministic (zero start, fixed steps) and takes under half a second, in a thread at start;
until it is done only the families read danger (``handlers.danger_reading``, which the rest of the
bot sees; this module, with numpy, is imported only when training). ``bench/danger_model.py``
measures what it adds on sets it did not learn from, and what it costs in false alarms.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from itertools import pairwise

import numpy as np
import numpy.typing as npt

from .danger_reading import MIN_CHARS, THRESHOLD, Example
from .faq.embedding import TextEncoder
from .intents import fold

HASHED = 1 << 14
STEPS = 400
STEP_SIZE = 5.0
L2 = 1.0

_CJK_RUN = re.compile(r"[\u3400-\u9fff]+")
_LATIN_WORD = re.compile(r"[a-z]+")

FloatArray = npt.NDArray[np.float32]


def _grams(folded: str) -> list[int]:
    """Hashed features of the folded text: Chinese characters and pairs, English words and pairs."""
    pieces: list[str] = []
    for run in _CJK_RUN.findall(folded):
        pieces += list(run) + [run[i : i + 2] for i in range(len(run) - 1)]
    words = _LATIN_WORD.findall(folded)
    pieces += words + [f"{a} {b}" for a, b in pairwise(words)]
    return sorted({zlib.crc32(piece.encode()) % HASHED for piece in pieces})


class LearnedDanger:
    """A trained reading; immutable, safe to share between threads."""

    def __init__(self, encoder: TextEncoder, vector_weights: FloatArray, gram_weights: FloatArray, bias: float) -> None:
        self._encoder = encoder
        self._vector_weights = vector_weights
        self._gram_weights = gram_weights
        self._bias = bias

    @classmethod
    def train(cls, examples: Sequence[Example], encoder: TextEncoder) -> LearnedDanger:
        folded = [fold(example.text) for example in examples]
        vectors = _unit_rows(encoder.encode(folded))
        grams = [_grams(text) for text in folded]
        rows = np.repeat(np.arange(len(grams)), [len(g) for g in grams])  # one (row, column) per feature
        columns = np.fromiter((c for g in grams for c in g), dtype=np.int64, count=len(rows))
        sizes = [len(g) for g in grams]
        values = np.repeat(np.array([1 / max(size, 1) ** 0.5 for size in sizes], dtype=np.float32), sizes)
        target = np.array([example.danger for example in examples], dtype=np.float32)
        w_vectors = np.zeros(vectors.shape[1], dtype=np.float32)
        w_grams = np.zeros(HASHED, dtype=np.float32)
        bias = 0.0
        count = len(examples)
        for _step in range(STEPS):
            scores = vectors @ w_vectors + np.bincount(rows, weights=w_grams[columns] * values, minlength=count) + bias
            error = (1 / (1 + np.exp(-scores)) - target).astype(np.float32)
            w_vectors -= STEP_SIZE * (vectors.T @ error + L2 * w_vectors) / count
            gradient = np.bincount(columns, weights=error[rows] * values, minlength=HASHED).astype(np.float32)
            w_grams -= STEP_SIZE * (gradient + L2 * w_grams) / count
            bias -= STEP_SIZE * float(error.mean())
        return cls(encoder, w_vectors, w_grams, bias)

    def probability(self, text: str) -> float:
        """How likely the message tells of danger now, by the examples (0 to 1)."""
        folded = fold(text)
        vector = _unit_rows(self._encoder.encode([folded]))[0]
        grams = _grams(folded)
        gram_score = float(self._gram_weights[grams].sum()) / max(len(grams), 1) ** 0.5 if grams else 0.0
        score = float(vector @ self._vector_weights) + gram_score + self._bias
        return 1 / (1 + float(np.exp(-score)))

    def reads_danger(self, text: str) -> bool:
        return len(text.strip()) >= MIN_CHARS and self.probability(text) >= THRESHOLD


def _unit_rows(matrix: FloatArray) -> FloatArray:
    norms: FloatArray = np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-9).astype(np.float32)
    return (matrix / norms).astype(np.float32)
