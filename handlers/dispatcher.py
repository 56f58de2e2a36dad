"""One worker message in, its replies out: the only door into the conversation core.

Each message is handled in one write transaction that first takes the worker's lock, so two
messages of the same worker never interleave, in one process or across replicas; replies are
returned only after that transaction committed, so a reply never promises what a crash could undo.

Nothing slow runs inside that transaction: the slow work a message needs (an argon2id hash) is
done before it opens, with no lock held (``handlers.preparation``).
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from storage.database import Database, discard_buffered, flush_buffered
from storage.delivery import increment_count

from .context import Context, Services
from .conversation import VERSION, Conversation
from .events import Incoming, Outcome, Reply
from .i18n import N_, Language, language_from_hint
from .intake import take_in
from .preparation import Preparation, Prepared, Unprepared, prepare
from .router import Router

log = logging.getLogger(__name__)

RECENT_RECEIPT_SECONDS = 60
NEW_MESSAGE_NOTICE = N_("You have a new message about your report. Send 查询 (status) and your receipt to read it.")
# Pushed to lock screens and shared phones: it must not say what it is about.
PUSH_NOTICE = N_("You have a new message. Send 查询 (status) to read it.")
UNREADABLE_STATE = N_("Sorry, we cannot open your conversation right now. Please try again in a few minutes.")
UNREADABLE_COUNTER = "unreadable_conversation"
# Rounds of "prepare what a step asked for, handle again" before giving up (each round adds one
# result; no message needs more than a few).
MAX_PREPARATION_ROUNDS = 16
# Workers whose next message's slow work is anticipated (bounded: the oldest are forgotten).
MAX_ANTICIPATED = 10_000


Claim = Callable[[AsyncSession], Awaitable[bool]]
BatchClaim = Callable[[AsyncSession], Awaitable[Sequence[bool]]]


class _RetryIsolated(Exception):
    """A message of a batch failed: run the batch again with a savepoint per message."""


class _NeedsWork(Exception):
    """A message of a batch asked for slow work nobody prepared: roll back, do it, run again."""

    def __init__(self, position: int, preparation: Preparation[Any]) -> None:
        super().__init__("a step asked for unprepared work")
        self.position = position
        self.preparation = preparation


Delivered = tuple[str, str | None]
"""A worker (user key) whose reply carrying a receipt was delivered, and the platform message that
reply answered (None when the channel cannot say)."""


def _note_delivered(conversation: Conversation, now: datetime, message_key: str | None) -> bool:
    """The pending receipt arrived: remembered a minute more as recent (see
    :meth:`Dispatcher.confirm_delivery`); False when none was pending, or when the pending one is
    another message's (a later message reissued it, and its reply is still on its way)."""
    if not conversation.pending_receipt_case:
        return False
    if message_key is not None and conversation.pending_receipt_message != message_key:
        return False
    conversation.recent_receipt_case = conversation.pending_receipt_case
    conversation.recent_receipt_until = now.timestamp() + RECENT_RECEIPT_SECONDS
    conversation.recent_receipt_message = conversation.pending_receipt_message
    conversation.pending_receipt_case = None
    conversation.pending_receipt_until = None
    conversation.pending_receipt_message = None
    return True


def _in_order(notice: tuple[Reply, ...], ctx: Context) -> tuple[Reply, ...]:
    """A held "new message" notice, then the message's replies; after them when she raised the
    alarm, so the emergency help is what she reads first."""
    return (*ctx.replies, *notice) if ctx.alarmed else (*notice, *ctx.replies)


