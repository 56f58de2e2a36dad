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
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Bot, Update
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError
from telegram.ext import Application, ContextTypes, TypeHandler

from bot.channels.telegram.adapter import ForgedCallback, TelegramAdapter, TelegramEvent, clean_update
from bot.channels.telegram.sink import retry_seconds
from bot.channels.telegram.window import UNREADABLE, ChatWindows, hidden_ids
from bot.channels.text import TELEGRAM_TEXT_BYTES, split_text
from handlers.dispatcher import Dispatcher
from handlers.events import Outcome, Reply
from storage.conversations import SealedDocumentStore
from storage.database import Database
from storage.journal import JournalEntry, UpdateJournal

log = logging.getLogger(__name__)

CHANNEL = "telegram"
ALLOWED_UPDATES = ("message", "callback_query", "my_chat_member")
SEND_ATTEMPTS = 3
PENDING_BATCH = 500
DELETE_CHUNK = 100  # deleteMessages takes at most 100 ids

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
        self._windows = ChatWindows(traces)
        self._store_evidence = store_evidence
        self._hide_notice = hide_notice or (lambda _language: "🙂")
        self._admin_reload = admin_reload
        self._admin_ids = frozenset(admin_user_ids)
        self._kick = asyncio.Event()
        self._processing = asyncio.Lock()
        self._collecting: _Batch | None = None
        self._journaled: dict[str, dict[str, Any]] = {}  # payloads journaled by this process, not yet handled
        self._swept = False  # whether the journal was read back since start (updates from before a restart)
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
            fresh = await self._journal.record_entries(session, CHANNEL, items, hour)
        if fresh:
            self._journaled.update((entry.key, entry.payload) for entry in fresh)
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
        """Handles journaled updates whenever new ones arrive; reads the journal back at start, after
        a failure and every few idle seconds (updates of a crashed process or replica)."""
        failures = 0
        while not stop.is_set():
            try:
                await self.process_pending()
                failures = 0
            except Exception as error:  # e.g. the database restarting: pending updates wait in the journal
                failures += 1
                self._swept = False
                log.error("processing updates failed (%s); retrying", type(error).__name__)
                await asyncio.sleep(min(30.0, 0.5 * 2**min(failures, 6)))
                continue
            try:
                await asyncio.wait_for(self._kick.wait(), timeout=idle_seconds)
            except TimeoutError:
                self._swept = False
            self._kick.clear()

    async def process_pending(self) -> int:
        """Handles every pending update, a journal batch at a time (group commit).

        Each batch runs through PTB's ``Application.process_update`` (our one handler collects
        the events), then through the core in one transaction, then the replies go out: one
        worker's replies in order, different workers concurrently.

        Updates this process journaled are taken from memory, without reading the journal: the
        claim in the handling transaction decides who handles each one, so reading it back adds
        nothing. The journal is read when nothing is known in memory, and after a failure or an
        idle wait, for updates journaled before a restart or by another replica.
        """
        handled = 0
        async with self._processing:
            while True:
                entries = await self._next_entries()
                if not entries:
                    return handled
                batch = _Batch(keys={int(entry.payload["update_id"]): entry.key for entry in entries})
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
                if self._swept and not self._journaled:
                    return handled

    async def _next_entries(self) -> list[JournalEntry]:
        if self._swept and self._journaled:
            return [JournalEntry(key, payload) for key, payload in list(self._journaled.items())[:PENDING_BATCH]]
        async with self._database.transaction(write=False) as session:
            entries = await self._journal.pending(session, CHANNEL, limit=PENDING_BATCH, known=self._journaled)
        if not entries:
            self._journaled.clear()
        self._swept = len(entries) < PENDING_BATCH  # a full batch: read on after it
        return entries

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
        await asyncio.gather(*(_quietly(u.callback_query.answer()) for u in batch.refused_queries if u.callback_query))
        events = [(update, await self._with_evidence(update, event)) for update, event in batch.events]
        keys = [self._key(batch, update) for update, _ in events]
        skipped = [self._key(batch, update) for update in batch.skipped]
        starts: dict[str, int] = {}

        async def claim(session: AsyncSession) -> list[bool]:
            """Marks the batch handled and opens the conversation windows, with the batch's effects."""
            claimed = await self._journal.claim_many(session, keys + skipped)
            owned = [key in claimed for key in keys]
            first_ids: dict[str, int] = {}
            for (update, event), mine in zip(events, owned, strict=True):
                message_id = _message_id(update, event)
                if mine and message_id is not None:
                    user_key = event.incoming.user_key
                    first_ids[user_key] = min(first_ids.get(user_key, message_id), message_id)
            starts.clear()
            starts.update(await self._windows.open(session, first_ids))
            return owned

        if events:
            incomings = [replace(event.incoming, message_key=key) for (_, event), key in zip(events, keys, strict=True)]
            outcomes = await self._dispatcher.handle_many(incomings, claim=claim)
        else:
            outcomes = []
            if skipped:
                async with self._database.transaction() as session:
                    await claim(session)
        await asyncio.gather(
            *(_quietly(u.callback_query.answer()) for u, e in events if e.callback_query_id and u.callback_query)
        )
        per_worker: dict[str, list[tuple[Update, TelegramEvent, Outcome]]] = defaultdict(list)
        for (update, event), outcome in zip(events, outcomes, strict=True):
            per_worker[event.incoming.user_key].append((update, event, outcome))
        replied = await asyncio.gather(*(self._reply_in_order(items) for items in per_worker.values()))
        sent = [item for worker in replied for item in worker]
        await self._after_receipts(sent, starts)
        newest: dict[int, int] = {}  # per chat, the newest message this batch sent: a /hide after it takes it too
        for event, _, messages in sent:
            newest[event.chat_id] = max([newest.get(event.chat_id, 0), *(mid for mid, _ in messages)])
        for update, event in batch.hides:
            await self._hide(event, update, newest.get(event.chat_id, 0))
        for update, event in batch.reloads:
            await self._skip([update])
            if self._admin_reload is not None:
                await _quietly(self.bot.send_message(event.chat_id, await self._admin_reload()))

    def _key(self, batch: _Batch, update: Update) -> str:
        """The journal key of an update: from its journal entry, computed only for one PTB was handed directly."""
        return batch.keys.get(update.update_id) or self._journal.key(CHANNEL, str(update.update_id))

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
        """Sends the replies in order; returns (message id, carries receipt) of each sent message.
        A reply longer than Telegram takes (a long account at the review, many HR messages at a
        status lookup) goes as several messages cut at line ends, never inside a receipt, its
        buttons on the last: Telegram refuses the whole of an over-long one."""
        sent: list[tuple[int, bool]] = []
        for reply in outcome.replies:
            parts = split_text(reply.text, TELEGRAM_TEXT_BYTES)
            for number, part in enumerate(parts, 1):
                piece = replace(reply, text=part, choices=reply.choices if number == len(parts) else ())
                message_id = await self._send_one(event, piece)
                if message_id is None:
                    return sent
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
            except BadRequest:  # "chat not found" and the like: sending it again cannot help
                log.warning("reply not sent: BadRequest")
                return None
            except TelegramError as error:
                log.warning("reply not sent: %s", type(error).__name__)
                await asyncio.sleep(0.5)
        return None

    async def _after_receipts(
        self, sent: Sequence[tuple[TelegramEvent, Outcome, list[tuple[int, bool]]]], starts: Mapping[str, int]
    ) -> None:
        """After a receipt went out: confirms the delivery, deletes the report's messages but the
        receipt and starts the window again at the receipt (one transaction for the batch). A
        window starts again only where the deletion went through: where Telegram failed, the old
        start stays, so her next /hide still reaches the report's messages.
        Other messages need nothing after sending: their window was opened while handling them."""
        windows = dict(starts)
        doomed: list[tuple[str, int, list[int]]] = []
        restarts: dict[str, int] = {}
        confirmed: list[str] = []
        for event, outcome, messages in sent:
            receipt_ids = [mid for mid, carries in messages if carries]
            if not (outcome.needs_delivery_confirmation and receipt_ids):
                continue
            key = event.incoming.user_key
            confirmed.append(key)
            if windows.get(key) == UNREADABLE:  # her window row cannot be opened here: left for one that can
                continue
            newest = max(mid for mid, _ in messages)
            keep = set(receipt_ids)
            doomed.append((key, event.chat_id, [m for m in hidden_ids(windows.get(key), newest) if m not in keep]))
            windows[key] = restarts[key] = min(receipt_ids)
        for key in dict.fromkeys(confirmed):
            await self._dispatcher.confirm_delivery(key)
        for key, chat_id, message_ids in doomed:
            if not await self._delete(chat_id, message_ids):
                del restarts[key]
        if restarts:
            async with self._database.transaction() as session:
                await self._windows.restart(session, restarts)

    async def _hide(self, event: TelegramEvent, update: Update, sent_after: int) -> None:
        """/hide: deletes every message of this conversation the bot still may, then says so neutrally.
        ``sent_after`` is the newest message id the bot sent in this chat in the same batch."""
        key = event.incoming.user_key
        async with self._database.transaction(write=False) as session:
            start = await self._windows.start(session, key)
        deleted = True
        if event.message_id is not None:
            deleted = await self._delete(event.chat_id, hidden_ids(start, max(event.message_id, sent_after)))
        async with self._database.transaction() as session:
            # Claimed after deleting: a crash before this repeats the /hide, and deleting twice harms nothing.
            await self._journal.claim_many(session, [self._journal.key(CHANNEL, str(update.update_id))])
            if deleted:  # else the window stays, so her next /hide still reaches every message
                await self._windows.close(session, key)
        await _quietly(self.bot.send_message(event.chat_id, self._hide_notice(event.incoming.language_hint)))

    async def _delete(self, chat_id: int, message_ids: Sequence[int]) -> bool:
        """Deletes messages a hundred at a time; Telegram skips those already gone or too old.
        False when Telegram kept failing (they may all still be there): worth trying again later."""
        done = True
        for offset in range(0, len(message_ids), DELETE_CHUNK):
            chunk = list(message_ids[offset : offset + DELETE_CHUNK])
            for _attempt in range(SEND_ATTEMPTS):
                try:
                    await self.bot.delete_messages(chat_id, chunk)
                    break
                except RetryAfter as error:
                    await asyncio.sleep(retry_seconds(error))
                except (BadRequest, Forbidden):
                    break  # the bot was blocked, or none of them may be deleted any more
                except TelegramError as error:
                    log.warning("messages not deleted: %s", type(error).__name__)
                    await asyncio.sleep(0.5)
            else:
                done = False
        return done


@dataclass
class _Batch:
    """The updates of one journal batch, sorted by what must happen to them."""

    events: list[tuple[Update, TelegramEvent]] = field(default_factory=list)
    skipped: list[Update] = field(default_factory=list)
    refused_queries: list[Update] = field(default_factory=list)
    hides: list[tuple[Update, TelegramEvent]] = field(default_factory=list)
    reloads: list[tuple[Update, TelegramEvent]] = field(default_factory=list)
    keys: dict[int, str] = field(default_factory=dict)  # update id -> journal key, from the journal entries


def _message_id(update: Update, event: TelegramEvent) -> int | None:
    """The chat message an update is about: the worker's message, or the bot's message whose button was tapped."""
    if event.message_id is not None:
        return event.message_id
    query = update.callback_query
    return query.message.message_id if query is not None and query.message is not None else None


async def _quietly(call: Awaitable[object]) -> None:
    """Best-effort calls (answering a button, removing a keyboard): failure changes nothing."""
    try:
        await call
    except TelegramError as error:
        log.info("best-effort call failed: %s", type(error).__name__)
