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
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Bot, Update
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError
from telegram.ext import Application, ContextTypes, TypeHandler

from handlers.dispatcher import Dispatcher
from handlers.events import Outcome, Reply
from storage.conversations import SealedDocumentStore
from storage.database import Database
from storage.journal import UpdateJournal
from storage.models import ChatTrace

from .telegram_adapter import ForgedCallback, TelegramAdapter, TelegramEvent

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
    ) -> None:
        self.application = application
        self._dispatcher = dispatcher
        self._database = database
        self._journal = journal
        self._adapter = adapter
        self._traces = traces
        self._store_evidence = store_evidence
        self._hide_notice = hide_notice or (lambda _language: "🙂")
        self._kick = asyncio.Event()
        self._processing = asyncio.Lock()
        application.add_handler(TypeHandler(Update, self._on_update))

    @property
    def bot(self) -> Bot:
        bot: Bot = self.application.bot
        return bot

    # -- ingestion: journal first, acknowledge second -------------------------------------------

    async def ingest(self, updates: Sequence[dict[str, Any]]) -> int:
        """Commits a batch of raw updates to the journal (one transaction); returns how many were new."""
        items = [(str(update["update_id"]), update) for update in updates if "update_id" in update]
        hour = int(time.time() // 3600)
        async with self._database.transaction() as session:
            fresh = await self._journal.record(session, CHANNEL, items, hour)
        if fresh:
            self._kick.set()
        return len(fresh)

    async def poll(self, stop: asyncio.Event, *, long_poll_seconds: int = 30) -> None:
        """Our getUpdates loop: the offset moves past a batch only after the batch is journaled."""
        await self.bot.delete_webhook(drop_pending_updates=False)
        offset: int | None = None
        while not stop.is_set():
            try:
                updates = await self.bot.get_updates(
                    offset=offset, timeout=long_poll_seconds, allowed_updates=list(ALLOWED_UPDATES)
                )
            except RetryAfter as error:
                await asyncio.sleep(_seconds(error.retry_after))
                continue
            except TelegramError as error:
                log.warning("getUpdates failed: %s", type(error).__name__)
                await asyncio.sleep(1)
                continue
            if updates:
                await self.ingest([update.to_dict() for update in updates])
                offset = updates[-1].update_id + 1

    # -- processing ---------------------------------------------------------------------------

    async def run_processor(self, stop: asyncio.Event, *, idle_seconds: float = 5.0) -> None:
        """Handles journaled updates whenever new ones arrive (and every few seconds, for recovery)."""
        while not stop.is_set():
            await self.process_pending()
            try:
                await asyncio.wait_for(self._kick.wait(), timeout=idle_seconds)
            except TimeoutError:
                pass
            self._kick.clear()

    async def process_pending(self) -> int:
        """Handles every pending update: one worker's updates in order, different workers concurrently."""
        handled = 0
        async with self._processing:
            while True:
                async with self._database.transaction(write=False) as session:
                    entries = await self._journal.pending(session, CHANNEL)
                if not entries:
                    return handled
                by_sender: dict[object, list[dict[str, Any]]] = defaultdict(list)
                for entry in entries:
                    by_sender[_sender(entry.payload)].append(entry.payload)
                await asyncio.gather(*(self._process_in_order(batch) for batch in by_sender.values()))
                handled += len(entries)

    async def _process_in_order(self, payloads: list[dict[str, Any]]) -> None:
        for payload in payloads:
            update = Update.de_json(payload, self.bot)
            await self.application.process_update(update)

    def _claim(self, update: Update) -> Callable[[AsyncSession], Awaitable[bool]]:
        key = self._journal.key(CHANNEL, str(update.update_id))
        return lambda session: self._journal.mark_handled(session, key)

    async def _skip(self, update: Update) -> None:
        async with self._database.transaction() as session:
            await self._claim(update)(session)

    async def _on_update(self, update: object, _context: ContextTypes.DEFAULT_TYPE) -> None:
        """The one PTB handler: turns the update into an event, dispatches it, sends the replies."""
        assert isinstance(update, Update)
        try:
            event = self._adapter.to_event(update)
        except ForgedCallback:
            log.warning("refused button data that does not belong to its sender")
            if update.callback_query is not None:
                await _quietly(update.callback_query.answer())
            await self._skip(update)
            return
        if event is None:
            await self._skip(update)
            return
        if event.callback_query_id is not None and update.callback_query is not None:
            await _quietly(update.callback_query.answer())
        if event.incoming.text is not None and event.incoming.text.strip() in ("/hide", "/hide@"):
            await self._hide(event, update)
            return
        if event.photo_file_id is not None:
            ref = await self._download_evidence(event.photo_file_id)
            refreshed = self._adapter.to_event(update, attachment_ref=ref) if ref else None
            event = refreshed or event
        outcome = await self._dispatcher.handle(event.incoming, claim=self._claim(update))
        if not outcome.replies:
            return
        if event.callback_query_id is not None and update.callback_query is not None:
            message = update.callback_query.message
            if message is not None:
                await _quietly(self.bot.edit_message_reply_markup(event.chat_id, message.message_id))
        sent = await self._send(event, outcome)
        await self._after_send(event, outcome, sent)

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
                await asyncio.sleep(_seconds(error.retry_after))
            except Forbidden:
                return None
            except TelegramError as error:
                log.warning("reply not sent: %s", type(error).__name__)
                await asyncio.sleep(0.5)
        return None

    async def _after_send(self, event: TelegramEvent, outcome: Outcome, sent: list[tuple[int, bool]]) -> None:
        """Remembers message ids for /hide; after a receipt, deletes the report's messages but that one."""
        user_key = event.incoming.user_key
        new = ([event.message_id] if event.message_id is not None else []) + [mid for mid, _ in sent]
        receipt_ids = [mid for mid, carries in sent if carries]
        if outcome.needs_delivery_confirmation and receipt_ids:
            await self._dispatcher.confirm_delivery(user_key)
            traced = await self._load_traces(user_key)
            keep = set(receipt_ids)
            doomed = [mid for mid, _ in traced if mid not in keep] + [mid for mid in new if mid not in keep]
            await self._delete(event.chat_id, doomed)
            await self._save_traces(user_key, [(mid, time.time()) for mid in receipt_ids])
            return
        traced = await self._load_traces(user_key)
        now = time.time()
        traced.extend((mid, now) for mid in new)
        await self._save_traces(user_key, traced[-MAX_TRACED:])

    async def _hide(self, event: TelegramEvent, update: Update) -> None:
        """/hide: deletes every message of this conversation the bot still may, then says so neutrally."""
        await self._skip(update)
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
                await asyncio.sleep(_seconds(error.retry_after))
            except (BadRequest, Forbidden):
                continue  # already gone, too old, or the bot was blocked

    async def _load_traces(self, user_key: str) -> list[tuple[int, float]]:
        async with self._database.transaction(write=False) as session:
            document = await self._traces.load(session, user_key)
        cutoff = time.time() - DELETE_WINDOW_SECONDS
        return [(int(m), float(t)) for m, t in (document or {}).get("m", []) if float(t) > cutoff]

    async def _save_traces(self, user_key: str, traced: Sequence[tuple[int, float]]) -> None:
        expires = int(time.time() // 3600) + 49
        async with self._database.transaction() as session:
            await self._traces.save(session, user_key, {"m": [[m, t] for m, t in traced]}, expires)


def traces_store(crypto: Any) -> SealedDocumentStore:
    return SealedDocumentStore(crypto, ChatTrace)


def _sender(payload: dict[str, Any]) -> object:
    for kind in ("message", "callback_query", "edited_message", "my_chat_member"):
        part = payload.get(kind)
        if isinstance(part, dict) and isinstance(part.get("from"), dict):
            return part["from"].get("id")
    return payload.get("update_id")


def _seconds(retry_after: object) -> float:
    seconds = getattr(retry_after, "total_seconds", None)
    return float(seconds()) if callable(seconds) else float(retry_after)  # type: ignore[arg-type]


async def _quietly(call: Awaitable[object]) -> None:
    """Best-effort calls (answering a button, removing a keyboard): failure changes nothing."""
    try:
        await call
    except TelegramError as error:
        log.info("best-effort call failed: %s", type(error).__name__)
