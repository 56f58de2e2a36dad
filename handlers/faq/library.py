"""The live FAQ: an immutable snapshot that requests read, replaced whole when content changes.

A request takes ``library.snapshot`` once and uses only that object, so a reload that swaps
in new content mid-request cannot mix old and new entries. A reload that finds any problem
swaps nothing: workers keep getting the last good answers while admins fix the file. A start that
finds problems serves the copy kept at the last clean load instead, when there is one
(``handlers/faq/last_good.py``).
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Literal

from handlers.faq.analyzer import Analyzer
from handlers.faq.check import FactsBySite, check_directory
from handlers.faq.embedding import TextEncoder, shared_word_vectors
from handlers.faq.indexcache import cached_index
from handlers.faq.last_good import keep, serve_copy
from handlers.faq.loader import Content
from handlers.faq.model import Entry, Problem
from handlers.faq.search import SearchHit, SearchIndex, is_confident
from handlers.faq.segmenter import shared_segmenter


def initialise_segmenter(cache_dir: Path | None = None) -> None:
    """Load the word segmenter once per process: mapped from ``cache_dir`` (built there the first
    time, about two seconds), else built in memory from jieba's dictionary (about a second)."""
    shared_segmenter(cache_dir)


class ContentError(Exception):
    """The content cannot be served; ``problems`` says where and how to fix it."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class FaqSnapshot:
    """One consistent version of the content with its search index."""

    def __init__(
        self, content: Content, version: str, encoder: TextEncoder | None = None, cache_dir: Path | None = None
    ) -> None:
        """Index ``content``, or read its index back from ``cache_dir`` when it was built before."""
        self.entries: Mapping[str, Entry] = MappingProxyType(dict(content.entries))
        self.overrides: Mapping[str, Mapping[str, Entry]] = MappingProxyType(
            {site: MappingProxyType(dict(entries)) for site, entries in content.overrides.items()}
        )
        self.version = version
        entries = self.entries
        self._index = cached_index(
            cache_dir,
            entries,
            content.synonyms,
            encoder,
            lambda: SearchIndex(entries, Analyzer(content.synonyms), encoder),
        )

    def search(self, question: str, lang: str | None = None, limit: int = 3) -> list[SearchHit]:
        """Best entries for a worker's question (``lang`` None: detected from the text)."""
        return self._index.search(question, lang, limit)

    def is_confident(self, hits: Sequence[SearchHit]) -> bool:
        """Whether to answer the top hit directly rather than offer the choices and HR."""
        return is_confident(hits)

    def entry_for_site(self, entry_id: str, site_id: str | None) -> Entry:
        """The entry as shown at ``site_id``: its override if the site has one."""
        if site_id is not None:
            override = self.overrides.get(site_id, {}).get(entry_id)
            if override is not None:
                return override
        return self.entries[entry_id]


CONTENT_SUFFIXES = (".yaml", ".yml")


def content_files(directory: Path) -> list[Path]:
    """Every file the loaders read or refuse (``.yaml``, and ``.yml`` which they name as a problem),
    in any letter case, hidden files and editors' swap and backup files left out: what an admin's
    save can change. Folders linked in (a site's overrides kept elsewhere) are followed, as the
    loaders follow them (two sites linked to one shared folder are both walked); only a link back
    up to a folder's own ancestor is not."""
    found: list[Path] = []
    ancestors = {str(directory): frozenset({os.path.realpath(directory)})}
    for root, folders, files in os.walk(directory, followlinks=True):
        above = ancestors.pop(root, frozenset())
        walked = []
        for folder in folders:
            real = os.path.realpath(os.path.join(root, folder))
            if real not in above:
                ancestors[os.path.join(root, folder)] = above | {real}
                walked.append(folder)
        folders[:] = walked
        for name in files:
            path = Path(root) / name
            if path.suffix.lower() in CONTENT_SUFFIXES and not name.startswith(".") and path.is_file():
                found.append(path)
    return sorted(found)


def content_version(directory: Path) -> str:
    """A short hash of every content file's path and bytes, for logs and change detection."""
    digest = hashlib.sha256()
    for path in content_files(directory):
        digest.update(str(path.relative_to(directory)).encode())
        with path.open("rb") as file:  # in chunks: a huge file pasted here must not fill the memory
            digest.update(hashlib.file_digest(file, "sha256").digest())
    return digest.hexdigest()[:12]


Encoder = TextEncoder | None | Literal["shared"]
"""The word vectors a snapshot's classifier uses: "shared" (the process's copy), None (words only), or any."""


def build_snapshot(
    directory: Path,
    facts_by_site: FactsBySite | None = None,
    encoder: Encoder = "shared",
    cache_dir: Path | None = None,
) -> tuple[FaqSnapshot | None, list[Problem]]:
    """Load, validate and index ``directory``; no snapshot when anything is wrong.

    With ``cache_dir`` (``<data_dir>/cache``) the segmenter, the word vectors and the built index
    come from files there when they are intact and current, and are written there otherwise."""
    initialise_segmenter(cache_dir)
    version = content_version(directory) if directory.is_dir() else "missing"
    content = check_directory(directory, facts_by_site)
    if content.problems:
        return None, list(content.problems)
    vectors = shared_word_vectors(cache_dir) if encoder == "shared" else encoder
    return FaqSnapshot(content, version, vectors, cache_dir), []


class FaqLibrary:
    """Holds the snapshot being served and swaps it atomically on a successful reload."""

    def __init__(
        self,
        directory: Path,
        facts_by_site: FactsBySite | None = None,
        cache_dir: Path | None = None,
        last_good: Path | None = None,
    ) -> None:
        """Load at start-up. Content with problems is replaced by the copy in ``last_good`` (kept at
        the last clean load; its problems are in ``start_problems`` and the watcher reports them);
        without a clean copy, raise ``ContentError`` (fail loudly)."""
        self.directory = directory
        self.facts_by_site = facts_by_site
        self.cache_dir = cache_dir
        self.last_good = last_good
        self.start_problems: list[Problem] = []
        self._reload_lock = threading.Lock()
        snapshot, problems = build_snapshot(directory, facts_by_site, cache_dir=cache_dir)
        if snapshot is not None:
            self._keep(snapshot)
        elif last_good is not None:
            snapshot = serve_copy(
                lambda folder: build_snapshot(folder, facts_by_site, cache_dir=cache_dir),
                directory,
                last_good,
                problems,
                ("the FAQ content has", "content"),
            )
            self.start_problems = problems if snapshot is not None else []
        if snapshot is None:
            raise ContentError(problems)
        self._snapshot = snapshot

    @property
    def snapshot(self) -> FaqSnapshot:
        """The current content; take it once per request and keep using that object."""
        return self._snapshot

    def reload(self) -> list[Problem]:
        """Build new content beside the old and swap it in; on problems keep the old and return them."""
        with self._reload_lock:
            snapshot, problems = build_snapshot(self.directory, self.facts_by_site, cache_dir=self.cache_dir)
            if snapshot is not None:
                self._snapshot = snapshot
                self._keep(snapshot)
            return problems

    def _keep(self, snapshot: FaqSnapshot) -> None:
        if self.last_good is not None:
            keep(self.directory, self.last_good, snapshot.version)
