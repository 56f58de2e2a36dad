"""Policy FAQ: admin-edited entries in Chinese and English, validated, searched and served live.

Channel-free: the conversation layer takes ``library.snapshot`` once per request, calls
``search`` and ``is_confident``, and shows ``render_answer`` with the worker's site facts.

The names below load on first use: the search brings bm25s and numpy (and, to build its caches,
jieba and the word-vector wheel), which ``hapbot check-config``, ``keys`` and ``cases`` never
need. ``hapbot run`` keeps what the search builds once in ``<data_dir>/cache`` (``diskcache``,
``stringtable``, ``segmenter``, ``embedding``, ``indexcache``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from handlers.faq.library import ContentError, FaqLibrary, FaqSnapshot, build_snapshot, initialise_segmenter
    from handlers.faq.model import Entry, Problem
    from handlers.faq.render import render_answer
    from handlers.faq.search import SearchHit

_HOMES = {
    "ContentError": "handlers.faq.library",
    "FaqLibrary": "handlers.faq.library",
    "FaqSnapshot": "handlers.faq.library",
    "build_snapshot": "handlers.faq.library",
    "initialise_segmenter": "handlers.faq.library",
    "Entry": "handlers.faq.model",
    "Problem": "handlers.faq.model",
    "render_answer": "handlers.faq.render",
    "SearchHit": "handlers.faq.search",
}

__all__ = [
    "ContentError",
    "Entry",
    "FaqLibrary",
    "FaqSnapshot",
    "Problem",
    "SearchHit",
    "build_snapshot",
    "initialise_segmenter",
    "render_answer",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'handlers.faq' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
