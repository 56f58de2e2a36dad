"""Shared fixtures: every storage, conversation and report test runs on SQLite and PostgreSQL.

PostgreSQL is the server at ``HAPBOT_TEST_PG`` (default ``postgresql+asyncpg://postgres@127.0.0.1:5432/test``);
each test gets a database of its own, dropped afterwards. Outside CI an unreachable server skips
those tests; in CI (``CI=true``) it fails them, so a missing server can never pass silently.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from bot.channels.console import ConsoleChannel
from bot.config import Config, load_config
from bot.core import Core, build_core
from faq import CONTENT_DIR
from handlers.events import Outcome
from handlers.faq import FaqLibrary, initialise_segmenter
from handlers.faq.service import LibraryFaqService
from handlers.quiz.library import QuizLibrary
from storage.crypto import KeyRing

PG_URL = os.environ.get("HAPBOT_TEST_PG", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def create_pg_database() -> str:
    """A fresh, empty database on the test server; returns its SQLAlchemy URL."""
    name = f"hapbot_t_{secrets.token_hex(6)}"
    try:
        connection = await asyncpg.connect(_asyncpg_dsn(PG_URL), timeout=5)
    except (OSError, asyncpg.PostgresError) as error:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}: {type(error).__name__}")
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return make_url(PG_URL).set(database=name).render_as_string(hide_password=False)


async def drop_pg_database(url: str) -> None:
    name = make_url(url).database
    connection = await asyncpg.connect(_asyncpg_dsn(PG_URL), timeout=5)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'hapbot.sqlite3'}"
        return
    url = await create_pg_database()
    try:
        yield url
    finally:
        await drop_pg_database(url)


class Clock:
    """A clock tests move by hand."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 3, 2, 9, 30, 15, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="session")
def keyring() -> KeyRing:
    return KeyRing.generate()


def make_config(database_url: str, data_dir: Path, **sites: dict[str, object]) -> Config:
    env = {"HAPBOT_STORAGE_URL": database_url}
    config = load_config(None, env)
    raw = config.model_dump(mode="python")
    raw["storage"]["url"] = database_url
    raw["bot"]["data_dir"] = data_dir
    raw["sites"] = sites or {
        "main": {"name": {"zh": "一号厂", "en": "Factory One"}, "emergency_phone": "0755-1234567"},
        "north": {
            "name": {"zh": "北厂", "en": "North Plant"},
            "hr_chats": ["telegram:-1001"],
            "board_chats": ["telegram:-1002"],
        },
    }
    return Config.model_validate(raw)


@pytest.fixture
def config(database_url: str, tmp_path: Path) -> Config:
    return make_config(database_url, tmp_path / "data")


@pytest.fixture(scope="session")
def faq_service() -> LibraryFaqService:
    """The shipped FAQ, loaded and indexed once per test session (jieba takes ~0.5 s to start)."""
    initialise_segmenter()
    return LibraryFaqService(FaqLibrary(CONTENT_DIR))


@pytest.fixture(scope="session")
def quiz_library() -> QuizLibrary:
    """The shipped quizzes, loaded once per test session."""
    return QuizLibrary(CONTENT_DIR)


@pytest.fixture
async def runtime(
    config: Config, keyring: KeyRing, clock: Clock, faq_service: LibraryFaqService, quiz_library: QuizLibrary
) -> AsyncIterator[Core]:
    built = await build_core(config, keyring=keyring, clock=clock, faq=faq_service, quizzes=quiz_library)
    try:
        yield built
    finally:
        await built.close()


class Worker:
    """A worker on the console channel: sends messages, keeps the last replies, confirms receipts."""

    def __init__(self, runtime: Core, name: str, language: str | None = "en", site: str | None = None) -> None:
        self.channel = ConsoleChannel(
            runtime.dispatcher, runtime.crypto, runtime.services.clock, user=name, language=language, site=site
        )
        self.runtime = runtime
        self.user_key = self.channel.user_key
        self.last: Outcome = Outcome()
        self.confirm_receipts = True

    async def send(self, text: str | None = None, *, choice: str | None = None) -> Outcome:
        self.last = await self.channel.send(text, choice)
        if self.confirm_receipts and self.last.needs_delivery_confirmation:
            await self.runtime.dispatcher.confirm_delivery(self.user_key)
        return self.last

    async def choose(self, choice: str) -> Outcome:
        return await self.send(choice=choice)

    @property
    def text(self) -> str:
        return "\n".join(reply.text for reply in self.last.replies)

    @property
    def choices(self) -> list[str]:
        return [c.id for reply in self.last.replies for c in reply.choices]


@pytest.fixture
def worker(runtime: Core) -> Worker:
    return Worker(runtime, "worker-1")


@pytest.fixture(autouse=True)
def _no_ambient_hapbot_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith("HAPBOT_") and name != "HAPBOT_TEST_PG":
            monkeypatch.delenv(name)
    yield
