"""A read-only ``str -> int`` table in flat arrays, mapped from a cache file: dictionaries without their RSS.

jieba's word frequencies (half a million words and prefixes) and the sentence encoder's piece
table (300 thousand pieces and prefixes) are each a Python dict of tens of megabytes that takes
most of a second to build at every start, while a worker's question looks up a few hundred keys.
Here the keys are sorted by a hash beside their values and UTF-8 bytes; a lookup is a
binary search and one comparison of bytes, and only the pages it touches enter the process's
memory. Lookups give exactly what the dict gave: the key's bytes are compared, so a hash
collision can cost a step, never a wrong answer.
"""

from __future__ import annotations

import zlib
from bisect import bisect_left
from collections.abc import Callable, Iterable
from pathlib import Path

from handlers.faq import diskcache

MAGIC = b"HAPSTRT2"
BuildItems = Callable[[], Iterable[tuple[str, int]]]
_HEADER = 16
"""Two little-endian u64 at the start of the body: number of keys, bytes of key text."""


def _hash(encoded: bytes) -> int:
    """CRC-32: a tenth of a microsecond. Keys that share one (a few dozen in half a million) sit
    side by side and are told apart by their bytes."""
    return zlib.crc32(encoded)


class StringTable:
    """``get``, ``in`` and ``[]`` over keys and int values laid out by :func:`encode`."""

    def __init__(self, body: memoryview) -> None:
        """Read the layout of ``body``; ``ValueError`` when it does not hold together."""
        if len(body) < _HEADER:
            raise ValueError("string table too short")
        count = int.from_bytes(body[:8], "little")
        text = int.from_bytes(body[8:16], "little")
        hashes_at = _HEADER
        values_at = hashes_at + 8 * count
        offsets_at = values_at + 8 * count
        text_at = offsets_at + 8 * (count + 1)
        if len(body) != text_at + text:
            raise ValueError("string table size does not match its header")
        self._hashes = body[hashes_at:values_at].cast("Q")
        self._values = body[values_at:offsets_at].cast("q")
        self._offsets = body[offsets_at:text_at].cast("Q")
        self._text = body[text_at:]
        self._count = count

    def _find(self, key: str) -> int:
        encoded = key.encode("utf-8", "surrogatepass")
        wanted = _hash(encoded)
        hashes = self._hashes
        index = bisect_left(hashes, wanted)
        while index < self._count and hashes[index] == wanted:
            if self._text[self._offsets[index] : self._offsets[index + 1]] == encoded:
                return index
            index += 1
        return -1

    def get(self, key: str, default: int | None = None) -> int | None:
        index = self._find(key)
        return default if index < 0 else int(self._values[index])

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._find(key) >= 0

    def __getitem__(self, key: str) -> int:
        index = self._find(key)
        if index < 0:
            raise KeyError(key)
        return int(self._values[index])

    def __len__(self) -> int:
        return self._count


def encode(items: Iterable[tuple[str, int]]) -> list[bytes]:
    """The body of a table holding ``items`` (unique keys), in the layout :class:`StringTable` reads."""
    rows = sorted(
        (_hash(encoded), encoded, value)
        for encoded, value in ((key.encode("utf-8", "surrogatepass"), value) for key, value in items)
    )
    hashes = bytearray()
    values = bytearray()
    offsets = bytearray()
    text = bytearray()
    for hashed, encoded, value in rows:
        hashes += hashed.to_bytes(8, "little")
        values += value.to_bytes(8, "little", signed=True)
        offsets += len(text).to_bytes(8, "little")
        text += encoded
    offsets += len(text).to_bytes(8, "little")
    header = len(rows).to_bytes(8, "little") + len(text).to_bytes(8, "little")
    return [header, bytes(hashes), bytes(values), bytes(offsets), bytes(text)]


def in_memory(items: Iterable[tuple[str, int]]) -> StringTable:
    """A table held in this process's memory (no cache folder to map it from)."""
    return StringTable(memoryview(b"".join(encode(items))))


def load_or_build(path: Path | None, build: BuildItems) -> StringTable:
    """The table in ``path`` if it is intact, else built by ``build()`` and written there.

    With no ``path`` (no cache folder), the table is built in memory.
    """
    if path is None:
        return in_memory(build())
    body = diskcache.open_mapped(path, MAGIC)
    if body is not None:
        try:
            return StringTable(body)
        except ValueError:
            pass
    chunks = encode(build())
    try:
        diskcache.write(path, MAGIC, chunks)
    except OSError:
        return StringTable(memoryview(b"".join(chunks)))
    mapped = diskcache.open_mapped(path, MAGIC)
    return StringTable(mapped if mapped is not None else memoryview(b"".join(chunks)))

