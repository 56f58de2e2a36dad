"""One worker message in, its replies out: the only door into the conversation core.

Each message is handled in one write transaction that first takes the worker's lock, so two
messages of the same worker never interleave, in one process or across replicas; replies are
returned only after that transaction committed, so a reply never promises what a crash could undo.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from storage.conversations import SealedDocumentStore, load_sealed_together
from storage.crypto import DecryptionError
from storage.database import Database

from .context import Context, Services
from .conversation import Conversation
from .events import Incoming, Outcome, Reply
from .i18n import N_, language_from_hint
from .intake import take_in
from .router import Router

log = logging.getLogger(__name__)

RECENT_RECEIPT_SECONDS = 60
NEW_MESSAGE_NOTICE = N_("You have a new message about your report. Send 查询 (status) and your receipt to read it.")
# Pushed to lock screens and shared phones: it must not say what it is about.
PUSH_NOTICE = N_("You have a new message. Send 查询 (status) to read it.")


Claim = Callable[[AsyncSession], Awaitable[bool]]
BatchClaim = Callable[[AsyncSession], Awaitable[Sequence[bool]]]


class _RetryIsolated(Exception):
    """A message of a batch failed: run the batch again with a savepoint per message."""


class Dispatcher:
    def __init__(self, database: Database, services: Services, router: Router) -> None:
        self._database = database
        self._services = services
        self._router = router

    async def handle(self, incoming: Incoming, *, claim: Claim | None = None) -> Outcome:
        """Routes one message; see :meth:`handle_many`."""

        async def claim_one(session: AsyncSession) -> list[bool]:
            return [await claim(session)] if claim is not None else [True]

        return (await self.handle_many([incoming], claim=claim_one))[0]

    async def handle_many(self, items: Sequence[Incoming], *, claim: BatchClaim | None = None) -> list[Outcome]:
        """Routes a batch of messages in arrival order within ONE transaction (group commit).

        Every worker in the batch is locked first (in a fixed order, so replicas cannot deadlock).
        ``claim`` runs first in the same transaction and says, per message, whether this
        transaction owns it (a channel marks its journaled updates handled there), so messages'
        effects and "handled" commit together: exactly once; unowned messages are skipped.

        The batch runs without savepoints; if any message fails, the whole transaction is rolled
        back and the batch runs again with a savepoint per message, so the failing one is rolled
        back alone and its worker gets an apology (never a traceback) while the others commit.
        """
        if not items:
            return []
        try:
            return await self._run_batch(items, claim, isolate=False)
        except _RetryIsolated:
            return await self._run_batch(items, claim, isolate=True)

    async def _run_batch(self, items: Sequence[Incoming], claim: BatchClaim | None, *, isolate: bool) -> list[Outcome]:
        outcomes: list[Outcome] = []
        async with self._database.transaction() as session:
            await self._database.lock_users(session, [incoming.user_key for incoming in items])
            owned = list(await claim(session)) if claim is not None else [True] * len(items)
            keys = sorted({incoming.user_key for incoming in items})
            conversations, notices = await self._load_many(session, keys, take_notices=True)
            touched: set[str] = set()
            now = self._services.clock()
            for incoming, mine in zip(items, owned, strict=True):
                if not mine:
                    outcomes.append(Outcome())
                    continue
                conversation = conversations[incoming.user_key]
                ctx = Context(
                    incoming=incoming,
                    conversation=conversation,
                    session=session,
                    services=self._services,
                    router=self._router,
                    now=now,
                )
                notice: tuple[Reply, ...] = ()
                if incoming.user_key in notices:
                    notices.discard(incoming.user_key)
                    notice = (Reply(ctx.t(NEW_MESSAGE_NOTICE)),)
                conversation.last_seen = now.timestamp()
                if not isolate:
                    try:
                        await self._route(ctx)
                    except Exception as error:
                        raise _RetryIsolated from error
                    touched.add(incoming.user_key)
                    outcomes.append(Outcome(replies=notice + tuple(ctx.replies)))
                    continue
                before = copy.deepcopy(conversation)
                try:
                    async with session.begin_nested():
                        await self._route(ctx)
                    outcomes.append(Outcome(replies=notice + tuple(ctx.replies)))
                except Exception as error:
                    log.error("handling failed: %s on %s message", type(error).__name__, incoming.channel.value)
                    conversations[incoming.user_key] = before
                    outcomes.append(Outcome(replies=notice + self._apology(incoming).replies))
                touched.add(incoming.user_key)
            await self._save(session, {key: conversations[key] for key in touched}, now)
        return outcomes

    async def _save(self, session: AsyncSession, conversations: Mapping[str, Conversation], now: datetime) -> None:
        """Conversations in one statement; their case links apart, each row expiring with its last link."""
        await self._services.conversations.save_many(
            session, {key: c.to_document() for key, c in conversations.items()}, self._expiry_hour(now)
        )
        links = self._services.links
        by_hour: dict[int, dict[str, dict[str, Any]]] = {}
        for key, conversation in conversations.items():
            document = conversation.links_document()
            if document is None:
                if conversation.had_links:  # most messages never had one: no statement for them
                    await links.delete(session, key)
            else:
                hour = int(conversation.links_expire_at() // 3600) + 1
                by_hour.setdefault(hour, {})[key] = document
        for hour, documents in by_hour.items():
            await links.save_many(session, documents, hour)

    def _apology(self, incoming: Incoming) -> Outcome:
        t = self._services.translators[language_from_hint(incoming.language_hint, "zh")]
        return Outcome(replies=(Reply(t("Sorry, something went wrong on our side. Please send that again.")),))

    async def replay(self, incoming: Incoming) -> Outcome:
        """An equivalent answer for a platform retry of a message already handled: a fresh receipt if
        the receipt may not have arrived (never the old one: it is not stored), else the question
        the worker is at now. Nothing the message did is done again."""
        async with self._database.transaction() as session:
            await self._database.lock_user(session, incoming.user_key)
            conversation = (await self._load_many(session, [incoming.user_key]))[0][incoming.user_key]
            ctx = Context(
                incoming=incoming,
                conversation=conversation,
                session=session,
                services=self._services,
                router=self._router,
                now=self._services.clock(),
            )
            recent = conversation.recent_receipt_case
            same_message = incoming.message_key is not None and incoming.message_key == (
                conversation.recent_receipt_message
            )
            if recent and same_message and (conversation.recent_receipt_until or 0) > ctx.now.timestamp():
                # The platform retries the very message whose reply showed the receipt: it may
                # never have arrived, so the retry gets a fresh one (the old one is not stored).
                conversation.pending_receipt_case = conversation.pending_receipt_case or recent
            if not await self._router.deliver_owed(ctx):
                await self._router.ask(ctx)
            await self._save(session, {incoming.user_key: conversation}, ctx.now)
        return Outcome(replies=tuple(ctx.replies))

    async def wants_pictures(self, user_key: str) -> bool:
        """Whether a picture from this worker would be kept (the features' rules, see
        ``Router.takes_pictures``). Channels ask before downloading, so nobody can fill the database."""
        async with self._database.transaction(write=False) as session:
            conversation = (await self._load_many(session, [user_key]))[0][user_key]
        return self._router.wants_pictures(conversation)

    async def confirm_delivery(self, user_key: str) -> None:
        """The channel delivered a reply carrying a receipt: the next message needs no new one.

        For a minute the case is still remembered (sealed, in the case-link row) so that a
        platform *retry* of the very message that showed the receipt gets a fresh one; then the
        link lapses, and the cleaner deletes the row even if the worker never writes again.
        """
        async with self._database.transaction() as session:
            await self._database.lock_user(session, user_key)
            conversation = (await self._load_many(session, [user_key]))[0][user_key]
            if not conversation.pending_receipt_case:
                return
            now = self._services.clock()
            conversation.recent_receipt_case = conversation.pending_receipt_case
            conversation.recent_receipt_until = now.timestamp() + RECENT_RECEIPT_SECONDS
            conversation.recent_receipt_message = conversation.pending_receipt_message
            conversation.pending_receipt_case = None
            conversation.pending_receipt_until = None
            conversation.pending_receipt_message = None
            await self._save(session, {user_key: conversation}, now)

    async def forget(self, user_key: str) -> None:
        """Deletes what is kept about a worker's chat (unsubscribe): conversation, draft, held notices.
        Their reports stay (they are the worker's, reachable with the receipt, and not linked here)."""
        async with self._database.transaction() as session:
            await self._database.lock_user(session, user_key)
            await self._services.conversations.delete(session, user_key)
            await self._services.notices.delete(session, user_key)
            await self._services.links.delete(session, user_key)

    async def _load_many(
        self, session: AsyncSession, keys: Sequence[str], *, take_notices: bool = False
    ) -> tuple[dict[str, Conversation], set[str]]:
        """Conversations with their case links, in one query; with ``take_notices``, also the
        workers with a notice held for their next message (a push a platform would not allow),
        whose notices are deleted in this transaction, so each is shown exactly once. A row that
        does not open is logged and left out; the others are read."""
        services = self._services
        stores = [services.conversations, services.links, *([services.notices] if take_notices else [])]
        sealed = await load_sealed_together(session, stores, keys)
        documents = _opened(services.conversations, sealed[0], "conversation state")
        links = _opened(services.links, sealed[1], "case links")
        conversations = {key: Conversation.from_document(documents.get(key), links.get(key)) for key in keys}
        for key in sealed[1]:
            conversations[key].had_links = True
        held = set(sealed[2]) if take_notices else set()
        for key in held:
            await services.notices.delete(session, key)
        return conversations, held

    def _expiry_hour(self, now: datetime) -> int:
        return int((now + self._services.settings.conversation_ttl).timestamp() // 3600) + 1

    async def _route(self, ctx: Context) -> None:
        """Intake first (emergency words, commands, expiry...), then the worker's state; then the
        features note what they keep after each message."""
        if not await take_in(ctx):
            await self._router.handle(ctx)
        self._router.finish_message(ctx.conversation)


def _opened(store: SealedDocumentStore, sealed: Mapping[str, bytes], what: str) -> dict[str, dict[str, Any]]:
    documents = {}
    for key, ciphertext in sealed.items():
        try:
            documents[key] = store.open(key, ciphertext)
        except (DecryptionError, ValueError, TypeError) as error:
            log.warning("%s unreadable (%s); left out", what, type(error).__name__)
    return documents
