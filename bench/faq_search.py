"""Benchmark the FAQ search against plain BM25, in the same run.

Rankers compared, all built from the same content:

* plain BM25: bm25s over the entries' example questions only (jieba words and lower-cased
  English words; no synonyms, stopwords, field weights or tuning): the baseline.
* HAP BM25 fields: our weighted BM25 fields with synonym groups (the search before the classifier).
* HAP fused, words only: the BM25 fields fused with the topic classifier on words, synonym
  groups and character pairs (no word vectors).
* HAP fused + vectors: the same with the multilingual word vectors in the classifier (what ships).

For each evaluation file: top-1/top-3 per language and p50/p99 latency per question (wall time,
and the thread's CPU time, which a busy shared machine does not inflate). First the cold-start
cost (jieba, word vectors, index build) and the memory each part holds.

    .venv/bin/python bench/faq_search.py [--cv] [EVAL.jsonl ...]

``--cv`` adds 5-fold cross-validation over the entries' own example questions (each fold's
questions are removed from the content, the index is rebuilt and they are asked): the figure
used to choose the classifier's settings without touching any evaluation file.

Default eval files: the shared dev set (looked for in ``shared/faq-eval/`` beside the repository
or its parent folder) and every ``tests/data/faq_*.jsonl``.
"""

from __future__ import annotations

import dataclasses
import gc
import random
import re
import resource
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import bm25s
import jieba
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.cli.faq_tools import EvalCase, percentile, read_cases  # noqa: E402
from faq import CONTENT_DIR  # noqa: E402
from handlers.faq import search as search_module  # noqa: E402
from handlers.faq.analyzer import Analyzer  # noqa: E402
from handlers.faq.embedding import StaticWordVectors, TextEncoder  # noqa: E402
from handlers.faq.library import initialise_segmenter  # noqa: E402
from handlers.faq.loader import Content, load_content  # noqa: E402
from handlers.faq.model import LANGS, Entry  # noqa: E402
from handlers.faq.search import SearchIndex  # noqa: E402

Ranker = Callable[[str], list[str]]
Builder = Callable[[Mapping[str, Entry]], Ranker]


def rss_mb() -> float:
    """Resident memory of this process now, in MB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def plain_tokens(text: str) -> list[str]:
    """jieba words and English words, lower-cased; nothing else."""
    return [t for t in jieba.cut(text.lower()) if re.search(r"\w", t)]


def plain_bm25(entries: Mapping[str, Entry]) -> Ranker:
    """Plain BM25 over each entry's example questions (best question per entry)."""
    ids: list[str] = []
    documents: list[list[str]] = []
    for entry_id, entry in sorted(entries.items()):
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


def hap(content: Content, encoder: TextEncoder | None, fused: bool) -> Builder:
    """Our search over ``entries``: fused with the classifier, or its BM25 fields alone."""

    def build(entries: Mapping[str, Entry]) -> Ranker:
        index = SearchIndex(entries, Analyzer(content.synonyms), encoder if fused else None)
        if fused:
            return lambda question: [hit.entry_id for hit in index.search(question)]

        def lexical(question: str) -> list[str]:
            scores = index.lexical_scores(question)
            return [index.ids[i] for i in np.argsort(-scores, kind="stable")[:3] if scores[i] > 0]

        return lexical

    return build


def measure(rank: Ranker, cases: list[EvalCase]) -> str:
    """Top-1/top-3 per language; latency as wall time and as this thread's CPU time.

    On a shared machine the wall-time p99 mostly measures how often the scheduler took the CPU
    away mid-question; the CPU-time p99 is what the search itself costs.
    """
    counts = {lang: [0, 0, 0] for lang in LANGS}
    latencies: list[float] = []
    cpu: list[float] = []
    for case in cases:
        started = time.perf_counter()
        started_cpu = time.thread_time()
        ranked = rank(case.question)
        cpu.append((time.thread_time() - started_cpu) * 1000)
        latencies.append((time.perf_counter() - started) * 1000)
        bucket = counts.setdefault(case.lang, [0, 0, 0])
        bucket[0] += int(ranked[:1] == [case.topic])
        bucket[1] += int(case.topic in ranked[:3])
        bucket[2] += 1
    parts = [f"{lang} top-1 {c[0] / c[2]:.3f} top-3 {c[1] / c[2]:.3f} (n={c[2]})" for lang, c in counts.items() if c[2]]
    parts.append(
        f"wall p50 {percentile(latencies, 0.5):.2f} p99 {percentile(latencies, 0.99):.2f} ms, "
        f"cpu p50 {percentile(cpu, 0.5):.2f} p99 {percentile(cpu, 0.99):.2f} ms"
    )
    return " | ".join(parts)


