"""Builds the Telegram channel from the config: the PTB Application (no Updater), the adapter and
the command menu shown in Telegram's UI."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from telegram import BotCommand, BotCommandScopeDefault
from telegram.error import BadRequest, InvalidToken, NetworkError, TelegramError
from telegram.ext import Application, ApplicationBuilder
from telegram.request import HTTPXRequest

from bot.channels.images import sanitise_image
from bot.channels.telegram.adapter import TelegramAdapter
from bot.channels.telegram.channel import EvidenceStore, TelegramChannel
from bot.channels.tls import tls_context
from bot.config import ConfigError, TelegramSection
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
    ("quiz", N_("Refresher quiz")),
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
    shared = {"verify": tls_context()}
    builder = builder.request(HTTPXRequest(proxy=proxy, connection_pool_size=64, httpx_kwargs=shared))
    builder = builder.get_updates_request(HTTPXRequest(proxy=proxy, read_timeout=60, httpx_kwargs=shared))
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


def start_failure(error: TelegramError) -> str:
    """One line for why the Bot API would not let the bot start (never the token)."""
    if isinstance(error, InvalidToken):
        return (
            "telegram.token: Telegram does not accept this bot token; copy it again from @BotFather "
            "(HAPBOT_TELEGRAM_TOKEN)"
        )
    if isinstance(error, NetworkError) and not isinstance(error, BadRequest):
        return (
            f"telegram: cannot reach the Telegram Bot API ({type(error).__name__}); check the network, "
            "[telegram] proxy (needed inside mainland China) and api_base_url"
        )
    return f"telegram: the Bot API refused the start ({type(error).__name__}: {error.message})"


async def check_bot_api(section: TelegramSection) -> None:
    """Asks the Bot API who the bot is (getMe), as the start does, and changes nothing: a token
    Telegram does not know, or a Bot API the network or proxy cannot reach, is one ConfigError line."""
    bot = build_application(section).bot
    try:
        await bot.initialize()
    except TelegramError as error:
        raise ConfigError(start_failure(error)) from None
    finally:
        await bot.shutdown()


async def start_telegram(channel: TelegramChannel, runtime: Core) -> None:
    """Connects to the Bot API (getMe) and publishes the command menu; what stops that is one
    ConfigError line, as every start-up problem is."""
    try:
        await channel.application.initialize()
        await publish_commands(channel, runtime)
    except TelegramError as error:
        await channel.bot.shutdown()  # the application never started, so its shutdown would not close these
        raise ConfigError(start_failure(error)) from None


async def set_webhook(channel: TelegramChannel, section: TelegramSection) -> None:
    """Tells Telegram where to deliver updates; a URL Telegram refuses is one ConfigError line."""
    assert section.webhook_url is not None
    token = section.secret_token
    try:
        await channel.bot.set_webhook(
            section.webhook_url,
            secret_token=token.get_secret_value() if token else None,
            allowed_updates=["message", "callback_query"],
        )
    except BadRequest as error:
        raise ConfigError(
            f"telegram.webhook_url: Telegram refused the webhook ({error.message}); check webhook_url and secret_token"
        ) from None
    except TelegramError as error:
        raise ConfigError(start_failure(error)) from None
