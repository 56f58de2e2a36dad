"""The start-up check that ``hapbot check-config`` and ``hapbot run`` share.

Whatever would stop ``run`` must already stop ``check-config``, with the same one-line message
and no traceback: the person deploying the bot is HR or IT staff at a factory, who should learn
from one line which key to add, not from a stack of Python frames.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bot.config import Config, ConfigError, LocalText

if TYPE_CHECKING:
    from storage.database import Database

log = logging.getLogger(__name__)

FactsBySite = dict[str, dict[str, dict[str, str]]]
MAX_PROBLEMS_NAMED = 3
CONNECT_SECONDS = 10.0


def local(text: LocalText) -> dict[str, str]:
    """A text given once for both languages, or per language."""
    return {"zh": text, "en": text} if isinstance(text, str) else {str(k): v for k, v in text.items()}


def site_facts(config: Config) -> FactsBySite:
    """Every site's facts as the FAQ fills them in, the site's name and operator included."""
    return {
        site_id: {
            "site_name": local(site.name),
            "operator": local(site.operator if site.operator is not None else config.bot.operator),
            **{name: local(value) for name, value in site.facts.items()},
        }
        for site_id, site in config.sites.items()
    }


def faq_directory(config: Config) -> Path:
    from faq import CONTENT_DIR

    return config.bot.faq_dir or CONTENT_DIR


def check_before_start(config: Config, env: Mapping[str, str] | None = None) -> None:
    """Everything ``check-config`` checks and ``run`` checks before it starts anything: the files and
    folders, the keys, the web address and the FAQ (:func:`check_startup`), then the database."""
    check_startup(config, env)
    asyncio.run(check_services(config))


def check_startup(config: Config, env: Mapping[str, str] | None = None) -> None:
    """Raises :class:`ConfigError` with one line per problem that would stop ``hapbot run``
    (all but the database connection, which :func:`check_storage` tries). Creates nothing."""
    env = os.environ if env is None else env
    lines = [*_storage_path_problems(config), *_key_problems(config, env), *_audit_key_problems(config, env)]
    lines += _web_problems(config)
    lines += _faq_problems(config)
    kept: list[str] = []
    for line in lines:
        key = line.partition(": ")[0]
        if key in {"bot.data_dir", "storage.url"} and any(k.startswith(f"{key}: ") for k in kept):
            continue  # one line per folder key: the first says what to fix
        kept.append(line)
    if kept:
        raise ConfigError("\n".join(kept))


async def check_services(config: Config) -> None:
    """What ``run`` connects to before it starts: the database, and Telegram's Bot API (the token)."""
    await check_storage(config)
    if config.telegram.enabled:
        from bot.channels.telegram.setup import check_bot_api

        await check_bot_api(config.telegram)


async def check_storage(config: Config) -> None:
    """Connects to a PostgreSQL store once (SQLite needs only the path checks of :func:`check_startup`),
    and checks the audit key against the audit chain of a store that has one."""
    url = config.storage_url
    if not url.startswith("postgresql"):
        if not config.storage.url.get_secret_value() and not (config.bot.data_dir / "hapbot.sqlite3").is_file():
            return  # no store yet (and SQLAlchemy stays unloaded)
        from storage.database import sqlite_path

        existing = sqlite_path(url)
        if existing is None or not existing.is_file():
            return
    from storage.database import Database

    database = Database(url)
    try:
        await ping_storage(database)
        problem = await _audit_chain_problem(database, audit_key_path(config))
    finally:
        await database.dispose()
    if problem is not None:
        raise ConfigError(problem)


async def _audit_chain_problem(database: Database, path: Path) -> str | None:
    from sqlalchemy.exc import DBAPIError

    from storage.audit import key_problem

    try:
        return await key_problem(database, path)
    except DBAPIError:
        return None  # a store not migrated yet has no chain: the start migrates, then makes the key


async def ping_storage(database: Database) -> None:
    """Raises one ConfigError line if ``database`` cannot be reached or opened (``run`` and
    ``check-config`` both say it this way)."""
    try:
        async with asyncio.timeout(CONNECT_SECONDS):
            await database.ping()
    except Exception as error:
        raise ConfigError(storage_failure(error)) from None


