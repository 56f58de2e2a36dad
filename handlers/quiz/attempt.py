"""A worker's quiz attempt and monthly quiz log, as kept (sealed) in their conversation document.

The attempt holds the fingerprints of its questions and the order it shows their options in, so it
survives restarts, edits of the quiz file and language switches unchanged. The log remembers, for
the current month only, which statistics groups already counted this worker: that is how HR's
figures count distinct workers without any table ever holding who they are.
"""

from __future__ import annotations

import random
import secrets
from dataclasses import asdict, dataclass, field
from typing import Any

from .model import Quiz

VERSION = 1
TAG_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
LETTERS = "abcd"


@dataclass
class Item:
    """One question of the attempt: which (by id and content fingerprint) and its options' order."""

    question: str
    fingerprint: str
    order: list[int]


@dataclass
class Attempt:
    """Progress through one quiz. ``results`` has one entry per question reached: True right, False
    missed, None left out (the question changed after the attempt began and its old text is gone)."""

    quiz: str
    site: str
    month: str
    tag: str  # names this attempt's buttons, so a button of another attempt or question is refused
    items: list[Item]
    results: list[bool | None] = field(default_factory=list)
    review: int = 0
    back: str | None = None
    more: str | None = None
    passed: bool | None = None  # set once, when the attempt is finished and counted
    recorded: bool = False
    employee: str | None = None  # typed for a training record, kept only until it is confirmed
    pass_mark: int | None = None  # the quiz's pass mark when the attempt began (None: older attempts)

    @classmethod
    def start(cls, quiz: Quiz, site: str, month: str, rng: random.Random) -> Attempt:
        """A new attempt at ``quiz``: its questions in the file's order, each one's options shuffled."""
        items = []
        for question in quiz.questions:
            order = list(range(len(question.options)))
            if not question.true_false:
                rng.shuffle(order)
            items.append(Item(question.id, question.fingerprint, order))
        tag = "".join(secrets.choice(TAG_ALPHABET) for _ in range(4))
        return cls(quiz.id, site, month, tag, items, pass_mark=quiz.pass_mark)

    @property
    def position(self) -> int:
        """Index of the question being asked (== len(items) once finished)."""
        return len(self.results)

    @property
    def finished(self) -> bool:
        return self.position >= len(self.items)

    @property
    def current(self) -> Item | None:
        return None if self.finished else self.items[self.position]

    @property
    def answered(self) -> int:
        return sum(1 for result in self.results if result is not None)

    @property
    def score(self) -> int:
        return sum(1 for result in self.results if result)

    @property
    def missed(self) -> list[int]:
        """Positions of the questions answered wrongly."""
        return [index for index, result in enumerate(self.results) if result is False]

    def option_id(self, letter_index: int) -> str:
        """The choice id of the option shown at ``letter_index`` for the current question."""
        return f"quiz:{self.tag}:{self.position}:{LETTERS[letter_index]}"

    def shown_index(self, choice_id: str) -> int | None:
        """Which shown option a choice id names, if it belongs to this attempt's current question."""
        prefix = f"quiz:{self.tag}:{self.position}:"
        if not choice_id.startswith(prefix):
            return None
        letter = choice_id.removeprefix(prefix)
        return LETTERS.index(letter) if len(letter) == 1 and letter in LETTERS else None

    def to_document(self) -> dict[str, Any]:
        return {"v": VERSION, **asdict(self)}

    @classmethod
    def from_document(cls, document: dict[str, Any] | None) -> Attempt | None:
        """The attempt, or None for none or a layout this version cannot read."""
        if not document or document.get("v") != VERSION:
            return None
        try:
            fields = {k: v for k, v in document.items() if k != "v"}
            fields["items"] = [Item(**item) for item in fields.get("items", [])]
            return cls(**fields)
        except TypeError:
            return None


@dataclass
class QuizLog:
    """What a worker's conversation remembers across attempts: quizzes finished (to suggest the next)
    and, for ``month`` only, the statistics groups that already counted them."""

    month: str = ""
    counted: list[str] = field(default_factory=list)
    finished: list[str] = field(default_factory=list)

    def first_time(self, month: str, group: str) -> bool:
        """True once per group and month: whether to count this worker in ``group`` now.

        Only the latest month is remembered; an attempt begun in an earlier month (finished after
        the month turned) never counts its worker again, so a group can look smaller, never larger.
        """
        if month < self.month:
            return False
        if month != self.month:
            self.month, self.counted = month, []
        if group in self.counted:
            return False
        self.counted.append(group)
        return True

    def to_document(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_document(cls, document: dict[str, Any] | None) -> QuizLog:
        if not document:
            return cls()
        try:
            return cls(**{k: v for k, v in document.items() if k in cls.__dataclass_fields__})
        except TypeError:
            return cls()
