"""The WeChat channel: the ``/wechat`` callback, deduplication of WeChat's retries, the 5-second rule.

A genuine message is journaled (with its nonce, in one transaction), handled in the same
transaction as the journal mark, and answered with a passive reply when that takes well under
WeChat's 5 seconds. Otherwise the message is journaled as pending, the answer is ``success`` and
the replies follow as customer-service messages through the outbox (a message whose process died
before its handling committed is handled at the next start). WeChat retries a message it got no
answer for (same MsgId, new nonce): a retry is never handled again; it gets an equivalent reply,
and a fresh receipt if the first may not have arrived (receipts are never stored to be replayed).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from wechatpy.replies import TextReply

from bot.channels.wechat.adapter import UNSUBSCRIBED, WeChatAdapter, WeChatEvent, pack
from bot.channels.wechat.callback import MAX_BODY_BYTES, CallbackVerifier, Refused
from bot.channels.wechat.group_commit import GroupCommit
from bot.web.app import read_limited
from handlers.context import Services
from handlers.dispatcher import Dispatcher
from handlers.events import Outcome
from storage.database import Database
from storage.journal import UpdateJournal
from storage.messages import Delivery

log = logging.getLogger(__name__)

CHANNEL = "wechat"
PASSIVE_SECONDS = 4.0  # WeChat waits 5 s; leave room for the network
CONFIRM_MARGIN_SECONDS = 0.5
"""A receipt's reply counts as delivered only if written within the passive budget plus this: a
later write may reach a WeChat that already hung up (uvicorn writes to a closed peer silently)."""
CLOSE_WAIT_SECONDS = 10.0
"""At shutdown, how long messages already answered "success" may take to finish their handling."""

MediaStore = Callable[[str], Awaitable[str | None]]
"""Fetches a WeChat media id, sanitises the picture and seals it as a draft file; returns its id."""


@dataclass(repr=False)
class _Ticket:
    """A message's keys for the batch claim, and what the claim found ("new", "duplicate", "replayed")."""

    nonce_key: str
    dedup_key: str
    verdict: str | None = None


