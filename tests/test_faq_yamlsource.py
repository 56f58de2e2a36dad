"""The FAQ YAML loader refuses what could take the bot down (alias bombs, endless aliases, deep
nesting, huge files) quickly, in little memory, at the line to fix; the last good content keeps serving."""

from __future__ import annotations

import shutil
import time
import tracemalloc
from pathlib import Path

from faq import CONTENT_DIR
from handlers.faq.library import FaqLibrary
from handlers.faq.yamlsource import MAX_DEPTH, MAX_FILE_BYTES, load_yaml_file


def billion_laughs(levels: int = 10) -> str:
    """The classic: each line names a list of nine of the previous one (9**10 strings if expanded)."""
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, levels):
        previous = f"*a{level - 1}"
        lines.append(f"a{level}: &a{level} [{', '.join([previous] * 9)}]")
    return "\n".join(lines) + "\n"


def load_measured(path: Path) -> tuple[list[str], float, int]:
    """(problems as shown to admins, seconds, peak bytes allocated) of loading one file."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        _, problems = load_yaml_file(path)
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return [str(problem) for problem in problems], elapsed, peak


def test_an_alias_bomb_is_refused_in_under_a_second_and_50_mb(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text("id: bomb\n" + billion_laughs(), encoding="utf-8")
    problems, elapsed, peak = load_measured(path)
    assert elapsed < 1.0 and peak < 50 * 2**20, (elapsed, peak)
    assert len(problems) == 1 and problems[0].startswith(f"{path}:2: ") and "&a0" in problems[0], problems


def test_aliases_and_anchors_are_refused_at_their_line(tmp_path: Path) -> None:
    cases = {
        "recursive alias": ("id: x\nloop: &loop [*loop]\n", 2, "&loop"),
        "alias to nothing": ("id: x\ntitle: *nowhere\n", 2, "*nowhere"),
        "anchor on a scalar": ("id: x\ntitle:\n  zh: &t 标题\n  en: *t\n", 3, "&t"),
        "merge key": ("id: x\nbase: &base {zh: a}\ntitle:\n  <<: *base\n", 2, "&base"),
        "anchor in a flow mapping": ("id: x\nq: {a: &b 1}\n", 2, "&b"),
    }
    for name, (text, line, shown) in cases.items():
        path = tmp_path / f"{name}.yaml"
        path.write_text(text, encoding="utf-8")
        problems, elapsed, _ = load_measured(path)
        assert len(problems) == 1 and problems[0].startswith(f"{path}:{line}: "), (name, problems)
        assert shown in problems[0] and elapsed < 1.0, (name, problems, elapsed)


def test_deep_nesting_is_refused_without_a_recursion_error(tmp_path: Path) -> None:
    depth = 50_000  # within the size limit, so the depth limit is what refuses them
    cases = {
        "flow lists": "a: " + "[" * depth + "]" * depth + "\n",
        "flow mappings": "a: " + "{b: " * depth + "1" + "}" * depth + "\n",
        "block mappings": "".join(" " * level + f"k{level}:\n" for level in range(300)) + " " * 300 + "v\n",
        "unclosed": "a: " + "[" * depth + "\n",
    }
    for name, text in cases.items():
        path = tmp_path / f"{name}.yaml"
        path.write_text(text, encoding="utf-8")
        problems, elapsed, peak = load_measured(path)
        assert len(problems) == 1 and problems[0].startswith(f"{path}:"), (name, problems)
        assert f"more than {MAX_DEPTH} deep" in problems[0] or "not valid YAML" in problems[0], (name, problems)
        assert elapsed < 10.0 and peak < 50 * 2**20, (name, elapsed, peak)  # tracemalloc slows the parser
    fine = tmp_path / "fine.yaml"
    fine.write_text("a: " + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1) + "\n", encoding="utf-8")
    assert load_yaml_file(fine)[1] == []


def test_a_file_past_the_size_limit_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    with path.open("wb") as file:
        file.write(b"id: huge\nanswer: ")
        file.truncate(50 * MAX_FILE_BYTES)
    problems, elapsed, peak = load_measured(path)
    assert len(problems) == 1 and problems[0].startswith(f"{path}:1: ") and "larger than" in problems[0]
    assert elapsed < 1.0 and peak < 4 * MAX_FILE_BYTES, (elapsed, peak)


def test_a_bomb_pasted_into_an_entry_keeps_the_last_good_content(tmp_path: Path) -> None:
    content = tmp_path / "faq"
    shutil.copytree(CONTENT_DIR / "entries", content / "entries")
    shutil.copy(CONTENT_DIR / "synonyms.yaml", content / "synonyms.yaml")
    library = FaqLibrary(content)
    before = library.snapshot
    entry = content / "entries" / "training-schedule.yaml"
    entry.write_text(entry.read_text(encoding="utf-8") + billion_laughs(), encoding="utf-8")
    started = time.perf_counter()
    problems = library.reload()
    assert time.perf_counter() - started < 5.0
    assert problems[0].path == entry and "anchor" in problems[0].message, problems
    assert library.snapshot is before and library.snapshot.search("培训什么时候开始")
