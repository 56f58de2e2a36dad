"""Shared fixtures: every storage, conversation and report test runs on SQLite and PostgreSQL.

PostgreSQL is the server at ``HAPBOT_TEST_PG`` (default ``postgresql+asyncpg://postgres@127.0.0.1:5432/test``).
Outside CI an unreachable server skips those tests; in CI (``CI=true``) it fails them, so a missing
server can never pass silently.

Migrating is done once per session, not once per test: on SQLite each test gets a copy of a file
migrated once; on PostgreSQL each test gets the session's database, migrated once and emptied before
the test (other connections ended, each table that held rows truncated), which takes a few
hundredths of a second where ``CREATE DATABASE``, Alembic and ``DROP DATABASE`` (a checkpoint of the
whole server) took most of a second. ``build_core`` then finds the schema at head and leaves Alembic
alone. The tests of the migrations themselves take ``empty_database_url``: a new database without
any schema, dropped afterwards.

Other work that would repeat unchanged in every test is done once per session as well: the FAQ
index, the compiled catalogs, the TLS context of HTTP clients; and the conversation tests hash
receipts with ``QuickReceiptHasher`` (tests/test_receipts.py tests the real parameters).

The FAQ search's start-up cache (``<data_dir>/cache``: segmenter table, word vectors, the shipped
FAQ's index) is built once per run, by one process for every xdist worker (``warm_faq_cache``).
The session's FAQ reads it back, and a test that starts ``hapbot`` in a fresh data directory can
``seed_faq_cache`` it first, as a bot finds it at its second start: building it costs a process
about 7 s of CPU, reading it back milliseconds. tests/test_faq_cache.py tests building it.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import secrets
import shutil
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import argon2
import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

import bot.core
from bot.channels.console import ConsoleChannel
from bot.config import Config, load_config
from bot.core import Core, build_core
from faq import CONTENT_DIR
from handlers.danger_model import LearnedDanger
from handlers.danger_reading import read_examples
from handlers.events import Outcome
from handlers.faq import FaqLibrary, initialise_segmenter
from handlers.faq.diskcache import private_folder
from handlers.faq.embedding import StaticWordVectors, shared_word_vectors
from handlers.faq.service import LibraryFaqService
from handlers.i18n import load_translators
from handlers.quiz.library import QuizLibrary
from storage.conversations import conversation_store
from storage.crypto import Crypto, KeyRing
from storage.database import Database
from storage.drafts import DraftParts
from storage.migrate import script_heads, upgrade_to_head
from storage.models import Base
from storage.receipts import MemoryBudget, ReceiptHasher

T = TypeVar("T")

REPO = Path(__file__).resolve().parents[1]
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


def run_in_thread(coroutine: Coroutine[object, object, T]) -> T:
    """Run a coroutine to the end on a loop of its own, leaving the test's event loop alone."""
    with ThreadPoolExecutor(max_workers=1) as executor:
        return executor.submit(asyncio.run, coroutine).result()


async def _migrate(url: str) -> None:
    database = Database(url)
    try:
        await upgrade_to_head(database)
    finally:
        await database.dispose()


async def _migrated_pg_database() -> str:
    url = await create_pg_database()
    await _migrate(url)
    return url


