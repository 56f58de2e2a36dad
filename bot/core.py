"""The composition root: builds keys, database, services and the dispatcher from the config."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from bot.config import Config, ConfigError
from bot.preflight import audit_key_path, faq_directory, local, ping_storage, site_facts, storage_failure
from handlers.app import build_router
from handlers.context import NO_FAQ, FaqAnswer, FaqService, Services
from handlers.dispatcher import Dispatcher
from handlers.faq.last_good import last_good_dir
from handlers.hr import index_cases_for_the_desk
from handlers.i18n import load_translators
from handlers.preparation import Preparation, Reader
from handlers.quiz.library import NO_QUIZZES, QuizLibrary
from handlers.settings import ReminderRules, SiteInfo
from handlers.settings import Settings as HandlerSettings
from storage.audit import open_chain
from storage.cases import CaseRepository
from storage.conversations import conversation_store, link_store, notice_store, throttle_store
from storage.crypto import Crypto, KeyRing
from storage.database import Database
from storage.drafts import DraftParts
from storage.evidence import EvidenceRepository
from storage.key_check import verify_store_keys
from storage.keys import (
    DEVELOPMENT_KEY_FILE,
    ENV_KEYS,
    ENV_KEYS_FILE,
    KeyFileWatcher,
    ensure_development_keys,
    key_source,
    load_keyring_from_env_or_file,
)
from storage.migrate import upgrade_to_head
from storage.outbox import Outbox
from storage.quiz_tallies import QuizTallies
from storage.receipts import ReceiptHasher
from storage.reminders import ReminderStores
from storage.training import TrainingRecords

if TYPE_CHECKING:
    from handlers.faq.embedding import StaticWordVectors
    from handlers.faq.service import LibraryFaqService

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def handler_settings(config: Config) -> HandlerSettings:
    """The channel-free view of the config that handlers see."""
    facts = site_facts(config)
    sites = {
        site_id: SiteInfo(
            id=site_id,
            name=local(site.name),
            contacts={k: local(v) for k, v in site.contacts.items()},
            facts=facts[site_id],
            emergency_phone=site.emergency_phone,
            has_board=bool(site.board_chats),
            operator=local(site.operator) if site.operator is not None else None,
            reminders=ReminderRules(site.reminders.quiet_hours, site.reminders.onboarding.quiz),
            deadlines=config.deadlines_for(site_id),
        )
        for site_id, site in config.sites.items()
    }
    return HandlerSettings(
        operator=local(config.bot.operator),
        default_language=config.bot.default_language,
        default_site=config.default_site,
        sites=sites,
        draft_ttl=timedelta(hours=config.bot.draft_ttl_hours),
        conversation_ttl=timedelta(days=config.bot.conversation_ttl_days),
        retention_days=config.bot.retention_days,
        status_session_ttl=timedelta(minutes=config.bot.status_session_minutes),
        alert_max_delay=timedelta(minutes=config.hr.alert_max_delay_minutes),
        training_retention_days=config.bot.training_retention_days,
        time_zone=config.bot.time_zone,
    )


def faq_cache_dir(config: Config) -> Path:
    """Where the FAQ search keeps what it builds once (segmenter, word vectors, index): ``<data_dir>/cache``."""
    return config.bot.data_dir / "cache"


def load_faq(config: Config, directory: Path | None = None) -> LibraryFaqService:
    """Loads and indexes the FAQ once at start-up. Bad content is replaced by the copy kept at the
    last clean load (the watcher then tells the admins its file and line); without one, it stops
    the start with file:line problems.

    What the index is built from is cached under ``<data_dir>/cache``, so a start with unchanged
    content reads it back in milliseconds; see ``handlers/faq/indexcache.py``."""
    from handlers.faq.library import FaqLibrary
    from handlers.faq.service import LibraryFaqService

    last_good = last_good_dir(config.bot.data_dir, "faq")
    return LibraryFaqService(
        FaqLibrary(directory or faq_directory(config), site_facts(config), faq_cache_dir(config), last_good)
    )


def load_quizzes(config: Config, directory: Path | None = None) -> QuizLibrary:
    """Loads the quizzes beside the FAQ once at start-up; bad content is replaced by the copy kept at
    the last clean load, and stops the start with file:line problems when there is none."""
    return QuizLibrary(directory or faq_directory(config), last_good_dir(config.bot.data_dir, "quizzes"))


class LoadingFaq:
    """The FAQ while a thread loads and indexes it at start-up, so the rest of the start (database,
    channels, web server) does not wait for it; ``hapbot run`` says ready (``/readyz``) only once
    :meth:`loaded` returns. A question that arrives before (a webhook is live already) waits for
    the index outside its transaction (``Context.faq``), which can only happen in the first seconds
    after a start."""

    def __init__(self, config: Config, directory: Path | None = None) -> None:
        self._future: Future[LibraryFaqService] = Future()
        # A daemon thread: a SIGTERM during the start ends the process without waiting for the index
        # (cache files are written whole or not at all).
        threading.Thread(target=self._load, args=(config, directory), name="faq-load", daemon=True).start()

    def _load(self, config: Config, directory: Path | None) -> None:
        if not self._future.set_running_or_notify_cancel():
            return
        try:
            self._future.set_result(load_faq(config, directory))
        except BaseException as error:
            self._future.set_exception(error)

    async def loaded(self) -> LibraryFaqService:
        """The loaded FAQ; raises what loading raised (bad content stops the start)."""
        return await asyncio.wrap_future(self._future)

    def loading(self) -> Preparation[None] | None:
        """Until the index is built, the wait for it, done by the dispatcher outside any transaction
        (``Context.faq``)."""
        return None if self._future.done() else Preparation("faq.loaded", self._wait)

    async def _wait(self, _read: Reader) -> None:
        await asyncio.wrap_future(self._future)

    def answer(self, question: str, language: str, site: SiteInfo) -> FaqAnswer:
        return self._future.result().answer(question, language, site)

    def entry(self, entry_id: str, language: str, site: SiteInfo) -> FaqAnswer:
        return self._future.result().entry(entry_id, language, site)


def load_keys(config: Config, env: dict[str, str] | None = None) -> KeyRing:
    """Configured keys, else development keys under the data dir with a loud warning."""
    return load_keys_and_source(config, env)[0]


def load_keys_and_source(config: Config, env: dict[str, str] | None = None) -> tuple[KeyRing, str]:
    """The keys and where they came from. Development keys are made only when no keys are configured
    at all (no keys_file, HAPBOT_KEYS or HAPBOT_KEYS_FILE): configured keys that fail to load stop
    the start (KeyFileError) instead."""
    env = dict(os.environ) if env is None else env
    keyring = load_keyring_from_env_or_file(config.storage.keys_file, env)
    if keyring is not None:
        return keyring, key_source(config.storage.keys_file, env)
    keyring, path, created = ensure_development_keys(config.bot.data_dir / "keys")
    log.warning(
        "USING DEVELOPMENT KEYS from %s%s. NOT FOR PRODUCTION: create real keys with `hapbot keys init "
        "--file PATH`, keep them outside the database host's backups, and set [storage] keys_file.",
        path,
        " (just created)" if created else "",
    )
    return keyring, f"development key file {path}"


def key_file_path(config: Config, env: dict[str, str] | None = None) -> Path | None:
    """The key file the keys come from (watched for rotation), or None for keys in HAPBOT_KEYS."""
    env = dict(os.environ) if env is None else env
    if ENV_KEYS in env:
        return None
    if ENV_KEYS_FILE in env:
        return Path(env[ENV_KEYS_FILE])
    return config.storage.keys_file or config.bot.data_dir / "keys" / DEVELOPMENT_KEY_FILE


@dataclass
class Core:
    config: Config
    database: Database
    crypto: Crypto
    services: Services
    dispatcher: Dispatcher

    async def close(self) -> None:
        await self.database.dispose()


def start_danger_reading(core: Core, *, background: bool) -> None:
    """Trains the learned second reading of danger (``handlers.danger_model``) on the FAQ's word
    vectors: in a thread for ``hapbot run`` (only the word families read danger for its first second
    or so), at once for the console, whose first line is then read the way every later one is."""
    from handlers.faq.embedding import shared_word_vectors

    def encoder() -> StaticWordVectors:
        return shared_word_vectors(faq_cache_dir(core.config))

    if background:
        core.services.danger.learn_in_background(encoder)
    else:
        core.services.danger.learn(encoder)


async def build_core(
    config: Config,
    *,
    keyring: KeyRing | None = None,
    clock: Clock = utc_now,
    faq: FaqService = NO_FAQ,
    hasher: ReceiptHasher | None = None,
    quizzes: QuizLibrary = NO_QUIZZES,
) -> Core:
    if keyring is not None:
        crypto, source = Crypto(keyring), "the key ring given"
    else:
        loaded, source = load_keys_and_source(config)
        path = key_file_path(config)
        crypto = Crypto(loaded, refresh=KeyFileWatcher(path) if path is not None else None)
    hasher = hasher or ReceiptHasher(memory_budget_mib=config.storage.receipt_hash_memory_mib)
    try:
        database = Database(config.storage_url)
    except OSError as error:  # SQLite: the database's folder cannot be created
        raise ConfigError(storage_failure(error)) from None
    try:
        await ping_storage(database)
        await upgrade_to_head(database)
        await verify_store_keys(database, crypto, source)
        await open_chain(database, audit_key_path(config))
    except BaseException:
        await database.dispose()
        raise
    services = Services(
        settings=handler_settings(config),
        crypto=crypto,
        hasher=hasher,
        cases=CaseRepository(crypto, hasher, config.deadlines_for),
        conversations=conversation_store(crypto),
        throttles=throttle_store(crypto),
        outbox=Outbox(crypto),
        translators=load_translators(),
        clock=clock,
        faq=faq,
        evidence=EvidenceRepository(crypto),
        notices=notice_store(crypto),
        links=link_store(crypto),
        quizzes=quizzes,
        quiz_tallies=QuizTallies(),
        training=TrainingRecords(crypto),
        reminders=ReminderStores.from_crypto(crypto),
        drafts=DraftParts(crypto),
    )
    await index_cases_for_the_desk(database, services.cases)
    return Core(config, database, crypto, services, Dispatcher(database, services, build_router()))

