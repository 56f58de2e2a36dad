"""Intent recognition rates: danger recall, false alarms and overall accuracy per data set.

    .venv/bin/python bench/intents.py [FILE.jsonl ...]

Default files: the shared dev set (../shared/intent-eval/dev.jsonl, else /work/shared/...), our own
table (handlers/intent_examples/table.jsonl), our held-out set (handlers/intent_examples/heldout.jsonl, written
before the recogniser and never tuned on) and the colloquial set (handlers/intent_examples/colloquial.jsonl:
dialect, pinyin initials, euphemisms, simple English; written blind, then tuned on). Each line is
``{"q", "lang", "intent"}``. ``--misses`` lists the phrases read wrongly (never run it on the held-out
set while tuning).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.intent_rates import Rates, default_files, read_phrases, score  # noqa: E402


def main(argv: list[str]) -> int:
    show_misses = "--misses" in argv
    paths = [Path(a) for a in argv if not a.startswith("--")] or [p for p in default_files() if p.exists()]
    print(f"{'set':<22}{'n':>4}  {'danger recall':>14}  {'false alarms':>13}  {'accuracy':>9}  {'µs/msg':>7}")
    for path in paths:
        phrases = read_phrases(path)
        started = time.perf_counter()
        rates: Rates = score(phrases)
        per_message = (time.perf_counter() - started) / max(len(phrases), 1) * 1e6
        print(
            f"{path.name if path.parent.name != 'intent-eval' else 'shared ' + path.name:<22}{rates.total:>4}  "
            f"{rates.danger_found:>3}/{rates.danger_total:<3} {rates.recall:>6.0%}  "
            f"{rates.false_alarms:>3}/{rates.safe_total:<3} {rates.false_alarm_rate:>5.0%}  "
            f"{rates.accuracy:>8.0%}  {per_message:>7.0f}"
        )
        if show_misses:
            for phrase, got in rates.misses:
                print(f"    {phrase.intent:>9} <- {got:<9} {phrase.q}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