async def empty_pg_database(url: str) -> None:
    """Ends every other connection to the database and truncates every table that ever held a row.

    A truncated table is a new, empty file, as in a new database: nothing of the last test's rows
    survives, not even where in the heap the next rows land (which sets the order of equal keys).
    The schema stays at head; a table the models do not know fails loudly.
    """
    connection = await asyncpg.connect(_asyncpg_dsn(url), timeout=5)
    try:
        await connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        rows = await connection.fetch(
            "SELECT relname, pg_relation_size(oid) > 0 FROM pg_class "
            "WHERE relnamespace = 'public'::regnamespace AND relkind = 'r'"
        )
        expected = {*Base.metadata.tables, "alembic_version"}
        present = {row[0] for row in rows}
        assert present == expected, f"the shared test database's tables differ: {sorted(present ^ expected)}"
        versions = [row[0] for row in await connection.fetch("SELECT version_num FROM alembic_version")]
        assert versions == list(script_heads()), f"the shared test database is at {versions}, not at head"
        used = sorted(name for name, written in rows if written and name != "alembic_version")
        if used:
            await connection.execute("TRUNCATE " + ", ".join(f'"{name}"' for name in used) + " CASCADE")
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def pg_session_database() -> Iterator[str]:
    """A PostgreSQL database migrated once per session, emptied for each test that uses it."""
    url = run_in_thread(_migrated_pg_database())
    try:
        yield url
    finally:
        run_in_thread(drop_pg_database(url))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once per session and checkpointed, so one file holds it all."""
    path = tmp_path_factory.mktemp("template") / "hapbot.sqlite3"
    run_in_thread(_migrate(f"sqlite+aiosqlite:///{path}"))
    leftovers = [p.name for p in path.parent.iterdir() if p != path]
    assert not leftovers, f"the template database left {leftovers} behind; a file copy would miss them"
    return path


def _copy_private(source: Path, target: Path) -> None:
    """Copy a file into a new one that only its owner may read, like the bot's own database files."""
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with source.open("rb") as reader, os.fdopen(descriptor, "wb") as writer:
        shutil.copyfileobj(reader, writer)


DATABASES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=DATABASES)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database with the schema at head, on SQLite and on PostgreSQL, that no other test sees."""
    if request.param == "sqlite":
        path = tmp_path / "hapbot.sqlite3"
        _copy_private(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite+aiosqlite:///{path}"
    url: str = request.getfixturevalue("pg_session_database")
    await empty_pg_database(url)
    return url


@pytest.fixture(params=DATABASES)
async def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A new database without any schema, for the tests of the migrations themselves."""
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


@pytest.fixture(scope="session", autouse=True)
def _catalogs_compiled_once() -> Iterator[None]:
    """Compiles the translation catalogs once per session instead of once per ``build_core``.

    Compiling the Chinese catalog takes ~50 ms, more than all the rest of ``build_core``, and tests build
    hundreds of cores from one unchanging catalog; tests/test_i18n.py still compiles its own.
    """
    translators = load_translators()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(bot.core, "load_translators", lambda: translators)
        yield


@pytest.fixture(scope="session", autouse=True)
def _one_tls_context() -> Iterator[None]:
    """Lets the session's HTTP clients share one default TLS context instead of building one each.

    Each httpx client (python-telegram-bot makes two per bot) loads the whole CA bundle again, 30 to
    80 ms; tests build some two hundred clients, all speaking plain HTTP to fakes on loopback.
    """
    transports = httpx._transports.default
    create = transports.create_ssl_context
    shared = create()

    def create_or_share(
        verify: ssl.SSLContext | str | bool = True, cert: object = None, trust_env: bool = True
    ) -> ssl.SSLContext:
        if verify is True and cert is None and trust_env:
            return shared
        return create(verify=verify, cert=cert, trust_env=trust_env)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(transports, "create_ssl_context", create_or_share)
        yield


_BUILD_FAQ_CACHE = (
    "import sys; from pathlib import Path; from faq import CONTENT_DIR; "
    "from handlers.faq.library import FaqLibrary; FaqLibrary(CONTENT_DIR, cache_dir=Path(sys.argv[1]))"
)


