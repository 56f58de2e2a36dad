"""Group commit for channels whose messages arrive one HTTP request at a time (WeChat webhooks).

Requests arriving within a few milliseconds of each other are handled together: one transaction,
one commit (SQLite's single writer and PostgreSQL's fsync are paid once per batch, not once per
message), each request awaiting its own outcome. Each reply still leaves only after its effects
are committed, and messages keep their arrival order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.dispatcher import Delivered, Dispatcher
from handlers.events import Incoming, Outcome
from handlers.preparation import Prepared

Ticket = TypeVar("Ticket")
ClaimBatch = Callable[[AsyncSession, Sequence[Ticket]], Awaitable[Sequence[bool]]]

MAX_BATCH = 64
MAX_WAIT_SECONDS = 0.002


class GroupCommit(Generic[Ticket]):
    """``claim_batch`` says, inside the batch's transaction, which messages this process owns
    (a channel's dedup and replay checks, done for the whole batch at once)."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        claim_batch: ClaimBatch[Ticket],
        *,
        max_batch: int = MAX_BATCH,
        max_wait: float = MAX_WAIT_SECONDS,
    ) -> None:
        self._dispatcher = dispatcher
        self._claim_batch = claim_batch
        self._max_batch = max_batch
        self._max_wait = max_wait
        self._waiting: list[tuple[Incoming, Ticket, Prepared, asyncio.Future[Outcome]]] = []
        self._delivered: list[tuple[Delivered, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def handle(self, incoming: Incoming, ticket: Ticket) -> Outcome:
        """Does the message's slow work (an argon2id hash) first, on its own, so that it never holds
        up the batch it then joins."""
        prepared = await self._dispatcher.prepare(incoming)
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._waiting.append((incoming, ticket, prepared, future))
        self._start_flusher()
        return await future

    async def confirm_delivery(self, user_key: str, message_key: str | None) -> None:
        """A reply carrying a receipt reached the platform (``Dispatcher.confirm_delivery``): noted in
        the next batch's transaction, where a write transaction of its own cost every worker a commit."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._delivered.append(((user_key, message_key), future))
        self._start_flusher()
        await future

    def _start_flusher(self) -> None:
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())

    async def _flush(self) -> None:
        while self._waiting or self._delivered:
            if len(self._waiting) < self._max_batch:
                await asyncio.sleep(self._max_wait)  # let the requests arriving now join this batch
            batch, self._waiting = self._waiting[: self._max_batch], self._waiting[self._max_batch :]
            delivered, self._delivered = self._delivered, []
            await self._run(batch, delivered)

    async def _run(
        self,
        batch: Sequence[tuple[Incoming, Ticket, Prepared, asyncio.Future[Outcome]]],
        delivered: Sequence[tuple[Delivered, asyncio.Future[None]]] = (),
    ) -> None:
        tickets = [ticket for _, ticket, _, _ in batch]

        async def claim_all(session: AsyncSession) -> Sequence[bool]:
            return await self._claim_batch(session, tickets)

        try:
            outcomes = await self._dispatcher.handle_many(
                [incoming for incoming, _, _, _ in batch],
                claim=claim_all,
                prepared=[prepared for _, _, prepared, _ in batch],
                delivered=[confirmed for confirmed, _ in delivered],
            )
        except Exception as error:
            waiting: list[asyncio.Future[Any]] = [future for *_, future in batch] + [f for _, f in delivered]
            for future in waiting:
                if not future.done():
                    future.set_exception(error)
            return
        for (_, _, _, future), outcome in zip(batch, outcomes, strict=True):
            if not future.done():
                future.set_result(outcome)
        for _, confirmed in delivered:
            if not confirmed.done():
                confirmed.set_result(None)
