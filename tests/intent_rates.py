"""Intent rates over phrase files, shared by tests and the bench (``bench/intents.py``).

A phrase file has one ``{"q", "lang", "intent"}`` object a line. Danger recall is the share of
danger phrases read as danger; the false-alarm rate the share of the other phrases read as danger;
accuracy the share read as their own intent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from handlers.danger_reading import EXAMPLES
from handlers.intents import Intent, understand

REPO = Path(__file__).resolve().parents[1]
TABLE = EXAMPLES / "table.jsonl"
HELD_OUT = EXAMPLES / "heldout.jsonl"
COLLOQUIAL = EXAMPLES / "colloquial.jsonl"
"""310 first messages written by two helpers who never saw the recogniser (dialect, pinyin initials, typos,
euphemisms, broken English, danger after small talk); the recogniser was then tuned on them, so they are
a table now."""

BLIND_C = EXAMPLES / "blind_c.jsonl"
"""200 first messages from a third writer who never saw the recogniser, in the proportions of the shared
dev set; tuned on in two halves (each measured untouched first), so a table now."""
BLIND_D = EXAMPLES / "blind_d.jsonl"
"""160 first messages from a fourth writer (voice-to-text homophones, migrant workers' English, friends in
danger, calm words around danger now); measured untouched on the final code of the third set's rounds,
then tuned on, so a table now."""

BLIND_E = EXAMPLES / "blind_e.jsonl"
"""200 first messages from a fifth writer (vehicles, drinks and hotels, blackmail with a deadline, a friend
gone and unreachable, self-harm said indirectly); measured untouched on the code with the learned
reading, then tuned on."""

BLIND_F = EXAMPLES / "blind_f.jsonl"
"""200 first messages from a sixth writer, in the plain style of a careful annotator's held-out set; measured
untouched on the code with the learned reading (the last untouched measure of this round), then tuned on."""

SHARED_DEV = REPO.parent / "shared" / "intent-eval" / "dev.jsonl"
"""The shared dev set, beside the repository (tests skip without it: a git worktree has none beside it)."""
WORKSPACE_DEV = Path("/work/shared/intent-eval/dev.jsonl")


def default_files() -> list[Path]:
    """What the bench scores: the shared dev set (beside the repository, else the workspace's), the table,
    the held-out set, the colloquial set, the third to sixth blind sets."""
    dev = SHARED_DEV if SHARED_DEV.exists() else WORKSPACE_DEV
    return [dev, TABLE, HELD_OUT, COLLOQUIAL, BLIND_C, BLIND_D, BLIND_E, BLIND_F]


@dataclass(frozen=True)
class Phrase:
    q: str
    lang: str
    intent: str
    words: bool = False  # a report phrase whose words must be kept as the start of the account


def read_phrases(path: Path) -> list[Phrase]:
    phrases = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            phrases.append(Phrase(record["q"], record["lang"], record["intent"], bool(record.get("words"))))
    return phrases


@dataclass
class Rates:
    total: int = 0
    correct: int = 0
    danger_total: int = 0
    danger_found: int = 0
    safe_total: int = 0
    false_alarms: int = 0
    misses: list[tuple[Phrase, str]] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return self.danger_found / self.danger_total if self.danger_total else 1.0

    @property
    def false_alarm_rate(self) -> float:
        return self.false_alarms / self.safe_total if self.safe_total else 0.0

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 1.0


def score(phrases: list[Phrase]) -> Rates:
    rates = Rates()
    for phrase in phrases:
        got = understand(phrase.q).intent.value
        rates.total += 1
        rates.correct += got == phrase.intent
        if phrase.intent == Intent.DANGER:
            rates.danger_total += 1
            rates.danger_found += got == Intent.DANGER
        else:
            rates.safe_total += 1
            rates.false_alarms += got == Intent.DANGER
        if got != phrase.intent:
            rates.misses.append((phrase, got))
    return rates
