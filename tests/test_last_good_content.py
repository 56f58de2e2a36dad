"""A broken content file found at a start: the FAQ and the quizzes serve the copy kept at their last
clean load, the watcher tells the admins the file and line at its first poll, and the check before
the start warns instead of stopping; without a clean copy the start stops as before."""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import Sequence
from pathlib import Path

import pytest

from bot.admin.faq_watch import watch_faq
from bot.config import ConfigError, load_config
from bot.core import load_faq, load_quizzes
from bot.preflight import check_startup
from faq import CONTENT_DIR
from handlers.faq.last_good import keep, last_good_dir
from handlers.faq.library import ContentError, FaqLibrary, content_version
from handlers.faq.model import Problem
from handlers.quiz.library import QuizLibrary

ENTRY = "training-schedule.yaml"
QUIZ = "onboarding.yaml"
OLD_EN = "Everyone at {site_name} takes anti-harassment training"
NEW_EN = "Everyone at {site_name} must take the anti-harassment course"
FACTS = """[sites.main]
name = { zh = "一号厂", en = "Factory One" }
[sites.main.facts]
hr_contact = "HR office, building 2"
advocacy_board = "the advocacy board, room 101"
training_schedule = "March and September"
handbook_location = "the staff handbook"
counselling_service = "the counselling room"
"""


