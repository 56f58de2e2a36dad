"""`hapbot faq check` validates the quiz files with file:line problems; a broken edit never reaches
workers (the watcher and /reload keep the last good quizzes and tell the admins); site overrides."""

from __future__ import annotations

import asyncio
import io
import re
import shutil
from collections.abc import Sequence
from pathlib import Path

import pytest

from bot.admin.faq_reload import FaqAdmin
from bot.admin.faq_watch import watch_faq
from bot.channels.console import ConsoleChannel
from bot.cli.faq_tools import run_check
from bot.core import Core
from faq import CONTENT_DIR
from handlers.faq import FaqLibrary, Problem
from handlers.faq.service import LibraryFaqService
from handlers.quiz.library import QuizLibrary
from storage.messages import AdminNotice

from .content_kit import assert_problem, edit, line_of

QUIZ = "onboarding.yaml"



@pytest.fixture
def content(tmp_path: Path) -> Path:
    """A private copy of the shipped FAQ and quizzes to break one thing in."""
    target = tmp_path / "faq"
    shutil.copytree(CONTENT_DIR, target, ignore=shutil.ignore_patterns("__pycache__", "*.py", "*.md"))
    return target


def check(directory: Path) -> tuple[int, str]:
    out = io.StringIO()
    return run_check(directory, None, out), out.getvalue()



def test_shipped_quizzes_pass() -> None:
    code, output = check(CONTENT_DIR)
    assert code == 0, output
    assert "5 quizzes (45 questions" in output


def test_a_missing_language_names_the_question(content: Path) -> None:
    path = content / "quizzes" / QUIZ
    edit(path, "      en: How do you start a report with this bot?\n", "")
    code, output = check(content)
    assert code == 1
    assert_problem(output, path, line_of(path, "  - id: where-to-report") + 2, "no English", "'question'")


def test_no_right_option_and_two_right_options(content: Path) -> None:
    path = content / "quizzes" / QUIZ
    edit(path, "        en: Choose Report in the menu, or send report\n        correct: yes\n",
         "        en: Choose Report in the menu, or send report\n")
    start = line_of(path, "  - id: where-to-report")
    code, output = check(content)
    assert code == 1
    assert_problem(output, path, line_of(path, "    options:", start), "no option is marked right", "correct: yes")

    edit(path, "        en: Wait and tell HR the next day\n",
         "        en: Wait and tell HR the next day\n        correct: yes\n")
    _code, output = check(content)
    assert_problem(output, path, line_of(path, "    options:", line_of(path, "  - id: in-danger")), "2 options")


def test_unknown_teaches_id_with_a_suggestion(content: Path) -> None:
    path = content / "quizzes" / "retaliation-and-rights.yaml"
    edit(path, "teaches: retaliation-protection", "teaches: retaliation-protect")
    code, output = check(content)
    assert code == 1
    assert_problem(output, path, line_of(path, "teaches: retaliation-protect"), "did you mean 'retaliation-protection'")


def test_a_removed_faq_entry_breaks_the_quiz_that_teaches_it(content: Path) -> None:
    (content / "entries" / "emergency.yaml").unlink()
    (content / "sites").mkdir(exist_ok=True)
    code, output = check(content)
    assert code == 1
    path = content / "quizzes" / QUIZ
    assert_problem(output, path, line_of(path, "    teaches: emergency"), "'emergency'", "not a FAQ entry id")


def test_a_question_too_long_for_one_wechat_message(content: Path) -> None:
    path = content / "quizzes" / QUIZ
    long_text = "你" * 700  # 2,100 bytes
    edit(path, "      zh: 想在这个机器人里举报，要怎么开始？", f"      zh: {long_text}")
    code, output = check(content)
    assert code == 1
    assert_problem(output, path, line_of(path, "  - id: where-to-report"), "bytes in zh", "2048")


def test_a_long_explanation_that_would_split_the_turn(content: Path) -> None:
    path = content / "quizzes" / QUIZ
    edit(path, "      zh: 算。性骚扰就是", "      zh: " + "很长的解释。" * 100 + "算。性骚扰就是")
    code, output = check(content)
    assert code == 1
    assert_problem(output, path, line_of(path, "  - id: not-only-touching"), "shorten the explanation")


