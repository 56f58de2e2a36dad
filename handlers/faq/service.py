"""The FAQ as the conversation sees it: an answer when the search is sure, else the best three."""

from __future__ import annotations

from handlers.context import FaqAnswer
from handlers.events import Choice
from handlers.settings import SiteInfo

from .library import FaqLibrary
from .model import Entry
from .render import render_answer

MAX_RELATED = 3


class LibraryFaqService:
    """Answers from the library's current snapshot, taken once per question."""

    def __init__(self, library: FaqLibrary) -> None:
        self.library = library

    def loading(self) -> None:
        return None  # built before this service exists

    def answer(self, question: str, language: str, site: SiteInfo) -> FaqAnswer:
        snapshot = self.library.snapshot
        hits = [hit for hit in snapshot.search(question, limit=3) if hit.score > 0]
        if not hits:
            return FaqAnswer(text=None)
        if snapshot.is_confident(hits):
            return self._render(snapshot.entry_for_site(hits[0].entry_id, site.id), language, site)
        suggestions = tuple(
            Choice(hit.entry_id, snapshot.entries[hit.entry_id].title(language)) for hit in hits
        )
        return FaqAnswer(text=None, suggestions=suggestions)

    def entry(self, entry_id: str, language: str, site: SiteInfo) -> FaqAnswer:
        snapshot = self.library.snapshot
        if entry_id not in snapshot.entries:
            return FaqAnswer(text=None)
        return self._render(snapshot.entry_for_site(entry_id, site.id), language, site)

    def _render(self, entry: Entry, language: str, site: SiteInfo) -> FaqAnswer:
        snapshot = self.library.snapshot
        related = tuple(
            Choice(other, snapshot.entries[other].title(language))
            for other in entry.related[:MAX_RELATED]
            if other in snapshot.entries
        )
        text = f"【{entry.title(language)}】\n{render_answer(entry, language, site.facts)}"
        return FaqAnswer(text=text, related=related)