def storage_failure(error: BaseException) -> str:
    """The line for a database that cannot be reached; names the error type, never the URL."""
    original = error
    while original.__cause__ is not None:  # SQLAlchemy wraps the driver's error, which says more
        original = original.__cause__
    reason = type(original).__name__
    if isinstance(original, TimeoutError):
        reason = f"no answer within {CONNECT_SECONDS:g} s"
    elif isinstance(original, OSError) and original.strerror:
        reason = f"{reason}: {original.strerror}"
    elif type(original).__module__.startswith("asyncpg"):  # the server's own words, e.g. no such database
        reason = f"{reason}: {str(original).splitlines()[0][:200]}" if str(original) else reason
    return (
        f"storage.url: cannot open the database ({reason}); check that the server is running and the URL's "
        "host, port, user, password and database name (HAPBOT_STORAGE_URL)"
    )


def _folder_problem(key: str, folder: Path) -> str | None:
    """Why ``folder`` cannot be used or created by this process, or None."""
    if folder.exists():
        if not folder.is_dir():
            return f"{key}: {folder} is a file, not a folder; point it at a folder (or move the file)"
        if not os.access(folder, os.W_OK | os.X_OK):
            return f"{key}: {folder} is not writable by this user; fix its owner or mode"
        return None
    ancestor = folder.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        return f"{key}: {folder} cannot be created because {ancestor} is a file"
    if not os.access(ancestor, os.W_OK | os.X_OK):
        return f"{key}: {folder} cannot be created in {ancestor} (no permission); create it or fix the owner"
    return None


def _storage_path_problems(config: Config) -> list[str]:
    """A SQLite file must be a file in a usable folder (PostgreSQL is tried by :func:`check_storage`)."""
    url = config.storage.url.get_secret_value()
    if not url:
        key, database = "bot.data_dir", config.bot.data_dir / "hapbot.sqlite3"
    elif url.startswith("sqlite"):
        from sqlalchemy.engine import make_url

        name = make_url(url).database
        if not name or name == ":memory:":
            return []
        key, database = "storage.url", Path(name)
    else:
        return []
    if database.is_dir():
        return [f"{key}: the database file {database} is a folder; name a file (or remove the folder)"]
    problem = _folder_problem(key, database.parent)
    return [problem] if problem else []


def _key_problems(config: Config, env: Mapping[str, str]) -> list[str]:
    """Configured keys must load; development keys must load or be creatable under the data folder."""
    from storage.keys import DEVELOPMENT_KEY_FILE, KeyFileError, load_key_file, load_keyring_from_env_or_file

    try:
        if load_keyring_from_env_or_file(config.storage.keys_file, env) is not None:
            return []
        development = config.bot.data_dir / "keys" / DEVELOPMENT_KEY_FILE
        if development.exists():
            load_key_file(development)
            return []
    except KeyFileError as error:
        return [str(error)]
    problem = _folder_problem("bot.data_dir", development.parent)
    return [problem] if problem else []


def audit_key_path(config: Config, env: Mapping[str, str] | None = None) -> Path:
    """The audit key file: ``[storage] audit_key_file``, else ``audit.key`` beside the key file (under
    the data folder's keys/ when the keys come from ``HAPBOT_KEYS``)."""
    from storage.audit_key import AUDIT_KEY_FILE
    from storage.keys import DEVELOPMENT_KEY_FILE, ENV_KEYS, ENV_KEYS_FILE

    env = os.environ if env is None else env
    if config.storage.audit_key_file is not None:
        return config.storage.audit_key_file
    if ENV_KEYS_FILE in env and ENV_KEYS not in env:
        return Path(env[ENV_KEYS_FILE]).parent / AUDIT_KEY_FILE
    if config.storage.keys_file is not None and ENV_KEYS not in env:
        return config.storage.keys_file.parent / AUDIT_KEY_FILE
    return (config.bot.data_dir / "keys" / DEVELOPMENT_KEY_FILE).parent / AUDIT_KEY_FILE


