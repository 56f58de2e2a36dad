"""Chinese word segmentation: jieba's ``cut_for_search(HMM=False)``, over a mapped dictionary.

jieba keeps its dictionary (half a million words and prefixes with their frequencies) in a
Python dict: about 0.9 s and 62 MiB at every start, plus 0.1 s and 16 MiB to import jieba
itself (its HMM tables, which ``HMM=False`` never uses). This module is the same algorithm
(jieba 0.42.1: the DAG of dictionary words, the most probable route through it, then the
dictionary's 2- and 3-character words inside longer ones) over a :class:`StringTable` built
once from jieba's own dictionary and mapped from ``<data_dir>/cache``. It gives jieba's words,
token for token (``tests/test_faq_segmenter.py`` compares them on the shipped content and the
evaluation questions), so the search ranks exactly as it did.
"""

from __future__ import annotations

import importlib.metadata
import logging
import re
import threading
from collections.abc import Iterable, Iterator
from math import log
from pathlib import Path
from typing import Any, Protocol

from handlers.faq import diskcache, stringtable

_HAN = re.compile("([\u4e00-\u9fd5a-zA-Z0-9+#&\\._%\\-]+)", re.U)
_SKIP = re.compile("(\r\n|\\s)", re.U)
_ENGLISH = re.compile("[a-zA-Z0-9]", re.U)
_TOTAL_KEY = "\x00total"
"""The dictionary's total frequency, stored as one more key no text can contain."""


class Frequencies(Protocol):
    """Word (or prefix of a word) -> frequency, 0 for a bare prefix: jieba's dict or a StringTable."""

    def get(self, key: str, default: Any = None, /) -> int | None: ...


class Segmenter:
    """jieba's search-mode cut without the HMM, over a word -> frequency table (0 for a bare prefix)."""

    def __init__(self, frequencies: Frequencies, total: int) -> None:
        self._frequencies = frequencies
        self._log_total = log(total)

    def cut_for_search(self, sentence: str) -> Iterator[str]:
        """The words of ``sentence``, and the dictionary words of two and three characters inside each."""
        frequencies = self._frequencies
        for word in self.cut(sentence):
            if len(word) > 2:
                for i in range(len(word) - 1):
                    if frequencies.get(word[i : i + 2]):
                        yield word[i : i + 2]
            if len(word) > 3:
                for i in range(len(word) - 2):
                    if frequencies.get(word[i : i + 3]):
                        yield word[i : i + 3]
            yield word

    def cut(self, sentence: str) -> Iterator[str]:
        """jieba's accurate mode, ``HMM=False``."""
        for block in _HAN.split(sentence):
            if not block:
                continue
            if _HAN.match(block):
                yield from self._cut_block(block)
                continue
            for part in _SKIP.split(block):
                if _SKIP.match(part):
                    yield part
                else:
                    yield from part

    def _cut_block(self, sentence: str) -> Iterator[str]:
        route = self._route(sentence)
        x = 0
        buffer = ""
        while x < len(sentence):
            y = route[x] + 1
            word = sentence[x:y]
            if len(word) == 1 and _ENGLISH.match(word):
                buffer += word
            else:
                if buffer:
                    yield buffer
                    buffer = ""
                yield word
            x = y
        if buffer:
            yield buffer

    def _route(self, sentence: str) -> list[int]:
        """For each position, where the most probable word starting there ends (jieba's ``calc``)."""
        frequencies = self._frequencies
        n = len(sentence)
        dag: list[list[int]] = []
        for k in range(n):
            ends: list[int] = []
            i = k
            fragment = sentence[k]
            while i < n:
                frequency = frequencies.get(fragment)
                if frequency is None:
                    break
                if frequency:
                    ends.append(i)
                i += 1
                fragment = sentence[k : i + 1]
            dag.append(ends or [k])
        best: list[tuple[float, int]] = [(0.0, 0)] * (n + 1)
        log_total = self._log_total
        for index in range(n - 1, -1, -1):
            best[index] = max(
                (log(frequencies.get(sentence[index : x + 1]) or 1) - log_total + best[x + 1][0], x)
                for x in dag[index]
            )
        return [end for _, end in best[:n]]


def _jieba() -> tuple[dict[str, int], int]:
    """jieba's own word frequencies and total, as ``jieba.initialize()`` builds them (about a second)."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    logging.getLogger("jieba").setLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    return tokenizer.FREQ, tokenizer.total


def jieba_dictionary() -> Iterable[tuple[str, int]]:
    """The items of the cached table: jieba's words and prefixes, and its total under a key of its own."""
    frequencies, total = _jieba()
    return [*frequencies.items(), (_TOTAL_KEY, total)]


_shared: Segmenter | None = None
_shared_lock = threading.Lock()


def shared_segmenter(cache_dir: Path | None = None) -> Segmenter:
    """The process's segmenter: mapped from ``cache_dir`` (built there on first use), else over
    jieba's own dict in memory (tools and tests that have no data directory)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            folder = diskcache.usable_folder(cache_dir)
            if folder is None:
                _shared = Segmenter(*_jieba())
            else:
                version = diskcache.fingerprint(importlib.metadata.version("jieba"), stringtable.MAGIC)
                path = folder / f"jieba-{version}.table"
                table = stringtable.load_or_build(path, jieba_dictionary)
                _shared = Segmenter(table, table[_TOTAL_KEY])
        return _shared


def cut_for_search(sentence: str) -> Iterator[str]:
    """``jieba.cut_for_search(sentence, HMM=False)`` with the process's segmenter."""
    return shared_segmenter().cut_for_search(sentence)
