"""What the learned danger reading adds to the word families, on text it did not learn from.

    .venv/bin/python bench/danger_model.py [UNTOUCHED.jsonl ...]

For each example file of ``handlers/intent_examples`` in turn, the reading is trained on the others
and both readers are scored on it: the word families alone (``understand(text)``) and with the
second reading (``understand(text, reading)``). The families were tuned on every one of these files,
so this mostly shows what the reading costs in false alarms there; what it adds shows on text nobody
tuned on: pass such files (``{"q", "lang", "intent"}`` lines) and they are scored with the reading
trained on every example. Also: false alarms on the FAQ's question sets (every topic but
"emergency"), the training time, and the reading's time per message (p50/p99 over every text,
at least 1,000).
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from handlers.danger_model import LearnedDanger  # noqa: E402
from handlers.danger_reading import EXAMPLES, THRESHOLD, Example, read_examples  # noqa: E402
from handlers.faq.embedding import shared_word_vectors  # noqa: E402
from handlers.intents import Intent, understand  # noqa: E402


def lines(path: Path) -> list[dict[str, str]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def score(records: list[dict[str, str]], reading: Callable[[str], bool] | None) -> tuple[int, int, int, int]:
    """Danger found, danger total, false alarms, others total."""
    found = alarms = danger = 0
    for record in records:
        said = understand(record["q"], reading).intent is Intent.DANGER
        if record["intent"] == "danger":
            danger += 1
            found += said
        else:
            alarms += said
    return found, danger, alarms, len(records) - danger


def faq_questions() -> list[str]:
    files = sorted((ROOT / "tests" / "data").glob("faq_*.jsonl"))
    shared = ROOT.parent / "shared" / "faq-eval" / "dev.jsonl"
    files += [shared] if shared.exists() else []
    return [r["q"] for f in files for r in lines(f) if r.get("topic") != "emergency"]


def row(name: str, plain: tuple[int, int, int, int], second: tuple[int, int, int, int]) -> str:
    return (
        f"{name:<26}{plain[1]:>4} danger  families {plain[0]:>3} found {plain[2]:>3}/{plain[3]:<4} false  |  "
        f"with reading {second[0]:>3} found {second[2]:>3}/{second[3]:<4} false"
    )


def main(argv: list[str]) -> None:
    encoder = shared_word_vectors()
    files = sorted(EXAMPLES.glob("*.jsonl"))
    print(f"threshold {THRESHOLD}; {len(read_examples())} examples in {len(files)} files")
    print("left out of training, one file at a time:")
    for left_out in files:
        others = [e for f in files if f != left_out for e in read_examples_of(f)]
        reading = LearnedDanger.train(others, encoder)
        records = lines(left_out)
        print(row(left_out.name, score(records, None), score(records, reading.reads_danger)))
    started = time.perf_counter()
    reading = LearnedDanger.train(read_examples(), encoder)
    trained = time.perf_counter() - started
    questions = faq_questions()
    plain = sum(understand(q).intent is Intent.DANGER for q in questions)
    second = sum(understand(q, reading.reads_danger).intent is Intent.DANGER for q in questions)
    print(f"FAQ questions (not the emergency topic): {len(questions)}; read as danger: families {plain}, "
          f"with reading {second}")
    for path in (Path(a) for a in argv):
        records = lines(path)
        print(row(f"untouched {path.name}", score(records, None), score(records, reading.reads_danger)))
    texts = [e.text for e in read_examples()] + questions
    while len(texts) < 1_000:
        texts += texts
    times = []
    for text in texts:
        begun = time.perf_counter()
        reading.probability(text)
        times.append((time.perf_counter() - begun) * 1e6)
    times.sort()
    print(f"training {trained:.2f} s; reading per message p50 {statistics.median(times):.0f} µs, "
          f"p99 {times[int(len(times) * 0.99)]:.0f} µs over {len(times)} messages")


def read_examples_of(path: Path) -> list[Example]:
    return [Example(r["q"], r["intent"] == "danger") for r in lines(path)]


if __name__ == "__main__":
    main(sys.argv[1:])
