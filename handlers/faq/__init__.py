"""Policy FAQ: admin-edited entries in Chinese and English, validated, searched and served live.

Channel-free: the conversation layer takes ``library.snapshot`` once per request, calls
``search`` and ``is_confident``, and shows ``render_answer`` with the worker's site facts.
"""

from handlers.faq.library import ContentError, FaqLibrary, FaqSnapshot, build_snapshot, initialise_segmenter
from handlers.faq.model import Entry, Problem
from handlers.faq.render import render_answer
from handlers.faq.search import SearchHit

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