def _audit_key_problems(config: Config, env: Mapping[str, str]) -> list[str]:
    """The audit key file must load, or (first start) be creatable; whether it is this database's
    is checked at the start itself (:func:`storage.audit.open_chain`)."""
    from storage.audit_key import AuditKeyError, load_audit_key

    path = audit_key_path(config, env)
    if path.exists():
        try:
            load_audit_key(path)
        except AuditKeyError as error:
            return [str(error)]
        return []
    key = "storage.audit_key_file" if config.storage.audit_key_file is not None else "bot.data_dir"
    if config.storage.audit_key_file is None and path.parent != config.bot.data_dir / "keys":
        key = "storage.keys_file"
    problem = _folder_problem(key, path.parent)
    return [problem] if problem else []


def _web_problems(config: Config) -> list[str]:
    """The web app runs when a channel is on: its host must be an address this machine has."""
    if not (config.telegram.enabled or config.wechat.enabled):
        return []
    try:
        socket.getaddrinfo(config.web.host, config.web.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (OSError, UnicodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else type(error).__name__
        return [f"web.host: {config.web.host!r} is not an address to listen on ({reason}); use 0.0.0.0 or 127.0.0.1"]
    return []


def _faq_problems(config: Config) -> list[str]:
    """Content problems that would stop the start: those of a part (FAQ, quizzes) without a clean
    copy kept at its last good load, which ``run`` serves instead (with a warning here)."""
    from handlers.faq.check import MissingFact, check_directory
    from handlers.faq.last_good import kept_copy, last_good_dir
    from handlers.quiz.check import check_quiz_directory

    directory = faq_directory(config)
    if not directory.is_dir():
        return [f"bot.faq_dir: {directory} is not a folder; point it at the FAQ content folder"]
    facts = site_facts(config)
    problems = check_directory(directory, facts).problems
    kept = kept_copy(last_good_dir(config.bot.data_dir, "faq"), directory)
    if problems and kept is not None and not check_directory(kept, facts).problems:
        log.warning(
            "faq: the FAQ content has %s; the last good content is served until they are fixed; "
            "run `hapbot faq check`",
            _named(problems),
        )
        problems = ()
    quiz_problems = check_quiz_directory(directory).problems
    kept = kept_copy(last_good_dir(config.bot.data_dir, "quizzes"), directory)
    if quiz_problems and kept is not None and not check_quiz_directory(kept).problems:
        log.warning(
            "quizzes: the quiz files have %s; the last good quizzes are served until they are fixed; "
            "run `hapbot faq check`",
            _named(quiz_problems),
        )
        quiz_problems = ()
    if not problems and not quiz_problems:
        return []
    missing: dict[str, dict[str, str]] = {}
    others = []
    for problem in problems:
        if isinstance(problem, MissingFact) and problem.site:
            missing.setdefault(problem.site, {}).setdefault(problem.fact, str(problem))
        else:
            others.append(problem)
    lines = [_missing_facts_line(site, facts) for site, facts in sorted(missing.items())]
    if others:
        lines.append(f"faq: the FAQ content has {_named(others)}; run `hapbot faq check`")
    if quiz_problems:
        lines.append(f"quizzes: the quiz files have {_named(quiz_problems)}; run `hapbot faq check`")
    return lines


def _named(problems: Sequence[object]) -> str:
    """The count, the first few problems and how many more, for one line of the start-up check."""
    named = "; ".join(str(problem) for problem in problems[:MAX_PROBLEMS_NAMED])
    more = f" and {len(problems) - MAX_PROBLEMS_NAMED} more" if len(problems) > MAX_PROBLEMS_NAMED else ""
    return f"{len(problems)} problem(s): {named}{more}"


def _missing_facts_line(site: str, facts: Mapping[str, str]) -> str:
    names = ", ".join(sorted(facts))
    return (
        f"sites.{site}.facts: missing {names}, which the FAQ answers use; add them under "
        f"[sites.{site}.facts] (see config.example.toml)"
    )