class Dispatcher:
    def __init__(self, database: Database, services: Services, router: Router) -> None:
        self._database = database
        self._services = services
        self._router = router
        self._anticipated: dict[str, dict[str, Preparation[Any]]] = {}

    def _read(self) -> AbstractAsyncContextManager[AsyncSession]:
        return self._database.transaction(write=False)

    async def prepare(self, incoming: Incoming) -> dict[str, object]:
        """Does the slow work ``incoming`` is expected to need (``handlers.preparation``), before
        its transaction and without its lock: callers hold neither. Cheap when none is expected."""
        work = self._router.preparations(incoming, self._services)
        work.update(self._anticipated.pop(incoming.user_key, {}))
        return await prepare(work, self._read) if work else {}

    async def handle(self, incoming: Incoming, *, claim: Claim | None = None) -> Outcome:
        """Routes one message; see :meth:`handle_many`."""

        async def claim_one(session: AsyncSession) -> list[bool]:
            return [await claim(session)] if claim is not None else [True]

        return (await self.handle_many([incoming], claim=claim_one))[0]

    async def handle_many(
        self,
        items: Sequence[Incoming],
        *,
        claim: BatchClaim | None = None,
        prepared: Sequence[Prepared] | None = None,
        delivered: Sequence[Delivered] = (),
    ) -> list[Outcome]:
        """Routes a batch of messages in arrival order within ONE transaction (group commit).

        Every worker in the batch is locked first (in a fixed order, so replicas cannot deadlock).
        ``claim`` runs first in the same transaction and says, per message, whether this
        transaction owns it (a channel marks its journaled updates handled there), so messages'
        effects and "handled" commit together: exactly once; unowned messages are skipped.

        The batch runs without savepoints; if any message fails, the whole transaction is rolled
        back and the batch runs again with a savepoint per message, so the failing one is rolled
        back alone and its worker gets an apology (never a traceback) while the others commit.

        ``prepared`` holds each message's slow work, done by :meth:`prepare` before the caller
        queued it; without it, it is done here, before the transaction opens. If a step still asks
        for work nobody did, the transaction is rolled back, the work done, and the batch run again.

        ``delivered`` are workers whose receipt-carrying reply a channel has since delivered (see
        :meth:`confirm_delivery`): noted in the same transaction, before the batch's messages, so
        a group-committing channel pays no write transaction of its own for each.
        """
        if not items and not delivered:
            return []
        if prepared is None:
            ready = list(await asyncio.gather(*(self.prepare(incoming) for incoming in items)))
        else:
            ready = [dict(results) for results in prepared]
        isolate = False
        for _round in range(MAX_PREPARATION_ROUNDS):
            try:
                return await self._run_batch(items, claim, ready, delivered, isolate=isolate)
            except _RetryIsolated:
                isolate = True
            except _NeedsWork as missing:  # rolled back: no transaction or lock is held now
                ready[missing.position][missing.preparation.key] = await missing.preparation.work(self._read)
        raise RuntimeError("a step kept asking for unprepared work")

    async def _run_batch(
        self,
        items: Sequence[Incoming],
        claim: BatchClaim | None,
        ready: Sequence[Prepared],
        delivered: Sequence[Delivered],
        *,
        isolate: bool,
    ) -> list[Outcome]:
        outcomes: list[Outcome] = []
        async with self._database.transaction() as session:
            senders = sorted({incoming.user_key for incoming in items})
            keys = sorted(set(senders) | {key for key, _ in delivered})
            await self._database.lock_users(session, keys)
            owned = list(await claim(session)) if claim is not None and items else [True] * len(items)
            conversations, unreadable = await self._load_many(session, keys)
            now = self._services.clock()
            touched = {
                key
                for key, message_key in delivered
                if key in conversations and _note_delivered(conversations[key], now, message_key)
            }
            # Only workers with a message here see a held notice now; the others keep theirs.
            notices = await self._take_notices(session, [key for key in senders if key not in unreadable])
            owed_to = await self._router.look_up_owed(session, items, self._services)
            refused = 0
            for position, (incoming, mine) in enumerate(zip(items, owned, strict=True)):
                if not mine:
                    outcomes.append(Outcome())
                    continue
                if incoming.user_key in unreadable:
                    # Never routed, never saved: the row stays exactly as a process with its key wrote it.
                    outcomes.append(self._cannot_open(incoming))
                    refused += 1
                    continue
                conversation = conversations[incoming.user_key]
                ctx = Context(
                    incoming=incoming,
                    conversation=conversation,
                    session=session,
                    services=self._services,
                    router=self._router,
                    now=now,
                    ready=ready[position],
                    owed_to=owed_to,
                )
                notice: tuple[Reply, ...] = ()
                if incoming.user_key in notices:
                    notices.discard(incoming.user_key)
                    notice = (Reply(ctx.t(NEW_MESSAGE_NOTICE)),)
                conversation.last_seen = now.timestamp()
                if not isolate:
                    try:
                        await self._route(ctx)
                    except Unprepared as missing:
                        raise _NeedsWork(position, missing.preparation) from None
                    except Exception as error:
                        raise _RetryIsolated from error
                    touched.add(incoming.user_key)
                    outcomes.append(Outcome(replies=_in_order(notice, ctx)))
                    continue
                before = copy.deepcopy(conversation)
                try:
                    async with session.begin_nested():
                        await self._route(ctx)
                        await flush_buffered(session)  # this message's buffered writes, inside its savepoint
                    outcomes.append(Outcome(replies=_in_order(notice, ctx)))
                except Unprepared as missing:
                    raise _NeedsWork(position, missing.preparation) from None
                except Exception as error:
                    discard_buffered(session)
                    log.error("handling failed: %s on %s message", type(error).__name__, incoming.channel.value)
                    conversations[incoming.user_key] = before
                    outcomes.append(Outcome(replies=notice + self._apology(incoming).replies))
                touched.add(incoming.user_key)
            await self._save(session, {key: conversations[key] for key in touched}, now)
            await self._count_unreadable(session, refused)
        return outcomes

    async def _save(self, session: AsyncSession, conversations: Mapping[str, Conversation], now: datetime) -> None:
        """Conversations in one statement; their case links apart, each row expiring with its last link.
        Notes, for each worker, the slow work their next message may need."""
        for key, conversation in conversations.items():
            self._anticipate(key, conversation)
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

    def _anticipate(self, user_key: str, conversation: Conversation) -> None:
        self._anticipated.pop(user_key, None)
        ahead = self._router.anticipations(conversation, self._services)
        if not ahead:
            return
        if len(self._anticipated) >= MAX_ANTICIPATED:
            self._anticipated.pop(next(iter(self._anticipated)))
        self._anticipated[user_key] = ahead

    async def _take_notices(self, session: AsyncSession, keys: Sequence[str]) -> set[str]:
        """Workers with a notice held for their next message (pushes a platform would not allow);
        the notices are deleted in this transaction, so each is shown exactly once."""
        store = self._services.notices
        held, _unreadable = await store.load_readable(session, keys)  # an unreadable one waits for its key
        for key in held:
            await store.delete(session, key)
        return set(held)

    def _apology(self, incoming: Incoming) -> Outcome:
        t = self._services.translators[language_from_hint(incoming.language_hint, "zh")]
        return Outcome(replies=(Reply(t("Sorry, something went wrong on our side. Please send that again.")),))

    def _cannot_open(self, incoming: Incoming) -> Outcome:
        default: Language = "en" if self._services.settings.default_language == "en" else "zh"
        t = self._services.translators[language_from_hint(incoming.language_hint, default)]
        return Outcome(replies=(Reply(t(UNREADABLE_STATE)),))

    async def _count_unreadable(self, session: AsyncSession, messages: int) -> None:
        """Counts and logs (without ids) messages answered without their conversation, which this
        process could not open: typically a replica still on the old keys after a rotation."""
        if messages:
            log.warning("%d message(s) answered without their conversation, which this process cannot open", messages)
            await increment_count(session, UNREADABLE_COUNTER, messages)

    async def replay(self, incoming: Incoming) -> Outcome:
        """An equivalent answer for a platform retry of a message already handled: a fresh receipt if
        the receipt may not have arrived (never the old one: it is not stored), else the question
        the worker is at now. Nothing the message did is done again."""
        ready = await self.prepare(incoming)
        for _round in range(MAX_PREPARATION_ROUNDS):
            try:
                return await self._replay(incoming, ready)
            except Unprepared as missing:  # rolled back: no transaction or lock is held now
                ready[missing.preparation.key] = await missing.preparation.work(self._read)
        raise RuntimeError("a step kept asking for unprepared work")

    async def _replay(self, incoming: Incoming, ready: Prepared) -> Outcome:
        async with self._database.transaction() as session:
            await self._database.lock_user(session, incoming.user_key)
            conversations, _unreadable = await self._load_many(session, [incoming.user_key])
            if incoming.user_key not in conversations:
                await self._count_unreadable(session, 1)
                return self._cannot_open(incoming)
            conversation = conversations[incoming.user_key]
            ctx = Context(
                incoming=incoming,
                conversation=conversation,
                session=session,
                services=self._services,
                router=self._router,
                now=self._services.clock(),
                ready=ready,
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
            conversations, _unreadable = await self._load_many(session, [user_key])
        return user_key in conversations and self._router.wants_pictures(conversations[user_key])

    async def confirm_delivery(self, user_key: str, message_key: str | None = None) -> None:
        """The channel delivered a reply carrying a receipt: the next message needs no new one.

        For a minute the case is still remembered (sealed, in the case-link row) so that a
        platform *retry* of the very message that showed the receipt gets a fresh one; then the
        link lapses, and the cleaner deletes the row even if the worker never writes again.
        """
        async with self._database.transaction() as session:
            await self._database.lock_user(session, user_key)
            conversation = (await self._load_many(session, [user_key]))[0].get(user_key)
            now = self._services.clock()
            if conversation is not None and _note_delivered(conversation, now, message_key):
                await self._save(session, {user_key: conversation}, now)

    async def forget(self, user_key: str) -> None:
        """Deletes what is kept about a worker's chat (unsubscribe): conversation, draft, held notices.
        Their reports stay (they are the worker's, reachable with the receipt, and not linked here)."""
        self._anticipated.pop(user_key, None)
        async with self._database.transaction() as session:
            await self._database.lock_user(session, user_key)
            conversation = (await self._load_many(session, [user_key]))[0].get(user_key)
            if conversation is not None:
                await self._router.forget(session, user_key, conversation, self._services)
            await self._services.conversations.delete(session, user_key)
            await self._services.notices.delete(session, user_key)
            await self._services.links.delete(session, user_key)

    async def _load_many(
        self, session: AsyncSession, keys: Sequence[str]
    ) -> tuple[dict[str, Conversation], set[str]]:
        """The conversations of ``keys``, and apart the keys whose conversation or case links this
        process cannot open (a master key it lacks, a damaged row, a newer document version).

        Those workers get no conversation at all, so nothing can treat them as new and overwrite
        a draft written under a newer key; the others are read as usual.
        """
        documents, unreadable = await self._services.conversations.load_readable(session, keys)
        links, unreadable_links = await self._services.links.load_readable(session, keys)
        unreadable |= unreadable_links
        conversations: dict[str, Conversation] = {}
        for key in keys:
            document = documents.get(key)
            version = document.get("v") if document is not None else None
            if isinstance(version, int) and version > VERSION:  # written by newer code: not ours to reset
                unreadable.add(key)
            if key in unreadable:
                continue
            conversations[key] = Conversation.from_document(document, links.get(key))
            conversations[key].had_links = key in links
        return conversations, unreadable

    def _expiry_hour(self, now: datetime) -> int:
        return int((now + self._services.settings.conversation_ttl).timestamp() // 3600) + 1

    async def _route(self, ctx: Context) -> None:
        """Intake first (emergency words, commands, expiry...), then the worker's state; then the
        features note what they keep after each message."""
        if not await take_in(ctx):
            await self._router.handle(ctx)
        self._router.finish_message(ctx.conversation)