@pytest.fixture(scope="session")
def warm_faq_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A FAQ cache folder as a bot's first start leaves it, built once per run for all xdist workers.

    It is built in a process of its own, as ``hapbot`` builds it: in this one the segmenter and the
    word vectors may already be loaded (without a cache) by a test. The first worker builds it under
    a lock; the others wait for it instead of building it again.
    """
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the run's folder, which every worker's own folder is in
    folder = root / "faq-cache"
    done = root / "faq-cache.done"
    with (root / "faq-cache.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)
            subprocess.run([sys.executable, "-c", _BUILD_FAQ_CACHE, str(folder)], check=True, cwd=REPO, timeout=300)
            done.touch()
    return folder


def seed_faq_cache(warm: Path, data_dir: Path) -> None:
    """Gives ``data_dir`` the FAQ cache a first start would have left there (hard links, as the bot
    replaces a cache file by renaming a new one over it and never writes one in place)."""
    cache = private_folder(data_dir / "cache")
    for file in warm.iterdir():
        try:
            os.link(file, cache / file.name)
        except OSError:
            shutil.copy2(file, cache / file.name)


@pytest.fixture(scope="session")
def vectors(warm_faq_cache: Path) -> StaticWordVectors:
    """The FAQ search's word vectors, read from the run's FAQ cache."""
    return shared_word_vectors(warm_faq_cache)


@pytest.fixture(scope="session")
def learned(vectors: StaticWordVectors) -> LearnedDanger:
    """The learned danger reading trained on every example, as a start trains it."""
    return LearnedDanger.train(read_examples(), vectors)


@pytest.fixture(scope="session")
def faq_service(warm_faq_cache: Path) -> LibraryFaqService:
    """The shipped FAQ, loaded once per test session, from the run's FAQ cache."""
    initialise_segmenter(warm_faq_cache)
    return LibraryFaqService(FaqLibrary(CONTENT_DIR, cache_dir=warm_faq_cache))


@pytest.fixture(scope="session")
def quiz_library() -> QuizLibrary:
    """The shipped quizzes, loaded once per test session."""
    return QuizLibrary(CONTENT_DIR)


class QuickReceiptHasher(ReceiptHasher):
    """Argon2id at its lowest cost, for tests that file and look up reports rather than test hashing.

    ``ReceiptHasher`` refuses parameters this weak, rightly, so this test-only kind sets them itself;
    production's parameters are tested in tests/test_receipts.py. A default hash costs ~0.15 s of CPU.
    """

    def __init__(self) -> None:
        self._hasher = argon2.PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
        self.budget = MemoryBudget(64 * 1024)


@pytest.fixture(scope="session")
def receipt_hasher() -> ReceiptHasher:
    return QuickReceiptHasher()


@pytest.fixture
async def runtime(
    config: Config,
    keyring: KeyRing,
    clock: Clock,
    faq_service: LibraryFaqService,
    quiz_library: QuizLibrary,
    receipt_hasher: ReceiptHasher,
) -> AsyncIterator[Core]:
    built = await build_core(
        config, keyring=keyring, clock=clock, faq=faq_service, quizzes=quiz_library, hasher=receipt_hasher
    )
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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Runs the tests marked ``slow`` first, in their order, then the rest in theirs.

    xdist hands out tests in this order as workers ask for more, so the long ones start at once,
    spread over the workers, and the many short ones fill in around them; left for the end, one
    long test keeps the whole run waiting while the other workers idle.
    """
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """Sets how many worker processes ``-n auto`` (in pyproject's addopts) starts.

    Two for the whole suite or a selection of it by marker or keyword; none when files or tests are
    named, where starting workers costs more than it saves (and where ``--pdb`` is wanted).
    """
    if any(".py" in arg or "::" in arg for arg in config.args):
        return 0
    return min(2, os.cpu_count() or 1)


async def conversation_with_account(crypto: Crypto, session: AsyncSession, user_key: str) -> dict[str, Any] | None:
    """A worker's stored conversation document, with the draft's account (kept in sealed parts,
    storage.drafts) joined in order into ``draft["what"]``, as tests read it."""
    document = await conversation_store(crypto).load(session, user_key)
    draft = (document or {}).get("draft")
    if isinstance(draft, dict):
        inline = list(draft.get("what") or [])
        count = int(draft.get("parts") or 0)
        parts = await DraftParts(crypto).read(session, user_key, str(draft.get("id")), count) if count else []
        draft["what"] = inline + parts
    return document
