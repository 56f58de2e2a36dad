"""Builds the Telegram channel from the config: the PTB Application (no Updater), the adapter and
the command menu shown in Telegram's UI."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from telegram import BotCommand, BotCommandScopeDefault
from telegram.ext import Application, ApplicationBuilder
from telegram.request import HTTPXRequest

from bot.channels.images import sanitise_image
from bot.channels.telegram.adapter import TelegramAdapter
from bot.channels.telegram.channel import EvidenceStore, TelegramChannel
from bot.config import TelegramSection
from bot.core import Core
from handlers.i18n import N_
from storage.conversations import trace_store
from storage.evidence import hour_number
from storage.journal import UpdateJournal

COMMANDS = (
    ("start", N_("Start and show the menu")),
    ("report", N_("Report harassment anonymously")),
    ("status", N_("Check a report with your receipt")),
    ("faq", N_("Questions about the policy")),
    ("remind", N_("Training reminders on or off")),
    ("language", N_("语言 / Language")),
    ("help", N_("Help")),
    ("cancel", N_("Cancel what you are doing")),
    ("hide", N_("Delete this conversation's messages")),
)


def build_application(section: TelegramSection) -> Application:  # type: ignore[type-arg]
    if section.token is None:
        raise ValueError("[telegram] token is required")
    proxy = section.proxy.get_secret_value() if section.proxy else None
    builder = ApplicationBuilder().token(section.token.get_secret_value()).updater(None)
    builder = builder.request(HTTPXRequest(proxy=proxy, connection_pool_size=64))
    builder = builder.get_updates_request(HTTPXRequest(proxy=proxy, read_timeout=60))
    if section.api_base_url:
        builder = builder.base_url(section.api_base_url)
    if section.api_file_url:
        builder = builder.base_file_url(section.api_file_url)
    application: Application = builder.build()  # type: ignore[type-arg]
    return application


def evidence_store(runtime: Core) -> EvidenceStore:
    """Sanitises a downloaded picture off the event loop and seals it as a draft file."""
    services = runtime.services
    repository = services.evidence

    async def store(data: bytes) -> str:
        image = await asyncio.to_thread(sanitise_image, data)
        expires = hour_number(services.clock() + services.settings.draft_ttl) + 1
        async with runtime.database.transaction() as session:
            return await repository.store_draft_file(session, image.data, image.mime, expires)

    return store


def build_telegram_channel(
    runtime: Core, section: TelegramSection, *, admin_reload: Callable[[], Awaitable[str]] | None = None
) -> TelegramChannel:
    services = runtime.services
    adapter = TelegramAdapter(runtime.crypto, list(services.settings.sites))

    def hide_notice(language_hint: str | None) -> str:
        t = services.translators["en" if (language_hint or "").startswith("en") else "zh"]
        return t("Done: the messages of this conversation that could be deleted are gone.")

    return TelegramChannel(
        build_application(section),
        runtime.dispatcher,
        runtime.database,
        UpdateJournal(runtime.crypto),
        adapter,
        trace_store(runtime.crypto),
        store_evidence=evidence_store(runtime),
        hide_notice=hide_notice,
        admin_reload=admin_reload,
        admin_user_ids=section.admin_user_ids,
    )


async def publish_commands(channel: TelegramChannel, runtime: Core) -> None:
    """The command menu in both languages (Telegram picks by the user's app language)."""
    for language in ("zh", "en"):
        translate = runtime.services.translators[language]
        commands = [BotCommand(name, translate(description)) for name, description in COMMANDS]
        await channel.bot.set_my_commands(
            commands, scope=BotCommandScopeDefault(), language_code=None if language == "zh" else "en"
        )
