"""Live reload: valid edits are served, invalid edits keep the last good content, swaps never break a search."""

from __future__ import annotations

import asyncio
import io
import json
import shutil
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from bot.admin.faq_watch import fingerprint, watch_faq
from bot.cli.faq_tools import run_ask, run_eval
from faq import CONTENT_DIR
from handlers.faq.library import ContentError, FaqLibrary
from handlers.faq.model import Problem

ENTRY = "training-schedule.yaml"
OLD_EN = "Everyone at {site_name} takes anti-harassment training"
NEW_EN = "Everyone at {site_name} must take the anti-harassment course"


@pytest.fixture
def content(tmp_path: Path) -> Path:
    target = tmp_path / "faq"
    shutil.copytree(CONTENT_DIR / "entries", target / "entries")
    shutil.copy(CONTENT_DIR / "synonyms.yaml", target / "synonyms.yaml")
    return target


def replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_start_up_fails_loudly_on_bad_content(content: Path) -> None:
    replace(content / "entries" / ENTRY, "related:\n", "related：\n")
    with pytest.raises(ContentError) as raised:
        FaqLibrary(content)
    assert ENTRY in str(raised.value)


def test_valid_edit_is_served_after_reload(content: Path) -> None:
    library = FaqLibrary(content)
    before = library.snapshot
    replace(content / "entries" / ENTRY, OLD_EN, NEW_EN)
    assert library.reload() == []
    assert NEW_EN in library.snapshot.entries["training-schedule"].answer("en")
    assert OLD_EN in before.entries["training-schedule"].answer("en"), "a taken snapshot never changes"
    assert library.snapshot.version != before.version


def test_invalid_edit_keeps_old_answer_and_returns_problems(content: Path) -> None:
    library = FaqLibrary(content)
    path = content / "entries" / ENTRY
    replace(path, OLD_EN, NEW_EN)
    replace(path, "related:\n", "related:\n\t- oops\n")
    problems = library.reload()
    assert problems and problems[0].path == path and "tab" in problems[0].message
    assert OLD_EN in library.snapshot.entries["training-schedule"].answer("en")
    assert library.snapshot.search("培训什么时候开始")


@pytest.mark.slow
def test_concurrent_searches_during_repeated_swaps_never_fail(content: Path) -> None:
    library = FaqLibrary(content)
    path = content / "entries" / ENTRY
    errors: list[BaseException] = []
    versions_seen: set[str] = set()
    stop = threading.Event()

    def ask() -> None:
        questions = ["拉长摸我怎么办", "how do i check my case status", "培训在哪里", "can i stay anonymous"]
        while not stop.is_set():
            try:
                for question in questions:
                    snapshot = library.snapshot
                    hits = snapshot.search(question)
                    assert hits
                    assert all(hit.entry_id in snapshot.entries for hit in hits)
                    snapshot.entries[hits[0].entry_id].answer("zh")
                    versions_seen.add(snapshot.version)
            except BaseException as error:
                errors.append(error)
                return
            time.sleep(0.01)  # leave the reloading thread some of the GIL: four spinning readers starve it

    readers = [threading.Thread(target=ask) for _ in range(4)]
    for reader in readers:
        reader.start()
    try:
        for round_number in range(6):
            good = round_number % 2 == 0
            replace(path, OLD_EN if good else NEW_EN, NEW_EN if good else OLD_EN)
            assert library.reload() == []
            replace(path, "related:\n", "related：\n")
            assert library.reload()
            replace(path, "related：\n", "related:\n")
    finally:
        stop.set()
        for reader in readers:
            reader.join(timeout=10)
    assert not errors, errors[:3]
    assert len(versions_seen) == 2, "the searches did not overlap the swaps between the two contents"


def test_fingerprint_ignores_rewrites_with_identical_bytes(content: Path) -> None:
    first = fingerprint(content)
    path = content / "entries" / ENTRY
    path.write_bytes(path.read_bytes())
    second = fingerprint(content, first)
    assert {k: v[1:] for k, v in first.items()} == {k: v[1:] for k, v in second.items()}


async def test_watcher_serves_valid_edit_and_reports_invalid_one(content: Path) -> None:
    library = FaqLibrary(content)
    reported: list[Sequence[Problem]] = []
    reloaded = asyncio.Event()
    problems_seen = asyncio.Event()

    async def on_problems(problems: Sequence[Problem]) -> None:
        reported.append(problems)
        problems_seen.set()

    def on_reloaded() -> None:
        reloaded.set()

    task = asyncio.create_task(watch_faq(library, on_problems, interval=0.05, on_reloaded=on_reloaded))
    try:
        path = content / "entries" / ENTRY
        replace(path, OLD_EN, NEW_EN)
        await asyncio.wait_for(reloaded.wait(), timeout=10)
        assert NEW_EN in library.snapshot.entries["training-schedule"].answer("en")

        replace(path, "related:\n", "related：\n")
        await asyncio.wait_for(problems_seen.wait(), timeout=10)
        assert str(path) in str(reported[0][0])
        assert NEW_EN in library.snapshot.entries["training-schedule"].answer("en")
        await asyncio.sleep(0.3)
        assert len(reported) == 1, "an unchanged broken file is reported once, not on every poll"
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


