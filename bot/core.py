"""The composition root: builds keys, database, services and the dispatcher from the config."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from bot.config import Config
from bot.preflight import faq_directory, local, site_facts
from handlers.app import build_router
from handlers.context import NO_FAQ, FaqService, Services
from handlers.dispatcher import Dispatcher
from handlers.i18n import load_translators
from handlers.settings import ReminderRules, SiteInfo
from handlers.settings import Settings as HandlerSettings
from storage.cases import CaseRepository
from storage.conversations import conversation_store, link_store, notice_store, throttle_store
from storage.crypto import Crypto, KeyRing
from storage.database import Database
from storage.evidence import EvidenceRepository
from storage.keys import ensure_development_keys, load_keyring_from_env_or_file
from storage.migrate import upgrade_to_head
from storage.outbox import Outbox
from storage.receipts import ReceiptHasher
from storage.reminders import ReminderStores

if TYPE_CHECKING:
    from handlers.faq.service import LibraryFaqService

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def handler_settings(config: Config) -> HandlerSettings:
    """The channel-free view of the config that handlers see."""
    sites = {
        site_id: SiteInfo(
            id=site_id,
            name=local(site.name),
            contacts={k: local(v) for k, v in site.contacts.items()},
            facts={"site_name": local(site.name), **{k: local(v) for k, v in site.facts.items()}},
            emergency_phone=site.emergency_phone,
            has_board=bool(site.board_chats),
            reminders=ReminderRules(site.reminders.quiet_hours, site.reminders.onboarding.quiz),
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
    )


def load_faq(config: Config, directory: Path | None = None) -> LibraryFaqService:
    """Loads and indexes the FAQ once at start-up; bad content stops the start with file:line problems."""
    from handlers.faq.library import FaqLibrary, initialise_segmenter
    from handlers.faq.service import LibraryFaqService

    initialise_segmenter()
    return LibraryFaqService(FaqLibrary(directory or faq_directory(config), site_facts(config)))


def load_keys(config: Config, env: dict[str, str] | None = None) -> KeyRing:
    """Configured keys, else development keys under the data dir with a loud warning."""
    env = dict(os.environ) if env is None else env
    keyring = load_keyring_from_env_or_file(config.storage.keys_file, env)
    if keyring is not None:
        return keyring
    keyring, path, created = ensure_development_keys(config.bot.data_dir / "keys")
    log.warning(
        "USING DEVELOPMENT KEYS from %s%s. NOT FOR PRODUCTION: create real keys with `hapbot keys init "
        "--file PATH`, keep them outside the database host's backups, and set [storage] keys_file.",
        path,
        " (just created)" if created else "",
    )
    return keyring


@dataclass
class Core:
    config: Config
    database: Database
    crypto: Crypto
    services: Services
    dispatcher: Dispatcher

    async def close(self) -> None:
        await self.database.dispose()


async def build_core(
    config: Config,
    *,
    keyring: KeyRing | None = None,
    clock: Clock = utc_now,
    faq: FaqService = NO_FAQ,
    hasher: ReceiptHasher | None = None,
) -> Core:
    crypto = Crypto(keyring or load_keys(config))
    database = Database(config.storage_url)
    await upgrade_to_head(database)
    services = Services(
        settings=handler_settings(config),
        crypto=crypto,
        hasher=hasher or ReceiptHasher(),
        cases=CaseRepository(crypto),
        conversations=conversation_store(crypto),
        throttles=throttle_store(crypto),
        outbox=Outbox(crypto),
        translators=load_translators(),
        clock=clock,
        faq=faq,
        evidence=EvidenceRepository(crypto),
        notices=notice_store(crypto),
        links=link_store(crypto),
        reminders=ReminderStores.from_crypto(crypto),
    )
    return Core(config, database, crypto, services, Dispatcher(database, services, build_router()))

