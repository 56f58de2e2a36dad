"""The live quizzes: an immutable snapshot replaced whole when the files change, as for the FAQ.

A reload that finds any problem swaps nothing: workers keep the last good quizzes while admins fix
the file (and a start that finds problems serves the copy kept at the last clean load, when there
is one: ``handlers/faq/last_good.py``). Every question version loaded since start-up stays
findable by its fingerprint, so a worker who started a quiz before an edit finishes it with the
questions they started with.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType

from handlers.faq.last_good import keep, serve_copy
from handlers.faq.model import Problem

from .check import check_quiz_directory
from .model import Question, Quiz, QuizContent


class QuizSnapshot:
    """One consistent version of the quizzes."""

    def __init__(self, content: QuizContent, version: str) -> None:
        self.version = version
        self.quizzes: Mapping[str, Quiz] = MappingProxyType(dict(content.quizzes))
        self.overrides: Mapping[str, Mapping[str, Quiz]] = MappingProxyType(
            {site: MappingProxyType(dict(quizzes)) for site, quizzes in content.overrides.items()}
        )

    def quiz(self, quiz_id: str, site_id: str | None) -> Quiz | None:
        """The quiz as given at ``site_id``: its override if the site has one."""
        override = self.overrides.get(site_id or "", {}).get(quiz_id)
        return override or self.quizzes.get(quiz_id)

    def for_site(self, site_id: str | None) -> list[Quiz]:
        """Every quiz a worker of ``site_id`` may take, in the admins' order."""
        quizzes = [self.quiz(quiz_id, site_id) or quiz for quiz_id, quiz in self.quizzes.items()]
        return sorted(quizzes, key=lambda quiz: (quiz.order, quiz.id))


def _version(directory: Path) -> str:
    from handlers.faq.library import content_version  # the FAQ watcher's own measure of "changed"

    return content_version(directory)


def build_quiz_snapshot(directory: Path) -> tuple[QuizSnapshot | None, list[Problem]]:
    """Load and check the quizzes under ``directory``; no snapshot when anything is wrong."""
    version = _version(directory) if directory.is_dir() else "missing"
    content = check_quiz_directory(directory)
    if content.problems:
        return None, list(content.problems)
    return QuizSnapshot(content, version), []


class QuizLibrary:
    """Holds the quizzes being served, swaps them on a good reload, and remembers every question seen."""

    def __init__(self, directory: Path | None, last_good: Path | None = None) -> None:
        """Load at start-up (``None``: no quizzes). Content with problems is replaced by the copy in
        ``last_good`` (kept at the last clean load; its problems are in ``start_problems`` and the
        watcher reports them); without a clean copy, raise ``ContentError``."""
        self.directory = directory or Path()
        self.last_good = last_good
        self.start_problems: list[Problem] = []
        self._reload_lock = threading.Lock()
        self._questions: dict[str, Question] = {}
        if directory is None:
            self._snapshot = QuizSnapshot(QuizContent(), "none")
            return
        snapshot, problems = build_quiz_snapshot(directory)
        if snapshot is not None:
            self._keep(snapshot)
        elif last_good is not None:
            snapshot = serve_copy(
                build_quiz_snapshot, directory, last_good, problems, ("the quiz files have", "quizzes")
            )
            self.start_problems = problems if snapshot is not None else []
        if snapshot is None:
            from handlers.faq.library import ContentError

            raise ContentError(problems)
        self._install(snapshot)

    @property
    def snapshot(self) -> QuizSnapshot:
        """The current quizzes; take it once per message and keep using that object."""
        return self._snapshot

    def reload(self) -> list[Problem]:
        """Build new quizzes beside the old and swap them in; on problems keep the old and return them."""
        with self._reload_lock:
            snapshot, problems = build_quiz_snapshot(self.directory)
            if snapshot is not None:
                self._install(snapshot)
                self._keep(snapshot)
            return problems

    def _keep(self, snapshot: QuizSnapshot) -> None:
        if self.last_good is not None:
            keep(self.directory, self.last_good, snapshot.version)

    def question(self, fingerprint: str) -> Question | None:
        """A question by the fingerprint of its content: the current one or any loaded since start."""
        return self._questions.get(fingerprint)

    def _install(self, snapshot: QuizSnapshot) -> None:
        quizzes: Sequence[Quiz] = [
            *snapshot.quizzes.values(),
            *(quiz for site in snapshot.overrides.values() for quiz in site.values()),
        ]
        for quiz in quizzes:
            for question in quiz.questions:
                self._questions.setdefault(question.fingerprint, question)
        self._snapshot = snapshot


NO_QUIZZES = QuizLibrary(None)
"""A library without quizzes (tools and tests that do not need any)."""