def test_ask_prints_ranked_ids_and_json(content: Path) -> None:
    out = io.StringIO()
    assert run_ask("组长一直摸我 他管我加班", None, False, content, out) == 0
    assert out.getvalue().startswith("1. harasser-is-supervisor")
    out = io.StringIO()
    assert run_ask("how do i check my case status", "en", True, content, out) == 0
    payload = json.loads(out.getvalue())
    assert payload["hits"][0]["id"] == "check-case-status"
    assert isinstance(payload["confident"], bool)


def test_eval_json_is_exactly_one_object(content: Path, tmp_path: Path) -> None:
    cases = tmp_path / "cases.jsonl"
    cases.write_text(
        '{"q": "怎么查询举报进度", "lang": "zh", "topic": "check-case-status"}\n'
        '{"q": "who can read my report", "lang": "en", "topic": "data-privacy"}\n',
        encoding="utf-8",
    )
    out = io.StringIO()
    assert run_eval(cases, True, content, out) == 0
    result = json.loads(out.getvalue())
    assert set(result) == {"zh", "en", "p50_ms", "p99_ms"}
    assert result["zh"] == {"top1": 1.0, "top3": 1.0, "n": 1}
    assert result["en"]["n"] == 1
    out = io.StringIO()
    assert run_eval(cases, False, content, out) == 0
    assert "top-1" in out.getvalue() and "p99" in out.getvalue()


async def _watching(library: FaqLibrary, on_problems: object, **options: object) -> asyncio.Task[None]:
    task = asyncio.create_task(watch_faq(library, on_problems, interval=0.05, **options))  # type: ignore[arg-type]
    await asyncio.sleep(0.2)  # the watcher has seen the files as they are
    return task


async def _stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_a_yml_file_saved_while_serving_is_reported_at_once(content: Path) -> None:
    """The loader refuses a .yml file ("rename it"); the watcher must see it too, or the admin hears
    nothing until the next start fails on it."""
    library = FaqLibrary(content)
    told = asyncio.Event()
    reported: list[Sequence[Problem]] = []

    def on_problems(problems: Sequence[Problem]) -> None:
        reported.append(problems)
        told.set()

    task = await _watching(library, on_problems)
    try:
        source = (content / "entries" / ENTRY).read_text(encoding="utf-8")
        (content / "entries" / "new-topic.yml").write_text(source.replace(f"id: {ENTRY[:-5]}", "id: new-topic"))
        await asyncio.wait_for(told.wait(), timeout=10)
        assert "must end in .yaml" in str(reported[0][0])
    finally:
        await _stop(task)


async def test_the_watcher_outlives_a_failed_notice_and_tells_again(content: Path) -> None:
    """Telling the admins writes to the database; a busy database once must not end live reloads."""
    library = FaqLibrary(content)
    calls = 0

    async def on_problems(problems: Sequence[Problem]) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise OSError("database is locked")

    path = content / "entries" / ENTRY
    task = await _watching(library, on_problems)
    try:
        replace(path, "related:\n", "related：\n")
        for _ in range(200):
            await asyncio.sleep(0.05)
            if calls >= 2:
                break
        assert calls == 2, "the refused edit is told again after the failed notice"
        replace(path, "related：\n", "related:\n")
        replace(path, OLD_EN, NEW_EN)
        for _ in range(200):
            await asyncio.sleep(0.05)
            if NEW_EN in library.snapshot.entries["training-schedule"].answer("en"):
                break
        assert not task.done()
        assert NEW_EN in library.snapshot.entries["training-schedule"].answer("en")
    finally:
        await _stop(task)


async def test_a_file_saved_in_two_writes_goes_live_only_whole(tmp_path: Path) -> None:
    """An editor's save may write a file in parts; its first part is often still valid YAML (a quiz
    cut between questions). Nothing goes live until the files have been left alone a moment."""
    from handlers.quiz.library import QuizLibrary

    target = tmp_path / "faq"
    shutil.copytree(CONTENT_DIR, target, ignore=shutil.ignore_patterns("__pycache__", "*.py", "*.md"))
    library = QuizLibrary(target)
    whole = len(library.snapshot.quizzes["reporting"].questions)
    reloads = 0

    def on_reloaded() -> None:
        nonlocal reloads
        reloads += 1

    path = target / "quizzes" / "reporting.yaml"
    full = path.read_text(encoding="utf-8")
    task = await _watching(library, lambda problems: None, settle=0.3, on_reloaded=on_reloaded)
    try:
        path.write_text(full[: full.index("  - id: add-later")], encoding="utf-8")  # the first write
        await asyncio.sleep(0.15)  # three polls see the cut file
        path.write_text(full, encoding="utf-8")  # the rest
        await asyncio.sleep(1.0)
        assert reloads == 0, "the cut file went live for a moment"
        assert len(library.snapshot.quizzes["reporting"].questions) == whole
    finally:
        await _stop(task)