def cross_validate(build: Builder, entries: Mapping[str, Entry], folds: int = 5) -> str:
    """Top-1 per language when each fifth of the example questions is asked of an index built without it."""
    items = [
        (entry_id, lang, question)
        for entry_id, entry in sorted(entries.items())
        for lang in LANGS
        for question in entry.questions.get(lang, ())
    ]
    random.Random(0).shuffle(items)
    right = {lang: 0 for lang in LANGS}
    asked = {lang: 0 for lang in LANGS}
    for fold in range(folds):
        held = set(items[fold::folds])
        reduced = {
            entry_id: dataclasses.replace(
                entry,
                questions={
                    lang: tuple(q for q in entry.questions.get(lang, ()) if (entry_id, lang, q) not in held)
                    for lang in LANGS
                },
            )
            for entry_id, entry in entries.items()
        }
        rank = build(reduced)
        for entry_id, lang, question in held:
            right[lang] += int(rank(question)[:1] == [entry_id])
            asked[lang] += 1
    return " | ".join(f"{lang} top-1 {right[lang] / asked[lang]:.3f} (n={asked[lang]})" for lang in LANGS)


def default_eval_files() -> list[Path]:
    dev = [
        folder / "shared" / "faq-eval" / "dev.jsonl"
        for folder in ROOT.parents
        if (folder / "shared" / "faq-eval" / "dev.jsonl").exists()
    ]
    return dev[:1] + sorted((ROOT / "tests" / "data").glob("faq_*.jsonl"))


def main(paths: list[Path], with_cv: bool) -> None:
    gc.collect()
    base = rss_mb()
    started = time.perf_counter()
    initialise_segmenter()
    jieba_ms = (time.perf_counter() - started) * 1000
    after_jieba = rss_mb()
    started = time.perf_counter()
    vectors = StaticWordVectors()
    vectors_ms = (time.perf_counter() - started) * 1000
    after_vectors = rss_mb()
    content = load_content(CONTENT_DIR)
    if content.problems:
        raise SystemExit("\n".join(str(p) for p in content.problems))
    entries = content.entries
    rankers: dict[str, Builder] = {
        "plain BM25": plain_bm25,
        "HAP BM25 fields": hap(content, None, fused=False),
        "HAP fused, words only": hap(content, None, fused=True),
        "HAP fused + vectors": hap(content, vectors, fused=True),
    }
    built: dict[str, Ranker] = {}
    build_ms: dict[str, float] = {}
    build_mb: dict[str, float] = {}
    for name, build in rankers.items():
        gc.collect()
        before = rss_mb()
        started = time.perf_counter()
        built[name] = build(entries)
        build_ms[name] = (time.perf_counter() - started) * 1000
        build_mb[name] = rss_mb() - before
    print(f"{len(entries)} entries; fusion weights {dict(search_module.FUSION_WEIGHTS)}")
    print(
        f"cold start: jieba {jieba_ms:.0f} ms (+{after_jieba - base:.0f} MB), "
        f"word vectors {vectors_ms:.0f} ms (+{after_vectors - after_jieba:.0f} MB), both once per process"
    )
    for name in rankers:
        print(f"  index build {name:24s}: {build_ms[name]:6.0f} ms (+{build_mb[name]:.0f} MB resident)")
    for path in paths:
        if not path.exists():
            print(f"{path}: missing, skipped")
            continue
        cases = read_cases(path)
        for rank in built.values():
            for case in cases:  # one warm-up pass: nothing is cached per question, so this only warms up
                rank(case.question)
        print(f"\n{path.name} ({len(cases)} questions)")
        for name, rank in built.items():
            print(f"  {name:24s}: {measure(rank, cases)}")
    if with_cv:
        print("\n5-fold cross-validation over the entries' own example questions")
        for name, build in rankers.items():
            print(f"  {name:24s}: {cross_validate(build, entries)}")


if __name__ == "__main__":
    args = sys.argv[1:]
    cv = "--cv" in args
    files = [Path(a) for a in args if a != "--cv"]
    main(files or default_eval_files(), cv)