@pytest.fixture
def content(tmp_path: Path) -> Path:
    target = tmp_path / "faq"
    shutil.copytree(CONTENT_DIR, target, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    return target


def replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def break_faq(content: Path) -> Path:
    path = content / "entries" / ENTRY
    replace(path, "related:\n", "related：\n")  # a full-width colon, as a Chinese keyboard types it
    return path


def break_quiz(content: Path) -> Path:
    path = content / "quizzes" / QUIZ
    replace(path, "    answer: false", "    answer: perhaps")
    return path


def test_a_clean_load_keeps_a_copy_and_a_broken_start_serves_it(content: Path, tmp_path: Path) -> None:
    kept = tmp_path / "data" / "last-good" / "faq"
    first = FaqLibrary(content, last_good=kept)
    assert first.start_problems == [] and content_version(kept) == first.snapshot.version

    path = break_faq(content)
    with pytest.raises(ContentError):
        FaqLibrary(content)  # no copy: the start stops, as before
    restarted = FaqLibrary(content, last_good=kept)
    assert restarted.snapshot.version == first.snapshot.version
    assert restarted.start_problems and restarted.start_problems[0].path == path
    assert restarted.snapshot.search("培训什么时候开始"), "the last good answers are served"
    assert content_version(kept) == first.snapshot.version, "a broken start never overwrites the copy"
    assert restarted.directory == content, "the admin's folder is still the one watched and reloaded"


def test_an_edit_that_loads_replaces_the_copy(content: Path, tmp_path: Path) -> None:
    kept = tmp_path / "last-good" / "faq"
    library = FaqLibrary(content, last_good=kept)
    replace(content / "entries" / ENTRY, OLD_EN, NEW_EN)
    assert library.reload() == []
    assert NEW_EN in (kept / "entries" / ENTRY).read_text(encoding="utf-8")
    break_faq(content)
    assert library.reload()
    assert NEW_EN in (kept / "entries" / ENTRY).read_text(encoding="utf-8"), "a refused edit is not kept"
    assert not kept.with_name("faq.new").exists() and not kept.with_name("faq.old").exists()


def test_a_copy_that_no_longer_loads_does_not_hide_the_problems(content: Path, tmp_path: Path) -> None:
    kept = tmp_path / "last-good" / "faq"
    FaqLibrary(content, last_good=kept)
    break_faq(content)
    break_faq(kept)  # e.g. kept before an upgrade whose checks it does not pass
    with pytest.raises(ContentError) as raised:
        FaqLibrary(content, last_good=kept)
    assert str(content / "entries" / ENTRY) in str(raised.value)


def test_quizzes_keep_their_own_copy(content: Path, tmp_path: Path) -> None:
    kept = tmp_path / "last-good" / "quizzes"
    first = QuizLibrary(content, last_good=kept)
    path = break_quiz(content)
    with pytest.raises(ContentError):
        QuizLibrary(content)
    restarted = QuizLibrary(content, last_good=kept)
    assert restarted.start_problems and restarted.start_problems[0].path == path
    assert restarted.snapshot.quiz("onboarding", None) is not None
    assert restarted.snapshot.version == first.snapshot.version


async def test_the_watcher_tells_the_admins_at_its_first_poll_and_takes_the_fix(content: Path, tmp_path: Path) -> None:
    kept = tmp_path / "last-good" / "quizzes"
    QuizLibrary(content, last_good=kept)
    path = break_quiz(content)
    library = QuizLibrary(content, last_good=kept)
    reported: list[Sequence[Problem]] = []
    told, reloaded = asyncio.Event(), asyncio.Event()

    def on_problems(problems: Sequence[Problem]) -> None:
        reported.append(problems)
        told.set()

    task = asyncio.create_task(watch_faq(library, on_problems, interval=0.05, settle=0, on_reloaded=reloaded.set))
    try:
        await asyncio.wait_for(told.wait(), timeout=10)
        assert f"{path}:" in str(reported[0][0])
        replace(path, "    answer: perhaps", "    answer: false")
        await asyncio.wait_for(reloaded.wait(), timeout=10)
        assert len(reported) == 1 and library.snapshot.version == content_version(content)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


def test_the_check_before_the_start_warns_when_a_clean_copy_will_serve(
    content: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "data"
    path = tmp_path / "config.toml"
    path.write_text(f'[bot]\nfaq_dir = "{content}"\ndata_dir = "{data}"\n' + FACTS, encoding="utf-8")
    config = load_config(path)
    for part in ("faq", "quizzes"):  # kept at an earlier clean start
        keep(content, last_good_dir(data, part), content_version(content))
    faq_file, quiz_file = break_faq(content), break_quiz(content)
    with caplog.at_level(logging.WARNING, logger="bot.preflight"):
        check_startup(config, env={})
    warned = " ".join(record.getMessage() for record in caplog.records)
    assert str(faq_file) in warned and str(quiz_file) in warned and "last good" in warned
    # and what `hapbot run` loads next serves those copies, the problems waiting for the watcher
    quizzes, faq = load_quizzes(config), load_faq(config)
    assert quizzes.start_problems[0].path == quiz_file and faq.library.start_problems[0].path == faq_file

    shutil.rmtree(data / "last-good")
    with pytest.raises(ConfigError) as stopped:
        check_startup(config, env={})
    assert str(faq_file) in str(stopped.value) and str(quiz_file) in str(stopped.value)


def test_a_copy_of_another_folder_is_never_served(content: Path, tmp_path: Path) -> None:
    kept = tmp_path / "last-good" / "faq"
    FaqLibrary(content, last_good=kept)
    other = tmp_path / "other-faq"
    shutil.copytree(content, other)
    break_faq(other)
    with pytest.raises(ContentError):
        FaqLibrary(other, last_good=kept)  # faq_dir changed: the copy is of the old folder


def test_a_save_while_it_loads_is_not_kept_as_good(content: Path, tmp_path: Path) -> None:
    kept = tmp_path / "last-good" / "faq"
    library = FaqLibrary(content, last_good=kept)
    served = library.snapshot.version
    replace(content / "entries" / ENTRY, OLD_EN, NEW_EN)
    assert library.reload() == []
    edited = library.snapshot.version
    break_faq(content)  # saved after the load, before the copy
    keep(content, kept, edited)
    assert served != edited and content_version(kept) == edited, "the copy is of the content that loaded"


def test_a_crash_between_the_renames_leaves_a_copy_that_is_used(content: Path, tmp_path: Path) -> None:
    kept = tmp_path / "last-good" / "faq"
    FaqLibrary(content, last_good=kept)
    kept.rename(kept.with_name("faq.old"))  # as if the process died between the two renames
    break_faq(content)
    assert FaqLibrary(content, last_good=kept).start_problems


def test_a_linked_site_folder_is_in_the_copy(content: Path, tmp_path: Path) -> None:
    north = tmp_path / "north-overrides"
    north.mkdir()
    shutil.copy(content / "entries" / ENTRY, north / ENTRY)
    replace(north / ENTRY, OLD_EN, NEW_EN)
    (content / "sites").mkdir(exist_ok=True)
    (content / "sites" / "north").symlink_to(north, target_is_directory=True)
    kept = tmp_path / "last-good" / "faq"
    FaqLibrary(content, last_good=kept)
    break_faq(content)
    restarted = FaqLibrary(content, last_good=kept)
    assert restarted.start_problems
    assert NEW_EN in restarted.snapshot.entry_for_site("training-schedule", "north").answer("en")


def test_the_copy_is_private_to_the_bot(content: Path, tmp_path: Path) -> None:
    kept = tmp_path / "data" / "last-good" / "faq"
    FaqLibrary(content, last_good=kept)
    assert (kept.parent.stat().st_mode & 0o777, kept.stat().st_mode & 0o777) == (0o700, 0o700)


def test_two_sites_linked_to_one_folder_are_both_in_the_copy(content: Path, tmp_path: Path) -> None:
    shared = tmp_path / "shared-overrides"
    shared.mkdir()
    shutil.copy(content / "entries" / ENTRY, shared / ENTRY)
    replace(shared / ENTRY, OLD_EN, NEW_EN)
    (content / "sites").mkdir(exist_ok=True)
    for site in ("north", "south"):
        (content / "sites" / site).symlink_to(shared, target_is_directory=True)
    kept = tmp_path / "last-good" / "faq"
    FaqLibrary(content, last_good=kept)
    break_faq(content)
    restarted = FaqLibrary(content, last_good=kept)
    for site in ("north", "south"):
        assert NEW_EN in restarted.snapshot.entry_for_site("training-schedule", site).answer("en"), site


def test_a_release_link_switched_to_a_broken_release_serves_the_copy(tmp_path: Path) -> None:
    """faq_dir = .../current/faq, with `current` a link to the release folder: a deploy that switches
    it to a release with a broken file is the case the copy is for."""
    for release in ("v1", "v2"):
        shutil.copytree(CONTENT_DIR, tmp_path / release / "faq", ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    break_faq(tmp_path / "v2" / "faq")
    current = tmp_path / "current"
    current.symlink_to(tmp_path / "v1", target_is_directory=True)
    kept = tmp_path / "last-good" / "faq"
    FaqLibrary(current / "faq", last_good=kept)
    current.unlink()
    current.symlink_to(tmp_path / "v2", target_is_directory=True)
    assert FaqLibrary(current / "faq", last_good=kept).start_problems
