"""Benchmark the FAQ search against a plain BM25 baseline, in the same run.

Prints load+index time, then top-1/top-3 per language and p50/p99 latency for our search
and for the baseline: bm25s over the entries' example questions only (jieba words and
lower-cased English words, no synonyms, no stopwords, no field weights, no tuning).

    .venv/bin/python bench/faq_search.py [EVAL.jsonl ...]

Default eval files: ../shared/faq-eval/dev.jsonl and tests/data/faq_colloquial.jsonl.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

import bm25s
import jieba
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.cli.faq_tools import EvalCase, percentile, read_cases  # noqa: E402
from faq import CONTENT_DIR  # noqa: E402
from handlers.faq.library import FaqSnapshot, build_snapshot, initialise_segmenter  # noqa: E402
from handlers.faq.model import LANGS  # noqa: E402

Ranker = Callable[[str], list[str]]


def plain_tokens(text: str) -> list[str]:
    """jieba words and English words, lower-cased; nothing else."""
    return [t for t in jieba.cut(text.lower()) if re.search(r"\w", t)]


def baseline(snapshot: FaqSnapshot) -> Ranker:
    """Plain BM25 over each entry's example questions (best question per entry)."""
    ids: list[str] = []
    documents: list[list[str]] = []
    for entry_id, entry in sorted(snapshot.entries.items()):
        for lang in LANGS:
            for question in entry.questions.get(lang, ()):
                ids.append(entry_id)
                documents.append(plain_tokens(question))
    retriever = bm25s.BM25()
    retriever.index(documents, show_progress=False)
    entry_ids = np.array(ids)

    def rank(question: str) -> list[str]:
        tokens = plain_tokens(question)
        if not tokens:
            return []
        scores = retriever.get_scores(tokens)
        ranked: list[str] = []
        for index in np.argsort(-scores, kind="stable"):
            if scores[index] <= 0:
                break
            if entry_ids[index] not in ranked:
                ranked.append(str(entry_ids[index]))
            if len(ranked) == 3:
                break
        return ranked

    return rank


def measure(rank: Ranker, cases: list[EvalCase]) -> str:
    counts = {lang: [0, 0, 0] for lang in LANGS}
    latencies: list[float] = []
    for case in cases:
        started = time.perf_counter()
        ranked = rank(case.question)
        latencies.append((time.perf_counter() - started) * 1000)
        bucket = counts.setdefault(case.lang, [0, 0, 0])
        bucket[0] += int(ranked[:1] == [case.topic])
        bucket[1] += int(case.topic in ranked[:3])
        bucket[2] += 1
    parts = [f"{lang} top-1 {c[0] / c[2]:.3f} top-3 {c[1] / c[2]:.3f} (n={c[2]})" for lang, c in counts.items() if c[2]]
    parts.append(f"p50 {percentile(latencies, 0.5):.3f} ms  p99 {percentile(latencies, 0.99):.3f} ms")
    return " | ".join(parts)


def main(paths: list[Path]) -> None:
    started = time.perf_counter()
    initialise_segmenter()
    jieba_seconds = time.perf_counter() - started
    started = time.perf_counter()
    snapshot, problems = build_snapshot(CONTENT_DIR)
    load_seconds = time.perf_counter() - started
    if snapshot is None:
        raise SystemExit("\n".join(str(p) for p in problems))
    print(f"jieba initialise: {jieba_seconds * 1000:.0f} ms (once per process)")
    print(f"load + validate + index {len(snapshot.entries)} entries: {load_seconds * 1000:.0f} ms")
    plain = baseline(snapshot)

    def ours(question: str) -> list[str]:
        return [hit.entry_id for hit in snapshot.search(question)]

    for path in paths:
        if not path.exists():
            print(f"{path}: missing, skipped")
            continue
        cases = read_cases(path)
        for case in cases[:10]:
            ours(case.question)
            plain(case.question)
        print(f"\n{path} ({len(cases)} questions)")
        print(f"  HAP search  : {measure(ours, cases)}")
        print(f"  plain BM25  : {measure(plain, cases)}")


if __name__ == "__main__":
    default = [ROOT.parent / "shared" / "faq-eval" / "dev.jsonl", ROOT / "tests" / "data" / "faq_colloquial.jsonl"]
    main([Path(arg) for arg in sys.argv[1:]] or default)
