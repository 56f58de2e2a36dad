"""``hapbot faq check|ask|eval``: the FAQ's command-line tools, as plain functions.

``bot/cli/faq.py`` owns the arguments and calls these; each returns the process exit code and writes
only to ``out`` so tests can call them directly.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from handlers.faq.check import check_directory
from handlers.faq.library import FaqSnapshot, build_snapshot
from handlers.faq.model import LANGS, Problem
from handlers.quiz.check import check_quiz_directory

FactsBySite = Mapping[str, Mapping[str, Mapping[str, str]]]


def run_check(directory: Path, facts_by_site: FactsBySite | None, out: TextIO) -> int:
    """Validate the FAQ and the quizzes in ``directory``; print ``file:line: problem`` lines; 0 when all is well."""
    content = check_directory(directory, facts_by_site)
    quizzes = check_quiz_directory(directory)
    problems = [*content.problems, *quizzes.problems]
    for problem in problems:
        out.write(f"{problem}\n")
    if problems:
        out.write(f"{len(problems)} problem(s) found; fix them and run the check again.\n")
        return 1
    overrides = sum(len(site) for site in content.overrides.values())
    quiz_overrides = sum(len(site) for site in quizzes.overrides.values())
    questions = sum(len(quiz.questions) for quiz in quizzes.quizzes.values())
    note = "" if facts_by_site is not None else " (no site facts given: checked against the standard list)"
    out.write(
        f"OK: {len(content.entries)} entries, {overrides} site overrides, {len(quizzes.quizzes)} quizzes "
        f"({questions} questions, {quiz_overrides} site overrides){note}.\n"
    )
    return 0


def _load(directory: Path, out: TextIO) -> FaqSnapshot | None:
    snapshot, problems = build_snapshot(directory)
    if snapshot is None:
        _print_problems(problems, out)
    return snapshot


def _print_problems(problems: list[Problem], out: TextIO) -> None:
    for problem in problems:
        out.write(f"{problem}\n")
    out.write("The FAQ content has problems; run 'hapbot faq check' and fix them first.\n")


def run_ask(question: str, lang: str | None, as_json: bool, directory: Path, out: TextIO) -> int:
    """Print the ranked topic ids and scores for ``question`` (what the bot would offer)."""
    snapshot = _load(directory, out)
    if snapshot is None:
        return 1
    hits = snapshot.search(question, lang, limit=5)
    confident = snapshot.is_confident(hits)
    if as_json:
        payload = {
            "question": question,
            "confident": confident,
            "hits": [{"id": hit.entry_id, "score": hit.score} for hit in hits],
        }
        out.write(json.dumps(payload, ensure_ascii=False) + "\n")
        return 0
    if not hits:
        out.write("no matching entry (the bot would offer to ask HR)\n")
        return 0
    for rank, hit in enumerate(hits, start=1):
        out.write(f"{rank}. {hit.entry_id}  {hit.score:.3f}\n")
    out.write("confident: answer directly\n" if confident else "not confident: offer the top 3 and 'ask HR'\n")
    return 0


@dataclass(frozen=True)
class EvalCase:
    """One line of an evaluation file."""

    question: str
    lang: str
    topic: str


def read_cases(path: Path) -> list[EvalCase]:
    """Read ``{"q", "lang", "topic"}`` lines, skipping blank ones."""
    cases: list[EvalCase] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            cases.append(EvalCase(str(record["q"]), str(record["lang"]), str(record["topic"])))
    return cases


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (p99 of 100 values is the 99th smallest)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def evaluate(snapshot: FaqSnapshot, cases: list[EvalCase]) -> dict[str, object]:
    """Top-1/top-3 accuracy per language and latency; the question's language is detected, not given."""
    counts = {lang: {"top1": 0, "top3": 0, "n": 0} for lang in LANGS}
    latencies: list[float] = []
    for case in cases:
        started = time.perf_counter()
        hits = snapshot.search(case.question, None, limit=3)
        latencies.append((time.perf_counter() - started) * 1000)
        bucket = counts.setdefault(case.lang, {"top1": 0, "top3": 0, "n": 0})
        ids = [hit.entry_id for hit in hits]
        bucket["n"] += 1
        bucket["top1"] += int(ids[:1] == [case.topic])
        bucket["top3"] += int(case.topic in ids)
    result: dict[str, object] = {
        lang: {
            "top1": round(c["top1"] / c["n"], 4) if c["n"] else 0.0,
            "top3": round(c["top3"] / c["n"], 4) if c["n"] else 0.0,
            "n": c["n"],
        }
        for lang, c in counts.items()
    }
    result["p50_ms"] = round(percentile(latencies, 0.50), 3)
    result["p99_ms"] = round(percentile(latencies, 0.99), 3)
    return result


def run_eval(path: Path, as_json: bool, directory: Path, out: TextIO) -> int:
    """Score the search on a JSONL file; with ``as_json`` stdout is exactly one JSON object."""
    snapshot, problems = build_snapshot(directory)
    if snapshot is None:
        if not as_json:
            _print_problems(problems, out)
        return 1
    cases = read_cases(path)
    for case in cases[:5]:
        snapshot.search(case.question)
    result = evaluate(snapshot, cases)
    if as_json:
        out.write(json.dumps(result) + "\n")
        return 0
    for lang in (*LANGS, *(k for k in result if k not in LANGS and not k.endswith("_ms"))):
        scores = result[lang]
        assert isinstance(scores, dict)
        out.write(f"{lang}: top-1 {scores['top1']:.3f}  top-3 {scores['top3']:.3f}  n={scores['n']}\n")
    out.write(f"latency: p50 {result['p50_ms']} ms  p99 {result['p99_ms']} ms\n")
    return 0
