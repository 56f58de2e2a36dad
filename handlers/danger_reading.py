"""The learned second reading of danger as the conversation sees it: nothing until trained, then
:class:`handlers.danger_model.LearnedDanger` (imported only when training, so the light subcommands
never load numpy). See :mod:`handlers.danger_model` for what it is and why.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .danger_model import LearnedDanger
    from .faq.embedding import TextEncoder

log = logging.getLogger(__name__)

EXAMPLES = Path(__file__).resolve().parent / "intent_examples"
"""Labelled first messages (``{"q", "lang", "intent"}`` a line), the tables the recogniser's tests read."""
THRESHOLD = 0.6
"""Chosen on sets left out of training. On four blind sets, each with the word families as they were
before they were tuned on it, it found 4 to 12 more of 45-55 danger messages for at most one more false
alarm; on the FAQ's 689 questions (not the emergency topic) it adds 7 false alarms to the families' 11."""
MIN_CHARS = 8
"""Shorter messages ("ok", an employee number, "我现在在宿舍") say too little to read anything into."""


@dataclass(frozen=True)
class Example:
    text: str
    danger: bool


def read_examples(folder: Path = EXAMPLES) -> list[Example]:
    """Every labelled line of every ``*.jsonl`` file in ``folder``, in file order."""
    examples: list[Example] = []
    for path in sorted(folder.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                record = json.loads(line)
                examples.append(Example(str(record["q"]), record["intent"] == "danger"))
    return examples


class DangerReading:
    """The learned reading once it is trained; until then (and in a process that never trains it)
    it reads nothing, and only the word families read danger."""

    def __init__(self) -> None:
        self._model: LearnedDanger | None = None
        self._lock = threading.Lock()

    def reads_danger(self, text: str) -> bool:
        model = self._model
        return model is not None and model.reads_danger(text)

    @property
    def learned(self) -> bool:
        return self._model is not None

    def learn(self, encoder: Callable[[], TextEncoder], examples: Sequence[Example] | None = None) -> None:
        """Trains now, in the calling thread (under half a second); a second call keeps the first model."""
        with self._lock:
            if self._model is None:
                from .danger_model import LearnedDanger

                self._model = LearnedDanger.train(read_examples() if examples is None else examples, encoder())
                log.info("learned danger reading ready")

    def learn_in_background(self, encoder: Callable[[], TextEncoder]) -> threading.Thread:
        """Trains in a thread of its own, so the start does not wait; failures are logged, not raised
        (the word families still read danger)."""

        def run() -> None:
            try:
                self.learn(encoder)
            except Exception as error:
                log.error("learned danger reading not available: %s", type(error).__name__)

        thread = threading.Thread(target=run, name="danger-reading", daemon=True)
        thread.start()
        return thread
