"""The Telegram channel: our own polling loop and webhook ingestion, the update journal, replies.

python-telegram-bot is the transport: its ``Bot`` makes the API calls and its ``Application``
(built without an Updater) runs our one handler for every update. PTB's Updater is not used,
because it acknowledges updates before handling them; here an update is journaled (committed)
first, acknowledged second, handled third, and marked handled in the same transaction as its
effects.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Bot, Update
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError
from telegram.ext import Application, ContextTypes, TypeHandler

from bot.channels.telegram.adapter import ForgedCallback, TelegramAdapter, TelegramEvent, clean_update
from bot.channels.telegram.sink import retry_seconds
from handlers.dispatcher import Dispatcher
from handlers.events import Outcome, Reply
from storage.conversations import SealedDocumentStore
from storage.database import Database
from storage.journal import UpdateJournal

log = logging.getLogger(__name__)

CHANNEL = "telegram"
ALLOWED_UPDATES = ("message", "callback_query", "my_chat_member")
DELETE_WINDOW_SECONDS = 48 * 3600 - 600  # Telegram: bots may delete private-chat messages for 48 hours
MAX_TRACED = 200
SEND_ATTEMPTS = 3

EvidenceStore = Callable[[bytes], Awaitable[str]]
"""Sanitises and stores a downloaded image as a draft file; returns its id."""


class TelegramChannel:
    def __init__(
        self,
        application: Application,  # type: ignore[type-arg]
        dispatcher: Dispatcher,
        database: Database,
        journal: UpdateJournal,
        adapter: TelegramAdapter,
        traces: SealedDocumentStore,
        *,
        store_evidence: EvidenceStore | None = None,
        hide_notice: Callable[[str | None], str] | None = None,
        admin_reload: Callable[[], Awaitable[str]] | None = None,
        admin_user_ids: Sequence[int] = (),
    ) -> None:
        self.application = application
        self._dispatcher = dispatcher
        self._database = database
        self._journal = journal
        self._adapter = adapter
        self._traces = traces
        self._store_evidence = store_evidence
        self._hide_notice = hide_notice or (lambda _language: "🙂")
        self._admin_reload = admin_reload
        self._admin_ids = frozenset(admin_user_ids)
        self._kick = asyncio.Event()
        self._processing = asyncio.Lock()
        self._collecting: _Batch | None = None
        self._journaled: dict[str, dict[str, Any]] = {}  # payloads journaled by this process, not yet handled
        application.add_handler(TypeHandler(Update, self._on_update))

    @property
    def bot(self) -> Bot:
        bot: Bot = self.application.bot
        return bot

    # -- ingestion: journal first, acknowledge second -------------------------------------------

    async def ingest(self, updates: Sequence[dict[str, Any]]) -> int:
        """Commits a batch of raw updates to the journal (one transaction); returns how many were new."""
        items = [(str(update["update_id"]), clean_update(update)) for update in updates if "update_id" in update]
        hour = int(time.time() // 3600)
        async with self._database.transaction() as session:
            fresh = await self._journal.record(session, CHANNEL, items, hour)
        if fresh:
            keys = {self._journal.key(CHANNEL, platform_id): payload for platform_id, payload in items}
            self._journaled.update({key: keys[key] for key in fresh})
            self._kick.set()
        return len(fresh)

    async def poll(self, stop: asyncio.Event, *, long_poll_seconds: int = 30) -> None:
        """Our getUpdates loop: the offset moves past a batch only after the batch is journaled."""
        await self.bot.delete_webhook(drop_pending_updates=False)
        offset: int | None = None
        failures = 0
        while not stop.is_set():
            try:
                updates = await self.bot.get_updates(
                    offset=offset, timeout=long_poll_seconds, allowed_updates=list(ALLOWED_UPDATES)
                )
                if updates:
                    await self.ingest([update.to_dict() for update in updates])
                    offset = updates[-1].update_id + 1  # only now may Telegram forget them
                failures = 0
            except RetryAfter as error:
                await asyncio.sleep(retry_seconds(error))
            except Exception as error:  # the network, or the database: keep polling, never die silently
                failures += 1
                log.error("polling failed (%s); retrying", type(error).__name__)
                await asyncio.sleep(min(30.0, 0.5 * 2**min(failures, 6)))

    # -- processing ---------------------------------------------------------------------------

    async def run_processor(self, stop: asyncio.Event, *, idle_seconds: float = 5.0) -> None:
        """Handles journaled updates whenever new ones arrive (and every few seconds, for recovery)."""
        failures = 0
        while not stop.is_set():
            try:
                await self.process_pending()
                failures = 0
            except Exception as error:  # e.g. the database restarting: pending updates wait in the journal
                failures += 1
                log.error("processing updates failed (%s); retrying", type(error).__name__)
                await asyncio.sleep(min(30.0, 0.5 * 2**min(failures, 6)))
                continue
            try:
                await asyncio.wait_for(self._kick.wait(), timeout=idle_seconds)
            except TimeoutError:
                pass
            self._kick.clear()

    async def process_pending(self) -> int:
        """Handles every pending update, a journal batch at a time (group commit).

        Each batch runs through PTB's ``Application.process_update`` (our one handler collects
        the events), then through the core in one transaction, then the replies go out: one
        worker's replies in order, different workers concurrently.
        """
        handled = 0
        async with self._processing:
            while True:
                async with self._database.transaction(write=False) as session:
                    entries = await self._journal.pending(session, CHANNEL, known=self._journaled)
                if not entries:
                    self._journaled.clear()
                    return handled
                batch = _Batch()
                self._collecting = batch
                try:
                    for entry in entries:
                        await self.application.process_update(Update.de_json(entry.payload, self.bot))
                finally:
                    self._collecting = None
                await self._run_batch(batch)
                for entry in entries:
                    self._journaled.pop(entry.key, None)
                handled += len(entries)

    async def _skip(self, updates: Sequence[Update]) -> None:
        if not updates:
            return
        async with self._database.transaction() as session:
            await self._journal.claim_many(session, [self._journal.key(CHANNEL, str(u.update_id)) for u in updates])

    async def _on_update(self, update: object, _context: ContextTypes.DEFAULT_TYPE) -> None:
        """The one PTB handler: sorts each update of the batch being collected."""
        assert isinstance(update, Update)
        batch = self._collecting
        if batch is None:  # an update PTB was given directly, outside process_pending
            batch = _Batch()
            self._collecting = batch
            try:
                self._sort(update, batch)
            finally:
                self._collecting = None
            await self._run_batch(batch)
            return
        self._sort(update, batch)

    def _sort(self, update: Update, batch: _Batch) -> None:
        try:
            event = self._adapter.to_event(update)
        except ForgedCallback:
            log.warning("refused button data that does not belong to its sender")
            batch.skipped.append(update)
            batch.refused_queries.append(update)
            return
        except Exception as error:  # an update we cannot read must not come back forever
            log.error("unreadable update skipped: %s", type(error).__name__)
            batch.skipped.append(update)
            return
        if event is None:
            batch.skipped.append(update)
        elif event.incoming.text is not None and event.incoming.text.strip() == "/hide":
            batch.hides.append((update, event))
        elif event.incoming.text is not None and event.incoming.text.strip() == "/reload" and (
            event.user_id in self._admin_ids and self._admin_reload is not None
        ):
            batch.reloads.append((update, event))
        else:
            batch.events.append((update, event))

    async def _run_batch(self, batch: _Batch) -> None:
        await self._skip(batch.skipped)
        await asyncio.gather(*(_quietly(u.callback_query.answer()) for u in batch.refused_queries if u.callback_query))
        events = [(update, await self._with_evidence(update, event)) for update, event in batch.events]
        keys = [self._journal.key(CHANNEL, str(update.update_id)) for update, _ in events]

        async def claim(session: AsyncSession) -> list[bool]:
            claimed = await self._journal.claim_many(session, keys)
            return [key in claimed for key in keys]

        incomings = [replace(event.incoming, message_key=key) for (_, event), key in zip(events, keys, strict=True)]
        outcomes = await self._dispatcher.handle_many(incomings, claim=claim)
        await asyncio.gather(
            *(_quietly(u.callback_query.answer()) for u, e in events if e.callback_query_id and u.callback_query)
        )
        per_worker: dict[str, list[tuple[Update, TelegramEvent, Outcome]]] = defaultdict(list)
        for (update, event), outcome in zip(events, outcomes, strict=True):
            per_worker[event.incoming.user_key].append((update, event, outcome))
        sent = await asyncio.gather(*(self._reply_in_order(items) for items in per_worker.values()))
        await self._record_traces([item for worker in sent for item in worker])
        for update, event in batch.hides:
            await self._hide(event, update)
        for update, event in batch.reloads:
            await self._skip([update])
            if self._admin_reload is not None:
                await _quietly(self.bot.send_message(event.chat_id, await self._admin_reload()))

    async def _with_evidence(self, update: Update, event: TelegramEvent) -> TelegramEvent:
        if event.photo_file_id is None:
            return event
        ref = None
        if await self._dispatcher.wants_pictures(event.incoming.user_key):
            ref = await self._download_evidence(event.photo_file_id)
        return self._adapter.to_event(update, attachment_ref=ref or "") or event  # "" = a picture not kept

    async def _reply_in_order(
        self, items: list[tuple[Update, TelegramEvent, Outcome]]
    ) -> list[tuple[TelegramEvent, Outcome, list[tuple[int, bool]]]]:
        results = []
        for update, event, outcome in items:
            if not outcome.replies:
                continue
            if event.callback_query_id is not None and update.callback_query is not None:
                message = update.callback_query.message
                if message is not None:
                    await _quietly(self.bot.edit_message_reply_markup(event.chat_id, message.message_id))
            results.append((event, outcome, await self._send(event, outcome)))
        return results

    async def _download_evidence(self, file_id: str) -> str | None:
        if self._store_evidence is None:
            return None
        try:
            telegram_file = await self.bot.get_file(file_id)
            data = bytes(await telegram_file.download_as_bytearray())
            return await self._store_evidence(data)
        except Exception as error:  # a bad file must not lose the worker's message
            log.warning("evidence not kept: %s", type(error).__name__)
            return None

    async def _send(self, event: TelegramEvent, outcome: Outcome) -> list[tuple[int, bool]]:
        """Sends the replies in order; returns (message id, carries receipt) of each sent one."""
        sent: list[tuple[int, bool]] = []
        for reply in outcome.replies:
            message_id = await self._send_one(event, reply)
            if message_id is None:
                break
            sent.append((message_id, reply.carries_receipt))
        return sent

    async def _send_one(self, event: TelegramEvent, reply: Reply) -> int | None:
        for _attempt in range(SEND_ATTEMPTS):
            try:
                message = await self.bot.send_message(
                    event.chat_id, reply.text, reply_markup=self._adapter.keyboard(event.user_id, reply)
                )
                return message.message_id
            except RetryAfter as error:
                await asyncio.sleep(retry_seconds(error))
            except Forbidden:
                return None
            except TelegramError as error:
                log.warning("reply not sent: %s", type(error).__name__)
                await asyncio.sleep(0.5)
        return None

    async def _record_traces(self, sent: Sequence[tuple[TelegramEvent, Outcome, list[tuple[int, bool]]]]) -> None:
        """Remembers message ids for /hide (one transaction for the batch); after a receipt,
        deletes the report's messages except the receipt's own."""
        if not sent:
            return
        now = time.time()
        cutoff = now - DELETE_WINDOW_SECONDS
        keys = sorted({event.incoming.user_key for event, _, _ in sent})
        async with self._database.transaction() as session:
            documents = await self._traces.load_many(session, keys)
            traced = {key: _deletable(documents.get(key), cutoff) for key in keys}
            doomed: list[tuple[int, list[int]]] = []
            receipts: list[str] = []
            for event, outcome, messages in sent:
                key = event.incoming.user_key
                new = ([event.message_id] if event.message_id is not None else []) + [mid for mid, _ in messages]
                receipt_ids = [mid for mid, carries in messages if carries]
                if outcome.needs_delivery_confirmation and receipt_ids:
                    keep = set(receipt_ids)
                    gone = [mid for mid, _ in traced[key]] + new
                    doomed.append((event.chat_id, [mid for mid in gone if mid not in keep]))
                    traced[key] = [(mid, now) for mid in receipt_ids]
                    receipts.append(key)
                else:
                    traced[key].extend((mid, now) for mid in new)
            expires = int(now // 3600) + 49
            await self._traces.save_many(
                session, {k: {"m": [[m, t] for m, t in v[-MAX_TRACED:]]} for k, v in traced.items()}, expires
            )
        for key in receipts:
            await self._dispatcher.confirm_delivery(key)
        for chat_id, message_ids in doomed:
            await self._delete(chat_id, message_ids)

    async def _hide(self, event: TelegramEvent, update: Update) -> None:
        """/hide: deletes every message of this conversation the bot still may, then says so neutrally."""
        await self._skip([update])
        traced = await self._load_traces(event.incoming.user_key)
        ids = [mid for mid, _ in traced] + ([event.message_id] if event.message_id is not None else [])
        await self._delete(event.chat_id, ids)
        await self._save_traces(event.incoming.user_key, [])
        await _quietly(self.bot.send_message(event.chat_id, self._hide_notice(event.incoming.language_hint)))

    async def _delete(self, chat_id: int, message_ids: Sequence[int]) -> None:
        for message_id in message_ids:
            try:
                await self.bot.delete_message(chat_id, message_id)
            except RetryAfter as error:
                await asyncio.sleep(retry_seconds(error))
            except (BadRequest, Forbidden):
                continue  # already gone, too old, or the bot was blocked

    async def _load_traces(self, user_key: str) -> list[tuple[int, float]]:
        async with self._database.transaction(write=False) as session:
            document = await self._traces.load(session, user_key)
        return _deletable(document, time.time() - DELETE_WINDOW_SECONDS)

    async def _save_traces(self, user_key: str, traced: Sequence[tuple[int, float]]) -> None:
        expires = int(time.time() // 3600) + 49
        async with self._database.transaction() as session:
            await self._traces.save(session, user_key, {"m": [[m, t] for m, t in traced]}, expires)


@dataclass
class _Batch:
    """The updates of one journal batch, sorted by what must happen to them."""

    events: list[tuple[Update, TelegramEvent]] = field(default_factory=list)
    skipped: list[Update] = field(default_factory=list)
    refused_queries: list[Update] = field(default_factory=list)
    hides: list[tuple[Update, TelegramEvent]] = field(default_factory=list)
    reloads: list[tuple[Update, TelegramEvent]] = field(default_factory=list)


def _deletable(document: dict[str, Any] | None, cutoff: float) -> list[tuple[int, float]]:
    """Traced (message id, sent at) pairs still inside Telegram's 48-hour deletion window."""
    return [(int(m), float(t)) for m, t in (document or {}).get("m", []) if float(t) > cutoff]


async def _quietly(call: Awaitable[object]) -> None:
    """Best-effort calls (answering a button, removing a keyboard): failure changes nothing."""
    try:
        await call
    except TelegramError as error:
        log.info("best-effort call failed: %s", type(error).__name__)