@pytest.mark.parametrize(
    ("old", "new", "needle", "words"),
    [
        ("    explanation:\n      zh: 错。你不用", "    explaination:\n      zh: 错。你不用", "explaination",
         ("unknown key 'explaination'", "did you mean 'explanation'")),
        ("        en: Post it in your workmates' group chat to keep it\n",
         "        en: Post it in your workmates' group chat to keep it\n      - zh: 四\n        en: four\n"
         "      - zh: 五\n        en: five\n", "    options:", ("2 to 4 options", "it has 5")),
        ("        en: Call the police on 110 at once\n        correct: yes",
         "        en: Call the police on 110 at once\n        correct:yes", "correct:yes",
         ("no space after the colon",)),
        ("        en: Nothing, HR can find it again if it is lost",
         "        en: " + "Nothing, HR can find it again if it is lost and " * 2, "Nothing, HR can find",
         ("a button shows at most 48",)),
        ("    answer: false", "    answer: perhaps", "answer: perhaps", ("'yes' or 'no'",)),
        ("  - id: in-danger", "  - id: keep-the-receipt", "  - id: keep-the-receipt\n",
         ("question id 'keep-the-receipt' is also used",)),
    ],
    ids=["unknown-key", "five-options", "no-space", "long-option", "bad-true-false", "duplicate-id"],
)
def test_each_mistake_is_named_on_its_line(
    content: Path, old: str, new: str, needle: str, words: tuple[str, ...]
) -> None:
    path = content / "quizzes" / QUIZ
    edit(path, old, new)
    code, output = check(content)
    assert code == 1, output
    lines = [number for number, line in enumerate(path.read_text().splitlines(), 1) if needle.rstrip("\n") in line]
    assert any(f"{path}:{line}: " in output and all(w in output for w in words) for line in lines), output


def test_a_site_override_replaces_the_quiz_for_that_site_only(content: Path) -> None:
    site_dir = content / "sites" / "north" / "quizzes"
    site_dir.mkdir(parents=True)
    override = site_dir / QUIZ
    override.write_text(
        (content / "quizzes" / QUIZ).read_text(encoding="utf-8").replace("新员工入门小测验", "北厂新员工小测验"),
        encoding="utf-8",
    )
    library = QuizLibrary(content)
    north = library.snapshot.quiz("onboarding", "north")
    main = library.snapshot.quiz("onboarding", "main")
    assert north is not None and north.title("zh") == "北厂新员工小测验"
    assert main is not None and main.title("zh") == "新员工入门小测验"
    assert library.snapshot.for_site("north")[0] is north

    (site_dir / "no-such-quiz.yaml").write_text(override.read_text(encoding="utf-8").replace(
        "id: onboarding", "id: no-such-quiz"), encoding="utf-8")
    code, output = check(content)
    assert code == 1 and "overrides quiz 'no-such-quiz'" in output


async def test_the_watcher_swaps_a_valid_edit_and_reports_a_broken_one(content: Path) -> None:
    library = QuizLibrary(content)
    reported: list[Sequence[Problem]] = []
    reloaded, refused = asyncio.Event(), asyncio.Event()

    async def on_problems(problems: Sequence[Problem]) -> None:
        reported.append(problems)
        refused.set()

    task = asyncio.create_task(watch_faq(library, on_problems, interval=0.05, on_reloaded=reloaded.set))
    try:
        path = content / "quizzes" / QUIZ
        edit(path, "Starter quiz for new staff", "Starter quiz (edited)")
        await asyncio.wait_for(reloaded.wait(), timeout=10)
        assert library.snapshot.quiz("onboarding", None).title("en") == "Starter quiz (edited)"  # type: ignore[union-attr]

        edit(path, "    answer: false", "    answer: perhaps")
        await asyncio.wait_for(refused.wait(), timeout=10)
        assert f"{path}:" in str(reported[0][0])
        assert library.snapshot.quiz("onboarding", None).title("en") == "Starter quiz (edited)"  # type: ignore[union-attr]
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_reload_tells_the_admin_chats_about_a_refused_quiz_edit(runtime: Core, content: Path) -> None:
    quizzes = QuizLibrary(content)
    service = LibraryFaqService(FaqLibrary(content))
    admin = FaqAdmin(
        service, runtime.database, runtime.services.outbox, ["telegram:-100777"], runtime.services.clock,
        quizzes=quizzes,
    )
    channel = ConsoleChannel(runtime.dispatcher, runtime.crypto, runtime.services.clock, user="admin", admin=admin)
    path = content / "quizzes" / QUIZ
    edit(path, "    answer: false", "    answer: perhaps")
    outcome = await channel.send("/reload")
    text = outcome.replies[0].text
    assert "FAQ reloaded" in text and "Quiz edit refused (1 problem(s))" in text and f"{path}:" in text
    assert quizzes.snapshot.quiz("onboarding", None) is not None, "the last good quizzes keep serving"
    async with runtime.database.transaction(write=False) as session:
        notices = [item.message for item in await runtime.services.outbox.pending(session, AdminNotice)]
    assert len(notices) == 1 and isinstance(notices[0], AdminNotice)
    assert notices[0].chat == "telegram:-100777" and "Quiz edit refused" in notices[0].text


@pytest.mark.parametrize(("written", "problem"), [("⑧", False), ("８", False), ("eight", True), ("²x", True)])
def test_a_number_typed_with_an_input_method_is_read_or_named_never_a_crash(
    content: Path, written: str, problem: bool
) -> None:
    """A circled or full-width digit is what a Chinese input method offers: read as the digit; anything
    else that is no whole number is a problem naming the line, never a traceback."""
    path = content / "quizzes" / "reporting.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(re.sub(r"^order: .*$", f"order: {written}", text, count=1, flags=re.M), encoding="utf-8")
    code, out = check(content)
    assert (code == 1 and "'order' must be a whole number" in out) if problem else code == 0, out