class WeChatChannel:
    def __init__(
        self,
        dispatcher: Dispatcher,
        database: Database,
        services: Services,
        verifier: CallbackVerifier,
        *,
        store_media: MediaStore | None = None,
        passive_seconds: float = PASSIVE_SECONDS,
    ) -> None:
        self._dispatcher = dispatcher
        self._database = database
        self._services = services
        self._verifier = verifier
        self._adapter = WeChatAdapter(services.crypto, list(services.settings.sites))
        self._journal = UpdateJournal(services.crypto)
        self._store_media = store_media
        self._passive_seconds = passive_seconds
        self._confirm_within = passive_seconds + CONFIRM_MARGIN_SECONDS
        self._tasks: set[asyncio.Task[None]] = set()
        self._group: GroupCommit[_Ticket] = GroupCommit(dispatcher, self._claim)

    def route(self) -> Route:
        return Route("/wechat", self.endpoint, methods=["GET", "POST"])

    async def endpoint(self, request: Request) -> Response:
        arrived = time.monotonic()
        query = dict(request.query_params)
        try:
            if request.method == "GET":
                return PlainTextResponse(self._verifier.check_url(query))
            body = await read_limited(request, MAX_BODY_BYTES)
            if body is None:
                raise Refused("too_large")
            return await self._message(query, body, arrived)
        except Refused as refusal:
            log.warning("wechat callback refused: %s", refusal.reason)
            return PlainTextResponse("forbidden", status_code=403)

    async def _message(self, query: Mapping[str, str], body: bytes, arrived: float) -> Response:
        verified = self._verifier.check_message(query, body)
        try:
            event = self._adapter.to_event(verified.xml)
        except Exception:
            raise Refused("unparseable_message") from None
        ticket = _Ticket(
            self._journal.nonce_key(CHANNEL, verified.timestamp, verified.nonce),
            self._journal.key(CHANNEL, event.platform_id),
        )
        if event.incoming is not None:
            event = replace(event, incoming=replace(event.incoming, message_key=ticket.dedup_key))
        task = asyncio.create_task(self._answer(event, ticket))
        try:
            outcome = await asyncio.wait_for(asyncio.shield(task), self._passive_seconds)
        except TimeoutError:
            await self._journal_unfinished(event, verified.xml)
            self._keep(asyncio.create_task(self._deliver_late(event, task)))
            return PlainTextResponse("success")
        if ticket.verdict == "replayed":
            raise Refused("replayed_nonce")
        return self._passive(event, outcome, verified.nonce, verified.timestamp, arrived)

    async def _answer(self, event: WeChatEvent, ticket: _Ticket) -> Outcome:
        """The message handled; for a WeChat retry of one handled already, an equivalent answer
        (``Dispatcher.replay``). Both run within the one passive budget: a retry is sent because the
        first reply was slow or lost, often when receipt hashes queue, and past the budget it is
        answered "success" with its answer following as customer-service messages, like any other."""
        outcome = await self._handle(event, ticket)
        if ticket.verdict == "duplicate" and event.incoming is not None:
            return await self._dispatcher.replay(event.incoming)
        return outcome

    async def _journal_unfinished(self, event: WeChatEvent, xml: str) -> None:
        """Before answering "success" (after which WeChat never sends the message again): journals
        it, sealed, as pending, unless its handling committed already. Its handling claims the row
        in its own transaction (``UpdateJournal.claim_fresh``); if the process dies first, the next
        start handles it (:meth:`resume_unfinished`)."""
        async with self._database.transaction() as session:
            hour = int(time.time() // 3600)
            await self._journal.record_entries(session, CHANNEL, [(event.platform_id, {"xml": xml})], hour)

    async def resume_unfinished(self) -> int:
        """At start: handles the messages a previous process answered "success" for but died before
        committing; their replies follow as customer-service messages. Returns how many it found.
        Replicas starting together may find the same ones: each is claimed by one handling only."""
        async with self._database.transaction(write=False) as session:
            entries = await self._journal.pending(session, CHANNEL)
        for entry in entries:
            try:
                event = self._adapter.to_event(str(entry.payload["xml"]))
            except Exception:  # journaled only after its checks passed: never expected
                log.error("a journaled wechat message cannot be read again; it is left pending")
                continue
            if event.incoming is not None:
                event = replace(event, incoming=replace(event.incoming, message_key=entry.key))
            ticket = _Ticket(self._journal.nonce_key(CHANNEL, "resumed", entry.key), entry.key)
            handling = asyncio.create_task(self._handle(event, ticket))
            self._keep(asyncio.create_task(self._deliver_late(event, handling)))
        if entries:
            log.warning("%d wechat message(s) answered before a restart are handled now", len(entries))
        return len(entries)

    async def _claim(self, session: AsyncSession, tickets: Sequence[_Ticket]) -> list[bool]:
        """In the group-commit transaction: refuse replayed nonces, skip retried messages, record
        the rest as handled together with their effects."""
        hour = int(time.time() // 3600)
        verdicts = await self._journal.claim_fresh(
            session, CHANNEL, [(t.nonce_key, t.dedup_key) for t in tickets], hour
        )
        for ticket, verdict in zip(tickets, verdicts, strict=True):
            ticket.verdict = verdict
        return [verdict == "new" for verdict in verdicts]

    async def _handle(self, event: WeChatEvent, ticket: _Ticket) -> Outcome:
        if event.kind == UNSUBSCRIBED or event.incoming is None:
            async with self._database.transaction() as session:
                (claimed,) = await self._claim(session, [ticket])
                if claimed and event.kind == UNSUBSCRIBED:  # unfollowing ends training reminders too
                    await self._services.reminders.subscriptions.delete(session, f"{CHANNEL}:{event.openid}")
            if claimed and event.kind == UNSUBSCRIBED:
                await self._dispatcher.forget(self._adapter.user_key(event.openid))
            return Outcome()
        if event.media_id is not None:
            wanted = await self._unseen(ticket) and await self._dispatcher.wants_pictures(
                event.incoming.user_key
            )
            ref = await self._media(event.media_id) if wanted else None
            event = self._adapter.with_attachment(event, ref)
        assert event.incoming is not None
        return await self._group.handle(event.incoming, ticket)

    async def _unseen(self, ticket: _Ticket) -> bool:
        """A read-only look before fetching a picture: a replayed or retried message fetches nothing
        (one journaled as pending, not yet handled, still does: see :meth:`resume_unfinished`)."""
        async with self._database.transaction(write=False) as session:
            if await self._journal.state(session, ticket.dedup_key) == "handled":
                return False
            return not await self._journal.nonce_seen(session, ticket.nonce_key)

    async def _media(self, media_id: str) -> str | None:
        if self._store_media is None:
            return None
        try:
            return await self._store_media(media_id)
        except Exception as error:  # a picture that cannot be kept must not lose the message
            log.warning("wechat picture not kept: %s", type(error).__name__)
            return None

    def _passive(self, event: WeChatEvent, outcome: Outcome, nonce: str, timestamp: str, arrived: float) -> Response:
        if not outcome.replies:
            return PlainTextResponse("success")
        text, rest = pack(outcome.replies)
        if rest:
            self._keep(asyncio.create_task(self._enqueue(event.openid, rest)))
        background = None
        if outcome.needs_delivery_confirmation and event.incoming is not None:
            # Runs once the reply has been written to WeChat; a retry after that still gets a
            # fresh receipt (see Dispatcher.replay).
            background = BackgroundTask(
                self._confirm_if_in_time, arrived, event.incoming.user_key, event.incoming.message_key
            )
        reply = TextReply(content=text, source=event.account, target=event.openid, time=int(timestamp))
        xml = self._verifier.encrypt_reply(reply.render(), nonce, timestamp)
        return Response(xml, media_type="application/xml", background=background)

    async def _confirm_if_in_time(self, arrived: float, user_key: str, message_key: str | None) -> None:
        """Notes the receipt delivered, unless the reply was written too late for WeChat to have
        taken it: then it stays owed, and her next message brings a fresh one."""
        if time.monotonic() - arrived > self._confirm_within:
            log.warning("a wechat reply carrying a receipt was written too late to count as delivered")
            return
        await self._group.confirm_delivery(user_key, message_key)

    async def _deliver_late(self, event: WeChatEvent, task: asyncio.Task[Outcome]) -> None:
        """The 5-second rule: the answer was ``success``; the replies go as customer-service messages.

        A receipt is not stored to be sent later: the worker is told to send any message, and the
        next message brings a fresh receipt (the conversation still knows it is undelivered).
        """
        try:
            outcome = await task
        except Exception as error:
            # WeChat got "success" and will not retry: the worker must hear that it did not work.
            log.error("late wechat handling failed: %s", type(error).__name__)
            t = self._services.translators["zh"]
            await self._enqueue(event.openid, [t("Sorry, something went wrong on our side. Please send that again.")])
            return
        texts: list[str] = []
        for reply in outcome.replies:
            if reply.carries_receipt:
                t = self._services.translators["zh"]
                texts.append(t("Your report has been saved. Send any message to see your receipt."))
            else:
                texts.append(pack([reply])[0])
        await self._enqueue(event.openid, texts)

    async def _enqueue(self, openid: str, texts: list[str]) -> None:
        services = self._services
        now = services.clock()
        async with self._database.transaction() as session:
            for index, text in enumerate(texts):
                due = now + timedelta(milliseconds=index)  # keeps their order
                await services.outbox.enqueue(session, Delivery(f"wechat:{openid}", text), due)

    def _keep(self, task: asyncio.Task[None]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self, wait: float = CLOSE_WAIT_SECONDS) -> None:
        """Lets the messages in flight finish first (WeChat got "success" for them and will not send
        them again), for at most ``wait`` seconds; then cancels what is left."""
        pending = set(self._tasks)
        if pending:
            _done, pending = await asyncio.wait(pending, timeout=wait)
        for task in pending:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

